//! An in-memory [`Store`](crate::Store) for the flows' own specifications: each flow's rules are tested next
//! to the flow, without a database. It keeps the promises the store traits make — single-use takes,
//! compare-and-set updates, at most one pending request per user, the limit of active devices — with one
//! lock around everything, which makes every call atomic. The real stores (`noegle-store`) keep the same
//! promises under concurrency, which their contract suite checks on both databases.
//!
//! Built for core's tests and, with the feature `testing`, for other crates' tests; never for production.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;

use crate::UnixTime;
use crate::audit::{AuditEvent, AuditRecord};
use crate::device::{ActivateOutcome, Device, DeviceStatus, RevokedBy};
use crate::keycard::{CardStatus, KeyCard, StoredKey};
use crate::oidc::{AccessToken, AuthCode, Client};
use crate::request::{AuthRequest, RequestState};
use crate::session_key::SessionKey;
use crate::store::{
    AuditStore, ClientStore, DeviceStore, GrantStore, GuessStore, KeyCardStore, RequestStore, SessionStore, StoreError,
    StoreResult, UserStore,
};
use crate::user::{User, UserId};

/// A card's keys: number → (digest, used at).
type Keys = BTreeMap<String, (Vec<u8>, Option<UnixTime>)>;

#[derive(Default)]
struct Data {
    users: BTreeMap<String, User>,
    paused: HashMap<String, UnixTime>,
    cards: BTreeMap<String, (KeyCard, Keys)>,
    clients: Vec<Client>,
    codes: HashMap<String, AuthCode>,
    tokens: HashMap<String, AccessToken>,
    sessions: HashMap<String, (String, UnixTime)>,
    audit: Vec<AuditRecord>,
    devices: BTreeMap<String, Device>,
    app_codes: HashMap<String, Vec<u8>>,
    code_failures: HashMap<String, i64>,
    nonces: HashMap<(String, String), UnixTime>,
    attachments: BTreeMap<(String, String), String>,
    requests: BTreeMap<String, AuthRequest>,
    guesses: HashMap<(String, i64), i64>,
}

/// Everything the domain stores, in memory.
#[derive(Default)]
pub struct MemoryStore {
    data: Mutex<Data>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    fn data(&self) -> MutexGuard<'_, Data> {
        self.data.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Data {
    fn append(&mut self, e: &AuditEvent) {
        let id = self.audit.len() as i64 + 1;
        self.audit.push(AuditRecord {
            id,
            at: e.at,
            kind: e.kind.as_str().to_string(),
            user: e.user.clone(),
            source: e.source.clone(),
            detail: e.detail.clone(),
        });
    }

    fn consume(&mut self, serial: &str, number: &str, at: UnixTime) -> bool {
        match self.cards.get_mut(serial).and_then(|(_, keys)| keys.get_mut(number)) {
            Some((_, used @ None)) => {
                *used = Some(at);
                true
            }
            _ => false,
        }
    }

    fn card_with_count(&self, serial: &str) -> Option<KeyCard> {
        self.cards.get(serial).map(|(card, keys)| KeyCard {
            unused: keys.values().filter(|(_, used)| used.is_none()).count() as i64,
            ..card.clone()
        })
    }
}

#[async_trait]
impl UserStore for MemoryStore {
    async fn insert_user(&self, u: &User) -> StoreResult<()> {
        let mut d = self.data();
        if d.users.contains_key(&u.sub) || d.users.values().any(|x| x.user_id == u.user_id) {
            return Err(StoreError::Conflict(format!("user {}", u.user_id)));
        }
        d.users.insert(u.sub.clone(), u.clone());
        Ok(())
    }

    async fn user_by_user_id(&self, user_id: &UserId) -> StoreResult<Option<User>> {
        Ok(self.data().users.values().find(|u| &u.user_id == user_id).cloned())
    }

    async fn user_by_sub(&self, sub: &str) -> StoreResult<Option<User>> {
        Ok(self.data().users.get(sub).cloned())
    }

    async fn set_password_hash(&self, sub: &str, hash: &str) -> StoreResult<bool> {
        Ok(self.data().users.get_mut(sub).map(|u| u.password_hash = hash.to_string()).is_some())
    }

    async fn set_blocked(&self, sub: &str, blocked: bool) -> StoreResult<bool> {
        Ok(self
            .data()
            .users
            .get_mut(sub)
            .map(|u| {
                u.blocked = blocked;
                if !blocked {
                    u.failed_attempts = 0;
                    u.last_failure_at = None;
                }
            })
            .is_some())
    }

    async fn record_failure(&self, sub: &str, at: UnixTime) -> StoreResult<i64> {
        let mut d = self.data();
        let u = d.users.get_mut(sub).ok_or_else(|| StoreError::Backend(format!("no user {sub}")))?;
        u.failed_attempts += 1;
        u.last_failure_at = Some(at);
        Ok(u.failed_attempts)
    }

    async fn reset_failures(&self, sub: &str) -> StoreResult<()> {
        if let Some(u) = self.data().users.get_mut(sub) {
            u.failed_attempts = 0;
            u.last_failure_at = None;
        }
        Ok(())
    }
}

#[async_trait]
impl KeyCardStore for MemoryStore {
    async fn insert_card(&self, card: &KeyCard, keys: &[StoredKey]) -> StoreResult<()> {
        let mut d = self.data();
        if d.cards.contains_key(&card.serial) {
            return Err(StoreError::Conflict(format!("key card {}", card.serial)));
        }
        let keys = keys.iter().map(|k| (k.number.clone(), (k.digest.clone(), None))).collect();
        d.cards.insert(card.serial.clone(), (card.clone(), keys));
        Ok(())
    }

    async fn cards_of(&self, sub: &str) -> StoreResult<Vec<KeyCard>> {
        let d = self.data();
        let mut cards: Vec<KeyCard> =
            d.cards.values().filter(|(c, _)| c.sub == sub).filter_map(|(c, _)| d.card_with_count(&c.serial)).collect();
        cards.sort_by(|a, b| (a.issued_at, &a.serial).cmp(&(b.issued_at, &b.serial)));
        Ok(cards)
    }

    async fn card(&self, serial: &str) -> StoreResult<Option<KeyCard>> {
        Ok(self.data().card_with_count(serial))
    }

    async fn unused_key_numbers(&self, serial: &str) -> StoreResult<Vec<String>> {
        Ok(self.data().cards.get(serial).map_or_else(Vec::new, |(_, keys)| {
            keys.iter().filter(|(_, (_, used))| used.is_none()).map(|(n, _)| n.clone()).collect()
        }))
    }

    async fn unused_key_digest(&self, serial: &str, number: &str) -> StoreResult<Option<Vec<u8>>> {
        Ok(self
            .data()
            .cards
            .get(serial)
            .and_then(|(_, keys)| keys.get(number))
            .filter(|(_, used)| used.is_none())
            .map(|(digest, _)| digest.clone()))
    }

    async fn consume_key(&self, serial: &str, number: &str, at: UnixTime) -> StoreResult<bool> {
        Ok(self.data().consume(serial, number, at))
    }

    async fn consume_key_audited(
        &self,
        serial: &str,
        number: &str,
        at: UnixTime,
        event: &AuditEvent,
    ) -> StoreResult<bool> {
        let mut d = self.data();
        let consumed = d.consume(serial, number, at);
        if consumed {
            d.append(event);
        }
        Ok(consumed)
    }

    async fn set_card_status(&self, serial: &str, from: CardStatus, to: CardStatus) -> StoreResult<bool> {
        let mut d = self.data();
        match d.cards.get_mut(serial) {
            Some((card, _)) if card.status == from => {
                card.status = to;
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

#[async_trait]
impl ClientStore for MemoryStore {
    async fn insert_client(&self, c: &Client) -> StoreResult<()> {
        let mut d = self.data();
        if d.clients.iter().any(|x| x.client_id == c.client_id) {
            return Err(StoreError::Conflict(format!("client {}", c.client_id)));
        }
        d.clients.push(c.clone());
        Ok(())
    }

    async fn client(&self, client_id: &str) -> StoreResult<Option<Client>> {
        Ok(self.data().clients.iter().find(|c| c.client_id == client_id).cloned())
    }

    async fn clients(&self) -> StoreResult<Vec<Client>> {
        let mut all = self.data().clients.clone();
        all.sort_by(|a, b| (a.created_at, &a.client_id).cmp(&(b.created_at, &b.client_id)));
        Ok(all)
    }

    async fn remove_client(&self, client_id: &str) -> StoreResult<bool> {
        let mut d = self.data();
        d.tokens.retain(|_, t| t.client_id != client_id);
        d.codes.retain(|_, c| c.client_id != client_id);
        let before = d.clients.len();
        d.clients.retain(|c| c.client_id != client_id);
        Ok(d.clients.len() < before)
    }
}

#[async_trait]
impl GrantStore for MemoryStore {
    async fn insert_code(&self, c: &AuthCode) -> StoreResult<()> {
        self.data().codes.insert(c.code_digest.clone(), c.clone());
        Ok(())
    }

    async fn code(&self, code_digest: &str) -> StoreResult<Option<AuthCode>> {
        Ok(self.data().codes.get(code_digest).cloned())
    }

    async fn mark_code_used(&self, code_digest: &str, _at: UnixTime) -> StoreResult<bool> {
        Ok(match self.data().codes.get_mut(code_digest) {
            Some(c) if !c.used => {
                c.used = true;
                true
            }
            _ => false,
        })
    }

    async fn insert_access_token(&self, t: &AccessToken) -> StoreResult<()> {
        self.data().tokens.insert(t.token_digest.clone(), t.clone());
        Ok(())
    }

    async fn access_token(&self, token_digest: &str) -> StoreResult<Option<AccessToken>> {
        Ok(self.data().tokens.get(token_digest).cloned())
    }

    async fn revoke_tokens_of_code(&self, code_digest: &str) -> StoreResult<u64> {
        let mut n = 0;
        for t in self.data().tokens.values_mut().filter(|t| t.code_digest == code_digest && !t.revoked) {
            t.revoked = true;
            n += 1;
        }
        Ok(n)
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn put_session(&self, key: &SessionKey, data: &str, expires_at: UnixTime) -> StoreResult<()> {
        self.data().sessions.insert(key.id(), (data.to_string(), expires_at));
        Ok(())
    }

    async fn session(&self, key: &SessionKey, now: UnixTime) -> StoreResult<Option<String>> {
        Ok(self.data().sessions.get(&key.id()).filter(|(_, exp)| *exp > now).map(|(data, _)| data.clone()))
    }

    async fn rotate_session(
        &self,
        old: &SessionKey,
        new: &SessionKey,
        data: &str,
        expires_at: UnixTime,
    ) -> StoreResult<bool> {
        let mut d = self.data();
        if d.sessions.remove(&old.id()).is_none() {
            return Ok(false);
        }
        d.sessions.insert(new.id(), (data.to_string(), expires_at));
        Ok(true)
    }

    async fn delete_session(&self, key: &SessionKey) -> StoreResult<()> {
        self.data().sessions.remove(&key.id());
        Ok(())
    }

    async fn take_session(&self, key: &SessionKey, now: UnixTime) -> StoreResult<Option<String>> {
        let mut d = self.data();
        match d.sessions.get(&key.id()) {
            Some((_, exp)) if *exp > now => Ok(d.sessions.remove(&key.id()).map(|(data, _)| data)),
            _ => Ok(None),
        }
    }

    async fn purge_expired(&self, now: UnixTime, nonces_before: UnixTime) -> StoreResult<u64> {
        let mut d = self.data();
        let before = d.sessions.len() + d.nonces.len() + d.guesses.len();
        d.sessions.retain(|_, (_, exp)| *exp > now);
        d.nonces.retain(|_, seen| *seen >= nonces_before);
        d.guesses.retain(|(_, window), _| *window >= now.0 / 60 - 1);
        Ok((before - d.sessions.len() - d.nonces.len() - d.guesses.len()) as u64)
    }
}

#[async_trait]
impl AuditStore for MemoryStore {
    async fn append_audit(&self, e: &AuditEvent) -> StoreResult<()> {
        self.data().append(e);
        Ok(())
    }

    async fn audit(&self, user: Option<&str>, limit: i64) -> StoreResult<Vec<AuditRecord>> {
        let d = self.data();
        let mine: Vec<&AuditRecord> = d.audit.iter().filter(|r| user.is_none() || r.user.as_deref() == user).collect();
        let skip = mine.len().saturating_sub(usize::try_from(limit).unwrap_or(0));
        Ok(mine.into_iter().skip(skip).cloned().collect())
    }
}

#[async_trait]
impl DeviceStore for MemoryStore {
    async fn insert_device(&self, dev: &Device) -> StoreResult<()> {
        let mut d = self.data();
        if d.devices.contains_key(&dev.device_id) || d.devices.values().any(|x| x.serial == dev.serial) {
            return Err(StoreError::Conflict(format!("device {}", dev.serial)));
        }
        d.devices.insert(dev.device_id.clone(), dev.clone());
        Ok(())
    }

    async fn device(&self, device_id: &str) -> StoreResult<Option<Device>> {
        Ok(self.data().devices.get(device_id).cloned())
    }

    async fn device_by_serial(&self, serial: &str) -> StoreResult<Option<Device>> {
        Ok(self.data().devices.values().find(|x| x.serial == serial).cloned())
    }

    async fn devices_of(&self, sub: &str) -> StoreResult<Vec<Device>> {
        let mut all: Vec<Device> = self.data().devices.values().filter(|x| x.sub == sub).cloned().collect();
        all.sort_by(|a, b| (a.created_at, &a.device_id).cmp(&(b.created_at, &b.device_id)));
        Ok(all)
    }

    async fn activate_device(&self, device_id: &str, at: UnixTime, max_active: i64) -> StoreResult<ActivateOutcome> {
        let mut d = self.data();
        let Some(sub) = d.devices.get(device_id).filter(|x| x.status == DeviceStatus::Pending).map(|x| x.sub.clone())
        else {
            return Ok(ActivateOutcome::NotPending);
        };
        let active = d.devices.values().filter(|x| x.sub == sub && x.status == DeviceStatus::Active).count() as i64;
        if active >= max_active {
            return Ok(ActivateOutcome::LimitReached);
        }
        if let Some(x) = d.devices.get_mut(device_id) {
            x.status = DeviceStatus::Active;
            x.activated_at = Some(at);
        }
        Ok(ActivateOutcome::Activated)
    }

    async fn set_device_status(&self, device_id: &str, from: DeviceStatus, to: DeviceStatus) -> StoreResult<bool> {
        Ok(match self.data().devices.get_mut(device_id) {
            Some(x) if x.status == from => {
                x.status = to;
                true
            }
            _ => false,
        })
    }

    async fn revoke_device(&self, device_id: &str, by: RevokedBy) -> StoreResult<bool> {
        Ok(match self.data().devices.get_mut(device_id) {
            Some(x) if matches!(x.status, DeviceStatus::Active | DeviceStatus::Pending) => {
                x.status = DeviceStatus::Revoked;
                x.revoked_by = Some(by);
                true
            }
            _ => false,
        })
    }

    async fn reset_device_key(
        &self,
        device_id: &str,
        public_key: &[u8],
        ready_at: UnixTime,
        e: &AuditEvent,
    ) -> StoreResult<bool> {
        let mut d = self.data();
        match d.devices.get_mut(device_id) {
            Some(x) if x.status == DeviceStatus::Active => {
                x.public_key = public_key.to_vec();
                x.ready_at = ready_at;
            }
            _ => return Ok(false),
        }
        d.code_failures.remove(device_id);
        d.append(e);
        Ok(true)
    }

    async fn set_app_code(&self, device_id: &str, record: &[u8]) -> StoreResult<()> {
        let mut d = self.data();
        d.app_codes.insert(device_id.to_string(), record.to_vec());
        d.code_failures.remove(device_id);
        Ok(())
    }

    async fn app_code(&self, device_id: &str) -> StoreResult<Option<Vec<u8>>> {
        Ok(self.data().app_codes.get(device_id).cloned())
    }

    async fn add_code_failure(&self, device_id: &str) -> StoreResult<i64> {
        let mut d = self.data();
        let n = d.code_failures.entry(device_id.to_string()).or_insert(0);
        *n += 1;
        Ok(*n)
    }

    async fn code_failures(&self, device_id: &str) -> StoreResult<i64> {
        Ok(self.data().code_failures.get(device_id).copied().unwrap_or(0))
    }

    async fn reset_code_failures(&self, device_id: &str) -> StoreResult<()> {
        self.data().code_failures.remove(device_id);
        Ok(())
    }

    async fn remember_nonce(&self, device_id: &str, nonce: &str, at: UnixTime) -> StoreResult<bool> {
        let key = (device_id.to_string(), nonce.to_string());
        let mut d = self.data();
        if d.nonces.contains_key(&key) {
            return Ok(false);
        }
        d.nonces.insert(key, at);
        Ok(true)
    }

    async fn set_attachment(&self, device_id: &str, kind: &str, value: Option<&str>) -> StoreResult<()> {
        let key = (device_id.to_string(), kind.to_string());
        let mut d = self.data();
        match value {
            Some(v) => d.attachments.insert(key, v.to_string()),
            None => d.attachments.remove(&key),
        };
        Ok(())
    }

    async fn attachment(&self, device_id: &str, kind: &str) -> StoreResult<Option<String>> {
        Ok(self.data().attachments.get(&(device_id.to_string(), kind.to_string())).cloned())
    }

    async fn clear_attachments(&self, device_id: &str) -> StoreResult<()> {
        self.data().attachments.retain(|(id, _), _| id != device_id);
        Ok(())
    }

    async fn active_attachments(&self, sub: &str, kind: &str) -> StoreResult<Vec<(String, String)>> {
        let d = self.data();
        let active: HashSet<&String> = d
            .devices
            .values()
            .filter(|x| x.sub == sub && x.status == DeviceStatus::Active)
            .map(|x| &x.device_id)
            .collect();
        Ok(d.attachments
            .iter()
            .filter(|((id, k), _)| k == kind && active.contains(id))
            .map(|((id, _), v)| (id.clone(), v.clone()))
            .collect())
    }
}

#[async_trait]
impl RequestStore for MemoryStore {
    async fn insert_request(&self, q: &AuthRequest, now: UnixTime) -> StoreResult<()> {
        let mut d = self.data();
        for r in d.requests.values_mut().filter(|r| r.sub == q.sub && r.state == RequestState::Pending) {
            r.state = if r.expires_at <= now { RequestState::Expired } else { RequestState::Cancelled };
            r.decided_at = Some(now);
        }
        if d.requests.contains_key(&q.request_id) {
            return Err(StoreError::Conflict("a pending request".into()));
        }
        d.requests.insert(q.request_id.clone(), q.clone());
        Ok(())
    }

    async fn request(&self, request_id: &str) -> StoreResult<Option<AuthRequest>> {
        Ok(self.data().requests.get(request_id).cloned())
    }

    async fn recent_requests(&self, sub: &str, since: UnixTime) -> StoreResult<Vec<AuthRequest>> {
        let mut mine: Vec<AuthRequest> =
            self.data().requests.values().filter(|r| r.sub == sub && r.created_at >= since).cloned().collect();
        mine.sort_by(|a, b| b.created_at.cmp(&a.created_at).then_with(|| a.request_id.cmp(&b.request_id)));
        Ok(mine)
    }

    async fn set_request_state(
        &self,
        request_id: &str,
        from: RequestState,
        to: RequestState,
        at: UnixTime,
        device_id: Option<&str>,
        unlock: Option<&str>,
    ) -> StoreResult<bool> {
        Ok(match self.data().requests.get_mut(request_id) {
            Some(r) if r.state == from => {
                r.state = to;
                r.decided_at = Some(at);
                r.decided_by = device_id.map(str::to_string);
                r.decided_with = unlock.map(str::to_string);
                true
            }
            _ => false,
        })
    }

    async fn pause_requests(&self, sub: &str, until: UnixTime) -> StoreResult<()> {
        self.data().paused.insert(sub.to_string(), until);
        Ok(())
    }

    async fn requests_paused_until(&self, sub: &str) -> StoreResult<Option<UnixTime>> {
        Ok(self.data().paused.get(sub).copied())
    }
}

#[async_trait]
impl GuessStore for MemoryStore {
    async fn count_guess(&self, address: &str, window: i64) -> StoreResult<i64> {
        let mut d = self.data();
        let n = d.guesses.entry((address.to_string(), window)).or_insert(0);
        *n += 1;
        Ok(*n)
    }
}

/// A world for a flow's specification: a memory store holding one user (`alice`, password [`PASSWORD`])
/// with an active key card, and the time.
pub struct World {
    /// The store.
    pub store: MemoryStore,
    /// Now.
    pub now: UnixTime,
    /// The key-card pepper.
    pub pepper: crate::keycard::KeyPepper,
    /// The user.
    pub user: User,
    /// Her key card, in the clear.
    pub card: crate::keycard::ClearCard,
}

/// The password of [`World`]'s user.
pub const PASSWORD: &str = "korrekt hest batteri";

impl World {
    /// A store with `alice` and her key card, at time 1,000,000.
    pub async fn new() -> World {
        let store = MemoryStore::new();
        let now = UnixTime(1_000_000);
        let pepper = crate::keycard::KeyPepper::from_bytes([9; 32]);
        let rng = &mut rand::rngs::OsRng;
        let ctx = crate::Ctx { store: &store, now, source: Some("test") };
        let made = crate::accounts::create_user(ctx, rng, "alice", Some("Alice"), PASSWORD).await;
        let user = made.unwrap_or_else(|e| panic!("a test user: {e}"));
        let card = crate::login::issue_card(ctx, rng, &pepper, &user).await.unwrap_or_else(|e| panic!("a card: {e}"));
        World { store, now, pepper, user, card }
    }

    /// The context of a call from a test client.
    pub fn ctx(&self) -> crate::Ctx<'_> {
        crate::Ctx { store: &self.store, now: self.now, source: Some("test") }
    }

    /// The context of a call `secs` seconds from now.
    pub fn after(&self, secs: i64) -> crate::Ctx<'_> {
        crate::Ctx { now: self.now.plus(secs), ..self.ctx() }
    }

    /// The key the card holds for `challenge`.
    pub fn key(&self, challenge: &crate::login::Challenge) -> String {
        self.card.keys.get(&challenge.number).cloned().unwrap_or_default()
    }

    /// A device of `sub` in `status`, ready (its wait over) at `ready_at`, stored.
    pub async fn device(&self, sub: &str, status: DeviceStatus, ready_at: UnixTime) -> Device {
        self.named_device(sub, "Test", status, ready_at).await
    }

    /// [`World::device`] with a name.
    pub async fn named_device(&self, sub: &str, name: &str, status: DeviceStatus, ready_at: UnixTime) -> Device {
        let (device_id, serial) = crate::device::new_ids(&mut rand::rngs::OsRng);
        let device = Device {
            device_id,
            serial,
            sub: sub.to_string(),
            public_key: vec![4; 65],
            platform: crate::device::Platform::Terminal,
            os_version: "1".into(),
            name: name.into(),
            status,
            created_at: self.now,
            ready_at,
            expires_at: self.now.plus(7 * 86_400),
            activated_at: (status == DeviceStatus::Active).then_some(self.now),
            revoked_by: None,
        };
        self.store.insert_device(&device).await.unwrap_or_else(|e| panic!("a device: {e}"));
        device
    }

    /// The kinds of the audit events so far, oldest first.
    pub async fn audit_kinds(&self) -> Vec<String> {
        self.store.audit(None, 1000).await.unwrap_or_default().into_iter().map(|r| r.kind).collect()
    }
}
