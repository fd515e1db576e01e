//! Web Push subscriptions of installed web apps: the server's VAPID key, and a device's subscription.

use axum::extract::State;
use axum::response::Json;
use noegle_core::activation::ActivationError;
use noegle_core::device::DeviceStatus;
use serde_json::{Value, json};

use super::ApiError;
use super::extract::{PendingOrActive, Signed};
use crate::state::AppState;
use crate::webpush::{KIND, Subscription};

/// `GET /api/app/v1/push/key`: the VAPID public key.
pub async fn key(State(state): State<AppState>) -> Json<Value> {
    Json(json!({ "key": state.webpush.public_key() }))
}

/// `PUT /api/app/v1/push` (signed, pending or active): this device's push subscription.
pub async fn subscribe(State(state): State<AppState>, call: Signed<PendingOrActive>) -> Result<Json<Value>, ApiError> {
    let me = &call.device;
    // A pending device subscribes only to hear that its wait is over (R-APP1); once its activation has
    // lapsed it has nothing to hear.
    if me.status == DeviceStatus::Pending && !me.pending_and_alive(state.now()) {
        return Err(ActivationError::NotPending.into());
    }
    let s: Subscription = call.json()?;
    s.parts(state.config.web_push_allow_http)?;
    let value = serde_json::to_string(&s).map_err(|e| ApiError::invalid(e.to_string()))?;
    state.store.set_attachment(&me.device_id, KIND, Some(&value)).await?;
    Ok(Json(json!({ "device_id": me.device_id, "push": true })))
}

/// `DELETE /api/app/v1/push` (signed, pending or active): no more Web Push to this device.
pub async fn unsubscribe(
    State(state): State<AppState>,
    call: Signed<PendingOrActive>,
) -> Result<Json<Value>, ApiError> {
    state.store.set_attachment(&call.device.device_id, KIND, None).await?;
    Ok(Json(json!({ "device_id": call.device.device_id, "push": false })))
}
