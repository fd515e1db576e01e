//! B1 `login-keycard`: whole OIDC log-ins with the key card (authorize → password → key → code → token,
//! PKCE) at rising concurrency; server CPU per log-in against one Argon2id check measured in the same run.

use std::sync::Arc;

use crate::deploy::{Backend, Deployment, Setup};
use crate::load::{Point, UserPool, closed_loop};
use crate::loginbox::LoginBox;
use crate::scenarios::Opts;
use crate::{seed, stats};

/// B1's figures on one backend.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct KeycardResult {
    /// The database.
    pub backend: Backend,
    /// One Argon2id check, ms (the bound).
    pub argon2_ms: f64,
    /// One point per concurrency.
    pub points: Vec<Point>,
}

impl KeycardResult {
    /// The point of highest throughput.
    pub fn peak(&self) -> Option<&Point> {
        self.points.iter().max_by(|a, b| a.per_sec.total_cmp(&b.per_sec))
    }
}

/// Seeds a client and users with key cards enough for `logins` log-ins; answers the log-in boxes (one per
/// node) and the user pool.
pub async fn prepare(dep: &Deployment, users: usize) -> anyhow::Result<(Vec<LoginBox>, Arc<UserPool>)> {
    let store = dep.store().await?;
    let client_id = seed::client(store.as_ref()).await?;
    let pepper = dep.pepper()?;
    let users = seed::users(store, Some(&pepper), "kc", users).await?;
    let http = LoginBox::http();
    let boxes = dep.nodes.iter().map(|n| LoginBox::new(http.clone(), &n.url, &client_id)).collect();
    Ok((boxes, Arc::new(UserPool::new(users))))
}

/// Runs B1 on `backend`.
pub async fn run(setup: &Setup, backend: Backend, opts: &Opts) -> anyhow::Result<KeycardResult> {
    let dep = Deployment::start(setup, backend, 1, opts.count_statements).await?;
    let argon2_ms = stats::argon2_verify_ms().await?;
    let (boxes, users) = prepare(&dep, opts.keycard_users).await?;
    let mut points = Vec::new();
    for &c in &opts.levels {
        let b = boxes[0].clone();
        let p = closed_loop(&dep, &users, c, opts.warmup, opts.window, move |_, user| {
            let b = b.clone();
            async move { b.keycard_login(&user).await }
        })
        .await?;
        eprintln!(
            "  B1 {:<10} c={:<3} {:>7.1} log-ins/s  p50 {:>6.1} ms  p99 {:>6.1} ms  CPU {} per log-in (Argon2id {:.1} ms)",
            backend.name(),
            c,
            p.per_sec,
            p.p50_ms,
            p.p99_ms,
            p.cpu_ms.map_or("?".into(), |m| format!("{m:.1} ms")),
            argon2_ms
        );
        points.push(p);
    }
    dep.stop().await;
    Ok(KeycardResult { backend, argon2_ms, points })
}
