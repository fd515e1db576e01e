//! Web Push subscriptions of installed web apps: the server's VAPID key, and a device's subscription.

use axum::extract::State;
use axum::response::Json;
use noegle_core::activation::ActivationError;
use noegle_core::device::DeviceStatus;
use noegle_proto::api::v1 as wire;

use super::ApiError;
use super::extract::{PendingOrActive, Signed};
use super::openapi::{BodyRefused, Refused, Unavailable};
use crate::state::AppState;
use crate::webpush::{KIND, Subscription, SubscriptionKeys};

/// `GET /api/app/v1/push/key`: the VAPID public key.
#[utoipa::path(
    get,
    path = "/api/app/v1/push/key",
    responses((status = 200, description = "OK", body = wire::PushKey), Unavailable)
)]
pub async fn key(State(state): State<AppState>) -> Json<wire::PushKey> {
    Json(wire::PushKey { key: state.webpush.public_key() })
}

/// `PUT /api/app/v1/push` (signed, pending or active): this device's push subscription.
#[utoipa::path(
    put,
    path = "/api/app/v1/push",
    params(super::openapi::SignatureHeaders),
    request_body = wire::PushSubscription,
    responses((status = 200, description = "OK", body = wire::Push), BodyRefused, Refused<401, 422>, Unavailable)
)]
pub async fn subscribe(
    State(state): State<AppState>,
    call: Signed<PendingOrActive>,
) -> Result<Json<wire::Push>, ApiError> {
    let me = &call.device;
    // A pending device subscribes only to hear that its wait is over (R-APP1); once its activation has
    // lapsed it has nothing to hear.
    if me.status == DeviceStatus::Pending && !me.pending_and_alive(state.now()) {
        return Err(ActivationError::NotPending.into());
    }
    let s = subscription(call.json()?);
    s.parts(state.config.web_push_allow_http)?;
    let value = serde_json::to_string(&s).map_err(|e| ApiError::invalid(e.to_string()))?;
    state.store.set_attachment(&me.device_id, KIND, Some(&value)).await?;
    Ok(Json(wire::Push { device_id: me.device_id.to_string(), push: true }))
}

/// The subscription as the push sender keeps it.
fn subscription(s: wire::PushSubscription) -> Subscription {
    let keys = SubscriptionKeys { p256dh: s.keys.p256dh, auth: s.keys.auth };
    Subscription { endpoint: s.endpoint, expiration_time: s.expirationTime, keys }
}

/// `DELETE /api/app/v1/push` (signed, pending or active): no more Web Push to this device.
#[utoipa::path(
    delete,
    path = "/api/app/v1/push",
    params(super::openapi::SignatureHeaders),
    responses((status = 200, description = "OK", body = wire::Push), Refused<401>, Unavailable)
)]
pub async fn unsubscribe(
    State(state): State<AppState>,
    call: Signed<PendingOrActive>,
) -> Result<Json<wire::Push>, ApiError> {
    state.store.set_attachment(&call.device.device_id, KIND, None).await?;
    Ok(Json(wire::Push { device_id: call.device.device_id.into(), push: false }))
}
