//! Fingerprint unlock (R-APP4, R-APP6): one WebAuthn platform credential with user verification per device,
//! verified here with webauthn-rs. A verified assertion opens the same 5-minute app session as the code; a
//! device blocked by wrong codes stays blocked until "Glemt kode".

use axum::body::Bytes;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Json, Response};
use noegle_core::audit::AuditKind;
use noegle_core::device::{Device, DeviceStatus};
use serde::Deserialize;
use serde_json::json;
use webauthn_rs::prelude::{
    AuthenticatorAttachment, Passkey, PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, Url, Uuid, Webauthn, WebauthnBuilder,
};

use crate::api::{ApiError, code_device, parse, signed, unlocked};
use crate::state::AppState;

/// The attachment kind a device's credential is stored under.
const KIND: &str = "fingerprint";
/// Seconds a ceremony (registration or unlock) may take.
const CEREMONY_SECS: i64 = 300;

/// The relying party for `public_url`: its host is the RP id (`localhost` in tests), its origin the only one.
pub fn relying_party(public_url: &str) -> anyhow::Result<Webauthn> {
    let origin = Url::parse(public_url)?;
    let rp_id = origin.host_str().ok_or_else(|| anyhow::anyhow!("public_url {public_url} has no host"))?.to_string();
    Ok(WebauthnBuilder::new(&rp_id, &origin)?.rp_name("nøgle").build()?)
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::internal(e)
}

/// The relying party, or a clear refusal when fingerprint unlock is off on this server.
fn rp(state: &AppState) -> Result<&Webauthn, ApiError> {
    state.webauthn.as_deref().ok_or_else(|| {
        ApiError::new(
            StatusCode::CONFLICT,
            "fingerprint_unavailable",
            "fingerprint unlock needs the server's public URL to have a domain name",
        )
    })
}

/// Keeps a ceremony's state between its two calls (for [`CEREMONY_SECS`]).
async fn keep<T: serde::Serialize>(state: &AppState, key: &str, value: &T) -> Result<(), ApiError> {
    let saved = serde_json::to_string(value).map_err(internal)?;
    state.store.put_session(key, &saved, state.now().plus(CEREMONY_SECS)).await?;
    Ok(())
}

/// Takes a ceremony's state (once); `again` says what to do when it is gone or too old.
async fn take<T: serde::de::DeserializeOwned>(state: &AppState, key: &str, again: &str) -> Result<T, ApiError> {
    let saved = state.store.take_session(key, state.now()).await?.ok_or_else(|| refused(again))?;
    serde_json::from_str(&saved).map_err(internal)
}

fn refused(message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "fingerprint_refused", message)
}

/// `POST /api/app/v1/fingerprint/register/start` (signed, active, unlocked): the creation options.
pub async fn register_start(
    State(state): State<AppState>,
    method: Method,
    uri: OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let me = signed(&state, &method, &uri, &headers, &body, &[DeviceStatus::Active]).await?;
    unlocked(&state, &headers, &me).await?;
    let name = format!("nøgleapp {}", me.serial);
    let (mut options, registration) =
        rp(&state)?.start_passkey_registration(Uuid::new_v4(), &me.serial, &name, None).map_err(internal)?;
    // The phone's own sensor, not a roaming security key.
    if let Some(sel) = options.public_key.authenticator_selection.as_mut() {
        sel.authenticator_attachment = Some(AuthenticatorAttachment::Platform);
    }
    keep(&state, &format!("wr:{}", me.device_id), &registration).await?;
    Ok(Json(options).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegisterFinish {
    credential: RegisterPublicKeyCredential,
}

/// `POST /api/app/v1/fingerprint/register/finish` (signed, active, unlocked): stores the verified credential.
pub async fn register_finish(
    State(state): State<AppState>,
    method: Method,
    uri: OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let me = signed(&state, &method, &uri, &headers, &body, &[DeviceStatus::Active]).await?;
    unlocked(&state, &headers, &me).await?;
    let b: RegisterFinish = parse(&headers, &body)?;
    let registration: PasskeyRegistration =
        take(&state, &format!("wr:{}", me.device_id), "start the fingerprint registration again").await?;
    let passkey = rp(&state)?
        .finish_passkey_registration(&b.credential, &registration)
        .map_err(|e| refused(&format!("the fingerprint credential was not accepted: {e}")))?;
    let value = serde_json::to_string(&passkey).map_err(internal)?;
    state.store.set_attachment(&me.device_id, KIND, Some(&value)).await?;
    state.ctx(None).audit_device(AuditKind::FingerprintSet, &me, json!({})).await?;
    Ok(Json(json!({ "device_id": me.device_id, "fingerprint": true })).into_response())
}

/// `DELETE /api/app/v1/fingerprint` (signed, active): the device no longer unlocks with the fingerprint.
pub async fn remove(
    State(state): State<AppState>,
    method: Method,
    uri: OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let me = signed(&state, &method, &uri, &headers, &body, &[DeviceStatus::Active]).await?;
    state.store.set_attachment(&me.device_id, KIND, None).await?;
    state.ctx(None).audit_device(AuditKind::FingerprintRemoved, &me, json!({})).await?;
    Ok(Json(json!({ "device_id": me.device_id, "fingerprint": false })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginStart {
    device_id: String,
}

async fn passkey_of(state: &AppState, device: &Device) -> Result<Passkey, ApiError> {
    if noegle_core::appcode::blocked(state.ctx(None), device).await? {
        return Err(noegle_core::appcode::AppCodeError::Blocked.into());
    }
    let value =
        state.store.attachment(&device.device_id, KIND).await?.ok_or_else(|| {
            ApiError::new(StatusCode::CONFLICT, "no_fingerprint", "this device has no fingerprint set")
        })?;
    serde_json::from_str(&value).map_err(internal)
}

/// `POST /api/app/v1/fingerprint/login/start`: unlocking by fingerprint, step 1 (not signed, like the code).
pub async fn login_start(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let b: LoginStart = parse(&headers, &body)?;
    let device = code_device(&state, &b.device_id).await?;
    let passkey = passkey_of(&state, &device).await?;
    let (options, authentication) = rp(&state)?.start_passkey_authentication(&[passkey]).map_err(internal)?;
    keep(&state, &format!("wa:{}", device.device_id), &authentication).await?;
    Ok(Json(options).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginFinish {
    device_id: String,
    credential: PublicKeyCredential,
}

/// `POST /api/app/v1/fingerprint/login/finish`: a verified assertion (user verified) opens an app session.
pub async fn login_finish(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let b: LoginFinish = parse(&headers, &body)?;
    let device = code_device(&state, &b.device_id).await?;
    let mut passkey = passkey_of(&state, &device).await?;
    let authentication: PasskeyAuthentication =
        take(&state, &format!("wa:{}", device.device_id), "start the fingerprint unlock again").await?;
    let result = match rp(&state)?.finish_passkey_authentication(&b.credential, &authentication) {
        Ok(r) => r,
        Err(e) => {
            let reason = json!({ "reason": e.to_string() });
            state.ctx(None).audit_device(AuditKind::FingerprintRejected, &device, reason).await?;
            return Err(refused("the fingerprint was not verified; use the code"));
        }
    };
    if passkey.update_credential(&result) == Some(true) {
        let value = serde_json::to_string(&passkey).map_err(internal)?;
        state.store.set_attachment(&device.device_id, KIND, Some(&value)).await?;
    }
    let (token, secs) = noegle_core::appcode::open_session(
        state.ctx(None),
        &mut rand::rngs::OsRng,
        &device,
        noegle_core::appcode::Unlock::Fingerprint,
    )
    .await?;
    Ok(Json(json!({ "app_session": token, "expires_in": secs })).into_response())
}
