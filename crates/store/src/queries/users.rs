//! The SQL of [`noegle_core::store::UserStore`]: users and their failure counters. Expanded by `impl_store!` for each
//! backend.

/// Implements `UserStore` for `$store` over the sqlx database `$db`.
macro_rules! impl_users {
    ($store:ty, $db:ty) => {
        #[async_trait]
        impl UserStore for $store {
            async fn insert_user(&self, u: &User) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO users (sub, user_id, display_name, password_hash, blocked, failed_attempts, \
                 last_failure_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(&u.sub)
                .bind(u.user_id.as_str())
                .bind(&u.display_name)
                .bind(&u.password_hash)
                .bind(u.blocked)
                .bind(u.failed_attempts)
                .bind(u.last_failure_at.map(|t| t.0))
                .bind(u.created_at.0)
                .execute(&self.writer)
                .await
                .map_err(|e| crate::conflict_or_backend(e, &format!("user {}", u.user_id)))?;
                Ok(())
            }

            async fn user_by_user_id(&self, user_id: &UserId) -> StoreResult<Option<User>> {
                let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE user_id = $1"))
                    .bind(user_id.as_str())
                    .fetch_optional(&self.pool)
                    .await
                    .db()?;
                row.as_ref().map(user_from).transpose().db()
            }

            async fn user_by_sub(&self, sub: &str) -> StoreResult<Option<User>> {
                self.one_by(&format!("SELECT {USER_COLUMNS} FROM users WHERE sub = $1"), sub, user_from).await
            }

            async fn set_password_hash(&self, sub: &str, hash: &str) -> StoreResult<bool> {
                let r = sqlx::query("UPDATE users SET password_hash = $2 WHERE sub = $1")
                    .bind(sub)
                    .bind(hash)
                    .execute(&self.writer)
                    .await
                    .db()?;
                Ok(r.rows_affected() == 1)
            }

            async fn set_blocked(&self, sub: &str, blocked: bool) -> StoreResult<bool> {
                let sql = if blocked {
                    "UPDATE users SET blocked = $2 WHERE sub = $1"
                } else {
                    "UPDATE users SET blocked = $2, failed_attempts = 0, last_failure_at = NULL WHERE sub = $1"
                };
                let r = sqlx::query(sql).bind(sub).bind(blocked).execute(&self.writer).await.db()?;
                Ok(r.rows_affected() == 1)
            }

            async fn record_failure(&self, sub: &str, at: UnixTime) -> StoreResult<i64> {
                let row = sqlx::query(
                    "UPDATE users SET failed_attempts = failed_attempts + 1, last_failure_at = $2 \
                 WHERE sub = $1 RETURNING failed_attempts",
                )
                .bind(sub)
                .bind(at.0)
                .fetch_optional(&self.writer)
                .await
                .db()?;
                match row {
                    Some(r) => r.try_get(0).db(),
                    None => Err(crate::backend(format!("no user {sub}"))),
                }
            }

            async fn reset_failures(&self, sub: &str) -> StoreResult<()> {
                sqlx::query("UPDATE users SET failed_attempts = 0, last_failure_at = NULL WHERE sub = $1")
                    .bind(sub)
                    .execute(&self.writer)
                    .await
                    .db()?;
                Ok(())
            }
        }
    };
}

pub(crate) use impl_users;
