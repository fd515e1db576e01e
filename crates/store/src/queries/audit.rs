//! The SQL of [`noegle_core::store::AuditStore`]: the append-only audit log.

use async_trait::async_trait;
use noegle_core::audit::{AuditEvent, AuditRecord};
use noegle_core::store::{AuditStore, StoreResult};

use super::backend::{Backend, Sql};
use super::{Pools, SqlStore, all, insert_audit};
use crate::rows::AuditRow;

#[async_trait]
impl<B: Backend> AuditStore for SqlStore<B> {
    async fn append_audit(&self, e: &AuditEvent) -> StoreResult<()> {
        insert_audit(self.writer(), e).await
    }

    async fn audit(&self, user: Option<&str>, limit: i64) -> StoreResult<Vec<AuditRecord>> {
        let sql = match user {
            Some(u) => Sql::new(
                "SELECT * FROM (SELECT * FROM audit_log WHERE user_id = $1 ORDER BY id DESC LIMIT $2) t ORDER BY id",
            )
            .bind(u),
            None => Sql::new("SELECT * FROM (SELECT * FROM audit_log ORDER BY id DESC LIMIT $1) t ORDER BY id"),
        };
        all::<B, AuditRow, _>(self.reader(), sql.bind(limit)).await
    }
}
