//! Failure counting and lockout (SEC-1).
//!
//! Every failed attempt on any factor (password, key-card key, later the app) adds one to the user's durable
//! counter; a full successful login resets it. After a few failures each further attempt must wait a growing
//! delay; an attempt made during the delay is refused unchecked and still counts. At
//! [`MAX_CONSECUTIVE_FAILURES`] the account is locked until support unblocks it.

use crate::UnixTime;
use crate::user::User;

/// Consecutive failures that lock an account.
pub const MAX_CONSECUTIVE_FAILURES: i64 = 100;
/// Failures allowed before delays begin.
pub const FREE_FAILURES: i64 = 5;
/// The longest delay between attempts, in seconds.
pub const MAX_DELAY_SECS: i64 = 15 * 60;

/// Whether an attempt may be checked now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gate {
    /// Check the credentials.
    Open,
    /// Too soon after the last failure: refuse unchecked until this time.
    Throttled {
        /// When the next attempt will be checked.
        until: UnixTime,
    },
    /// Too many failures, or blocked by support.
    Locked,
}

/// Seconds an attempt must wait after `failures` consecutive failures: none for the first
/// [`FREE_FAILURES`], then 1, 2, 4, … seconds up to [`MAX_DELAY_SECS`].
pub fn delay_after(failures: i64) -> i64 {
    if failures < FREE_FAILURES {
        return 0;
    }
    let exp = (failures - FREE_FAILURES).min(20) as u32;
    (1i64 << exp).min(MAX_DELAY_SECS)
}

/// Decides whether an attempt for `user` may be checked at `now`.
pub fn gate(user: &User, now: UnixTime) -> Gate {
    if user.blocked || user.failed_attempts >= MAX_CONSECUTIVE_FAILURES {
        return Gate::Locked;
    }
    match user.last_failure_at {
        Some(last) if delay_after(user.failed_attempts) > 0 => {
            let until = last.plus(delay_after(user.failed_attempts));
            if now < until { Gate::Throttled { until } } else { Gate::Open }
        }
        _ => Gate::Open,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::user::UserId;

    fn user(failed: i64, last: Option<i64>) -> User {
        User {
            sub: "s".into(),
            user_id: UserId::parse("alice").unwrap(),
            display_name: "Alice".into(),
            password_hash: String::new(),
            blocked: false,
            failed_attempts: failed,
            last_failure_at: last.map(UnixTime),
            created_at: UnixTime(0),
        }
    }

    #[test]
    fn delays_grow_and_are_capped() {
        assert_eq!(delay_after(0), 0);
        assert_eq!(delay_after(4), 0);
        assert_eq!(delay_after(5), 1);
        assert_eq!(delay_after(8), 8);
        assert_eq!(delay_after(40), MAX_DELAY_SECS);
    }

    #[test]
    fn gate_opens_after_the_delay_and_locks_at_the_limit() {
        assert_eq!(gate(&user(3, Some(100)), UnixTime(100)), Gate::Open);
        assert_eq!(gate(&user(3, Some(100)), UnixTime(50)), Gate::Open, "no delay yet, even if the clock went back");
        assert_eq!(gate(&user(8, Some(100)), UnixTime(107)), Gate::Throttled { until: UnixTime(108) });
        assert_eq!(gate(&user(8, Some(100)), UnixTime(108)), Gate::Open);
        assert_eq!(gate(&user(99, Some(100)), UnixTime(100_000)), Gate::Open);
        assert_eq!(gate(&user(100, Some(100)), UnixTime(100_000)), Gate::Locked);
        let mut blocked = user(0, None);
        blocked.blocked = true;
        assert_eq!(gate(&blocked, UnixTime(0)), Gate::Locked);
    }
}
