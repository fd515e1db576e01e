//! The app code (R-APP4, R-APP8, R-APP9) by OPAQUE: choosing and changing it, unlocking with it, locking,
//! and "Glemt kode".

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Json, Response};
use noegle_core::appcode::{self, CodeAuthority, UnlockToken};
use noegle_core::device::{Device, DeviceAuthError};
use noegle_core::{Ctx, DeviceId};
use noegle_proto::api::v1 as wire;

use super::ApiError;
use super::extract::{Active, HEADER_APP_SESSION, Signed, StrictJson, active_device, take_ticket};
use super::openapi::{BodyRefused, Refused, Unavailable};
use crate::client_addr::ClientAddr;
use crate::live::AppEvent;
use crate::state::AppState;

/// `POST /api/app/v1/app-code/register/start` (signed, active): the first OPAQUE registration message.
#[utoipa::path(
    post,
    path = "/api/app/v1/app-code/register/start",
    params(super::openapi::SignatureHeaders, super::openapi::AppSessionHeader),
    request_body = wire::OpaqueMessage,
    responses((status = 200, description = "OK", body = wire::OpaqueMessage), BodyRefused, Refused<401>, Unavailable)
)]
pub async fn register_start(
    State(state): State<AppState>,
    call: Signed<Active>,
) -> Result<Json<wire::OpaqueMessage>, ApiError> {
    let b: wire::OpaqueMessage = call.json()?;
    let message = appcode::register_start(&state.opaque, &call.device, &b.message)?;
    Ok(Json(wire::OpaqueMessage { message }))
}

/// `POST /api/app/v1/app-code/register/finish` (signed, active): stores the code's record and answers the
/// device's new unlock token (which its logins name). Allowed for the first code, to an unlocked app (change
/// code), or with a forgot-code reset token.
#[utoipa::path(
    post,
    path = "/api/app/v1/app-code/register/finish",
    params(super::openapi::SignatureHeaders, super::openapi::AppSessionHeader),
    request_body = wire::RegisterCode,
    responses((status = 200, description = "OK", body = wire::CodeSet), BodyRefused, Refused<401, 403>, Unavailable)
)]
pub async fn register_finish(
    State(state): State<AppState>,
    call: Signed<Active>,
) -> Result<Json<wire::CodeSet>, ApiError> {
    let b: wire::RegisterCode = call.json()?;
    let authority = CodeAuthority { app_session: call.app_session(), reset_token: b.reset_token.as_deref() };
    let me = &call.device;
    let unlock_token = appcode::set_code(call.ctx(&state), &mut rand::rngs::OsRng, me, &b.message, authority).await?;
    Ok(Json(wire::CodeSet { device_id: me.device_id.to_string(), code_set: true, unlock_token }))
}

/// The active device a code login names, if the caller shows its unlock token (with what the token said);
/// otherwise answered as an unknown device (nothing is counted against it).
async fn code_login_device(ctx: Ctx<'_>, b: &wire::CodeLogin) -> Result<(Device, UnlockToken), ApiError> {
    let device = active_device(ctx, &DeviceId::from(b.device_id.as_str())).await?;
    match appcode::check_unlock_token(ctx, &device, b.unlock_token.as_deref()).await? {
        UnlockToken::Refused => Err(DeviceAuthError::UnknownDevice.into()),
        token => Ok((device, token)),
    }
}

/// `POST /api/app/v1/app-code/login/start`: unlocking, step 1 (not signed: the device key is sealed under the
/// code, but it names the device's unlock token). Counts as a wrong code until step 2 succeeds.
#[utoipa::path(
    post,
    path = "/api/app/v1/app-code/login/start",
    request_body = wire::CodeLogin,
    responses((status = 200, description = "OK", body = wire::LoginStarted), BodyRefused, Refused<401, 403, 409, 429>, Unavailable)
)]
pub async fn login_start(
    State(state): State<AppState>,
    from: ClientAddr,
    StrictJson(b): StrictJson<wire::CodeLogin>,
) -> Result<Json<wire::LoginStarted>, ApiError> {
    let ctx = state.ctx(Some(from.as_str()));
    let (device, _) = code_login_device(ctx, &b).await?;
    let (message, remaining_if_wrong) =
        appcode::login_start(ctx, &mut rand::rngs::OsRng, &state.opaque, &device, &b.message).await?;
    Ok(Json(wire::LoginStarted { message, remaining_if_wrong }))
}

/// `POST /api/app/v1/app-code/login/finish`: unlocking, step 2; opens an app session of at most 5 minutes.
#[utoipa::path(
    post,
    path = "/api/app/v1/app-code/login/finish",
    request_body = wire::CodeLogin,
    responses((status = 200, description = "OK", body = wire::AppSession), BodyRefused, Refused<401>, Unavailable)
)]
pub async fn login_finish(
    State(state): State<AppState>,
    from: ClientAddr,
    StrictJson(b): StrictJson<wire::CodeLogin>,
) -> Result<Json<wire::AppSession>, ApiError> {
    let ctx = state.ctx(Some(from.as_str()));
    let (device, unlock_token) = code_login_device(ctx, &b).await?;
    let (app_session, expires_in) = appcode::login_finish(ctx, &mut rand::rngs::OsRng, &device, &b.message).await?;
    // A device set up before unlock tokens gets its own now.
    let unlock_token = match unlock_token {
        UnlockToken::NoneYet => Some(appcode::issue_unlock_token(ctx, &mut rand::rngs::OsRng, &device).await?),
        _ => None,
    };
    Ok(Json(wire::AppSession { app_session, expires_in, unlock_token }))
}

/// `DELETE /api/app/v1/app-code/session`: the app locked; its session ends.
#[utoipa::path(
    delete,
    path = "/api/app/v1/app-code/session",
    params(super::openapi::AppSessionHeader),
    responses((status = 204, description = "Locked"), Unavailable)
)]
pub async fn lock(State(state): State<AppState>, from: ClientAddr, headers: HeaderMap) -> Result<Response, ApiError> {
    if let Some(t) = headers.get(HEADER_APP_SESSION).and_then(|v| v.to_str().ok()) {
        appcode::end_session(state.ctx(Some(from.as_str())), t).await?;
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /api/app/v1/app-code/forgot` ("Glemt kode", R-APP8): user ID + password (the ticket) and a key-card
/// key for this device's user; the device gets a new key (the old one was sealed under the forgotten code)
/// and a reset token for one new code. The device stays activated but approves nothing until the activation
/// wait is over (`ready_at`); the user's other devices are told and may cancel it.
#[utoipa::path(
    post,
    path = "/api/app/v1/app-code/forgot",
    request_body = wire::Forgot,
    responses((status = 200, description = "OK", body = wire::CodeReset), BodyRefused, Refused<401, 422, 429>, Unavailable)
)]
pub async fn forgot(
    State(state): State<AppState>,
    from: ClientAddr,
    StrictJson(b): StrictJson<wire::Forgot>,
) -> Result<Json<wire::CodeReset>, ApiError> {
    let (ctx, wait) = (state.ctx(Some(from.as_str())), state.config.activation_wait_secs);
    let device = active_device(ctx, &DeviceId::from(b.device_id.as_str())).await?;
    let public_key = noegle_core::device::parse_public_key(&b.public_key)
        .ok_or_else(|| ApiError::invalid("public_key must be a base64url SEC1 P-256 key"))?;
    let ticket = take_ticket(ctx, &b.ticket).await?;
    let reset_token =
        appcode::forgot_code(ctx, &mut rand::rngs::OsRng, &state.pepper, &device, &ticket, &b.key, &public_key, wait)
            .await?
            .ok_or_else(|| ApiError::from(DeviceAuthError::UnknownDevice))?;
    // The user's other devices hear of it and may cancel it.
    state.notify(&device.sub, AppEvent::PendingActivation);
    let (ready_at, now) = (ctx.now.plus(wait).0, ctx.now.0);
    Ok(Json(wire::CodeReset { reset_token, expires_in: 300, ready_at, now }))
}
