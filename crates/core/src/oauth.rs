//! The error codes of OAuth 2.0 and OpenID Connect, each with the HTTP status its endpoint answers it with:
//! the token endpoint's (RFC 6749 §5.2), the authorization endpoint's (RFC 6749 §4.1.2.1, OpenID Connect
//! Core §3.1.2.6), bearer tokens' (RFC 6750 §3.1), and those of the coming endpoints — pushed authorization
//! requests (RFC 9126), CIBA's token polling, DPoP (RFC 9449).

/// An OAuth or OpenID Connect `error` value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    /// A parameter is missing, repeated, malformed or not allowed.
    InvalidRequest,
    /// The client could not be authenticated.
    InvalidClient,
    /// The code (or other grant) is invalid, expired, used, or not the client's.
    InvalidGrant,
    /// The client may not use this grant type.
    UnauthorizedClient,
    /// The grant type is not supported.
    UnsupportedGrantType,
    /// The scope is invalid or exceeds what was granted.
    InvalidScope,
    /// The user or the server refused.
    AccessDenied,
    /// The response type is not supported.
    UnsupportedResponseType,
    /// The server failed unexpectedly.
    ServerError,
    /// The server cannot answer now; try later.
    TemporarilyUnavailable,
    /// `prompt=none` asked, but the user must log in.
    LoginRequired,
    /// `prompt=none` asked, but the user must interact.
    InteractionRequired,
    /// `prompt=none` asked, but the user must consent.
    ConsentRequired,
    /// A `request` object is not supported.
    RequestNotSupported,
    /// A `request_uri` is not supported.
    RequestUriNotSupported,
    /// The `request_uri` is unknown, used or expired (RFC 9126).
    InvalidRequestUri,
    /// The request object is invalid (RFC 9126).
    InvalidRequestObject,
    /// The access token is unknown, expired or revoked (RFC 6750).
    InvalidToken,
    /// The access token lacks a scope the resource needs (RFC 6750).
    InsufficientScope,
    /// CIBA: the user has not answered yet.
    AuthorizationPending,
    /// CIBA: poll less often.
    SlowDown,
    /// CIBA: the authentication request expired.
    ExpiredToken,
    /// CIBA: the hinted user is unknown.
    UnknownUserId,
    /// CIBA: the authentication failed for a reason not otherwise named.
    TransactionFailed,
    /// The DPoP proof is invalid (RFC 9449).
    InvalidDpopProof,
    /// The server wants a DPoP proof with its nonce (RFC 9449).
    UseDpopNonce,
}

impl ErrorCode {
    /// The `error` value on the wire.
    pub fn as_str(self) -> &'static str {
        use ErrorCode::*;
        match self {
            InvalidRequest => "invalid_request",
            InvalidClient => "invalid_client",
            InvalidGrant => "invalid_grant",
            UnauthorizedClient => "unauthorized_client",
            UnsupportedGrantType => "unsupported_grant_type",
            InvalidScope => "invalid_scope",
            AccessDenied => "access_denied",
            UnsupportedResponseType => "unsupported_response_type",
            ServerError => "server_error",
            TemporarilyUnavailable => "temporarily_unavailable",
            LoginRequired => "login_required",
            InteractionRequired => "interaction_required",
            ConsentRequired => "consent_required",
            RequestNotSupported => "request_not_supported",
            RequestUriNotSupported => "request_uri_not_supported",
            InvalidRequestUri => "invalid_request_uri",
            InvalidRequestObject => "invalid_request_object",
            InvalidToken => "invalid_token",
            InsufficientScope => "insufficient_scope",
            AuthorizationPending => "authorization_pending",
            SlowDown => "slow_down",
            ExpiredToken => "expired_token",
            UnknownUserId => "unknown_user_id",
            TransactionFailed => "transaction_failed",
            InvalidDpopProof => "invalid_dpop_proof",
            UseDpopNonce => "use_dpop_nonce",
        }
    }

    /// The HTTP status a JSON endpoint answers the code with: 401 for failed client or token
    /// authentication, 403 for a missing scope, 500 and 503 for the server's own failures, 400 otherwise
    /// (RFC 6749 §5.2 and the CIBA and RFC 9126 polls alike). Codes sent by redirect carry no status.
    pub fn status(self) -> u16 {
        match self {
            ErrorCode::InvalidClient | ErrorCode::InvalidToken => 401,
            ErrorCode::InsufficientScope => 403,
            ErrorCode::ServerError => 500,
            ErrorCode::TemporarilyUnavailable => 503,
            _ => 400,
        }
    }

    /// Whether a resource answers the code with a `Bearer` challenge (RFC 6750 §3).
    pub fn is_bearer_challenge(self) -> bool {
        matches!(self, ErrorCode::InvalidToken | ErrorCode::InsufficientScope)
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::ErrorCode::{self, *};

    #[test]
    fn codes_are_written_as_the_rfcs_name_them_with_their_status() {
        let cases: [(ErrorCode, &str, u16); 8] = [
            (InvalidRequest, "invalid_request", 400),
            (InvalidClient, "invalid_client", 401),
            (UnsupportedGrantType, "unsupported_grant_type", 400),
            (TemporarilyUnavailable, "temporarily_unavailable", 503),
            (InvalidToken, "invalid_token", 401),
            (InsufficientScope, "insufficient_scope", 403),
            (AuthorizationPending, "authorization_pending", 400),
            (InvalidDpopProof, "invalid_dpop_proof", 400),
        ];
        for (code, name, status) in cases {
            assert_eq!((code.as_str(), code.status()), (name, status));
        }
        assert!(InvalidToken.is_bearer_challenge() && !InvalidClient.is_bearer_challenge());
    }
}
