//! ID tokens: compact JWS signed with ES256 (ECDSA P-256, SHA-256), and the public key as a JWK.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::SigningKey;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Signs ID tokens with the server's key (by ring: a signature costs a sixth of the pure-Rust crate's).
pub struct TokenSigner {
    key: EcdsaKeyPair,
    rng: SystemRandom,
    kid: String,
    jwk: Value,
}

impl std::fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSigner").field("kid", &self.kid).finish_non_exhaustive()
    }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

impl TokenSigner {
    /// A signer for `key`; its key id is the RFC 7638 thumbprint of the public key.
    pub fn new(key: SigningKey) -> anyhow::Result<TokenSigner> {
        let point = key.verifying_key().to_sec1_point(false);
        let bytes = point.as_bytes();
        let rng = SystemRandom::new();
        let pair = EcdsaKeyPair::from_private_key_and_public_key(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            key.to_bytes().as_slice(),
            bytes,
            &rng,
        )
        .map_err(|e| anyhow::anyhow!("the ID-token signing key is not a usable P-256 key: {e}"))?;
        // An uncompressed SEC1 point is 0x04 ‖ x (32 bytes) ‖ y (32 bytes).
        let (x, y) = (b64(bytes.get(1..33).unwrap_or_default()), b64(bytes.get(33..65).unwrap_or_default()));
        let thumbprint_input = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
        let kid = b64(&Sha256::digest(thumbprint_input.as_bytes()));
        let jwk = json!({ "kty": "EC", "crv": "P-256", "x": x, "y": y, "use": "sig", "alg": "ES256", "kid": kid });
        Ok(TokenSigner { key: pair, rng, kid, jwk })
    }

    /// The JWKS document (`/jwks`).
    pub fn jwks(&self) -> Value {
        json!({ "keys": [self.jwk] })
    }

    /// Signs `claims` as a compact JWS.
    pub fn sign(&self, claims: &Value) -> anyhow::Result<String> {
        let header = json!({ "alg": "ES256", "typ": "JWT", "kid": self.kid });
        let input = format!("{}.{}", b64(header.to_string().as_bytes()), b64(claims.to_string().as_bytes()));
        let sig = self.key.sign(&self.rng, input.as_bytes()).map_err(|e| anyhow::anyhow!("signing failed: {e}"))?;
        Ok(format!("{input}.{}", b64(sig.as_ref())))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use p256::ecdsa::signature::Verifier;
    use p256::ecdsa::{Signature, VerifyingKey};

    #[test]
    fn tokens_verify_with_the_published_key() {
        let signer = TokenSigner::new(SigningKey::from_slice(&[9u8; 32]).unwrap()).unwrap();
        let jwt = signer.sign(&json!({ "sub": "u-1" })).unwrap();
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        let jwk = &signer.jwks()["keys"][0];
        let mut sec1 = vec![4u8];
        sec1.extend(URL_SAFE_NO_PAD.decode(jwk["x"].as_str().unwrap()).unwrap());
        sec1.extend(URL_SAFE_NO_PAD.decode(jwk["y"].as_str().unwrap()).unwrap());
        let vk = VerifyingKey::from_sec1_bytes(&sec1).unwrap();
        let sig = Signature::from_slice(&URL_SAFE_NO_PAD.decode(parts[2]).unwrap()).unwrap();
        vk.verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &sig).unwrap();
        assert!(vk.verify(b"tampered", &sig).is_err());
        let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        assert_eq!(header["kid"], jwk["kid"]);
    }
}
