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
        let (s, b) = app.post("/api/app/v1/app-code/login/start", app.login_start_body(&request)).await;
        assert_eq!(s, 200, "{b}");
    }
    assert_eq!(app.unlock("5555").await, 401, "a wrong code is the fifth failure");
    assert_eq!(app.unlock(CODE).await, 403, "blocked: even the right code no longer opens it");
    let (request, _) = noegle_client::appcode::login_start(CODE).unwrap();
    let (s, b) = app.post("/api/app/v1/app-code/login/start", app.login_start_body(&request)).await;
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

#[tokio::test]
async fn someone_who_knows_only_the_device_id_cannot_use_up_its_attempts() {
    let server = TestServer::start(Backend::Sqlite).await;
    let (_, card) = server.user_with_card("alice").await;
    let mut app = App::new(&server);
    app.activate(&server, "alice", &card, "Telefon").await;
    // Unsigned starts and finishes naming the device, without its unlock token or with a wrong one.
    for token in [None, Some("d3JvbmctdG9rZW4"), Some("")] {
        for _ in 0..3 {
            let (request, _) = noegle_client::appcode::login_start("0000").unwrap();
            let body = json!({ "device_id": app.device_id, "message": request, "unlock_token": token });
            let (s, b) = app.post("/api/app/v1/app-code/login/start", body).await;
            assert_eq!((s, b["error"].as_str()), (401, Some("unknown_device")), "{b}");
            let body = json!({ "device_id": app.device_id, "message": "AAAA", "unlock_token": token });
            let (s, b) = app.post("/api/app/v1/app-code/login/finish", body).await;
            assert_eq!((s, b["error"].as_str()), (401, Some("unknown_device")), "{b}");
        }
    }
    assert_eq!(
        server.state.store.code_failures(&app.device_id.as_str().into()).await.unwrap(),
        0,
        "nothing was counted"
    );
    // The app itself still has all its attempts.
    let (request, _) = noegle_client::appcode::login_start("0000").unwrap();
    let (s, b) = app.post("/api/app/v1/app-code/login/start", app.login_start_body(&request)).await;
    assert_eq!((s, b["remaining_if_wrong"].as_i64()), (200, Some(4)), "{b}");
    assert_eq!(app.unlock(CODE).await, 200);
}

#[tokio::test]
async fn glemt_kode_waits_the_activation_hour_is_audited_and_another_device_may_cancel_it() {
    let server = TestServer::start(Backend::Sqlite).await;
    let (_, card) = server.user_with_card("alice").await;
    let mut phone = App::new(&server);
    phone.activate(&server, "alice", &card, "Telefon").await;
    let mut tablet = App::new(&server);
    tablet.activate(&server, "alice", &card, "Tablet").await;
    let wait = server.state.config.activation_wait_secs;

    // Someone with the password, one key and the tablet's device id resets its code from their own machine.
    let mut other = App::new(&server);
    other.device_id = tablet.device_id.clone();
    let (ticket, key) = other.login("alice", &card).await;
    let body = json!({ "device_id": other.device_id, "ticket": ticket, "key": key, "public_key": other.public_key() });
    let (s, b) = other.post("/api/app/v1/app-code/forgot", body).await;
    assert_eq!(s, 200, "{b}");
    let ready_at = server.now().0 + wait;
    assert_eq!(b["ready_at"].as_i64(), Some(ready_at));
    other.set_code_with(&server, "2468", b["reset_token"].as_str()).await;
    assert_eq!(other.unlock("2468").await, 200, "the reset device unlocks with its new code");

    // It approves nothing until the wait is over.
    let (s, b) = other.signed(&server, "GET", "/api/app/v1/requests", None).await;
    assert_eq!((s, b["error"].as_str(), b["until"].as_i64()), (403, Some("cooling_off"), Some(ready_at)), "{b}");
    let made_up = json!({ "request_id": "r-1", "nonce": "n", "client_id": "c", "expires_at": 0 });
    let (s, b) = other.decide(&server, &made_up, "approve", Some("00"), false).await;
    assert_eq!((s, b["error"].as_str()), (403, Some("cooling_off")), "{b}");

    // It is in the audit log, and the user's other device is told, with "Afbryd".
    let audit = server.state.store.audit(Some("alice"), 100).await.unwrap();
    assert!(audit.iter().any(|e| e.kind == "app_code_reset"), "audited");
    let (s, b) = phone.signed(&server, "GET", "/api/app/v1/activations", None).await;
    assert_eq!(s, 200, "{b}");
    let listed: Vec<_> =
        b["pending"].as_array().unwrap().iter().filter(|d| d["device_id"] == other.device_id).collect();
    assert_eq!(listed.len(), 1, "{b}");
    assert_eq!(listed[0]["reason"], "code_reset");
    let path = format!("/api/app/v1/activations/{}/cancel", other.device_id);
    let (s, b) = phone.signed(&server, "POST", &path, None).await;
    assert_eq!((s, b["status"].as_str()), (200, Some("revoked")), "{b}");
    let (s, b) = other.signed(&server, "GET", "/api/app/v1/requests", None).await;
    assert_eq!((s, b["error"].as_str()), (401, Some("unknown_device")), "cancelled: it is no key app any more");
}

#[tokio::test]
async fn after_glemt_kode_the_log_in_box_offers_the_key_card_until_the_wait_is_over() {
    let server = TestServer::start(Backend::Sqlite).await;
    let (_, card) = server.user_with_card("alice").await;
    let mut app = App::new(&server);
    app.activate(&server, "alice", &card, "Telefon").await;
    let (ticket, key) = app.login("alice", &card).await;
    app.key = App::new(&server).key;
    let body = json!({ "device_id": app.device_id, "ticket": ticket, "key": key, "public_key": app.public_key() });
    let (s, b) = app.post("/api/app/v1/app-code/forgot", body).await;
    assert_eq!(s, 200, "{b}");
    app.set_code_with(&server, "2468", b["reset_token"].as_str()).await;

    let c = server.client("Demo Bank", crate::CB, false).await;
    let log_in = || async {
        let b = server.browser();
        let first = b.open(&crate::authorize_url(&server, c.client.client_id.as_str(), &[])).await;
        b.password(&first, "alice", noegle_testkit::PASSWORD).await.body
    };
    let page = log_in().await;
    assert!(!page.contains("Send anmodning til nøgleapp"), "the app is not offered while it waits");
    assert!(page.contains("Nøgle"), "the key card is asked: {page}");

    server.clock.advance(server.state.config.activation_wait_secs);
    assert!(log_in().await.contains("Send anmodning til nøgleapp"), "offered again after the wait");
    assert_eq!(app.unlock("2468").await, 200);
    assert_eq!(app.requests_status(&server).await, 200, "and it may approve");
}

/// Every audit event an app-API call writes names the caller's address (SEC-AUDIT): choosing the code
/// and deregistering as well as the activation.
#[tokio::test]
async fn every_audit_event_of_an_app_call_names_the_callers_address() {
    let server = TestServer::start(Backend::Sqlite).await;
    let (_, card) = server.user_with_card("alice").await;
    let before = server.state.store.audit(Some("alice"), 100).await.unwrap().len();
    let mut app = App::new(&server);
    app.activate(&server, "alice", &card, "Telefon").await;
    assert_eq!(app.unlock(CODE).await, 200);
    let (s, b) = app.signed(&server, "DELETE", "/api/app/v1/device", None).await;
    assert_eq!(s, 200, "{b}");
    let mut events = server.state.store.audit(Some("alice"), 100).await.unwrap();
    events.drain(..before);
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    for kind in ["device_activated", "app_code_set", "device_revoked"] {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
    }
    for e in &events {
        assert_eq!(e.source.as_deref(), Some("127.0.0.1"), "{}", e.kind);
    }
}
