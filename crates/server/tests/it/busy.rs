//! When the password workers cannot keep up, the app API says "busy" (503 with `Retry-After`) and the log-in
//! box shows the form again in the user's language; nothing turned away counts as a guess.

use noegle_testkit::{Backend, TestServer};
use serde_json::{Value, json};

use crate::{CB, authorize_url};

/// A server with one password worker, room for one waiting check, and no patience.
async fn strained() -> TestServer {
    TestServer::start_with(Backend::Sqlite, |c| {
        c.password_workers = 1;
        c.password_queue = 1;
        c.password_wait_ms = 1;
    })
    .await
}

#[tokio::test]
async fn the_app_api_answers_busy_and_counts_only_the_checks_that_ran() {
    let server = strained().await;
    let (alice, _) = server.user_with_card("alice").await;
    let http = reqwest::Client::new();
    let posts = (0..24).map(|i| {
        let http = http.clone();
        let url = format!("{}/api/app/v1/login", server.url);
        async move {
            let r = http.post(url).json(&json!({ "user_id": "alice", "password": format!("forkert {i}") })).send();
            let r = r.await.unwrap();
            let retry_after = r.headers().get("retry-after").map(|v| v.to_str().unwrap().to_string());
            (r.status().as_u16(), retry_after, r.json::<Value>().await.unwrap())
        }
    });
    let answers = futures::future::join_all(posts).await;
    let checked = answers.iter().filter(|a| a.0 == 401).count();
    let busy: Vec<_> = answers.iter().filter(|a| a.0 == 503).collect();
    assert_eq!(checked + busy.len(), answers.len(), "{answers:?}");
    assert!(!busy.is_empty(), "24 checks at once cannot all fit one worker and one place in line");
    for (_, retry_after, body) in &busy {
        assert_eq!(retry_after.as_deref(), Some("2"));
        assert_eq!(body["error"], "busy");
        assert!(body["message"].as_str().unwrap().contains("try again"), "{body}");
    }
    assert_eq!(server.user(&alice.sub).await.failed_attempts as usize, checked, "only checks that ran count");
}

#[tokio::test]
async fn the_log_in_box_shows_the_form_again_with_a_busy_message_in_english() {
    let server = strained().await;
    server.user_with_card("bob").await;
    let client = server.client("Bank", CB, true).await;
    let url = authorize_url(&server, client.client.client_id.as_str(), &[]);
    // Sessions first, then their password posts all at once.
    let mut pages = Vec::new();
    for _ in 0..16 {
        let b = server.browser();
        let p = b.open(&url).await;
        pages.push((b, p));
    }
    let base = server.url.clone();
    let posts = pages.iter().map(|(b, p)| {
        let base = base.clone();
        async move {
            let fields =
                [("csrf", p.csrf()), ("user_id", "bob".to_string()), ("password", "forkert adgangskode".into())];
            let body: String = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish();
            let r = b
                .http
                .post(format!("{base}/login/password"))
                .header("content-type", "application/x-www-form-urlencoded")
                .header("accept-language", "en")
                .body(body)
                .send()
                .await
                .unwrap();
            noegle_testkit::Browser::read(r).await
        }
    });
    let answers = futures::future::join_all(posts).await;
    let busy: Vec<_> = answers.iter().filter(|p| p.status == 503).collect();
    assert!(!busy.is_empty(), "{:?}", answers.iter().map(|p| p.status).collect::<Vec<_>>());
    assert!(answers.iter().all(|p| p.status == 401 || p.status == 503));
    for page in busy {
        assert!(page.headers.contains_key("retry-after"));
        assert!(page.body.contains("We are busy right now"), "{}", page.body);
        assert!(page.body.contains("name=\"password\""), "the form is there to try again");
        assert!(page.body.contains("value=\"bob\""), "with the user ID as typed");
    }
}
