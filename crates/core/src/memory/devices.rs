//! The in-memory [`DeviceStore`](crate::store::DeviceStore): devices, their app codes, nonces and attachments.

use std::collections::HashSet;

use async_trait::async_trait;

use super::MemoryStore;
use crate::audit::AuditEvent;
use crate::device::{ActivateOutcome, Device, DeviceStatus, RevokedBy};
use crate::store::{DeviceStore, StoreError, StoreResult};
use crate::{DeviceId, UnixTime};

#[async_trait]
impl DeviceStore for MemoryStore {
    async fn insert_device(&self, dev: &Device) -> StoreResult<()> {
        let mut d = self.data();
        if d.devices.contains_key(&dev.device_id) || d.devices.values().any(|x| x.serial == dev.serial) {
            return Err(StoreError::Conflict(format!("device {}", dev.serial)));
        }
        d.devices.insert(dev.device_id.clone(), dev.clone());
        Ok(())
    }

    async fn device(&self, device_id: &DeviceId) -> StoreResult<Option<Device>> {
        Ok(self.data().devices.get(device_id).cloned())
    }

    async fn device_by_serial(&self, serial: &str) -> StoreResult<Option<Device>> {
        Ok(self.data().devices.values().find(|x| x.serial == serial).cloned())
    }

    async fn devices_of(&self, sub: &str) -> StoreResult<Vec<Device>> {
        let mut all: Vec<Device> = self.data().devices.values().filter(|x| x.sub == sub).cloned().collect();
        all.sort_by(|a, b| (a.created_at, &a.device_id).cmp(&(b.created_at, &b.device_id)));
        Ok(all)
    }

    async fn activate_device(
        &self,
        device_id: &DeviceId,
        at: UnixTime,
        max_active: i64,
    ) -> StoreResult<ActivateOutcome> {
        let mut d = self.data();
        // As the databases check: the device, then its user's limit, then that it is pending.
        let Some(sub) = d.devices.get(device_id).map(|x| x.sub.clone()) else {
            return Ok(ActivateOutcome::NotPending);
        };
        let active = d.devices.values().filter(|x| x.sub == sub && x.status == DeviceStatus::Active).count() as i64;
        if active >= max_active {
            return Ok(ActivateOutcome::LimitReached);
        }
        match d.devices.get_mut(device_id) {
            Some(x) if x.status == DeviceStatus::Pending => {
                x.status = DeviceStatus::Active;
                x.activated_at = Some(at);
                Ok(ActivateOutcome::Activated)
            }
            _ => Ok(ActivateOutcome::NotPending),
        }
    }

    async fn set_device_status(&self, device_id: &DeviceId, from: DeviceStatus, to: DeviceStatus) -> StoreResult<bool> {
        Ok(match self.data().devices.get_mut(device_id) {
            Some(x) if x.status == from => {
                x.status = to;
                true
            }
            _ => false,
        })
    }

    async fn revoke_device(&self, device_id: &DeviceId, by: RevokedBy) -> StoreResult<bool> {
        Ok(match self.data().devices.get_mut(device_id) {
            Some(x) if matches!(x.status, DeviceStatus::Active | DeviceStatus::Pending) => {
                x.status = DeviceStatus::Revoked;
                x.revoked_by = Some(by);
                true
            }
            _ => false,
        })
    }

    async fn reset_device_key(
        &self,
        device_id: &DeviceId,
        public_key: &[u8],
        cooling_off_until: UnixTime,
        e: &AuditEvent,
    ) -> StoreResult<bool> {
        let mut d = self.data();
        match d.devices.get_mut(device_id) {
            Some(x) if x.status == DeviceStatus::Active => {
                x.public_key = public_key.to_vec();
                x.cooling_off_until = Some(cooling_off_until);
            }
            _ => return Ok(false),
        }
        d.code_failures.remove(device_id);
        d.append(e);
        Ok(true)
    }

    async fn set_app_code(&self, device_id: &DeviceId, record: &[u8]) -> StoreResult<()> {
        let mut d = self.data();
        if d.devices.contains_key(device_id) {
            d.app_codes.insert(device_id.clone(), record.to_vec());
            d.code_failures.remove(device_id);
        }
        Ok(())
    }

    async fn app_code(&self, device_id: &DeviceId) -> StoreResult<Option<Vec<u8>>> {
        Ok(self.data().app_codes.get(device_id).cloned())
    }

    async fn add_code_failure(&self, device_id: &DeviceId) -> StoreResult<i64> {
        let mut d = self.data();
        if !d.devices.contains_key(device_id) {
            return Err(StoreError::Backend(format!("no device {device_id}")));
        }
        let n = d.code_failures.entry(device_id.clone()).or_insert(0);
        *n += 1;
        Ok(*n)
    }

    async fn code_failures(&self, device_id: &DeviceId) -> StoreResult<i64> {
        Ok(self.data().code_failures.get(device_id).copied().unwrap_or(0))
    }

    async fn reset_code_failures(&self, device_id: &DeviceId) -> StoreResult<()> {
        self.data().code_failures.remove(device_id);
        Ok(())
    }

    async fn remember_nonce(&self, device_id: &DeviceId, nonce: &str, at: UnixTime) -> StoreResult<bool> {
        let key = (device_id.clone(), nonce.to_string());
        let mut d = self.data();
        if d.nonces.contains_key(&key) {
            return Ok(false);
        }
        d.nonces.insert(key, at);
        Ok(true)
    }

    async fn set_attachment(&self, device_id: &DeviceId, kind: &str, value: Option<&str>) -> StoreResult<()> {
        let key = (device_id.clone(), kind.to_string());
        let mut d = self.data();
        match value {
            Some(v) => d.attachments.insert(key, v.to_string()),
            None => d.attachments.remove(&key),
        };
        Ok(())
    }

    async fn attachment(&self, device_id: &DeviceId, kind: &str) -> StoreResult<Option<String>> {
        Ok(self.data().attachments.get(&(device_id.clone(), kind.to_string())).cloned())
    }

    async fn clear_attachments(&self, device_id: &DeviceId) -> StoreResult<()> {
        self.data().attachments.retain(|(id, _), _| id != device_id);
        Ok(())
    }

    async fn active_attachments(&self, sub: &str, kind: &str) -> StoreResult<Vec<(DeviceId, String)>> {
        let d = self.data();
        let active: HashSet<&DeviceId> = d
            .devices
            .values()
            .filter(|x| x.sub == sub && x.status == DeviceStatus::Active)
            .map(|x| &x.device_id)
            .collect();
        Ok(d.attachments
            .iter()
            .filter(|((id, k), _)| k == kind && active.contains(id))
            .map(|((id, _), v)| (id.clone(), v.clone()))
            .collect())
    }
}
