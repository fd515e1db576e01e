//! The store's SQL, written once and expanded for each backend by [`impl_store!`]: the shared helpers here,
//! each store trait's statements in a file of its own.

/// Implements every core store trait for `$store` (which has a `pool` for reads, a `writer` for every
/// statement that writes, and a `begin()` for write transactions on the writer) over the sqlx database
/// `$db`. `$lock_user` is the statement that, inside a write transaction, holds a user's row until commit (PostgreSQL needs `FOR UPDATE`; SQLite's `BEGIN IMMEDIATE`
/// already serialises writers).
macro_rules! impl_store {
    ($store:ty, $db:ty, $lock_user:expr) => {
        use async_trait::async_trait;
        use noegle_core::UnixTime;
        use noegle_core::audit::{AuditEvent, AuditRecord};
        use noegle_core::device::{ActivateOutcome, Device, DeviceStatus, RevokedBy};
        use noegle_core::keycard::{CardStatus, KeyCard, StoredKey};
        use noegle_core::oidc::{AccessToken, AuthCode, Client};
        use noegle_core::request::{AuthRequest, RequestState};
        use noegle_core::session_key::SessionKey;
        use noegle_core::store::{
            AuditStore, ClientStore, DeviceStore, GrantStore, GuessStore, KeyCardStore, RequestStore, SessionStore,
            StoreResult, UserStore,
        };
        use noegle_core::user::{User, UserId};
        use sqlx::Row;

        type DbRow = <$db as sqlx::Database>::Row;

        /// Inside a write transaction, holds a user's row until commit.
        const LOCK_USER: &str = $lock_user;

        /// Appends `e` to the audit log through `ex` (the writer, or a transaction the event commits with).
        async fn insert_audit<'c, E: sqlx::Executor<'c, Database = $db>>(ex: E, e: &AuditEvent) -> StoreResult<()> {
            sqlx::query("INSERT INTO audit_log (at, kind, user_id, source, detail) VALUES ($1, $2, $3, $4, $5)")
                .bind(e.at.0)
                .bind(e.kind.as_str())
                .bind(&e.user)
                .bind(&e.source)
                .bind(e.detail.to_string())
                .execute(ex)
                .await
                .db()?;
            Ok(())
        }

        /// Commits `tx` together with the audit event `e` recording its change, when that change touched
        /// exactly one row (`rows`); otherwise drops it, which rolls it back: nothing changed. Answers which.
        async fn commit_audited(
            mut tx: sqlx::Transaction<'static, $db>,
            rows: u64,
            e: &AuditEvent,
        ) -> StoreResult<bool> {
            if rows != 1 {
                return Ok(false);
            }
            insert_audit(&mut *tx, e).await?;
            tx.commit().await.db()?;
            Ok(true)
        }

        const USER_COLUMNS: &str =
            "sub, user_id, display_name, password_hash, blocked, failed_attempts, last_failure_at, created_at";
        const CARD_COLUMNS: &str = "c.serial, c.sub, c.status, c.issued_at, \
             (SELECT COUNT(*) FROM card_keys k WHERE k.serial = c.serial AND k.used_at IS NULL) AS unused";
        const CODE_COLUMNS: &str = "code_digest, client_id, redirect_uri, sub, scope, nonce, code_challenge, amr, \
             auth_time, expires_at, used_at";

        /// Decodes a row as `R` and converts it into the domain's `T`.
        fn decode<R, T>(r: &DbRow) -> Result<T, sqlx::Error>
        where
            R: for<'r> sqlx::FromRow<'r, DbRow>,
            T: TryFrom<R, Error = sqlx::Error>,
        {
            T::try_from(R::from_row(r)?)
        }

        fn user_from(r: &DbRow) -> Result<User, sqlx::Error> {
            decode::<crate::rows::UserRow, _>(r)
        }

        fn card_from(r: &DbRow) -> Result<KeyCard, sqlx::Error> {
            decode::<crate::rows::CardRow, _>(r)
        }

        fn client_from(r: &DbRow) -> Result<Client, sqlx::Error> {
            decode::<crate::rows::ClientRow, _>(r)
        }

        fn code_from(r: &DbRow) -> Result<AuthCode, sqlx::Error> {
            decode::<crate::rows::CodeRow, _>(r)
        }

        fn token_from(r: &DbRow) -> Result<AccessToken, sqlx::Error> {
            decode::<crate::rows::TokenRow, _>(r)
        }

        fn device_from(r: &DbRow) -> Result<Device, sqlx::Error> {
            decode::<crate::rows::DeviceRow, _>(r)
        }

        fn request_from(r: &DbRow) -> Result<AuthRequest, sqlx::Error> {
            decode::<crate::rows::RequestRow, _>(r)
        }

        fn audit_from(r: &DbRow) -> Result<AuditRecord, sqlx::Error> {
            decode::<crate::rows::AuditRow, _>(r)
        }

        impl $store {
            /// The row `sql` finds for one text argument, decoded by `from`.
            async fn one_by<T>(
                &self,
                sql: &str,
                arg: &str,
                from: fn(&DbRow) -> Result<T, sqlx::Error>,
            ) -> StoreResult<Option<T>> {
                let row = sqlx::query(sql).bind(arg).fetch_optional(&self.pool).await.db()?;
                row.as_ref().map(from).transpose().db()
            }

            /// Every row `sql` finds for one text argument, decoded by `from`.
            async fn all_by<T>(
                &self,
                sql: &str,
                arg: &str,
                from: fn(&DbRow) -> Result<T, sqlx::Error>,
            ) -> StoreResult<Vec<T>> {
                let rows = sqlx::query(sql).bind(arg).fetch_all(&self.pool).await.db()?;
                rows.iter().map(from).collect::<Result<_, _>>().db()
            }
        }

        crate::queries::users::impl_users!($store, $db);
        crate::queries::cards::impl_cards!($store, $db);
        crate::queries::clients::impl_clients!($store, $db);
        crate::queries::grants::impl_grants!($store, $db);
        crate::queries::sessions::impl_sessions!($store, $db);
        crate::queries::audit::impl_audit!($store, $db);
        crate::queries::devices::impl_devices!($store, $db);
        crate::queries::requests::impl_requests!($store, $db);
        crate::queries::guesses::impl_guesses!($store, $db);
    };
}

pub(crate) use impl_store;

pub(crate) mod audit;
pub(crate) mod cards;
pub(crate) mod clients;
pub(crate) mod devices;
pub(crate) mod grants;
pub(crate) mod guesses;
pub(crate) mod requests;
pub(crate) mod sessions;
pub(crate) mod users;
