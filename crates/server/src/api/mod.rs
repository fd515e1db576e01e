//! The key-app API under `/api/app/v1/` (JSON). Activation: a password log-in gives a ticket and the key asked
//! for; the key starts a pending device; after the wait a second log-in and key, signed by the device,
//! activate it. Every call after the first stage is signed (see `noegle_proto::signing`).
//!
//! Handlers parse (the extractors in [`extract`]), call one flow of `noegle-core`, and render; the rules
//! live in the flows, the refusals in [`error`]. What they take and send are `noegle_proto::api::v1`'s types
//! (met by core's records in [`convert`]); each handler's `#[utoipa::path]` both routes it and documents it
//! in the generated OpenAPI document ([`openapi`]).

use axum::Router;
use axum::response::Json;
use noegle_proto::api::v1 as wire;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

pub mod activation;
pub mod code;
pub mod convert;
pub mod error;
pub mod events;
pub mod extract;
pub mod fingerprint;
pub mod openapi;
pub mod push;
pub mod requests;

pub use error::ApiError;
pub use extract::HEADER_APP_SESSION;

/// The app-API routes that check a guessable secret (put under the per-address limit by the caller).
pub fn guessing_routes() -> Router<AppState> {
    guessing().split_for_parts().0
}

/// The other app-API routes.
pub fn routes() -> Router<AppState> {
    others().split_for_parts().0
}

/// The guessing routes with their documentation (each path is its handler's `#[utoipa::path]`).
fn guessing() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(activation::login))
        .routes(routes!(code::login_start))
        .routes(routes!(code::forgot))
        .routes(routes!(fingerprint::login_start))
}

/// The other routes with their documentation.
fn others() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(time))
        .routes(routes!(about))
        .routes(routes!(activation::start))
        .routes(routes!(activation::complete))
        .routes(routes!(activation::status, activation::deregister))
        .routes(routes!(activation::unconfirmed))
        .routes(routes!(activation::cancel))
        .routes(routes!(events::events))
        .routes(routes!(code::register_start))
        .routes(routes!(code::register_finish))
        .routes(routes!(code::login_finish))
        .routes(routes!(code::lock))
        .routes(routes!(fingerprint::register_start))
        .routes(routes!(fingerprint::register_finish))
        .routes(routes!(fingerprint::login_finish))
        .routes(routes!(fingerprint::remove))
        .routes(routes!(push::key))
        .routes(routes!(push::subscribe, push::unsubscribe))
        .routes(routes!(requests::pending))
        .routes(routes!(requests::decide))
}

/// `GET /api/app/v1/time`: the server's clock, which signed requests must be within 60 s of.
#[utoipa::path(get, path = "/api/app/v1/time", responses((status = 200, description = "OK", body = wire::Time), openapi::Unavailable))]
pub async fn time(axum::extract::State(state): axum::extract::State<AppState>) -> Json<wire::Time> {
    Json(wire::Time { now: state.now().0 })
}

/// `GET /api/app/v1/about`: what the app tells users before they start and when they need help: the most
/// devices one user may have, the oldest iOS and Android it runs on, and how to reach the support ("Hjælp og
/// NemID support": a phone number and a web address, each `null` when the operator set none), and the numbers
/// the app says to its user: how long an unlocked app stays open, how long a new device waits, how many
/// wrong codes block it.
#[utoipa::path(get, path = "/api/app/v1/about", responses((status = 200, description = "OK", body = wire::About), openapi::Unavailable))]
pub async fn about(axum::extract::State(state): axum::extract::State<AppState>) -> Json<wire::About> {
    let c = &state.config;
    let some = |s: &str| (!s.is_empty()).then(|| s.to_string());
    Json(wire::About {
        max_devices: noegle_core::device::MAX_ACTIVE_DEVICES,
        minimum: wire::Minimum { ios: c.min_ios.clone(), android: c.min_android.clone() },
        support: wire::Support { phone: some(&c.support_phone), url: some(&c.support_url) },
        app_session_secs: noegle_core::appcode::APP_SESSION_SECS,
        activation_wait_secs: c.activation_wait_secs,
        code_attempts: noegle_core::appcode::MAX_CODE_FAILURES,
    })
}
