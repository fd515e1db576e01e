//! `noegle demo`: prepares the demo user (with a printed key card) and Demo Bank's registration, and tells
//! the newcomer what to open and what to type.

use std::path::Path;

use anyhow::Context;
use noegle_core::accounts;
use noegle_core::keycard::{ClearCard, display_serial};
use noegle_core::login::issue_card;
use noegle_server::AppState;
use noegle_server::keycard_pdf::{render, write_private};

use noegle_server::demo_bank::{Bank, BankClient};

/// The demo user's ID.
pub const DEMO_USER: &str = "demo";
/// The demo user's password (a demo: it is printed for everyone to use).
pub const DEMO_PASSWORD: &str = "demo-adgangskode";
/// The demo user's name.
pub const DEMO_NAME: &str = "Demo Bruger";
/// The key app's activation wait in the demo (normally an hour).
pub const DEMO_ACTIVATION_WAIT_SECS: i64 = 60;
/// Where the demo keeps the demo user's clear key card (the demo alone keeps one; it is printed anyway).
pub const CARD_FILE: &str = "demo-keycard.json";

fn replace_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    if path.exists() {
        std::fs::remove_file(path).with_context(|| format!("cannot replace {}", path.display()))?;
    }
    write_private(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}

/// Makes sure the demo user, their key card and Demo Bank exist; answers the bank's registration and the card.
pub async fn prepare(state: &AppState) -> anyhow::Result<(BankClient, ClearCard)> {
    let ctx = state.ctx(Some("demo"));
    let dir = &state.config.data_dir;
    let user = match accounts::find_user(ctx, DEMO_USER).await {
        Ok(u) => u,
        Err(accounts::AccountError::NotFound(_)) => {
            accounts::create_user(ctx, &mut rand::rngs::OsRng, DEMO_USER, Some(DEMO_NAME), DEMO_PASSWORD).await?
        }
        Err(e) => return Err(e.into()),
    };
    let saved: Option<ClearCard> =
        std::fs::read(dir.join(CARD_FILE)).ok().and_then(|b| serde_json::from_slice(&b).ok());
    let usable = match &saved {
        Some(c) => {
            state.store.card(&c.serial).await?.is_some_and(|k| k.sub == user.sub && k.status.usable() && k.unused > 0)
        }
        None => false,
    };
    let card = match saved {
        Some(c) if usable => c,
        _ => {
            let card = issue_card(ctx, &mut rand::rngs::OsRng, &state.pepper, &user).await?;
            replace_private(&dir.join(CARD_FILE), &serde_json::to_vec_pretty(&card)?)?;
            replace_private(&dir.join("demo-keycard.pdf"), &render(&user, &card))?;
            card
        }
    };

    let bank_file = dir.join("demo-bank.json");
    let redirect = Bank::redirect_uri(&state.config.public_url);
    let saved: Option<BankClient> = std::fs::read(&bank_file).ok().and_then(|b| serde_json::from_slice(&b).ok());
    let registered = match &saved {
        Some(b) => {
            state.store.client(&b.client_id.as_str().into()).await?.filter(|c| c.allows_redirect(&redirect)).is_some()
        }
        None => false,
    };
    let bank = match saved {
        Some(b) if registered => b,
        _ => {
            let c = accounts::add_client(ctx, &mut rand::rngs::OsRng, "Demo Bank", &[redirect], false).await?;
            let b = BankClient {
                client_id: c.client.client_id.into(),
                client_secret: c.client_secret.context("a confidential client has a secret")?,
            };
            replace_private(&bank_file, &serde_json::to_vec_pretty(&b)?)?;
            b
        }
    };
    Ok((bank, card))
}

/// The key card as a terminal grid.
pub fn card_grid(card: &ClearCard) -> String {
    let keys: Vec<_> = card.keys.iter().collect();
    let columns = 6;
    let rows = keys.len().div_ceil(columns);
    let mut s = format!("  Nøglekort nr. {}\n", display_serial(card.serial.as_str()));
    for row in 0..rows {
        s.push_str("  ");
        for col in 0..columns {
            if let Some((n, k)) = keys.get(col * rows + row) {
                s.push_str(&format!("{n} {k}   "));
            }
        }
        s.push('\n');
    }
    s
}

/// What the newcomer reads when the demo starts.
pub fn banner(state: &AppState, card: &ClearCard) -> String {
    let url = &state.config.public_url;
    let dir = state.config.data_dir.display();
    format!(
        "\nnøgle demo is running.\n\n  1. Open {url}/demo/ — Demo Bank — and press \"Log på med nøgle\".\n  \
         2. Log in with user ID \"{DEMO_USER}\" and password \"{DEMO_PASSWORD}\".\n  \
         3. Type the key the log-in box asks for (\"Nøgle 1234\") from the demo user's key card:\n\n{}\n  \
         The card is also printed to {dir}/demo-keycard.pdf. Each key works once.\n  \
         Switch language on the pages with \"English\". Stop with Ctrl-C.\n\n\
         Phone key app: open {url}/app/ (on a phone, or in the browser's phone view), activate it with the\n  \
         same card and log in again after {wait} seconds; then \"Send anmodning til nøgleapp\" at Demo Bank.\n\n\
         Terminal key app: activate it with the same card, log in again after {wait} seconds (the demo\n  \
         shortens the hour the real service waits), and approve the Demo Bank log-in from it:\n    \
         echo {DEMO_PASSWORD} | cargo run -p noegleapp -- activate start --server {url} --user-id {DEMO_USER} --password-stdin --keycard-json {dir}/{CARD_FILE}\n    \
         printf '{DEMO_PASSWORD}\\n7391\\n' | cargo run -p noegleapp -- activate complete --user-id {DEMO_USER} --password-stdin --keycard-json {dir}/{CARD_FILE}\n    \
         (7391 becomes the app's 4-digit code; it unlocks the app for 5 minutes at a time)\n    \
         echo 7391 | cargo run -p noegleapp -- approve --code-stdin --match-code NN   (NN: the code the log-in box shows)\n",
        card_grid(card),
        wait = state.config.activation_wait_secs,
    )
}
