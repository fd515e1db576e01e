//! The log-in box (R-LB1 key-card path, R-LB2, R-LB4): step 1 user ID and password, step 2 a key from the key
//! card, then back to the service provider with a code. Each step's answer keeps the stored state intact on
//! failure and rotates the session id on success.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use noegle_core::keycard::{self, CardStatus, REISSUE_BELOW};
use noegle_core::login::{self, LoginError, SecondFactor};
use noegle_core::oidc::{PendingAuthorization, amr_app, amr_keycard};
use noegle_core::request::{self, RequestError, RequestState};
use noegle_core::user::User;

use crate::client_addr::ClientAddr;
use crate::error::AppError;
use crate::form::Form;
use crate::i18n::{LANG_COOKIE, Lang, Texts};
use crate::session::{self, Loaded, LoginSession, Step};
use crate::state::AppState;

/// What every page frame shows: the words, the language and the language switch.
pub struct Frame {
    /// Words.
    pub t: &'static Texts,
    /// `da` / `en`.
    pub lang: &'static str,
    /// The other language's code.
    pub other_lang: &'static str,
    /// Link that switches language and comes back here.
    pub switch_href: String,
}

impl Frame {
    /// The frame for `lang` on the page at `back`.
    pub fn new(lang: Lang, back: &str) -> Frame {
        Frame {
            t: lang.texts(),
            lang: lang.code(),
            other_lang: lang.other().code(),
            switch_href: format!("/lang/{}?back={}", lang.other().code(), urlencode(back)),
        }
    }
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[derive(Template)]
#[template(path = "password.html")]
struct PasswordPage<'a> {
    f: Frame,
    client_name: &'a str,
    csrf: &'a str,
    user_id: &'a str,
    error: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "key.html")]
struct KeyPage<'a> {
    f: Frame,
    client_name: &'a str,
    csrf: &'a str,
    user_id: &'a str,
    serial: String,
    number: &'a str,
    error: Option<&'static str>,
    notice: Option<String>,
}

#[derive(Template)]
#[template(path = "choose.html")]
struct ChoosePage<'a> {
    f: Frame,
    client_name: &'a str,
    csrf: &'a str,
    user_id: &'a str,
    error: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "waiting.html")]
struct WaitingPage<'a> {
    f: Frame,
    client_name: &'a str,
    csrf: &'a str,
    user_id: &'a str,
    match_code: &'a str,
    action: &'a str,
    live: bool,
    error: Option<&'static str>,
}

/// The plain message page (errors).
#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage {
    /// Frame.
    pub f: Frame,
    /// Heading.
    pub heading: &'static str,
    /// Message.
    pub message: &'static str,
    /// Detail, if safe to show.
    pub detail: Option<String>,
}

fn render(t: &impl Template) -> Result<String, AppError> {
    t.render().map_err(|e| AppError::Internal(format!("template: {e}")))
}

/// A page whose forms may post to us and, after a redirect, land at the service provider's redirect URI
/// (CSP `form-action` is checked against redirect targets too); `scripts`: it runs our own script.
fn page(status: StatusCode, html: String, authz: &PendingAuthorization, scripts: bool) -> Response {
    let mut response = (status, Html(html)).into_response();
    let origin = url::Url::parse(&authz.redirect_uri).map(|u| u.origin().ascii_serialization()).unwrap_or_default();
    let form_action = format!("'self' {origin}");
    let csp =
        if scripts { crate::headers::csp_with_own_scripts(&form_action) } else { crate::headers::csp(&form_action) };
    if let Ok(v) = HeaderValue::from_str(&csp) {
        response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
    }
    response
}

async fn render_step(
    state: &AppState,
    lang: Lang,
    s: &LoginSession,
    status: StatusCode,
    error: Option<&'static str>,
    typed_user_id: &str,
) -> Result<Response, AppError> {
    let f = Frame::new(lang, "/login");
    let html = match &s.step {
        Step::Password => render(&PasswordPage {
            f,
            client_name: &s.authz.client_name,
            csrf: &s.csrf,
            user_id: typed_user_id,
            error,
        })?,
        Step::Choose { user_id, .. } => {
            render(&ChoosePage { f, client_name: &s.authz.client_name, csrf: &s.csrf, user_id, error })?
        }
        Step::Waiting { user_id, request_id, .. } => {
            let r = state.store.request(request_id).await?;
            let (code, action) = r.as_ref().map_or(("", ""), |r| (r.match_code.as_str(), r.action.as_str()));
            render(&WaitingPage {
                f,
                client_name: &s.authz.client_name,
                csrf: &s.csrf,
                user_id,
                match_code: code,
                action,
                live: error.is_none(),
                error,
            })?
        }
        Step::Key { sub, user_id, challenge } => {
            let cards = state.store.cards_of(sub).await?;
            let t = lang.texts();
            let mut notices = Vec::new();
            if let Some(card) = cards.iter().find(|c| c.serial == challenge.serial)
                && card.unused <= REISSUE_BELOW
            {
                notices.push(format!("{} {}", card.unused, t.keys_left));
            }
            if cards.iter().any(|c| c.status == CardStatus::Pending && c.serial != challenge.serial) {
                notices.push(t.new_card_coming.to_string());
            }
            render(&KeyPage {
                f,
                client_name: &s.authz.client_name,
                csrf: &s.csrf,
                user_id,
                serial: keycard::display_serial(&challenge.serial),
                number: &challenge.number,
                error,
                notice: (!notices.is_empty()).then(|| notices.join(" ")),
            })?
        }
    };
    let waiting = matches!(s.step, Step::Waiting { .. }) && error.is_none();
    Ok(page(status, html, &s.authz, waiting))
}

/// `GET /login/state`: whether the log-in box still waits for the key app (`{"waiting": true}`); the waiting
/// page asks, and loads `/login` once the answer is no. It changes nothing.
pub async fn waiting_state(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, AppError> {
    let waiting = match session::load(&state, &headers).await?.map(|l| l.data.step) {
        Some(Step::Waiting { request_id, .. }) => {
            request::refresh(state.ctx(None), &request_id).await?.is_some_and(|r| r.state == RequestState::Pending)
        }
        _ => false,
    };
    Ok(axum::Json(serde_json::json!({ "waiting": waiting })).into_response())
}

fn lang_of(state: &AppState, headers: &HeaderMap) -> Lang {
    Lang::negotiate(headers, state.default_lang())
}

/// `GET /login`: the current step. While waiting for the key app it follows the request: an approval
/// finishes the log-in, a rejection or expiry is said plainly with "Send igen" and the key card.
pub async fn show(State(state): State<AppState>, from: ClientAddr, headers: HeaderMap) -> Result<Response, AppError> {
    let loaded = session::load(&state, &headers).await?.ok_or(AppError::NoAuthorization)?;
    let lang = lang_of(&state, &headers);
    if let Step::Waiting { sub, request_id, .. } = &loaded.data.step {
        return follow_request(&state, from.as_str(), lang, &loaded, sub, request_id).await;
    }
    render_step(&state, lang, &loaded.data, StatusCode::OK, None, "").await
}

/// The waiting step, as the request now stands: approved (the log-in finishes, unless the user was blocked
/// meanwhile), still pending, rejected, or expired.
async fn follow_request(
    state: &AppState,
    source: &str,
    lang: Lang,
    loaded: &Loaded,
    sub: &str,
    request_id: &str,
) -> Result<Response, AppError> {
    let ctx = state.ctx(Some(source));
    let r = request::refresh(ctx, request_id).await?;
    let (t, data) = (lang.texts(), &loaded.data);
    let unlock = r.as_ref().and_then(|r| r.decided_with.as_deref()).and_then(noegle_core::device::Unlock::parse);
    match r.map(|r| r.state) {
        Some(RequestState::Approved) => {
            let Some(user) = request::approved_login(ctx, sub).await? else {
                // Blocked after the request was sent: the approval opens nothing.
                return render_step(state, lang, data, StatusCode::FORBIDDEN, Some(t.rejected), "").await;
            };
            metrics::counter!("noegle_logins_total", "method" => "app").increment(1);
            finish(state, source, loaded, &user, amr_app(unlock)).await
        }
        Some(RequestState::Pending) => render_step(state, lang, data, StatusCode::OK, None, "").await,
        Some(RequestState::Rejected) => {
            render_step(state, lang, data, StatusCode::OK, Some(t.request_rejected), "").await
        }
        _ => render_step(state, lang, data, StatusCode::OK, Some(t.request_expired), "").await,
    }
}

/// Ends the log-in: a code for the client, the session closed, and back to the client.
async fn finish(
    state: &AppState,
    source: &str,
    loaded: &Loaded,
    user: &User,
    amr: Vec<noegle_core::oidc::Amr>,
) -> Result<Response, AppError> {
    // The session ends first, atomically: of two concurrent finishes (a reload racing the waiting page's own
    // refresh) only one issues a code.
    let cookie = session::finish(state, &loaded.id).await?;
    let ctx = state.ctx(Some(source));
    let code = noegle_core::grants::issue_code(ctx, &mut rand::rngs::OsRng, &loaded.data.authz, user, amr).await?;
    let target = redirect_with(state, &loaded.data.authz, &[("code", &code)]);
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to(&target)).into_response())
}

/// Moves the session to `step` under a new id and shows it.
async fn advance(state: &AppState, loaded: Loaded, step: Step) -> Result<Response, AppError> {
    let data = LoginSession { csrf: session::new_csrf(), authz: loaded.data.authz, step };
    let cookie = session::save_rotated(state, Some(&loaded.id), &data).await?;
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to("/login")).into_response())
}

/// `POST /login/app/send`: sends (or re-sends) a request to the user's key app.
pub async fn send_to_app(
    State(state): State<AppState>,
    from: ClientAddr,
    headers: HeaderMap,
    form: Form,
) -> Result<Response, AppError> {
    let loaded = session::load_checked(&state, &headers, form.get("csrf")).await?;
    let (sub, user_id) = match &loaded.data.step {
        Step::Choose { sub, user_id } | Step::Waiting { sub, user_id, .. } => (sub.clone(), user_id.clone()),
        _ => return Ok(Redirect::to("/login").into_response()),
    };
    let authz = &loaded.data.authz;
    let action = format!("Log på {}", authz.client_name);
    let ctx = state.ctx(Some(from.as_str()));
    let rng = &mut rand::rngs::OsRng;
    let created = request::create(ctx, rng, &sub, &authz.client_id, &authz.client_name, &action);
    let (status, text) = match created.await {
        Ok(r) => {
            state.notify(&sub, crate::live::AppEvent::Request);
            return advance(&state, loaded, Step::Waiting { sub, user_id, request_id: r.request_id }).await;
        }
        Err(RequestError::Paused { .. }) => (StatusCode::TOO_MANY_REQUESTS, lang_of(&state, &headers).texts().paused),
        Err(RequestError::Blocked) => (StatusCode::FORBIDDEN, lang_of(&state, &headers).texts().rejected),
        Err(RequestError::Store(e)) => return Err(e.into()),
        Err(e) => return Err(AppError::Internal(e.to_string())),
    };
    let data = LoginSession { step: Step::Choose { sub, user_id }, ..loaded.data };
    render_step(&state, lang_of(&state, &headers), &data, status, Some(text), "").await
}

/// `POST /login/keycard`: "Skift til nøglekort" — ends a pending request and asks for a key instead.
pub async fn switch_to_keycard(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Form,
) -> Result<Response, AppError> {
    let loaded = session::load_checked(&state, &headers, form.get("csrf")).await?;
    let (sub, user_id) = match &loaded.data.step {
        Step::Choose { sub, user_id } => (sub.clone(), user_id.clone()),
        Step::Waiting { sub, user_id, request_id } => {
            request::cancel(state.ctx(None), request_id).await?;
            (sub.clone(), user_id.clone())
        }
        _ => return Ok(Redirect::to("/login").into_response()),
    };
    let challenge = match login::choose_challenge(state.ctx(None), &mut rand::rngs::OsRng, &sub).await {
        Ok(c) => c,
        Err(LoginError::NoKeyCard) => {
            let lang = lang_of(&state, &headers);
            let data = LoginSession { step: Step::Choose { sub, user_id }, ..loaded.data };
            return render_step(&state, lang, &data, StatusCode::FORBIDDEN, Some(lang.texts().no_key_card), "").await;
        }
        Err(e) => return Err(login_error(e)),
    };
    advance(&state, loaded, Step::Key { sub, user_id, challenge }).await
}

/// `POST /login/password`: step 1.
pub async fn password(
    State(state): State<AppState>,
    from: ClientAddr,
    headers: HeaderMap,
    form: Form,
) -> Result<Response, AppError> {
    let loaded = session::load_checked(&state, &headers, form.get("csrf")).await?;
    let lang = lang_of(&state, &headers);
    let user_id = form.required("user_id")?;
    let password = form.required("password")?;
    let ctx = state.ctx(Some(from.as_str()));
    let user = match login::check_password(ctx, state.passwords.as_ref(), user_id, password).await {
        Ok(u) => u,
        Err(LoginError::Rejected) => return password_again(&state, lang, loaded, user_id, false).await,
        // Nothing was checked or changed: the same form again, with the session as it was.
        Err(LoginError::Busy(_)) => return password_again(&state, lang, loaded, user_id, true).await,
        Err(e) => return Err(login_error(e)),
    };
    metrics::counter!("noegle_login_steps_total", "step" => "password", "result" => "accepted").increment(1);
    let (sub, user_id) = (user.sub, user.user_id.to_string());
    match login::second_factor(ctx, &mut rand::rngs::OsRng, &sub).await {
        Ok(SecondFactor::Choose) => advance(&state, loaded, Step::Choose { sub, user_id }).await,
        Ok(SecondFactor::Key(challenge)) => advance(&state, loaded, Step::Key { sub, user_id, challenge }).await,
        Err(LoginError::NoKeyCard) => {
            let data = LoginSession { step: Step::Password, ..loaded.data };
            render_step(&state, lang, &data, StatusCode::FORBIDDEN, Some(lang.texts().no_key_card), "").await
        }
        Err(e) => Err(login_error(e)),
    }
}

/// The password form again after a wrong password (401) or a busy server (503 with `Retry-After`), with the
/// user ID kept when it is of a sane length.
async fn password_again(
    state: &AppState,
    lang: Lang,
    loaded: Loaded,
    user_id: &str,
    busy: bool,
) -> Result<Response, AppError> {
    let result = if busy { "busy" } else { "rejected" };
    metrics::counter!("noegle_login_steps_total", "step" => "password", "result" => result).increment(1);
    let shown = if user_id.chars().count() <= 64 { user_id } else { "" };
    let data = LoginSession { step: Step::Password, ..loaded.data };
    let t = lang.texts();
    if !busy {
        return render_step(state, lang, &data, StatusCode::UNAUTHORIZED, Some(t.rejected), shown).await;
    }
    let mut page = render_step(state, lang, &data, StatusCode::SERVICE_UNAVAILABLE, Some(t.busy), shown).await?;
    page.headers_mut().insert(header::RETRY_AFTER, crate::passwords::retry_after());
    Ok(page)
}

/// `POST /login/key`: step 2 with the key card; success returns to the service provider with a code.
pub async fn key(
    State(state): State<AppState>,
    from: ClientAddr,
    headers: HeaderMap,
    form: Form,
) -> Result<Response, AppError> {
    let loaded = session::load_checked(&state, &headers, form.get("csrf")).await?;
    let lang = lang_of(&state, &headers);
    let Step::Key { sub, challenge, .. } = &loaded.data.step else {
        return Ok(Redirect::to("/login").into_response());
    };
    let (key, ctx) = (form.required("key")?, state.ctx(Some(from.as_str())));
    let accepted = match login::check_key(ctx, &mut rand::rngs::OsRng, &state.pepper, sub, challenge, key).await {
        Ok(a) => a,
        Err(LoginError::Rejected) => {
            metrics::counter!("noegle_login_steps_total", "step" => "key", "result" => "rejected").increment(1);
            let t = lang.texts();
            return render_step(&state, lang, &loaded.data, StatusCode::UNAUTHORIZED, Some(t.key_rejected), "").await;
        }
        Err(e) => return Err(login_error(e)),
    };
    metrics::counter!("noegle_login_steps_total", "step" => "key", "result" => "accepted").increment(1);
    let user = accepted.user;
    if let Some(card) = accepted.new_card {
        print_new_card(&state, &user, &card)?;
    }
    metrics::counter!("noegle_logins_total", "method" => "keycard").increment(1);
    finish(&state, from.as_str(), &loaded, &user, amr_keycard()).await
}

/// Puts a key card issued because the old one ran low into the outbox, for the operator to print and send.
fn print_new_card(state: &AppState, user: &User, card: &keycard::ClearCard) -> Result<(), AppError> {
    let path = crate::keycard_pdf::write_to_outbox(&state.config.data_dir, user, card)
        .map_err(|e| AppError::Internal(format!("cannot write the new key card: {e}")))?;
    tracing::info!(user = %user.user_id, serial = %card.serial, path = %path.display(), "new key card issued: print and send it");
    Ok(())
}

/// `POST /login/cancel`: back to the service provider with `access_denied`.
pub async fn cancel(State(state): State<AppState>, headers: HeaderMap, form: Form) -> Result<Response, AppError> {
    let loaded = session::load_checked(&state, &headers, form.get("csrf")).await?;
    let cookie = session::end(&state, &loaded.id).await?;
    let target = redirect_with(
        &state,
        &loaded.data.authz,
        &[("error", "access_denied"), ("error_description", "the user cancelled the log-in")],
    );
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to(&target)).into_response())
}

/// The client's redirect URI with `params`, its `state` and our `iss` (RFC 9207) appended.
pub fn redirect_with(state: &AppState, authz: &PendingAuthorization, params: &[(&str, &str)]) -> String {
    let Ok(mut url) = url::Url::parse(&authz.redirect_uri) else {
        return authz.redirect_uri.clone();
    };
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in params {
            q.append_pair(k, v);
        }
        if let Some(s) = &authz.state {
            q.append_pair("state", s);
        }
        q.append_pair("iss", &state.config.public_url);
    }
    url.to_string()
}

fn login_error(e: LoginError) -> AppError {
    match e {
        LoginError::Store(s) => s.into(),
        LoginError::Busy(_) => AppError::Busy,
        other => AppError::Internal(other.to_string()),
    }
}

/// Query of the language switch.
#[derive(serde::Deserialize)]
pub struct Back {
    back: Option<String>,
}

/// `back` if it is a path on this server, as a browser will read it: it starts with one `/`, and holds no
/// backslash, whitespace or control character — browsers drop tabs and newlines from a URL before they
/// read it, so `/\t/evil.example/` would take them to `//evil.example/`, another site.
fn local_path(back: &str) -> Option<&str> {
    let plain = back.chars().all(|c| !c.is_control() && !c.is_whitespace() && c != '\\');
    let base = url::Url::parse("http://local.invalid/").ok()?;
    let stays = base.join(back).ok().is_some_and(|u| u.origin() == base.origin());
    (plain && stays && back.starts_with('/') && !back.starts_with("//")).then_some(back)
}

/// `GET /lang/{da|en}?back=/path`: remembers the choice and goes back (only to a path on this server).
pub async fn switch_language(Path(code): Path<String>, Query(q): Query<Back>) -> Result<Response, AppError> {
    let lang = Lang::parse(&code).ok_or(AppError::NotFound)?;
    let back = q.back.as_deref().and_then(local_path);
    let cookie = format!("{LANG_COOKIE}={}; Path=/; SameSite=Lax; Max-Age=31536000", lang.code());
    let cookie = HeaderValue::from_str(&cookie).map_err(|e| AppError::Internal(e.to_string()))?;
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to(back.unwrap_or("/login"))).into_response())
}

/// Renders an [`AppError`] as a page in `lang`.
pub fn error_page(e: &AppError, lang: Lang, back: &str) -> Response {
    let (heading, message, detail) = e.user_message(lang.texts());
    let html = render(&MessagePage { f: Frame::new(lang, back), heading, message, detail }).unwrap_or_default();
    (e.status(), Html(html)).into_response()
}

#[cfg(test)]
mod tests {
    use super::local_path;

    #[test]
    fn the_language_switch_returns_only_to_paths_on_this_server() {
        for ok in ["/login", "/app/", "/demo/login?x=1", "/a/b%2F"] {
            assert_eq!(local_path(ok), Some(ok), "{ok}");
        }
        for bad in [
            "//evil.example/",
            "/\t/evil.example/",
            "/\n/evil.example/",
            "/\r/evil.example/",
            "/\0/x",
            "/\\evil.example",
            "\\/evil.example",
            "https://evil.example/",
            "evil.example",
            "/ /evil.example",
            "/\u{2028}/evil.example",
            "",
        ] {
            assert_eq!(local_path(bad), None, "{bad:?}");
        }
    }
}
