//! Requests in the store: one winner between an approval and a rejection, one pending request per user
//! (the rules of requests are specified next to `noegle_core::request`).
use noegle_core::device::Unlock;
use std::sync::Arc;

use noegle_core::UnixTime;
use noegle_core::device::Device;
use noegle_core::request::{self, Decision, MatchPolicy, RequestError, RequestState};
use noegle_core::store::{Store, StoreError};

use crate::{alice, ctx, each_store};

async fn active_device(store: &dyn Store, sub: &str) -> Device {
    let d = crate::devices::device(sub, 0);
    store.insert_device(&d).await.unwrap();
    store.activate_device(&d.device_id, UnixTime(1), 3).await.unwrap();
    store.device(&d.device_id).await.unwrap().unwrap()
}

fn decision(r: &request::AuthRequest, what: &str, code: Option<&str>) -> Decision {
    Decision {
        decision: match what {
            "approve" => request::Verdict::Approve,
            _ => request::Verdict::Reject,
        },
        request_nonce: r.nonce.clone(),
        client_id: r.client_id.clone(),
        expires_at: r.expires_at,
        match_code: code.map(str::to_string),
        not_me: false,
    }
}

#[tokio::test]
async fn approve_racing_reject_has_exactly_one_winner() {
    each_store(|store| async move {
        let a = alice(store.as_ref()).await;
        let dev = active_device(store.as_ref(), &a.sub).await;
        for round in 0..5 {
            let r = request::create(
                ctx(store.as_ref(), 100 + round * 4000),
                &mut rand::rngs::OsRng,
                &a.sub,
                &"c".into(),
                "Bank",
                "Log på Bank",
            )
            .await
            .unwrap();
            let tasks: Vec<_> = ["approve", "reject", "approve", "reject"]
                .into_iter()
                .map(|what| {
                    let (store, dev, r): (Arc<dyn Store>, _, _) = (store.clone(), dev.clone(), r.clone());
                    tokio::spawn(async move {
                        let d = decision(&r, what, Some(&r.match_code));
                        request::decide(
                            ctx(store.as_ref(), 101 + round * 4000),
                            &dev,
                            Unlock::Code,
                            &r.request_id,
                            &d,
                            MatchPolicy::Type,
                        )
                        .await
                    })
                })
                .collect();
            let mut wins = Vec::new();
            for t in tasks {
                match t.await.unwrap() {
                    Ok(r) => wins.push(r.state),
                    Err(RequestError::Decided) => {}
                    Err(e) => panic!("{e}"),
                }
            }
            assert_eq!(wins.len(), 1, "round {round}: {wins:?}");
            assert_eq!(store.request(&r.request_id).await.unwrap().unwrap().state, wins[0]);
        }
    })
    .await;
}

#[tokio::test]
async fn one_pending_request_per_user_and_expiry() {
    each_store(|store| async move {
        let s = store.as_ref();
        let a = alice(s).await;
        let dev = active_device(s, &a.sub).await;
        let rng = &mut rand::rngs::OsRng;
        let first = request::create(ctx(s, 100), rng, &a.sub, &"c".into(), "Bank", "Log på Bank").await.unwrap();
        let second = request::create(ctx(s, 110), rng, &a.sub, &"c".into(), "Bank", "Log på Bank").await.unwrap();
        assert_eq!(s.request(&first.request_id).await.unwrap().unwrap().state, RequestState::Cancelled);
        let e = request::decide(
            ctx(s, 111),
            &dev,
            Unlock::Code,
            &first.request_id,
            &decision(&first, "approve", Some(&first.match_code)),
            MatchPolicy::Type,
        )
        .await
        .unwrap_err();
        assert!(matches!(e, RequestError::Decided), "{e}");

        // Wrong match code: refused, counted, still pending.
        let e = request::decide(
            ctx(s, 112),
            &dev,
            Unlock::Code,
            &second.request_id,
            &decision(&second, "approve", Some("xx")),
            MatchPolicy::Type,
        )
        .await
        .unwrap_err();
        assert!(matches!(e, RequestError::WrongMatchCode));
        assert_eq!(s.user_by_sub(&a.sub).await.unwrap().unwrap().failed_attempts, 1);
        assert_eq!(s.request(&second.request_id).await.unwrap().unwrap().state, RequestState::Pending);

        // After three minutes it has expired and cannot be approved.
        let late = 110 + request::REQUEST_TTL_SECS;
        let e = request::decide(
            ctx(s, late),
            &dev,
            Unlock::Code,
            &second.request_id,
            &decision(&second, "approve", Some(&second.match_code)),
            MatchPolicy::Type,
        )
        .await
        .unwrap_err();
        assert!(matches!(e, RequestError::Expired), "{e}");
        assert_eq!(s.request(&second.request_id).await.unwrap().unwrap().state, RequestState::Expired);
    })
    .await;
}

/// A request that cannot be stored (its id is taken) changes nothing: the user's pending request stays
/// pending.
#[tokio::test]
async fn a_request_that_cannot_be_stored_leaves_the_pending_one_pending() {
    each_store(|store| async move {
        let s = store.as_ref();
        let a = alice(s).await;
        let first = request::create(ctx(s, 100), &mut rand::rngs::OsRng, &a.sub, &"c".into(), "Bank", "Log på Bank")
            .await
            .unwrap();
        let again = request::AuthRequest { created_at: UnixTime(110), ..first.clone() };
        let e = s.insert_request(&again, UnixTime(110)).await.unwrap_err();
        assert!(matches!(e, StoreError::Conflict(_)), "{e}");
        assert_eq!(s.request(&first.request_id).await.unwrap().unwrap().state, RequestState::Pending);
    })
    .await;
}

/// Pausing requests is kept for a stored user only.
#[tokio::test]
async fn requests_are_paused_for_stored_users_only() {
    each_store(|store| async move {
        let s = store.as_ref();
        s.pause_requests("nobody", UnixTime(500)).await.unwrap();
        assert_eq!(s.requests_paused_until("nobody").await.unwrap(), None);
        let a = alice(s).await;
        assert_eq!(s.requests_paused_until(&a.sub).await.unwrap(), None);
        s.pause_requests(&a.sub, UnixTime(500)).await.unwrap();
        assert_eq!(s.requests_paused_until(&a.sub).await.unwrap(), Some(UnixTime(500)));
    })
    .await;
}
