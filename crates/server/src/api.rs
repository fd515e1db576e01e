//! The key-app API under `/api/app/v1/` (JSON). Activation: a password log-in gives a ticket and the key asked
//! for; the key starts a pending device; after the wait a second log-in and key, signed by the device,
//! activate it. Every call after the first stage is signed (see `noegle_proto::signing`).

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, OriginalUri, Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Json, Response};
use noegle_core::activation::{self, ActivationError, NewDevice};
use noegle_core::appcode::UnlockToken;
use noegle_core::device::{self, Device, DeviceAuthError, DeviceStatus};
use noegle_core::login::{self, Challenge, LoginError};
use noegle_core::secret::{random_token, token_digest};
use noegle_proto::signing::{HEADER_DEVICE, HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP, SignedRequest};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::state::AppState;

/// Seconds a log-in ticket lives.
const TICKET_SECS: i64 = 300;

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

/// Parses a JSON body strictly (unknown fields refused).
pub(crate) fn parse<T: DeserializeOwned>(headers: &HeaderMap, body: &[u8]) -> Result<T, ApiError> {
    let json_type = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(';').next().is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json")));
    if !json_type {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send application/json",
        ));
    }
    serde_json::from_slice(body).map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "malformed", e.to_string()))
}

/// Checks the signature headers of a request from a device in one of `allowed` states.
pub(crate) async fn signed(
    state: &AppState,
    method: &Method,
    uri: &OriginalUri,
    headers: &HeaderMap,
    body: &[u8],
    allowed: &[DeviceStatus],
) -> Result<Device, ApiError> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| ApiError::from(DeviceAuthError::Unsigned(format!("the {name} header is missing"))))
    };
    let timestamp = header(HEADER_TIMESTAMP)?
        .parse::<i64>()
        .map_err(|_| ApiError::from(DeviceAuthError::Unsigned("the timestamp is not a number".into())))?;
    let path = uri.0.path_and_query().map_or(uri.0.path(), |p| p.as_str());
    let req = SignedRequest {
        method: method.as_str(),
        path_and_query: path,
        device_id: header(HEADER_DEVICE)?,
        timestamp,
        nonce: header(HEADER_NONCE)?,
        body,
    };
    Ok(device::authenticate(state.ctx(None), &req, header(HEADER_SIGNATURE)?, allowed).await?)
}

#[derive(Serialize, Deserialize)]
struct Ticket {
    sub: String,
    challenge: Challenge,
}

/// `GET /api/app/v1/time`: the server's clock, which signed requests must be within 60 s of.
pub async fn time(State(state): State<AppState>) -> Json<Value> {
    Json(json!({ "now": state.now() }))
}

/// `{ "user_id", "password" }`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    user_id: String,
    password: String,
}

/// `POST /api/app/v1/login`: user ID and password; answers a ticket and the key-card key to give next.
pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let b: LoginBody = parse(&headers, &body)?;
    let source = peer.ip().to_string();
    let ctx = state.ctx(Some(&source));
    let user = login::check_password(ctx, state.passwords.as_ref(), &b.user_id, &b.password).await?;
    let challenge = login::choose_challenge(ctx, &mut rand::rngs::OsRng, &user.sub).await?;
    let ticket = random_token(&mut rand::rngs::OsRng, 32);
    let data =
        serde_json::to_string(&Ticket { sub: user.sub, challenge: challenge.clone() }).map_err(ApiError::internal)?;
    state.store.put_session(&format!("t:{}", token_digest(&ticket)), &data, ctx.now.plus(TICKET_SECS)).await?;
    Ok(Json(json!({
        "ticket": ticket,
        "expires_in": TICKET_SECS,
        "key_card": { "serial": challenge.serial, "key_number": challenge.number },
    }))
    .into_response())
}

/// Takes a ticket: it works once.
async fn take_ticket(state: &AppState, ticket: &str) -> Result<Ticket, ApiError> {
    let id = format!("t:{}", token_digest(ticket));
    let expired = || {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "ticket_expired",
            "log in again: the ticket is unknown, used or expired",
        )
    };
    let data = state.store.take_session(&id, state.now()).await?.ok_or_else(expired)?;
    serde_json::from_str(&data).map_err(|_| expired())
}

/// First activation stage.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StartBody {
    ticket: String,
    key: String,
    public_key: String,
    platform: String,
    os_version: String,
    name: String,
}

fn device_json(state: &AppState, d: &Device) -> Value {
    let now = state.now();
    json!({
        "device_id": d.device_id,
        "serial": d.serial,
        "name": d.name,
        "status": d.status,
        "ready_at": d.ready_at,
        "expires_at": d.expires_at,
        "ready": d.status == DeviceStatus::Pending && now >= d.ready_at && now < d.expires_at,
        "now": now,
    })
}

/// `POST /api/app/v1/activation`: ticket + key + the device's public key and platform → a pending device.
pub async fn start_activation(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let b: StartBody = parse(&headers, &body)?;
    let ticket = take_ticket(&state, &b.ticket).await?;
    let source = peer.ip().to_string();
    let new = NewDevice { public_key: b.public_key, platform: b.platform, os_version: b.os_version, name: b.name };
    let policy = state.config.activation_policy();
    let d = activation::start(
        state.ctx(Some(&source)),
        &mut rand::rngs::OsRng,
        &state.pepper,
        &policy,
        &ticket.sub,
        &ticket.challenge,
        &b.key,
        &new,
    )
    .await?;
    state.notify(&d.sub, crate::push::PushEvent::PendingActivation);
    state.webpush.announce_ready(d.device_id.clone(), d.ready_at);
    Ok((StatusCode::CREATED, Json(device_json(&state, &d))).into_response())
}

/// Second activation stage.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CompleteBody {
    ticket: String,
    key: String,
}

/// `POST /api/app/v1/activation/complete` (signed by the pending device): ticket + key after the wait.
pub async fn complete_activation(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    uri: OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let device = signed(&state, &method, &uri, &headers, &body, &[DeviceStatus::Pending]).await?;
    let b: CompleteBody = parse(&headers, &body)?;
    let ticket = take_ticket(&state, &b.ticket).await?;
    let source = peer.ip().to_string();
    let ctx = state.ctx(Some(&source));
    let d = activation::complete(
        ctx,
        &mut rand::rngs::OsRng,
        &state.pepper,
        &device,
        &ticket.sub,
        &ticket.challenge,
        &b.key,
    )
    .await?;
    Ok(Json(device_json(&state, &d)).into_response())
}

/// `GET /api/app/v1/device` (signed, pending or active): the device's own state; `ready` tells a pending
/// device that the wait is over.
pub async fn device_status(
    State(state): State<AppState>,
    method: Method,
    uri: OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let d = signed(&state, &method, &uri, &headers, &body, &[DeviceStatus::Pending, DeviceStatus::Active]).await?;
    Ok(Json(device_json(&state, &d)).into_response())
}

/// `GET /api/app/v1/activations` (signed, active): the user's pending activations and the devices cooling off
/// after "Glemt kode" (X-3, `reason` `activation` or `code_reset`), to cancel if unknown.
pub async fn pending_activations(
    State(state): State<AppState>,
    method: Method,
    uri: OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let me = signed(&state, &method, &uri, &headers, &body, &[DeviceStatus::Active]).await?;
    let now = state.now();
    let pending: Vec<Value> = state
        .store
        .devices_of(&me.sub)
        .await?
        .iter()
        .filter(|d| d.pending_and_alive(now) || d.cooling_off(now))
        .map(|d| {
            let mut v = device_json(&state, d);
            v["reason"] = json!(if d.status == DeviceStatus::Pending { "activation" } else { "code_reset" });
            v
        })
        .collect();
    Ok(Json(json!({ "pending": pending })).into_response())
}

/// `POST /api/app/v1/activations/{device_id}/cancel` (signed, active): ends another device's pending activation,
/// or deregisters a device cooling off after a code reset.
pub async fn cancel_activation(
    State(state): State<AppState>,
    Path(device_id): Path<String>,
    method: Method,
    uri: OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let me = signed(&state, &method, &uri, &headers, &body, &[DeviceStatus::Active]).await?;
    let not_found = || ApiError::new(StatusCode::NOT_FOUND, "not_found", "no pending activation with that id");
    let target = state.store.device(&device_id).await?.filter(|d| d.sub == me.sub).ok_or_else(not_found)?;
    if target.cooling_off(state.now()) && target.device_id != me.device_id {
        // A code reset the user does not know of: the device is taken off altogether.
        noegle_core::device::revoke(state.ctx(None), &target, &format!("code reset cancelled by {}", me.serial))
            .await?;
        return Ok(Json(json!({ "device_id": target.device_id, "status": "revoked" })).into_response());
    }
    if !state.store.set_device_status(&target.device_id, DeviceStatus::Pending, DeviceStatus::Cancelled).await? {
        return Err(not_found());
    }
    let kind = noegle_core::audit::AuditKind::DeviceCancelled;
    state.ctx(None).audit_device(kind, &target, json!({ "by": me.serial })).await?;
    Ok(Json(json!({ "device_id": target.device_id, "status": "cancelled" })).into_response())
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

/// Header carrying the app session of an unlocked app.
pub const HEADER_APP_SESSION: &str = "noegle-app-session";

/// Requires an unlocked app: a live app session of `device` in the [`HEADER_APP_SESSION`] header. Answers how
/// the app was unlocked.
pub(crate) async fn unlocked(
    state: &AppState,
    headers: &HeaderMap,
    device: &Device,
) -> Result<noegle_core::appcode::Unlock, ApiError> {
    let locked = || ApiError::new(StatusCode::UNAUTHORIZED, "locked", "unlock the key app with its code first");
    let token = headers.get(HEADER_APP_SESSION).and_then(|v| v.to_str().ok()).ok_or_else(locked)?;
    noegle_core::appcode::session_unlock(state.ctx(None), device, token).await?.ok_or_else(locked)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OpaqueMessage {
    message: String,
}

/// `POST /api/app/v1/app-code/register/start` (signed, active): the first OPAQUE registration message.
pub async fn register_code_start(
    State(state): State<AppState>,
    method: Method,
    uri: OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let me = signed(&state, &method, &uri, &headers, &body, &[DeviceStatus::Active]).await?;
    let b: OpaqueMessage = parse(&headers, &body)?;
    let response = noegle_core::appcode::register_start(&state.opaque, &me, &b.message)?;
    Ok(Json(json!({ "message": response })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegisterFinish {
    message: String,
    #[serde(default)]
    reset_token: Option<String>,
}

/// `POST /api/app/v1/app-code/register/finish` (signed, active): stores the code's record and answers the
/// device's new unlock token (which its logins name). Allowed for the first code, to an unlocked app (change
/// code), or with a forgot-code reset token.
pub async fn register_code_finish(
    State(state): State<AppState>,
    method: Method,
    uri: OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let me = signed(&state, &method, &uri, &headers, &body, &[DeviceStatus::Active]).await?;
    let b: RegisterFinish = parse(&headers, &body)?;
    let ctx = state.ctx(None);
    let first = state.store.app_code(&me.device_id).await?.is_none();
    let allowed = first
        || match &b.reset_token {
            Some(t) => noegle_core::appcode::take_reset(ctx, &me, t).await?,
            None => unlocked(&state, &headers, &me).await.is_ok(),
        };
    if !allowed {
        return Err(noegle_core::appcode::AppCodeError::NotAllowed.into());
    }
    noegle_core::appcode::register_finish(ctx, &me, &b.message).await?;
    let unlock_token = noegle_core::appcode::issue_unlock_token(ctx, &mut rand::rngs::OsRng, &me).await?;
    Ok(Json(json!({ "device_id": me.device_id, "code_set": true, "unlock_token": unlock_token })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CodeLogin {
    device_id: String,
    message: String,
    /// The unlock token the device got when it registered its code.
    #[serde(default)]
    unlock_token: Option<String>,
}

/// The active device a code login names, if the caller shows its unlock token (with what the token said);
/// otherwise answered as an unknown device (nothing is counted against it).
async fn code_login_device(state: &AppState, b: &CodeLogin) -> Result<(Device, UnlockToken), ApiError> {
    let device = code_device(state, &b.device_id).await?;
    match noegle_core::appcode::check_unlock_token(state.ctx(None), &device, b.unlock_token.as_deref()).await? {
        UnlockToken::Refused => Err(DeviceAuthError::UnknownDevice.into()),
        token => Ok((device, token)),
    }
}

pub(crate) async fn code_device(state: &AppState, device_id: &str) -> Result<Device, ApiError> {
    state
        .store
        .device(device_id)
        .await?
        .filter(|d| d.status == DeviceStatus::Active)
        .ok_or_else(|| ApiError::from(DeviceAuthError::UnknownDevice))
}

/// `POST /api/app/v1/app-code/login/start`: unlocking, step 1 (not signed: the device key is sealed under the
/// code, but it names the device's unlock token). Counts as a wrong code until step 2 succeeds.
pub async fn code_login_start(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let b: CodeLogin = parse(&headers, &body)?;
    let (device, _) = code_login_device(&state, &b).await?;
    let (response, remaining) =
        noegle_core::appcode::login_start(state.ctx(None), &mut rand::rngs::OsRng, &state.opaque, &device, &b.message)
            .await?;
    Ok(Json(json!({ "message": response, "remaining_if_wrong": remaining })).into_response())
}

/// `POST /api/app/v1/app-code/login/finish`: unlocking, step 2; opens an app session of at most 5 minutes.
pub async fn code_login_finish(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let b: CodeLogin = parse(&headers, &body)?;
    let (device, unlock_token) = code_login_device(&state, &b).await?;
    let ctx = state.ctx(None);
    let (token, secs) = noegle_core::appcode::login_finish(ctx, &mut rand::rngs::OsRng, &device, &b.message).await?;
    let mut answer = json!({ "app_session": token, "expires_in": secs });
    // A device set up before unlock tokens gets its own now.
    if unlock_token == UnlockToken::NoneYet {
        answer["unlock_token"] =
            json!(noegle_core::appcode::issue_unlock_token(ctx, &mut rand::rngs::OsRng, &device).await?);
    }
    Ok(Json(answer).into_response())
}

/// `DELETE /api/app/v1/app-code/session`: the app locked; its session ends.
pub async fn code_lock(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    if let Some(t) = headers.get(HEADER_APP_SESSION).and_then(|v| v.to_str().ok()) {
        noegle_core::appcode::end_session(state.ctx(None), t).await?;
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Forgot {
    device_id: String,
    ticket: String,
    key: String,
    public_key: String,
}

/// `POST /api/app/v1/app-code/forgot` ("Glemt kode", R-APP8): user ID + password (the ticket) and a key-card
/// key for this device's user; the device gets a new key (the old one was sealed under the forgotten code)
/// and a reset token for one new code. The device stays activated but approves nothing until the activation
/// wait is over (`ready_at`); the user's other devices are told and may cancel it.
pub async fn forgot_code(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let b: Forgot = parse(&headers, &body)?;
    let device = code_device(&state, &b.device_id).await?;
    let public_key = noegle_core::device::parse_public_key(&b.public_key).ok_or_else(|| {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", "public_key must be a base64url SEC1 P-256 key")
    })?;
    let ticket = take_ticket(&state, &b.ticket).await?;
    if ticket.sub != device.sub {
        return Err(LoginError::Rejected.into());
    }
    let source = peer.ip().to_string();
    let ctx = state.ctx(Some(&source));
    login::check_key(ctx, &mut rand::rngs::OsRng, &state.pepper, &ticket.sub, &ticket.challenge, &b.key).await?;
    let wait = state.config.activation_wait_secs;
    let token = noegle_core::appcode::reset_code(ctx, &mut rand::rngs::OsRng, &device, &public_key, wait)
        .await?
        .ok_or_else(|| ApiError::from(DeviceAuthError::UnknownDevice))?;
    // The user's other devices hear of it and may cancel it.
    state.notify(&device.sub, crate::push::PushEvent::PendingActivation);
    let answer = json!({ "reset_token": token, "expires_in": 300, "ready_at": ctx.now.plus(wait), "now": ctx.now });
    Ok(Json(answer).into_response())
}

/// `GET /api/app/v1/requests` (signed, active): the user's pending requests, with the service, the action and
/// the time — and the match code only when the policy is `show` (with `type` the user types it from the
/// log-in box).
pub async fn pending_requests(
    State(state): State<AppState>,
    method: Method,
    uri: OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let me = signed(&state, &method, &uri, &headers, &body, &[DeviceStatus::Active]).await?;
    unlocked(&state, &headers, &me).await?;
    let now = state.now();
    if me.cooling_off(now) {
        return Err(noegle_core::request::RequestError::CoolingOff { until: me.ready_at }.into());
    }
    let show = state.config.match_policy() == noegle_core::request::MatchPolicy::Show;
    let requests: Vec<Value> = state
        .store
        .recent_requests(&me.sub, now.plus(-noegle_core::request::REQUEST_TTL_SECS))
        .await?
        .into_iter()
        .filter(|r| r.state == noegle_core::request::RequestState::Pending && now < r.expires_at)
        .map(|r| {
            let mut v = json!({
                "request_id": r.request_id, "client_id": r.client_id, "client_name": r.client_name,
                "action": r.action, "created_at": r.created_at, "expires_at": r.expires_at, "nonce": r.nonce,
                "match_code_required": state.config.match_policy() == noegle_core::request::MatchPolicy::Type,
            });
            if show {
                v["match_code"] = json!(r.match_code);
            }
            v
        })
        .collect();
    Ok(Json(json!({ "requests": requests })).into_response())
}

/// `POST /api/app/v1/requests/{id}/decision` (signed, active): approve or reject, once.
pub async fn decide_request(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(request_id): Path<String>,
    method: Method,
    uri: OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let me = signed(&state, &method, &uri, &headers, &body, &[DeviceStatus::Active]).await?;
    let how = unlocked(&state, &headers, &me).await?;
    let d: noegle_core::request::Decision = parse(&headers, &body)?;
    let source = peer.ip().to_string();
    let policy = state.config.match_policy();
    let r = noegle_core::request::decide(state.ctx(Some(&source)), &me, how, &request_id, &d, policy).await?;
    Ok(Json(json!({ "request_id": r.request_id, "state": r.state })).into_response())
}

/// `DELETE /api/app/v1/device` (signed): deregisters this device (R-APP6); the app then deletes its data.
pub async fn deregister(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    uri: OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let me = signed(&state, &method, &uri, &headers, &body, &[DeviceStatus::Pending, DeviceStatus::Active]).await?;
    let source = peer.ip().to_string();
    noegle_core::device::revoke(state.ctx(Some(&source)), &me, "deregistered by the user").await?;
    Ok(Json(json!({ "device_id": me.device_id, "status": "revoked" })).into_response())
}
