//! Configuration never falls back silently (I-OPS) — a `NOEGLE_*` value that is not UTF-8 is an error naming
//! the variable (before, it counted as unset and `NOEGLE_DATA_DIR` fell back to `./noegle-data` with fresh
//! secrets), `sqlite://` without a path is refused (its writes vanished), and a misspelt variable is named in
//! a warning.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::process::{Command, Output};

/// Runs `noegle client list --json` in `cwd` with `env` (and nothing else of ours); answers the output.
fn client_list(cwd: &std::path::Path, env: &[(&str, &OsStr)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_noegle"));
    cmd.args(["client", "list", "--json"]).current_dir(cwd);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("NOEGLE_") {
            cmd.env_remove(k);
        }
    }
    cmd.envs(env.iter().map(|(k, v)| (*k, *v))).output().unwrap()
}

#[test]
fn a_value_that_is_not_utf8_is_an_error_naming_its_variable() {
    let cwd = tempfile::tempdir().unwrap();
    let out = client_list(cwd.path(), &[("NOEGLE_DATA_DIR", OsStr::from_bytes(b"/srv/n\xf8gle"))]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("NOEGLE_DATA_DIR: the value is not UTF-8 text"), "{err}");
    assert!(!cwd.path().join("noegle-data").exists(), "no data directory made in its place");
}

#[test]
fn a_sqlite_url_without_a_path_is_refused() {
    let cwd = tempfile::tempdir().unwrap();
    let data = cwd.path().join("data");
    for url in ["sqlite://", "sqlite::memory:"] {
        let out =
            client_list(cwd.path(), &[("NOEGLE_DATA_DIR", data.as_os_str()), ("NOEGLE_DATABASE", OsStr::new(url))]);
        assert!(!out.status.success(), "{url} accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("names no file") && err.contains(url), "{err}");
    }
}

#[test]
fn a_misspelt_variable_is_named_in_one_warning() {
    let cwd = tempfile::tempdir().unwrap();
    let data = cwd.path().join("data");
    let env = [
        ("NOEGLE_DATA_DIR", data.as_os_str()),
        ("NOEGLE_GUESES_PER_MINUTE", OsStr::new("5")),
        ("NOEGLE_TRUSTED_PROXY", OsStr::new("10.0.0.0/8")),
    ];
    let out = client_list(cwd.path(), &env);
    assert!(out.status.success(), "a warning, not an error: {}", String::from_utf8_lossy(&out.stderr));
    let err = String::from_utf8_lossy(&out.stderr);
    let warnings: Vec<&str> = err.lines().filter(|l| l.contains("no setting reads")).collect();
    assert_eq!(warnings.len(), 1, "{err}");
    assert!(warnings[0].contains("NOEGLE_GUESES_PER_MINUTE, NOEGLE_TRUSTED_PROXY"), "{err}");
    let quiet = client_list(cwd.path(), &env[..1]);
    assert!(!String::from_utf8_lossy(&quiet.stderr).contains("no setting reads"), "known variables only: no warning");
}
