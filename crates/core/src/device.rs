//! Key-app devices: what is stored about each, the platform rule, and how a signed device request is checked
//! (ECDSA P-256 over the bytes `noegle-proto` defines, a timestamp within ±60 s, each nonce once).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use noegle_proto::signing::{MAX_SKEW_SECS, SignedRequest};
use p256::ecdsa::VerifyingKey;
use rand::Rng;

use crate::Ctx;
use crate::DeviceId;
use crate::SecureRng;
pub use crate::records::device::{ActivateOutcome, Device, DeviceStatus, Platform, RevokedBy, Unlock};
use crate::store::StoreError;

/// At most this many active devices per user (R-APP2).
pub const MAX_ACTIVE_DEVICES: i64 = 3;

/// A fresh device id and support serial.
pub fn new_ids(rng: &mut dyn SecureRng) -> (DeviceId, String) {
    let id = format!("d-{}", crate::secret::random_token(rng, 16));
    let n: u64 = rng.gen_range(100_000_000_000..1_000_000_000_000);
    let s = format!("{n:012}");
    (DeviceId::from(id), format!("{}-{}-{}", &s[..4], &s[4..8], &s[8..]))
}

/// The platforms the key app runs on, with their minimum OS versions (R-APP3; configurable).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlatformPolicy {
    /// Minimum iOS version (default 9).
    pub min_ios: String,
    /// Minimum Android version (default 4.4).
    pub min_android: String,
}

impl Default for PlatformPolicy {
    fn default() -> Self {
        PlatformPolicy { min_ios: "9".into(), min_android: "4.4".into() }
    }
}

fn version_parts(v: &str) -> Option<Vec<u32>> {
    v.trim().split('.').map(|p| p.parse::<u32>().ok()).collect()
}

/// Why a platform is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PlatformError {
    /// Not one of the known platforms.
    #[error("unknown platform {0:?}; use ios, android, web or terminal")]
    Unknown(String),
    /// Not a version like 9 or 4.4.2.
    #[error("the OS version {0:?} is not a version number like 9 or 4.4.2")]
    BadVersion(String),
    /// Below the minimum.
    #[error("the key app needs {platform} {minimum} or newer; this device has {version}")]
    TooOld {
        /// Platform.
        platform: String,
        /// Reported version.
        version: String,
        /// Required.
        minimum: String,
    },
}

impl PlatformPolicy {
    /// Checks a reported platform and OS version; answers the platform.
    pub fn check(&self, platform: &str, version: &str) -> Result<Platform, PlatformError> {
        let known = Platform::parse(platform).ok_or_else(|| {
            PlatformError::Unknown(platform.chars().filter(|c| c.is_ascii_graphic()).take(20).collect())
        })?;
        let minimum = match known {
            Platform::Ios => &self.min_ios,
            Platform::Android => &self.min_android,
            // No minimum, but the version is shown to operators and users: a short plain version string.
            Platform::Web | Platform::Terminal => return plain_version(version).map(|()| known),
        };
        let have = version_parts(version).ok_or_else(|| {
            PlatformError::BadVersion(version.chars().filter(|c| c.is_ascii_graphic()).take(20).collect())
        })?;
        let need = version_parts(minimum).unwrap_or_default();
        if have < need {
            return Err(PlatformError::TooOld {
                platform: known.display_name().into(),
                version: version.into(),
                minimum: minimum.clone(),
            });
        }
        Ok(known)
    }
}

/// A version as apps report it: 1 to 32 characters of letters, digits, `.`, `-`, `+` and `_`.
fn plain_version(version: &str) -> Result<(), PlatformError> {
    let plain = (1..=32).contains(&version.len())
        && version.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'+' | b'_'));
    if plain {
        Ok(())
    } else {
        Err(PlatformError::BadVersion(version.chars().filter(|c| c.is_ascii_graphic()).take(20).collect()))
    }
}

/// Parses a public key sent by an app: base64url of the SEC1 uncompressed P-256 point.
pub fn parse_public_key(b64: &str) -> Option<Vec<u8>> {
    let bytes = URL_SAFE_NO_PAD.decode(b64.trim()).ok()?;
    (bytes.len() == 65 && VerifyingKey::from_sec1_bytes(&bytes).is_ok()).then_some(bytes)
}

/// Why a signed request is refused.
#[derive(Debug, thiserror::Error)]
pub enum DeviceAuthError {
    /// Headers missing or malformed.
    #[error("the request is not signed: {0}")]
    Unsigned(String),
    /// No such device, or not in a state that may call this.
    #[error("unknown or inactive device")]
    UnknownDevice,
    /// Timestamp too far from the server's clock.
    #[error("the device clock is more than 60 seconds off; set the time and retry")]
    Skew,
    /// The signature does not verify.
    #[error("the signature does not verify")]
    BadSignature,
    /// The nonce was used before.
    #[error("this request was already received (replay)")]
    Replay,
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks a signed request from a device in one of `allowed` states; answers the device.
pub async fn authenticate(
    ctx: Ctx<'_>,
    req: &SignedRequest<'_>,
    signature_b64: &str,
    allowed: &[DeviceStatus],
) -> Result<Device, DeviceAuthError> {
    let bytes = req.canonical_bytes().map_err(|e| DeviceAuthError::Unsigned(e.to_string()))?;
    let device = ctx.store.device(&DeviceId::from(req.device_id)).await?.ok_or(DeviceAuthError::UnknownDevice)?;
    if !allowed.contains(&device.status) {
        return Err(DeviceAuthError::UnknownDevice);
    }
    if (req.timestamp - ctx.now.0).abs() > MAX_SKEW_SECS {
        return Err(DeviceAuthError::Skew);
    }
    if !signature_matches(&device.public_key, &bytes, signature_b64) {
        return Err(DeviceAuthError::BadSignature);
    }
    // Only a verified request may spend a nonce; the nonce is kept past the skew window.
    if !ctx.store.remember_nonce(&device.device_id, req.nonce, ctx.now).await? {
        return Err(DeviceAuthError::Replay);
    }
    Ok(device)
}

/// Whether `signature_b64` (base64url of r ‖ s, 64 bytes) is `public_key`'s (an uncompressed SEC1 P-256
/// point) ECDSA-SHA-256 signature of `signed`. Checked by ring, in a quarter of the pure-Rust crate's time.
pub fn signature_matches(public_key: &[u8], signed: &[u8], signature_b64: &str) -> bool {
    let Ok(sig) = URL_SAFE_NO_PAD.decode(signature_b64.trim()) else {
        return false;
    };
    ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_FIXED, public_key)
        .verify(signed, &sig)
        .is_ok()
}

/// Deregisters or revokes a device (R-APP6; `noegle device revoke`), recording `by` whom; false if it was
/// already gone.
pub async fn revoke(ctx: Ctx<'_>, device: &Device, by: RevokedBy, why: &str) -> Result<bool, StoreError> {
    let changed = ctx.store.revoke_device(&device.device_id, by).await?;
    // Nothing of a revoked device is kept that it no longer needs: its fingerprint credential, its push address.
    ctx.store.clear_attachments(&device.device_id).await?;
    if changed {
        let detail = serde_json::json!({ "why": why, "by": by.as_str() });
        ctx.audit_device(crate::audit::AuditKind::DeviceRevoked, device, detail).await?;
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_minimums_hold() {
        let p = PlatformPolicy::default();
        assert!(p.check("ios", "9").is_ok());
        assert!(p.check("ios", "17.2").is_ok());
        assert!(p.check("android", "4.4").is_ok());
        assert!(p.check("android", "4.4.2").is_ok());
        assert!(matches!(p.check("android", "4.3.1"), Err(PlatformError::TooOld { .. })));
        assert!(matches!(p.check("ios", "8.4"), Err(PlatformError::TooOld { .. })));
        assert!(matches!(p.check("ios", "nine"), Err(PlatformError::BadVersion(_))));
        assert!(matches!(p.check("symbian", "1"), Err(PlatformError::Unknown(_))));
        assert!(p.check("terminal", "0.1.0").is_ok());
        assert!(p.check("web", "131.0.6778.85").is_ok());
        // What an operator later reads must not steer the terminal, nor run on for kilobytes.
        for bad in ["", "\u{1b}[2J", "1.0\nserial 0000-0000-0000", &"1".repeat(33), "1.0 (evil)"] {
            assert!(matches!(p.check("web", bad), Err(PlatformError::BadVersion(_))), "{bad:?}");
            assert!(matches!(p.check("terminal", bad), Err(PlatformError::BadVersion(_))), "{bad:?}");
        }
        let e = p.check("android", "4.3").unwrap_err().to_string();
        assert_eq!(e, "the key app needs Android 4.4 or newer; this device has 4.3");
    }

    /// The proto crate's test vectors (what every key app signs) verify; any change to them does not.
    #[test]
    fn signatures_of_the_test_vectors_verify_and_nothing_else_does() {
        use p256::ecdsa::Signature;
        let v: serde_json::Value =
            serde_json::from_str(include_str!("../../proto/test-vectors/signed-request.json")).unwrap();
        let public = URL_SAFE_NO_PAD.decode(v["public_key_sec1_base64url"].as_str().unwrap()).unwrap();
        let cases = v["cases"].as_array().unwrap();
        assert!(cases.len() >= 3);
        for c in cases {
            let canonical = c["canonical"].as_str().unwrap().as_bytes();
            let sig = c["signature_base64url"].as_str().unwrap();
            assert!(signature_matches(&public, canonical, sig), "{}", c["name"]);
            let mut tampered = canonical.to_vec();
            tampered[20] ^= 1;
            assert!(!signature_matches(&public, &tampered, sig), "{}", c["name"]);
            // The same signature with s replaced by n − s (what some signers, WebCrypto among them, may
            // produce) is just as valid.
            let parsed = Signature::from_slice(&URL_SAFE_NO_PAD.decode(sig).unwrap()).unwrap();
            let (r, s) = parsed.split_scalars();
            let high = Signature::from_scalars(r, -s).unwrap();
            assert!(signature_matches(&public, canonical, &URL_SAFE_NO_PAD.encode(high.to_bytes())));
        }
        let other = cases[1]["signature_base64url"].as_str().unwrap();
        assert!(!signature_matches(&public, cases[0]["canonical"].as_str().unwrap().as_bytes(), other));
        assert!(!signature_matches(&public, b"x", "not base64 at all!"));
        assert!(!signature_matches(b"not a key", b"x", cases[0]["signature_base64url"].as_str().unwrap()));
    }

    #[test]
    fn ids_and_serials_have_their_shapes() {
        let (id, serial) = new_ids(&mut rand::rngs::OsRng);
        assert!(id.as_str().starts_with("d-") && id.as_str().len() == 24);
        assert_eq!(serial.len(), 14);
        assert_eq!(serial.matches('-').count(), 2);
    }

    use base64::Engine;
    use p256::ecdsa::signature::Signer;

    use crate::audit::{AuditEvent, AuditKind};
    use crate::memory::World;
    use crate::store::DeviceStore;

    /// An active device of the world's user holding `key`'s public half.
    async fn keyed_device(w: &World, key: &p256::ecdsa::SigningKey) -> Device {
        let d = w.device(&w.user.sub, DeviceStatus::Active, w.now).await;
        let public = key.verifying_key().to_sec1_point(false).as_bytes().to_vec();
        let event = AuditEvent::new(w.now, AuditKind::AppCodeReset, None, None);
        assert!(w.store.reset_device_key(&d.device_id, &public, w.now, &event).await.unwrap());
        w.store.device(&d.device_id).await.unwrap().unwrap()
    }

    /// `key`'s signature of `req`, as the header carries it.
    fn sign(key: &p256::ecdsa::SigningKey, req: &SignedRequest<'_>) -> String {
        let signature: p256::ecdsa::Signature = key.sign(&req.canonical_bytes().unwrap());
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(signature.to_bytes())
    }

    #[tokio::test]
    async fn a_signed_call_is_the_devices_own_within_a_minute_and_heard_once() {
        let w = World::new().await;
        let key = p256::ecdsa::SigningKey::from_slice(&[3; 32]).unwrap();
        let d = keyed_device(&w, &key).await;
        let call = |timestamp: i64, nonce: &'static str| SignedRequest {
            method: "GET",
            path_and_query: "/api/app/v1/requests",
            device_id: "",
            timestamp,
            nonce,
            body: b"",
        };
        let mut req = call(w.now.0 + 60, "bm9uY2Utb25lLXR3by10aHJlZQ");
        req.device_id = d.device_id.as_str();
        let active = [DeviceStatus::Active];
        assert_eq!(authenticate(w.ctx(), &req, &sign(&key, &req), &active).await.unwrap().device_id, d.device_id);
        let again = authenticate(w.ctx(), &req, &sign(&key, &req), &active).await;
        assert!(matches!(again, Err(DeviceAuthError::Replay)), "a nonce is heard once");

        let mut late = call(w.now.0 - 61, "bm9uY2UtZm91ci1maXZlLXNpeA");
        late.device_id = d.device_id.as_str();
        assert!(matches!(authenticate(w.ctx(), &late, &sign(&key, &late), &active).await, Err(DeviceAuthError::Skew)));

        let other_key = p256::ecdsa::SigningKey::from_slice(&[4; 32]).unwrap();
        let mut forged = call(w.now.0, "bm9uY2Utc2V2ZW4tZWlnaHQtbmluZQ");
        forged.device_id = d.device_id.as_str();
        let r = authenticate(w.ctx(), &forged, &sign(&other_key, &forged), &active).await;
        assert!(matches!(r, Err(DeviceAuthError::BadSignature)));
        // A refused call spends no nonce: signed rightly, the same one is heard.
        assert!(authenticate(w.ctx(), &forged, &sign(&key, &forged), &active).await.is_ok());

        let mut pending_only = call(w.now.0, "bm9uY2UtdGVuLWVsZXZlbi10d2VsdmU");
        pending_only.device_id = d.device_id.as_str();
        let r = authenticate(w.ctx(), &pending_only, &sign(&key, &pending_only), &[DeviceStatus::Pending]).await;
        assert!(matches!(r, Err(DeviceAuthError::UnknownDevice)), "a call for another state");
        let mut nobody = call(w.now.0, "bm9uY2UtdGhpcnRlZW4tZm91cnRlZW4");
        nobody.device_id = "d-nobody";
        assert!(matches!(
            authenticate(w.ctx(), &nobody, &sign(&key, &nobody), &active).await,
            Err(DeviceAuthError::UnknownDevice)
        ));
    }
}
