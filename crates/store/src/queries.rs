//! The store's SQL, written once and expanded for each backend by [`impl_store!`].

/// Implements every core store trait for `$store` (which has a `pool` for reads, a `writer` for every
/// statement that writes, and a `begin()` for write transactions on the writer) over the sqlx database
/// `$db`. `$lock_user` is the statement that, inside a write transaction, holds a user's row until commit (PostgreSQL needs `FOR UPDATE`; SQLite's `BEGIN IMMEDIATE`
/// already serialises writers).
macro_rules! impl_store {
    ($store:ty, $db:ty, $lock_user:expr) => {
        use async_trait::async_trait;
        use noegle_core::UnixTime;
        use noegle_core::activation::ActivateOutcome;
        use noegle_core::audit::{AuditEvent, AuditRecord};
        use noegle_core::device::{Device, DeviceStatus};
        use noegle_core::request::{AuthRequest, RequestState};
        use noegle_core::keycard::{CardStatus, KeyCard, StoredKey};
        use noegle_core::oidc::{AccessToken, AuthCode, Client};
        use noegle_core::store::{
            AuditStore, ClientStore, DeviceStore, GrantStore, KeyCardStore, RequestStore, SessionStore, StoreResult,
            UserStore,
        };
        use noegle_core::user::{User, UserId};
        use sqlx::Row;

        type DbRow = <$db as sqlx::Database>::Row;

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
                .map_err(crate::backend)?;
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
            tx.commit().await.map_err(crate::backend)?;
            Ok(true)
        }

        const USER_COLUMNS: &str =
            "sub, user_id, display_name, password_hash, blocked, failed_attempts, last_failure_at, created_at";
        const CARD_COLUMNS: &str = "c.serial, c.sub, c.status, c.issued_at, \
             (SELECT COUNT(*) FROM card_keys k WHERE k.serial = c.serial AND k.used_at IS NULL) AS unused";
        const CODE_COLUMNS: &str = "code_digest, client_id, redirect_uri, sub, scope, nonce, code_challenge, amr, \
             auth_time, expires_at, used_at";

        fn user_from(r: &DbRow) -> Result<User, sqlx::Error> {
            let user_id: String = r.try_get("user_id")?;
            Ok(User {
                sub: r.try_get("sub")?,
                user_id: UserId::parse(&user_id).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
                display_name: r.try_get("display_name")?,
                password_hash: r.try_get("password_hash")?,
                blocked: r.try_get("blocked")?,
                failed_attempts: r.try_get("failed_attempts")?,
                last_failure_at: r.try_get::<Option<i64>, _>("last_failure_at")?.map(UnixTime),
                created_at: UnixTime(r.try_get("created_at")?),
            })
        }

        fn card_from(r: &DbRow) -> Result<KeyCard, sqlx::Error> {
            let status: String = r.try_get("status")?;
            Ok(KeyCard {
                serial: r.try_get("serial")?,
                sub: r.try_get("sub")?,
                status: CardStatus::parse(&status)
                    .ok_or_else(|| sqlx::Error::Decode(format!("unknown card status {status}").into()))?,
                issued_at: UnixTime(r.try_get("issued_at")?),
                unused: r.try_get("unused")?,
            })
        }

        fn client_from(r: &DbRow) -> Result<Client, sqlx::Error> {
            let uris: String = r.try_get("redirect_uris")?;
            Ok(Client {
                client_id: r.try_get("client_id")?,
                name: r.try_get("name")?,
                secret_digest: r.try_get("secret_digest")?,
                redirect_uris: serde_json::from_str(&uris).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
                created_at: UnixTime(r.try_get("created_at")?),
            })
        }

        fn code_from(r: &DbRow) -> Result<AuthCode, sqlx::Error> {
            let amr: String = r.try_get("amr")?;
            Ok(AuthCode {
                code_digest: r.try_get("code_digest")?,
                client_id: r.try_get("client_id")?,
                redirect_uri: r.try_get("redirect_uri")?,
                sub: r.try_get("sub")?,
                scope: r.try_get("scope")?,
                nonce: r.try_get("nonce")?,
                code_challenge: r.try_get("code_challenge")?,
                amr: amr.split_whitespace().map(str::to_string).collect(),
                auth_time: UnixTime(r.try_get("auth_time")?),
                expires_at: UnixTime(r.try_get("expires_at")?),
                used: r.try_get::<Option<i64>, _>("used_at")?.is_some(),
            })
        }

        fn token_from(r: &DbRow) -> Result<AccessToken, sqlx::Error> {
            Ok(AccessToken {
                token_digest: r.try_get("token_digest")?,
                sub: r.try_get("sub")?,
                client_id: r.try_get("client_id")?,
                scope: r.try_get("scope")?,
                code_digest: r.try_get("code_digest")?,
                expires_at: UnixTime(r.try_get("expires_at")?),
                revoked: r.try_get("revoked")?,
            })
        }

        fn device_from(r: &DbRow) -> Result<Device, sqlx::Error> {
            let status: String = r.try_get("status")?;
            Ok(Device {
                device_id: r.try_get("device_id")?,
                serial: r.try_get("serial")?,
                sub: r.try_get("sub")?,
                public_key: r.try_get("public_key")?,
                platform: r.try_get("platform")?,
                os_version: r.try_get("os_version")?,
                name: r.try_get("name")?,
                status: DeviceStatus::parse(&status)
                    .ok_or_else(|| sqlx::Error::Decode(format!("unknown device status {status}").into()))?,
                created_at: UnixTime(r.try_get("created_at")?),
                ready_at: UnixTime(r.try_get("ready_at")?),
                expires_at: UnixTime(r.try_get("expires_at")?),
                activated_at: r.try_get::<Option<i64>, _>("activated_at")?.map(UnixTime),
            })
        }

        fn request_from(r: &DbRow) -> Result<AuthRequest, sqlx::Error> {
            let state: String = r.try_get("state")?;
            Ok(AuthRequest {
                request_id: r.try_get("request_id")?,
                sub: r.try_get("sub")?,
                client_id: r.try_get("client_id")?,
                client_name: r.try_get("client_name")?,
                action: r.try_get("action")?,
                match_code: r.try_get("match_code")?,
                nonce: r.try_get("nonce")?,
                state: RequestState::parse(&state)
                    .ok_or_else(|| sqlx::Error::Decode(format!("unknown request state {state}").into()))?,
                created_at: UnixTime(r.try_get("created_at")?),
                expires_at: UnixTime(r.try_get("expires_at")?),
                decided_at: r.try_get::<Option<i64>, _>("decided_at")?.map(UnixTime),
                decided_by: r.try_get("decided_by")?,
                decided_with: r.try_get("decided_with")?,
            })
        }

        fn audit_from(r: &DbRow) -> Result<AuditRecord, sqlx::Error> {
            let detail: String = r.try_get("detail")?;
            Ok(AuditRecord {
                id: r.try_get("id")?,
                at: UnixTime(r.try_get("at")?),
                kind: r.try_get("kind")?,
                user: r.try_get("user_id")?,
                source: r.try_get("source")?,
                detail: serde_json::from_str(&detail).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
            })
        }

        impl $store {
            /// The row `sql` finds for one text argument, decoded by `from`.
            async fn one_by<T>(&self, sql: &str, arg: &str, from: fn(&DbRow) -> Result<T, sqlx::Error>) -> StoreResult<Option<T>> {
                let row = sqlx::query(sql).bind(arg).fetch_optional(&self.pool).await.map_err(crate::backend)?;
                row.as_ref().map(from).transpose().map_err(crate::backend)
            }

            /// Every row `sql` finds for one text argument, decoded by `from`.
            async fn all_by<T>(&self, sql: &str, arg: &str, from: fn(&DbRow) -> Result<T, sqlx::Error>) -> StoreResult<Vec<T>> {
                let rows = sqlx::query(sql).bind(arg).fetch_all(&self.pool).await.map_err(crate::backend)?;
                rows.iter().map(from).collect::<Result<_, _>>().map_err(crate::backend)
            }
        }

        #[async_trait]
        impl UserStore for $store {
            async fn insert_user(&self, u: &User) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO users (sub, user_id, display_name, password_hash, blocked, failed_attempts, \
                     last_failure_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(&u.sub)
                .bind(u.user_id.as_str())
                .bind(&u.display_name)
                .bind(&u.password_hash)
                .bind(u.blocked)
                .bind(u.failed_attempts)
                .bind(u.last_failure_at.map(|t| t.0))
                .bind(u.created_at.0)
                .execute(&self.writer)
                .await
                .map_err(|e| crate::conflict_or_backend(e, &format!("user {}", u.user_id)))?;
                Ok(())
            }

            async fn user_by_user_id(&self, user_id: &UserId) -> StoreResult<Option<User>> {
                let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE user_id = $1"))
                    .bind(user_id.as_str())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(crate::backend)?;
                row.as_ref().map(user_from).transpose().map_err(crate::backend)
            }

            async fn user_by_sub(&self, sub: &str) -> StoreResult<Option<User>> {
                self.one_by(&format!("SELECT {USER_COLUMNS} FROM users WHERE sub = $1"), sub, user_from).await
            }

            async fn set_password_hash(&self, sub: &str, hash: &str) -> StoreResult<bool> {
                let r = sqlx::query("UPDATE users SET password_hash = $2 WHERE sub = $1")
                    .bind(sub)
                    .bind(hash)
                    .execute(&self.writer)
                    .await
                    .map_err(crate::backend)?;
                Ok(r.rows_affected() == 1)
            }

            async fn set_blocked(&self, sub: &str, blocked: bool) -> StoreResult<bool> {
                let sql = if blocked {
                    "UPDATE users SET blocked = $2 WHERE sub = $1"
                } else {
                    "UPDATE users SET blocked = $2, failed_attempts = 0, last_failure_at = NULL WHERE sub = $1"
                };
                let r = sqlx::query(sql).bind(sub).bind(blocked).execute(&self.writer).await.map_err(crate::backend)?;
                Ok(r.rows_affected() == 1)
            }

            async fn record_failure(&self, sub: &str, at: UnixTime) -> StoreResult<i64> {
                let row = sqlx::query(
                    "UPDATE users SET failed_attempts = failed_attempts + 1, last_failure_at = $2 \
                     WHERE sub = $1 RETURNING failed_attempts",
                )
                .bind(sub)
                .bind(at.0)
                .fetch_optional(&self.writer)
                .await
                .map_err(crate::backend)?;
                match row {
                    Some(r) => r.try_get(0).map_err(crate::backend),
                    None => Err(crate::backend(format!("no user {sub}"))),
                }
            }

            async fn reset_failures(&self, sub: &str) -> StoreResult<()> {
                sqlx::query("UPDATE users SET failed_attempts = 0, last_failure_at = NULL WHERE sub = $1")
                    .bind(sub)
                    .execute(&self.writer)
                    .await
                    .map_err(crate::backend)?;
                Ok(())
            }
        }

        #[async_trait]
        impl KeyCardStore for $store {
            async fn insert_card(&self, card: &KeyCard, keys: &[StoredKey]) -> StoreResult<()> {
                let mut tx = self.begin().await?;
                sqlx::query("INSERT INTO key_cards (serial, sub, status, issued_at) VALUES ($1, $2, $3, $4)")
                    .bind(&card.serial)
                    .bind(&card.sub)
                    .bind(card.status.as_str())
                    .bind(card.issued_at.0)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| crate::conflict_or_backend(e, &format!("key card {}", card.serial)))?;
                for k in keys {
                    sqlx::query("INSERT INTO card_keys (serial, number, digest) VALUES ($1, $2, $3)")
                        .bind(&card.serial)
                        .bind(&k.number)
                        .bind(&k.digest)
                        .execute(&mut *tx)
                        .await
                        .map_err(crate::backend)?;
                }
                tx.commit().await.map_err(crate::backend)
            }

            async fn cards_of(&self, sub: &str) -> StoreResult<Vec<KeyCard>> {
                self.all_by(&format!(
                    "SELECT {CARD_COLUMNS} FROM key_cards c WHERE c.sub = $1 ORDER BY c.issued_at, c.serial"
                ), sub, card_from).await
            }

            async fn card(&self, serial: &str) -> StoreResult<Option<KeyCard>> {
                self.one_by(&format!("SELECT {CARD_COLUMNS} FROM key_cards c WHERE c.serial = $1"), serial, card_from).await
            }

            async fn unused_key_numbers(&self, serial: &str) -> StoreResult<Vec<String>> {
                let rows = sqlx::query(
                    "SELECT number FROM card_keys WHERE serial = $1 AND used_at IS NULL ORDER BY number",
                )
                .bind(serial)
                .fetch_all(&self.pool)
                .await
                .map_err(crate::backend)?;
                rows.iter().map(|r| r.try_get(0)).collect::<Result<_, _>>().map_err(crate::backend)
            }

            async fn unused_key_digest(&self, serial: &str, number: &str) -> StoreResult<Option<Vec<u8>>> {
                let row = sqlx::query(
                    "SELECT digest FROM card_keys WHERE serial = $1 AND number = $2 AND used_at IS NULL",
                )
                .bind(serial)
                .bind(number)
                .fetch_optional(&self.pool)
                .await
                .map_err(crate::backend)?;
                row.map(|r| r.try_get(0)).transpose().map_err(crate::backend)
            }

            async fn consume_key(&self, serial: &str, number: &str, at: UnixTime) -> StoreResult<bool> {
                let r = sqlx::query(
                    "UPDATE card_keys SET used_at = $3 WHERE serial = $1 AND number = $2 AND used_at IS NULL",
                )
                .bind(serial)
                .bind(number)
                .bind(at.0)
                .execute(&self.writer)
                .await
                .map_err(crate::backend)?;
                Ok(r.rows_affected() == 1)
            }

            async fn consume_key_audited(
                &self,
                serial: &str,
                number: &str,
                at: UnixTime,
                e: &AuditEvent,
            ) -> StoreResult<bool> {
                let mut tx = self.begin().await?;
                let r = sqlx::query(
                    "UPDATE card_keys SET used_at = $3 WHERE serial = $1 AND number = $2 AND used_at IS NULL",
                )
                .bind(serial)
                .bind(number)
                .bind(at.0)
                .execute(&mut *tx)
                .await
                .map_err(crate::backend)?;
                commit_audited(tx, r.rows_affected(), e).await
            }

            async fn set_card_status(&self, serial: &str, from: CardStatus, to: CardStatus) -> StoreResult<bool> {
                let r = sqlx::query("UPDATE key_cards SET status = $3 WHERE serial = $1 AND status = $2")
                    .bind(serial)
                    .bind(from.as_str())
                    .bind(to.as_str())
                    .execute(&self.writer)
                    .await
                    .map_err(crate::backend)?;
                Ok(r.rows_affected() == 1)
            }
        }

        #[async_trait]
        impl ClientStore for $store {
            async fn insert_client(&self, c: &Client) -> StoreResult<()> {
                let uris = serde_json::to_string(&c.redirect_uris).map_err(crate::backend)?;
                sqlx::query(
                    "INSERT INTO clients (client_id, name, secret_digest, redirect_uris, created_at) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(&c.client_id)
                .bind(&c.name)
                .bind(&c.secret_digest)
                .bind(uris)
                .bind(c.created_at.0)
                .execute(&self.writer)
                .await
                .map_err(|e| crate::conflict_or_backend(e, &format!("client {}", c.client_id)))?;
                Ok(())
            }

            async fn client(&self, client_id: &str) -> StoreResult<Option<Client>> {
                self.one_by("SELECT * FROM clients WHERE client_id = $1", client_id, client_from).await
            }

            async fn clients(&self) -> StoreResult<Vec<Client>> {
                let rows = sqlx::query("SELECT * FROM clients ORDER BY created_at, client_id")
                    .fetch_all(&self.pool)
                    .await
                    .map_err(crate::backend)?;
                rows.iter().map(client_from).collect::<Result<_, _>>().map_err(crate::backend)
            }

            async fn remove_client(&self, client_id: &str) -> StoreResult<bool> {
                let mut tx = self.begin().await?;
                for sql in ["DELETE FROM access_tokens WHERE client_id = $1", "DELETE FROM auth_codes WHERE client_id = $1"]
                {
                    sqlx::query(sql).bind(client_id).execute(&mut *tx).await.map_err(crate::backend)?;
                }
                let r = sqlx::query("DELETE FROM clients WHERE client_id = $1")
                    .bind(client_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(crate::backend)?;
                tx.commit().await.map_err(crate::backend)?;
                Ok(r.rows_affected() == 1)
            }
        }

        #[async_trait]
        impl GrantStore for $store {
            async fn insert_code(&self, c: &AuthCode) -> StoreResult<()> {
                sqlx::query(&format!(
                    "INSERT INTO auth_codes ({CODE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL)"
                ))
                .bind(&c.code_digest)
                .bind(&c.client_id)
                .bind(&c.redirect_uri)
                .bind(&c.sub)
                .bind(&c.scope)
                .bind(&c.nonce)
                .bind(&c.code_challenge)
                .bind(c.amr.join(" "))
                .bind(c.auth_time.0)
                .bind(c.expires_at.0)
                .execute(&self.writer)
                .await
                .map_err(crate::backend)?;
                Ok(())
            }

            async fn code(&self, code_digest: &str) -> StoreResult<Option<AuthCode>> {
                self.one_by(&format!("SELECT {CODE_COLUMNS} FROM auth_codes WHERE code_digest = $1"), code_digest, code_from).await
            }

            async fn mark_code_used(&self, code_digest: &str, at: UnixTime) -> StoreResult<bool> {
                let r = sqlx::query("UPDATE auth_codes SET used_at = $2 WHERE code_digest = $1 AND used_at IS NULL")
                    .bind(code_digest)
                    .bind(at.0)
                    .execute(&self.writer)
                    .await
                    .map_err(crate::backend)?;
                Ok(r.rows_affected() == 1)
            }

            async fn insert_access_token(&self, t: &AccessToken) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO access_tokens (token_digest, sub, client_id, scope, code_digest, expires_at, revoked) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(&t.token_digest)
                .bind(&t.sub)
                .bind(&t.client_id)
                .bind(&t.scope)
                .bind(&t.code_digest)
                .bind(t.expires_at.0)
                .bind(t.revoked)
                .execute(&self.writer)
                .await
                .map_err(crate::backend)?;
                Ok(())
            }

            async fn access_token(&self, token_digest: &str) -> StoreResult<Option<AccessToken>> {
                self.one_by("SELECT * FROM access_tokens WHERE token_digest = $1", token_digest, token_from).await
            }

            async fn revoke_tokens_of_code(&self, code_digest: &str) -> StoreResult<u64> {
                let r = sqlx::query("UPDATE access_tokens SET revoked = TRUE WHERE code_digest = $1 AND revoked = FALSE")
                    .bind(code_digest)
                    .execute(&self.writer)
                    .await
                    .map_err(crate::backend)?;
                Ok(r.rows_affected())
            }
        }

        #[async_trait]
        impl SessionStore for $store {
            async fn put_session(&self, id_digest: &str, data: &str, expires_at: UnixTime) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO sessions (id_digest, data, expires_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (id_digest) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at",
                )
                .bind(id_digest)
                .bind(data)
                .bind(expires_at.0)
                .execute(&self.writer)
                .await
                .map_err(crate::backend)?;
                Ok(())
            }

            async fn rotate_session(&self, old: &str, new: &str, data: &str, expires_at: UnixTime) -> StoreResult<bool> {
                let r = sqlx::query("UPDATE sessions SET id_digest = $2, data = $3, expires_at = $4 WHERE id_digest = $1")
                    .bind(old)
                    .bind(new)
                    .bind(data)
                    .bind(expires_at.0)
                    .execute(&self.writer)
                    .await
                    .map_err(crate::backend)?;
                Ok(r.rows_affected() == 1)
            }

            async fn session(&self, id_digest: &str, now: UnixTime) -> StoreResult<Option<String>> {
                let row = sqlx::query("SELECT data FROM sessions WHERE id_digest = $1 AND expires_at > $2")
                    .bind(id_digest)
                    .bind(now.0)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(crate::backend)?;
                row.map(|r| r.try_get(0)).transpose().map_err(crate::backend)
            }

            async fn take_session(&self, id_digest: &str, now: UnixTime) -> StoreResult<Option<String>> {
                let row = sqlx::query("DELETE FROM sessions WHERE id_digest = $1 AND expires_at > $2 RETURNING data")
                    .bind(id_digest)
                    .bind(now.0)
                    .fetch_optional(&self.writer)
                    .await
                    .map_err(crate::backend)?;
                row.map(|r| r.try_get(0)).transpose().map_err(crate::backend)
            }

            async fn purge_expired(&self, now: UnixTime, nonces_before: UnixTime) -> StoreResult<u64> {
                let a = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
                    .bind(now.0)
                    .execute(&self.writer)
                    .await
                    .map_err(crate::backend)?;
                let b = sqlx::query("DELETE FROM device_nonces WHERE seen_at < $1")
                    .bind(nonces_before.0)
                    .execute(&self.writer)
                    .await
                    .map_err(crate::backend)?;
                Ok(a.rows_affected() + b.rows_affected())
            }

            async fn delete_session(&self, id_digest: &str) -> StoreResult<()> {
                sqlx::query("DELETE FROM sessions WHERE id_digest = $1")
                    .bind(id_digest)
                    .execute(&self.writer)
                    .await
                    .map_err(crate::backend)?;
                Ok(())
            }
        }

        #[async_trait]
        impl AuditStore for $store {
            async fn append_audit(&self, e: &AuditEvent) -> StoreResult<()> {
                insert_audit(&self.writer, e).await
            }

            async fn audit(&self, user: Option<&str>, limit: i64) -> StoreResult<Vec<AuditRecord>> {
                let query = match user {
                    Some(u) => sqlx::query(
                        "SELECT * FROM (SELECT * FROM audit_log WHERE user_id = $1 ORDER BY id DESC LIMIT $2) t \
                         ORDER BY id",
                    )
                    .bind(u.to_string()),
                    None => sqlx::query(
                        "SELECT * FROM (SELECT * FROM audit_log ORDER BY id DESC LIMIT $1) t ORDER BY id",
                    ),
                };
                let rows = query.bind(limit).fetch_all(&self.pool).await.map_err(crate::backend)?;
                rows.iter().map(audit_from).collect::<Result<_, _>>().map_err(crate::backend)
            }
        }

        #[async_trait]
        impl DeviceStore for $store {
            async fn insert_device(&self, d: &Device) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO devices (device_id, serial, sub, public_key, platform, os_version, name, status, \
                     created_at, ready_at, expires_at, activated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                )
                .bind(&d.device_id)
                .bind(&d.serial)
                .bind(&d.sub)
                .bind(&d.public_key)
                .bind(&d.platform)
                .bind(&d.os_version)
                .bind(&d.name)
                .bind(d.status.as_str())
                .bind(d.created_at.0)
                .bind(d.ready_at.0)
                .bind(d.expires_at.0)
                .bind(d.activated_at.map(|t| t.0))
                .execute(&self.writer)
                .await
                .map_err(|e| crate::conflict_or_backend(e, &format!("device {}", d.serial)))?;
                Ok(())
            }

            async fn device(&self, device_id: &str) -> StoreResult<Option<Device>> {
                self.one_by("SELECT * FROM devices WHERE device_id = $1", device_id, device_from).await
            }

            async fn device_by_serial(&self, serial: &str) -> StoreResult<Option<Device>> {
                self.one_by("SELECT * FROM devices WHERE serial = $1", serial, device_from).await
            }

            async fn devices_of(&self, sub: &str) -> StoreResult<Vec<Device>> {
                self.all_by("SELECT * FROM devices WHERE sub = $1 ORDER BY created_at, device_id", sub, device_from).await
            }

            async fn activate_device(&self, device_id: &str, at: UnixTime, max_active: i64) -> StoreResult<ActivateOutcome> {
                let mut tx = self.begin().await?;
                let Some(row) = sqlx::query("SELECT sub FROM devices WHERE device_id = $1")
                    .bind(device_id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(crate::backend)?
                else {
                    return Ok(ActivateOutcome::NotPending);
                };
                let sub: String = row.try_get(0).map_err(crate::backend)?;
                sqlx::query($lock_user).bind(&sub).execute(&mut *tx).await.map_err(crate::backend)?;
                let active: i64 = sqlx::query("SELECT COUNT(*) FROM devices WHERE sub = $1 AND status = 'active'")
                    .bind(&sub)
                    .fetch_one(&mut *tx)
                    .await
                    .and_then(|r| r.try_get(0))
                    .map_err(crate::backend)?;
                if active >= max_active {
                    return Ok(ActivateOutcome::LimitReached);
                }
                let r = sqlx::query(
                    "UPDATE devices SET status = 'active', activated_at = $2 WHERE device_id = $1 AND status = 'pending'",
                )
                .bind(device_id)
                .bind(at.0)
                .execute(&mut *tx)
                .await
                .map_err(crate::backend)?;
                if r.rows_affected() != 1 {
                    return Ok(ActivateOutcome::NotPending);
                }
                tx.commit().await.map_err(crate::backend)?;
                Ok(ActivateOutcome::Activated)
            }

            async fn set_device_status(&self, device_id: &str, from: DeviceStatus, to: DeviceStatus) -> StoreResult<bool> {
                let r = sqlx::query("UPDATE devices SET status = $3 WHERE device_id = $1 AND status = $2")
                    .bind(device_id)
                    .bind(from.as_str())
                    .bind(to.as_str())
                    .execute(&self.writer)
                    .await
                    .map_err(crate::backend)?;
                Ok(r.rows_affected() == 1)
            }

            async fn reset_device_key(
                &self,
                device_id: &str,
                public_key: &[u8],
                ready_at: UnixTime,
                e: &AuditEvent,
            ) -> StoreResult<bool> {
                let mut tx = self.begin().await?;
                let r = sqlx::query(
                    "UPDATE devices SET public_key = $2, ready_at = $3, code_failures = 0 \
                     WHERE device_id = $1 AND status = 'active'",
                )
                .bind(device_id)
                .bind(public_key)
                .bind(ready_at.0)
                .execute(&mut *tx)
                .await
                .map_err(crate::backend)?;
                commit_audited(tx, r.rows_affected(), e).await
            }

            async fn set_attachment(&self, device_id: &str, kind: &str, value: Option<&str>) -> StoreResult<()> {
                let q = match value {
                    Some(v) => sqlx::query(
                        "INSERT INTO device_attachments (device_id, kind, value) VALUES ($1, $2, $3) \
                         ON CONFLICT (device_id, kind) DO UPDATE SET value = excluded.value",
                    )
                    .bind(device_id)
                    .bind(kind)
                    .bind(v),
                    None => sqlx::query("DELETE FROM device_attachments WHERE device_id = $1 AND kind = $2")
                        .bind(device_id)
                        .bind(kind),
                };
                q.execute(&self.writer).await.map_err(crate::backend)?;
                Ok(())
            }

            async fn attachment(&self, device_id: &str, kind: &str) -> StoreResult<Option<String>> {
                let row = sqlx::query("SELECT value FROM device_attachments WHERE device_id = $1 AND kind = $2")
                    .bind(device_id)
                    .bind(kind)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(crate::backend)?;
                row.map(|r| r.try_get(0)).transpose().map_err(crate::backend)
            }

            async fn clear_attachments(&self, device_id: &str) -> StoreResult<()> {
                sqlx::query("DELETE FROM device_attachments WHERE device_id = $1")
                    .bind(device_id)
                    .execute(&self.writer)
                    .await
                    .map_err(crate::backend)?;
                Ok(())
            }

            async fn active_attachments(&self, sub: &str, kind: &str) -> StoreResult<Vec<(String, String)>> {
                let rows = sqlx::query(
                    "SELECT a.device_id, a.value FROM device_attachments a JOIN devices d ON d.device_id = a.device_id \
                     WHERE d.sub = $1 AND d.status = 'active' AND a.kind = $2 ORDER BY a.device_id",
                )
                .bind(sub)
                .bind(kind)
                .fetch_all(&self.pool)
                .await
                .map_err(crate::backend)?;
                rows.iter()
                    .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                    .collect::<Result<Vec<_>, sqlx::Error>>()
                    .map_err(crate::backend)
            }

            async fn set_app_code(&self, device_id: &str, record: &[u8]) -> StoreResult<()> {
                sqlx::query("UPDATE devices SET opaque_record = $2, code_failures = 0 WHERE device_id = $1")
                    .bind(device_id)
                    .bind(record)
                    .execute(&self.writer)
                    .await
                    .map_err(crate::backend)?;
                Ok(())
            }

            async fn app_code(&self, device_id: &str) -> StoreResult<Option<Vec<u8>>> {
                let row = sqlx::query("SELECT opaque_record FROM devices WHERE device_id = $1")
                    .bind(device_id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(crate::backend)?;
                match row {
                    Some(r) => r.try_get::<Option<Vec<u8>>, _>(0).map_err(crate::backend),
                    None => Ok(None),
                }
            }

            async fn add_code_failure(&self, device_id: &str) -> StoreResult<i64> {
                let row = sqlx::query(
                    "UPDATE devices SET code_failures = code_failures + 1 WHERE device_id = $1 RETURNING code_failures",
                )
                .bind(device_id)
                .fetch_optional(&self.writer)
                .await
                .map_err(crate::backend)?;
                match row {
                    Some(r) => r.try_get(0).map_err(crate::backend),
                    None => Err(crate::backend(format!("no device {device_id}"))),
                }
            }

            async fn code_failures(&self, device_id: &str) -> StoreResult<i64> {
                let row = sqlx::query("SELECT code_failures FROM devices WHERE device_id = $1")
                    .bind(device_id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(crate::backend)?;
                match row {
                    Some(r) => r.try_get(0).map_err(crate::backend),
                    None => Ok(0),
                }
            }

            async fn reset_code_failures(&self, device_id: &str) -> StoreResult<()> {
                sqlx::query("UPDATE devices SET code_failures = 0 WHERE device_id = $1")
                    .bind(device_id)
                    .execute(&self.writer)
                    .await
                    .map_err(crate::backend)?;
                Ok(())
            }

            async fn remember_nonce(&self, device_id: &str, nonce: &str, at: UnixTime) -> StoreResult<bool> {
                let r = sqlx::query(
                    "INSERT INTO device_nonces (device_id, nonce, seen_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (device_id, nonce) DO NOTHING",
                )
                .bind(device_id)
                .bind(nonce)
                .bind(at.0)
                .execute(&self.writer)
                .await
                .map_err(crate::backend)?;
                Ok(r.rows_affected() == 1)
            }
        }

        #[async_trait]
        impl RequestStore for $store {
            async fn insert_request(&self, q: &AuthRequest, now: UnixTime) -> StoreResult<()> {
                let mut tx = self.begin().await?;
                sqlx::query($lock_user).bind(&q.sub).execute(&mut *tx).await.map_err(crate::backend)?;
                sqlx::query(
                    "UPDATE auth_requests SET state = CASE WHEN expires_at <= $2 THEN 'expired' ELSE 'cancelled' END, \
                     decided_at = $2 WHERE sub = $1 AND state = 'pending'",
                )
                .bind(&q.sub)
                .bind(now.0)
                .execute(&mut *tx)
                .await
                .map_err(crate::backend)?;
                sqlx::query(
                    "INSERT INTO auth_requests (request_id, sub, client_id, client_name, action, match_code, nonce, \
                     state, created_at, expires_at, decided_at, decided_by) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL, NULL)",
                )
                .bind(&q.request_id)
                .bind(&q.sub)
                .bind(&q.client_id)
                .bind(&q.client_name)
                .bind(&q.action)
                .bind(&q.match_code)
                .bind(&q.nonce)
                .bind(q.state.as_str())
                .bind(q.created_at.0)
                .bind(q.expires_at.0)
                .execute(&mut *tx)
                .await
                .map_err(|e| crate::conflict_or_backend(e, "a pending request"))?;
                tx.commit().await.map_err(crate::backend)
            }

            async fn request(&self, request_id: &str) -> StoreResult<Option<AuthRequest>> {
                self.one_by("SELECT * FROM auth_requests WHERE request_id = $1", request_id, request_from).await
            }

            async fn recent_requests(&self, sub: &str, since: UnixTime) -> StoreResult<Vec<AuthRequest>> {
                let rows = sqlx::query(
                    "SELECT * FROM auth_requests WHERE sub = $1 AND created_at >= $2 ORDER BY created_at DESC, request_id",
                )
                .bind(sub)
                .bind(since.0)
                .fetch_all(&self.pool)
                .await
                .map_err(crate::backend)?;
                rows.iter().map(request_from).collect::<Result<_, _>>().map_err(crate::backend)
            }

            async fn set_request_state(
                &self,
                request_id: &str,
                from: RequestState,
                to: RequestState,
                at: UnixTime,
                device_id: Option<&str>,
                unlock: Option<&str>,
            ) -> StoreResult<bool> {
                let r = sqlx::query(
                    "UPDATE auth_requests SET state = $3, decided_at = $4, decided_by = $5, decided_with = $6 \
                     WHERE request_id = $1 AND state = $2",
                )
                .bind(request_id)
                .bind(from.as_str())
                .bind(to.as_str())
                .bind(at.0)
                .bind(device_id)
                .bind(unlock)
                .execute(&self.writer)
                .await
                .map_err(crate::backend)?;
                Ok(r.rows_affected() == 1)
            }

            async fn block_pushes(&self, sub: &str, until: UnixTime) -> StoreResult<()> {
                sqlx::query("UPDATE users SET push_blocked_until = $2 WHERE sub = $1")
                    .bind(sub)
                    .bind(until.0)
                    .execute(&self.writer)
                    .await
                    .map_err(crate::backend)?;
                Ok(())
            }

            async fn push_blocked_until(&self, sub: &str) -> StoreResult<Option<UnixTime>> {
                let row = sqlx::query("SELECT push_blocked_until FROM users WHERE sub = $1")
                    .bind(sub)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(crate::backend)?;
                match row {
                    Some(r) => Ok(r.try_get::<Option<i64>, _>(0).map_err(crate::backend)?.map(UnixTime)),
                    None => Ok(None),
                }
            }
        }
    };
}

pub(crate) use impl_store;
