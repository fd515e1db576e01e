use noegle_core::lockout::{MAX_CONSECUTIVE_FAILURES, delay_after};
use noegle_core::login::{InlinePasswordCheck, LoginError, check_password};

use crate::{alice, both, ctx};

const PW: &str = "korrekt hest batteri";

#[tokio::test]
async fn a_hundred_failures_lock_even_the_right_password_out() {
    both(|store| async move {
        let s = store.as_ref();
        let a = alice(s).await;
        // Waiting out each delay is not needed for counting: attempts during a delay count too.
        let mut now = 2000;
        for i in 0..MAX_CONSECUTIVE_FAILURES {
            now += if i % 2 == 0 { delay_after(i) } else { 0 };
            let r = check_password(ctx(s, now), &InlinePasswordCheck, "alice", "wrong password!").await;
            assert!(matches!(r, Err(LoginError::Rejected)));
        }
        let u = s.user_by_sub(&a.sub).await.unwrap().unwrap();
        assert_eq!(u.failed_attempts, MAX_CONSECUTIVE_FAILURES);
        let later = now + 365 * 24 * 3600;
        let r = check_password(ctx(s, later), &InlinePasswordCheck, "alice", PW).await;
        assert!(matches!(r, Err(LoginError::Rejected)), "locked: the right password is refused too");
        let kinds: Vec<String> = s.audit(Some("alice"), 500).await.unwrap().into_iter().map(|e| e.kind).collect();
        assert_eq!(kinds.iter().filter(|k| *k == "account_locked").count(), 1);
        assert_eq!(kinds.last().map(String::as_str), Some("attempt_while_locked"));

        noegle_core::accounts::set_blocked(ctx(s, later), "alice", false).await.unwrap();
        assert!(
            check_password(ctx(s, later), &InlinePasswordCheck, "alice", PW).await.is_ok(),
            "unblock ends the lock"
        );
    })
    .await;
}

#[tokio::test]
async fn delays_refuse_even_right_passwords_and_count() {
    both(|store| async move {
        let s = store.as_ref();
        let a = alice(s).await;
        for _ in 0..6 {
            let _ = check_password(ctx(s, 5000), &InlinePasswordCheck, "alice", "wrong password!").await;
        }
        // After 6 failures the next attempt must wait delay_after(6) = 2 s.
        let r = check_password(ctx(s, 5001), &InlinePasswordCheck, "alice", PW).await;
        assert!(matches!(r, Err(LoginError::Rejected)));
        assert_eq!(s.user_by_sub(&a.sub).await.unwrap().unwrap().failed_attempts, 7);
        let wait = 5001 + delay_after(7);
        assert!(check_password(ctx(s, wait), &InlinePasswordCheck, "alice", PW).await.is_ok());
    })
    .await;
}

#[tokio::test]
async fn twenty_parallel_wrong_guesses_count_twenty() {
    both(|store| async move {
        let a = alice(store.as_ref()).await;
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move {
                    check_password(ctx(store.as_ref(), 9000), &InlinePasswordCheck, "alice", "wrong password!")
                        .await
                        .is_err()
                })
            })
            .collect();
        for t in tasks {
            assert!(t.await.unwrap());
        }
        assert_eq!(store.user_by_sub(&a.sub).await.unwrap().unwrap().failed_attempts, 20);
    })
    .await;
}

#[tokio::test]
async fn unknown_users_and_bad_input_are_rejected_alike() {
    both(|store| async move {
        let s = store.as_ref();
        alice(s).await;
        for (user, pw) in [("bob", PW), ("x", PW), ("alice", ""), ("alice", &"p".repeat(10_000))] {
            let r = check_password(ctx(s, 100), &InlinePasswordCheck, user, pw).await;
            assert!(matches!(r, Err(LoginError::Rejected)), "{user}: {r:?}");
        }
    })
    .await;
}
