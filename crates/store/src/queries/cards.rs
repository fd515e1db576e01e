//! The SQL of [`noegle_core::store::KeyCardStore`]: key cards and their keys.

use async_trait::async_trait;
use noegle_core::audit::AuditEvent;
use noegle_core::keycard::{CardStatus, KeyCard, StoredKey};
use noegle_core::store::{KeyCardStore, StoreResult};
use noegle_core::{CardSerial, UnixTime};

use super::backend::{Backend, On, Sql};
use super::{CARD_COLUMNS, Pools, SqlStore, all, column, commit_audited, one};
use crate::Db as _;
use crate::rows::CardRow;

/// Marks a key used if it was unused.
fn consume<'a>(serial: &'a CardSerial, number: &'a str, at: UnixTime) -> Sql<'a> {
    Sql::new("UPDATE card_keys SET used_at = $3 WHERE serial = $1 AND number = $2 AND used_at IS NULL")
        .bind(serial.as_str())
        .bind(number)
        .bind(at.0)
}

#[async_trait]
impl<B: Backend> KeyCardStore for SqlStore<B> {
    async fn insert_card(&self, card: &KeyCard, keys: &[StoredKey]) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        let sql = Sql::new("INSERT INTO key_cards (serial, sub, status, issued_at) VALUES ($1, $2, $3, $4)")
            .bind(card.serial.as_str())
            .bind(&card.sub)
            .bind(card.status.as_str())
            .bind(card.issued_at.0);
        B::execute(On::Tx(&mut tx), sql)
            .await
            .map_err(|e| crate::conflict_or_backend(e, &format!("key card {}", card.serial)))?;
        for k in keys {
            let sql = Sql::new("INSERT INTO card_keys (serial, number, digest) VALUES ($1, $2, $3)")
                .bind(card.serial.as_str())
                .bind(&k.number)
                .bind(&k.digest);
            B::execute(On::Tx(&mut tx), sql).await.db()?;
        }
        tx.commit().await.db()
    }

    async fn cards_of(&self, sub: &str) -> StoreResult<Vec<KeyCard>> {
        let sql =
            Sql::new(format!("SELECT {CARD_COLUMNS} FROM key_cards c WHERE c.sub = $1 ORDER BY c.issued_at, c.serial"))
                .bind(sub);
        all::<B, CardRow, _>(self.reader(), sql).await
    }

    async fn card(&self, serial: &CardSerial) -> StoreResult<Option<KeyCard>> {
        let sql = Sql::new(format!("SELECT {CARD_COLUMNS} FROM key_cards c WHERE c.serial = $1")).bind(serial.as_str());
        one::<B, CardRow, _>(self.reader(), sql).await
    }

    async fn unused_key_numbers(&self, serial: &CardSerial) -> StoreResult<Vec<String>> {
        let sql = Sql::new("SELECT number FROM card_keys WHERE serial = $1 AND used_at IS NULL ORDER BY number")
            .bind(serial.as_str());
        let rows = B::fetch_all::<(String,)>(self.reader(), sql).await.db()?;
        Ok(rows.into_iter().map(|(n,)| n).collect())
    }

    async fn unused_key_digest(&self, serial: &CardSerial, number: &str) -> StoreResult<Option<Vec<u8>>> {
        let sql = Sql::new("SELECT digest FROM card_keys WHERE serial = $1 AND number = $2 AND used_at IS NULL")
            .bind(serial.as_str())
            .bind(number);
        column(self.reader(), sql).await
    }

    async fn consume_key(&self, serial: &CardSerial, number: &str, at: UnixTime) -> StoreResult<bool> {
        Ok(B::execute(self.writer(), consume(serial, number, at)).await.db()? == 1)
    }

    async fn consume_key_audited(
        &self,
        serial: &CardSerial,
        number: &str,
        at: UnixTime,
        e: &AuditEvent,
    ) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let rows = B::execute(On::Tx(&mut tx), consume(serial, number, at)).await.db()?;
        commit_audited(tx, rows, e).await
    }

    async fn set_card_status(&self, serial: &CardSerial, from: CardStatus, to: CardStatus) -> StoreResult<bool> {
        let sql = Sql::new("UPDATE key_cards SET status = $3 WHERE serial = $1 AND status = $2")
            .bind(serial.as_str())
            .bind(from.as_str())
            .bind(to.as_str());
        Ok(B::execute(self.writer(), sql).await.db()? == 1)
    }
}
