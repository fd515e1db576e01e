//! Fingerprint unlock (R-APP4, R-APP6): one WebAuthn platform credential with user verification per device,
//! verified here with webauthn-rs. A verified assertion opens the same 5-minute app session as the code; a
//! device blocked by wrong codes stays blocked until "Glemt kode".

use axum::extract::State;
use axum::response::Json;
use noegle_core::audit::AuditKind;
use noegle_core::device::Device;
use noegle_core::session_key::SessionKey;
use noegle_proto::api::v1 as wire;
use webauthn_rs::prelude::{
    AuthenticatorAttachment, CreationChallengeResponse, Passkey, PasskeyAuthentication, PasskeyRegistration,
    PublicKeyCredential, RegisterPublicKeyCredential, RequestChallengeResponse, Url, Uuid, Webauthn, WebauthnBuilder,
};

use super::ApiError;
use super::code::active_device;
use super::extract::{Active, Signed, StrictJson, Unlocked};
use super::openapi::{BodyRefused, Refused, Unavailable};
use crate::state::AppState;

/// The attachment kind a device's credential is stored under.
const KIND: &str = "fingerprint";
/// Seconds a ceremony (registration or unlock) may take.
const CEREMONY_SECS: i64 = 300;

/// The relying party for `public_url`: its host is the RP id (`localhost` in tests), its origin the only one.
pub fn relying_party(public_url: &str) -> anyhow::Result<Webauthn> {
    let origin = Url::parse(public_url)?;
    // WebAuthn has no relying party on an IP address; asked anyway, webauthn-rs logs an error of its own.
    let Some(rp_id) = origin.domain().map(str::to_string) else {
        anyhow::bail!("public_url {public_url} has no domain name; WebAuthn needs one");
    };
    Ok(WebauthnBuilder::new(&rp_id, &origin)?.rp_name("nøgle").build()?)
}

/// The relying party, or a clear refusal when fingerprint unlock is off on this server.
fn rp(state: &AppState) -> Result<&Webauthn, ApiError> {
    state.webauthn.as_deref().ok_or_else(ApiError::fingerprint_unavailable)
}

/// Keeps a ceremony's state between its two calls (for [`CEREMONY_SECS`]).
async fn keep<T: serde::Serialize>(state: &AppState, key: &SessionKey, value: &T) -> Result<(), ApiError> {
    let saved = serde_json::to_string(value).map_err(ApiError::internal)?;
    state.store.put_session(key, &saved, state.now().plus(CEREMONY_SECS)).await?;
    Ok(())
}

/// Takes a ceremony's state (once); `again` says what to do when it is gone or too old.
async fn take<T: serde::de::DeserializeOwned>(state: &AppState, key: &SessionKey, again: &str) -> Result<T, ApiError> {
    let saved =
        state.store.take_session(key, state.now()).await?.ok_or_else(|| ApiError::fingerprint_refused(again))?;
    serde_json::from_str(&saved).map_err(ApiError::internal)
}

/// `POST /api/app/v1/fingerprint/register/start` (signed, active, unlocked): the creation options.
#[utoipa::path(
    post,
    path = "/api/app/v1/fingerprint/register/start",
    params(super::openapi::SignatureHeaders, super::openapi::AppSessionHeader),
    request_body = super::openapi::NoFields,
    responses((status = 200, body = Object, description = "{ publicKey: PublicKeyCredentialCreationOptions }: WebAuthn options as webauthn-rs gives them (binary fields base64url)"), BodyRefused, Refused<401>, Unavailable)
)]
pub async fn register_start(
    State(state): State<AppState>,
    app: Unlocked,
) -> Result<Json<CreationChallengeResponse>, ApiError> {
    let me = &app.call.device;
    let name = format!("nøgleapp {}", me.serial);
    let (mut options, registration) =
        rp(&state)?.start_passkey_registration(Uuid::new_v4(), &me.serial, &name, None).map_err(ApiError::internal)?;
    // The phone's own sensor, not a roaming security key.
    if let Some(sel) = options.public_key.authenticator_selection.as_mut() {
        sel.authenticator_attachment = Some(AuthenticatorAttachment::Platform);
    }
    keep(&state, &SessionKey::fingerprint_registration(&me.device_id), &registration).await?;
    Ok(Json(options))
}

/// `POST /api/app/v1/fingerprint/register/finish` (signed, active, unlocked): stores the verified credential.
#[utoipa::path(
    post,
    path = "/api/app/v1/fingerprint/register/finish",
    params(super::openapi::SignatureHeaders, super::openapi::AppSessionHeader),
    request_body = wire::FingerprintRegister<wire::webauthn::RegistrationCredential>,
    responses((status = 200, description = "OK", body = wire::Fingerprint), BodyRefused, Refused<401>, Unavailable)
)]
pub async fn register_finish(
    State(state): State<AppState>,
    app: Unlocked,
) -> Result<Json<wire::Fingerprint>, ApiError> {
    let me = &app.call.device;
    let b: wire::FingerprintRegister<RegisterPublicKeyCredential> = app.call.json()?;
    let again = "start the fingerprint registration again";
    let registration: PasskeyRegistration =
        take(&state, &SessionKey::fingerprint_registration(&me.device_id), again).await?;
    let passkey = rp(&state)?
        .finish_passkey_registration(&b.credential, &registration)
        .map_err(|e| ApiError::fingerprint_refused(&format!("the fingerprint credential was not accepted: {e}")))?;
    let value = serde_json::to_string(&passkey).map_err(ApiError::internal)?;
    state.store.set_attachment(&me.device_id, KIND, Some(&value)).await?;
    state.ctx(None).audit_device(AuditKind::FingerprintSet, me, no_facts()).await?;
    Ok(Json(wire::Fingerprint { device_id: me.device_id.clone(), fingerprint: true }))
}

/// `DELETE /api/app/v1/fingerprint` (signed, active): the device no longer unlocks with the fingerprint.
#[utoipa::path(
    delete,
    path = "/api/app/v1/fingerprint",
    params(super::openapi::SignatureHeaders),
    responses((status = 200, description = "OK", body = wire::Fingerprint), Refused<401>, Unavailable)
)]
pub async fn remove(State(state): State<AppState>, call: Signed<Active>) -> Result<Json<wire::Fingerprint>, ApiError> {
    let me = &call.device;
    state.store.set_attachment(&me.device_id, KIND, None).await?;
    state.ctx(None).audit_device(AuditKind::FingerprintRemoved, me, no_facts()).await?;
    Ok(Json(wire::Fingerprint { device_id: me.device_id.clone(), fingerprint: false }))
}

/// An audit event's facts when the kind says it all.
fn no_facts() -> serde_json::Value {
    serde_json::Value::Object(serde_json::Map::new())
}

/// An audit event's facts: why a fingerprint was not verified.
fn refused_because(why: String) -> serde_json::Value {
    serde_json::Value::Object(serde_json::Map::from_iter([("reason".to_string(), serde_json::Value::String(why))]))
}

async fn passkey_of(state: &AppState, device: &Device) -> Result<Passkey, ApiError> {
    if noegle_core::appcode::blocked(state.ctx(None), device).await? {
        return Err(noegle_core::appcode::AppCodeError::Blocked.into());
    }
    let value = state.store.attachment(&device.device_id, KIND).await?.ok_or_else(ApiError::no_fingerprint)?;
    serde_json::from_str(&value).map_err(ApiError::internal)
}

/// `POST /api/app/v1/fingerprint/login/start`: unlocking by fingerprint, step 1 (not signed, like the code).
#[utoipa::path(
    post,
    path = "/api/app/v1/fingerprint/login/start",
    request_body = wire::FingerprintLoginStart,
    responses((status = 200, body = Object, description = "{ publicKey: PublicKeyCredentialRequestOptions }: WebAuthn options as webauthn-rs gives them (binary fields base64url)"), BodyRefused, Refused<401, 403, 409, 429>, Unavailable)
)]
pub async fn login_start(
    State(state): State<AppState>,
    StrictJson(b): StrictJson<wire::FingerprintLoginStart>,
) -> Result<Json<RequestChallengeResponse>, ApiError> {
    let device = active_device(&state, &b.device_id).await?;
    let passkey = passkey_of(&state, &device).await?;
    let (options, authentication) = rp(&state)?.start_passkey_authentication(&[passkey]).map_err(ApiError::internal)?;
    keep(&state, &SessionKey::fingerprint_login(&device.device_id), &authentication).await?;
    Ok(Json(options))
}

/// `POST /api/app/v1/fingerprint/login/finish`: a verified assertion (user verified) opens an app session.
#[utoipa::path(
    post,
    path = "/api/app/v1/fingerprint/login/finish",
    request_body = wire::FingerprintLogin<wire::webauthn::AssertionCredential>,
    responses((status = 200, description = "OK", body = wire::AppSession), BodyRefused, Refused<401, 403, 409>, Unavailable)
)]
pub async fn login_finish(
    State(state): State<AppState>,
    StrictJson(b): StrictJson<wire::FingerprintLogin<PublicKeyCredential>>,
) -> Result<Json<wire::AppSession>, ApiError> {
    let device = active_device(&state, &b.device_id).await?;
    let mut passkey = passkey_of(&state, &device).await?;
    let again = "start the fingerprint unlock again";
    let authentication: PasskeyAuthentication =
        take(&state, &SessionKey::fingerprint_login(&device.device_id), again).await?;
    let result = match rp(&state)?.finish_passkey_authentication(&b.credential, &authentication) {
        Ok(r) => r,
        Err(e) => {
            let reason = refused_because(e.to_string());
            state.ctx(None).audit_device(AuditKind::FingerprintRejected, &device, reason).await?;
            return Err(ApiError::fingerprint_refused("the fingerprint was not verified; use the code"));
        }
    };
    if passkey.update_credential(&result) == Some(true) {
        let value = serde_json::to_string(&passkey).map_err(ApiError::internal)?;
        state.store.set_attachment(&device.device_id, KIND, Some(&value)).await?;
    }
    let (app_session, expires_in) = noegle_core::appcode::open_session(
        state.ctx(None),
        &mut rand::rngs::OsRng,
        &device,
        noegle_core::device::Unlock::Fingerprint,
    )
    .await?;
    Ok(Json(wire::AppSession { app_session, expires_in, unlock_token: None }))
}
