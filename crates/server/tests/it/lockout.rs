//! Lockout over HTTP: parallel guesses all count; 100 failures lock; the count survives a restart.

use noegle_core::lockout::MAX_CONSECUTIVE_FAILURES;
use noegle_testkit::{Backend, Browser, PASSWORD, TestServer};

use crate::{CB, authorize_url};

async fn twenty_parallel(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (alice, _) = server.user_with_card("alice").await;
    let c = server.client("Bank", CB, false).await;
    let url = authorize_url(&server, &c.client.client_id, &[]);
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
    let url = authorize_url(&server, &c.client.client_id, &[]);
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
    let p1 = b.open(&authorize_url(&server, &c.client.client_id, &[])).await;
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
