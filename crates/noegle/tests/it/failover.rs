//! A node killed (SIGKILL) in the middle of a key-app log-in. Two nodes on one PostgreSQL; the log-in box
//! runs on node A, which dies after the request went to the app; the app approves through node B, once; the
//! browser goes on at node B and is logged in — nothing acknowledged was lost.

use noegle_client::api::Answer;
use noegle_client::{AppClient, DeviceState};
use noegle_core::Clock;
use noegle_core::keycard::ClearCard;
use noegle_testkit::{Browser, PASSWORD};

use crate::{authorize_url, copy_secrets, free_port, json, serve};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_in_the_middle_of_a_key_app_log_in_loses_nothing() {
    let db = noegle_store::testing::fresh_postgres_database().await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    json(&a, Some(&db), &["user", "add", "alice", "--password-stdin", "--json"], &format!("{PASSWORD}\n"));
    let card: ClearCard =
        serde_json::from_value(json(&a, Some(&db), &["keycard", "issue", "alice", "--json"], "")).unwrap();
    let cb = "http://localhost:9999/cb";
    let client = json(&a, Some(&db), &["client", "add", "Bank", "--redirect-uri", cb, "--public", "--json"], "");
    copy_secrets(&a, &b);
    let env = [("NOEGLE_ACTIVATION_WAIT_SECS", "0"), ("NOEGLE_GUESSES_PER_MINUTE", "100000")];
    let mut node_a = serve(&a, Some(&db), free_port(), &env).await;
    let node_b = serve(&b, Some(&db), free_port(), &env).await;

    // A key app, activated (no wait here) through node B.
    let mut app = AppClient::new(DeviceState::new(&node_b.url), Box::new(|| noegle_server::SystemClock.now().0));
    let t = app.login("alice", PASSWORD).await.unwrap();
    app.start_activation(&t.ticket, &card.keys[&t.key_card.key_number], "terminal", "1.0", "Test").await.unwrap();
    let t = app.login("alice", PASSWORD).await.unwrap();
    app.complete_activation(&t.ticket, &card.keys[&t.key_card.key_number]).await.unwrap();
    app.set_code("7391").await.unwrap();
    app.unlock("7391").await.unwrap();

    // The log-in box on node A sends the request to the app…
    let browser = Browser::new(&node_a.url);
    let authorize = authorize_url(&node_a.url, client["client_id"].as_str().unwrap(), cb);
    let choice = browser.password(&browser.open(&authorize).await, "alice", PASSWORD).await;
    assert_eq!(browser.post("/login/app/send", &[("csrf", &choice.csrf())]).await.status, 303);
    let code = browser.get("/login").await.class_text("match-code").unwrap();

    // …and node A dies.
    node_a.child.kill().unwrap();
    node_a.child.wait().unwrap();

    // The app approves through node B, once.
    let r = app.requests().await.unwrap().remove(0);
    assert_eq!(app.decide(&r, Answer::Approve { match_code: Some(&code) }).await.unwrap(), "approved");
    let again = app.decide(&r, Answer::Approve { match_code: Some(&code) }).await.unwrap_err();
    assert_eq!(again.code, "already_decided", "an approval takes effect exactly once");

    // The browser goes on at node B (the session is in the shared database) and is logged in, once.
    let done = browser.get(&format!("{}/login", node_b.url)).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert!(done.location.as_deref().unwrap().starts_with(cb) && done.location_param("code").is_some());
    let twice = browser.get(&format!("{}/login", node_b.url)).await;
    assert!(twice.location_param("code").is_none(), "no second code");
}
