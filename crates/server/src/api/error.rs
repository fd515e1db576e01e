//! Every error the key-app API answers, in one place: a precise HTTP status, a stable `error` code, an
//! English `message`, and sometimes facts beside them (`{"error": code, "message": …, …}`). The domain's
//! errors map here; storage and internal failures are logged and answered in general words.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use noegle_core::activation::ActivationError;
use noegle_core::device::{DeviceAuthError, PlatformError};
use noegle_core::login::LoginError;
use noegle_proto::api::v1::ErrorBody;
use noegle_proto::api::v1::ErrorCode::{self, *};

/// An app-API error: status and the typed body (stable code, message, and the facts some codes carry).
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    body: Box<ErrorBody>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError { status, body: Box::new(ErrorBody::new(code, message)) }
    }
    /// A failure on our side: the cause goes to the log, the client hears only that it was ours.
    pub(crate) fn internal(e: impl std::fmt::Display) -> ApiError {
        tracing::error!(error = %e, "app API: internal failure");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, Internal, "something went wrong on our side; try again")
    }
    /// The same refusal with the facts `add` puts beside its message.
    fn with(mut self, add: impl FnOnce(&mut ErrorBody)) -> ApiError {
        add(&mut self.body);
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let busy = self.body.error == Busy;
        if self.status.is_server_error() && !busy {
            tracing::error!(error = %self.body.message, "app API failure");
        }
        let mut response = (self.status, Json(*self.body)).into_response();
        if busy {
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, crate::passwords::retry_after());
        }
        response
    }
}

impl From<noegle_core::login::Busy> for ApiError {
    fn from(e: noegle_core::login::Busy) -> Self {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, Busy, e.to_string())
    }
}

/// What a client is told when storage fails: the cause goes to the log, never to the client (it may name
/// tables, files or the database's own words).
pub(crate) const UNAVAILABLE: &str = "the service is unavailable just now; try again shortly";

impl From<noegle_core::StoreError> for ApiError {
    fn from(e: noegle_core::StoreError) -> Self {
        tracing::error!(error = %e, "app API: storage failed");
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, Unavailable, UNAVAILABLE)
    }
}

impl From<LoginError> for ApiError {
    fn from(e: LoginError) -> Self {
        match e {
            LoginError::Rejected => ApiError::new(
                StatusCode::UNAUTHORIZED,
                Rejected,
                "the user ID, password or key is wrong, or access is blocked",
            ),
            LoginError::NoKeyCard => ApiError::new(StatusCode::FORBIDDEN, NoKeyCard, "the user has no usable key card"),
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
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, PlatformUnsupported, msg)
                    .with(|b| (b.platform, b.version, b.minimum) = (Some(platform), Some(version), Some(minimum)))
            }
            ActivationError::Platform(_) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, PlatformUnsupported, msg),
            ActivationError::Invalid(_) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, Invalid, msg),
            ActivationError::TooManyDevices { names, max } => ApiError::new(StatusCode::CONFLICT, TooManyDevices, msg)
                .with(|b| (b.devices, b.max) = (Some(names), Some(max))),
            ActivationError::TooEarly { ready_at } => ApiError::new(
                StatusCode::CONFLICT,
                TooEarly,
                "for your security the second log-in is only possible when the wait is over",
            )
            .with(|b| b.ready_at = Some(ready_at.0)),
            ActivationError::NotPending => ApiError::new(StatusCode::GONE, ActivationEnded, msg),
            ActivationError::Busy(b) => b.into(),
            ActivationError::Store(s) => s.into(),
        }
    }
}

impl From<DeviceAuthError> for ApiError {
    fn from(e: DeviceAuthError) -> Self {
        let code = match &e {
            DeviceAuthError::Unsigned(_) => Unsigned,
            DeviceAuthError::UnknownDevice => UnknownDevice,
            DeviceAuthError::Skew => ClockSkew,
            DeviceAuthError::BadSignature => BadSignature,
            DeviceAuthError::Replay => ReplayedRequest,
            DeviceAuthError::Store(_) => Unavailable,
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
            E::NotFound => ApiError::new(StatusCode::NOT_FOUND, NotFound, msg),
            E::Decided => ApiError::new(StatusCode::CONFLICT, AlreadyDecided, msg),
            E::Expired => ApiError::new(StatusCode::GONE, Expired, msg),
            E::WrongMatchCode => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, WrongMatchCode, msg),
            E::Mismatch => ApiError::new(StatusCode::BAD_REQUEST, Mismatch, msg),
            E::Paused { until } => {
                ApiError::new(StatusCode::TOO_MANY_REQUESTS, Paused, msg).with(|b| b.until = Some(until.0))
            }
            E::Blocked => ApiError::new(StatusCode::FORBIDDEN, Blocked, msg),
            E::CoolingOff { until } => {
                ApiError::new(StatusCode::FORBIDDEN, CoolingOff, msg).with(|b| b.until = Some(until.0))
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
            E::Malformed(_) => ApiError::new(StatusCode::BAD_REQUEST, Malformed, msg),
            E::NoCode => ApiError::new(StatusCode::CONFLICT, NoCode, msg),
            E::Blocked => ApiError::new(StatusCode::FORBIDDEN, DeviceBlocked, msg),
            E::WrongCode { remaining } => {
                ApiError::new(StatusCode::UNAUTHORIZED, WrongCode, msg).with(|b| b.remaining = Some(remaining))
            }
            E::NotAllowed => ApiError::new(StatusCode::FORBIDDEN, Locked, msg),
            E::Store(s) => s.into(),
        }
    }
}

impl ApiError {
    /// A body that is not what the call takes (422 `invalid`).
    pub(crate) fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, Invalid, message)
    }
    /// The app must be unlocked first (401 `locked`).
    pub(crate) fn locked() -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, Locked, "unlock the key app with its code first")
    }
    /// A ticket that is unknown, used or expired (401 `ticket_expired`).
    pub(crate) fn ticket_expired() -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, TicketExpired, "log in again: the ticket is unknown, used or expired")
    }
    /// Nothing of this user under that id to act on (404 `not_found`).
    pub(crate) fn not_found(message: &str) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, NotFound, message)
    }
    /// A fingerprint step refused (401 `fingerprint_refused`).
    pub(crate) fn fingerprint_refused(message: &str) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, FingerprintRefused, message)
    }
    /// Fingerprint unlock is off on this server (409 `fingerprint_unavailable`).
    pub(crate) fn fingerprint_unavailable() -> ApiError {
        ApiError::new(
            StatusCode::CONFLICT,
            FingerprintUnavailable,
            "fingerprint unlock needs the server's public URL to have a domain name",
        )
    }
    /// The device has no fingerprint credential (409 `no_fingerprint`).
    pub(crate) fn no_fingerprint() -> ApiError {
        ApiError::new(StatusCode::CONFLICT, NoFingerprint, "this device has no fingerprint set")
    }
    /// The node holds as many live-channel streams as it may (503 `busy`).
    pub(crate) fn live_channel_full() -> ApiError {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            Busy,
            "too many key apps are connected to this server right now; try again shortly (\"Opdater\" works meanwhile)",
        )
    }
    /// Too many guesses from this address (429 `slow_down`).
    pub(crate) fn slow_down() -> ApiError {
        ApiError::new(StatusCode::TOO_MANY_REQUESTS, SlowDown, "too many attempts from this address; wait a minute")
    }
    /// A body over `max_body_bytes` (413 `too_large`).
    pub(crate) fn too_large() -> ApiError {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, TooLarge, "the request body is larger than this server takes")
    }
    /// A body that did not arrive within `body_timeout_secs` (408 `timeout`).
    pub(crate) fn too_slow() -> ApiError {
        ApiError::new(StatusCode::REQUEST_TIMEOUT, Timeout, "the request body did not arrive in time; send it again")
    }
    /// A malformed JSON body (400 `malformed`).
    pub(crate) fn malformed(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, Malformed, message)
    }
    /// A body that is not JSON (415 `unsupported_media_type`).
    pub(crate) fn not_json() -> ApiError {
        ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, UnsupportedMediaType, "send application/json")
    }
}
