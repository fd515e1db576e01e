//! The SQL of [`noegle_core::store::GrantStore`]: authorization codes and access tokens. Expanded by `impl_store!`
//! for each backend.

/// Implements `GrantStore` for `$store` over the sqlx database `$db`.
macro_rules! impl_grants {
    ($store:ty, $db:ty) => {
        #[async_trait]
        impl GrantStore for $store {
            async fn insert_code(&self, c: &AuthCode) -> StoreResult<()> {
                sqlx::query(&format!(
                    "INSERT INTO auth_codes ({CODE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL)"
                ))
                .bind(&c.code_digest)
                .bind(&c.client_id)
                .bind(&c.redirect_uri)
                .bind(&c.sub)
                .bind(c.scope.to_string())
                .bind(&c.nonce)
                .bind(&c.code_challenge)
                .bind(c.amr.iter().map(|a| a.as_str()).collect::<Vec<_>>().join(" "))
                .bind(c.auth_time.0)
                .bind(c.expires_at.0)
                .execute(&self.writer)
                .await
                .db()?;
                Ok(())
            }

            async fn code(&self, code_digest: &str) -> StoreResult<Option<AuthCode>> {
                self.one_by(
                    &format!("SELECT {CODE_COLUMNS} FROM auth_codes WHERE code_digest = $1"),
                    code_digest,
                    code_from,
                )
                .await
            }

            async fn mark_code_used(&self, code_digest: &str, at: UnixTime) -> StoreResult<bool> {
                let r = sqlx::query("UPDATE auth_codes SET used_at = $2 WHERE code_digest = $1 AND used_at IS NULL")
                    .bind(code_digest)
                    .bind(at.0)
                    .execute(&self.writer)
                    .await
                    .db()?;
                Ok(r.rows_affected() == 1)
            }

            async fn insert_access_token(&self, t: &AccessToken) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO access_tokens (token_digest, sub, client_id, scope, code_digest, expires_at, revoked) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(&t.token_digest)
                .bind(&t.sub)
                .bind(&t.client_id)
                .bind(t.scope.to_string())
                .bind(&t.code_digest)
                .bind(t.expires_at.0)
                .bind(t.revoked)
                .execute(&self.writer)
                .await
                .db()?;
                Ok(())
            }

            async fn access_token(&self, token_digest: &str) -> StoreResult<Option<AccessToken>> {
                self.one_by("SELECT * FROM access_tokens WHERE token_digest = $1", token_digest, token_from).await
            }

            async fn revoke_tokens_of_code(&self, code_digest: &str) -> StoreResult<u64> {
                let r =
                    sqlx::query("UPDATE access_tokens SET revoked = TRUE WHERE code_digest = $1 AND revoked = FALSE")
                        .bind(code_digest)
                        .execute(&self.writer)
                        .await
                        .db()?;
                Ok(r.rows_affected())
            }
        }
    };
}

pub(crate) use impl_grants;
