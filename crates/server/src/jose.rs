//! ID tokens: compact JWS signed with ES256 (ECDSA P-256, SHA-256), and the public key as a JWK.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::SigningKey;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::sync::RwLock;

use noegle_core::UnixTime;
use noegle_core::oidc::ID_TOKEN_TTL_SECS;

/// One ID-token signing key, from the time it starts signing.
struct Key {
    /// Unix time from which it signs (0: from the start).
    not_before: i64,
    kid: String,
    pair: EcdsaKeyPair,
    jwk: Value,
}

/// Where a signing key stands in its rotation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyState {
    /// Published, signing later (after the lead time): relying parties learn it first.
    Next,
    /// Signing now.
    Signing,
    /// Replaced, still published until the last ID token it signed has expired.
    Retiring,
    /// Replaced and no longer published.
    Retired,
}

/// One key's place in the rotation, as `noegle keys list` shows it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct KeyInfo {
    /// The RFC 7638 key id.
    pub kid: String,
    /// From when it signs.
    pub not_before: i64,
    /// Where it stands.
    pub state: KeyState,
}

/// Signs ID tokens (by ring: a signature costs a sixth of the pure-Rust crate's) with the key set of the data
/// directory: the newest key whose time has come signs; a newer one is published before it signs (the lead
/// time lets relying parties fetch it), and a replaced one stays published until every ID token it signed
/// has expired.
pub struct TokenSigner {
    keys: RwLock<Vec<Key>>,
    rng: SystemRandom,
}

impl std::fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSigner").finish_non_exhaustive()
    }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn key(not_before: i64, key: &SigningKey, rng: &SystemRandom) -> anyhow::Result<Key> {
    let point = key.verifying_key().to_sec1_point(false);
    let bytes = point.as_bytes();
    let pair = EcdsaKeyPair::from_private_key_and_public_key(
        &ECDSA_P256_SHA256_FIXED_SIGNING,
        key.to_bytes().as_slice(),
        bytes,
        rng,
    )
    .map_err(|e| anyhow::anyhow!("the ID-token signing key is not a usable P-256 key: {e}"))?;
    // An uncompressed SEC1 point is 0x04 ‖ x (32 bytes) ‖ y (32 bytes).
    let (x, y) = (b64(bytes.get(1..33).unwrap_or_default()), b64(bytes.get(33..65).unwrap_or_default()));
    let thumbprint_input = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
    let kid = b64(&Sha256::digest(thumbprint_input.as_bytes()));
    let jwk = json!({ "kty": "EC", "crv": "P-256", "x": x, "y": y, "use": "sig", "alg": "ES256", "kid": kid });
    Ok(Key { not_before, kid, pair, jwk })
}

impl TokenSigner {
    /// A signer with one key, signing from the start.
    pub fn new(signing_key: SigningKey) -> anyhow::Result<TokenSigner> {
        TokenSigner::with_keys(&[(0, signing_key)])
    }

    /// A signer with `keys`, each with the time it starts signing.
    pub fn with_keys(keys: &[(i64, SigningKey)]) -> anyhow::Result<TokenSigner> {
        let signer = TokenSigner { keys: RwLock::new(Vec::new()), rng: SystemRandom::new() };
        signer.replace(keys)?;
        Ok(signer)
    }

    /// Takes `keys` as the key set (after `noegle keys rotate` wrote a new one).
    pub fn replace(&self, keys: &[(i64, SigningKey)]) -> anyhow::Result<()> {
        let mut built = keys.iter().map(|(t, k)| key(*t, k, &self.rng)).collect::<anyhow::Result<Vec<Key>>>()?;
        if built.is_empty() {
            anyhow::bail!("no ID-token signing key");
        }
        built.sort_by_key(|k| k.not_before);
        *self.keys.write().unwrap_or_else(|p| p.into_inner()) = built;
        Ok(())
    }

    /// Where each key stands at `now`, oldest first.
    pub fn schedule(&self, now: UnixTime) -> Vec<KeyInfo> {
        let keys = self.keys.read().unwrap_or_else(|p| p.into_inner());
        let signing = keys.iter().rposition(|k| k.not_before <= now.0).unwrap_or(0);
        keys.iter()
            .enumerate()
            .map(|(i, k)| {
                let state = match i.cmp(&signing) {
                    std::cmp::Ordering::Equal => KeyState::Signing,
                    std::cmp::Ordering::Greater => KeyState::Next,
                    // Replaced when its successor began signing; its tokens live ID_TOKEN_TTL_SECS at most.
                    std::cmp::Ordering::Less => {
                        let replaced_at = keys.get(i + 1).map_or(i64::MAX, |n| n.not_before);
                        if now.0 < replaced_at.saturating_add(ID_TOKEN_TTL_SECS + 60) {
                            KeyState::Retiring
                        } else {
                            KeyState::Retired
                        }
                    }
                };
                KeyInfo { kid: k.kid.clone(), not_before: k.not_before, state }
            })
            .collect()
    }

    /// The JWKS document (`/jwks`) at `now`: every key not retired.
    pub fn jwks(&self, now: UnixTime) -> Value {
        let published: Vec<String> =
            self.schedule(now).into_iter().filter(|k| k.state != KeyState::Retired).map(|k| k.kid).collect();
        let keys = self.keys.read().unwrap_or_else(|p| p.into_inner());
        let jwks: Vec<&Value> = keys.iter().filter(|k| published.contains(&k.kid)).map(|k| &k.jwk).collect();
        json!({ "keys": jwks })
    }

    /// Signs `claims` as a compact JWS with the key that signs at `now`.
    pub fn sign(&self, claims: &Value, now: UnixTime) -> anyhow::Result<String> {
        let keys = self.keys.read().unwrap_or_else(|p| p.into_inner());
        let key = keys.iter().rev().find(|k| k.not_before <= now.0).or(keys.first());
        let key = key.ok_or_else(|| anyhow::anyhow!("no ID-token signing key"))?;
        let header = json!({ "alg": "ES256", "typ": "JWT", "kid": key.kid });
        let input = format!("{}.{}", b64(header.to_string().as_bytes()), b64(claims.to_string().as_bytes()));
        let sig = key.pair.sign(&self.rng, input.as_bytes()).map_err(|e| anyhow::anyhow!("signing failed: {e}"))?;
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
        let jwt = signer.sign(&json!({ "sub": "u-1" }), UnixTime(1000)).unwrap();
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        let jwk = &signer.jwks(UnixTime(1000))["keys"][0];
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

    #[test]
    fn a_new_key_is_published_before_it_signs_and_the_old_one_until_its_tokens_expire() {
        let (old, new) = (SigningKey::from_slice(&[9u8; 32]).unwrap(), SigningKey::from_slice(&[8u8; 32]).unwrap());
        let signer = TokenSigner::with_keys(&[(0, old), (5000, new)]).unwrap();
        let kid = |jwt: &str| {
            let header = URL_SAFE_NO_PAD.decode(jwt.split('.').next().unwrap()).unwrap();
            serde_json::from_slice::<Value>(&header).unwrap()["kid"].as_str().unwrap().to_string()
        };
        let states = |t: i64| signer.schedule(UnixTime(t)).into_iter().map(|k| k.state).collect::<Vec<_>>();
        let published = |t: i64| signer.jwks(UnixTime(t))["keys"].as_array().unwrap().len();
        let (first, second) =
            (signer.schedule(UnixTime(0))[0].kid.clone(), signer.schedule(UnixTime(0))[1].kid.clone());

        assert_eq!(states(4999), [KeyState::Signing, KeyState::Next]);
        assert_eq!((published(4999), kid(&signer.sign(&json!({}), UnixTime(4999)).unwrap())), (2, first.clone()));
        assert_eq!(states(5000), [KeyState::Retiring, KeyState::Signing]);
        assert_eq!((published(5000), kid(&signer.sign(&json!({}), UnixTime(5000)).unwrap())), (2, second));
        let gone = 5000 + ID_TOKEN_TTL_SECS + 60;
        assert_eq!((states(gone - 1)[0], published(gone - 1)), (KeyState::Retiring, 2));
        assert_eq!((states(gone)[0], published(gone)), (KeyState::Retired, 1));
        assert!(!signer.jwks(UnixTime(gone)).to_string().contains(&first));
    }
}
