//! "Demo Bank": a service provider built into `noegle demo`, at `/demo/`. It is a real OpenID Connect client
//! of the server (through the `openidconnect` crate): discovery, PKCE, code exchange, ID-token validation
//! against the JWKS, userinfo. It shows who logged in and how (`amr`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreJwsSigningAlgorithm, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};

/// The bank's registration at the server.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct BankClient {
    /// Its `client_id`.
    pub client_id: String,
    /// Its secret.
    pub client_secret: String,
}

struct Pending {
    state: CsrfToken,
    nonce: Nonce,
    verifier: PkceCodeVerifier,
}

/// The bank's state: who it is, and the log-ins it has started.
#[derive(Clone)]
pub struct Bank {
    issuer: String,
    client: BankClient,
    http: reqwest::Client,
    pending: Arc<Mutex<Started>>,
}

/// Log-ins started and not yet finished, at most [`MAX_STARTED`]: past that the oldest are forgotten (their
/// browser then hears "not started here"), so hitting "Log på" in a loop costs the bank no memory.
#[derive(Default)]
struct Started {
    by_id: HashMap<String, Pending>,
    order: std::collections::VecDeque<String>,
}

/// The most log-ins the bank keeps open at once.
pub const MAX_STARTED: usize = 1000;

impl Started {
    fn insert(&mut self, id: String, p: Pending) {
        self.order.push_back(id.clone());
        self.by_id.insert(id, p);
        while self.by_id.len() > MAX_STARTED {
            let Some(oldest) = self.order.pop_front() else { break };
            self.by_id.remove(&oldest);
        }
        // Ids already finished leave stale entries in `order`; keep it from outgrowing the map.
        if self.order.len() > 2 * MAX_STARTED {
            let by_id = &self.by_id;
            self.order.retain(|id| by_id.contains_key(id));
        }
    }

    fn take(&mut self, id: &str) -> Option<Pending> {
        self.by_id.remove(id)
    }
}

const COOKIE: &str = "demobank";

impl Bank {
    /// A bank that logs its users in at `issuer`.
    pub fn new(issuer: &str, client: BankClient) -> anyhow::Result<Bank> {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?;
        Ok(Bank { issuer: issuer.to_string(), client, http, pending: Arc::default() })
    }

    /// The redirect URI the bank registers.
    pub fn redirect_uri(issuer: &str) -> String {
        format!("{issuer}/demo/callback")
    }

    async fn oidc_client(
        &self,
    ) -> anyhow::Result<
        CoreClient<
            openidconnect::EndpointSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointMaybeSet,
            openidconnect::EndpointMaybeSet,
        >,
    > {
        let metadata = CoreProviderMetadata::discover_async(IssuerUrl::new(self.issuer.clone())?, &self.http)
            .await
            .context("discovery failed")?;
        Ok(CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(self.client.client_id.clone()),
            Some(ClientSecret::new(self.client.client_secret.clone())),
        )
        .set_redirect_uri(RedirectUrl::new(Bank::redirect_uri(&self.issuer))?))
    }
}

/// The `/demo` routes.
pub fn router(bank: Bank) -> Router {
    Router::new()
        .route("/demo", get(|| async { Redirect::to("/demo/") }))
        .route("/demo/", get(home))
        .route("/demo/login", get(start))
        .route("/demo/callback", get(callback))
        .route("/demo/bank.css", get(stylesheet))
        .with_state(bank)
}

fn page(status: StatusCode, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"da\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>Demo Bank</title>\
         <link rel=\"stylesheet\" href=\"/demo/bank.css\"></head><body><header><span class=\"logo\">Demo Bank</span>\
         <span class=\"tag\">en demo-tjenesteudbyder for nøgle</span></header><main>{body}</main></body></html>"
    );
    (status, Html(html)).into_response()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

async fn home() -> Response {
    page(
        StatusCode::OK,
        "<h1>Velkommen til Demo Bank</h1><p>Log på din netbank med dit bruger-id, din adgangskode og en nøgle \
         fra dit nøglekort.</p><p><a class=\"button\" href=\"/demo/login\">Log på med nøgle</a></p>",
    )
}

async fn start(State(bank): State<Bank>) -> Response {
    match start_login(&bank).await {
        Ok(r) => r,
        Err(e) => page(
            StatusCode::BAD_GATEWAY,
            &format!("<h1>Log-in kunne ikke startes</h1><p>{}</p>", escape(&format!("{e:#}"))),
        ),
    }
}

async fn start_login(bank: &Bank) -> anyhow::Result<Response> {
    let client = bank.oidc_client().await?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = client
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(challenge)
        .url();
    let id = CsrfToken::new_random().secret().clone();
    bank.pending
        .lock()
        .map_err(|_| anyhow::anyhow!("lock poisoned"))?
        .insert(id.clone(), Pending { state, nonce, verifier });
    let cookie = HeaderValue::from_str(&format!("{COOKIE}={id}; Path=/demo/; HttpOnly; SameSite=Lax; Max-Age=600"))?;
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to(url.as_str())).into_response())
}

async fn callback(State(bank): State<Bank>, headers: HeaderMap, Query(q): Query<HashMap<String, String>>) -> Response {
    match finish_login(&bank, &headers, &q).await {
        Ok(r) => r,
        Err(e) => page(
            StatusCode::BAD_REQUEST,
            &format!(
                "<h1>Du blev ikke logget på</h1><p class=\"error\">{}</p><p><a class=\"button\" href=\"/demo/\">Tilbage</a></p>",
                escape(&format!("{e:#}"))
            ),
        ),
    }
}

async fn finish_login(bank: &Bank, headers: &HeaderMap, q: &HashMap<String, String>) -> anyhow::Result<Response> {
    let id = crate::session::cookie(headers, COOKIE).context("the log-in was not started here")?;
    let pending = bank
        .pending
        .lock()
        .map_err(|_| anyhow::anyhow!("lock poisoned"))?
        .take(&id)
        .context("the log-in was not started here or was already used")?;
    anyhow::ensure!(
        q.get("state").map(String::as_str) == Some(pending.state.secret().as_str()),
        "state does not match"
    );
    anyhow::ensure!(q.get("iss").map(String::as_str) == Some(bank.issuer.as_str()), "iss does not match the issuer");
    if let Some(error) = q.get("error") {
        anyhow::bail!("{error}: {}", q.get("error_description").map_or("", String::as_str));
    }
    let code = q.get("code").context("no code in the answer")?;
    let client = bank.oidc_client().await?;
    let tokens = client
        .exchange_code(AuthorizationCode::new(code.clone()))?
        .set_pkce_verifier(pending.verifier)
        .request_async(&bank.http)
        .await
        .context("code exchange failed")?;
    let id_token = tokens.id_token().context("no ID token")?;
    let verifier = client.id_token_verifier().set_allowed_algs(vec![CoreJwsSigningAlgorithm::EcdsaP256Sha256]);
    let claims = id_token.claims(&verifier, &pending.nonce).context("the ID token is not valid")?;
    let amr: Vec<String> =
        claims.auth_method_refs().map(|v| v.iter().map(|a| a.to_string()).collect()).unwrap_or_default();
    let info: openidconnect::core::CoreUserInfoClaims = client
        .user_info(tokens.access_token().clone(), Some(claims.subject().clone()))?
        .request_async(&bank.http)
        .await
        .context("userinfo failed")?;
    let name = info.name().and_then(|n| n.get(None)).map(|n| n.to_string()).unwrap_or_default();
    let user_id = info.preferred_username().map(|u| u.to_string()).unwrap_or_default();
    Ok(page(
        StatusCode::OK,
        &format!(
            "<h1>Du er logget på</h1><dl><dt>Navn</dt><dd id=\"name\">{}</dd><dt>Bruger-id</dt><dd id=\"user-id\">{}</dd>\
             <dt>Logget på med (amr)</dt><dd id=\"amr\">{}</dd><dt>Subjekt (sub)</dt><dd id=\"sub\"><code>{}</code></dd></dl>\
             <p><a class=\"button\" href=\"/demo/\">Log af</a></p>",
            escape(&name),
            escape(&user_id),
            escape(&amr.join(" ")),
            escape(claims.subject().as_str()),
        ),
    ))
}

async fn stylesheet() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        "body{margin:0;font:1rem/1.5 system-ui,sans-serif;color:#1b1b1b;background:#f4f7f4}\
         header{background:#14532d;color:#fff;padding:1rem 1.5rem;display:flex;gap:1rem;align-items:baseline;flex-wrap:wrap}\
         .logo{font-weight:800;font-size:1.4rem}.tag{opacity:.9}\
         main{max-width:40rem;margin:2rem auto;padding:0 1.5rem}\
         .button{display:inline-block;background:#14532d;color:#fff;padding:.7rem 1.2rem;border-radius:.3rem;text-decoration:none;font-weight:600}\
         .button:focus{outline:3px solid #ffbf47}dt{font-weight:700;margin-top:.6rem}dd{margin:0}\
         .error{color:#a4000f}",
    )
}
