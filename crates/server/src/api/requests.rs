//! Log-in requests to the key app (R-APP5, X-2): the pending ones, and the user's decision.

use axum::extract::{Path, State};
use axum::response::Json;
use noegle_core::{RequestId, request};
use noegle_proto::api::v1 as wire;

use super::extract::Unlocked;
use super::openapi::{BodyRefused, Refused, Unavailable};
use super::{ApiError, convert as to};
use crate::state::AppState;

/// `GET /api/app/v1/requests` (signed, active, unlocked): the user's pending requests, with the service, the
/// action and the time — and the match code only when the policy is `show` (with `type` the user types it
/// from the log-in box).
#[utoipa::path(
    get,
    path = "/api/app/v1/requests",
    params(super::openapi::SignatureHeaders, super::openapi::AppSessionHeader),
    responses((status = 200, description = "OK", body = wire::Requests), Refused<401, 403>, Unavailable)
)]
pub async fn pending(State(state): State<AppState>, app: Unlocked) -> Result<Json<wire::Requests>, ApiError> {
    let policy = state.config.match_policy();
    let pending = request::pending_for(app.call.ctx(&state), &app.call.device).await?;
    Ok(Json(wire::Requests { requests: pending.into_iter().map(|r| to::request(r, policy)).collect() }))
}

/// `POST /api/app/v1/requests/{id}/decision` (signed, active, unlocked): approve or reject, once.
#[utoipa::path(
    post,
    path = "/api/app/v1/requests/{request_id}/decision",
    params(super::openapi::SignatureHeaders, super::openapi::AppSessionHeader, ("request_id" = String, Path, description = "The request")),
    request_body = wire::Decision,
    responses((status = 200, description = "OK", body = wire::Decided), BodyRefused, Refused<401, 403, 404>, Refused<409, 410, 422>, Unavailable)
)]
pub async fn decide(
    State(state): State<AppState>,
    Path(request_id): Path<String>,
    app: Unlocked,
) -> Result<Json<wire::Decided>, ApiError> {
    let d = to::decision(app.call.json()?);
    let (ctx, policy) = (app.call.ctx(&state), state.config.match_policy());
    let r = request::decide(ctx, &app.call.device, app.how, &RequestId::from(request_id), &d, policy).await?;
    Ok(Json(wire::Decided { request_id: r.request_id.into(), state: to::request_state(r.state) }))
}
