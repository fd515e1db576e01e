//! End-to-end tests of the server over real sockets: log-in box, OIDC, refusals, lockout, operations.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod app;
mod app_activation;
mod app_code;
mod app_requests;
mod busy;
mod defects;
mod hardening;
mod keycards;
mod lockout;
mod oidc_flow;
mod pages;
mod refusals;
mod tls;
mod webpush;

use noegle_testkit::{Backend, TestServer};

/// RFC 7636 appendix B.
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
pub const CB: &str = "http://localhost:9999/cb";

/// An authorization request URL with the given extra or replaced parameters.
pub fn authorize_url(server: &TestServer, client_id: &str, overrides: &[(&str, Option<&str>)]) -> String {
    let mut params: Vec<(&str, Option<&str>)> = vec![
        ("response_type", Some("code")),
        ("client_id", Some(client_id)),
        ("redirect_uri", Some(CB)),
        ("scope", Some("openid profile")),
        ("state", Some("s-123")),
        ("nonce", Some("n-456")),
        ("code_challenge", Some(CHALLENGE)),
        ("code_challenge_method", Some("S256")),
    ];
    for (k, v) in overrides {
        match params.iter_mut().find(|(pk, _)| pk == k) {
            Some(p) => p.1 = *v,
            None => params.push((k, *v)),
        }
    }
    let mut url = url::Url::parse(&format!("{}/authorize", server.url)).unwrap();
    for (k, v) in params {
        if let Some(v) = v {
            url.query_pairs_mut().append_pair(k, v);
        }
    }
    url.to_string()
}

/// Token request form for a code.
pub async fn token(
    server: &TestServer,
    fields: &[(&str, &str)],
    basic: Option<(&str, &str)>,
) -> (u16, serde_json::Value) {
    let mut req = reqwest::Client::new().post(format!("{}/token", server.url)).form(fields);
    if let Some((id, secret)) = basic {
        req = req.basic_auth(id, Some(secret));
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

/// Both backends, one after the other.
pub async fn both<F, Fut>(f: F)
where
    F: Fn(TestServer) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    f(TestServer::start(Backend::Sqlite).await).await;
    f(TestServer::start(Backend::Postgres).await).await;
}
