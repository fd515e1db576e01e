//! What every app-API handler takes from a request before it does its work: a strict JSON body
//! ([`StrictJson`]), a device's verified signature ([`Signed`], with the device states the call allows as
//! a type), and an unlocked app ([`Unlocked`]); and the two look-ups calls before any signature share (a
//! ticket taken once, the active device an unsigned call names).

use std::marker::PhantomData;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, OriginalUri, Request};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use noegle_core::device::Unlock;
use noegle_core::device::{self, Device, DeviceAuthError, DeviceStatus};
use noegle_core::ticket;
use noegle_core::{Ctx, DeviceId};
use noegle_proto::signing::{HEADER_DEVICE, HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP, SignedRequest};
use serde::de::DeserializeOwned;

use super::ApiError;
use crate::client_addr::ClientAddr;
use crate::state::AppState;

/// Header carrying the app session of an unlocked app.
pub const HEADER_APP_SESSION: &str = "noegle-app-session";

/// Parses a JSON body strictly (content type `application/json`; the types refuse unknown fields).
pub(crate) fn parse<T: DeserializeOwned>(headers: &HeaderMap, body: &[u8]) -> Result<T, ApiError> {
    let json_type = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(';').next().is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json")));
    if !json_type {
        return Err(ApiError::not_json());
    }
    serde_json::from_slice(body).map_err(|e| ApiError::malformed(e.to_string()))
}

/// A JSON body, parsed strictly.
pub struct StrictJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for StrictJson<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Response> {
        let headers = req.headers().clone();
        let body = Bytes::from_request(req, state).await.map_err(IntoResponse::into_response)?;
        parse(&headers, &body).map(StrictJson).map_err(IntoResponse::into_response)
    }
}

/// The device states a signed call allows.
pub trait States: Send + Sync + 'static {
    /// The allowed states.
    const ALLOWED: &'static [DeviceStatus];
}

/// Only an active device.
pub struct Active;
impl States for Active {
    const ALLOWED: &'static [DeviceStatus] = &[DeviceStatus::Active];
}

/// Only a pending device (the second activation stage).
pub struct Pending;
impl States for Pending {
    const ALLOWED: &'static [DeviceStatus] = &[DeviceStatus::Pending];
}

/// A pending or an active device.
pub struct PendingOrActive;
impl States for PendingOrActive {
    const ALLOWED: &'static [DeviceStatus] = &[DeviceStatus::Pending, DeviceStatus::Active];
}

/// A call signed by a device in one of `S`'s states (see `noegle_proto::signing`): its signature, clock and
/// nonce checked before the handler runs. The body is read only after that, by [`Signed::json`].
pub struct Signed<S: States> {
    /// The device that signed.
    pub device: Device,
    /// Where the call came from (every audit event of the call names it).
    pub from: ClientAddr,
    headers: HeaderMap,
    body: Bytes,
    states: PhantomData<S>,
}

impl<S: States> Signed<S> {
    /// The flows' context for this call: now, the store, and the caller's address.
    pub fn ctx<'a>(&'a self, state: &'a AppState) -> Ctx<'a> {
        state.ctx(Some(self.from.as_str()))
    }

    /// The signed body as JSON of type `T`.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        parse(&self.headers, &self.body)
    }

    /// The app session the call names, if any.
    pub fn app_session(&self) -> Option<&str> {
        self.headers.get(HEADER_APP_SESSION).and_then(|v| v.to_str().ok())
    }

    /// How the app was unlocked, if the call names a live app session of this device; [`ApiError::locked`]
    /// otherwise.
    pub async fn unlocked(&self, state: &AppState) -> Result<Unlock, ApiError> {
        let token = self.app_session().ok_or_else(ApiError::locked)?;
        noegle_core::appcode::session_unlock(self.ctx(state), &self.device, token).await?.ok_or_else(ApiError::locked)
    }
}

impl<S: States> FromRequest<AppState> for Signed<S> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let from = ClientAddr::from_request_parts(&mut parts, state).await.map_err(IntoResponse::into_response)?;
        let req = Request::from_parts(parts, body);
        let method = req.method().clone();
        let uri = req.extensions().get::<OriginalUri>().map_or_else(|| req.uri().clone(), |o| o.0.clone());
        let headers = req.headers().clone();
        let body = Bytes::from_request(req, state).await.map_err(IntoResponse::into_response)?;
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| ApiError::from(DeviceAuthError::Unsigned(format!("the {name} header is missing"))))
        };
        let device = async {
            let timestamp = header(HEADER_TIMESTAMP)?
                .parse::<i64>()
                .map_err(|_| ApiError::from(DeviceAuthError::Unsigned("the timestamp is not a number".into())))?;
            let req = SignedRequest {
                method: method.as_str(),
                path_and_query: uri.path_and_query().map_or(uri.path(), |p| p.as_str()),
                device_id: header(HEADER_DEVICE)?,
                timestamp,
                nonce: header(HEADER_NONCE)?,
                body: &body,
            };
            let ctx = state.ctx(Some(from.as_str()));
            Ok::<_, ApiError>(device::authenticate(ctx, &req, header(HEADER_SIGNATURE)?, S::ALLOWED).await?)
        }
        .await
        .map_err(IntoResponse::into_response)?;
        Ok(Signed { device, from, headers, body, states: PhantomData })
    }
}

/// A signed call from an active device whose app is unlocked (a live app session of the device in the
/// [`HEADER_APP_SESSION`] header).
pub struct Unlocked {
    /// The signed call.
    pub call: Signed<Active>,
    /// How the app was unlocked.
    pub how: Unlock,
}

impl FromRequest<AppState> for Unlocked {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let call = Signed::<Active>::from_request(req, state).await?;
        let how = call.unlocked(state).await.map_err(IntoResponse::into_response)?;
        Ok(Unlocked { call, how })
    }
}

/// Takes a ticket: it works once.
pub(crate) async fn take_ticket(ctx: Ctx<'_>, secret: &str) -> Result<ticket::Ticket, ApiError> {
    ticket::take(ctx, secret).await?.ok_or_else(ApiError::ticket_expired)
}

/// The active device `device_id` of an unsigned call (unlocking: the device key is sealed under the code);
/// any other is answered as unknown.
pub(crate) async fn active_device(ctx: Ctx<'_>, device_id: &DeviceId) -> Result<Device, ApiError> {
    ctx.store
        .device(device_id)
        .await?
        .filter(|d| d.status == DeviceStatus::Active)
        .ok_or_else(|| ApiError::from(DeviceAuthError::UnknownDevice))
}
