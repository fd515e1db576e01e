//! An in-memory [`Store`](crate::Store) for the flows' own specifications: each flow's rules are tested next
//! to the flow, without a database. It keeps the promises the store traits make — single-use takes,
//! compare-and-set updates, at most one pending request per user, the limit of active devices — with one
//! lock around everything, which makes every call atomic. The store contract suite (`noegle-store`'s tests)
//! runs on it as on SQLite and PostgreSQL, so it answers as the databases do.
//!
//! Built for core's tests and, with the feature `testing`, for other crates' tests; never for production.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

use crate::audit::{AuditEvent, AuditRecord};
use crate::device::Device;
use crate::keycard::KeyCard;
use crate::oidc::{AccessToken, AuthCode, Client};
use crate::request::AuthRequest;
use crate::user::User;
use crate::{CardSerial, DeviceId, RequestId, UnixTime};

mod audit;
mod cards;
mod devices;
mod grants;
mod requests;
mod sessions;
mod users;
mod world;

pub use world::{PASSWORD, World};

/// A card's keys: number → (digest, used at).
type Keys = BTreeMap<String, (Vec<u8>, Option<UnixTime>)>;

#[derive(Default)]
struct Data {
    users: BTreeMap<String, User>,
    paused: HashMap<String, UnixTime>,
    cards: BTreeMap<CardSerial, (KeyCard, Keys)>,
    clients: Vec<Client>,
    codes: HashMap<String, AuthCode>,
    tokens: HashMap<String, AccessToken>,
    sessions: HashMap<String, (String, UnixTime)>,
    audit: Vec<AuditRecord>,
    devices: BTreeMap<DeviceId, Device>,
    app_codes: HashMap<DeviceId, Vec<u8>>,
    code_failures: HashMap<DeviceId, i64>,
    nonces: HashMap<(DeviceId, String), UnixTime>,
    attachments: BTreeMap<(DeviceId, String), String>,
    requests: BTreeMap<RequestId, AuthRequest>,
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
}
