//! Test harness: a real nøgle server on `127.0.0.1:0` over a fresh database (SQLite file or a new
//! PostgreSQL database), a clock the test sets, and a cookie-keeping HTTP client that walks the log-in box.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::sync::Arc;

use noegle_core::accounts::{self, NewClient};
use noegle_core::keycard::ClearCard;
use noegle_core::login::issue_card;
use noegle_core::user::User;
use noegle_core::{Clock, FakeClock, UnixTime};
use noegle_server::{AppState, Config, SystemClock};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Which database a test server uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file in the server's temp directory.
    Sqlite,
    /// A fresh database on the PostgreSQL server of `NOEGLE_TEST_POSTGRES`.
    Postgres,
}

/// A running server.
pub struct TestServer {
    /// `http://127.0.0.1:PORT`, also the issuer.
    pub url: String,
    /// The server's state (store, config, keys).
    pub state: AppState,
    /// The clock the server reads; starts at the real time (relying parties check `exp` against theirs).
    pub clock: Arc<FakeClock>,
    dir: Arc<tempfile::TempDir>,
    database: String,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

/// The password every test user gets.
pub const PASSWORD: &str = "korrekt hest batteri";

impl TestServer {
    /// Starts a server on a fresh database.
    pub async fn start(backend: Backend) -> TestServer {
        Self::start_with(backend, |_| {}).await
    }

    /// Starts a server whose settings `configure` changes first.
    pub async fn start_with(backend: Backend, configure: impl FnOnce(&mut Config)) -> TestServer {
        let dir = Arc::new(tempfile::tempdir().unwrap());
        let database = match backend {
            Backend::Sqlite => noegle_store::testing::sqlite_url(dir.path()),
            Backend::Postgres => noegle_store::testing::fresh_postgres_database().await.unwrap(),
        };
        let clock = Arc::new(FakeClock::new(SystemClock.now()));
        let mut config = Config::for_tests(dir.path());
        configure(&mut config);
        Self::launch(dir, database, clock, config, false).await
    }

    /// Starts a server with the built-in Demo Bank at `/demo/` (a real OIDC client of the server).
    pub async fn start_with_demo_bank(backend: Backend) -> TestServer {
        let dir = Arc::new(tempfile::tempdir().unwrap());
        let database = match backend {
            Backend::Sqlite => noegle_store::testing::sqlite_url(dir.path()),
            Backend::Postgres => noegle_store::testing::fresh_postgres_database().await.unwrap(),
        };
        let clock = Arc::new(FakeClock::new(SystemClock.now()));
        let config = Config::for_tests(dir.path());
        Self::launch(dir, database, clock, config, true).await
    }

    /// Starts a server with Demo Bank whose public address is `http://localhost:PORT` (what a browser needs
    /// for WebAuthn's relying-party id `localhost`), with settings changed by `configure`.
    pub async fn start_for_browser(configure: impl FnOnce(&mut Config)) -> TestServer {
        let dir = Arc::new(tempfile::tempdir().unwrap());
        let database = noegle_store::testing::sqlite_url(dir.path());
        let clock = Arc::new(FakeClock::new(SystemClock.now()));
        let mut config = Config::for_tests(dir.path());
        configure(&mut config);
        config.public_url = "http://localhost".into();
        Self::launch(dir, database, clock, config, true).await
    }

    async fn launch(
        dir: Arc<tempfile::TempDir>,
        database: String,
        clock: Arc<FakeClock>,
        mut config: Config,
        demo_bank: bool,
    ) -> TestServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        // Over its own TLS a node is reached by a name its certificate holds (`localhost` in tests).
        let tls = config.tls_cert.is_some();
        let host = if tls || config.public_url.starts_with("http://localhost") { "localhost" } else { "127.0.0.1" };
        let scheme = if tls { "https" } else { "http" };
        let url = format!("{scheme}://{host}:{}", listener.local_addr().unwrap().port());
        config.database = database.clone();
        config.public_url = url.clone();
        config.validate().unwrap();
        let state = noegle_server::build_state(config, clock.clone()).await.unwrap();
        let extra = if demo_bank {
            use noegle_server::demo_bank::{Bank, BankClient};
            let ctx = state.ctx(Some("test"));
            let uris = [Bank::redirect_uri(&url)];
            let c = accounts::add_client(ctx, &mut rand::rngs::OsRng, "Demo Bank", &uris, false).await.unwrap();
            let client = BankClient { client_id: c.client.client_id.into(), client_secret: c.client_secret.unwrap() };
            noegle_server::demo_bank::router(Bank::new(&url, client).unwrap())
        } else {
            axum::Router::new()
        };
        let app = noegle_server::app(state.clone(), extra);
        let (tx, rx) = oneshot::channel::<()>();
        let serving = state.clone();
        let task = tokio::spawn(async move {
            noegle_server::serve(listener, app, &serving, async {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        TestServer { url, state, clock, dir, database, stop: Some(tx), task: Some(task) }
    }

    /// Stops this server and starts a new one on the same data directory and database (a restart).
    pub async fn restart(mut self) -> TestServer {
        self.shutdown().await;
        let config = (*self.state.config).clone();
        Self::launch(self.dir.clone(), self.database.clone(), self.clock.clone(), config, false).await
    }

    /// Another node on the same database, data directory and clock (as behind a load balancer).
    pub async fn second_node(&self) -> TestServer {
        let config = (*self.state.config).clone();
        Self::launch(self.dir.clone(), self.database.clone(), self.clock.clone(), config, false).await
    }

    /// Starts stopping this node, as SIGTERM does, without waiting for it (see [`TestServer::stopped`]).
    pub fn begin_stop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }

    /// Waits until this node has stopped; false if it had not within `within`.
    pub async fn stopped(&mut self, within: std::time::Duration) -> bool {
        match self.task.take() {
            Some(t) => tokio::time::timeout(within, t).await.is_ok(),
            None => true,
        }
    }

    async fn shutdown(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }

    /// The data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// The current time on the server's clock.
    pub fn now(&self) -> UnixTime {
        self.clock.now()
    }

    /// Creates a user with [`PASSWORD`] and a key card.
    pub async fn user_with_card(&self, user_id: &str) -> (User, ClearCard) {
        let ctx = self.state.ctx(Some("test"));
        let user =
            accounts::create_user(ctx, &mut rand::rngs::OsRng, user_id, Some("Test Testesen"), PASSWORD).await.unwrap();
        let card = issue_card(ctx, &mut rand::rngs::OsRng, &self.state.pepper, &user).await.unwrap();
        (user, card)
    }

    /// Registers a client with one redirect URI.
    pub async fn client(&self, name: &str, redirect_uri: &str, public: bool) -> NewClient {
        accounts::add_client(self.state.ctx(Some("test")), &mut rand::rngs::OsRng, name, &[redirect_uri.into()], public)
            .await
            .unwrap()
    }

    /// The user as stored now.
    pub async fn user(&self, sub: &str) -> User {
        self.state.store.user_by_sub(sub).await.unwrap().unwrap()
    }

    /// The `sub` of a user ID.
    pub async fn user_with_sub_of(&self, user_id: &str) -> String {
        let id = noegle_core::user::UserId::parse(user_id).unwrap();
        self.state.store.user_by_user_id(&id).await.unwrap().unwrap().sub
    }

    /// Unused keys on a card.
    pub async fn unused_keys(&self, serial: &noegle_core::CardSerial) -> usize {
        self.state.store.unused_key_numbers(serial).await.unwrap().len()
    }

    /// A new browser (its own cookies) against this server.
    pub fn browser(&self) -> Browser {
        Browser::new(&self.url)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// A cookie-keeping HTTP client that does not follow redirects, like a browser one step at a time.
#[derive(Clone)]
pub struct Browser {
    /// The underlying client.
    pub http: reqwest::Client,
    base: String,
}

/// A response read whole.
#[derive(Debug)]
pub struct Page {
    /// Status.
    pub status: u16,
    /// `Location`, if any.
    pub location: Option<String>,
    /// Every `Set-Cookie`.
    pub set_cookies: Vec<String>,
    /// Every header.
    pub headers: reqwest::header::HeaderMap,
    /// The body.
    pub body: String,
}

impl Page {
    /// The value of the first `<input … name="NAME" value="…">` in the body.
    pub fn input(&self, name: &str) -> Option<String> {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self.body.find(&marker)? + marker.len();
        Some(self.body[start..].split('"').next()?.to_string())
    }

    /// The CSRF token of the page's form.
    pub fn csrf(&self) -> String {
        self.input("csrf").expect("a form with a CSRF token")
    }

    /// The text of the first element with class `class`.
    pub fn class_text(&self, class: &str) -> Option<String> {
        let marker = format!("class=\"{class}\">");
        let start = self.body.find(&marker)? + marker.len();
        Some(self.body[start..].split('<').next()?.to_string())
    }

    /// A query parameter of the `Location` header.
    pub fn location_param(&self, name: &str) -> Option<String> {
        let url = url::Url::parse(self.location.as_ref()?).ok()?;
        url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.to_string())
    }
}

impl Browser {
    /// A fresh browser against `base`.
    pub fn new(base: &str) -> Browser {
        Browser::with(base, reqwest::Client::builder())
    }

    /// A fresh browser against `base`, its HTTP client from `builder` (a test CA, a source address).
    pub fn with(base: &str, builder: reqwest::ClientBuilder) -> Browser {
        let http = builder.cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Browser { http, base: base.to_string() }
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("http") { path.to_string() } else { format!("{}{path}", self.base) }
    }

    /// Reads a response whole.
    pub async fn read(r: reqwest::Response) -> Page {
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let location = headers.get("location").map(|v| v.to_str().unwrap().to_string());
        let set_cookies = headers.get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_string()).collect();
        Page { status, location, set_cookies, headers, body: r.text().await.unwrap() }
    }

    /// `GET`.
    pub async fn get(&self, path: &str) -> Page {
        Self::read(self.http.get(self.url(path)).send().await.unwrap()).await
    }

    /// `POST` a form.
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let body: String = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish();
        self.post_raw(path, "application/x-www-form-urlencoded", body.into_bytes()).await
    }

    /// `POST` raw bytes with a content type.
    pub async fn post_raw(&self, path: &str, content_type: &str, body: Vec<u8>) -> Page {
        let r = self.http.post(self.url(path)).header("content-type", content_type).body(body).send().await.unwrap();
        Self::read(r).await
    }

    /// Opens the log-in box for an authorization request; answers step 1.
    pub async fn open(&self, authorize_url: &str) -> Page {
        let r = self.get(authorize_url).await;
        assert_eq!(r.status, 303, "authorize: {}", r.body);
        assert_eq!(r.location.as_deref(), Some("/login"));
        let page = self.get("/login").await;
        assert_eq!(page.status, 200, "{}", page.body);
        page
    }

    /// Step 1: answers the key page (after the redirect) or the refusal.
    pub async fn password(&self, page: &Page, user_id: &str, password: &str) -> Page {
        let r =
            self.post("/login/password", &[("csrf", &page.csrf()), ("user_id", user_id), ("password", password)]).await;
        if r.status == 303 { self.get("/login").await } else { r }
    }

    /// The key number the key page asks for.
    pub fn asked_number(page: &Page) -> String {
        page.class_text("number").unwrap_or_else(|| panic!("not a key page ({}): {}", page.status, page.body))
    }

    /// Step 2: answers the redirect to the client, or the refusal.
    pub async fn key(&self, page: &Page, key: &str) -> Page {
        self.post("/login/key", &[("csrf", &page.csrf()), ("key", key)]).await
    }

    /// Walks the whole log-in box with the right password and key; answers the redirect to the client.
    pub async fn log_in(&self, authorize_url: &str, user_id: &str, card: &ClearCard) -> Page {
        let p1 = self.open(authorize_url).await;
        let p2 = self.password(&p1, user_id, PASSWORD).await;
        assert_eq!(p2.status, 200, "{}", p2.body);
        let number = Self::asked_number(&p2);
        let done = self.key(&p2, &card.keys[&number]).await;
        assert_eq!(done.status, 303, "{}", done.body);
        done
    }
}
