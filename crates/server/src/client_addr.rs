//! The address a request comes from, as the rate limits and the audit log name it.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::StatusCode;
use axum::http::request::Parts;

/// The client's address (today the connecting peer's; the one place that decides it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientAddr {
    ip: IpAddr,
    text: String,
}

impl ClientAddr {
    /// The address.
    pub fn ip(&self) -> IpAddr {
        self.ip
    }
    /// The address as the audit log writes it.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl From<IpAddr> for ClientAddr {
    fn from(ip: IpAddr) -> Self {
        ClientAddr { ip, text: ip.to_string() }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = (StatusCode, &'static str);

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| ClientAddr::from(c.0.ip()))
            .ok_or((StatusCode::INTERNAL_SERVER_ERROR, "the server was started without connection info"))
    }
}
