//! The SQL of [`noegle_core::store::ClientStore`]: the OIDC clients. Expanded by `impl_store!` for each backend.

/// Implements `ClientStore` for `$store` over the sqlx database `$db`.
macro_rules! impl_clients {
    ($store:ty, $db:ty) => {
        #[async_trait]
        impl ClientStore for $store {
            async fn insert_client(&self, c: &Client) -> StoreResult<()> {
                let uris = serde_json::to_string(&c.redirect_uris).db()?;
                sqlx::query(
                    "INSERT INTO clients (client_id, name, secret_digest, redirect_uris, created_at) \
                 VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(&c.client_id)
                .bind(&c.name)
                .bind(&c.secret_digest)
                .bind(uris)
                .bind(c.created_at.0)
                .execute(&self.writer)
                .await
                .map_err(|e| crate::conflict_or_backend(e, &format!("client {}", c.client_id)))?;
                Ok(())
            }

            async fn client(&self, client_id: &str) -> StoreResult<Option<Client>> {
                self.one_by("SELECT * FROM clients WHERE client_id = $1", client_id, client_from).await
            }

            async fn clients(&self) -> StoreResult<Vec<Client>> {
                let rows = sqlx::query("SELECT * FROM clients ORDER BY created_at, client_id")
                    .fetch_all(&self.pool)
                    .await
                    .db()?;
                rows.iter().map(client_from).collect::<Result<_, _>>().db()
            }

            async fn remove_client(&self, client_id: &str) -> StoreResult<bool> {
                let mut tx = self.begin().await?;
                for sql in
                    ["DELETE FROM access_tokens WHERE client_id = $1", "DELETE FROM auth_codes WHERE client_id = $1"]
                {
                    sqlx::query(sql).bind(client_id).execute(&mut *tx).await.db()?;
                }
                let r = sqlx::query("DELETE FROM clients WHERE client_id = $1")
                    .bind(client_id)
                    .execute(&mut *tx)
                    .await
                    .db()?;
                tx.commit().await.db()?;
                Ok(r.rows_affected() == 1)
            }
        }
    };
}

pub(crate) use impl_clients;
