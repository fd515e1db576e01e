//! The servers under test: `noegle serve` processes on a fresh SQLite file or PostgreSQL database (created
//! for the run and dropped after it), or a server already running.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use noegle_core::Store;
use sqlx::Connection;

use crate::pgcount::PgCounter;
use crate::procfs;

/// The database a scenario runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Backend {
    /// One SQLite file, WAL, `synchronous=FULL`.
    Sqlite,
    /// A PostgreSQL database, `synchronous_commit=on`.
    Postgres,
}

impl Backend {
    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }
}

/// How to reach the servers.
#[derive(Clone, Debug)]
pub struct Setup {
    /// The `noegle` binary to start.
    pub noegle: PathBuf,
    /// The PostgreSQL server to create benchmark databases on (an admin URL).
    pub postgres: String,
    /// A running server to use instead of starting one: its URL, data directory, database and process id.
    pub existing: Option<Existing>,
}

/// A server someone else started.
#[derive(Clone, Debug)]
pub struct Existing {
    /// Its URL.
    pub url: String,
    /// Its data directory (for the key-card pepper).
    pub data_dir: PathBuf,
    /// Its database URL.
    pub database: String,
    /// Its process id, to read its CPU time; without it no CPU figures.
    pub pid: Option<u32>,
}

/// One `noegle serve`.
pub struct Node {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Its process id, when known.
    pub pid: Option<u32>,
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(c) = self.child.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The servers of one measurement and what they run on.
pub struct Deployment {
    /// The nodes (one, or several on one PostgreSQL database).
    pub nodes: Vec<Node>,
    /// The data directory all nodes share.
    pub data_dir: PathBuf,
    /// The database URL the bench itself uses (directly, not through the counter).
    pub database: String,
    /// Counts the nodes' statements and round trips (PostgreSQL, when asked for).
    pub counter: Option<PgCounter>,
    postgres_admin: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

/// Settings every benchmark server gets: many guesses and connections from one address (the bench is one
/// address, or eight for B3's streams, each speaking for many clients as a proxy does: trusted, they are held
/// to the node's connection limits only), room for B3's streams, no activation wait, quiet logs.
const BENCH_ENV: [(&str, &str); 6] = [
    ("NOEGLE_TRUSTED_PROXIES", "127.0.0.0/8"),
    ("NOEGLE_MAX_LIVE_CONNECTIONS", "19900"),
    ("NOEGLE_GUESSES_PER_MINUTE", "100000"),
    ("NOEGLE_ACTIVATION_WAIT_SECS", "0"),
    ("NOEGLE_LOG", "warn"),
    ("NOEGLE_MATCH_CODE", "type"),
];

impl Deployment {
    /// Starts `nodes` servers on a fresh `backend` database; with `count`, their PostgreSQL connections go
    /// through a [`PgCounter`].
    pub async fn start(setup: &Setup, backend: Backend, nodes: usize, count: bool) -> anyhow::Result<Deployment> {
        if let Some(e) = &setup.existing {
            let node = Node { child: None, url: e.url.trim_end_matches('/').to_string(), pid: e.pid };
            return Ok(Deployment {
                nodes: vec![node],
                data_dir: e.data_dir.clone(),
                database: e.database.clone(),
                counter: None,
                postgres_admin: None,
                _dir: None,
            });
        }
        let dir = tempfile::Builder::new().prefix("noegle-bench-").tempdir()?;
        let data_dir = dir.path().to_path_buf();
        let (database, postgres_admin) = match backend {
            Backend::Sqlite => (format!("sqlite://{}", data_dir.join("noegle.sqlite").display()), None),
            Backend::Postgres => {
                let (url, name) = create_database(&setup.postgres).await?;
                (url, Some((setup.postgres.clone(), name)))
            }
        };
        // Migrations and secrets once, before any node starts (nodes starting together would race).
        noegle_store::open(&database).await.map_err(|e| anyhow!("{e}"))?;
        noegle_server::secrets::ensure_data_dir(&data_dir)?;
        noegle_server::secrets::signing_key(&data_dir)?;
        noegle_server::secrets::pepper(&data_dir)?;
        noegle_server::secrets::opaque_setup(&data_dir)?;
        noegle_server::secrets::vapid_key(&data_dir)?;
        let counter = match (backend, count) {
            (Backend::Postgres, true) => {
                let u = url::Url::parse(&database)?;
                let upstream = format!("{}:{}", u.host_str().unwrap_or("127.0.0.1"), u.port().unwrap_or(5432));
                Some(PgCounter::start(upstream).await?)
            }
            _ => None,
        };
        let node_database = match &counter {
            Some(c) => {
                let mut u = url::Url::parse(&database)?;
                u.set_port(Some(c.addr.port())).map_err(|_| anyhow!("bad database URL"))?;
                u.set_host(Some("127.0.0.1"))?;
                u.query_pairs_mut().append_pair("sslmode", "disable");
                u.to_string()
            }
            None => database.clone(),
        };
        // Nodes that share the machine share its cores: each gets its part of them for password checks, as an
        // operator would configure it (one node keeps the default, one worker per core).
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let workers = if nodes > 1 { (cores / nodes).max(1).to_string() } else { "0".to_string() };
        let mut started = Vec::new();
        for _ in 0..nodes {
            started.push(start_node(&setup.noegle, &data_dir, &node_database, &workers)?);
        }
        for n in &started {
            wait_ready(&n.url).await?;
            eprintln!("  noegle serve at {} (pid {})", n.url, n.pid.unwrap_or(0));
        }
        Ok(Deployment { nodes: started, data_dir, database, counter, postgres_admin, _dir: Some(dir) })
    }

    /// The first node's URL.
    pub fn url(&self) -> &str {
        &self.nodes[0].url
    }

    /// CPU seconds all nodes have used so far; `None` when a node's process is unknown.
    pub fn cpu_secs(&self) -> Option<f64> {
        self.nodes.iter().map(|n| n.pid.and_then(|p| procfs::cpu_secs(p).ok())).sum()
    }

    /// Resident memory of the first node, KiB.
    pub fn rss_kib(&self) -> Option<u64> {
        self.nodes[0].pid.and_then(|p| procfs::rss_kib(p).ok())
    }

    /// The store, opened by the bench (for seeding).
    pub async fn store(&self) -> anyhow::Result<Arc<dyn Store>> {
        noegle_store::open(&self.database).await.map_err(|e| anyhow!("{e}"))
    }

    /// The key-card pepper of the data directory.
    pub fn pepper(&self) -> anyhow::Result<noegle_core::keycard::KeyPepper> {
        noegle_server::secrets::pepper(&self.data_dir)
    }

    /// Stops the nodes and drops the PostgreSQL database made for the run.
    pub async fn stop(mut self) {
        self.nodes.clear();
        self.counter = None;
        if let Some((admin, name)) = self.postgres_admin.take()
            && let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await
        {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut conn).await;
        }
    }
}

async fn create_database(admin: &str) -> anyhow::Result<(String, String)> {
    let mut conn = sqlx::PgConnection::connect(admin)
        .await
        .with_context(|| format!("cannot reach PostgreSQL at {}", noegle_store::redact(admin)))?;
    let name = format!("noegle_bench_{}_{}", std::process::id(), rand::RngCore::next_u32(&mut rand::rngs::OsRng));
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await?;
    let mut url = url::Url::parse(admin)?;
    url.set_path(&name);
    Ok((url.to_string(), name))
}

fn start_node(noegle: &Path, data_dir: &Path, database: &str, password_workers: &str) -> anyhow::Result<Node> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let url = format!("http://127.0.0.1:{port}");
    let child = Command::new(noegle)
        .arg("serve")
        .env_remove("NOEGLE_CONFIG")
        .env("NOEGLE_DATA_DIR", data_dir)
        .env("NOEGLE_DATABASE", database)
        .env("NOEGLE_BIND", format!("127.0.0.1:{port}"))
        // By name, as a real deployment is (WebAuthn needs a domain name); the bench connects by address.
        .env("NOEGLE_PUBLIC_URL", format!("http://localhost:{port}"))
        .envs(BENCH_ENV)
        .env("NOEGLE_PASSWORD_WORKERS", password_workers)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("cannot start {} (build it with cargo build --release)", noegle.display()))?;
    let pid = child.id();
    Ok(Node { child: Some(child), url, pid: Some(pid) })
}

async fn wait_ready(url: &str) -> anyhow::Result<()> {
    for _ in 0..400 {
        if reqwest::get(format!("{url}/readyz")).await.is_ok_and(|r| r.status().is_success()) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("{url} did not become ready")
}
