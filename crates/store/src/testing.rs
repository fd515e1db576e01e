//! Helpers for tests that need a real database: a fresh PostgreSQL database per call, a temp SQLite file.

use crate::Db as _;
use noegle_core::store::StoreError;
use sqlx::Connection;

use crate::backend;

/// The server tests create their databases on: `NOEGLE_TEST_POSTGRES`, by default the local trust-auth
/// server at `postgres://postgres@127.0.0.1:5432/postgres`.
pub fn postgres_admin_url() -> String {
    std::env::var("NOEGLE_TEST_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// Creates a new, empty database with a unique name and answers its URL.
pub async fn fresh_postgres_database() -> Result<String, StoreError> {
    let admin = postgres_admin_url();
    let mut conn = sqlx::PgConnection::connect(&admin)
        .await
        .map_err(|e| backend(format!("cannot reach PostgreSQL at {} for tests: {e}", crate::redact(&admin))))?;
    let name = format!("noegle_test_{}_{}", std::process::id(), unique());
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await.db()?;
    let mut url = url::Url::parse(&admin).db()?;
    url.set_path(&name);
    Ok(url.to_string())
}

/// A SQLite URL for a file inside `dir`.
pub fn sqlite_url(dir: &std::path::Path) -> String {
    format!("sqlite://{}", dir.join("noegle.sqlite").display())
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    #[allow(clippy::disallowed_methods)] // a unique name, not a time the domain sees
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u64)
        .unwrap_or(0);
    nanos * 1000 + N.fetch_add(1, Ordering::SeqCst)
}
