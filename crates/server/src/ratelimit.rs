//! Per-address rate limit on every endpoint that checks a guessable secret (password, key-card key, app code,
//! client secret). The per-account lockout lives in the database; this one stops one address from spreading
//! guesses over many accounts.

use std::net::IpAddr;
use std::num::NonZeroU32;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::client_addr::ClientAddr;
use crate::error::AppError;
use crate::state::AppState;

/// The limiter, keyed by client address.
pub type Limiter = DefaultKeyedRateLimiter<IpAddr>;

/// A limiter allowing `per_minute` guesses per address per minute (all of them at once at most).
pub fn limiter(per_minute: u32) -> Limiter {
    let n = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
    RateLimiter::keyed(Quota::per_minute(n).allow_burst(n))
}

/// Refuses a guess over the limit with 429 and `Retry-After`; pages get a page, the APIs JSON.
pub async fn limit_guesses(State(state): State<AppState>, from: ClientAddr, req: Request, next: Next) -> Response {
    if state.limiter.check_key(&from.ip()).is_ok() {
        return next.run(req).await;
    }
    metrics::counter!("noegle_rate_limited_total").increment(1);
    let mut response = if req.uri().path().starts_with("/login") {
        AppError::TooManyRequests.into_response()
    } else {
        crate::api::ApiError::slow_down().into_response()
    };
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
    response
}
