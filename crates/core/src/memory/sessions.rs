//! The in-memory [`SessionStore`](crate::store::SessionStore) and [`GuessStore`](crate::store::GuessStore).

use async_trait::async_trait;

use super::MemoryStore;
use crate::UnixTime;
use crate::session_key::SessionKey;
use crate::store::{GuessStore, SessionStore, StoreResult};

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
impl GuessStore for MemoryStore {
    async fn count_guess(&self, address: &str, window: i64) -> StoreResult<i64> {
        let mut d = self.data();
        let n = d.guesses.entry((address.to_string(), window)).or_insert(0);
        *n += 1;
        Ok(*n)
    }
}
