//! Closed-loop load: `concurrency` workers each doing one log-in after another for a while, with the server's
//! CPU time read at the start and end of the measured window.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::deploy::Deployment;
use crate::seed::BenchUser;
use crate::stats::{now, percentile_ms};

/// Log-ins one user may do in a run: the card keeps more than 20 unused keys, so no new card is issued
/// (and printed) in the middle of a measurement.
const LOGINS_PER_USER: usize = 125;

/// Users handed out one at a time, so that no user has two log-ins at once.
pub struct UserPool {
    free: Mutex<VecDeque<(BenchUser, usize)>>,
}

impl UserPool {
    /// A pool of `users`, none used yet.
    pub fn new(users: Vec<BenchUser>) -> UserPool {
        UserPool { free: Mutex::new(users.into_iter().map(|u| (u, 0)).collect()) }
    }

    fn take(&self) -> Option<(BenchUser, usize)> {
        self.free.lock().ok()?.pop_front()
    }

    fn give_back(&self, user: BenchUser, used: usize) {
        if used < LOGINS_PER_USER
            && let Ok(mut free) = self.free.lock()
        {
            free.push_back((user, used));
        }
    }

    /// Users with log-ins left.
    pub fn left(&self) -> usize {
        self.free.lock().map(|f| f.len()).unwrap_or(0)
    }
}

/// One measured point.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Point {
    /// Workers at once.
    pub concurrency: usize,
    /// Log-ins completed in the window.
    pub logins: usize,
    /// Failed log-ins in the window.
    pub errors: usize,
    /// The window, seconds.
    pub secs: f64,
    /// Log-ins per second.
    pub per_sec: f64,
    /// Median log-in time, ms.
    pub p50_ms: f64,
    /// 99th percentile log-in time, ms.
    pub p99_ms: f64,
    /// Server CPU per log-in, ms (all nodes).
    pub cpu_ms: Option<f64>,
    /// PostgreSQL statements per log-in (`BEGIN`/`COMMIT` included), when counted.
    pub db_statements: Option<f64>,
    /// Round trips to PostgreSQL per log-in, when counted.
    pub db_round_trips: Option<f64>,
}

/// Runs `login(worker, user)` from `concurrency` workers for `warmup` + `window`; measures the window.
pub async fn closed_loop<F, Fut>(
    dep: &Deployment,
    users: &Arc<UserPool>,
    concurrency: usize,
    warmup: Duration,
    window: Duration,
    login: F,
) -> anyhow::Result<Point>
where
    F: Fn(usize, BenchUser) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send,
{
    let start = now();
    let (from, until) = (start + warmup, start + warmup + window);
    let mut workers = Vec::new();
    for w in 0..concurrency {
        let (users, login) = (users.clone(), login.clone());
        workers.push(tokio::spawn(async move {
            let mut done: Vec<(Instant, Duration, bool)> = Vec::new();
            let mut first_error = None;
            while now() < until {
                let Some((user, used)) = users.take() else { break };
                let t = now();
                let r = login(w, user.clone()).await;
                let end = now();
                if let Err(e) = &r {
                    first_error.get_or_insert_with(|| format!("{e:#}"));
                }
                done.push((end, end - t, r.is_ok()));
                users.give_back(user, used + 1);
            }
            (done, first_error)
        }));
    }
    tokio::time::sleep_until(from.into()).await;
    let cpu_from = dep.cpu_secs();
    let db_from = dep.counter.as_ref().map(|c| c.snapshot());
    let measured_from = now();
    tokio::time::sleep_until(until.into()).await;
    let cpu_until = dep.cpu_secs();
    let db = db_from.zip(dep.counter.as_ref().map(|c| c.snapshot())).map(|(a, b)| b - a);
    let secs = measured_from.elapsed().as_secs_f64();
    let mut latencies = Vec::new();
    let (mut logins, mut errors) = (0, 0);
    for w in workers {
        let (done, first_error) = w.await?;
        if let Some(e) = first_error {
            eprintln!("  a log-in failed: {e}");
        }
        for (_, took, ok) in done.into_iter().filter(|(end, ..)| *end >= from && *end <= until) {
            if ok {
                logins += 1;
                latencies.push(took);
            } else {
                errors += 1;
            }
        }
    }
    if users.left() == 0 {
        anyhow::bail!("the run used up every bench user's key card; seed more users");
    }
    let cpu_ms = match (cpu_from, cpu_until) {
        (Some(a), Some(b)) if logins > 0 => Some((b - a) * 1000.0 / logins as f64),
        _ => None,
    };
    Ok(Point {
        concurrency,
        logins,
        errors,
        secs,
        per_sec: logins as f64 / secs,
        p50_ms: percentile_ms(&mut latencies, 50.0),
        p99_ms: percentile_ms(&mut latencies, 99.0),
        cpu_ms,
        db_statements: db.filter(|_| logins > 0).map(|d| d.statements as f64 / logins as f64),
        db_round_trips: db.filter(|_| logins > 0).map(|d| d.round_trips as f64 / logins as f64),
    })
}
