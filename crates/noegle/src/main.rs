//! `noegle`: the operator's binary — the server, the demo and the admin commands.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use noegle_server::{Config, SystemClock};

mod admin;
mod backup;
mod cli;
mod demo;
mod restore;
mod terminal;

use cli::{Cli, Command, ServeArgs};

#[tokio::main]
async fn main() -> ExitCode {
    // Whatever the umask it was started with, nothing noegle creates is open to other users: the data
    // directory 0700, its files 0600 (where files are made, their modes are also given explicitly).
    #[cfg(unix)]
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("noegle: error: {}", terminal::safe_text(&format!("{e:#}")));
            ExitCode::FAILURE
        }
    }
}

/// The configuration, and the `NOEGLE_*` variables no setting reads (for one warning once logging is set up).
fn load_config(cli: &Cli) -> anyhow::Result<(Config, Vec<String>)> {
    // Every `NOEGLE_*` value is UTF-8 (checked first), so reading one as text never loses it.
    let unknown = Config::check_environment(std::env::vars_os())?;
    let mut config = Config::load(cli.config.as_deref(), |k| std::env::var(k).ok())?;
    if let Some(d) = &cli.data_dir {
        config.data_dir = d.clone();
    }
    if let Some(d) = &cli.database {
        config.database = d.clone();
    }
    if let Command::Serve(args) | Command::Demo(args) = &cli.command {
        if let Some(b) = &args.bind {
            config.bind = b.parse().with_context(|| format!("--bind {b}: not an address like 127.0.0.1:8080"))?;
        }
        if let Some(u) = &args.public_url {
            config.public_url = u.clone();
        }
    }
    if matches!(cli.command, Command::Demo(_)) {
        if cli.data_dir.is_none() && std::env::var_os("NOEGLE_DATA_DIR").is_none() {
            config.data_dir = "noegle-demo".into();
        }
        // A newcomer should not wait an hour to try the key app.
        if std::env::var_os("NOEGLE_ACTIVATION_WAIT_SECS").is_none()
            && config.activation_wait_secs == Config::default().activation_wait_secs
        {
            config.activation_wait_secs = demo::DEMO_ACTIVATION_WAIT_SECS;
        }
    }
    config.validate()?;
    Ok((config, unknown))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let (config, unknown) = load_config(&cli)?;
    let serving = matches!(cli.command, Command::Serve(_) | Command::Demo(_));
    let filter = if serving { config.log.clone() } else { "warn".into() };
    // Colours only for a person at a terminal, never into a file or a pipe.
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_new(&filter).context("log filter")?)
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .init();
    if !unknown.is_empty() {
        tracing::warn!(
            "ignoring environment variables no setting reads (misspelt?): {}; the settings are listed in noegle.example.toml",
            unknown.join(", ")
        );
    }
    // Every connected key app holds a connection open: as many as the system lets this process have (the
    // connection limits are shared out of it, and checked, when the state is built — for an admin command
    // too, so that it sees the limits `serve` sees).
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(files) => tracing::info!(open_files = files, "open-files limit"),
        Err(e) => tracing::warn!(error = %e, "the open-files limit could not be raised"),
    }
    match cli.command {
        Command::Serve(args) => serve(config, args, false).await,
        Command::Demo(args) => serve(config, args, true).await,
        Command::User(cmd) => admin::user(&state(config).await?, cmd).await,
        Command::Keycard(cmd) => admin::keycard(&state(config).await?, cmd).await,
        Command::Client(cmd) => admin::client(&state(config).await?, cmd).await,
        Command::Device(cmd) => admin::device(&state(config).await?, cmd).await,
        Command::Support(cmd) => admin::support(&state(config).await?, cmd).await,
        Command::Audit { user, limit, out } => admin::audit(&state(config).await?, user, limit, out).await,
        Command::Keys(cmd) => admin::keys(&state(config).await?, cmd).await,
        Command::Backup { file, out } => backup::backup(&config, &file, out).await,
        Command::Restore { file, out } => restore::restore(&config, &file, out),
    }
}

async fn state(config: Config) -> anyhow::Result<noegle_server::AppState> {
    noegle_server::build_state(config, Arc::new(SystemClock)).await
}

async fn serve(mut config: Config, args: ServeArgs, demo: bool) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .with_context(|| format!("cannot listen on {}", config.bind))?;
    let bound = listener.local_addr()?;
    if args.public_url.is_none()
        && std::env::var_os("NOEGLE_PUBLIC_URL").is_none()
        && config.public_url == Config::default().public_url
        && bound.port() != 8080
    {
        // Follow the port actually bound when no public URL was chosen.
        config.public_url = format!("http://localhost:{}", bound.port());
    }
    let state = state(config).await?;
    let extra = if demo {
        let (bank, card) = demo::prepare(&state).await?;
        println!("{}", demo::banner(&state, &card));
        noegle_server::demo_bank::router(noegle_server::demo_bank::Bank::new(&state.config.public_url, bank)?)
    } else {
        axum::Router::new()
    };
    tracing::info!(address = %bound, public_url = %state.config.public_url, database = %noegle_store::redact(&state.config.database_url()), "nøgle is listening");
    if state.webauthn.is_none() {
        tracing::info!(public_url = %state.config.public_url, "fingerprint unlock is off: WebAuthn needs the public URL to have a domain name, not an IP address");
    }
    let housekeeping = noegle_server::spawn_housekeeping(state.clone());
    let app = noegle_server::app(state.clone(), extra);
    noegle_server::serve(listener, app, &state, shutdown_signal()).await?;
    housekeeping.abort();
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
