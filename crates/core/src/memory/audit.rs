//! The in-memory [`AuditStore`](crate::store::AuditStore).

use async_trait::async_trait;

use super::MemoryStore;
use crate::audit::{AuditEvent, AuditRecord};
use crate::store::{AuditStore, StoreResult};

#[async_trait]
impl AuditStore for MemoryStore {
    async fn append_audit(&self, e: &AuditEvent) -> StoreResult<()> {
        self.data().append(e);
        Ok(())
    }

    async fn audit(&self, user: Option<&str>, limit: i64) -> StoreResult<Vec<AuditRecord>> {
        let d = self.data();
        let mine: Vec<&AuditRecord> = d.audit.iter().filter(|r| user.is_none() || r.user.as_deref() == user).collect();
        let skip = mine.len().saturating_sub(usize::try_from(limit).unwrap_or(0));
        Ok(mine.into_iter().skip(skip).cloned().collect())
    }
}
