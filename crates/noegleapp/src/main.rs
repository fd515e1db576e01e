//! `noegleapp`: the nøgle key app for a terminal. Scriptable sub-commands (with `--json`) for activation with
//! the key card and for answering log-in requests.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use noegle_client::api::Answer;
use noegle_client::{ApiError, AppClient, DeviceState};
use noegle_proto::display_serial;
use serde_json::json;

mod ui;

/// The nøgle key app for a terminal.
#[derive(Debug, Parser)]
#[command(name = "noegleapp", version, about)]
struct Cli {
    /// Where the app keeps its data (the device key). Also NOEGLEAPP_DIR.
    #[arg(long, global = true, env = "NOEGLEAPP_DIR", default_value = "noegleapp-data")]
    dir: PathBuf,
    /// Print JSON for scripts.
    #[arg(long, global = true)]
    json: bool,
    /// What to do; without one, the interactive app starts.
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Activate this key app with your key card, in two stages an hour apart.
    #[command(subcommand)]
    Activate(Activate),
    /// Show this key app's state on the server.
    Status {
        #[command(flatten)]
        code: CodeInput,
    },
    /// Change the 4-digit code ("Skift kode for nøgleapp"): the current code, then the new one, on stdin.
    ChangeCode {
        /// Read the current and the new code from standard input (one per line).
        #[arg(long)]
        code_stdin: bool,
    },
    /// Forgot the code ("Glemt kode"): user ID, password and a key-card key give a new code; the app stays
    /// activated. Standard input: the password, then the new code.
    ForgotCode {
        #[command(flatten)]
        login: Login,
    },
    /// Show the serial number (give it to support).
    Serial,
    /// Listen on the live channel and print each event (`request`, `activation_ready`, `pending_activation`).
    Watch {
        /// Stop after this event.
        #[arg(long)]
        until: Option<String>,
        #[command(flatten)]
        code: CodeInput,
    },
    /// Fetch pending requests ("Opdater").
    Requests {
        #[command(flatten)]
        code: CodeInput,
    },
    /// Approve a request ("Godkend"); with the code the log-in box shows.
    Approve {
        /// The request (default: the only pending one).
        request_id: Option<String>,
        /// The 2-digit code the log-in box shows.
        #[arg(long)]
        match_code: Option<String>,
        #[command(flatten)]
        code: CodeInput,
    },
    /// Deregister ("Afmeld nøgleapp"): the server deregisters the device, then all its data here is deleted.
    Deregister {
        /// Confirm without asking.
        #[arg(long)]
        yes: bool,
        #[command(flatten)]
        code: CodeInput,
    },
    /// Reject a request ("AFVIS").
    Reject {
        /// The request (default: the only pending one).
        request_id: Option<String>,
        /// "Det var ikke mig": you did not try to log in; pauses requests for a while and alerts.
        #[arg(long)]
        not_me: bool,
        #[command(flatten)]
        code: CodeInput,
    },
}

/// How the app code is given to unlock the app.
#[derive(Debug, Args)]
struct CodeInput {
    /// Read the 4-digit app code from the first line of standard input (otherwise it is asked for).
    #[arg(long)]
    code_stdin: bool,
}

#[derive(Debug, Args)]
struct Login {
    /// Your user ID ("Bruger-id").
    #[arg(long)]
    user_id: String,
    /// Read the password from the first line of standard input (required).
    #[arg(long)]
    password_stdin: bool,
    /// Take the key from this key card JSON (as `noegle keycard issue --json` prints) instead of asking.
    #[arg(long)]
    keycard_json: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum Activate {
    /// Stage 1: log in with user ID, password and a key from the key card.
    Start {
        /// The nøgle server, e.g. http://localhost:8080.
        #[arg(long)]
        server: String,
        /// A name you will recognise this device by.
        #[arg(long, default_value = "Terminal")]
        name: String,
        #[command(flatten)]
        login: Login,
    },
    /// Stage 2, after the wait: log in again with a second key.
    /// Standard input: the password, then the 4-digit code to choose.
    Complete {
        #[command(flatten)]
        login: Login,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.json;
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if json {
                let body = match (e.downcast_ref::<Refusal>(), e.downcast_ref::<ApiError>()) {
                    (Some(r), _) => {
                        let mut body = json!({ "error": r.code, "message": r.message });
                        if let (Some(b), serde_json::Value::Object(facts)) = (body.as_object_mut(), r.facts.clone()) {
                            b.extend(facts);
                        }
                        body
                    }
                    (None, api) => json!({ "error": api.map_or("error", |a| a.code.as_str()),
                                          "message": format!("{e:#}"), "details": api.map(|a| a.body.clone()) }),
                };
                eprintln!("{body}");
            } else {
                eprintln!("noegleapp: {e:#}");
            }
            ExitCode::FAILURE
        }
    }
}

/// A refusal the app decides itself, with a stable code (and facts) for `--json`, as the server's have.
#[derive(Debug)]
struct Refusal {
    code: &'static str,
    message: String,
    facts: serde_json::Value,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Refusal {}

/// `n` of `what`, in English: "1 attempt", "4 attempts".
fn count(n: i64, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

#[allow(clippy::disallowed_methods)] // the device's own clock, at the edge
fn local_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

fn client(dir: &Path) -> anyhow::Result<AppClient> {
    Ok(AppClient::new(DeviceState::load(dir)?, Box::new(local_now)))
}

/// Reads a code from standard input; asks for it on the terminal first unless a script gives it.
fn read_code(prompt: &str, from_script: bool) -> anyhow::Result<String> {
    if !from_script {
        eprint!("{prompt}: ");
        std::io::stderr().flush().ok();
    }
    read_line("code")
}

/// Chooses a new code: once from a script, twice when asked for.
fn choose_code(from_stdin: bool) -> anyhow::Result<String> {
    let code = read_code("Vælg en firecifret kode (choose a 4-digit code)", from_stdin)?;
    if !from_stdin {
        let again = read_code("Gentag koden (repeat it)", false)?;
        if again != code {
            bail!("the two codes differ; try again");
        }
    }
    Ok(code)
}

/// The app, unlocked with its code when its key is sealed.
async fn unlocked(dir: &Path, input: &CodeInput) -> anyhow::Result<AppClient> {
    let mut app = client(dir)?;
    if app.state.sealed_key.is_some() {
        let code = read_code("Kode til nøgleapp (app code)", input.code_stdin)?;
        // Not a code at all (an empty line, say): refused here, so no attempt is used up.
        if code.len() != 4 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Refusal {
                code: "invalid_code",
                message: "the app code is 4 digits; nothing was tried".into(),
                facts: json!({}),
            }
            .into());
        }
        let had_token = app.state.unlock_token.is_some();
        if let Err(e) = app.unlock(&code).await {
            if e.code == "wrong_code" {
                let left = e.remaining();
                let message = match left {
                    Some(n) => format!("wrong code ({} left)", count(n, "attempt")),
                    None => "wrong code".into(),
                };
                return Err(Refusal { code: "wrong_code", message, facts: json!({ "attempts_left": left }) }.into());
            }
            return Err(e.into());
        }
        if !had_token && app.state.unlock_token.is_some() {
            // A key app set up before unlock tokens keeps the one it was just given.
            app.state.save(dir)?;
        }
    }
    Ok(app)
}

fn read_line(what: &str) -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).with_context(|| format!("cannot read the {what}"))?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

/// Logs in and gets the key asked for from the card file or from the user.
async fn login(app: &AppClient, l: &Login) -> anyhow::Result<(String, String)> {
    if !l.password_stdin {
        bail!("give the password on standard input and add --password-stdin");
    }
    let password = read_line("password")?;
    let t = app.login(&l.user_id, &password).await?;
    let key = match &l.keycard_json {
        Some(path) => {
            let card: serde_json::Value =
                serde_json::from_slice(&std::fs::read(path).with_context(|| format!("{}", path.display()))?)?;
            let keys: BTreeMap<String, String> =
                serde_json::from_value(card["keys"].clone()).context("the card file has no keys")?;
            keys.get(&t.key_card.key_number)
                .cloned()
                .with_context(|| format!("key {} is not on that card", t.key_card.key_number))?
        }
        None => {
            eprint!("Nøglekort {} · Nøgle {}: ", display_serial(&t.key_card.serial), t.key_card.key_number);
            std::io::stderr().flush().ok();
            read_line("key")?
        }
    };
    Ok((t.ticket, key))
}

/// When `ts` comes, seen from `now`, in words: "in 45 seconds", "in 30 minutes", "in 1 hour 5 minutes".
fn when(ts: i64, now: i64) -> String {
    let secs = (ts - now).max(0);
    if secs < 60 {
        return format!("in {}", count(secs, "second"));
    }
    let mins = (secs + 59) / 60;
    match (mins / 60, mins % 60) {
        (0, m) => format!("in {}", count(m, "minute")),
        (h, 0) => format!("in {}", count(h, "hour")),
        (h, m) => format!("in {} {}", count(h, "hour"), count(m, "minute")),
    }
}

fn print(json: bool, value: serde_json::Value, text: String) {
    if json { println!("{value:#}") } else { println!("{text}") }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let dir = &cli.dir;
    let Some(command) = cli.command else {
        return ui::run(dir, local_now).await;
    };
    match command {
        Command::Activate(Activate::Start { server, name, login: l }) => {
            if let Ok(s) = DeviceState::load(dir)
                && s.status.as_deref() == Some("active")
            {
                bail!("this key app is already activated ({}); deregister it first", dir.display());
            }
            let mut app = AppClient::new(DeviceState::new(&server), Box::new(local_now));
            let (ticket, key) = login(&app, &l).await?;
            let d = app.start_activation(&ticket, &key, "terminal", env!("CARGO_PKG_VERSION"), &name).await?;
            app.state.save(dir)?;
            print(
                cli.json,
                serde_json::to_value(&d)?,
                format!(
                    "Activation started. For your security, log in a second time {} (run `noegleapp activate complete`).\nSerial number: {}",
                    when(d.ready_at, d.now),
                    d.serial
                ),
            );
        }
        Command::Activate(Activate::Complete { login: l }) => {
            let mut app = client(dir)?;
            let d = app.device().await?;
            app.state.save(dir)?;
            if d.status == noegle_proto::api::v1::DeviceStatus::Active {
                bail!("this key app is already active");
            }
            if !d.ready {
                let message = format!(
                    "for your security the second log-in is possible {} (the activation wait is not over yet)",
                    when(d.ready_at, d.now)
                );
                return Err(Refusal { code: "too_early", message, facts: json!({ "ready_at": d.ready_at }) }.into());
            }
            let (ticket, key) = login(&app, &l).await?;
            let code = choose_code(l.password_stdin)?;
            noegle_client::appcode_check(&code)?;
            let d = app.complete_activation(&ticket, &key).await?;
            app.state.save(dir)?;
            app.set_code(&code).await?;
            app.state.save(dir)?;
            print(
                cli.json,
                serde_json::to_value(&d)?,
                format!("Din nøgleapp er nu aktiveret. Serial number: {}", d.serial),
            );
        }
        Command::Status { code } => {
            let mut app = unlocked(dir, &code).await?;
            let d = app.device().await?;
            app.state.save(dir)?;
            let text = match d.status.as_str() {
                "pending" if d.ready => "Waiting for the second log-in: run `noegleapp activate complete`.".to_string(),
                "pending" => format!("Activation waiting; the second log-in is possible {}.", when(d.ready_at, d.now)),
                _ => "Klar til opdateringer (ready for requests).".to_string(),
            };
            print(cli.json, serde_json::to_value(&d)?, format!("{text}\nSerial number: {}", d.serial));
        }
        Command::Serial => {
            let s = DeviceState::load(dir)?;
            let serial = s.serial.context("no serial yet: activation has not started")?;
            print(cli.json, json!({ "serial": serial }), serial.clone());
        }
        Command::Watch { until, code } => {
            let mut app = unlocked(dir, &code).await?;
            let json_out = cli.json;
            app.watch(|name| {
                if json_out {
                    println!("{}", json!({ "event": name }));
                } else {
                    let text = match name {
                        "connected" => "Forbundet: venter på anmodninger (connected, waiting for requests).",
                        "request" => "En anmodning afventer din godkendelse (a request awaits your approval).",
                        "activation_ready" => "Nøgleappen er klar: log på igen (`noegleapp activate complete`).",
                        "pending_activation" => {
                            "En ny enhed er ved at blive aktiveret på din konto. Var det ikke dig, så afbryd den."
                        }
                        other => other,
                    };
                    println!("{text}");
                }
                std::io::stdout().flush().ok();
                until.as_deref() != Some(name)
            })
            .await?;
        }
        Command::Requests { code } => {
            let mut app = unlocked(dir, &code).await?;
            let rs = app.requests().await?;
            let text = if rs.is_empty() {
                "No pending requests.".to_string()
            } else {
                rs.iter()
                    .map(|r| format!("{}  {}  ({})", r.request_id, r.action, r.client_name))
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            print(cli.json, serde_json::to_value(&rs)?, text);
        }
        Command::Approve { request_id, match_code, code } => {
            let mut app = unlocked(dir, &code).await?;
            let r = pick(&mut app, request_id.as_deref()).await?;
            if r.match_code_required && match_code.is_none() {
                bail!("type the 2-digit code the log-in box shows: --match-code NN");
            }
            let state = app
                .decide(&r, Answer::Approve { match_code: match_code.as_deref().or(r.match_code.as_deref()) })
                .await?;
            print(cli.json, json!({ "request_id": r.request_id, "state": state }), "Godkendelsen er modtaget.".into());
        }
        Command::ChangeCode { code_stdin } => {
            let mut app = unlocked(dir, &CodeInput { code_stdin }).await?;
            let new = choose_code(code_stdin)?;
            app.change_code(&new).await?;
            app.state.save(dir)?;
            print(cli.json, json!({ "code_changed": true }), "Koden er ændret.".into());
        }
        Command::ForgotCode { login: l } => {
            let mut app = client(dir)?;
            let (ticket, key) = login(&app, &l).await?;
            let new = choose_code(l.password_stdin)?;
            let wait = app.forgot_code(&ticket, &key, &new).await?;
            app.state.save(dir)?;
            print(
                cli.json,
                json!({ "code_changed": true, "approves_in_secs": wait }),
                format!(
                    "Din nøgleapp kode er nulstillet. Koden er ændret. For din sikkerhed kan nøgleappen godkende igen \
                     {} (your other key apps are told and may cancel it); use the key card until then.",
                    when(wait, 0)
                ),
            );
        }
        Command::Deregister { yes, code } => {
            if !yes {
                bail!("deregistering deletes this key app's data; confirm with --yes");
            }
            let mut app = unlocked(dir, &code).await?;
            let serial = app.state.serial.clone().unwrap_or_default();
            app.deregister().await?;
            DeviceState::wipe(dir)?;
            print(
                cli.json,
                json!({ "serial": serial, "deregistered": true }),
                format!("Nøgleappen {serial} er afmeldt, og dens data er slettet."),
            );
        }
        Command::Reject { request_id, not_me, code } => {
            let mut app = unlocked(dir, &code).await?;
            let r = pick(&mut app, request_id.as_deref()).await?;
            let state = app.decide(&r, Answer::Reject { not_me }).await?;
            print(cli.json, json!({ "request_id": r.request_id, "state": state }), "Anmodningen er afvist.".into());
        }
    }
    Ok(())
}

/// The request to answer: the named one, or the only pending one.
async fn pick(app: &mut AppClient, id: Option<&str>) -> anyhow::Result<noegle_client::api::Request> {
    let rs = app.requests().await?;
    match id {
        Some(id) => rs.into_iter().find(|r| r.request_id == id).with_context(|| format!("no pending request {id}")),
        None if rs.len() == 1 => Ok(rs.into_iter().next().context("no pending request")?),
        None if rs.is_empty() => bail!("no pending requests"),
        None => bail!("several requests are pending; name one (see `noegleapp requests`)"),
    }
}
