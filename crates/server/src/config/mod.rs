//! Typed configuration: a TOML file (`--config`, `NOEGLE_CONFIG`) with `NOEGLE_*` environment overrides,
//! validated at start-up. `noegle.example.toml` in the repository lists every setting with its default.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

mod env;
mod limits;
#[cfg(test)]
mod tests;
mod validate;

pub use env::ENV_VARS;

/// The server's settings.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where the database file (SQLite) and the server secrets live. `NOEGLE_DATA_DIR`.
    pub data_dir: PathBuf,
    /// `sqlite://PATH` or `postgres://…`; empty means `sqlite://DATA_DIR/noegle.sqlite`. `NOEGLE_DATABASE`.
    pub database: String,
    /// Address to listen on. `NOEGLE_BIND`.
    pub bind: SocketAddr,
    /// The URL users and service providers reach the server at; the OIDC issuer. `NOEGLE_PUBLIC_URL`.
    pub public_url: String,
    /// Language of the pages when the browser states no preference: `da` or `en`. `NOEGLE_DEFAULT_LANGUAGE`.
    pub default_language: crate::i18n::Lang,
    /// Minutes a log-in box session lives. `NOEGLE_SESSION_MINUTES`.
    pub session_minutes: i64,
    /// Largest request body accepted, in bytes. `NOEGLE_MAX_BODY_BYTES`.
    pub max_body_bytes: usize,
    /// Log filter (tracing's `EnvFilter` syntax). `NOEGLE_LOG`.
    pub log: String,
    /// Seconds between the two log-ins that activate a key app. `NOEGLE_ACTIVATION_WAIT_SECS`.
    pub activation_wait_secs: i64,
    /// Days after which an unfinished activation lapses. `NOEGLE_ACTIVATION_MAX_DAYS`.
    pub activation_max_days: i64,
    /// Oldest iOS version the key app may run on. `NOEGLE_MIN_IOS`.
    pub min_ios: String,
    /// Oldest Android version the key app may run on. `NOEGLE_MIN_ANDROID`.
    pub min_android: String,
    /// Match code: `type` (typed into the app), `show` (compared) or `off`. `NOEGLE_MATCH_CODE`.
    pub match_code: noegle_core::request::MatchPolicy,
    /// Guesses (password, key, app code, client secret) one client address may make per minute, across
    /// every account. `NOEGLE_GUESSES_PER_MINUTE`.
    pub guesses_per_minute: u32,
    /// Who push services may contact about this server's Web Push (VAPID `sub`): `mailto:` or `https:`.
    /// `NOEGLE_WEB_PUSH_CONTACT`.
    pub web_push_contact: String,
    /// Accept `http://` and local (IP address, localhost) push endpoints and names resolving to internal
    /// addresses — only for testing against a local endpoint; real push services use https, domain names and
    /// public addresses. `NOEGLE_WEB_PUSH_ALLOW_HTTP`.
    pub web_push_allow_http: bool,
    /// Threads that check passwords (each holds 19 MiB of Argon2 memory); 0 means one per CPU core.
    /// `NOEGLE_PASSWORD_WORKERS`.
    pub password_workers: usize,
    /// Password checks that may wait for a worker; more are answered "busy" (503). `NOEGLE_PASSWORD_QUEUE`.
    pub password_queue: usize,
    /// Milliseconds a password check may wait for a worker before it is answered "busy" (503).
    /// `NOEGLE_PASSWORD_WAIT_MS`.
    pub password_wait_ms: u64,
    /// Seconds a connection has to send a request's head; also the longest a kept-alive connection may sit
    /// idle. `NOEGLE_HEADER_TIMEOUT_SECS`.
    pub header_timeout_secs: u64,
    /// Seconds a request's body has to arrive after its head; past it the answer is 408 and the connection
    /// is closed. `NOEGLE_BODY_TIMEOUT_SECS`.
    pub body_timeout_secs: u64,
    /// Connections a node holds at once, live-channel streams apart; 0 means a quarter of what the
    /// open-files limit leaves. `NOEGLE_MAX_CONNECTIONS`.
    pub max_connections: usize,
    /// Live-channel streams (connected key apps) a node holds at once; 0 means the rest of what the
    /// open-files limit leaves. `NOEGLE_MAX_LIVE_CONNECTIONS`.
    pub max_live_connections: usize,
    /// Connections one client address (an IPv6 client: its `ipv6_prefix` network) may hold at once, streams
    /// included; 0 means 256 or a quarter of `max_connections`, whichever is less, and more than that quarter
    /// is refused. Trusted proxies are held to the node's limits only. `NOEGLE_MAX_CONNECTIONS_PER_ADDRESS`.
    pub max_connections_per_address: usize,
    /// Seconds a stopping node (SIGTERM) gives the requests in flight before it closes what is left.
    /// `NOEGLE_SHUTDOWN_GRACE_SECS`.
    pub shutdown_grace_secs: u64,
    /// Seconds a new ID-token signing key (`noegle keys rotate`) is published before it signs: time for relying
    /// parties to fetch it. `NOEGLE_SIGNING_KEY_LEAD_SECS`.
    pub signing_key_lead_secs: i64,
    /// The node's own TLS certificate chain (PEM), for a node no proxy stands in front of; with `tls_key`.
    /// The public URL must then be `https://`. `NOEGLE_TLS_CERT`.
    pub tls_cert: Option<PathBuf>,
    /// The private key of `tls_cert` (PEM). `NOEGLE_TLS_KEY`.
    pub tls_key: Option<PathBuf>,
    /// The reverse proxies in front of this node (CIDR list of their own addresses, e.g. `["10.0.0.2/32"]`); empty: none. Only from
    /// these does the client's address come from `Forwarded` / `X-Forwarded-For` (the rightmost hop that is
    /// not one of them); from anyone else those headers are ignored. `NOEGLE_TRUSTED_PROXIES`
    /// (comma-separated).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// The one header the trusted proxies set: `x-forwarded-for` or `forwarded` (RFC 7239); the other is
    /// never read. `NOEGLE_FORWARDED_HEADER`.
    pub forwarded_header: crate::client_addr::ForwardedHeader,
    /// The bits of an IPv6 address that name one client for guess budgets and connection limits (an IPv4
    /// client is its address). `NOEGLE_IPV6_PREFIX`.
    pub ipv6_prefix: u8,
    /// The support's phone number, shown in the key app's "Hjælp og NemID support"; empty: none.
    /// `NOEGLE_SUPPORT_PHONE`.
    pub support_phone: String,
    /// The support's web address (http or https), shown beside the phone number; empty: none.
    /// `NOEGLE_SUPPORT_URL`.
    pub support_url: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("noegle-data"),
            database: String::new(),
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: "http://localhost:8080".into(),
            default_language: crate::i18n::Lang::Da,
            session_minutes: 15,
            max_body_bytes: 16 * 1024,
            log: "info".into(),
            activation_wait_secs: 3600,
            activation_max_days: 7,
            min_ios: "9".into(),
            min_android: "4.4".into(),
            match_code: noegle_core::request::MatchPolicy::Type,
            guesses_per_minute: 60,
            web_push_contact: "mailto:support@localhost".into(),
            web_push_allow_http: false,
            password_workers: 0,
            password_queue: 256,
            password_wait_ms: 2000,
            header_timeout_secs: 10,
            body_timeout_secs: 10,
            max_connections: 0,
            max_live_connections: 0,
            max_connections_per_address: 0,
            shutdown_grace_secs: 10,
            signing_key_lead_secs: 86_400,
            tls_cert: None,
            tls_key: None,
            trusted_proxies: Vec::new(),
            forwarded_header: crate::client_addr::ForwardedHeader::XForwardedFor,
            ipv6_prefix: 64,
            support_phone: String::new(),
            support_url: String::new(),
        }
    }
}

/// A configuration that cannot be used, and why.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

impl Config {
    /// Reads the file at `path` (if any), then applies `NOEGLE_*` variables from `env`, then validates.
    pub fn load(path: Option<&Path>, env: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        match path {
            Some(p) => {
                let text =
                    std::fs::read_to_string(p).map_err(|e| ConfigError(format!("cannot read {}: {e}", p.display())))?;
                let config = toml::from_str(&text).map_err(|e| ConfigError(format!("{}: {e}", p.display())))?;
                Config::with_env(config, env)
            }
            None => Config::with_env(Config::default(), env),
        }
    }

    /// Reads `text` (TOML, as in `noegle.example.toml`), then applies `NOEGLE_*` variables from `env`, then
    /// validates.
    pub fn parse(text: &str, env: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        Config::with_env(toml::from_str(text).map_err(|e| ConfigError(e.to_string()))?, env)
    }

    /// The database URL, with the SQLite default filled in.
    pub fn database_url(&self) -> String {
        if self.database.is_empty() {
            format!("sqlite://{}", self.data_dir.join("noegle.sqlite").display())
        } else {
            self.database.clone()
        }
    }

    /// Whether the public URL is https (cookies then get `__Host-` and `Secure`).
    pub fn is_https(&self) -> bool {
        self.public_url.starts_with("https://")
    }

    /// The activation rules these settings give.
    pub fn activation_policy(&self) -> noegle_core::activation::ActivationPolicy {
        noegle_core::activation::ActivationPolicy {
            wait_secs: self.activation_wait_secs,
            max_pending_secs: self.activation_max_days * 86_400,
            platforms: noegle_core::device::PlatformPolicy {
                min_ios: self.min_ios.clone(),
                min_android: self.min_android.clone(),
            },
        }
    }

    /// The number of password workers: as configured, or one per CPU core.
    pub fn password_workers(&self) -> usize {
        match self.password_workers {
            0 => std::thread::available_parallelism().map_or(2, usize::from),
            n => n,
        }
    }

    /// The match-code policy.
    pub fn match_policy(&self) -> noegle_core::request::MatchPolicy {
        self.match_code
    }

    /// Settings for a test server in `data_dir`.
    pub fn for_tests(data_dir: &Path) -> Config {
        // Tests make many attempts from one address on purpose; the limit has its own test.
        Config {
            data_dir: data_dir.to_path_buf(),
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            guesses_per_minute: 100_000,
            ..Config::default()
        }
    }
}
