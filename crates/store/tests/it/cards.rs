use noegle_core::keycard::{CardStatus, KeyPepper, REISSUE_BELOW};
use noegle_core::login::{Challenge, LoginError, check_key, issue_card};

use crate::{alice, both, ctx};

fn pepper() -> KeyPepper {
    KeyPepper::from_bytes([42; 32])
}

#[tokio::test]
async fn a_key_is_accepted_once_and_only_for_its_number() {
    both(|store| async move {
        let s = store.as_ref();
        let a = alice(s).await;
        let card = issue_card(ctx(s, 1000), &mut rand::rngs::OsRng, &pepper(), &a).await.unwrap();
        let mut numbers = card.keys.keys();
        let (n1, n2) = (numbers.next().unwrap().clone(), numbers.next().unwrap().clone());
        let ch = Challenge { serial: card.serial.clone(), number: n1.clone() };
        let rng = &mut rand::rngs::OsRng;

        // The key of another number is wrong, and so is a typo; neither consumes anything.
        let other = check_key(ctx(s, 1001), rng, &pepper(), &a.sub, &ch, &card.keys[&n2]).await;
        assert!(matches!(other, Err(LoginError::Rejected)), "{other:?}");
        assert!(check_key(ctx(s, 1002), rng, &pepper(), &a.sub, &ch, "000000x").await.is_err());
        assert_eq!(s.unused_key_numbers(&card.serial).await.unwrap().len(), 148);

        let ok = check_key(ctx(s, 1003), rng, &pepper(), &a.sub, &ch, &card.keys[&n1]).await.unwrap();
        assert_eq!(ok.remaining, 147);
        assert_eq!(ok.new_card, None);
        assert_eq!(s.user_by_sub(&a.sub).await.unwrap().unwrap().failed_attempts, 0, "success clears failures");

        let again = check_key(ctx(s, 1004), rng, &pepper(), &a.sub, &ch, &card.keys[&n1]).await;
        assert!(matches!(again, Err(LoginError::Rejected)), "{again:?}");
        assert_eq!(s.user_by_sub(&a.sub).await.unwrap().unwrap().failed_attempts, 1, "a used key counts as a failure");
    })
    .await;
}

#[tokio::test]
async fn concurrent_consumes_of_one_key_have_one_winner() {
    both(|store| async move {
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

#[tokio::test]
async fn a_low_card_brings_a_new_one_that_replaces_it_when_first_used() {
    both(|store| async move {
        let s = store.as_ref();
        let a = alice(s).await;
        let rng = &mut rand::rngs::OsRng;
        let old = issue_card(ctx(s, 1000), rng, &pepper(), &a).await.unwrap();
        // Use keys until fewer than REISSUE_BELOW remain.
        let numbers: Vec<_> = old.keys.keys().cloned().collect();
        let to_use = 148 - REISSUE_BELOW as usize;
        for n in &numbers[..to_use] {
            assert!(s.consume_key(&old.serial, n, noegle_core::UnixTime(1001)).await.unwrap());
        }
        let n = &numbers[to_use];
        let ch = Challenge { serial: old.serial.clone(), number: n.clone() };
        let ok = check_key(ctx(s, 1002), rng, &pepper(), &a.sub, &ch, &old.keys[n]).await.unwrap();
        assert_eq!(ok.remaining, REISSUE_BELOW - 1);
        let new = ok.new_card.expect("a new card is issued when few keys remain");
        let cards = s.cards_of(&a.sub).await.unwrap();
        let status = |serial: &str| cards.iter().find(|c| c.serial == serial).unwrap().status;
        assert_eq!(status(&old.serial), CardStatus::Active, "the old card works until the new one is used");
        assert_eq!(status(&new.serial), CardStatus::Pending);

        let (n, k) = new.keys.iter().next().unwrap();
        let ch = Challenge { serial: new.serial.clone(), number: n.clone() };
        let ok = check_key(ctx(s, 1003), rng, &pepper(), &a.sub, &ch, k).await.unwrap();
        assert_eq!(ok.new_card, None);
        let cards = s.cards_of(&a.sub).await.unwrap();
        let status = |serial: &str| cards.iter().find(|c| c.serial == serial).unwrap().status;
        assert_eq!(status(&new.serial), CardStatus::Active);
        assert_eq!(status(&old.serial), CardStatus::Superseded);

        // The superseded card's keys no longer work.
        let n = &numbers[to_use + 1];
        let ch = Challenge { serial: old.serial.clone(), number: n.clone() };
        assert!(check_key(ctx(s, 1004), rng, &pepper(), &a.sub, &ch, &old.keys[n]).await.is_err());
    })
    .await;
}

#[tokio::test]
async fn a_blocked_card_refuses_its_keys() {
    both(|store| async move {
        let s = store.as_ref();
        let a = alice(s).await;
        let card = issue_card(ctx(s, 1000), &mut rand::rngs::OsRng, &pepper(), &a).await.unwrap();
        assert!(s.set_card_status(&card.serial, CardStatus::Active, CardStatus::Blocked).await.unwrap());
        let (n, k) = card.keys.iter().next().unwrap();
        let ch = Challenge { serial: card.serial.clone(), number: n.clone() };
        assert!(check_key(ctx(s, 1001), &mut rand::rngs::OsRng, &pepper(), &a.sub, &ch, k).await.is_err());
        assert_eq!(s.unused_key_numbers(&card.serial).await.unwrap().len(), 148, "nothing consumed");
    })
    .await;
}

/// Issue 9, finding 8: a key is spent and its `key_accepted` audit event written in one transaction. With
/// the event refused (a trigger on the database stands in for a crash between the two), the key is not
/// spent either.
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
