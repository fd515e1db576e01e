//! Key-app activation over the app API: two keys an hour apart on a settable clock, signed calls, replay
//! refused, the device limit, the platform rule, and cancelling from an active device.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use noegle_core::keycard::ClearCard;
use noegle_proto::signing::SignedRequest;
use noegle_testkit::{Backend, PASSWORD, TestServer};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use rand::RngCore;
use serde_json::{Value, json};

/// A key app in a test: a device key and, after activation starts, a device id.
struct App {
    key: SigningKey,
    device_id: String,
    base: String,
    http: reqwest::Client,
}

impl App {
    fn new(server: &TestServer) -> App {
        let key = loop {
            let mut b = [0u8; 32];
            rand::rngs::OsRng.fill_bytes(&mut b);
            if let Ok(k) = SigningKey::from_slice(&b) {
                break k;
            }
        };
        App { key, device_id: String::new(), base: server.url.clone(), http: reqwest::Client::new() }
    }

    fn public_key(&self) -> String {
        B64.encode(self.key.verifying_key().to_sec1_point(false).as_bytes())
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let r = self.http.post(format!("{}{path}", self.base)).json(&body).send().await.unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    }

    /// Headers for a signed call at `now` with `nonce`.
    fn sign(&self, method: &str, path: &str, body: &[u8], now: i64, nonce: &str) -> Vec<(&'static str, String)> {
        let req =
            SignedRequest { method, path_and_query: path, device_id: &self.device_id, timestamp: now, nonce, body };
        let sig: Signature = self.key.sign(&req.canonical_bytes().unwrap());
        vec![
            ("noegle-device", self.device_id.clone()),
            ("noegle-timestamp", now.to_string()),
            ("noegle-nonce", nonce.to_string()),
            ("noegle-signature", B64.encode(sig.to_bytes())),
        ]
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        headers: Vec<(&'static str, String)>,
    ) -> (u16, Value) {
        let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let mut req = self.http.request(method.parse().unwrap(), format!("{}{path}", self.base));
        if !bytes.is_empty() {
            req = req.header("content-type", "application/json").body(bytes);
        }
        for (k, v) in headers {
            req = req.header(k, v);
        }
        let r = req.send().await.unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    async fn signed(&self, server: &TestServer, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let bytes = body.as_ref().map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let nonce = noegle_core::secret::random_token(&mut rand::rngs::OsRng, 16);
        let headers = self.sign(method, path, &bytes, server.now().0, &nonce);
        self.send(method, path, body, headers).await
    }

    /// Logs in with the password; answers the ticket and the key the card must give.
    async fn login(&self, user: &str, card: &ClearCard) -> (String, String) {
        let (s, b) = self.post("/api/app/v1/login", json!({ "user_id": user, "password": PASSWORD })).await;
        assert_eq!(s, 200, "{b}");
        let number = b["key_card"]["key_number"].as_str().unwrap();
        (b["ticket"].as_str().unwrap().to_string(), card.keys[number].clone())
    }

    async fn start(&mut self, user: &str, card: &ClearCard, platform: &str, version: &str, name: &str) -> (u16, Value) {
        let (ticket, key) = self.login(user, card).await;
        let body = json!({ "ticket": ticket, "key": key, "public_key": self.public_key(), "platform": platform,
                           "os_version": version, "name": name });
        let (s, b) = self.post("/api/app/v1/activation", body).await;
        if s == 201 {
            self.device_id = b["device_id"].as_str().unwrap().to_string();
        }
        (s, b)
    }

    async fn complete(&self, server: &TestServer, user: &str, card: &ClearCard) -> (u16, Value) {
        let (ticket, key) = self.login(user, card).await;
        self.signed(server, "POST", "/api/app/v1/activation/complete", Some(json!({ "ticket": ticket, "key": key })))
            .await
    }

    async fn activate(&mut self, server: &TestServer, user: &str, card: &ClearCard, name: &str) {
        let (s, b) = self.start(user, card, "android", "14", name).await;
        assert_eq!(s, 201, "{b}");
        server.clock.advance(server.state.config.activation_wait_secs);
        let (s, b) = self.complete(server, user, card).await;
        assert_eq!(s, 200, "{b}");
    }
}

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
    let (s, b) = App::new(&server).start("bob", &card_b, "ios", "8.4", "Gammel").await;
    assert_eq!((s, b["error"].as_str()), (422, Some("platform_unsupported")), "{b}");
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
