//! Key cards (nøglekort): generation, keyed hashing of keys, and the choice of which key to ask for.
//!
//! A card has a serial number and [`KEYS_PER_CARD`] numbered keys: a 4-digit key number and a 6-digit key.
//! Keys come from a CSPRNG; the store keeps only HMAC-SHA256 digests under a server secret (the *pepper*),
//! so a copy of the database alone does not reveal — nor allow guessing — any key.

use std::collections::BTreeMap;

use hmac::{Hmac, Mac};
use rand::Rng;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::records::ids::CardSerial;
use crate::{SecureRng, UnixTime};

/// Keys on a new card (R-KC1).
pub const KEYS_PER_CARD: usize = 148;
/// When fewer unused keys than this remain on the card in use, a new card is issued (R-KC3).
pub const REISSUE_BELOW: i64 = 20;

/// A card's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CardStatus {
    /// In use.
    Active,
    /// Issued while an older card is still in use; becomes active when first used.
    Pending,
    /// Replaced by a newer card that has been used; its keys no longer work.
    Superseded,
    /// Blocked by support; its keys no longer work.
    Blocked,
}

impl CardStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            CardStatus::Active => "active",
            CardStatus::Pending => "pending",
            CardStatus::Superseded => "superseded",
            CardStatus::Blocked => "blocked",
        }
    }
    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<CardStatus> {
        Some(match s {
            "active" => CardStatus::Active,
            "pending" => CardStatus::Pending,
            "superseded" => CardStatus::Superseded,
            "blocked" => CardStatus::Blocked,
            _ => return None,
        })
    }
    /// Whether keys of a card in this state may be used.
    pub fn usable(self) -> bool {
        matches!(self, CardStatus::Active | CardStatus::Pending)
    }
}

/// A card as stored (without its keys).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyCard {
    /// Serial number, 10 digits.
    pub serial: CardSerial,
    /// Owner's `sub`.
    pub sub: String,
    /// State.
    pub status: CardStatus,
    /// When it was issued.
    pub issued_at: UnixTime,
    /// Keys not yet used.
    pub unused: i64,
}

/// The clear card, as it exists once: when it is printed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClearCard {
    /// Serial number.
    pub serial: CardSerial,
    /// Key number ("0001"…"9999") → key ("123456").
    pub keys: BTreeMap<String, String>,
}

/// One stored key: its number and keyed digest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredKey {
    /// Key number, 4 digits.
    pub number: String,
    /// HMAC-SHA256 of serial, number and key under the pepper.
    pub digest: Vec<u8>,
}

/// The server secret that keys the key digests.
#[derive(Clone)]
pub struct KeyPepper([u8; 32]);

impl std::fmt::Debug for KeyPepper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyPepper(..)")
    }
}

impl KeyPepper {
    /// A pepper from its 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        KeyPepper(bytes)
    }

    /// A key for another `purpose`, derived from the pepper (HKDF-SHA256): one secret file serves them all,
    /// and no derived key reveals the pepper or another purpose's key.
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        let mut out = [0u8; 32];
        // 32 bytes is far below HKDF-SHA256's limit of 8160, so `expand` cannot fail.
        let _ = hkdf::Hkdf::<Sha256>::new(Some(b"noegle"), &self.0).expand(purpose.as_bytes(), &mut out);
        out
    }

    /// The digest the store keeps for `key` at `number` on card `serial`.
    pub fn digest(&self, serial: &CardSerial, number: &str, key: &str) -> Vec<u8> {
        // HMAC accepts keys of any length, so `new_from_slice` cannot fail here.
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.0) else {
            return Vec::new();
        };
        for part in [serial.as_str(), number, key] {
            mac.update(&(part.len() as u32).to_be_bytes());
            mac.update(part.as_bytes());
        }
        mac.finalize().into_bytes().to_vec()
    }
}

/// Issues a new card: a fresh serial, [`KEYS_PER_CARD`] distinct random key numbers, random keys.
pub fn generate(rng: &mut dyn SecureRng, pepper: &KeyPepper) -> (ClearCard, Vec<StoredKey>) {
    let serial = CardSerial::from(format!("{:010}", rng.gen_range(1_000_000_000u64..10_000_000_000)));
    let mut keys = BTreeMap::new();
    while keys.len() < KEYS_PER_CARD {
        let number = format!("{:04}", rng.gen_range(1u32..10_000));
        let key = format!("{:06}", rng.gen_range(0u32..1_000_000));
        keys.entry(number).or_insert(key);
    }
    let stored =
        keys.iter().map(|(n, k)| StoredKey { number: n.clone(), digest: pepper.digest(&serial, n, k) }).collect();
    (ClearCard { serial, keys }, stored)
}

/// Formats a serial for people: `123-456-7890` (the same in the key apps).
pub use noegle_proto::display_serial;

/// Normalises what a user typed as a key: digits only, spaces and dashes dropped; `None` unless 6 digits.
pub fn normalise_key(input: &str) -> Option<String> {
    let digits: String = input.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    (digits.len() == 6 && digits.chars().all(|c| c.is_ascii_digit())).then_some(digits)
}

/// Which card to ask from: the oldest active card with unused keys, else a pending (new) card.
pub fn card_to_ask(cards: &[KeyCard]) -> Option<&KeyCard> {
    let mut usable: Vec<&KeyCard> = cards.iter().filter(|c| c.status.usable() && c.unused > 0).collect();
    usable.sort_by_key(|c| (c.status != CardStatus::Active, c.issued_at));
    usable.first().copied()
}

/// Chooses one of the unused key numbers at random.
pub fn choose_number(rng: &mut dyn SecureRng, unused: &[String]) -> Option<String> {
    if unused.is_empty() {
        return None;
    }
    unused.get(rng.gen_range(0..unused.len())).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pepper() -> KeyPepper {
        KeyPepper::from_bytes([7; 32])
    }

    #[test]
    fn generated_cards_have_distinct_numbers_and_six_digit_keys() {
        let (card, stored) = generate(&mut rand::rngs::OsRng, &pepper());
        assert_eq!(card.serial.as_str().len(), 10);
        assert_eq!(card.keys.len(), KEYS_PER_CARD);
        assert_eq!(stored.len(), KEYS_PER_CARD);
        for (n, k) in &card.keys {
            assert_eq!(n.len(), 4);
            assert_eq!(k.len(), 6);
            assert!(k.chars().all(|c| c.is_ascii_digit()));
        }
        let s = &stored[3];
        assert_eq!(s.digest, pepper().digest(&card.serial, &s.number, &card.keys[&s.number]));
    }

    #[test]
    fn digests_depend_on_every_part_and_the_pepper() {
        let p = pepper();
        let d = p.digest(&"1234567890".into(), "0001", "123456");
        assert_ne!(d, p.digest(&"1234567891".into(), "0001", "123456"));
        assert_ne!(d, p.digest(&"1234567890".into(), "0002", "123456"));
        assert_ne!(d, p.digest(&"1234567890".into(), "0001", "123457"));
        assert_ne!(d, KeyPepper::from_bytes([8; 32]).digest(&"1234567890".into(), "0001", "123456"));
    }

    #[test]
    fn keys_are_normalised() {
        assert_eq!(normalise_key(" 123 456 "), Some("123456".into()));
        assert_eq!(normalise_key("123-456"), Some("123456".into()));
        assert_eq!(normalise_key("12345"), None);
        assert_eq!(normalise_key("12345a"), None);
    }

    #[test]
    fn the_active_card_is_asked_before_a_pending_one() {
        let card = |serial: &str, status, at, unused| KeyCard {
            serial: serial.into(),
            sub: "u".into(),
            status,
            issued_at: UnixTime(at),
            unused,
        };
        let cards = vec![card("new", CardStatus::Pending, 20, 148), card("old", CardStatus::Active, 10, 5)];
        assert_eq!(card_to_ask(&cards).map(|c| c.serial.as_str()), Some("old"));
        let cards = vec![card("new", CardStatus::Pending, 20, 148), card("old", CardStatus::Active, 10, 0)];
        assert_eq!(card_to_ask(&cards).map(|c| c.serial.as_str()), Some("new"));
        let cards = vec![card("b", CardStatus::Blocked, 20, 148)];
        assert_eq!(card_to_ask(&cards), None);
        assert_eq!(display_serial("1234567890"), "123-456-7890");
    }
}
