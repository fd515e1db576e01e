//! What an unfinished backup or restore has made so far — files, directories, a mode it changed — kept in one
//! list and undone on every way out but success: an error, or SIGINT/SIGTERM. A signal ends the command at
//! once, wherever it is (in SQLite's `VACUUM INTO`, in a read blocked on a pipe or a slow disk): the signal's
//! task takes the list, undoes it and ends the process, and the command's own thread is left where it was.
//! Everything is made and listed under the list's lock, so a signal finds each thing either not made yet or
//! listed; a restore names its files under the lock too, so a signal comes before its first rename or after
//! its last.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// What to undo.
#[derive(Debug, Default)]
pub(crate) struct Made {
    /// Files to remove.
    files: Vec<PathBuf>,
    /// Directories to remove with everything in them.
    trees: Vec<PathBuf>,
    /// Directories to remove if empty, the last made first.
    dirs: Vec<PathBuf>,
    /// Modes to set back.
    modes: Vec<(PathBuf, u32)>,
    /// The command has succeeded: a signal no longer stops it.
    done: bool,
}

impl Made {
    /// `path`, a file just made, is removed unless the command succeeds.
    pub(crate) fn file(&mut self, path: PathBuf) {
        self.files.push(path);
    }

    /// `path`, a directory just made, is removed with everything in it on every way out.
    pub(crate) fn tree(&mut self, path: PathBuf) {
        self.trees.push(path);
    }

    /// `path`, a directory just made, is removed (if empty) unless the command succeeds.
    pub(crate) fn dir(&mut self, path: PathBuf) {
        self.dirs.push(path);
    }

    /// `path` had the mode `was` before the command changed it, and gets it back unless the command succeeds.
    pub(crate) fn mode(&mut self, path: PathBuf, was: u32) {
        self.modes.push((path, was));
    }

    /// The file `from` is now `to`.
    pub(crate) fn renamed(&mut self, from: &Path, to: PathBuf) {
        self.files.retain(|f| f != from);
        self.files.push(to);
    }

    /// The command has succeeded: what it made stays, but for its trees (a backup's staging copy), which are
    /// still removed at the end; a signal no longer stops it.
    pub(crate) fn succeeded(&mut self) {
        self.files.clear();
        self.dirs.clear();
        self.modes.clear();
        self.done = true;
    }

    /// Undoes everything listed (each step as far as it goes), and forgets it.
    fn undo(&mut self) {
        for file in self.files.drain(..) {
            let _ = std::fs::remove_file(file);
        }
        for tree in self.trees.drain(..) {
            // SQLite may still be writing in it (a `VACUUM INTO` left running): a second try takes what came.
            if std::fs::remove_dir_all(&tree).is_err() {
                let _ = std::fs::remove_dir_all(&tree);
            }
        }
        while let Some(dir) = self.dirs.pop() {
            let _ = std::fs::remove_dir(dir);
        }
        for (path, was) in self.modes.drain(..) {
            #[cfg(unix)]
            let _ = std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(was));
            #[cfg(not(unix))]
            let _ = (path, was);
        }
    }
}

/// The list of a running backup or restore; dropped, it undoes what is still listed.
pub(crate) struct Undo {
    made: Arc<Mutex<Made>>,
}

impl Undo {
    /// An empty list, not tied to signals (tests).
    pub(crate) fn new() -> Undo {
        Undo { made: Arc::default() }
    }

    /// An empty list for a command that, on SIGINT or SIGTERM, undoes what it made, says `stopped` and ends
    /// the process at once (exit status 1).
    pub(crate) fn on_stop(stopped: &'static str) -> anyhow::Result<Undo> {
        let undo = Undo::new();
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            // Both are registered here, before anything is made.
            let mut term = signal(SignalKind::terminate())?;
            let mut int = signal(SignalKind::interrupt())?;
            let made = undo.made.clone();
            tokio::spawn(async move {
                loop {
                    tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
                    let mut made = made.lock().unwrap_or_else(PoisonError::into_inner);
                    if made.done {
                        continue; // it has succeeded and only says so now
                    }
                    made.undo();
                    eprintln!("noegle: error: {stopped}");
                    // The lock stays held: the command's thread makes nothing more.
                    std::process::exit(1);
                }
            });
        }
        #[cfg(not(unix))]
        let _ = stopped;
        Ok(undo)
    }

    /// The list, locked: make things and list them while holding it.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Made> {
        self.made.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for Undo {
    fn drop(&mut self) {
        self.lock().undo();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn what_was_made_is_undone_unless_the_command_succeeded() {
        let tmp = tempfile::tempdir().unwrap();
        let (above, dir) = (tmp.path().join("above"), tmp.path().join("above").join("dir"));
        let (stage, kept) = (tmp.path().join("stage"), tmp.path().join("kept"));
        {
            let undo = Undo::new();
            let mut made = undo.lock();
            std::fs::create_dir(&above).unwrap();
            made.dir(above.clone());
            std::fs::create_dir(&dir).unwrap();
            made.dir(dir.clone());
            std::fs::write(dir.join("a"), b"").unwrap();
            made.file(dir.join("a"));
            std::fs::rename(dir.join("a"), dir.join("b")).unwrap();
            made.renamed(&dir.join("a"), dir.join("b"));
        }
        assert!(!above.exists(), "files and directories made are removed, the last made first");
        {
            let undo = Undo::new();
            let mut made = undo.lock();
            std::fs::create_dir(&stage).unwrap();
            std::fs::write(stage.join("copy"), b"").unwrap();
            made.tree(stage.clone());
            std::fs::write(&kept, b"").unwrap();
            made.file(kept.clone());
            made.succeeded();
        }
        assert!(kept.exists() && !stage.exists(), "a success keeps its file; a staging tree goes anyway");
    }
}
