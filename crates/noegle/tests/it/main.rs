//! Tests of the `noegle` binary as operators use it: admin commands, printed key cards, crash safety.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod backup;
mod burst;
mod cli;
mod connections;
mod crash;
mod deploy;
mod failover;
mod guess_budgets;
mod keycard;
mod modes;
mod pg_restart;
mod settings;

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

/// A `noegle serve` process, killed and reaped when dropped.
pub struct Server {
    /// The process.
    pub child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The authorization URL of the public client `client_id` at `base`, back to `redirect_uri`, with PKCE.
pub fn authorize_url(base: &str, client_id: &str, redirect_uri: &str) -> String {
    format!(
        "{base}/authorize?response_type=code&scope=openid&client_id={client_id}&redirect_uri={}\
         &code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256",
        url::form_urlencoded::byte_serialize(redirect_uri.as_bytes()).collect::<String>()
    )
}

/// Gives the data directory `to` the secrets of `from` (every node of a deployment holds the same ones).
pub fn copy_secrets(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let name = entry.unwrap().file_name();
        if noegle_server::secrets::is_secret(&name.to_string_lossy()) {
            std::fs::copy(from.join(&name), to.join(&name)).unwrap();
        }
    }
}

/// A port nobody listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Starts `noegle serve` on `data_dir` (and `database`) at `port` with the extra environment `env`; answers
/// once `/readyz` says ready. `NOEGLE_SERVE_BIN` names another build of the binary to run (`scripts/test`
/// points it at the release build, the one operators run).
pub async fn serve(data_dir: &Path, database: Option<&str>, port: u16, env: &[(&str, &str)]) -> Server {
    serve_limited(data_dir, database, port, env, None).await
}

/// [`serve`], with the process's open-files limit set to `open_files` (soft and hard) when given.
pub async fn serve_limited(
    data_dir: &Path,
    database: Option<&str>,
    port: u16,
    env: &[(&str, &str)],
    open_files: Option<u64>,
) -> Server {
    let bin = std::env::var("NOEGLE_SERVE_BIN").unwrap_or(env!("CARGO_BIN_EXE_noegle").into());
    let mut cmd = match open_files {
        Some(n) => {
            let mut c = Command::new("sh");
            c.args(["-c", &format!("ulimit -n {n} && exec \"$0\" serve"), &bin]);
            c
        }
        None => {
            let mut c = Command::new(bin);
            c.arg("serve");
            c
        }
    };
    let url = serve_env(&mut cmd, data_dir, port);
    cmd.envs(env.iter().copied());
    if let Some(db) = database {
        cmd.env("NOEGLE_DATABASE", db);
    }
    ready(cmd, url).await
}

/// Gives `cmd` (a `noegle serve`, maybe through a shell) the tests' settings for `data_dir` at `port`; answers
/// its URL.
pub fn serve_env(cmd: &mut Command, data_dir: &Path, port: u16) -> String {
    let url = format!("http://127.0.0.1:{port}");
    cmd.env("NOEGLE_DATA_DIR", data_dir)
        .env("NOEGLE_BIND", format!("127.0.0.1:{port}"))
        .env("NOEGLE_PUBLIC_URL", &url)
        .env("NOEGLE_LOG", "warn")
        .env_remove("NOEGLE_DATABASE")
        .env_remove("NOEGLE_CONFIG")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    url
}

/// Starts `cmd`, a `noegle serve` at `url`; answers once `/readyz` says ready.
pub async fn ready(mut cmd: Command, url: String) -> Server {
    // Dropping the server kills and reaps the child, on every path.
    let server = Server { child: cmd.spawn().unwrap(), url };
    for _ in 0..300 {
        if reqwest::get(format!("{}/readyz", server.url)).await.is_ok_and(|r| r.status().is_success()) {
            return server;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("noegle serve did not become ready");
}

/// Runs `noegle ARGS` on `data_dir` (and `database`, if any) with `stdin`; answers the output.
pub fn noegle(data_dir: &Path, database: Option<&str>, args: &[&str], stdin: &str) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_noegle"));
    cmd.args(args)
        .env("NOEGLE_DATA_DIR", data_dir)
        .env_remove("NOEGLE_DATABASE")
        .env_remove("NOEGLE_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(db) = database {
        cmd.env("NOEGLE_DATABASE", db);
    }
    let mut child = cmd.spawn().unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

/// Runs a command that must succeed and print JSON; answers the JSON.
pub fn json(data_dir: &Path, database: Option<&str>, args: &[&str], stdin: &str) -> serde_json::Value {
    let out = noegle(data_dir, database, args, stdin);
    assert!(out.status.success(), "noegle {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

/// Runs a command that must fail; answers its standard error.
pub fn fails(data_dir: &Path, args: &[&str], stdin: &str) -> String {
    let out = noegle(data_dir, None, args, stdin);
    assert!(!out.status.success(), "noegle {args:?} should fail");
    assert!(out.stdout.is_empty(), "nothing on stdout when failing");
    String::from_utf8(out.stderr).unwrap()
}
