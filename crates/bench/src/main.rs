//! `noegle-bench`: the benchmarks B1–B4 and B-BURST (docs/requirements.md) against the release `noegle`
//! binary, on SQLite and PostgreSQL, with a report (`docs/benchmarks.md` and its plot) for people to read.
//!
//! It measures wall time and process CPU time; those are its job, so it reads the clock directly.
#![allow(clippy::disallowed_methods)]

use std::path::PathBuf;

use anyhow::bail;
use clap::{Parser, ValueEnum};

mod deploy;
mod devices;
mod load;
mod loginbox;
mod pgcount;
mod plot;
mod procfs;
mod report;
mod scenarios;
mod seed;
mod stats;

use deploy::{Backend, Existing, Setup};
use report::Results;
use scenarios::Opts;

/// Benchmarks of nøgle: log-ins by key card (B1) and key app (B2), idle connected apps (B3), two nodes
/// on one PostgreSQL (B4).
#[derive(Parser, Debug)]
#[command(name = "noegle-bench", version)]
struct Cli {
    /// Scenarios to run (default: all).
    #[arg(value_enum)]
    scenarios: Vec<Scenario>,
    /// A few seconds per scenario: a smoke test, no figures to quote.
    #[arg(long)]
    quick: bool,
    /// Which databases.
    #[arg(long, value_enum, default_value = "both")]
    backend: Backends,
    /// The `noegle` binary to start (default: the one beside this binary, i.e. target/release/noegle).
    #[arg(long)]
    noegle: Option<PathBuf>,
    /// The PostgreSQL server to create benchmark databases on (trust or password in the URL).
    #[arg(long, env = "NOEGLE_TEST_POSTGRES", default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    postgres: String,
    /// Write the report to this Markdown file, its plot beside it (PNG) and the figures as JSON.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Start from figures saved as JSON by an earlier run: with no scenario named, only write the report
    /// (--report) again (after editing the notes beside it, say); with scenarios, run those and replace
    /// their figures.
    #[arg(long, requires = "report")]
    from_json: Option<PathBuf>,
    /// Measured seconds per load point.
    #[arg(long)]
    window: Option<u64>,
    /// B1 and B2 on PostgreSQL: count the statements and round trips of each log-in (through a relay that
    /// adds a hop to every round trip; B4 always counts).
    #[arg(long)]
    count_statements: bool,
    /// B3: connected apps wanted (fewer if open-file limits do not allow them).
    #[arg(long)]
    idle_connections: Option<usize>,
    /// Use a running server at this URL instead of starting one (B1 and B2 only); needs --data-dir and
    /// --database, and --server-pid for CPU figures.
    #[arg(long, requires_all = ["data_dir", "database"])]
    server: Option<String>,
    /// The running server's data directory (its key-card pepper).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// The running server's database URL.
    #[arg(long)]
    database: Option<String>,
    /// The running server's process id.
    #[arg(long)]
    server_pid: Option<u32>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Scenario {
    /// B1: key-card log-ins through OIDC.
    LoginKeycard,
    /// B2: log-ins approved in key apps.
    LoginApp,
    /// B3: idle apps on the live channel.
    Idle,
    /// B4: two nodes on one PostgreSQL.
    Cluster,
    /// 1,000 password posts at once: the server's peak memory.
    Burst,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Backends {
    Sqlite,
    Postgres,
    Both,
}

impl Backends {
    fn list(self) -> Vec<Backend> {
        match self {
            Backends::Sqlite => vec![Backend::Sqlite],
            Backends::Postgres => vec![Backend::Postgres],
            Backends::Both => vec![Backend::Sqlite, Backend::Postgres],
        }
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(run(cli))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let earlier: Option<Results> = match &cli.from_json {
        Some(json) => Some(serde_json::from_str(&std::fs::read_to_string(json)?)?),
        None => None,
    };
    if let (Some(results), Some(path), true) = (&earlier, &cli.report, cli.scenarios.is_empty()) {
        report::write(results, path)?;
        eprintln!("report written to {}", path.display());
        return Ok(());
    }
    let limit = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(0);
    let noegle = match &cli.noegle {
        Some(p) => p.clone(),
        None => std::env::current_exe()?.with_file_name("noegle"),
    };
    if cli.server.is_none() && !noegle.exists() {
        bail!(
            "{} not found: build it with `cargo build --release -p noegle`, or name it with --noegle",
            noegle.display()
        );
    }
    let existing = cli.server.as_ref().map(|url| Existing {
        url: url.clone(),
        data_dir: cli.data_dir.clone().unwrap_or_default(),
        database: cli.database.clone().unwrap_or_default(),
        pid: cli.server_pid,
    });
    let mut scenarios = cli.scenarios.clone();
    if scenarios.is_empty() {
        scenarios =
            vec![Scenario::LoginKeycard, Scenario::LoginApp, Scenario::Idle, Scenario::Cluster, Scenario::Burst];
    }
    if existing.is_some() && scenarios.iter().any(|s| matches!(s, Scenario::Idle | Scenario::Cluster | Scenario::Burst))
    {
        bail!(
            "with --server only login-keycard and login-app can run: idle, cluster and burst start their own servers"
        );
    }
    let setup = Setup { noegle: noegle.clone(), postgres: cli.postgres.clone(), existing };
    let mut opts = if cli.quick { Opts::quick() } else { Opts::full() };
    if let Some(w) = cli.window {
        opts.window = std::time::Duration::from_secs(w);
    }
    opts.count_statements = cli.count_statements;
    if let Some(n) = cli.idle_connections {
        opts.idle_connections = n;
    }
    let backends = match &setup.existing {
        Some(e) if e.database.starts_with("postgres") => vec![Backend::Postgres],
        Some(_) => vec![Backend::Sqlite],
        None => cli.backend.list(),
    };
    let mut results = Results::new(&noegle, cli.quick, &setup.postgres).await;
    if let Some(earlier) = earlier {
        // Keep the earlier figures of the scenarios not run now.
        let kept = |s: Scenario| !scenarios.contains(&s);
        results.keycard = if kept(Scenario::LoginKeycard) { earlier.keycard } else { Vec::new() };
        results.app = if kept(Scenario::LoginApp) { earlier.app } else { Vec::new() };
        results.idle = if kept(Scenario::Idle) { earlier.idle } else { Vec::new() };
        results.cluster = if kept(Scenario::Cluster) { earlier.cluster } else { None };
        results.burst = if kept(Scenario::Burst) { earlier.burst } else { Vec::new() };
    }
    eprintln!("noegle-bench: {} on {} cores (open files {limit})", noegle.display(), results.machine.cores);
    for s in &scenarios {
        for &b in &backends {
            match s {
                Scenario::LoginKeycard => {
                    eprintln!("B1 login-keycard on {}", b.name());
                    results.keycard.push(scenarios::keycard::run(&setup, b, &opts).await?);
                }
                Scenario::LoginApp => {
                    eprintln!("B2 login-app on {}", b.name());
                    results.app.push(scenarios::app::run(&setup, b, &opts).await?);
                }
                Scenario::Idle => {
                    eprintln!("B3 idle on {}", b.name());
                    results.idle.push(scenarios::idle::run(&setup, b, &opts).await?);
                }
                Scenario::Cluster if b == Backend::Postgres => {
                    eprintln!("B4 cluster on PostgreSQL");
                    results.cluster = Some(scenarios::cluster::run(&setup, &opts).await?);
                }
                Scenario::Cluster => {}
                Scenario::Burst => {
                    eprintln!("burst on {}", b.name());
                    results.burst.push(scenarios::burst::run(&setup, b, &opts).await?);
                }
            }
        }
    }
    if let Some(path) = &cli.report {
        report::write(&results, path)?;
        eprintln!("report written to {}", path.display());
    } else {
        println!("{}", report::markdown(&results, None, None));
    }
    Ok(())
}
