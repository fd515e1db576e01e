//! The whole code flow with PKCE, driven by a relying party built on the `openidconnect` crate.

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreJwsSigningAlgorithm, CoreProviderMetadata, CoreUserInfoClaims,
};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    RedirectUrl, Scope, TokenResponse,
};

use crate::{CB, both};

#[tokio::test]
async fn a_relying_party_logs_a_user_in_with_pkce_and_validates_everything() {
    both(|server| async move {
        let (user, card) = server.user_with_card("alice").await;
        let registered = server.client("Demo Bank", CB, false).await;
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();

        let metadata =
            CoreProviderMetadata::discover_async(IssuerUrl::new(server.url.clone()).unwrap(), &http).await.unwrap();
        let client = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(registered.client.client_id.to_string()),
            Some(ClientSecret::new(registered.client_secret.clone().unwrap())),
        )
        .set_redirect_uri(RedirectUrl::new(CB.into()).unwrap());
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = client
            .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
            .add_scope(Scope::new("profile".into()))
            .set_pkce_challenge(challenge)
            .url();

        let browser = server.browser();
        let back = browser.log_in(url.as_str(), "alice", &card).await;
        let location = back.location.clone().unwrap();
        assert!(location.starts_with(CB), "{location}");
        assert_eq!(back.location_param("state").as_deref(), Some(state.secret().as_str()));
        assert_eq!(back.location_param("iss").as_deref(), Some(server.url.as_str()), "RFC 9207 iss");
        let code = back.location_param("code").unwrap();

        let tokens = client
            .exchange_code(AuthorizationCode::new(code))
            .unwrap()
            .set_pkce_verifier(verifier)
            .request_async(&http)
            .await
            .unwrap();
        let verifier = client.id_token_verifier().set_allowed_algs(vec![CoreJwsSigningAlgorithm::EcdsaP256Sha256]);
        let claims = tokens.id_token().unwrap().claims(&verifier, &nonce).unwrap();
        assert_eq!(claims.subject().as_str(), user.sub);
        let amr: Vec<String> = claims.auth_method_refs().unwrap().iter().map(|a| a.to_string()).collect();
        assert_eq!(amr, ["pwd", "otp", "mfa"]);
        assert!(claims.auth_time().is_some());

        let info: CoreUserInfoClaims = client
            .user_info(tokens.access_token().clone(), Some(claims.subject().clone()))
            .unwrap()
            .request_async(&http)
            .await
            .unwrap();
        assert_eq!(info.name().unwrap().get(None).unwrap().as_str(), "Test Testesen");
        assert_eq!(info.preferred_username().unwrap().as_str(), "alice");

        // The key is used up, and the audit trail tells the story.
        assert_eq!(server.unused_keys(&card.serial).await, 147);
        let kinds: Vec<String> =
            server.state.store.audit(None, 100).await.unwrap().into_iter().map(|e| e.kind).collect();
        for k in ["password_accepted", "key_accepted", "login_succeeded", "code_issued", "token_issued"] {
            assert!(kinds.iter().any(|x| x == k), "{k} missing from {kinds:?}");
        }
    })
    .await;
}

#[tokio::test]
async fn a_public_client_uses_pkce_without_a_secret() {
    both(|server| async move {
        let (_, card) = server.user_with_card("bob").await;
        let public = server.client("Mobile App", CB, true).await;
        let url = crate::authorize_url(&server, public.client.client_id.as_str(), &[]);
        let back = server.browser().log_in(&url, "bob", &card).await;
        let code = back.location_param("code").unwrap();
        let (status, body) = crate::token(
            &server,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", CB),
                ("code_verifier", crate::VERIFIER),
                ("client_id", public.client.client_id.as_str()),
            ],
            None,
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["token_type"], "Bearer");
        assert!(body["id_token"].as_str().unwrap().split('.').count() == 3);
    })
    .await;
}

/// Logs `card`'s user in through `client` and answers the ID token with its nonce.
async fn id_token(
    server: &noegle_testkit::TestServer,
    client: &openidconnect::core::CoreClient<
        openidconnect::EndpointSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointMaybeSet,
        openidconnect::EndpointMaybeSet,
    >,
    card: &noegle_core::keycard::ClearCard,
    http: &reqwest::Client,
) -> (openidconnect::core::CoreIdToken, Nonce) {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, _, nonce) = client
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .set_pkce_challenge(challenge)
        .url();
    let back = server.browser().log_in(url.as_str(), "alice", card).await;
    let code = back.location_param("code").unwrap();
    let tokens =
        client.exchange_code(AuthorizationCode::new(code)).unwrap().set_pkce_verifier(verifier).request_async(http);
    (tokens.await.unwrap().id_token().unwrap().clone(), nonce)
}

/// After `noegle keys rotate` (I-OIDC) the new key is published before it signs, so a relying party on the
/// `openidconnect` crate that fetched the keys meanwhile validates ID tokens from before and after the
/// switch; the old key leaves the JWKS once its tokens have expired.
#[tokio::test]
async fn a_relying_party_validates_id_tokens_from_before_and_after_a_key_rotation() {
    let server = noegle_testkit::TestServer::start(noegle_testkit::Backend::Sqlite).await;
    let (_, card) = server.user_with_card("alice").await;
    let registered = server.client("Demo Bank", CB, false).await;
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let relying_party = || async {
        let issuer = IssuerUrl::new(server.url.clone()).unwrap();
        let metadata = CoreProviderMetadata::discover_async(issuer, &http).await.unwrap();
        let (id, secret) = (registered.client.client_id.to_string(), registered.client_secret.clone().unwrap());
        CoreClient::from_provider_metadata(metadata, ClientId::new(id), Some(ClientSecret::new(secret)))
            .set_redirect_uri(RedirectUrl::new(CB.into()).unwrap())
    };
    let kid = |t: &openidconnect::core::CoreIdToken| {
        let header = t.to_string().split('.').next().unwrap().to_string();
        let header = base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, header).unwrap();
        serde_json::from_slice::<serde_json::Value>(&header).unwrap()["kid"].as_str().unwrap().to_string()
    };
    let jwks =
        || async { reqwest::get(format!("{}/jwks", server.url)).await.unwrap().json::<serde_json::Value>().await };

    let before = relying_party().await;
    let old = id_token(&server, &before, &card, &http).await;
    assert_eq!(jwks().await.unwrap()["keys"].as_array().unwrap().len(), 1);

    // The rotation: published at once, signing in two minutes.
    let from = server.now().plus(120);
    noegle_server::secrets::add_signing_key(&server.data_dir(), from.0).unwrap();
    noegle_server::reload_signing_keys(&server.state).unwrap();
    assert_eq!(jwks().await.unwrap()["keys"].as_array().unwrap().len(), 2, "the new key is published first");
    let rp = relying_party().await;
    let during = id_token(&server, &rp, &card, &http).await;
    assert_eq!(kid(&during.0), kid(&old.0), "the old key signs until the new one's time");
    server.clock.advance(120);
    let after = id_token(&server, &rp, &card, &http).await;
    assert_ne!(kid(&after.0), kid(&old.0), "then the new key signs");

    let verifier = rp.id_token_verifier().set_allowed_algs(vec![CoreJwsSigningAlgorithm::EcdsaP256Sha256]);
    for (token, nonce) in [&old, &during, &after] {
        assert!(token.claims(&verifier, nonce).is_ok(), "{} validates", kid(token));
    }
    // Once the last token of the old key has expired, the old key is no longer published.
    server.clock.advance(noegle_core::oidc::ID_TOKEN_TTL_SECS + 60);
    let keys = jwks().await.unwrap();
    assert_eq!(keys["keys"].as_array().unwrap().len(), 1);
    assert_eq!(keys["keys"][0]["kid"], kid(&after.0));
}
