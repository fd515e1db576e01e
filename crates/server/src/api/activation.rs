//! Activating a key app (R-APP1–R-APP3), its state, the user's unconfirmed devices and deregistering
//! (R-APP6).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use noegle_core::activation::{self, NewDevice, Stopped};
use noegle_core::device::RevokedBy;
use noegle_core::{device, ticket};
use serde::Deserialize;
use serde_json::{Value, json};

use super::extract::{Active, Pending, PendingOrActive, Signed, StrictJson, take_ticket};
use super::{ApiError, device_json};
use crate::client_addr::ClientAddr;
use crate::live::AppEvent;
use crate::state::AppState;

/// `{ "user_id", "password" }`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    user_id: String,
    password: String,
}

/// `POST /api/app/v1/login`: user ID and password; answers a ticket and the key-card key to give next.
pub async fn login(
    State(state): State<AppState>,
    from: ClientAddr,
    StrictJson(b): StrictJson<LoginBody>,
) -> Result<Json<Value>, ApiError> {
    let ctx = state.ctx(Some(from.as_str()));
    let (ticket, challenge) =
        ticket::issue(ctx, &mut rand::rngs::OsRng, state.passwords.as_ref(), &b.user_id, &b.password).await?;
    Ok(Json(json!({
        "ticket": ticket,
        "expires_in": ticket::TICKET_SECS,
        "key_card": { "serial": challenge.serial, "key_number": challenge.number },
    })))
}

/// First activation stage.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartBody {
    ticket: String,
    key: String,
    public_key: String,
    platform: String,
    os_version: String,
    name: String,
}

/// `POST /api/app/v1/activation`: ticket + key + the device's public key and platform → a pending device.
pub async fn start(
    State(state): State<AppState>,
    from: ClientAddr,
    StrictJson(b): StrictJson<StartBody>,
) -> Result<Response, ApiError> {
    let (ctx, policy) = (state.ctx(Some(from.as_str())), state.config.activation_policy());
    let t = take_ticket(ctx, &b.ticket).await?;
    let new = NewDevice { public_key: b.public_key, platform: b.platform, os_version: b.os_version, name: b.name };
    let rng = &mut rand::rngs::OsRng;
    let d = activation::start(ctx, rng, &state.pepper, &policy, &t.sub, &t.challenge, &b.key, &new).await?;
    state.notify(&d.sub, AppEvent::PendingActivation);
    state.webpush.announce_ready(d.device_id.clone(), d.second_login_from);
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
pub async fn complete(State(state): State<AppState>, call: Signed<Pending>) -> Result<Json<Value>, ApiError> {
    let b: CompleteBody = call.json()?;
    let ctx = call.ctx(&state);
    let t = take_ticket(ctx, &b.ticket).await?;
    let d =
        activation::complete(ctx, &mut rand::rngs::OsRng, &state.pepper, &call.device, &t.sub, &t.challenge, &b.key)
            .await?;
    Ok(Json(device_json(&state, &d)))
}

/// `GET /api/app/v1/device` (signed, pending or active): the device's own state; `ready` tells a pending
/// device that the wait is over.
pub async fn status(State(state): State<AppState>, call: Signed<PendingOrActive>) -> Json<Value> {
    Json(device_json(&state, &call.device))
}

/// `GET /api/app/v1/activations` (signed, active): the user's pending activations and the devices cooling off
/// after "Glemt kode" (X-3, `reason` `activation` or `code_reset`), to cancel if unknown.
pub async fn unconfirmed(State(state): State<AppState>, call: Signed<Active>) -> Result<Json<Value>, ApiError> {
    let listed = activation::unconfirmed(call.ctx(&state), &call.device).await?;
    let pending: Vec<Value> = listed
        .iter()
        .map(|(d, why)| {
            let mut v = device_json(&state, d);
            v["reason"] = json!(why);
            v
        })
        .collect();
    Ok(Json(json!({ "pending": pending })))
}

/// `POST /api/app/v1/activations/{device_id}/cancel` (signed, active): ends another device's pending
/// activation, or deregisters a device cooling off after a code reset.
pub async fn cancel(
    State(state): State<AppState>,
    Path(device_id): Path<String>,
    call: Signed<Active>,
) -> Result<Json<Value>, ApiError> {
    let (target, how) = activation::stop(call.ctx(&state), &call.device, &device_id)
        .await?
        .ok_or_else(|| ApiError::not_found("no pending activation with that id"))?;
    let status = match how {
        Stopped::Cancelled => "cancelled",
        Stopped::Revoked => "revoked",
    };
    Ok(Json(json!({ "device_id": target.device_id, "status": status })))
}

/// `DELETE /api/app/v1/device` (signed): deregisters this device (R-APP6); the app then deletes its data.
pub async fn deregister(State(state): State<AppState>, call: Signed<PendingOrActive>) -> Result<Json<Value>, ApiError> {
    device::revoke(call.ctx(&state), &call.device, RevokedBy::User, "deregistered by the user").await?;
    Ok(Json(json!({ "device_id": call.device.device_id, "status": "revoked" })))
}
