//! A log-in request to the key app as stored, and its states.

use serde::{Deserialize, Serialize};

use crate::UnixTime;
use crate::records::ids::{ClientId, DeviceId, RequestId};

/// A request's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RequestState {
    /// Waiting for the app.
    Pending,
    /// Approved on a device.
    Approved,
    /// Rejected on a device.
    Rejected,
    /// Not answered in time.
    Expired,
    /// Replaced by a new request or abandoned (switch to key card).
    Cancelled,
}

impl RequestState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestState::Pending => "pending",
            RequestState::Approved => "approved",
            RequestState::Rejected => "rejected",
            RequestState::Expired => "expired",
            RequestState::Cancelled => "cancelled",
        }
    }
    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<RequestState> {
        Some(match s {
            "pending" => RequestState::Pending,
            "approved" => RequestState::Approved,
            "rejected" => RequestState::Rejected,
            "expired" => RequestState::Expired,
            "cancelled" => RequestState::Cancelled,
            _ => return None,
        })
    }
}

/// A request as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AuthRequest {
    /// Id.
    pub request_id: RequestId,
    /// The user asked.
    pub sub: String,
    /// The service provider.
    pub client_id: ClientId,
    /// Its name ("Demo Bank").
    pub client_name: String,
    /// What is approved ("Log på Demo Bank").
    pub action: String,
    /// The 2-digit code shown in the log-in box.
    #[serde(skip)]
    pub match_code: String,
    /// A ≥ 128-bit nonce the approval is bound to.
    pub nonce: String,
    /// State.
    pub state: RequestState,
    /// When it was made.
    pub created_at: UnixTime,
    /// When it lapses.
    pub expires_at: UnixTime,
    /// When it was decided.
    pub decided_at: Option<UnixTime>,
    /// The device that decided it.
    pub decided_by: Option<DeviceId>,
    /// How the deciding app was unlocked (`pin` or `fpt`).
    pub decided_with: Option<String>,
}
