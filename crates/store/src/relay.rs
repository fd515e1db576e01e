//! Cross-node delivery of live-channel events on PostgreSQL: `NOTIFY` on one node, `LISTEN` on every node, so
//! a request created on one node reaches an app connected to another (S-SCALE). Payloads name only a user's
//! opaque `sub` and an event kind.

use crate::Db as _;
use noegle_core::store::StoreError;
use sqlx::postgres::{PgListener, PgPool, PgPoolOptions};

/// The channel every node listens on.
pub const CHANNEL: &str = "noegle_push";

/// Publishes to and subscribes on [`CHANNEL`].
#[derive(Clone, Debug)]
pub struct PgRelay {
    pool: PgPool,
}

/// One node's subscription.
#[derive(Debug)]
pub struct Subscription(PgListener);

impl PgRelay {
    /// Connects to the database at `url` (a `postgres://` URL).
    pub async fn connect(url: &str) -> Result<PgRelay, StoreError> {
        let pool = PgPoolOptions::new().max_connections(2).connect(url).await.db()?;
        Ok(PgRelay { pool })
    }

    /// Sends `payload` to every node (this one included).
    pub async fn publish(&self, payload: &str) -> Result<(), StoreError> {
        sqlx::query("SELECT pg_notify($1, $2)").bind(CHANNEL).bind(payload).execute(&self.pool).await.db()?;
        Ok(())
    }

    /// Starts listening.
    pub async fn subscribe(&self) -> Result<Subscription, StoreError> {
        let mut listener = PgListener::connect_with(&self.pool).await.db()?;
        listener.listen(CHANNEL).await.db()?;
        Ok(Subscription(listener))
    }
}

impl Subscription {
    /// The next payload (reconnecting by itself after a dropped connection).
    pub async fn next(&mut self) -> Result<String, StoreError> {
        Ok(self.0.recv().await.db()?.payload().to_string())
    }
}
