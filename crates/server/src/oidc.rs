//! The OpenID Connect provider: discovery, JWKS, authorize, token, userinfo (SPEC §4). Code flow only,
//! exact redirect URIs, PKCE S256, single-use 60-second codes, RFC 9207 `iss`.

use std::collections::HashMap;

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Json, Redirect, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use noegle_core::grants::{TokenError, TokenRequest, exchange_code, userinfo as core_userinfo};
use noegle_core::oidc::{AuthorizeError, ID_TOKEN_TTL_SECS, authorization_request};
use serde_json::{Value, json};

use crate::error::AppError;
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
        Some(id) => state.store.client(id).await?,
        None => None,
    };
    let authz = match authorization_request(client.as_ref(), p) {
        Ok(authz) => authz,
        Err(AuthorizeError::Shown(why)) => return Err(AppError::InvalidAuthorization(why.into())),
        Err(AuthorizeError::Redirected { authz, error, description }) => {
            let target = redirect_with(&state, &authz, &[("error", error), ("error_description", description)]);
            return Ok(Redirect::to(&target).into_response());
        }
    };
    let old = session::load(&state, &headers).await?.map(|l| l.id);
    let data = LoginSession { csrf: session::new_csrf(), authz, step: Step::Password };
    // Nothing is stored until the first form post: the log-in waits in the browser's cookie, sealed.
    let cookie = session::start_sealed(&state, old.as_deref(), &data).await?;
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to("/login")).into_response())
}

/// An OAuth JSON error response.
pub(crate) fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let mut r = (status, Json(json!({ "error": error, "error_description": description }))).into_response();
    r.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    if status == StatusCode::UNAUTHORIZED {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Basic realm=\"noegle\""));
    }
    r
}

fn token_error(e: TokenError) -> Response {
    match &e {
        TokenError::InvalidClient(d) => oauth_error(StatusCode::UNAUTHORIZED, e.code(), d),
        TokenError::InvalidRequest(d) | TokenError::InvalidGrant(d) | TokenError::UnsupportedGrantType(d) => {
            oauth_error(StatusCode::BAD_REQUEST, e.code(), d)
        }
        TokenError::Store(s) => {
            tracing::error!(error = %s, "token endpoint storage failure");
            oauth_error(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable", "storage unavailable")
        }
    }
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
    from: crate::client_addr::ClientAddr,
    headers: HeaderMap,
    form: Result<Form, AppError>,
) -> Response {
    let req = match token_request(&headers, form) {
        Ok(r) => r,
        Err((status, error, why)) => return oauth_error(status, error, &why),
    };
    let grant = match exchange_code(state.ctx(Some(from.as_str())), &mut rand::rngs::OsRng, &req).await {
        Ok(g) => g,
        Err(e) => {
            metrics::counter!("noegle_token_requests_total", "result" => e.code()).increment(1);
            return token_error(e);
        }
    };
    let id_token = match state.signer.sign(&id_token_claims(&state, &grant), state.now()) {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(error = %e, "the ID token could not be signed");
            return oauth_error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "the ID token could not be signed");
        }
    };
    metrics::counter!("noegle_token_requests_total", "result" => "issued").increment(1);
    let (access_token, expires_in, scope) = (grant.access_token, grant.expires_in, grant.code.scope);
    let body = json!({ "access_token": access_token, "token_type": "Bearer", "expires_in": expires_in, "id_token": id_token, "scope": scope });
    no_store(Json(body).into_response())
}

/// An OAuth refusal: status, error code, description.
type Refusal = (StatusCode, &'static str, String);

/// The token request of a form and its client authentication (Basic or in the form, never both).
fn token_request(headers: &HeaderMap, form: Result<Form, AppError>) -> Result<TokenRequest, Refusal> {
    let form = match form {
        Ok(f) => f,
        Err(AppError::TooLarge) => {
            return Err((StatusCode::PAYLOAD_TOO_LARGE, "invalid_request", "request body too large".into()));
        }
        Err(e) => return Err((StatusCode::BAD_REQUEST, "invalid_request", e.to_string())),
    };
    let basic =
        basic_credentials(headers).map_err(|why| (StatusCode::UNAUTHORIZED, "invalid_client", why.to_string()))?;
    let get = |k: &str| form.get(k).filter(|v| !v.is_empty()).map(str::to_string);
    let bad = |why: &str| (StatusCode::BAD_REQUEST, "invalid_request", why.to_string());
    let (client_id, client_secret) = match basic {
        Some(_) if form.get("client_secret").is_some() => {
            return Err(bad("use one client authentication method, not two"));
        }
        Some((id, _)) if get("client_id").is_some_and(|f| f != id) => {
            return Err(bad("client_id differs from the authenticated client"));
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

/// The ID token's claims for a grant: who, for whom, when, how (`amr`), the client's nonce, and the name
/// when `profile` was granted.
fn id_token_claims(state: &AppState, grant: &noegle_core::grants::Grant) -> Value {
    let (user, now) = (&grant.user, state.now());
    let mut claims = json!({
        "iss": state.config.public_url,
        "sub": user.sub,
        "aud": grant.client.client_id,
        "iat": now.0,
        "exp": now.plus(ID_TOKEN_TTL_SECS).0,
        "auth_time": grant.code.auth_time.0,
        "amr": grant.code.amr,
    });
    if let Some(nonce) = &grant.code.nonce {
        claims["nonce"] = json!(nonce);
    }
    if grant.code.scope.profile {
        claims["name"] = json!(user.display_name);
        claims["preferred_username"] = json!(user.user_id.as_str());
    }
    claims
}

/// Marks a response that holds tokens or personal data as not to be cached.
fn no_store(mut r: Response) -> Response {
    r.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    r
}

/// `GET|POST /userinfo` with `Authorization: Bearer`.
pub async fn userinfo(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let unauthorized = |why: &'static str| {
        let mut r = (StatusCode::UNAUTHORIZED, Json(json!({ "error": "invalid_token", "error_description": why })))
            .into_response();
        let v = format!("Bearer error=\"invalid_token\", error_description=\"{why}\"");
        if let Ok(v) = header::HeaderValue::from_str(&v) {
            r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        r
    };
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")));
    let Some(token) = token else {
        return unauthorized("a Bearer access token is required");
    };
    match core_userinfo(state.ctx(None), token.trim()).await {
        Ok(Some((user, grant))) => {
            let mut body = json!({ "sub": user.sub });
            if grant.scope.profile {
                body["name"] = json!(user.display_name);
                body["preferred_username"] = json!(user.user_id.as_str());
            }
            no_store(Json(body).into_response())
        }
        Ok(None) => unauthorized("the access token is unknown, expired or revoked"),
        Err(e) => token_error(e.into()),
    }
}
