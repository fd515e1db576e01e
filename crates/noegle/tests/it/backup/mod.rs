//! `noegle backup` of a live SQLite node under load, restored into a fresh data directory: the same user logs
//! in with her next key, and a key used before the backup stays used (S-DURABLE, SEC-5). A restore refuses
//! every archive it cannot check whole — cut off, linked, duplicated, sparse, oversized, changed, lacking the
//! database or a secret, of the old format — and any target that is not empty, and leaves the target as it
//! was; a big database backs up and restores in little memory.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use noegle_core::keycard::ClearCard;
use noegle_testkit::{Browser, PASSWORD};
use serde_json::json;
use sha2::{Digest, Sha256};
use tar::{EntryType, Header};

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

// A restore refuses every archive it cannot check whole, and leaves the target as it was.

const SECRETS: [&str; 4] = ["oidc-signing-key.pem", "keycard-pepper.key", "opaque-server-setup.bin", "vapid.key"];
const PEPPER: &str = "secrets/keycard-pepper.key";
/// The bound on a backup's or a restore's peak RSS, whatever the archive holds.
const SMALL_KIB: u64 = 64 * 1024;

/// One entry of an archive as written: its header and its bytes (small archives only).
type Entry = (Header, Vec<u8>);

/// The entries of the archive `file` as written (no long name or sparse map expanded).
fn entries(file: &Path) -> Vec<Entry> {
    let mut archive = tar::Archive::new(std::fs::File::open(file).unwrap());
    let mut all = Vec::new();
    for entry in archive.entries().unwrap().raw(true) {
        let mut entry = entry.unwrap();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        all.push((entry.header().clone(), bytes));
    }
    all
}

fn name(entry: &Entry) -> String {
    entry.0.path().unwrap().to_string_lossy().into_owned()
}

/// Writes `entries` as a tar archive to `file`; `cut` leaves off the two zero blocks that end an archive, as a
/// copy cut off between two entries does.
fn write_tar(file: &Path, entries: &[Entry], cut: bool) {
    let mut builder = tar::Builder::new(std::fs::File::create(file).unwrap());
    for (header, bytes) in entries {
        builder.append(header, &bytes[..]).unwrap();
    }
    let f = builder.into_inner().unwrap();
    if cut {
        f.set_len(f.metadata().unwrap().len() - 1024).unwrap();
    }
}

/// A regular entry `name` holding `bytes`.
fn regular(name: &str, bytes: &[u8]) -> Entry {
    let mut header = Header::new_gnu();
    header.set_path(name).unwrap();
    header.set_size(bytes.len() as u64);
    header.set_mode(0o600);
    header.set_cksum();
    (header, bytes.to_vec())
}

/// An entry `name` of the type `kind` (a link or a device) pointing at `target`.
fn special(name: &str, kind: EntryType, target: &str) -> Entry {
    let mut header = Header::new_gnu();
    header.set_path(name).unwrap();
    header.set_entry_type(kind);
    if !target.is_empty() {
        header.set_link_name(target).unwrap();
    }
    header.set_size(0);
    header.set_mode(0o644);
    header.set_cksum();
    (header, Vec::new())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The manifest of a SQLite node's archive of format `format` listing `listed` (name, size, bytes' SHA-256).
fn manifest(format: u32, listed: &[Entry]) -> Entry {
    let entries: Vec<_> = listed
        .iter()
        .map(|e| json!({ "name": name(e), "size": e.1.len(), "sha256": hex(&Sha256::digest(&e.1)) }))
        .collect();
    let manifest = json!({ "format": format, "noegle": "test", "database": "sqlite", "entries": entries });
    regular("MANIFEST.json", manifest.to_string().as_bytes())
}

/// A data directory `tmp/a` with alice, her card and a rotated signing key; answers it and its backup.
fn backed_up(tmp: &Path) -> (PathBuf, PathBuf) {
    let a = tmp.join("a");
    json(&a, None, &["user", "add", "alice", "--password-stdin", "--json"], &format!("{PASSWORD}\n"));
    json(&a, None, &["keycard", "issue", "alice", "--json"], "");
    json(&a, None, &["keys", "rotate", "--json"], "");
    let file = tmp.join("backup.tar");
    let out = noegle(&a, None, &["backup", file.to_str().unwrap()], "");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    (a, file)
}

/// Restores `archive` into a data directory that does not exist (nor the two above it), then into an empty one
/// of mode 0755: both must fail naming `why` and leave everything as it was (absent, with no directory above
/// it; empty, with its mode).
fn refused(tmp: &Path, archive: &Path, why: &str) {
    let above = tmp.join("absent");
    let absent = above.join("srv").join("data");
    let e = fails(&absent, &["restore", archive.to_str().unwrap()], "");
    assert!(e.contains(why), "{}: wanted {why:?} in {e}", archive.display());
    assert!(!above.exists(), "{}: a refused restore leaves no directory behind, nor above it", archive.display());
    let empty = tmp.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    std::fs::set_permissions(&empty, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let e = fails(&empty, &["restore", archive.to_str().unwrap()], "");
    assert!(e.contains(why), "{}: wanted {why:?} in {e}", archive.display());
    let left: Vec<_> = std::fs::read_dir(&empty).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.is_empty(), "{}: a refused restore leaves nothing behind: {left:?}", archive.display());
    assert_eq!(mode(&empty), 0o755, "{}: a refused restore gives the directory its mode back", archive.display());
}

/// An entry `name` written into the header as it is: `..` and absolute paths too, which `Header::set_path`
/// refuses to write.
fn named_as_is(name: &str, bytes: &[u8]) -> Entry {
    let (mut header, bytes) = regular("placeholder", bytes);
    let field = &mut header.as_gnu_mut().unwrap().name;
    field.fill(0);
    field[..name.len()].copy_from_slice(name.as_bytes());
    header.set_cksum();
    (header, bytes)
}

/// The permission bits of `path`.
fn mode(path: &Path) -> u32 {
    std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(path).unwrap().permissions()) & 0o777
}

mod archives;
mod limits;
