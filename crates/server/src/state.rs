//! What every handler shares: the store, the clock, the configuration and the server's keys. Injected
//! through axum's state, never global.

use std::sync::Arc;

use noegle_core::Ctx;
use noegle_core::keycard::KeyPepper;
use noegle_core::{Clock, Store, UnixTime};

use crate::config::Config;
use crate::i18n::Lang;
use crate::jose::TokenSigner;

/// Shared server state.
#[derive(Clone)]
pub struct AppState {
    /// Storage.
    pub store: Arc<dyn Store>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Settings.
    pub config: Arc<Config>,
    /// ID-token signer.
    pub signer: Arc<TokenSigner>,
    /// Key-card pepper.
    pub pepper: Arc<KeyPepper>,
    /// Prometheus exposition.
    pub metrics: metrics_exporter_prometheus::PrometheusHandle,
    /// The OPAQUE server setup of the app code (secret; a file in the data directory).
    pub opaque: Arc<noegle_core::appcode::Setup>,
    /// Per-address limit on guesses.
    pub limiter: Arc<crate::ratelimit::Limiter>,
    /// The WebAuthn relying party of fingerprint unlock; `None` when the public URL's host is not a domain
    /// name (WebAuthn does not work on IP addresses).
    pub webauthn: Option<Arc<webauthn_rs::Webauthn>>,
    /// Web Push to installed web apps (the extra notification path).
    pub webpush: Arc<crate::webpush::WebPush>,
    /// The live channel to connected key apps.
    pub hub: Arc<crate::live::Hub>,
    /// The bounded pool that checks passwords.
    pub passwords: Arc<crate::passwords::PasswordPool>,
    /// Seals what the browser keeps for the server (the log-in box's first step).
    pub sealer: Arc<crate::sealed::Sealer>,
    /// The connection limits and their counts.
    pub gate: Arc<crate::listener::Gate>,
    /// The node's own TLS, when configured.
    pub tls: Option<tokio_rustls::TlsAcceptor>,
}

impl AppState {
    /// The current time.
    pub fn now(&self) -> UnixTime {
        self.clock.now()
    }

    /// A domain context for a request from `source`.
    pub fn ctx<'a>(&'a self, source: Option<&'a str>) -> Ctx<'a> {
        Ctx { store: self.store.as_ref(), now: self.now(), source }
    }

    /// Tells `sub`'s key apps about `event`: on the live channel and by Web Push.
    pub fn notify(&self, sub: &str, event: crate::live::AppEvent) {
        use crate::live::Notifier;
        self.hub.notify(sub, event);
        self.webpush.notify(sub, event);
    }

    /// The configured default language.
    pub fn default_lang(&self) -> Lang {
        self.config.default_language
    }
}

/// The system clock: the one place the server reads the wall clock.
#[derive(Debug, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)]
    fn now(&self) -> UnixTime {
        let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        UnixTime(secs as i64)
    }
}
