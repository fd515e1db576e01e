//! Signed device requests.
//!
//! After activation every call a key app makes is signed with its device key (ECDSA P-256, SHA-256, the
//! signature as the 64-byte `r ‖ s`, base64url without padding). The signature covers these bytes, each line
//! ended by `\n`:
//!
//! ```text
//! NOEGLE-DEVICE-V1
//! <METHOD in capitals>
//! <path and query, exactly as sent>
//! <device id>
//! <timestamp: Unix seconds, decimal>
//! <nonce: 16 to 64 base64url characters, fresh for every request>
//! <SHA-256 of the body, lower-case hex (of the empty string when there is none)>
//! ```
//!
//! The four request headers carry what is not in the request line or body: [`HEADER_DEVICE`],
//! [`HEADER_TIMESTAMP`], [`HEADER_NONCE`] and [`HEADER_SIGNATURE`]. The server accepts a timestamp within
//! [`MAX_SKEW_SECS`] of its clock and each nonce once per device.

use sha2::{Digest, Sha256};

/// First line of the signed bytes; a new version of these rules gets a new name.
pub const SCHEME: &str = "NOEGLE-DEVICE-V1";
/// Header naming the device.
pub const HEADER_DEVICE: &str = "noegle-device";
/// Header with the timestamp.
pub const HEADER_TIMESTAMP: &str = "noegle-timestamp";
/// Header with the nonce.
pub const HEADER_NONCE: &str = "noegle-nonce";
/// Header with the signature.
pub const HEADER_SIGNATURE: &str = "noegle-signature";
/// Largest difference accepted between the device's timestamp and the server's clock.
pub const MAX_SKEW_SECS: i64 = 60;

/// What a device signs for one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedRequest<'a> {
    /// HTTP method.
    pub method: &'a str,
    /// Path and query, exactly as sent (`/api/app/v1/requests?x=1`).
    pub path_and_query: &'a str,
    /// The device's id (from activation).
    pub device_id: &'a str,
    /// Unix seconds.
    pub timestamp: i64,
    /// Fresh random nonce, base64url.
    pub nonce: &'a str,
    /// The request body (empty for none).
    pub body: &'a [u8],
}

/// Why a request's parts cannot be signed or checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SigningError {
    /// The nonce is not 16–64 base64url characters.
    BadNonce,
    /// A line holds a newline or is empty.
    BadField(&'static str),
}

impl std::fmt::Display for SigningError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SigningError::BadNonce => f.write_str("the nonce must be 16 to 64 base64url characters"),
            SigningError::BadField(name) => write!(f, "the {name} must be non-empty and on one line"),
        }
    }
}

impl std::error::Error for SigningError {}

impl SignedRequest<'_> {
    /// The exact bytes to sign.
    pub fn canonical_bytes(&self) -> Result<Vec<u8>, SigningError> {
        for (name, v) in [("method", self.method), ("path", self.path_and_query), ("device id", self.device_id)] {
            if v.is_empty() || v.contains(['\n', '\r']) {
                return Err(SigningError::BadField(name));
            }
        }
        let nonce_ok = (16..=64).contains(&self.nonce.len())
            && self.nonce.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !nonce_ok {
            return Err(SigningError::BadNonce);
        }
        let body_hash: String = Sha256::digest(self.body).iter().map(|b| format!("{b:02x}")).collect();
        Ok(format!(
            "{SCHEME}\n{}\n{}\n{}\n{}\n{}\n{body_hash}\n",
            self.method.to_ascii_uppercase(),
            self.path_and_query,
            self.device_id,
            self.timestamp,
            self.nonce
        )
        .into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req<'a>(nonce: &'a str, body: &'a [u8]) -> SignedRequest<'a> {
        SignedRequest {
            method: "post",
            path_and_query: "/api/app/v1/x",
            device_id: "d-1",
            timestamp: 1_700_000_000,
            nonce,
            body,
        }
    }

    #[test]
    fn bytes_follow_the_documented_layout() {
        let b = req("AAAAAAAAAAAAAAAAAAAAAA", b"").canonical_bytes().unwrap();
        assert_eq!(
            String::from_utf8(b).unwrap(),
            "NOEGLE-DEVICE-V1\nPOST\n/api/app/v1/x\nd-1\n1700000000\nAAAAAAAAAAAAAAAAAAAAAA\n\
             e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
        );
    }

    #[test]
    fn malformed_parts_are_refused() {
        assert_eq!(req("short", b"").canonical_bytes(), Err(SigningError::BadNonce));
        assert_eq!(req("AAAAAAAAAAAAAAAAAAAAA+", b"").canonical_bytes(), Err(SigningError::BadNonce));
        let mut r = req("AAAAAAAAAAAAAAAAAAAAAA", b"");
        r.path_and_query = "/x\nforged";
        assert_eq!(r.canonical_bytes(), Err(SigningError::BadField("path")));
    }
}
