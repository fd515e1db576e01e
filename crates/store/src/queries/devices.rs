//! The SQL of [`noegle_core::store::DeviceStore`]: key-app devices, their attachments, app codes and nonces. Expanded
//! by `impl_store!` for each backend.

/// Implements `DeviceStore` for `$store` over the sqlx database `$db`.
macro_rules! impl_devices {
    ($store:ty, $db:ty) => {
        #[async_trait]
        impl DeviceStore for $store {
            async fn insert_device(&self, d: &Device) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO devices (device_id, serial, sub, public_key, platform, os_version, name, status, \
                     created_at, ready_at, expires_at, activated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                )
                .bind(&d.device_id)
                .bind(&d.serial)
                .bind(&d.sub)
                .bind(&d.public_key)
                .bind(d.platform.as_str())
                .bind(&d.os_version)
                .bind(&d.name)
                .bind(d.status.as_str())
                .bind(d.created_at.0)
                .bind(d.ready_at.0)
                .bind(d.expires_at.0)
                .bind(d.activated_at.map(|t| t.0))
                .execute(&self.writer)
                .await
                .map_err(|e| crate::conflict_or_backend(e, &format!("device {}", d.serial)))?;
                Ok(())
            }

            async fn device(&self, device_id: &str) -> StoreResult<Option<Device>> {
                self.one_by("SELECT * FROM devices WHERE device_id = $1", device_id, device_from).await
            }

            async fn device_by_serial(&self, serial: &str) -> StoreResult<Option<Device>> {
                self.one_by("SELECT * FROM devices WHERE serial = $1", serial, device_from).await
            }

            async fn devices_of(&self, sub: &str) -> StoreResult<Vec<Device>> {
                self.all_by("SELECT * FROM devices WHERE sub = $1 ORDER BY created_at, device_id", sub, device_from).await
            }

            async fn activate_device(&self, device_id: &str, at: UnixTime, max_active: i64) -> StoreResult<ActivateOutcome> {
                let mut tx = self.begin().await?;
                let Some(row) = sqlx::query("SELECT sub FROM devices WHERE device_id = $1")
                    .bind(device_id)
                    .fetch_optional(&mut *tx)
                    .await
                    .db()?
                else {
                    return Ok(ActivateOutcome::NotPending);
                };
                let sub: String = row.try_get(0).db()?;
                sqlx::query(LOCK_USER).bind(&sub).execute(&mut *tx).await.db()?;
                let active: i64 = sqlx::query("SELECT COUNT(*) FROM devices WHERE sub = $1 AND status = 'active'")
                    .bind(&sub)
                    .fetch_one(&mut *tx)
                    .await
                    .and_then(|r| r.try_get(0))
                    .db()?;
                if active >= max_active {
                    return Ok(ActivateOutcome::LimitReached);
                }
                let r = sqlx::query(
                    "UPDATE devices SET status = 'active', activated_at = $2 WHERE device_id = $1 AND status = 'pending'",
                )
                .bind(device_id)
                .bind(at.0)
                .execute(&mut *tx)
                .await
                .db()?;
                if r.rows_affected() != 1 {
                    return Ok(ActivateOutcome::NotPending);
                }
                tx.commit().await.db()?;
                Ok(ActivateOutcome::Activated)
            }

            async fn set_device_status(&self, device_id: &str, from: DeviceStatus, to: DeviceStatus) -> StoreResult<bool> {
                let r = sqlx::query("UPDATE devices SET status = $3 WHERE device_id = $1 AND status = $2")
                    .bind(device_id)
                    .bind(from.as_str())
                    .bind(to.as_str())
                    .execute(&self.writer)
                    .await
                    .db()?;
                Ok(r.rows_affected() == 1)
            }

            async fn revoke_device(&self, device_id: &str, by: RevokedBy) -> StoreResult<bool> {
                let r = sqlx::query(
                    "UPDATE devices SET status = 'revoked', revoked_by = $2 \
                     WHERE device_id = $1 AND status IN ('active', 'pending')",
                )
                .bind(device_id)
                .bind(by.as_str())
                .execute(&self.writer)
                .await
                .db()?;
                Ok(r.rows_affected() == 1)
            }

            async fn reset_device_key(
                &self,
                device_id: &str,
                public_key: &[u8],
                ready_at: UnixTime,
                e: &AuditEvent,
            ) -> StoreResult<bool> {
                let mut tx = self.begin().await?;
                let r = sqlx::query(
                    "UPDATE devices SET public_key = $2, ready_at = $3, code_failures = 0 \
                     WHERE device_id = $1 AND status = 'active'",
                )
                .bind(device_id)
                .bind(public_key)
                .bind(ready_at.0)
                .execute(&mut *tx)
                .await
                .db()?;
                commit_audited(tx, r.rows_affected(), e).await
            }

            async fn set_attachment(&self, device_id: &str, kind: &str, value: Option<&str>) -> StoreResult<()> {
                let q = match value {
                    Some(v) => sqlx::query(
                        "INSERT INTO device_attachments (device_id, kind, value) VALUES ($1, $2, $3) \
                         ON CONFLICT (device_id, kind) DO UPDATE SET value = excluded.value",
                    )
                    .bind(device_id)
                    .bind(kind)
                    .bind(v),
                    None => sqlx::query("DELETE FROM device_attachments WHERE device_id = $1 AND kind = $2")
                        .bind(device_id)
                        .bind(kind),
                };
                q.execute(&self.writer).await.db()?;
                Ok(())
            }

            async fn attachment(&self, device_id: &str, kind: &str) -> StoreResult<Option<String>> {
                let row = sqlx::query("SELECT value FROM device_attachments WHERE device_id = $1 AND kind = $2")
                    .bind(device_id)
                    .bind(kind)
                    .fetch_optional(&self.pool)
                    .await
                    .db()?;
                row.map(|r| r.try_get(0)).transpose().db()
            }

            async fn clear_attachments(&self, device_id: &str) -> StoreResult<()> {
                sqlx::query("DELETE FROM device_attachments WHERE device_id = $1")
                    .bind(device_id)
                    .execute(&self.writer)
                    .await
                    .db()?;
                Ok(())
            }

            async fn active_attachments(&self, sub: &str, kind: &str) -> StoreResult<Vec<(String, String)>> {
                let rows = sqlx::query(
                    "SELECT a.device_id, a.value FROM device_attachments a JOIN devices d ON d.device_id = a.device_id \
                     WHERE d.sub = $1 AND d.status = 'active' AND a.kind = $2 ORDER BY a.device_id",
                )
                .bind(sub)
                .bind(kind)
                .fetch_all(&self.pool)
                .await
                .db()?;
                rows.iter()
                    .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                    .collect::<Result<Vec<_>, sqlx::Error>>()
                    .db()
            }

            async fn set_app_code(&self, device_id: &str, record: &[u8]) -> StoreResult<()> {
                sqlx::query("UPDATE devices SET opaque_record = $2, code_failures = 0 WHERE device_id = $1")
                    .bind(device_id)
                    .bind(record)
                    .execute(&self.writer)
                    .await
                    .db()?;
                Ok(())
            }

            async fn app_code(&self, device_id: &str) -> StoreResult<Option<Vec<u8>>> {
                let row = sqlx::query("SELECT opaque_record FROM devices WHERE device_id = $1")
                    .bind(device_id)
                    .fetch_optional(&self.pool)
                    .await
                    .db()?;
                match row {
                    Some(r) => r.try_get::<Option<Vec<u8>>, _>(0).db(),
                    None => Ok(None),
                }
            }

            async fn add_code_failure(&self, device_id: &str) -> StoreResult<i64> {
                let row = sqlx::query(
                    "UPDATE devices SET code_failures = code_failures + 1 WHERE device_id = $1 RETURNING code_failures",
                )
                .bind(device_id)
                .fetch_optional(&self.writer)
                .await
                .db()?;
                match row {
                    Some(r) => r.try_get(0).db(),
                    None => Err(crate::backend(format!("no device {device_id}"))),
                }
            }

            async fn code_failures(&self, device_id: &str) -> StoreResult<i64> {
                let row = sqlx::query("SELECT code_failures FROM devices WHERE device_id = $1")
                    .bind(device_id)
                    .fetch_optional(&self.pool)
                    .await
                    .db()?;
                match row {
                    Some(r) => r.try_get(0).db(),
                    None => Ok(0),
                }
            }

            async fn reset_code_failures(&self, device_id: &str) -> StoreResult<()> {
                sqlx::query("UPDATE devices SET code_failures = 0 WHERE device_id = $1")
                    .bind(device_id)
                    .execute(&self.writer)
                    .await
                    .db()?;
                Ok(())
            }

            async fn remember_nonce(&self, device_id: &str, nonce: &str, at: UnixTime) -> StoreResult<bool> {
                let r = sqlx::query(
                    "INSERT INTO device_nonces (device_id, nonce, seen_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (device_id, nonce) DO NOTHING",
                )
                .bind(device_id)
                .bind(nonce)
                .bind(at.0)
                .execute(&self.writer)
                .await
                .db()?;
                Ok(r.rows_affected() == 1)
            }
        }
    };
}

pub(crate) use impl_devices;
