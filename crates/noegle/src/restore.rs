//! `noegle restore FILE`: a backup (`backup.rs`) back into a data directory that is empty or absent. Nothing is
//! taken on trust: the manifest must come first and list the database (on SQLite) and every secret a node needs;
//! each entry after it must be a regular file the manifest lists, once, with the size and SHA-256 it gives.
//! Entries are streamed (a chunk at a time, never whole in memory) into temporary names inside the target
//! (0600), and given their names only when every one is there, matches, and the target holds nothing else.
//! Anything else — a link, a device, a sparse or extension entry, a duplicate, an unlisted name, a wrong size or
//! hash, an archive cut off, a missing database or secret, the old format 1 — refuses the whole archive and
//! leaves the target as it was: the temporary files are removed, a target that was absent is removed again with
//! the directories above it that the restore made, and an empty one gets its mode back (so too when SIGINT or
//! SIGTERM stops it, at once, even in a read that blocks: `backup/undo.rs`).
//!
//! The files are named without replacing anything (`RENAME_NOREPLACE`): a file that appeared meanwhile (a
//! `noegle serve` started on the directory by mistake) refuses the restore, and is left alone. The secrets are
//! named first and the database last. A restore killed outright leaves its temporary files (0600,
//! `.restore.<name>`) in the target: a node refuses to start on it, and a next restore refuses it as not empty.

use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow, bail};
use noegle_server::Config;
use noegle_server::secrets::{ALL as SECRETS, DATABASE_FILE, RESTORING, needed_for, owned_by_us};
use serde_json::json;

use crate::admin::emit;
use crate::backup::undo::{Made, Undo};
use crate::backup::{CHUNK, Checked, FORMAT, Listed, MANIFEST, Manifest, secret_named};
use crate::cli::Output;

/// The largest manifest and the largest secret file a backup holds.
const SMALL: u64 = 1 << 20;

/// Restores the backup `file` into `config`'s data directory, which must be empty or absent. Stopped by SIGINT
/// or SIGTERM, it removes what it wrote.
pub fn restore(config: &Config, file: &Path, out: Output) -> anyhow::Result<()> {
    let undo =
        Undo::on_stop("the restore was stopped (SIGINT or SIGTERM); nothing was restored, the directory is as it was")?;
    let shown = file.display();
    let opened = std::fs::File::open(file).with_context(|| format!("cannot open {shown}"))?;
    let mut target = Target::prepare(&config.data_dir, &undo)?;
    let mut archive = tar::Archive::new(BufReader::with_capacity(CHUNK, opened));
    let not_backup = |e: std::io::Error| anyhow!("{shown} is not a nøgle backup (it does not read as one: {e})");
    // Raw: long names, pax headers and sparse maps are not expanded but refused below (nothing is read into
    // memory on an entry's say-so).
    let mut entries = archive.entries().map_err(not_backup)?.raw(true);
    let mut first =
        entries.next().ok_or_else(|| anyhow!("{shown} is not a nøgle backup (it is empty)"))?.map_err(not_backup)?;
    let manifest = read_manifest(file, &mut first)?;
    check_manifest(config, file, &manifest)?;
    let mut seen = vec![false; manifest.entries.len()];
    for entry in entries {
        let mut entry = entry.map_err(|e| anyhow!("{shown} is incomplete or damaged: {e}"))?;
        let name = name_of(file, &entry)?;
        only_regular(file, &name, entry.header().entry_type())?;
        let (i, listed) = manifest
            .entries
            .iter()
            .enumerate()
            .find(|(_, l)| l.name == name)
            .ok_or_else(|| anyhow!("{shown} holds {name:?}, which is not in its manifest"))?;
        if std::mem::replace(&mut seen[i], true) {
            bail!("{shown} holds {name} twice");
        }
        if entry.size() != listed.size {
            bail!("{shown}: {name} holds {} bytes, its manifest says {}", entry.size(), listed.size);
        }
        target.receive(file, listed, &mut entry)?;
    }
    let missing: Vec<&str> =
        manifest.entries.iter().zip(&seen).filter(|(_, s)| !**s).map(|(l, _)| l.name.as_str()).collect();
    if !missing.is_empty() {
        bail!("{shown} is incomplete: it lacks {} (listed in its manifest)", missing.join(", "));
    }
    let dir = target.commit()?;
    drop(undo);
    let restored: Vec<&str> = manifest.entries.iter().map(|l| l.name.as_str()).collect();
    let database = manifest.database.as_str();
    emit(out, json!({ "data_dir": dir, "restored": restored, "database": database }), || {
        let mut text = format!("restored {} files into {}", restored.len(), dir.display());
        if database == "postgres" {
            text.push_str(
                "\nthe PostgreSQL database itself: pg_restore --clean --dbname \"$NOEGLE_DATABASE\" noegle.dump",
            );
        }
        text
    });
    Ok(())
}

/// The name of an archive entry, as written in its header.
fn name_of<R: Read>(file: &Path, entry: &tar::Entry<'_, R>) -> anyhow::Result<String> {
    String::from_utf8(entry.path_bytes().into_owned())
        .map_err(|_| anyhow!("{} holds an entry whose name is not UTF-8", file.display()))
}

/// Refuses every kind of entry but a regular file.
fn only_regular(file: &Path, name: &str, kind: tar::EntryType) -> anyhow::Result<()> {
    use tar::EntryType as T;
    let what = match kind {
        T::Regular => return Ok(()),
        T::Link => "a hard link",
        T::Symlink => "a symbolic link",
        T::Char | T::Block => "a device",
        T::Directory => "a directory",
        T::Fifo => "a FIFO",
        T::GNUSparse => "a sparse file",
        T::GNULongName | T::GNULongLink | T::XHeader | T::XGlobalHeader => "an extension header (long name or pax)",
        T::Continuous => "a contiguous file",
        _ => "an entry of an unknown type",
    };
    bail!("{} holds {name:?} as {what}; a nøgle backup holds only regular files", file.display())
}

/// Reads the manifest from the archive's first entry.
fn read_manifest<R: Read>(file: &Path, first: &mut tar::Entry<'_, R>) -> anyhow::Result<Manifest> {
    let shown = file.display();
    let name = name_of(file, first)?;
    if name != MANIFEST || first.header().entry_type() != tar::EntryType::Regular {
        bail!("{shown} is not a nøgle backup: its first entry is {name:?}, not the manifest ({MANIFEST})");
    }
    if first.size() > SMALL {
        bail!("{shown} is not a nøgle backup: its manifest is {} bytes long", first.size());
    }
    let mut bytes = Vec::new();
    first.take(SMALL).read_to_end(&mut bytes).with_context(|| format!("{shown} is incomplete"))?;
    if bytes.len() as u64 != first.size() {
        bail!("{shown} is incomplete: its manifest is cut off");
    }
    let value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| anyhow!("{shown} is not a nøgle backup (its manifest: {e})"))?;
    match value["format"].as_u64() {
        Some(FORMAT) => {}
        Some(1) => bail!(
            "{shown} was written by an older nøgle (backup format 1, whose manifest does not list its entries, so \
             it cannot be checked whole); take a new backup with this version (noegle backup) from the node"
        ),
        Some(n) if n > FORMAT => {
            bail!("{shown} was written by a newer nøgle (backup format {n}); restore it with that")
        }
        _ => bail!("{shown} is not a nøgle backup (its manifest has no format)"),
    }
    serde_json::from_value(value).map_err(|e| anyhow!("{shown} is not a nøgle backup (its manifest: {e})"))
}

/// Checks that the manifest lists only what a backup holds, each once, and all that the node needs.
fn check_manifest(config: &Config, file: &Path, manifest: &Manifest) -> anyhow::Result<()> {
    let shown = file.display();
    for (i, l) in manifest.entries.iter().enumerate() {
        let secret = secret_named(&l.name).is_some();
        if l.name != DATABASE_FILE && !secret {
            bail!("{shown}'s manifest lists {:?}, which no backup of nøgle holds", l.name);
        }
        if manifest.entries[..i].iter().any(|o| o.name == l.name) {
            bail!("{shown}'s manifest lists {} twice", l.name);
        }
        if l.sha256.len() != 64 || !l.sha256.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            bail!("{shown}'s manifest gives {} no SHA-256", l.name);
        }
        if secret && l.size > SMALL {
            bail!("{shown}'s manifest lists {} at {} bytes; no secret is that large", l.name, l.size);
        }
    }
    let listed = |name: &str| manifest.entries.iter().any(|l: &Listed| l.name == name);
    match manifest.database.as_str() {
        "sqlite" if !listed(DATABASE_FILE) => {
            bail!("{shown} holds no database ({DATABASE_FILE}), though its manifest says the node was on SQLite")
        }
        "sqlite" if !config.database.is_empty() => {
            bail!("the backup holds a SQLite database, but this node is set to {}", config.database)
        }
        "sqlite" => {}
        "postgres" if listed(DATABASE_FILE) => {
            bail!("{shown}'s manifest says the node was on PostgreSQL, yet lists {DATABASE_FILE}")
        }
        "postgres" => {}
        other => bail!("{shown}'s manifest names an unknown database {other:?}"),
    }
    if let Some(secret) = SECRETS.iter().find(|s| !listed(&format!("secrets/{s}"))) {
        bail!("{shown} lacks the secret {secret} ({}); it cannot be restored", needed_for(secret));
    }
    Ok(())
}

/// The data directory being restored into: files land under temporary names, and take their own names only
/// at [`Target::commit`]. Until then its [`Undo`] list holds what it made, and the mode it changed.
struct Target<'u> {
    dir: PathBuf,
    undo: &'u Undo,
    /// (temporary name, own name) of each file received.
    files: Vec<(PathBuf, PathBuf)>,
}

impl<'u> Target<'u> {
    /// Takes `dir` if it is absent (then made, 0700, with the directories above it that are missing) or an
    /// empty directory of the user running noegle (then closed to 0700).
    fn prepare(dir: &Path, undo: &'u Undo) -> anyhow::Result<Target<'u>> {
        let shown = dir.display();
        let mut made = undo.lock();
        match std::fs::symlink_metadata(dir) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => make_dirs(dir, &mut made)?,
            Err(e) => bail!("cannot read {shown}: {e}"),
            Ok(_) if !dir.is_dir() => bail!("{shown} is not a directory"),
            Ok(_) => {
                owned_by_us(dir)?;
                if let Some(entry) = std::fs::read_dir(dir).with_context(|| format!("cannot read {shown}"))?.next() {
                    let name = entry?.file_name();
                    let name = name.to_string_lossy();
                    let left = if name.starts_with(RESTORING) {
                        " (left by a restore that did not finish: delete the directory and restore again)"
                    } else {
                        ""
                    };
                    bail!(
                        "{shown} is not empty (it holds {name}{left}); restore into a new data directory (an empty or \
                         absent one)"
                    );
                }
                close(dir, &mut made)?;
            }
        }
        drop(made);
        Ok(Target { dir: dir.into(), undo, files: Vec::new() })
    }

    /// Streams `entry` into a temporary file and checks it against `listed`.
    fn receive(&mut self, file: &Path, listed: &Listed, entry: &mut impl Read) -> anyhow::Result<()> {
        let own = secret_named(&listed.name).unwrap_or(DATABASE_FILE);
        let (temp, own) = (self.dir.join(format!("{RESTORING}{own}")), self.dir.join(own));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut made = self.undo.lock();
        let mut out = options.open(&temp).with_context(|| format!("cannot create {}", temp.display()))?;
        made.file(temp.clone());
        drop(made);
        self.files.push((temp.clone(), own));
        let mut reader = Checked::new(entry.take(listed.size));
        let mut buf = vec![0; CHUNK];
        loop {
            let n = reader.read(&mut buf).with_context(|| format!("{} is incomplete or damaged", file.display()))?;
            if n == 0 {
                break;
            }
            out.write_all(&buf[..n]).with_context(|| format!("cannot write {}", temp.display()))?;
        }
        let (size, sha256) = reader.finish();
        if size != listed.size {
            bail!("{} is incomplete: {} is cut off after {size} of {} bytes", file.display(), listed.name, listed.size);
        }
        if sha256 != listed.sha256 {
            bail!(
                "{}: {} does not match its SHA-256 in the manifest (the archive is damaged)",
                file.display(),
                listed.name
            );
        }
        out.sync_all().with_context(|| format!("cannot write {}", temp.display()))?;
        Ok(())
    }

    /// Gives every file its own name, if the directory holds nothing but them; answers the directory.
    fn commit(mut self) -> anyhow::Result<PathBuf> {
        let mut made = self.undo.lock();
        for entry in std::fs::read_dir(&self.dir)? {
            let path = entry?.path();
            if !self.files.iter().any(|(temp, _)| *temp == path) {
                bail!(
                    "{} was written to during the restore (it now holds {}); nothing was restored",
                    self.dir.display(),
                    path.display()
                );
            }
        }
        in_commit_order(&mut self.files);
        place(&self.dir, &self.files, &mut made)?;
        let _ = std::fs::File::open(&self.dir).and_then(|d| d.sync_all());
        made.succeeded();
        Ok(std::mem::take(&mut self.dir))
    }
}

/// Makes `dir` (0700) and the directories above it that are missing, listing each in `made`.
fn make_dirs(dir: &Path, made: &mut Made) -> anyhow::Result<()> {
    let mut missing = Vec::new();
    let mut at = Some(dir);
    while let Some(d) = at.filter(|d| !d.as_os_str().is_empty() && std::fs::symlink_metadata(d).is_err()) {
        missing.push(d);
        at = d.parent();
    }
    for d in missing.into_iter().rev() {
        let mut builder = std::fs::DirBuilder::new();
        #[cfg(unix)]
        if d == dir {
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        }
        match builder.create(d) {
            Ok(()) => made.dir(d.into()),
            // Made by someone else meanwhile: theirs, not removed.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && d != dir && d.is_dir() => {}
            Err(e) => bail!("cannot create {}: {e}", d.display()),
        }
    }
    Ok(())
}

/// Closes the empty directory `dir` to 0700, listing its old mode in `made`.
fn close(dir: &Path, made: &mut Made) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let was = std::fs::metadata(dir)?.permissions().mode() & 0o7777;
        if was != 0o700 {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .with_context(|| format!("cannot close {} (chmod 700)", dir.display()))?;
            made.mode(dir.into(), was);
        }
    }
    #[cfg(not(unix))]
    let _ = (dir, made);
    Ok(())
}

/// Puts the database last, after every secret: a restore cut short in the middle of naming its files leaves
/// a directory without its database (and its `.restore.` files, on which no node starts), never a database
/// without its secrets.
fn in_commit_order(files: &mut [(PathBuf, PathBuf)]) {
    files.sort_by_key(|(_, own)| own.file_name().is_some_and(|n| n == DATABASE_FILE));
}

/// Names each (temporary, own) file in `files`, never replacing one; what was named is listed in `made`.
fn place(dir: &Path, files: &[(PathBuf, PathBuf)], made: &mut Made) -> anyhow::Result<()> {
    for (temp, own) in files {
        match rename_new(temp, own) {
            Ok(()) => made.renamed(temp, own.clone()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => bail!(
                "{} appeared in {} during the restore (was a noegle serve or an admin command started on it?); it \
                 is left alone and nothing was restored: stop what wrote it, empty the directory and restore again",
                own.display(),
                dir.display()
            ),
            Err(e) => bail!("cannot rename {} to {}: {e}", temp.display(), own.display()),
        }
    }
    Ok(())
}

/// Renames `from` to `to` unless `to` exists (then `AlreadyExists`), atomically: `renameat2` with
/// `RENAME_NOREPLACE`, or, on a file system without it, a hard link (which never replaces) and the removal of
/// `from`.
fn rename_new(from: &Path, to: &Path) -> std::io::Result<()> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        use rustix::fs::{CWD, RenameFlags, renameat_with};
        match renameat_with(CWD, from, CWD, to, RenameFlags::NOREPLACE) {
            Ok(()) => return Ok(()),
            Err(e) if e == rustix::io::Errno::INVAL || e == rustix::io::Errno::NOSYS => {}
            Err(e) => return Err(e.into()),
        }
    }
    std::fs::hard_link(from, to)?;
    std::fs::remove_file(from)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A file that appeared under a name the restore gives is not replaced; the restore is
    /// refused, and what it had named is removed again.
    #[test]
    fn naming_never_replaces_a_file() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let undo = Undo::new();
        let mut files = Vec::new();
        for own in [DATABASE_FILE, "keycard-pepper.key", "vapid.key"] {
            std::fs::write(dir.join(format!("{RESTORING}{own}")), b"restored").unwrap();
            undo.lock().file(dir.join(format!("{RESTORING}{own}")));
            files.push((dir.join(format!("{RESTORING}{own}")), dir.join(own)));
        }
        std::fs::write(dir.join("vapid.key"), b"theirs").unwrap();
        in_commit_order(&mut files);
        let e = place(dir, &files, &mut undo.lock()).unwrap_err().to_string();
        assert!(e.contains("vapid.key appeared") && e.contains("nothing was restored"), "{e}");
        assert!(!dir.join(DATABASE_FILE).exists(), "the database is named last");
        drop(undo);
        let left: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left, ["vapid.key"], "only what appeared is left");
        assert_eq!(std::fs::read(dir.join("vapid.key")).unwrap(), b"theirs", "and it was not replaced");
    }

    #[test]
    fn the_database_is_named_last() {
        let mut files: Vec<(PathBuf, PathBuf)> = [DATABASE_FILE, "keycard-pepper.key", "vapid.key"]
            .iter()
            .map(|n| (PathBuf::from(format!(".restore.{n}")), PathBuf::from(n)))
            .collect();
        in_commit_order(&mut files);
        assert_eq!(files.last().unwrap().1, PathBuf::from(DATABASE_FILE));
    }
}
