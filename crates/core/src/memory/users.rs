//! The in-memory [`UserStore`](crate::store::UserStore).

use async_trait::async_trait;

use super::MemoryStore;
use crate::UnixTime;
use crate::store::{StoreError, StoreResult, UserStore};
use crate::user::{User, UserId};

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
