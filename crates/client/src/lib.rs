//! The key app's engine, shared by every Rust key app (the terminal app today): the device key, the state
//! kept on disk, and the signed calls to the server's app API (`/api/app/v1/`).

pub mod api;
pub mod state;

pub use api::{ApiError, AppClient};
pub use state::{DeviceState, StateError};
