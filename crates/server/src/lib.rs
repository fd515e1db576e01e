//! The nøgle HTTP server: the log-in box, the OpenID Connect provider and the operations endpoints, over
//! the domain in `noegle-core` and a store from `noegle-store`.

use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use noegle_core::Clock;

pub mod api;
pub mod body;
pub mod client_addr;
pub mod config;
pub mod demo_bank;
pub mod error;
pub mod form;
pub mod headers;
pub mod i18n;
pub mod jose;
pub mod keycard_pdf;
pub mod listener;
pub mod live;
pub mod oidc;
pub mod ops;
pub mod pages;
pub mod passwords;
pub mod ratelimit;
pub mod sealed;
pub mod secrets;
pub mod session;
pub mod state;
pub mod tls;
pub mod webapp;
pub mod webpush;

pub use config::Config;
pub use state::{AppState, SystemClock};

/// The process-wide Prometheus recorder (installed once, shared by every server in the process).
fn metrics_handle() -> metrics_exporter_prometheus::PrometheusHandle {
    static HANDLE: OnceLock<metrics_exporter_prometheus::PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            // Fails only if another recorder is installed; the handle still renders what it records.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// Opens the database and the data directory's secrets (creating them at first start).
pub async fn build_state(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<AppState> {
    secrets::open_data_dir(&config.data_dir, &config.database_url())?;
    let store = noegle_store::open(&config.database_url()).await?;
    let pepper = secrets::pepper(&config.data_dir)?;
    let open_files = rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(1024, |(soft, _)| soft);
    Ok(AppState {
        gate: listener::Gate::new(config.limits(open_files)?),
        tls: match (&config.tls_cert, &config.tls_key) {
            (Some(cert), Some(key)) => Some(tls::acceptor(cert, key)?),
            _ => None,
        },
        store: store.clone(),
        clock: clock.clone(),
        signer: Arc::new(jose::TokenSigner::with_keys(&secrets::signing_keys(&config.data_dir)?)?),
        sealer: Arc::new(sealed::Sealer::new(pepper.derive("log-in box cookie"))),
        pepper: Arc::new(pepper),
        opaque: Arc::new(secrets::opaque_setup(&config.data_dir)?),
        limiter: Arc::new(ratelimit::limiter(config.guesses_per_minute, config.database_url().starts_with("postgres"))),
        // `None` when the public URL's host is an IP address (`noegle serve` says so once).
        webauthn: api::fingerprint::relying_party(&config.public_url).ok().map(Arc::new),
        webpush: Arc::new(webpush::WebPush::new(
            secrets::vapid_key(&config.data_dir)?,
            config.web_push_contact.clone(),
            config.web_push_allow_http,
            store.clone(),
            clock.clone(),
        )),
        hub: if config.database_url().starts_with("postgres") {
            live::Hub::relayed(&config.database_url()).await?
        } else {
            Arc::default()
        },
        passwords: Arc::new(passwords::PasswordPool::start(
            config.password_workers(),
            config.password_queue,
            std::time::Duration::from_millis(config.password_wait_ms),
        )?),
        config: Arc::new(config),
        metrics: metrics_handle(),
    })
}

/// Every route of the server, plus `extra` (e.g. the demo service provider), with the security layers.
pub fn app(state: AppState, extra: Router) -> Router {
    let limit = state.config.max_body_bytes;
    // Every endpoint that checks a guessable secret, under the per-address limit.
    let guesses = api::guessing_routes()
        .route("/token", post(oidc::token))
        .route("/login/password", post(pages::password))
        .route("/login/key", post(pages::key))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), ratelimit::limit_guesses));
    Router::new()
        .route("/.well-known/openid-configuration", get(oidc::discovery))
        .route("/jwks", get(oidc::jwks))
        .route("/authorize", get(oidc::authorize))
        .route("/userinfo", get(oidc::userinfo).post(oidc::userinfo))
        .route("/api/openapi.json", get(openapi))
        .merge(api::routes())
        .route("/login", get(pages::show))
        .route("/login/state", get(pages::waiting_state))
        .route("/login/app/send", post(pages::send_to_app))
        .route("/login/keycard", post(pages::switch_to_keycard))
        .route("/login/cancel", post(pages::cancel))
        .route("/lang/{code}", get(pages::switch_language))
        .route("/static/noegle.css", get(stylesheet))
        .route("/static/waiting.js", get(waiting_script))
        .route("/app", get(webapp::root))
        .route("/app/", get(webapp::index))
        .route("/app/{file}", get(webapp::file))
        .route("/app/screens/{file}", get(webapp::screen_file))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .merge(guesses)
        .fallback(|| async { error::AppError::NotFound })
        .with_state(state.clone())
        .merge(extra)
        .layer(axum::middleware::from_fn_with_state(state.clone(), body::within_limits))
        .layer(axum::middleware::from_fn_with_state(state.clone(), headers::render_errors))
        .layer(axum::middleware::from_fn_with_state(state, headers::security_headers))
        .layer(DefaultBodyLimit::max(limit))
}

/// The key-app API's OpenAPI document, generated from its types and routes.
async fn openapi() -> impl axum::response::IntoResponse {
    ([(axum::http::header::CONTENT_TYPE, "application/json")], api::openapi::json())
}

async fn stylesheet() -> impl axum::response::IntoResponse {
    (
        [
            (axum::http::header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (axum::http::header::CACHE_CONTROL, "max-age=3600"),
        ],
        include_str!("../static/noegle.css"),
    )
}

async fn waiting_script() -> impl axum::response::IntoResponse {
    (
        [
            (axum::http::header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (axum::http::header::CACHE_CONTROL, "max-age=3600"),
        ],
        include_str!("../../../web/box/waiting.js"),
    )
}

/// Rereads the data directory's ID-token signing keys (after `noegle keys rotate`, here or copied from
/// another node).
pub fn reload_signing_keys(state: &AppState) -> anyhow::Result<()> {
    state.signer.replace(&secrets::signing_keys(&state.config.data_dir)?)
}

/// Every ten minutes, removes expired sessions and request nonces older than an hour (far past the ±60 s a
/// signed request's timestamp may be off, so a replay is still refused by its timestamp); every minute,
/// rereads the signing keys (a rotation's new key is published within a minute) and forgets the last
/// minute's guess counts held in memory.
pub fn spawn_housekeeping(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
        let mut minutes = 0u64;
        loop {
            tick.tick().await;
            state.limiter.forget_before(state.now().0 / 60);
            if let Err(e) = reload_signing_keys(&state) {
                tracing::warn!(error = %e, "the signing keys could not be reread");
            }
            minutes += 1;
            if minutes % 10 != 1 {
                continue;
            }
            let now = state.now();
            match state.store.purge_expired(now, now.plus(-3600)).await {
                Ok(n) => tracing::debug!(removed = n, "housekeeping"),
                Err(e) => tracing::warn!(error = %e, "housekeeping failed"),
            }
        }
    })
}

/// Serves `app` on `listener` within the connection limits of `state` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    state: &AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    listener::serve(listener, app, state.gate.clone(), state.tls.clone(), shutdown).await
}
