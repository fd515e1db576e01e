//! `noegle backup FILE`: one file (a tar archive, mode 0600) holding what a node cannot be rebuilt without —
//! the database (SQLite, copied online while the server runs) and the data directory's secrets (the signing
//! keys, the key-card pepper, the OPAQUE setup, the VAPID key; without the pepper no key-card key checks,
//! without the OPAQUE setup no app code unlocks). On PostgreSQL the archive holds the secrets, and `pg_dump`
//! takes the database (README, "Backups"). `restore.rs` reads it back.
//!
//! The archive (format 2): first `MANIFEST.json`, which lists every entry that follows, in order, with its size
//! and SHA-256; then `noegle.sqlite` (on SQLite) and `secrets/<name>` for each secret, every one a regular file
//! of mode 0600. The manifest comes first, so a restore knows what must follow before it reads a byte of it;
//! hence the database is copied (`VACUUM INTO`) and every file hashed before the archive is written, and each
//! is hashed again as it is written, so a file that changed in between fails the backup.
//!
//! The copy of the database is made in a staging directory inside the data directory,
//! `.backup-staging.<pid>` (0700, the copy 0600), locked while the backup runs and removed on every way out
//! (an error, SIGINT, SIGTERM — which end the backup at once, in the middle of `VACUUM INTO` too: `undo.rs`).
//! A backup killed outright leaves it behind, still private; the next backup removes every staging directory
//! no running backup holds. An unfinished archive is removed too.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use noegle_server::Config;
use noegle_server::secrets::{ALL as SECRETS, DATABASE_FILE, is_secret};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::admin::emit;
use crate::cli::Output;

pub(crate) mod undo;
use undo::Undo;

/// The first entry of every archive.
pub(crate) const MANIFEST: &str = "MANIFEST.json";
/// The archive format this version writes and restores.
pub(crate) const FORMAT: u64 = 2;
/// The prefix of a backup's staging directory in the data directory.
const STAGING: &str = ".backup-staging.";
/// Bytes read or written at a time: memory does not grow with the archive.
pub(crate) const CHUNK: usize = 64 * 1024;

/// What an archive holds, listed before it.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Manifest {
    /// [`FORMAT`].
    pub format: u64,
    /// The version of nøgle that wrote it.
    pub noegle: String,
    /// `sqlite` (the archive holds the database) or `postgres` (it does not).
    pub database: String,
    /// Every entry after the manifest, in order.
    pub entries: Vec<Listed>,
}

/// One entry of an archive, as its manifest lists it.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Listed {
    /// `noegle.sqlite` or `secrets/<file name>`.
    pub name: String,
    /// Its length in bytes.
    pub size: u64,
    /// The SHA-256 of its bytes, in lowercase hex.
    pub sha256: String,
}

/// Lowercase hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The secret file an archive entry holds, by its name.
pub(crate) fn secret_named(name: &str) -> Option<&str> {
    name.strip_prefix("secrets/").filter(|n| is_secret(n))
}

/// Writes the backup of `config`'s node to `file` (which must not exist).
pub async fn backup(config: &Config, file: &Path, out: Output) -> anyhow::Result<()> {
    if file.exists() {
        bail!("{} exists; choose a new file for the backup", file.display());
    }
    let dir = &config.data_dir;
    if !dir.is_dir() {
        bail!("{} is not a data directory (it does not exist)", dir.display());
    }
    noegle_server::secrets::ensure_data_dir(dir)?;
    let undo = Undo::on_stop(
        "the backup was stopped (SIGINT or SIGTERM); its unfinished file and its copy of the database are removed",
    )?;
    let url = config.database_url();
    let sqlite = url.starts_with("sqlite:");
    let mut sources = Vec::new();
    let staging = if sqlite { Some(Staging::new(dir, &undo)?) } else { None };
    if let Some(staging) = &staging {
        let copy = staging.copy();
        noegle_store::backup::sqlite_snapshot(&url, &copy).await.context("copying the database")?;
        sources.push((DATABASE_FILE.to_string(), copy));
    }
    let mut secrets: Vec<String> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| is_secret(n))
        .collect();
    secrets.sort();
    if let Some(missing) = SECRETS.iter().find(|s| !secrets.iter().any(|n| n == *s)) {
        bail!("{} holds no {missing}; a node makes its secrets at its first start", dir.display());
    }
    sources.extend(secrets.iter().map(|n| (format!("secrets/{n}"), dir.join(n))));
    let mut listed = Vec::new();
    for (name, path) in &sources {
        listed.push(listing(name, path)?);
    }
    let manifest = Manifest {
        format: FORMAT,
        noegle: env!("CARGO_PKG_VERSION").into(),
        database: if sqlite { "sqlite" } else { "postgres" }.into(),
        entries: listed,
    };
    let partial = Partial::create(file, &undo)?;
    write_archive(&partial.file, &manifest, &sources)?;
    partial.keep(&undo);
    drop(staging);
    let database = &manifest.database;
    emit(out, json!({ "file": file, "database": database, "secrets": secrets }), || {
        let mut text = format!(
            "backup written to {} (the database and {} secrets; keep it as safe as the data directory)",
            file.display(),
            secrets.len()
        );
        if !sqlite {
            text.push_str(
                "\nthe PostgreSQL database itself: pg_dump --format=custom --file=noegle.dump \"$NOEGLE_DATABASE\"",
            );
        }
        text
    });
    Ok(())
}

/// The manifest's line for the file at `path`, archived as `name`: its size and SHA-256, read in chunks.
fn listing(name: &str, path: &Path) -> anyhow::Result<Listed> {
    let meta = std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    if !meta.is_file() {
        bail!("{} is not a regular file", path.display());
    }
    let mut reader = Checked::new(std::fs::File::open(path)?);
    std::io::copy(&mut reader, &mut std::io::sink()).with_context(|| format!("cannot read {}", path.display()))?;
    let (size, sha256) = reader.finish();
    Ok(Listed { name: name.into(), size, sha256 })
}

/// Writes the archive to `f`: the manifest, then each of `sources` (archive name, file) as it lists them.
fn write_archive(f: &std::fs::File, manifest: &Manifest, sources: &[(String, PathBuf)]) -> anyhow::Result<()> {
    let mut tar = tar::Builder::new(std::io::BufWriter::with_capacity(CHUNK, f));
    let bytes = serde_json::to_vec(manifest)?;
    tar.append_data(&mut header(bytes.len() as u64, now()), MANIFEST, &bytes[..])?;
    for ((name, path), listed) in sources.iter().zip(&manifest.entries) {
        let source = std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
        let mtime = source.metadata()?.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
        let mut reader = Checked::new(source.take(listed.size));
        tar.append_data(&mut header(listed.size, mtime.map_or(0, |d| d.as_secs())), name, &mut reader)?;
        if reader.finish() != (listed.size, listed.sha256.clone()) {
            bail!("{} changed while the backup was written; take the backup again", path.display());
        }
    }
    let mut written = tar.into_inner()?;
    written.flush()?;
    drop(written);
    f.sync_all()?;
    Ok(())
}

/// The header of a regular file of `size` bytes, mode 0600, modified at `mtime`.
fn header(size: u64, mtime: u64) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Regular);
    header.set_size(size);
    header.set_mode(0o600);
    header.set_mtime(mtime);
    header
}

#[allow(clippy::disallowed_methods)] // an archive's timestamp: the edge, where the wall clock belongs
fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// A reader that hashes and counts what passes through it.
pub(crate) struct Checked<R> {
    inner: R,
    hash: Sha256,
    count: u64,
}

impl<R: Read> Checked<R> {
    pub(crate) fn new(inner: R) -> Checked<R> {
        Checked { inner, hash: Sha256::new(), count: 0 }
    }

    /// The bytes read and their SHA-256 (lowercase hex).
    pub(crate) fn finish(self) -> (u64, String) {
        (self.count, hex(&self.hash.finalize()))
    }
}

impl<R: Read> Read for Checked<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

/// The archive being written: removed (by the [`Undo`] list) unless kept.
struct Partial {
    path: PathBuf,
    file: std::fs::File,
}

impl Partial {
    /// Creates `path` (which must not exist), mode 0600, and lists it in `undo`.
    fn create(path: &Path, undo: &Undo) -> anyhow::Result<Partial> {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut made = undo.lock();
        let file = options.open(path).with_context(|| format!("cannot create {}", path.display()))?;
        made.file(path.into());
        Ok(Partial { path: path.into(), file })
    }

    /// The archive is whole: keep it.
    fn keep(self, undo: &Undo) {
        drop(self.file);
        if let Some(parent) = self.path.parent().filter(|p| !p.as_os_str().is_empty()) {
            // Its name too survives a crash, as far as the file system allows.
            let _ = std::fs::File::open(parent).and_then(|d| d.sync_all());
        }
        undo.lock().succeeded();
    }
}

/// A backup's private directory for its copy of the database, inside the data directory: 0700, locked while
/// the backup runs, removed when dropped (and listed in the [`Undo`] list, for a signal).
struct Staging {
    dir: PathBuf,
    _lock: std::fs::File,
}

impl Staging {
    /// Removes the staging directories of backups that are gone, and makes this one's.
    fn new(data_dir: &Path, undo: &Undo) -> anyhow::Result<Staging> {
        remove_abandoned(data_dir);
        let dir = data_dir.join(format!("{STAGING}{}", std::process::id()));
        let mut builder = std::fs::DirBuilder::new();
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        let mut made = undo.lock();
        builder.create(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        made.tree(dir.clone());
        drop(made);
        // Another backup's clean-up could remove it before it is locked: then the copy cannot be made there,
        // and this backup fails (nothing is left behind).
        let lock = std::fs::File::open(&dir).with_context(|| format!("cannot open {}", dir.display()))?;
        lock_now(&lock).with_context(|| format!("cannot lock {}", dir.display()))?;
        Ok(Staging { dir, _lock: lock })
    }

    fn copy(&self) -> PathBuf {
        self.dir.join(DATABASE_FILE)
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Takes the exclusive lock of `f` if nobody holds it.
fn lock_now(f: &std::fs::File) -> std::io::Result<()> {
    #[cfg(unix)]
    rustix::fs::flock(f, rustix::fs::FlockOperation::NonBlockingLockExclusive)?;
    #[cfg(not(unix))]
    let _ = f;
    Ok(())
}

/// Removes every staging directory in `data_dir` that no running backup holds (left by a killed one).
fn remove_abandoned(data_dir: &Path) {
    let Ok(entries) = std::fs::read_dir(data_dir) else { return };
    for entry in entries.flatten() {
        let named = entry.file_name().to_str().is_some_and(|n| n.starts_with(STAGING));
        if !named || !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let path = entry.path();
        // Held while it is removed, so no other backup's clean-up takes it at the same time.
        if let Ok(_held) = std::fs::File::open(&path).and_then(|f| lock_now(&f).map(|()| f)) {
            match std::fs::remove_dir_all(&path) {
                Ok(()) => tracing::info!(path = %path.display(), "removed the copy an unfinished backup left"),
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "cannot remove an unfinished backup's copy")
                }
            }
        }
    }
}
