//! The log-in box's app path (R-LB1, R-LB3, X-1, X-2) with a key app answering over the app API.

use base64::Engine;
use noegle_testkit::{Backend, Browser, PASSWORD, Page, TestServer};
use serde_json::Value;

use crate::app::App;
use crate::{CB, VERIFIER, authorize_url, token};

struct Setup {
    server: TestServer,
    card: noegle_core::keycard::ClearCard,
    app: App,
    client_id: String,
    secret: String,
}

async fn setup(backend: Backend) -> Setup {
    let server = TestServer::start(backend).await;
    let (_, card) = server.user_with_card("alice").await;
    let mut app = App::new(&server);
    app.activate(&server, "alice", &card, "Alices telefon").await;
    let c = server.client("Demo Bank", CB, false).await;
    Setup { server, card, app, client_id: c.client.client_id.into(), secret: c.client_secret.unwrap() }
}

/// Logs in with the password; answers the "send to app" page.
async fn to_choice(s: &Setup, b: &Browser) -> Page {
    let p1 = b.open(&authorize_url(&s.server, &s.client_id, &[])).await;
    let p = b.password(&p1, "alice", PASSWORD).await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert!(p.body.contains("Send anmodning til nøgleapp") && p.body.contains("Skift til nøglekort"), "{}", p.body);
    p
}

/// Sends the request; answers the waiting page.
async fn send(b: &Browser, page: &Page) -> Page {
    let r = b.post("/login/app/send", &[("csrf", &page.csrf())]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    b.get("/login").await
}

fn match_code(p: &Page) -> String {
    p.class_text("match-code").unwrap_or_else(|| panic!("no match code: {}", p.body))
}

fn id_token_amr(body: &Value) -> Vec<String> {
    let payload = body["id_token"].as_str().unwrap().split('.').nth(1).unwrap();
    let claims: Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    claims["amr"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect()
}

async fn approve_flow(backend: Backend) {
    let s = setup(backend).await;
    let b = s.server.browser();
    let choice = to_choice(&s, &b).await;
    let waiting = send(&b, &choice).await;
    // The waiting page (R-LB1) asks quietly (its own script; CSP allows our scripts on this page only) and
    // reloads only when something changed; without scripts it refreshes itself.
    assert!(waiting.body.contains("<script src=\"/static/waiting.js\" defer></script>"), "{}", waiting.body);
    assert!(waiting.body.contains("<noscript><meta http-equiv=\"refresh\""), "the waiting page follows the request");
    let csp = |p: &noegle_testkit::Page| p.headers["content-security-policy"].to_str().unwrap().to_string();
    assert!(csp(&waiting).contains("script-src 'self'"), "{}", csp(&waiting));
    assert!(!csp(&choice).contains("script-src"), "no other page of the box runs scripts: {}", csp(&choice));
    let asked = b.get("/login/state").await;
    assert_eq!((asked.status, asked.body.as_str()), (200, r#"{"waiting":true}"#));
    assert!(waiting.body.contains("Log på Demo Bank"));
    let code = match_code(&waiting);
    assert_eq!(code.len(), 2);

    let requests = s.app.requests(&s.server).await;
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(r["client_name"], "Demo Bank");
    assert_eq!(r["action"], "Log på Demo Bank");
    assert!(r.get("match_code").is_none(), "with policy type the app must not show the code");

    // Still waiting until the app answers.
    assert_eq!(b.get("/login").await.status, 200);
    let (st, body) = s.app.decide(&s.server, r, "approve", Some(&code), false).await;
    assert_eq!((st, body["state"].as_str()), (200, Some("approved")), "{body}");

    assert_eq!(b.get("/login/state").await.body, r#"{"waiting":false}"#, "the page may now load /login");
    let done = b.get("/login").await;
    assert_eq!(done.status, 303, "{}", done.body);
    let code = done.location_param("code").unwrap();
    let form =
        [("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", CB), ("code_verifier", VERIFIER)];
    let (st, tokens) = token(&s.server, &form, Some((&s.client_id, &s.secret))).await;
    assert_eq!(st, 200, "{tokens}");
    assert_eq!(id_token_amr(&tokens), ["pwd", "swk", "mfa", "pin"], "unlocked with the code");

    // Approving twice is refused.
    let (st, body) = s.app.decide(&s.server, r, "approve", Some(&match_code(&waiting)), false).await;
    assert_eq!((st, body["error"].as_str()), (409, Some("already_decided")));
}

#[tokio::test]
async fn a_login_approved_in_the_app_gives_amr_swk_on_sqlite() {
    approve_flow(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_login_approved_in_the_app_gives_amr_swk_on_postgres() {
    approve_flow(Backend::Postgres).await;
}

#[tokio::test]
async fn reject_not_me_expiry_resend_and_switching_to_the_key_card() {
    let s = setup(Backend::Sqlite).await;
    let b = s.server.browser();
    let choice = to_choice(&s, &b).await;

    // A wrong match code is refused and counted; the request stays open.
    let waiting = send(&b, &choice).await;
    let r = s.app.requests(&s.server).await.remove(0);
    let wrong = if match_code(&waiting) == "00" { "01" } else { "00" };
    let (st, body) = s.app.decide(&s.server, &r, "approve", Some(wrong), false).await;
    assert_eq!((st, body["error"].as_str()), (422, Some("wrong_match_code")));
    let alice = s
        .server
        .state
        .store
        .user_by_user_id(&noegle_core::user::UserId::parse("alice").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(alice.failed_attempts, 1);

    // Reject: the log-in box says so and offers to send again.
    let (st, _) = s.app.decide(&s.server, &r, "reject", None, false).await;
    assert_eq!(st, 200);
    let page = b.get("/login").await;
    assert!(
        page.body.contains("Anmodningen blev afvist i nøgleappen") && page.body.contains("Send igen"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("http-equiv=\"refresh\""));

    // Right after a rejection new requests are held back (X-2); the key card still works.
    let r2 = b.post("/login/app/send", &[("csrf", &page.csrf())]).await;
    assert_eq!(r2.status, 429);
    assert!(r2.body.contains("Brug dit nøglekort"));
    s.server.clock.advance(31);

    // Resend after the back-off; let it expire.
    let waiting = send(&b, &b.get("/login").await).await;
    s.server.clock.advance(180);
    let page = b.get("/login").await;
    assert!(page.body.contains("Anmodningen er udløbet"), "{}", page.body);
    let stale = s.app.requests(&s.server).await;
    assert!(stale.is_empty(), "an expired request is not offered to the app");
    let _ = waiting;

    // Send again, then switch to the key card in the middle: the request ends and a key is asked.
    let waiting = send(&b, &page).await;
    let r = s.app.requests(&s.server).await.remove(0);
    let switched = b.post("/login/keycard", &[("csrf", &waiting.csrf())]).await;
    assert_eq!(switched.status, 303);
    let key_page = b.get("/login").await;
    let number = Browser::asked_number(&key_page);
    let (st, body) = s.app.decide(&s.server, &r, "approve", Some(&match_code(&waiting)), false).await;
    assert_eq!(
        (st, body["error"].as_str()),
        (409, Some("already_decided")),
        "the switched-away request cannot be approved"
    );
    let done = b.key(&key_page, &s.card.keys[&number]).await;
    assert_eq!(done.status, 303);

    // "Det var ikke mig" pauses pushes for an hour and records an alert.
    let b = s.server.browser();
    let waiting = send(&b, &to_choice(&s, &b).await).await;
    let r = s.app.requests(&s.server).await.remove(0);
    assert_eq!(s.app.decide(&s.server, &r, "reject", None, true).await.0, 200);
    s.server.clock.advance(600);
    let again = b.post("/login/app/send", &[("csrf", &waiting.csrf())]).await;
    assert_eq!(again.status, 429);
    let kinds: Vec<String> =
        s.server.state.store.audit(Some("alice"), 50).await.unwrap().into_iter().map(|e| e.kind).collect();
    assert!(kinds.iter().any(|k| k == "not_me_alert"), "{kinds:?}");
}

#[tokio::test]
async fn only_the_users_own_active_device_can_answer_and_only_in_time() {
    let mut s = setup(Backend::Sqlite).await;
    let (_, card_b) = s.server.user_with_card("bob").await;
    let mut bobs = App::new(&s.server);
    bobs.activate(&s.server, "bob", &card_b, "Bobs telefon").await;
    // Bob's hour-long activation outlasted alice's 5-minute app session: she unlocks again.
    assert_eq!(s.app.requests_status(&s.server).await, 401);
    assert_eq!(s.app.unlock(crate::app::CODE).await, 200);
    let b = s.server.browser();
    let waiting = send(&b, &to_choice(&s, &b).await).await;
    let r = s.app.requests(&s.server).await.remove(0);
    assert!(bobs.requests(&s.server).await.is_empty(), "bob does not see alice's request");
    let (st, body) = bobs.decide(&s.server, &r, "approve", Some(&match_code(&waiting)), false).await;
    assert_eq!((st, body["error"].as_str()), (404, Some("not_found")));

    // A pending (not yet active) device cannot answer.
    let mut pending = App::new(&s.server);
    pending.start("alice", &s.card, "android", "14", "Ny telefon").await;
    let (st, body) = pending.decide(&s.server, &r, "approve", Some(&match_code(&waiting)), false).await;
    assert_eq!((st, body["error"].as_str()), (401, Some("unknown_device")));

    // After three minutes the approval is refused.
    s.server.clock.advance(180);
    let (st, body) = s.app.decide(&s.server, &r, "approve", Some(&match_code(&waiting)), false).await;
    assert_eq!((st, body["error"].as_str()), (410, Some("expired")));
}

#[tokio::test]
async fn a_request_made_on_one_node_reaches_an_app_connected_to_another() {
    let mut s = setup(Backend::Postgres).await;
    let node_b = s.server.second_node().await;
    s.app.base = node_b.url.clone();
    let nonce = noegle_core::secret::random_token(&mut rand::rngs::OsRng, 16);
    let mut events = reqwest::Client::new().get(format!("{}/api/app/v1/events", node_b.url));
    for (k, v) in s.app.sign("GET", "/api/app/v1/events", b"", s.server.now().0, &nonce) {
        events = events.header(k, v);
    }
    let mut events = events.send().await.unwrap();
    assert_eq!(events.status(), 200);

    let b = s.server.browser();
    send(&b, &to_choice(&s, &b).await).await;
    let mut seen = String::new();
    let heard = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        while let Some(chunk) = events.chunk().await.unwrap() {
            seen.push_str(&String::from_utf8_lossy(&chunk));
            if seen.contains("event: request") {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(heard, Ok(true), "node B's app heard the request made on node A: {seen}");
    assert!(!seen.contains("Demo Bank"), "the push carries no personal data");
}

#[tokio::test]
async fn an_approval_finishes_the_log_in_once_even_when_the_page_reloads_in_parallel() {
    let s = setup(Backend::Sqlite).await;
    let b = s.server.browser();
    let waiting = send(&b, &to_choice(&s, &b).await).await;
    let r = s.app.requests(&s.server).await.remove(0);
    assert_eq!(s.app.decide(&s.server, &r, "approve", Some(&match_code(&waiting)), false).await.0, 200);
    let pages = futures::future::join_all((0..6).map(|_| b.get("/login"))).await;
    let codes = pages.iter().filter(|p| p.location_param("code").is_some()).count();
    assert_eq!(codes, 1, "exactly one code: {:?}", pages.iter().map(|p| p.status).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_pending_device_hears_only_that_its_wait_is_over() {
    let s = setup(Backend::Sqlite).await;
    let mut stranger = App::new(&s.server);
    let (st, _) = stranger.start("alice", &s.card, "android", "14", "Ukendt").await;
    assert_eq!(st, 201);
    let nonce = noegle_core::secret::random_token(&mut rand::rngs::OsRng, 16);
    let mut events = reqwest::Client::new().get(format!("{}/api/app/v1/events", s.server.url));
    for (k, v) in stranger.sign("GET", "/api/app/v1/events", b"", s.server.now().0, &nonce) {
        events = events.header(k, v);
    }
    let events = events.send().await.unwrap();
    assert_eq!(events.status(), 200);

    // Alice logs in with her app meanwhile; then the stranger's wait ends, and its stream with it.
    let b = s.server.browser();
    send(&b, &to_choice(&s, &b).await).await;
    s.server.clock.advance(3600);
    let all = tokio::time::timeout(std::time::Duration::from_secs(10), events.text()).await.unwrap().unwrap();
    assert!(all.contains("event: connected") && all.contains("event: activation_ready"), "{all}");
    assert!(!all.contains("event: request"), "a pending device learns nothing of the user's log-ins: {all}");
}

/// Blocking a user stops every log-in already on its way — a request not yet sent, one the app approves after
/// the block, and a code issued just before it.
#[tokio::test]
async fn blocking_a_user_stops_the_log_ins_already_under_way() {
    let s = setup(Backend::Sqlite).await;
    let server = &s.server;
    let block = |blocked: bool| async move {
        noegle_core::accounts::set_blocked(server.state.ctx(Some("test")), "alice", blocked).await.unwrap();
    };

    // Past the password, then blocked: no request reaches the app.
    let b = s.server.browser();
    let choice = to_choice(&s, &b).await;
    block(true).await;
    let r = b.post("/login/app/send", &[("csrf", &choice.csrf())]).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(s.app.requests(&s.server).await.is_empty(), "nothing was sent");
    block(false).await;

    // A request sent, then the user blocked: the app's approval opens nothing.
    let b = s.server.browser();
    let waiting = send(&b, &to_choice(&s, &b).await).await;
    let r = s.app.requests(&s.server).await.remove(0);
    block(true).await;
    let (st, body) = s.app.decide(&s.server, &r, "approve", Some(&match_code(&waiting)), false).await;
    assert_eq!(st, 200, "{body}");
    let after = b.get("/login").await;
    assert_eq!(after.status, 403, "no code for a blocked user: {}", after.body);
    assert!(after.location.is_none());
    block(false).await;

    // A code issued, then the user blocked: the code does not redeem.
    let b = s.server.browser();
    let waiting = send(&b, &to_choice(&s, &b).await).await;
    let r = s.app.requests(&s.server).await.remove(0);
    s.app.decide(&s.server, &r, "approve", Some(&match_code(&waiting)), false).await;
    let done = b.get("/login").await;
    let code = done.location_param("code").unwrap();
    block(true).await;
    let form =
        [("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", CB), ("code_verifier", VERIFIER)];
    let (st, body) = token(&s.server, &form, Some((&s.client_id, &s.secret))).await;
    assert_eq!((st, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
}

/// Opens the live channel of `app` on `server`.
async fn listen(app: &App, server: &TestServer) -> reqwest::Response {
    let nonce = noegle_core::secret::random_token(&mut rand::rngs::OsRng, 16);
    let mut events = reqwest::Client::new().get(format!("{}/api/app/v1/events", server.url));
    for (k, v) in app.sign("GET", "/api/app/v1/events", b"", server.now().0, &nonce) {
        events = events.header(k, v);
    }
    let events = events.send().await.unwrap();
    assert_eq!(events.status(), 200);
    events
}

/// Reads the stream until it says `what` (true), ends, or ten seconds pass.
async fn hears(events: &mut reqwest::Response, what: &str) -> bool {
    let mut seen = String::new();
    let heard = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        while let Ok(Some(chunk)) = events.chunk().await {
            seen.push_str(&String::from_utf8_lossy(&chunk));
            if seen.contains(what) {
                return true;
            }
        }
        false
    });
    heard.await.unwrap_or(false)
}

/// A stopping node is no longer ready (S-SCALE), tells its connected apps to reconnect and ends their streams
/// (so the stop does not wait for them); an app that then connects to another node hears at once what it
/// missed while away — events are not kept, so it is told from the database.
#[tokio::test]
async fn a_stopping_node_sends_its_apps_elsewhere_where_they_hear_what_they_missed() {
    use axum::response::IntoResponse;
    let mut s = setup(Backend::Postgres).await;
    let node_b = s.server.second_node().await;
    let mut on_a = listen(&s.app, &s.server).await;
    assert!(hears(&mut on_a, "event: connected").await);
    s.server.begin_stop();
    assert!(hears(&mut on_a, "event: reconnect").await, "told to reconnect");
    assert!(!hears(&mut on_a, "event:").await, "and the stream ends");
    assert!(s.server.state.gate.is_draining());
    let ready = noegle_server::ops::readyz(axum::extract::State(s.server.state.clone())).await.into_response();
    assert_eq!(ready.status(), 503, "not ready from the moment it stops");
    assert!(s.server.stopped(std::time::Duration::from_secs(15)).await, "stopped within its grace");

    // Meanwhile a log-in is sent to the app through node B.
    let b = node_b.browser();
    let p1 = b.open(&authorize_url(&node_b, &s.client_id, &[])).await;
    let choice = b.password(&p1, "alice", PASSWORD).await;
    assert_eq!(b.post("/login/app/send", &[("csrf", &choice.csrf())]).await.status, 303);
    let mut on_b = listen(&s.app, &node_b).await;
    assert!(hears(&mut on_b, "event: request").await, "the request made while the app was away");
}
