//! The nøgle domain, free of I/O.
//!
//! Everything here takes the current time ([`UnixTime`]) and randomness as arguments and reaches storage only
//! through the traits in [`store`]. The server, the store and the admin binary are the edges that supply them.

pub mod accounts;
pub mod activation;
pub mod appcode;
pub mod audit;
pub mod clock;
pub mod ctx;
pub mod device;
pub mod fingerprint;
pub mod grants;
pub mod keycard;
pub mod lockout;
pub mod login;
pub mod login_box;
#[cfg(any(test, feature = "testing"))]
pub mod memory;
pub mod oauth;
pub mod oidc;
pub mod password;
pub mod records;
pub mod request;
pub mod secret;
pub mod session_key;
pub mod store;
pub mod ticket;
pub mod user;

pub use clock::{Clock, FakeClock, UnixTime};
pub use ctx::Ctx;
pub use records::ids::{CardSerial, ClientId, DeviceId, RequestId};
pub use store::{Store, StoreError};

/// A cryptographically secure random number generator, as every edge passes one in.
pub trait SecureRng: rand::RngCore + rand::CryptoRng + Send {}
impl<T: rand::RngCore + rand::CryptoRng + Send> SecureRng for T {}
