//! A big database backs up and restores in little memory; a backup or restore killed or stopped by a signal
//! leaves nothing behind but a private staging copy the next backup removes.

use super::*;

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
