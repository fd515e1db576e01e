//! The command line: `noegle serve | demo | user | keycard | client | audit`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// nøgle — log-in with user ID, password and key card, over OpenID Connect.
#[derive(Debug, Parser)]
#[command(name = "noegle", version, about)]
pub struct Cli {
    /// Configuration file (TOML; see noegle.example.toml). Also NOEGLE_CONFIG.
    #[arg(long, global = true, env = "NOEGLE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Data directory (database file, server secrets). Overrides NOEGLE_DATA_DIR.
    #[arg(long, global = true)]
    pub data_dir: Option<PathBuf>,
    /// Database URL: sqlite://PATH or postgres://…. Overrides NOEGLE_DATABASE.
    #[arg(long, global = true)]
    pub database: Option<String>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The sub-commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// Run the server with the built-in "Demo Bank" and a demo user with a printed key card.
    Demo(ServeArgs),
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Issue and inspect key cards.
    #[command(subcommand)]
    Keycard(KeycardCommand),
    /// Manage service providers (OIDC clients).
    #[command(subcommand)]
    Client(ClientCommand),
    /// Key-app devices.
    #[command(subcommand)]
    Device(DeviceCommand),
    /// Support tools.
    #[command(subcommand)]
    Support(SupportCommand),
    /// The ID-token signing keys: list them, or rotate (a new key published first, signing after the lead
    /// time; the old one published until its tokens have expired).
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Back up the database (SQLite: copied while the server runs) and the data directory's secrets into one
    /// new file (mode 0600; keep it as safe as the data directory). On PostgreSQL: the secrets, with pg_dump
    /// for the database.
    Backup {
        /// The backup file to write (must not exist).
        file: std::path::PathBuf,
        #[command(flatten)]
        out: Output,
    },
    /// Restore a backup into a new data directory (an empty or absent one), after checking every entry.
    Restore {
        /// The backup file.
        file: std::path::PathBuf,
        #[command(flatten)]
        out: Output,
    },
    /// Show the audit trail, oldest first.
    Audit {
        /// Only this user's events.
        #[arg(long)]
        user: Option<String>,
        /// How many of the newest events.
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(i64).range(1..=100_000))]
        limit: i64,
        #[command(flatten)]
        out: Output,
    },
}

/// `noegle keys …`.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Every signing key: its id, from when it signs, and where it stands (next, signing, retiring, retired).
    List {
        #[command(flatten)]
        out: Output,
    },
    /// Add a new signing key, published at once (running nodes reread the keys every minute) and signing
    /// after the lead time, so relying parties have it before they meet it.
    Rotate {
        /// Seconds before the new key signs, 0 to 2592000 (default: signing_key_lead_secs, one day).
        #[arg(long, value_parser = clap::value_parser!(i64).range(0..=2_592_000))]
        lead_secs: Option<i64>,
        #[command(flatten)]
        out: Output,
    },
}

/// Where the server listens.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on. Overrides NOEGLE_BIND.
    #[arg(long)]
    pub bind: Option<String>,
    /// Public URL (the OIDC issuer). Overrides NOEGLE_PUBLIC_URL.
    #[arg(long)]
    pub public_url: Option<String>,
}

/// Output format.
#[derive(Debug, Args, Clone, Copy)]
pub struct Output {
    /// Print JSON for scripts.
    #[arg(long)]
    pub json: bool,
}

/// `noegle user …`.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user; the password is read from standard input.
    Add {
        /// User ID (3–32 of a-z 0-9 . - _).
        user_id: String,
        /// Display name given to service providers (default: the user ID).
        #[arg(long)]
        name: Option<String>,
        /// Read the password from the first line of standard input (required).
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        out: Output,
    },
    /// Show a user, their lock state and key cards.
    Show {
        /// User ID.
        user_id: String,
        #[command(flatten)]
        out: Output,
    },
    /// Block a user: every log-in is refused.
    Block {
        /// User ID.
        user_id: String,
        #[command(flatten)]
        out: Output,
    },
    /// Unblock a user and clear their failure counter (ends a lockout).
    Unblock {
        /// User ID.
        user_id: String,
        #[command(flatten)]
        out: Output,
    },
    /// Set a new password, read from standard input.
    SetPassword {
        /// User ID.
        user_id: String,
        /// Read the password from the first line of standard input (required).
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        out: Output,
    },
}

/// `noegle keycard …`.
#[derive(Debug, Subcommand)]
pub enum KeycardCommand {
    /// Issue a new key card and write it as a printable PDF.
    Issue {
        /// User ID.
        user_id: String,
        /// Where to write the PDF (default: DATA_DIR/outbox/keycard-USER-SERIAL.pdf; the path is printed).
        #[arg(long)]
        pdf: Option<PathBuf>,
        #[command(flatten)]
        out: Output,
    },
    /// Show a user's key cards and how many keys remain.
    Status {
        /// User ID.
        user_id: String,
        #[command(flatten)]
        out: Output,
    },
    /// Block a key card (lost or stolen).
    Block {
        /// The card's serial (digits; dashes allowed).
        serial: String,
        #[command(flatten)]
        out: Output,
    },
}

/// `noegle client …`.
#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Register a service provider; prints its client_id and (once) its client_secret.
    Add {
        /// Name shown to users in the log-in box.
        name: String,
        /// Exact redirect URI (repeat for several).
        #[arg(long = "redirect-uri", required = true)]
        redirect_uris: Vec<String>,
        /// A public client (no secret; PKCE required).
        #[arg(long)]
        public: bool,
        #[command(flatten)]
        out: Output,
    },
    /// List the service providers.
    List {
        #[command(flatten)]
        out: Output,
    },
    /// Remove a service provider and its grants.
    Remove {
        /// Its client_id.
        client_id: String,
        #[command(flatten)]
        out: Output,
    },
}

/// `noegle device …`.
#[derive(Debug, Subcommand)]
pub enum DeviceCommand {
    /// A user's key apps, pending and active.
    List {
        /// User ID.
        user_id: String,
        #[command(flatten)]
        out: Output,
    },
    /// Revoke a key app by its serial number (lost or stolen phone).
    Revoke {
        /// The serial the app shows in its settings.
        serial: String,
        #[command(flatten)]
        out: Output,
    },
}

/// `noegle support …`.
#[derive(Debug, Subcommand)]
pub enum SupportCommand {
    /// Everything support may see about a key app, by the serial number the user reads out.
    Lookup {
        /// The serial the app shows in its settings.
        serial: String,
        #[command(flatten)]
        out: Output,
    },
}
