//! The context every flow runs in: where state lives, the time, and who asked from where.

use crate::UnixTime;
use crate::audit::{AuditEvent, AuditKind};
use crate::store::{Store, StoreError};

/// The context of one operation: where state lives, the time, and who asked from where.
#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    /// Storage.
    pub store: &'a dyn Store,
    /// Now.
    pub now: UnixTime,
    /// The client address, or `cli`.
    pub source: Option<&'a str>,
}

impl Ctx<'_> {
    /// Appends an audit event of `kind` about `user` with `detail`.
    pub async fn audit(
        &self,
        kind: AuditKind,
        user: Option<&str>,
        detail: serde_json::Value,
    ) -> Result<(), StoreError> {
        self.store.append_audit(&AuditEvent::new(self.now, kind, user, self.source).with(detail)).await
    }

    /// Appends an audit event of `kind` about a key-app device: its user, its serial, and the fields of `extra`.
    pub async fn audit_device(
        &self,
        kind: AuditKind,
        device: &crate::records::device::Device,
        extra: serde_json::Value,
    ) -> Result<(), StoreError> {
        let event = self.device_event(kind, device, extra).await?;
        self.store.append_audit(&event).await
    }

    /// The audit event of `kind` about a device (as [`Ctx::audit_device`] writes it), for a caller that
    /// commits it together with the change it records.
    pub async fn device_event(
        &self,
        kind: AuditKind,
        device: &crate::records::device::Device,
        extra: serde_json::Value,
    ) -> Result<AuditEvent, StoreError> {
        let user = self.store.user_by_sub(&device.sub).await?.map(|u| u.user_id.to_string());
        let mut detail = serde_json::json!({ "device": device.serial });
        if let (Some(d), serde_json::Value::Object(extra)) = (detail.as_object_mut(), extra) {
            d.extend(extra);
        }
        Ok(AuditEvent::new(self.now, kind, user.as_deref(), self.source).with(detail))
    }
}
