//! The few differences between the two databases, behind [`Backend`]: how a write transaction begins and
//! which statement holds a user's row. Every statement is an [`Sql`] value (its text and bound values) that
//! either backend runs.

use std::borrow::Cow;
use std::future::Future;
use std::marker::PhantomData;

use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::{Database, Encode, Executor, FromRow, IntoArguments, Pool, Postgres, Sqlite, Transaction, Type};

/// One value bound to a statement's placeholder.
pub(crate) enum Value<'a> {
    Text(Cow<'a, str>),
    OptText(Option<&'a str>),
    Int(i64),
    OptInt(Option<i64>),
    Bool(bool),
    Bytes(&'a [u8]),
}

impl<'a> From<&'a str> for Value<'a> {
    fn from(v: &'a str) -> Self {
        Value::Text(Cow::Borrowed(v))
    }
}

impl<'a> From<&'a String> for Value<'a> {
    fn from(v: &'a String) -> Self {
        Value::Text(Cow::Borrowed(v))
    }
}

impl From<String> for Value<'_> {
    fn from(v: String) -> Self {
        Value::Text(Cow::Owned(v))
    }
}

impl<'a> From<Option<&'a str>> for Value<'a> {
    fn from(v: Option<&'a str>) -> Self {
        Value::OptText(v)
    }
}

impl<'a> From<&'a Option<String>> for Value<'a> {
    fn from(v: &'a Option<String>) -> Self {
        Value::OptText(v.as_deref())
    }
}

impl From<i64> for Value<'_> {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}

impl From<Option<i64>> for Value<'_> {
    fn from(v: Option<i64>) -> Self {
        Value::OptInt(v)
    }
}

impl From<bool> for Value<'_> {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}

impl<'a> From<&'a [u8]> for Value<'a> {
    fn from(v: &'a [u8]) -> Self {
        Value::Bytes(v)
    }
}

impl<'a> From<&'a Vec<u8>> for Value<'a> {
    fn from(v: &'a Vec<u8>) -> Self {
        Value::Bytes(v)
    }
}

/// A statement and the values of its `$1`, `$2`, … placeholders, in order.
pub(crate) struct Sql<'a> {
    text: Cow<'a, str>,
    args: Vec<Value<'a>>,
}

impl<'a> Sql<'a> {
    /// The statement `text`, with no values bound yet.
    pub(crate) fn new(text: impl Into<Cow<'a, str>>) -> Self {
        Sql { text: text.into(), args: Vec::new() }
    }

    /// Binds `value` to the next placeholder.
    pub(crate) fn bind(mut self, value: impl Into<Value<'a>>) -> Self {
        self.args.push(value.into());
        self
    }
}

/// Where a statement runs: on a pool (the readers, or the writer), or inside a write transaction.
pub(crate) enum On<'a, DB: Database> {
    Pool(&'a Pool<DB>),
    Tx(&'a mut Transaction<'static, DB>),
}

/// A row that sqlx decodes on both databases (a `rows` type, or a tuple of columns).
pub(crate) trait FromDbRow: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin {}

impl<T> FromDbRow for T where T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin {}

/// A database the store runs on: the dialect differences, and running an [`Sql`].
pub(crate) trait Backend: Database {
    /// Inside a write transaction, holds a user's row until commit.
    const LOCK_USER: &'static str;

    /// Begins a write transaction on `writer`.
    fn begin(writer: &Pool<Self>) -> impl Future<Output = Result<Transaction<'static, Self>, sqlx::Error>> + Send;

    /// Runs `sql`; answers how many rows it changed.
    fn execute(on: On<'_, Self>, sql: Sql<'_>) -> impl Future<Output = Result<u64, sqlx::Error>> + Send;

    /// The first row `sql` answers, if any.
    fn fetch_optional<R: FromDbRow>(
        on: On<'_, Self>,
        sql: Sql<'_>,
    ) -> impl Future<Output = Result<Option<R>, sqlx::Error>> + Send;

    /// Every row `sql` answers.
    fn fetch_all<R: FromDbRow>(
        on: On<'_, Self>,
        sql: Sql<'_>,
    ) -> impl Future<Output = Result<Vec<R>, sqlx::Error>> + Send;
}

impl Backend for Sqlite {
    // BEGIN IMMEDIATE already holds the write lock; reading the row is enough.
    const LOCK_USER: &'static str = "SELECT sub FROM users WHERE sub = $1";

    async fn begin(writer: &Pool<Sqlite>) -> Result<Transaction<'static, Sqlite>, sqlx::Error> {
        writer.begin_with("BEGIN IMMEDIATE").await
    }

    async fn execute(on: On<'_, Sqlite>, sql: Sql<'_>) -> Result<u64, sqlx::Error> {
        Ok(Run::execute(on, sql).await?.rows_affected())
    }

    async fn fetch_optional<R: FromDbRow>(on: On<'_, Sqlite>, sql: Sql<'_>) -> Result<Option<R>, sqlx::Error> {
        Run::fetch_optional(on, sql).await
    }

    async fn fetch_all<R: FromDbRow>(on: On<'_, Sqlite>, sql: Sql<'_>) -> Result<Vec<R>, sqlx::Error> {
        Run::fetch_all(on, sql).await
    }
}

impl Backend for Postgres {
    const LOCK_USER: &'static str = "SELECT sub FROM users WHERE sub = $1 FOR UPDATE";

    async fn begin(writer: &Pool<Postgres>) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
        writer.begin().await
    }

    async fn execute(on: On<'_, Postgres>, sql: Sql<'_>) -> Result<u64, sqlx::Error> {
        Ok(Run::execute(on, sql).await?.rows_affected())
    }

    async fn fetch_optional<R: FromDbRow>(on: On<'_, Postgres>, sql: Sql<'_>) -> Result<Option<R>, sqlx::Error> {
        Run::fetch_optional(on, sql).await
    }

    async fn fetch_all<R: FromDbRow>(on: On<'_, Postgres>, sql: Sql<'_>) -> Result<Vec<R>, sqlx::Error> {
        Run::fetch_all(on, sql).await
    }
}

/// Runs an [`Sql`] through sqlx on any database that can bind every [`Value`]; each backend's
/// [`Backend`] methods call these.
struct Run<DB>(PhantomData<DB>);

impl<DB> Run<DB>
where
    DB: Database,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> Cow<'q, str>: Encode<'q, DB> + Type<DB>,
    for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
    for<'q> &'q [u8]: Encode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB> + Type<DB>,
    for<'q> bool: Encode<'q, DB> + Type<DB>,
{
    async fn execute(on: On<'_, DB>, sql: Sql<'_>) -> Result<DB::QueryResult, sqlx::Error> {
        let Sql { text, args } = sql;
        let query = Self::query(&text, args);
        match on {
            On::Pool(pool) => query.execute(pool).await,
            On::Tx(tx) => query.execute(&mut **tx).await,
        }
    }

    async fn fetch_optional<R>(on: On<'_, DB>, sql: Sql<'_>) -> Result<Option<R>, sqlx::Error>
    where
        R: for<'r> FromRow<'r, DB::Row>,
    {
        let Sql { text, args } = sql;
        let query = Self::query(&text, args);
        let row = match on {
            On::Pool(pool) => query.fetch_optional(pool).await?,
            On::Tx(tx) => query.fetch_optional(&mut **tx).await?,
        };
        row.as_ref().map(R::from_row).transpose()
    }

    async fn fetch_all<R>(on: On<'_, DB>, sql: Sql<'_>) -> Result<Vec<R>, sqlx::Error>
    where
        R: for<'r> FromRow<'r, DB::Row>,
    {
        let Sql { text, args } = sql;
        let query = Self::query(&text, args);
        let rows = match on {
            On::Pool(pool) => query.fetch_all(pool).await?,
            On::Tx(tx) => query.fetch_all(&mut **tx).await?,
        };
        rows.iter().map(R::from_row).collect()
    }

    /// The sqlx query of `text` with `args` bound.
    fn query<'q>(text: &'q str, args: Vec<Value<'q>>) -> sqlx::query::Query<'q, DB, DB::Arguments<'q>> {
        args.into_iter().fold(sqlx::query(text), |q, v| match v {
            Value::Text(s) => q.bind(s),
            Value::OptText(s) => q.bind(s),
            Value::Int(n) => q.bind(n),
            Value::OptInt(n) => q.bind(n),
            Value::Bool(b) => q.bind(b),
            Value::Bytes(b) => q.bind(b),
        })
    }
}
