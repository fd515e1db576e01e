//! The OpenID Connect provider: discovery, JWKS, authorize, token, userinfo (I-OIDC). Code flow only,
//! exact redirect URIs, PKCE S256, single-use 60-second codes, RFC 9207 `iss`.

use std::collections::HashMap;

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Json, Redirect, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use noegle_core::ClientId;
use noegle_core::grants::{Grant, TokenError, TokenRequest, exchange_code, userinfo as core_userinfo};
use noegle_core::oauth::ErrorCode;
use noegle_core::oidc::{Amr, AuthorizeError, ID_TOKEN_TTL_SECS, PendingAuthorization, Scope, authorization_request};
use noegle_core::user::User;
use serde::Serialize;
use serde_json::{Value, json};

use crate::client_addr::ClientAddr;
use crate::error::{AppError, OAuthError};
use crate::form::Form;
use crate::pages::redirect_with;
use crate::session::{self, LoginSession, Step};
use crate::state::AppState;

/// `GET /.well-known/openid-configuration`.
pub async fn discovery(State(state): State<AppState>) -> Json<Value> {
    let iss = &state.config.public_url;
    Json(json!({
        "issuer": iss,
        "authorization_endpoint": format!("{iss}/authorize"),
        "token_endpoint": format!("{iss}/token"),
        "userinfo_endpoint": format!("{iss}/userinfo"),
        "jwks_uri": format!("{iss}/jwks"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "scopes_supported": ["openid", "profile"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "amr", "name", "preferred_username"],
        "authorization_response_iss_parameter_supported": true,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "ui_locales_supported": ["da", "en"],
    }))
}

/// `GET /jwks`.
pub async fn jwks(State(state): State<AppState>) -> Json<Value> {
    Json(state.signer.jwks(state.now()))
}

fn parse_params(raw: &str) -> Result<HashMap<String, String>, AppError> {
    let mut params = HashMap::new();
    for (k, v) in url::form_urlencoded::parse(raw.as_bytes()) {
        if params.insert(k.to_string(), v.to_string()).is_some() {
            return Err(AppError::InvalidAuthorization(format!("the parameter {k} is given more than once")));
        }
    }
    Ok(params)
}

/// `GET /authorize`: checks the request and opens the log-in box. Problems with the client or its redirect URI
/// are shown here (never redirected); every other problem goes back to the client as an OAuth error.
pub async fn authorize(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, AppError> {
    let params = parse_params(raw.as_deref().unwrap_or(""))?;
    let p = |k: &str| params.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let client = match p("client_id") {
        Some(id) => state.store.client(&ClientId::from(id)).await?,
        None => None,
    };
    let authz = match authorization_request(client.as_ref(), p) {
        Ok(authz) => authz,
        Err(AuthorizeError::Shown(why)) => return Err(AppError::InvalidAuthorization(why.into())),
        Err(AuthorizeError::Redirected { authz, error, description }) => {
            return Ok(redirect_error(&state, &authz, error, description));
        }
    };
    let old = session::load(&state, &headers).await?.map(|l| l.id);
    let data = LoginSession { csrf: session::new_csrf(), authz, step: Step::Password };
    // Nothing is stored until the first form post: the log-in waits in the browser's cookie, sealed.
    let cookie = session::start_sealed(&state, old.as_deref(), &data).await?;
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to("/login")).into_response())
}

/// An authorization error sent back to the client's redirect URI (RFC 6749 §4.1.2.1).
fn redirect_error(state: &AppState, authz: &PendingAuthorization, error: ErrorCode, description: &str) -> Response {
    let target = redirect_with(state, authz, &[("error", error.as_str()), ("error_description", description)]);
    Redirect::to(&target).into_response()
}

/// Client credentials from `Authorization: Basic` (RFC 6749 §2.3.1: each part form-urlencoded).
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, &'static str> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| "malformed Authorization header")?;
    let Some(b64) = value.strip_prefix("Basic ").or_else(|| value.strip_prefix("basic ")) else {
        return Err("only Basic client authentication is accepted in the Authorization header");
    };
    let decoded = STANDARD.decode(b64.trim()).map_err(|_| "malformed Basic credentials")?;
    let text = String::from_utf8(decoded).map_err(|_| "malformed Basic credentials")?;
    let (id, secret) = text.split_once(':').ok_or("malformed Basic credentials")?;
    let decode = |s: &str| url::form_urlencoded::parse(format!("x={s}").as_bytes()).next().map(|(_, v)| v.to_string());
    Ok(Some((decode(id).unwrap_or_default(), decode(secret).unwrap_or_default())))
}

/// `POST /token`: code → access token + ID token.
pub async fn token(
    State(state): State<AppState>,
    from: ClientAddr,
    headers: HeaderMap,
    form: Result<Form, AppError>,
) -> Response {
    match issue_tokens(&state, &from, &headers, form).await {
        Ok(body) => {
            metrics::counter!("noegle_token_requests_total", "result" => "issued").increment(1);
            no_store(Json(body).into_response())
        }
        Err(e) => e.into_response(),
    }
}

/// The token endpoint's answer (RFC 6749 §5.1, OpenID Connect Core §3.1.3.3).
#[derive(Serialize)]
struct TokenResponse {
    access_token: String,
    token_type: &'static str,
    expires_in: i64,
    id_token: String,
    scope: Scope,
}

/// Redeems the code of a token request and signs the ID token.
async fn issue_tokens(
    state: &AppState,
    from: &ClientAddr,
    headers: &HeaderMap,
    form: Result<Form, AppError>,
) -> Result<TokenResponse, OAuthError> {
    let req = token_request(headers, form)?;
    let grant = exchange_code(state.ctx(Some(from.as_str())), &mut rand::rngs::OsRng, &req).await.map_err(|e| {
        metrics::counter!("noegle_token_requests_total", "result" => e.code()).increment(1);
        OAuthError::from(e)
    })?;
    let id_token = sign_id_token(state, &grant).map_err(|e| {
        tracing::error!(error = %e, "the ID token could not be signed");
        OAuthError::new(ErrorCode::ServerError, "the ID token could not be signed")
    })?;
    let (access_token, expires_in, scope) = (grant.access_token, grant.expires_in, grant.code.scope);
    Ok(TokenResponse { access_token, token_type: "Bearer", expires_in, id_token, scope })
}

/// The signed ID token of a grant.
fn sign_id_token(state: &AppState, grant: &Grant) -> anyhow::Result<String> {
    state.signer.sign(&serde_json::to_value(IdTokenClaims::of(state, grant))?, state.now())
}

/// The token request of a form and its client authentication (Basic or in the form, never both).
fn token_request(headers: &HeaderMap, form: Result<Form, AppError>) -> Result<TokenRequest, OAuthError> {
    let bad = |why: String| OAuthError::new(ErrorCode::InvalidRequest, why);
    let form = match form {
        Ok(f) => f,
        Err(AppError::TooLarge) => {
            return Err(bad("request body too large".into()).with_status(StatusCode::PAYLOAD_TOO_LARGE));
        }
        Err(e) => return Err(bad(e.to_string())),
    };
    let basic = basic_credentials(headers).map_err(|why| OAuthError::new(ErrorCode::InvalidClient, why))?;
    let get = |k: &str| form.get(k).filter(|v| !v.is_empty()).map(str::to_string);
    let (client_id, client_secret) = match basic {
        Some(_) if form.get("client_secret").is_some() => {
            return Err(bad("use one client authentication method, not two".into()));
        }
        Some((id, _)) if get("client_id").is_some_and(|f| f != id) => {
            return Err(bad("client_id differs from the authenticated client".into()));
        }
        Some((id, secret)) => (Some(id), Some(secret)),
        None => (get("client_id"), get("client_secret")),
    };
    Ok(TokenRequest {
        grant_type: get("grant_type"),
        code: get("code"),
        redirect_uri: get("redirect_uri"),
        code_verifier: get("code_verifier"),
        client_id,
        client_secret,
    })
}

/// The `profile` claims: the user's name and user ID, given only when `profile` was granted — the one
/// rule the ID token and userinfo share.
#[derive(Serialize)]
struct ProfileClaims {
    name: String,
    preferred_username: String,
}

impl ProfileClaims {
    fn granted(user: &User, scope: Scope) -> Option<ProfileClaims> {
        let (name, preferred_username) = (user.display_name.clone(), user.user_id.to_string());
        scope.profile.then_some(ProfileClaims { name, preferred_username })
    }
}

/// The ID token's claims for a grant: who, for whom, when, how (`amr`), the client's nonce, and the
/// [`ProfileClaims`].
#[derive(Serialize)]
struct IdTokenClaims {
    iss: String,
    sub: String,
    aud: String,
    iat: i64,
    exp: i64,
    auth_time: i64,
    amr: Vec<Amr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<String>,
    #[serde(flatten)]
    profile: Option<ProfileClaims>,
}

impl IdTokenClaims {
    fn of(state: &AppState, grant: &Grant) -> IdTokenClaims {
        let (user, code, now) = (&grant.user, &grant.code, state.now());
        IdTokenClaims {
            iss: state.config.public_url.clone(),
            sub: user.sub.clone(),
            aud: grant.client.client_id.to_string(),
            iat: now.0,
            exp: now.plus(ID_TOKEN_TTL_SECS).0,
            auth_time: code.auth_time.0,
            amr: code.amr.clone(),
            nonce: code.nonce.clone(),
            profile: ProfileClaims::granted(user, code.scope),
        }
    }
}

/// Marks a response that holds tokens or personal data as not to be cached.
fn no_store(mut r: Response) -> Response {
    r.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    r
}

/// `GET|POST /userinfo` with `Authorization: Bearer`.
pub async fn userinfo(State(state): State<AppState>, from: ClientAddr, headers: HeaderMap) -> Response {
    match user_info(&state, &from, &headers).await {
        Ok(body) => no_store(Json(body).into_response()),
        Err(e) => e.into_response(),
    }
}

/// The userinfo answer: `sub` and the [`ProfileClaims`].
#[derive(Serialize)]
struct UserInfo {
    sub: String,
    #[serde(flatten)]
    profile: Option<ProfileClaims>,
}

/// The user of the request's access token.
async fn user_info(state: &AppState, from: &ClientAddr, headers: &HeaderMap) -> Result<UserInfo, OAuthError> {
    let invalid = |why: &'static str| OAuthError::new(ErrorCode::InvalidToken, why);
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .ok_or_else(|| invalid("a Bearer access token is required"))?;
    match core_userinfo(state.ctx(Some(from.as_str())), token.trim()).await {
        Ok(Some((user, grant))) => Ok(UserInfo { profile: ProfileClaims::granted(&user, grant.scope), sub: user.sub }),
        Ok(None) => Err(invalid("the access token is unknown, expired or revoked")),
        Err(e) => Err(TokenError::from(e).into()),
    }
}
