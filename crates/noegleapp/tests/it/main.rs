//! The terminal key app end to end over real sockets, on the server's settable clock: activation with two
//! keys an hour apart, then a log-in through the log-in box approved from `noegleapp`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Stdio;

use noegle_testkit::{Backend, Browser, PASSWORD, TestServer};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

/// Runs `noegleapp ARGS` with `stdin`; answers (success, stdout JSON or text, stderr).
async fn app(dir: &Path, args: &[&str], stdin: &str) -> (bool, String, String) {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_noegleapp"))
        .args(args)
        .env("NOEGLEAPP_DIR", dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).await.unwrap();
    let out = child.wait_with_output().await.unwrap();
    (out.status.success(), String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
}

const CODE: &str = "7391";
const CODE_LINE: &str = "7391\n";

fn json(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("{e}: {s}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn activate_with_two_keys_an_hour_apart_then_approve_a_login() {
    let server = TestServer::start_with_demo_bank(Backend::Sqlite).await;
    let (_, card) = server.user_with_card("alice").await;
    let tmp = tempfile::tempdir().unwrap();
    let card_file = tmp.path().join("card.json");
    std::fs::write(&card_file, serde_json::to_vec(&card).unwrap()).unwrap();
    let dir = tmp.path().join("app");
    let card_arg = card_file.to_str().unwrap();
    let pw = format!("{PASSWORD}\n");

    let (ok, out, err) = app(
        &dir,
        &[
            "activate",
            "start",
            "--server",
            &server.url,
            "--user-id",
            "alice",
            "--password-stdin",
            "--keycard-json",
            card_arg,
            "--name",
            "Terminal",
            "--json",
        ],
        &pw,
    )
    .await;
    assert!(ok, "{err}");
    let started = json(&out);
    assert_eq!(started["status"], "pending");
    let (_, serial, _) = app(&dir, &["serial"], "").await;
    assert_eq!(serial.trim(), started["serial"].as_str().unwrap());

    // The live channel tells the pending app when its wait is over. The clock moves only once the app is
    // connected: a signed call started before a move would carry the old time.
    let mut ready_watcher = tokio::process::Command::new(env!("CARGO_BIN_EXE_noegleapp"))
        .args(["watch", "--until", "activation_ready", "--json"])
        .env("NOEGLEAPP_DIR", &dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut ready_lines = tokio::io::BufReader::new(ready_watcher.stdout.take().unwrap()).lines();
    let first =
        tokio::time::timeout(std::time::Duration::from_secs(20), ready_lines.next_line()).await.unwrap().unwrap();
    assert_eq!(json(first.as_deref().unwrap_or("null"))["event"], "connected");

    // Too early: refused with when to come back; nothing is spent.
    server.clock.advance(30 * 60);
    let unused = server.unused_keys(&card.serial).await;
    let (ok, _, err) =
        app(&dir, &["activate", "complete", "--user-id", "alice", "--password-stdin", "--keycard-json", card_arg], &pw)
            .await;
    assert!(!ok);
    assert!(err.contains("possible in 30 minutes (the activation wait is not over yet)"), "{err}");
    assert_eq!(server.unused_keys(&card.serial).await, unused);
    // Under a minute left it says seconds, and with --json the refusal keeps its code and when (R-APP4).
    server.clock.advance(30 * 60 - 45);
    let (ok, _, err) = app(
        &dir,
        &["activate", "complete", "--user-id", "alice", "--password-stdin", "--keycard-json", card_arg, "--json"],
        &pw,
    )
    .await;
    assert!(!ok);
    let e = json(&err);
    assert_eq!(e["error"], "too_early", "{err}");
    assert_eq!(e["ready_at"], started["ready_at"], "{err}");
    assert!(e["message"].as_str().unwrap().contains("possible in 45 seconds"), "{err}");

    server.clock.advance(45);
    let next =
        tokio::time::timeout(std::time::Duration::from_secs(10), ready_lines.next_line()).await.unwrap().unwrap();
    assert_eq!(json(next.as_deref().unwrap_or("null"))["event"], "activation_ready");
    assert!(ready_watcher.wait().await.unwrap().success());
    let (ok, out, err) = app(&dir, &["status"], "").await;
    assert!(ok && out.contains("activate complete"), "{out}{err}");
    // A code on the blocklist is refused before anything is spent.
    let complete = ["activate", "complete", "--user-id", "alice", "--password-stdin", "--keycard-json", card_arg];
    let unused = server.unused_keys(&card.serial).await;
    let (ok, _, err) = app(&dir, &complete, &format!("{pw}1234\n")).await;
    assert!(!ok && err.contains("too easy to guess"), "{err}");
    assert_eq!(server.unused_keys(&card.serial).await, unused);
    let (ok, out, err) = app(&dir, &complete, &format!("{pw}{CODE}\n")).await;
    assert!(ok, "{err}");
    assert!(out.contains("Din nøgleapp er nu aktiveret"), "{out}");
    let state = std::fs::read_to_string(dir.join("device.json")).unwrap();
    assert!(state.contains("\"private_key\": null") && state.contains("\"ciphertext\""), "the key is sealed: {state}");

    // A log-in at Demo Bank (a real OIDC client of the server) through the log-in box, approved from the app.
    let b = Browser::new(&server.url);
    let to_box = b.get("/demo/login").await;
    assert_eq!(to_box.status, 303, "{}", to_box.body);
    let authorize = to_box.location.clone().unwrap();
    let choice = b.password(&b.open(&authorize).await, "alice", PASSWORD).await;
    assert!(choice.body.contains("Send anmodning til nøgleapp"));
    // The app listens; once it says it is connected, the request is sent.
    let mut watcher = tokio::process::Command::new(env!("CARGO_BIN_EXE_noegleapp"))
        .args(["watch", "--until", "request", "--code-stdin"])
        .env("NOEGLEAPP_DIR", &dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    watcher.stdin.take().unwrap().write_all(CODE_LINE.as_bytes()).await.unwrap();
    let mut lines = tokio::io::BufReader::new(watcher.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(std::time::Duration::from_secs(20), lines.next_line()).await.unwrap().unwrap();
    assert!(first.as_deref().is_some_and(|l| l.contains("Forbundet")), "{first:?}");
    assert_eq!(b.post("/login/app/send", &[("csrf", &choice.csrf())]).await.status, 303);
    let next = tokio::time::timeout(std::time::Duration::from_secs(10), lines.next_line()).await.unwrap().unwrap();
    assert!(
        next.as_deref().is_some_and(|l| l.contains("En anmodning afventer din godkendelse")),
        "the push names no service or user: {next:?}"
    );
    assert!(watcher.wait().await.unwrap().success());
    let waiting = b.get("/login").await;
    let code = waiting.class_text("match-code").unwrap();

    let (ok, out, err) = app(&dir, &["requests", "--json", "--code-stdin"], CODE_LINE).await;
    assert!(ok, "{err}");
    assert_eq!(json(&out)[0]["action"], "Log på Demo Bank");
    let (ok, _, err) = app(&dir, &["approve", "--code-stdin"], CODE_LINE).await;
    assert!(!ok && err.contains("--match-code"), "the code must be typed: {err}");
    let (ok, out, err) = app(&dir, &["approve", "--match-code", &code, "--json", "--code-stdin"], CODE_LINE).await;
    assert!(ok, "{err}");
    assert_eq!(json(&out)["state"], "approved");

    let done = b.get("/login").await;
    assert_eq!(done.status, 303, "{}", done.body);
    let bank = b.get(done.location.as_deref().unwrap()).await;
    assert_eq!(bank.status, 200, "{}", bank.body);
    assert!(bank.body.contains("<dd id=\"name\">Test Testesen</dd>"), "Demo Bank shows the user: {}", bank.body);
    assert!(bank.body.contains("<dd id=\"amr\">pwd swk mfa pin</dd>"), "and how: {}", bank.body);

    // Deregister: refused without confirmation; then the server forgets the device first, then the data goes.
    let (ok, _, err) = app(&dir, &["deregister"], "").await;
    assert!(!ok && err.contains("--yes"), "{err}");
    assert!(dir.join("device.json").exists());
    // With nothing on standard input nothing is tried: no attempt is used up (R-APP4).
    let (ok, _, err) = app(&dir, &["deregister", "--yes", "--code-stdin", "--json"], "").await;
    assert!(!ok);
    assert_eq!(json(&err)["error"], "invalid_code", "{err}");
    // Without --code-stdin it asks for the code.
    let (ok, out, err) = app(&dir, &["deregister", "--yes"], CODE_LINE).await;
    assert!(ok, "{err}");
    assert!(err.contains("Kode til nøgleapp"), "it asks for the code: {err}");
    assert!(out.contains("afmeldt"), "{out}");
    assert!(!dir.exists(), "all local data is deleted");
    let device = server.state.store.device_by_serial(started["serial"].as_str().unwrap()).await.unwrap().unwrap();
    assert_eq!(device.status, noegle_core::device::DeviceStatus::Revoked);
    assert_eq!(device.revoked_by, Some(noegle_core::device::RevokedBy::User));
    let (ok, _, err) = app(&dir, &["status"], "").await;
    assert!(!ok && err.contains("no key app"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn five_wrong_codes_block_and_forgot_code_unblocks_then_change_code() {
    let server = TestServer::start(Backend::Sqlite).await;
    let a = activated(&server, "bob").await;
    let (dir, pw) = (a.dir.clone(), format!("{PASSWORD}\n"));
    let card_arg = a.card_file.to_str().unwrap();
    let activate = ["--user-id", "bob", "--password-stdin", "--keycard-json", card_arg];

    // An empty or malformed code is refused here and costs no attempt (R-APP4).
    for not_a_code in ["\n", "12\n", "abcd\n"] {
        let (ok, _, err) = app(&dir, &["requests", "--code-stdin", "--json"], not_a_code).await;
        assert!(!ok);
        assert_eq!(json(&err)["error"], "invalid_code", "{err}");
    }
    for left in (0..5).rev() {
        let (ok, _, err) = app(&dir, &["requests", "--code-stdin"], "0001\n").await;
        assert!(!ok);
        let attempts = if left == 1 { "1 attempt left".to_string() } else { format!("{left} attempts left") };
        assert!(err.contains(&format!("wrong code ({attempts})")), "{err}");
        if left == 3 {
            // With --json the refusal keeps its code and the count (R-APP4).
            let (_, _, err) = app(&dir, &["requests", "--code-stdin", "--json"], "0001\n").await;
            let e = json(&err);
            assert_eq!((&e["error"], &e["attempts_left"]), (&Value::from("wrong_code"), &Value::from(2)), "{err}");
            break;
        }
    }
    for left in (0..2).rev() {
        let (ok, _, err) = app(&dir, &["requests", "--code-stdin"], "0001\n").await;
        assert!(!ok);
        let attempts = if left == 1 { "1 attempt left".to_string() } else { format!("{left} attempts left") };
        assert!(err.contains(&format!("wrong code ({attempts})")), "{err}");
    }
    let (ok, _, err) = app(&dir, &["requests", "--code-stdin"], CODE_LINE).await;
    assert!(!ok && err.contains("Glemt kode"), "blocked even with the right code: {err}");

    let forgot: Vec<&str> = ["forgot-code"].iter().copied().chain(activate).collect();
    let (ok, out, err) = app(&dir, &forgot, &format!("{pw}5820\n")).await;
    assert!(ok, "{err}");
    assert!(out.contains("nulstillet") && out.contains("in 1 hour "), "{out}");
    let (ok, _, err) = app(&dir, &["requests", "--code-stdin"], "5820\n").await;
    assert!(!ok && err.contains("can approve again when the wait"), "it unlocks, but waits the hour: {err}");
    server.clock.advance(3600);
    let (ok, _, err) = app(&dir, &["requests", "--code-stdin"], "5820\n").await;
    assert!(ok, "the device stays activated with its new code: {err}");
    let device = server.state.store.devices_of(&server.user_with_sub_of("bob").await).await.unwrap().remove(0);
    assert_eq!(device.status, noegle_core::device::DeviceStatus::Active);

    let (ok, _, err) = app(&dir, &["change-code", "--code-stdin"], "5820\n9153\n").await;
    assert!(ok, "{err}");
    assert!(!app(&dir, &["requests", "--code-stdin"], "5820\n").await.0, "the old code no longer opens the app");
    assert!(app(&dir, &["requests", "--code-stdin"], "9153\n").await.0);
}

/// A user with a key card (also as a JSON file) and a terminal key app activated for them with [`CODE`].
struct Activated {
    _tmp: tempfile::TempDir,
    dir: std::path::PathBuf,
    card_file: std::path::PathBuf,
}

async fn activated(server: &TestServer, user: &str) -> Activated {
    let (_, card) = server.user_with_card(user).await;
    let tmp = tempfile::tempdir().unwrap();
    let card_file = tmp.path().join("card.json");
    std::fs::write(&card_file, serde_json::to_vec(&card).unwrap()).unwrap();
    let dir = tmp.path().join("app");
    let pw = format!("{PASSWORD}\n");
    let login = ["--user-id", user, "--password-stdin", "--keycard-json", card_file.to_str().unwrap()];
    let start: Vec<&str> = ["activate", "start", "--server", &server.url].iter().copied().chain(login).collect();
    assert!(app(&dir, &start, &pw).await.0);
    server.clock.advance(3600);
    let complete: Vec<&str> = ["activate", "complete"].iter().copied().chain(login).collect();
    let (ok, _, err) = app(&dir, &complete, &format!("{pw}{CODE}\n")).await;
    assert!(ok, "{err}");
    Activated { _tmp: tmp, dir, card_file }
}

/// A terminal in tmux (its own server socket), driven by send-keys and read by capture-pane.
struct Terminal {
    socket: String,
}

impl Terminal {
    fn start(dir: &Path) -> Terminal {
        let socket = format!("noegleapp-test-{}", std::process::id());
        let status = std::process::Command::new("tmux")
            .args(["-L", &socket, "new-session", "-d", "-s", "app", "-x", "100", "-y", "40", "-e"])
            .arg(format!("NOEGLEAPP_DIR={}", dir.display()))
            .arg(env!("CARGO_BIN_EXE_noegleapp"))
            .status()
            .expect("tmux is installed");
        assert!(status.success());
        Terminal { socket }
    }

    fn screen(&self) -> String {
        let out = std::process::Command::new("tmux")
            .args(["-L", &self.socket, "capture-pane", "-p", "-t", "app"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    fn send(&self, text: &str) {
        let status = std::process::Command::new("tmux")
            .args(["-L", &self.socket, "send-keys", "-t", "app", text, "Enter"])
            .status()
            .unwrap();
        assert!(status.success());
    }

    async fn wait_for(&self, text: &str) -> String {
        for _ in 0..100 {
            let screen = self.screen();
            if screen.contains(text) {
                return screen;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("the screen never showed {text:?}:\n{}", self.screen());
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        let _ =
            std::process::Command::new("tmux").args(["-L", &self.socket, "kill-server"]).stderr(Stdio::null()).status();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_terminal_ui_unlocks_shows_a_pushed_request_and_approves_it() {
    let server = TestServer::start(Backend::Sqlite).await;
    let a = activated(&server, "carl").await;
    let dir = a.dir.clone();

    let t = Terminal::start(&dir);
    t.wait_for("Indtast din firecifrede kode").await;
    t.send("0001");
    t.wait_for("Forkert kode (4 forsøg tilbage)").await;
    t.send(CODE);
    t.wait_for("Klar til opdateringer").await;
    t.send("?");
    t.wait_for("Her vises anmodninger").await;
    t.send("");
    t.wait_for("Klar til opdateringer").await;

    // A log-in at Demo Bank: the request arrives on the live channel.
    let cb = "http://localhost:9999/cb";
    let c = server.client("Demo Bank", cb, true).await;
    let authorize = format!(
        "{}/authorize?response_type=code&scope=openid&client_id={}&redirect_uri={}&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256",
        server.url,
        c.client.client_id,
        url::form_urlencoded::byte_serialize(cb.as_bytes()).collect::<String>()
    );
    let b = Browser::new(&server.url);
    let choice = b.password(&b.open(&authorize).await, "carl", PASSWORD).await;
    assert_eq!(b.post("/login/app/send", &[("csrf", &choice.csrf())]).await.status, 303);
    let code = b.get("/login").await.class_text("match-code").unwrap();
    let screen = t.wait_for("Anmodning fra Demo Bank").await;
    assert!(screen.contains("Log på Demo Bank") && screen.contains("Indtast koden fra log-in-boksen"), "{screen}");

    let wrong = if code == "00" { "01" } else { "00" };
    t.send(wrong);
    t.wait_for("Koden passer ikke").await;
    t.send(&code);
    t.wait_for("Godkendelsen er modtaget").await;
    assert_eq!(b.get("/login").await.status, 303, "the log-in box continues by itself");

    t.send("");
    t.wait_for("Klar til opdateringer").await;
    t.send("i");
    t.wait_for("Lås når appen lukker: til").await;
    t.send("6");
    let serial = serial_of(&dir);
    t.wait_for(&serial).await;
    t.send("");
    t.wait_for("7 Afmeld nøgleapp").await;

    // Change the code from the settings; a common code is refused.
    t.send("3");
    t.wait_for("Vælg en ny firecifret kode").await;
    t.send("1111");
    t.wait_for("too easy to guess").await;
    t.send("4826");
    t.wait_for("Gentag den nye kode").await;
    t.send("4826");
    t.wait_for("Koden er ændret").await;
    t.send("q");
    drop(t);
    let (ok, _, err) = app(&dir, &["requests", "--code-stdin"], "4826\n").await;
    assert!(ok, "the new code opens the app: {err}");

    // Deregister from the settings: the server first, then every file here.
    let t = Terminal::start(&dir);
    t.wait_for("Indtast din firecifrede kode").await;
    t.send("4826");
    t.wait_for("Klar til opdateringer").await;
    t.send("i");
    t.wait_for("7 Afmeld nøgleapp").await;
    t.send("7");
    t.wait_for("alle data på denne enhed slettes").await;
    t.send("j");
    for _ in 0..50 {
        if !dir.exists() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(!dir.exists(), "every file of the app is deleted");
    let device = server.state.store.device_by_serial(&serial).await.unwrap().unwrap();
    assert_eq!(device.status, noegle_core::device::DeviceStatus::Revoked);
}

/// The serial the app keeps, read from its state file.
fn serial_of(dir: &Path) -> String {
    let state: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("device.json")).unwrap()).unwrap();
    state["serial"].as_str().unwrap().to_string()
}
