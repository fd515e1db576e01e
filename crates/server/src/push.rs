//! The live channel from server to key apps: a `Notifier` the domain's events go through, an
//! in-process hub that fans them out to connected apps, and the server-sent-events endpoint. Payloads carry
//! no personal data: an app that hears `request` fetches the details with a signed call after unlock.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Mutex;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, Method};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use noegle_core::device::DeviceStatus;
use tokio::sync::broadcast;

use crate::api::ApiError;
use crate::state::AppState;

/// What the server tells an app. Serialised as the SSE event name; never carries personal data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PushEvent {
    /// A request awaits approval: fetch `/api/app/v1/requests`.
    Request,
    /// Another device of the user started activating: fetch `/api/app/v1/activations`.
    PendingActivation,
    /// This pending device's wait is over: the second log-in is possible.
    ActivationReady,
}

impl PushEvent {
    /// The event named `name`.
    pub fn parse(name: &str) -> Option<PushEvent> {
        [PushEvent::Request, PushEvent::PendingActivation, PushEvent::ActivationReady]
            .into_iter()
            .find(|e| e.name() == name)
    }

    /// The event's name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            PushEvent::Request => "request",
            PushEvent::PendingActivation => "pending_activation",
            PushEvent::ActivationReady => "activation_ready",
        }
    }
}

/// Delivers events to a user's apps. The hub is the live channel; Web Push can be another implementation.
pub trait Notifier: Send + Sync {
    /// Tells every connected app of `sub` about `event`.
    fn notify(&self, sub: &str, event: PushEvent);
}

/// Fan-out to connected apps: one broadcast channel per user. With PostgreSQL, events go through the
/// database's `NOTIFY` so that apps connected to other nodes hear them too.
#[derive(Default)]
pub struct Hub {
    channels: Mutex<Channels>,
    relay: Option<noegle_store::relay::PgRelay>,
}

/// The users' channels, swept of those nobody listens to any more whenever their number has doubled since
/// the last sweep (so that subscribing stays cheap with 100,000 apps connected).
#[derive(Default)]
struct Channels {
    by_user: HashMap<String, broadcast::Sender<PushEvent>>,
    sweep_at: usize,
}

impl Hub {
    /// A hub that relays through PostgreSQL and listens for the other nodes' events.
    pub async fn relayed(url: &str) -> Result<std::sync::Arc<Hub>, noegle_core::StoreError> {
        let relay = noegle_store::relay::PgRelay::connect(url).await?;
        let mut subscription = relay.subscribe().await?;
        let hub = std::sync::Arc::new(Hub { channels: Mutex::default(), relay: Some(relay) });
        let weak = std::sync::Arc::downgrade(&hub);
        tokio::spawn(async move {
            loop {
                let payload = match subscription.next().await {
                    Ok(p) => p,
                    Err(e) => {
                        tracing::warn!(error = %e, "push relay: listening failed; retrying");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                };
                let Some(hub) = weak.upgrade() else { break };
                if let Some((sub, event)) = payload.split_once(' ').and_then(|(s, e)| Some((s, PushEvent::parse(e)?))) {
                    hub.deliver(sub, event);
                }
            }
        });
        Ok(hub)
    }

    /// Hands `event` to this node's apps of `sub`.
    fn deliver(&self, sub: &str, event: PushEvent) {
        let channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(tx) = channels.by_user.get(sub) {
            // No receivers is fine: the app will see the request with "Opdater".
            let _ = tx.send(event);
        }
    }

    /// Subscribes to `sub`'s events.
    pub fn subscribe(&self, sub: &str) -> broadcast::Receiver<PushEvent> {
        let mut channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        if channels.by_user.len() >= channels.sweep_at {
            channels.by_user.retain(|_, tx| tx.receiver_count() > 0);
            channels.sweep_at = (channels.by_user.len() * 2).max(64);
        }
        channels.by_user.entry(sub.to_string()).or_insert_with(|| broadcast::channel(4).0).subscribe()
    }
}

impl Notifier for Hub {
    fn notify(&self, sub: &str, event: PushEvent) {
        match &self.relay {
            Some(relay) => {
                let (relay, payload) = (relay.clone(), format!("{sub} {}", event.name()));
                tokio::spawn(async move {
                    if let Err(e) = relay.publish(&payload).await {
                        tracing::warn!(error = %e, "push relay: publishing failed");
                    }
                });
            }
            None => self.deliver(sub, event),
        }
    }
}

/// `GET /api/app/v1/events` (signed, pending or active): server-sent events, starting with `connected`. An
/// active device hears its user's events; a pending device — which may not be the user's at all — hears only
/// `activation_ready` when its wait is over, and then the stream ends.
pub async fn events(
    State(state): State<AppState>,
    method: Method,
    uri: OriginalUri,
    headers: HeaderMap,
    slot: Option<axum::Extension<crate::listener::Slot>>,
    body: Bytes,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let device =
        crate::api::signed(&state, &method, &uri, &headers, &body, &[DeviceStatus::Pending, DeviceStatus::Active])
            .await?;
    // From here the connection counts among the live channel's streams, not the node's other connections.
    let live = state.gate.to_live(slot.as_ref().map(|s| &s.0)).ok_or_else(|| {
        ApiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "too many key apps are connected to this server right now; try again shortly (\"Opdater\" works meanwhile)",
        )
    })?;
    let pending = device.status == DeviceStatus::Pending;
    let rx = (!pending).then(|| state.hub.subscribe(&device.sub));
    let waiting = pending.then_some(device.ready_at);
    struct S {
        rx: Option<broadcast::Receiver<PushEvent>>,
        waiting: Option<noegle_core::UnixTime>,
        state: AppState,
        _live: crate::listener::LivePermit,
    }
    let stream = futures::stream::unfold(S { rx, waiting, state: state.clone(), _live: live }, |mut s| async move {
        loop {
            if let Some(ready_at) = s.waiting
                && s.state.now() >= ready_at
            {
                s.waiting = None;
                return Some((Ok(Event::default().event(PushEvent::ActivationReady.name()).data("{}")), s));
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
                    return Some((Ok(Event::default().event(PushEvent::Request.name()).data("{}")), s));
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    // `connected` first: the app knows it will hear what happens from now on.
    let hello = futures::stream::once(async { Ok(Event::default().event("connected").data("{}")) });
    let stream = futures::StreamExt::chain(hello, stream);
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
