//! Fingerprint unlock (R-APP4, R-APP6): a device's one platform credential and its two ceremonies. The
//! WebAuthn checks themselves are the caller's (the server verifies with webauthn-rs, and hands this flow
//! the ceremony state and the credential as opaque JSON); the rules around them are here: a ceremony lives
//! [`CEREMONY_SECS`] and is taken once; a device blocked by wrong codes is blocked for the fingerprint too,
//! until "Glemt kode"; enrolling, removing and a refused fingerprint are audited; a verified fingerprint
//! opens the same app session as the code.

use crate::audit::AuditKind;
use crate::ctx::Ctx;
use crate::records::device::{Device, Unlock};
use crate::session_key::SessionKey;
use crate::store::StoreError;
use crate::{SecureRng, appcode};

/// The attachment kind a device's credential is stored under.
pub const KIND: &str = "fingerprint";
/// Seconds a ceremony (enrolling or unlocking) may take between its two steps.
pub const CEREMONY_SECS: i64 = 300;

/// The two ceremonies, each with its state kept between its two steps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ceremony {
    /// Enrolling the device's fingerprint (an unlocked app).
    Enrol,
    /// Unlocking the app with it.
    Unlock,
}

impl Ceremony {
    fn key(self, device: &Device) -> SessionKey {
        match self {
            Ceremony::Enrol => SessionKey::fingerprint_registration(&device.device_id),
            Ceremony::Unlock => SessionKey::fingerprint_login(&device.device_id),
        }
    }
}

/// Why a fingerprint step cannot go on.
#[derive(Debug, thiserror::Error)]
pub enum FingerprintError {
    /// Five wrong codes block the fingerprint too.
    #[error(transparent)]
    Blocked(appcode::AppCodeError),
    /// The device has no fingerprint enrolled.
    #[error("this device has no fingerprint set")]
    NoFingerprint,
    /// The ceremony's first step is gone: taken already, too old, or never made.
    #[error("start the fingerprint {} again", match .0 { Ceremony::Enrol => "registration", Ceremony::Unlock => "unlock" })]
    CeremonyOver(Ceremony),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Keeps a ceremony's state (the caller's JSON) for its second step, for [`CEREMONY_SECS`].
pub async fn begin(ctx: Ctx<'_>, ceremony: Ceremony, device: &Device, state: &str) -> Result<(), StoreError> {
    ctx.store.put_session(&ceremony.key(device), state, ctx.now.plus(CEREMONY_SECS)).await
}

/// The state [`begin`] kept, taken: a second call, or one after [`CEREMONY_SECS`], finds none.
pub async fn resume(ctx: Ctx<'_>, ceremony: Ceremony, device: &Device) -> Result<String, FingerprintError> {
    ctx.store.take_session(&ceremony.key(device), ctx.now).await?.ok_or(FingerprintError::CeremonyOver(ceremony))
}

/// Stores the verified credential of an enrolment (replacing any earlier one), audited.
pub async fn enrol(ctx: Ctx<'_>, device: &Device, credential: &str) -> Result<(), StoreError> {
    ctx.store.set_attachment(&device.device_id, KIND, Some(credential)).await?;
    ctx.audit_device(AuditKind::FingerprintSet, device, serde_json::json!({})).await
}

/// The device no longer unlocks with a fingerprint, audited.
pub async fn remove(ctx: Ctx<'_>, device: &Device) -> Result<(), StoreError> {
    ctx.store.set_attachment(&device.device_id, KIND, None).await?;
    ctx.audit_device(AuditKind::FingerprintRemoved, device, serde_json::json!({})).await
}

/// The credential an unlock is checked against: none for a device blocked by wrong codes, or without one.
pub async fn credential(ctx: Ctx<'_>, device: &Device) -> Result<String, FingerprintError> {
    if appcode::blocked(ctx, device).await? {
        return Err(FingerprintError::Blocked(appcode::AppCodeError::Blocked));
    }
    ctx.store.attachment(&device.device_id, KIND).await?.ok_or(FingerprintError::NoFingerprint)
}

/// A fingerprint that was not verified: audited with the verifier's `reason`; the app falls back to its code.
pub async fn refused(ctx: Ctx<'_>, device: &Device, reason: &str) -> Result<(), StoreError> {
    ctx.audit_device(AuditKind::FingerprintRejected, device, serde_json::json!({ "reason": reason })).await
}

/// A verified fingerprint: the credential's new state kept when the verifier changed it (its counter), and an
/// app session opened as the code opens it. Answers the session's token and seconds.
pub async fn unlocked(
    ctx: Ctx<'_>,
    rng: &mut dyn SecureRng,
    device: &Device,
    updated: Option<&str>,
) -> Result<(String, i64), StoreError> {
    if let Some(credential) = updated {
        ctx.store.set_attachment(&device.device_id, KIND, Some(credential)).await?;
    }
    appcode::open_session(ctx, rng, device, Unlock::Fingerprint).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::World;
    use crate::records::device::DeviceStatus;
    use crate::store::DeviceStore;

    #[tokio::test]
    async fn a_ceremony_is_taken_once_and_only_within_its_time() {
        let w = World::new().await;
        let d = w.device("alice", DeviceStatus::Active, w.now).await;
        begin(w.ctx(), Ceremony::Enrol, &d, "{\"s\":1}").await.unwrap();
        assert!(matches!(resume(w.ctx(), Ceremony::Unlock, &d).await, Err(FingerprintError::CeremonyOver(_))));
        assert_eq!(resume(w.ctx(), Ceremony::Enrol, &d).await.unwrap(), "{\"s\":1}");
        assert!(matches!(resume(w.ctx(), Ceremony::Enrol, &d).await, Err(FingerprintError::CeremonyOver(_))));
        begin(w.ctx(), Ceremony::Unlock, &d, "{}").await.unwrap();
        let late = resume(w.after(CEREMONY_SECS + 1), Ceremony::Unlock, &d).await;
        assert!(matches!(late, Err(FingerprintError::CeremonyOver(Ceremony::Unlock))), "{late:?}");
        assert_eq!(late.unwrap_err().to_string(), "start the fingerprint unlock again");
    }

    #[tokio::test]
    async fn an_enrolled_fingerprint_unlocks_until_removed_and_each_change_is_audited() {
        let w = World::new().await;
        let d = w.device("alice", DeviceStatus::Active, w.now).await;
        assert!(matches!(credential(w.ctx(), &d).await, Err(FingerprintError::NoFingerprint)));
        enrol(w.ctx(), &d, "passkey-1").await.unwrap();
        assert_eq!(credential(w.ctx(), &d).await.unwrap(), "passkey-1");
        let (token, secs) = unlocked(w.ctx(), &mut rand::rngs::OsRng, &d, Some("passkey-2")).await.unwrap();
        assert_eq!(secs, appcode::APP_SESSION_SECS);
        let how = appcode::session_unlock(w.ctx(), &d, &token).await.unwrap();
        assert_eq!(how, Some(Unlock::Fingerprint), "the session says how the app was unlocked");
        assert_eq!(credential(w.ctx(), &d).await.unwrap(), "passkey-2", "the verifier's new state is kept");
        refused(w.ctx(), &d, "bad signature").await.unwrap();
        remove(w.ctx(), &d).await.unwrap();
        assert!(matches!(credential(w.ctx(), &d).await, Err(FingerprintError::NoFingerprint)));
        let kinds = w.audit_kinds().await;
        let tail: Vec<&str> = kinds.iter().rev().take(3).rev().map(String::as_str).collect();
        assert_eq!(tail, ["fingerprint_set", "fingerprint_rejected", "fingerprint_removed"]);
        assert!(w.store.device(&d.device_id).await.unwrap().is_some());
    }

    #[tokio::test]
    async fn a_device_blocked_by_wrong_codes_cannot_unlock_with_its_fingerprint() {
        let w = World::new().await;
        let d = w.device("alice", DeviceStatus::Active, w.now).await;
        enrol(w.ctx(), &d, "passkey").await.unwrap();
        for _ in 0..appcode::MAX_CODE_FAILURES {
            w.store.add_code_failure(&d.device_id).await.unwrap();
        }
        let e = credential(w.ctx(), &d).await.unwrap_err();
        assert!(matches!(e, FingerprintError::Blocked(appcode::AppCodeError::Blocked)), "{e:?}");
    }
}
