//! Typed configuration: a TOML file (`--config`, `NOEGLE_CONFIG`) with `NOEGLE_*` environment overrides,
//! validated at start-up. `noegle.example.toml` in the repository lists every setting with its default.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

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

/// Every environment variable a setting reads (`NOEGLE_CONFIG` names the file).
pub const ENV_VARS: &[&str] = &[
    "NOEGLE_CONFIG",
    "NOEGLE_DATA_DIR",
    "NOEGLE_DATABASE",
    "NOEGLE_BIND",
    "NOEGLE_PUBLIC_URL",
    "NOEGLE_DEFAULT_LANGUAGE",
    "NOEGLE_SESSION_MINUTES",
    "NOEGLE_MAX_BODY_BYTES",
    "NOEGLE_LOG",
    "NOEGLE_ACTIVATION_WAIT_SECS",
    "NOEGLE_ACTIVATION_MAX_DAYS",
    "NOEGLE_MIN_IOS",
    "NOEGLE_MIN_ANDROID",
    "NOEGLE_MATCH_CODE",
    "NOEGLE_GUESSES_PER_MINUTE",
    "NOEGLE_WEB_PUSH_CONTACT",
    "NOEGLE_WEB_PUSH_ALLOW_HTTP",
    "NOEGLE_PASSWORD_WORKERS",
    "NOEGLE_PASSWORD_QUEUE",
    "NOEGLE_PASSWORD_WAIT_MS",
    "NOEGLE_HEADER_TIMEOUT_SECS",
    "NOEGLE_BODY_TIMEOUT_SECS",
    "NOEGLE_MAX_CONNECTIONS",
    "NOEGLE_MAX_LIVE_CONNECTIONS",
    "NOEGLE_MAX_CONNECTIONS_PER_ADDRESS",
    "NOEGLE_SHUTDOWN_GRACE_SECS",
    "NOEGLE_SIGNING_KEY_LEAD_SECS",
    "NOEGLE_TLS_CERT",
    "NOEGLE_TLS_KEY",
    "NOEGLE_TRUSTED_PROXIES",
    "NOEGLE_FORWARDED_HEADER",
    "NOEGLE_IPV6_PREFIX",
    "NOEGLE_SUPPORT_PHONE",
    "NOEGLE_SUPPORT_URL",
];

/// Variables of nøgle's own test and benchmark tools, which the server ignores without a warning.
const TOOL_VARS: &[&str] = &[
    "NOEGLE_TEST_POSTGRES",
    "NOEGLE_SERVE_BIN",
    "NOEGLE_FUZZ_SECS",
    "NOEGLE_BIN",
    "NOEGLE_TESTSERVER_BIN",
    "NOEGLE_ST_CARD",
    "NOEGLE_WRITE_VECTORS",
];

/// One address holds at most this fraction (1/n) of a node's connections.
const PER_ADDRESS_SHARE: usize = 4;
/// Connections one address holds when the operator does not say (and the share allows).
const DEFAULT_PER_ADDRESS: usize = 256;

/// A configuration that cannot be used, and why.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

/// Sets `target` from the variable `name` of `env` when it is there; a value that does not parse is an error
/// naming the variable.
fn parsed<T: std::str::FromStr>(
    env: &impl Fn(&str) -> Option<String>,
    name: &str,
    target: &mut T,
) -> Result<(), ConfigError>
where
    T::Err: std::fmt::Display,
{
    if let Some(v) = env(name) {
        *target = v.parse().map_err(|e| ConfigError(format!("{name}={v}: {e}")))?;
    }
    Ok(())
}

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

    fn with_env(mut config: Config, env: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        if let Some(v) = env("NOEGLE_DATA_DIR") {
            config.data_dir = v.into();
        }
        if let Some(v) = env("NOEGLE_DATABASE") {
            config.database = v;
        }
        parsed(&env, "NOEGLE_BIND", &mut config.bind)?;
        if let Some(v) = env("NOEGLE_PUBLIC_URL") {
            config.public_url = v;
        }
        parsed(&env, "NOEGLE_DEFAULT_LANGUAGE", &mut config.default_language)?;
        parsed(&env, "NOEGLE_SESSION_MINUTES", &mut config.session_minutes)?;
        parsed(&env, "NOEGLE_MAX_BODY_BYTES", &mut config.max_body_bytes)?;
        if let Some(v) = env("NOEGLE_LOG") {
            config.log = v;
        }
        parsed(&env, "NOEGLE_ACTIVATION_WAIT_SECS", &mut config.activation_wait_secs)?;
        parsed(&env, "NOEGLE_ACTIVATION_MAX_DAYS", &mut config.activation_max_days)?;
        if let Some(v) = env("NOEGLE_MIN_IOS") {
            config.min_ios = v;
        }
        if let Some(v) = env("NOEGLE_MIN_ANDROID") {
            config.min_android = v;
        }
        parsed(&env, "NOEGLE_MATCH_CODE", &mut config.match_code)?;
        parsed(&env, "NOEGLE_GUESSES_PER_MINUTE", &mut config.guesses_per_minute)?;
        if let Some(v) = env("NOEGLE_WEB_PUSH_CONTACT") {
            config.web_push_contact = v;
        }
        parsed(&env, "NOEGLE_WEB_PUSH_ALLOW_HTTP", &mut config.web_push_allow_http)?;
        parsed(&env, "NOEGLE_PASSWORD_WORKERS", &mut config.password_workers)?;
        parsed(&env, "NOEGLE_PASSWORD_QUEUE", &mut config.password_queue)?;
        parsed(&env, "NOEGLE_PASSWORD_WAIT_MS", &mut config.password_wait_ms)?;
        parsed(&env, "NOEGLE_HEADER_TIMEOUT_SECS", &mut config.header_timeout_secs)?;
        parsed(&env, "NOEGLE_BODY_TIMEOUT_SECS", &mut config.body_timeout_secs)?;
        parsed(&env, "NOEGLE_MAX_CONNECTIONS", &mut config.max_connections)?;
        parsed(&env, "NOEGLE_MAX_LIVE_CONNECTIONS", &mut config.max_live_connections)?;
        parsed(&env, "NOEGLE_MAX_CONNECTIONS_PER_ADDRESS", &mut config.max_connections_per_address)?;
        parsed(&env, "NOEGLE_SHUTDOWN_GRACE_SECS", &mut config.shutdown_grace_secs)?;
        parsed(&env, "NOEGLE_SIGNING_KEY_LEAD_SECS", &mut config.signing_key_lead_secs)?;
        if let Some(v) = env("NOEGLE_TLS_CERT") {
            config.tls_cert = Some(v.into());
        }
        if let Some(v) = env("NOEGLE_TLS_KEY") {
            config.tls_key = Some(v.into());
        }
        if let Some(v) = env("NOEGLE_TRUSTED_PROXIES") {
            config.trusted_proxies = v
                .split(',')
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(|n| n.parse().map_err(|e| ConfigError(format!("NOEGLE_TRUSTED_PROXIES: {n:?}: {e}"))))
                .collect::<Result<_, _>>()?;
        }
        parsed(&env, "NOEGLE_FORWARDED_HEADER", &mut config.forwarded_header)?;
        parsed(&env, "NOEGLE_IPV6_PREFIX", &mut config.ipv6_prefix)?;
        if let Some(v) = env("NOEGLE_SUPPORT_PHONE") {
            config.support_phone = v;
        }
        if let Some(v) = env("NOEGLE_SUPPORT_URL") {
            config.support_url = v;
        }
        config.validate()?;
        Ok(config)
    }

    /// Checks every setting.
    pub fn validate(&mut self) -> Result<(), ConfigError> {
        let url = url::Url::parse(&self.public_url)
            .map_err(|e| ConfigError(format!("public_url {:?} is not a URL: {e}", self.public_url)))?;
        if !matches!(url.scheme(), "http" | "https") || url.query().is_some() || url.fragment().is_some() {
            return Err(ConfigError(format!("public_url must be an http(s) URL without query or fragment: {url}")));
        }
        self.public_url = self.public_url.trim_end_matches('/').to_string();
        match (&self.tls_cert, &self.tls_key) {
            (Some(_), Some(_)) if !self.is_https() => {
                return Err(ConfigError("with tls_cert and tls_key the public_url must be https://".into()));
            }
            (Some(_), None) | (None, Some(_)) => {
                return Err(ConfigError("tls_cert and tls_key go together: set both, or neither".into()));
            }
            _ => {}
        }
        if !(1..=24 * 60).contains(&self.session_minutes) {
            return Err(ConfigError("session_minutes must be between 1 and 1440".into()));
        }
        if !(1024..=1024 * 1024).contains(&self.max_body_bytes) {
            return Err(ConfigError("max_body_bytes must be between 1024 and 1048576".into()));
        }
        if !(0..=7 * 24 * 3600).contains(&self.activation_wait_secs) {
            return Err(ConfigError("activation_wait_secs must be between 0 and 604800".into()));
        }
        if !(1..=90).contains(&self.activation_max_days)
            || self.activation_max_days * 86_400 <= self.activation_wait_secs
        {
            return Err(ConfigError("activation_max_days must be 1 to 90 days and longer than the wait".into()));
        }
        for (name, v) in [("min_ios", &self.min_ios), ("min_android", &self.min_android)] {
            if v.split('.').any(|p| p.parse::<u32>().is_err()) {
                return Err(ConfigError(format!("{name} must be a version like 9 or 4.4, not {v:?}")));
            }
        }
        if !(1..=100_000).contains(&self.guesses_per_minute) {
            return Err(ConfigError("guesses_per_minute must be between 1 and 100000".into()));
        }
        if self.password_workers > 256 {
            return Err(ConfigError("password_workers must be between 0 (one per core) and 256".into()));
        }
        if !(1..=100_000).contains(&self.password_queue) {
            return Err(ConfigError("password_queue must be between 1 and 100000".into()));
        }
        if !(1..=60_000).contains(&self.password_wait_ms) {
            return Err(ConfigError("password_wait_ms must be between 1 and 60000".into()));
        }
        if !(1..=3600).contains(&self.header_timeout_secs) {
            return Err(ConfigError("header_timeout_secs must be between 1 and 3600".into()));
        }
        if !(1..=3600).contains(&self.body_timeout_secs) {
            return Err(ConfigError("body_timeout_secs must be between 1 and 3600".into()));
        }
        for net in &self.trusted_proxies {
            if net.prefix_len() == 0 {
                return Err(ConfigError(format!(
                    "trusted_proxies {net} trusts every address: each client could name its own; list the proxies' own addresses"
                )));
            }
            if let ipnet::IpNet::V6(v6) = net
                && v6.addr().to_ipv4_mapped().is_some()
            {
                return Err(ConfigError(format!(
                    "trusted_proxies {net}: write an IPv4 network as IPv4 (e.g. 10.0.0.0/8); mapped addresses are read as IPv4"
                )));
            }
        }
        if !(32..=128).contains(&self.ipv6_prefix) {
            return Err(ConfigError("ipv6_prefix must be between 32 and 128 (bits)".into()));
        }
        if !(0..=30 * 86_400).contains(&self.signing_key_lead_secs) {
            return Err(ConfigError("signing_key_lead_secs must be between 0 and 2592000 (30 days)".into()));
        }
        if !(1..=300).contains(&self.shutdown_grace_secs) {
            return Err(ConfigError("shutdown_grace_secs must be between 1 and 300".into()));
        }
        if self.max_connections_per_address > 1_000_000 {
            return Err(ConfigError("max_connections_per_address must be between 0 (derived) and 1000000".into()));
        }
        if self.max_connections > 10_000_000 || self.max_live_connections > 10_000_000 {
            return Err(ConfigError("max_connections and max_live_connections are at most 10000000".into()));
        }
        if !(self.web_push_contact.starts_with("mailto:") || self.web_push_contact.starts_with("https://")) {
            return Err(ConfigError("web_push_contact must be a mailto: or https:// address".into()));
        }
        let phone_chars = |c: char| c.is_ascii_digit() || " +-()".contains(c);
        if self.support_phone.len() > 32 || !self.support_phone.chars().all(phone_chars) {
            return Err(ConfigError(format!(
                "support_phone must be a phone number (digits, spaces, + - and parentheses, at most 32), not {:?}",
                self.support_phone
            )));
        }
        if !self.support_url.is_empty()
            && !url::Url::parse(&self.support_url).is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
        {
            return Err(ConfigError(format!("support_url must be an http(s) URL, not {:?}", self.support_url)));
        }
        if !self.database.is_empty()
            && !["sqlite:", "postgres:", "postgresql:"].iter().any(|p| self.database.starts_with(p))
        {
            return Err(ConfigError("database must start with sqlite:// or postgres://".into()));
        }
        if let Some(rest) = self.database.strip_prefix("sqlite:") {
            let rest = rest.strip_prefix("//").unwrap_or(rest);
            let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
            if path.is_empty() || path == ":memory:" || query.split('&').any(|p| p == "mode=memory") {
                return Err(ConfigError(format!(
                    "database {:?} names no file: an in-memory SQLite database loses every write; give a path \
                     (sqlite:///var/lib/noegle/noegle.sqlite) or leave database empty for DATA_DIR/noegle.sqlite",
                    self.database
                )));
            }
        }
        Ok(())
    }

    /// Checks the process's environment before it is read: a `NOEGLE_*` variable whose value is not UTF-8
    /// is an error naming it (it would otherwise count as unset, and a data directory fall back to its
    /// default); answers the `NOEGLE_*` variables no setting reads (misspelt, or from another version), for
    /// one warning at start.
    pub fn check_environment(
        vars: impl IntoIterator<Item = (std::ffi::OsString, std::ffi::OsString)>,
    ) -> Result<Vec<String>, ConfigError> {
        let mut unknown = Vec::new();
        for (name, value) in vars {
            let shown = name.to_string_lossy();
            if !shown.starts_with("NOEGLE_") {
                continue;
            }
            if value.to_str().is_none() {
                return Err(ConfigError(format!("{shown}: the value is not UTF-8 text")));
            }
            if !ENV_VARS.contains(&shown.as_ref()) && !TOOL_VARS.contains(&shown.as_ref()) {
                unknown.push(shown.into_owned());
            }
        }
        unknown.sort();
        Ok(unknown)
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

    /// The connection limits for a process that may hold `open_files` files: what is not configured is
    /// shared out of the limit less 128 kept for the database and files, a quarter to connections, the rest
    /// to live-channel streams; one address gets at most a quarter of the connections (derived: 256 or that
    /// quarter, whichever is less), so one client can never take them all. A configured per-address limit
    /// above that quarter is an error.
    pub fn limits(&self, open_files: u64) -> Result<crate::listener::Limits, ConfigError> {
        let budget = (open_files.saturating_sub(128) as usize).max(128);
        let connections = match self.max_connections {
            0 => (budget / 4).max(64),
            n => n,
        };
        let live = match self.max_live_connections {
            0 => budget.saturating_sub(connections).max(64),
            n => n,
        };
        let share = (connections / PER_ADDRESS_SHARE).max(1);
        let per_address = match self.max_connections_per_address {
            0 => share.min(DEFAULT_PER_ADDRESS),
            n if n > share => {
                return Err(ConfigError(format!(
                    "max_connections_per_address is {n}, but one address may hold at most a quarter of the {connections} \
                     connections this node holds (open-files limit {open_files}): set it to {share} or less, or 0, or \
                     raise the open-files limit (ulimit -n, systemd's LimitNOFILE) or max_connections; behind a \
                     proxy, name it in trusted_proxies instead"
                )));
            }
            n => n,
        };
        Ok(crate::listener::Limits {
            connections,
            per_address,
            live,
            header_timeout: std::time::Duration::from_secs(self.header_timeout_secs),
            shutdown_grace: std::time::Duration::from_secs(self.shutdown_grace_secs),
            exempt: self.trusted_proxies.clone(),
            ipv6_prefix: self.ipv6_prefix,
        })
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn environment_overrides_the_file_and_bad_values_are_refused() {
        let dir = std::env::temp_dir().join(format!("noegle-config-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("c.toml");
        std::fs::write(&file, "bind = \"127.0.0.1:9000\"\npublic_url = \"https://login.example/\"\n").unwrap();
        let c = Config::load(Some(&file), |k| (k == "NOEGLE_DATA_DIR").then(|| "/srv/n".into())).unwrap();
        assert_eq!(c.bind.port(), 9000);
        assert_eq!(c.public_url, "https://login.example");
        assert!(c.is_https());
        assert_eq!(c.database_url(), "sqlite:///srv/n/noegle.sqlite");

        std::fs::write(&file, "bnd = \"x\"\n").unwrap();
        let e = Config::load(Some(&file), |_| None).unwrap_err();
        assert!(e.0.contains("unknown field"), "{e}");
        let e = Config::load(None, |k| (k == "NOEGLE_BIND").then(|| "nope".into())).unwrap_err();
        assert!(e.0.contains("NOEGLE_BIND"), "{e}");
        let e = Config::load(None, |k| (k == "NOEGLE_DATABASE").then(|| "mysql://x".into())).unwrap_err();
        assert!(e.0.contains("database"), "{e}");
    }

    /// Issue 10: a setting with a fixed set of values is parsed once into its type; a wrong one stops the
    /// start with its name and the values it takes, never a silent default.
    #[test]
    fn fixed_choices_are_parsed_at_start() {
        let e = Config::load(None, |k| (k == "NOEGLE_MATCH_CODE").then(|| "maybe".into())).unwrap_err();
        assert_eq!(e.0, "NOEGLE_MATCH_CODE=maybe: must be type, show or off, not \"maybe\"");
        let e = Config::load(None, |k| (k == "NOEGLE_DEFAULT_LANGUAGE").then(|| "de".into())).unwrap_err();
        assert_eq!(e.0, "NOEGLE_DEFAULT_LANGUAGE=de: must be da or en, not \"de\"");
        let e = Config::parse("match_code = \"Show\"\n", |_| None).unwrap_err();
        assert!(e.0.contains("unknown variant `Show`, expected one of `type`, `show`, `off`"), "{e}");
        let c = Config::parse("match_code = \"show\"\ndefault_language = \"en\"\n", |_| None).unwrap();
        assert_eq!(
            (c.match_code, c.default_language),
            (noegle_core::request::MatchPolicy::Show, crate::i18n::Lang::En)
        );
    }

    #[test]
    fn tls_needs_both_files_and_an_https_url() {
        let e = Config::parse("tls_cert = \"/c.pem\"\n", |_| None).unwrap_err();
        assert!(e.0.contains("set both, or neither"), "{e}");
        let both = "tls_cert = \"/c.pem\"\ntls_key = \"/k.pem\"\n";
        let e = Config::parse(both, |_| None).unwrap_err();
        assert!(e.0.contains("public_url must be https://"), "{e}");
        let ok = Config::parse(&format!("{both}public_url = \"https://login.example\"\n"), |_| None).unwrap();
        assert_eq!(ok.tls_key.as_deref(), Some(Path::new("/k.pem")));
    }

    #[test]
    fn trusted_proxies_are_networks() {
        let c =
            Config::load(None, |k| (k == "NOEGLE_TRUSTED_PROXIES").then(|| "10.0.0.0/8, 127.0.0.1/32,::1/128".into()))
                .unwrap();
        assert_eq!(c.trusted_proxies.len(), 3);
        let e = Config::load(None, |k| (k == "NOEGLE_TRUSTED_PROXIES").then(|| "10.0.0.0/8,nginx".into())).unwrap_err();
        assert!(e.0.contains("NOEGLE_TRUSTED_PROXIES: \"nginx\""), "{e}");
        let c = Config::parse("trusted_proxies = [\"192.168.0.0/16\"]\n", |_| None).unwrap();
        assert_eq!(c.trusted_proxies, vec!["192.168.0.0/16".parse::<ipnet::IpNet>().unwrap()]);
        assert!(Config::parse("trusted_proxies = [\"192.168.0.0/33\"]\n", |_| None).is_err());
        for (net, says) in [
            ("0.0.0.0/0", "trusts every address"),
            ("::/0", "trusts every address"),
            ("::ffff:10.0.0.0/104", "as IPv4"),
        ] {
            let e = Config::parse(&format!("trusted_proxies = [\"{net}\"]\n"), |_| None).unwrap_err();
            assert!(e.0.contains(says), "{net}: {e}");
        }
    }

    #[test]
    fn the_support_contact_is_a_phone_number_and_a_web_address() {
        let env = |phone: &'static str, url: &'static str| {
            move |k: &str| match k {
                "NOEGLE_SUPPORT_PHONE" => Some(phone.to_string()),
                "NOEGLE_SUPPORT_URL" => Some(url.to_string()),
                _ => None,
            }
        };
        let c = Config::load(None, env("+45 70 20 70 20", "https://support.example/noegle")).unwrap();
        assert_eq!(
            (c.support_phone.as_str(), c.support_url.as_str()),
            ("+45 70 20 70 20", "https://support.example/noegle")
        );
        for (phone, url, field) in [
            ("ring 7020", "", "support_phone"),
            ("1".repeat(33).leak() as &str, "", "support_phone"),
            ("", "javascript:alert(1)", "support_url"),
            ("", "support.example", "support_url"),
        ] {
            let e = Config::load(None, env(phone, url)).unwrap_err();
            assert!(e.0.contains(field), "{phone:?} {url:?}: {e}");
        }
    }

    /// Issue 17, finding 7: nothing falls back silently — a value that is not UTF-8 names its variable
    /// (before, it counted as unset), a misspelt variable is named, and every variable a setting reads is in
    /// the list of known ones.
    #[test]
    fn the_environment_is_checked_before_it_is_read() {
        use std::ffi::OsString;
        use std::os::unix::ffi::OsStringExt;
        let var = |k: &str, v: &str| (OsString::from(k), OsString::from(v));
        let bad = (OsString::from("NOEGLE_DATA_DIR"), OsString::from_vec(vec![b'/', 0xff, b'x']));
        let e = Config::check_environment([var("NOEGLE_BIND", "127.0.0.1:1"), bad]).unwrap_err();
        assert_eq!(e.0, "NOEGLE_DATA_DIR: the value is not UTF-8 text");
        let unknown = Config::check_environment([
            var("NOEGLE_DATA_DIRR", "/srv"),
            var("NOEGLE_BIND", "127.0.0.1:1"),
            var("NOEGLE_TEST_POSTGRES", "postgres://x"),
            var("PATH", "/bin"),
            var("NOEGLE_GUESSES", "3"),
        ])
        .unwrap();
        assert_eq!(unknown, ["NOEGLE_DATA_DIRR", "NOEGLE_GUESSES"]);
        // Every `env("NOEGLE_…")` this file reads is known, and every known one is read.
        let source = include_str!("config.rs");
        let read: Vec<&str> = source
            .split("env(\"")
            .chain(source.split("parsed(&env, \""))
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .filter(|name| {
                name.starts_with("NOEGLE_")
                    && name.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
            })
            .collect();
        for name in &read {
            assert!(ENV_VARS.contains(name), "{name} is read but not in ENV_VARS");
        }
        for name in ENV_VARS.iter().filter(|n| **n != "NOEGLE_CONFIG") {
            assert!(read.contains(name), "{name} is in ENV_VARS but never read");
        }
    }

    /// Issue 17, finding 7: `sqlite://` (or an in-memory database) would lose every write.
    #[test]
    fn a_sqlite_database_names_a_file() {
        for url in ["sqlite://", "sqlite:", "sqlite::memory:", "sqlite://:memory:", "sqlite://x.db?mode=memory"] {
            let e = Config::load(None, |k| (k == "NOEGLE_DATABASE").then(|| url.into())).unwrap_err();
            assert!(e.0.contains("names no file"), "{url}: {e}");
        }
        let c = Config::load(None, |k| (k == "NOEGLE_DATABASE").then(|| "sqlite:///srv/n.db?mode=rwc".into())).unwrap();
        assert_eq!(c.database_url(), "sqlite:///srv/n.db?mode=rwc");
    }

    /// Issue 17, finding 8: under a 1,024 open-files limit the node holds 224 connections; one address may
    /// hold a quarter of them (56), not 256 (which was more than all of them); more is refused at start.
    #[test]
    fn one_address_holds_at_most_a_quarter_of_the_connections() {
        let limits = Config::default().limits(1024).unwrap();
        assert_eq!((limits.connections, limits.per_address), (224, 56));
        let limits = Config::default().limits(1 << 20).unwrap();
        assert_eq!(limits.per_address, 256, "256 where the limit allows");
        let c = Config::load(None, |k| (k == "NOEGLE_MAX_CONNECTIONS_PER_ADDRESS").then(|| "100".into())).unwrap();
        let e = c.limits(1024).unwrap_err();
        assert!(e.0.contains("max_connections_per_address is 100") && e.0.contains("set it to 56 or less"), "{e}");
        assert_eq!(c.limits(4096).unwrap().per_address, 100);
        let c = Config { max_connections: 8, ..Config::default() };
        assert_eq!(c.limits(1024).unwrap().per_address, 2);
    }

    #[test]
    fn forwarding_header_ipv6_prefix_and_body_timeout_are_checked() {
        let env = |k: &'static str, v: &'static str| move |name: &str| (name == k).then(|| v.to_string());
        let c = Config::load(None, env("NOEGLE_FORWARDED_HEADER", "forwarded")).unwrap();
        assert_eq!(c.forwarded_header, crate::client_addr::ForwardedHeader::Forwarded);
        let e = Config::load(None, env("NOEGLE_FORWARDED_HEADER", "x-real-ip")).unwrap_err();
        assert_eq!(e.0, "NOEGLE_FORWARDED_HEADER=x-real-ip: must be x-forwarded-for or forwarded, not \"x-real-ip\"");
        assert!(Config::parse("forwarded_header = \"X-Forwarded-For\"\n", |_| None).is_err());
        assert_eq!(Config::load(None, env("NOEGLE_IPV6_PREFIX", "56")).unwrap().ipv6_prefix, 56);
        for bad in ["16", "129"] {
            let e = Config::parse(&format!("ipv6_prefix = {bad}\n"), |_| None).unwrap_err();
            assert!(e.0.contains("ipv6_prefix must be between 32 and 128"), "{e}");
        }
        let e = Config::load(None, env("NOEGLE_BODY_TIMEOUT_SECS", "0")).unwrap_err();
        assert!(e.0.contains("body_timeout_secs"), "{e}");
    }

    #[test]
    fn the_example_file_lists_the_defaults() {
        let example = include_str!("../../../noegle.example.toml");
        let parsed: Config = toml::from_str(example).unwrap();
        assert_eq!(parsed, Config::default());
    }
}
