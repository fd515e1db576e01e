//! The store's SQL, written once for both databases: [`SqlStore`] and its shared helpers here, the dialect
//! differences in [`backend`], each store trait's statements in a file of its own.

use noegle_core::audit::AuditEvent;
use noegle_core::store::StoreResult;
use sqlx::{Database, Pool, Transaction};

use crate::Db as _;
use backend::{Backend, FromDbRow, On, Sql};

pub(crate) mod backend;

mod audit;
mod cards;
mod clients;
mod devices;
mod grants;
mod guesses;
mod requests;
mod sessions;
mod users;

/// The store on one SQL database `DB` ([`crate::SqliteStore`] or [`crate::PgStore`]): a pool for reads, and
/// a `writer` for every statement that writes and every write transaction.
#[derive(Debug)]
pub struct SqlStore<DB: Database> {
    pub(crate) pool: Pool<DB>,
    pub(crate) writer: Pool<DB>,
}

// Not derived: that would ask the database's marker type to be `Clone`.
impl<DB: Database> Clone for SqlStore<DB> {
    fn clone(&self) -> Self {
        SqlStore { pool: self.pool.clone(), writer: self.writer.clone() }
    }
}

/// Where a store's statements run, as the query files use it.
trait Pools<B: Backend> {
    /// Begins a write transaction on the writer.
    fn begin(&self) -> impl Future<Output = StoreResult<Transaction<'static, B>>> + Send;
    /// Where reads run.
    fn reader(&self) -> On<'_, B>;
    /// Where single writes run.
    fn writer(&self) -> On<'_, B>;
}

impl<B: Backend> Pools<B> for SqlStore<B> {
    async fn begin(&self) -> StoreResult<Transaction<'static, B>> {
        B::begin(&self.writer).await.db()
    }

    fn reader(&self) -> On<'_, B> {
        On::Pool(&self.pool)
    }

    fn writer(&self) -> On<'_, B> {
        On::Pool(&self.writer)
    }
}

const USER_COLUMNS: &str =
    "sub, user_id, display_name, password_hash, blocked, failed_attempts, last_failure_at, created_at";
const CARD_COLUMNS: &str = "c.serial, c.sub, c.status, c.issued_at, \
     (SELECT COUNT(*) FROM card_keys k WHERE k.serial = c.serial AND k.used_at IS NULL) AS unused";
const CODE_COLUMNS: &str = "code_digest, client_id, redirect_uri, sub, scope, nonce, code_challenge, amr, \
     auth_time, expires_at, used_at";

/// The row `sql` finds, if any, decoded as `R` and converted into the domain's `T`.
async fn one<B: Backend, R: FromDbRow, T: TryFrom<R, Error = sqlx::Error>>(
    on: On<'_, B>,
    sql: Sql<'_>,
) -> StoreResult<Option<T>> {
    B::fetch_optional::<R>(on, sql).await.and_then(|r| r.map(T::try_from).transpose()).db()
}

/// Every row `sql` finds, each decoded as `R` and converted into the domain's `T`.
async fn all<B: Backend, R: FromDbRow, T: TryFrom<R, Error = sqlx::Error>>(
    on: On<'_, B>,
    sql: Sql<'_>,
) -> StoreResult<Vec<T>> {
    let rows = B::fetch_all::<R>(on, sql).await.db()?;
    rows.into_iter().map(T::try_from).collect::<Result<_, _>>().db()
}

/// The single column of the row `sql` finds, if any.
async fn column<B: Backend, T>(on: On<'_, B>, sql: Sql<'_>) -> StoreResult<Option<T>>
where
    (T,): FromDbRow,
{
    Ok(B::fetch_optional::<(T,)>(on, sql).await.db()?.map(|(v,)| v))
}

/// Appends `e` to the audit log on `on` (the writer, or a transaction the event commits with).
async fn insert_audit<B: Backend>(on: On<'_, B>, e: &AuditEvent) -> StoreResult<()> {
    let sql = Sql::new("INSERT INTO audit_log (at, kind, user_id, source, detail) VALUES ($1, $2, $3, $4, $5)")
        .bind(e.at.0)
        .bind(e.kind.as_str())
        .bind(&e.user)
        .bind(&e.source)
        .bind(e.detail.to_string());
    B::execute(on, sql).await.db()?;
    Ok(())
}

/// Commits `tx` together with the audit event `e` recording its change, when that change touched exactly
/// one row (`rows`); otherwise drops it, which rolls it back: nothing changed. Answers which.
async fn commit_audited<B: Backend>(mut tx: Transaction<'static, B>, rows: u64, e: &AuditEvent) -> StoreResult<bool> {
    if rows != 1 {
        return Ok(false);
    }
    insert_audit(On::Tx(&mut tx), e).await?;
    tx.commit().await.db()?;
    Ok(true)
}
