//! The audit trail: an append-only record of every security event (who, what, when, from where).

use serde::Serialize;

use crate::UnixTime;

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum AuditKind {
    UserCreated,
    UserBlocked,
    UserUnblocked,
    PasswordSet,
    PasswordAccepted,
    PasswordRejected,
    KeyAccepted,
    KeyRejected,
    AttemptThrottled,
    AttemptWhileLocked,
    AccountLocked,
    LoginSucceeded,
    KeyCardIssued,
    KeyCardBlocked,
    KeyCardSuperseded,
    ClientAdded,
    ClientRemoved,
    /// `noegle keys rotate` added an ID-token signing key.
    SigningKeyAdded,
    CodeIssued,
    CodeReused,
    TokenIssued,
    TokenRefused,
    DeviceActivationStarted,
    DeviceActivated,
    DeviceCancelled,
    DeviceRevoked,
    RequestApproved,
    RequestRejected,
    MatchCodeRejected,
    NotMeAlert,
    AppCodeSet,
    AppCodeRejected,
    AppCodeReset,
    FingerprintSet,
    FingerprintRemoved,
    FingerprintRejected,
}

impl AuditKind {
    /// The stored name, e.g. `password_rejected`.
    pub fn as_str(self) -> &'static str {
        use AuditKind::*;
        match self {
            UserCreated => "user_created",
            UserBlocked => "user_blocked",
            UserUnblocked => "user_unblocked",
            PasswordSet => "password_set",
            PasswordAccepted => "password_accepted",
            PasswordRejected => "password_rejected",
            KeyAccepted => "key_accepted",
            KeyRejected => "key_rejected",
            AttemptThrottled => "attempt_throttled",
            AttemptWhileLocked => "attempt_while_locked",
            AccountLocked => "account_locked",
            LoginSucceeded => "login_succeeded",
            KeyCardIssued => "keycard_issued",
            KeyCardBlocked => "keycard_blocked",
            KeyCardSuperseded => "keycard_superseded",
            ClientAdded => "client_added",
            ClientRemoved => "client_removed",
            SigningKeyAdded => "signing_key_added",
            CodeIssued => "code_issued",
            CodeReused => "code_reused",
            TokenIssued => "token_issued",
            TokenRefused => "token_refused",
            DeviceActivationStarted => "device_activation_started",
            DeviceActivated => "device_activated",
            DeviceCancelled => "device_cancelled",
            AppCodeReset => "app_code_reset",
            DeviceRevoked => "device_revoked",
            RequestApproved => "request_approved",
            RequestRejected => "request_rejected",
            MatchCodeRejected => "match_code_rejected",
            NotMeAlert => "not_me_alert",
            AppCodeSet => "app_code_set",
            AppCodeRejected => "app_code_rejected",
            FingerprintSet => "fingerprint_set",
            FingerprintRemoved => "fingerprint_removed",
            FingerprintRejected => "fingerprint_rejected",
        }
    }
}

/// One event, before it is stored.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AuditEvent {
    /// When.
    pub at: UnixTime,
    /// What.
    pub kind: AuditKind,
    /// Whose account, as typed or known (a user ID, or `None`).
    pub user: Option<String>,
    /// From where: the client's address, or `cli` for an operator command.
    pub source: Option<String>,
    /// Further facts (client id, card serial, …); never a secret.
    pub detail: serde_json::Value,
}

impl AuditEvent {
    /// An event with no detail.
    pub fn new(at: UnixTime, kind: AuditKind, user: Option<&str>, source: Option<&str>) -> Self {
        AuditEvent {
            at,
            kind,
            user: user.map(str::to_string),
            source: source.map(str::to_string),
            detail: serde_json::Value::Null,
        }
    }

    /// Adds detail.
    pub fn with(mut self, detail: serde_json::Value) -> Self {
        self.detail = detail;
        self
    }
}

/// A stored event, as read back.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AuditRecord {
    /// Position in the trail.
    pub id: i64,
    /// When.
    pub at: UnixTime,
    /// What (stored name).
    pub kind: String,
    /// Whose account.
    pub user: Option<String>,
    /// From where.
    pub source: Option<String>,
    /// Further facts.
    pub detail: serde_json::Value,
}
