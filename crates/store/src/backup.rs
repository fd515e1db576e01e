//! An online copy of a live SQLite database: `VACUUM INTO` reads one consistent snapshot while the server
//! goes on writing (WAL), and writes it to a new file. PostgreSQL is backed up with its own tools
//! (`pg_dump`), as the README shows.

use std::path::Path;

use noegle_core::store::StoreError;
use sqlx::ConnectOptions;
use sqlx::sqlite::SqliteConnectOptions;

use crate::Db as _;

/// Copies the SQLite database at `url` (`sqlite://PATH`) to `target`, which must not exist yet. The copy is
/// readable by its owner only (0600, whatever the umask): it is created empty first, and `VACUUM INTO` writes
/// into an empty file.
pub async fn sqlite_snapshot(url: &str, target: &Path) -> Result<(), StoreError> {
    let mut create = std::fs::OpenOptions::new();
    create.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut create, 0o600);
    match create.open(target) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(StoreError::Conflict(format!("{} exists", target.display())));
        }
        Err(e) => return Err(StoreError::Backend(format!("cannot create {}: {e}", target.display()))),
    }
    let options: SqliteConnectOptions = url.parse().db()?;
    let mut conn = options.read_only(true).busy_timeout(std::time::Duration::from_secs(10)).connect().await.db()?;
    let path = target.to_str().ok_or_else(|| StoreError::Backend("the backup path is not UTF-8".into()))?;
    sqlx::query("VACUUM INTO $1").bind(path).execute(&mut conn).await.db()?;
    Ok(())
}
