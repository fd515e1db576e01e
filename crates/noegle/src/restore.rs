//! `noegle restore FILE`: a backup (`backup.rs`) back into a data directory that is empty or absent. Nothing is
//! taken on trust: the manifest must come first and list the database (on SQLite) and every secret a node needs;
//! each entry after it must be a regular file the manifest lists, once, with the size and SHA-256 it gives.
//! Entries are streamed (a chunk at a time, never whole in memory) into temporary names inside the target
//! (0600), and given their names only when every one is there, matches, and the target holds nothing else.
//! Anything else — a link, a device, a sparse or extension entry, a duplicate, an unlisted name, a wrong size or
//! hash, an archive cut off, a missing database or secret, the old format 1 — refuses the whole archive: the
//! temporary files are removed, and a target that was absent is removed again (so too when SIGINT or SIGTERM
//! stops it). A restore killed outright leaves its temporary files (0600, `.restore.<name>`) in the target,
//! which a next restore then refuses as not empty.

use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow, bail};
use noegle_server::Config;
use noegle_server::secrets::{
    ALL as SECRETS, DATABASE_FILE, OPAQUE_SETUP_FILE, PEPPER_FILE, SIGNING_KEY_FILE, VAPID_FILE, create_private_dir,
    ensure_data_dir,
};
use serde_json::json;

use crate::admin::emit;
use crate::backup::{
    CHUNK, Checked, FORMAT, Listed, MANIFEST, Manifest, listen_for_stop, secret_named, stop_requested,
};
use crate::cli::Output;

/// The largest manifest and the largest secret file a backup holds.
const SMALL: u64 = 1 << 20;

/// Restores the backup `file` into `config`'s data directory, which must be empty or absent. Stopped by SIGINT
/// or SIGTERM, it removes what it wrote.
pub fn restore(config: &Config, file: &Path, out: Output) -> anyhow::Result<()> {
    listen_for_stop()?;
    restore_checked(config, file, out).map_err(|e| {
        if stop_requested() {
            anyhow!("the restore was stopped (SIGINT or SIGTERM); nothing was restored, the directory is as it was")
        } else {
            e
        }
    })
}

fn restore_checked(config: &Config, file: &Path, out: Output) -> anyhow::Result<()> {
    let shown = file.display();
    let opened = std::fs::File::open(file).with_context(|| format!("cannot open {shown}"))?;
    let mut target = Target::prepare(&config.data_dir)?;
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

/// Why a node needs `secret`.
fn needed_for(secret: &str) -> &'static str {
    match secret {
        PEPPER_FILE => "without it no key-card key checks",
        OPAQUE_SETUP_FILE => "without it no app code unlocks",
        SIGNING_KEY_FILE => "without it relying parties see a new signing key",
        VAPID_FILE => "without it every Web Push subscription is lost",
        _ => "a node needs it",
    }
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
/// at [`Target::commit`]; dropped before that, it removes them (and the directory, if it made it).
struct Target {
    dir: PathBuf,
    made: bool,
    /// (temporary name, own name) of each file received.
    files: Vec<(PathBuf, PathBuf)>,
    /// How many of `files` have their own names already.
    placed: usize,
    done: bool,
}

impl Target {
    /// Takes `dir` if it is absent (then made, 0700) or an empty directory.
    fn prepare(dir: &Path) -> anyhow::Result<Target> {
        let shown = dir.display();
        let made = match std::fs::symlink_metadata(dir) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                create_private_dir(dir).with_context(|| format!("cannot create {shown}"))?;
                true
            }
            Err(e) => bail!("cannot read {shown}: {e}"),
            Ok(_) if !dir.is_dir() => bail!("{shown} is not a directory"),
            Ok(_) => false,
        };
        let target = Target { dir: dir.into(), made, files: Vec::new(), placed: 0, done: false };
        if let Some(entry) = std::fs::read_dir(dir).with_context(|| format!("cannot read {shown}"))?.next() {
            let name = entry?.file_name();
            bail!(
                "{shown} is not empty (it holds {}); restore into a new data directory (an empty or absent one)",
                name.to_string_lossy()
            );
        }
        ensure_data_dir(dir)?;
        Ok(target)
    }

    /// Streams `entry` into a temporary file and checks it against `listed`.
    fn receive(&mut self, file: &Path, listed: &Listed, entry: &mut impl Read) -> anyhow::Result<()> {
        let own = secret_named(&listed.name).unwrap_or(DATABASE_FILE);
        let (temp, own) = (self.dir.join(format!(".restore.{own}")), self.dir.join(own));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut out = options.open(&temp).with_context(|| format!("cannot create {}", temp.display()))?;
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
        while self.placed < self.files.len() {
            let (temp, own) = &self.files[self.placed];
            std::fs::rename(temp, own)
                .with_context(|| format!("cannot rename {} to {}", temp.display(), own.display()))?;
            self.placed += 1;
        }
        let _ = std::fs::File::open(&self.dir).and_then(|d| d.sync_all());
        self.done = true;
        Ok(std::mem::take(&mut self.dir))
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        for (i, (temp, own)) in self.files.iter().enumerate() {
            let _ = std::fs::remove_file(if i < self.placed { own } else { temp });
        }
        if self.made {
            let _ = std::fs::remove_dir(&self.dir);
        }
    }
}
