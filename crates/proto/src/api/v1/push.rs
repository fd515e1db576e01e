//! Web Push of installed web apps: the server's VAPID key and a device's subscription.

use serde::{Deserialize, Serialize};

/// `GET /push/key`: the server's VAPID public key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PushKey {
    /// The key, base64url.
    pub key: String,
}

/// `PUT /push` (signed): a subscription as `PushSubscription.toJSON()` gives it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
#[allow(non_snake_case)]
pub struct PushSubscription {
    /// The https URL of the push service.
    pub endpoint: String,
    /// When the subscription lapses (browsers send `null`).
    #[serde(default)]
    pub expirationTime: Option<f64>,
    /// The browser's keys.
    pub keys: PushKeys,
}

/// The keys of a subscription (base64url).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PushKeys {
    /// The browser's P-256 public key.
    pub p256dh: String,
    /// The 16-byte authentication secret.
    pub auth: String,
}

/// Whether Web Push reaches the device now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Push {
    /// The device.
    pub device_id: String,
    /// Whether it is subscribed.
    pub push: bool,
}
