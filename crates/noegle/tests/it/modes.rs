//! Issue 17, finding 6: whatever the umask (here 022, the common default), nothing of a node is open to other
//! local users — the data directory is 0700 and every file in it 0600 (the SQLite file and its -wal/-shm, the
//! secrets, the outbox and its cards), after `noegle serve`, the admin commands, `backup` and `restore`; the
//! backup file and each of its entries are 0600 and no copy of the database stays behind; a data directory
//! left open by an older version is closed.

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

/// A data directory an older version (or a wide umask) left open: the next command closes it and says so.
#[test]
fn a_data_directory_open_to_others_is_closed() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a");
    noegle022(&a, &["user", "add", "alice", "--password-stdin"], &format!("{PASSWORD}\n"));
    noegle022(&a, &["keycard", "issue", "alice"], "");
    let set = |p: &Path, m: u32| std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
    set(&a, 0o755);
    set(&a.join("outbox"), 0o755);
    for f in private_tree_files(&a) {
        set(&f, 0o644);
    }
    let out = noegle022(&a, &["user", "show", "alice"], "");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("open to other users"), "a warning: {stderr}");
    has(&private_tree(&a), &NODE);
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
