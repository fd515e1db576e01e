//! The opaque identifiers the records and the store name one another by: each kind its own type, so a
//! device's id cannot be passed where a request's is asked for. They are text (stored, sent and logged as
//! it is) and carry no rule: who makes one decides its form.

use std::fmt;
use std::marker::PhantomData;

use serde::{Deserialize, Serialize};

/// An identifier of the kind `K` names ([`DeviceId`], [`RequestId`], [`ClientId`], [`CardSerial`]): text,
/// serialised as the bare string.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Id<K> {
    value: String,
    #[serde(skip)]
    kind: PhantomData<K>,
}

/// The kind of an [`Id`]: what it names, for its `Debug` form.
pub trait IdKind {
    /// The type's name, e.g. `DeviceId`.
    const NAME: &'static str;
}

/// A key-app device's internal id, named in its signed requests ([`crate::device::Device::device_id`]).
pub type DeviceId = Id<OfDevice>;
/// A request to the key app ([`crate::request::AuthRequest::request_id`]).
pub type RequestId = Id<OfRequest>;
/// A registered client's `client_id` ([`crate::oidc::Client`]).
pub type ClientId = Id<OfClient>;
/// A key card's serial number, printed on the card ([`crate::keycard::KeyCard::serial`]).
pub type CardSerial = Id<OfCard>;

/// The kind of [`DeviceId`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OfDevice {}
/// The kind of [`RequestId`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OfRequest {}
/// The kind of [`ClientId`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OfClient {}
/// The kind of [`CardSerial`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OfCard {}

impl IdKind for OfDevice {
    const NAME: &'static str = "DeviceId";
}
impl IdKind for OfRequest {
    const NAME: &'static str = "RequestId";
}
impl IdKind for OfClient {
    const NAME: &'static str = "ClientId";
}
impl IdKind for OfCard {
    const NAME: &'static str = "CardSerial";
}

impl<K> Id<K> {
    /// The text.
    pub fn as_str(&self) -> &str {
        &self.value
    }
}

impl<K> From<String> for Id<K> {
    fn from(value: String) -> Self {
        Id { value, kind: PhantomData }
    }
}

impl<K> From<&str> for Id<K> {
    fn from(value: &str) -> Self {
        Id::from(value.to_string())
    }
}

impl<K> From<Id<K>> for String {
    fn from(id: Id<K>) -> String {
        id.value
    }
}

impl<K> fmt::Display for Id<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.value)
    }
}

impl<K: IdKind> fmt::Debug for Id<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple(K::NAME).field(&self.value).finish()
    }
}

impl<K> PartialEq<str> for Id<K> {
    fn eq(&self, other: &str) -> bool {
        self.value == other
    }
}

impl<K> PartialEq<&str> for Id<K> {
    fn eq(&self, other: &&str) -> bool {
        self.value == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_its_text_on_the_wire_in_print_and_in_debug_with_its_kind() {
        let id = DeviceId::from("d-1");
        assert_eq!(serde_json::to_string(&id).unwrap_or_default(), "\"d-1\"");
        assert_eq!(serde_json::from_str::<DeviceId>("\"d-1\"").ok(), Some(id.clone()));
        assert_eq!((id.to_string(), id.as_str(), format!("{id:?}")), ("d-1".into(), "d-1", "DeviceId(\"d-1\")".into()));
        assert_eq!(format!("{:?}", CardSerial::from("7")), "CardSerial(\"7\")");
    }
}
