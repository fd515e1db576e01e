//! Every error the key-app API answers, in one place: a precise HTTP status, a stable `error` code, an
//! English `message`, and sometimes facts beside them (`{"error": code, "message": …, …}`). The domain's
//! errors map here; storage and internal failures are logged and answered in general words.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use noegle_core::activation::ActivationError;
use noegle_core::device::{DeviceAuthError, PlatformError};
use noegle_core::login::LoginError;
use serde_json::{Value, json};

/// An app-API error: status, stable code, message, and optional facts.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    extra: Option<Value>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, code, message: message.into(), extra: None }
    }
    /// A failure on our side: the cause goes to the log, the client hears only that it was ours.
    pub(crate) fn internal(e: impl std::fmt::Display) -> ApiError {
        tracing::error!(error = %e, "app API: internal failure");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "something went wrong on our side; try again")
    }
    fn with(mut self, extra: Value) -> ApiError {
        self.extra = Some(extra);
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let busy = self.code == "busy";
        if self.status.is_server_error() && !busy {
            tracing::error!(error = %self.message, "app API failure");
        }
        let mut body = json!({ "error": self.code, "message": self.message });
        if let (Some(Value::Object(extra)), Some(obj)) = (self.extra, body.as_object_mut()) {
            obj.extend(extra);
        }
        let mut response = (self.status, Json(body)).into_response();
        if busy {
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, crate::passwords::retry_after());
        }
        response
    }
}

impl From<noegle_core::login::Busy> for ApiError {
    fn from(e: noegle_core::login::Busy) -> Self {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "busy", e.to_string())
    }
}

/// What a client is told when storage fails: the cause goes to the log, never to the client (it may name
/// tables, files or the database's own words).
pub(crate) const UNAVAILABLE: &str = "the service is unavailable just now; try again shortly";

impl From<noegle_core::StoreError> for ApiError {
    fn from(e: noegle_core::StoreError) -> Self {
        tracing::error!(error = %e, "app API: storage failed");
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", UNAVAILABLE)
    }
}

impl From<LoginError> for ApiError {
    fn from(e: LoginError) -> Self {
        match e {
            LoginError::Rejected => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "rejected",
                "the user ID, password or key is wrong, or access is blocked",
            ),
            LoginError::NoKeyCard => {
                ApiError::new(StatusCode::FORBIDDEN, "no_key_card", "the user has no usable key card")
            }
            LoginError::Busy(b) => b.into(),
            LoginError::Store(s) => s.into(),
        }
    }
}

impl From<ActivationError> for ApiError {
    fn from(e: ActivationError) -> Self {
        let msg = e.to_string();
        match e {
            ActivationError::Rejected => LoginError::Rejected.into(),
            ActivationError::NoKeyCard => LoginError::NoKeyCard.into(),
            // The facts go beside the message, so that the app can say it in the user's language.
            ActivationError::Platform(PlatformError::TooOld { platform, version, minimum }) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "platform_unsupported", msg)
                    .with(json!({ "platform": platform, "version": version, "minimum": minimum }))
            }
            ActivationError::Platform(_) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "platform_unsupported", msg)
            }
            ActivationError::Invalid(_) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", msg),
            ActivationError::TooManyDevices { names, max } => {
                ApiError::new(StatusCode::CONFLICT, "too_many_devices", msg)
                    .with(json!({ "devices": names, "max": max }))
            }
            ActivationError::TooEarly { ready_at } => ApiError::new(
                StatusCode::CONFLICT,
                "too_early",
                "for your security the second log-in is only possible when the wait is over",
            )
            .with(json!({ "ready_at": ready_at })),
            ActivationError::NotPending => ApiError::new(StatusCode::GONE, "activation_ended", msg),
            ActivationError::Busy(b) => b.into(),
            ActivationError::Store(s) => s.into(),
        }
    }
}

impl From<DeviceAuthError> for ApiError {
    fn from(e: DeviceAuthError) -> Self {
        let code = match &e {
            DeviceAuthError::Unsigned(_) => "unsigned",
            DeviceAuthError::UnknownDevice => "unknown_device",
            DeviceAuthError::Skew => "clock_skew",
            DeviceAuthError::BadSignature => "bad_signature",
            DeviceAuthError::Replay => "replayed_request",
            DeviceAuthError::Store(_) => "unavailable",
        };
        match e {
            DeviceAuthError::Store(s) => s.into(),
            e => ApiError::new(StatusCode::UNAUTHORIZED, code, e.to_string()),
        }
    }
}

impl From<noegle_core::request::RequestError> for ApiError {
    fn from(e: noegle_core::request::RequestError) -> Self {
        use noegle_core::request::RequestError as E;
        let msg = e.to_string();
        match e {
            E::NotFound => ApiError::new(StatusCode::NOT_FOUND, "not_found", msg),
            E::Decided => ApiError::new(StatusCode::CONFLICT, "already_decided", msg),
            E::Expired => ApiError::new(StatusCode::GONE, "expired", msg),
            E::WrongMatchCode => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "wrong_match_code", msg),
            E::Mismatch => ApiError::new(StatusCode::BAD_REQUEST, "mismatch", msg),
            E::Paused { until } => {
                ApiError::new(StatusCode::TOO_MANY_REQUESTS, "paused", msg).with(json!({ "until": until }))
            }
            E::Blocked => ApiError::new(StatusCode::FORBIDDEN, "blocked", msg),
            E::CoolingOff { until } => {
                ApiError::new(StatusCode::FORBIDDEN, "cooling_off", msg).with(json!({ "until": until }))
            }
            E::Store(s) => s.into(),
        }
    }
}

impl From<noegle_core::fingerprint::FingerprintError> for ApiError {
    fn from(e: noegle_core::fingerprint::FingerprintError) -> Self {
        use noegle_core::fingerprint::FingerprintError as E;
        match e {
            E::Blocked(e) => e.into(),
            E::NoFingerprint => ApiError::no_fingerprint(),
            E::CeremonyOver(_) => ApiError::fingerprint_refused(&e.to_string()),
            E::Store(e) => e.into(),
        }
    }
}

impl From<noegle_core::appcode::AppCodeError> for ApiError {
    fn from(e: noegle_core::appcode::AppCodeError) -> Self {
        use noegle_core::appcode::AppCodeError as E;
        let msg = e.to_string();
        match e {
            E::Malformed(_) => ApiError::new(StatusCode::BAD_REQUEST, "malformed", msg),
            E::NoCode => ApiError::new(StatusCode::CONFLICT, "no_code", msg),
            E::Blocked => ApiError::new(StatusCode::FORBIDDEN, "device_blocked", msg),
            E::WrongCode { remaining } => {
                ApiError::new(StatusCode::UNAUTHORIZED, "wrong_code", msg).with(json!({ "remaining": remaining }))
            }
            E::NotAllowed => ApiError::new(StatusCode::FORBIDDEN, "locked", msg),
            E::Store(s) => s.into(),
        }
    }
}

impl ApiError {
    /// A body that is not what the call takes (422 `invalid`).
    pub(crate) fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", message)
    }
    /// The app must be unlocked first (401 `locked`).
    pub(crate) fn locked() -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "locked", "unlock the key app with its code first")
    }
    /// A ticket that is unknown, used or expired (401 `ticket_expired`).
    pub(crate) fn ticket_expired() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "ticket_expired",
            "log in again: the ticket is unknown, used or expired",
        )
    }
    /// Nothing of this user under that id to act on (404 `not_found`).
    pub(crate) fn not_found(message: &str) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }
    /// A fingerprint step refused (401 `fingerprint_refused`).
    pub(crate) fn fingerprint_refused(message: &str) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "fingerprint_refused", message)
    }
    /// Fingerprint unlock is off on this server (409 `fingerprint_unavailable`).
    pub(crate) fn fingerprint_unavailable() -> ApiError {
        ApiError::new(
            StatusCode::CONFLICT,
            "fingerprint_unavailable",
            "fingerprint unlock needs the server's public URL to have a domain name",
        )
    }
    /// The device has no fingerprint credential (409 `no_fingerprint`).
    pub(crate) fn no_fingerprint() -> ApiError {
        ApiError::new(StatusCode::CONFLICT, "no_fingerprint", "this device has no fingerprint set")
    }
    /// The node holds as many live-channel streams as it may (503 `busy`).
    pub(crate) fn live_channel_full() -> ApiError {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "too many key apps are connected to this server right now; try again shortly (\"Opdater\" works meanwhile)",
        )
    }
    /// Too many guesses from this address (429 `slow_down`).
    pub(crate) fn slow_down() -> ApiError {
        ApiError::new(StatusCode::TOO_MANY_REQUESTS, "slow_down", "too many attempts from this address; wait a minute")
    }
    /// A body over `max_body_bytes` (413 `too_large`).
    pub(crate) fn too_large() -> ApiError {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", "the request body is larger than this server takes")
    }
    /// A body that did not arrive within `body_timeout_secs` (408 `timeout`).
    pub(crate) fn too_slow() -> ApiError {
        ApiError::new(StatusCode::REQUEST_TIMEOUT, "timeout", "the request body did not arrive in time; send it again")
    }
    /// A malformed JSON body (400 `malformed`).
    pub(crate) fn malformed(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "malformed", message)
    }
    /// A body that is not JSON (415 `unsupported_media_type`).
    pub(crate) fn not_json() -> ApiError {
        ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", "send application/json")
    }
}
