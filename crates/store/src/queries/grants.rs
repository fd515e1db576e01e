//! The SQL of [`noegle_core::store::GrantStore`]: authorization codes and access tokens.

use async_trait::async_trait;
use noegle_core::UnixTime;
use noegle_core::oidc::{AccessToken, AuthCode};
use noegle_core::store::{GrantStore, StoreResult};

use super::backend::{Backend, Sql};
use super::{CODE_COLUMNS, Pools, SqlStore, one};
use crate::Db as _;
use crate::rows::{CodeRow, TokenRow};

#[async_trait]
impl<B: Backend> GrantStore for SqlStore<B> {
    async fn insert_code(&self, c: &AuthCode) -> StoreResult<()> {
        let sql = Sql::new(format!(
            "INSERT INTO auth_codes ({CODE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL)"
        ))
        .bind(&c.code_digest)
        .bind(c.client_id.as_str())
        .bind(&c.redirect_uri)
        .bind(&c.sub)
        .bind(c.scope.to_string())
        .bind(&c.nonce)
        .bind(&c.code_challenge)
        .bind(c.amr.iter().map(|a| a.as_str()).collect::<Vec<_>>().join(" "))
        .bind(c.auth_time.0)
        .bind(c.expires_at.0);
        B::execute(self.writer(), sql).await.db()?;
        Ok(())
    }

    async fn code(&self, code_digest: &str) -> StoreResult<Option<AuthCode>> {
        let sql = Sql::new(format!("SELECT {CODE_COLUMNS} FROM auth_codes WHERE code_digest = $1")).bind(code_digest);
        one::<B, CodeRow, _>(self.reader(), sql).await
    }

    async fn mark_code_used(&self, code_digest: &str, at: UnixTime) -> StoreResult<bool> {
        let sql = Sql::new("UPDATE auth_codes SET used_at = $2 WHERE code_digest = $1 AND used_at IS NULL")
            .bind(code_digest)
            .bind(at.0);
        Ok(B::execute(self.writer(), sql).await.db()? == 1)
    }

    async fn insert_access_token(&self, t: &AccessToken) -> StoreResult<()> {
        let sql = Sql::new(
            "INSERT INTO access_tokens (token_digest, sub, client_id, scope, code_digest, expires_at, revoked) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&t.token_digest)
        .bind(&t.sub)
        .bind(t.client_id.as_str())
        .bind(t.scope.to_string())
        .bind(&t.code_digest)
        .bind(t.expires_at.0)
        .bind(t.revoked);
        B::execute(self.writer(), sql).await.db()?;
        Ok(())
    }

    async fn access_token(&self, token_digest: &str) -> StoreResult<Option<AccessToken>> {
        let sql = Sql::new("SELECT * FROM access_tokens WHERE token_digest = $1").bind(token_digest);
        one::<B, TokenRow, _>(self.reader(), sql).await
    }

    async fn revoke_tokens_of_code(&self, code_digest: &str) -> StoreResult<u64> {
        let sql = Sql::new("UPDATE access_tokens SET revoked = TRUE WHERE code_digest = $1 AND revoked = FALSE")
            .bind(code_digest);
        B::execute(self.writer(), sql).await.db()
    }
}
