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

#[test]
fn restore_refuses_every_archive_it_cannot_check_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, file) = backed_up(tmp.path());
    let all = entries(&file);
    assert_eq!(name(&all[0]), "MANIFEST.json", "the manifest comes first");
    let listed: Vec<String> = serde_json::from_slice::<serde_json::Value>(&all[0].1).unwrap()["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap().to_string())
        .collect();
    let found: Vec<String> = all[1..].iter().map(name).collect();
    assert_eq!(listed, found, "the manifest lists every entry, in order");
    let at = |n: &str| all.iter().position(|e| name(e) == n).unwrap();
    let (db, pepper) = (at("noegle.sqlite"), at(PEPPER));
    assert!(
        all.iter()
            .any(|e| name(e).starts_with("secrets/oidc-signing-key.") && name(e) != "secrets/oidc-signing-key.pem")
    );
    let case = |label: &str, entries: &[Entry], cut: bool, why: &str| {
        let archive = tmp.path().join(label);
        write_tar(&archive, entries, cut);
        refused(tmp.path(), &archive, why);
    };

    // Cut off between entries: after the manifest, after the database, before the last secret.
    case("manifest-only", &all[..1], true, "incomplete");
    case("no-secrets", &all[..=db], true, "incomplete");
    case("one-short", &all[..all.len() - 1], true, "incomplete");
    // Cut off inside the database.
    write_tar(&tmp.path().join("mid-database"), &all, false);
    let mid = tmp.path().join("mid-database");
    let start: u64 = all[..db].iter().map(|(_, b)| 512 + (b.len() as u64).div_ceil(512) * 512).sum::<u64>() + 512;
    std::fs::OpenOptions::new().write(true).open(&mid).unwrap().set_len(start + 1000).unwrap();
    refused(tmp.path(), &mid, "incomplete");

    // Links and devices in place of a secret.
    let mut with = all.clone();
    with[pepper] = special(PEPPER, EntryType::Symlink, "/etc/passwd");
    case("symlink", &with, false, "symbolic link");
    with[pepper] = special(PEPPER, EntryType::Link, "noegle.sqlite");
    case("hardlink", &with, false, "hard link");
    with[pepper] = special(PEPPER, EntryType::Char, "");
    case("device", &with, false, "device");
    with[pepper] = special(PEPPER, EntryType::Directory, "");
    case("directory", &with, false, "directory");

    // A duplicated entry, an entry the manifest does not list, the manifest not first.
    let mut twice = all.clone();
    twice.push(all[pepper].clone());
    case("duplicate", &twice, false, "twice");
    let mut extra = all.clone();
    extra.push(regular("secrets/oidc-signing-key.99.pem", b"-----BEGIN PRIVATE KEY-----\n"));
    case("unlisted", &extra, false, "not in its manifest");
    let mut swapped = all.clone();
    swapped.swap(0, db);
    case("manifest-later", &swapped, false, "manifest");

    // Names that climb out of the target or start at the root: unlisted, and listed (a manifest that names
    // them itself), whether or not the name keeps the `secrets/` prefix. Nothing lands outside the target.
    let outside = tmp.path().join("escaped");
    let abs = format!("{}/keycard-pepper.key", outside.display());
    for (label, evil) in [
        ("dotdot", "../escaped/keycard-pepper.key"),
        ("secrets-dotdot", "secrets/../../escaped/keycard-pepper.key"),
        ("absolute", abs.as_str()),
        ("secrets-absolute", &format!("secrets/{abs}")),
    ] {
        let mut unlisted = all.clone();
        unlisted.push(named_as_is(evil, b"0123456789abcdef0123456789abcdef"));
        case(&format!("{label}-unlisted"), &unlisted, false, "not in its manifest");
        let mut rest: Vec<Entry> = all[1..].to_vec();
        rest[pepper - 1] = named_as_is(evil, &all[pepper].1);
        let mut listed = vec![manifest(2, &rest)];
        listed.extend(rest);
        assert_eq!(name(&listed[pepper]), evil, "the tar crate reads the name back as written");
        case(&format!("{label}-listed"), &listed, false, "which no backup of nøgle holds");
        assert!(!outside.exists(), "{label}: nothing was written outside the target");
    }

    // Bytes that are not what the manifest says: one changed, one more.
    let mut changed = all.clone();
    let last = changed[db].1.len() - 1;
    changed[db].1[last] ^= 1;
    case("changed", &changed, false, "SHA-256");
    let mut longer = all.clone();
    longer[db].1.extend_from_slice(&[0; 512]);
    let size = longer[db].1.len() as u64;
    longer[db].0.set_size(size);
    longer[db].0.set_cksum();
    case("oversized", &longer, false, "its manifest says");

    // Consistent archives that lack what a node needs: the database of a SQLite node, a secret.
    for (label, left_out, why) in [("no-database", db, "noegle.sqlite"), ("no-pepper", pepper, "keycard-pepper.key")] {
        let rest: Vec<Entry> =
            all[1..].iter().enumerate().filter(|(i, _)| i + 1 != left_out).map(|(_, e)| e.clone()).collect();
        let mut archive = vec![manifest(2, &rest)];
        archive.extend(rest);
        case(label, &archive, false, why);
    }

    // The format before the manifest listed its entries (format 1): refused, with what to do.
    let mut old = all.clone();
    old[0] = regular(
        "MANIFEST.json",
        json!({ "format": 1, "noegle": "0.1.0", "database": "sqlite" }).to_string().as_bytes(),
    );
    case("format-1", &old, false, "format 1");

    // The archive itself, restored: every file, none of the temporary ones.
    let good = tmp.path().join("good");
    let restored = json(&good, None, &["restore", file.to_str().unwrap(), "--json"], "");
    assert_eq!(restored["restored"].as_array().unwrap().len(), all.len() - 1, "{restored}");
    let mut names: Vec<String> =
        std::fs::read_dir(&good).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    let mut wanted: Vec<String> = found.iter().map(|n| n.trim_start_matches("secrets/").to_string()).collect();
    wanted.sort();
    assert_eq!(names, wanted);
    for key in SECRETS {
        assert!(good.join(key).exists());
    }
}

/// A target that holds anything — a stale rotated signing key, a note — is refused and left as it was.
#[test]
fn restore_refuses_a_target_that_holds_any_file() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, file) = backed_up(tmp.path());
    for stale in ["oidc-signing-key.1700000000.pem", "notes.txt"] {
        let target = tmp.path().join(format!("t-{stale}"));
        std::fs::create_dir_all(&target).unwrap();
        std::fs::write(target.join(stale), b"old").unwrap();
        let e = fails(&target, &["restore", file.to_str().unwrap()], "");
        assert!(e.contains(stale) && e.contains("restore into a new data directory"), "{e}");
        let left: Vec<_> = std::fs::read_dir(&target).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left, [std::ffi::OsString::from(stale)], "nothing was written");
        assert_eq!(std::fs::read(target.join(stale)).unwrap(), b"old");
    }
}

/// Runs `noegle ARGS` on `data_dir`; answers its output and its peak RSS in KiB. The test process has other
/// children (other tests' servers), so its own getrusage(RUSAGE_CHILDREN) would mix them in: python3 (on
/// every machine of the project) starts the one command and reports that child's alone.
fn noegle_peak(data_dir: &Path, args: &[&str]) -> (Output, u64) {
    let script = "import resource, subprocess, sys\n\
                  code = subprocess.run(sys.argv[1:]).returncode\n\
                  sys.stderr.write('\\npeak_rss_kib=%d\\n' % resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n\
                  sys.exit(code)";
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(env!("CARGO_BIN_EXE_noegle"))
        .args(args)
        .env("NOEGLE_DATA_DIR", data_dir)
        .env_remove("NOEGLE_DATABASE")
        .env_remove("NOEGLE_CONFIG")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let peak = stderr.lines().rev().find_map(|l| l.strip_prefix("peak_rss_kib=")).unwrap().parse().unwrap();
    (out, peak)
}

/// A 2.5 KB archive whose database entry is a sparse file of 256 MiB is refused before anything is read, in
/// little memory (the entry was once read into memory twice: 521 MiB).
#[test]
fn a_sparse_entry_is_refused_in_little_memory() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, file) = backed_up(tmp.path());
    let all = entries(&file);
    let big: u64 = 256 << 20;
    let mut header = Header::new_gnu();
    header.set_path("noegle.sqlite").unwrap();
    header.set_entry_type(EntryType::GNUSparse);
    header.set_size(512);
    header.set_mode(0o600);
    let gnu = header.as_gnu_mut().unwrap();
    gnu.set_real_size(big);
    gnu.sparse[0].set_offset(big - 512);
    gnu.sparse[0].set_length(512);
    header.set_cksum();
    let mut archive: Vec<Entry> = all.iter().filter(|e| name(e) != "noegle.sqlite").cloned().collect();
    let mut listed: Vec<serde_json::Value> =
        serde_json::from_slice::<serde_json::Value>(&all[0].1).unwrap()["entries"].as_array().unwrap().clone();
    for l in &mut listed {
        if l["name"] == "noegle.sqlite" {
            l["size"] = json!(big);
        }
    }
    let m = json!({ "format": 2, "noegle": "test", "database": "sqlite", "entries": listed });
    archive[0] = regular("MANIFEST.json", m.to_string().as_bytes());
    archive.insert(1, (header, vec![7; 512]));
    let sparse = tmp.path().join("sparse.tar");
    write_tar(&sparse, &archive, false);
    assert!(std::fs::metadata(&sparse).unwrap().len() < 16 * 1024);
    let target = tmp.path().join("t");
    let (out, peak) = noegle_peak(&target, &["restore", sparse.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("sparse"), "{stderr}");
    assert!(peak < SMALL_KIB, "peak RSS {peak} KiB");
    assert!(!target.exists());
    refused(tmp.path(), &sparse, "sparse");
}

/// Adds `mib` MiB of blobs to the SQLite database of `dir` (written pages, not a sparse file).
async fn grow(dir: &Path, mib: usize) {
    use sqlx::ConnectOptions;
    let options: sqlx::sqlite::SqliteConnectOptions = noegle_store::testing::sqlite_url(dir).parse().unwrap();
    let mut conn = options.connect().await.unwrap();
    sqlx::query("CREATE TABLE ballast (b BLOB)").execute(&mut conn).await.unwrap();
    for _ in 0..mib / 16 {
        sqlx::query("INSERT INTO ballast VALUES (zeroblob(16 * 1024 * 1024))").execute(&mut conn).await.unwrap();
    }
}

/// The staging directories of backups in `dir`.
fn staging(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(".backup-staging"))
        .collect()
}

fn mode(path: &Path) -> u32 {
    std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(path).unwrap().permissions()) & 0o777
}

/// Starts `noegle backup FILE` of `dir` and waits until its staging copy of the database exists; answers the
/// process and the copy.
fn backup_started(dir: &Path, file: &Path) -> (std::process::Child, PathBuf) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_noegle"))
        .args(["backup", file.to_str().unwrap()])
        .env("NOEGLE_DATA_DIR", dir)
        .env_remove("NOEGLE_DATABASE")
        .env_remove("NOEGLE_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    for _ in 0..1000 {
        if let Some(copy) = staging(dir).iter().map(|s| s.join("noegle.sqlite")).find(|c| c.exists()) {
            return (child, copy);
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the backup made no staging copy in the data directory");
}

/// A database of 256 MiB backs up and restores with a peak RSS under 64 MiB (the restore once read each entry
/// into memory, twice). A backup killed half-way leaves its copy of the database only in a private staging
/// directory (0700, the copy 0600), which the next backup removes; one stopped by SIGTERM removes its copy
/// and its unfinished archive itself, and a restore stopped so removes what it wrote. 256 MiB: big enough
/// that holding the entry shows (four times the bound), small enough for CI (about 0.8 GiB of disk at most,
/// about ten seconds).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_big_database_backs_up_and_restores_in_little_memory() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a");
    json(&a, None, &["user", "add", "alice", "--password-stdin", "--json"], &format!("{PASSWORD}\n"));
    grow(&a, 256).await;
    let file = tmp.path().join("big.tar");
    let (out, peak) = noegle_peak(&a, &["backup", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    eprintln!("backup of {} MiB: peak RSS {peak} KiB", std::fs::metadata(&file).unwrap().len() >> 20);
    assert!(peak < SMALL_KIB, "the backup's peak RSS {peak} KiB");
    assert!(std::fs::metadata(&file).unwrap().len() > 256 << 20);
    assert!(staging(&a).is_empty(), "the backup removed its staging copy");

    let b = tmp.path().join("b");
    let (out, peak) = noegle_peak(&b, &["restore", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    eprintln!("restore: peak RSS {peak} KiB");
    assert!(peak < SMALL_KIB, "the restore's peak RSS {peak} KiB");
    assert!(std::fs::metadata(b.join("noegle.sqlite")).unwrap().len() > 256 << 20);
    let shown = json(&b, None, &["user", "show", "alice", "--json"], "");
    assert_eq!(shown["user_id"], "alice", "{shown}");
    std::fs::remove_dir_all(&b).unwrap();

    // A restore stopped by SIGTERM half-way removes what it wrote.
    let mut child = Command::new(env!("CARGO_BIN_EXE_noegle"))
        .args(["restore", file.to_str().unwrap()])
        .env("NOEGLE_DATA_DIR", &b)
        .env_remove("NOEGLE_DATABASE")
        .env_remove("NOEGLE_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let partial = b.join(".restore.noegle.sqlite");
    while !partial.exists() && child.try_wait().unwrap().is_none() {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("stopped"), "{stderr}");
    assert!(!b.exists(), "a stopped restore leaves no directory behind");
    std::fs::remove_file(&file).unwrap();

    // Killed (SIGKILL) with its copy half-made: the copy is private, and the next backup removes it.
    let killed = tmp.path().join("killed.tar");
    let (mut child, copy) = backup_started(&a, &killed);
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(mode(copy.parent().unwrap()), 0o700);
    assert_eq!(mode(&copy), 0o600);
    let next = tmp.path().join("next.tar");
    let out = noegle(&a, None, &["backup", next.to_str().unwrap()], "");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(staging(&a).is_empty(), "the next backup removed the killed one's copy: {:?}", staging(&a));
    std::fs::remove_file(&next).unwrap();
    let _ = std::fs::remove_file(&killed);

    // Stopped by SIGTERM: it removes its copy and its unfinished archive, and says so.
    let stopped = tmp.path().join("stopped.tar");
    let (child, _) = backup_started(&a, &stopped);
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("stopped"), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(staging(&a).is_empty() && !stopped.exists(), "nothing is left of a stopped backup");
}

/// Waits at most `secs` for `child` to end by itself (then kills it); answers its output and whether it ended
/// by itself.
fn ends_within(mut child: std::process::Child, secs: u64) -> (Output, bool) {
    let mut ended = false;
    for _ in 0..secs * 100 {
        if child.try_wait().unwrap().is_some() {
            ended = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    if !ended {
        let _ = child.kill();
    }
    (child.wait_with_output().unwrap(), ended)
}

/// Starts `noegle ARGS` on `data_dir` (stdout and stderr piped); `serve` from `NOEGLE_SERVE_BIN` if set.
fn start(data_dir: &Path, args: &[&str]) -> std::process::Child {
    let serve = std::env::var("NOEGLE_SERVE_BIN").ok().filter(|_| args.first() == Some(&"serve"));
    Command::new(serve.unwrap_or(env!("CARGO_BIN_EXE_noegle").into()))
        .args(args)
        .env("NOEGLE_DATA_DIR", data_dir)
        .env("NOEGLE_BIND", format!("127.0.0.1:{}", free_port()))
        .env_remove("NOEGLE_DATABASE")
        .env_remove("NOEGLE_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Starts `noegle restore` of `archive` into `target` through a pipe that stalls: the archive up to a little
/// way into the database is written, and the pipe is held open. Answers once the restore is writing the
/// database (blocked in a read that only more bytes or the pipe's end could end): the process and the pipe.
fn restore_stalled(tmp: &Path, archive: &Path, target: &Path) -> (std::process::Child, std::fs::File) {
    let all = entries(archive);
    assert_eq!(name(&all[1]), "noegle.sqlite", "the database follows the manifest");
    let into_database = 512 + all[0].1.len().div_ceil(512) * 512 + 512 + 4096;
    let bytes = std::fs::read(archive).unwrap();
    let fifo = tmp.join(format!("fifo-{}", target.file_name().unwrap().to_string_lossy()));
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let mut child = start(target, &["restore", fifo.to_str().unwrap()]);
    let mut pipe = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    std::io::Write::write_all(&mut pipe, &bytes[..into_database]).unwrap();
    let partial = target.join(".restore.noegle.sqlite");
    for _ in 0..1000 {
        if partial.metadata().is_ok_and(|m| m.len() == 4096) {
            return (child, pipe);
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the restore did not begin writing the database");
}

/// A stop signal ends a backup or a restore at once, wherever it is — here a restore blocked in a read of an
/// archive coming down a pipe that stalls, and a backup whose `VACUUM INTO` waits on a database another
/// process holds locked (once, the signal was seen only at the next chunk, which never came, or when SQLite
/// gave up after 10 s) — and what they made is removed.
#[test]
fn a_stop_signal_ends_a_blocked_restore_or_backup_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, file) = backed_up(tmp.path());
    let target = tmp.path().join("srv").join("t");
    let (child, pipe) = restore_stalled(tmp.path(), &file, &target);
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    let (out, ended) = ends_within(child, 5);
    drop(pipe);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(ended && !out.status.success() && stderr.contains("stopped"), "ended at once: {ended}; {stderr}");
    assert!(!tmp.path().join("srv").exists(), "the stopped restore removed what it made");

    // The backup, while its copy waits for a lock that another process holds.
    let holder = "import sqlite3, sys\n\
                  h = sqlite3.connect(sys.argv[1], isolation_level=None)\n\
                  h.execute('PRAGMA locking_mode=EXCLUSIVE'); h.execute('BEGIN EXCLUSIVE')\n\
                  h.execute('CREATE TABLE held (x)')\n\
                  print('locked', flush=True); sys.stdin.read()";
    let mut lock = Command::new("python3")
        .args(["-c", holder, a.join("noegle.sqlite").to_str().unwrap()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut said = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(lock.stdout.as_mut().unwrap()), &mut said).unwrap();
    assert_eq!(said.trim(), "locked");
    let stopped = tmp.path().join("stopped.tar");
    let (child, _) = backup_started(&a, &stopped);
    std::thread::sleep(std::time::Duration::from_millis(200)); // in SQLite's busy wait by now
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    let (out, ended) = ends_within(child, 5);
    drop(lock.stdin.take());
    lock.wait().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(ended && !out.status.success() && stderr.contains("stopped"), "ended at once: {ended}; {stderr}");
    assert!(staging(&a).is_empty() && !stopped.exists(), "nothing is left of the stopped backup");
}

/// A restore killed outright leaves its `.restore.` files; on that directory no node starts and no command
/// runs (once, `serve` made a new pepper and OPAQUE setup there, which broke every key card and app code),
/// each saying what to do, and a next restore refuses it the same way. A database whose pepper is gone is
/// refused too, rather than given a new pepper.
#[test]
fn no_node_starts_on_a_directory_a_restore_did_not_finish() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, file) = backed_up(tmp.path());
    let target = tmp.path().join("t");
    let (mut child, pipe) = restore_stalled(tmp.path(), &file, &target);
    child.kill().unwrap();
    child.wait().unwrap();
    drop(pipe);
    let left = || -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&target)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    assert_eq!(left(), [".restore.noegle.sqlite"]);
    let what_to_do = "Delete the directory and restore the backup again";
    let (out, ended) = ends_within(start(&target, &["serve"]), 10);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(ended && !out.status.success(), "serve refuses to start: {stderr}");
    assert!(stderr.contains(".restore.noegle.sqlite") && stderr.contains(what_to_do), "{stderr}");
    let e = fails(&target, &["client", "list"], "");
    assert!(e.contains(what_to_do), "{e}");
    let e = fails(&target, &["backup", tmp.path().join("again.tar").to_str().unwrap()], "");
    assert!(e.contains(what_to_do), "{e}");
    let e = fails(&target, &["restore", file.to_str().unwrap()], "");
    assert!(e.contains("left by a restore that did not finish") && e.contains("delete the directory"), "{e}");
    assert_eq!(left(), [".restore.noegle.sqlite"], "nothing was made there");
    std::fs::remove_dir_all(&target).unwrap();
    json(&target, None, &["restore", file.to_str().unwrap(), "--json"], "");
    json(&target, None, &["user", "show", "alice", "--json"], "");

    // The database without its pepper: refused, no new pepper made.
    std::fs::remove_file(a.join("keycard-pepper.key")).unwrap();
    let (out, ended) = ends_within(start(&a, &["serve"]), 10);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(ended && !out.status.success(), "serve refuses to start: {stderr}");
    assert!(stderr.contains("holds no keycard-pepper.key, yet the database"), "{stderr}");
    let e = fails(&a, &["keycard", "issue", "alice"], "");
    assert!(e.contains("holds no keycard-pepper.key") && e.contains("without it no key-card key checks"), "{e}");
    assert!(!a.join("keycard-pepper.key").exists(), "no new pepper was made");
}
