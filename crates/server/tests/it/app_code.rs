//! The app code over the API: every login start counts, five in a row block, the app locks after 5 minutes,
//! and an approval needs an unlocked app.

use noegle_testkit::{Backend, TestServer};
use serde_json::json;

use crate::app::{App, CODE};

#[tokio::test]
async fn starts_without_finishes_count_and_five_block_the_device() {
    let server = TestServer::start(Backend::Sqlite).await;
    let (_, card) = server.user_with_card("alice").await;
    let mut app = App::new(&server);
    app.activate(&server, "alice", &card, "Telefon").await;
    // An attacker with the device's files sends login starts and never finishes.
    for _ in 0..4 {
        let (request, _) = noegle_client::appcode::login_start("0000").unwrap();
        let (s, b) = app
            .post("/api/app/v1/app-code/login/start", json!({ "device_id": app.device_id, "message": request }))
            .await;
        assert_eq!(s, 200, "{b}");
    }
    assert_eq!(app.unlock("5555").await, 401, "a wrong code is the fifth failure");
    assert_eq!(app.unlock(CODE).await, 403, "blocked: even the right code no longer opens it");
    let (request, _) = noegle_client::appcode::login_start(CODE).unwrap();
    let (s, b) =
        app.post("/api/app/v1/app-code/login/start", json!({ "device_id": app.device_id, "message": request })).await;
    assert_eq!((s, b["error"].as_str()), (403, Some("device_blocked")));
    assert!(b["message"].as_str().unwrap().contains("Glemt kode"));
}

#[tokio::test]
async fn the_app_locks_after_five_minutes_and_locked_apps_cannot_approve() {
    let server = TestServer::start(Backend::Sqlite).await;
    let (_, card) = server.user_with_card("alice").await;
    let mut app = App::new(&server);
    app.activate(&server, "alice", &card, "Telefon").await;
    assert_eq!(app.requests_status(&server).await, 200);
    server.clock.advance(299);
    assert_eq!(app.requests_status(&server).await, 200);
    server.clock.advance(1);
    let (s, b) = app.signed(&server, "GET", "/api/app/v1/requests", None).await;
    assert_eq!((s, b["error"].as_str()), (401, Some("locked")), "always locked after 5 minutes");

    // A locked app cannot decide; a new code cannot be set without unlocking (or "Glemt kode").
    let (request, registering) = noegle_client::appcode::register_start("8642").unwrap();
    let (s, b) =
        app.signed(&server, "POST", "/api/app/v1/app-code/register/start", Some(json!({ "message": request }))).await;
    assert_eq!(s, 200, "{b}");
    let (upload, _) =
        noegle_client::appcode::register_finish(registering, "8642", b["message"].as_str().unwrap()).unwrap();
    let (s, b) =
        app.signed(&server, "POST", "/api/app/v1/app-code/register/finish", Some(json!({ "message": upload }))).await;
    assert_eq!((s, b["error"].as_str()), (403, Some("locked")));
    assert_eq!(app.unlock(CODE).await, 200, "the old code still works");
}
