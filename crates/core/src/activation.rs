//! Activating a key app (R-APP1–R-APP3): two password + key-card log-ins, the second only after the wait
//! (default one hour) and before the upper limit (default seven days); at most three active devices.

use crate::Ctx;
use crate::audit::AuditKind;
use crate::device::{
    Device, DeviceStatus, MAX_ACTIVE_DEVICES, PlatformError, PlatformPolicy, new_ids, parse_public_key,
};
use crate::keycard::KeyPepper;
use crate::login::{Challenge, LoginError, check_key};
use crate::store::StoreError;
use crate::{SecureRng, UnixTime};

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

/// The outcome of the store's atomic activation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActivateOutcome {
    /// Now active.
    Activated,
    /// The user already has the maximum of active devices.
    LimitReached,
    /// The device was not pending any more.
    NotPending,
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
    policy.platforms.check(&new.platform, &new.os_version)?;
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
        platform: new.platform.clone(),
        os_version: new.os_version.clone(),
        name,
        status: DeviceStatus::Pending,
        created_at: ctx.now,
        ready_at: ctx.now.plus(policy.wait_secs),
        expires_at: ctx.now.plus(policy.max_pending_secs),
        activated_at: None,
    };
    ctx.store.insert_device(&device).await?;
    let user = ctx.store.user_by_sub(sub).await?.map(|u| u.user_id.to_string());
    ctx.audit(
        AuditKind::DeviceActivationStarted,
        user.as_deref(),
        serde_json::json!({ "device": device.serial, "platform": device.platform, "ready_at": device.ready_at }),
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
    if ctx.now < device.ready_at {
        return Err(ActivationError::TooEarly { ready_at: device.ready_at });
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
pub async fn stop(ctx: Ctx<'_>, me: &Device, device_id: &str) -> Result<Option<(Device, Stopped)>, StoreError> {
    let Some(target) = ctx.store.device(device_id).await?.filter(|d| d.sub == me.sub) else {
        return Ok(None);
    };
    if target.cooling_off(ctx.now) && target.device_id != me.device_id {
        crate::device::revoke(ctx, &target, &format!("code reset cancelled by {}", me.serial)).await?;
        return Ok(Some((target, Stopped::Revoked)));
    }
    if !ctx.store.set_device_status(&target.device_id, DeviceStatus::Pending, DeviceStatus::Cancelled).await? {
        return Ok(None);
    }
    ctx.audit_device(AuditKind::DeviceCancelled, &target, serde_json::json!({ "by": me.serial })).await?;
    Ok(Some((target, Stopped::Cancelled)))
}
