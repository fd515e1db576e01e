//! The SQL of [`noegle_core::store::AuditStore`]: the append-only audit log. Expanded by `impl_store!` for each
//! backend.

/// Implements `AuditStore` for `$store` over the sqlx database `$db`.
macro_rules! impl_audit {
    ($store:ty, $db:ty) => {
        #[async_trait]
        impl AuditStore for $store {
            async fn append_audit(&self, e: &AuditEvent) -> StoreResult<()> {
                insert_audit(&self.writer, e).await
            }

            async fn audit(&self, user: Option<&str>, limit: i64) -> StoreResult<Vec<AuditRecord>> {
                let query = match user {
                    Some(u) => sqlx::query(
                        "SELECT * FROM (SELECT * FROM audit_log WHERE user_id = $1 ORDER BY id DESC LIMIT $2) t \
                     ORDER BY id",
                    )
                    .bind(u.to_string()),
                    None => {
                        sqlx::query("SELECT * FROM (SELECT * FROM audit_log ORDER BY id DESC LIMIT $1) t ORDER BY id")
                    }
                };
                let rows = query.bind(limit).fetch_all(&self.pool).await.db()?;
                rows.iter().map(audit_from).collect::<Result<_, _>>().db()
            }
        }
    };
}

pub(crate) use impl_audit;
