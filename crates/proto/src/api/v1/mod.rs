//! Version 1 of the key-app API (`/api/app/v1/…`), one module per subject as the server's handlers are split.
//!
//! Times are Unix seconds; field names are the JSON names (no renames, so that a renamed field breaks every
//! user of it at build time).

pub mod activation;
pub mod code;
pub mod device;
pub mod errors;
pub mod fingerprint;
pub mod push;
pub mod requests;
#[cfg(feature = "openapi")]
pub mod webauthn;

pub use activation::{CompleteActivation, DeviceEnded, KeyAsked, Login, StartActivation, Ticket, Unconfirmed};
pub use code::{AppSession, CodeLogin, CodeReset, CodeSet, Forgot, LoginStarted, OpaqueMessage, RegisterCode};
pub use device::{About, Device, DeviceStatus, Minimum, Platform, Reason, Support, Time};
pub use errors::{ErrorBody, ErrorCode};
pub use fingerprint::{Fingerprint, FingerprintLogin, FingerprintLoginStart, FingerprintRegister};
pub use push::{Push, PushKey, PushKeys, PushSubscription};
pub use requests::{Decided, Decision, PendingRequest, RequestState, Requests, Verdict};

/// The path every route of this version starts with.
pub const PREFIX: &str = "/api/app/v1";
