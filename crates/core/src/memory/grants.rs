//! The in-memory [`ClientStore`](crate::store::ClientStore) and [`GrantStore`](crate::store::GrantStore):
//! clients, codes and tokens.

use async_trait::async_trait;

use super::MemoryStore;
use crate::oidc::{AccessToken, AuthCode, Client};
use crate::store::{ClientStore, GrantStore, StoreError, StoreResult};
use crate::{ClientId, UnixTime};

#[async_trait]
impl ClientStore for MemoryStore {
    async fn insert_client(&self, c: &Client) -> StoreResult<()> {
        let mut d = self.data();
        if d.clients.iter().any(|x| x.client_id == c.client_id) {
            return Err(StoreError::Conflict(format!("client {}", c.client_id)));
        }
        d.clients.push(c.clone());
        Ok(())
    }

    async fn client(&self, client_id: &ClientId) -> StoreResult<Option<Client>> {
        Ok(self.data().clients.iter().find(|c| &c.client_id == client_id).cloned())
    }

    async fn clients(&self) -> StoreResult<Vec<Client>> {
        let mut all = self.data().clients.clone();
        all.sort_by(|a, b| (a.created_at, &a.client_id).cmp(&(b.created_at, &b.client_id)));
        Ok(all)
    }

    async fn remove_client(&self, client_id: &ClientId) -> StoreResult<bool> {
        let mut d = self.data();
        d.tokens.retain(|_, t| &t.client_id != client_id);
        d.codes.retain(|_, c| &c.client_id != client_id);
        let before = d.clients.len();
        d.clients.retain(|c| &c.client_id != client_id);
        Ok(d.clients.len() < before)
    }
}

#[async_trait]
impl GrantStore for MemoryStore {
    async fn insert_code(&self, c: &AuthCode) -> StoreResult<()> {
        let mut d = self.data();
        if d.codes.contains_key(&c.code_digest) {
            return Err(StoreError::Backend("duplicate key: auth_codes.code_digest".into()));
        }
        d.codes.insert(c.code_digest.clone(), c.clone());
        Ok(())
    }

    async fn code(&self, code_digest: &str) -> StoreResult<Option<AuthCode>> {
        Ok(self.data().codes.get(code_digest).cloned())
    }

    async fn mark_code_used(&self, code_digest: &str, _at: UnixTime) -> StoreResult<bool> {
        Ok(match self.data().codes.get_mut(code_digest) {
            Some(c) if !c.used => {
                c.used = true;
                true
            }
            _ => false,
        })
    }

    async fn insert_access_token(&self, t: &AccessToken) -> StoreResult<()> {
        let mut d = self.data();
        if d.tokens.contains_key(&t.token_digest) {
            return Err(StoreError::Backend("duplicate key: access_tokens.token_digest".into()));
        }
        d.tokens.insert(t.token_digest.clone(), t.clone());
        Ok(())
    }

    async fn access_token(&self, token_digest: &str) -> StoreResult<Option<AccessToken>> {
        Ok(self.data().tokens.get(token_digest).cloned())
    }

    async fn revoke_tokens_of_code(&self, code_digest: &str) -> StoreResult<u64> {
        let mut n = 0;
        for t in self.data().tokens.values_mut().filter(|t| t.code_digest == code_digest && !t.revoked) {
            t.revoked = true;
            n += 1;
        }
        Ok(n)
    }
}
