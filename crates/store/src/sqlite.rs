//! The embedded backend: one SQLite file in WAL mode with `synchronous=FULL`, so an acknowledged write
//! survives a crash; write transactions begin with `BEGIN IMMEDIATE`.

use crate::Db as _;
use std::str::FromStr;
use std::time::Duration;

use noegle_core::store::StoreError;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

/// The SQLite store: a pool of read-only connections, and one connection for every write.
///
/// SQLite has one writer at a time. Writers that meet inside SQLite wait in its busy handler, which sleeps
/// 1, 2, 5 … 100 ms between tries — under load, tail latency in the hundreds of milliseconds. Here writers
/// queue for the one writing connection instead (a wait of microseconds per statement ahead), while reads
/// go on in parallel beside them (WAL). The readers are opened read-only, so a write sent to them by
/// mistake fails loudly.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    pub(crate) pool: SqlitePool,
    pub(crate) writer: SqlitePool,
}

impl SqliteStore {
    /// Opens `sqlite://PATH`, creating the file if missing, and runs the migrations.
    pub async fn open(url: &str) -> Result<SqliteStore, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .db()?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        // No ping before each use: on SQLite it is one more hand-off to the connection's worker thread per
        // statement, and a broken file fails the statement itself just as clearly.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await
            .db()?;
        sqlx::migrate!("../../migrations/sqlite").run(&writer).await.db()?;
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .test_before_acquire(false)
            .connect_with(options.read_only(true))
            .await
            .db()?;
        Ok(SqliteStore { pool, writer })
    }

    pub(crate) async fn begin(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, StoreError> {
        self.writer.begin_with("BEGIN IMMEDIATE").await.db()
    }
}

// BEGIN IMMEDIATE already holds the write lock; reading the row is enough.
crate::queries::impl_store!(SqliteStore, sqlx::Sqlite, "SELECT sub FROM users WHERE sub = $1");
