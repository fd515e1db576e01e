//! PostgreSQL restarted under load (S-DURABLE, SEC-1) — a private cluster this test starts itself (`initdb`,
//! `pg_ctl` on a free port), never the machine's shared server. During the outage requests fail with a clear
//! 503; service comes back by itself within 10 s; no acknowledged write is lost and a failure counter never
//! goes down.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use noegle_testkit::PASSWORD;

use crate::{free_port, json, serve};

/// The directory of PostgreSQL's server programs.
fn pg_bin() -> PathBuf {
    let mut versions: Vec<PathBuf> =
        std::fs::read_dir("/usr/lib/postgresql").unwrap().map(|e| e.unwrap().path()).collect();
    versions.sort();
    versions.pop().unwrap().join("bin")
}

/// Runs a PostgreSQL program as the `postgres` user when this process is root (they refuse to run as root).
fn pg(program: &str, args: &[&str]) -> std::process::Output {
    let bin = pg_bin().join(program);
    let mut cmd = if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(&bin);
        c
    } else {
        Command::new(&bin)
    };
    cmd.args(args).output().unwrap()
}

fn is_root() -> bool {
    String::from_utf8(Command::new("id").arg("-u").output().unwrap().stdout).unwrap().trim() == "0"
}

/// A private PostgreSQL cluster in `dir` on `port`, stopped when dropped.
struct Cluster {
    dir: PathBuf,
    port: u16,
}

impl Cluster {
    fn start(dir: &Path, port: u16) -> Cluster {
        std::fs::create_dir_all(dir).unwrap();
        if is_root() {
            assert!(
                Command::new("chown").args(["-R", "postgres"]).arg(dir.parent().unwrap()).status().unwrap().success()
            );
        }
        let data = dir.to_str().unwrap();
        let init = pg("initdb", &["-D", data, "-A", "trust", "-U", "postgres", "--no-sync"]);
        assert!(init.status.success(), "initdb: {}", String::from_utf8_lossy(&init.stderr));
        let cluster = Cluster { dir: dir.to_path_buf(), port };
        cluster.up();
        cluster
    }

    fn up(&self) {
        let options = format!("-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=on", self.port, self.dir.display());
        let out = pg("pg_ctl", &["-D", self.dir.to_str().unwrap(), "-o", &options, "-l", "/dev/null", "-w", "start"]);
        assert!(out.status.success(), "pg_ctl start: {}", String::from_utf8_lossy(&out.stderr));
    }

    fn down(&self) {
        let out = pg("pg_ctl", &["-D", self.dir.to_str().unwrap(), "-m", "fast", "-w", "stop"]);
        assert!(out.status.success(), "pg_ctl stop: {}", String::from_utf8_lossy(&out.stderr));
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = pg("pg_ctl", &["-D", self.dir.to_str().unwrap(), "-m", "immediate", "stop"]);
    }
}

/// One wrong-password guess for alice at the app API: the status and the body's error code.
async fn guess(http: &reqwest::Client, base: &str) -> (u16, String) {
    let body = serde_json::json!({ "user_id": "alice", "password": "wrong password!" });
    match http.post(format!("{base}/api/app/v1/login")).json(&body).send().await {
        Ok(r) => {
            let status = r.status().as_u16();
            let v: serde_json::Value = r.json().await.unwrap_or_default();
            (status, v["error"].as_str().unwrap_or_default().to_string())
        }
        Err(e) => panic!("the node itself must keep answering: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restarted_under_load_loses_nothing_and_service_comes_back_by_itself() {
    let tmp = tempfile::tempdir().unwrap();
    let cluster = Cluster::start(&tmp.path().join("pg").join("data"), free_port());
    let db = cluster.url();
    let data = tmp.path().join("node");
    json(&data, Some(&db), &["user", "add", "alice", "--password-stdin", "--json"], &format!("{PASSWORD}\n"));
    let env = [("NOEGLE_GUESSES_PER_MINUTE", "100000")];
    let node = serve(&data, Some(&db), free_port(), &env).await;
    let http = reqwest::Client::new();

    let mut acknowledged = 0;
    for _ in 0..5 {
        assert_eq!(guess(&http, &node.url).await.0, 401);
        acknowledged += 1;
    }
    // Load all along: three clients guessing without pause, each counting the failures acknowledged to it.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load: Vec<_> = (0..3)
        .map(|_| {
            let (http, base, stop) = (http.clone(), node.url.clone(), stop.clone());
            tokio::spawn(async move {
                // At most 25 guesses each, a tenth of a second apart: the whole test stays below the 100
                // failures that lock an account (attempts on a locked account are refused, not counted).
                let mut counted = 0i64;
                for _ in 0..25 {
                    if stop.load(std::sync::atomic::Ordering::Relaxed) {
                        break;
                    }
                    match guess(&http, &base).await {
                        (401, _) => counted += 1,
                        (503, e) => assert_eq!(e, "unavailable"),
                        other => panic!("only 401 or a clear 503: {other:?}"),
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                counted
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    cluster.down();
    for _ in 0..3 {
        let asked = tokio::time::Instant::now();
        let (status, error) = guess(&http, &node.url).await;
        assert_eq!((status, error.as_str()), (503, "unavailable"), "a clear 503 while the database is away");
        assert!(asked.elapsed() < Duration::from_secs(8), "and soon: {:?}", asked.elapsed());
    }
    assert_eq!(http.get(format!("{}/readyz", node.url)).send().await.unwrap().status().as_u16(), 503);
    cluster.up();
    let back = tokio::time::Instant::now();
    loop {
        let (status, _) = guess(&http, &node.url).await;
        if status == 401 {
            acknowledged += 1;
            break;
        }
        assert!(back.elapsed() < Duration::from_secs(10), "service is back within 10 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for l in load {
        acknowledged += l.await.unwrap();
    }
    let store = noegle_store::open(&db).await.unwrap();
    let alice = store.user_by_user_id(&noegle_core::user::UserId::parse("alice").unwrap()).await.unwrap().unwrap();
    assert!(acknowledged > 10, "there was load: {acknowledged}");
    assert!(
        alice.failed_attempts >= acknowledged,
        "every acknowledged failure is counted: {} of {acknowledged}",
        alice.failed_attempts
    );
    drop(node);
}
