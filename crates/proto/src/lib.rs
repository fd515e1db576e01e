//! Wire types shared by the nøgle server and its key apps, and the exact bytes a device signs.
//!
//! serde and hashing only, no I/O: the server, the Rust key app and (through the test-vector file
//! `test-vectors/signed-request.json`) the web key app all build the same bytes from the same rules.

pub mod error;
pub mod opaque;
pub mod signing;
