//! Bursts: 1,000 password posts at the same moment, each on its own connection, against a fresh server with
//! the default password workers; the server's peak memory against 64 MiB + 19 MiB × workers. (The same
//! burst is a test in `crates/noegle/tests/it/burst.rs`; here it is a figure for the report.)

use std::sync::Arc;

use anyhow::anyhow;
use futures::StreamExt;

use crate::deploy::{Backend, Deployment, Setup};
use crate::loginbox::LoginBox;
use crate::scenarios::Opts;
use crate::{procfs, seed};

/// Users the posts are spread over (each stays far from the lockout).
const USERS: usize = 20;

/// The burst's figures on one backend.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct BurstResult {
    /// The database.
    pub backend: Backend,
    /// Posts sent at once.
    pub posts: usize,
    /// The server's password workers.
    pub workers: usize,
    /// The server's peak RSS, KiB.
    pub peak_kib: u64,
    /// 64 MiB + 19 MiB × workers, KiB.
    pub bound_kib: u64,
    /// Answered 401 (checked, wrong).
    pub checked: usize,
    /// Answered 503 (busy).
    pub busy: usize,
    /// Any other answer.
    pub other: usize,
}

/// Runs the burst on `backend`.
pub async fn run(setup: &Setup, backend: Backend, opts: &Opts) -> anyhow::Result<BurstResult> {
    let dep = Deployment::start(setup, backend, 1, false).await?;
    let pid = dep.nodes[0].pid.ok_or_else(|| anyhow!("the burst needs a server the bench started"))?;
    let store = dep.store().await?;
    let client_id = seed::client(store.as_ref()).await?;
    let users = seed::users(store, None, "burst", USERS).await?;
    let lb = LoginBox::new(LoginBox::http(), dep.url(), &client_id);
    let flows = futures::stream::iter(0..opts.burst_posts)
        .map(|_| lb.open())
        .buffered(32)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<anyhow::Result<Vec<_>>>()?;
    let start = Arc::new(tokio::sync::Barrier::new(flows.len()));
    let mut posts = Vec::new();
    for (i, mut flow) in flows.into_iter().enumerate() {
        let (start, user) = (start.clone(), users[i % USERS].clone());
        // Each post on a connection of its own, as from a thousand browsers.
        let lb = LoginBox::new(LoginBox::http(), dep.url(), &client_id);
        posts.push(tokio::spawn(async move {
            start.wait().await;
            lb.wrong_password(&mut flow, &user).await
        }));
    }
    let (mut checked, mut busy, mut other) = (0, 0, 0);
    for p in posts {
        match p.await?? {
            401 => checked += 1,
            503 => busy += 1,
            _ => other += 1,
        }
    }
    let workers = std::thread::available_parallelism().map_or(1, usize::from);
    let result = BurstResult {
        backend,
        posts: opts.burst_posts,
        workers,
        peak_kib: procfs::status_kib(pid, "VmHWM")?,
        bound_kib: (64 + 19 * workers as u64) * 1024,
        checked,
        busy,
        other,
    };
    eprintln!(
        "  burst {}: {} posts at once: {checked} checked (401), {busy} busy (503), {other} other; peak RSS {:.1} MiB (bound {:.0} MiB)",
        backend.name(),
        result.posts,
        result.peak_kib as f64 / 1024.0,
        result.bound_kib as f64 / 1024.0
    );
    dep.stop().await;
    Ok(result)
}
