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
        platform: "android".into(),
        os_version: "14".into(),
        name: "Alices telefon".into(),
        status: DeviceStatus::Pending,
        created_at: noegle_core::UnixTime(1),
        ready_at: noegle_core::UnixTime(2),
        expires_at: noegle_core::UnixTime(3),
        activated_at: None,
    };
    store.insert_device(&device).await.unwrap();
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
    let audit = json(d, None, &["audit", "--user", "alice", "--json"], "");
    assert!(audit.as_array().unwrap().iter().any(|e| e["kind"] == "device_revoked"));
}

/// Issue 9, finding 5: a device stored with escape codes in its name and OS version (by an older version,
/// or written past the API) reaches the operator's terminal as visible escapes, never as commands.
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
            platform: "web".into(),
            os_version: "1\u{9b}31m".into(),
            name: format!("{forged}\u{202e}"),
            status: DeviceStatus::Active,
            created_at: noegle_core::UnixTime(1),
            ready_at: noegle_core::UnixTime(2),
            expires_at: noegle_core::UnixTime(3),
            activated_at: Some(noegle_core::UnixTime(2)),
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
