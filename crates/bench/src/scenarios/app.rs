//! B2 `login-app`: whole log-ins approved in key apps at a fixed offered rate. Each app is a real
//! `noegle-client` app: activated through the app API, unlocked once (its 5-minute app session covers the
//! run), listening on the live channel; it hears the request, fetches it and approves with the match code
//! the log-in box shows. Measures server CPU per log-in and the time from "send to the app" to the event at
//! the app.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use futures::StreamExt;
use noegle_client::{AppClient, DeviceState};
use tokio::sync::mpsc;

use crate::deploy::{Backend, Deployment, Setup};
use crate::load::Point;
use crate::loginbox::LoginBox;
use crate::scenarios::Opts;
use crate::seed::{self, BenchUser, PASSWORD};
use crate::stats::{self, now, percentile_ms};

/// The app code every bench app chooses.
const APP_CODE: &str = "8264";

/// B2's figures on one backend.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct AppResult {
    /// The database.
    pub backend: Backend,
    /// Key apps (one per user).
    pub devices: usize,
    /// Log-ins started per second.
    pub offered_per_sec: f64,
    /// One Argon2id check, ms.
    pub argon2_ms: f64,
    /// Log-ins done in the window, their times and the server's CPU.
    pub point: Point,
    /// "Send to the app" → event at the app, median, ms.
    pub push_p50_ms: f64,
    /// … 99th percentile, ms.
    pub push_p99_ms: f64,
    /// Log-ins not started because every app was busy with one.
    pub missed: usize,
}

impl AppResult {
    /// Server CPU per log-in beyond its one Argon2id check, ms.
    pub fn cpu_beyond_argon2_ms(&self) -> Option<f64> {
        self.point.cpu_ms.map(|c| c - self.argon2_ms)
    }
}

/// One user's key app as the log-in side talks to it.
struct Slot {
    user: BenchUser,
    /// When the app heard a request.
    heard: tokio::sync::Mutex<mpsc::UnboundedReceiver<Instant>>,
    /// The match code to type.
    code: mpsc::UnboundedSender<String>,
    /// The app's decision went through (or why not).
    decided: tokio::sync::Mutex<mpsc::UnboundedReceiver<Result<(), String>>>,
}

fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// Activates a key app for `user` with two key-card log-ins (the bench server has no wait) and a code.
async fn activate(url: &str, user: &BenchUser) -> anyhow::Result<AppClient> {
    let mut app = AppClient::new(DeviceState::new(url), Box::new(unix_now));
    let key = |n: &str| user.card.keys.get(n).cloned().ok_or_else(|| anyhow!("key {n} not on the card"));
    let t = app.login(&user.user_id, PASSWORD).await?;
    app.start_activation(&t.ticket, &key(&t.key_card.key_number)?, "terminal", "bench", "bench").await?;
    let t = app.login(&user.user_id, PASSWORD).await?;
    app.complete_activation(&t.ticket, &key(&t.key_card.key_number)?).await?;
    app.set_code(APP_CODE).await?;
    Ok(app)
}

/// The app's side: hears requests on the live channel, fetches and approves them with the code it is given.
async fn listen(
    mut app: AppClient,
    heard: mpsc::UnboundedSender<Instant>,
    mut codes: mpsc::UnboundedReceiver<String>,
    decided: mpsc::UnboundedSender<Result<(), String>>,
) -> anyhow::Result<()> {
    let mut events = app.open_events().await?;
    let mut buffer = String::new();
    while let Some(event) = noegle_client::api::next_event(&mut events, &mut buffer).await {
        if event != "request" {
            continue;
        }
        let _ = heard.send(now());
        let Some(code) = codes.recv().await else { break };
        let outcome = async {
            let requests = app.requests().await?;
            let r = requests.first().ok_or_else(|| anyhow!("the request is not there"))?;
            app.decide(r, noegle_client::api::Answer::Approve { match_code: Some(&code) }).await?;
            Ok::<_, anyhow::Error>(())
        }
        .await;
        let _ = decided.send(outcome.map_err(|e| format!("{e:#}")));
    }
    Ok(())
}

/// One log-in approved in the app; answers the request → app time.
async fn app_login(lb: &LoginBox, slot: &Slot) -> anyhow::Result<Duration> {
    let mut heard = slot.heard.lock().await;
    let mut decided = slot.decided.lock().await;
    while heard.try_recv().is_ok() || decided.try_recv().is_ok() {}
    let mut flow = lb.open().await?;
    lb.password(&mut flow, &slot.user).await?;
    let sent = now();
    lb.send_to_app(&mut flow).await?;
    let code = flow.match_code()?;
    let at_app = tokio::time::timeout(Duration::from_secs(10), heard.recv())
        .await
        .context("the app heard nothing within 10 s")?
        .ok_or_else(|| anyhow!("the app stopped listening"))?;
    slot.code.send(code)?;
    tokio::time::timeout(Duration::from_secs(10), decided.recv())
        .await
        .context("the app did not decide within 10 s")?
        .ok_or_else(|| anyhow!("the app stopped"))?
        .map_err(|e| anyhow!("the app could not approve: {e}"))?;
    let Some(code) = lb.show(&mut flow).await? else {
        bail!("approved, but the log-in box did not send the browser back");
    };
    lb.token(&flow, &code).await?;
    Ok(at_app.saturating_duration_since(sent))
}

/// Runs B2 on `backend`.
pub async fn run(setup: &Setup, backend: Backend, opts: &Opts) -> anyhow::Result<AppResult> {
    let dep = Deployment::start(setup, backend, 1, opts.count_statements).await?;
    let argon2_ms = stats::argon2_verify_ms().await?;
    let store = dep.store().await?;
    let client_id = seed::client(store.as_ref()).await?;
    let users = seed::users(store, Some(&dep.pepper()?), "app", opts.app_devices).await?;
    let url = dep.url().to_string();
    eprintln!("  B2 {}: activating {} key apps", backend.name(), users.len());
    let apps = futures::stream::iter(users.iter())
        .map(|u| {
            let url = url.clone();
            async move { activate(&url, u).await.with_context(|| format!("activating {}", u.user_id)) }
        })
        .buffered(4)
        .collect::<Vec<_>>()
        .await;
    let mut slots = Vec::new();
    let mut listeners = Vec::new();
    for (user, app) in users.into_iter().zip(apps) {
        let mut app = app?;
        app.unlock(APP_CODE).await?;
        let (heard_tx, heard_rx) = mpsc::unbounded_channel();
        let (code_tx, code_rx) = mpsc::unbounded_channel();
        let (decided_tx, decided_rx) = mpsc::unbounded_channel();
        listeners.push(tokio::spawn(listen(app, heard_tx, code_rx, decided_tx)));
        slots.push(Arc::new(Slot {
            user,
            heard: tokio::sync::Mutex::new(heard_rx),
            code: code_tx,
            decided: tokio::sync::Mutex::new(decided_rx),
        }));
    }
    // The apps are listening once the live channel said `connected`; give them a moment.
    tokio::time::sleep(Duration::from_millis(500)).await;

    eprintln!("  B2 {}: offering {} log-ins/s for {:?}", backend.name(), opts.app_rate, opts.warmup + opts.window);
    let lb = LoginBox::new(LoginBox::http(), &url, &client_id);
    let free: Arc<Mutex<VecDeque<Arc<Slot>>>> = Arc::new(Mutex::new(slots.into_iter().collect()));
    let start = now();
    let (from, until) = (start + opts.warmup, start + opts.warmup + opts.window);
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / opts.app_rate));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut running = Vec::new();
    let mut missed = 0;
    let (mut cpu_from, mut measured_from, mut db_from) = (None, None, None);
    loop {
        ticker.tick().await;
        let t = now();
        if t >= until {
            break;
        }
        if t >= from && measured_from.is_none() {
            cpu_from = dep.cpu_secs();
            db_from = dep.counter.as_ref().map(|c| c.snapshot());
            measured_from = Some(t);
        }
        let Some(slot) = free.lock().map_err(|_| anyhow!("poisoned"))?.pop_front() else {
            missed += usize::from(t >= from);
            continue;
        };
        let (lb, free) = (lb.clone(), free.clone());
        running.push(tokio::spawn(async move {
            let began = now();
            let r = app_login(&lb, &slot).await;
            let ended = now();
            if let Ok(mut f) = free.lock() {
                f.push_back(slot);
            }
            (began, ended, r.map_err(|e| format!("{e:#}")))
        }));
    }
    let cpu_until = dep.cpu_secs();
    let db = db_from.zip(dep.counter.as_ref().map(|c| c.snapshot())).map(|(a, b)| b - a);
    let measured_from = measured_from.unwrap_or(from);
    let secs = measured_from.elapsed().as_secs_f64();
    let (mut logins, mut errors, mut durations, mut pushes) = (0, 0, Vec::new(), Vec::new());
    let mut first_error = None;
    for r in running {
        let (began, ended, outcome) = r.await?;
        if ended < measured_from || ended > until {
            continue;
        }
        match outcome {
            Ok(push) => {
                logins += 1;
                durations.push(ended - began);
                pushes.push(push);
            }
            Err(e) => {
                errors += 1;
                first_error.get_or_insert(e);
            }
        }
    }
    if let Some(e) = first_error {
        eprintln!("  a log-in failed: {e}");
    }
    for l in listeners {
        l.abort();
    }
    let point = Point {
        concurrency: opts.app_devices,
        logins,
        errors,
        secs,
        per_sec: logins as f64 / secs,
        p50_ms: percentile_ms(&mut durations, 50.0),
        p99_ms: percentile_ms(&mut durations, 99.0),
        cpu_ms: cpu_from.zip(cpu_until).filter(|_| logins > 0).map(|(a, b)| (b - a) * 1000.0 / logins as f64),
        db_statements: db.filter(|_| logins > 0).map(|d| d.statements as f64 / logins as f64),
        db_round_trips: db.filter(|_| logins > 0).map(|d| d.round_trips as f64 / logins as f64),
    };
    let result = AppResult {
        backend,
        devices: opts.app_devices,
        offered_per_sec: opts.app_rate,
        argon2_ms,
        push_p50_ms: percentile_ms(&mut pushes, 50.0),
        push_p99_ms: percentile_ms(&mut pushes, 99.0),
        point,
        missed,
    };
    eprintln!(
        "  B2 {}: {:.1} log-ins/s of {} offered; request → app p50 {:.1} ms p99 {:.1} ms; CPU {} per log-in, {} beyond Argon2id",
        backend.name(),
        result.point.per_sec,
        result.offered_per_sec,
        result.push_p50_ms,
        result.push_p99_ms,
        result.point.cpu_ms.map_or("?".into(), |m| format!("{m:.2} ms")),
        result.cpu_beyond_argon2_ms().map_or("?".into(), |m| format!("{m:.2} ms")),
    );
    dep.stop().await;
    Ok(result)
}
