//! Key-app activation over the app API: two keys an hour apart on a settable clock, signed calls, replay
//! refused, the device limit, the platform rule, and cancelling from an active device.

use noegle_testkit::{Backend, TestServer};
use serde_json::json;

use crate::app::App;

#[tokio::test]
async fn activation_takes_two_keys_an_hour_apart() {
    let server = TestServer::start(Backend::Sqlite).await;
    let (_, card) = server.user_with_card("alice").await;
    let mut app = App::new(&server);
    let (s, b) = app.start("alice", &card, "ios", "17.1", "Alices iPhone").await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["status"], "pending");
    assert_eq!(b["ready"], false);
    assert_eq!(b["ready_at"], server.now().0 + 3600);
    assert_eq!(b["serial"].as_str().unwrap().len(), 14);

    // Pending: the app may ask about itself, and learns when the wait is over.
    let (s, b) = app.signed(&server, "GET", "/api/app/v1/device", None).await;
    assert_eq!((s, &b["ready"]), (200, &json!(false)));

    // Too early: refused with the time to come back; no key is spent.
    server.clock.advance(3599);
    let unused = server.unused_keys(&card.serial).await;
    let (s, b) = app.complete(&server, "alice", &card).await;
    assert_eq!(s, 409, "{b}");
    assert_eq!(b["error"], "too_early");
    assert_eq!(b["ready_at"], server.now().0 + 1);
    assert_eq!(server.unused_keys(&card.serial).await, unused);

    server.clock.advance(1);
    let (_, b) = app.signed(&server, "GET", "/api/app/v1/device", None).await;
    assert_eq!(b["ready"], true);
    let (s, b) = app.complete(&server, "alice", &card).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["status"], "active");
    assert_eq!(server.unused_keys(&card.serial).await, unused - 1);
}

#[tokio::test]
async fn the_pending_activation_survives_a_restart() {
    let server = TestServer::start(Backend::Postgres).await;
    let (_, card) = server.user_with_card("alice").await;
    let mut app = App::new(&server);
    assert_eq!(app.start("alice", &card, "web", "1", "Browser").await.0, 201);
    let server = server.restart().await;
    app.base = server.url.clone();
    server.clock.advance(3600);
    let (s, b) = app.complete(&server, "alice", &card).await;
    assert_eq!(s, 200, "{b}");
}

#[tokio::test]
async fn signed_calls_are_checked_and_replays_refused() {
    let server = TestServer::start(Backend::Sqlite).await;
    let (_, card) = server.user_with_card("alice").await;
    let mut app = App::new(&server);
    app.activate(&server, "alice", &card, "Telefon").await;
    let now = server.now().0;
    let nonce = "bm9uY2Utb25lLXR3by10aHJlZQ";
    let headers = app.sign("GET", "/api/app/v1/device", b"", now, nonce);
    assert_eq!(app.send("GET", "/api/app/v1/device", None, headers.clone()).await.0, 200);
    let (s, b) = app.send("GET", "/api/app/v1/device", None, headers).await;
    assert_eq!((s, b["error"].as_str()), (401, Some("replayed_request")));

    let skewed = app.sign("GET", "/api/app/v1/device", b"", now - 61, "c2tld2VkLXJlcXVlc3QtMQ");
    assert_eq!(app.send("GET", "/api/app/v1/device", None, skewed).await.1["error"], "clock_skew");
    // Another key claiming this device's id.
    let mut other = App::new(&server);
    other.device_id = app.device_id.clone();
    let forged = other.sign("GET", "/api/app/v1/device", b"", now, "Zm9yZ2VkLXJlcXVlc3QtMQ");
    assert_eq!(app.send("GET", "/api/app/v1/device", None, forged).await.1["error"], "bad_signature");
    let wrong_path = app.sign("GET", "/api/app/v1/activations", b"", now, "d3JvbmctcGF0aC1yZXF1ZXN0");
    assert_eq!(app.send("GET", "/api/app/v1/device", None, wrong_path).await.1["error"], "bad_signature");
    let (s, b) = app.send("GET", "/api/app/v1/device", None, vec![]).await;
    assert_eq!((s, b["error"].as_str()), (401, Some("unsigned")));
}

#[tokio::test]
async fn a_fourth_device_and_an_old_platform_are_refused() {
    let server = TestServer::start(Backend::Sqlite).await;
    let (_, card) = server.user_with_card("alice").await;
    for n in 1..=3 {
        App::new(&server).activate(&server, "alice", &card, &format!("Telefon {n}")).await;
    }
    let unused = server.unused_keys(&card.serial).await;
    let (s, b) = App::new(&server).start("alice", &card, "android", "14", "Fjerde").await;
    assert_eq!(s, 409, "{b}");
    assert_eq!(b["error"], "too_many_devices");
    assert_eq!(b["devices"], json!(["Telefon 1", "Telefon 2", "Telefon 3"]));
    assert!(b["message"].as_str().unwrap().contains("deregister one first"));
    assert_eq!(server.unused_keys(&card.serial).await, unused, "no key spent");

    let (_, card_b) = server.user_with_card("bob").await;
    let (s, b) = App::new(&server).start("bob", &card_b, "android", "4.3", "Gammel").await;
    assert_eq!((s, b["error"].as_str()), (422, Some("platform_unsupported")));
    assert_eq!(b["message"], "the key app needs Android 4.4 or newer; this device has 4.3");
    // The facts beside the message (R-APP3), for the app to say in the user's language.
    assert_eq!((&b["platform"], &b["minimum"], &b["version"]), (&json!("Android"), &json!("4.4"), &json!("4.3")));
    let (s, b) = App::new(&server).start("bob", &card_b, "ios", "8.4", "Gammel").await;
    assert_eq!((s, b["error"].as_str()), (422, Some("platform_unsupported")), "{b}");

    // What an app reports about itself is shown to operators later, so escape codes, reordering marks and
    // kilobytes of text are refused — and no key is spent on them.
    let unused = server.unused_keys(&card_b.serial).await;
    let long = "9".repeat(4096);
    for (platform, version, name) in [
        ("web", "\u{1b}[2J\u{1b}[H", "Browser"),
        ("terminal", long.as_str(), "Terminal"),
        ("web", "131.0", "Bankens \u{202e}enofelet"),
        ("web", "131.0", "Telefon\u{1b}[31m"),
    ] {
        let (s, b) = App::new(&server).start("bob", &card_b, platform, version, name).await;
        assert_eq!(s, 422, "{platform} {version:?} {name:?}: {b}");
        assert!(!b["message"].as_str().unwrap().contains('\u{1b}'), "the refusal does not echo the escape: {b}");
    }
    assert_eq!(server.unused_keys(&card_b.serial).await, unused, "no key spent");
}

#[tokio::test]
async fn an_active_device_sees_and_cancels_a_pending_activation() {
    let server = TestServer::start(Backend::Sqlite).await;
    let (_, card) = server.user_with_card("alice").await;
    let (_, card_b) = server.user_with_card("bob").await;
    let mut mine = App::new(&server);
    mine.activate(&server, "alice", &card, "Min telefon").await;
    let mut stranger = App::new(&server);
    stranger.start("alice", &card, "android", "14", "Ukendt enhed").await;

    let (s, b) = mine.signed(&server, "GET", "/api/app/v1/activations", None).await;
    assert_eq!(s, 200);
    assert_eq!(b["pending"][0]["name"], "Ukendt enhed");

    // Another user's device cannot cancel it.
    let mut bobs = App::new(&server);
    bobs.activate(&server, "bob", &card_b, "Bobs").await;
    let path = format!("/api/app/v1/activations/{}/cancel", stranger.device_id);
    assert_eq!(bobs.signed(&server, "POST", &path, None).await.0, 404);

    let (s, b) = mine.signed(&server, "POST", &path, None).await;
    assert_eq!((s, b["status"].as_str()), (200, Some("cancelled")));
    server.clock.advance(3600);
    let (s, b) = stranger.complete(&server, "alice", &card).await;
    assert_eq!(s, 401, "a cancelled device can no longer sign in: {b}");
    let (_, b) = mine.signed(&server, "GET", "/api/app/v1/activations", None).await;
    assert_eq!(b["pending"], json!([]));
}

/// Before activating, the app can tell the limit of three devices (R-APP2) and the oldest OS it runs on
/// (R-APP3); "Hjælp og NemID support" gives the operator's phone number and web address, when set. The
/// numbers the apps say to their users (the 5-minute session, the activation wait, the wrong codes that
/// block) come from the server, the one source of each.
#[tokio::test]
async fn the_app_learns_the_limits_and_how_to_reach_the_support() {
    let server = TestServer::start(Backend::Sqlite).await;
    let (s, b) = App::new(&server).send("GET", "/api/app/v1/about", None, vec![]).await;
    let none = json!({ "phone": null, "url": null });
    let wait = server.state.config.activation_wait_secs;
    assert_eq!(
        (s, b),
        (
            200,
            json!({ "max_devices": 3, "minimum": { "ios": "9", "android": "4.4" }, "support": none,
                    "app_session_secs": 300, "activation_wait_secs": wait, "code_attempts": 5 })
        )
    );
    let server = TestServer::start_with(Backend::Sqlite, |c| {
        c.support_phone = "+45 70 20 70 20".into();
        c.support_url = "https://support.example/noegle".into();
        c.activation_wait_secs = 600;
    })
    .await;
    let (s, b) = App::new(&server).send("GET", "/api/app/v1/about", None, vec![]).await;
    assert_eq!(s, 200);
    assert_eq!(b["support"], json!({ "phone": "+45 70 20 70 20", "url": "https://support.example/noegle" }));
    assert_eq!(b["activation_wait_secs"], 600, "the operator's wait, not a constant");
}
