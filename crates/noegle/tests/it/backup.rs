//! Issue 11: `noegle backup` of a live SQLite node under load, restored into a fresh data directory: the
//! same user logs in with her next key, and a key used before the backup stays used.

use noegle_core::keycard::ClearCard;
use noegle_testkit::{Browser, PASSWORD};

use crate::{authorize_url, fails, free_port, json, noegle, serve};

/// The key numbers of `card` used in the data directory `dir`'s database.
async fn used(dir: &std::path::Path, card: &ClearCard) -> Vec<String> {
    let store = noegle_store::open(&noegle_store::testing::sqlite_url(dir)).await.unwrap();
    let unused = store.unused_key_numbers(&card.serial).await.unwrap();
    card.keys.keys().filter(|n| !unused.contains(n)).cloned().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_of_a_live_node_restores_into_a_fresh_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    json(&a, None, &["user", "add", "alice", "--password-stdin", "--json"], &format!("{PASSWORD}\n"));
    let issued = json(&a, None, &["keycard", "issue", "alice", "--json"], "");
    let card: ClearCard = serde_json::from_value(issued).unwrap();
    let cb = "http://localhost:9999/cb";
    let client = json(&a, None, &["client", "add", "Bank", "--redirect-uri", cb, "--public", "--json"], "");
    let client_id = client["client_id"].as_str().unwrap().to_string();

    let node = serve(&a, None, free_port(), &[]).await;
    let url = authorize_url(&node.url, &client_id, cb);
    Browser::new(&node.url).log_in(&url, "alice", &card).await;
    let before = used(&a, &card).await;
    assert_eq!(before.len(), 1);

    // Log-ins go on while the backup is taken.
    let (base, url2, card2) = (node.url.clone(), url.clone(), card.clone());
    let load = tokio::spawn(async move {
        for _ in 0..6 {
            Browser::new(&base).log_in(&url2, "alice", &card2).await;
        }
    });
    let file = tmp.path().join("noegle.backup");
    let dir = a.clone();
    let file2 = file.clone();
    let out = tokio::task::spawn_blocking(move || noegle(&dir, None, &["backup", file2.to_str().unwrap()], ""))
        .await
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("backup written to"));
    load.await.unwrap();
    #[cfg(unix)]
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&file).unwrap().permissions()) & 0o777,
        0o600
    );
    let e = fails(&a, &["backup", file.to_str().unwrap()], "");
    assert!(e.contains("exists"), "an old backup is never overwritten: {e}");
    drop(node);

    // Into a directory that holds a node already: refused, nothing changed.
    let e = fails(&a, &["restore", file.to_str().unwrap()], "");
    assert!(e.contains("restore into a new data directory"), "{e}");
    let restored = json(&b, None, &["restore", file.to_str().unwrap(), "--json"], "");
    assert_eq!(restored["database"], "sqlite");
    for key in ["oidc-signing-key.pem", "keycard-pepper.key", "opaque-server-setup.bin", "vapid.key"] {
        assert!(b.join(key).exists(), "{key} restored");
    }

    let node = serve(&b, None, free_port(), &[]).await;
    let restored_used = used(&b, &card).await;
    assert!(before.iter().all(|n| restored_used.contains(n)), "a key used before the backup stays used");
    let done = Browser::new(&node.url).log_in(&authorize_url(&node.url, &client_id, cb), "alice", &card).await;
    assert!(done.location.unwrap().starts_with(cb), "the same user logs in with her next key");
    drop(node);

    // Not a backup at all: refused, and nothing is written.
    let c = tmp.path().join("c");
    let junk = tmp.path().join("junk");
    std::fs::write(&junk, b"not an archive").unwrap();
    let e = fails(&c, &["restore", junk.to_str().unwrap()], "");
    assert!(e.contains("not a nøgle backup") || e.contains("no manifest"), "{e}");
    assert!(!c.join("noegle.sqlite").exists());
}
