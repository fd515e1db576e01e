use noegle_core::accounts::{AccountError, create_user};
use noegle_core::user::UserId;

use crate::{alice, ctx, each_store};

#[tokio::test]
async fn users_are_stored_and_user_ids_unique() {
    each_store(|store| async move {
        let s = store.as_ref();
        let a = alice(s).await;
        let found = s.user_by_user_id(&UserId::parse("ALICE").unwrap()).await.unwrap().unwrap();
        assert_eq!(found, a);
        assert_eq!(s.user_by_sub(&a.sub).await.unwrap().unwrap().display_name, "Alice Andersen");
        let again = create_user(ctx(s, 1), &mut rand::rngs::OsRng, "alice", None, "another password").await;
        assert!(matches!(again, Err(AccountError::Exists(_))), "{again:?}");
        assert_eq!(s.user_by_sub(&a.sub).await.unwrap().unwrap(), a, "the first alice is unchanged");
    })
    .await;
}

#[tokio::test]
async fn the_audit_log_is_append_only() {
    each_store(|store| async move {
        let s = store.as_ref();
        alice(s).await;
        let events = s.audit(Some("alice"), 10).await.unwrap();
        assert_eq!(events.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(), ["user_created"]);
        assert_eq!(events[0].source.as_deref(), Some("test"));
    })
    .await;
    // Under the trait: the database itself refuses to change the trail (database only: memory has no SQL to
    // refuse).
    let dir = tempfile::tempdir().unwrap();
    let url = noegle_store::testing::sqlite_url(dir.path());
    alice(noegle_store::open(&url).await.unwrap().as_ref()).await;
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    for sql in ["UPDATE audit_log SET kind = 'x'", "DELETE FROM audit_log"] {
        let err = sqlx::query(sql).execute(&pool).await.unwrap_err();
        assert!(err.to_string().contains("append-only"), "{err}");
    }
    let url = noegle_store::testing::fresh_postgres_database().await.unwrap();
    alice(noegle_store::open(&url).await.unwrap().as_ref()).await;
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    for sql in ["UPDATE audit_log SET kind = 'x'", "DELETE FROM audit_log"] {
        let err = sqlx::query(sql).execute(&pool).await.unwrap_err();
        assert!(err.to_string().contains("append-only"), "{err}");
    }
}

/// A key of the kind with no prefix, so the test reads the stored ids as they are.
fn key(id: &str) -> noegle_core::session_key::SessionKey {
    noegle_core::session_key::SessionKey::LoginBox(id.to_string())
}

#[tokio::test]
async fn sessions_expire() {
    each_store(|store| async move {
        let s = store.as_ref();
        s.put_session(&key("d1"), "{\"a\":1}", noegle_core::UnixTime(100)).await.unwrap();
        assert_eq!(s.session(&key("d1"), noegle_core::UnixTime(99)).await.unwrap().as_deref(), Some("{\"a\":1}"));
        assert_eq!(s.session(&key("d1"), noegle_core::UnixTime(100)).await.unwrap(), None);
        s.put_session(&key("d1"), "{\"a\":2}", noegle_core::UnixTime(200)).await.unwrap();
        assert_eq!(s.session(&key("d1"), noegle_core::UnixTime(150)).await.unwrap().as_deref(), Some("{\"a\":2}"));
        s.delete_session(&key("d1")).await.unwrap();
        assert_eq!(s.session(&key("d1"), noegle_core::UnixTime(150)).await.unwrap(), None);

        // A single-use entry is taken once, even by concurrent takers; expired ones are purged.
        s.put_session(&key("t1"), "ticket", noegle_core::UnixTime(200)).await.unwrap();
        let takers: Vec<_> = (0..8)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move { store.take_session(&key("t1"), noegle_core::UnixTime(150)).await.unwrap() })
            })
            .collect();
        let mut got = 0;
        for t in takers {
            got += t.await.unwrap().is_some() as usize;
        }
        assert_eq!(got, 1);
        s.put_session(&key("old"), "x", noegle_core::UnixTime(100)).await.unwrap();
        s.put_session(&key("new"), "y", noegle_core::UnixTime(300)).await.unwrap();
        assert_eq!(s.take_session(&key("old"), noegle_core::UnixTime(150)).await.unwrap(), None, "expired");
        assert!(s.purge_expired(noegle_core::UnixTime(150), noegle_core::UnixTime(0)).await.unwrap() >= 1);
        assert_eq!(s.session(&key("new"), noegle_core::UnixTime(150)).await.unwrap().as_deref(), Some("y"));

        // Rotation moves a session to a new id in one step: the old id is gone, the new one holds the new data.
        assert!(s.rotate_session(&key("new"), &key("newer"), "z", noegle_core::UnixTime(400)).await.unwrap());
        assert_eq!(s.session(&key("new"), noegle_core::UnixTime(150)).await.unwrap(), None);
        assert_eq!(s.session(&key("newer"), noegle_core::UnixTime(350)).await.unwrap().as_deref(), Some("z"));
        assert!(
            !s.rotate_session(&key("new"), &key("newest"), "w", noegle_core::UnixTime(400)).await.unwrap(),
            "gone already"
        );
        assert_eq!(s.session(&key("newest"), noegle_core::UnixTime(150)).await.unwrap(), None);
    })
    .await;
}

/// The shared guess count: one atomic count per address and minute, even for concurrent guesses.
#[tokio::test]
async fn guesses_are_counted_once_each_per_address_and_minute() {
    each_store(|store| async move {
        let counts: Vec<_> = (0..12)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move { store.count_guess("203.0.113.7", 100).await.unwrap() })
            })
            .collect();
        let mut seen = Vec::new();
        for c in counts {
            seen.push(c.await.unwrap());
        }
        seen.sort();
        assert_eq!(seen, (1..=12).collect::<Vec<i64>>(), "each guess got its own count");
        assert_eq!(store.count_guess("203.0.113.8", 100).await.unwrap(), 1, "per address");
        assert_eq!(store.count_guess("203.0.113.7", 101).await.unwrap(), 1, "per minute");
        store.purge_expired(noegle_core::UnixTime(101 * 60), noegle_core::UnixTime(0)).await.unwrap();
        assert_eq!(store.count_guess("203.0.113.7", 100).await.unwrap(), 13, "the last minute is kept");
        store.purge_expired(noegle_core::UnixTime(102 * 60), noegle_core::UnixTime(0)).await.unwrap();
        assert_eq!(store.count_guess("203.0.113.7", 100).await.unwrap(), 1, "older ones are purged");
    })
    .await;
}
