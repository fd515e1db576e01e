//! B3 `idle`: many active key apps holding the live channel open — the server's memory per connection —
//! then one request to each of their users, timed until every app has heard it.

use std::time::{Duration, Instant};

use anyhow::anyhow;
use futures::StreamExt;

use crate::deploy::{Backend, Deployment, Setup};
use crate::devices::{Channel, source_address};
use crate::loginbox::LoginBox;
use crate::scenarios::Opts;
use crate::stats::{now, percentile_ms};
use crate::{procfs, seed};

/// Open files the server and the bench keep for themselves besides the apps' connections.
const SPARE_FILES: u64 = 300;

/// B3's figures on one backend.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct IdleResult {
    /// The database.
    pub backend: Backend,
    /// Apps asked for.
    pub wanted: usize,
    /// Apps connected.
    pub connected: usize,
    /// What held the number below what was asked for (empty when nothing did).
    pub limited_by: String,
    /// Server RSS before the apps connected, KiB.
    pub rss_before_kib: u64,
    /// Server RSS with half the apps connected, KiB.
    pub rss_half_kib: u64,
    /// Server RSS with every app connected, KiB.
    pub rss_after_kib: u64,
    /// What the second half of the apps added, per app, KiB.
    pub kib_per_connection: f64,
    /// Apps that heard the request sent to their user.
    pub reached: usize,
    /// From the first "send to the app" until the last app heard its event, seconds.
    pub deliver_secs: f64,
    /// "Send to the app" → event at the app, median, ms.
    pub deliver_p50_ms: f64,
    /// … 99th percentile, ms.
    pub deliver_p99_ms: f64,
}

/// Opens the live channels of `devices` (the `first`th onwards), 256 at a time.
async fn connect(
    server: std::net::SocketAddr,
    devices: &[seed::BenchDevice],
    first: usize,
) -> anyhow::Result<Vec<(String, Channel)>> {
    futures::stream::iter(devices.iter().enumerate())
        .map(|(i, d)| async move {
            Channel::open(server, source_address(first + i), d).await.map(|c| (d.sub.clone(), c))
        })
        .buffered(256)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect()
}

/// Runs B3 on `backend`.
pub async fn run(setup: &Setup, backend: Backend, opts: &Opts) -> anyhow::Result<IdleResult> {
    let dep = Deployment::start(setup, backend, 1, false).await?;
    let pid = dep.nodes[0].pid.ok_or_else(|| anyhow!("idle needs a server the bench started"))?;
    let server_files = procfs::open_files_limit(pid)?;
    let own_files = rlimit::getrlimit(rlimit::Resource::NOFILE).map(|(soft, _)| soft).unwrap_or(1024);
    let room = server_files.min(own_files).saturating_sub(SPARE_FILES) as usize;
    let n = opts.idle_connections.min(room);
    let limited_by = if n < opts.idle_connections {
        format!("the open-files limit ({} for the server, {} for the bench)", server_files, own_files)
    } else {
        String::new()
    };

    let store = dep.store().await?;
    let users = seed::users(store.clone(), None, "idle", n.div_ceil(3)).await?;
    let mut devices = seed::devices(store, &users, 3).await?;
    devices.truncate(n);
    eprintln!("  B3 {}: {} apps of {} users seeded; connecting", backend.name(), devices.len(), users.len());

    // Connected in two halves: the second half's memory is what one more app costs (the first half also
    // warms the database's caches, which any number of apps would).
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_before = dep.rss_kib().unwrap_or(0);
    let server: std::net::SocketAddr = dep.url().trim_start_matches("http://").parse()?;
    let half = devices.len() / 2;
    let mut channels = connect(server, &devices[..half], 0).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_half = dep.rss_kib().unwrap_or(0);
    channels.extend(connect(server, &devices[half..], half).await?);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_after = dep.rss_kib().unwrap_or(0);
    let connected = channels.len();
    let kib_per_connection = rss_after.saturating_sub(rss_half) as f64 / (connected - half).max(1) as f64;
    eprintln!(
        "  B3 {}: {connected} apps connected; server RSS {:.1} → {:.1} (half) → {:.1} MiB, {kib_per_connection:.1} KiB per connection",
        backend.name(),
        rss_before as f64 / 1024.0,
        rss_half as f64 / 1024.0,
        rss_after as f64 / 1024.0
    );

    // One request to each user of the first `idle_deliver` apps: log-in box sessions up to "send", first.
    let deliver_users = opts.idle_deliver.min(connected).div_ceil(3);
    let client_id = seed::client(dep.store().await?.as_ref()).await?;
    let lb = LoginBox::new(LoginBox::http(), dep.url(), &client_id);
    let sessions = futures::stream::iter(users.iter().take(deliver_users))
        .map(|u| {
            let lb = lb.clone();
            async move {
                let mut flow = lb.open().await?;
                lb.password(&mut flow, u).await?;
                Ok::<_, anyhow::Error>((u.sub.clone(), flow))
            }
        })
        .buffered(16)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<anyhow::Result<Vec<_>>>()?;
    let targets: std::collections::HashSet<String> = sessions.iter().map(|(s, _)| s.clone()).collect();
    let mut listeners = Vec::new();
    for (sub, mut channel) in channels {
        if targets.contains(&sub) {
            listeners.push(tokio::spawn(async move {
                let heard = channel.next_request().await.map(|_| now());
                (sub, heard.ok(), channel)
            }));
        } else {
            // Kept open (and idle) until the end of the scenario.
            listeners.push(tokio::spawn(async move { (sub, None, channel) }));
        }
    }
    let started = now();
    let sent: Vec<(String, Instant)> = futures::stream::iter(sessions)
        .map(|(sub, mut flow)| {
            let lb = lb.clone();
            async move {
                let t = now();
                lb.send_to_app(&mut flow).await.map(|_| (sub, t))
            }
        })
        .buffer_unordered(64)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<anyhow::Result<Vec<_>>>()?;
    let sent: std::collections::HashMap<String, Instant> = sent.into_iter().collect();
    let mut latencies = Vec::new();
    let mut last = started;
    let mut held = Vec::new();
    for l in listeners {
        let (sub, heard, channel) = tokio::time::timeout(Duration::from_secs(120), l).await??;
        if let (Some(h), Some(t)) = (heard, sent.get(&sub)) {
            latencies.push(h.saturating_duration_since(*t));
            last = last.max(h);
        }
        held.push(channel);
    }
    let reached = latencies.len();
    let result = IdleResult {
        backend,
        wanted: opts.idle_connections,
        connected,
        limited_by,
        rss_before_kib: rss_before,
        rss_half_kib: rss_half,
        rss_after_kib: rss_after,
        kib_per_connection,
        reached,
        deliver_secs: (last - started).as_secs_f64(),
        deliver_p50_ms: percentile_ms(&mut latencies, 50.0),
        deliver_p99_ms: percentile_ms(&mut latencies, 99.0),
    };
    eprintln!(
        "  B3 {}: {reached} apps heard their request within {:.2} s (p50 {:.1} ms, p99 {:.1} ms)",
        backend.name(),
        result.deliver_secs,
        result.deliver_p50_ms,
        result.deliver_p99_ms
    );
    drop(held);
    dep.stop().await;
    Ok(result)
}
