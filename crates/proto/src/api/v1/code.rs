//! The app code by OPAQUE: choosing it, unlocking with it, and "Glemt kode".

use serde::{Deserialize, Serialize};

/// An OPAQUE message (base64url), both ways of `POST /app-code/register/start`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OpaqueMessage {
    /// The message.
    pub message: String,
}

/// `POST /app-code/register/finish`: the registration upload; after "Glemt kode" with its reset token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RegisterCode {
    /// The OPAQUE upload.
    pub message: String,
    /// The reset token of "Glemt kode", if that is why the code is set.
    #[serde(default)]
    pub reset_token: Option<String>,
}

/// The answer to `POST /app-code/register/finish`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CodeSet {
    /// The device.
    pub device_id: String,
    /// Always `true`.
    pub code_set: bool,
    /// The token every unlock of this device names.
    pub unlock_token: String,
}

/// Both unlocking steps (`POST /app-code/login/start` and `/finish`; not signed).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CodeLogin {
    /// The device.
    pub device_id: String,
    /// The OPAQUE message.
    pub message: String,
    /// The device's unlock token (given when its code was registered); `null` before it has one.
    #[serde(default)]
    pub unlock_token: Option<String>,
}

/// The answer to `POST /app-code/login/start`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoginStarted {
    /// The OPAQUE answer.
    pub message: String,
    /// Wrong codes left if this one is wrong too.
    pub remaining_if_wrong: i64,
}

/// An app session opened by the code or the fingerprint, of at most `expires_in` seconds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AppSession {
    /// The session, named in the `noegle-app-session` header.
    pub app_session: String,
    /// Seconds it lasts.
    pub expires_in: i64,
    /// Only for a device set up before unlock tokens: its token from now on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub unlock_token: Option<String>,
}

/// `POST /app-code/forgot` ("Glemt kode"): the device, a ticket, the key it asked for and a new device key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Forgot {
    /// The device.
    pub device_id: String,
    /// A ticket of `POST /login`.
    pub ticket: String,
    /// The key it asked for.
    pub key: String,
    /// The device's new P-256 public key, SEC1 uncompressed, base64url.
    pub public_key: String,
}

/// The answer to "Glemt kode": a reset token for one new code; the device approves nothing until `ready_at`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CodeReset {
    /// The reset token.
    pub reset_token: String,
    /// Seconds it lasts.
    pub expires_in: i64,
    /// When the device can approve again.
    pub ready_at: i64,
    /// The server's time.
    pub now: i64,
}
