//! Activating a key app (R-APP1–R-APP3), its state, the user's unconfirmed devices and deregistering
//! (R-APP6).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use noegle_core::activation::{self, NewDevice, Stopped};
use noegle_core::device::RevokedBy;
use noegle_core::{DeviceId, device, ticket};
use noegle_proto::api::v1 as wire;

use super::extract::{Active, Pending, PendingOrActive, Signed, StrictJson, take_ticket};
use super::openapi::{BodyRefused, Refused, Unavailable};
use super::{ApiError, convert as to};
use crate::client_addr::ClientAddr;
use crate::live::AppEvent;
use crate::state::AppState;

/// `POST /api/app/v1/login`: user ID and password; answers a ticket and the key-card key to give next.
#[utoipa::path(
    post,
    path = "/api/app/v1/login",
    request_body = wire::Login,
    responses((status = 200, description = "OK", body = wire::Ticket), BodyRefused, Refused<401, 403, 429>, Unavailable)
)]
pub async fn login(
    State(state): State<AppState>,
    from: ClientAddr,
    StrictJson(b): StrictJson<wire::Login>,
) -> Result<Json<wire::Ticket>, ApiError> {
    let ctx = state.ctx(Some(from.as_str()));
    let (ticket, challenge) =
        ticket::issue(ctx, &mut rand::rngs::OsRng, state.passwords.as_ref(), &b.user_id, &b.password).await?;
    let key_card = wire::KeyAsked { serial: challenge.serial.into(), key_number: challenge.number };
    Ok(Json(wire::Ticket { ticket, expires_in: ticket::TICKET_SECS, key_card }))
}

/// `POST /api/app/v1/activation`: ticket + key + the device's public key and platform → a pending device.
#[utoipa::path(
    post,
    path = "/api/app/v1/activation",
    request_body = wire::StartActivation,
    responses((status = 201, description = "Created", body = wire::Device), BodyRefused, Refused<401, 409, 422>, Unavailable)
)]
pub async fn start(
    State(state): State<AppState>,
    from: ClientAddr,
    StrictJson(b): StrictJson<wire::StartActivation>,
) -> Result<Response, ApiError> {
    let (ctx, policy) = (state.ctx(Some(from.as_str())), state.config.activation_policy());
    let t = take_ticket(ctx, &b.ticket).await?;
    let new = NewDevice { public_key: b.public_key, platform: b.platform, os_version: b.os_version, name: b.name };
    let rng = &mut rand::rngs::OsRng;
    let d = activation::start(ctx, rng, &state.pepper, &policy, &t.sub, &t.challenge, &b.key, &new).await?;
    state.notify(&d.sub, AppEvent::PendingActivation);
    state.webpush.announce_ready(d.device_id.clone(), d.second_login_from);
    Ok((StatusCode::CREATED, Json(to::device(&d, ctx.now))).into_response())
}

/// `POST /api/app/v1/activation/complete` (signed by the pending device): ticket + key after the wait.
#[utoipa::path(
    post,
    path = "/api/app/v1/activation/complete",
    params(super::openapi::SignatureHeaders),
    request_body = wire::CompleteActivation,
    responses((status = 200, description = "OK", body = wire::Device), BodyRefused, Refused<401, 409, 410>, Unavailable)
)]
pub async fn complete(State(state): State<AppState>, call: Signed<Pending>) -> Result<Json<wire::Device>, ApiError> {
    let b: wire::CompleteActivation = call.json()?;
    let ctx = call.ctx(&state);
    let t = take_ticket(ctx, &b.ticket).await?;
    let d =
        activation::complete(ctx, &mut rand::rngs::OsRng, &state.pepper, &call.device, &t.sub, &t.challenge, &b.key)
            .await?;
    Ok(Json(to::device(&d, ctx.now)))
}

/// `GET /api/app/v1/device` (signed, pending or active): the device's own state; `ready` tells a pending
/// device that the wait is over.
#[utoipa::path(
    get,
    path = "/api/app/v1/device",
    params(super::openapi::SignatureHeaders),
    responses((status = 200, description = "OK", body = wire::Device), Refused<401>, Unavailable)
)]
pub async fn status(State(state): State<AppState>, call: Signed<PendingOrActive>) -> Json<wire::Device> {
    Json(to::device(&call.device, state.now()))
}

/// `GET /api/app/v1/activations` (signed, active): the user's pending activations and the devices cooling off
/// after "Glemt kode" (X-3, `reason` `activation` or `code_reset`), to cancel if unknown.
#[utoipa::path(
    get,
    path = "/api/app/v1/activations",
    params(super::openapi::SignatureHeaders),
    responses((status = 200, description = "OK", body = wire::Unconfirmed), Refused<401>, Unavailable)
)]
pub async fn unconfirmed(
    State(state): State<AppState>,
    call: Signed<Active>,
) -> Result<Json<wire::Unconfirmed>, ApiError> {
    let ctx = call.ctx(&state);
    let listed = activation::unconfirmed(ctx, &call.device).await?;
    Ok(Json(wire::Unconfirmed { pending: listed.iter().map(|(d, why)| to::unconfirmed(d, why, ctx.now)).collect() }))
}

/// `POST /api/app/v1/activations/{device_id}/cancel` (signed, active): ends another device's pending
/// activation, or deregisters a device cooling off after a code reset.
#[utoipa::path(
    post,
    path = "/api/app/v1/activations/{device_id}/cancel",
    params(super::openapi::SignatureHeaders, ("device_id" = String, Path, description = "The device to stop")),
    responses((status = 200, description = "OK", body = wire::DeviceEnded), Refused<401, 404>, Unavailable)
)]
pub async fn cancel(
    State(state): State<AppState>,
    Path(device_id): Path<String>,
    call: Signed<Active>,
) -> Result<Json<wire::DeviceEnded>, ApiError> {
    let (target, how) = activation::stop(call.ctx(&state), &call.device, &DeviceId::from(device_id))
        .await?
        .ok_or_else(|| ApiError::not_found("no pending activation with that id"))?;
    let status = match how {
        Stopped::Cancelled => wire::DeviceStatus::Cancelled,
        Stopped::Revoked => wire::DeviceStatus::Revoked,
    };
    Ok(Json(wire::DeviceEnded { device_id: target.device_id.into(), status }))
}

/// `DELETE /api/app/v1/device` (signed): deregisters this device (R-APP6); the app then deletes its data.
#[utoipa::path(
    delete,
    path = "/api/app/v1/device",
    params(super::openapi::SignatureHeaders),
    responses((status = 200, description = "OK", body = wire::DeviceEnded), Refused<401>, Unavailable)
)]
pub async fn deregister(
    State(state): State<AppState>,
    call: Signed<PendingOrActive>,
) -> Result<Json<wire::DeviceEnded>, ApiError> {
    device::revoke(call.ctx(&state), &call.device, RevokedBy::User, "deregistered by the user").await?;
    Ok(Json(wire::DeviceEnded { device_id: call.device.device_id.into(), status: wire::DeviceStatus::Revoked }))
}
