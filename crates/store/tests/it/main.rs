//! The store contract: what is storage — uniqueness, single-use takes, compare-and-set, atomic counts and
//! commits, the append-only audit log — each test on the in-memory store (`noegle_core::memory`), SQLite (a
//! temp file) and PostgreSQL (a fresh database), so the memory store the flows' specifications run on keeps
//! the promises the databases keep. The few tests that need a database itself say why. The flows' rules are
//! specified next to the flows in `noegle-core` (on its in-memory store).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod cards;
mod devices;
mod grants;
mod lockout;
mod requests;
mod users;

use std::future::Future;
use std::sync::Arc;

use noegle_core::store::Store;
use noegle_core::user::User;
use noegle_core::{Ctx, UnixTime};

/// A fresh store, and what keeps its database alive.
pub struct Db {
    pub store: Arc<dyn Store>,
    _dir: Option<tempfile::TempDir>,
}

pub fn memory() -> Db {
    Db { store: Arc::new(noegle_core::memory::MemoryStore::new()), _dir: None }
}

pub async fn sqlite() -> Db {
    let dir = tempfile::tempdir().unwrap();
    let store = noegle_store::open(&noegle_store::testing::sqlite_url(dir.path())).await.unwrap();
    Db { store, _dir: Some(dir) }
}

pub async fn postgres() -> Db {
    let url = noegle_store::testing::fresh_postgres_database().await.unwrap();
    Db { store: noegle_store::open(&url).await.unwrap(), _dir: None }
}

/// Runs `f` on every store (memory, SQLite, PostgreSQL), keeping each database alive until `f` is done.
pub async fn each_store<F, Fut>(f: F)
where
    F: Fn(Arc<dyn Store>) -> Fut,
    Fut: Future<Output = ()>,
{
    for db in [memory(), sqlite().await, postgres().await] {
        f(db.store.clone()).await;
        drop(db);
    }
}

pub fn ctx(store: &dyn Store, now: i64) -> Ctx<'_> {
    Ctx { store, now: UnixTime(now), source: Some("test") }
}

pub async fn alice(store: &dyn Store) -> User {
    noegle_core::accounts::create_user(
        ctx(store, 1000),
        &mut rand::rngs::OsRng,
        "alice",
        Some("Alice Andersen"),
        "korrekt hest batteri",
    )
    .await
    .unwrap()
}
