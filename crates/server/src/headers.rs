//! Security headers on every response, and the rendering of page errors in the user's language (the pages
//! make both; nothing here is used by them).

use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::error::AppError;
use crate::i18n::Lang;
use crate::state::AppState;

/// Adds the security headers a response does not set itself.
pub async fn security_headers(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    let h = response.headers_mut();
    let mut set = |name: header::HeaderName, value: &str| {
        if !h.contains_key(&name)
            && let Ok(v) = HeaderValue::from_str(value)
        {
            h.insert(name, v);
        }
    };
    set(header::CONTENT_SECURITY_POLICY, &crate::pages::csp("'self'"));
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::X_FRAME_OPTIONS, "DENY");
    set(header::REFERRER_POLICY, "no-referrer");
    set(header::CACHE_CONTROL, "no-store");
    if state.config.is_https() {
        set(header::STRICT_TRANSPORT_SECURITY, "max-age=31536000");
    }
    response
}

/// Turns an [`AppError`] left in a response into a page in the request's language.
pub async fn render_errors(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let lang = Lang::negotiate(req.headers(), state.default_lang());
    let back = req.uri().path().to_string();
    let response = next.run(req).await;
    let Some(e) = response.extensions().get::<AppError>() else {
        return response;
    };
    let mut page = crate::pages::error_page(e, lang, &back);
    // Keep what the error set besides its body (Retry-After, Set-Cookie, …).
    for (name, value) in response.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            page.headers_mut().insert(name.clone(), value.clone());
        }
    }
    page
}
