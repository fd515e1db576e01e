//! Every refusal answers with a clear 4xx (or the OAuth error) and leaves stored state as it was.

use noegle_testkit::{Browser, PASSWORD, Page, TestServer};

use crate::{CB, VERIFIER, authorize_url, both, token};

/// A page with its per-request parts (CSRF token, typed user ID) blanked, to compare two answers.
fn normalised(p: &Page, typed: &str) -> String {
    let csrf = p.input("csrf").unwrap_or_default();
    p.body.replace(&csrf, "CSRF").replace(&format!("value=\"{typed}\""), "value=\"USER\"")
}

#[tokio::test]
async fn wrong_password_unknown_user_and_locked_account_get_the_same_answer() {
    both(|server| async move {
        let (alice, card) = server.user_with_card("alice").await;
        let (locked, _) = server.user_with_card("locked").await;
        for _ in 0..100 {
            server.state.store.record_failure(&locked.sub, server.now()).await.unwrap();
        }
        let c = server.client("Bank", CB, false).await;
        let url = authorize_url(&server, c.client.client_id.as_str(), &[]);
        let b = server.browser();
        let p1 = b.open(&url).await;

        let wrong = b.password(&p1, "alice", "not the password").await;
        assert_eq!(wrong.status, 401);
        assert!(wrong.body.contains("Bruger-id eller adgangskode er forkert"), "{}", wrong.body);
        let unknown = b.password(&p1, "nobody", PASSWORD).await;
        let locked_right = b.password(&p1, "locked", PASSWORD).await;
        let locked_wrong = b.password(&p1, "locked", "not the password").await;
        for (name, p, typed) in [
            ("unknown", &unknown, "nobody"),
            ("locked+right", &locked_right, "locked"),
            ("locked+wrong", &locked_wrong, "locked"),
        ] {
            assert_eq!(p.status, 401, "{name}");
            assert_eq!(normalised(p, typed), normalised(&wrong, "alice"), "{name} must look like a wrong password");
        }
        // Nothing advanced: still step 1, no key used.
        assert!(b.get("/login").await.body.contains("name=\"password\""));
        assert_eq!(server.unused_keys(&card.serial).await, 148);
        assert_eq!(server.user(&alice.sub).await.failed_attempts, 1);
    })
    .await;
}

#[tokio::test]
async fn wrong_used_and_other_keys_are_refused_without_using_a_key() {
    both(|server| async move {
        let (alice, card) = server.user_with_card("alice").await;
        let c = server.client("Bank", CB, false).await;
        let url = authorize_url(&server, c.client.client_id.as_str(), &[]);
        let b = server.browser();
        let p1 = b.open(&url).await;
        let p2 = b.password(&p1, "alice", PASSWORD).await;
        let number = Browser::asked_number(&p2);
        let other = card.keys.iter().find(|(n, _)| **n != number).map(|(_, k)| k.clone()).unwrap();
        let wrong_digit = {
            let k = &card.keys[&number];
            let last = if k.ends_with('0') { '1' } else { '0' };
            format!("{}{last}", &k[..5])
        };
        for (what, key) in
            [("another number's key", other.as_str()), ("a wrong key", wrong_digit.as_str()), ("not a key", "12ab56")]
        {
            let r = b.key(&p2, key).await;
            assert_eq!(r.status, 401, "{what}");
            assert!(r.body.contains("Nøglen er forkert"), "{what}: {}", r.body);
            assert_eq!(Browser::asked_number(&r), number, "{what}: the same key is asked again");
            assert_eq!(server.unused_keys(&card.serial).await, 148, "{what}: no key used");
        }
        assert_eq!(server.user(&alice.sub).await.failed_attempts, 3);

        // A key already used (here: in another session) is refused.
        assert!(server.state.store.consume_key(&card.serial, &number, server.now()).await.unwrap());
        let r = b.key(&p2, &card.keys[&number]).await;
        assert_eq!(r.status, 401);
        assert_eq!(server.unused_keys(&card.serial).await, 147);
        assert_eq!(server.user(&alice.sub).await.failed_attempts, 4);
    })
    .await;
}

#[tokio::test]
async fn bad_clients_and_redirect_uris_are_shown_not_followed() {
    both(|server| async move {
        let c = server.client("Bank", CB, false).await;
        let b = server.browser();
        let id = c.client.client_id.as_str();
        for (what, overrides) in [
            ("unregistered redirect", vec![("redirect_uri", Some("https://evil.example/cb"))]),
            ("near-miss redirect", vec![("redirect_uri", Some("http://localhost:9999/cb/"))]),
            ("missing redirect", vec![("redirect_uri", None)]),
            ("unknown client", vec![("client_id", Some("c-nope"))]),
            ("missing client", vec![("client_id", None)]),
        ] {
            let r = b.get(&authorize_url(&server, id, &overrides)).await;
            assert_eq!(r.status, 400, "{what}");
            assert_eq!(r.location, None, "{what}: never redirected");
            assert!(r.body.contains("Ugyldig anmodning"), "{what}: {}", r.body);
        }
        // Other errors go back to the client with the OAuth error name, state and iss.
        for (what, overrides, error) in [
            ("token flow", vec![("response_type", Some("token"))], "unsupported_response_type"),
            ("no openid", vec![("scope", Some("profile"))], "invalid_scope"),
            ("plain PKCE", vec![("code_challenge_method", Some("plain"))], "invalid_request"),
            ("short challenge", vec![("code_challenge", Some("abc"))], "invalid_request"),
        ] {
            let r = b.get(&authorize_url(&server, id, &overrides)).await;
            assert_eq!(r.status, 303, "{what}");
            assert!(r.location.as_deref().unwrap().starts_with(CB), "{what}");
            assert_eq!(r.location_param("error").as_deref(), Some(error), "{what}");
            assert_eq!(r.location_param("state").as_deref(), Some("s-123"));
            assert_eq!(r.location_param("iss").as_deref(), Some(server.url.as_str()));
        }
        // A public client must use PKCE.
        let public = server.client("App", CB, true).await;
        let r = b
            .get(&authorize_url(
                &server,
                public.client.client_id.as_str(),
                &[("code_challenge", None), ("code_challenge_method", None)],
            ))
            .await;
        assert_eq!(r.location_param("error").as_deref(), Some("invalid_request"));
        assert!(r.location_param("error_description").unwrap().contains("PKCE"));
    })
    .await;
}

/// Logs alice in and answers the code.
async fn code_for(server: &TestServer, client_id: &str, card: &noegle_core::keycard::ClearCard) -> String {
    let back = server.browser().log_in(&authorize_url(server, client_id, &[]), "alice", card).await;
    back.location_param("code").unwrap()
}

#[tokio::test]
async fn token_refusals_leave_the_code_usable_and_reuse_revokes() {
    both(|server| async move {
        let (_, card) = server.user_with_card("alice").await;
        let c = server.client("Bank", CB, false).await;
        let (id, secret) = (c.client.client_id.as_str(), c.client_secret.as_deref().unwrap());
        let code = code_for(&server, id, &card).await;
        let good: Vec<(&str, &str)> = vec![
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CB),
            ("code_verifier", VERIFIER),
        ];
        let with = |k: &'static str, v: Option<&'static str>| {
            let mut f: Vec<(&str, &str)> = good.iter().filter(|(gk, _)| *gk != k).cloned().collect();
            if let Some(v) = v {
                f.push((k, v));
            }
            f
        };
        let (s, e) = token(&server, &good, Some((id, "wrong secret"))).await;
        assert_eq!((s, e["error"].as_str()), (401, Some("invalid_client")));
        let (s, e) = token(
            &server,
            &with("code_verifier", Some("wrong-verifier-wrong-verifier-wrong-verifier-x")),
            Some((id, secret)),
        )
        .await;
        assert_eq!((s, e["error"].as_str()), (400, Some("invalid_grant")));
        let (s, e) = token(&server, &with("code_verifier", None), Some((id, secret))).await;
        assert_eq!((s, e["error"].as_str()), (400, Some("invalid_grant")), "PKCE cannot be dropped at the token step");
        let (s, e) =
            token(&server, &with("redirect_uri", Some("http://localhost:9999/other")), Some((id, secret))).await;
        assert_eq!((s, e["error"].as_str()), (400, Some("invalid_grant")));
        let (s, e) = token(&server, &with("grant_type", Some("client_credentials")), Some((id, secret))).await;
        assert_eq!((s, e["error"].as_str()), (400, Some("unsupported_grant_type")));

        // The code survived every refusal.
        let (s, first) = token(&server, &good, Some((id, secret))).await;
        assert_eq!(s, 200, "{first}");
        let access = first["access_token"].as_str().unwrap().to_string();
        let info = |t: String| {
            let url = format!("{}/userinfo", server.url);
            async move { reqwest::Client::new().get(url).bearer_auth(t).send().await.unwrap().status().as_u16() }
        };
        assert_eq!(info(access.clone()).await, 200);

        // Second use: refused, and the tokens of the first use are revoked.
        let (s, e) = token(&server, &good, Some((id, secret))).await;
        assert_eq!((s, e["error"].as_str()), (400, Some("invalid_grant")));
        assert_eq!(info(access).await, 401);

        // client_secret_post works too; a code lives 60 seconds.
        let code = code_for(&server, id, &card).await;
        server.clock.advance(61);
        let form = [
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CB),
            ("code_verifier", VERIFIER),
            ("client_id", id),
            ("client_secret", secret),
        ];
        let (s, e) = token(&server, &form, None).await;
        assert_eq!((s, e["error"].as_str()), (400, Some("invalid_grant")), "expired");
        let code = code_for(&server, id, &card).await;
        let form = [
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CB),
            ("code_verifier", VERIFIER),
            ("client_id", id),
            ("client_secret", secret),
        ];
        assert_eq!(token(&server, &form, None).await.0, 200);
    })
    .await;
}

#[tokio::test]
async fn forms_without_a_valid_csrf_token_are_refused_and_count_nothing() {
    both(|server| async move {
        let (alice, card) = server.user_with_card("alice").await;
        let c = server.client("Bank", CB, false).await;
        let b = server.browser();
        let p1 = b.open(&authorize_url(&server, c.client.client_id.as_str(), &[])).await;
        for (what, csrf) in [("missing", None), ("wrong", Some("x".repeat(43))), ("empty", Some(String::new()))] {
            let mut fields = vec![("user_id", "alice"), ("password", PASSWORD)];
            if let Some(t) = &csrf {
                fields.push(("csrf", t));
            }
            let r = b.post("/login/password", &fields).await;
            assert_eq!(r.status, 403, "{what}");
            assert!(r.body.contains("Din session er udløbet"), "{what}");
        }
        // Another browser (no session cookie) with a real token is refused too.
        let r = server
            .browser()
            .post("/login/password", &[("csrf", &p1.csrf()), ("user_id", "alice"), ("password", PASSWORD)])
            .await;
        assert_eq!(r.status, 403);
        assert_eq!(server.user(&alice.sub).await.failed_attempts, 0, "nothing was checked");
        // The real session still works.
        let p2 = b.password(&p1, "alice", PASSWORD).await;
        let r = b.post("/login/key", &[("key", &card.keys[&Browser::asked_number(&p2)])]).await;
        assert_eq!(r.status, 403, "key step without token");
        assert_eq!(server.unused_keys(&card.serial).await, 148);
    })
    .await;
}

#[tokio::test]
async fn malformed_and_oversize_bodies_get_clear_errors() {
    both(|server| async move {
        let (alice, _) = server.user_with_card("alice").await;
        let c = server.client("Bank", CB, false).await;
        let b = server.browser();
        let p1 = b.open(&authorize_url(&server, c.client.client_id.as_str(), &[])).await;
        let csrf = p1.csrf();
        let r = b.post_raw("/login/password", "application/json", br#"{"user_id":"alice"}"#.to_vec()).await;
        assert_eq!(r.status, 415);
        let r = b.post_raw("/login/password", "application/x-www-form-urlencoded", vec![b'a', b'=', 0xff, 0xfe]).await;
        assert_eq!(r.status, 400);
        let r = b
            .post("/login/password", &[("csrf", &csrf), ("csrf", &csrf), ("user_id", "alice"), ("password", "x")])
            .await;
        assert_eq!(r.status, 400, "repeated field");
        let r = b.post("/login/password", &[("csrf", &csrf), ("user_id", "alice")]).await;
        assert_eq!(r.status, 400, "missing password");
        assert!(r.body.contains("password"), "names the field: {}", r.body);
        let big = format!("csrf={csrf}&user_id=alice&password={}", "a".repeat(20_000));
        let r = b.post_raw("/login/password", "application/x-www-form-urlencoded", big.into_bytes()).await;
        assert_eq!(r.status, 413);
        assert_eq!(server.user(&alice.sub).await.failed_attempts, 0);

        let r = reqwest::Client::new()
            .post(format!("{}/token", server.url))
            .header("content-type", "text/plain")
            .body("x")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        let e: serde_json::Value = r.json().await.unwrap();
        assert_eq!(e["error"], "invalid_request");
        let r = reqwest::Client::new()
            .post(format!("{}/token", server.url))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("code={}", "a".repeat(20_000)))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 413);
    })
    .await;
}
