//! Log-in requests to the key app (R-APP5, X-2): the pending ones, and the user's decision.

use axum::extract::{Path, State};
use axum::response::Json;
use noegle_core::request::{self, Decision};
use serde_json::{Value, json};

use super::ApiError;
use super::extract::Unlocked;
use crate::state::AppState;

/// `GET /api/app/v1/requests` (signed, active, unlocked): the user's pending requests, with the service, the
/// action and the time — and the match code only when the policy is `show` (with `type` the user types it
/// from the log-in box).
pub async fn pending(State(state): State<AppState>, app: Unlocked) -> Result<Json<Value>, ApiError> {
    let policy = state.config.match_policy();
    let pending = request::pending_for(app.call.ctx(&state), &app.call.device).await?;
    let requests: Vec<Value> = pending
        .into_iter()
        .map(|r| {
            let mut v = json!({
                "request_id": r.request_id, "client_id": r.client_id, "client_name": r.client_name,
                "action": r.action, "created_at": r.created_at, "expires_at": r.expires_at, "nonce": r.nonce,
                "match_code_required": policy.typed(),
            });
            if let Some(code) = policy.shown(&r) {
                v["match_code"] = json!(code);
            }
            v
        })
        .collect();
    Ok(Json(json!({ "requests": requests })))
}

/// `POST /api/app/v1/requests/{id}/decision` (signed, active, unlocked): approve or reject, once.
pub async fn decide(
    State(state): State<AppState>,
    Path(request_id): Path<String>,
    app: Unlocked,
) -> Result<Json<Value>, ApiError> {
    let d: Decision = app.call.json()?;
    let (ctx, policy) = (app.call.ctx(&state), state.config.match_policy());
    let r = request::decide(ctx, &app.call.device, app.how, &request_id, &d, policy).await?;
    Ok(Json(json!({ "request_id": r.request_id, "state": r.state })))
}
