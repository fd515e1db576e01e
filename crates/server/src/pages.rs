//! The log-in box (R-LB1 key-card path, R-LB2, R-LB4): step 1 user ID and password, step 2 a key from the key
//! card, then back to the service provider with a code. Each step's answer keeps the stored state intact on
//! failure and rotates the session id on success.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use noegle_core::Ctx;
use noegle_core::keycard;
use noegle_core::login_box::{self, Event, KeyNotices, LoginBox, LoginBoxError, Outcome, Refusal};
use noegle_core::oauth::ErrorCode;
use noegle_core::oidc::PendingAuthorization;
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

/// The Content-Security-Policy with `form-action` set to `form_action`: nothing but our own styles, no
/// scripts, no framing by anyone.
pub fn csp(form_action: &str) -> String {
    format!(
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action {form_action}; \
         frame-ancestors 'none'; base-uri 'none'"
    )
}

/// [`csp`] for the one page that runs a script: the waiting page's own `/static/waiting.js`, which asks
/// `/login/state` (nothing else, from nowhere else).
pub fn csp_with_own_scripts(form_action: &str) -> String {
    format!("{}; script-src 'self'; connect-src 'self'", csp(form_action))
}

/// A page whose forms may post to us and, after a redirect, land at the service provider's redirect URI
/// (CSP `form-action` is checked against redirect targets too); `scripts`: it runs our own script.
fn page(status: StatusCode, html: String, authz: &PendingAuthorization, scripts: bool) -> Response {
    let mut response = (status, Html(html)).into_response();
    let origin = url::Url::parse(&authz.redirect_uri).map(|u| u.origin().ascii_serialization()).unwrap_or_default();
    let form_action = format!("'self' {origin}");
    let csp = if scripts { csp_with_own_scripts(&form_action) } else { csp(&form_action) };
    if let Ok(v) = HeaderValue::from_str(&csp) {
        response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
    }
    response
}

async fn render_step(
    ctx: Ctx<'_>,
    lang: Lang,
    s: &LoginSession,
    status: StatusCode,
    error: Option<&'static str>,
    typed_user_id: &str,
) -> Result<Response, AppError> {
    let (f, client_name, csrf) = (Frame::new(lang, "/login"), s.authz.client_name.as_str(), s.csrf.as_str());
    let html = match &s.step {
        Step::Password => render(&PasswordPage { f, client_name, csrf, user_id: typed_user_id, error })?,
        Step::Choose { user_id, .. } => render(&ChoosePage { f, client_name, csrf, user_id, error })?,
        Step::Waiting { user_id, request_id, .. } => {
            let r = ctx.store.request(request_id).await?;
            let (match_code, action) = r.as_ref().map_or(("", ""), |r| (r.match_code.as_str(), r.action.as_str()));
            let live = error.is_none();
            render(&WaitingPage { f, client_name, csrf, user_id, match_code, action, live, error })?
        }
        Step::Key { sub, user_id, challenge } => {
            let notice = key_notice(lang.texts(), login_box::key_notices(ctx, sub, challenge).await?);
            let (serial, number) = (keycard::display_serial(challenge.serial.as_str()), &challenge.number);
            render(&KeyPage { f, client_name, csrf, user_id, serial, number, error, notice })?
        }
    };
    let waiting = matches!(s.step, Step::Waiting { .. }) && error.is_none();
    Ok(page(status, html, &s.authz, waiting))
}

/// The key step's notices in words: few keys left, a new card on its way.
fn key_notice(t: &Texts, n: KeyNotices) -> Option<String> {
    let mut notices = Vec::new();
    if let Some(left) = n.keys_left {
        notices.push(format!("{left} {}", t.keys_left));
    }
    if n.new_card_coming {
        notices.push(t.new_card_coming.to_string());
    }
    (!notices.is_empty()).then(|| notices.join(" "))
}

/// The status and the words of a refusal.
fn refusal_text(r: Refusal, t: &'static Texts) -> (StatusCode, &'static str) {
    match r {
        Refusal::WrongPassword => (StatusCode::UNAUTHORIZED, t.rejected),
        Refusal::Busy => (StatusCode::SERVICE_UNAVAILABLE, t.busy),
        Refusal::NoKeyCard => (StatusCode::FORBIDDEN, t.no_key_card),
        Refusal::KeyRejected => (StatusCode::UNAUTHORIZED, t.key_rejected),
        Refusal::Paused => (StatusCode::TOO_MANY_REQUESTS, t.paused),
        Refusal::Blocked => (StatusCode::FORBIDDEN, t.rejected),
        Refusal::RequestRejected => (StatusCode::OK, t.request_rejected),
        Refusal::RequestExpired => (StatusCode::OK, t.request_expired),
    }
}

/// Whether the log-in box still waits for the key app (`GET /login/state`).
#[derive(serde::Serialize)]
struct WaitingState {
    waiting: bool,
}

/// `GET /login/state`: whether the log-in box still waits for the key app (`{"waiting": true}`); the waiting
/// page asks, and loads `/login` once the answer is no. It changes nothing.
pub async fn waiting_state(
    State(state): State<AppState>,
    from: ClientAddr,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let waiting = match session::load(&state, &headers).await?.map(|l| l.data.step) {
        Some(step) => login_box::still_waiting(state.ctx(Some(from.as_str())), &step).await?,
        None => false,
    };
    Ok(axum::Json(WaitingState { waiting }).into_response())
}

fn lang_of(state: &AppState, headers: &HeaderMap) -> Lang {
    Lang::negotiate(headers, state.default_lang())
}

/// `GET /login`: the current step. While waiting for the key app it follows the request: an approval
/// finishes the log-in, a rejection or expiry is said plainly with "Send igen" and the key card.
pub async fn show(State(state): State<AppState>, from: ClientAddr, headers: HeaderMap) -> Result<Response, AppError> {
    let loaded = session::load(&state, &headers).await?.ok_or(AppError::NoAuthorization)?;
    drive(&state, &from, &headers, loaded, Event::Show).await
}

/// Moves the log-in box on `event` from the session's step and answers the outcome.
async fn drive(
    state: &AppState,
    from: &ClientAddr,
    headers: &HeaderMap,
    loaded: Loaded,
    event: Event<'_>,
) -> Result<Response, AppError> {
    let ctx = state.ctx(Some(from.as_str()));
    let b = LoginBox { ctx, passwords: state.passwords.as_ref(), pepper: &state.pepper };
    let (authz, step) = (&loaded.data.authz, &loaded.data.step);
    let outcome = login_box::next(b, &mut rand::rngs::OsRng, authz, step, event).await.map_err(box_error)?;
    count(&event, &outcome);
    match outcome {
        Outcome::Advance { step, notify } => {
            if let Some(sub) = notify {
                state.notify(&sub, crate::live::AppEvent::Request);
            }
            advance(state, loaded, step).await
        }
        Outcome::Show { step, refusal, user_id } => {
            let data = LoginSession { step, ..loaded.data };
            shown(ctx, lang_of(state, headers), &data, refusal, &user_id).await
        }
        Outcome::Done { user, amr, new_card } => {
            if let Some(card) = new_card {
                print_new_card(state, &user, &card)?;
            }
            finish(state, from.as_str(), &loaded, &user, amr).await
        }
        Outcome::Elsewhere => Ok(Redirect::to("/login").into_response()),
    }
}

/// A step shown with what its refusal says (503 with `Retry-After` when the password could not be checked).
async fn shown(
    ctx: Ctx<'_>,
    lang: Lang,
    data: &LoginSession,
    refusal: Option<Refusal>,
    user_id: &str,
) -> Result<Response, AppError> {
    let (status, text) = refusal.map_or((StatusCode::OK, None), |r| {
        let (status, text) = refusal_text(r, lang.texts());
        (status, Some(text))
    });
    let mut page = render_step(ctx, lang, data, status, text, user_id).await?;
    if refusal == Some(Refusal::Busy) {
        page.headers_mut().insert(header::RETRY_AFTER, crate::passwords::retry_after());
    }
    Ok(page)
}

/// Counts the password and key steps' results and the completed log-ins.
fn count(event: &Event<'_>, outcome: &Outcome) {
    let refusal = match outcome {
        Outcome::Show { refusal, .. } => *refusal,
        _ => None,
    };
    let step = match event {
        Event::Password { .. } => "password",
        Event::Key(_) => "key",
        _ => "",
    };
    if !step.is_empty() && *outcome != Outcome::Elsewhere {
        let result = match refusal {
            Some(Refusal::Busy) => "busy",
            Some(Refusal::WrongPassword | Refusal::KeyRejected) => "rejected",
            _ => "accepted",
        };
        metrics::counter!("noegle_login_steps_total", "step" => step, "result" => result).increment(1);
    }
    if let Outcome::Done { .. } = outcome {
        let method = if step == "key" { "keycard" } else { "app" };
        metrics::counter!("noegle_logins_total", "method" => method).increment(1);
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
    drive(&state, &from, &headers, loaded, Event::SendToApp).await
}

/// `POST /login/keycard`: "Skift til nøglekort" — ends a pending request and asks for a key instead.
pub async fn switch_to_keycard(
    State(state): State<AppState>,
    from: ClientAddr,
    headers: HeaderMap,
    form: Form,
) -> Result<Response, AppError> {
    let loaded = session::load_checked(&state, &headers, form.get("csrf")).await?;
    drive(&state, &from, &headers, loaded, Event::SwitchToKeyCard).await
}

/// `POST /login/password`: step 1.
pub async fn password(
    State(state): State<AppState>,
    from: ClientAddr,
    headers: HeaderMap,
    form: Form,
) -> Result<Response, AppError> {
    let loaded = session::load_checked(&state, &headers, form.get("csrf")).await?;
    let event = Event::Password { user_id: form.required("user_id")?, password: form.required("password")? };
    drive(&state, &from, &headers, loaded, event).await
}

/// `POST /login/key`: step 2 with the key card; success returns to the service provider with a code.
pub async fn key(
    State(state): State<AppState>,
    from: ClientAddr,
    headers: HeaderMap,
    form: Form,
) -> Result<Response, AppError> {
    let loaded = session::load_checked(&state, &headers, form.get("csrf")).await?;
    // Only the key step needs the key; any other step is shown again.
    let key = if matches!(loaded.data.step, Step::Key { .. }) { form.required("key")? } else { "" };
    drive(&state, &from, &headers, loaded, Event::Key(key)).await
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
    let denied = ErrorCode::AccessDenied.as_str();
    let target = redirect_with(
        &state,
        &loaded.data.authz,
        &[("error", denied), ("error_description", "the user cancelled the log-in")],
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

fn box_error(e: LoginBoxError) -> AppError {
    match e {
        LoginBoxError::Store(s) => s.into(),
        LoginBoxError::Busy(_) => AppError::Busy,
        LoginBoxError::Unexpected(why) => AppError::Internal(why),
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
