//! A nøgle server for browser tests, on a clock the test sets: Demo Bank at `/demo/`, a user with a key card,
//! the public address `http://localhost:PORT`. It prints one JSON line (`base`, `user_id`, `password`, `card`,
//! `data_dir`), then obeys lines on stdin: `advance SECS` moves the clock (answers `now T`), `now` tells it.
//! It stops at the end of stdin.
//!
//! Options: `--activation-wait SECS` (default: the real hour), `--match type|show|off`, `--support-phone`
//! and `--support-url` (the support contact the app shows).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use noegle_core::Clock;
use noegle_testkit::{PASSWORD, TestServer};
use tokio::io::{AsyncBufReadExt, BufReader};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let option = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let wait = option("--activation-wait").map(|v| v.parse::<i64>().expect("--activation-wait takes seconds"));
    let policy = option("--match").map(|p| p.parse().expect("--match takes type, show or off"));
    let (support_phone, support_url) = (option("--support-phone"), option("--support-url"));
    let server = TestServer::start_for_browser(|c| {
        if let Some(w) = wait {
            c.activation_wait_secs = w;
        }
        if let Some(p) = policy {
            c.match_code = p;
        }
        c.support_phone = support_phone.unwrap_or_default();
        c.support_url = support_url.unwrap_or_default();
    })
    .await;
    let (_, card) = server.user_with_card("demo").await;
    let hello = serde_json::json!({
        "base": server.url, "user_id": "demo", "password": PASSWORD, "card": card,
        "data_dir": server.data_dir(), "now": server.now().0,
    });
    println!("{hello}");
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let mut words = line.split_whitespace();
        match (words.next(), words.next().map(str::parse::<i64>)) {
            (Some("advance"), Some(Ok(secs))) => server.clock.advance(secs),
            (Some("now"), None) => {}
            _ => {
                println!("error: say `advance SECS` or `now`");
                continue;
            }
        }
        println!("now {}", server.clock.now().0);
    }
}
