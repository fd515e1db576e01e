//! B4 `cluster`: the B1 load against one node, then against two nodes on the same PostgreSQL database (on
//! the same cores), with the statements and round trips each log-in costs the database.

use crate::deploy::{Backend, Deployment, Setup};
use crate::load::{Point, closed_loop};
use crate::scenarios::{Opts, keycard};

/// One configuration's figures.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct ClusterPoint {
    /// Nodes.
    pub nodes: usize,
    /// The load point, with the database's statements and round trips per log-in.
    pub point: Point,
}

/// B4's figures.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct ClusterResult {
    /// One node, then two.
    pub points: Vec<ClusterPoint>,
}

impl ClusterResult {
    /// Two nodes' throughput over one node's.
    pub fn ratio(&self) -> Option<f64> {
        let one = self.points.iter().find(|p| p.nodes == 1)?.point.per_sec;
        let two = self.points.iter().find(|p| p.nodes == 2)?.point.per_sec;
        (one > 0.0).then(|| two / one)
    }
}

/// Runs B4 (PostgreSQL only: SQLite is the one-node backend).
pub async fn run(setup: &Setup, opts: &Opts) -> anyhow::Result<ClusterResult> {
    let mut points = Vec::new();
    for nodes in [1, 2] {
        let dep = Deployment::start(setup, Backend::Postgres, nodes, true).await?;
        let (boxes, users) = keycard::prepare(&dep, opts.keycard_users).await?;
        let point = closed_loop(&dep, &users, opts.cluster_concurrency, opts.warmup, opts.window, move |w, user| {
            let b = boxes[w % boxes.len()].clone();
            async move { b.keycard_login(&user).await }
        })
        .await?;
        let cp = ClusterPoint { nodes, point };
        eprintln!(
            "  B4 {} node(s) c={} {:>7.1} log-ins/s  {:.1} statements and {:.1} round trips per log-in",
            nodes,
            opts.cluster_concurrency,
            cp.point.per_sec,
            cp.point.db_statements.unwrap_or(0.0),
            cp.point.db_round_trips.unwrap_or(0.0)
        );
        points.push(cp);
        dep.stop().await;
    }
    Ok(ClusterResult { points })
}
