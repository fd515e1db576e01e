//! Calls to the app API. After activation starts every call is signed with the device key; the timestamp
//! follows the server's clock (learned from `/api/app/v1/time`), so a phone with a wrong clock still works.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use noegle_proto::api::v1 as wire;
use noegle_proto::api::v1::{ErrorBody, ErrorCode};
use noegle_proto::signing::{HEADER_DEVICE, HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP, SignedRequest};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use rand::RngCore;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::appcode::{self, CodeError};
use crate::state::DeviceState;

/// A call with no body.
const NO_BODY: Option<&()> = None;

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
    /// The server's whole error body, when it gave one.
    pub body: Option<Box<ErrorBody>>,
}

impl ApiError {
    fn local(code: &str, message: impl Into<String>) -> ApiError {
        ApiError { status: 0, code: code.into(), message: message.into(), body: None }
    }

    /// Wrong codes left before the device is blocked, when a code was wrong.
    pub fn remaining(&self) -> Option<i64> {
        self.body.as_ref().and_then(|b| b.remaining)
    }
}

pub use noegle_proto::api::v1::{About, Device as DeviceInfo, KeyAsked, PendingRequest as Request, Ticket};

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
        let bytes = r.bytes().await.unwrap_or_default();
        if (200..300).contains(&status) {
            // A call answered with no content reads as JSON `null`.
            let bytes = if bytes.is_empty() { &b"null"[..] } else { &bytes[..] };
            return serde_json::from_slice(bytes)
                .map_err(|e| ApiError::local("protocol", format!("unexpected answer: {e}")));
        }
        let body: Option<Box<ErrorBody>> = serde_json::from_slice(&bytes).ok();
        let code = body.as_ref().and_then(|b| serde_json::to_value(b.error).ok());
        Err(ApiError {
            status,
            code: code.as_ref().and_then(|c| c.as_str()).unwrap_or("error").to_string(),
            message: body.as_ref().map_or("the server refused", |b| b.message.as_str()).to_string(),
            body,
        })
    }

    async fn post<T: DeserializeOwned>(&self, path: &str, body: &impl Serialize) -> Result<T, ApiError> {
        Self::read(self.http.post(self.url(path)).json(body).send().await).await
    }

    /// The server's time, as this device should sign with it.
    async fn now(&mut self) -> Result<i64, ApiError> {
        if self.offset.is_none() {
            let t: wire::Time = Self::read(self.http.get(self.url("/api/app/v1/time")).send().await).await?;
            self.offset = Some(t.now - (self.local_now)());
        }
        Ok((self.local_now)() + self.offset.unwrap_or(0))
    }

    /// Builds a signed request.
    async fn signed_request(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&impl Serialize>,
    ) -> Result<reqwest::RequestBuilder, ApiError> {
        let device_id =
            self.state.device_id.clone().ok_or_else(|| ApiError::local("local", "this key app has no device yet"))?;
        let bytes = match body {
            Some(b) => serde_json::to_vec(b).map_err(|e| ApiError::local("local", e.to_string()))?,
            None => Vec::new(),
        };
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
        body: Option<&impl Serialize>,
    ) -> Result<T, ApiError> {
        let r = self.signed_request(method, path, body).await?;
        Self::read(r.send().await).await
    }

    /// Opens the live channel (signed); read it with [`next_event`].
    pub async fn open_events(&mut self) -> Result<reqwest::Response, ApiError> {
        let r = self.signed_request("GET", "/api/app/v1/events", NO_BODY).await?;
        let response =
            r.send().await.map_err(|e| ApiError::local("network", format!("cannot reach the server: {e}")))?;
        if !response.status().is_success() {
            return Self::read::<wire::ErrorBody>(Ok(response))
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
            let r = self.signed_request("GET", "/api/app/v1/events", NO_BODY).await?;
            let mut response =
                r.send().await.map_err(|e| ApiError::local("network", format!("cannot reach the server: {e}")))?;
            if !response.status().is_success() {
                return Self::read::<wire::ErrorBody>(Ok(response)).await.map(|_| ());
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
        let body = wire::Login { user_id: user_id.into(), password: password.into() };
        self.post("/api/app/v1/login", &body).await
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
        let body = wire::StartActivation {
            ticket: ticket.into(),
            key: key.into(),
            public_key,
            platform: platform.into(),
            os_version: os_version.into(),
            name: name.into(),
        };
        let d: DeviceInfo = self.post("/api/app/v1/activation", &body).await?;
        self.remember(&d);
        Ok(d)
    }

    /// Activation, second stage: after the wait, a second ticket and key.
    pub async fn complete_activation(&mut self, ticket: &str, key: &str) -> Result<DeviceInfo, ApiError> {
        let body = wire::CompleteActivation { ticket: ticket.into(), key: key.into() };
        let d: DeviceInfo = self.signed("POST", "/api/app/v1/activation/complete", Some(&body)).await?;
        self.remember(&d);
        Ok(d)
    }

    /// The device as the server sees it.
    pub async fn device(&mut self) -> Result<DeviceInfo, ApiError> {
        let d: DeviceInfo = self.signed("GET", "/api/app/v1/device", NO_BODY).await?;
        self.remember(&d);
        Ok(d)
    }

    fn remember(&mut self, d: &DeviceInfo) {
        self.state.device_id = Some(d.device_id.clone());
        self.state.serial = Some(d.serial.clone());
        self.state.status = Some(d.status.as_str().to_string());
        self.state.ready_at = Some(d.ready_at);
    }

    /// Registers `code` (already checked against the blocklist) and seals the device key under it; with a
    /// reset token after "Glemt kode", or from an unlocked app to change the code.
    async fn register_code(&mut self, code: &str, reset_token: Option<&str>) -> Result<(), ApiError> {
        noegle_proto::opaque::check_new_code(code).map_err(|e| ApiError::local("weak_code", e.to_string()))?;
        let (request, registering) = appcode::register_start(code).map_err(code_error)?;
        let started: wire::OpaqueMessage = self
            .signed("POST", "/api/app/v1/app-code/register/start", Some(&wire::OpaqueMessage { message: request }))
            .await?;
        let (upload, export_key) = appcode::register_finish(registering, code, &started.message).map_err(code_error)?;
        let body = wire::RegisterCode { message: upload, reset_token: reset_token.map(str::to_string) };
        let set: wire::CodeSet = self.signed("POST", "/api/app/v1/app-code/register/finish", Some(&body)).await?;
        self.state.unlock_token = Some(set.unlock_token);
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
        let step = |message| wire::CodeLogin {
            device_id: device_id.clone(),
            message,
            unlock_token: self.state.unlock_token.clone(),
        };
        let started: wire::LoginStarted = self.post("/api/app/v1/app-code/login/start", &step(request)).await?;
        let (finalization, export_key) = appcode::login_finish(logging_in, code, &started.message).map_err(|e| {
            let mut e = code_error(e);
            let mut body = ErrorBody::new(ErrorCode::WrongCode, e.message.clone());
            body.remaining = Some(started.remaining_if_wrong);
            e.body = Some(Box::new(body));
            e
        })?;
        let session: wire::AppSession = self.post("/api/app/v1/app-code/login/finish", &step(finalization)).await?;
        if let Some(token) = session.unlock_token {
            self.state.unlock_token = Some(token);
        }
        let bytes = appcode::open(&export_key, &device_id, &sealed).map_err(code_error)?;
        self.key =
            Some(SigningKey::from_slice(&bytes).map_err(|_| ApiError::local("local", "the device key is damaged"))?);
        self.app_session = Some(session.app_session);
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
        let body =
            wire::Forgot { device_id, ticket: ticket.into(), key: key.into(), public_key: public_key_of(&fresh) };
        let reset: wire::CodeReset = self.post("/api/app/v1/app-code/forgot", &body).await?;
        self.key = Some(fresh);
        self.register_code(new_code, Some(&reset.reset_token)).await?;
        Ok(reset.ready_at - reset.now)
    }

    /// Deregisters this device on the server (the caller then deletes the app's data).
    pub async fn deregister(&mut self) -> Result<(), ApiError> {
        let _: wire::DeviceEnded = self.signed("DELETE", "/api/app/v1/device", NO_BODY).await?;
        Ok(())
    }

    /// Pending requests ("Opdater").
    pub async fn requests(&mut self) -> Result<Vec<Request>, ApiError> {
        let listed: wire::Requests = self.signed("GET", "/api/app/v1/requests", NO_BODY).await?;
        Ok(listed.requests)
    }

    /// Approves or rejects a request; answers its new state.
    pub async fn decide(&mut self, r: &Request, answer: Answer<'_>) -> Result<String, ApiError> {
        let (decision, match_code, not_me) = match answer {
            Answer::Approve { match_code } => (wire::Verdict::Approve, match_code, false),
            Answer::Reject { not_me } => (wire::Verdict::Reject, None, not_me),
        };
        let body = wire::Decision {
            decision,
            request_nonce: r.nonce.clone(),
            client_id: r.client_id.clone(),
            expires_at: r.expires_at,
            match_code: match_code.map(str::to_string),
            not_me,
        };
        let path = format!("/api/app/v1/requests/{}/decision", r.request_id);
        let decided: wire::Decided = self.signed("POST", &path, Some(&body)).await?;
        Ok(decided.state.as_str().to_string())
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
