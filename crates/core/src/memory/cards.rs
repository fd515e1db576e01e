//! The in-memory [`KeyCardStore`](crate::store::KeyCardStore): a card's keys beside it, each used once.

use async_trait::async_trait;

use super::{Data, MemoryStore};
use crate::audit::AuditEvent;
use crate::keycard::{CardStatus, KeyCard, StoredKey};
use crate::store::{KeyCardStore, StoreError, StoreResult};
use crate::{CardSerial, UnixTime};

impl Data {
    fn consume(&mut self, serial: &CardSerial, number: &str, at: UnixTime) -> bool {
        match self.cards.get_mut(serial).and_then(|(_, keys)| keys.get_mut(number)) {
            Some((_, used @ None)) => {
                *used = Some(at);
                true
            }
            _ => false,
        }
    }

    fn card_with_count(&self, serial: &CardSerial) -> Option<KeyCard> {
        self.cards.get(serial).map(|(card, keys)| KeyCard {
            unused: keys.values().filter(|(_, used)| used.is_none()).count() as i64,
            ..card.clone()
        })
    }
}

#[async_trait]
impl KeyCardStore for MemoryStore {
    async fn insert_card(&self, card: &KeyCard, keys: &[StoredKey]) -> StoreResult<()> {
        let mut d = self.data();
        if d.cards.contains_key(&card.serial) {
            return Err(StoreError::Conflict(format!("key card {}", card.serial)));
        }
        let keys = keys.iter().map(|k| (k.number.clone(), (k.digest.clone(), None))).collect();
        d.cards.insert(card.serial.clone(), (card.clone(), keys));
        Ok(())
    }

    async fn cards_of(&self, sub: &str) -> StoreResult<Vec<KeyCard>> {
        let d = self.data();
        let mut cards: Vec<KeyCard> =
            d.cards.values().filter(|(c, _)| c.sub == sub).filter_map(|(c, _)| d.card_with_count(&c.serial)).collect();
        cards.sort_by(|a, b| (a.issued_at, &a.serial).cmp(&(b.issued_at, &b.serial)));
        Ok(cards)
    }

    async fn card(&self, serial: &CardSerial) -> StoreResult<Option<KeyCard>> {
        Ok(self.data().card_with_count(serial))
    }

    async fn unused_key_numbers(&self, serial: &CardSerial) -> StoreResult<Vec<String>> {
        Ok(self.data().cards.get(serial).map_or_else(Vec::new, |(_, keys)| {
            keys.iter().filter(|(_, (_, used))| used.is_none()).map(|(n, _)| n.clone()).collect()
        }))
    }

    async fn unused_key_digest(&self, serial: &CardSerial, number: &str) -> StoreResult<Option<Vec<u8>>> {
        Ok(self
            .data()
            .cards
            .get(serial)
            .and_then(|(_, keys)| keys.get(number))
            .filter(|(_, used)| used.is_none())
            .map(|(digest, _)| digest.clone()))
    }

    async fn consume_key(&self, serial: &CardSerial, number: &str, at: UnixTime) -> StoreResult<bool> {
        Ok(self.data().consume(serial, number, at))
    }

    async fn consume_key_audited(
        &self,
        serial: &CardSerial,
        number: &str,
        at: UnixTime,
        event: &AuditEvent,
    ) -> StoreResult<bool> {
        let mut d = self.data();
        let consumed = d.consume(serial, number, at);
        if consumed {
            d.append(event);
        }
        Ok(consumed)
    }

    async fn set_card_status(&self, serial: &CardSerial, from: CardStatus, to: CardStatus) -> StoreResult<bool> {
        let mut d = self.data();
        match d.cards.get_mut(serial) {
            Some((card, _)) if card.status == from => {
                card.status = to;
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}
