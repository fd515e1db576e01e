//! Cookies, headers, languages and the operations endpoints.

use noegle_testkit::{Backend, PASSWORD, TestServer};

use crate::{CB, authorize_url};

fn session_cookie(set_cookies: &[String]) -> String {
    set_cookies.iter().find(|c| c.starts_with("noegle_session=")).cloned().expect("a session cookie")
}

#[tokio::test]
async fn session_cookies_are_hardened_and_renewed_after_each_step() {
    let server = TestServer::start(Backend::Sqlite).await;
    let (_, card) = server.user_with_card("alice").await;
    let c = server.client("Bank", CB, false).await;
    let b = server.browser();
    let first = b.get(&authorize_url(&server, c.client.client_id.as_str(), &[])).await;
    let c1 = session_cookie(&first.set_cookies);
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(c1.contains(attr), "{c1} lacks {attr}");
    }
    let id1 = c1.split(';').next().unwrap().trim_start_matches("noegle_session=").to_string();
    assert!(id1.len() >= 43, "at least 256 bits");
    let p1 = b.get("/login").await;
    let r = b.post("/login/password", &[("csrf", &p1.csrf()), ("user_id", "alice"), ("password", PASSWORD)]).await;
    let c2 = session_cookie(&r.set_cookies);
    assert!(!c2.contains(&id1), "a new id after the password step");
    // The first step is kept sealed in the cookie (nothing stored for an unanswered /authorize): the old
    // cookie can only start that step over, never reach the log-in it led to.
    assert!(id1.starts_with("s."), "{id1}");
    let stale = reqwest::Client::new()
        .get(format!("{}/login", server.url))
        .header("cookie", format!("noegle_session={id1}"))
        .send()
        .await
        .unwrap();
    let stale = stale.text().await.unwrap();
    assert!(stale.contains("name=\"password\"") && !stale.contains("class=\"number\""), "{stale}");
    let p2 = b.get("/login").await;
    let number = noegle_testkit::Browser::asked_number(&p2);
    let done = b.key(&p2, &card.keys[&number]).await;
    assert!(session_cookie(&done.set_cookies).contains("Max-Age=0"), "the session ends with the log-in");

    for (name, want) in
        [("x-frame-options", "DENY"), ("x-content-type-options", "nosniff"), ("referrer-policy", "no-referrer")]
    {
        assert_eq!(p2.headers.get(name).unwrap(), want);
    }
    let csp = p2.headers.get("content-security-policy").unwrap().to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(csp.contains("form-action 'self' http://localhost:9999"), "the client's origin is a form target: {csp}");
    assert!(!p2.body.contains("<script"), "no scripts in the log-in box");
}

#[tokio::test]
async fn https_public_urls_get_host_prefixed_secure_cookies() {
    let mut server = TestServer::start(Backend::Sqlite).await;
    let mut config = (*server.state.config).clone();
    config.public_url = "https://login.example".into();
    server.state.config = std::sync::Arc::new(config);
    let cookie = noegle_server::session::save_rotated(
        &server.state,
        None,
        &noegle_server::session::LoginSession {
            csrf: "t".into(),
            authz: noegle_core::oidc::PendingAuthorization {
                client_id: "c".into(),
                client_name: "n".into(),
                redirect_uri: CB.into(),
                scope: noegle_core::oidc::Scope { profile: false },
                state: None,
                nonce: None,
                code_challenge: None,
            },
            step: noegle_server::session::Step::Password,
        },
    )
    .await
    .unwrap();
    let cookie = cookie.to_str().unwrap();
    assert!(cookie.starts_with("__Host-noegle_session="), "{cookie}");
    assert!(cookie.contains("; Secure") && cookie.contains("Path=/") && !cookie.contains("Domain"), "{cookie}");
}

#[tokio::test]
async fn pages_speak_danish_by_default_and_english_on_request() {
    let server = TestServer::start(Backend::Sqlite).await;
    let c = server.client("Bank", CB, false).await;
    let b = server.browser();
    let p = b.open(&authorize_url(&server, c.client.client_id.as_str(), &[])).await;
    assert!(p.body.contains("<html lang=\"da\">") && p.body.contains("Bruger-id") && p.body.contains("Næste"));
    let r = b.get("/lang/en?back=/login").await;
    assert_eq!(r.location.as_deref(), Some("/login"));
    let p = b.get("/login").await;
    assert!(p.body.contains("<html lang=\"en\">") && p.body.contains("User ID") && p.body.contains("Next"));
    let r = b.get("/lang/en?back=https://evil.example/").await;
    assert_eq!(r.location.as_deref(), Some("/login"), "the switch only returns to our own pages");
    // Browsers drop tabs and newlines from a URL: `/\t/evil.example/` would be `//evil.example/`, elsewhere.
    // Control characters in `back` are refused as well, never answered with a broken header (500).
    for hostile in ["/%09/evil.example/", "/%0a/evil.example/", "/%0d/evil.example/", "/%00/x", "/%5Cevil.example"] {
        let r = b.get(&format!("/lang/en?back={hostile}")).await;
        assert_eq!((r.status, r.location.as_deref()), (303, Some("/login")), "back={hostile}");
    }
    let en = reqwest::Client::new()
        .get(format!("{}/nope", server.url))
        .header("accept-language", "en-US,en;q=0.9")
        .send()
        .await
        .unwrap();
    assert_eq!(en.status(), 404);
    assert!(en.text().await.unwrap().contains("There is no such page"));
}

#[tokio::test]
async fn operations_endpoints_answer() {
    let server = TestServer::start(Backend::Sqlite).await;
    let (_, card) = server.user_with_card("alice").await;
    let c = server.client("Bank", CB, false).await;
    server.browser().log_in(&authorize_url(&server, c.client.client_id.as_str(), &[]), "alice", &card).await;
    let get = |p: &str| {
        let url = format!("{}{p}", server.url);
        async move {
            let r = reqwest::get(url).await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    assert_eq!(get("/healthz").await.0, 200);
    assert_eq!(get("/readyz").await.0, 200);
    let (s, metrics) = get("/metrics").await;
    assert_eq!(s, 200);
    assert!(metrics.contains("noegle_login_steps_total"), "{metrics}");
    let (_, discovery) = get("/.well-known/openid-configuration").await;
    let d: serde_json::Value = serde_json::from_str(&discovery).unwrap();
    assert_eq!(d["issuer"], server.url);
    assert_eq!(d["code_challenge_methods_supported"], serde_json::json!(["S256"]));
    let (_, jwks) = get("/jwks").await;
    let j: serde_json::Value = serde_json::from_str(&jwks).unwrap();
    assert_eq!(j["keys"][0]["alg"], "ES256");
}
