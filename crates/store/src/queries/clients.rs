//! The SQL of [`noegle_core::store::ClientStore`]: the OIDC clients.

use async_trait::async_trait;
use noegle_core::ClientId;
use noegle_core::oidc::Client;
use noegle_core::store::{ClientStore, StoreResult};

use super::backend::{Backend, On, Sql};
use super::{Pools, SqlStore, all, one};
use crate::Db as _;
use crate::rows::ClientRow;

#[async_trait]
impl<B: Backend> ClientStore for SqlStore<B> {
    async fn insert_client(&self, c: &Client) -> StoreResult<()> {
        let uris = serde_json::to_string(&c.redirect_uris).db()?;
        let sql = Sql::new(
            "INSERT INTO clients (client_id, name, secret_digest, redirect_uris, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(c.client_id.as_str())
        .bind(&c.name)
        .bind(&c.secret_digest)
        .bind(uris)
        .bind(c.created_at.0);
        B::execute(self.writer(), sql)
            .await
            .map_err(|e| crate::conflict_or_backend(e, &format!("client {}", c.client_id)))?;
        Ok(())
    }

    async fn client(&self, client_id: &ClientId) -> StoreResult<Option<Client>> {
        let sql = Sql::new("SELECT * FROM clients WHERE client_id = $1").bind(client_id.as_str());
        one::<B, ClientRow, _>(self.reader(), sql).await
    }

    async fn clients(&self) -> StoreResult<Vec<Client>> {
        all::<B, ClientRow, _>(self.reader(), Sql::new("SELECT * FROM clients ORDER BY created_at, client_id")).await
    }

    async fn remove_client(&self, client_id: &ClientId) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        for text in ["DELETE FROM access_tokens WHERE client_id = $1", "DELETE FROM auth_codes WHERE client_id = $1"] {
            B::execute(On::Tx(&mut tx), Sql::new(text).bind(client_id.as_str())).await.db()?;
        }
        let sql = Sql::new("DELETE FROM clients WHERE client_id = $1").bind(client_id.as_str());
        let rows = B::execute(On::Tx(&mut tx), sql).await.db()?;
        tx.commit().await.db()?;
        Ok(rows == 1)
    }
}
