//! Nothing acknowledged is lost: a key accepted just before the server is killed stays used.

use noegle_core::Ctx;
use noegle_core::keycard::ClearCard;
use noegle_core::login::{Challenge, LoginError, check_key};
use noegle_testkit::{Browser, PASSWORD};

use crate::{authorize_url, free_port, json, serve};

async fn crash_after_key(database: Option<String>) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let db = database.as_deref();
    json(d, db, &["user", "add", "alice", "--password-stdin", "--json"], &format!("{PASSWORD}\n"));
    let card_json =
        json(d, db, &["keycard", "issue", "alice", "--pdf", d.join("c.pdf").to_str().unwrap(), "--json"], "");
    let card: ClearCard = serde_json::from_value(card_json).unwrap();
    let cb = "http://localhost:9999/cb";
    let client = json(d, db, &["client", "add", "Bank", "--redirect-uri", cb, "--public", "--json"], "");
    let port = free_port();
    let mut server = serve(d, db, port, &[]).await;

    let authorize = authorize_url(&server.url, client["client_id"].as_str().unwrap(), cb);
    let b = Browser::new(&server.url);
    let p1 = b.open(&authorize).await;
    let p2 = b.password(&p1, "alice", PASSWORD).await;
    let used = Browser::asked_number(&p2);
    let done = b.key(&p2, &card.keys[&used]).await;
    assert_eq!(done.status, 303, "the key was accepted");
    server.child.kill().unwrap(); // SIGKILL, right after the acknowledgement
    server.child.wait().unwrap();
    drop(server);

    // After the crash the key is used, and the domain refuses it.
    let url = database.clone().unwrap_or_else(|| noegle_store::testing::sqlite_url(d));
    let store = noegle_store::open(&url).await.unwrap();
    assert!(!store.unused_key_numbers(&card.serial).await.unwrap().contains(&used));
    let pepper = noegle_server::secrets::pepper(d).unwrap();
    let alice = store.user_by_user_id(&noegle_core::user::UserId::parse("alice").unwrap()).await.unwrap().unwrap();
    let ctx =
        Ctx { store: store.as_ref(), now: noegle_core::Clock::now(&noegle_server::SystemClock), source: Some("test") };
    let again = check_key(
        ctx,
        &mut rand::rngs::OsRng,
        &pepper,
        &alice.sub,
        &Challenge { serial: card.serial.clone(), number: used.clone() },
        &card.keys[&used],
    )
    .await;
    assert!(matches!(again, Err(LoginError::Rejected)), "{again:?}");

    // The restarted server never asks for it again, and still logs alice in with other keys.
    let server = serve(d, db, free_port(), &[]).await;
    let authorize = authorize.replace(&format!("127.0.0.1:{port}"), server.url.trim_start_matches("http://"));
    for _ in 0..3 {
        let b = Browser::new(&server.url);
        let p1 = b.open(&authorize).await;
        let p2 = b.password(&p1, "alice", PASSWORD).await;
        let n = Browser::asked_number(&p2);
        assert_ne!(n, used);
        assert_eq!(b.key(&p2, &card.keys[&n]).await.status, 303);
    }
}

#[tokio::test]
async fn a_key_accepted_before_sigkill_is_never_accepted_again_on_sqlite() {
    crash_after_key(None).await;
}

#[tokio::test]
async fn a_key_accepted_before_sigkill_is_never_accepted_again_on_postgres() {
    crash_after_key(Some(noegle_store::testing::fresh_postgres_database().await.unwrap())).await;
}
