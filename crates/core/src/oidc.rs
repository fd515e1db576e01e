//! OpenID Connect grants: clients, redirect URIs, PKCE, authorization codes and access tokens.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::ClientId;
use crate::oauth::ErrorCode;
pub use crate::records::oidc::{AccessToken, Amr, AuthCode, Client, Scope};
use crate::secret::constant_time_eq;

/// Seconds an authorization code lives (SEC-7: at most 60).
pub const CODE_TTL_SECS: i64 = 60;
/// Seconds an access token lives.
pub const ACCESS_TOKEN_TTL_SECS: i64 = 600;
/// Seconds an ID token is valid.
pub const ID_TOKEN_TTL_SECS: i64 = 600;

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
    pub client_id: ClientId,
    /// Its name, for the log-in box.
    pub client_name: String,
    /// The exact redirect URI of the request.
    pub redirect_uri: String,
    /// Granted scopes.
    pub scope: Scope,
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
        error: ErrorCode,
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
        scope: Scope { profile: false },
        state: param("state").filter(|s| s.len() <= MAX_PARAM_LEN).map(str::to_string),
        nonce: None,
        code_challenge: None,
    };
    let checked = (|| {
        if param("state").is_some_and(|s| s.len() > MAX_PARAM_LEN) {
            return Err((ErrorCode::InvalidRequest, "state is longer than 512 characters"));
        }
        if param("response_type") != Some("code") {
            return Err((ErrorCode::UnsupportedResponseType, "only response_type=code is supported"));
        }
        if param("response_mode").is_some_and(|m| m != "query") {
            return Err((ErrorCode::InvalidRequest, "only response_mode=query is supported"));
        }
        if param("request").is_some() {
            return Err((ErrorCode::RequestNotSupported, "request objects are not supported"));
        }
        if param("request_uri").is_some() {
            return Err((ErrorCode::RequestUriNotSupported, "request_uri is not supported"));
        }
        let scope = Scope::requested(param("scope").unwrap_or(""))
            .ok_or((ErrorCode::InvalidScope, "the scope must include openid"))?;
        let nonce = param("nonce");
        if nonce.is_some_and(|n| n.len() > MAX_PARAM_LEN) {
            return Err((ErrorCode::InvalidRequest, "nonce is longer than 512 characters"));
        }
        let method = param("code_challenge_method");
        match param("code_challenge") {
            Some(ch) => validate_code_challenge(ch, method).map_err(|why| (ErrorCode::InvalidRequest, why))?,
            None if !client.is_confidential() => {
                return Err((ErrorCode::InvalidRequest, "PKCE is required: send code_challenge with method S256"));
            }
            None if method.is_some() => {
                return Err((ErrorCode::InvalidRequest, "code_challenge_method without code_challenge"));
            }
            None => {}
        }
        if param("prompt").is_some_and(|pr| pr.split(' ').any(|x| x == "none")) {
            return Err((ErrorCode::LoginRequired, "the user must log in"));
        }
        Ok((scope, nonce, param("code_challenge")))
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

/// RFC 8176 `amr` for a password + key-app login (`swk`: software-secured key), plus how the app was unlocked
/// (`pin` or `fpt`) when known.
pub fn amr_app(unlock: Option<crate::records::device::Unlock>) -> Vec<Amr> {
    let mut amr = vec![Amr::Pwd, Amr::Swk, Amr::Mfa];
    amr.extend(unlock.map(crate::records::device::Unlock::amr));
    amr
}

/// RFC 8176 `amr` for a password + key-card login.
pub fn amr_keycard() -> Vec<Amr> {
    vec![Amr::Pwd, Amr::Otp, Amr::Mfa]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::UnixTime;
    use crate::secret::token_digest;

    fn client(public: bool) -> Client {
        Client {
            client_id: "c-bank".into(),
            name: "Demo Bank".into(),
            secret_digest: (!public).then(|| "digest".into()),
            redirect_uris: vec!["https://bank.example/cb".into()],
            created_at: UnixTime(0),
        }
    }

    /// Runs `authorization_request` for `client` over the query `q` ("k=v&k=v", no escaping).
    fn authorize(client: Option<&Client>, q: &str) -> Result<PendingAuthorization, AuthorizeError> {
        let params: Vec<(&str, &str)> = q.split('&').filter_map(|kv| kv.split_once('=')).collect();
        authorization_request(client, |k| params.iter().find(|(n, v)| *n == k && !v.is_empty()).map(|(_, v)| *v))
    }

    const GOOD: &str = "client_id=c-bank&redirect_uri=https://bank.example/cb&response_type=code&scope=openid profile\
                        &state=s1&nonce=n1&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM\
                        &code_challenge_method=S256";

    #[test]
    fn a_good_request_is_kept_with_its_state_nonce_and_challenge() {
        let a = authorize(Some(&client(true)), GOOD).unwrap();
        assert_eq!((a.client_name.as_str(), a.redirect_uri.as_str()), ("Demo Bank", "https://bank.example/cb"));
        assert_eq!(a.scope, Scope { profile: true });
        assert_eq!((a.state.as_deref(), a.nonce.as_deref()), (Some("s1"), Some("n1")));
        assert!(a.code_challenge.is_some());
    }

    #[test]
    fn a_wrong_client_or_redirect_uri_is_shown_never_redirected() {
        let c = client(true);
        assert_eq!(authorize(None, GOOD), Err(AuthorizeError::Shown("client_id is not a registered client")));
        assert_eq!(authorize(Some(&c), "redirect_uri=x"), Err(AuthorizeError::Shown("client_id is missing")));
        let evil = GOOD.replace("https://bank.example/cb", "https://evil.example/cb");
        assert_eq!(
            authorize(Some(&c), &evil),
            Err(AuthorizeError::Shown("redirect_uri is not registered for this client"))
        );
    }

    #[test]
    fn other_problems_go_back_to_the_client_with_its_state() {
        let c = client(true);
        for (change, error) in [
            (("scope=openid profile", "scope=profile"), ErrorCode::InvalidScope),
            (("response_type=code", "response_type=token"), ErrorCode::UnsupportedResponseType),
            (("&code_challenge=", "&x="), ErrorCode::InvalidRequest),
            (("state=s1", "state=s1&prompt=none"), ErrorCode::LoginRequired),
            (("state=s1", "state=s1&request=x"), ErrorCode::RequestNotSupported),
            (("nonce=n1", &format!("nonce={}", "n".repeat(513))), ErrorCode::InvalidRequest),
        ] {
            let q = GOOD.replace(change.0, change.1);
            match authorize(Some(&c), &q) {
                Err(AuthorizeError::Redirected { authz, error: e, .. }) => {
                    assert_eq!((e, authz.state.as_deref()), (error, Some("s1")), "{change:?}");
                }
                other => panic!("{change:?}: {other:?}"),
            }
        }
        // A confidential client may leave PKCE out (all of it); a public one may not.
        let without = GOOD.replace("&code_challenge=", "&x=").replace("&code_challenge_method=S256", "");
        assert!(authorize(Some(&client(false)), &without).is_ok());
        assert!(matches!(
            authorize(Some(&c), &without),
            Err(AuthorizeError::Redirected { error: ErrorCode::InvalidRequest, .. })
        ));
    }

    #[test]
    fn scopes_are_openid_and_maybe_profile_and_nothing_else() {
        assert_eq!(Scope::requested("openid"), Some(Scope { profile: false }));
        assert_eq!(Scope::requested(" profile  openid email "), Some(Scope { profile: true }), "unknown ones dropped");
        assert_eq!(Scope::requested("profile email"), None, "openid is required");
        assert_eq!(serde_json::to_string(&Scope { profile: true }).unwrap(), "\"openid profile\"");
        assert_eq!(serde_json::from_str::<Scope>("\"openid\"").unwrap(), Scope { profile: false });
        assert!(serde_json::from_str::<Scope>("\"openid email\"").is_err(), "a stored scope is one we grant");
    }

    #[test]
    fn app_amr_tells_how_the_app_was_unlocked() {
        use crate::device::Unlock;
        let names = |amr: Vec<Amr>| amr.into_iter().map(Amr::as_str).collect::<Vec<_>>();
        assert_eq!(names(amr_app(None)), ["pwd", "swk", "mfa"]);
        assert_eq!(names(amr_app(Some(Unlock::Code))), ["pwd", "swk", "mfa", "pin"]);
        assert_eq!(names(amr_app(Some(Unlock::Fingerprint))), ["pwd", "swk", "mfa", "fpt"]);
        assert_eq!(names(amr_keycard()), ["pwd", "otp", "mfa"]);
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
