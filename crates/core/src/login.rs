//! The log-in flow's checks: password, then a key-card key; failures counted, lockout enforced.
//!
//! Every answer to a failed attempt is the same [`LoginError::Rejected`], whether the user is unknown, the
//! password or key is wrong, the attempt came too soon, or the account is locked — so the answer tells an
//! attacker nothing. The audit trail records what really happened.

use async_trait::async_trait;

use crate::audit::{AuditEvent, AuditKind};
use crate::keycard::{self, CardStatus, ClearCard, KeyCard, KeyPepper};
use crate::lockout::{Gate, MAX_CONSECUTIVE_FAILURES, gate};
use crate::secret::constant_time_eq;
use crate::store::StoreError;
use crate::user::{User, UserId};
use crate::{CardSerial, Ctx, SecureRng, password};

/// The password checks are saturated: too many wait already, or this one waited too long. Nothing was
/// checked, so nothing is counted or stored; the caller answers "busy, try again".
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many password checks are waiting; try again in a moment")]
pub struct Busy;

/// Checks a password against a stored hash. The server runs this on a bounded pool of worker threads.
#[async_trait]
pub trait PasswordCheck: Send + Sync {
    /// Whether `password` matches `phc`; [`Busy`] when the check was turned away unrun.
    async fn verify(&self, password: &str, phc: &str) -> Result<bool, Busy>;
    /// Spends the time of one check, for unknown users and locked accounts; `Ok(false)` or [`Busy`].
    async fn verify_dummy(&self, password: &str) -> Result<bool, Busy>;
}

/// Runs the check on the calling thread (tests, commands).
#[derive(Debug, Clone, Copy)]
pub struct InlinePasswordCheck;

#[async_trait]
impl PasswordCheck for InlinePasswordCheck {
    async fn verify(&self, pw: &str, phc: &str) -> Result<bool, Busy> {
        Ok(password::verify(pw, phc))
    }
    async fn verify_dummy(&self, pw: &str) -> Result<bool, Busy> {
        Ok(password::verify_dummy(pw))
    }
}

/// Why a log-in step failed.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Wrong user ID, password or key, too soon after failures, or locked: one answer for all.
    #[error("the user ID, password or key is wrong, or access is blocked")]
    Rejected,
    /// The user has no key card with unused keys.
    #[error("the user has no usable key card")]
    NoKeyCard,
    /// The password could not be checked now (see [`Busy`]); nothing was counted.
    #[error(transparent)]
    Busy(#[from] Busy),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The key the log-in box asks for.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Challenge {
    /// The card's serial.
    pub serial: CardSerial,
    /// The key number shown ("Nøgle 1234").
    pub number: String,
}

/// What a good key leads to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyAccepted {
    /// The user, as read when the key was checked.
    pub user: User,
    /// Unused keys left on the card.
    pub remaining: i64,
    /// A new card was issued because few keys remain (R-KC3); its clear form, to be printed and sent.
    pub new_card: Option<ClearCard>,
}

/// Counts one failure, audits it as `kind`, and audits the lock when this failure reached the limit.
async fn fail(ctx: Ctx<'_>, user: &User, kind: AuditKind, detail: serde_json::Value) -> Result<LoginError, StoreError> {
    let n = ctx.store.record_failure(&user.sub, ctx.now).await?;
    ctx.audit(kind, Some(user.user_id.as_str()), detail).await?;
    if n == MAX_CONSECUTIVE_FAILURES {
        ctx.audit(AuditKind::AccountLocked, Some(user.user_id.as_str()), serde_json::json!({ "failures": n })).await?;
    }
    Ok(LoginError::Rejected)
}

/// Answers a gate that is not open: a throttled attempt counts as a failure, a locked one is only recorded.
async fn refuse(ctx: Ctx<'_>, user: &User, g: Gate, step: &str) -> Result<LoginError, StoreError> {
    match g {
        Gate::Throttled { until } => {
            fail(ctx, user, AuditKind::AttemptThrottled, serde_json::json!({ "step": step, "until": until })).await
        }
        _ => {
            ctx.audit(AuditKind::AttemptWhileLocked, Some(user.user_id.as_str()), serde_json::json!({ "step": step }))
                .await?;
            Ok(LoginError::Rejected)
        }
    }
}

/// Step 1: user ID and password. A check the pool turns away ([`LoginError::Busy`]) returns before anything
/// is counted or audited.
pub async fn check_password(
    ctx: Ctx<'_>,
    check: &dyn PasswordCheck,
    user_id: &str,
    password: &str,
) -> Result<User, LoginError> {
    let parsed = UserId::parse(user_id).ok();
    let user = match &parsed {
        Some(id) => ctx.store.user_by_user_id(id).await?,
        None => None,
    };
    let Some(user) = user else {
        check.verify_dummy(password).await?;
        let who = parsed.as_ref().map(UserId::as_str);
        ctx.audit(AuditKind::PasswordRejected, who, serde_json::json!({ "reason": "unknown_user" })).await?;
        return Err(LoginError::Rejected);
    };
    match gate(&user, ctx.now) {
        Gate::Open => {}
        g => {
            check.verify_dummy(password).await?;
            return Err(refuse(ctx, &user, g, "password").await?);
        }
    }
    if check.verify(password, &user.password_hash).await? {
        ctx.audit(AuditKind::PasswordAccepted, Some(user.user_id.as_str()), serde_json::Value::Null).await?;
        Ok(user)
    } else {
        Err(fail(ctx, &user, AuditKind::PasswordRejected, serde_json::json!({ "reason": "wrong_password" })).await?)
    }
}

/// Step 2 (key card): chooses the key to ask for, at random among the unused keys of the card in use.
pub async fn choose_challenge(ctx: Ctx<'_>, rng: &mut dyn SecureRng, sub: &str) -> Result<Challenge, LoginError> {
    let cards = ctx.store.cards_of(sub).await?;
    let card = keycard::card_to_ask(&cards).ok_or(LoginError::NoKeyCard)?;
    let unused = ctx.store.unused_key_numbers(&card.serial).await?;
    let number = keycard::choose_number(rng, &unused).ok_or(LoginError::NoKeyCard)?;
    Ok(Challenge { serial: card.serial.clone(), number })
}

/// Step 2 (key card): checks and consumes the key asked for. On success the failure counter is cleared, a
/// pending card that is used for the first time replaces the older ones, and a new card is issued when few
/// keys remain.
pub async fn check_key(
    ctx: Ctx<'_>,
    rng: &mut dyn SecureRng,
    pepper: &KeyPepper,
    sub: &str,
    challenge: &Challenge,
    key: &str,
) -> Result<KeyAccepted, LoginError> {
    let user = ctx.store.user_by_sub(sub).await?.ok_or(LoginError::Rejected)?;
    let who = Some(user.user_id.as_str());
    match gate(&user, ctx.now) {
        Gate::Open => {}
        g => return Err(refuse(ctx, &user, g, "key").await?),
    }
    let card = ctx.store.card(&challenge.serial).await?.filter(|c| c.sub == user.sub && c.status.usable());
    let stored = ctx.store.unused_key_digest(&challenge.serial, &challenge.number).await?;
    let matches = match (keycard::normalise_key(key), &stored, &card) {
        (Some(k), Some(d), Some(_)) => constant_time_eq(&pepper.digest(&challenge.serial, &challenge.number, &k), d),
        _ => false,
    };
    let detail = serde_json::json!({ "serial": challenge.serial, "number": challenge.number });
    let Some(card) = card.filter(|_| matches) else {
        return Err(fail(ctx, &user, AuditKind::KeyRejected, detail).await?);
    };
    // The key is spent and its audit event written in one transaction: a crash leaves both or neither.
    let accepted = AuditEvent::new(ctx.now, AuditKind::KeyAccepted, who, ctx.source).with(detail.clone());
    if !ctx.store.consume_key_audited(&challenge.serial, &challenge.number, ctx.now, &accepted).await? {
        // Lost a race with another use of the same key: it is used now.
        return Err(fail(ctx, &user, AuditKind::KeyRejected, detail).await?);
    }
    ctx.store.reset_failures(&user.sub).await?;
    if card.status == CardStatus::Pending
        && ctx.store.set_card_status(&card.serial, CardStatus::Pending, CardStatus::Active).await?
    {
        for old in ctx.store.cards_of(&user.sub).await? {
            if old.serial != card.serial
                && old.status == CardStatus::Active
                && ctx.store.set_card_status(&old.serial, CardStatus::Active, CardStatus::Superseded).await?
            {
                ctx.audit(
                    AuditKind::KeyCardSuperseded,
                    who,
                    serde_json::json!({ "serial": old.serial, "by": card.serial }),
                )
                .await?;
            }
        }
    }
    let cards = ctx.store.cards_of(&user.sub).await?;
    let remaining = cards.iter().find(|c| c.serial == card.serial).map_or(0, |c| c.unused);
    let has_pending = cards.iter().any(|c| c.status == CardStatus::Pending);
    let new_card = if remaining < keycard::REISSUE_BELOW && !has_pending {
        Some(issue_card(ctx, rng, pepper, &user).await?)
    } else {
        None
    };
    Ok(KeyAccepted { user, remaining, new_card })
}

/// Issues a key card to `user`: active when the user has no usable card, otherwise pending until first used.
pub async fn issue_card(
    ctx: Ctx<'_>,
    rng: &mut dyn SecureRng,
    pepper: &KeyPepper,
    user: &User,
) -> Result<ClearCard, StoreError> {
    let cards = ctx.store.cards_of(&user.sub).await?;
    let status = if cards.iter().any(|c| c.status == CardStatus::Active && c.unused > 0) {
        CardStatus::Pending
    } else {
        CardStatus::Active
    };
    let (clear, keys) = keycard::generate(rng, pepper);
    let card = KeyCard {
        serial: clear.serial.clone(),
        sub: user.sub.clone(),
        status,
        issued_at: ctx.now,
        unused: keys.len() as i64,
    };
    ctx.store.insert_card(&card, &keys).await?;
    // An active card with no keys left is replaced at once.
    if status == CardStatus::Active {
        for old in cards.iter().filter(|c| c.status == CardStatus::Active) {
            ctx.store.set_card_status(&old.serial, CardStatus::Active, CardStatus::Superseded).await?;
        }
    }
    ctx.audit(
        AuditKind::KeyCardIssued,
        Some(user.user_id.as_str()),
        serde_json::json!({ "serial": card.serial, "status": status.as_str() }),
    )
    .await?;
    Ok(clear)
}

/// The second factor the log-in box asks for after a right password.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecondFactor {
    /// The user chooses between the key app and the key card: a device of theirs can approve now (not one
    /// cooling off after "Glemt kode").
    Choose,
    /// The key card: this key.
    Key(Challenge),
}

/// What `sub` is asked for after the password: a choice when a key app can approve, else a key-card key
/// ([`LoginError::NoKeyCard`] when there is none to ask).
pub async fn second_factor(ctx: Ctx<'_>, rng: &mut dyn SecureRng, sub: &str) -> Result<SecondFactor, LoginError> {
    if ctx.store.devices_of(sub).await?.iter().any(|d| d.can_approve(ctx.now)) {
        return Ok(SecondFactor::Choose);
    }
    Ok(SecondFactor::Key(choose_challenge(ctx, rng, sub).await?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::DeviceStatus;
    use crate::memory::World;
    use crate::store::KeyCardStore;

    #[tokio::test]
    async fn after_the_password_a_key_app_that_can_approve_is_offered_else_the_key_card() {
        let w = World::new().await;
        let rng = &mut rand::rngs::OsRng;
        assert!(
            matches!(second_factor(w.ctx(), rng, &w.user.sub).await, Ok(SecondFactor::Key(c)) if c.serial == w.card.serial)
        );
        // A device cooling off after "Glemt kode", or still pending, approves nothing: the key card it is.
        w.device(&w.user.sub, DeviceStatus::Active, w.now.plus(3600)).await;
        w.device(&w.user.sub, DeviceStatus::Pending, w.now).await;
        assert!(matches!(second_factor(w.ctx(), rng, &w.user.sub).await, Ok(SecondFactor::Key(_))));
        w.device(&w.user.sub, DeviceStatus::Active, w.now).await;
        assert_eq!(second_factor(w.ctx(), rng, &w.user.sub).await.unwrap(), SecondFactor::Choose);
    }

    use crate::keycard::REISSUE_BELOW;
    use crate::lockout::{MAX_CONSECUTIVE_FAILURES, delay_after};
    use crate::memory::PASSWORD;
    use crate::store::{AuditStore, UserStore};

    #[tokio::test]
    async fn a_hundred_failures_lock_even_the_right_password_out() {
        let w = World::new().await;
        // Waiting out each delay is not needed for counting: attempts during a delay count too.
        let mut t = 0;
        for i in 0..MAX_CONSECUTIVE_FAILURES {
            t += if i % 2 == 0 { delay_after(i) } else { 0 };
            let r = check_password(w.after(t), &InlinePasswordCheck, "alice", "wrong password!").await;
            assert!(matches!(r, Err(LoginError::Rejected)));
        }
        let u = w.store.user_by_sub(&w.user.sub).await.unwrap().unwrap();
        assert_eq!(u.failed_attempts, MAX_CONSECUTIVE_FAILURES);
        let later = t + 365 * 24 * 3600;
        let r = check_password(w.after(later), &InlinePasswordCheck, "alice", PASSWORD).await;
        assert!(matches!(r, Err(LoginError::Rejected)), "locked: the right password is refused too");
        let kinds: Vec<String> = w.store.audit(Some("alice"), 500).await.unwrap().into_iter().map(|e| e.kind).collect();
        assert_eq!(kinds.iter().filter(|k| *k == "account_locked").count(), 1);
        assert_eq!(kinds.last().map(String::as_str), Some("attempt_while_locked"));

        crate::accounts::set_blocked(w.after(later), "alice", false).await.unwrap();
        let r = check_password(w.after(later), &InlinePasswordCheck, "alice", PASSWORD).await;
        assert!(r.is_ok(), "unblock ends the lock");
    }

    #[tokio::test]
    async fn delays_refuse_even_right_passwords_and_count() {
        let w = World::new().await;
        for _ in 0..6 {
            let _ = check_password(w.ctx(), &InlinePasswordCheck, "alice", "wrong password!").await;
        }
        // After 6 failures the next attempt must wait delay_after(6) = 2 s.
        let r = check_password(w.after(1), &InlinePasswordCheck, "alice", PASSWORD).await;
        assert!(matches!(r, Err(LoginError::Rejected)));
        assert_eq!(w.store.user_by_sub(&w.user.sub).await.unwrap().unwrap().failed_attempts, 7);
        assert!(check_password(w.after(1 + delay_after(7)), &InlinePasswordCheck, "alice", PASSWORD).await.is_ok());
    }

    #[tokio::test]
    async fn unknown_users_and_bad_input_are_rejected_alike() {
        let w = World::new().await;
        for (user, pw) in [("bob", PASSWORD), ("x", PASSWORD), ("alice", ""), ("alice", &"p".repeat(10_000))] {
            let r = check_password(w.ctx(), &InlinePasswordCheck, user, pw).await;
            assert!(matches!(r, Err(LoginError::Rejected)), "{user}: {r:?}");
        }
    }

    #[tokio::test]
    async fn without_a_usable_card_and_app_there_is_nothing_to_ask() {
        let w = World::new().await;
        w.store.set_card_status(&w.card.serial, CardStatus::Active, CardStatus::Blocked).await.unwrap();
        let r = second_factor(w.ctx(), &mut rand::rngs::OsRng, &w.user.sub).await;
        assert!(matches!(r, Err(LoginError::NoKeyCard)), "{r:?}");
    }

    /// The context at time `t` (seconds since the epoch).
    fn at(w: &World, t: i64) -> Ctx<'_> {
        Ctx { now: crate::UnixTime(t), ..w.ctx() }
    }

    #[tokio::test]
    async fn a_key_is_accepted_once_and_only_for_its_number() {
        let w = World::new().await;
        let s = &w.store;
        let a = w.user.clone();
        let card = w.card.clone();
        let mut numbers = card.keys.keys();
        let (n1, n2) = (numbers.next().unwrap().clone(), numbers.next().unwrap().clone());
        let ch = Challenge { serial: card.serial.clone(), number: n1.clone() };
        let rng = &mut rand::rngs::OsRng;

        // The key of another number is wrong, and so is a typo; neither consumes anything.
        let other = check_key(at(&w, 1001), rng, &w.pepper, &a.sub, &ch, &card.keys[&n2]).await;
        assert!(matches!(other, Err(LoginError::Rejected)), "{other:?}");
        assert!(check_key(at(&w, 1002), rng, &w.pepper, &a.sub, &ch, "000000x").await.is_err());
        assert_eq!(s.unused_key_numbers(&card.serial).await.unwrap().len(), 148);

        let ok = check_key(at(&w, 1003), rng, &w.pepper, &a.sub, &ch, &card.keys[&n1]).await.unwrap();
        assert_eq!(ok.remaining, 147);
        assert_eq!(ok.new_card, None);
        assert_eq!(s.user_by_sub(&a.sub).await.unwrap().unwrap().failed_attempts, 0, "success clears failures");

        let again = check_key(at(&w, 1004), rng, &w.pepper, &a.sub, &ch, &card.keys[&n1]).await;
        assert!(matches!(again, Err(LoginError::Rejected)), "{again:?}");
        assert_eq!(s.user_by_sub(&a.sub).await.unwrap().unwrap().failed_attempts, 1, "a used key counts as a failure");
    }

    #[tokio::test]
    async fn a_low_card_brings_a_new_one_that_replaces_it_when_first_used() {
        let w = World::new().await;
        let s = &w.store;
        let a = w.user.clone();
        let rng = &mut rand::rngs::OsRng;
        let old = w.card.clone();
        // Use keys until fewer than REISSUE_BELOW remain.
        let numbers: Vec<_> = old.keys.keys().cloned().collect();
        let to_use = 148 - REISSUE_BELOW as usize;
        for n in &numbers[..to_use] {
            assert!(s.consume_key(&old.serial, n, crate::UnixTime(1001)).await.unwrap());
        }
        let n = &numbers[to_use];
        let ch = Challenge { serial: old.serial.clone(), number: n.clone() };
        let ok = check_key(at(&w, 1002), rng, &w.pepper, &a.sub, &ch, &old.keys[n]).await.unwrap();
        assert_eq!(ok.remaining, REISSUE_BELOW - 1);
        let new = ok.new_card.expect("a new card is issued when few keys remain");
        let cards = s.cards_of(&a.sub).await.unwrap();
        let status = |serial: &CardSerial| cards.iter().find(|c| &c.serial == serial).unwrap().status;
        assert_eq!(status(&old.serial), CardStatus::Active, "the old card works until the new one is used");
        assert_eq!(status(&new.serial), CardStatus::Pending);

        let (n, k) = new.keys.iter().next().unwrap();
        let ch = Challenge { serial: new.serial.clone(), number: n.clone() };
        let ok = check_key(at(&w, 1003), rng, &w.pepper, &a.sub, &ch, k).await.unwrap();
        assert_eq!(ok.new_card, None);
        let cards = s.cards_of(&a.sub).await.unwrap();
        let status = |serial: &CardSerial| cards.iter().find(|c| &c.serial == serial).unwrap().status;
        assert_eq!(status(&new.serial), CardStatus::Active);
        assert_eq!(status(&old.serial), CardStatus::Superseded);

        // The superseded card's keys no longer work.
        let n = &numbers[to_use + 1];
        let ch = Challenge { serial: old.serial.clone(), number: n.clone() };
        assert!(check_key(at(&w, 1004), rng, &w.pepper, &a.sub, &ch, &old.keys[n]).await.is_err());
    }

    #[tokio::test]
    async fn a_blocked_card_refuses_its_keys() {
        let w = World::new().await;
        let s = &w.store;
        let a = w.user.clone();
        let card = w.card.clone();
        assert!(s.set_card_status(&card.serial, CardStatus::Active, CardStatus::Blocked).await.unwrap());
        let (n, k) = card.keys.iter().next().unwrap();
        let ch = Challenge { serial: card.serial.clone(), number: n.clone() };
        assert!(check_key(at(&w, 1001), &mut rand::rngs::OsRng, &w.pepper, &a.sub, &ch, k).await.is_err());
        assert_eq!(s.unused_key_numbers(&card.serial).await.unwrap().len(), 148, "nothing consumed");
    }
}
