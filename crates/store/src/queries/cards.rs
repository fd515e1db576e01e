//! The SQL of [`noegle_core::store::KeyCardStore`]: key cards and their keys. Expanded by `impl_store!` for each
//! backend.

/// Implements `KeyCardStore` for `$store` over the sqlx database `$db`.
macro_rules! impl_cards {
    ($store:ty, $db:ty) => {
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
                        .db()?;
                }
                tx.commit().await.db()
            }

            async fn cards_of(&self, sub: &str) -> StoreResult<Vec<KeyCard>> {
                self.all_by(
                    &format!("SELECT {CARD_COLUMNS} FROM key_cards c WHERE c.sub = $1 ORDER BY c.issued_at, c.serial"),
                    sub,
                    card_from,
                )
                .await
            }

            async fn card(&self, serial: &str) -> StoreResult<Option<KeyCard>> {
                self.one_by(&format!("SELECT {CARD_COLUMNS} FROM key_cards c WHERE c.serial = $1"), serial, card_from)
                    .await
            }

            async fn unused_key_numbers(&self, serial: &str) -> StoreResult<Vec<String>> {
                let rows =
                    sqlx::query("SELECT number FROM card_keys WHERE serial = $1 AND used_at IS NULL ORDER BY number")
                        .bind(serial)
                        .fetch_all(&self.pool)
                        .await
                        .db()?;
                rows.iter().map(|r| r.try_get(0)).collect::<Result<_, _>>().db()
            }

            async fn unused_key_digest(&self, serial: &str, number: &str) -> StoreResult<Option<Vec<u8>>> {
                let row =
                    sqlx::query("SELECT digest FROM card_keys WHERE serial = $1 AND number = $2 AND used_at IS NULL")
                        .bind(serial)
                        .bind(number)
                        .fetch_optional(&self.pool)
                        .await
                        .db()?;
                row.map(|r| r.try_get(0)).transpose().db()
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
                .db()?;
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
                .db()?;
                commit_audited(tx, r.rows_affected(), e).await
            }

            async fn set_card_status(&self, serial: &str, from: CardStatus, to: CardStatus) -> StoreResult<bool> {
                let r = sqlx::query("UPDATE key_cards SET status = $3 WHERE serial = $1 AND status = $2")
                    .bind(serial)
                    .bind(from.as_str())
                    .bind(to.as_str())
                    .execute(&self.writer)
                    .await
                    .db()?;
                Ok(r.rows_affected() == 1)
            }
        }
    };
}

pub(crate) use impl_cards;
