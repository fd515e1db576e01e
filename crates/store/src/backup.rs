//! An online copy of a live SQLite database: `VACUUM INTO` reads one consistent snapshot while the server
//! goes on writing (WAL), and writes it to a new file. PostgreSQL is backed up with its own tools
//! (`pg_dump`), as the README shows.

use std::path::Path;

use noegle_core::store::StoreError;
use sqlx::ConnectOptions;
use sqlx::sqlite::SqliteConnectOptions;

use crate::Db as _;

/// Copies the SQLite database at `url` (`sqlite://PATH`) to `target`, which must not exist yet.
pub async fn sqlite_snapshot(url: &str, target: &Path) -> Result<(), StoreError> {
    if target.exists() {
        return Err(StoreError::Conflict(format!("{} exists", target.display())));
    }
    let options: SqliteConnectOptions = url.parse().db()?;
    let mut conn = options.read_only(true).busy_timeout(std::time::Duration::from_secs(10)).connect().await.db()?;
    let path = target.to_str().ok_or_else(|| StoreError::Backend("the backup path is not UTF-8".into()))?;
    sqlx::query("VACUUM INTO $1").bind(path).execute(&mut conn).await.db()?;
    Ok(())
}
