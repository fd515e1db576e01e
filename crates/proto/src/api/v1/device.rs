//! The server's clock, what the app tells its user (`/about`), and a device as the app sees it.

use serde::{Deserialize, Serialize};

/// `GET /time`: the server's clock, which signed requests must be within 60 s of.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Time {
    /// The server's time.
    pub now: i64,
}

/// `GET /about`: what the app tells users before they start and when they need help, and the numbers it says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct About {
    /// The most active key apps one user may have.
    pub max_devices: i64,
    /// The oldest iOS and Android the app runs on.
    pub minimum: Minimum,
    /// How to reach the support ("Hjælp og NemID support").
    pub support: Support,
    /// Seconds an unlocked app stays open.
    pub app_session_secs: i64,
    /// Seconds a new key app waits between its two log-ins.
    pub activation_wait_secs: i64,
    /// Wrong app codes in a row that block the key app.
    pub code_attempts: i64,
}

/// The oldest OS versions the key app runs on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Minimum {
    /// iOS.
    pub ios: String,
    /// Android.
    pub android: String,
}

/// The support's phone number and web address, each `null` when the operator set none.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Support {
    /// Phone number.
    pub phone: Option<String>,
    /// Web address.
    pub url: Option<String>,
}

/// A device's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum DeviceStatus {
    /// Waiting for the second log-in after the wait.
    Pending,
    /// Activated: can approve.
    Active,
    /// Activation cancelled or lapsed.
    Cancelled,
    /// Deregistered or revoked.
    Revoked,
}

impl DeviceStatus {
    /// The name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceStatus::Pending => "pending",
            DeviceStatus::Active => "active",
            DeviceStatus::Cancelled => "cancelled",
            DeviceStatus::Revoked => "revoked",
        }
    }
}

/// Where a key app runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    /// An iPhone or iPad.
    Ios,
    /// An Android phone.
    Android,
    /// The installable web app.
    Web,
    /// The terminal key app.
    Terminal,
}

/// Why a device is listed among the unconfirmed ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// A new key app waiting for its second log-in.
    Activation,
    /// A key app cooling off after "Glemt kode".
    CodeReset,
}

/// A device as the app sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Device {
    /// Id, named in signed requests.
    pub device_id: String,
    /// The serial shown in the app's settings, for support.
    pub serial: String,
    /// A name the user recognises.
    pub name: String,
    /// State.
    pub status: DeviceStatus,
    /// When the second log-in is possible (a pending device), or the cooling-off ends.
    pub ready_at: i64,
    /// When an unfinished activation lapses.
    pub expires_at: i64,
    /// Whether a pending device's wait is over.
    pub ready: bool,
    /// The server's time.
    pub now: i64,
    /// Only in the listing of unconfirmed devices: why it is there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub reason: Option<Reason>,
}
