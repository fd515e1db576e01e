//! The app code (R-APP4, R-APP8, R-APP9) by OPAQUE: choosing and changing it, unlocking with it, locking,
//! and "Glemt kode".

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Json, Response};
use noegle_core::Ctx;
use noegle_core::appcode::{self, CodeAuthority, UnlockToken};
use noegle_core::device::{Device, DeviceAuthError};
use serde::Deserialize;
use serde_json::{Value, json};

use super::ApiError;
use super::extract::{Active, HEADER_APP_SESSION, Signed, StrictJson, active_device, take_ticket};
use crate::client_addr::ClientAddr;
use crate::live::AppEvent;
use crate::state::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OpaqueMessage {
    message: String,
}

/// `POST /api/app/v1/app-code/register/start` (signed, active): the first OPAQUE registration message.
pub async fn register_start(State(state): State<AppState>, call: Signed<Active>) -> Result<Json<Value>, ApiError> {
    let b: OpaqueMessage = call.json()?;
    let response = appcode::register_start(&state.opaque, &call.device, &b.message)?;
    Ok(Json(json!({ "message": response })))
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
pub async fn register_finish(State(state): State<AppState>, call: Signed<Active>) -> Result<Json<Value>, ApiError> {
    let b: RegisterFinish = call.json()?;
    let authority = CodeAuthority { app_session: call.app_session(), reset_token: b.reset_token.as_deref() };
    let me = &call.device;
    let unlock_token = appcode::set_code(call.ctx(&state), &mut rand::rngs::OsRng, me, &b.message, authority).await?;
    Ok(Json(json!({ "device_id": me.device_id, "code_set": true, "unlock_token": unlock_token })))
}

/// The body of both unlocking steps.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeLogin {
    device_id: String,
    message: String,
    /// The unlock token the device got when it registered its code.
    #[serde(default)]
    unlock_token: Option<String>,
}

/// The active device a code login names, if the caller shows its unlock token (with what the token said);
/// otherwise answered as an unknown device (nothing is counted against it).
async fn code_login_device(ctx: Ctx<'_>, b: &CodeLogin) -> Result<(Device, UnlockToken), ApiError> {
    let device = active_device(ctx, &b.device_id).await?;
    match appcode::check_unlock_token(ctx, &device, b.unlock_token.as_deref()).await? {
        UnlockToken::Refused => Err(DeviceAuthError::UnknownDevice.into()),
        token => Ok((device, token)),
    }
}

/// `POST /api/app/v1/app-code/login/start`: unlocking, step 1 (not signed: the device key is sealed under the
/// code, but it names the device's unlock token). Counts as a wrong code until step 2 succeeds.
pub async fn login_start(
    State(state): State<AppState>,
    from: ClientAddr,
    StrictJson(b): StrictJson<CodeLogin>,
) -> Result<Json<Value>, ApiError> {
    let ctx = state.ctx(Some(from.as_str()));
    let (device, _) = code_login_device(ctx, &b).await?;
    let (response, remaining) =
        appcode::login_start(ctx, &mut rand::rngs::OsRng, &state.opaque, &device, &b.message).await?;
    Ok(Json(json!({ "message": response, "remaining_if_wrong": remaining })))
}

/// `POST /api/app/v1/app-code/login/finish`: unlocking, step 2; opens an app session of at most 5 minutes.
pub async fn login_finish(
    State(state): State<AppState>,
    from: ClientAddr,
    StrictJson(b): StrictJson<CodeLogin>,
) -> Result<Json<Value>, ApiError> {
    let ctx = state.ctx(Some(from.as_str()));
    let (device, unlock_token) = code_login_device(ctx, &b).await?;
    let (token, secs) = appcode::login_finish(ctx, &mut rand::rngs::OsRng, &device, &b.message).await?;
    let mut answer = json!({ "app_session": token, "expires_in": secs });
    // A device set up before unlock tokens gets its own now.
    if unlock_token == UnlockToken::NoneYet {
        answer["unlock_token"] = json!(appcode::issue_unlock_token(ctx, &mut rand::rngs::OsRng, &device).await?);
    }
    Ok(Json(answer))
}

/// `DELETE /api/app/v1/app-code/session`: the app locked; its session ends.
pub async fn lock(State(state): State<AppState>, from: ClientAddr, headers: HeaderMap) -> Result<Response, ApiError> {
    if let Some(t) = headers.get(HEADER_APP_SESSION).and_then(|v| v.to_str().ok()) {
        appcode::end_session(state.ctx(Some(from.as_str())), t).await?;
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// "Glemt kode": the device, the ticket of a password log-in, the key it asked for, and the device's new key.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Forgot {
    device_id: String,
    ticket: String,
    key: String,
    public_key: String,
}

/// `POST /api/app/v1/app-code/forgot` ("Glemt kode", R-APP8): user ID + password (the ticket) and a key-card
/// key for this device's user; the device gets a new key (the old one was sealed under the forgotten code)
/// and a reset token for one new code. The device stays activated but approves nothing until the activation
/// wait is over (`ready_at`); the user's other devices are told and may cancel it.
pub async fn forgot(
    State(state): State<AppState>,
    from: ClientAddr,
    StrictJson(b): StrictJson<Forgot>,
) -> Result<Json<Value>, ApiError> {
    let (ctx, wait) = (state.ctx(Some(from.as_str())), state.config.activation_wait_secs);
    let device = active_device(ctx, &b.device_id).await?;
    let public_key = noegle_core::device::parse_public_key(&b.public_key)
        .ok_or_else(|| ApiError::invalid("public_key must be a base64url SEC1 P-256 key"))?;
    let ticket = take_ticket(ctx, &b.ticket).await?;
    let token =
        appcode::forgot_code(ctx, &mut rand::rngs::OsRng, &state.pepper, &device, &ticket, &b.key, &public_key, wait)
            .await?
            .ok_or_else(|| ApiError::from(DeviceAuthError::UnknownDevice))?;
    // The user's other devices hear of it and may cancel it.
    state.notify(&device.sub, AppEvent::PendingActivation);
    Ok(Json(json!({ "reset_token": token, "expires_in": 300, "ready_at": ctx.now.plus(wait), "now": ctx.now })))
}
