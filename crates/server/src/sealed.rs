//! Data the server hands the browser to keep, sealed: encrypted and authenticated (ChaCha20-Poly1305) under
//! a key derived from the server's secret, so the browser can neither read nor change it, and the server
//! stores nothing for it. The log-in box keeps its first step this way: an `/authorize` that nobody
//! follows up costs the server no row.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use noegle_core::SecureRng;

/// What every sealed value is bound to, so that it cannot pass for anything else sealed under the key.
const CONTEXT: &[u8] = b"noegle sealed v1";

/// Seals and opens values under one key.
pub struct Sealer {
    cipher: ChaCha20Poly1305,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(..)")
    }
}

impl Sealer {
    /// A sealer with `key` (32 bytes of secret).
    pub fn new(key: [u8; 32]) -> Sealer {
        Sealer { cipher: ChaCha20Poly1305::new(Key::from_slice(&key)) }
    }

    /// `plaintext` sealed: base64url of a fresh 12-byte nonce and the ciphertext with its tag.
    pub fn seal(&self, rng: &mut dyn SecureRng, plaintext: &[u8]) -> Option<String> {
        let mut nonce = [0u8; 12];
        rng.fill_bytes(&mut nonce);
        let ct = self.cipher.encrypt(Nonce::from_slice(&nonce), Payload { msg: plaintext, aad: CONTEXT }).ok()?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        Some(B64.encode(out))
    }

    /// The plaintext of a sealed value, or `None` if it was not sealed under this key or was changed.
    pub fn open(&self, sealed: &str) -> Option<Vec<u8>> {
        let bytes = B64.decode(sealed).ok()?;
        if bytes.len() < 12 + 16 {
            return None;
        }
        let (nonce, ct) = bytes.split_at(12);
        self.cipher.decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad: CONTEXT }).ok()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn sealed_values_open_only_unchanged_and_under_their_key() {
        let sealer = Sealer::new([7; 32]);
        let rng = &mut rand::rngs::OsRng;
        let a = sealer.seal(rng, b"{\"step\":1}").unwrap();
        let b = sealer.seal(rng, b"{\"step\":1}").unwrap();
        assert_ne!(a, b, "a fresh nonce each time");
        assert_eq!(sealer.open(&a).unwrap(), b"{\"step\":1}");
        let mut changed = B64.decode(&a).unwrap();
        let last = changed.len() - 1;
        changed[last] ^= 1;
        assert_eq!(sealer.open(&B64.encode(changed)), None);
        assert_eq!(Sealer::new([8; 32]).open(&a), None, "another key");
        assert_eq!(sealer.open("short"), None);
        assert_eq!(sealer.open("not base64!"), None);
    }
}
