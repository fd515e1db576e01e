//! Per-address rate limit on every endpoint that checks a guessable secret (password, key-card key, app code,
//! client secret). The per-account lockout lives in the database; this one stops one address from spreading
//! guesses over many accounts. Guesses are counted per address group (an IPv4 address, an IPv6 /64 — see
//! [`crate::client_addr::group`]) and minute: one node (SQLite) counts in memory and keeps only the current
//! minute's counts; on PostgreSQL every node counts in the database (purged by the housekeeping), so N nodes
//! give one budget, not N.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ipnet::{IpNet, Ipv4Net};

use crate::client_addr::{ClientAddr, group};
use crate::error::AppError;
use crate::state::AppState;

/// The most address groups one node counts apart within a minute (about 25 bytes each: some 7 MiB at most),
/// far more than one node serves clients a minute. Past it, a group not counted yet shares the budget of its
/// wider network — an IPv6 client its /48, an IPv4 client its /24 — of which [`SPILL_GROUPS`] more are
/// counted, and past those every newcomer shares one budget until the minute is over (both logged, and
/// counted in `noegle_guess_budgets_full_total`). So memory stays bounded whatever the number of addresses,
/// and filling the table buys an attacker nothing but that.
pub const NODE_GROUPS: usize = 1 << 17;
/// The wider networks counted once the table of groups is full.
pub const SPILL_GROUPS: usize = 1 << 14;

/// Where the guesses are counted.
#[derive(Debug)]
pub enum Limiter {
    /// In this node's memory (one node: SQLite).
    Node(NodeCounts),
    /// In the database every node shares, per address group and minute.
    Shared {
        /// Guesses per address group per minute.
        per_minute: u32,
    },
}

/// A limiter allowing `per_minute` guesses per address group per minute, in this node's memory, or shared
/// through the database when `shared`.
pub fn limiter(per_minute: u32, shared: bool) -> Limiter {
    if shared {
        Limiter::Shared { per_minute }
    } else {
        Limiter::Node(NodeCounts::new(per_minute, NODE_GROUPS, SPILL_GROUPS))
    }
}

impl Limiter {
    /// Counts a guess from `from`; whether it is within the budget. A database that cannot count lets the
    /// guess through to its handler, which then fails on the same database.
    async fn allows(&self, state: &AppState, from: IpNet) -> bool {
        let minute = state.now().0 / 60;
        match self {
            Limiter::Node(counts) => counts.allows(from, minute),
            Limiter::Shared { per_minute } => match state.store.count_guess(&from.to_string(), minute).await {
                Ok(n) => n <= i64::from(*per_minute),
                Err(e) => {
                    tracing::warn!(error = %e, "the guess count could not be kept");
                    true
                }
            },
        }
    }

    /// Forgets the counts of the minutes before `minute` (the housekeeping's call; on PostgreSQL the
    /// housekeeping purges the database's counts instead).
    pub fn forget_before(&self, minute: i64) {
        if let Limiter::Node(counts) = self {
            counts.forget_before(minute);
        }
    }
}

/// Guesses per address group in one minute, in this node's memory. Only the current minute is kept: the first
/// check in a new minute (or the housekeeping) drops the last one's counts and their memory.
#[derive(Debug)]
pub struct NodeCounts {
    per_minute: u32,
    capacity: usize,
    spill: usize,
    window: Mutex<Window>,
}

#[derive(Debug, Default)]
struct Window {
    minute: i64,
    counts: HashMap<IpNet, u32>,
    /// Whether a group found the table full this minute (warned once a minute).
    full: bool,
    /// Whether a wider network found the spill full too.
    spilt_over: bool,
}

impl NodeCounts {
    /// Counts of `per_minute` guesses for at most `capacity` groups a minute, and `spill` wider networks
    /// past them.
    pub fn new(per_minute: u32, capacity: usize, spill: usize) -> NodeCounts {
        NodeCounts { per_minute, capacity, spill, window: Mutex::default() }
    }

    fn window(&self) -> std::sync::MutexGuard<'_, Window> {
        // The counts stay meaningful if a holder panicked: keep counting.
        self.window.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Counts a guess from `from` in `minute`; whether it is within the budget.
    pub fn allows(&self, from: IpNet, minute: i64) -> bool {
        let mut w = self.window();
        w.forget_before(minute);
        let key = self.key(&mut w, from);
        let known = w.counts.len();
        let count = w.counts.entry(key).or_insert(0);
        *count = count.saturating_add(1);
        if *count == 1 {
            metrics::gauge!("noegle_guess_budgets").set((known + 1) as f64);
        }
        *count <= self.per_minute
    }

    /// What a guess from `from` counts against: its group while the table has room (or holds it), else its
    /// wider network while the spill has room, else the one budget every later newcomer shares.
    fn key(&self, w: &mut Window, from: IpNet) -> IpNet {
        if w.counts.len() < self.capacity || w.counts.contains_key(&from) {
            return from;
        }
        if !w.full {
            w.full = true;
            metrics::counter!("noegle_guess_budgets_full_total").increment(1);
            tracing::warn!(
                groups = self.capacity,
                "guesses came from more addresses this minute than one node counts apart; newcomers share their /48 (IPv4: /24) budget until the minute is over"
            );
        }
        let wider = wider(from);
        if w.counts.len() < self.capacity + self.spill || w.counts.contains_key(&wider) {
            return wider;
        }
        if !w.spilt_over {
            w.spilt_over = true;
            metrics::counter!("noegle_guess_budgets_full_total").increment(1);
            tracing::warn!(
                "guesses came from more networks this minute than one node counts; newcomers share one budget until the minute is over"
            );
        }
        IpNet::V4(Ipv4Net::default())
    }

    /// Drops the counts of the minutes before `minute`, and their memory.
    pub fn forget_before(&self, minute: i64) {
        self.window().forget_before(minute);
    }

    /// The address groups counted now.
    pub fn groups(&self) -> usize {
        self.window().counts.len()
    }
}

/// The wider network of a group, counted once the table is full: an IPv4 address's /24, an IPv6 group's /48
/// (or the group itself when it is wider already).
fn wider(group: IpNet) -> IpNet {
    let bits = match group {
        IpNet::V4(_) => 24,
        IpNet::V6(_) => 48,
    };
    IpNet::new(group.addr(), group.prefix_len().min(bits)).map_or(group, |net| net.trunc())
}

impl Window {
    fn forget_before(&mut self, minute: i64) {
        if minute > self.minute {
            // A new map, not `clear()`: the old one's memory goes back.
            *self = Window { minute, ..Window::default() };
            metrics::gauge!("noegle_guess_budgets").set(0.0);
        }
    }
}

/// Refuses a guess over the limit with 429 and `Retry-After`; pages get a page, the APIs JSON.
pub async fn limit_guesses(State(state): State<AppState>, from: ClientAddr, req: Request, next: Next) -> Response {
    if state.limiter.allows(&state, group(from.ip(), state.config.ipv6_prefix)).await {
        return next.run(req).await;
    }
    metrics::counter!("noegle_rate_limited_total").increment(1);
    let mut response = if req.uri().path().starts_with("/login") {
        AppError::TooManyRequests.into_response()
    } else {
        crate::api::ApiError::slow_down().into_response()
    };
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
    response
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::net::{IpAddr, Ipv6Addr};

    use super::*;

    fn net(ip: &str) -> IpNet {
        group(ip.parse().unwrap(), 64)
    }

    #[test]
    fn each_group_has_its_budget_for_the_minute_and_a_new_minute_a_new_one() {
        let counts = NodeCounts::new(3, 100, 10);
        for _ in 0..3 {
            assert!(counts.allows(net("2001:db8::1"), 7));
        }
        assert!(!counts.allows(net("2001:db8::ffff"), 7), "the same /64");
        assert!(counts.allows(net("2001:db8:0:1::1"), 7), "the next /64 has its own");
        assert!(counts.allows(net("192.0.2.1"), 7));
        assert!(counts.allows(net("2001:db8::1"), 8), "a new minute");
        assert_eq!(counts.groups(), 1, "the last minute's counts are gone");
    }

    /// SEC-RATE: the guess counts are bounded, not one entry per address ever seen until a restart. A
    /// million distinct addresses within one minute are held to the table's size, and the next minute (or
    /// the housekeeping) drops them all.
    #[test]
    fn a_million_addresses_are_held_to_the_tables_size_and_forgotten_after_the_minute() {
        let counts = NodeCounts::new(2, 1000, 100);
        let v6 = |i: u64| IpAddr::V6(Ipv6Addr::from((0x2001_0db8_u128 << 96) | (u128::from(i) << 64)));
        for i in 0..1_000_000 {
            counts.allows(group(v6(i), 64), 5);
        }
        assert!(counts.groups() <= 1000 + 100 + 1, "at most the table's size: {}", counts.groups());
        assert!(counts.allows(group(v6(1), 64), 5), "a counted group keeps its budget: its second guess");
        assert!(!counts.allows(group(v6(1), 64), 5), "and its third is over it");
        counts.forget_before(6);
        assert_eq!(counts.groups(), 0, "the housekeeping's next minute forgets them");
        assert!(counts.allows(group(v6(999_999), 64), 6) && counts.groups() == 1, "and counts anew");
    }

    /// SEC-RATE: a full table must not let later newcomers through uncounted (one request from
    /// each /64 of a /47 would fill it). They share their /48's budget (IPv4: /24), and past the spill one
    /// budget for all.
    #[test]
    fn past_the_table_newcomers_share_their_wider_networks_budget() {
        let counts = NodeCounts::new(2, 100, 3);
        for i in 0..100u16 {
            assert!(counts.allows(net(&format!("2001:db8:0:{i:x}::1")), 1), "the table fills");
        }
        // Two more /64s of the attacker's /48 share its one budget, whichever they are.
        assert!(counts.allows(net("2001:db8:0:1000::1"), 1));
        assert!(counts.allows(net("2001:db8:0:2000::1"), 1));
        assert!(!counts.allows(net("2001:db8:0:3000::1"), 1), "the /48's budget is spent");
        assert!(counts.allows(net("2001:db8:0:5::1"), 1), "a group counted apart keeps its own");
        assert!(counts.allows(net("2001:db8:1::1"), 1), "another /48 has its own");
        assert!(counts.allows(net("192.0.2.7"), 1) && counts.allows(net("192.0.2.200"), 1));
        assert!(!counts.allows(net("192.0.2.9"), 1), "an IPv4 newcomer shares its /24");
        // The spill (3 networks) is full: every later newcomer shares one budget.
        assert!(counts.allows(net("2001:db8:2::1"), 1) && counts.allows(net("198.51.100.1"), 1));
        assert!(!counts.allows(net("2001:db8:3::1"), 1), "past the spill: one budget for all newcomers");
        assert!(counts.groups() <= 100 + 3 + 1);
    }
}
