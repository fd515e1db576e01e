//! Lockout over HTTP: parallel guesses all count; 100 failures lock; the count survives a restart.

use noegle_core::lockout::MAX_CONSECUTIVE_FAILURES;
use noegle_testkit::{Backend, Browser, PASSWORD, TestServer};

use crate::{CB, authorize_url};

async fn twenty_parallel(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (alice, _) = server.user_with_card("alice").await;
    let c = server.client("Bank", CB, false).await;
    let url = authorize_url(&server, c.client.client_id.as_str(), &[]);
    let mut pages = Vec::new();
    for _ in 0..20 {
        let b = server.browser();
        let p = b.open(&url).await;
        pages.push((b, p));
    }
    let answers = futures::future::join_all(pages.iter().map(|(b, p)| b.password(p, "alice", "wrong password!"))).await;
    assert!(answers.iter().all(|a| a.status == 401));
    assert_eq!(server.user(&alice.sub).await.failed_attempts, 20);
}

#[tokio::test]
async fn twenty_parallel_wrong_guesses_count_twenty_on_sqlite() {
    twenty_parallel(Backend::Sqlite).await;
}

#[tokio::test]
async fn twenty_parallel_wrong_guesses_count_twenty_on_postgres() {
    twenty_parallel(Backend::Postgres).await;
}

#[tokio::test]
async fn a_hundred_failures_lock_and_the_lock_survives_a_restart() {
    let server = TestServer::start(Backend::Sqlite).await;
    let (alice, card) = server.user_with_card("alice").await;
    let c = server.client("Bank", CB, false).await;
    let url = authorize_url(&server, c.client.client_id.as_str(), &[]);
    let b = server.browser();
    let p1 = b.open(&url).await;
    // Mix the factors: wrong keys count as well as wrong passwords.
    let p2 = b.password(&p1, "alice", PASSWORD).await;
    for _ in 0..10 {
        assert_eq!(b.key(&p2, "000000").await.status, 401);
    }
    let p1 = b.open(&url).await;
    for _ in 10..MAX_CONSECUTIVE_FAILURES {
        assert_eq!(b.password(&p1, "alice", "wrong password!").await.status, 401);
    }
    assert_eq!(server.user(&alice.sub).await.failed_attempts, MAX_CONSECUTIVE_FAILURES);

    let server = server.restart().await;
    server.clock.advance(7 * 24 * 3600);
    assert_eq!(server.user(&alice.sub).await.failed_attempts, MAX_CONSECUTIVE_FAILURES, "durable");
    let b = server.browser();
    let p1 = b.open(&url.replace(&url[..url.find("/authorize").unwrap()], &server.url)).await;
    assert_eq!(b.password(&p1, "alice", PASSWORD).await.status, 401, "the right password is refused while locked");
    let kinds: Vec<String> =
        server.state.store.audit(Some("alice"), 5).await.unwrap().into_iter().map(|e| e.kind).collect();
    assert_eq!(kinds.last().map(String::as_str), Some("attempt_while_locked"));

    noegle_core::accounts::set_blocked(server.state.ctx(Some("test")), "alice", false).await.unwrap();
    let p2 = b.password(&p1, "alice", PASSWORD).await;
    assert_eq!(p2.status, 200);
    assert_eq!(b.key(&p2, &card.keys[&Browser::asked_number(&p2)]).await.status, 303, "unblocked by support");
}

#[tokio::test]
async fn one_address_may_make_only_so_many_guesses_a_minute() {
    let server = TestServer::start_with(Backend::Sqlite, |c| c.guesses_per_minute = 5).await;
    let (alice, _) = server.user_with_card("alice").await;
    let c = server.client("Bank", CB, false).await;
    let b = server.browser();
    let p1 = b.open(&authorize_url(&server, c.client.client_id.as_str(), &[])).await;
    for _ in 0..5 {
        assert_eq!(b.password(&p1, "alice", "wrong password!").await.status, 401);
    }
    let slowed = b.password(&p1, "alice", PASSWORD).await;
    assert_eq!(slowed.status, 429);
    assert_eq!(slowed.headers.get("retry-after").unwrap(), "60");
    assert!(slowed.body.contains("for mange forsøg fra din forbindelse"), "{}", slowed.body);
    assert_eq!(server.user(&alice.sub).await.failed_attempts, 5, "the refused guess was never checked");

    // The same address is slowed on the app API and the token endpoint too.
    let r = reqwest::Client::new()
        .post(format!("{}/api/app/v1/login", server.url))
        .json(&serde_json::json!({ "user_id": "alice", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["error"], "slow_down");
    let (status, body) = crate::token(&server, &[("grant_type", "authorization_code"), ("code", "x")], None).await;
    assert_eq!((status, body["error"].as_str()), (429, Some("slow_down")));
}

/// One wrong-password guess for alice at `server`'s app API, with `X-Forwarded-For: forwarded` if given;
/// the status.
async fn guess(server: &TestServer, forwarded: Option<&str>) -> u16 {
    let body = serde_json::json!({ "user_id": "alice", "password": "wrong password!" });
    let mut req = reqwest::Client::new().post(format!("{}/api/app/v1/login", server.url)).json(&body);
    if let Some(f) = forwarded {
        req = req.header("x-forwarded-for", f);
    }
    req.send().await.unwrap().status().as_u16()
}

/// Behind a trusted reverse proxy each client has its own guess budget, named by the forwarded address (also
/// in the audit log); from an untrusted peer a forged `X-Forwarded-For` buys nothing.
#[tokio::test]
async fn behind_a_trusted_proxy_each_client_has_its_own_budget() {
    let app_login = |server, forwarded| guess(server, Some(forwarded));
    let trusting = TestServer::start_with(Backend::Sqlite, |c| {
        c.guesses_per_minute = 3;
        c.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()];
    })
    .await;
    trusting.user_with_card("alice").await;
    for _ in 0..3 {
        assert_eq!(app_login(&trusting, "1.2.3.4, 203.0.113.7").await, 401);
    }
    assert_eq!(app_login(&trusting, "203.0.113.7").await, 429, "that client's budget is spent");
    assert_eq!(app_login(&trusting, "9.9.9.9, 203.0.113.8").await, 401, "another client behind the proxy is not");
    let sources: Vec<Option<String>> =
        trusting.state.store.audit(Some("alice"), 10).await.unwrap().into_iter().map(|e| e.source).collect();
    assert!(sources.contains(&Some("203.0.113.7".into())) && sources.contains(&Some("203.0.113.8".into())));
    assert!(!sources.contains(&Some("1.2.3.4".into())), "what a client writes itself is not believed");

    let plain = TestServer::start_with(Backend::Sqlite, |c| c.guesses_per_minute = 3).await;
    plain.user_with_card("alice").await;
    for forged in ["203.0.113.1", "203.0.113.2", "203.0.113.3"] {
        assert_eq!(app_login(&plain, forged).await, 401);
    }
    assert_eq!(app_login(&plain, "203.0.113.4").await, 429, "no proxy trusted: the headers are ignored");
}

/// On PostgreSQL the per-address budget holds across nodes: N nodes give one budget, not N.
#[tokio::test]
async fn the_guess_budget_counts_across_nodes() {
    let node_a = TestServer::start_with(Backend::Postgres, |c| c.guesses_per_minute = 3).await;
    node_a.user_with_card("alice").await;
    let node_b = node_a.second_node().await;
    assert_eq!(guess(&node_a, None).await, 401);
    assert_eq!(guess(&node_b, None).await, 401);
    assert_eq!(guess(&node_a, None).await, 401);
    assert_eq!(guess(&node_b, None).await, 429, "the fourth guess, on the other node, is over the one budget");
    assert_eq!(guess(&node_a, None).await, 429);
    // A minute on, the budget is back.
    node_a.clock.advance(60);
    assert_eq!(guess(&node_b, None).await, 401);
}
