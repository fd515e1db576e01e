//! The benchmark scenarios of docs/requirements.md, each on SQLite and PostgreSQL: B1 [`keycard`], B2 [`app`],
//! B3 [`idle`], B4 [`cluster`], and the [`burst`] of password posts (B-BURST).

use std::time::Duration;

pub mod app;
pub mod burst;
pub mod cluster;
pub mod idle;
pub mod keycard;

/// How long and how hard each scenario runs.
#[derive(Clone, Debug)]
pub struct Opts {
    /// Seconds of warm-up before each measured window.
    pub warmup: Duration,
    /// The measured window of a load point.
    pub window: Duration,
    /// B1: concurrency levels.
    pub levels: Vec<usize>,
    /// B1 and B4: users with key cards (each does at most 125 log-ins).
    pub keycard_users: usize,
    /// B2: key apps (one per user).
    pub app_devices: usize,
    /// B2: log-ins started per second.
    pub app_rate: f64,
    /// B3: connected apps wanted (fewer when the open-files limits do not allow them).
    pub idle_connections: usize,
    /// B3: apps an event is delivered to.
    pub idle_deliver: usize,
    /// B4: workers.
    pub cluster_concurrency: usize,
    /// Bursts: password posts sent at once.
    pub burst_posts: usize,
    /// B1 and B2 on PostgreSQL: count statements and round trips (through the counting relay, which adds
    /// a hop to every round trip; B4 always counts).
    pub count_statements: bool,
}

impl Opts {
    /// The full run behind docs/benchmarks.md.
    pub fn full() -> Opts {
        Opts {
            warmup: Duration::from_secs(2),
            window: Duration::from_secs(15),
            levels: vec![1, 2, 4, 8, 16],
            keycard_users: 400,
            app_devices: 32,
            app_rate: 100.0,
            idle_connections: 100_000,
            idle_deliver: 10_000,
            cluster_concurrency: 8,
            burst_posts: 1000,
            count_statements: false,
        }
    }

    /// A smoke test of every scenario in a few seconds each (`--quick`).
    pub fn quick() -> Opts {
        Opts {
            warmup: Duration::from_millis(300),
            window: Duration::from_secs(2),
            levels: vec![1, 4],
            keycard_users: 30,
            app_devices: 3,
            app_rate: 10.0,
            idle_connections: 300,
            idle_deliver: 60,
            cluster_concurrency: 4,
            burst_posts: 100,
            count_statements: false,
        }
    }
}
