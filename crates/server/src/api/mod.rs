//! The key-app API under `/api/app/v1/` (JSON). Activation: a password log-in gives a ticket and the key asked
//! for; the key starts a pending device; after the wait a second log-in and key, signed by the device,
//! activate it. Every call after the first stage is signed (see `noegle_proto::signing`).
//!
//! Handlers parse (the extractors in [`extract`]), call one flow of `noegle-core`, and render; the rules
//! live in the flows, the refusals in [`error`].

use axum::Router;
use axum::response::Json;
use axum::routing::{delete, get, post, put};
use noegle_core::device::Device;
use serde_json::{Value, json};

use crate::state::AppState;

pub mod activation;
pub mod code;
pub mod error;
pub mod events;
pub mod extract;
pub mod fingerprint;
pub mod push;
pub mod requests;

pub use error::ApiError;
pub use extract::HEADER_APP_SESSION;

/// The app-API routes that check a guessable secret (put under the per-address limit by the caller).
pub fn guessing_routes() -> Router<AppState> {
    Router::new()
        .route("/api/app/v1/login", post(activation::login))
        .route("/api/app/v1/app-code/login/start", post(code::login_start))
        .route("/api/app/v1/app-code/forgot", post(code::forgot))
        .route("/api/app/v1/fingerprint/login/start", post(fingerprint::login_start))
}

/// The other app-API routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/app/v1/time", get(time))
        .route("/api/app/v1/about", get(about))
        .route("/api/app/v1/activation", post(activation::start))
        .route("/api/app/v1/activation/complete", post(activation::complete))
        .route("/api/app/v1/device", get(activation::status).delete(activation::deregister))
        .route("/api/app/v1/activations", get(activation::unconfirmed))
        .route("/api/app/v1/activations/{device_id}/cancel", post(activation::cancel))
        .route("/api/app/v1/events", get(events::events))
        .route("/api/app/v1/app-code/register/start", post(code::register_start))
        .route("/api/app/v1/app-code/register/finish", post(code::register_finish))
        .route("/api/app/v1/app-code/login/finish", post(code::login_finish))
        .route("/api/app/v1/app-code/session", delete(code::lock))
        .route("/api/app/v1/fingerprint/register/start", post(fingerprint::register_start))
        .route("/api/app/v1/fingerprint/register/finish", post(fingerprint::register_finish))
        .route("/api/app/v1/fingerprint/login/finish", post(fingerprint::login_finish))
        .route("/api/app/v1/fingerprint", delete(fingerprint::remove))
        .route("/api/app/v1/push/key", get(push::key))
        .route("/api/app/v1/push", put(push::subscribe).delete(push::unsubscribe))
        .route("/api/app/v1/requests", get(requests::pending))
        .route("/api/app/v1/requests/{request_id}/decision", post(requests::decide))
}

/// `GET /api/app/v1/time`: the server's clock, which signed requests must be within 60 s of.
pub async fn time(axum::extract::State(state): axum::extract::State<AppState>) -> Json<Value> {
    Json(json!({ "now": state.now() }))
}

/// `GET /api/app/v1/about`: what the app tells users before they start and when they need help: the most
/// devices one user may have, the oldest iOS and Android it runs on, and how to reach the support ("Hjælp og
/// NemID support": a phone number and a web address, each `null` when the operator set none), and the numbers
/// the app says to its user: how long an unlocked app stays open, how long a new device waits, how many
/// wrong codes block it.
pub async fn about(axum::extract::State(state): axum::extract::State<AppState>) -> Json<Value> {
    let c = &state.config;
    let some = |s: &str| (!s.is_empty()).then(|| s.to_string());
    Json(json!({
        "max_devices": noegle_core::device::MAX_ACTIVE_DEVICES,
        "minimum": { "ios": c.min_ios, "android": c.min_android },
        "support": { "phone": some(&c.support_phone), "url": some(&c.support_url) },
        "app_session_secs": noegle_core::appcode::APP_SESSION_SECS,
        "activation_wait_secs": c.activation_wait_secs,
        "code_attempts": noegle_core::appcode::MAX_CODE_FAILURES,
    }))
}

/// A device as the app sees it; `ready` tells a pending device that the wait is over.
fn device_json(state: &AppState, d: &Device) -> Value {
    let now = state.now();
    json!({
        "device_id": d.device_id,
        "serial": d.serial,
        "name": d.name,
        "status": d.status,
        "ready_at": d.ready_at(),
        "expires_at": d.expires_at,
        "ready": d.ready_for_second_login(now),
        "now": now,
    })
}

#[cfg(test)]
mod tests {
    /// Every app-API route the router serves is described in the OpenAPI document, with its methods.
    #[test]
    fn the_openapi_document_covers_every_app_route() {
        let doc: serde_json::Value = serde_json::from_str(crate::OPENAPI).unwrap();
        let source = include_str!("mod.rs");
        let mut seen = 0;
        for line in source.lines().map(str::trim).filter(|l| l.starts_with(".route(\"/api/app/v1")) {
            let path = line.split('"').nth(1).unwrap();
            let item = &doc["paths"][path];
            assert!(item.is_object(), "{path} is not in openapi.json");
            for method in ["get", "post", "put", "delete"] {
                let routed = line.contains(&format!(" {method}(")) || line.contains(&format!(".{method}("));
                assert_eq!(routed, item.get(method).is_some(), "{method} {path}");
            }
            seen += 1;
        }
        assert_eq!(seen, doc["paths"].as_object().unwrap().len(), "every documented path is served");
    }
}
