//! [`World`]: a memory store with one user and her key card, for the flows' specifications.

use super::MemoryStore;
use crate::UnixTime;
use crate::device::{Device, DeviceStatus};
use crate::store::{AuditStore, DeviceStore};
use crate::user::User;

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
