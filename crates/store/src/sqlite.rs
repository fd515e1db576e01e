//! The embedded backend: one SQLite file in WAL mode with `synchronous=FULL`, so an acknowledged write
//! survives a crash; write transactions begin with `BEGIN IMMEDIATE`.

use crate::Db as _;
use std::str::FromStr;
use std::time::Duration;

use noegle_core::store::StoreError;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::SqlStore;

/// The SQLite store: a pool of read-only connections, and one connection for every write.
///
/// SQLite has one writer at a time. Writers that meet inside SQLite wait in its busy handler, which sleeps
/// 1, 2, 5 … 100 ms between tries — under load, tail latency in the hundreds of milliseconds. Here writers
/// queue for the one writing connection instead (a wait of microseconds per statement ahead), while reads
/// go on in parallel beside them (WAL). The readers are opened read-only, so a write sent to them by
/// mistake fails loudly.
pub type SqliteStore = SqlStore<sqlx::Sqlite>;

impl SqlStore<sqlx::Sqlite> {
    /// Opens `sqlite://PATH`, creating the file if missing (0600, whatever the umask: SQLite gives its -wal and
    /// -shm files the database's mode), and runs the migrations.
    pub async fn open(url: &str) -> Result<SqliteStore, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .db()?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        create_private(options.get_filename())?;
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
        Ok(SqlStore { pool, writer })
    }

    /// The file of the SQLite database `url` names (`sqlite://PATH`); `None` for any other database and for
    /// SQLite's memory.
    pub fn file(url: &str) -> Option<std::path::PathBuf> {
        let rest = url.strip_prefix("sqlite:")?;
        let rest = rest.strip_prefix("//").unwrap_or(rest);
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        if path.is_empty() || path == ":memory:" || query.split('&').any(|p| p == "mode=memory") {
            return None;
        }
        Some(SqliteConnectOptions::from_str(url).ok()?.get_filename().to_path_buf())
    }
}

/// Creates the database file `path` empty (an empty file is an empty SQLite database), readable by its owner
/// only, unless it exists or is SQLite's memory.
fn create_private(path: &std::path::Path) -> Result<(), StoreError> {
    if path.as_os_str().is_empty() || path.as_os_str() == ":memory:" || path.exists() {
        return Ok(());
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StoreError::Backend(format!("cannot create {}: {e}", path.display()))),
    }
}

#[cfg(all(test, unix))]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_file_of_a_database_url() {
        use super::SqliteStore;
        assert_eq!(SqliteStore::file("sqlite:///srv/n/noegle.sqlite"), Some("/srv/n/noegle.sqlite".into()));
        assert_eq!(SqliteStore::file("sqlite:///srv/n.db?mode=rwc"), Some("/srv/n.db".into()));
        assert_eq!(SqliteStore::file("sqlite::memory:"), None);
        assert_eq!(SqliteStore::file("sqlite://x.db?mode=memory"), None);
        assert_eq!(SqliteStore::file("postgres://u@h/db"), None);
    }

    #[tokio::test]
    async fn the_database_and_its_wal_are_private() {
        let tmp = tempfile::tempdir().unwrap();
        let url = crate::testing::sqlite_url(tmp.path());
        let _store = super::SqliteStore::open(&url).await.unwrap();
        for name in ["noegle.sqlite", "noegle.sqlite-wal", "noegle.sqlite-shm"] {
            let mode = std::fs::metadata(tmp.path().join(name)).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{name}");
        }
    }
}
