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
use crate::listener::{LivePermit, Slot};
use crate::live::AppEvent;
use crate::state::AppState;

/// `GET /api/app/v1/events` (signed, pending or active): server-sent events, starting with `connected`. An
/// active device hears its user's events; a pending device — which may not be the user's at all — hears only
/// `activation_ready` when its wait is over, and then the stream ends.
pub async fn events(
    State(state): State<AppState>,
    slot: Option<axum::Extension<Slot>>,
    call: Signed<PendingOrActive>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let device = call.device;
    // From here the connection counts among the live channel's streams, not the node's other connections.
    let live = state.gate.to_live(slot.as_ref().map(|s| &s.0)).ok_or_else(ApiError::live_channel_full)?;
    let pending = device.status == DeviceStatus::Pending;
    let rx = (!pending).then(|| state.hub.subscribe(&device.sub));
    let waiting = pending.then_some(device.ready_at);
    let start = Listening { rx, waiting, state: state.clone(), _live: live };
    let stream = futures::stream::unfold(start, next_event);
    // `connected` first: the app knows it will hear what happens from now on.
    let hello = futures::stream::once(async { Ok(Event::default().event("connected").data("{}")) });
    let stream = futures::StreamExt::chain(hello, stream);
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// One app's stream between events.
struct Listening {
    rx: Option<broadcast::Receiver<AppEvent>>,
    waiting: Option<noegle_core::UnixTime>,
    state: AppState,
    _live: LivePermit,
}

/// The stream's next event (`None` ends it).
async fn next_event(mut s: Listening) -> Option<(Result<Event, Infallible>, Listening)> {
    loop {
        if let Some(ready_at) = s.waiting
            && s.state.now() >= ready_at
        {
            s.waiting = None;
            return Some((Ok(Event::default().event(AppEvent::ActivationReady.name()).data("{}")), s));
        }
        let Some(rx) = s.rx.as_mut() else {
            // A pending device that has heard `activation_ready` has heard all it may hear; until then it
            // looks at the clock once a second (the clock may be a test's).
            s.waiting?;
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        };
        // An active device sleeps until its user has news: an idle app costs no wake-ups.
        match rx.recv().await {
            Ok(e) => return Some((Ok(Event::default().event(e.name()).data("{}")), s)),
            Err(broadcast::error::RecvError::Lagged(_)) => {
                return Some((Ok(Event::default().event(AppEvent::Request.name()).data("{}")), s));
            }
            Err(broadcast::error::RecvError::Closed) => return None,
        }
    }
}
