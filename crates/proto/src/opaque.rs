//! The OPAQUE cipher suite of the app code (R-APP9), shared by server and key apps so both agree byte for
//! byte. It matches `@serenity-kit/opaque` 1.x (the web app's library): Ristretto255, TripleDH with SHA-512,
//! and Argon2id (v0x13) with m = 64 MiB, t = 3, p = 4 as the key-stretching function — the client runs it,
//! the server never does. Messages travel as base64url without padding.

use argon2::{Algorithm, Argon2, Params, Version};
use generic_array::{ArrayLength, GenericArray};
use opaque_ke::errors::InternalError;
use opaque_ke::ksf::Ksf;

/// The cipher suite.
#[derive(Debug, Clone, Copy)]
pub struct Suite;

impl opaque_ke::CipherSuite for Suite {
    type OprfCs = opaque_ke::Ristretto255;
    type KeyExchange = opaque_ke::TripleDh<opaque_ke::Ristretto255, sha2::Sha512>;
    type Ksf = Stretch;
}

/// Argon2id with the parameters the web app's library uses by default.
#[derive(Debug, Default, Clone, Copy)]
pub struct Stretch;

/// Argon2id memory in KiB, iterations and lanes of [`Stretch`].
pub const STRETCH_PARAMS: (u32, u32, u32) = (65_536, 3, 4);

impl Ksf for Stretch {
    fn hash<L: ArrayLength<u8>>(&self, input: GenericArray<u8, L>) -> Result<GenericArray<u8, L>, InternalError> {
        let (m, t, p) = STRETCH_PARAMS;
        let params = Params::new(m, t, p, Some(L::USIZE)).map_err(|_| InternalError::KsfError)?;
        let mut output = GenericArray::default();
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password_into(&input, &[0; argon2::RECOMMENDED_SALT_LEN], &mut output)
            .map_err(|_| InternalError::KsfError)?;
        Ok(output)
    }
}

/// The 4-digit codes too common to allow (the app refuses them before registering).
pub const BLOCKED_CODES: &[&str] = &[
    "0000", "1111", "2222", "3333", "4444", "5555", "6666", "7777", "8888", "9999", "1234", "4321", "1212", "2580",
    "0852", "1004", "2000", "1122", "1313", "6969", "0101", "1010", "2468", "1357", "0123", "9876", "3210", "7890",
    "2020", "2121", "1100", "0007", "5683", "1230", "0987",
];

/// Why a new app code is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeError {
    /// Not exactly four digits.
    NotFourDigits,
    /// On the blocklist.
    TooCommon,
}

impl std::fmt::Display for CodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CodeError::NotFourDigits => f.write_str("the code must be exactly 4 digits"),
            CodeError::TooCommon => f.write_str("that code is too easy to guess; choose another"),
        }
    }
}

impl std::error::Error for CodeError {}

/// Checks a new app code: four digits, not on [`BLOCKED_CODES`].
pub fn check_new_code(code: &str) -> Result<(), CodeError> {
    if code.len() != 4 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CodeError::NotFourDigits);
    }
    if BLOCKED_CODES.contains(&code) {
        return Err(CodeError::TooCommon);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_codes_are_refused() {
        assert_eq!(check_new_code("1234"), Err(CodeError::TooCommon));
        assert_eq!(check_new_code("0000"), Err(CodeError::TooCommon));
        assert_eq!(check_new_code("123"), Err(CodeError::NotFourDigits));
        assert_eq!(check_new_code("12a4"), Err(CodeError::NotFourDigits));
        assert_eq!(check_new_code("7391"), Ok(()));
    }
}
