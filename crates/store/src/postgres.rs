//! The scale-out backend: PostgreSQL with `synchronous_commit=on`, shared by any number of server nodes.

use crate::Db as _;
use crate::SqlStore;
use noegle_core::store::StoreError;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::str::FromStr;

/// The PostgreSQL store. Reads and writes share one pool (`writer` is the same pool): PostgreSQL has many
/// writers at once.
pub type PgStore = SqlStore<sqlx::Postgres>;

impl SqlStore<sqlx::Postgres> {
    /// Connects to `postgres://…` and runs the migrations.
    pub async fn open(url: &str) -> Result<PgStore, StoreError> {
        let options = PgConnectOptions::from_str(url).db()?.options([("synchronous_commit", "on")]);
        // No ping before each use (a round trip per statement); a connection the server dropped fails its
        // statement, which the caller sees as a storage error, and the pool replaces the connection.
        // While the database is away a request waits at most three seconds for a connection, then fails as
        // unavailable (503), rather than holding its client for the pool's default half-minute.
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .test_before_acquire(false)
            .acquire_timeout(std::time::Duration::from_secs(3))
            .connect_with(options)
            .await
            .db()?;
        sqlx::migrate!("../../migrations/postgres").run(&pool).await.db()?;
        Ok(SqlStore { writer: pool.clone(), pool })
    }
}
