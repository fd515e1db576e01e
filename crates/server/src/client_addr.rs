//! The address a request comes from, as the rate limits, the audit log and the operator's views name it.
//!
//! It is the connecting peer's — unless that peer is one of the operator's `trusted_proxies`. Then the one
//! forwarding header the operator names (`forwarded_header`: `X-Forwarded-For` by default, or `Forwarded`,
//! RFC 7239) says who came before; the other header is ignored, since a proxy that sets one may pass the
//! other on as the client wrote it. Read from the right (the hop nearest to us), the first address that is
//! not a trusted proxy is the client; what stands left of it was written by that client and is never
//! believed. From an untrusted peer the headers are ignored altogether, so nobody picks their own budget.
//!
//! Budgets (guesses, connections) are kept per [`group`]: an IPv4 address, or an IPv6 network of
//! `ipv6_prefix` bits (a /64 by default: one subscriber commonly holds a whole /64).

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};

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

    /// The client behind `peer` (the connecting address), given the request's `headers`, the proxies the
    /// operator trusts and the one header they set.
    pub fn resolve(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet], header: ForwardedHeader) -> ClientAddr {
        let trusts = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
        let peer = ClientAddr::from(peer).ip;
        if !trusts(&peer) {
            return ClientAddr::from(peer);
        }
        let mut nearest_trusted = peer;
        for hop in forwarded_hops(headers, header).iter().rev() {
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

/// The forwarding header the operator's proxies set (`forwarded_header`); the other one is never read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1, …` (what nginx's `$remote_addr` and most proxies write).
    #[default]
    #[serde(rename = "x-forwarded-for")]
    XForwardedFor,
    /// `Forwarded: for=client, for=proxy1` (RFC 7239).
    #[serde(rename = "forwarded")]
    Forwarded,
}

impl ForwardedHeader {
    /// The header's name, as `HeaderMap` looks it up.
    pub fn name(self) -> &'static str {
        match self {
            ForwardedHeader::XForwardedFor => "x-forwarded-for",
            ForwardedHeader::Forwarded => "forwarded",
        }
    }

    /// The other header, which is never read.
    fn other(self) -> ForwardedHeader {
        match self {
            ForwardedHeader::XForwardedFor => ForwardedHeader::Forwarded,
            ForwardedHeader::Forwarded => ForwardedHeader::XForwardedFor,
        }
    }
}

/// Says once (and counts every time) that a trusted proxy sent no `header`: then every client behind it is
/// the proxy itself, one budget for all — most likely `forwarded_header` names the wrong header.
fn header_missing(header: ForwardedHeader, headers: &HeaderMap) {
    static SAID: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    metrics::counter!("noegle_forwarded_header_missing_total").increment(1);
    if !SAID.swap(true, std::sync::atomic::Ordering::Relaxed) {
        let other = header.other().name();
        tracing::warn!(
            forwarded_header = header.name(),
            "a trusted proxy sent no {} header, so its clients count as the proxy itself (one guess budget for all){}",
            header.name(),
            if headers.contains_key(other) {
                format!("; it sent {other}: set forwarded_header = \"{other}\" if that is the header it sets")
            } else {
                String::new()
            }
        );
    }
}

impl std::str::FromStr for ForwardedHeader {
    type Err = String;
    fn from_str(s: &str) -> Result<ForwardedHeader, String> {
        match s {
            "x-forwarded-for" => Ok(ForwardedHeader::XForwardedFor),
            "forwarded" => Ok(ForwardedHeader::Forwarded),
            _ => Err(format!("must be x-forwarded-for or forwarded, not {s:?}")),
        }
    }
}

/// The hops `header` lists, leftmost (farthest) first; `None` for one that names no address (`unknown`, an
/// obfuscated identifier, garbage).
fn forwarded_hops(headers: &HeaderMap, header: ForwardedHeader) -> Vec<Option<IpAddr>> {
    let values = |name: &str| -> Vec<String> {
        headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).map(str::to_string).collect()
    };
    match header {
        ForwardedHeader::Forwarded => values("forwarded")
            .iter()
            .flat_map(|line| line.split(','))
            .map(|element| {
                element
                    .split(';')
                    .filter_map(|pair| pair.split_once('='))
                    .find(|(k, _)| k.trim().eq_ignore_ascii_case("for"))
                    .and_then(|(_, v)| node_address(v.trim().trim_matches('"')))
            })
            .collect(),
        ForwardedHeader::XForwardedFor => {
            values("x-forwarded-for").iter().flat_map(|line| line.split(',')).map(|v| node_address(v.trim())).collect()
        }
    }
}

/// The budget `ip` counts against: an IPv4 address alone (as a /32), an IPv6 address by its network of
/// `ipv6_prefix` bits (an IPv4 address mapped into IPv6 counts as the IPv4 address).
pub fn group(ip: IpAddr, ipv6_prefix: u8) -> IpNet {
    match ClientAddr::from(ip).ip {
        IpAddr::V4(v4) => IpNet::V4(Ipv4Net::from(v4)),
        IpAddr::V6(v6) => {
            IpNet::V6(Ipv6Net::new(v6, ipv6_prefix.min(128)).map_or(Ipv6Net::from(v6), |net| net.trunc()))
        }
    }
}

/// The address of a node as the headers write it: `192.0.2.60`, `192.0.2.60:4711`, `[2001:db8::17]`,
/// `[2001:db8::17]:4711` or a bare `2001:db8::17`.
fn node_address(node: &str) -> Option<IpAddr> {
    let ip = match node.strip_prefix('[') {
        Some(rest) => rest.split_once(']').and_then(|(ip, _)| ip.parse().ok()),
        None => node.parse::<IpAddr>().ok().or_else(|| node.parse::<SocketAddr>().ok().map(|s| s.ip())),
    };
    // A proxy on a dual-stack socket may write an IPv4 client as `::ffff:192.0.2.7`: that is 192.0.2.7.
    ip.map(|ip| ClientAddr::from(ip).ip)
}

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = (StatusCode, &'static str);

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
            .ok_or((StatusCode::INTERNAL_SERVER_ERROR, "the server was started without connection info"))?;
        let config = &state.config;
        let trusted = &config.trusted_proxies;
        if !parts.headers.contains_key(config.forwarded_header.name())
            && trusted.iter().any(|net| net.contains(&ClientAddr::from(peer).ip))
        {
            header_missing(config.forwarded_header, &parts.headers);
        }
        Ok(ClientAddr::resolve(peer, &parts.headers, trusted, config.forwarded_header))
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
        client_by(ForwardedHeader::XForwardedFor, peer, pairs, trusted)
    }

    fn client_by(header: ForwardedHeader, peer: &str, pairs: &[(&'static str, &str)], trusted: &[&str]) -> String {
        let trusted: Vec<IpNet> = trusted.iter().map(|t| t.parse().unwrap()).collect();
        ClientAddr::resolve(peer.parse().unwrap(), &headers(pairs), &trusted, header).as_str().to_string()
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

    /// SEC-RATE: only the header the operator names is read. nginx replaces `X-Forwarded-For`
    /// but passes on a `Forwarded` the client wrote; before, that one was preferred, so any client chose its
    /// own address.
    #[test]
    fn only_the_named_header_is_read_with_ports_and_ipv6() {
        let trusted = ["10.0.0.0/8"];
        let both = [
            ("forwarded", r#"for=192.0.2.60;proto=https, for="[2001:db8:cafe::17]:4711";by=10.0.0.1"#),
            ("x-forwarded-for", "198.51.100.1"),
        ];
        assert_eq!(client("10.0.0.1", &both, &trusted), "198.51.100.1", "Forwarded is the client's own words");
        assert_eq!(client("10.0.0.1", &both[..1], &trusted), "10.0.0.1", "and is not read even alone");
        let forwarded = ForwardedHeader::Forwarded;
        assert_eq!(client_by(forwarded, "10.0.0.1", &both, &trusted), "2001:db8:cafe::17");
        assert_eq!(client_by(forwarded, "10.0.0.1", &both[1..], &trusted), "10.0.0.1", "X-Forwarded-For ignored");
        let quoted = [("forwarded", "For=\"192.0.2.60:8080\"")];
        assert_eq!(client_by(forwarded, "10.0.0.1", &quoted, &trusted), "192.0.2.60");
        assert_eq!("forwarded".parse(), Ok(ForwardedHeader::Forwarded));
        assert_eq!(
            "Forwarded".parse::<ForwardedHeader>(),
            Err("must be x-forwarded-for or forwarded, not \"Forwarded\"".into())
        );
    }

    #[test]
    fn a_hop_without_an_address_stops_the_walk_at_the_proxy_that_wrote_it() {
        let trusted = ["10.0.0.0/8"];
        let unknown = [("forwarded", "for=unknown")];
        assert_eq!(client_by(ForwardedHeader::Forwarded, "10.0.0.1", &unknown, &trusted), "10.0.0.1");
        assert_eq!(client("10.0.0.1", &[("x-forwarded-for", "203.0.113.9, _hidden, 10.0.0.3")], &trusted), "10.0.0.3");
        assert_eq!(client("10.0.0.1", &[("x-forwarded-for", "garbage")], &trusted), "10.0.0.1");
    }

    #[test]
    fn a_mapped_ipv4_address_is_the_ipv4_address() {
        assert_eq!(client("::ffff:192.0.2.7", &[], &[]), "192.0.2.7");
        let xff = [("x-forwarded-for", "203.0.113.9")];
        assert_eq!(client("::ffff:10.0.0.2", &xff, &["10.0.0.0/8"]), "203.0.113.9", "a trusted proxy over IPv6");
        // A hop written mapped is its IPv4 address too: a trusted proxy stays trusted, a client is IPv4.
        let mapped = [("x-forwarded-for", "203.0.113.9, ::ffff:10.0.0.5")];
        assert_eq!(client("10.0.0.2", &mapped, &["10.0.0.0/8"]), "203.0.113.9");
        let mapped_client = [("x-forwarded-for", "[::ffff:203.0.113.9]:4711")];
        assert_eq!(client("10.0.0.2", &mapped_client, &["10.0.0.0/8"]), "203.0.113.9");
    }

    /// SEC-RATE: an IPv6 client is one budget per /64 (the prefix the operator sets), not one per
    /// address, of which a /64 holds 2^64.
    #[test]
    fn ipv6_addresses_are_grouped_by_their_prefix_and_ipv4_ones_stand_alone() {
        let g = |ip: &str, prefix| group(ip.parse().unwrap(), prefix).to_string();
        assert_eq!(g("2001:db8:1:2:aaaa::1", 64), "2001:db8:1:2::/64");
        assert_eq!(g("2001:db8:1:2:ffff:ffff:ffff:ffff", 64), "2001:db8:1:2::/64");
        assert_ne!(g("2001:db8:1:3::1", 64), g("2001:db8:1:2::1", 64));
        assert_eq!(g("2001:db8:1:2:aaaa::1", 48), "2001:db8:1::/48");
        assert_eq!(g("2001:db8::1", 128), "2001:db8::1/128");
        assert_eq!(g("192.0.2.7", 64), "192.0.2.7/32");
        assert_eq!(g("::ffff:192.0.2.7", 64), "192.0.2.7/32", "a mapped IPv4 address is its IPv4 address");
    }
}
