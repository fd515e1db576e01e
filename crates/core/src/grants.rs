//! Issuing and redeeming OpenID Connect grants: authorization codes, access tokens, userinfo.

use crate::SecureRng;
use crate::audit::AuditKind;
use crate::oauth::ErrorCode;
use crate::oidc::{
    ACCESS_TOKEN_TTL_SECS, AccessToken, AuthCode, CODE_TTL_SECS, Client, PendingAuthorization, pkce_matches,
};
use crate::secret::{random_token, token_digest};
use crate::store::StoreError;
use crate::user::User;
use crate::{ClientId, Ctx};

/// Issues a code for a completed login; answers the code to send to the client.
pub async fn issue_code(
    ctx: Ctx<'_>,
    rng: &mut dyn SecureRng,
    request: &PendingAuthorization,
    user: &User,
    amr: Vec<crate::oidc::Amr>,
) -> Result<String, StoreError> {
    let code = random_token(rng, 32);
    let stored = AuthCode {
        code_digest: token_digest(&code),
        client_id: request.client_id.clone(),
        redirect_uri: request.redirect_uri.clone(),
        sub: user.sub.clone(),
        scope: request.scope,
        nonce: request.nonce.clone(),
        code_challenge: request.code_challenge.clone(),
        amr,
        auth_time: ctx.now,
        expires_at: ctx.now.plus(CODE_TTL_SECS),
        used: false,
    };
    ctx.store.insert_code(&stored).await?;
    ctx.audit(
        AuditKind::LoginSucceeded,
        Some(user.user_id.as_str()),
        serde_json::json!({ "client_id": request.client_id, "amr": stored.amr }),
    )
    .await?;
    ctx.audit(
        AuditKind::CodeIssued,
        Some(user.user_id.as_str()),
        serde_json::json!({ "client_id": request.client_id }),
    )
    .await?;
    Ok(code)
}

/// A token request, as parsed from the form and the `Authorization` header.
#[derive(Clone, Debug, Default)]
pub struct TokenRequest {
    /// Must be `authorization_code`.
    pub grant_type: Option<String>,
    /// The code.
    pub code: Option<String>,
    /// Must equal the one of the authorization request.
    pub redirect_uri: Option<String>,
    /// PKCE verifier.
    pub code_verifier: Option<String>,
    /// From the form or from Basic authentication.
    pub client_id: Option<String>,
    /// From the form or from Basic authentication.
    pub client_secret: Option<String>,
}

/// An RFC 6749 token error.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// `invalid_request`.
    #[error("invalid_request: {0}")]
    InvalidRequest(&'static str),
    /// `invalid_client` (answered with 401).
    #[error("invalid_client: {0}")]
    InvalidClient(&'static str),
    /// `invalid_grant`.
    #[error("invalid_grant: {0}")]
    InvalidGrant(&'static str),
    /// `unsupported_grant_type`.
    #[error("unsupported_grant_type: {0}")]
    UnsupportedGrantType(&'static str),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl TokenError {
    /// The RFC 6749 error code.
    pub fn error_code(&self) -> ErrorCode {
        match self {
            TokenError::InvalidRequest(_) => ErrorCode::InvalidRequest,
            TokenError::InvalidClient(_) => ErrorCode::InvalidClient,
            TokenError::InvalidGrant(_) => ErrorCode::InvalidGrant,
            TokenError::UnsupportedGrantType(_) => ErrorCode::UnsupportedGrantType,
            TokenError::Store(_) => ErrorCode::ServerError,
        }
    }

    /// The RFC 6749 error code, as written.
    pub fn code(&self) -> &'static str {
        self.error_code().as_str()
    }
}

/// What a successful exchange yields; the server signs the ID token from it.
#[derive(Clone, Debug)]
pub struct Grant {
    /// The redeemed code (user, nonce, amr, auth time).
    pub code: AuthCode,
    /// The client.
    pub client: Client,
    /// The user, as read when the code was redeemed (not blocked).
    pub user: User,
    /// A new access token.
    pub access_token: String,
    /// Its lifetime in seconds.
    pub expires_in: i64,
}

/// Authenticates the client, then redeems the code. Checks run before the code is marked used, so a bad
/// request leaves the code as it was; a code seen a second time revokes the tokens issued from it. A code
/// of a user blocked since it was issued is refused.
pub async fn exchange_code(ctx: Ctx<'_>, rng: &mut dyn SecureRng, req: &TokenRequest) -> Result<Grant, TokenError> {
    if req.grant_type.as_deref() != Some("authorization_code") {
        return Err(match req.grant_type {
            None => TokenError::InvalidRequest("grant_type is missing"),
            Some(_) => TokenError::UnsupportedGrantType("only authorization_code is supported"),
        });
    }
    let client_id = req.client_id.as_deref().ok_or(TokenError::InvalidClient("client authentication is missing"))?;
    let refused = |why: &'static str| async move {
        ctx.audit(AuditKind::TokenRefused, None, serde_json::json!({ "client_id": client_id, "reason": why })).await?;
        Ok::<_, StoreError>(why)
    };
    let Some(client) = ctx.store.client(&ClientId::from(client_id)).await? else {
        return Err(TokenError::InvalidClient(refused("unknown client").await?));
    };
    match (&req.client_secret, client.is_confidential()) {
        (Some(s), true) if client.secret_matches(s) => {}
        (None, false) => {}
        (Some(_), false) => {
            return Err(TokenError::InvalidClient(refused("a public client has no secret").await?));
        }
        _ => {
            return Err(TokenError::InvalidClient(refused("client authentication failed").await?));
        }
    }
    let code_text = req.code.as_deref().ok_or(TokenError::InvalidRequest("code is missing"))?;
    let digest = token_digest(code_text);
    let Some(code) = ctx.store.code(&digest).await?.filter(|c| c.client_id == client.client_id) else {
        return Err(TokenError::InvalidGrant(refused("unknown code").await?));
    };
    if code.used {
        let revoked = ctx.store.revoke_tokens_of_code(&digest).await?;
        ctx.audit(
            AuditKind::CodeReused,
            None,
            serde_json::json!({ "client_id": client_id, "revoked_tokens": revoked }),
        )
        .await?;
        return Err(TokenError::InvalidGrant("the code has already been used; its tokens are revoked"));
    }
    if ctx.now >= code.expires_at {
        return Err(TokenError::InvalidGrant(refused("the code has expired").await?));
    }
    if req.redirect_uri.as_deref() != Some(code.redirect_uri.as_str()) {
        return Err(TokenError::InvalidGrant(refused("redirect_uri does not match the authorization request").await?));
    }
    match (&code.code_challenge, &req.code_verifier) {
        (Some(ch), Some(v)) if pkce_matches(v, ch) => {}
        (None, None) => {}
        (Some(_), None) => {
            return Err(TokenError::InvalidGrant(refused("code_verifier is missing").await?));
        }
        (None, Some(_)) => {
            return Err(TokenError::InvalidGrant(refused("code_verifier given but no code_challenge was").await?));
        }
        _ => {
            return Err(TokenError::InvalidGrant(refused("code_verifier does not match code_challenge").await?));
        }
    }
    let Some(user) = ctx.store.user_by_sub(&code.sub).await?.filter(|u| !u.blocked) else {
        return Err(TokenError::InvalidGrant(refused("the user is blocked or gone").await?));
    };
    if !ctx.store.mark_code_used(&digest, ctx.now).await? {
        let revoked = ctx.store.revoke_tokens_of_code(&digest).await?;
        ctx.audit(
            AuditKind::CodeReused,
            None,
            serde_json::json!({ "client_id": client_id, "revoked_tokens": revoked }),
        )
        .await?;
        return Err(TokenError::InvalidGrant("the code has already been used; its tokens are revoked"));
    }
    let access_token = random_token(rng, 32);
    ctx.store
        .insert_access_token(&AccessToken {
            token_digest: token_digest(&access_token),
            sub: code.sub.clone(),
            client_id: client.client_id.clone(),
            scope: code.scope,
            code_digest: digest,
            expires_at: ctx.now.plus(ACCESS_TOKEN_TTL_SECS),
            revoked: false,
        })
        .await?;
    ctx.audit(AuditKind::TokenIssued, None, serde_json::json!({ "client_id": client_id, "sub": code.sub })).await?;
    Ok(Grant { code, client, user, access_token, expires_in: ACCESS_TOKEN_TTL_SECS })
}

/// The user behind a valid access token, or `None` (unknown, expired, revoked, or the user is blocked).
pub async fn userinfo(ctx: Ctx<'_>, access_token: &str) -> Result<Option<(User, AccessToken)>, StoreError> {
    let Some(token) = ctx.store.access_token(&token_digest(access_token)).await? else {
        return Ok(None);
    };
    if token.revoked || ctx.now >= token.expires_at {
        return Ok(None);
    }
    Ok(ctx.store.user_by_sub(&token.sub).await?.filter(|u| !u.blocked).map(|u| (u, token)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::add_client;
    use crate::memory::World;
    use crate::oidc::{PendingAuthorization, amr_keycard};

    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    const CB: &str = "https://bank.example/cb";

    /// The context at time `t` (seconds since the epoch).
    fn at(w: &World, t: i64) -> Ctx<'_> {
        Ctx { now: crate::UnixTime(t), ..w.ctx() }
    }

    #[tokio::test]
    async fn codes_are_single_use_and_reuse_revokes_the_tokens() {
        let w = World::new().await;
        let rng = &mut rand::rngs::OsRng;
        let a = w.user.clone();
        let c = add_client(at(&w, 1000), rng, "Demo Bank", &[CB.into()], false).await.unwrap();
        let pending = PendingAuthorization {
            client_id: c.client.client_id.clone(),
            client_name: c.client.name.clone(),
            redirect_uri: CB.into(),
            scope: crate::oidc::Scope { profile: false },
            state: Some("st".into()),
            nonce: Some("n".into()),
            code_challenge: Some(CHALLENGE.into()),
        };
        let code = issue_code(at(&w, 1000), rng, &pending, &a, amr_keycard()).await.unwrap();
        let good = TokenRequest {
            grant_type: Some("authorization_code".into()),
            code: Some(code.clone()),
            redirect_uri: Some(CB.into()),
            code_verifier: Some(VERIFIER.into()),
            client_id: Some(c.client.client_id.to_string()),
            client_secret: c.client_secret.clone(),
        };
        let bad = |f: fn(&mut TokenRequest)| {
            let mut r = good.clone();
            f(&mut r);
            r
        };
        // Bad requests change nothing: the code still works afterwards.
        let cases: [(TokenRequest, &str); 6] = [
            (bad(|r| r.client_secret = Some("wrong".into())), "invalid_client"),
            (bad(|r| r.code_verifier = Some("x".repeat(43))), "invalid_grant"),
            (bad(|r| r.code_verifier = None), "invalid_grant"),
            (bad(|r| r.redirect_uri = Some("https://bank.example/cb2".into())), "invalid_grant"),
            (bad(|r| r.grant_type = Some("password".into())), "unsupported_grant_type"),
            (bad(|r| r.code = Some("nope".into())), "invalid_grant"),
        ];
        for (req, want) in cases {
            let e = exchange_code(at(&w, 1010), rng, &req).await.unwrap_err();
            assert_eq!(e.code(), want, "{e}");
        }
        let grant = exchange_code(at(&w, 1010), rng, &good).await.unwrap();
        assert_eq!(grant.code.amr.iter().map(|a| a.as_str()).collect::<Vec<_>>(), ["pwd", "otp", "mfa"]);
        assert_eq!(grant.code.nonce.as_deref(), Some("n"));
        assert!(userinfo(at(&w, 1011), &grant.access_token).await.unwrap().is_some());

        let reuse = exchange_code(at(&w, 1012), rng, &good).await.unwrap_err();
        assert!(matches!(reuse, TokenError::InvalidGrant(_)), "{reuse}");
        assert!(userinfo(at(&w, 1013), &grant.access_token).await.unwrap().is_none(), "revoked after reuse");
    }

    #[tokio::test]
    async fn codes_expire_after_sixty_seconds() {
        let w = World::new().await;
        let rng = &mut rand::rngs::OsRng;
        let a = w.user.clone();
        let c = add_client(at(&w, 1000), rng, "Public App", &["http://localhost:9/cb".into()], true).await.unwrap();
        assert!(c.client_secret.is_none());
        let pending = PendingAuthorization {
            client_id: c.client.client_id.clone(),
            client_name: c.client.name.clone(),
            redirect_uri: "http://localhost:9/cb".into(),
            scope: crate::oidc::Scope { profile: false },
            state: None,
            nonce: None,
            code_challenge: Some(CHALLENGE.into()),
        };
        let code = issue_code(at(&w, 1000), rng, &pending, &a, amr_keycard()).await.unwrap();
        let req = TokenRequest {
            grant_type: Some("authorization_code".into()),
            code: Some(code),
            redirect_uri: Some("http://localhost:9/cb".into()),
            code_verifier: Some(VERIFIER.into()),
            client_id: Some(c.client.client_id.to_string()),
            client_secret: None,
        };
        let e = exchange_code(at(&w, 1060), rng, &req).await.unwrap_err();
        assert_eq!(e.code(), "invalid_grant");
        assert!(exchange_code(at(&w, 1059), rng, &req).await.is_ok(), "valid up to its 60th second");
    }
}
