//! Passwords: NFKC-normalised, length-checked before hashing, hashed with Argon2id (NIST SP 800-63B, OWASP).

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use unicode_normalization::UnicodeNormalization;

use crate::SecureRng;

/// Fewest characters a new password may have.
pub const MIN_CHARS: usize = 8;
/// Most characters a password may have; longer input is refused before any hashing.
pub const MAX_CHARS: usize = 128;

/// Argon2id memory cost in KiB (19 MiB), time cost and parallelism: the OWASP minimum.
const M_COST: u32 = 19 * 1024;
const T_COST: u32 = 2;
const P_COST: u32 = 1;

/// Why a password cannot be set.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PasswordError {
    /// Fewer than [`MIN_CHARS`] characters.
    #[error("a password has at least 8 characters")]
    TooShort,
    /// More than [`MAX_CHARS`] characters.
    #[error("a password has at most 128 characters")]
    TooLong,
    /// Hashing failed (never expected with valid parameters).
    #[error("the password could not be hashed: {0}")]
    Hash(String),
}

fn argon2() -> Argon2<'static> {
    // The parameters are constants within argon2's limits; `Params::new` cannot fail for them.
    let params = Params::new(M_COST, T_COST, P_COST, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// NFKC-normalises a password and checks its length (in characters, after normalisation).
pub fn normalise(password: &str) -> Result<String, PasswordError> {
    if password.chars().count() > MAX_CHARS * 4 {
        return Err(PasswordError::TooLong);
    }
    let n: String = password.nfkc().collect();
    let len = n.chars().count();
    if len > MAX_CHARS {
        Err(PasswordError::TooLong)
    } else if len < MIN_CHARS {
        Err(PasswordError::TooShort)
    } else {
        Ok(n)
    }
}

/// Hashes a new password into a PHC string.
pub fn hash(password: &str, rng: &mut dyn SecureRng) -> Result<String, PasswordError> {
    let n = normalise(password)?;
    let mut salt = [0u8; 16];
    rng.fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| PasswordError::Hash(e.to_string()))?;
    argon2().hash_password(n.as_bytes(), &salt).map(|h| h.to_string()).map_err(|e| PasswordError::Hash(e.to_string()))
}

/// A stored hash with the same cost as real ones, used so that an unknown user takes as long as a known one.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$bm9lZ2xlLWR1bW15LXNhbHQ$5W1o3nGsU3sh1aMuTxTN9hSrJ4Wj2Bqvq6a8mYF9lXM";

/// Checks a password against a stored PHC string. Input that could never be a password (too long) is
/// still checked against a dummy hash, so the answer takes the same time.
pub fn verify(password: &str, phc: &str) -> bool {
    let (candidate, phc, valid_input) = match normalise(password) {
        Ok(n) => (n, phc, true),
        Err(_) => (String::new(), DUMMY_HASH, false),
    };
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let ok = argon2().verify_password(candidate.as_bytes(), &parsed).is_ok();
    ok && valid_input
}

/// Spends the time of one password check and answers false: for unknown users and locked accounts.
pub fn verify_dummy(password: &str) -> bool {
    let _ = verify(password, DUMMY_HASH);
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_use_owasp_parameters() {
        let mut rng = rand::rngs::OsRng;
        let h = hash("korrekt hest batteri", &mut rng).unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify("korrekt hest batteri", &h));
        assert!(!verify("korrekt hest batteri!", &h));
    }

    #[test]
    fn nfkc_makes_equivalent_forms_equal() {
        let mut rng = rand::rngs::OsRng;
        // "ﬁ" (U+FB01) normalises to "fi" under NFKC.
        let h = hash("\u{FB01}nd-the-key", &mut rng).unwrap();
        assert!(verify("find-the-key", &h));
    }

    #[test]
    fn length_is_capped_before_hashing() {
        let mut rng = rand::rngs::OsRng;
        assert_eq!(hash("short", &mut rng), Err(PasswordError::TooShort));
        assert_eq!(hash(&"x".repeat(129), &mut rng), Err(PasswordError::TooLong));
        let h = hash(&"x".repeat(128), &mut rng).unwrap();
        assert!(!verify(&"x".repeat(129), &h));
        assert!(!verify_dummy("anything"));
    }

    #[test]
    fn dummy_hash_parses() {
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
    }
}
