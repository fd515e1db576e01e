//! Key cards under concurrency and crashes: one winner per key, a spent key and its audit event together
//! (the rules of keys and cards are specified next to `noegle_core::login`).
use noegle_core::keycard::KeyPepper;
use noegle_core::login::{Challenge, LoginError, check_key, issue_card};

use crate::{alice, ctx, each_store};

fn pepper() -> KeyPepper {
    KeyPepper::from_bytes([42; 32])
}

#[tokio::test]
async fn concurrent_consumes_of_one_key_have_one_winner() {
    each_store(|store| async move {
        let a = alice(store.as_ref()).await;
        let card = issue_card(ctx(store.as_ref(), 1000), &mut rand::rngs::OsRng, &pepper(), &a).await.unwrap();
        let number = card.keys.keys().next().unwrap().clone();
        let tasks: Vec<_> = (0..10)
            .map(|_| {
                let (store, serial, number) = (store.clone(), card.serial.clone(), number.clone());
                tokio::spawn(
                    async move { store.consume_key(&serial, &number, noegle_core::UnixTime(5)).await.unwrap() },
                )
            })
            .collect();
        let mut wins = 0;
        for t in tasks {
            wins += t.await.unwrap() as usize;
        }
        assert_eq!(wins, 1);
    })
    .await;
}

/// A key is spent and its `key_accepted` audit event written in one transaction. With
/// the event refused (a trigger on the database stands in for a crash between the two), the key is not
/// spent either. Database only: the crash stands in as a trigger, and only a database has a transaction to
/// roll back.
async fn an_accepted_key_and_its_audit_event_commit_together(url: &str) {
    let store = noegle_store::open(url).await.unwrap();
    let s = store.as_ref();
    let a = alice(s).await;
    let card = issue_card(ctx(s, 1000), &mut rand::rngs::OsRng, &pepper(), &a).await.unwrap();
    let number = card.keys.keys().next().unwrap().clone();
    let ch = Challenge { serial: card.serial.clone(), number: number.clone() };
    let r = check_key(ctx(s, 1001), &mut rand::rngs::OsRng, &pepper(), &a.sub, &ch, &card.keys[&number]).await;
    assert!(matches!(r, Err(LoginError::Store(_))), "{r:?}");
    assert!(s.unused_key_numbers(&card.serial).await.unwrap().contains(&number), "no event, no spent key");
}

#[tokio::test]
async fn an_accepted_key_and_its_audit_event_commit_together_on_sqlite() {
    use sqlx::Connection;
    let dir = tempfile::tempdir().unwrap();
    let url = noegle_store::testing::sqlite_url(dir.path());
    noegle_store::open(&url).await.unwrap();
    let mut raw = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::raw_sql(
        "CREATE TRIGGER refuse_key_accepted BEFORE INSERT ON audit_log WHEN NEW.kind = 'key_accepted' \
         BEGIN SELECT RAISE(ABORT, 'audit refused'); END",
    )
    .execute(&mut raw)
    .await
    .unwrap();
    an_accepted_key_and_its_audit_event_commit_together(&url).await;
}

#[tokio::test]
async fn an_accepted_key_and_its_audit_event_commit_together_on_postgres() {
    use sqlx::Connection;
    let url = noegle_store::testing::fresh_postgres_database().await.unwrap();
    noegle_store::open(&url).await.unwrap();
    let mut raw = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::raw_sql(
        "CREATE FUNCTION refuse_audit() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'audit refused'; END $$ \
         LANGUAGE plpgsql; \
         CREATE TRIGGER refuse_key_accepted BEFORE INSERT ON audit_log FOR EACH ROW \
         WHEN (NEW.kind = 'key_accepted') EXECUTE FUNCTION refuse_audit()",
    )
    .execute(&mut raw)
    .await
    .unwrap();
    an_accepted_key_and_its_audit_event_commit_together(&url).await;
}
