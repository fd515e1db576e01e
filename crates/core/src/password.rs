//! Passwords: NFKC-normalised, length-checked before hashing, hashed with Argon2id (NIST SP 800-63B, OWASP).

use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
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

/// Most Argon2 memory a stored hash may ask for (KiB): a damaged or foreign hash asking for more is refused
/// rather than allocated.
const MAX_M_COST: u32 = 256 * 1024;

/// Checks passwords with Argon2 working memory that it keeps between checks, so a worker thread that checks
/// many passwords allocates (and the kernel faults in) its 19 MiB once, not once per check.
pub struct Verifier {
    blocks: Vec<Block>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier").field("blocks", &self.blocks.len()).finish()
    }
}

impl Default for Verifier {
    fn default() -> Self {
        Verifier::new()
    }
}

impl Verifier {
    /// A verifier with the memory of one check at the project's parameters, touched once so that it is
    /// resident from the start.
    pub fn new() -> Verifier {
        Verifier { blocks: vec![Block::default(); M_COST as usize] }
    }

    /// Checks a password against a stored PHC string. Input that could never be a password (too long) is
    /// still checked against a dummy hash, so the answer takes the same time.
    pub fn verify(&mut self, password: &str, phc: &str) -> bool {
        match normalise(password) {
            Ok(candidate) => self.matches(candidate.as_bytes(), phc),
            Err(_) => {
                let _ = self.matches(b"", DUMMY_HASH);
                false
            }
        }
    }

    /// Spends the time of one password check and answers false: for unknown users and locked accounts.
    pub fn verify_dummy(&mut self, password: &str) -> bool {
        let _ = self.verify(password, DUMMY_HASH);
        false
    }

    /// Recomputes the hash in `phc` for `candidate` in this verifier's memory and compares in constant time.
    fn matches(&mut self, candidate: &[u8], phc: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(phc) else {
            return false;
        };
        let (Ok(algorithm), Ok(params)) = (Algorithm::new(parsed.algorithm.as_str()), Params::try_from(&parsed)) else {
            return false;
        };
        let version = parsed.version.and_then(|v| Version::try_from(v).ok()).unwrap_or(Version::V0x13);
        let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
            return false;
        };
        let mut salt_bytes = [0u8; argon2::password_hash::Salt::MAX_LENGTH];
        let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
            return false;
        };
        if params.m_cost() > MAX_M_COST {
            return false;
        }
        let needed = params.block_count();
        if self.blocks.len() < needed {
            self.blocks.resize(needed, Block::default());
        }
        let mut out = vec![0u8; expected.len()];
        let argon = Argon2::new(algorithm, version, params);
        if argon.hash_password_into_with_memory(candidate, salt, &mut out, &mut self.blocks[..needed]).is_err() {
            return false;
        }
        crate::secret::constant_time_eq(&out, expected.as_bytes())
    }
}

/// Checks a password against a stored PHC string with fresh working memory (commands and tests; the server
/// checks on a pool of [`Verifier`]s).
pub fn verify(password: &str, phc: &str) -> bool {
    Verifier::new().verify(password, phc)
}

/// Spends the time of one password check and answers false: for unknown users and locked accounts.
pub fn verify_dummy(password: &str) -> bool {
    Verifier::new().verify_dummy(password)
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
    fn one_verifier_checks_many_hashes_in_the_same_memory() {
        let mut rng = rand::rngs::OsRng;
        let a = hash("korrekt hest batteri", &mut rng).unwrap();
        let b = hash("en anden adgangskode", &mut rng).unwrap();
        let mut v = Verifier::new();
        for _ in 0..2 {
            assert!(v.verify("korrekt hest batteri", &a));
            assert!(!v.verify("korrekt hest batteri", &b));
            assert!(v.verify("en anden adgangskode", &b));
            assert!(!v.verify_dummy("korrekt hest batteri"));
        }
        // A hash with other (smaller) parameters, as an older version might have stored.
        let small = Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::new(1024, 1, 1, None).unwrap())
            .hash_password(b"gammel adgangskode", &SaltString::encode_b64(b"0123456789abcdef").unwrap())
            .unwrap()
            .to_string();
        assert!(v.verify("gammel adgangskode", &small));
        assert!(!v.verify("gammel adgangskodE", &small));
        assert!(!v.verify("korrekt hest batteri", "not a PHC string"));
        let greedy = small.replace("m=1024", "m=4194304");
        assert!(!v.verify("gammel adgangskode", &greedy), "a hash asking for 4 GiB is refused, not allocated");
    }

    #[test]
    fn dummy_hash_parses() {
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
    }
}
