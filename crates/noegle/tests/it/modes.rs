//! Whatever the umask (here 022, the common default), nothing of a node is open to other local users — the
//! data directory is 0700 and every file in it 0600 (the SQLite file and its -wal/-shm, the secrets, the
//! outbox and its cards), after `noegle serve`, the admin commands, `backup` and `restore`; the backup file
//! and each of its entries are 0600 and no copy of the database stays behind; a data directory left open by
//! an older version is closed. A data directory another user owns is refused, nothing written; an outbox the
//! operator gave to a group keeps it (only other users are shut out).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use noegle_testkit::PASSWORD;

use crate::{free_port, ready, serve_env};

const UMASK_022: &str = "umask 022; exec \"$0\" \"$@\"";

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path).unwrap().permissions().mode() & 0o777
}

/// Runs `noegle ARGS` on `data_dir` under the umask 022, with `stdin`; must succeed. Answers its output.
fn noegle022(data_dir: &Path, args: &[&str], stdin: &str) -> Output {
    use std::io::Write;
    let mut child = Command::new("sh")
        .args(["-c", UMASK_022, env!("CARGO_BIN_EXE_noegle")])
        .args(args)
        .env("NOEGLE_DATA_DIR", data_dir)
        .env_remove("NOEGLE_DATABASE")
        .env_remove("NOEGLE_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "noegle {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

/// Checks that `dir` and every directory under it are 0700 and every file 0600; answers the files, relative to
/// `dir`.
fn private_tree(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, files: &mut Vec<String>) {
        assert_eq!(mode(dir), 0o700, "{} is a directory only its owner may enter", dir.display());
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, files);
            } else {
                assert_eq!(mode(&path), 0o600, "{} is readable by its owner only", path.display());
                files.push(path.strip_prefix(root).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    let mut files = Vec::new();
    walk(dir, dir, &mut files);
    files.sort();
    files
}

fn has(files: &[String], wanted: &[&str]) {
    for w in wanted {
        assert!(files.iter().any(|f| f == w || f.starts_with(w)), "{w} missing from {files:?}");
    }
}

const NODE: [&str; 5] =
    ["noegle.sqlite", "oidc-signing-key.pem", "keycard-pepper.key", "opaque-server-setup.bin", "vapid.key"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_s_files_are_private_whatever_the_umask() {
    let tmp = tempfile::tempdir().unwrap();
    // A data directory (and the directory above it) that noegle creates.
    let a = tmp.path().join("srv").join("a");
    noegle022(&a, &["user", "add", "alice", "--password-stdin"], &format!("{PASSWORD}\n"));
    has(&private_tree(&a), &NODE);
    noegle022(&a, &["keycard", "issue", "alice"], "");
    noegle022(&a, &["keys", "rotate"], "");
    has(&private_tree(&a), &["outbox/keycard-alice-", "oidc-signing-key."]);

    // The server, killed while its database is open: the -wal and -shm files too.
    let port = free_port();
    let mut cmd = Command::new("sh");
    let bin = std::env::var("NOEGLE_SERVE_BIN").unwrap_or(env!("CARGO_BIN_EXE_noegle").into());
    cmd.args(["-c", UMASK_022, &bin, "serve"]);
    let url = serve_env(&mut cmd, &a, port);
    let node = ready(cmd, url).await;
    assert!(reqwest::get(format!("{}/jwks", node.url)).await.unwrap().status().is_success());
    drop(node);
    has(&private_tree(&a), &["noegle.sqlite-wal", "noegle.sqlite-shm"]);

    // The backup: the file and each entry 0600, no copy left beside it or in the data directory.
    let backups = tmp.path().join("backups");
    std::fs::create_dir(&backups).unwrap();
    let file = backups.join("noegle.tar");
    noegle022(&a, &["backup", file.to_str().unwrap()], "");
    assert_eq!(mode(&file), 0o600);
    let beside: Vec<PathBuf> = std::fs::read_dir(&backups).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(beside, std::slice::from_ref(&file), "nothing but the backup beside it");
    let after = private_tree(&a);
    assert!(after.iter().all(|f| !f.starts_with('.')), "no staging copy stays in the data directory: {after:?}");
    let mut archive = tar::Archive::new(std::fs::File::open(&file).unwrap());
    for entry in archive.entries().unwrap() {
        let entry = entry.unwrap();
        let name = entry.path().unwrap().display().to_string();
        assert_eq!(entry.header().mode().unwrap() & 0o7777, 0o600, "{name} is 0600 in the archive");
    }

    // The restore, into a directory that does not exist yet.
    let b = tmp.path().join("restored").join("b");
    noegle022(&b, &["restore", file.to_str().unwrap()], "");
    has(&private_tree(&b), &NODE);
}

fn set(p: &Path, m: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
}

/// A data directory an older version (or a wide umask) left open: the next command closes it and says so —
/// but for the group the operator gave the outbox and its cards, which they keep.
#[test]
fn a_data_directory_open_to_others_is_closed() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a");
    noegle022(&a, &["user", "add", "alice", "--password-stdin"], &format!("{PASSWORD}\n"));
    noegle022(&a, &["keycard", "issue", "alice"], "");
    let outbox = a.join("outbox");
    assert_eq!(mode(&outbox), 0o700, "a new outbox is private");
    set(&a, 0o755);
    set(&outbox, 0o755);
    let files = private_tree_files(&a);
    for f in &files {
        set(f, 0o644);
    }
    let out = noegle022(&a, &["user", "show", "alice"], "");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("open to other users"), "a warning: {stderr}");
    let cards: Vec<&PathBuf> = files.iter().filter(|f| f.starts_with(&outbox)).collect();
    assert_eq!(cards.len(), 1);
    assert_eq!((mode(&outbox), mode(cards[0])), (0o750, 0o640), "only other users are shut out of the outbox");
    // Given to a group that prints (chmod 750, 640): kept at every start.
    noegle022(&a, &["user", "show", "alice"], "");
    assert_eq!((mode(&outbox), mode(cards[0])), (0o750, 0o640), "the operator's group is kept");
    set(&outbox, 0o700);
    set(cards[0], 0o600);
    has(&private_tree(&a), &NODE);

    // The outbox as a symbolic link to a directory shared with the printing staff: it stays theirs, and a new
    // card lands in it, 0600.
    let shared = tmp.path().join("print");
    std::fs::create_dir(&shared).unwrap();
    set(&shared, 0o750);
    std::fs::rename(&outbox, tmp.path().join("old-outbox")).unwrap();
    std::os::unix::fs::symlink(&shared, &outbox).unwrap();
    noegle022(&a, &["keycard", "issue", "alice"], "");
    assert_eq!(mode(&shared), 0o750, "the shared outbox keeps its group");
    let new: Vec<PathBuf> = std::fs::read_dir(&shared).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(new.len(), 1, "the new card is in the shared outbox: {new:?}");
    assert_eq!(mode(&new[0]), 0o600);
}

/// A data directory of another user is refused — by `serve`, an admin command, a backup and a restore —,
/// naming its owner and mode and what to do, and nothing is written into it (once, it was warned about and
/// the secrets were written there all the same).
#[test]
fn a_data_directory_of_another_user_is_refused() {
    use std::os::unix::fs::MetadataExt;
    let tmp = tempfile::tempdir().unwrap();
    let theirs = if rustix::process::geteuid().is_root() {
        let d = tmp.path().join("theirs");
        std::fs::create_dir(&d).unwrap();
        std::os::unix::fs::chown(&d, Some(65534), Some(65534)).unwrap();
        set(&d, 0o755);
        d
    } else {
        PathBuf::from("/") // a directory someone else owns
    };
    let owner = std::fs::metadata(&theirs).unwrap().uid();
    let before: Vec<_> = std::fs::read_dir(&theirs).unwrap().map(|e| e.unwrap().file_name()).collect();
    let a = tmp.path().join("a");
    noegle022(&a, &["user", "add", "alice", "--password-stdin"], &format!("{PASSWORD}\n"));
    let file = tmp.path().join("a.tar");
    noegle022(&a, &["backup", file.to_str().unwrap()], "");
    let port = free_port().to_string();
    let bin = std::env::var("NOEGLE_SERVE_BIN").unwrap_or(env!("CARGO_BIN_EXE_noegle").into());
    for (bin, args) in [
        (bin.as_str(), &["serve", "--bind", &format!("127.0.0.1:{port}")][..]),
        (env!("CARGO_BIN_EXE_noegle"), &["user", "add", "bob", "--password-stdin"]),
        (env!("CARGO_BIN_EXE_noegle"), &["backup", tmp.path().join("b.tar").to_str().unwrap()]),
        (env!("CARGO_BIN_EXE_noegle"), &["restore", file.to_str().unwrap()]),
    ] {
        let out = Command::new("timeout")
            .args(["10", bin])
            .args(args)
            .env("NOEGLE_DATA_DIR", &theirs)
            .env_remove("NOEGLE_DATABASE")
            .env_remove("NOEGLE_CONFIG")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} refused: {stderr}");
        assert!(
            stderr.contains(&format!("uid {owner}")) && stderr.contains("Run noegle as the directory's owner"),
            "{args:?}: {stderr}"
        );
        let after: Vec<_> = std::fs::read_dir(&theirs).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(after, before, "{args:?}: nothing was written there");
        if theirs != Path::new("/") {
            assert_eq!(mode(&theirs), 0o755, "{args:?}: its mode is left as it was");
        }
    }
    assert!(!tmp.path().join("b.tar").exists());
}

/// Every file under `dir`.
fn private_tree_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(private_tree_files(&path));
        } else {
            files.push(path);
        }
    }
    files
}
