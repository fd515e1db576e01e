//! The SQL of [`noegle_core::store::UserStore`]: users and their failure counters.

use async_trait::async_trait;
use noegle_core::UnixTime;
use noegle_core::store::{StoreResult, UserStore};
use noegle_core::user::{User, UserId};

use super::backend::{Backend, Sql};
use super::{Pools, SqlStore, USER_COLUMNS, column, one};
use crate::Db as _;
use crate::rows::UserRow;

#[async_trait]
impl<B: Backend> UserStore for SqlStore<B> {
    async fn insert_user(&self, u: &User) -> StoreResult<()> {
        let sql = Sql::new(
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
        .bind(u.created_at.0);
        B::execute(self.writer(), sql)
            .await
            .map_err(|e| crate::conflict_or_backend(e, &format!("user {}", u.user_id)))?;
        Ok(())
    }

    async fn user_by_user_id(&self, user_id: &UserId) -> StoreResult<Option<User>> {
        let sql = Sql::new(format!("SELECT {USER_COLUMNS} FROM users WHERE user_id = $1")).bind(user_id.as_str());
        one::<B, UserRow, _>(self.reader(), sql).await
    }

    async fn user_by_sub(&self, sub: &str) -> StoreResult<Option<User>> {
        let sql = Sql::new(format!("SELECT {USER_COLUMNS} FROM users WHERE sub = $1")).bind(sub);
        one::<B, UserRow, _>(self.reader(), sql).await
    }

    async fn set_password_hash(&self, sub: &str, hash: &str) -> StoreResult<bool> {
        let sql = Sql::new("UPDATE users SET password_hash = $2 WHERE sub = $1").bind(sub).bind(hash);
        Ok(B::execute(self.writer(), sql).await.db()? == 1)
    }

    async fn set_blocked(&self, sub: &str, blocked: bool) -> StoreResult<bool> {
        let text = if blocked {
            "UPDATE users SET blocked = $2 WHERE sub = $1"
        } else {
            "UPDATE users SET blocked = $2, failed_attempts = 0, last_failure_at = NULL WHERE sub = $1"
        };
        Ok(B::execute(self.writer(), Sql::new(text).bind(sub).bind(blocked)).await.db()? == 1)
    }

    async fn record_failure(&self, sub: &str, at: UnixTime) -> StoreResult<i64> {
        let sql = Sql::new(
            "UPDATE users SET failed_attempts = failed_attempts + 1, last_failure_at = $2 \
             WHERE sub = $1 RETURNING failed_attempts",
        )
        .bind(sub)
        .bind(at.0);
        column(self.writer(), sql).await?.ok_or_else(|| crate::backend(format!("no user {sub}")))
    }

    async fn reset_failures(&self, sub: &str) -> StoreResult<()> {
        let sql = Sql::new("UPDATE users SET failed_attempts = 0, last_failure_at = NULL WHERE sub = $1").bind(sub);
        B::execute(self.writer(), sql).await.db()?;
        Ok(())
    }
}
