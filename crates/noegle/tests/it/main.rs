//! Tests of the `noegle` binary as operators use it: admin commands, printed key cards, crash safety.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod cli;
mod crash;
mod keycard;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// Runs `noegle ARGS` on `data_dir` (and `database`, if any) with `stdin`; answers the output.
pub fn noegle(data_dir: &Path, database: Option<&str>, args: &[&str], stdin: &str) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_noegle"));
    cmd.args(args)
        .env("NOEGLE_DATA_DIR", data_dir)
        .env_remove("NOEGLE_DATABASE")
        .env_remove("NOEGLE_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(db) = database {
        cmd.env("NOEGLE_DATABASE", db);
    }
    let mut child = cmd.spawn().unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

/// Runs a command that must succeed and print JSON; answers the JSON.
pub fn json(data_dir: &Path, database: Option<&str>, args: &[&str], stdin: &str) -> serde_json::Value {
    let out = noegle(data_dir, database, args, stdin);
    assert!(out.status.success(), "noegle {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

/// Runs a command that must fail; answers its standard error.
pub fn fails(data_dir: &Path, args: &[&str], stdin: &str) -> String {
    let out = noegle(data_dir, None, args, stdin);
    assert!(!out.status.success(), "noegle {args:?} should fail");
    assert!(out.stdout.is_empty(), "nothing on stdout when failing");
    String::from_utf8(out.stderr).unwrap()
}
