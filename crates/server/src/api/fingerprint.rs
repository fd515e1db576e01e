//! Fingerprint unlock (R-APP4, R-APP6): one WebAuthn platform credential with user verification per device,
//! verified here with webauthn-rs. A verified assertion opens the same 5-minute app session as the code; a
//! device blocked by wrong codes stays blocked until "Glemt kode".

use axum::extract::State;
use axum::response::Json;
use noegle_core::DeviceId;
use noegle_core::fingerprint::{self, Ceremony};
use noegle_proto::api::v1 as wire;
use webauthn_rs::prelude::{
    AuthenticatorAttachment, CreationChallengeResponse, Passkey, PasskeyAuthentication, PasskeyRegistration,
    PublicKeyCredential, RegisterPublicKeyCredential, RequestChallengeResponse, Url, Uuid, Webauthn, WebauthnBuilder,
};

use super::ApiError;
use super::extract::{Active, Signed, StrictJson, Unlocked, active_device};
use super::openapi::{BodyRefused, Refused, Unavailable};
use crate::client_addr::ClientAddr;
use crate::state::AppState;

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

/// webauthn-rs's state or credential as the JSON the core flow keeps.
fn to_json<T: serde::Serialize>(value: &T) -> Result<String, ApiError> {
    serde_json::to_string(value).map_err(ApiError::internal)
}

/// What the core flow kept, read back as webauthn-rs's type.
fn from_json<T: serde::de::DeserializeOwned>(saved: &str) -> Result<T, ApiError> {
    serde_json::from_str(saved).map_err(ApiError::internal)
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
    fingerprint::begin(app.call.ctx(&state), Ceremony::Enrol, me, &to_json(&registration)?).await?;
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
    let (me, ctx) = (&app.call.device, app.call.ctx(&state));
    let b: wire::FingerprintRegister<RegisterPublicKeyCredential> = app.call.json()?;
    let registration: PasskeyRegistration = from_json(&fingerprint::resume(ctx, Ceremony::Enrol, me).await?)?;
    let passkey = rp(&state)?
        .finish_passkey_registration(&b.credential, &registration)
        .map_err(|e| ApiError::fingerprint_refused(&format!("the fingerprint credential was not accepted: {e}")))?;
    fingerprint::enrol(ctx, me, &to_json(&passkey)?).await?;
    Ok(Json(wire::Fingerprint { device_id: me.device_id.to_string(), fingerprint: true }))
}

/// `DELETE /api/app/v1/fingerprint` (signed, active): the device no longer unlocks with the fingerprint.
#[utoipa::path(
    delete,
    path = "/api/app/v1/fingerprint",
    params(super::openapi::SignatureHeaders),
    responses((status = 200, description = "OK", body = wire::Fingerprint), Refused<401>, Unavailable)
)]
pub async fn remove(State(state): State<AppState>, call: Signed<Active>) -> Result<Json<wire::Fingerprint>, ApiError> {
    fingerprint::remove(call.ctx(&state), &call.device).await?;
    Ok(Json(wire::Fingerprint { device_id: call.device.device_id.into(), fingerprint: false }))
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
    from: ClientAddr,
    StrictJson(b): StrictJson<wire::FingerprintLoginStart>,
) -> Result<Json<RequestChallengeResponse>, ApiError> {
    let ctx = state.ctx(Some(from.as_str()));
    let device = active_device(ctx, &DeviceId::from(b.device_id.as_str())).await?;
    let passkey: Passkey = from_json(&fingerprint::credential(ctx, &device).await?)?;
    let (options, authentication) = rp(&state)?.start_passkey_authentication(&[passkey]).map_err(ApiError::internal)?;
    fingerprint::begin(ctx, Ceremony::Unlock, &device, &to_json(&authentication)?).await?;
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
    from: ClientAddr,
    StrictJson(b): StrictJson<wire::FingerprintLogin<PublicKeyCredential>>,
) -> Result<Json<wire::AppSession>, ApiError> {
    let ctx = state.ctx(Some(from.as_str()));
    let device = active_device(ctx, &DeviceId::from(b.device_id.as_str())).await?;
    let mut passkey: Passkey = from_json(&fingerprint::credential(ctx, &device).await?)?;
    let authentication: PasskeyAuthentication = from_json(&fingerprint::resume(ctx, Ceremony::Unlock, &device).await?)?;
    let verified = rp(&state)?.finish_passkey_authentication(&b.credential, &authentication);
    let result = match verified {
        Ok(r) => r,
        Err(e) => {
            fingerprint::refused(ctx, &device, &e.to_string()).await?;
            return Err(ApiError::fingerprint_refused("the fingerprint was not verified; use the code"));
        }
    };
    let updated = (passkey.update_credential(&result) == Some(true)).then(|| to_json(&passkey)).transpose()?;
    let rng = &mut rand::rngs::OsRng;
    let (app_session, expires_in) = fingerprint::unlocked(ctx, rng, &device, updated.as_deref()).await?;
    Ok(Json(wire::AppSession { app_session, expires_in, unlock_token: None }))
}
