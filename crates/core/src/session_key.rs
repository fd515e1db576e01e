//! What the session store holds, by kind: one typed key per kind of short-lived entry, so no caller builds
//! a key by hand and no two kinds can meet under one key.
//!
//! Secrets handed to a client (a cookie id, a ticket, an app session, a reset token) are kept only under
//! their digest; entries that belong to one device (a ceremony in progress) are kept under its id.

use crate::records::ids::DeviceId;
use crate::secret::token_digest;

/// The key of one session-store entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SessionKey {
    /// A log-in box session, under the digest of its cookie id.
    LoginBox(String),
    /// A key app's log-in ticket (password checked, key asked), under its digest.
    Ticket(String),
    /// A device's OPAQUE login between its two steps.
    CodeLogin(String),
    /// An unlocked app's session, under its digest.
    AppSession(String),
    /// A "Glemt kode" proof allowing one new code, under its digest.
    CodeReset(String),
    /// A device's fingerprint registration between its two steps.
    FingerprintRegistration(String),
    /// A device's fingerprint unlock between its two steps.
    FingerprintLogin(String),
}

impl SessionKey {
    /// The log-in box session of the cookie id `id`.
    pub fn login_box(id: &str) -> SessionKey {
        SessionKey::LoginBox(token_digest(id))
    }
    /// The entry of the log-in ticket `ticket`.
    pub fn ticket(ticket: &str) -> SessionKey {
        SessionKey::Ticket(token_digest(ticket))
    }
    /// The OPAQUE login in progress of the device `device_id`.
    pub fn code_login(device_id: &DeviceId) -> SessionKey {
        SessionKey::CodeLogin(device_id.to_string())
    }
    /// The app session of the token `token`.
    pub fn app_session(token: &str) -> SessionKey {
        SessionKey::AppSession(token_digest(token))
    }
    /// The forgot-code proof `token`.
    pub fn code_reset(token: &str) -> SessionKey {
        SessionKey::CodeReset(token_digest(token))
    }
    /// The fingerprint registration in progress of the device `device_id`.
    pub fn fingerprint_registration(device_id: &DeviceId) -> SessionKey {
        SessionKey::FingerprintRegistration(device_id.to_string())
    }
    /// The fingerprint unlock in progress of the device `device_id`.
    pub fn fingerprint_login(device_id: &DeviceId) -> SessionKey {
        SessionKey::FingerprintLogin(device_id.to_string())
    }

    /// The key as stored. The log-in box's sessions have no prefix (they came first); the others' prefixes
    /// are what earlier versions stored, so entries live across an upgrade.
    pub fn id(&self) -> String {
        match self {
            SessionKey::LoginBox(d) => d.clone(),
            SessionKey::Ticket(d) => format!("t:{d}"),
            SessionKey::CodeLogin(d) => format!("o:{d}"),
            SessionKey::AppSession(d) => format!("a:{d}"),
            SessionKey::CodeReset(d) => format!("r:{d}"),
            SessionKey::FingerprintRegistration(d) => format!("wr:{d}"),
            SessionKey::FingerprintLogin(d) => format!("wa:{d}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_never_share_a_key_and_secrets_are_kept_only_as_digests() {
        let keys = [
            SessionKey::login_box("x"),
            SessionKey::ticket("x"),
            SessionKey::code_login(&"x".into()),
            SessionKey::app_session("x"),
            SessionKey::code_reset("x"),
            SessionKey::fingerprint_registration(&"x".into()),
            SessionKey::fingerprint_login(&"x".into()),
        ];
        let ids: std::collections::HashSet<String> = keys.iter().map(SessionKey::id).collect();
        assert_eq!(ids.len(), keys.len());
        for secret in [SessionKey::login_box("x"), SessionKey::ticket("x"), SessionKey::app_session("x")] {
            assert!(!secret.id().ends_with(":x") && secret.id() != "x", "{secret:?}");
        }
    }
}
