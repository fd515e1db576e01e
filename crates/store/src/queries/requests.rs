//! The SQL of [`noegle_core::store::RequestStore`]: log-in requests to the key app.

use async_trait::async_trait;
use noegle_core::request::{AuthRequest, RequestState};
use noegle_core::store::{RequestStore, StoreResult};
use noegle_core::{DeviceId, RequestId, UnixTime};

use super::backend::{Backend, On, Sql};
use super::{Pools, SqlStore, all, column, one};
use crate::Db as _;
use crate::rows::RequestRow;

#[async_trait]
impl<B: Backend> RequestStore for SqlStore<B> {
    async fn insert_request(&self, q: &AuthRequest, now: UnixTime) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        B::execute(On::Tx(&mut tx), Sql::new(B::LOCK_USER).bind(&q.sub)).await.db()?;
        let sql = Sql::new(
            "UPDATE auth_requests SET state = CASE WHEN expires_at <= $2 THEN 'expired' ELSE 'cancelled' END, \
             decided_at = $2 WHERE sub = $1 AND state = 'pending'",
        )
        .bind(&q.sub)
        .bind(now.0);
        B::execute(On::Tx(&mut tx), sql).await.db()?;
        let sql = Sql::new(
            "INSERT INTO auth_requests (request_id, sub, client_id, client_name, action, match_code, nonce, \
             state, created_at, expires_at, decided_at, decided_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL, NULL)",
        )
        .bind(q.request_id.as_str())
        .bind(&q.sub)
        .bind(q.client_id.as_str())
        .bind(&q.client_name)
        .bind(&q.action)
        .bind(&q.match_code)
        .bind(&q.nonce)
        .bind(q.state.as_str())
        .bind(q.created_at.0)
        .bind(q.expires_at.0);
        B::execute(On::Tx(&mut tx), sql).await.map_err(|e| crate::conflict_or_backend(e, "a pending request"))?;
        tx.commit().await.db()
    }

    async fn request(&self, request_id: &RequestId) -> StoreResult<Option<AuthRequest>> {
        let sql = Sql::new("SELECT * FROM auth_requests WHERE request_id = $1").bind(request_id.as_str());
        one::<B, RequestRow, _>(self.reader(), sql).await
    }

    async fn recent_requests(&self, sub: &str, since: UnixTime) -> StoreResult<Vec<AuthRequest>> {
        let sql = Sql::new(
            "SELECT * FROM auth_requests WHERE sub = $1 AND created_at >= $2 ORDER BY created_at DESC, request_id",
        )
        .bind(sub)
        .bind(since.0);
        all::<B, RequestRow, _>(self.reader(), sql).await
    }

    async fn set_request_state(
        &self,
        request_id: &RequestId,
        from: RequestState,
        to: RequestState,
        at: UnixTime,
        device_id: Option<&DeviceId>,
        unlock: Option<&str>,
    ) -> StoreResult<bool> {
        let sql = Sql::new(
            "UPDATE auth_requests SET state = $3, decided_at = $4, decided_by = $5, decided_with = $6 \
             WHERE request_id = $1 AND state = $2",
        )
        .bind(request_id.as_str())
        .bind(from.as_str())
        .bind(to.as_str())
        .bind(at.0)
        .bind(device_id.map(DeviceId::as_str))
        .bind(unlock);
        Ok(B::execute(self.writer(), sql).await.db()? == 1)
    }

    async fn pause_requests(&self, sub: &str, until: UnixTime) -> StoreResult<()> {
        let sql = Sql::new("UPDATE users SET push_blocked_until = $2 WHERE sub = $1").bind(sub).bind(until.0);
        B::execute(self.writer(), sql).await.db()?;
        Ok(())
    }

    async fn requests_paused_until(&self, sub: &str) -> StoreResult<Option<UnixTime>> {
        let sql = Sql::new("SELECT push_blocked_until FROM users WHERE sub = $1").bind(sub);
        Ok(column::<B, Option<i64>>(self.reader(), sql).await?.flatten().map(UnixTime))
    }
}
