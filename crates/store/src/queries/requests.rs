//! The SQL of [`noegle_core::store::RequestStore`]: log-in requests to the key app. Expanded by `impl_store!` for
//! each backend.

/// Implements `RequestStore` for `$store` over the sqlx database `$db`.
macro_rules! impl_requests {
    ($store:ty, $db:ty) => {
        #[async_trait]
        impl RequestStore for $store {
            async fn insert_request(&self, q: &AuthRequest, now: UnixTime) -> StoreResult<()> {
                let mut tx = self.begin().await?;
                sqlx::query(LOCK_USER).bind(&q.sub).execute(&mut *tx).await.db()?;
                sqlx::query(
                    "UPDATE auth_requests SET state = CASE WHEN expires_at <= $2 THEN 'expired' ELSE 'cancelled' END, \
                     decided_at = $2 WHERE sub = $1 AND state = 'pending'",
                )
                .bind(&q.sub)
                .bind(now.0)
                .execute(&mut *tx)
                .await
                .db()?;
                sqlx::query(
                    "INSERT INTO auth_requests (request_id, sub, client_id, client_name, action, match_code, nonce, \
                     state, created_at, expires_at, decided_at, decided_by) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL, NULL)",
                )
                .bind(&q.request_id)
                .bind(&q.sub)
                .bind(&q.client_id)
                .bind(&q.client_name)
                .bind(&q.action)
                .bind(&q.match_code)
                .bind(&q.nonce)
                .bind(q.state.as_str())
                .bind(q.created_at.0)
                .bind(q.expires_at.0)
                .execute(&mut *tx)
                .await
                .map_err(|e| crate::conflict_or_backend(e, "a pending request"))?;
                tx.commit().await.db()
            }

            async fn request(&self, request_id: &str) -> StoreResult<Option<AuthRequest>> {
                self.one_by("SELECT * FROM auth_requests WHERE request_id = $1", request_id, request_from).await
            }

            async fn recent_requests(&self, sub: &str, since: UnixTime) -> StoreResult<Vec<AuthRequest>> {
                let rows = sqlx::query(
                    "SELECT * FROM auth_requests WHERE sub = $1 AND created_at >= $2 ORDER BY created_at DESC, request_id",
                )
                .bind(sub)
                .bind(since.0)
                .fetch_all(&self.pool)
                .await
                .db()?;
                rows.iter().map(request_from).collect::<Result<_, _>>().db()
            }

            async fn set_request_state(
                &self,
                request_id: &str,
                from: RequestState,
                to: RequestState,
                at: UnixTime,
                device_id: Option<&str>,
                unlock: Option<&str>,
            ) -> StoreResult<bool> {
                let r = sqlx::query(
                    "UPDATE auth_requests SET state = $3, decided_at = $4, decided_by = $5, decided_with = $6 \
                     WHERE request_id = $1 AND state = $2",
                )
                .bind(request_id)
                .bind(from.as_str())
                .bind(to.as_str())
                .bind(at.0)
                .bind(device_id)
                .bind(unlock)
                .execute(&self.writer)
                .await
                .db()?;
                Ok(r.rows_affected() == 1)
            }

            async fn pause_requests(&self, sub: &str, until: UnixTime) -> StoreResult<()> {
                sqlx::query("UPDATE users SET push_blocked_until = $2 WHERE sub = $1")
                    .bind(sub)
                    .bind(until.0)
                    .execute(&self.writer)
                    .await
                    .db()?;
                Ok(())
            }

            async fn requests_paused_until(&self, sub: &str) -> StoreResult<Option<UnixTime>> {
                let row = sqlx::query("SELECT push_blocked_until FROM users WHERE sub = $1")
                    .bind(sub)
                    .fetch_optional(&self.pool)
                    .await
                    .db()?;
                match row {
                    Some(r) => Ok(r.try_get::<Option<i64>, _>(0).db()?.map(UnixTime)),
                    None => Ok(None),
                }
            }
        }
    };
}

pub(crate) use impl_requests;
