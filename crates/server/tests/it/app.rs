//! A key app for tests: a P-256 device key that signs its calls as `noegle-proto` says.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use noegle_core::keycard::ClearCard;
use noegle_proto::signing::SignedRequest;
use noegle_testkit::{PASSWORD, TestServer};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use rand::RngCore;
use serde_json::{Value, json};

/// The app code every test app chooses.
pub const CODE: &str = "7391";

/// A key app in a test: a device key and, after activation starts, a device id.
pub struct App {
    pub key: SigningKey,
    pub device_id: String,
    pub base: String,
    http: reqwest::Client,
    /// The app session once unlocked with the code.
    pub session: Option<String>,
    /// The token the server gave with the code; unlocking names it.
    pub unlock_token: Option<String>,
}

impl App {
    pub fn new(server: &TestServer) -> App {
        let key = loop {
            let mut b = [0u8; 32];
            rand::rngs::OsRng.fill_bytes(&mut b);
            if let Ok(k) = SigningKey::from_slice(&b) {
                break k;
            }
        };
        App {
            key,
            device_id: String::new(),
            base: server.url.clone(),
            http: reqwest::Client::new(),
            session: None,
            unlock_token: None,
        }
    }

    pub fn public_key(&self) -> String {
        B64.encode(self.key.verifying_key().to_sec1_point(false).as_bytes())
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let r = self.http.post(format!("{}{path}", self.base)).json(&body).send().await.unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    }

    /// Headers for a signed call at `now` with `nonce`.
    pub fn sign(&self, method: &str, path: &str, body: &[u8], now: i64, nonce: &str) -> Vec<(&'static str, String)> {
        let req =
            SignedRequest { method, path_and_query: path, device_id: &self.device_id, timestamp: now, nonce, body };
        let sig: Signature = self.key.sign(&req.canonical_bytes().unwrap());
        vec![
            ("noegle-device", self.device_id.clone()),
            ("noegle-timestamp", now.to_string()),
            ("noegle-nonce", nonce.to_string()),
            ("noegle-signature", B64.encode(sig.to_bytes())),
            ("noegle-app-session", self.session.clone().unwrap_or_default()),
        ]
    }

    pub async fn send(
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

    pub async fn signed(&self, server: &TestServer, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let bytes = body.as_ref().map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let nonce = noegle_core::secret::random_token(&mut rand::rngs::OsRng, 16);
        let headers = self.sign(method, path, &bytes, server.now().0, &nonce);
        self.send(method, path, body, headers).await
    }

    /// Logs in with the password; answers the ticket and the key the card must give.
    pub async fn login(&self, user: &str, card: &ClearCard) -> (String, String) {
        let (s, b) = self.post("/api/app/v1/login", json!({ "user_id": user, "password": PASSWORD })).await;
        assert_eq!(s, 200, "{b}");
        let number = b["key_card"]["key_number"].as_str().unwrap();
        (b["ticket"].as_str().unwrap().to_string(), card.keys[number].clone())
    }

    pub async fn start(
        &mut self,
        user: &str,
        card: &ClearCard,
        platform: &str,
        version: &str,
        name: &str,
    ) -> (u16, Value) {
        let (ticket, key) = self.login(user, card).await;
        let body = json!({ "ticket": ticket, "key": key, "public_key": self.public_key(), "platform": platform,
                           "os_version": version, "name": name });
        let (s, b) = self.post("/api/app/v1/activation", body).await;
        if s == 201 {
            self.device_id = b["device_id"].as_str().unwrap().to_string();
        }
        (s, b)
    }

    pub async fn complete(&self, server: &TestServer, user: &str, card: &ClearCard) -> (u16, Value) {
        let (ticket, key) = self.login(user, card).await;
        self.signed(server, "POST", "/api/app/v1/activation/complete", Some(json!({ "ticket": ticket, "key": key })))
            .await
    }

    pub async fn activate(&mut self, server: &TestServer, user: &str, card: &ClearCard, name: &str) {
        let (s, b) = self.start(user, card, "android", "14", name).await;
        assert_eq!(s, 201, "{b}");
        server.clock.advance(server.state.config.activation_wait_secs);
        let (s, b) = self.complete(server, user, card).await;
        assert_eq!(s, 200, "{b}");
        self.set_code(server, CODE).await;
        assert_eq!(self.unlock(CODE).await, 200);
    }

    /// Registers the app code (OPAQUE) as the app does right after activation.
    pub async fn set_code(&mut self, server: &TestServer, code: &str) {
        self.set_code_with(server, code, None).await;
    }

    /// Registers the app code, with a reset token after "Glemt kode"; keeps the unlock token it answers.
    pub async fn set_code_with(&mut self, server: &TestServer, code: &str, reset_token: Option<&str>) {
        use noegle_client::appcode;
        let (request, registering) = appcode::register_start(code).unwrap();
        let (s, b) = self
            .signed(server, "POST", "/api/app/v1/app-code/register/start", Some(json!({ "message": request })))
            .await;
        assert_eq!(s, 200, "{b}");
        let (upload, _) = appcode::register_finish(registering, code, b["message"].as_str().unwrap()).unwrap();
        let body = json!({ "message": upload, "reset_token": reset_token });
        let (s, b) = self.signed(server, "POST", "/api/app/v1/app-code/register/finish", Some(body)).await;
        assert_eq!(s, 200, "{b}");
        self.unlock_token = Some(b["unlock_token"].as_str().expect("an unlock token with the code").to_string());
    }

    /// A login start naming this device and its unlock token, as the app sends it.
    pub fn login_start_body(&self, request: &str) -> Value {
        json!({ "device_id": self.device_id, "message": request, "unlock_token": self.unlock_token })
    }

    /// Unlocks with `code`; answers the status of the last step (200 when unlocked).
    pub async fn unlock(&mut self, code: &str) -> u16 {
        use noegle_client::appcode;
        let (request, logging_in) = appcode::login_start(code).unwrap();
        let (s, b) = self.post("/api/app/v1/app-code/login/start", self.login_start_body(&request)).await;
        if s != 200 {
            return s;
        }
        let Ok((fin, _)) = appcode::login_finish(logging_in, code, b["message"].as_str().unwrap()) else {
            return 401;
        };
        let body = json!({ "device_id": self.device_id, "message": fin, "unlock_token": self.unlock_token });
        let (s, b) = self.post("/api/app/v1/app-code/login/finish", body).await;
        self.session = b["app_session"].as_str().map(str::to_string);
        s
    }
}

impl App {
    /// The status of asking for requests (401 when locked).
    pub async fn requests_status(&self, server: &TestServer) -> u16 {
        self.signed(server, "GET", "/api/app/v1/requests", None).await.0
    }

    /// The pending requests the app sees.
    pub async fn requests(&self, server: &TestServer) -> Vec<Value> {
        let (s, b) = self.signed(server, "GET", "/api/app/v1/requests", None).await;
        assert_eq!(s, 200, "{b}");
        b["requests"].as_array().unwrap().clone()
    }

    /// Answers a request as the app does, echoing its nonce, client and expiry.
    pub async fn decide(
        &self,
        server: &TestServer,
        r: &Value,
        decision: &str,
        code: Option<&str>,
        not_me: bool,
    ) -> (u16, Value) {
        let body = json!({
            "decision": decision, "request_nonce": r["nonce"], "client_id": r["client_id"],
            "expires_at": r["expires_at"], "match_code": code, "not_me": not_me,
        });
        let path = format!("/api/app/v1/requests/{}/decision", r["request_id"].as_str().unwrap());
        self.signed(server, "POST", &path, Some(body)).await
    }
}
