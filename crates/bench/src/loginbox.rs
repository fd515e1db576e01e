//! The browser side of a log-in: the authorization request with PKCE, the log-in box's pages (cookie and
//! CSRF token carried by hand, no redirects followed), and the relying party's token request.

use anyhow::{Context, anyhow, bail};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use noegle_core::secret::random_token;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};

use crate::seed::{BenchUser, PASSWORD, REDIRECT_URI};

/// A relying party and a browser in one: opens log-ins at one server and redeems their codes.
#[derive(Clone)]
pub struct LoginBox {
    http: reqwest::Client,
    base: String,
    client_id: String,
}

/// One log-in in progress: the session cookie, the PKCE verifier and the last page.
pub struct Flow {
    cookie: String,
    verifier: String,
    /// The page the log-in box shows now.
    pub page: String,
}

impl Flow {
    /// The CSRF token of the page's form.
    pub fn csrf(&self) -> anyhow::Result<String> {
        attribute_after(&self.page, "name=\"csrf\" value=\"")
            .ok_or_else(|| anyhow!("no form on: {}", excerpt(&self.page)))
    }

    /// The key number a key page asks for.
    pub fn asked_number(&self) -> anyhow::Result<String> {
        text_after(&self.page, "class=\"number\">").ok_or_else(|| anyhow!("not a key page: {}", excerpt(&self.page)))
    }

    /// The match code a waiting page shows.
    pub fn match_code(&self) -> anyhow::Result<String> {
        text_after(&self.page, "class=\"match-code\">")
            .ok_or_else(|| anyhow!("not a waiting page: {}", excerpt(&self.page)))
    }
}

fn attribute_after(page: &str, marker: &str) -> Option<String> {
    let start = page.find(marker)? + marker.len();
    Some(page[start..].split('"').next()?.to_string())
}

fn text_after(page: &str, marker: &str) -> Option<String> {
    let start = page.find(marker)? + marker.len();
    Some(page[start..].split('<').next()?.trim().to_string())
}

fn excerpt(page: &str) -> String {
    page.chars().take(300).collect()
}

/// The answer to a form post: a redirect (303) or a page.
enum Answer {
    Redirect(String),
    Page(u16, String),
}

impl LoginBox {
    /// A log-in box at `base` for the public client `client_id`; `http` carries no cookies of its own.
    pub fn new(http: reqwest::Client, base: &str, client_id: &str) -> LoginBox {
        LoginBox { http, base: base.to_string(), client_id: client_id.to_string() }
    }

    /// An HTTP client for log-in boxes: no redirects followed, no cookie store.
    pub fn http() -> reqwest::Client {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(256)
            .tcp_nodelay(true)
            .build()
            .unwrap_or_default()
    }

    /// The authorization request, then the log-in box's first page.
    pub async fn open(&self) -> anyhow::Result<Flow> {
        let verifier = random_token(&mut OsRng, 32);
        let challenge = B64.encode(Sha256::digest(verifier.as_bytes()));
        let state = random_token(&mut OsRng, 12);
        let url = format!(
            "{}/authorize?response_type=code&scope=openid&client_id={}&redirect_uri={}&state={state}&nonce={state}&code_challenge={challenge}&code_challenge_method=S256",
            self.base,
            self.client_id,
            url::form_urlencoded::byte_serialize(REDIRECT_URI.as_bytes()).collect::<String>(),
        );
        let r = self.http.get(url).send().await?;
        if r.status() != 303 {
            bail!("authorize answered {}: {}", r.status(), r.text().await.unwrap_or_default());
        }
        let cookie = session_cookie(&r).ok_or_else(|| anyhow!("authorize set no session cookie"))?;
        let mut flow = Flow { cookie, verifier, page: String::new() };
        self.show(&mut flow).await?;
        Ok(flow)
    }

    /// `GET /login`: the current step; `Some(code)` when the log-in box sends the browser back with one.
    pub async fn show(&self, flow: &mut Flow) -> anyhow::Result<Option<String>> {
        let r = self.http.get(format!("{}/login", self.base)).header("cookie", &flow.cookie).send().await?;
        match r.status().as_u16() {
            200 => {
                flow.page = r.text().await?;
                Ok(None)
            }
            303 => {
                let location = location(&r)?;
                Ok(Some(code_of(&location)?))
            }
            s => bail!("GET /login answered {s}: {}", excerpt(&r.text().await.unwrap_or_default())),
        }
    }

    async fn post(&self, flow: &mut Flow, path: &str, fields: &[(&str, &str)]) -> anyhow::Result<Answer> {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", &flow.cookie)
            .form(fields)
            .send()
            .await
            .with_context(|| format!("POST {path}"))?;
        if let Some(c) = session_cookie(&r) {
            flow.cookie = c;
        }
        match r.status().as_u16() {
            303 => Ok(Answer::Redirect(location(&r)?)),
            s => Ok(Answer::Page(s, r.text().await?)),
        }
    }

    /// Step 1: user ID and password; answers with the next page shown.
    pub async fn password(&self, flow: &mut Flow, user: &BenchUser) -> anyhow::Result<()> {
        let csrf = flow.csrf()?;
        let fields = [("csrf", csrf.as_str()), ("user_id", &user.user_id), ("password", PASSWORD)];
        match self.post(flow, "/login/password", &fields).await? {
            Answer::Redirect(_) => self.show(flow).await.map(|_| ()),
            Answer::Page(s, p) => bail!("password refused ({s}): {}", excerpt(&p)),
        }
    }

    /// Step 1 with a wrong password; answers the HTTP status (401 refused, 503 busy).
    pub async fn wrong_password(&self, flow: &mut Flow, user: &BenchUser) -> anyhow::Result<u16> {
        let csrf = flow.csrf()?;
        let fields = [("csrf", csrf.as_str()), ("user_id", &user.user_id), ("password", "forkert adgangskode")];
        Ok(match self.post(flow, "/login/password", &fields).await? {
            Answer::Redirect(_) => 303,
            Answer::Page(s, _) => s,
        })
    }

    /// Step 2 with the key card: the key asked for; answers the code for the relying party.
    pub async fn key(&self, flow: &mut Flow, user: &BenchUser) -> anyhow::Result<String> {
        let number = flow.asked_number()?;
        let key = user.card.keys.get(&number).ok_or_else(|| anyhow!("key {number} is not on the card"))?.clone();
        let csrf = flow.csrf()?;
        match self.post(flow, "/login/key", &[("csrf", csrf.as_str()), ("key", key.as_str())]).await? {
            Answer::Redirect(to) => code_of(&to),
            Answer::Page(s, p) => bail!("key refused ({s}): {}", excerpt(&p)),
        }
    }

    /// Step 2 with the key app: "Send anmodning til nøgleapp"; the waiting page is shown after it.
    pub async fn send_to_app(&self, flow: &mut Flow) -> anyhow::Result<()> {
        let csrf = flow.csrf()?;
        match self.post(flow, "/login/app/send", &[("csrf", csrf.as_str())]).await? {
            Answer::Redirect(_) => self.show(flow).await.map(|_| ()),
            Answer::Page(s, p) => bail!("sending to the app refused ({s}): {}", excerpt(&p)),
        }
    }

    /// The relying party redeems the code (with the PKCE verifier) for an ID token.
    pub async fn token(&self, flow: &Flow, code: &str) -> anyhow::Result<()> {
        let fields = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT_URI),
            ("client_id", &self.client_id),
            ("code_verifier", &flow.verifier),
        ];
        let r = self.http.post(format!("{}/token", self.base)).form(&fields).send().await?;
        let status = r.status();
        let body: serde_json::Value = r.json().await.unwrap_or_default();
        if !status.is_success() || body["id_token"].as_str().is_none() {
            bail!("token answered {status}: {body}");
        }
        Ok(())
    }

    /// A whole log-in with the key card, token included.
    pub async fn keycard_login(&self, user: &BenchUser) -> anyhow::Result<()> {
        let mut flow = self.open().await?;
        self.password(&mut flow, user).await?;
        let code = self.key(&mut flow, user).await?;
        self.token(&flow, &code).await
    }
}

fn session_cookie(r: &reqwest::Response) -> Option<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or_default().to_string())
        .find(|c| c.contains("noegle_session=") && !c.ends_with('='))
}

fn location(r: &reqwest::Response) -> anyhow::Result<String> {
    Ok(r.headers().get("location").ok_or_else(|| anyhow!("a redirect without Location"))?.to_str()?.to_string())
}

fn code_of(location: &str) -> anyhow::Result<String> {
    let url = url::Url::parse(location).with_context(|| format!("redirect to {location}"))?;
    url.query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.to_string())
        .ok_or_else(|| anyhow!("no code in the redirect: {location}"))
}
