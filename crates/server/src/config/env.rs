//! The `NOEGLE_*` environment: which variables a setting reads, how they override the file, and the check
//! of the process's environment before it is read.

use super::{Config, ConfigError};

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
    pub(super) fn with_env(mut config: Config, env: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
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
}
