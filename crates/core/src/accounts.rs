//! Operator actions on users, key cards and clients: create, set password, block and unblock, block a key
//! card, register clients.

use crate::SecureRng;
use crate::audit::AuditKind;
use crate::keycard::{CardStatus, display_serial};
use crate::oidc::{Client, validate_redirect_uri};
use crate::password::{self, PasswordError};
use crate::secret::{random_token, token_digest};
use crate::store::StoreError;
use crate::user::{User, UserId, UserIdError, validate_display_name};
use crate::{CardSerial, ClientId, Ctx};

/// Why an operator action failed.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// Bad user ID.
    #[error("invalid user ID: {0}")]
    UserId(#[from] UserIdError),
    /// Bad password.
    #[error("invalid password: {0}")]
    Password(#[from] PasswordError),
    /// Bad name, redirect URI or other field.
    #[error("{0}")]
    Invalid(String),
    /// No such user or client.
    #[error("{0} not found")]
    NotFound(String),
    /// Already exists.
    #[error("{0} already exists")]
    Exists(String),
    /// Storage failed.
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for AccountError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(what) => AccountError::Exists(what),
            e => AccountError::Store(e),
        }
    }
}

/// Creates a user; the display name defaults to the user ID.
pub async fn create_user(
    ctx: Ctx<'_>,
    rng: &mut dyn SecureRng,
    user_id: &str,
    display_name: Option<&str>,
    password: &str,
) -> Result<User, AccountError> {
    let user_id = UserId::parse(user_id)?;
    let display_name =
        validate_display_name(display_name.unwrap_or(user_id.as_str())).map_err(|e| AccountError::Invalid(e.into()))?;
    let password_hash = password::hash(password, rng)?;
    let user = User {
        sub: format!("u-{}", random_token(rng, 16)),
        user_id,
        display_name,
        password_hash,
        blocked: false,
        failed_attempts: 0,
        last_failure_at: None,
        created_at: ctx.now,
    };
    ctx.store.insert_user(&user).await.map_err(|e| match e {
        StoreError::Conflict(_) => AccountError::Exists(format!("user {}", user.user_id)),
        e => AccountError::Store(e),
    })?;
    ctx.audit(AuditKind::UserCreated, Some(user.user_id.as_str()), serde_json::Value::Null).await?;
    Ok(user)
}

/// Finds a user by user ID.
pub async fn find_user(ctx: Ctx<'_>, user_id: &str) -> Result<User, AccountError> {
    let id = UserId::parse(user_id)?;
    ctx.store.user_by_user_id(&id).await?.ok_or_else(|| AccountError::NotFound(format!("user {id}")))
}

/// Sets a new password.
pub async fn set_password(
    ctx: Ctx<'_>,
    rng: &mut dyn SecureRng,
    user_id: &str,
    password: &str,
) -> Result<(), AccountError> {
    let user = find_user(ctx, user_id).await?;
    let hash = password::hash(password, rng)?;
    ctx.store.set_password_hash(&user.sub, &hash).await?;
    ctx.audit(AuditKind::PasswordSet, Some(user.user_id.as_str()), serde_json::Value::Null).await?;
    Ok(())
}

/// Blocks or unblocks a user; unblocking also clears the failure counter (ends a lockout).
pub async fn set_blocked(ctx: Ctx<'_>, user_id: &str, blocked: bool) -> Result<User, AccountError> {
    let user = find_user(ctx, user_id).await?;
    ctx.store.set_blocked(&user.sub, blocked).await?;
    let kind = if blocked { AuditKind::UserBlocked } else { AuditKind::UserUnblocked };
    ctx.audit(kind, Some(user.user_id.as_str()), serde_json::Value::Null).await?;
    find_user(ctx, user_id).await
}

/// Blocks a key card (`serial` with or without its dashes) for good, whatever its state, and records who
/// owned it; refused for an unknown card and for one already blocked. Answers the serial without dashes.
pub async fn block_card(ctx: Ctx<'_>, serial: &str) -> Result<CardSerial, AccountError> {
    let serial = CardSerial::from(serial.chars().filter(|c| *c != '-').collect::<String>());
    let card = ctx.store.card(&serial).await?.ok_or_else(|| AccountError::NotFound(format!("key card {serial}")))?;
    // One compare-and-set from the state read: a card that changed meanwhile is refused, not overwritten.
    if card.status == CardStatus::Blocked
        || !ctx.store.set_card_status(&serial, card.status, CardStatus::Blocked).await?
    {
        let status = card.status.as_str();
        return Err(AccountError::Invalid(format!("key card {} is already {status}", display_serial(serial.as_str()))));
    }
    let owner = ctx.store.user_by_sub(&card.sub).await?.map(|u| u.user_id.to_string());
    ctx.audit(AuditKind::KeyCardBlocked, owner.as_deref(), serde_json::json!({ "serial": serial })).await?;
    Ok(serial)
}

/// A new client and, for a confidential one, its secret (shown once).
#[derive(Debug, Clone, serde::Serialize)]
pub struct NewClient {
    /// The client.
    #[serde(flatten)]
    pub client: Client,
    /// The secret; `None` for a public client.
    pub client_secret: Option<String>,
}

/// Registers a client with exact redirect URIs; public clients get no secret and must use PKCE.
pub async fn add_client(
    ctx: Ctx<'_>,
    rng: &mut dyn SecureRng,
    name: &str,
    redirect_uris: &[String],
    public: bool,
) -> Result<NewClient, AccountError> {
    let name = validate_display_name(name).map_err(|e| AccountError::Invalid(format!("client name: {e}")))?;
    if redirect_uris.is_empty() {
        return Err(AccountError::Invalid("at least one --redirect-uri is required".into()));
    }
    let redirect_uris = redirect_uris
        .iter()
        .map(|u| validate_redirect_uri(u))
        .collect::<Result<Vec<_>, _>>()
        .map_err(AccountError::Invalid)?;
    let secret = (!public).then(|| random_token(rng, 32));
    let client = Client {
        client_id: ClientId::from(format!("c-{}", random_token(rng, 12))),
        name,
        secret_digest: secret.as_deref().map(token_digest),
        redirect_uris,
        created_at: ctx.now,
    };
    ctx.store.insert_client(&client).await?;
    ctx.audit(AuditKind::ClientAdded, None, serde_json::json!({ "client_id": client.client_id, "name": client.name }))
        .await?;
    Ok(NewClient { client, client_secret: secret })
}

/// Removes a client.
pub async fn remove_client(ctx: Ctx<'_>, client_id: &ClientId) -> Result<(), AccountError> {
    if !ctx.store.remove_client(client_id).await? {
        return Err(AccountError::NotFound(format!("client {client_id}")));
    }
    ctx.audit(AuditKind::ClientRemoved, None, serde_json::json!({ "client_id": client_id })).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::World;
    use crate::store::{AuditStore, KeyCardStore};

    #[tokio::test]
    async fn an_operator_blocks_a_card_once_with_or_without_dashes_and_the_owner_is_audited() {
        let w = World::new().await;
        let dashed = display_serial(w.card.serial.as_str());
        assert_eq!(block_card(w.ctx(), &dashed).await.unwrap(), w.card.serial);
        let card = w.store.card(&w.card.serial).await.unwrap().unwrap();
        assert_eq!(card.status, CardStatus::Blocked);
        let last = w.store.audit(None, 1).await.unwrap().pop().unwrap();
        assert_eq!((last.kind.as_str(), last.user.as_deref()), ("keycard_blocked", Some("alice")));
        let again = block_card(w.ctx(), w.card.serial.as_str()).await.unwrap_err().to_string();
        assert_eq!(again, format!("key card {dashed} is already blocked"));
    }

    #[tokio::test]
    async fn an_unknown_card_is_not_found_and_nothing_is_audited() {
        let w = World::new().await;
        let before = w.audit_kinds().await;
        let e = block_card(w.ctx(), "0000-0000-0000").await.unwrap_err();
        assert!(matches!(e, AccountError::NotFound(ref what) if what == "key card 000000000000"), "{e:?}");
        assert_eq!(w.audit_kinds().await, before);
    }
}
