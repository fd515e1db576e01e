//! Every refusal of the key-app API: a stable code ([`ErrorCode`]), an English message, and for some codes
//! the facts beside it, so that an app can say it in its user's language.

use serde::{Deserialize, Serialize};

/// The `error` of a refusal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The user ID, password or key is wrong, or access is blocked.
    Rejected,
    /// The user has no usable key card.
    NoKeyCard,
    /// The server is too busy just now (with `Retry-After`).
    Busy,
    /// Storage is unavailable just now.
    Unavailable,
    /// A failure on the server's side.
    Internal,
    /// The device's platform or OS version is not supported (`platform`, `version`, `minimum` beside it).
    PlatformUnsupported,
    /// A body that is not what the call takes.
    Invalid,
    /// The user has as many key apps as allowed (`devices`, `max` beside it).
    TooManyDevices,
    /// The second log-in before the wait is over (`ready_at` beside it).
    TooEarly,
    /// The activation was cancelled or lapsed.
    ActivationEnded,
    /// A signature header is missing or malformed.
    Unsigned,
    /// No such device (or not in a state the call allows).
    UnknownDevice,
    /// The signed timestamp is too far from the server's clock.
    ClockSkew,
    /// The signature does not verify.
    BadSignature,
    /// The nonce was used before.
    ReplayedRequest,
    /// Nothing of this user under that id.
    NotFound,
    /// The request was decided already.
    AlreadyDecided,
    /// The request lapsed.
    Expired,
    /// The typed match code is wrong.
    WrongMatchCode,
    /// What the decision echoes is not the request's.
    Mismatch,
    /// Too many wrong match codes: paused (`until` beside it).
    Paused,
    /// The user is blocked.
    Blocked,
    /// The device approves nothing while cooling off after "Glemt kode" (`until` beside it).
    CoolingOff,
    /// A malformed body.
    Malformed,
    /// The device has no app code yet.
    NoCode,
    /// Blocked by wrong codes, until "Glemt kode".
    DeviceBlocked,
    /// The app code is wrong (`remaining` beside it).
    WrongCode,
    /// The app must be unlocked first (or may not do this).
    Locked,
    /// The ticket is unknown, used or expired.
    TicketExpired,
    /// A fingerprint step was refused.
    FingerprintRefused,
    /// Fingerprint unlock is off on this server.
    FingerprintUnavailable,
    /// The device has no fingerprint set.
    NoFingerprint,
    /// Too many guesses from this address.
    SlowDown,
    /// The body is larger than the server takes.
    TooLarge,
    /// The body did not arrive in time.
    Timeout,
    /// The body is not JSON.
    UnsupportedMediaType,
}

impl ErrorCode {
    /// Every code, in the order of the enum.
    pub const ALL: [ErrorCode; 36] = {
        use ErrorCode::*;
        [
            Rejected,
            NoKeyCard,
            Busy,
            Unavailable,
            Internal,
            PlatformUnsupported,
            Invalid,
            TooManyDevices,
            TooEarly,
            ActivationEnded,
            Unsigned,
            UnknownDevice,
            ClockSkew,
            BadSignature,
            ReplayedRequest,
            NotFound,
            AlreadyDecided,
            Expired,
            WrongMatchCode,
            Mismatch,
            Paused,
            Blocked,
            CoolingOff,
            Malformed,
            NoCode,
            DeviceBlocked,
            WrongCode,
            Locked,
            TicketExpired,
            FingerprintRefused,
            FingerprintUnavailable,
            NoFingerprint,
            SlowDown,
            TooLarge,
            Timeout,
            UnsupportedMediaType,
        ]
    };
}

/// `{"error": code, "message": …}` and the facts some codes carry (absent when they do not).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    /// Why, as a stable code.
    pub error: ErrorCode,
    /// Why, in words.
    pub message: String,
    /// `platform_unsupported`: the platform, as people know it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub platform: Option<String>,
    /// `platform_unsupported`: the version the device reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub version: Option<String>,
    /// `platform_unsupported`: the oldest version supported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub minimum: Option<String>,
    /// `too_many_devices`: the names of the user's key apps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub devices: Option<Vec<String>>,
    /// `too_many_devices`: the most a user may have.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub max: Option<i64>,
    /// `too_early`: when the second log-in is possible.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub ready_at: Option<i64>,
    /// `paused`, `cooling_off`: until when.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub until: Option<i64>,
    /// `wrong_code`: wrong codes left before the device is blocked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub remaining: Option<i64>,
}

impl ErrorBody {
    /// A refusal with no facts beside its message.
    pub fn new(error: ErrorCode, message: impl Into<String>) -> ErrorBody {
        ErrorBody {
            error,
            message: message.into(),
            platform: None,
            version: None,
            minimum: None,
            devices: None,
            max: None,
            ready_at: None,
            until: None,
            remaining: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ErrorCode;

    /// `ALL` lists every code once: a new variant must be added to it (the match fails to build otherwise).
    #[test]
    fn all_lists_every_code() {
        for (i, code) in ErrorCode::ALL.iter().enumerate() {
            let index = match code {
                ErrorCode::Rejected => 0,
                ErrorCode::NoKeyCard => 1,
                ErrorCode::Busy => 2,
                ErrorCode::Unavailable => 3,
                ErrorCode::Internal => 4,
                ErrorCode::PlatformUnsupported => 5,
                ErrorCode::Invalid => 6,
                ErrorCode::TooManyDevices => 7,
                ErrorCode::TooEarly => 8,
                ErrorCode::ActivationEnded => 9,
                ErrorCode::Unsigned => 10,
                ErrorCode::UnknownDevice => 11,
                ErrorCode::ClockSkew => 12,
                ErrorCode::BadSignature => 13,
                ErrorCode::ReplayedRequest => 14,
                ErrorCode::NotFound => 15,
                ErrorCode::AlreadyDecided => 16,
                ErrorCode::Expired => 17,
                ErrorCode::WrongMatchCode => 18,
                ErrorCode::Mismatch => 19,
                ErrorCode::Paused => 20,
                ErrorCode::Blocked => 21,
                ErrorCode::CoolingOff => 22,
                ErrorCode::Malformed => 23,
                ErrorCode::NoCode => 24,
                ErrorCode::DeviceBlocked => 25,
                ErrorCode::WrongCode => 26,
                ErrorCode::Locked => 27,
                ErrorCode::TicketExpired => 28,
                ErrorCode::FingerprintRefused => 29,
                ErrorCode::FingerprintUnavailable => 30,
                ErrorCode::NoFingerprint => 31,
                ErrorCode::SlowDown => 32,
                ErrorCode::TooLarge => 33,
                ErrorCode::Timeout => 34,
                ErrorCode::UnsupportedMediaType => 35,
            };
            assert_eq!(index, i, "{code:?}");
        }
    }
}
