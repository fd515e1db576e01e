//! The live channel's endpoint: server-sent events to a connected key app.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use noegle_core::device::DeviceStatus;
use tokio::sync::broadcast;

use super::ApiError;
use super::extract::{PendingOrActive, Signed};
use super::openapi::{Refused, Unavailable};
use crate::listener::{LivePermit, Slot};
use crate::live::AppEvent;
use crate::state::AppState;

/// `GET /api/app/v1/events` (signed, pending or active): server-sent events, starting with `connected`. An
/// active device hears its user's events — first what it missed while away (a pending request, an
/// unconfirmed device: events are not kept, so a reconnecting app is told from the database); a pending
/// device — which may not be the user's at all — hears only `activation_ready` when its wait is over, and
/// then the stream ends. A stopping node says `reconnect` and ends the stream.
#[utoipa::path(
    get,
    path = "/api/app/v1/events",
    params(super::openapi::SignatureHeaders),
    responses((status = 200, description = "text/event-stream", content_type = "text/event-stream", body = String), Refused<401>, Unavailable)
)]
pub async fn events(
    State(state): State<AppState>,
    slot: Option<axum::Extension<Slot>>,
    call: Signed<PendingOrActive>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let Signed { device, from, .. } = call;
    // From here the connection counts among the live channel's streams, not the node's other connections.
    let live = state.gate.to_live(slot.as_ref().map(|s| &s.0)).ok_or_else(ApiError::live_channel_full)?;
    let pending = device.status == DeviceStatus::Pending;
    let rx = (!pending).then(|| state.hub.subscribe(&device.sub));
    let waiting = pending.then_some(device.second_login_from);
    let missed = if pending { Vec::new() } else { missed(state.ctx(Some(from.as_str())), &device).await? };
    let stop = state.gate.draining();
    let start = Listening { rx, waiting, state: state.clone(), stop, ended: false, _live: live };
    let stream = futures::stream::unfold(start, next_event);
    // `connected` first: the app knows it will hear what happens from now on.
    let hello = futures::stream::iter(
        std::iter::once("connected").chain(missed.into_iter().map(AppEvent::name)).map(|name| Ok(event(name))),
    );
    let stream = futures::StreamExt::chain(hello, stream);
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// What an active device would have heard while it was away: a pending request, an unconfirmed device.
async fn missed(ctx: noegle_core::Ctx<'_>, device: &noegle_core::device::Device) -> Result<Vec<AppEvent>, ApiError> {
    let mut missed = Vec::new();
    // A device cooling off after "Glemt kode" is shown no requests, so it has missed none; a storage failure
    // is one.
    match noegle_core::request::pending_for(ctx, device).await {
        Ok(r) if !r.is_empty() => missed.push(AppEvent::Request),
        Ok(_) | Err(noegle_core::request::RequestError::CoolingOff { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    let unconfirmed = noegle_core::activation::unconfirmed(ctx, device).await?;
    if unconfirmed.iter().any(|(d, _)| d.device_id != device.device_id) {
        missed.push(AppEvent::PendingActivation);
    }
    Ok(missed)
}

fn event(name: &str) -> Event {
    Event::default().event(name).data("{}")
}

/// One app's stream between events.
struct Listening {
    rx: Option<broadcast::Receiver<AppEvent>>,
    waiting: Option<noegle_core::UnixTime>,
    state: AppState,
    /// Turns `true` when the node starts stopping.
    stop: tokio::sync::watch::Receiver<bool>,
    /// `reconnect` has been said.
    ended: bool,
    _live: LivePermit,
}

/// The stream's next event (`None` ends it).
async fn next_event(mut s: Listening) -> Option<(Result<Event, Infallible>, Listening)> {
    loop {
        if s.ended {
            return None;
        }
        if *s.stop.borrow() {
            // Said once; then the stream ends and the app connects again, to a node that is not stopping.
            s.ended = true;
            return Some((Ok(event(AppEvent::Reconnect.name())), s));
        }
        if let Some(ready_at) = s.waiting
            && s.state.now() >= ready_at
        {
            s.waiting = None;
            return Some((Ok(event(AppEvent::ActivationReady.name())), s));
        }
        let heard = match s.rx.as_mut() {
            // A pending device that has heard `activation_ready` has heard all it may hear; until then it
            // looks at the clock once a second (the clock may be a test's).
            None => {
                s.waiting?;
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = s.stop.changed() => {}
                }
                continue;
            }
            // An active device sleeps until its user has news (or the node stops): an idle app costs no
            // wake-ups.
            Some(rx) => tokio::select! {
                heard = rx.recv() => heard,
                _ = s.stop.changed() => continue,
            },
        };
        return match heard {
            Ok(e) => Some((Ok(event(e.name())), s)),
            Err(broadcast::error::RecvError::Lagged(_)) => Some((Ok(event(AppEvent::Request.name())), s)),
            Err(broadcast::error::RecvError::Closed) => None,
        };
    }
}
