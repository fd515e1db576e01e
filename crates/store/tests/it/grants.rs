//! Codes and tokens in the store: each kept once under its digest (how they are issued and redeemed is
//! specified next to `noegle_core::oidc`).
use noegle_core::UnixTime;
use noegle_core::oidc::{AccessToken, Amr, AuthCode, Scope};

use crate::each_store;

fn code(sub: &str) -> AuthCode {
    AuthCode {
        code_digest: "code-digest".into(),
        client_id: "c".into(),
        redirect_uri: "https://rp.example/cb".into(),
        sub: sub.into(),
        scope: Scope { profile: false },
        nonce: None,
        code_challenge: None,
        amr: vec![Amr::Pwd, Amr::Otp],
        auth_time: UnixTime(10),
        expires_at: UnixTime(70),
        used: false,
    }
}

fn token(sub: &str) -> AccessToken {
    AccessToken {
        token_digest: "token-digest".into(),
        sub: sub.into(),
        client_id: "c".into(),
        scope: Scope { profile: true },
        code_digest: "code-digest".into(),
        expires_at: UnixTime(600),
        revoked: false,
    }
}

/// A second code or token under a digest already stored is refused, and the first is kept.
#[tokio::test]
async fn a_code_or_token_digest_is_stored_once() {
    each_store(|store| async move {
        store.insert_code(&code("s-1")).await.unwrap();
        assert!(store.insert_code(&code("s-2")).await.is_err());
        assert_eq!(store.code("code-digest").await.unwrap(), Some(code("s-1")));
        store.insert_access_token(&token("s-1")).await.unwrap();
        assert!(store.insert_access_token(&token("s-2")).await.is_err());
        assert_eq!(store.access_token("token-digest").await.unwrap(), Some(token("s-1")));
    })
    .await;
}
