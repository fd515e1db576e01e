//! The live channel from server to key apps: the events apps are told of, the `Notifier` they go
//! through, and the hub that fans them out to connected apps (the server-sent-events endpoint that streams
//! them is `api::events`). Payloads carry
//! no personal data: an app that hears `request` fetches the details with a signed call after unlock.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::broadcast;

/// What the server tells an app. Serialised as the SSE event name; never carries personal data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppEvent {
    /// A request awaits approval: fetch `/api/app/v1/requests`.
    Request,
    /// Another device of the user started activating: fetch `/api/app/v1/activations`.
    PendingActivation,
    /// This pending device's wait is over: the second log-in is possible.
    ActivationReady,
    /// This node is stopping: connect again (to another node). Said on the live channel only.
    Reconnect,
}

impl AppEvent {
    /// The event named `name`.
    pub fn parse(name: &str) -> Option<AppEvent> {
        [AppEvent::Request, AppEvent::PendingActivation, AppEvent::ActivationReady, AppEvent::Reconnect]
            .into_iter()
            .find(|e| e.name() == name)
    }

    /// The event's name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            AppEvent::Request => "request",
            AppEvent::PendingActivation => "pending_activation",
            AppEvent::ActivationReady => "activation_ready",
            AppEvent::Reconnect => "reconnect",
        }
    }
}

/// Delivers events to a user's apps. The hub is the live channel; Web Push can be another implementation.
pub trait Notifier: Send + Sync {
    /// Tells every connected app of `sub` about `event`.
    fn notify(&self, sub: &str, event: AppEvent);
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
    by_user: HashMap<String, broadcast::Sender<AppEvent>>,
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
                if let Some((sub, event)) = payload.split_once(' ').and_then(|(s, e)| Some((s, AppEvent::parse(e)?))) {
                    hub.deliver(sub, event);
                }
            }
        });
        Ok(hub)
    }

    /// Hands `event` to this node's apps of `sub`.
    fn deliver(&self, sub: &str, event: AppEvent) {
        let channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(tx) = channels.by_user.get(sub) {
            // No receivers is fine: the app will see the request with "Opdater".
            let _ = tx.send(event);
        }
    }

    /// Subscribes to `sub`'s events.
    pub fn subscribe(&self, sub: &str) -> broadcast::Receiver<AppEvent> {
        let mut channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        if channels.by_user.len() >= channels.sweep_at {
            channels.by_user.retain(|_, tx| tx.receiver_count() > 0);
            channels.sweep_at = (channels.by_user.len() * 2).max(64);
        }
        channels.by_user.entry(sub.to_string()).or_insert_with(|| broadcast::channel(4).0).subscribe()
    }
}

impl Notifier for Hub {
    fn notify(&self, sub: &str, event: AppEvent) {
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
