//! The SQL of [`noegle_core::store::SessionStore`]: the short-lived session entries. Expanded by `impl_store!` for
//! each backend.

/// Implements `SessionStore` for `$store` over the sqlx database `$db`.
macro_rules! impl_sessions {
    ($store:ty, $db:ty) => {
        #[async_trait]
        impl SessionStore for $store {
            async fn put_session(&self, key: &SessionKey, data: &str, expires_at: UnixTime) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO sessions (id_digest, data, expires_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (id_digest) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at",
                )
                .bind(key.id())
                .bind(data)
                .bind(expires_at.0)
                .execute(&self.writer)
                .await
                .db()?;
                Ok(())
            }

            async fn rotate_session(
                &self,
                old: &SessionKey,
                new: &SessionKey,
                data: &str,
                expires_at: UnixTime,
            ) -> StoreResult<bool> {
                let r =
                    sqlx::query("UPDATE sessions SET id_digest = $2, data = $3, expires_at = $4 WHERE id_digest = $1")
                        .bind(old.id())
                        .bind(new.id())
                        .bind(data)
                        .bind(expires_at.0)
                        .execute(&self.writer)
                        .await
                        .db()?;
                Ok(r.rows_affected() == 1)
            }

            async fn session(&self, key: &SessionKey, now: UnixTime) -> StoreResult<Option<String>> {
                let row = sqlx::query("SELECT data FROM sessions WHERE id_digest = $1 AND expires_at > $2")
                    .bind(key.id())
                    .bind(now.0)
                    .fetch_optional(&self.pool)
                    .await
                    .db()?;
                row.map(|r| r.try_get(0)).transpose().db()
            }

            async fn take_session(&self, key: &SessionKey, now: UnixTime) -> StoreResult<Option<String>> {
                let row = sqlx::query("DELETE FROM sessions WHERE id_digest = $1 AND expires_at > $2 RETURNING data")
                    .bind(key.id())
                    .bind(now.0)
                    .fetch_optional(&self.writer)
                    .await
                    .db()?;
                row.map(|r| r.try_get(0)).transpose().db()
            }

            async fn purge_expired(&self, now: UnixTime, nonces_before: UnixTime) -> StoreResult<u64> {
                let a = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
                    .bind(now.0)
                    .execute(&self.writer)
                    .await
                    .db()?;
                let b = sqlx::query("DELETE FROM device_nonces WHERE seen_at < $1")
                    .bind(nonces_before.0)
                    .execute(&self.writer)
                    .await
                    .db()?;
                // The guess counts of minutes gone by.
                let c = sqlx::query("DELETE FROM guess_windows WHERE window_start < $1")
                    .bind(now.0 / 60 - 1)
                    .execute(&self.writer)
                    .await
                    .db()?;
                Ok(a.rows_affected() + b.rows_affected() + c.rows_affected())
            }

            async fn delete_session(&self, key: &SessionKey) -> StoreResult<()> {
                sqlx::query("DELETE FROM sessions WHERE id_digest = $1")
                    .bind(key.id())
                    .execute(&self.writer)
                    .await
                    .db()?;
                Ok(())
            }
        }
    };
}

pub(crate) use impl_sessions;
