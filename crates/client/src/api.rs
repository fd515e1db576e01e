//! Calls to the app API. After activation starts every call is signed with the device key; the timestamp
//! follows the server's clock (learned from `/api/app/v1/time`), so a phone with a wrong clock still works.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use noegle_proto::signing::{HEADER_DEVICE, HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP, SignedRequest};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use rand::RngCore;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::appcode::{self, CodeError};
use crate::state::DeviceState;

/// Header carrying the app session of an unlocked app.
pub const HEADER_APP_SESSION: &str = "noegle-app-session";

fn code_error(e: CodeError) -> ApiError {
    match e {
        CodeError::WrongCode => ApiError::local("wrong_code", "wrong code"),
        e => ApiError::local("local", e.to_string()),
    }
}

/// A refusal or failure, with the server's code and message when it gave them.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// HTTP status (0 when the server could not be reached).
    pub status: u16,
    /// The server's error code (`too_early`, `rejected`, …) or `network`/`local`.
    pub code: String,
    /// What went wrong.
    pub message: String,
    /// The whole error body.
    pub body: Value,
}

impl ApiError {
    fn local(code: &str, message: impl Into<String>) -> ApiError {
        ApiError { status: 0, code: code.into(), message: message.into(), body: Value::Null }
    }
}

/// The ticket of a password log-in and the key the card must give.
#[derive(Clone, Debug, Deserialize)]
pub struct Ticket {
    /// Single-use ticket.
    pub ticket: String,
    /// The key asked for.
    pub key_card: KeyAsked,
}

/// A key-card key asked for.
#[derive(Clone, Debug, Deserialize)]
pub struct KeyAsked {
    /// Card serial.
    pub serial: String,
    /// Key number.
    pub key_number: String,
}

/// The device as the server sees it.
#[derive(Clone, Debug, Deserialize, serde::Serialize)]
pub struct DeviceInfo {
    /// Id.
    pub device_id: String,
    /// Support serial.
    pub serial: String,
    /// Name.
    pub name: String,
    /// `pending` / `active`.
    pub status: String,
    /// When the second log-in is possible.
    pub ready_at: i64,
    /// When an unfinished activation lapses.
    pub expires_at: i64,
    /// Whether the wait is over (pending devices).
    pub ready: bool,
    /// The server's time.
    pub now: i64,
}

/// The numbers the server tells its key apps (`GET /api/app/v1/about`), so that the app says what it does.
#[derive(Clone, Debug, Deserialize)]
pub struct About {
    /// Seconds an unlocked app stays open (R-APP4).
    pub app_session_secs: u64,
    /// Seconds a new key app waits between its two log-ins.
    pub activation_wait_secs: u64,
    /// Wrong app codes in a row that block the key app.
    pub code_attempts: u32,
}

/// A request awaiting the user's answer.
#[derive(Clone, Debug, Deserialize, serde::Serialize)]
pub struct Request {
    /// Id.
    pub request_id: String,
    /// The service provider.
    pub client_id: String,
    /// Its name.
    pub client_name: String,
    /// What is approved.
    pub action: String,
    /// When it was made.
    pub created_at: i64,
    /// When it lapses.
    pub expires_at: i64,
    /// The nonce the approval is bound to.
    pub nonce: String,
    /// Whether the user must type the code shown in the log-in box.
    pub match_code_required: bool,
    /// The code, when the server's policy is to show it.
    #[serde(default)]
    pub match_code: Option<String>,
}

/// A client of one server for one device.
pub struct AppClient {
    /// The device's state (updated by activation calls; the caller saves it).
    pub state: DeviceState,
    http: reqwest::Client,
    offset: Option<i64>,
    local_now: Box<dyn Fn() -> i64 + Send + Sync>,
    /// The device key, once unlocked (or while still in clear).
    key: Option<SigningKey>,
    /// The app session of an unlocked app.
    app_session: Option<String>,
}

fn public_key_of(key: &SigningKey) -> String {
    B64.encode(key.verifying_key().to_sec1_point(false).as_bytes())
}

impl AppClient {
    /// A client for `state`; `local_now` reads the device's clock.
    pub fn new(state: DeviceState, local_now: Box<dyn Fn() -> i64 + Send + Sync>) -> AppClient {
        AppClient::with_http(state, local_now, reqwest::Client::new())
    }

    /// [`AppClient::new`] over `http` (e.g. one that trusts an organisation's own certificate authority).
    pub fn with_http(
        state: DeviceState,
        local_now: Box<dyn Fn() -> i64 + Send + Sync>,
        http: reqwest::Client,
    ) -> AppClient {
        let key = state.clear_key();
        AppClient { state, http, offset: None, local_now, key, app_session: None }
    }

    /// Whether the app is unlocked (an app session is open).
    pub fn is_unlocked(&self) -> bool {
        self.app_session.is_some()
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.state.server)
    }

    async fn read<T: DeserializeOwned>(r: Result<reqwest::Response, reqwest::Error>) -> Result<T, ApiError> {
        let r = r.map_err(|e| ApiError::local("network", format!("cannot reach the server: {e}")))?;
        let status = r.status().as_u16();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        if (200..300).contains(&status) {
            return serde_json::from_value(body)
                .map_err(|e| ApiError::local("protocol", format!("unexpected answer: {e}")));
        }
        Err(ApiError {
            status,
            code: body["error"].as_str().unwrap_or("error").to_string(),
            message: body["message"].as_str().unwrap_or("the server refused").to_string(),
            body,
        })
    }

    async fn post<T: DeserializeOwned>(&self, path: &str, body: Value) -> Result<T, ApiError> {
        Self::read(self.http.post(self.url(path)).json(&body).send().await).await
    }

    /// The server's time, as this device should sign with it.
    async fn now(&mut self) -> Result<i64, ApiError> {
        if self.offset.is_none() {
            let t: Value = Self::read(self.http.get(self.url("/api/app/v1/time")).send().await).await?;
            let server = t["now"].as_i64().ok_or_else(|| ApiError::local("protocol", "no time from the server"))?;
            self.offset = Some(server - (self.local_now)());
        }
        Ok((self.local_now)() + self.offset.unwrap_or(0))
    }

    /// Builds a signed request.
    async fn signed_request(
        &mut self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<reqwest::RequestBuilder, ApiError> {
        let device_id =
            self.state.device_id.clone().ok_or_else(|| ApiError::local("local", "this key app has no device yet"))?;
        let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let mut nonce = [0u8; 18];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let nonce = B64.encode(nonce);
        let timestamp = self.now().await?;
        let req = SignedRequest {
            method,
            path_and_query: path,
            device_id: &device_id,
            timestamp,
            nonce: &nonce,
            body: &bytes,
        };
        let canonical = req.canonical_bytes().map_err(|e| ApiError::local("local", e.to_string()))?;
        let key = self
            .key
            .as_ref()
            .ok_or_else(|| ApiError::local("locked", "the key app is locked: unlock it with its code"))?;
        let sig: Signature = key.sign(&canonical);
        let mut r = self
            .http
            .request(method.parse().map_err(|_| ApiError::local("local", "bad method"))?, self.url(path))
            .header(HEADER_DEVICE, &device_id)
            .header(HEADER_TIMESTAMP, timestamp.to_string())
            .header(HEADER_NONCE, &nonce)
            .header(HEADER_SIGNATURE, B64.encode(sig.to_bytes()));
        if let Some(session) = &self.app_session {
            r = r.header(HEADER_APP_SESSION, session);
        }
        if !bytes.is_empty() {
            r = r.header("content-type", "application/json").body(bytes);
        }
        Ok(r)
    }

    async fn signed<T: DeserializeOwned>(
        &mut self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<T, ApiError> {
        let r = self.signed_request(method, path, body).await?;
        Self::read(r.send().await).await
    }

    /// Opens the live channel (signed); read it with [`next_event`].
    pub async fn open_events(&mut self) -> Result<reqwest::Response, ApiError> {
        let r = self.signed_request("GET", "/api/app/v1/events", None).await?;
        let response =
            r.send().await.map_err(|e| ApiError::local("network", format!("cannot reach the server: {e}")))?;
        if !response.status().is_success() {
            return Self::read::<Value>(Ok(response))
                .await
                .and_then(|_| Err(ApiError::local("protocol", "no event stream")));
        }
        Ok(response)
    }

    /// Opens the live channel and calls `on_event` with each event name (`connected`, `request`,
    /// `activation_ready`, `pending_activation`) until it answers false or the server closes the channel. A
    /// stopping node's `reconnect`, or a stream cut off, is followed by connecting again.
    pub async fn watch(&mut self, mut on_event: impl FnMut(&str) -> bool) -> Result<(), ApiError> {
        loop {
            let r = self.signed_request("GET", "/api/app/v1/events", None).await?;
            let mut response =
                r.send().await.map_err(|e| ApiError::local("network", format!("cannot reach the server: {e}")))?;
            if !response.status().is_success() {
                return Self::read::<Value>(Ok(response)).await.map(|_| ());
            }
            let mut buffer = String::new();
            let mut reconnect = false;
            loop {
                let chunk = match response.chunk().await {
                    Ok(Some(chunk)) => chunk,
                    Ok(None) => break,
                    // Cut off (a node that died, a proxy in between): connect again, as after `reconnect`.
                    Err(_) => {
                        reconnect = true;
                        break;
                    }
                };
                buffer.push_str(&String::from_utf8_lossy(chunk.as_ref()));
                while let Some(end) = buffer.find("\n\n") {
                    let block: String = buffer.drain(..end + 2).collect();
                    match block.lines().find_map(|l| l.strip_prefix("event:")).map(str::trim) {
                        // The node is stopping: connect again (behind a load balancer, to another node).
                        Some("reconnect") => reconnect = true,
                        Some(name) if !on_event(name) => return Ok(()),
                        _ => {}
                    }
                }
            }
            if !reconnect {
                return Ok(());
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
    }

    /// What the server tells its key apps: the session length, the activation wait, the wrong codes that block.
    pub async fn about(&self) -> Result<About, ApiError> {
        Self::read(self.http.get(self.url("/api/app/v1/about")).send().await).await
    }

    /// Logs in with user ID and password; answers the ticket and the key to give.
    pub async fn login(&self, user_id: &str, password: &str) -> Result<Ticket, ApiError> {
        self.post("/api/app/v1/login", json!({ "user_id": user_id, "password": password })).await
    }

    /// Activation, first stage: the key from the card; the device becomes pending.
    pub async fn start_activation(
        &mut self,
        ticket: &str,
        key: &str,
        platform: &str,
        os_version: &str,
        name: &str,
    ) -> Result<DeviceInfo, ApiError> {
        let public_key = public_key_of(self.key.as_ref().ok_or_else(|| ApiError::local("local", "no device key"))?);
        let body = json!({ "ticket": ticket, "key": key, "public_key": public_key, "platform": platform,
                           "os_version": os_version, "name": name });
        let d: DeviceInfo = self.post("/api/app/v1/activation", body).await?;
        self.remember(&d);
        Ok(d)
    }

    /// Activation, second stage: after the wait, a second ticket and key.
    pub async fn complete_activation(&mut self, ticket: &str, key: &str) -> Result<DeviceInfo, ApiError> {
        let d: DeviceInfo = self
            .signed("POST", "/api/app/v1/activation/complete", Some(json!({ "ticket": ticket, "key": key })))
            .await?;
        self.remember(&d);
        Ok(d)
    }

    /// The device as the server sees it.
    pub async fn device(&mut self) -> Result<DeviceInfo, ApiError> {
        let d: DeviceInfo = self.signed("GET", "/api/app/v1/device", None).await?;
        self.remember(&d);
        Ok(d)
    }

    fn remember(&mut self, d: &DeviceInfo) {
        self.state.device_id = Some(d.device_id.clone());
        self.state.serial = Some(d.serial.clone());
        self.state.status = Some(d.status.clone());
        self.state.ready_at = Some(d.ready_at);
    }

    /// Registers `code` (already checked against the blocklist) and seals the device key under it; with a
    /// reset token after "Glemt kode", or from an unlocked app to change the code.
    async fn register_code(&mut self, code: &str, reset_token: Option<&str>) -> Result<(), ApiError> {
        noegle_proto::opaque::check_new_code(code).map_err(|e| ApiError::local("weak_code", e.to_string()))?;
        let (request, registering) = appcode::register_start(code).map_err(code_error)?;
        let v: Value =
            self.signed("POST", "/api/app/v1/app-code/register/start", Some(json!({ "message": request }))).await?;
        let response = v["message"].as_str().unwrap_or_default();
        let (upload, export_key) = appcode::register_finish(registering, code, response).map_err(code_error)?;
        let body = json!({ "message": upload, "reset_token": reset_token });
        let v: Value = self.signed("POST", "/api/app/v1/app-code/register/finish", Some(body)).await?;
        self.state.unlock_token = v["unlock_token"].as_str().map(str::to_string);
        let device_id = self.state.device_id.clone().unwrap_or_default();
        let key = self.key.as_ref().ok_or_else(|| ApiError::local("local", "no device key"))?;
        let sealed = appcode::seal(&export_key, &device_id, key.to_bytes().as_slice()).map_err(code_error)?;
        self.state.sealed_key = Some(sealed);
        self.state.private_key = None;
        Ok(())
    }

    /// Chooses the first app code after activation (the caller saves the state: the key is sealed now).
    pub async fn set_code(&mut self, code: &str) -> Result<(), ApiError> {
        self.register_code(code, None).await
    }

    /// Changes the code of an unlocked app.
    pub async fn change_code(&mut self, new_code: &str) -> Result<(), ApiError> {
        if !self.is_unlocked() {
            return Err(ApiError::local("locked", "unlock the key app with its current code first"));
        }
        self.register_code(new_code, None).await
    }

    /// Unlocks with the code: OPAQUE login, then the device key opens under the export key.
    pub async fn unlock(&mut self, code: &str) -> Result<(), ApiError> {
        let device_id =
            self.state.device_id.clone().ok_or_else(|| ApiError::local("local", "this key app has no device yet"))?;
        let sealed =
            self.state.sealed_key.clone().ok_or_else(|| ApiError::local("no_code", "this key app has no code yet"))?;
        let (request, logging_in) = appcode::login_start(code).map_err(code_error)?;
        let v: Value = self
            .post(
                "/api/app/v1/app-code/login/start",
                json!({ "device_id": device_id, "message": request, "unlock_token": self.state.unlock_token }),
            )
            .await?;
        let response = v["message"].as_str().unwrap_or_default();
        let remaining = v["remaining_if_wrong"].clone();
        let (finalization, export_key) = appcode::login_finish(logging_in, code, response).map_err(|e| {
            let mut e = code_error(e);
            e.body = json!({ "remaining": remaining });
            e
        })?;
        let v: Value = self
            .post(
                "/api/app/v1/app-code/login/finish",
                json!({ "device_id": device_id, "message": finalization, "unlock_token": self.state.unlock_token }),
            )
            .await?;
        if let Some(token) = v["unlock_token"].as_str() {
            self.state.unlock_token = Some(token.to_string());
        }
        let bytes = appcode::open(&export_key, &device_id, &sealed).map_err(code_error)?;
        self.key =
            Some(SigningKey::from_slice(&bytes).map_err(|_| ApiError::local("local", "the device key is damaged"))?);
        self.app_session = v["app_session"].as_str().map(str::to_string);
        Ok(())
    }

    /// Locks: forgets the key and ends the app session.
    pub async fn lock(&mut self) {
        if let Some(session) = self.app_session.take() {
            let _ = self
                .http
                .delete(self.url("/api/app/v1/app-code/session"))
                .header(HEADER_APP_SESSION, session)
                .send()
                .await;
        }
        if self.state.sealed_key.is_some() {
            self.key = None;
        }
    }

    /// "Glemt kode": with a fresh ticket and key-card key, the device gets a new key and `new_code`. Answers
    /// the seconds until it can approve again: a reset device waits out the activation wait.
    pub async fn forgot_code(&mut self, ticket: &str, key: &str, new_code: &str) -> Result<i64, ApiError> {
        noegle_proto::opaque::check_new_code(new_code).map_err(|e| ApiError::local("weak_code", e.to_string()))?;
        let device_id =
            self.state.device_id.clone().ok_or_else(|| ApiError::local("local", "this key app has no device yet"))?;
        let fresh = DeviceState::fresh_key();
        let body = json!({ "device_id": device_id, "ticket": ticket, "key": key, "public_key": public_key_of(&fresh) });
        let v: Value = self.post("/api/app/v1/app-code/forgot", body).await?;
        let reset = v["reset_token"].as_str().unwrap_or_default().to_string();
        self.key = Some(fresh);
        self.register_code(new_code, Some(&reset)).await?;
        Ok(v["ready_at"].as_i64().unwrap_or_default() - v["now"].as_i64().unwrap_or_default())
    }

    /// Deregisters this device on the server (the caller then deletes the app's data).
    pub async fn deregister(&mut self) -> Result<(), ApiError> {
        let _: Value = self.signed("DELETE", "/api/app/v1/device", None).await?;
        Ok(())
    }

    /// Pending requests ("Opdater").
    pub async fn requests(&mut self) -> Result<Vec<Request>, ApiError> {
        let v: Value = self.signed("GET", "/api/app/v1/requests", None).await?;
        serde_json::from_value(v["requests"].clone()).map_err(|e| ApiError::local("protocol", e.to_string()))
    }

    /// Approves or rejects a request; answers its new state.
    pub async fn decide(&mut self, r: &Request, answer: Answer<'_>) -> Result<String, ApiError> {
        let (decision, match_code, not_me) = match answer {
            Answer::Approve { match_code } => ("approve", match_code, false),
            Answer::Reject { not_me } => ("reject", None, not_me),
        };
        let body = json!({
            "decision": decision,
            "request_nonce": r.nonce, "client_id": r.client_id, "expires_at": r.expires_at,
            "match_code": match_code, "not_me": not_me,
        });
        let v: Value =
            self.signed("POST", &format!("/api/app/v1/requests/{}/decision", r.request_id), Some(body)).await?;
        Ok(v["state"].as_str().unwrap_or_default().to_string())
    }
}

/// What the user says to a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer<'a> {
    /// "Godkend", with the code typed from the log-in box (policy `type`) or shown (policy `show`).
    Approve {
        /// The match code.
        match_code: Option<&'a str>,
    },
    /// "AFVIS"; `not_me`: "Det var ikke mig".
    Reject {
        /// The user did not try to log in.
        not_me: bool,
    },
}

/// Reads the next event name from an open live channel (`None` when it closes). `buffer` keeps partial data
/// between calls.
pub async fn next_event(response: &mut reqwest::Response, buffer: &mut String) -> Option<String> {
    loop {
        if let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            if let Some(name) = block.lines().find_map(|l| l.strip_prefix("event:")) {
                return Some(name.trim().to_string());
            }
            continue;
        }
        let chunk = response.chunk().await.ok()??;
        buffer.push_str(&String::from_utf8_lossy(chunk.as_ref()));
    }
}
