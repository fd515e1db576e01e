//! The interactive key app: the phone app's screens in a terminal (R-APP4–R-APP7). Type a letter and Enter:
//! `?` help for the screen you are on, `i` settings (the gear), `o` "Opdater", `q` close. A pending request
//! arrives live; type the 2-digit code the log-in box shows to approve ("Godkend"), or `a` for "AFVIS".

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use noegle_client::api::Answer;
use noegle_client::api::{About, Request, next_event};
use noegle_client::{AppClient, DeviceState};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::mpsc;

#[derive(Clone)]
enum Screen {
    Locked(Option<String>),
    NewCode(Option<String>),
    RepeatCode(String),
    Deregister,
    Home(Option<String>),
    Request(Request, Option<String>),
    Confirm(Request),
    Receipt(&'static str),
    Settings(Option<String>),
    Text(&'static str, String),
}

fn clock(ts: i64) -> String {
    let s = ts.rem_euclid(86_400);
    format!("{:02}:{:02}:{:02} UTC", s / 3600, s % 3600 / 60, s % 60)
}

/// A length of time in Danish words: "et minut", "5 minutter", "en time", "2 timer".
fn in_words(secs: i64) -> String {
    match secs.max(0).unsigned_abs().div_ceil(60) {
        0 | 1 => "et minut".into(),
        60 => "en time".into(),
        m if m % 60 == 0 => format!("{} timer", m / 60),
        m => format!("{m} minutter"),
    }
}

/// The help of `screen`, with the numbers the server told in `about`.
fn help(screen: &Screen, about: &About) -> String {
    match screen {
        Screen::Locked(_) => format!(
            "Indtast den firecifrede kode, du valgte, da du aktiverede nøgleappen. Efter {} forkerte koder \
            spærres appen; brug da `noegleapp forgot-code` (Glemt kode) med bruger-id, adgangskode og en nøgle fra dit nøglekort.",
            about.code_attempts
        ),
        Screen::Home(_) => format!(
            "Her vises anmodninger, når du logger på med din nøgleapp. Vises der ingen, så tryk o (Opdater). \
            Appen låser altid efter {}.",
            in_words(about.app_session_secs)
        ),
        Screen::Request(..) | Screen::Confirm(_) => {
            "Kontrollér tjenesten og handlingen. Indtast den 2-cifrede kode, som \
            log-in-boksen viser, for at godkende. Var det ikke dig, så afvis med a og vælg \"Det var ikke mig\"."
                .into()
        }
        Screen::NewCode(_) | Screen::RepeatCode(_) => {
            "Vælg en kode, der er svær at gætte: ikke 1234, 0000 eller lignende.".into()
        }
        Screen::Deregister => "Afmeld nøgleappen, før du sletter appen eller giver enheden videre.".into(),
        Screen::Settings(_) => {
            "Indstillinger: lås når appen lukker, meddelelser, skift kode, hjælp og support, vejledning, \
            serienummer (oplys det til support) og afmeld nøgleapp (sletter alle data her)."
                .into()
        }
        _ => "Tryk Enter for at gå tilbage.".into(),
    }
}

const GUIDE: &str = "1. Når du logger på med NemID, vælger du at sende en anmodning til nøgleappen.\n\
    2. Åbn nøgleappen, og indtast din kode.\n\
    3. Kontrollér anmodningen, og indtast koden fra log-in-boksen for at godkende.\n\
    4. Du får en kvittering; vend tilbage til det sted, hvor du var.";

const SUPPORT: &str = "Kontakt din NemID-support. Oplys nøgleappens serienummer (Indstillinger → Serienummer), så \
    supporten kan finde din enhed. Support beder dig aldrig om din kode eller dine nøgler.";

fn render(screen: &Screen, state: &DeviceState) {
    let mut out = String::from("\x1b[2J\x1b[H");
    out.push_str("⚙ Indstillinger (i)            nøgleapp            Hjælp (?)\n");
    out.push_str("──────────────────────────────────────────────────────────\n");
    let (body, keys) = match screen {
        Screen::Locked(msg) => (
            format!("Indtast din firecifrede kode{}", msg.as_ref().map(|m| format!("\n\n{m}")).unwrap_or_default()),
            "kode + Enter · ? hjælp · q luk",
        ),
        Screen::Home(msg) => (
            format!("Klar til opdateringer{}", msg.as_ref().map(|m| format!("\n\n{m}")).unwrap_or_default()),
            "o Opdater · i Indstillinger · ? Hjælp · q Luk",
        ),
        Screen::Request(r, msg) => (
            format!(
                "Anmodning fra {}\n\n  {}\n  Tidspunkt: {}\n  Udløber: {}\n\n{}{}",
                r.client_name,
                r.action,
                clock(r.created_at),
                clock(r.expires_at),
                if r.match_code_required {
                    "Indtast koden fra log-in-boksen for at godkende (Godkend →)".to_string()
                } else {
                    format!("Kode: {} — tryk g for at godkende (Godkend →)", r.match_code.clone().unwrap_or_default())
                },
                msg.as_ref().map(|m| format!("\n\n{m}")).unwrap_or_default()
            ),
            "kode + Enter Godkend · a AFVIS · o Opdater · ? Hjælp",
        ),
        Screen::Confirm(r) => {
            (format!("Vil du afvise anmodningen fra {}?", r.client_name), "a AFVIS · n Det var ikke mig · t Tilbage")
        }
        Screen::Receipt(text) => (text.to_string(), "Enter OK"),
        Screen::NewCode(msg) => (
            format!("Skift kode for nøgleapp\n\nVælg en ny firecifret kode{}", msg.as_ref().map(|m| format!("\n\n{m}")).unwrap_or_default()),
            "kode + Enter · t Tilbage",
        ),
        Screen::RepeatCode(_) => ("Skift kode for nøgleapp\n\nGentag den nye kode".to_string(), "kode + Enter · t Tilbage"),
        Screen::Deregister => (
            "Afmeld nøgleapp\n\nNøgleappen afmeldes i systemet, og alle data på denne enhed slettes.\nDu skal aktivere den igen med dit nøglekort for at bruge den.".to_string(),
            "j Afmeld · t Tilbage",
        ),
        Screen::Settings(msg) => (
            format!(
                "Indstillinger\n\n 1 Lås når appen lukker: {}\n 2 Meddelelser: {}\n 3 Skift kode for nøgleapp\n \
                 4 Hjælp og NemID support\n 5 Vis vejledning\n 6 Serienummer\n 7 Afmeld nøgleapp{}",
                if state.lock_on_close { "til" } else { "fra" },
                if state.notifications { "til" } else { "fra" },
                msg.as_ref().map(|m| format!("\n\n{m}")).unwrap_or_default()
            ),
            "1–7 · t Tilbage · ? Hjælp",
        ),
        Screen::Text(title, text) => (format!("{title}\n\n{text}"), "Enter Tilbage"),
    };
    out.push_str(&body);
    out.push_str("\n──────────────────────────────────────────────────────────\n");
    out.push_str(keys);
    out.push_str("\n> ");
    print!("{out}");
    use std::io::Write;
    std::io::stdout().flush().ok();
}

#[allow(clippy::disallowed_methods)] // the lock timer runs on the device's own clock, at the edge
fn now() -> Instant {
    Instant::now()
}

/// Runs the interactive app until the user closes it.
pub async fn run(dir: &Path, local_now: fn() -> i64) -> anyhow::Result<()> {
    let state = DeviceState::load(dir)?;
    if state.status.as_deref() != Some("active") || state.sealed_key.is_none() {
        anyhow::bail!("this key app is not activated yet: run `noegleapp activate start` and `activate complete`");
    }
    let mut app = AppClient::new(state, Box::new(local_now));
    // How long an unlocked app stays open, and what the texts say of it, as the server has it (R-APP4).
    let about = app.about().await.map_err(|e| anyhow::anyhow!("{}", e.message)).context("the server's /about")?;
    let lock_after = Duration::from_secs(u64::try_from(about.app_session_secs).unwrap_or(0));
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let (tx, mut events) = mpsc::channel::<String>(8);
    let mut listener: Option<tokio::task::JoinHandle<()>> = None;
    let mut unlocked_at: Option<Instant> = None;
    let mut screen = Screen::Locked(None);
    let mut back = Screen::Home(None);
    loop {
        render(&screen, &app.state);
        let deadline = unlocked_at.map(|t| t + lock_after);
        let input = tokio::select! {
            line = lines.next_line() => match line? { Some(l) => l.trim().to_string(), None => "q".into() },
            Some(_) = events.recv() => "o".into(),
            _ = async { match deadline { Some(d) => tokio::time::sleep_until(d.into()).await, None => std::future::pending().await } } => {
                app.lock().await;
                if let Some(l) = listener.take() { l.abort(); }
                unlocked_at = None;
                screen = Screen::Locked(Some(format!("Appen er låst efter {}.", in_words(about.app_session_secs))));
                continue;
            }
        };
        if input == "q" {
            if app.state.lock_on_close || unlocked_at.is_none() {
                app.lock().await;
            }
            if let Some(l) = listener.take() {
                l.abort();
            }
            println!();
            return Ok(());
        }
        if input == "?" {
            if !matches!(screen, Screen::Text(..)) {
                back = screen.clone();
            }
            screen = Screen::Text("Hjælp", help(&screen, &about));
            continue;
        }
        screen = match screen {
            Screen::Locked(_) => match app.unlock(&input).await {
                Ok(()) => {
                    unlocked_at = Some(now());
                    // The unlock token a key app set up before them was just given.
                    app.state.save(dir)?;
                    if app.state.notifications {
                        let response = app.open_events().await?;
                        let tx = tx.clone();
                        listener = Some(tokio::spawn(async move {
                            let mut response = response;
                            let mut buffer = String::new();
                            while let Some(e) = next_event(&mut response, &mut buffer).await {
                                if e == "request" && tx.send(e).await.is_err() {
                                    break;
                                }
                            }
                        }));
                    }
                    refresh(&mut app).await
                }
                Err(e) if e.code == "wrong_code" => {
                    let left = e.remaining().map(|n| format!(" ({n} forsøg tilbage)")).unwrap_or_default();
                    Screen::Locked(Some(format!("Forkert kode{left}.")))
                }
                Err(e) => Screen::Locked(Some(e.message)),
            },
            Screen::Home(_) => match input.as_str() {
                "i" => Screen::Settings(None),
                _ => refresh(&mut app).await,
            },
            Screen::Request(r, _) => match input.as_str() {
                "a" => Screen::Confirm(r),
                "i" => Screen::Settings(None),
                "o" => refresh(&mut app).await,
                code => {
                    let typed = if r.match_code_required { Some(code.to_string()) } else { r.match_code.clone() };
                    if r.match_code_required && !(code.len() == 2 && code.bytes().all(|b| b.is_ascii_digit())) {
                        Screen::Request(r, Some("Indtast de 2 cifre, som log-in-boksen viser.".into()))
                    } else {
                        match app.decide(&r, Answer::Approve { match_code: typed.as_deref() }).await {
                            Ok(_) => Screen::Receipt(
                                "Godkendelsen er modtaget.\n\nDu kan nu vende tilbage til det sted, hvor du var ved at udføre en handling.",
                            ),
                            Err(e) if e.code == "wrong_match_code" => {
                                Screen::Request(r, Some("Koden passer ikke til log-in-boksen. Prøv igen.".into()))
                            }
                            Err(e) => Screen::Home(Some(e.message)),
                        }
                    }
                }
            },
            Screen::Confirm(r) => match input.as_str() {
                "a" | "n" => match app.decide(&r, Answer::Reject { not_me: input == "n" }).await {
                    Ok(_) if input == "n" => Screen::Receipt(
                        "Anmodningen er afvist. Vi har registreret, at det ikke var dig, og sætter anmodninger på pause et stykke tid.",
                    ),
                    Ok(_) => Screen::Receipt("Anmodningen er afvist."),
                    Err(e) => Screen::Home(Some(e.message)),
                },
                _ => Screen::Request(r, None),
            },
            Screen::Receipt(_) => refresh(&mut app).await,
            Screen::NewCode(_) if input == "t" => Screen::Settings(None),
            Screen::NewCode(_) => match noegle_client::appcode_check(&input) {
                Ok(()) => Screen::RepeatCode(input),
                Err(e) => Screen::NewCode(Some(e.to_string())),
            },
            Screen::RepeatCode(_) if input == "t" => Screen::Settings(None),
            Screen::RepeatCode(first) if first != input => {
                Screen::NewCode(Some("De to koder er forskellige. Prøv igen.".into()))
            }
            Screen::RepeatCode(code) => match app.change_code(&code).await {
                Ok(()) => {
                    app.state.save(dir)?;
                    Screen::Receipt("Koden er ændret.")
                }
                Err(e) => Screen::Settings(Some(e.message)),
            },
            Screen::Deregister if input == "j" => {
                app.deregister().await.map_err(|e| anyhow::anyhow!("{}", e.message))?;
                DeviceState::wipe(dir)?;
                if let Some(l) = listener.take() {
                    l.abort();
                }
                println!("\nNøgleappen er afmeldt, og alle data på enheden er slettet.");
                return Ok(());
            }
            Screen::Deregister => Screen::Settings(None),
            Screen::Text(..) => std::mem::replace(&mut back, Screen::Home(None)),
            Screen::Settings(_) => match input.as_str() {
                "1" => {
                    app.state.lock_on_close = !app.state.lock_on_close;
                    app.state.save(dir)?;
                    Screen::Settings(Some(format!(
                        "Gemt. Appen låser altid efter {}.",
                        in_words(about.app_session_secs)
                    )))
                }
                "2" => {
                    app.state.notifications = !app.state.notifications;
                    app.state.save(dir)?;
                    Screen::Settings(Some("Gemt. Anmodninger kan altid hentes med Opdater.".into()))
                }
                "3" => Screen::NewCode(None),
                "4" => {
                    back = Screen::Settings(None);
                    Screen::Text("Hjælp og NemID support", SUPPORT.into())
                }
                "5" => {
                    back = Screen::Settings(None);
                    Screen::Text("Vejledning", GUIDE.into())
                }
                "6" => {
                    back = Screen::Settings(None);
                    Screen::Text("Serienummer", app.state.serial.clone().unwrap_or_default())
                }
                "7" => Screen::Deregister,
                _ => refresh(&mut app).await,
            },
        };
    }
}

/// "Opdater": the first pending request, or the home screen.
async fn refresh(app: &mut AppClient) -> Screen {
    match app.requests().await.context("Opdater") {
        Ok(rs) => match rs.into_iter().next() {
            Some(r) => Screen::Request(r, None),
            None => Screen::Home(None),
        },
        Err(e) => Screen::Home(Some(format!("{e:#}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::in_words;

    #[test]
    fn a_length_of_time_is_said_in_danish_words() {
        assert_eq!(in_words(300), "5 minutter");
        assert_eq!(in_words(60), "et minut");
        assert_eq!(in_words(3600), "en time");
        assert_eq!(in_words(7200), "2 timer");
    }
}
