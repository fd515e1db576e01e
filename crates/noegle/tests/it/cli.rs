//! The admin commands, as scripts call them.

use crate::{fails, json, noegle};

#[test]
fn users_clients_and_cards_are_managed_from_scripts() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let u = json(
        d,
        None,
        &["user", "add", "alice", "--name", "Alice Andersen", "--password-stdin", "--json"],
        "korrekt hest batteri\n",
    );
    assert_eq!(u["user_id"], "alice");
    assert_eq!(u["name"], "Alice Andersen");
    assert_eq!(u["blocked"], false);

    let e = fails(d, &["user", "add", "alice", "--password-stdin"], "another password\n");
    assert!(e.contains("user alice already exists"), "{e}");
    let e = fails(d, &["user", "add", "bob"], "");
    assert!(e.contains("--password-stdin"), "{e}");
    let e = fails(d, &["user", "add", "Bo b", "--password-stdin"], "korrekt hest batteri\n");
    assert!(e.contains("invalid user ID"), "{e}");
    let e = fails(d, &["user", "add", "bob", "--password-stdin"], "short\n");
    assert!(e.contains("at least 8 characters"), "{e}");
    let e = fails(d, &["user", "show", "nobody"], "");
    assert!(e.contains("user nobody not found"), "{e}");

    let c = json(d, None, &["client", "add", "Demo Bank", "--redirect-uri", "https://bank.example/cb", "--json"], "");
    assert!(c["client_id"].as_str().unwrap().starts_with("c-"));
    assert!(c["client_secret"].as_str().unwrap().len() >= 43);
    let e = fails(d, &["client", "add", "Evil", "--redirect-uri", "http://evil.example/cb"], "");
    assert!(e.contains("plain http is allowed only to localhost"), "{e}");
    let list = json(d, None, &["client", "list", "--json"], "");
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert!(list[0].get("client_secret").is_none(), "secrets are shown once only");

    let card =
        json(d, None, &["keycard", "issue", "alice", "--pdf", d.join("alice.pdf").to_str().unwrap(), "--json"], "");
    assert_eq!(card["keys"].as_object().unwrap().len(), 148);
    let status = json(d, None, &["keycard", "status", "alice", "--json"], "");
    assert_eq!(status["key_cards"][0]["unused_keys"], 148);
    assert_eq!(status["key_cards"][0]["status"], "active");

    let blocked = json(d, None, &["user", "block", "alice", "--json"], "");
    assert_eq!(blocked["blocked"], true);
    let shown = json(d, None, &["user", "show", "alice", "--json"], "");
    assert_eq!(shown["blocked"], true);
    assert_eq!(shown["key_cards"][0]["serial"], card["serial"]);
    json(d, None, &["user", "unblock", "alice", "--json"], "");
    json(d, None, &["user", "set-password", "alice", "--password-stdin", "--json"], "et helt nyt kodeord\n");

    let audit = json(d, None, &["audit", "--user", "alice", "--json"], "");
    let kinds: Vec<&str> = audit.as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["user_created", "keycard_issued", "user_blocked", "user_unblocked", "password_set"]);
    assert!(audit.as_array().unwrap().iter().all(|e| e["source"] == "cli"));

    json(d, None, &["client", "remove", c["client_id"].as_str().unwrap(), "--json"], "");
    let e = fails(d, &["client", "remove", c["client_id"].as_str().unwrap()], "");
    assert!(e.contains("not found"), "{e}");
    let out = noegle(d, None, &["user", "show", "alice"], "");
    assert!(String::from_utf8_lossy(&out.stdout).contains("status:   active"));
    let text = String::from_utf8(noegle(d, None, &["audit", "--user", "alice"], "").stdout).unwrap();
    let first = text.lines().next().unwrap();
    assert!(first.contains(" UTC  user_created"), "times for people: {first}");
    let text = String::from_utf8(noegle(d, None, &["keycard", "status", "alice"], "").stdout).unwrap();
    assert!(text.contains("148 unused keys  issued 20"), "{text}");
}

/// An operator's command says nothing it need not (I-ADMIN): no ERROR about WebAuthn when the public URL is
/// an IP address, no colour codes into a file; and a key card's PDF goes to the data directory's outbox, not
/// wherever the operator stands, with its path printed.
#[test]
fn operator_commands_are_quiet_and_put_the_card_in_the_outbox() {
    let dir = tempfile::tempdir().unwrap();
    let (d, here) = (dir.path().join("data"), dir.path().join("here"));
    std::fs::create_dir_all(&here).unwrap();
    let run = |args: &[&str], stdin: &str| {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_noegle"))
            .args(args)
            .current_dir(&here)
            .env("NOEGLE_DATA_DIR", &d)
            .env("NOEGLE_PUBLIC_URL", "http://127.0.0.1:8080")
            .env_remove("NOEGLE_DATABASE")
            .env_remove("NOEGLE_CONFIG")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), stdin.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    };
    let out = run(&["user", "add", "alice", "--password-stdin"], "korrekt hest batteri\n");
    assert!(out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.is_empty(), "nothing to say about WebAuthn or anything else: {err:?}");
    let out = run(&["keycard", "issue", "alice"], "");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (text, err) = (String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap());
    assert!(!err.contains('\u{1b}') && !err.contains("ERROR"), "{err:?}");
    let pdf = d.join("outbox").read_dir().unwrap().next().unwrap().unwrap().path();
    assert!(pdf.file_name().unwrap().to_str().unwrap().starts_with("keycard-alice-"), "{}", pdf.display());
    assert!(text.contains(&pdf.display().to_string()), "the path is printed: {text}");
    assert_eq!(here.read_dir().unwrap().count(), 0, "nothing is left where the operator stands");
    // A failing command's message has no colour codes either.
    let out = run(&["user", "show", "nobody"], "");
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(!out.status.success() && !err.contains('\u{1b}'), "{err:?}");
}

#[test]
fn bad_settings_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let e = fails(dir.path(), &["--database", "mysql://x", "client", "list"], "");
    assert!(e.contains("database must start with sqlite:// or postgres://"), "{e}");
    let cfg = dir.path().join("n.toml");
    std::fs::write(&cfg, "bind = 5\n").unwrap();
    let e = fails(dir.path(), &["--config", cfg.to_str().unwrap(), "client", "list"], "");
    assert!(e.contains("n.toml"), "{e}");
}

#[tokio::test]
async fn support_finds_and_revokes_a_key_app_by_serial() {
    use noegle_core::device::{Device, DeviceStatus};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let u = json(d, None, &["user", "add", "alice", "--password-stdin", "--json"], "korrekt hest batteri\n");
    let store = noegle_store::open(&noegle_store::testing::sqlite_url(d)).await.unwrap();
    let device = Device {
        device_id: "d-test".into(),
        serial: "1234-5678-9012".into(),
        sub: u["sub"].as_str().unwrap().into(),
        public_key: vec![4; 65],
        platform: noegle_core::device::Platform::Android,
        os_version: "14".into(),
        name: "Alices telefon".into(),
        status: DeviceStatus::Pending,
        created_at: noegle_core::UnixTime(1),
        second_login_from: noegle_core::UnixTime(2),
        cooling_off_until: None,
        expires_at: noegle_core::UnixTime(3),
        activated_at: None,
        revoked_by: None,
    };
    store.insert_device(&device).await.unwrap();
    // A second one the user deregistered from the app (told apart from a revoked one, R-APP6).
    let (id, serial, at) = ("d-gone".into(), "2222-3333-4444".into(), noegle_core::UnixTime(5));
    let gone = Device { device_id: id, serial, name: "Gammel".into(), created_at: at, ..device.clone() };
    store.insert_device(&gone).await.unwrap();
    assert!(store.revoke_device(&gone.device_id, noegle_core::device::RevokedBy::User).await.unwrap());
    drop(store);

    let list = json(d, None, &["device", "list", "alice", "--json"], "");
    assert_eq!(list[0]["name"], "Alices telefon");
    let found = json(d, None, &["support", "lookup", "1234-5678-9012", "--json"], "");
    assert_eq!(found["user_id"], "alice");
    assert_eq!(found["status"], "pending");
    let e = fails(d, &["support", "lookup", "0000-0000-0000"], "");
    assert!(e.contains("no key app with serial 0000-0000-0000"), "{e}");
    let revoked = json(d, None, &["device", "revoke", "1234-5678-9012", "--json"], "");
    assert_eq!(revoked["status"], "revoked");
    let e = fails(d, &["device", "revoke", "1234-5678-9012"], "");
    assert!(e.contains("already revoked"), "{e}");
    let e = fails(d, &["device", "revoke", "2222-3333-4444"], "");
    assert!(e.contains("already deregistered"), "{e}");
    let text = String::from_utf8(noegle(d, None, &["device", "list", "alice"], "").stdout).unwrap();
    let state = |serial: &str| text.lines().find(|l| l.starts_with(serial)).unwrap().split_whitespace().nth(1).unwrap();
    assert_eq!((state("1234-5678-9012"), state("2222-3333-4444")), ("revoked", "deregistered"), "{text}");
    let list = json(d, None, &["device", "list", "alice", "--json"], "");
    assert_eq!(
        (&list[0]["revoked_by"], &list[1]["revoked_by"]),
        (&serde_json::json!("operator"), &serde_json::json!("user"))
    );
    let audit = json(d, None, &["audit", "--user", "alice", "--json"], "");
    assert!(audit.as_array().unwrap().iter().any(|e| e["kind"] == "device_revoked"));
}

/// A device stored with escape codes in its name and OS version (by an older version, or written past the
/// API) reaches the operator's terminal as visible escapes, never as commands.
#[tokio::test]
async fn operator_output_shows_escape_codes_instead_of_obeying_them() {
    use noegle_core::device::{Device, DeviceStatus};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let u = json(d, None, &["user", "add", "mallory", "--password-stdin", "--json"], "korrekt hest batteri\n");
    let store = noegle_store::open(&noegle_store::testing::sqlite_url(d)).await.unwrap();
    let forged = "\u{1b}[2J\u{1b}[H1111-2222-3333  active    ios      17  Bankens telefon";
    store
        .insert_device(&Device {
            device_id: "d-evil".into(),
            serial: "9999-8888-7777".into(),
            sub: u["sub"].as_str().unwrap().into(),
            public_key: vec![4; 65],
            platform: noegle_core::device::Platform::Web,
            os_version: "1\u{9b}31m".into(),
            name: format!("{forged}\u{202e}"),
            status: DeviceStatus::Active,
            created_at: noegle_core::UnixTime(1),
            second_login_from: noegle_core::UnixTime(2),
            cooling_off_until: None,
            expires_at: noegle_core::UnixTime(3),
            activated_at: Some(noegle_core::UnixTime(2)),
            revoked_by: None,
        })
        .await
        .unwrap();
    drop(store);
    for args in [&["device", "list", "mallory"][..], &["device", "list", "mallory", "--json"][..]] {
        let out = noegle(d, None, args, "");
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        for raw in ['\u{1b}', '\u{9b}', '\u{202e}'] {
            assert!(!text.contains(raw), "{args:?} printed {raw:?} raw: {text:?}");
        }
        assert_eq!(text.lines().count() > 1, args.contains(&"--json"), "no forged second line: {text:?}");
    }
    let list = json(d, None, &["device", "list", "mallory", "--json"], "");
    assert!(list[0]["name"].as_str().unwrap().starts_with('\u{1b}'), "scripts still get the stored value");
}

/// `noegle keys rotate` adds a signing key that signs after the lead time; `keys list` shows where each
/// stands; the rotation is audited.
#[test]
fn signing_keys_are_rotated_with_a_lead_time() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let list = json(d, None, &["keys", "list", "--json"], "");
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["state"], "signing");
    let added = json(d, None, &["keys", "rotate", "--lead-secs", "3600", "--json"], "");
    assert!(added["file"].as_str().unwrap().ends_with(&format!("oidc-signing-key.{}.pem", added["signs_from"])));
    let list = json(d, None, &["keys", "list", "--json"], "");
    let states: Vec<&str> = list.as_array().unwrap().iter().map(|k| k["state"].as_str().unwrap()).collect();
    assert_eq!(states, ["signing", "next"]);
    assert_eq!(list[1]["kid"], added["kid"]);
    let e = fails(d, &["keys", "rotate", "--lead-secs", "99999999"], "");
    assert!(e.contains("99999999") && e.contains("0..=2592000"), "{e}");
    assert_eq!(json(d, None, &["keys", "list", "--json"], "").as_array().unwrap().len(), 2, "nothing added");
    let audit = json(d, None, &["audit", "--json"], "");
    assert!(
        audit
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "signing_key_added" && e["detail"]["kid"] == added["kid"])
    );
}
