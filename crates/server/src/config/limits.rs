//! The connection limits a node derives from its settings and its open-files limit.

use super::{Config, ConfigError};

/// One address holds at most this fraction (1/n) of a node's connections.
const PER_ADDRESS_SHARE: usize = 4;
/// Connections one address holds when the operator does not say (and the share allows).
const DEFAULT_PER_ADDRESS: usize = 256;

impl Config {
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
}
