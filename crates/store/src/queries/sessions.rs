//! The SQL of [`noegle_core::store::SessionStore`]: the short-lived session entries.

use async_trait::async_trait;
use noegle_core::UnixTime;
use noegle_core::session_key::SessionKey;
use noegle_core::store::{SessionStore, StoreResult};

use super::backend::{Backend, Sql};
use super::{Pools, SqlStore, column};
use crate::Db as _;

#[async_trait]
impl<B: Backend> SessionStore for SqlStore<B> {
    async fn put_session(&self, key: &SessionKey, data: &str, expires_at: UnixTime) -> StoreResult<()> {
        let sql = Sql::new(
            "INSERT INTO sessions (id_digest, data, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (id_digest) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at",
        )
        .bind(key.id())
        .bind(data)
        .bind(expires_at.0);
        B::execute(self.writer(), sql).await.db()?;
        Ok(())
    }

    async fn rotate_session(
        &self,
        old: &SessionKey,
        new: &SessionKey,
        data: &str,
        expires_at: UnixTime,
    ) -> StoreResult<bool> {
        let sql = Sql::new("UPDATE sessions SET id_digest = $2, data = $3, expires_at = $4 WHERE id_digest = $1")
            .bind(old.id())
            .bind(new.id())
            .bind(data)
            .bind(expires_at.0);
        Ok(B::execute(self.writer(), sql).await.db()? == 1)
    }

    async fn session(&self, key: &SessionKey, now: UnixTime) -> StoreResult<Option<String>> {
        let sql =
            Sql::new("SELECT data FROM sessions WHERE id_digest = $1 AND expires_at > $2").bind(key.id()).bind(now.0);
        column(self.reader(), sql).await
    }

    async fn take_session(&self, key: &SessionKey, now: UnixTime) -> StoreResult<Option<String>> {
        let sql = Sql::new("DELETE FROM sessions WHERE id_digest = $1 AND expires_at > $2 RETURNING data")
            .bind(key.id())
            .bind(now.0);
        column(self.writer(), sql).await
    }

    async fn purge_expired(&self, now: UnixTime, nonces_before: UnixTime) -> StoreResult<u64> {
        let sql = Sql::new("DELETE FROM sessions WHERE expires_at <= $1").bind(now.0);
        let a = B::execute(self.writer(), sql).await.db()?;
        let sql = Sql::new("DELETE FROM device_nonces WHERE seen_at < $1").bind(nonces_before.0);
        let b = B::execute(self.writer(), sql).await.db()?;
        // The guess counts of minutes gone by.
        let sql = Sql::new("DELETE FROM guess_windows WHERE window_start < $1").bind(now.0 / 60 - 1);
        let c = B::execute(self.writer(), sql).await.db()?;
        Ok(a + b + c)
    }

    async fn delete_session(&self, key: &SessionKey) -> StoreResult<()> {
        B::execute(self.writer(), Sql::new("DELETE FROM sessions WHERE id_digest = $1").bind(key.id())).await.db()?;
        Ok(())
    }
}
