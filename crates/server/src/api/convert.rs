//! The domain's records as the key-app API's bodies (`noegle_proto::api::v1`), and the bodies as the
//! domain's inputs: the one place where a core type meets its wire form.

use noegle_core::UnixTime;
use noegle_core::activation::Unconfirmed;
use noegle_core::device::{Device, DeviceStatus};
use noegle_core::request::{AuthRequest, MatchPolicy, RequestState, Verdict};
use noegle_proto::api::v1 as wire;

/// A device's state on the wire.
pub(crate) fn status(s: DeviceStatus) -> wire::DeviceStatus {
    match s {
        DeviceStatus::Pending => wire::DeviceStatus::Pending,
        DeviceStatus::Active => wire::DeviceStatus::Active,
        DeviceStatus::Cancelled => wire::DeviceStatus::Cancelled,
        DeviceStatus::Revoked => wire::DeviceStatus::Revoked,
    }
}

/// A device as the app sees it at `now`; `ready` tells a pending device that the wait is over.
pub(crate) fn device(d: &Device, now: UnixTime) -> wire::Device {
    wire::Device {
        device_id: d.device_id.to_string(),
        serial: d.serial.clone(),
        name: d.name.clone(),
        status: status(d.status),
        ready_at: d.ready_at().0,
        expires_at: d.expires_at.0,
        ready: d.ready_for_second_login(now),
        now: now.0,
        reason: None,
    }
}

/// An unconfirmed device, with why it is listed.
pub(crate) fn unconfirmed(d: &Device, why: &Unconfirmed, now: UnixTime) -> wire::Device {
    let reason = match why {
        Unconfirmed::Activation => wire::Reason::Activation,
        Unconfirmed::CodeReset => wire::Reason::CodeReset,
    };
    wire::Device { reason: Some(reason), ..device(d, now) }
}

/// A pending request as the app is shown it, with the match code only where the policy shows it.
pub(crate) fn request(r: AuthRequest, policy: MatchPolicy) -> wire::PendingRequest {
    let match_code = policy.shown(&r).map(str::to_string);
    wire::PendingRequest {
        request_id: r.request_id.into(),
        client_id: r.client_id.into(),
        client_name: r.client_name,
        action: r.action,
        created_at: r.created_at.0,
        expires_at: r.expires_at.0,
        nonce: r.nonce,
        match_code_required: policy.typed(),
        match_code,
    }
}

/// A request's state on the wire.
pub(crate) fn request_state(s: RequestState) -> wire::RequestState {
    match s {
        RequestState::Pending => wire::RequestState::Pending,
        RequestState::Approved => wire::RequestState::Approved,
        RequestState::Rejected => wire::RequestState::Rejected,
        RequestState::Expired => wire::RequestState::Expired,
        RequestState::Cancelled => wire::RequestState::Cancelled,
    }
}

/// A decision as the domain takes it.
pub(crate) fn decision(d: wire::Decision) -> noegle_core::request::Decision {
    let decision = match d.decision {
        wire::Verdict::Approve => Verdict::Approve,
        wire::Verdict::Reject => Verdict::Reject,
    };
    noegle_core::request::Decision {
        decision,
        request_nonce: d.request_nonce,
        client_id: d.client_id.into(),
        expires_at: UnixTime(d.expires_at),
        match_code: d.match_code,
        not_me: d.not_me,
    }
}
