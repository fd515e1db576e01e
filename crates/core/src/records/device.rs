//! A key-app device as stored: its state, who revoked it, where it runs and how it was unlocked.

use serde::Serialize;

use crate::UnixTime;
use crate::records::ids::DeviceId;
use crate::records::oidc::Amr;

/// A device's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceStatus {
    /// First key given; waiting for the second log-in after the wait.
    Pending,
    /// Activated: can approve.
    Active,
    /// Activation cancelled (by the user on another device, or expired).
    Cancelled,
    /// Deregistered by the user or revoked by support.
    Revoked,
}

impl DeviceStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceStatus::Pending => "pending",
            DeviceStatus::Active => "active",
            DeviceStatus::Cancelled => "cancelled",
            DeviceStatus::Revoked => "revoked",
        }
    }
    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<DeviceStatus> {
        Some(match s {
            "pending" => DeviceStatus::Pending,
            "active" => DeviceStatus::Active,
            "cancelled" => DeviceStatus::Cancelled,
            "revoked" => DeviceStatus::Revoked,
            _ => return None,
        })
    }
}

/// Who took a device off ([`DeviceStatus::Revoked`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RevokedBy {
    /// The user deregistered it ("Afmeld nøgleapp").
    User,
    /// Support revoked it (`noegle device revoke`).
    Operator,
    /// The user's other key app stopped a code reset it did not know of.
    OtherDevice,
}

impl RevokedBy {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            RevokedBy::User => "user",
            RevokedBy::Operator => "operator",
            RevokedBy::OtherDevice => "other_device",
        }
    }
    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<RevokedBy> {
        [RevokedBy::User, RevokedBy::Operator, RevokedBy::OtherDevice].into_iter().find(|b| b.as_str() == s)
    }
}

/// A device as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Device {
    /// Internal id, named in signed requests.
    pub device_id: DeviceId,
    /// The serial number shown in the app's settings, for support ("1234-5678-9012").
    pub serial: String,
    /// Owner.
    pub sub: String,
    /// The device's P-256 public key, SEC1 uncompressed.
    #[serde(skip)]
    pub public_key: Vec<u8>,
    /// Where it runs.
    pub platform: Platform,
    /// The OS version the app reported.
    pub os_version: String,
    /// A name the user recognises ("Annes iPhone").
    pub name: String,
    /// State.
    pub status: DeviceStatus,
    /// When activation began.
    pub created_at: UnixTime,
    /// When the second log-in becomes possible (the end of the activation wait).
    pub second_login_from: UnixTime,
    /// Until when an active device cools off after "Glemt kode" gave it a new key; `None` if its code was
    /// never reset.
    pub cooling_off_until: Option<UnixTime>,
    /// When an unfinished activation lapses.
    pub expires_at: UnixTime,
    /// When it became active.
    pub activated_at: Option<UnixTime>,
    /// Who revoked it, once revoked.
    pub revoked_by: Option<RevokedBy>,
}

impl Device {
    /// Whether a pending activation can still be completed at `now`.
    pub fn pending_and_alive(&self, now: UnixTime) -> bool {
        self.status == DeviceStatus::Pending && now < self.expires_at
    }

    /// Whether a pending device may make its second log-in at `now` (R-APP1): its wait is over and its
    /// activation has not expired. The app shows this as `ready`.
    pub fn ready_for_second_login(&self, now: UnixTime) -> bool {
        self.pending_and_alive(now) && now >= self.second_login_from
    }

    /// Whether an active device is cooling off at `now` after "Glemt kode" gave it a new key: until
    /// `cooling_off_until` it may unlock and choose its code, but approve nothing — the activation hour
    /// again, while the user's other devices may cancel it. Set by [`crate::appcode::reset_code`].
    pub fn cooling_off(&self, now: UnixTime) -> bool {
        self.cooling_off_ends(now).is_some()
    }

    /// When the cooling-off an active device is in at `now` ends; `None` if it is not cooling off.
    pub fn cooling_off_ends(&self, now: UnixTime) -> Option<UnixTime> {
        self.cooling_off_until.filter(|&until| self.status == DeviceStatus::Active && now < until)
    }

    /// The moment the device is (or was) ready, as the app API's `ready_at` tells it: the end of its
    /// cooling-off after a code reset, else the moment its second log-in is possible.
    pub fn ready_at(&self) -> UnixTime {
        self.cooling_off_until.unwrap_or(self.second_login_from)
    }

    /// Whether the device can approve log-ins at `now`: active, not cooling off.
    pub fn can_approve(&self, now: UnixTime) -> bool {
        self.status == DeviceStatus::Active && !self.cooling_off(now)
    }
}

/// The outcome of the store's atomic activation of a pending device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActivateOutcome {
    /// Now active.
    Activated,
    /// The user already has the maximum of active devices.
    LimitReached,
    /// The device was not pending any more.
    NotPending,
}

/// How an app was unlocked; an approval carries it into the ID token's `amr` (RFC 8176).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unlock {
    /// The 4-digit app code (`pin`).
    Code,
    /// A fingerprint verified by WebAuthn (`fpt`).
    Fingerprint,
}

impl Unlock {
    /// The RFC 8176 `amr` value.
    pub fn amr(self) -> Amr {
        match self {
            Unlock::Code => Amr::Pin,
            Unlock::Fingerprint => Amr::Fpt,
        }
    }

    /// The unlock of an `amr` value (`pin`, `fpt`).
    pub fn parse(amr: &str) -> Option<Unlock> {
        [Unlock::Code, Unlock::Fingerprint].into_iter().find(|u| u.amr().as_str() == amr)
    }
}

/// Where a key app runs (`ios`, `android`, `web`, `terminal` on the wire and in the database).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    /// An iPhone or iPad.
    Ios,
    /// An Android phone.
    Android,
    /// The installable web app in a browser.
    Web,
    /// The terminal key app (`noegleapp`).
    Terminal,
}

impl Platform {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Ios => "ios",
            Platform::Android => "android",
            Platform::Web => "web",
            Platform::Terminal => "terminal",
        }
    }
    /// Parses a stored or reported name.
    pub fn parse(s: &str) -> Option<Platform> {
        [Platform::Ios, Platform::Android, Platform::Web, Platform::Terminal].into_iter().find(|p| p.as_str() == s)
    }
    /// The name people know it by.
    pub fn display_name(self) -> &'static str {
        match self {
            Platform::Ios => "iOS",
            Platform::Android => "Android",
            Platform::Web => "web",
            Platform::Terminal => "terminal",
        }
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::World;

    #[tokio::test]
    async fn a_pending_device_is_ready_from_the_end_of_its_wait_until_it_expires() {
        let w = World::new().await;
        let d = w.device("alice", DeviceStatus::Pending, w.now.plus(3600)).await;
        assert!(!d.ready_for_second_login(w.now.plus(3599)));
        assert!(d.ready_for_second_login(w.now.plus(3600)));
        assert!(!d.ready_for_second_login(d.expires_at), "expired");
        let active = Device { status: DeviceStatus::Active, ..d };
        assert!(!active.ready_for_second_login(w.now.plus(3600)), "an active device waits for nothing");
    }
}
