//! Devices in the store: the limit of active devices under concurrent activations, nonces once per device,
//! attachments, a code reset committed with its audit event (activation's rules are specified next to
//! `noegle_core::activation`).
use std::sync::Arc;

use noegle_core::device::ActivateOutcome;
use noegle_core::device::{Device, DeviceStatus, MAX_ACTIVE_DEVICES, new_ids};
use noegle_core::store::Store;
use noegle_core::{DeviceId, UnixTime};

use crate::{alice, ctx, each_store};

/// A pending device of `sub` (with a placeholder key), made at time `n`.
pub(crate) fn device(sub: &str, n: i64) -> Device {
    let (device_id, serial) = new_ids(&mut rand::rngs::OsRng);
    Device {
        device_id,
        serial,
        sub: sub.into(),
        public_key: vec![4; 65],
        platform: noegle_core::device::Platform::Terminal,
        os_version: "1".into(),
        name: format!("device {n}"),
        status: DeviceStatus::Pending,
        created_at: UnixTime(n),
        second_login_from: UnixTime(n),
        cooling_off_until: None,
        expires_at: UnixTime(n + 1000),
        activated_at: None,
        revoked_by: None,
    }
}

#[tokio::test]
async fn ten_concurrent_activations_leave_at_most_three_active() {
    each_store(|store| async move {
        let a = alice(store.as_ref()).await;
        let mut ids = Vec::new();
        for n in 0..10 {
            let d = device(&a.sub, n);
            store.insert_device(&d).await.unwrap();
            ids.push(d.device_id);
        }
        let tasks: Vec<_> = ids
            .into_iter()
            .map(|id| {
                let store: Arc<dyn Store> = store.clone();
                tokio::spawn(async move { store.activate_device(&id, UnixTime(50), MAX_ACTIVE_DEVICES).await.unwrap() })
            })
            .collect();
        let mut activated = 0;
        for t in tasks {
            if t.await.unwrap() == ActivateOutcome::Activated {
                activated += 1;
            }
        }
        assert_eq!(activated, 3);
        let active =
            store.devices_of(&a.sub).await.unwrap().iter().filter(|d| d.status == DeviceStatus::Active).count();
        assert_eq!(active, 3);
    })
    .await;
}

#[tokio::test]
async fn nonces_are_accepted_once_per_device() {
    each_store(|store| async move {
        let a = alice(store.as_ref()).await;
        let d = device(&a.sub, 1);
        store.insert_device(&d).await.unwrap();
        assert!(store.remember_nonce(&d.device_id, "n-1", UnixTime(1)).await.unwrap());
        assert!(!store.remember_nonce(&d.device_id, "n-1", UnixTime(2)).await.unwrap());
        assert!(store.remember_nonce(&"d-other".into(), "n-1", UnixTime(2)).await.unwrap());
        assert!(store.set_device_status(&d.device_id, DeviceStatus::Pending, DeviceStatus::Cancelled).await.unwrap());
        assert!(!store.set_device_status(&d.device_id, DeviceStatus::Pending, DeviceStatus::Active).await.unwrap());
        assert_eq!(store.device_by_serial(&d.serial).await.unwrap().unwrap().status, DeviceStatus::Cancelled);
    })
    .await;
}

#[tokio::test]
async fn attachments_are_set_replaced_removed_and_listed_for_active_devices_only() {
    each_store(|store| async move {
        let a = alice(store.as_ref()).await;
        let (active, pending) = (device(&a.sub, 1), device(&a.sub, 2));
        store.insert_device(&active).await.unwrap();
        store.insert_device(&pending).await.unwrap();
        store.activate_device(&active.device_id, UnixTime(5), MAX_ACTIVE_DEVICES).await.unwrap();
        for d in [&active, &pending] {
            store.set_attachment(&d.device_id, "push", Some("first")).await.unwrap();
        }
        store.set_attachment(&active.device_id, "push", Some("second")).await.unwrap();
        assert_eq!(store.attachment(&active.device_id, "push").await.unwrap().as_deref(), Some("second"));
        assert_eq!(store.attachment(&active.device_id, "fingerprint").await.unwrap(), None);
        let listed = store.active_attachments(&a.sub, "push").await.unwrap();
        assert_eq!(listed, vec![(active.device_id.clone(), "second".to_string())], "the pending device is left out");
        store.set_attachment(&active.device_id, "push", None).await.unwrap();
        assert_eq!(store.attachment(&active.device_id, "push").await.unwrap(), None);
        assert!(store.active_attachments(&a.sub, "push").await.unwrap().is_empty());
        store.set_attachment(&pending.device_id, "fingerprint", Some("{}")).await.unwrap();
        store.clear_attachments(&pending.device_id).await.unwrap();
        for kind in ["push", "fingerprint"] {
            assert_eq!(store.attachment(&pending.device_id, kind).await.unwrap(), None, "{kind} cleared");
        }
    })
    .await;
}

/// "Glemt kode" changes an active device's key, clears its wrong codes and sets it
/// cooling off, with its audit event in the same transaction; a device that is not active is left alone.
#[tokio::test]
async fn a_code_reset_changes_key_count_and_wait_together_with_its_audit_event() {
    each_store(|store| async move {
        let s = store.as_ref();
        let a = alice(s).await;
        let (active, pending) = (device(&a.sub, 1), device(&a.sub, 2));
        s.insert_device(&active).await.unwrap();
        s.insert_device(&pending).await.unwrap();
        s.activate_device(&active.device_id, UnixTime(5), MAX_ACTIVE_DEVICES).await.unwrap();
        s.add_code_failure(&active.device_id).await.unwrap();
        let c = ctx(s, 2000);
        let new_key = vec![9u8; 65];
        let reset = noegle_core::appcode::reset_code(c, &mut rand::rngs::OsRng, &active, &new_key, 3600).await.unwrap();
        assert!(reset.is_some(), "a proof for one new code");
        let after = s.device(&active.device_id).await.unwrap().unwrap();
        assert_eq!((&after.public_key, after.cooling_off_until), (&new_key, Some(UnixTime(5600))));
        assert!(after.cooling_off(UnixTime(5599)) && !after.cooling_off(UnixTime(5600)));
        assert_eq!(s.code_failures(&active.device_id).await.unwrap(), 0);
        let audit = s.audit(Some("alice"), 50).await.unwrap();
        assert_eq!(audit.iter().filter(|e| e.kind == "app_code_reset").count(), 1);

        let r = noegle_core::appcode::reset_code(c, &mut rand::rngs::OsRng, &pending, &new_key, 3600).await.unwrap();
        assert!(r.is_none(), "a pending device is not reset");
        let untouched = s.device(&pending.device_id).await.unwrap().unwrap();
        let kept = (untouched.public_key, untouched.second_login_from, untouched.cooling_off_until);
        assert_eq!(kept, (pending.public_key.clone(), pending.second_login_from, None));
        assert_eq!(s.audit(Some("alice"), 50).await.unwrap().iter().filter(|e| e.kind == "app_code_reset").count(), 1);
    })
    .await;
}

/// A code reset sets the device's cooling-off and leaves the moment its second log-in became possible alone:
/// each of the two is stored on its own.
#[tokio::test]
async fn a_code_reset_sets_the_cooling_off_and_leaves_the_second_login_moment_alone() {
    each_store(|store| async move {
        let s = store.as_ref();
        let a = alice(s).await;
        let d = device(&a.sub, 7);
        s.insert_device(&d).await.unwrap();
        s.activate_device(&d.device_id, UnixTime(9), MAX_ACTIVE_DEVICES).await.unwrap();
        let before = s.device(&d.device_id).await.unwrap().unwrap();
        assert_eq!((before.second_login_from, before.cooling_off_until), (UnixTime(7), None));
        let reset = noegle_core::appcode::reset_code(ctx(s, 2000), &mut rand::rngs::OsRng, &d, &[9; 65], 600).await;
        assert!(reset.unwrap().is_some());
        let after = s.device(&d.device_id).await.unwrap().unwrap();
        assert_eq!((after.second_login_from, after.cooling_off_until), (UnixTime(7), Some(UnixTime(2600))));
        assert_eq!((after.cooling_off_ends(UnixTime(2599)), after.ready_at()), (Some(UnixTime(2600)), UnixTime(2600)));
    })
    .await;
}

/// Activation looks up the device, then the user's limit, then whether the device is pending: at the limit
/// an already active or revoked device is told `LimitReached`, under it `NotPending`; an unknown device is
/// `NotPending`.
#[tokio::test]
async fn activation_checks_the_device_then_the_limit_then_that_it_is_pending() {
    each_store(|store| async move {
        let a = alice(store.as_ref()).await;
        let unknown = store.activate_device(&"d-unknown".into(), UnixTime(5), 1).await.unwrap();
        assert_eq!(unknown, ActivateOutcome::NotPending);
        let (first, second) = (device(&a.sub, 1), device(&a.sub, 2));
        store.insert_device(&first).await.unwrap();
        store.insert_device(&second).await.unwrap();
        let activate = |id: DeviceId, max: i64| {
            let store = store.clone();
            async move { store.activate_device(&id, UnixTime(5), max).await.unwrap() }
        };
        assert_eq!(activate(first.device_id.clone(), 1).await, ActivateOutcome::Activated);
        assert_eq!(activate(first.device_id.clone(), 2).await, ActivateOutcome::NotPending, "active already");
        assert_eq!(activate(first.device_id.clone(), 1).await, ActivateOutcome::LimitReached, "active, at the limit");
        assert_eq!(activate(second.device_id.clone(), 1).await, ActivateOutcome::LimitReached);
        assert!(store.revoke_device(&second.device_id, noegle_core::device::RevokedBy::User).await.unwrap());
        assert_eq!(activate(second.device_id.clone(), 2).await, ActivateOutcome::NotPending, "revoked");
        assert_eq!(activate(second.device_id.clone(), 1).await, ActivateOutcome::LimitReached, "revoked, at the limit");
    })
    .await;
}

/// An app code and its wrong-code count belong to a stored device: for an unknown device setting a code
/// keeps nothing and counting a wrong code is an error; for a stored one a new code clears the count.
#[tokio::test]
async fn app_codes_and_wrong_codes_are_kept_for_stored_devices_only() {
    each_store(|store| async move {
        store.set_app_code(&"d-unknown".into(), b"record").await.unwrap();
        assert_eq!(store.app_code(&"d-unknown".into()).await.unwrap(), None);
        assert!(store.add_code_failure(&"d-unknown".into()).await.is_err());
        assert_eq!(store.code_failures(&"d-unknown".into()).await.unwrap(), 0);

        let a = alice(store.as_ref()).await;
        let d = device(&a.sub, 1);
        store.insert_device(&d).await.unwrap();
        assert_eq!(store.app_code(&d.device_id).await.unwrap(), None);
        store.set_app_code(&d.device_id, b"record").await.unwrap();
        assert_eq!(store.app_code(&d.device_id).await.unwrap().as_deref(), Some(&b"record"[..]));
        assert_eq!(store.add_code_failure(&d.device_id).await.unwrap(), 1);
        assert_eq!(store.add_code_failure(&d.device_id).await.unwrap(), 2);
        store.set_app_code(&d.device_id, b"another").await.unwrap();
        assert_eq!(store.code_failures(&d.device_id).await.unwrap(), 0, "a new code clears the count");
    })
    .await;
}
