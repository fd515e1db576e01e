//! Log-in box sessions: a random 256-bit id in an HttpOnly, SameSite cookie (`__Host-` and `Secure` when the
//! public URL is https), the state kept server-side under the id's digest, a new id after each step, and a
//! per-session CSRF token that every form must echo.
//!
//! The first step (user ID and password) is kept in the browser instead: the cookie then holds the state
//! sealed (see `sealed.rs`) with its expiry, marked by the prefix `s.`, and the server stores nothing until
//! the first form post moves the log-in on to a server-side session.

use axum::http::{HeaderMap, HeaderValue, header};
use noegle_core::oidc::PendingAuthorization;
use noegle_core::secret::{constant_time_eq, random_token};
use noegle_core::session_key::SessionKey;
use serde::{Deserialize, Serialize};

pub use noegle_core::login_box::Step;

use crate::error::AppError;
use crate::state::AppState;

/// The server-side state of one log-in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginSession {
    /// The token every form must carry.
    pub csrf: String,
    /// The authorization request being served.
    pub authz: PendingAuthorization,
    /// The current step.
    pub step: Step,
}

/// A session as loaded: its current id (to be replaced) and its state.
#[derive(Debug)]
pub struct Loaded {
    /// The cookie value it was found under.
    pub id: String,
    /// The state.
    pub data: LoginSession,
}

/// The value of cookie `name` in the request, if any.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|c| {
        let (k, v) = c.trim().split_once('=')?;
        (k == name).then(|| v.to_string())
    })
}

/// The session cookie's name.
pub fn cookie_name(state: &AppState) -> &'static str {
    if state.config.is_https() { "__Host-noegle_session" } else { "noegle_session" }
}

/// The prefix of a session kept sealed in the cookie rather than on the server.
const SEALED: &str = "s.";

/// A session kept in the cookie: its state and when it lapses.
#[derive(Serialize, Deserialize)]
struct InCookie {
    exp: i64,
    data: LoginSession,
}

/// Loads the session the request's cookie points at (or holds, sealed).
pub async fn load(state: &AppState, headers: &HeaderMap) -> Result<Option<Loaded>, AppError> {
    let Some(id) = cookie(headers, cookie_name(state)) else {
        return Ok(None);
    };
    if let Some(sealed) = id.strip_prefix(SEALED) {
        let held = state.sealer.open(sealed).and_then(|b| serde_json::from_slice::<InCookie>(&b).ok());
        return Ok(held.filter(|h| h.exp > state.now().0).map(|h| Loaded { id, data: h.data }));
    }
    let Some(text) = state.store.session(&SessionKey::login_box(&id), state.now()).await? else {
        return Ok(None);
    };
    // State written by an older version that no longer parses is treated as expired.
    Ok(serde_json::from_str(&text).ok().map(|data| Loaded { id, data }))
}

/// Stores `data` under a fresh id (deleting the old one) and answers the `Set-Cookie` value.
pub async fn save_rotated(
    state: &AppState,
    old_id: Option<&str>,
    data: &LoginSession,
) -> Result<HeaderValue, AppError> {
    let id = random_token(&mut rand::rngs::OsRng, 32);
    let text = serde_json::to_string(data).map_err(|e| AppError::Internal(e.to_string()))?;
    let lifetime = state.config.session_minutes * 60;
    let (new, expires_at) = (SessionKey::login_box(&id), state.now().plus(lifetime));
    // The old id stops working in the same statement that stores the new one (a sealed one has no row).
    let rotated = match old_id.filter(|old| !old.starts_with(SEALED)) {
        Some(old) => state.store.rotate_session(&SessionKey::login_box(old), &new, &text, expires_at).await?,
        None => false,
    };
    if !rotated {
        state.store.put_session(&new, &text, expires_at).await?;
    }
    let secure = if state.config.is_https() { "; Secure" } else { "" };
    let value = format!("{}={id}; Path=/; HttpOnly; SameSite=Lax; Max-Age={lifetime}{secure}", cookie_name(state));
    HeaderValue::from_str(&value).map_err(|e| AppError::Internal(e.to_string()))
}

/// Starts a log-in in the browser's cookie, sealed, storing nothing on the server; answers the `Set-Cookie`
/// value. A server-side session `old` (a log-in started before in this browser) ends.
pub async fn start_sealed(state: &AppState, old: Option<&str>, data: &LoginSession) -> Result<HeaderValue, AppError> {
    if let Some(old) = old.filter(|o| !o.starts_with(SEALED)) {
        state.store.delete_session(&SessionKey::login_box(old)).await?;
    }
    let lifetime = state.config.session_minutes * 60;
    let held = serde_json::to_vec(&InCookie { exp: state.now().plus(lifetime).0, data: data.clone() })
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let sealed = state
        .sealer
        .seal(&mut rand::rngs::OsRng, &held)
        .ok_or_else(|| AppError::Internal("the log-in could not be sealed".into()))?;
    let secure = if state.config.is_https() { "; Secure" } else { "" };
    let value =
        format!("{}={SEALED}{sealed}; Path=/; HttpOnly; SameSite=Lax; Max-Age={lifetime}{secure}", cookie_name(state));
    HeaderValue::from_str(&value).map_err(|e| AppError::Internal(e.to_string()))
}

/// Ends a session and answers the `Set-Cookie` value that clears it.
pub async fn end(state: &AppState, id: &str) -> Result<HeaderValue, AppError> {
    if !id.starts_with(SEALED) {
        state.store.delete_session(&SessionKey::login_box(id)).await?;
    }
    clearing_cookie(state)
}

/// Ends a session only if this call is the one that ends it (of concurrent finishers, exactly one is), and
/// answers the `Set-Cookie` value that clears it; [`AppError::Csrf`] for the others.
pub async fn finish(state: &AppState, id: &str) -> Result<HeaderValue, AppError> {
    state.store.take_session(&SessionKey::login_box(id), state.now()).await?.ok_or(AppError::Csrf)?;
    clearing_cookie(state)
}

fn clearing_cookie(state: &AppState) -> Result<HeaderValue, AppError> {
    let secure = if state.config.is_https() { "; Secure" } else { "" };
    HeaderValue::from_str(&format!("{}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}", cookie_name(state)))
        .map_err(|e| AppError::Internal(e.to_string()))
}

/// A fresh CSRF token.
pub fn new_csrf() -> String {
    random_token(&mut rand::rngs::OsRng, 32)
}

/// Loads the session and checks the form's CSRF token against it; any mismatch is [`AppError::Csrf`].
pub async fn load_checked(state: &AppState, headers: &HeaderMap, csrf: Option<&str>) -> Result<Loaded, AppError> {
    let loaded = load(state, headers).await?.ok_or(AppError::Csrf)?;
    match csrf {
        Some(t) if constant_time_eq(t.as_bytes(), loaded.data.csrf.as_bytes()) => Ok(loaded),
        _ => Err(AppError::Csrf),
    }
}
