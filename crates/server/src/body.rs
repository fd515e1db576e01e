//! Request bodies within their limits, before any handler reads them: a `Content-Length` over
//! `max_body_bytes` is refused (413) before a byte of the body is read, and the whole body must arrive within
//! `body_timeout_secs` of its head (else 408). Either refusal closes the connection, so a client that
//! trickles a body, or announces one it never sends, holds a connection no longer than the timeout.
//! (The head has `header_timeout_secs`, kept by the accept loop.)

use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::AppError;
use crate::state::AppState;

/// Why a body was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Refused {
    /// Over `max_body_bytes` (413).
    TooLarge,
    /// Not complete within `body_timeout_secs` (408).
    TooSlow,
}

/// Reads the body of `req` within the limits (see the module's words), then hands it on whole.
pub async fn within_limits(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let limit = state.config.max_body_bytes;
    let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    let chunked = req.headers().contains_key(header::TRANSFER_ENCODING);
    if declared.is_some_and(|n| n > limit as u64) {
        return refuse(req.uri().path(), Refused::TooLarge);
    }
    if !chunked && declared.unwrap_or(0) == 0 {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let deadline = Duration::from_secs(state.config.body_timeout_secs);
    match tokio::time::timeout(deadline, axum::body::to_bytes(body, limit)).await {
        Ok(Ok(bytes)) => next.run(Request::from_parts(parts, Body::from(bytes))).await,
        Ok(Err(e)) if is_length_limit(&e) => refuse(parts.uri.path(), Refused::TooLarge),
        // The client broke off its body: nobody reads an answer; close.
        Ok(Err(_)) => close(StatusCode::BAD_REQUEST.into_response()),
        Err(_) => {
            metrics::counter!("noegle_slow_bodies_total").increment(1);
            refuse(parts.uri.path(), Refused::TooSlow)
        }
    }
}

fn is_length_limit(e: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if s.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = s.source();
    }
    false
}

/// The refusal in the form the endpoint answers in: OAuth JSON at `/token` and `/userinfo`, the app API's
/// JSON under `/api/`, a page elsewhere; always closing the connection.
fn refuse(path: &str, why: Refused) -> Response {
    let response = if path == "/token" || path == "/userinfo" {
        let (status, description) = match why {
            Refused::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "request body too large"),
            Refused::TooSlow => (StatusCode::REQUEST_TIMEOUT, "the request body did not arrive in time"),
        };
        let code = noegle_core::oauth::ErrorCode::InvalidRequest;
        crate::error::OAuthError::new(code, description).with_status(status).into_response()
    } else if path.starts_with("/api/") {
        match why {
            Refused::TooLarge => crate::api::ApiError::too_large(),
            Refused::TooSlow => crate::api::ApiError::too_slow(),
        }
        .into_response()
    } else {
        match why {
            Refused::TooLarge => AppError::TooLarge,
            Refused::TooSlow => AppError::TooSlow,
        }
        .into_response()
    };
    close(response)
}

fn close(mut response: Response) -> Response {
    response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}
