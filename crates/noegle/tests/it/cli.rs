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
