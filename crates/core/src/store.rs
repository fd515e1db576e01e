//! The storage the domain needs, as traits; `noegle-store` implements them on SQLite and PostgreSQL.
//!
//! Every single-use consume (a key-card key, an authorization code) is one compare-and-set in the database:
//! of two concurrent calls exactly one sees `true`. Storage failures are errors, never "not found".

use async_trait::async_trait;

use crate::UnixTime;
use crate::audit::{AuditEvent, AuditRecord};
use crate::keycard::{CardStatus, KeyCard, StoredKey};
use crate::records::device::{ActivateOutcome, Device, DeviceStatus, RevokedBy};
use crate::records::ids::{CardSerial, ClientId, DeviceId, RequestId};
use crate::records::oidc::{AccessToken, AuthCode, Client};
use crate::records::request::{AuthRequest, RequestState};
use crate::session_key::SessionKey;
use crate::user::{User, UserId};

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A row with the same key exists.
    #[error("already exists: {0}")]
    Conflict(String),
    /// The database failed or could not be reached.
    #[error("database error: {0}")]
    Backend(String),
}

/// Result of a store call.
pub type StoreResult<T> = Result<T, StoreError>;

/// Users and their failure counters.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Adds a user; [`StoreError::Conflict`] when the user ID is taken.
    async fn insert_user(&self, user: &User) -> StoreResult<()>;
    /// The user with this user ID.
    async fn user_by_user_id(&self, user_id: &UserId) -> StoreResult<Option<User>>;
    /// The user with this `sub`.
    async fn user_by_sub(&self, sub: &str) -> StoreResult<Option<User>>;
    /// Replaces the password hash; false when there is no such user.
    async fn set_password_hash(&self, sub: &str, hash: &str) -> StoreResult<bool>;
    /// Blocks or unblocks; unblocking also clears the failure counter. False when there is no such user.
    async fn set_blocked(&self, sub: &str, blocked: bool) -> StoreResult<bool>;
    /// Adds one failure atomically and answers the new count.
    async fn record_failure(&self, sub: &str, at: UnixTime) -> StoreResult<i64>;
    /// Clears the failure counter (after a complete login).
    async fn reset_failures(&self, sub: &str) -> StoreResult<()>;
}

/// Key cards and their keys.
#[async_trait]
pub trait KeyCardStore: Send + Sync {
    /// Stores a new card with its key digests, in one transaction.
    async fn insert_card(&self, card: &KeyCard, keys: &[StoredKey]) -> StoreResult<()>;
    /// Every card of a user, with its count of unused keys.
    async fn cards_of(&self, sub: &str) -> StoreResult<Vec<KeyCard>>;
    /// One card.
    async fn card(&self, serial: &CardSerial) -> StoreResult<Option<KeyCard>>;
    /// The numbers of a card's unused keys.
    async fn unused_key_numbers(&self, serial: &CardSerial) -> StoreResult<Vec<String>>;
    /// The digest of an unused key, `None` if the number is unknown or already used.
    async fn unused_key_digest(&self, serial: &CardSerial, number: &str) -> StoreResult<Option<Vec<u8>>>;
    /// Marks a key used if it was unused: the single compare-and-set that makes a key single-use.
    async fn consume_key(&self, serial: &CardSerial, number: &str, at: UnixTime) -> StoreResult<bool>;
    /// [`consume_key`](Self::consume_key) and the audit `event` that records it, in one transaction: after a
    /// crash either both are stored or neither.
    async fn consume_key_audited(
        &self,
        serial: &CardSerial,
        number: &str,
        at: UnixTime,
        event: &AuditEvent,
    ) -> StoreResult<bool>;
    /// Changes a card's status if it is currently `from`; true when it changed.
    async fn set_card_status(&self, serial: &CardSerial, from: CardStatus, to: CardStatus) -> StoreResult<bool>;
}

/// Registered clients.
#[async_trait]
pub trait ClientStore: Send + Sync {
    /// Registers a client.
    async fn insert_client(&self, client: &Client) -> StoreResult<()>;
    /// One client.
    async fn client(&self, client_id: &ClientId) -> StoreResult<Option<Client>>;
    /// Every client, oldest first.
    async fn clients(&self) -> StoreResult<Vec<Client>>;
    /// Removes a client and its tokens; false when there was none.
    async fn remove_client(&self, client_id: &ClientId) -> StoreResult<bool>;
}

/// Authorization codes and access tokens.
#[async_trait]
pub trait GrantStore: Send + Sync {
    /// Stores a new code.
    async fn insert_code(&self, code: &AuthCode) -> StoreResult<()>;
    /// One code, used or not.
    async fn code(&self, code_digest: &str) -> StoreResult<Option<AuthCode>>;
    /// Marks a code used if it was unused (compare-and-set); true for the one call that did.
    async fn mark_code_used(&self, code_digest: &str, at: UnixTime) -> StoreResult<bool>;
    /// Stores an access token.
    async fn insert_access_token(&self, token: &AccessToken) -> StoreResult<()>;
    /// One access token.
    async fn access_token(&self, token_digest: &str) -> StoreResult<Option<AccessToken>>;
    /// Revokes every token issued for a code; answers how many.
    async fn revoke_tokens_of_code(&self, code_digest: &str) -> StoreResult<u64>;
}

/// Server-side browser sessions, keyed by the digest of the cookie value.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Stores or replaces a session.
    async fn put_session(&self, key: &SessionKey, data: &str, expires_at: UnixTime) -> StoreResult<()>;
    /// A session that has not expired at `now`.
    async fn session(&self, key: &SessionKey, now: UnixTime) -> StoreResult<Option<String>>;
    /// Moves a session to a new id with new data, in one statement; false if there was none under `old`.
    async fn rotate_session(
        &self,
        old: &SessionKey,
        new: &SessionKey,
        data: &str,
        expires_at: UnixTime,
    ) -> StoreResult<bool>;
    /// Deletes a session.
    async fn delete_session(&self, key: &SessionKey) -> StoreResult<()>;
    /// Deletes a live session and answers its data, in one statement: of concurrent takers only one gets it.
    async fn take_session(&self, key: &SessionKey, now: UnixTime) -> StoreResult<Option<String>>;
    /// Removes expired sessions, request nonces older than `nonces_before` and the guess counts of past
    /// minutes; answers how many rows went.
    async fn purge_expired(&self, now: UnixTime, nonces_before: UnixTime) -> StoreResult<u64>;
}

/// The append-only audit trail.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends an event.
    async fn append_audit(&self, event: &AuditEvent) -> StoreResult<()>;
    /// The newest `limit` events, optionally of one user, oldest first.
    async fn audit(&self, user: Option<&str>, limit: i64) -> StoreResult<Vec<AuditRecord>>;
}

/// Key-app devices and the nonces of their signed requests.
#[async_trait]
pub trait DeviceStore: Send + Sync {
    /// Records a new (pending) device.
    async fn insert_device(&self, device: &Device) -> StoreResult<()>;
    /// One device.
    async fn device(&self, device_id: &DeviceId) -> StoreResult<Option<Device>>;
    /// One device by its support serial.
    async fn device_by_serial(&self, serial: &str) -> StoreResult<Option<Device>>;
    /// Every device of a user, oldest first.
    async fn devices_of(&self, sub: &str) -> StoreResult<Vec<Device>>;
    /// Makes a pending device active unless its user already has `max_active` active devices; serialised per
    /// user, so concurrent activations never exceed the limit.
    async fn activate_device(
        &self,
        device_id: &DeviceId,
        at: UnixTime,
        max_active: i64,
    ) -> StoreResult<ActivateOutcome>;
    /// Changes a device's status if it is currently `from`; true when it changed.
    async fn set_device_status(&self, device_id: &DeviceId, from: DeviceStatus, to: DeviceStatus) -> StoreResult<bool>;
    /// Revokes an active or pending device, recording by whom; false if it was neither.
    async fn revoke_device(&self, device_id: &DeviceId, by: RevokedBy) -> StoreResult<bool>;
    /// "Glemt kode" on an active device: its new public key, its wrong-code count cleared, cooling off until
    /// `cooling_off_until` (its second-login moment left as it was) — committed together with the audit event
    /// `e`; false (nothing changed) if the device is not active.
    async fn reset_device_key(
        &self,
        device_id: &DeviceId,
        public_key: &[u8],
        cooling_off_until: UnixTime,
        e: &AuditEvent,
    ) -> StoreResult<bool>;
    /// Stores the device's app-code (OPAQUE) record and clears its wrong-code count.
    async fn set_app_code(&self, device_id: &DeviceId, record: &[u8]) -> StoreResult<()>;
    /// The device's app-code record.
    async fn app_code(&self, device_id: &DeviceId) -> StoreResult<Option<Vec<u8>>>;
    /// Adds one to the device's wrong-code count atomically; answers the new count.
    async fn add_code_failure(&self, device_id: &DeviceId) -> StoreResult<i64>;
    /// The device's wrong-code count.
    async fn code_failures(&self, device_id: &DeviceId) -> StoreResult<i64>;
    /// Clears the device's wrong-code count (a code was right).
    async fn reset_code_failures(&self, device_id: &DeviceId) -> StoreResult<()>;
    /// Records a request nonce; false if this device used it before (a replay).
    async fn remember_nonce(&self, device_id: &DeviceId, nonce: &str, at: UnixTime) -> StoreResult<bool>;
    /// Sets (or with `None` removes) the device's value of `kind` (e.g. its fingerprint credential).
    async fn set_attachment(&self, device_id: &DeviceId, kind: &str, value: Option<&str>) -> StoreResult<()>;
    /// The device's value of `kind`.
    async fn attachment(&self, device_id: &DeviceId, kind: &str) -> StoreResult<Option<String>>;
    /// Removes every value of the device.
    async fn clear_attachments(&self, device_id: &DeviceId) -> StoreResult<()>;
    /// The values of `kind` of the user's active devices, as (device id, value).
    async fn active_attachments(&self, sub: &str, kind: &str) -> StoreResult<Vec<(DeviceId, String)>>;
}

/// Requests to the key app.
#[async_trait]
pub trait RequestStore: Send + Sync {
    /// Stores a new pending request, first ending the user's pending one (expired if its time is up at
    /// `now`, else cancelled): a user has at most one pending request.
    async fn insert_request(&self, request: &AuthRequest, now: UnixTime) -> StoreResult<()>;
    /// One request.
    async fn request(&self, request_id: &RequestId) -> StoreResult<Option<AuthRequest>>;
    /// The user's requests made since `since`, newest first.
    async fn recent_requests(&self, sub: &str, since: UnixTime) -> StoreResult<Vec<AuthRequest>>;
    /// Changes a request's state if it is currently `from` (one compare-and-set); true when it changed.
    async fn set_request_state(
        &self,
        request_id: &RequestId,
        from: RequestState,
        to: RequestState,
        at: UnixTime,
        device_id: Option<&DeviceId>,
        unlock: Option<&str>,
    ) -> StoreResult<bool>;
    /// Holds pushes to the user back until `until` ("Det var ikke mig").
    async fn pause_requests(&self, sub: &str, until: UnixTime) -> StoreResult<()>;
    /// Until when pushes are held back, if set.
    async fn requests_paused_until(&self, sub: &str) -> StoreResult<Option<UnixTime>>;
}

/// The per-address guess count shared by every node (the rate limit on PostgreSQL).
#[async_trait]
pub trait GuessStore: Send + Sync {
    /// Counts one guess from `address` in the minute `window` (unix time / 60) atomically; answers the count
    /// of that minute so far.
    async fn count_guess(&self, address: &str, window: i64) -> StoreResult<i64>;
}

/// Everything the domain stores.
pub trait Store:
    UserStore
    + KeyCardStore
    + ClientStore
    + GrantStore
    + SessionStore
    + AuditStore
    + DeviceStore
    + RequestStore
    + GuessStore
{
}
impl<T> Store for T where
    T: UserStore
        + KeyCardStore
        + ClientStore
        + GrantStore
        + SessionStore
        + AuditStore
        + DeviceStore
        + RequestStore
        + GuessStore
{
}
