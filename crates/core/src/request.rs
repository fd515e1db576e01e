//! Log-in requests sent to the key app (R-LB1 app path, R-LB3, R-APP5, X-1, X-2): created by the log-in
//! box, approved or rejected once on an active device, each state change one compare-and-set.

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::Ctx;
use crate::audit::AuditKind;
use crate::device::Device;
pub use crate::records::request::{AuthRequest, RequestState};
use crate::secret::{constant_time_eq, random_token};
use crate::store::StoreError;
use crate::{ClientId, RequestId, SecureRng, UnixTime};

/// Seconds a request waits for an answer (R-LB1: default 3 minutes).
pub const REQUEST_TTL_SECS: i64 = 180;
/// Seconds pushes stay blocked after "Det var ikke mig".
pub const NOT_ME_BLOCK_SECS: i64 = 3600;
/// Back-off after the n-th rejection within an hour: 30 s, 60 s, 120 s, ….
pub fn backoff_after_rejections(n: i64) -> i64 {
    if n <= 0 { 0 } else { (30i64 << (n - 1).min(10)).min(3600) }
}

/// How the match code is used. Configured as `type`, `show` or `off`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MatchPolicy {
    /// The user types the code from the log-in box into the app (default).
    Type,
    /// The app shows the code for the user to compare.
    Show,
    /// No code.
    Off,
}

impl std::str::FromStr for MatchPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<MatchPolicy, String> {
        match s {
            "type" => Ok(MatchPolicy::Type),
            "show" => Ok(MatchPolicy::Show),
            "off" => Ok(MatchPolicy::Off),
            _ => Err(format!("must be type, show or off, not {s:?}")),
        }
    }
}

impl MatchPolicy {
    /// Whether the app asks its user to type the code the log-in box shows (`type`, X-1).
    pub fn typed(self) -> bool {
        self == MatchPolicy::Type
    }

    /// The match code the app may show beside `request`: only under `show`; under `type` the user must read
    /// it in the log-in box, so the app never sees it.
    pub fn shown(self, request: &AuthRequest) -> Option<&str> {
        (self == MatchPolicy::Show).then_some(request.match_code.as_str())
    }
}

/// Why a request could not be made or decided.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// Pushes are held back (rejections or "not me").
    #[error("requests to the key app are paused until {until:?}; use the key card")]
    Paused {
        /// When requests may be sent again.
        until: UnixTime,
    },
    /// No such request for this device's user.
    #[error("no such request")]
    NotFound,
    /// It was already answered, cancelled or replaced.
    #[error("the request was already answered or replaced")]
    Decided,
    /// It lapsed.
    #[error("the request has expired")]
    Expired,
    /// The typed match code is wrong (counted as a failure).
    #[error("the code does not match the one shown where you are logging in")]
    WrongMatchCode,
    /// The approval does not name this request's nonce, client or expiry.
    #[error("the approval does not match the request")]
    Mismatch,
    /// The user is blocked (or gone): no request is sent, none is approved into a log-in.
    #[error("access is blocked")]
    Blocked,
    /// The device's code was reset ("Glemt kode") and it waits out the activation hour before it approves.
    #[error(
        "for your security this key app can approve again when the wait after its code was reset is over; use the key card until then"
    )]
    CoolingOff {
        /// When it can approve.
        until: UnixTime,
    },
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Sends a new request to `sub`'s key apps, replacing any pending one (one pending per user, X-2); never for
/// a blocked user.
pub async fn create(
    ctx: Ctx<'_>,
    rng: &mut dyn SecureRng,
    sub: &str,
    client_id: &ClientId,
    client_name: &str,
    action: &str,
) -> Result<AuthRequest, RequestError> {
    if ctx.store.user_by_sub(sub).await?.is_none_or(|u| u.blocked) {
        return Err(RequestError::Blocked);
    }
    if let Some(until) = paused_until(ctx, sub).await?
        && ctx.now < until
    {
        return Err(RequestError::Paused { until });
    }
    let request = AuthRequest {
        request_id: RequestId::from(format!("r-{}", random_token(rng, 16))),
        sub: sub.to_string(),
        client_id: client_id.clone(),
        client_name: client_name.to_string(),
        action: action.to_string(),
        match_code: format!("{:02}", rng.gen_range(0..100)),
        nonce: random_token(rng, 16),
        state: RequestState::Pending,
        created_at: ctx.now,
        expires_at: ctx.now.plus(REQUEST_TTL_SECS),
        decided_at: None,
        decided_by: None,
        decided_with: None,
    };
    ctx.store.insert_request(&request, ctx.now).await?;
    Ok(request)
}

/// Until when pushes to `sub` are paused, if at all: after "not me", or in back-off after rejections.
pub async fn paused_until(ctx: Ctx<'_>, sub: &str) -> Result<Option<UnixTime>, StoreError> {
    let blocked = ctx.store.requests_paused_until(sub).await?;
    let recent = ctx.store.recent_requests(sub, ctx.now.plus(-3600)).await?;
    let rejections = recent.iter().filter(|r| r.state == RequestState::Rejected).count() as i64;
    let last_rejection =
        recent.iter().filter_map(|r| (r.state == RequestState::Rejected).then_some(r.decided_at)).flatten().max();
    let backoff = last_rejection.map(|t| t.plus(backoff_after_rejections(rejections)));
    Ok([blocked, backoff].into_iter().flatten().max())
}

/// The current state of a request, marking it expired when its time is up.
pub async fn refresh(ctx: Ctx<'_>, request_id: &RequestId) -> Result<Option<AuthRequest>, StoreError> {
    let Some(mut r) = ctx.store.request(request_id).await? else {
        return Ok(None);
    };
    if r.state == RequestState::Pending && ctx.now >= r.expires_at {
        ctx.store
            .set_request_state(request_id, RequestState::Pending, RequestState::Expired, ctx.now, None, None)
            .await?;
        r = ctx.store.request(request_id).await?.unwrap_or(r);
    }
    Ok(Some(r))
}

/// Approve or reject (`approve`, `reject` on the wire).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// "Godkend".
    Approve,
    /// "AFVIS".
    Reject,
}

/// What a device says about a request.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    /// Approve or reject.
    pub decision: Verdict,
    /// The request's nonce, echoed (binds the signature to this request).
    pub request_nonce: String,
    /// The client, echoed.
    pub client_id: ClientId,
    /// The expiry, echoed.
    pub expires_at: UnixTime,
    /// The code the user typed (policy `type`).
    #[serde(default)]
    pub match_code: Option<String>,
    /// "Det var ikke mig" on a rejection.
    #[serde(default)]
    pub not_me: bool,
}

/// The requests `device` (active, its app unlocked) is shown: its user's pending requests that have not
/// expired. A device cooling off after "Glemt kode" is shown none ([`RequestError::CoolingOff`]).
pub async fn pending_for(ctx: Ctx<'_>, device: &Device) -> Result<Vec<AuthRequest>, RequestError> {
    if let Some(until) = device.cooling_off_ends(ctx.now) {
        return Err(RequestError::CoolingOff { until });
    }
    let recent = ctx.store.recent_requests(&device.sub, ctx.now.plus(-REQUEST_TTL_SECS)).await?;
    Ok(recent.into_iter().filter(|r| r.state == RequestState::Pending && ctx.now < r.expires_at).collect())
}

/// Approves or rejects a request from an authenticated, active `device` unlocked by `unlock`; at most once,
/// only while pending.
pub async fn decide(
    ctx: Ctx<'_>,
    device: &Device,
    unlock: crate::device::Unlock,
    request_id: &RequestId,
    d: &Decision,
    policy: MatchPolicy,
) -> Result<AuthRequest, RequestError> {
    if let Some(until) = device.cooling_off_ends(ctx.now) {
        return Err(RequestError::CoolingOff { until });
    }
    let r = refresh(ctx, request_id).await?.filter(|r| r.sub == device.sub).ok_or(RequestError::NotFound)?;
    if r.nonce != d.request_nonce || r.client_id != d.client_id || r.expires_at != d.expires_at {
        return Err(RequestError::Mismatch);
    }
    match r.state {
        RequestState::Pending => {}
        RequestState::Expired => return Err(RequestError::Expired),
        _ => return Err(RequestError::Decided),
    }
    let user = ctx.store.user_by_sub(&r.sub).await?.map(|u| u.user_id.to_string());
    let detail = serde_json::json!({ "request": r.request_id, "client_id": r.client_id, "device": device.serial });
    let to = match d.decision {
        Verdict::Approve => {
            let typed = d.match_code.as_deref().unwrap_or("");
            if policy == MatchPolicy::Type && !constant_time_eq(typed.as_bytes(), r.match_code.as_bytes()) {
                ctx.store.record_failure(&r.sub, ctx.now).await?;
                ctx.audit(AuditKind::MatchCodeRejected, user.as_deref(), detail).await?;
                return Err(RequestError::WrongMatchCode);
            }
            RequestState::Approved
        }
        Verdict::Reject => RequestState::Rejected,
    };
    let (by, with) = (Some(&device.device_id), Some(unlock.amr().as_str()));
    if !ctx.store.set_request_state(request_id, RequestState::Pending, to, ctx.now, by, with).await? {
        return Err(RequestError::Decided);
    }
    if to == RequestState::Approved {
        ctx.audit(AuditKind::RequestApproved, user.as_deref(), detail).await?;
    } else {
        ctx.audit(AuditKind::RequestRejected, user.as_deref(), detail.clone()).await?;
        if d.not_me {
            ctx.store.pause_requests(&r.sub, ctx.now.plus(NOT_ME_BLOCK_SECS)).await?;
            ctx.audit(AuditKind::NotMeAlert, user.as_deref(), detail).await?;
        }
    }
    Ok(ctx.store.request(request_id).await?.unwrap_or(r))
}

/// The log-in box's user, once `sub` approved its request in the key app: `None` if the user was blocked
/// after the request was sent (the approval then opens nothing). The failure count starts over.
pub async fn approved_login(ctx: Ctx<'_>, sub: &str) -> Result<Option<crate::user::User>, StoreError> {
    let Some(user) = ctx.store.user_by_sub(sub).await?.filter(|u| !u.blocked) else {
        return Ok(None);
    };
    ctx.store.reset_failures(sub).await?;
    Ok(Some(user))
}

/// The log-in box gave up waiting for `request_id` ("Skift til nøglekort"): a request still pending is
/// cancelled, so the key app can no longer approve it.
pub async fn cancel(ctx: Ctx<'_>, request_id: &RequestId) -> Result<(), StoreError> {
    ctx.store
        .set_request_state(request_id, RequestState::Pending, RequestState::Cancelled, ctx.now, None, None)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(backoff_after_rejections(0), 0);
        assert_eq!(backoff_after_rejections(1), 30);
        assert_eq!(backoff_after_rejections(3), 120);
        assert_eq!(backoff_after_rejections(20), 3600);
    }

    use crate::device::DeviceStatus;
    use crate::memory::World;
    use crate::store::{RequestStore, UserStore};

    async fn sent(w: &World) -> AuthRequest {
        create(w.ctx(), &mut rand::rngs::OsRng, &w.user.sub, &"c-bank".into(), "Demo Bank", "Log på Demo Bank")
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_device_is_shown_its_users_live_pending_requests_unless_it_cools_off() {
        let w = World::new().await;
        let me = w.device(&w.user.sub, DeviceStatus::Active, w.now).await;
        let r = sent(&w).await;
        let shown: Vec<RequestId> =
            pending_for(w.ctx(), &me).await.unwrap().into_iter().map(|r| r.request_id).collect();
        assert_eq!(shown, std::slice::from_ref(&r.request_id));
        let later = crate::Ctx { now: r.expires_at, ..w.ctx() };
        assert!(pending_for(later, &me).await.unwrap().is_empty(), "an expired request is not shown");
        let other = w.device("someone-else", DeviceStatus::Active, w.now).await;
        assert!(pending_for(w.ctx(), &other).await.unwrap().is_empty(), "nor to another user's device");
        let resetting = w.device(&w.user.sub, DeviceStatus::Active, w.now.plus(3600)).await;
        let refused = pending_for(w.ctx(), &resetting).await;
        assert!(matches!(refused, Err(RequestError::CoolingOff { until }) if until == w.now.plus(3600)));
    }

    #[tokio::test]
    async fn the_app_sees_the_match_code_only_when_the_policy_shows_it() {
        let w = World::new().await;
        let r = sent(&w).await;
        assert_eq!(MatchPolicy::Show.shown(&r), Some(r.match_code.as_str()));
        assert_eq!(MatchPolicy::Type.shown(&r), None, "typed: the user reads it in the log-in box");
        assert_eq!(MatchPolicy::Off.shown(&r), None);
        let typed: Vec<bool> = [MatchPolicy::Type, MatchPolicy::Show, MatchPolicy::Off].map(MatchPolicy::typed).into();
        assert_eq!(typed, [true, false, false]);
    }

    #[tokio::test]
    async fn an_approval_logs_in_unless_the_user_was_blocked_meanwhile() {
        let w = World::new().await;
        w.store.record_failure(&w.user.sub, w.now).await.unwrap();
        let user = approved_login(w.ctx(), &w.user.sub).await.unwrap().unwrap();
        assert_eq!(user.sub, w.user.sub);
        assert_eq!(w.store.user_by_sub(&w.user.sub).await.unwrap().unwrap().failed_attempts, 0, "count starts over");
        w.store.record_failure(&w.user.sub, w.now).await.unwrap();
        w.store.set_blocked(&w.user.sub, true).await.unwrap();
        assert_eq!(approved_login(w.ctx(), &w.user.sub).await.unwrap(), None, "the approval opens nothing");
        assert_eq!(w.store.user_by_sub(&w.user.sub).await.unwrap().unwrap().failed_attempts, 1, "nothing reset");
    }

    fn decision(r: &AuthRequest, decision: Verdict, not_me: bool) -> Decision {
        let (request_nonce, client_id, expires_at) = (r.nonce.clone(), r.client_id.clone(), r.expires_at);
        Decision { decision, request_nonce, client_id, expires_at, match_code: None, not_me }
    }

    #[tokio::test]
    async fn rejections_back_off_and_not_me_pauses_requests() {
        let (w, rng) = (World::new().await, &mut rand::rngs::OsRng);
        let dev = w.device(&w.user.sub, DeviceStatus::Active, w.now).await;
        let (sub, code) = (&w.user.sub, crate::device::Unlock::Code);
        let r = create(w.ctx(), rng, sub, &"c".into(), "Bank", "Log på Bank").await.unwrap();
        let d = decision(&r, Verdict::Reject, false);
        decide(w.after(1), &dev, code, &r.request_id, &d, MatchPolicy::Type).await.unwrap();
        let e = create(w.after(10), rng, sub, &"c".into(), "Bank", "Log på Bank").await.unwrap_err();
        assert!(matches!(e, RequestError::Paused { until } if until == w.now.plus(31)), "{e}");
        let r = create(w.after(31), rng, sub, &"c".into(), "Bank", "Log på Bank").await.unwrap();
        let d = decision(&r, Verdict::Reject, true);
        decide(w.after(32), &dev, code, &r.request_id, &d, MatchPolicy::Type).await.unwrap();
        let e = create(w.after(1000), rng, sub, &"c".into(), "Bank", "Log på Bank").await.unwrap_err();
        assert!(matches!(e, RequestError::Paused { until } if until == w.now.plus(3632)), "{e}");
        assert!(w.audit_kinds().await.contains(&"not_me_alert".to_string()));
        assert!(create(w.after(3632), rng, sub, &"c".into(), "Bank", "Log på Bank").await.is_ok());
    }

    #[tokio::test]
    async fn giving_up_cancels_a_pending_request_and_leaves_a_decided_one() {
        let w = World::new().await;
        let r = sent(&w).await;
        cancel(w.ctx(), &r.request_id).await.unwrap();
        assert_eq!(w.store.request(&r.request_id).await.unwrap().unwrap().state, RequestState::Cancelled);
        let r = sent(&w).await;
        w.store
            .set_request_state(&r.request_id, RequestState::Pending, RequestState::Approved, w.now, None, None)
            .await
            .unwrap();
        cancel(w.ctx(), &r.request_id).await.unwrap();
        assert_eq!(w.store.request(&r.request_id).await.unwrap().unwrap().state, RequestState::Approved);
    }
}
