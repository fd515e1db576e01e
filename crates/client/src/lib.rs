//! The key app's engine, shared by every Rust key app (the terminal app today): the device key, the state
//! kept on disk, and the signed calls to the server's app API (`/api/app/v1/`).

pub mod api;
pub mod appcode;
pub mod state;

pub use api::{ApiError, AppClient};
pub use state::{DeviceState, StateError};

/// Checks a new app code before anything is sent: four digits, not one of the most common codes.
pub fn appcode_check(code: &str) -> Result<(), noegle_proto::opaque::CodeError> {
    noegle_proto::opaque::check_new_code(code)
}
