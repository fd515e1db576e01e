//! The address a request comes from, as the rate limits, the audit log and the operator's views name it.
//!
//! It is the connecting peer's — unless that peer is one of the operator's `trusted_proxies`. Then the
//! forwarding headers say who came before: `Forwarded` (RFC 7239) if present, else `X-Forwarded-For`. Read
//! from the right (the hop nearest to us), the first address that is not a trusted proxy is the client; what
//! stands left of it was written by that client and is never believed. From an untrusted peer the headers
//! are ignored altogether, so nobody picks their own rate-limit budget.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use ipnet::IpNet;

use crate::state::AppState;

/// The client's address.
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

    /// The client behind `peer` (the connecting address), given the request's `headers` and the proxies
    /// the operator trusts.
    pub fn resolve(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> ClientAddr {
        let trusts = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
        let peer = ClientAddr::from(peer).ip;
        if !trusts(&peer) {
            return ClientAddr::from(peer);
        }
        let mut nearest_trusted = peer;
        for hop in forwarded_hops(headers).iter().rev() {
            match hop {
                // A hop a proxy could not name: nothing further left can be believed.
                None => break,
                Some(ip) if trusts(ip) => nearest_trusted = *ip,
                Some(ip) => return ClientAddr::from(*ip),
            }
        }
        // Every hop a trusted proxy (or the chain broken): the nearest of them speaks for the client.
        ClientAddr::from(nearest_trusted)
    }
}

impl From<IpAddr> for ClientAddr {
    fn from(ip: IpAddr) -> Self {
        // IPv4 in IPv6 (a dual-stack socket) is the IPv4 address it carries.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        ClientAddr { ip, text: ip.to_string() }
    }
}

/// The hops the forwarding headers list, leftmost (farthest) first; `None` for one that names no address
/// (`unknown`, an obfuscated identifier, garbage).
fn forwarded_hops(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let values = |name: &str| -> Vec<String> {
        headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).map(str::to_string).collect()
    };
    let forwarded = values("forwarded");
    if !forwarded.is_empty() {
        return forwarded
            .iter()
            .flat_map(|line| line.split(','))
            .map(|element| {
                element
                    .split(';')
                    .filter_map(|pair| pair.split_once('='))
                    .find(|(k, _)| k.trim().eq_ignore_ascii_case("for"))
                    .and_then(|(_, v)| node_address(v.trim().trim_matches('"')))
            })
            .collect();
    }
    values("x-forwarded-for").iter().flat_map(|line| line.split(',')).map(|v| node_address(v.trim())).collect()
}

/// The address of a node as the headers write it: `192.0.2.60`, `192.0.2.60:4711`, `[2001:db8::17]`,
/// `[2001:db8::17]:4711` or a bare `2001:db8::17`.
fn node_address(node: &str) -> Option<IpAddr> {
    if let Some(rest) = node.strip_prefix('[') {
        return rest.split_once(']').and_then(|(ip, _)| ip.parse().ok());
    }
    node.parse::<IpAddr>().ok().or_else(|| node.parse::<SocketAddr>().ok().map(|s| s.ip()))
}

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = (StatusCode, &'static str);

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
            .ok_or((StatusCode::INTERNAL_SERVER_ERROR, "the server was started without connection info"))?;
        Ok(ClientAddr::resolve(peer, &parts.headers, &state.config.trusted_proxies))
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn client(peer: &str, pairs: &[(&'static str, &str)], trusted: &[&str]) -> String {
        let trusted: Vec<IpNet> = trusted.iter().map(|t| t.parse().unwrap()).collect();
        ClientAddr::resolve(peer.parse().unwrap(), &headers(pairs), &trusted).as_str().to_string()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let forged = [("x-forwarded-for", "203.0.113.9"), ("forwarded", "for=198.51.100.1")];
        assert_eq!(client("192.0.2.7", &forged, &[]), "192.0.2.7");
        assert_eq!(client("192.0.2.7", &forged, &["10.0.0.0/8"]), "192.0.2.7");
    }

    #[test]
    fn behind_trusted_proxies_the_rightmost_untrusted_hop_is_the_client() {
        let trusted = ["10.0.0.0/8", "127.0.0.1/32"];
        // What the client wrote itself (the first entry) is not believed; the proxy appended the real one.
        let xff = [("x-forwarded-for", "1.2.3.4, 203.0.113.9")];
        assert_eq!(client("10.0.0.2", &xff, &trusted), "203.0.113.9");
        // Two proxies: the inner one forwarded the outer one's address after the client's.
        let two = [("x-forwarded-for", "203.0.113.9, 10.0.0.5")];
        assert_eq!(client("127.0.0.1", &two, &trusted), "203.0.113.9");
        // Over several header lines, in order.
        let lines = [("x-forwarded-for", "198.51.100.7"), ("x-forwarded-for", "203.0.113.9")];
        assert_eq!(client("10.0.0.2", &lines, &trusted), "203.0.113.9");
        // No header: the proxy itself.
        assert_eq!(client("10.0.0.2", &[], &trusted), "10.0.0.2");
    }

    #[test]
    fn forwarded_is_read_before_x_forwarded_for_with_ports_and_ipv6() {
        let trusted = ["10.0.0.0/8"];
        let both = [
            ("forwarded", r#"for=192.0.2.60;proto=https, for="[2001:db8:cafe::17]:4711";by=10.0.0.1"#),
            ("x-forwarded-for", "198.51.100.1"),
        ];
        assert_eq!(client("10.0.0.1", &both, &trusted), "2001:db8:cafe::17");
        assert_eq!(client("10.0.0.1", &[("forwarded", "For=\"192.0.2.60:8080\"")], &trusted), "192.0.2.60");
    }

    #[test]
    fn a_hop_without_an_address_stops_the_walk_at_the_proxy_that_wrote_it() {
        let trusted = ["10.0.0.0/8"];
        assert_eq!(client("10.0.0.1", &[("forwarded", "for=unknown")], &trusted), "10.0.0.1");
        assert_eq!(client("10.0.0.1", &[("x-forwarded-for", "203.0.113.9, _hidden, 10.0.0.3")], &trusted), "10.0.0.3");
        assert_eq!(client("10.0.0.1", &[("x-forwarded-for", "garbage")], &trusted), "10.0.0.1");
    }

    #[test]
    fn a_mapped_ipv4_address_is_the_ipv4_address() {
        assert_eq!(client("::ffff:192.0.2.7", &[], &[]), "192.0.2.7");
        let xff = [("x-forwarded-for", "203.0.113.9")];
        assert_eq!(client("::ffff:10.0.0.2", &xff, &["10.0.0.0/8"]), "203.0.113.9", "a trusted proxy over IPv6");
    }
}
