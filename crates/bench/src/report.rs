//! The results of a run and the report people read: `docs/benchmarks.md` with every target beside its
//! measured ratio, the plot beside it, and the figures as JSON.

use std::fmt::Write as _;
use std::path::Path;

use sqlx::Connection;

use crate::procfs::Machine;
use crate::scenarios::app::AppResult;
use crate::scenarios::burst::BurstResult;
use crate::scenarios::cluster::ClusterResult;
use crate::scenarios::idle::IdleResult;
use crate::scenarios::keycard::KeycardResult;

/// B2's bound on server CPU per app log-in beyond its Argon2id check, ms.
pub const B2_CPU_MS: f64 = 1.5;
/// B2's bound on request → device p99, ms.
pub const B2_P99_MS: f64 = 20.0;
/// B1's bound on server CPU per key-card log-in, in Argon2id checks.
pub const B1_RATIO: f64 = 1.11;
/// B3's connections and memory per connection.
pub const B3_CONNECTIONS: usize = 100_000;
/// B3's bound on server memory per idle connection, KiB.
pub const B3_KIB: f64 = 16.0;
/// B4's bound on two nodes' throughput over one node's.
pub const B4_RATIO: f64 = 0.9;

/// Everything one run measured, and where.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Results {
    /// The machine.
    pub machine: Machine,
    /// `noegle --version`.
    pub noegle: String,
    /// PostgreSQL's `version()`.
    pub postgres: String,
    /// SQLite's version (as built into the server).
    pub sqlite: String,
    /// When (UTC).
    pub date: String,
    /// A `--quick` smoke run.
    pub quick: bool,
    /// B1 per backend.
    pub keycard: Vec<KeycardResult>,
    /// B2 per backend.
    pub app: Vec<AppResult>,
    /// B3 per backend.
    pub idle: Vec<IdleResult>,
    /// B4.
    pub cluster: Option<ClusterResult>,
    /// Bursts per backend.
    #[serde(default)]
    pub burst: Vec<BurstResult>,
}

impl Results {
    /// Empty results with the machine and versions read.
    pub async fn new(noegle: &Path, quick: bool, postgres: &str) -> Results {
        let version = std::process::Command::new(noegle)
            .arg("--version")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default();
        let pg = match sqlx::PgConnection::connect(postgres).await {
            Ok(mut c) => {
                sqlx::query_scalar::<_, String>("SHOW server_version").fetch_one(&mut c).await.unwrap_or_default()
            }
            Err(_) => String::new(),
        };
        let sqlite = match sqlx::SqliteConnection::connect("sqlite::memory:").await {
            Ok(mut c) => {
                sqlx::query_scalar::<_, String>("SELECT sqlite_version()").fetch_one(&mut c).await.unwrap_or_default()
            }
            Err(_) => String::new(),
        };
        let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let date = chrono::DateTime::from_timestamp(secs as i64, 0).map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string());
        Results {
            machine: Machine::read(),
            noegle: version,
            postgres: pg,
            sqlite,
            date: date.unwrap_or_default(),
            quick,
            ..Results::default()
        }
    }
}

/// Writes the Markdown report to `path`, the plot beside it (`.png`) and the figures (`.json`).
pub fn write(results: &Results, path: &Path) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let png = path.with_extension("png");
    let plotted = match crate::plot::b1_png(&results.keycard) {
        _ if results.keycard.is_empty() => false,
        Ok(bytes) => {
            std::fs::write(&png, bytes)?;
            true
        }
        Err(e) => {
            eprintln!("noegle-bench: the report goes without its plot: {e:#}");
            false
        }
    };
    let png_name = png.file_name().map(|n| n.to_string_lossy().to_string()).filter(|_| plotted);
    let notes = std::fs::read_to_string(path.with_file_name(NOTES)).ok();
    std::fs::write(path, markdown(results, png_name.as_deref(), notes.as_deref()))?;
    std::fs::write(path.with_extension("json"), serde_json::to_string_pretty(results)?)?;
    Ok(())
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or("–".into(), |v| format!("{v:.digits$}"))
}

/// Statements and round trips per log-in, when they were counted (`--count-statements`, PostgreSQL).
fn counted(p: &crate::load::Point) -> String {
    match (p.db_statements, p.db_round_trips) {
        (Some(s), Some(r)) => format!("{s:.1} / {r:.1}"),
        _ => "–".into(),
    }
}

/// "met", or "not met" with what bounds it (measured and explained in the notes at the end).
fn verdict(ok: bool, bound: &str) -> String {
    if ok { "met".into() } else { format!("**not met** — bound: {bound} (see *What bounds each figure*)") }
}

/// What bounds each target where it is not met, as the profiles showed (docs/benchmarks-notes.md).
const B1_BOUND: &str = "its 30 SQL statements, about 0.13 ms of CPU each, most of it thread hand-offs (perf)";
const B2_CPU_BOUND: &str = "its 49 SQL statements at B1's cost per statement (perf)";
const B2_P99_BOUND: &str = "on SQLite, writes that wait for one fsync'd commit after another";
const B2_RATE_BOUND: &str = "the two cores, which 100/s × ~20 ms of server CPU and the load generator exceed";
const B3_KIB_BOUND: &str = "hyper's buffers per connection, 16 KiB to read and 8 KiB to write (heaptrack)";
const B3_COUNT_BOUND: &str = "the open-files limit";
const B4_BOUND: &str = "two nodes' password workers sharing two cores";
const BURST_BOUND: &str = "the password pool did not hold the memory; a regression";

/// The report as Markdown; `png` names the plot file beside it, `notes` is the hand-written analysis.
pub fn markdown(r: &Results, png: Option<&str>, notes: Option<&str>) -> String {
    let mut md = String::new();
    let m = &r.machine;
    let _ = writeln!(md, "# Benchmarks\n");
    let _ = writeln!(
        md,
        "Written by `noegle-bench` on {}{}. Reproduce with:\n\n```sh\ncargo build --release -p noegle -p noegle-bench\ntarget/release/noegle-bench --report docs/benchmarks.md\n```\n",
        r.date,
        if r.quick { " — **a `--quick` smoke run: these figures are not to be quoted**" } else { "" }
    );
    let _ = writeln!(md, "{INTRO}");
    let _ = writeln!(md, "| machine | |\n|---|---|");
    let _ = writeln!(
        md,
        "| cores | {} |\n| CPU | {} |\n| memory | {} GiB |\n| kernel | {} |",
        m.cores, m.cpu, m.memory_gib, m.kernel
    );
    let _ = writeln!(md, "| open files (bench, soft/hard) | {} |", m.open_files);
    let _ = writeln!(
        md,
        "| server | {} |\n| PostgreSQL | {} |\n| SQLite | {} (WAL, `synchronous=FULL`) |\n",
        r.noegle, r.postgres, r.sqlite
    );

    let _ = writeln!(md, "## Targets (B1–B4 and B-BURST, docs/requirements.md)\n");
    let _ = writeln!(md, "| target | database | bound | measured | ratio to bound | |\n|---|---|---|---|---|---|");
    for k in &r.keycard {
        if let Some(p) = k.peak()
            && let Some(cpu) = p.cpu_ms
        {
            let ratio = cpu / k.argon2_ms;
            let _ = writeln!(
                md,
                "| B1 server CPU per key-card log-in | {} | ≤ {B1_RATIO} × Argon2id ({:.1} ms) = {:.1} ms | {cpu:.1} ms (at {} log-ins/s, c={}) | {ratio:.2} × Argon2id | {} |",
                k.backend.name(),
                k.argon2_ms,
                B1_RATIO * k.argon2_ms,
                p.per_sec.round(),
                p.concurrency,
                verdict(ratio <= B1_RATIO, B1_BOUND)
            );
        }
    }
    for a in &r.app {
        if let Some(beyond) = a.cpu_beyond_argon2_ms() {
            let _ = writeln!(
                md,
                "| B2 server CPU per app log-in beyond Argon2id | {} | ≤ {B2_CPU_MS} ms | {beyond:.2} ms ({} − {:.1}) | {:.2} | {} |",
                a.backend.name(),
                opt(a.point.cpu_ms, 2),
                a.argon2_ms,
                beyond / B2_CPU_MS,
                verdict(beyond <= B2_CPU_MS, B2_CPU_BOUND)
            );
        }
        let _ = writeln!(
            md,
            "| B2 request → device p99 at {} log-ins/s | {} | < {B2_P99_MS} ms | {:.1} ms (p50 {:.1} ms; {:.0} log-ins/s done) | {:.2} | {} |",
            a.offered_per_sec,
            a.backend.name(),
            a.push_p99_ms,
            a.push_p50_ms,
            a.point.per_sec,
            a.push_p99_ms / B2_P99_MS,
            match (a.push_p99_ms < B2_P99_MS, a.point.per_sec >= 0.95 * a.offered_per_sec) {
                (true, true) => "met".to_string(),
                (true, false) => format!("p99 met at the rate reached; the rate {}", verdict(false, B2_RATE_BOUND)),
                (false, true) => verdict(false, B2_P99_BOUND),
                (false, false) => verdict(false, &format!("{B2_RATE_BOUND}; {B2_P99_BOUND}")),
            }
        );
    }
    for i in &r.idle {
        let all = i.connected >= B3_CONNECTIONS;
        let _ = writeln!(
            md,
            "| B3 idle connected apps on one node | {} | {B3_CONNECTIONS} at ≤ {B3_KIB} KiB each | {} at {:.1} KiB each{} | {:.2} | {} |",
            i.backend.name(),
            i.connected,
            i.kib_per_connection,
            if all { String::new() } else { format!("; stopped by {}", i.limited_by) },
            i.kib_per_connection / B3_KIB,
            match (i.kib_per_connection <= B3_KIB, all) {
                (true, true) => "met".to_string(),
                (true, false) => format!("memory met; the count {}", verdict(false, B3_COUNT_BOUND)),
                (false, true) => verdict(false, B3_KIB_BOUND),
                (false, false) => verdict(false, &format!("{B3_KIB_BOUND}; {B3_COUNT_BOUND} for the count")),
            }
        );
    }
    if let Some(c) = &r.cluster
        && let Some(ratio) = c.ratio()
    {
        let _ = writeln!(
            md,
            "| B4 two nodes against one, same cores | PostgreSQL | ≥ {B4_RATIO} × one node | {} vs {} log-ins/s | {ratio:.2} × one node | {} |",
            c.points.iter().find(|p| p.nodes == 2).map_or(0.0, |p| p.point.per_sec).round(),
            c.points.iter().find(|p| p.nodes == 1).map_or(0.0, |p| p.point.per_sec).round(),
            verdict(ratio >= B4_RATIO, B4_BOUND)
        );
    }
    for b in &r.burst {
        let _ = writeln!(
            md,
            "| Bursts: {} password posts at once | {} | peak RSS ≤ 64 MiB + 19 MiB × {} workers = {} MiB | {:.1} MiB ({} checked, {} busy, {} other) | {:.2} | {} |",
            b.posts,
            b.backend.name(),
            b.workers,
            b.bound_kib / 1024,
            b.peak_kib as f64 / 1024.0,
            b.checked,
            b.busy,
            b.other,
            b.peak_kib as f64 / b.bound_kib as f64,
            verdict(b.peak_kib < b.bound_kib && b.other == 0, BURST_BOUND)
        );
    }
    let _ = writeln!(md);

    if !r.keycard.is_empty() {
        let _ = writeln!(md, "## B1 `login-keycard`\n");
        let _ = writeln!(md, "{B1_TEXT}");
        if let Some(png) = png {
            let _ = writeln!(md, "![B1 throughput and p99 latency against concurrency]({png})\n");
        }
        let _ = writeln!(
            md,
            "| database | concurrency | log-ins/s | p50 ms | p99 ms | server CPU per log-in | × Argon2id | statements / round trips per log-in | errors |\n|---|---|---|---|---|---|---|---|---|"
        );
        for k in &r.keycard {
            for p in &k.points {
                let _ = writeln!(
                    md,
                    "| {} | {} | {:.1} | {:.1} | {:.1} | {} ms | {} | {} | {} |",
                    k.backend.name(),
                    p.concurrency,
                    p.per_sec,
                    p.p50_ms,
                    p.p99_ms,
                    opt(p.cpu_ms, 2),
                    opt(p.cpu_ms.map(|c| c / k.argon2_ms), 2),
                    counted(p),
                    p.errors
                );
            }
        }
        let argon: Vec<String> =
            r.keycard.iter().map(|k| format!("{:.2} ms ({} run)", k.argon2_ms, k.backend.name())).collect();
        let _ = writeln!(
            md,
            "\nOne Argon2id check (m = 19 MiB, t = 2, p = 1), measured by the tool on one thread: {}.\n",
            argon.join(", ")
        );
    }

    if !r.app.is_empty() {
        let _ = writeln!(md, "## B2 `login-app`\n");
        let _ = writeln!(md, "{B2_TEXT}");
        let _ = writeln!(
            md,
            "| database | apps | offered/s | done/s | log-in p50 ms | log-in p99 ms | request → device p50 ms | p99 ms | server CPU per log-in | beyond Argon2id | statements / round trips per log-in | not started (no free app) | errors |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|"
        );
        for a in &r.app {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {} ms | {} ms | {} | {} | {} |",
                a.backend.name(),
                a.devices,
                a.offered_per_sec,
                a.point.per_sec,
                a.point.p50_ms,
                a.point.p99_ms,
                a.push_p50_ms,
                a.push_p99_ms,
                opt(a.point.cpu_ms, 2),
                opt(a.cpu_beyond_argon2_ms(), 2),
                counted(&a.point),
                a.missed,
                a.point.errors
            );
        }
        let _ = writeln!(md);
    }

    if !r.idle.is_empty() {
        let _ = writeln!(md, "## B3 `idle`\n");
        let _ = writeln!(md, "{B3_TEXT}");
        let _ = writeln!(
            md,
            "| database | apps connected | server RSS before | after | per connection | apps reached | all reached after | request → app p50 | p99 | limited by |\n|---|---|---|---|---|---|---|---|---|---|"
        );
        for i in &r.idle {
            let _ = writeln!(
                md,
                "| {} | {} | {:.1} MiB | {:.1} MiB | {:.1} KiB | {} | {:.2} s | {:.1} ms | {:.1} ms | {} |",
                i.backend.name(),
                i.connected,
                i.rss_before_kib as f64 / 1024.0,
                i.rss_after_kib as f64 / 1024.0,
                i.kib_per_connection,
                i.reached,
                i.deliver_secs,
                i.deliver_p50_ms,
                i.deliver_p99_ms,
                i.limited_by
            );
        }
        let _ = writeln!(md);
    }

    if let Some(c) = &r.cluster {
        let _ = writeln!(md, "## B4 `cluster`\n");
        let _ = writeln!(md, "{B4_TEXT}");
        let _ = writeln!(
            md,
            "| nodes | concurrency | log-ins/s | p50 ms | p99 ms | server CPU per log-in (all nodes) | statements per log-in | round trips per log-in |\n|---|---|---|---|---|---|---|---|"
        );
        for p in &c.points {
            let _ = writeln!(
                md,
                "| {} | {} | {:.1} | {:.1} | {:.1} | {} ms | {} | {} |",
                p.nodes,
                p.point.concurrency,
                p.point.per_sec,
                p.point.p50_ms,
                p.point.p99_ms,
                opt(p.point.cpu_ms, 2),
                opt(p.point.db_statements, 1),
                opt(p.point.db_round_trips, 1)
            );
        }
        let _ = writeln!(md);
    }
    if let Some(notes) = notes {
        let _ = writeln!(md, "{}", notes.trim_end());
    }
    md
}

/// Hand-written analysis (profiles, bounds, what would move them) beside the report, carried at its end.
const NOTES: &str = "benchmarks-notes.md";

/// How the figures are measured.
const INTRO: &str = "Every figure is measured in the same run as its bound, on the machine below. The server is the \
release `noegle serve`, started by the tool; the load comes from the same machine, so client and server \
share the cores. CPU figures are the server process's own CPU time (user + system).\n";

/// What B1 measures.
const B1_TEXT: &str = "Whole OIDC log-ins through the log-in box: authorize → password → key-card key → code → token with \
PKCE, many users so that no key card runs low. Closed loop: each worker starts its next log-in when the \
last one ends.\n";

/// What B2 measures.
const B2_TEXT: &str = "Whole log-ins approved in key apps: each app activated through the app API, unlocked once (OPAQUE), \
listening on the live channel; the log-in box sends the request, the app hears it, fetches it and \
approves with the typed match code, the browser follows and the relying party redeems the code. Open \
loop at a fixed offered rate; request → device is the time from \"send to the app\" to the event at the app.\n";

/// What B3 measures.
const B3_TEXT: &str = "Active apps holding the live channel open (signed `GET /api/app/v1/events`), from several 127.0.0.x \
source addresses; server memory before any, with half and with all of them connected (the figure is \
the second half's growth per app); then one key-app request to each of their users, timed from the \
first \"send to the app\" until every app has heard its event.\n";

/// What B4 measures.
const B4_TEXT: &str = "The B1 load against one node, then against two nodes sharing one PostgreSQL database, on the same \
cores (each of the two nodes checks passwords on its share of them: one worker each); the nodes' \
connections go through a counting relay that reads the PostgreSQL protocol: \
statements are `Execute` and simple `Query` messages (`BEGIN` and `COMMIT` included), round trips are \
`Sync` and `Query` (each waits for the database's answer). SQLite is the one-node backend.\n";
