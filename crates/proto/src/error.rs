//! The error body every app-API endpoint answers with: a stable machine code and a human message.

use serde::{Deserialize, Serialize};

/// `{"error": "replayed_request", "message": "…"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Stable machine code, snake_case.
    pub error: String,
    /// What went wrong, for people.
    pub message: String,
}
