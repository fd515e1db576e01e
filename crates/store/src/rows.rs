//! The rows the store reads, as sqlx decodes them on either backend, and their conversion into the
//! domain's records (where a stored text must parse, a bad one is a decode error, never a default).

use noegle_core::audit::AuditRecord;
use noegle_core::device::{Device, DeviceStatus, Platform, RevokedBy};
use noegle_core::keycard::{CardStatus, KeyCard};
use noegle_core::oidc::{AccessToken, Amr, AuthCode, Client, Scope};
use noegle_core::request::{AuthRequest, RequestState};
use noegle_core::user::{User, UserId};
use noegle_core::{DeviceId, UnixTime};

/// A stored value that does not parse.
fn bad(what: &str, value: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("unknown {what} {value:?}").into())
}

/// A stored scope (`openid` or `openid profile`).
fn scope(s: String) -> Result<Scope, sqlx::Error> {
    Scope::try_from(s).map_err(|e| sqlx::Error::Decode(e.into()))
}

/// A `users` row.
#[derive(sqlx::FromRow)]
pub(crate) struct UserRow {
    sub: String,
    user_id: String,
    display_name: String,
    password_hash: String,
    blocked: bool,
    failed_attempts: i64,
    last_failure_at: Option<i64>,
    created_at: i64,
}

impl TryFrom<UserRow> for User {
    type Error = sqlx::Error;
    fn try_from(r: UserRow) -> Result<User, sqlx::Error> {
        Ok(User {
            sub: r.sub,
            user_id: UserId::parse(&r.user_id).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
            display_name: r.display_name,
            password_hash: r.password_hash,
            blocked: r.blocked,
            failed_attempts: r.failed_attempts,
            last_failure_at: r.last_failure_at.map(UnixTime),
            created_at: UnixTime(r.created_at),
        })
    }
}

/// A `key_cards` row with its count of unused keys.
#[derive(sqlx::FromRow)]
pub(crate) struct CardRow {
    serial: String,
    sub: String,
    status: String,
    issued_at: i64,
    unused: i64,
}

impl TryFrom<CardRow> for KeyCard {
    type Error = sqlx::Error;
    fn try_from(r: CardRow) -> Result<KeyCard, sqlx::Error> {
        Ok(KeyCard {
            status: CardStatus::parse(&r.status).ok_or_else(|| bad("card status", &r.status))?,
            serial: r.serial.into(),
            sub: r.sub,
            issued_at: UnixTime(r.issued_at),
            unused: r.unused,
        })
    }
}

/// A `clients` row.
#[derive(sqlx::FromRow)]
pub(crate) struct ClientRow {
    client_id: String,
    name: String,
    secret_digest: Option<String>,
    redirect_uris: String,
    created_at: i64,
}

impl TryFrom<ClientRow> for Client {
    type Error = sqlx::Error;
    fn try_from(r: ClientRow) -> Result<Client, sqlx::Error> {
        Ok(Client {
            client_id: r.client_id.into(),
            name: r.name,
            secret_digest: r.secret_digest,
            redirect_uris: serde_json::from_str(&r.redirect_uris).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
            created_at: UnixTime(r.created_at),
        })
    }
}

/// An `auth_codes` row.
#[derive(sqlx::FromRow)]
pub(crate) struct CodeRow {
    code_digest: String,
    client_id: String,
    redirect_uri: String,
    sub: String,
    scope: String,
    nonce: Option<String>,
    code_challenge: Option<String>,
    amr: String,
    auth_time: i64,
    expires_at: i64,
    used_at: Option<i64>,
}

impl TryFrom<CodeRow> for AuthCode {
    type Error = sqlx::Error;
    fn try_from(r: CodeRow) -> Result<AuthCode, sqlx::Error> {
        Ok(AuthCode {
            code_digest: r.code_digest,
            client_id: r.client_id.into(),
            redirect_uri: r.redirect_uri,
            sub: r.sub,
            scope: scope(r.scope)?,
            nonce: r.nonce,
            code_challenge: r.code_challenge,
            amr: r
                .amr
                .split_whitespace()
                .map(|a| Amr::parse(a).ok_or_else(|| bad("amr", a)))
                .collect::<Result<_, _>>()?,
            auth_time: UnixTime(r.auth_time),
            expires_at: UnixTime(r.expires_at),
            used: r.used_at.is_some(),
        })
    }
}

/// An `access_tokens` row.
#[derive(sqlx::FromRow)]
pub(crate) struct TokenRow {
    token_digest: String,
    sub: String,
    client_id: String,
    scope: String,
    code_digest: String,
    expires_at: i64,
    revoked: bool,
}

impl TryFrom<TokenRow> for AccessToken {
    type Error = sqlx::Error;
    fn try_from(r: TokenRow) -> Result<AccessToken, sqlx::Error> {
        Ok(AccessToken {
            token_digest: r.token_digest,
            sub: r.sub,
            client_id: r.client_id.into(),
            scope: scope(r.scope)?,
            code_digest: r.code_digest,
            expires_at: UnixTime(r.expires_at),
            revoked: r.revoked,
        })
    }
}

/// A `devices` row.
#[derive(sqlx::FromRow)]
pub(crate) struct DeviceRow {
    device_id: String,
    serial: String,
    sub: String,
    public_key: Vec<u8>,
    platform: String,
    os_version: String,
    name: String,
    status: String,
    created_at: i64,
    second_login_from: i64,
    cooling_off_until: Option<i64>,
    expires_at: i64,
    activated_at: Option<i64>,
    revoked_by: Option<String>,
}

impl TryFrom<DeviceRow> for Device {
    type Error = sqlx::Error;
    fn try_from(r: DeviceRow) -> Result<Device, sqlx::Error> {
        Ok(Device {
            status: DeviceStatus::parse(&r.status).ok_or_else(|| bad("device status", &r.status))?,
            device_id: r.device_id.into(),
            serial: r.serial,
            sub: r.sub,
            public_key: r.public_key,
            platform: Platform::parse(&r.platform).ok_or_else(|| bad("platform", &r.platform))?,
            os_version: r.os_version,
            name: r.name,
            created_at: UnixTime(r.created_at),
            second_login_from: UnixTime(r.second_login_from),
            cooling_off_until: r.cooling_off_until.map(UnixTime),
            expires_at: UnixTime(r.expires_at),
            activated_at: r.activated_at.map(UnixTime),
            revoked_by: match r.revoked_by.as_deref() {
                Some(by) => Some(RevokedBy::parse(by).ok_or_else(|| bad("revoker", by))?),
                None => None,
            },
        })
    }
}

/// An `auth_requests` row.
#[derive(sqlx::FromRow)]
pub(crate) struct RequestRow {
    request_id: String,
    sub: String,
    client_id: String,
    client_name: String,
    action: String,
    match_code: String,
    nonce: String,
    state: String,
    created_at: i64,
    expires_at: i64,
    decided_at: Option<i64>,
    decided_by: Option<String>,
    decided_with: Option<String>,
}

impl TryFrom<RequestRow> for AuthRequest {
    type Error = sqlx::Error;
    fn try_from(r: RequestRow) -> Result<AuthRequest, sqlx::Error> {
        Ok(AuthRequest {
            state: RequestState::parse(&r.state).ok_or_else(|| bad("request state", &r.state))?,
            request_id: r.request_id.into(),
            sub: r.sub,
            client_id: r.client_id.into(),
            client_name: r.client_name,
            action: r.action,
            match_code: r.match_code,
            nonce: r.nonce,
            created_at: UnixTime(r.created_at),
            expires_at: UnixTime(r.expires_at),
            decided_at: r.decided_at.map(UnixTime),
            decided_by: r.decided_by.map(DeviceId::from),
            decided_with: r.decided_with,
        })
    }
}

/// An `audit_log` row.
#[derive(sqlx::FromRow)]
pub(crate) struct AuditRow {
    id: i64,
    at: i64,
    kind: String,
    user_id: Option<String>,
    source: Option<String>,
    detail: String,
}

impl TryFrom<AuditRow> for AuditRecord {
    type Error = sqlx::Error;
    fn try_from(r: AuditRow) -> Result<AuditRecord, sqlx::Error> {
        Ok(AuditRecord {
            id: r.id,
            at: UnixTime(r.at),
            kind: r.kind,
            user: r.user_id,
            source: r.source,
            detail: serde_json::from_str(&r.detail).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
        })
    }
}
