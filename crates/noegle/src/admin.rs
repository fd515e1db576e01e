//! The operator's commands on users, key cards, clients and the audit trail. They work on the same data
//! directory and database as a running server.

use std::io::BufRead;

use anyhow::{Context, bail};
use noegle_core::accounts::{self, AccountError};
use noegle_core::keycard::{CardStatus, display_serial};
use noegle_core::lockout::MAX_CONSECUTIVE_FAILURES;
use noegle_core::login::issue_card;
use noegle_core::user::User;
use noegle_core::{ClientId, Ctx};
use noegle_server::AppState;
use serde_json::{Value, json};

use crate::cli::{ClientCommand, DeviceCommand, KeycardCommand, KeysCommand, Output, SupportCommand, UserCommand};

/// A time for people: `2026-11-24 21:30:00 UTC` (JSON output keeps Unix seconds).
fn when(t: noegle_core::UnixTime) -> String {
    chrono::DateTime::from_timestamp(t.0, 0)
        .map_or_else(|| t.0.to_string(), |d| d.format("%Y-%m-%d %H:%M:%S UTC").to_string())
}

/// Prints `value` as JSON, or `text` for people; either way nothing a client set can steer the terminal.
pub(crate) fn emit(out: Output, value: Value, text: impl FnOnce() -> String) {
    if out.json {
        println!("{}", crate::terminal::safe_json(&format!("{value:#}")));
    } else {
        println!("{}", crate::terminal::safe_text(&text()));
    }
}

fn ctx(state: &AppState) -> Ctx<'_> {
    state.ctx(Some("cli"))
}

/// Reads a password from the first line of standard input.
fn read_password(password_stdin: bool) -> anyhow::Result<String> {
    if !password_stdin {
        bail!("give the password on standard input and add --password-stdin");
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).context("cannot read the password from standard input")?;
    let pw = line.strip_suffix('\n').unwrap_or(&line);
    Ok(pw.strip_suffix('\r').unwrap_or(pw).to_string())
}

fn user_json(u: &User) -> Value {
    json!({
        "user_id": u.user_id.as_str(),
        "name": u.display_name,
        "sub": u.sub,
        "blocked": u.blocked,
        "locked": u.failed_attempts >= MAX_CONSECUTIVE_FAILURES,
        "failed_attempts": u.failed_attempts,
        "created_at": u.created_at.0,
    })
}

fn account(e: AccountError) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

/// `noegle user …`.
pub async fn user(state: &AppState, cmd: UserCommand) -> anyhow::Result<()> {
    match cmd {
        UserCommand::Add { user_id, name, password_stdin, out } => {
            let pw = read_password(password_stdin)?;
            let u = accounts::create_user(ctx(state), &mut rand::rngs::OsRng, &user_id, name.as_deref(), &pw)
                .await
                .map_err(account)?;
            emit(out, user_json(&u), || format!("created user {} ({})", u.user_id, u.display_name));
        }
        UserCommand::Show { user_id, out } => {
            let u = accounts::find_user(ctx(state), &user_id).await.map_err(account)?;
            let cards = state.store.cards_of(&u.sub).await?;
            let mut v = user_json(&u);
            v["key_cards"] = cards_json(&cards);
            emit(out, v, || {
                let status = if u.blocked {
                    "blocked"
                } else if u.failed_attempts >= MAX_CONSECUTIVE_FAILURES {
                    "locked (too many failed attempts)"
                } else {
                    "active"
                };
                let mut s = format!(
                    "user ID:  {}\nname:     {}\nsub:      {}\nstatus:   {status}\nfailures: {} in a row\n",
                    u.user_id, u.display_name, u.sub, u.failed_attempts
                );
                s.push_str(&cards_text(&cards));
                s
            });
        }
        UserCommand::Block { user_id, out } => {
            let u = accounts::set_blocked(ctx(state), &user_id, true).await.map_err(account)?;
            emit(out, user_json(&u), || format!("blocked {}", u.user_id));
        }
        UserCommand::Unblock { user_id, out } => {
            let u = accounts::set_blocked(ctx(state), &user_id, false).await.map_err(account)?;
            emit(out, user_json(&u), || format!("unblocked {}; failure counter cleared", u.user_id));
        }
        UserCommand::SetPassword { user_id, password_stdin, out } => {
            let pw = read_password(password_stdin)?;
            accounts::set_password(ctx(state), &mut rand::rngs::OsRng, &user_id, &pw).await.map_err(account)?;
            emit(out, json!({ "user_id": user_id, "password_set": true }), || format!("password set for {user_id}"));
        }
    }
    Ok(())
}

fn cards_json(cards: &[noegle_core::keycard::KeyCard]) -> Value {
    cards
        .iter()
        .map(|c| json!({ "serial": c.serial, "status": c.status.as_str(), "unused_keys": c.unused, "issued_at": c.issued_at.0 }))
        .collect()
}

fn cards_text(cards: &[noegle_core::keycard::KeyCard]) -> String {
    if cards.is_empty() {
        return "key cards: none\n".into();
    }
    let mut s = String::from("key cards:\n");
    for c in cards {
        s.push_str(&format!(
            "  {}  {:<10}  {:>3} unused keys  issued {}\n",
            display_serial(c.serial.as_str()),
            c.status.as_str(),
            c.unused,
            when(c.issued_at)
        ));
    }
    s
}

/// `noegle keycard …`.
pub async fn keycard(state: &AppState, cmd: KeycardCommand) -> anyhow::Result<()> {
    match cmd {
        KeycardCommand::Issue { user_id, pdf, out } => {
            let u = accounts::find_user(ctx(state), &user_id).await.map_err(account)?;
            if let Some(path) = pdf.as_ref().filter(|p| p.exists()) {
                bail!("{} exists; choose another --pdf path", path.display());
            }
            let card = issue_card(ctx(state), &mut rand::rngs::OsRng, &state.pepper, &u).await?;
            // By default into the data directory's outbox (the file 0600), never the current folder.
            let written = match &pdf {
                Some(path) => {
                    noegle_server::keycard_pdf::write_private(path, &noegle_server::keycard_pdf::render(&u, &card))
                        .map(|()| path.clone())
                }
                None => noegle_server::keycard_pdf::write_to_outbox(&state.config.data_dir, &u, &card),
            };
            let path = written.with_context(|| {
                format!(
                    "the card {} was issued but its PDF could not be written; block it with `noegle keycard block {}`",
                    card.serial, card.serial
                )
            })?;
            let status = state.store.card(&card.serial).await?.map_or(CardStatus::Active, |c| c.status);
            emit(
                out,
                json!({ "serial": card.serial, "user_id": u.user_id.as_str(), "status": status.as_str(), "pdf": path, "keys": card.keys }),
                || {
                    format!(
                        "issued key card {} ({}) to {}; printable card: {}",
                        display_serial(card.serial.as_str()),
                        status.as_str(),
                        u.user_id,
                        path.display()
                    )
                },
            );
        }
        KeycardCommand::Status { user_id, out } => {
            let u = accounts::find_user(ctx(state), &user_id).await.map_err(account)?;
            let cards = state.store.cards_of(&u.sub).await?;
            emit(out, json!({ "user_id": u.user_id.as_str(), "key_cards": cards_json(&cards) }), || cards_text(&cards));
        }
        KeycardCommand::Block { serial, out } => {
            let serial = accounts::block_card(ctx(state), &serial).await.map_err(account)?;
            emit(out, json!({ "serial": serial, "status": "blocked" }), || {
                format!("blocked key card {}", display_serial(serial.as_str()))
            });
        }
    }
    Ok(())
}

/// `noegle client …`.
pub async fn client(state: &AppState, cmd: ClientCommand) -> anyhow::Result<()> {
    match cmd {
        ClientCommand::Add { name, redirect_uris, public, out } => {
            let c = accounts::add_client(ctx(state), &mut rand::rngs::OsRng, &name, &redirect_uris, public)
                .await
                .map_err(account)?;
            emit(
                out,
                json!({ "client_id": c.client.client_id, "client_secret": c.client_secret, "name": c.client.name,
                        "redirect_uris": c.client.redirect_uris, "public": public }),
                || {
                    let mut s = format!("registered {}\nclient_id:     {}\n", c.client.name, c.client.client_id);
                    match &c.client_secret {
                        Some(secret) => s.push_str(&format!("client_secret: {secret}\n(shown once; store it now)")),
                        None => s.push_str("public client: no secret, PKCE (S256) required"),
                    }
                    s
                },
            );
        }
        ClientCommand::List { out } => {
            let clients = state.store.clients().await?;
            let v: Value = clients
                .iter()
                .map(|c| json!({ "client_id": c.client_id, "name": c.name, "redirect_uris": c.redirect_uris, "public": !c.is_confidential() }))
                .collect();
            emit(out, v, || {
                if clients.is_empty() {
                    return "no clients".into();
                }
                clients
                    .iter()
                    .map(|c| format!("{}  {}  {}", c.client_id, c.name, c.redirect_uris.join(" ")))
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        ClientCommand::Remove { client_id, out } => {
            accounts::remove_client(ctx(state), &ClientId::from(client_id.as_str())).await.map_err(account)?;
            emit(out, json!({ "client_id": client_id, "removed": true }), || format!("removed client {client_id}"));
        }
    }
    Ok(())
}

/// `noegle audit`.
pub async fn audit(state: &AppState, user: Option<String>, limit: i64, out: Output) -> anyhow::Result<()> {
    let user = user.map(|u| noegle_core::user::UserId::parse(&u).map(|u| u.to_string())).transpose()?;
    let events = state.store.audit(user.as_deref(), limit).await?;
    emit(out, serde_json::to_value(&events)?, || {
        events
            .iter()
            .map(|e| {
                format!(
                    "{:>6}  {}  {:<26} {:<12} {:<15} {}",
                    e.id,
                    when(e.at),
                    e.kind,
                    e.user.as_deref().unwrap_or("-"),
                    e.source.as_deref().unwrap_or("-"),
                    if e.detail.is_null() { String::new() } else { e.detail.to_string() }
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    });
    Ok(())
}

fn device_json(d: &noegle_core::device::Device, user_id: Option<&str>) -> Value {
    json!({
        "serial": d.serial, "user_id": user_id, "name": d.name, "platform": d.platform, "os_version": d.os_version,
        "status": d.status, "created_at": d.created_at.0, "ready_at": d.ready_at().0, "expires_at": d.expires_at.0,
        "activated_at": d.activated_at.map(|t| t.0), "revoked_by": d.revoked_by,
    })
}

fn device_line(d: &noegle_core::device::Device) -> String {
    format!("{}  {:<12}  {:<8} {:<8} {}", d.serial, device_state(d), d.platform, d.os_version, d.name)
}

/// A device's state for people: a revoked one says who took it off.
fn device_state(d: &noegle_core::device::Device) -> &'static str {
    use noegle_core::device::RevokedBy;
    match d.revoked_by {
        Some(RevokedBy::User) => "deregistered",
        Some(RevokedBy::OtherDevice) => "stopped",
        Some(RevokedBy::Operator) | None => d.status.as_str(),
    }
}

async fn device_by_serial(state: &AppState, serial: &str) -> anyhow::Result<noegle_core::device::Device> {
    state.store.device_by_serial(serial.trim()).await?.with_context(|| format!("no key app with serial {serial}"))
}

/// `noegle device …`.
pub async fn device(state: &AppState, cmd: DeviceCommand) -> anyhow::Result<()> {
    match cmd {
        DeviceCommand::List { user_id, out } => {
            let u = accounts::find_user(ctx(state), &user_id).await.map_err(account)?;
            let devices = state.store.devices_of(&u.sub).await?;
            let v: Value = devices.iter().map(|d| device_json(d, Some(u.user_id.as_str()))).collect();
            emit(out, v, || {
                if devices.is_empty() {
                    format!("{} has no key apps", u.user_id)
                } else {
                    devices.iter().map(device_line).collect::<Vec<_>>().join("\n")
                }
            });
        }
        DeviceCommand::Revoke { serial, out } => {
            let d = device_by_serial(state, &serial).await?;
            if !noegle_core::device::revoke(
                ctx(state),
                &d,
                noegle_core::device::RevokedBy::Operator,
                "revoked by support",
            )
            .await?
            {
                bail!("key app {} is already {}", d.serial, device_state(&d));
            }
            emit(out, json!({ "serial": d.serial, "status": "revoked" }), || format!("revoked key app {}", d.serial));
        }
    }
    Ok(())
}

/// `noegle support …`.
pub async fn support(state: &AppState, cmd: SupportCommand) -> anyhow::Result<()> {
    match cmd {
        SupportCommand::Lookup { serial, out } => {
            let d = device_by_serial(state, &serial).await?;
            let user = state.store.user_by_sub(&d.sub).await?;
            let user_id = user.as_ref().map(|u| u.user_id.to_string());
            let mut v = device_json(&d, user_id.as_deref());
            v["user_blocked"] = json!(user.as_ref().map(|u| u.blocked));
            v["user_failed_attempts"] = json!(user.as_ref().map(|u| u.failed_attempts));
            emit(out, v, || {
                format!(
                    "{}\nuser: {}  (failures in a row: {})",
                    device_line(&d),
                    user_id.as_deref().unwrap_or("-"),
                    user.as_ref().map_or(0, |u| u.failed_attempts)
                )
            });
        }
    }
    Ok(())
}

/// `noegle keys …`.
pub async fn keys(state: &AppState, cmd: KeysCommand) -> anyhow::Result<()> {
    let now = state.now();
    match cmd {
        KeysCommand::List { out } => {
            let keys = state.signer.schedule(now);
            emit(out, json!(keys), || {
                keys.iter()
                    .map(|k| {
                        let from = if k.not_before == 0 {
                            "the start".to_string()
                        } else {
                            when(noegle_core::UnixTime(k.not_before))
                        };
                        format!("{}  {:<9}  signs from {from}", k.kid, json!(k.state).as_str().unwrap_or(""))
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        KeysCommand::Rotate { lead_secs, out } => {
            let lead = lead_secs.unwrap_or(state.config.signing_key_lead_secs);
            let from = now.plus(lead);
            let path = noegle_server::secrets::add_signing_key(&state.config.data_dir, from.0)?;
            noegle_server::reload_signing_keys(state)?;
            let added = state.signer.schedule(now).into_iter().find(|k| k.not_before == from.0);
            let kid = added.map(|k| k.kid).unwrap_or_default();
            let detail = json!({ "kid": kid, "signs_from": from.0 });
            ctx(state).audit(noegle_core::audit::AuditKind::SigningKeyAdded, None, detail).await?;
            emit(out, json!({ "kid": kid, "signs_from": from.0, "file": path }), || {
                format!(
                    "new signing key {kid}: published now, signs from {}; copy {} to every node's data directory",
                    when(from),
                    path.display()
                )
            });
        }
    }
    Ok(())
}
