//! Log-in requests to the key app (R-APP5, X-2): the pending ones and the user's decision.

use serde::{Deserialize, Serialize};

/// `GET /requests` (signed, unlocked): the user's pending requests.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Requests {
    /// The requests.
    pub requests: Vec<PendingRequest>,
}

/// A request awaiting the user's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PendingRequest {
    /// Id.
    pub request_id: String,
    /// The service provider.
    pub client_id: String,
    /// Its name.
    pub client_name: String,
    /// What is approved.
    pub action: String,
    /// When it was made.
    pub created_at: i64,
    /// When it lapses.
    pub expires_at: i64,
    /// The nonce the approval is bound to.
    pub nonce: String,
    /// Whether the user must type the code the log-in box shows (policy `type`).
    pub match_code_required: bool,
    /// The code, only when the server's policy is to show it (`show`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub match_code: Option<String>,
}

/// Approve or reject.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// "Godkend".
    Approve,
    /// "AFVIS".
    Reject,
}

/// `POST /requests/{request_id}/decision` (signed, unlocked): the answer, bound to what the app was shown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Decision {
    /// Approve or reject.
    pub decision: Verdict,
    /// The request's nonce, echoed.
    pub request_nonce: String,
    /// The client, echoed.
    pub client_id: String,
    /// The expiry, echoed.
    pub expires_at: i64,
    /// The code the user typed (policy `type`).
    #[serde(default)]
    pub match_code: Option<String>,
    /// "Det var ikke mig" on a rejection.
    #[serde(default)]
    pub not_me: bool,
}

/// A request's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum RequestState {
    /// Waiting for the app.
    Pending,
    /// Approved.
    Approved,
    /// Rejected.
    Rejected,
    /// Not answered in time.
    Expired,
    /// Replaced or abandoned.
    Cancelled,
}

impl RequestState {
    /// The name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestState::Pending => "pending",
            RequestState::Approved => "approved",
            RequestState::Rejected => "rejected",
            RequestState::Expired => "expired",
            RequestState::Cancelled => "cancelled",
        }
    }
}

/// The answer to a decision: the request's state now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Decided {
    /// The request.
    pub request_id: String,
    /// Its state.
    pub state: RequestState,
}
