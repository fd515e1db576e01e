//! The check of every setting at start-up.

use super::{Config, ConfigError};

impl Config {
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
}
