//! SQLite and PostgreSQL implementations of the `noegle-core` store traits.
//!
//! Both backends run the same SQL text (written once in `queries`, `$n` placeholders work on both) through one
//! generic [`SqlStore`]; only connection set-up, migrations, the way a write transaction begins and the
//! statement that holds a user's row differ (`queries::backend`). Every single-use consume
//! is one `UPDATE … WHERE used_at IS NULL` whose affected-row count decides who won.

use std::sync::Arc;

use noegle_core::store::{Store, StoreError};

pub mod backup;
mod postgres;
mod queries;
pub mod relay;
mod rows;
mod sqlite;
pub mod testing;

pub use postgres::PgStore;
pub use queries::SqlStore;
pub use sqlite::SqliteStore;

/// Opens (and migrates) the database at `url`: `sqlite://path` (created if missing) or `postgres://…`.
pub async fn open(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::open(url).await?))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Ok(Arc::new(PgStore::open(url).await?))
    } else {
        Err(StoreError::Backend(format!(
            "unsupported database URL (use sqlite://PATH or postgres://…): {}",
            redact(url)
        )))
    }
}

/// A database URL with any password replaced by `***`, for messages and logs.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

pub(crate) fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// The one mapping of a database's failure into the store's: `.db()?` on any sqlx result.
pub(crate) trait Db<T> {
    /// The result, its error as [`StoreError::Backend`].
    fn db(self) -> Result<T, StoreError>;
}

impl<T, E: std::fmt::Display> Db<T> for Result<T, E> {
    fn db(self) -> Result<T, StoreError> {
        self.map_err(backend)
    }
}

/// Maps a unique-key violation to [`StoreError::Conflict`] naming `what`.
pub(crate) fn conflict_or_backend(e: sqlx::Error, what: &str) -> StoreError {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict(what.to_string()),
        _ => backend(e),
    }
}
