//! Fingerprint unlock: one WebAuthn platform credential per device. The credentials are WebAuthn's own
//! JSON (the server parses them with its WebAuthn library), so the bodies take their type as `C`.

use serde::{Deserialize, Serialize};

/// `POST /fingerprint/register/finish` (signed, unlocked): the new credential.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(bound = ""))]
#[serde(deny_unknown_fields)]
pub struct FingerprintRegister<C> {
    /// As the browser's `PublicKeyCredential` gives it (binary fields base64url).
    #[cfg_attr(feature = "openapi", schema(value_type = super::webauthn::RegistrationCredential))]
    pub credential: C,
}

/// `POST /fingerprint/login/start` (not signed, like the code): the device to unlock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct FingerprintLoginStart {
    /// The device.
    pub device_id: String,
}

/// `POST /fingerprint/login/finish`: the assertion, which opens an app session when verified.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(bound = ""))]
#[serde(deny_unknown_fields)]
pub struct FingerprintLogin<C> {
    /// The device.
    pub device_id: String,
    /// As the browser's `PublicKeyCredential` gives it (binary fields base64url).
    #[cfg_attr(feature = "openapi", schema(value_type = super::webauthn::AssertionCredential))]
    pub credential: C,
}

/// Whether the device unlocks by fingerprint now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Fingerprint {
    /// The device.
    pub device_id: String,
    /// Whether a credential is set.
    pub fingerprint: bool,
}
