//! Per-address rate limit on every endpoint that checks a guessable secret (password, key-card key, app code,
//! client secret). The per-account lockout lives in the database; this one stops one address from spreading
//! guesses over many accounts. One node (SQLite) counts in memory; on PostgreSQL every node counts in the
//! database (per address and minute), so N nodes give one budget, not N.

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

/// Where the guesses are counted.
pub enum Limiter {
    /// In this node's memory (one node: SQLite).
    Node(DefaultKeyedRateLimiter<IpAddr>),
    /// In the database every node shares, per address and minute.
    Shared {
        /// Guesses per address per minute.
        per_minute: u32,
    },
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Limiter::Node(_) => "Limiter::Node",
            Limiter::Shared { .. } => "Limiter::Shared",
        })
    }
}

/// A limiter allowing `per_minute` guesses per address per minute (all of them at once at most), in this
/// node's memory, or shared through the database when `shared`.
pub fn limiter(per_minute: u32, shared: bool) -> Limiter {
    if shared {
        return Limiter::Shared { per_minute };
    }
    let n = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
    Limiter::Node(RateLimiter::keyed(Quota::per_minute(n).allow_burst(n)))
}

impl Limiter {
    /// Counts a guess from `ip`; whether it is within the budget. A database that cannot count lets the
    /// guess through to its handler, which then fails on the same database.
    async fn allows(&self, state: &AppState, ip: IpAddr) -> bool {
        match self {
            Limiter::Node(l) => l.check_key(&ip).is_ok(),
            Limiter::Shared { per_minute } => {
                match state.store.count_guess(&ip.to_string(), state.now().0 / 60).await {
                    Ok(n) => n <= i64::from(*per_minute),
                    Err(e) => {
                        tracing::warn!(error = %e, "the guess count could not be kept");
                        true
                    }
                }
            }
        }
    }
}

/// Refuses a guess over the limit with 429 and `Retry-After`; pages get a page, the APIs JSON.
pub async fn limit_guesses(State(state): State<AppState>, from: ClientAddr, req: Request, next: Next) -> Response {
    if state.limiter.allows(&state, from.ip()).await {
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
