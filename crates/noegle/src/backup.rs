//! `noegle backup FILE` and `noegle restore FILE`: one file (a tar archive, mode 0600) holding what a node
//! cannot be rebuilt without — the database (SQLite, copied online while the server runs) and the data
//! directory's secrets (the signing keys, the key-card pepper, the OPAQUE setup, the VAPID key; without the
//! pepper no key-card key checks, without the OPAQUE setup no app code unlocks). On PostgreSQL the archive
//! holds the secrets, and `pg_dump` takes the database (README, "Backups").

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use noegle_server::Config;
use noegle_server::secrets::{ALL as SECRETS, is_secret};
use serde_json::json;

use crate::admin::emit;
use crate::cli::Output;

const MANIFEST: &str = "MANIFEST.json";
const DATABASE: &str = "noegle.sqlite";

/// Whether `config` keeps its database in the data directory's SQLite file.
fn default_sqlite(config: &Config) -> bool {
    config.database.is_empty()
}

/// Writes the backup of `config`'s node to `file` (which must not exist).
pub async fn backup(config: &Config, file: &Path, out: Output) -> anyhow::Result<()> {
    if file.exists() {
        bail!("{} exists; choose a new file for the backup", file.display());
    }
    let url = config.database_url();
    let sqlite = url.starts_with("sqlite:");
    let staging =
        file.with_file_name(format!(".{}.db-copy", file.file_name().and_then(|n| n.to_str()).unwrap_or("backup")));
    if sqlite {
        let _ = std::fs::remove_file(&staging);
        noegle_store::backup::sqlite_snapshot(&url, &staging).await.context("copying the database")?;
    }
    let written = write_archive(config, file, sqlite.then_some(staging.as_path()));
    let _ = std::fs::remove_file(&staging);
    let secrets = written?;
    let database = if sqlite { "sqlite" } else { "postgres" };
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

fn write_archive(config: &Config, file: &Path, database: Option<&Path>) -> anyhow::Result<Vec<String>> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let f = options.open(file).with_context(|| format!("cannot create {}", file.display()))?;
    let mut tar = tar::Builder::new(f);
    let manifest = json!({
        "format": 1,
        "noegle": env!("CARGO_PKG_VERSION"),
        "database": if database.is_some() { "sqlite" } else { "postgres" },
    });
    append(&mut tar, MANIFEST, manifest.to_string().as_bytes())?;
    if let Some(db) = database {
        tar.append_path_with_name(db, DATABASE)?;
    }
    let mut secrets = Vec::new();
    for entry in std::fs::read_dir(&config.data_dir)? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if is_secret(&name) {
            append(&mut tar, &format!("secrets/{name}"), &std::fs::read(config.data_dir.join(&name))?)?;
            secrets.push(name);
        }
    }
    tar.into_inner()?.sync_all()?;
    Ok(secrets)
}

fn append(tar: &mut tar::Builder<std::fs::File>, name: &str, bytes: &[u8]) -> anyhow::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_size(bytes.len() as u64);
    header.set_mode(0o600);
    header.set_cksum();
    tar.append_data(&mut header, name, bytes)?;
    Ok(())
}

/// The secret file an archive entry holds, by its name.
fn secret_named(name: &str) -> Option<&str> {
    name.strip_prefix("secrets/").filter(|n| is_secret(n))
}

/// Calls `f` with each entry of the archive `file`: its name and its bytes.
fn for_each_entry(file: &Path, mut f: impl FnMut(&str, &[u8]) -> anyhow::Result<()>) -> anyhow::Result<()> {
    let opened = std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
    let mut archive = tar::Archive::new(opened);
    let unreadable = || format!("{} is not a nøgle backup (it does not read as one)", file.display());
    for entry in archive.entries().with_context(unreadable)? {
        let mut entry = entry.with_context(unreadable)?;
        let name = entry.path().with_context(unreadable)?.to_string_lossy().into_owned();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).with_context(unreadable)?;
        f(&name, &bytes)?;
    }
    Ok(())
}

/// Restores the backup `file` into `config`'s data directory, which must hold no database and no secrets.
pub fn restore(config: &Config, file: &Path, out: Output) -> anyhow::Result<()> {
    let dir = &config.data_dir;
    let taken: Vec<PathBuf> = SECRETS.iter().chain([&DATABASE]).map(|n| dir.join(n)).filter(|p| p.exists()).collect();
    if !taken.is_empty() {
        bail!("{} already holds {}; restore into a new data directory", dir.display(), taken[0].display());
    }
    // First every entry is checked, then written: a wrong archive leaves the directory as it was.
    let mut manifest = None;
    for_each_entry(file, |name, bytes| {
        match name {
            MANIFEST => manifest = Some(serde_json::from_slice::<serde_json::Value>(bytes).context("the manifest")?),
            DATABASE if default_sqlite(config) => {}
            DATABASE => bail!("the backup holds a SQLite database, but this node is set to {}", config.database),
            _ if secret_named(name).is_some() => {}
            _ => bail!("{} holds {name:?}, which no backup of nøgle does", file.display()),
        }
        Ok(())
    })?;
    let manifest = manifest.with_context(|| format!("{} is not a nøgle backup (no manifest)", file.display()))?;
    noegle_server::secrets::ensure_data_dir(dir)?;
    let mut restored = Vec::new();
    for_each_entry(file, |name, bytes| {
        // Only the names a backup writes: nothing can land outside the data directory.
        let target = match (name, secret_named(name)) {
            (DATABASE, _) => dir.join(DATABASE),
            (_, Some(secret)) => dir.join(secret),
            _ => return Ok(()),
        };
        noegle_server::keycard_pdf::write_private(&target, bytes)
            .with_context(|| format!("cannot write {}", target.display()))?;
        restored.push(name.to_string());
        Ok(())
    })?;
    emit(out, json!({ "data_dir": dir, "restored": restored, "database": manifest["database"] }), || {
        let mut text = format!("restored {} files into {}", restored.len(), dir.display());
        if manifest["database"] == "postgres" {
            text.push_str(
                "\nthe PostgreSQL database itself: pg_restore --clean --dbname \"$NOEGLE_DATABASE\" noegle.dump",
            );
        }
        text
    });
    Ok(())
}
