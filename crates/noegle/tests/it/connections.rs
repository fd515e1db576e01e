//! Slow and idle connections cannot lock the server out (SEC-INPUT). Under a 1,024 open-files limit and the
//! default settings, 1,100 connections that never finish their request head are held to the per-address limit
//! — a quarter of the node's 224 connections (before, the default of 256 was more than all of them, and
//! another client's `/healthz` was reset) — the rest are closed at once, those held are closed when the head
//! timeout runs out, and meanwhile a normal log-in from another address goes through. A per-address limit
//! above the quarter is refused at start.

use std::time::Duration;

use noegle_core::Ctx;
use noegle_core::login::issue_card;
use noegle_core::{Clock, accounts};
use noegle_testkit::{Browser, PASSWORD};
use rand::rngs::OsRng;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::{authorize_url, free_port, serve_limited};

const SLOW: usize = 1100;
/// A quarter of the 224 connections a node holds under 1,024 open files.
const PER_ADDRESS: usize = 56;

/// A connection from 127.0.0.2 that sends half a request head and then nothing.
async fn slow_connection(port: u16) -> Option<TcpStream> {
    let socket = TcpSocket::new_v4().ok()?;
    socket.bind("127.0.0.2:0".parse().ok()?).ok()?;
    let mut stream = socket.connect(format!("127.0.0.1:{port}").parse().ok()?).await.ok()?;
    stream.write_all(b"GET /login HTTP/1.1\r\nHost: localhost\r\nX-Slow: ").await.ok()?;
    Some(stream)
}

/// Whether the server has closed `stream` (a read answers end-of-file or an error within `wait`).
async fn closed_within(stream: &mut TcpStream, wait: Duration) -> bool {
    let mut buf = [0u8; 256];
    matches!(tokio::time::timeout(wait, stream.read(&mut buf)).await, Ok(Ok(0) | Err(_)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_connections_under_a_small_file_limit_do_not_lock_anyone_out() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // The node's first start makes its secrets before its database (a database without them is refused).
    noegle_server::secrets::open_data_dir(d, &noegle_store::testing::sqlite_url(d)).unwrap();
    let store = noegle_store::open(&noegle_store::testing::sqlite_url(d)).await.unwrap();
    let ctx = Ctx { store: store.as_ref(), now: noegle_server::SystemClock.now(), source: Some("test") };
    let alice = accounts::create_user(ctx, &mut OsRng, "alice", None, PASSWORD).await.unwrap();
    let card = issue_card(ctx, &mut OsRng, &noegle_server::secrets::pepper(d).unwrap(), &alice).await.unwrap();
    let cb = "http://localhost:9999/cb";
    let client = accounts::add_client(ctx, &mut OsRng, "Bank", &[cb.into()], true).await.unwrap();
    let env = [("NOEGLE_HEADER_TIMEOUT_SECS", "5")];
    let port = free_port();
    let server = serve_limited(d, None, port, &env, Some(1024)).await;

    let mut slow = Vec::new();
    for _ in 0..SLOW {
        if let Some(s) = slow_connection(port).await {
            slow.push(s);
        }
    }
    assert!(slow.len() > PER_ADDRESS, "the connections were made ({} of {SLOW})", slow.len());
    // Past the per-address limit the server closed them at once.
    let closed = futures::future::join_all(slow.iter_mut().map(|s| closed_within(s, Duration::from_millis(300)))).await;
    let mut held: Vec<TcpStream> = slow.into_iter().zip(closed).filter(|(_, c)| !c).map(|(s, _)| s).collect();
    assert!(!held.is_empty() && held.len() <= PER_ADDRESS, "{} held", held.len());

    // Another client is answered while they hang on, and a person logs in.
    let health = tokio::time::timeout(Duration::from_secs(5), reqwest::get(format!("{}/healthz", server.url))).await;
    assert!(health.is_ok_and(|r| r.is_ok_and(|r| r.status().is_success())), "another client's /healthz is answered");
    let authorize = authorize_url(&server.url, client.client.client_id.as_str(), cb);
    let done =
        tokio::time::timeout(Duration::from_secs(20), Browser::new(&server.url).log_in(&authorize, "alice", &card))
            .await
            .expect("the log-in went through while the slow connections hung on");
    assert!(done.location.unwrap().starts_with(cb));
    assert!(reqwest::get(format!("{}/healthz", server.url)).await.unwrap().status().is_success());

    // The ones it held, the server closes when their head is not complete in time.
    let cut = futures::future::join_all(held.iter_mut().map(|s| closed_within(s, Duration::from_secs(15)))).await;
    assert!(cut.iter().all(|c| *c), "a slow head is cut off after the timeout");
}

/// A per-address limit the node's connections cannot carry stops the start, naming the limit it may have.
#[tokio::test]
async fn a_per_address_limit_above_a_quarter_of_the_connections_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let bin = std::env::var("NOEGLE_SERVE_BIN").unwrap_or(env!("CARGO_BIN_EXE_noegle").into());
    let out = std::process::Command::new("sh")
        .args(["-c", "ulimit -n 1024 && exec \"$0\" serve", &bin])
        .env("NOEGLE_DATA_DIR", dir.path())
        .env("NOEGLE_BIND", format!("127.0.0.1:{}", free_port()))
        .env("NOEGLE_MAX_CONNECTIONS_PER_ADDRESS", "256")
        .env_remove("NOEGLE_DATABASE")
        .env_remove("NOEGLE_CONFIG")
        .output()
        .unwrap();
    assert!(!out.status.success(), "the start is refused");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("max_connections_per_address is 256") && err.contains("set it to 56 or less"),
        "names the limit and what it may be: {err}"
    );

    // An admin command sees the limits `serve` sees: like `serve`, it raises its soft open-files limit to the
    // hard one first, so a setting the node can carry never locks the operator's shell out.
    let admin = |limit: &str| {
        std::process::Command::new("sh")
            .args(["-c", &format!("ulimit {limit} && exec \"$0\" client list --json"), &bin])
            .env("NOEGLE_DATA_DIR", dir.path())
            .env("NOEGLE_MAX_CONNECTIONS_PER_ADDRESS", "100")
            .env_remove("NOEGLE_DATABASE")
            .env_remove("NOEGLE_CONFIG")
            .output()
            .unwrap()
    };
    let soft = admin("-S -n 1024");
    assert!(soft.status.success(), "a soft limit of 1,024 is raised: {}", String::from_utf8_lossy(&soft.stderr));
    let hard = admin("-n 1024");
    assert!(!hard.status.success(), "under a hard limit of 1,024 the setting is refused, as by serve");
}

/// SIGTERM stops a node within its grace (`shutdown_grace_secs`) although a client holds a half-sent request
/// open (before, the stop waited for every connection, with no deadline of its own).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_a_node_within_its_grace_although_a_request_is_held_half_sent() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let env = [("NOEGLE_SHUTDOWN_GRACE_SECS", "2"), ("NOEGLE_HEADER_TIMEOUT_SECS", "60")];
    let mut server = serve_limited(dir.path(), None, port, &env, None).await;
    let mut held = slow_connection(port).await.expect("a half-sent request");

    let started = tokio::time::Instant::now();
    let pid = server.child.id().to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let mut exited = None;
    while started.elapsed() < Duration::from_secs(15) {
        if let Some(status) = server.child.try_wait().unwrap() {
            exited = Some(status);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let status = exited.expect("the node stopped");
    assert!(status.success(), "a clean stop: {status}");
    assert!(started.elapsed() < Duration::from_secs(6), "within the grace of 2 s, not {:?}", started.elapsed());
    assert!(closed_within(&mut held, Duration::from_secs(1)).await, "the held connection is closed");
}
