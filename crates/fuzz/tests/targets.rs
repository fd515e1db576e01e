//! Fuzz targets for every parser that takes outside input (SEC-INPUT): form bodies, `/authorize` parameters
//! and the rest of the log-in box, redirect URIs, signed-call headers and bodies, the app API's JSON bodies,
//! key-card input, OPAQUE messages and the configuration file.
//!
//! Each target reads raw bytes. Targets that need several fields split them at the byte `0xFF` (never part
//! of UTF-8 text), so a corpus file is readable: e.g. a route number, `0xFF`, a query string. Every target
//! first replays its corpus (`tests/__fuzz__/<name>/corpus/`), then random inputs for
//! `NOEGLE_FUZZ_SECS` seconds (default 2); a crash is kept by the engine under `crashes/` and fixed with a
//! regression test beside the code. What must hold: no panic, no answer 500 or above, and each parser's own
//! promise (below).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a fuzz target fails loudly

use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, Response, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use noegle_core::Ctx;
use noegle_core::device::{Device, DeviceStatus, MAX_ACTIVE_DEVICES};
use noegle_core::login::issue_card;
use noegle_core::{FakeClock, UnixTime, accounts};
use noegle_proto::signing::SignedRequest;
use noegle_server::state::AppState;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use rand::rngs::OsRng;
use tower::ServiceExt;

/// Seconds of random inputs per target after its corpus.
fn budget() -> Duration {
    let secs = std::env::var("NOEGLE_FUZZ_SECS").ok().and_then(|v| v.parse().ok()).unwrap_or(2);
    Duration::from_secs(secs)
}

/// The fields of an input: its bytes split at `0xFF`, each made text (lossily: the parsers take text).
fn fields(input: &[u8]) -> Vec<String> {
    input.split(|b| *b == 0xFF).map(|f| String::from_utf8_lossy(f).into_owned()).collect()
}

fn field(fields: &[String], i: usize) -> &str {
    fields.get(i).map_or("", String::as_str)
}

/// The server's clock in every target: fixed, so that sessions and signatures made once stay valid.
const NOW: i64 = 1_800_000_000;
const CB: &str = "https://bank.example/cb";
const PASSWORD: &str = "korrekt hest batteri";
const CODE: &str = "7391";

/// A server in process (the real router and state, on SQLite in a temporary directory) with a user, a key
/// card, a client, an active key app with its code, and a log-in under way — so that inputs get past the
/// first checks.
struct Fixture {
    rt: tokio::runtime::Runtime,
    app: Router,
    state: AppState,
    device: Device,
    key: SigningKey,
    unlock_token: String,
    app_session: String,
    client_id: String,
    cookie: String,
    csrf: String,
    _dir: tempfile::TempDir,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let config = noegle_server::config::Config::for_tests(dir.path());
        let state = rt.block_on(noegle_server::build_state(config, Arc::new(FakeClock::new(UnixTime(NOW))))).unwrap();
        let app = noegle_server::app(state.clone(), Router::new());
        let mut f = Fixture {
            rt,
            app,
            state,
            device: Device {
                device_id: String::new().into(),
                serial: String::new(),
                sub: String::new(),
                public_key: Vec::new(),
                platform: noegle_core::device::Platform::Android,
                os_version: "14".into(),
                name: "Telefon".into(),
                status: DeviceStatus::Pending,
                created_at: UnixTime(NOW - 7200),
                second_login_from: UnixTime(NOW - 3600),
                cooling_off_until: None,
                expires_at: UnixTime(NOW + 86_400),
                activated_at: None,
                revoked_by: None,
            },
            key: device_key(),
            unlock_token: String::new(),
            app_session: String::new(),
            client_id: String::new(),
            cookie: String::new(),
            csrf: String::new(),
            _dir: dir,
        };
        let handle = f.rt.handle().clone();
        handle.block_on(f.populate());
        f
    })
}

/// A fresh P-256 device key.
fn device_key() -> SigningKey {
    loop {
        let mut b = [0u8; 32];
        rand::RngCore::fill_bytes(&mut OsRng, &mut b);
        if let Ok(k) = SigningKey::from_slice(&b) {
            return k;
        }
    }
}

impl Fixture {
    fn ctx(&self) -> Ctx<'_> {
        Ctx { store: self.state.store.as_ref(), now: UnixTime(NOW), source: Some("fuzz") }
    }

    async fn populate(&mut self) {
        let ctx = self.ctx();
        let alice = accounts::create_user(ctx, &mut OsRng, "alice", None, PASSWORD).await.unwrap();
        issue_card(ctx, &mut OsRng, &self.state.pepper, &alice).await.unwrap();
        let client = accounts::add_client(ctx, &mut OsRng, "Bank", &[CB.into()], true).await.unwrap();
        let (device_id, serial) = noegle_core::device::new_ids(&mut OsRng);
        let device = Device {
            device_id,
            serial,
            sub: alice.sub.clone(),
            public_key: self.key.verifying_key().to_sec1_point(false).as_bytes().to_vec(),
            ..self.device.clone()
        };
        let store = &self.state.store;
        store.insert_device(&device).await.unwrap();
        store.activate_device(&device.device_id, UnixTime(NOW - 60), MAX_ACTIVE_DEVICES).await.unwrap();
        let device = store.device(&device.device_id).await.unwrap().unwrap();

        // The key app's code (OPAQUE), its unlock token, an open app session.
        use noegle_client::appcode as client;
        use noegle_core::appcode as server;
        let (request, registering) = client::register_start(CODE).unwrap();
        let response = server::register_start(&self.state.opaque, &device, &request).unwrap();
        let (upload, _) = client::register_finish(registering, CODE, &response).unwrap();
        server::register_finish(ctx, &device, &upload).await.unwrap();
        let unlock_token = server::issue_unlock_token(ctx, &mut OsRng, &device).await.unwrap();
        let (request, logging_in) = client::login_start(CODE).unwrap();
        let (response, _) = server::login_start(ctx, &mut OsRng, &self.state.opaque, &device, &request).await.unwrap();
        let (finalization, _) = client::login_finish(logging_in, CODE, &response).unwrap();
        let (app_session, _) = server::login_finish(ctx, &mut OsRng, &device, &finalization).await.unwrap();

        // A log-in under way at the log-in box: its cookie and form token.
        let authorize = format!(
            "/authorize?response_type=code&scope=openid&client_id={}&redirect_uri={CB}&state=s\
             &code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256",
            client.client.client_id
        );
        let r = self.send(Request::get(authorize).body(Body::empty()).unwrap()).await;
        let cookie = r.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
        let r = self.send(Request::get("/login").header("cookie", &cookie).body(Body::empty()).unwrap()).await;
        let page = String::from_utf8(axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap().to_vec()).unwrap();
        let csrf = page.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();

        self.device = device;
        self.unlock_token = unlock_token;
        self.app_session = app_session;
        self.client_id = client.client.client_id.into();
        self.cookie = cookie;
        self.csrf = csrf;
    }

    async fn send(&self, mut req: Request<Body>) -> Response<Body> {
        req.extensions_mut().insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40_000))));
        self.app.clone().oneshot(req).await.unwrap()
    }

    /// Puts the fixture's values in for the placeholders a corpus uses: `CSRF`, `CLIENT`, `DEVICE`,
    /// `UNLOCK`, `CB`.
    fn fill(&self, text: &str) -> String {
        text.replace("CSRF", &self.csrf)
            .replace("CLIENT", &self.client_id)
            .replace("DEVICE", self.device.device_id.as_str())
            .replace("UNLOCK", &self.unlock_token)
            .replace("CB", CB)
    }

    /// Sends a request built from fuzz input; answers its status and `Location`. Inputs that are not a
    /// valid HTTP request (a URI or header value no client could send) are skipped.
    fn request(
        &self,
        method: &str,
        uri: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Option<(StatusCode, String)> {
        let mut req = Request::builder().method(method).uri(uri);
        for (name, value) in headers {
            let value = axum::http::HeaderValue::from_str(value).ok()?;
            req = req.header(*name, value);
        }
        let req = req.body(Body::from(body)).ok()?;
        let r = self.rt.block_on(self.send(req));
        let location = r.headers().get("location").map(|l| String::from_utf8_lossy(l.as_bytes()).into_owned());
        Some((r.status(), location.unwrap_or_default()))
    }
}

/// The log-in box's routes a browser or service provider reaches, with their methods.
const LOGIN_BOX: [(&str, &str); 12] = [
    ("GET", "/authorize"),
    ("GET", "/login"),
    ("POST", "/login/password"),
    ("POST", "/login/key"),
    ("POST", "/login/app/send"),
    ("POST", "/login/keycard"),
    ("POST", "/login/cancel"),
    ("GET", "/lang/en"),
    ("GET", "/lang/da"),
    ("POST", "/token"),
    ("GET", "/userinfo"),
    ("POST", "/userinfo"),
];

/// The log-in box and `/authorize`: fields are a route number, a query, a cookie choice (`s` the log-in
/// under way, anything else sent as it is), a content type choice (`f` form, anything else as it is), a body
/// and an `Authorization` header. The language switch must only ever send the browser to a path of ours.
#[test]
fn login_box_and_authorize_requests() {
    let f = AssertUnwindSafe(fixture());
    bolero::check!().with_test_time(budget()).for_each(move |input: &[u8]| {
        let f: &Fixture = *f;
        let fs = fields(input);
        let route = field(&fs, 0).bytes().fold(0usize, |a, b| a.wrapping_add(b as usize)) % LOGIN_BOX.len();
        let (method, path) = LOGIN_BOX[route];
        let query = f.fill(field(&fs, 1));
        let uri = if query.is_empty() { path.to_string() } else { format!("{path}?{query}") };
        let mut headers = Vec::new();
        match field(&fs, 2) {
            "" => {}
            "s" => headers.push(("cookie", f.cookie.clone())),
            other => headers.push(("cookie", other.to_string())),
        }
        match field(&fs, 3) {
            "f" => headers.push(("content-type", "application/x-www-form-urlencoded".to_string())),
            "" => {}
            other => headers.push(("content-type", other.to_string())),
        }
        if !field(&fs, 5).is_empty() {
            headers.push(("authorization", field(&fs, 5).to_string()));
        }
        let body = f.fill(field(&fs, 4)).into_bytes();
        let Some((status, location)) = f.request(method, &uri, &headers, body) else { return };
        assert!(status.as_u16() < 500, "{method} {uri}: {status}");
        if path.starts_with("/lang/") && !location.is_empty() {
            let local = location.starts_with('/')
                && !location.starts_with("//")
                && !location.starts_with("/\\")
                && !location.chars().any(|c| c.is_control() || c == '\\');
            assert!(local, "{uri} sends the browser to {location:?}");
        }
    });
}

/// Form bodies (`application/x-www-form-urlencoded`): a body parses or is refused; what parses gives each
/// field once, decoded as the standard says.
#[test]
fn form_bodies() {
    bolero::check!().with_test_time(budget()).for_each(|body: &[u8]| {
        if let Ok(form) = noegle_server::form::Form::parse(body) {
            for (k, v) in url::form_urlencoded::parse(body) {
                assert_eq!(form.get(&k), Some(v.as_ref()), "field {k}");
            }
        }
    });
}

/// Redirect URIs as clients register them: accepted ones are absolute https (or http to this machine) with
/// no fragment, and accepted as they were given.
#[test]
fn redirect_uris() {
    bolero::check!().with_test_time(budget()).for_each(|input: &[u8]| {
        let uri = String::from_utf8_lossy(input);
        if let Ok(accepted) = noegle_core::oidc::validate_redirect_uri(&uri) {
            assert_eq!(accepted, uri, "kept exactly as registered (exact matching)");
            let scheme = accepted.split(':').next().unwrap_or_default().to_ascii_lowercase();
            assert!(scheme == "https" || scheme == "http", "{accepted}");
            assert!(!accepted.contains('#'), "{accepted}");
        }
    });
}

/// The key app API's routes, with their methods; `{id}` becomes a field of the input.
const APP_API: [(&str, &str); 22] = [
    ("POST", "/api/app/v1/login"),
    ("POST", "/api/app/v1/activation"),
    ("POST", "/api/app/v1/activation/complete"),
    ("GET", "/api/app/v1/device"),
    ("DELETE", "/api/app/v1/device"),
    ("GET", "/api/app/v1/activations"),
    ("POST", "/api/app/v1/activations/{id}/cancel"),
    ("POST", "/api/app/v1/app-code/register/start"),
    ("POST", "/api/app/v1/app-code/register/finish"),
    ("POST", "/api/app/v1/app-code/login/start"),
    ("POST", "/api/app/v1/app-code/login/finish"),
    ("DELETE", "/api/app/v1/app-code/session"),
    ("POST", "/api/app/v1/app-code/forgot"),
    ("GET", "/api/app/v1/requests"),
    ("POST", "/api/app/v1/requests/{id}/decision"),
    ("POST", "/api/app/v1/fingerprint/register/start"),
    ("POST", "/api/app/v1/fingerprint/register/finish"),
    ("POST", "/api/app/v1/fingerprint/login/start"),
    ("POST", "/api/app/v1/fingerprint/login/finish"),
    ("DELETE", "/api/app/v1/fingerprint"),
    ("PUT", "/api/app/v1/push"),
    ("DELETE", "/api/app/v1/push"),
];

/// Sends an app API call from fields: a route number, the `{id}`, a JSON body, and the signature headers —
/// `sign` for a correct signature by the fixture's device over exactly this call, anything else sent as
/// the four headers' values (device, timestamp, nonce, signature) as they come.
fn app_api_call(f: &Fixture, fs: &[String], first: usize) {
    let route = field(fs, first).bytes().fold(0usize, |a, b| a.wrapping_add(b as usize)) % APP_API.len();
    let (method, path) = APP_API[route];
    let id: String = f.fill(field(fs, first + 1)).bytes().filter(u8::is_ascii_alphanumeric).map(char::from).collect();
    let path = path.replace("{id}", if id.is_empty() { "x" } else { &id });
    let body = f.fill(field(fs, first + 2)).into_bytes();
    let mut headers = vec![("content-type", "application/json".to_string())];
    // The fixture's device and app session live through the run: the calls that would end them go unsigned.
    let ends_fixture =
        method == "DELETE" && matches!(path.as_str(), "/api/app/v1/device" | "/api/app/v1/app-code/session");
    if field(fs, first + 3) == "sign" && !ends_fixture {
        let nonce = noegle_core::secret::random_token(&mut OsRng, 16);
        let req = SignedRequest {
            method,
            path_and_query: &path,
            device_id: f.device.device_id.as_str(),
            timestamp: NOW,
            nonce: &nonce,
            body: &body,
        };
        let Ok(bytes) = req.canonical_bytes() else { return };
        let signature: Signature = f.key.sign(&bytes);
        headers.extend([
            ("noegle-device", f.device.device_id.to_string()),
            ("noegle-timestamp", NOW.to_string()),
            ("noegle-nonce", nonce),
            ("noegle-signature", B64.encode(signature.to_bytes())),
            ("noegle-app-session", f.app_session.clone()),
        ]);
    } else {
        for (i, name) in ["noegle-device", "noegle-timestamp", "noegle-nonce", "noegle-signature"].iter().enumerate() {
            let value = f.fill(field(fs, first + 3 + i));
            if !value.is_empty() {
                headers.push((name, value));
            }
        }
    }
    if let Some((status, _)) = f.request(method, &path, &headers, body) {
        assert!(status.as_u16() < 500, "{method} {path}: {status}");
    }
}

/// The app API's JSON bodies, signed correctly by an active device (so the bodies are read): any body is
/// answered without a server error.
#[test]
fn app_api_json_bodies() {
    let f = AssertUnwindSafe(fixture());
    bolero::check!().with_test_time(budget()).for_each(move |input: &[u8]| {
        let f: &Fixture = *f;
        let mut fs = fields(input);
        fs.truncate(3);
        fs.resize(3, String::new());
        fs.push("sign".into());
        app_api_call(f, &fs, 0);
    });
}

/// Signed-call headers (device, timestamp, nonce, signature) as they come, on every app API route; and the
/// signature check itself on any key, message and signature text: it never accepts what the key did not sign.
#[test]
fn signed_call_headers() {
    let f = AssertUnwindSafe(fixture());
    bolero::check!().with_test_time(budget()).for_each(move |input: &[u8]| {
        let f: &Fixture = *f;
        let fs = fields(input);
        if field(&fs, 3) != "sign" {
            app_api_call(f, &fs, 0);
        }
        let key = noegle_core::device::parse_public_key(field(&fs, 4)).unwrap_or_else(|| f.device.public_key.clone());
        let signed = field(&fs, 2).as_bytes();
        assert!(!noegle_core::device::signature_matches(&key, signed, field(&fs, 5)) || key != f.device.public_key);
        let req = SignedRequest {
            method: field(&fs, 0),
            path_and_query: field(&fs, 1),
            device_id: field(&fs, 3),
            timestamp: 0,
            nonce: field(&fs, 4),
            body: signed,
        };
        let _ = req.canonical_bytes();
    });
}

/// Key-card input as people type it: what is accepted is six digits, and accepting it again gives the same.
#[test]
fn key_card_input() {
    bolero::check!().with_test_time(budget()).for_each(|input: &[u8]| {
        let typed = String::from_utf8_lossy(input);
        if let Some(key) = noegle_core::keycard::normalise_key(&typed) {
            assert!(key.len() == 6 && key.bytes().all(|b| b.is_ascii_digit()), "{key}");
            assert_eq!(noegle_core::keycard::normalise_key(&key), Some(key.clone()));
        }
    });
}

/// OPAQUE messages from a device: registration and login messages that are not what the client library
/// makes are refused, never a panic; a refused login start still counts against the device (which the
/// fixture's successful login then clears).
#[test]
fn opaque_messages() {
    let f = AssertUnwindSafe(fixture());
    bolero::check!().with_test_time(budget()).for_each(move |input: &[u8]| {
        let f: &Fixture = *f;
        let fs = fields(input);
        let message = field(&fs, 0);
        let _ = noegle_core::appcode::register_start(&f.state.opaque, &f.device, message);
        f.rt.block_on(async {
            let ctx = f.ctx();
            let _ = noegle_core::appcode::login_start(ctx, &mut OsRng, &f.state.opaque, &f.device, message).await;
            let _ = noegle_core::appcode::login_finish(ctx, &mut OsRng, &f.device, field(&fs, 1)).await;
            f.state.store.reset_code_failures(&f.device.device_id).await.unwrap();
        });
    });
}

/// The configuration file (TOML): any text is read or refused with a message; what is read is valid.
#[test]
fn config_files() {
    bolero::check!().with_test_time(budget()).for_each(|input: &[u8]| {
        let text = String::from_utf8_lossy(input);
        if let Ok(mut config) = noegle_server::config::Config::parse(&text, |_| None) {
            assert!(config.validate().is_ok(), "what parses is valid");
        }
    });
}
