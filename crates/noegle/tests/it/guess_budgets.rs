//! The node's guess counts are bounded (SEC-RATE). A million guesses, each from another client behind a
//! trusted proxy (a distinct IPv6 /64 in `X-Forwarded-For`), sent to a `noegle serve` process: its resident
//! memory grows by less than 24 MiB (before, every address stayed in memory until the restart: about 47 bytes
//! each, some 45 MiB here), and the node counts at most `NODE_GROUPS` of them apart; the rest share the
//! budgets of their /48s, so past the table the limit still holds. That the counts are forgotten after their
//! minute is specified on the test server's clock (`crates/server/tests/it/defects.rs`) and in
//! `ratelimit.rs`.

use noegle_core::Clock;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::{free_port, serve};

const CLIENTS: u32 = 1_000_000;
/// Connections the requests are spread over; each sends its requests pipelined, a batch at a time.
const CONNECTIONS: u32 = 8;
const BATCH: u32 = 500;

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Sends the guesses of clients `first..first + count` (token requests without a client, refused at once
/// after the address limit counted them) on one connection; answers the statuses seen.
async fn guesses(port: u16, first: u32, count: u32) -> Vec<u16> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let mut statuses = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut pending = Vec::new();
    for start in (first..first + count).step_by(BATCH as usize) {
        let end = (start + BATCH).min(first + count);
        let mut batch = String::new();
        for i in start..end {
            batch.push_str(&format!(
                "POST /token HTTP/1.1\r\nHost: localhost\r\nX-Forwarded-For: 2001:db8:{:x}:{:x}::1\r\n\
                 Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 0\r\n\r\n",
                i >> 16,
                i & 0xffff
            ));
        }
        stream.write_all(batch.as_bytes()).await.unwrap();
        // Read until every answer of the batch is in.
        let mut answered = 0;
        while answered < end - start {
            let n = stream.read(&mut buf).await.unwrap();
            assert!(n > 0, "the server closed the connection");
            pending.extend_from_slice(&buf[..n]);
            let mut at = 0;
            while let Some((status, len)) = response(&pending[at..]) {
                statuses.push(status);
                at += len;
                answered += 1;
            }
            pending.drain(..at);
        }
    }
    statuses
}

/// The status and length of the whole response at the start of `bytes`, once it is all there.
fn response(bytes: &[u8]) -> Option<(u16, usize)> {
    let head_end = bytes.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = std::str::from_utf8(&bytes[..head_end]).ok()?;
    let status = head.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()?;
    let body: usize = head.lines().find_map(|l| l.strip_prefix("content-length: ")?.trim().parse().ok())?;
    (bytes.len() >= head_end + body).then_some((status, head_end + body))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_million_clients_behind_a_proxy_keep_the_guess_counts_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let env = [("NOEGLE_TRUSTED_PROXIES", "127.0.0.1/32"), ("NOEGLE_GUESSES_PER_MINUTE", "5")];
    let server = serve(dir.path(), None, port, &env).await;
    let pid = server.child.id();
    // Warm up: the connections' buffers and the allocator's first arenas are not the counts' memory.
    guesses(port, CLIENTS, 2000).await;
    let before = rss_kib(pid);

    let started = noegle_server::SystemClock.now().0 / 60;
    let per = CLIENTS / CONNECTIONS;
    let sent = futures::future::join_all((0..CONNECTIONS).map(|c| guesses(port, c * per, per))).await;
    let statuses: Vec<u16> = sent.into_iter().flatten().collect();
    assert_eq!(statuses.len(), CLIENTS as usize);
    assert!(statuses.iter().all(|s| [400, 401, 429].contains(s)), "refused by the token endpoint or the limit");
    // In each minute the first NODE_GROUPS clients have budgets of their own; the others share their /48's
    // (16 of them here, five guesses each), so nearly all of them are over it.
    let windows = (noegle_server::SystemClock.now().0 / 60 - started + 1) as usize;
    let limited = statuses.iter().filter(|s| **s == 429).count();
    let own = windows * (noegle_server::ratelimit::NODE_GROUPS + 17 * 5);
    assert!(limited >= CLIENTS as usize - own, "past the table the limit still holds: {limited} refused");

    let grown = rss_kib(pid).saturating_sub(before);
    eprintln!("guess budgets: RSS grew by {grown} KiB for {CLIENTS} clients");
    assert!(grown < 24 * 1024, "the counts of a million clients took {grown} KiB");
    let metrics = reqwest::get(format!("{}/metrics", server.url)).await.unwrap().text().await.unwrap();
    let held = metrics.lines().find_map(|l| l.strip_prefix("noegle_guess_budgets ")).unwrap_or("?").to_string();
    let most = noegle_server::ratelimit::NODE_GROUPS + noegle_server::ratelimit::SPILL_GROUPS + 1;
    assert!(held.parse::<usize>().is_ok_and(|n| n <= most), "{held} groups held, at most {most}");
}
