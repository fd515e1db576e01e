//! Activating a key app (R-APP1–R-APP3): two password + key-card log-ins, the second only after the wait
//! (default one hour) and before the upper limit (default seven days); at most three active devices.

use crate::Ctx;
use crate::audit::AuditKind;
use crate::device::{
    ActivateOutcome, Device, DeviceStatus, MAX_ACTIVE_DEVICES, PlatformError, PlatformPolicy, new_ids, parse_public_key,
};
use crate::keycard::KeyPepper;
use crate::login::{Challenge, LoginError, check_key};
use crate::store::StoreError;
use crate::{DeviceId, SecureRng, UnixTime};

/// The activation rules an operator can set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActivationPolicy {
    /// Seconds between the first and the second log-in (default 3600).
    pub wait_secs: i64,
    /// Seconds after which an unfinished activation lapses (default 7 days).
    pub max_pending_secs: i64,
    /// Minimum OS versions.
    pub platforms: PlatformPolicy,
}

impl Default for ActivationPolicy {
    fn default() -> Self {
        ActivationPolicy { wait_secs: 3600, max_pending_secs: 7 * 24 * 3600, platforms: PlatformPolicy::default() }
    }
}

/// What the app tells about itself when activation begins.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewDevice {
    /// base64url SEC1 uncompressed P-256 public key.
    pub public_key: String,
    /// `ios`, `android`, `web`, `terminal`.
    pub platform: String,
    /// OS version.
    pub os_version: String,
    /// A name the user recognises.
    pub name: String,
}

/// Why an activation step failed.
#[derive(Debug, thiserror::Error)]
pub enum ActivationError {
    /// Wrong user ID, password or key, or locked (one answer).
    #[error("the user ID, password or key is wrong, or access is blocked")]
    Rejected,
    /// The platform is refused.
    #[error(transparent)]
    Platform(#[from] PlatformError),
    /// Malformed public key or name.
    #[error("{0}")]
    Invalid(String),
    /// Three devices are active; these are their names.
    #[error("you already have {max} active key apps; deregister one first: {}", names.join(", "))]
    TooManyDevices {
        /// The active devices' names.
        names: Vec<String>,
        /// The limit.
        max: i64,
    },
    /// The second log-in came before the wait was over.
    #[error("for your security the second log-in is possible from {ready_at:?}")]
    TooEarly {
        /// When to come back.
        ready_at: UnixTime,
    },
    /// The activation lapsed or was cancelled.
    #[error("this activation has expired or was cancelled; start again")]
    NotPending,
    /// The user has no usable key card.
    #[error("the user has no usable key card")]
    NoKeyCard,
    /// The server is too busy to check now; nothing was counted.
    #[error(transparent)]
    Busy(#[from] crate::login::Busy),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<LoginError> for ActivationError {
    fn from(e: LoginError) -> Self {
        match e {
            LoginError::Rejected => ActivationError::Rejected,
            LoginError::NoKeyCard => ActivationError::NoKeyCard,
            LoginError::Busy(b) => ActivationError::Busy(b),
            LoginError::Store(s) => ActivationError::Store(s),
        }
    }
}

async fn active_names(ctx: Ctx<'_>, sub: &str) -> Result<Vec<String>, StoreError> {
    Ok(ctx
        .store
        .devices_of(sub)
        .await?
        .into_iter()
        .filter(|d| d.status == DeviceStatus::Active)
        .map(|d| d.name)
        .collect())
}

/// First stage: the password was right (the caller holds the user's `sub` and the key asked for); checks the
/// device's facts, then the key, and records a pending device that can approve nothing.
#[allow(clippy::too_many_arguments)]
pub async fn start(
    ctx: Ctx<'_>,
    rng: &mut dyn SecureRng,
    pepper: &KeyPepper,
    policy: &ActivationPolicy,
    sub: &str,
    challenge: &Challenge,
    key: &str,
    new: &NewDevice,
) -> Result<Device, ActivationError> {
    let platform = policy.platforms.check(&new.platform, &new.os_version)?;
    let public_key = parse_public_key(&new.public_key)
        .ok_or_else(|| ActivationError::Invalid("public_key must be a base64url SEC1 uncompressed P-256 key".into()))?;
    let name = crate::user::validate_display_name(&new.name)
        .map_err(|e| ActivationError::Invalid(format!("device name: {e}")))?;
    let names = active_names(ctx, sub).await?;
    if names.len() as i64 >= MAX_ACTIVE_DEVICES {
        return Err(ActivationError::TooManyDevices { names, max: MAX_ACTIVE_DEVICES });
    }
    check_key(ctx, rng, pepper, sub, challenge, key).await?;
    let (device_id, serial) = new_ids(rng);
    let device = Device {
        device_id,
        serial,
        sub: sub.to_string(),
        public_key,
        platform,
        os_version: new.os_version.clone(),
        name,
        status: DeviceStatus::Pending,
        created_at: ctx.now,
        second_login_from: ctx.now.plus(policy.wait_secs),
        cooling_off_until: None,
        expires_at: ctx.now.plus(policy.max_pending_secs),
        activated_at: None,
        revoked_by: None,
    };
    ctx.store.insert_device(&device).await?;
    let user = ctx.store.user_by_sub(sub).await?.map(|u| u.user_id.to_string());
    ctx.audit(
        AuditKind::DeviceActivationStarted,
        user.as_deref(),
        serde_json::json!({ "device": device.serial, "platform": device.platform, "ready_at": device.second_login_from }),
    )
    .await?;
    Ok(device)
}

/// Second stage: `device` (authenticated by its signature) belongs to `sub`, whose password was right again;
/// after the wait and before the limit, the second key activates it — unless three are active by then.
pub async fn complete(
    ctx: Ctx<'_>,
    rng: &mut dyn SecureRng,
    pepper: &KeyPepper,
    device: &Device,
    sub: &str,
    challenge: &Challenge,
    key: &str,
) -> Result<Device, ActivationError> {
    if device.sub != sub {
        return Err(ActivationError::Rejected);
    }
    if !device.pending_and_alive(ctx.now) {
        return Err(ActivationError::NotPending);
    }
    if ctx.now < device.second_login_from {
        return Err(ActivationError::TooEarly { ready_at: device.second_login_from });
    }
    check_key(ctx, rng, pepper, sub, challenge, key).await?;
    let user = ctx.store.user_by_sub(sub).await?.map(|u| u.user_id.to_string());
    match ctx.store.activate_device(&device.device_id, ctx.now, MAX_ACTIVE_DEVICES).await? {
        ActivateOutcome::Activated => {}
        ActivateOutcome::LimitReached => {
            return Err(ActivationError::TooManyDevices {
                names: active_names(ctx, sub).await?,
                max: MAX_ACTIVE_DEVICES,
            });
        }
        ActivateOutcome::NotPending => return Err(ActivationError::NotPending),
    }
    ctx.audit(AuditKind::DeviceActivated, user.as_deref(), serde_json::json!({ "device": device.serial })).await?;
    ctx.store.device(&device.device_id).await?.ok_or(ActivationError::NotPending)
}

/// Why a device is listed to the user's other devices.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unconfirmed {
    /// A new key app waiting for its second log-in.
    Activation,
    /// A key app cooling off after "Glemt kode".
    CodeReset,
}

/// The user's devices that `me` may still stop: pending activations that have not lapsed, and devices
/// cooling off after "Glemt kode".
pub async fn unconfirmed(ctx: Ctx<'_>, me: &Device) -> Result<Vec<(Device, Unconfirmed)>, StoreError> {
    Ok(ctx
        .store
        .devices_of(&me.sub)
        .await?
        .into_iter()
        .filter_map(|d| {
            let why = if d.pending_and_alive(ctx.now) {
                Unconfirmed::Activation
            } else if d.cooling_off(ctx.now) {
                Unconfirmed::CodeReset
            } else {
                return None;
            };
            Some((d, why))
        })
        .collect())
}

/// What stopping an unconfirmed device did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stopped {
    /// A pending activation was cancelled.
    Cancelled,
    /// A device cooling off after a code reset the user does not know of was taken off altogether.
    Revoked,
}

/// `me`, an active device, stops `device_id` of the same user — cancels its pending activation, or
/// revokes it if it is cooling off after a code reset (not `me` itself). Audited. `None` when there is no
/// such device of this user to stop.
pub async fn stop(ctx: Ctx<'_>, me: &Device, device_id: &DeviceId) -> Result<Option<(Device, Stopped)>, StoreError> {
    let Some(target) = ctx.store.device(device_id).await?.filter(|d| d.sub == me.sub) else {
        return Ok(None);
    };
    if target.cooling_off(ctx.now) && target.device_id != me.device_id {
        crate::device::revoke(
            ctx,
            &target,
            crate::device::RevokedBy::OtherDevice,
            &format!("code reset cancelled by {}", me.serial),
        )
        .await?;
        return Ok(Some((target, Stopped::Revoked)));
    }
    if !ctx.store.set_device_status(&target.device_id, DeviceStatus::Pending, DeviceStatus::Cancelled).await? {
        return Ok(None);
    }
    ctx.audit_device(AuditKind::DeviceCancelled, &target, serde_json::json!({ "by": me.serial })).await?;
    Ok(Some((target, Stopped::Cancelled)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::World;
    use crate::store::DeviceStore;

    use crate::store::KeyCardStore;

    fn new_device(name: &str) -> NewDevice {
        let key = p256::ecdsa::SigningKey::from_slice(&[7; 32]).unwrap();
        let point = key.verifying_key().to_sec1_point(false);
        NewDevice {
            public_key: base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, point.as_bytes()),
            platform: "android".into(),
            os_version: "14".into(),
            name: name.into(),
        }
    }

    /// The `i`th key of the card, as a challenge and its key.
    fn challenge(w: &World, i: usize) -> (Challenge, String) {
        let (n, k) = w.card.keys.iter().nth(i).unwrap();
        (Challenge { serial: w.card.serial.clone(), number: n.clone() }, k.clone())
    }

    #[tokio::test]
    async fn activation_needs_two_keys_an_hour_apart() {
        let (w, rng, policy) = (World::new().await, &mut rand::rngs::OsRng, ActivationPolicy::default());
        let (sub, unused) = (&w.user.sub, || w.store.unused_key_numbers(&w.card.serial));

        // A too-old platform is refused before any key is spent.
        let (ch, key) = challenge(&w, 0);
        let mut old = new_device("Old phone");
        old.os_version = "4.3".into();
        let e = start(w.ctx(), rng, &w.pepper, &policy, sub, &ch, &key, &old).await.unwrap_err();
        assert!(matches!(e, ActivationError::Platform(_)), "{e}");
        assert_eq!(unused().await.unwrap().len(), 148);

        let d = start(w.ctx(), rng, &w.pepper, &policy, sub, &ch, &key, &new_device("Annes telefon")).await.unwrap();
        assert_eq!(d.status, DeviceStatus::Pending);
        assert_eq!(d.second_login_from, w.now.plus(3600));

        let (ch2, key2) = challenge(&w, 1);
        let e = complete(w.after(3599), rng, &w.pepper, &d, sub, &ch2, &key2).await.unwrap_err();
        assert!(matches!(e, ActivationError::TooEarly { ready_at } if ready_at == w.now.plus(3600)), "{e}");
        assert_eq!(unused().await.unwrap().len(), 147, "too early spends no key");

        let active = complete(w.after(3600), rng, &w.pepper, &d, sub, &ch2, &key2).await.unwrap();
        assert_eq!(active.status, DeviceStatus::Active);
        assert_eq!(active.activated_at, Some(w.now.plus(3600)));
        let (ch3, key3) = challenge(&w, 2);
        let e = complete(w.after(4000), rng, &w.pepper, &d, sub, &ch3, &key3).await.unwrap_err();
        assert!(matches!(e, ActivationError::NotPending), "{e}");
    }

    #[tokio::test]
    async fn a_lapsed_activation_cannot_be_completed_and_a_fourth_device_is_refused() {
        let (w, rng, policy) = (World::new().await, &mut rand::rngs::OsRng, ActivationPolicy::default());
        let sub = &w.user.sub;
        let (ch, key) = challenge(&w, 0);
        let d = start(w.ctx(), rng, &w.pepper, &policy, sub, &ch, &key, &new_device("Lapsed")).await.unwrap();
        let (ch, key) = challenge(&w, 1);
        let e = complete(w.after(policy.max_pending_secs), rng, &w.pepper, &d, sub, &ch, &key).await.unwrap_err();
        assert!(matches!(e, ActivationError::NotPending), "{e}");

        for n in 0..3 {
            w.named_device(sub, &format!("Telefon {n}"), DeviceStatus::Active, w.now).await;
        }
        let (ch, key) = challenge(&w, 2);
        let e = start(w.after(1000), rng, &w.pepper, &policy, sub, &ch, &key, &new_device("Fjerde")).await.unwrap_err();
        let said = e.to_string();
        assert!(said.starts_with("you already have 3 active key apps; deregister one first: "), "{said}");
        assert!((0..3).all(|n| said.contains(&format!("Telefon {n}"))), "each is named: {said}");
        assert_eq!(
            w.store.unused_key_numbers(&w.card.serial).await.unwrap().len(),
            147,
            "refused before the key is spent"
        );
    }

    #[tokio::test]
    async fn the_other_devices_see_pending_activations_and_code_resets_and_nothing_else() {
        let w = World::new().await;
        let me = w.device(&w.user.sub, DeviceStatus::Active, w.now).await;
        let pending = w.device(&w.user.sub, DeviceStatus::Pending, w.now.plus(3600)).await;
        let resetting = w.device(&w.user.sub, DeviceStatus::Active, w.now.plus(3600)).await;
        w.device(&w.user.sub, DeviceStatus::Active, w.now).await;
        w.device(&w.user.sub, DeviceStatus::Cancelled, w.now.plus(3600)).await;
        w.device("someone-else", DeviceStatus::Pending, w.now.plus(3600)).await;
        let listed: Vec<(DeviceId, Unconfirmed)> =
            unconfirmed(w.ctx(), &me).await.unwrap().into_iter().map(|(d, why)| (d.device_id, why)).collect();
        assert_eq!(listed.len(), 2, "{listed:?}");
        assert!(listed.contains(&(pending.device_id.clone(), Unconfirmed::Activation)));
        assert!(listed.contains(&(resetting.device_id.clone(), Unconfirmed::CodeReset)));

        // A pending activation that has lapsed is no longer offered.
        let lapsed = crate::Ctx { now: w.now.plus(8 * 86_400), ..w.ctx() };
        assert!(unconfirmed(lapsed, &me).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn stopping_cancels_an_activation_revokes_a_code_reset_and_touches_nothing_else() {
        let w = World::new().await;
        let me = w.device(&w.user.sub, DeviceStatus::Active, w.now).await;
        let pending = w.device(&w.user.sub, DeviceStatus::Pending, w.now.plus(3600)).await;
        let resetting = w.device(&w.user.sub, DeviceStatus::Active, w.now.plus(3600)).await;
        let settled = w.device(&w.user.sub, DeviceStatus::Active, w.now).await;
        let theirs = w.device("someone-else", DeviceStatus::Pending, w.now.plus(3600)).await;

        let (d, how) = stop(w.ctx(), &me, &pending.device_id).await.unwrap().unwrap();
        assert_eq!((d.device_id, how), (pending.device_id.clone(), Stopped::Cancelled));
        let (d, how) = stop(w.ctx(), &me, &resetting.device_id).await.unwrap().unwrap();
        assert_eq!((d.device_id, how), (resetting.device_id.clone(), Stopped::Revoked));
        let gone = w.store.device(&resetting.device_id).await.unwrap().unwrap();
        assert_eq!(
            (gone.status, gone.revoked_by),
            (DeviceStatus::Revoked, Some(crate::device::RevokedBy::OtherDevice))
        );

        for untouchable in [&settled, &theirs, &me] {
            assert_eq!(stop(w.ctx(), &me, &untouchable.device_id).await.unwrap(), None, "{}", untouchable.name);
            let still = w.store.device(&untouchable.device_id).await.unwrap().unwrap();
            assert_eq!(still.status, untouchable.status);
        }
        assert_eq!(stop(w.ctx(), &me, &pending.device_id).await.unwrap(), None, "once");
        let kinds = w.audit_kinds().await;
        assert!(kinds.ends_with(&["device_cancelled".to_string(), "device_revoked".to_string()]), "{kinds:?}");
    }
}
