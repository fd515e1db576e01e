//! What an attack on the reference deployment found on the server side (SEC-RATE, SEC-INPUT, SEC-AUDIT), each
//! held by a test over real sockets that failed before its fix. (The proxy through the repository's own nginx
//! file, the connection share under 1,024 open files and the limiter's memory are tested with the binary, in
//! `crates/noegle/tests/it`.)

use std::time::Duration;

use noegle_server::ratelimit::Limiter;
use noegle_testkit::{Backend, TestServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// A wrong-password guess at the app API with the given forwarding headers; the status.
async fn guess(server: &TestServer, headers: &[(&str, &str)]) -> u16 {
    let body = serde_json::json!({ "user_id": "alice", "password": "wrong password!" });
    let mut req = reqwest::Client::new().post(format!("{}/api/app/v1/login", server.url)).json(&body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap().status().as_u16()
}

/// A server behind a trusted proxy (every loopback address), with `per_minute` guesses per client.
async fn behind_proxy(
    backend: Backend,
    per_minute: u32,
    configure: impl FnOnce(&mut noegle_server::Config),
) -> TestServer {
    let server = TestServer::start_with(backend, |c| {
        c.guesses_per_minute = per_minute;
        c.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()];
        configure(c);
    })
    .await;
    server.user_with_card("alice").await;
    server
}

/// Only the forwarding header the operator names counts: the proxy sets one header (`forwarded_header`); the
/// other, which it passes on as the client wrote it, is never read — a client past its budget cannot buy a
/// fresh one with `Forwarded: for=…`, nor spend another client's, and the audit trail names the real client.
#[tokio::test]
async fn only_the_header_the_proxy_sets_names_the_client() {
    let server = behind_proxy(Backend::Sqlite, 3, |_| {}).await;
    let me = ("x-forwarded-for", "203.0.113.7");
    // Its three guesses say "for=203.0.113.9" in Forwarded: they are still 203.0.113.7's own.
    for _ in 0..3 {
        assert_eq!(guess(&server, &[me, ("forwarded", "for=203.0.113.9")]).await, 401);
    }
    for n in 1..=3 {
        let forged = format!("for=198.51.100.{n}");
        assert_eq!(guess(&server, &[me, ("forwarded", &forged)]).await, 429, "a forged Forwarded buys nothing");
    }
    let victim = ("x-forwarded-for", "203.0.113.9");
    for _ in 0..3 {
        assert_eq!(guess(&server, &[victim]).await, 401, "nobody spends another client's budget");
    }
    let sources: Vec<Option<String>> =
        server.state.store.audit(Some("alice"), 20).await.unwrap().into_iter().map(|e| e.source).collect();
    assert!(
        !sources.iter().flatten().any(|s| s.starts_with("198.51.100.")),
        "forged addresses in the audit: {sources:?}"
    );

    // A proxy that speaks RFC 7239: then X-Forwarded-For is the client's own words.
    let rfc = behind_proxy(Backend::Sqlite, 3, |c| c.forwarded_header = "forwarded".parse().unwrap()).await;
    let me = ("forwarded", "for=\"[2001:db8:7::1]:4711\"");
    for _ in 0..3 {
        assert_eq!(guess(&rfc, &[me]).await, 401);
    }
    assert_eq!(guess(&rfc, &[me, ("x-forwarded-for", "198.51.100.1")]).await, 429);

    // A trusted proxy that sends no such header makes all its clients one: that is said, and counted.
    let missing = || async {
        let text = reqwest::get(format!("{}/metrics", rfc.url)).await.unwrap().text().await.unwrap();
        text.lines().find_map(|l| l.strip_prefix("noegle_forwarded_header_missing_total ")?.parse::<u64>().ok())
    };
    let before = missing().await.unwrap_or(0);
    assert_eq!(guess(&rfc, &[("x-forwarded-for", "203.0.113.50")]).await, 401, "counted as the proxy itself");
    assert!(missing().await.is_some_and(|n| n > before), "the missing header is counted");
}

/// An IPv6 client is its /64 (`ipv6_prefix`), so the 2^64 addresses of one subscriber are one budget — in one
/// node's memory and across nodes in PostgreSQL.
#[tokio::test]
async fn an_ipv6_client_has_one_budget_for_its_prefix_on_both_databases() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let server = behind_proxy(backend, 3, |_| {}).await;
        for host in ["2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff:ffff:ffff:ffff"] {
            assert_eq!(guess(&server, &[("x-forwarded-for", host)]).await, 401);
        }
        assert_eq!(guess(&server, &[("x-forwarded-for", "2001:db8:1:2:abcd::9")]).await, 429, "the same /64");
        assert_eq!(guess(&server, &[("x-forwarded-for", "2001:db8:1:3::1")]).await, 401, "the next /64 is another");
        let wider = behind_proxy(backend, 1, |c| c.ipv6_prefix = 48).await;
        assert_eq!(guess(&wider, &[("x-forwarded-for", "2001:db8:1:2::1")]).await, 401);
        assert_eq!(guess(&wider, &[("x-forwarded-for", "2001:db8:1:7::1")]).await, 429, "a /48 when so set");
    }
}

/// The node's guess counts forget each minute's addresses (before, every address seen stayed until the
/// restart): after the window only the newest is held.
#[tokio::test]
async fn the_guess_counts_of_a_past_minute_are_forgotten() {
    let server = behind_proxy(Backend::Sqlite, 100, |_| {}).await;
    let http = reqwest::Client::new();
    let key = |client: String| {
        let http = http.clone();
        let url = format!("{}/login/key", server.url);
        async move {
            let form = [("key", "123456")];
            http.post(url).header("x-forwarded-for", client).form(&form).send().await.unwrap().status().as_u16()
        }
    };
    let groups = |server: &TestServer| match &*server.state.limiter {
        Limiter::Node(counts) => counts.groups(),
        Limiter::Shared { .. } => unreachable!("SQLite counts in the node"),
    };
    let sent = futures::future::join_all((0..500).map(|i| key(format!("2001:db8:{i:x}::1")))).await;
    assert!(sent.iter().all(|s| *s == 403), "each reached the handler: {:?}", &sent[..3]);
    assert_eq!(groups(&server), 500);
    server.clock.advance(61);
    assert_eq!(key("192.0.2.1".into()).await, 403);
    assert_eq!(groups(&server), 1, "the last minute's 500 are gone");
    server.clock.advance(61);
    server.state.limiter.forget_before(server.now().0 / 60);
    assert_eq!(groups(&server), 0, "the housekeeping's call forgets them without any traffic");
}

/// Sends `head` and then `drop` once a second; answers what the server sent, how long until it closed the
/// connection, and whether it did (within 20 s).
async fn trickle(server: &TestServer, head: &str, drop: &[u8]) -> (String, Duration, bool) {
    let addr = server.url.trim_start_matches("http://").replace("localhost", "127.0.0.1");
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        tokio::select! {
            read = stream.read(&mut buf) => match read {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            },
            () = tokio::time::sleep(Duration::from_secs(1)) => {
                if started.elapsed() > Duration::from_secs(20) {
                    break;
                }
                // The next byte of the body, unless the server has closed its side.
                let _ = stream.write_all(drop).await;
            }
        }
    }
    (String::from_utf8_lossy(&answer).to_string(), started.elapsed(), started.elapsed() < Duration::from_secs(20))
}

/// A body trickled a byte a second (before: held 60 s and more) is cut at `body_timeout_secs` with 408 and
/// the connection closed, on the token endpoint, the app API and the log-in box; a body announced larger than
/// the limit is refused at once, before it is read.
#[tokio::test]
async fn a_slow_or_oversized_body_is_refused_and_its_connection_closed() {
    let server = TestServer::start_with(Backend::Sqlite, |c| {
        c.body_timeout_secs = 2;
        c.header_timeout_secs = 2;
    })
    .await;
    for (path, kind, body) in [
        ("/token", "application/x-www-form-urlencoded", "{\"error\":\"invalid_request\""),
        ("/api/app/v1/login", "application/json", "{\"error\":\"timeout\""),
        ("/login/password", "application/x-www-form-urlencoded", "<!doctype html>"),
    ] {
        let head =
            format!("POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: {kind}\r\nContent-Length: 100\r\n\r\n");
        let chunked = format!(
            "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: {kind}\r\nTransfer-Encoding: chunked\r\n\r\n"
        );
        for (head, drop) in [(&head, &b"x"[..]), (&chunked, &b"1\r\nx\r\n"[..])] {
            let (answer, took, closed) = trickle(&server, head, drop).await;
            assert!(answer.starts_with("HTTP/1.1 408 Request Timeout\r\n"), "{path}: {answer}");
            assert!(answer.contains("\r\nconnection: close\r\n") && answer.contains(body), "{path}: {answer}");
            assert!(took < Duration::from_secs(5) && closed, "{path}: cut after the timeout, not {took:?}");
        }

        let huge = format!(
            "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: {kind}\r\nContent-Length: 10000000000\r\n\r\n"
        );
        let (answer, took, closed) = trickle(&server, &huge, b"x").await;
        assert!(answer.starts_with("HTTP/1.1 413 Payload Too Large\r\n"), "{path}: {answer}");
        assert!(took < Duration::from_secs(1) && closed, "{path}: refused before reading, not after {took:?}");
        // A chunked body over the limit is refused as soon as the limit is passed.
        let big = format!("{chunked}4e20\r\n{}\r\n", "x".repeat(20_000));
        let (answer, took, closed) = trickle(&server, &big, b"1\r\nx\r\n").await;
        assert!(answer.starts_with("HTTP/1.1 413 Payload Too Large\r\n"), "{path}: {answer}");
        assert!(took < Duration::from_secs(1) && closed, "{path}: a chunked body over the limit, {took:?}");
    }
    // A body that arrives in time is read as ever.
    let r = reqwest::Client::new()
        .post(format!("{}/api/app/v1/login", server.url))
        .json(&serde_json::json!({ "user_id": "alice", "password": "wrong password!" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}
