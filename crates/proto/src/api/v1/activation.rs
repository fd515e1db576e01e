//! Activating a key app, the user's unconfirmed devices, and ending a device.

use serde::{Deserialize, Serialize};

use super::device::{Device, DeviceStatus};

/// `POST /login`: user ID and password.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Login {
    /// The user ID.
    pub user_id: String,
    /// The password.
    pub password: String,
}

/// The answer to `POST /login`: a single-use ticket and the key-card key to give next.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Ticket {
    /// The ticket (used once).
    pub ticket: String,
    /// Seconds it lasts.
    pub expires_in: i64,
    /// The key asked for.
    pub key_card: KeyAsked,
}

/// A key-card key asked for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KeyAsked {
    /// The card's serial.
    pub serial: String,
    /// The key's number on the card.
    pub key_number: String,
}

/// `POST /activation`, the first stage: ticket, key and the device's public key and platform.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct StartActivation {
    /// A ticket of `POST /login`.
    pub ticket: String,
    /// The key the ticket asked for.
    pub key: String,
    /// The device's P-256 public key, SEC1 uncompressed, base64url.
    pub public_key: String,
    /// Where the app runs (one of [`super::Platform`]; another name is refused as unsupported).
    #[cfg_attr(feature = "openapi", schema(value_type = super::Platform))]
    pub platform: String,
    /// The OS version, like 17 or 4.4.2.
    pub os_version: String,
    /// A name the user recognises.
    pub name: String,
}

/// `POST /activation/complete`, the second stage (signed by the pending device): a second ticket and key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CompleteActivation {
    /// A fresh ticket of `POST /login`.
    pub ticket: String,
    /// The key it asked for.
    pub key: String,
}

/// `GET /activations`: the user's pending activations and devices cooling off (each with its `reason`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Unconfirmed {
    /// The devices.
    pub pending: Vec<Device>,
}

/// A device ended: cancelled, or revoked (deregistered).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeviceEnded {
    /// The device.
    pub device_id: String,
    /// Its state now (`cancelled` or `revoked`).
    pub status: DeviceStatus,
}
