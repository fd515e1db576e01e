//! The failure counter under concurrency: every parallel guess counts (the lockout's rules themselves are
//! specified next to `noegle_core::login`).
use noegle_core::login::{InlinePasswordCheck, check_password};

use crate::{alice, ctx, each_store};

#[tokio::test]
async fn twenty_parallel_wrong_guesses_count_twenty() {
    each_store(|store| async move {
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
