//! What an attacker's probe of the server found (SEC-INPUT, SEC-AUDIT), each held by a test that failed
//! before its fix.

use futures::StreamExt;
use noegle_testkit::{Backend, TestServer};
use serde_json::{Value, json};
use sqlx::Connection;

/// When storage fails, the app API says so in general words; the database's own words (table names, files,
/// "database is locked") go to the log only.
#[tokio::test]
async fn a_storage_failure_answers_503_without_the_databases_words() {
    let server = TestServer::start(Backend::Postgres).await;
    server.user_with_card("alice").await;
    // The database goes away under the running server.
    let url = url::Url::parse(&server.state.config.database).unwrap();
    let name = url.path().trim_start_matches('/').to_string();
    let mut admin = sqlx::PgConnection::connect(&noegle_store::testing::postgres_admin_url()).await.unwrap();
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)")).execute(&mut admin).await.unwrap();

    let r = reqwest::Client::new()
        .post(format!("{}/api/app/v1/login", server.url))
        .json(&json!({ "user_id": "alice", "password": "korrekt hest batteri" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "unavailable");
    let message = body["message"].as_str().unwrap().to_lowercase();
    for leak in ["database", "sqlx", "error returned", "does not exist", name.as_str()] {
        assert!(!message.contains(leak), "{leak:?} leaked: {message}");
    }
}

/// Demo Bank keeps at most a bounded number of started log-ins; hitting its "Log på" link in a loop makes it
/// forget the oldest, not grow.
#[tokio::test]
async fn demo_bank_forgets_the_oldest_started_log_ins_past_its_limit() {
    let server = TestServer::start_with_demo_bank(Backend::Sqlite).await;
    let first = server.browser();
    assert_eq!(first.get("/demo/login").await.status, 303);
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let starts = (0..noegle_server::demo_bank::MAX_STARTED).map(|_| {
        let (http, url) = (http.clone(), format!("{}/demo/login", server.url));
        async move { http.get(url).send().await.unwrap().status().as_u16() }
    });
    let statuses: Vec<u16> = futures::stream::iter(starts).buffer_unordered(8).collect().await;
    assert!(statuses.iter().all(|s| *s == 303));
    // The first browser comes back: its log-in is one the bank no longer holds.
    let back = first.get(&format!("/demo/callback?state=x&iss={}", server.url)).await;
    assert_eq!(back.status, 400);
    assert!(back.body.contains("was not started here"), "{}", back.body);
}

/// An `/authorize` nobody follows up stores nothing; the log-in waits in the browser's cookie, sealed, until
/// the first form post. A changed cookie is no session at all.
#[tokio::test]
async fn unanswered_authorization_requests_store_nothing() {
    let server = TestServer::start(Backend::Sqlite).await;
    let (_, card) = server.user_with_card("alice").await;
    let client = server.client("Bank", crate::CB, true).await;
    let url = crate::authorize_url(&server, client.client.client_id.as_str(), &[]);
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let floods = (0..300).map(|_| {
        let (http, url) = (http.clone(), url.clone());
        async move { http.get(url).send().await.unwrap().status().as_u16() }
    });
    let statuses: Vec<u16> = futures::stream::iter(floods).buffer_unordered(16).collect().await;
    assert!(statuses.iter().all(|s| *s == 303));
    let mut db = sqlx::SqliteConnection::connect(&server.state.config.database).await.unwrap();
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessions").fetch_one(&mut db).await.unwrap();
    assert_eq!(rows, 0, "300 authorization requests stored {rows} sessions");

    // A browser that follows up logs in as before; its session is stored from the first form post on.
    let b = server.browser();
    let done = b.log_in(&url, "alice", &card).await;
    assert!(done.location.unwrap().starts_with(crate::CB));

    // A cookie changed by the browser opens nothing.
    let b = server.browser();
    let first = b.get(&url).await;
    let cookie = first.set_cookies[0].split(';').next().unwrap().to_string();
    let (name, value) = cookie.split_once('=').unwrap();
    assert!(value.starts_with("s."), "the first step is kept in the cookie: {cookie}");
    let mut forged = value.to_string();
    forged.replace_range(forged.len() - 2.., if value.ends_with("AA") { "AB" } else { "AA" });
    let r =
        http.get(format!("{}/login", server.url)).header("cookie", format!("{name}={forged}")).send().await.unwrap();
    assert_eq!(r.status(), 400, "no log-in in progress");
}
