//! Every error of the web pages mapped to its HTTP status, in one place. A handler answers an [`AppError`];
//! the `render_errors` layer turns it into a page in the user's language. The OIDC token and userinfo
//! endpoints answer an [`OAuthError`] instead: RFC 6749 JSON.

use std::borrow::Cow;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use noegle_core::grants::TokenError;
use noegle_core::oauth::ErrorCode;
use noegle_core::store::StoreError;

use crate::i18n::Texts;

/// An error a page can answer with.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AppError {
    /// No session, an expired one, or a missing or wrong CSRF token.
    #[error("session expired or CSRF token missing or wrong")]
    Csrf,
    /// The log-in box was opened without an authorization request.
    #[error("no authorization request in progress")]
    NoAuthorization,
    /// A form that could not be read.
    #[error("malformed form: {0}")]
    BadForm(String),
    /// Not `application/x-www-form-urlencoded`.
    #[error("unsupported content type")]
    UnsupportedMediaType,
    /// The body exceeded the limit.
    #[error("request body too large")]
    TooLarge,
    /// The body did not arrive within `body_timeout_secs` (408; the connection is closed).
    #[error("request body too slow")]
    TooSlow,
    /// Too many guesses from this address.
    #[error("too many attempts from this address")]
    TooManyRequests,
    /// Too many password checks wait already; nothing was checked (503 with `Retry-After`).
    #[error("too busy to check the password now")]
    Busy,
    /// An authorization request that cannot be answered by redirect (unknown client, wrong redirect URI).
    #[error("invalid authorization request: {0}")]
    InvalidAuthorization(String),
    /// No such page.
    #[error("not found")]
    NotFound,
    /// The database failed.
    #[error("storage unavailable: {0}")]
    Storage(String),
    /// A bug or an unexpected failure.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        AppError::Storage(e.to_string())
    }
}

impl AppError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::Csrf => StatusCode::FORBIDDEN,
            AppError::NoAuthorization | AppError::BadForm(_) | AppError::InvalidAuthorization(_) => {
                StatusCode::BAD_REQUEST
            }
            AppError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::TooSlow => StatusCode::REQUEST_TIMEOUT,
            AppError::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Storage(_) | AppError::Busy => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The heading and message a user sees, and a detail safe to show (never for server-side failures).
    pub fn user_message(&self, t: &Texts) -> (&'static str, &'static str, Option<String>) {
        match self {
            AppError::Csrf => (t.invalid_request, t.session_invalid, None),
            AppError::NoAuthorization => (t.title, t.start_from_service, None),
            AppError::BadForm(d) => (t.invalid_request, t.bad_form, Some(d.clone())),
            AppError::UnsupportedMediaType => {
                (t.invalid_request, t.bad_form, Some("Content-Type: application/x-www-form-urlencoded".into()))
            }
            AppError::TooLarge => (t.invalid_request, t.too_large, None),
            AppError::TooSlow => (t.invalid_request, t.too_slow, None),
            AppError::TooManyRequests => (t.invalid_request, t.slow_down, None),
            AppError::Busy => (t.title, t.busy, None),
            AppError::InvalidAuthorization(d) => (t.invalid_request, t.start_from_service, Some(d.clone())),
            AppError::NotFound => (t.invalid_request, t.not_found, None),
            AppError::Storage(_) | AppError::Internal(_) => (t.invalid_request, t.server_error, None),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        if matches!(self, AppError::Storage(_) | AppError::Internal(_)) {
            tracing::error!(error = %self, "request failed");
        }
        let mut response = (self.status(), self.to_string()).into_response();
        if matches!(self, AppError::Busy) {
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, crate::passwords::retry_after());
        }
        response.extensions_mut().insert(self);
        response
    }
}

/// An OAuth or OpenID Connect error answered as JSON (`{"error", "error_description"}`), never cached; a
/// 401 carries its challenge: `Bearer` for a token a resource refused (RFC 6750 §3), `Basic` for a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    /// The `error` code.
    pub code: ErrorCode,
    /// The `error_description`, for the client's developer.
    pub description: Cow<'static, str>,
    /// The HTTP status; the code's own unless the transport said otherwise (a body too large is 413).
    pub status: StatusCode,
}

impl OAuthError {
    /// `code` with its own status.
    pub fn new(code: ErrorCode, description: impl Into<Cow<'static, str>>) -> OAuthError {
        let status = StatusCode::from_u16(code.status()).unwrap_or(StatusCode::BAD_REQUEST);
        OAuthError { code, description: description.into(), status }
    }

    /// The same error answered with `status`.
    pub fn with_status(self, status: StatusCode) -> OAuthError {
        OAuthError { status, ..self }
    }

    fn challenge(&self) -> Option<HeaderValue> {
        if self.code.is_bearer_challenge() {
            let (code, why) = (self.code.as_str(), &self.description);
            return HeaderValue::from_str(&format!("Bearer error=\"{code}\", error_description=\"{why}\"")).ok();
        }
        (self.status == StatusCode::UNAUTHORIZED).then(|| HeaderValue::from_static("Basic realm=\"noegle\""))
    }
}

impl From<TokenError> for OAuthError {
    fn from(e: TokenError) -> OAuthError {
        match e {
            TokenError::InvalidClient(d)
            | TokenError::InvalidRequest(d)
            | TokenError::InvalidGrant(d)
            | TokenError::UnsupportedGrantType(d) => OAuthError::new(e.error_code(), d),
            TokenError::Store(s) => {
                tracing::error!(error = %s, "token endpoint storage failure");
                OAuthError::new(ErrorCode::TemporarilyUnavailable, "storage unavailable")
            }
        }
    }
}

/// The body of an [`OAuthError`].
#[derive(serde::Serialize)]
struct OAuthErrorBody<'a> {
    error: &'static str,
    error_description: &'a str,
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = OAuthErrorBody { error: self.code.as_str(), error_description: &self.description };
        let mut r = (self.status, Json(body)).into_response();
        r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(challenge) = self.challenge() {
            r.headers_mut().insert(header::WWW_AUTHENTICATE, challenge);
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_precise_and_server_failures_are_not_client_errors() {
        assert_eq!(AppError::Csrf.status(), StatusCode::FORBIDDEN);
        assert_eq!(AppError::BadForm("x".into()).status(), StatusCode::BAD_REQUEST);
        assert_eq!(AppError::TooLarge.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(AppError::UnsupportedMediaType.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(AppError::Storage("down".into()).status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(AppError::Busy.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(AppError::Busy.into_response().headers().contains_key("retry-after"));
        assert_eq!(AppError::Internal("bug".into()).status(), StatusCode::INTERNAL_SERVER_ERROR);
        let (_, _, detail) = AppError::Storage("password=secret".into()).user_message(&crate::i18n::DA);
        assert_eq!(detail, None, "server-side details are never shown");
    }

    #[test]
    fn an_oauth_error_is_json_with_its_status_and_challenge() {
        let client = OAuthError::new(ErrorCode::InvalidClient, "unknown client").into_response();
        assert_eq!(client.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(client.headers()["www-authenticate"], "Basic realm=\"noegle\"");
        assert_eq!(client.headers()["cache-control"], "no-store");
        let token = OAuthError::new(ErrorCode::InvalidToken, "expired").into_response();
        assert_eq!(
            token.headers()["www-authenticate"],
            "Bearer error=\"invalid_token\", error_description=\"expired\""
        );
        let big = OAuthError::new(ErrorCode::InvalidRequest, "too large").with_status(StatusCode::PAYLOAD_TOO_LARGE);
        let big = big.into_response();
        assert_eq!(big.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert!(!big.headers().contains_key("www-authenticate"));
    }
}
