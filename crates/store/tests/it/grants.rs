use noegle_core::accounts::add_client;
use noegle_core::grants::{TokenError, TokenRequest, exchange_code, issue_code, userinfo};
use noegle_core::oidc::{PendingAuthorization, amr_keycard};

use crate::{alice, both, ctx};

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const CB: &str = "https://bank.example/cb";

#[tokio::test]
async fn codes_are_single_use_and_reuse_revokes_the_tokens() {
    both(|store| async move {
        let s = store.as_ref();
        let rng = &mut rand::rngs::OsRng;
        let a = alice(s).await;
        let c = add_client(ctx(s, 1000), rng, "Demo Bank", &[CB.into()], false).await.unwrap();
        let pending = PendingAuthorization {
            client_id: c.client.client_id.clone(),
            client_name: c.client.name.clone(),
            redirect_uri: CB.into(),
            scope: noegle_core::oidc::Scope { profile: false },
            state: Some("st".into()),
            nonce: Some("n".into()),
            code_challenge: Some(CHALLENGE.into()),
        };
        let code = issue_code(ctx(s, 1000), rng, &pending, &a, amr_keycard()).await.unwrap();
        let good = TokenRequest {
            grant_type: Some("authorization_code".into()),
            code: Some(code.clone()),
            redirect_uri: Some(CB.into()),
            code_verifier: Some(VERIFIER.into()),
            client_id: Some(c.client.client_id.clone()),
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
            let e = exchange_code(ctx(s, 1010), rng, &req).await.unwrap_err();
            assert_eq!(e.code(), want, "{e}");
        }
        let grant = exchange_code(ctx(s, 1010), rng, &good).await.unwrap();
        assert_eq!(grant.code.amr.iter().map(|a| a.as_str()).collect::<Vec<_>>(), ["pwd", "otp", "mfa"]);
        assert_eq!(grant.code.nonce.as_deref(), Some("n"));
        assert!(userinfo(ctx(s, 1011), &grant.access_token).await.unwrap().is_some());

        let reuse = exchange_code(ctx(s, 1012), rng, &good).await.unwrap_err();
        assert!(matches!(reuse, TokenError::InvalidGrant(_)), "{reuse}");
        assert!(userinfo(ctx(s, 1013), &grant.access_token).await.unwrap().is_none(), "revoked after reuse");
    })
    .await;
}

#[tokio::test]
async fn codes_expire_after_sixty_seconds() {
    both(|store| async move {
        let s = store.as_ref();
        let rng = &mut rand::rngs::OsRng;
        let a = alice(s).await;
        let c = add_client(ctx(s, 1000), rng, "Public App", &["http://localhost:9/cb".into()], true).await.unwrap();
        assert!(c.client_secret.is_none());
        let pending = PendingAuthorization {
            client_id: c.client.client_id.clone(),
            client_name: c.client.name.clone(),
            redirect_uri: "http://localhost:9/cb".into(),
            scope: noegle_core::oidc::Scope { profile: false },
            state: None,
            nonce: None,
            code_challenge: Some(CHALLENGE.into()),
        };
        let code = issue_code(ctx(s, 1000), rng, &pending, &a, amr_keycard()).await.unwrap();
        let req = TokenRequest {
            grant_type: Some("authorization_code".into()),
            code: Some(code),
            redirect_uri: Some("http://localhost:9/cb".into()),
            code_verifier: Some(VERIFIER.into()),
            client_id: Some(c.client.client_id.clone()),
            client_secret: None,
        };
        let e = exchange_code(ctx(s, 1060), rng, &req).await.unwrap_err();
        assert_eq!(e.code(), "invalid_grant");
        assert!(exchange_code(ctx(s, 1059), rng, &req).await.is_ok(), "valid up to its 60th second");
    })
    .await;
}
