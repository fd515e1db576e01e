//! The SQL of [`noegle_core::store::DeviceStore`]: key-app devices, their attachments, app codes and nonces.

use async_trait::async_trait;
use noegle_core::audit::AuditEvent;
use noegle_core::device::{ActivateOutcome, Device, DeviceStatus, RevokedBy};
use noegle_core::store::{DeviceStore, StoreResult};
use noegle_core::{DeviceId, UnixTime};

use super::backend::{Backend, On, Sql};
use super::{Pools, SqlStore, all, column, commit_audited, one};
use crate::Db as _;
use crate::rows::DeviceRow;

#[async_trait]
impl<B: Backend> DeviceStore for SqlStore<B> {
    async fn insert_device(&self, d: &Device) -> StoreResult<()> {
        let sql = Sql::new(
            "INSERT INTO devices (device_id, serial, sub, public_key, platform, os_version, name, status, \
             created_at, second_login_from, cooling_off_until, expires_at, activated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(d.device_id.as_str())
        .bind(&d.serial)
        .bind(&d.sub)
        .bind(&d.public_key)
        .bind(d.platform.as_str())
        .bind(&d.os_version)
        .bind(&d.name)
        .bind(d.status.as_str())
        .bind(d.created_at.0)
        .bind(d.second_login_from.0)
        .bind(d.cooling_off_until.map(|t| t.0))
        .bind(d.expires_at.0)
        .bind(d.activated_at.map(|t| t.0));
        B::execute(self.writer(), sql)
            .await
            .map_err(|e| crate::conflict_or_backend(e, &format!("device {}", d.serial)))?;
        Ok(())
    }

    async fn device(&self, device_id: &DeviceId) -> StoreResult<Option<Device>> {
        let sql = Sql::new("SELECT * FROM devices WHERE device_id = $1").bind(device_id.as_str());
        one::<B, DeviceRow, _>(self.reader(), sql).await
    }

    async fn device_by_serial(&self, serial: &str) -> StoreResult<Option<Device>> {
        let sql = Sql::new("SELECT * FROM devices WHERE serial = $1").bind(serial);
        one::<B, DeviceRow, _>(self.reader(), sql).await
    }

    async fn devices_of(&self, sub: &str) -> StoreResult<Vec<Device>> {
        let sql = Sql::new("SELECT * FROM devices WHERE sub = $1 ORDER BY created_at, device_id").bind(sub);
        all::<B, DeviceRow, _>(self.reader(), sql).await
    }

    async fn activate_device(
        &self,
        device_id: &DeviceId,
        at: UnixTime,
        max_active: i64,
    ) -> StoreResult<ActivateOutcome> {
        let mut tx = self.begin().await?;
        let sql = Sql::new("SELECT sub FROM devices WHERE device_id = $1").bind(device_id.as_str());
        let Some(sub) = column::<B, String>(On::Tx(&mut tx), sql).await? else {
            return Ok(ActivateOutcome::NotPending);
        };
        B::execute(On::Tx(&mut tx), Sql::new(B::LOCK_USER).bind(&sub)).await.db()?;
        let sql = Sql::new("SELECT COUNT(*) FROM devices WHERE sub = $1 AND status = 'active'").bind(&sub);
        let active: i64 =
            column(On::Tx(&mut tx), sql).await?.ok_or_else(|| crate::backend(sqlx::Error::RowNotFound))?;
        if active >= max_active {
            return Ok(ActivateOutcome::LimitReached);
        }
        let sql = Sql::new(
            "UPDATE devices SET status = 'active', activated_at = $2 WHERE device_id = $1 AND status = 'pending'",
        )
        .bind(device_id.as_str())
        .bind(at.0);
        if B::execute(On::Tx(&mut tx), sql).await.db()? != 1 {
            return Ok(ActivateOutcome::NotPending);
        }
        tx.commit().await.db()?;
        Ok(ActivateOutcome::Activated)
    }

    async fn set_device_status(&self, device_id: &DeviceId, from: DeviceStatus, to: DeviceStatus) -> StoreResult<bool> {
        let sql = Sql::new("UPDATE devices SET status = $3 WHERE device_id = $1 AND status = $2")
            .bind(device_id.as_str())
            .bind(from.as_str())
            .bind(to.as_str());
        Ok(B::execute(self.writer(), sql).await.db()? == 1)
    }

    async fn revoke_device(&self, device_id: &DeviceId, by: RevokedBy) -> StoreResult<bool> {
        let sql = Sql::new(
            "UPDATE devices SET status = 'revoked', revoked_by = $2 \
             WHERE device_id = $1 AND status IN ('active', 'pending')",
        )
        .bind(device_id.as_str())
        .bind(by.as_str());
        Ok(B::execute(self.writer(), sql).await.db()? == 1)
    }

    async fn reset_device_key(
        &self,
        device_id: &DeviceId,
        public_key: &[u8],
        cooling_off_until: UnixTime,
        e: &AuditEvent,
    ) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let sql = Sql::new(
            "UPDATE devices SET public_key = $2, cooling_off_until = $3, code_failures = 0 \
             WHERE device_id = $1 AND status = 'active'",
        )
        .bind(device_id.as_str())
        .bind(public_key)
        .bind(cooling_off_until.0);
        let rows = B::execute(On::Tx(&mut tx), sql).await.db()?;
        commit_audited(tx, rows, e).await
    }

    async fn set_attachment(&self, device_id: &DeviceId, kind: &str, value: Option<&str>) -> StoreResult<()> {
        let sql = match value {
            Some(v) => Sql::new(
                "INSERT INTO device_attachments (device_id, kind, value) VALUES ($1, $2, $3) \
                 ON CONFLICT (device_id, kind) DO UPDATE SET value = excluded.value",
            )
            .bind(device_id.as_str())
            .bind(kind)
            .bind(v),
            None => Sql::new("DELETE FROM device_attachments WHERE device_id = $1 AND kind = $2")
                .bind(device_id.as_str())
                .bind(kind),
        };
        B::execute(self.writer(), sql).await.db()?;
        Ok(())
    }

    async fn attachment(&self, device_id: &DeviceId, kind: &str) -> StoreResult<Option<String>> {
        let sql = Sql::new("SELECT value FROM device_attachments WHERE device_id = $1 AND kind = $2")
            .bind(device_id.as_str())
            .bind(kind);
        column(self.reader(), sql).await
    }

    async fn clear_attachments(&self, device_id: &DeviceId) -> StoreResult<()> {
        let sql = Sql::new("DELETE FROM device_attachments WHERE device_id = $1").bind(device_id.as_str());
        B::execute(self.writer(), sql).await.db()?;
        Ok(())
    }

    async fn active_attachments(&self, sub: &str, kind: &str) -> StoreResult<Vec<(DeviceId, String)>> {
        let sql = Sql::new(
            "SELECT a.device_id, a.value FROM device_attachments a JOIN devices d ON d.device_id = a.device_id \
             WHERE d.sub = $1 AND d.status = 'active' AND a.kind = $2 ORDER BY a.device_id",
        )
        .bind(sub)
        .bind(kind);
        let rows: Vec<(String, String)> = B::fetch_all(self.reader(), sql).await.db()?;
        Ok(rows.into_iter().map(|(id, value)| (DeviceId::from(id), value)).collect())
    }

    async fn set_app_code(&self, device_id: &DeviceId, record: &[u8]) -> StoreResult<()> {
        let sql = Sql::new("UPDATE devices SET opaque_record = $2, code_failures = 0 WHERE device_id = $1")
            .bind(device_id.as_str())
            .bind(record);
        B::execute(self.writer(), sql).await.db()?;
        Ok(())
    }

    async fn app_code(&self, device_id: &DeviceId) -> StoreResult<Option<Vec<u8>>> {
        let sql = Sql::new("SELECT opaque_record FROM devices WHERE device_id = $1").bind(device_id.as_str());
        Ok(column::<B, Option<Vec<u8>>>(self.reader(), sql).await?.flatten())
    }

    async fn add_code_failure(&self, device_id: &DeviceId) -> StoreResult<i64> {
        let sql = Sql::new(
            "UPDATE devices SET code_failures = code_failures + 1 WHERE device_id = $1 RETURNING code_failures",
        )
        .bind(device_id.as_str());
        column(self.writer(), sql).await?.ok_or_else(|| crate::backend(format!("no device {device_id}")))
    }

    async fn code_failures(&self, device_id: &DeviceId) -> StoreResult<i64> {
        let sql = Sql::new("SELECT code_failures FROM devices WHERE device_id = $1").bind(device_id.as_str());
        Ok(column(self.reader(), sql).await?.unwrap_or(0))
    }

    async fn reset_code_failures(&self, device_id: &DeviceId) -> StoreResult<()> {
        let sql = Sql::new("UPDATE devices SET code_failures = 0 WHERE device_id = $1").bind(device_id.as_str());
        B::execute(self.writer(), sql).await.db()?;
        Ok(())
    }

    async fn remember_nonce(&self, device_id: &DeviceId, nonce: &str, at: UnixTime) -> StoreResult<bool> {
        let sql = Sql::new(
            "INSERT INTO device_nonces (device_id, nonce, seen_at) VALUES ($1, $2, $3) \
             ON CONFLICT (device_id, nonce) DO NOTHING",
        )
        .bind(device_id.as_str())
        .bind(nonce)
        .bind(at.0);
        Ok(B::execute(self.writer(), sql).await.db()? == 1)
    }
}
