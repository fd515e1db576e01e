//! OpenID Connect grants: clients, redirect URIs, PKCE, authorization codes and access tokens.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::UnixTime;
use crate::secret::{constant_time_eq, token_digest};

/// Seconds an authorization code lives (SPEC §6 bar 7: at most 60).
pub const CODE_TTL_SECS: i64 = 60;
/// Seconds an access token lives.
pub const ACCESS_TOKEN_TTL_SECS: i64 = 600;
/// Seconds an ID token is valid.
pub const ID_TOKEN_TTL_SECS: i64 = 600;

/// A registered service provider (relying party).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Client {
    /// The `client_id`.
    pub client_id: String,
    /// Shown to users ("Log på Demo Bank").
    pub name: String,
    /// SHA-256 of the client secret; `None` for a public client (PKCE required).
    #[serde(skip)]
    pub secret_digest: Option<String>,
    /// Exact redirect URIs.
    pub redirect_uris: Vec<String>,
    /// When it was registered.
    pub created_at: UnixTime,
}

impl Client {
    /// Whether the client has a secret.
    pub fn is_confidential(&self) -> bool {
        self.secret_digest.is_some()
    }

    /// Checks a presented secret in constant time.
    pub fn secret_matches(&self, presented: &str) -> bool {
        match &self.secret_digest {
            Some(d) => constant_time_eq(d.as_bytes(), token_digest(presented).as_bytes()),
            None => false,
        }
    }

    /// Whether `uri` is exactly one of the registered redirect URIs.
    pub fn allows_redirect(&self, uri: &str) -> bool {
        self.redirect_uris.iter().any(|r| r == uri)
    }
}

/// Checks a redirect URI for registration: absolute; `https`, or `http` only to a loopback host; no fragment.
pub fn validate_redirect_uri(uri: &str) -> Result<String, String> {
    let u = url::Url::parse(uri).map_err(|e| format!("not an absolute URL ({e}): {uri}"))?;
    if u.fragment().is_some() {
        return Err(format!("a redirect URI may not have a fragment: {uri}"));
    }
    let loopback = matches!(u.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    match u.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => return Err(format!("plain http is allowed only to localhost: {uri}")),
        s => return Err(format!("scheme {s} is not allowed; use https: {uri}")),
    }
    Ok(uri.to_string())
}

/// Checks a PKCE `code_challenge` and its method: only `S256`, a 43-character base64url value.
pub fn validate_code_challenge(challenge: &str, method: Option<&str>) -> Result<(), &'static str> {
    match method {
        Some("S256") => {}
        Some("plain") => return Err("code_challenge_method plain is not supported; use S256"),
        Some(_) => return Err("unknown code_challenge_method; use S256"),
        None => return Err("code_challenge_method is required and must be S256"),
    }
    let ok = challenge.len() == 43 && challenge.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok { Ok(()) } else { Err("code_challenge must be the base64url SHA-256 of the verifier (43 characters)") }
}

/// Checks a PKCE `code_verifier` against the `code_challenge` (S256), in constant time.
pub fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    well_formed && constant_time_eq(computed.as_bytes(), challenge.as_bytes())
}

/// What an authorization request asked for, kept while the user logs in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingAuthorization {
    /// The client.
    pub client_id: String,
    /// Its name, for the log-in box.
    pub client_name: String,
    /// The exact redirect URI of the request.
    pub redirect_uri: String,
    /// Granted scopes (always including `openid`).
    pub scope: String,
    /// The client's `state`, echoed back.
    pub state: Option<String>,
    /// The client's `nonce`, put in the ID token.
    pub nonce: Option<String>,
    /// PKCE challenge (S256), when given.
    pub code_challenge: Option<String>,
}

/// Longest `state` and `nonce` accepted.
pub const MAX_PARAM_LEN: usize = 512;

/// Why an authorization request is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthorizeError {
    /// The client or its redirect URI is wrong: the error is shown to the user, never redirected.
    Shown(&'static str),
    /// Any other problem: sent back to the client's redirect URI as an OAuth error.
    Redirected {
        /// What the request asked for, as far as it could be read (where to send the error, its `state`).
        authz: Box<PendingAuthorization>,
        /// The OAuth error code.
        error: &'static str,
        /// Why, for the client's developer.
        description: &'static str,
    },
}

/// Checks an authorization request (`param` reads its non-empty query parameters) for `client` (`None` if
/// the `client_id` is not registered): exact redirect URI, `response_type=code` in query mode, `openid`
/// among the scopes (only `openid` and `profile` kept), bounded `state` and `nonce`, PKCE S256 (required
/// for a public client), and no `prompt=none` (the user must always log in).
pub fn authorization_request<'a>(
    client: Option<&Client>,
    param: impl Fn(&str) -> Option<&'a str>,
) -> Result<PendingAuthorization, AuthorizeError> {
    let _ = param("client_id").ok_or(AuthorizeError::Shown("client_id is missing"))?;
    let client = client.ok_or(AuthorizeError::Shown("client_id is not a registered client"))?;
    let redirect_uri = param("redirect_uri").ok_or(AuthorizeError::Shown("redirect_uri is missing"))?;
    if !client.allows_redirect(redirect_uri) {
        return Err(AuthorizeError::Shown("redirect_uri is not registered for this client"));
    }
    let mut authz = PendingAuthorization {
        client_id: client.client_id.clone(),
        client_name: client.name.clone(),
        redirect_uri: redirect_uri.to_string(),
        scope: String::new(),
        state: param("state").filter(|s| s.len() <= MAX_PARAM_LEN).map(str::to_string),
        nonce: None,
        code_challenge: None,
    };
    let checked = (|| {
        if param("state").is_some_and(|s| s.len() > MAX_PARAM_LEN) {
            return Err(("invalid_request", "state is longer than 512 characters"));
        }
        if param("response_type") != Some("code") {
            return Err(("unsupported_response_type", "only response_type=code is supported"));
        }
        if param("response_mode").is_some_and(|m| m != "query") {
            return Err(("invalid_request", "only response_mode=query is supported"));
        }
        if param("request").is_some() {
            return Err(("request_not_supported", "request objects are not supported"));
        }
        if param("request_uri").is_some() {
            return Err(("request_uri_not_supported", "request_uri is not supported"));
        }
        let scopes: Vec<&str> = param("scope").unwrap_or("").split(' ').filter(|s| !s.is_empty()).collect();
        if !scopes.contains(&"openid") {
            return Err(("invalid_scope", "the scope must include openid"));
        }
        let scope = scopes.iter().filter(|s| matches!(**s, "openid" | "profile")).copied().collect::<Vec<_>>();
        let nonce = param("nonce");
        if nonce.is_some_and(|n| n.len() > MAX_PARAM_LEN) {
            return Err(("invalid_request", "nonce is longer than 512 characters"));
        }
        let method = param("code_challenge_method");
        match param("code_challenge") {
            Some(ch) => validate_code_challenge(ch, method).map_err(|why| ("invalid_request", why))?,
            None if !client.is_confidential() => {
                return Err(("invalid_request", "PKCE is required: send code_challenge with method S256"));
            }
            None if method.is_some() => {
                return Err(("invalid_request", "code_challenge_method without code_challenge"));
            }
            None => {}
        }
        if param("prompt").is_some_and(|pr| pr.split(' ').any(|x| x == "none")) {
            return Err(("login_required", "the user must log in"));
        }
        Ok((scope.join(" "), nonce, param("code_challenge")))
    })();
    match checked {
        Ok((scope, nonce, challenge)) => {
            authz.scope = scope;
            authz.nonce = nonce.map(str::to_string);
            authz.code_challenge = challenge.map(str::to_string);
            Ok(authz)
        }
        Err((error, description)) => {
            // An OAuth error carries the scope read so far only if it was valid; none is needed to redirect.
            Err(AuthorizeError::Redirected { authz: Box::new(authz), error, description })
        }
    }
}

/// An authorization code as stored (the code itself only as its digest).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthCode {
    /// SHA-256 of the code.
    pub code_digest: String,
    /// The client it was issued to.
    pub client_id: String,
    /// The redirect URI it was issued for.
    pub redirect_uri: String,
    /// The user.
    pub sub: String,
    /// Granted scopes.
    pub scope: String,
    /// The request's nonce.
    pub nonce: Option<String>,
    /// PKCE challenge.
    pub code_challenge: Option<String>,
    /// RFC 8176 methods.
    pub amr: Vec<String>,
    /// When the user authenticated.
    pub auth_time: UnixTime,
    /// When the code stops working.
    pub expires_at: UnixTime,
    /// Whether it has been redeemed.
    pub used: bool,
}

/// An access token as stored (the token itself only as its digest).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessToken {
    /// SHA-256 of the token.
    pub token_digest: String,
    /// The user.
    pub sub: String,
    /// The client.
    pub client_id: String,
    /// Granted scopes.
    pub scope: String,
    /// The code it was issued for; revoked together if that code is replayed.
    pub code_digest: String,
    /// When it stops working.
    pub expires_at: UnixTime,
    /// Revoked early.
    pub revoked: bool,
}

/// RFC 8176 `amr` for a password + key-app login (`swk`: software-secured key), plus how the app was unlocked
/// (`pin` or `fpt`) when known.
pub fn amr_app(unlock: Option<&str>) -> Vec<String> {
    let mut amr: Vec<String> = ["pwd", "swk", "mfa"].map(String::from).to_vec();
    if let Some(u) = unlock.and_then(crate::appcode::Unlock::parse) {
        amr.push(u.amr().to_string());
    }
    amr
}

/// RFC 8176 `amr` for a password + key-card login.
pub fn amr_keycard() -> Vec<String> {
    ["pwd", "otp", "mfa"].map(String::from).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_amr_tells_how_the_app_was_unlocked() {
        assert_eq!(amr_app(None), ["pwd", "swk", "mfa"]);
        assert_eq!(amr_app(Some("pin")), ["pwd", "swk", "mfa", "pin"]);
        assert_eq!(amr_app(Some("fpt")), ["pwd", "swk", "mfa", "fpt"]);
        assert_eq!(amr_app(Some("other")), ["pwd", "swk", "mfa"], "only known values");
    }

    #[test]
    fn redirect_uris_must_be_https_or_loopback() {
        assert!(validate_redirect_uri("https://bank.example/cb").is_ok());
        assert!(validate_redirect_uri("http://localhost:8080/cb").is_ok());
        assert!(validate_redirect_uri("http://127.0.0.1/cb").is_ok());
        assert!(validate_redirect_uri("http://bank.example/cb").is_err());
        assert!(validate_redirect_uri("https://bank.example/cb#x").is_err());
        assert!(validate_redirect_uri("/cb").is_err());
        assert!(validate_redirect_uri("javascript:alert(1)").is_err());
    }

    #[test]
    fn exact_redirect_match_only() {
        let c = Client {
            client_id: "c".into(),
            name: "n".into(),
            secret_digest: None,
            redirect_uris: vec!["https://bank.example/cb".into()],
            created_at: UnixTime(0),
        };
        assert!(c.allows_redirect("https://bank.example/cb"));
        assert!(!c.allows_redirect("https://bank.example/cb/"));
        assert!(!c.allows_redirect("https://bank.example/cb?x=1"));
        assert!(!c.allows_redirect("https://BANK.example/cb"));
    }

    #[test]
    fn pkce_s256_rfc7636_vector() {
        // RFC 7636 appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(validate_code_challenge(challenge, Some("S256")).is_ok());
        assert!(pkce_matches(verifier, challenge));
        assert!(!pkce_matches("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK", challenge));
        assert!(!pkce_matches(challenge, challenge));
        assert!(validate_code_challenge(challenge, Some("plain")).is_err());
        assert!(validate_code_challenge(challenge, None).is_err());
        assert!(validate_code_challenge("short", Some("S256")).is_err());
    }

    #[test]
    fn client_secrets_compare_by_digest() {
        let c = Client {
            client_id: "c".into(),
            name: "n".into(),
            secret_digest: Some(token_digest("s3cret")),
            redirect_uris: vec![],
            created_at: UnixTime(0),
        };
        assert!(c.secret_matches("s3cret"));
        assert!(!c.secret_matches("s3cre"));
    }
}
