//! The server's own secrets, kept as files (mode 0600) in the data directory and created at first start:
//! the ID-token signing key, the key-card pepper and the OPAQUE server setup of the app code. They are kept
//! apart from the database, so a copy of the database alone reveals no key-card key, cannot forge a token and
//! does not allow guessing app codes offline.

use std::path::Path;

use noegle_core::keycard::KeyPepper;
use p256::ecdsa::SigningKey;
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use rand::RngCore;

use crate::keycard_pdf::write_private;

/// File name of the ES256 signing key (PKCS#8 PEM).
pub const SIGNING_KEY_FILE: &str = "oidc-signing-key.pem";
/// File name of the key-card pepper (32 random bytes).
pub const PEPPER_FILE: &str = "keycard-pepper.key";
/// File name of the OPAQUE server setup of the app code.
pub const OPAQUE_SETUP_FILE: &str = "opaque-server-setup.bin";
/// File name of the VAPID key of Web Push (32 bytes, the P-256 secret scalar).
pub const VAPID_FILE: &str = "vapid.key";

/// Every secret file of the data directory (what a backup must hold besides the database).
pub const ALL: [&str; 4] = [SIGNING_KEY_FILE, PEPPER_FILE, OPAQUE_SETUP_FILE, VAPID_FILE];
/// File name of the SQLite database in the data directory (when no other database is set).
pub const DATABASE_FILE: &str = "noegle.sqlite";
/// The data directory's folder of key cards the server issued by itself.
pub const OUTBOX: &str = "outbox";

/// Creates the data directory if missing, open to its owner only (0700, whatever the umask). A data directory
/// that others may enter, and noegle's files in it that others may read (left so by an older version or a
/// wide umask), are closed (0700, 0600) with a warning.
pub fn ensure_data_dir(dir: &Path) -> anyhow::Result<()> {
    create_private_dir(dir).map_err(|e| anyhow::anyhow!("cannot create data directory {}: {e}", dir.display()))?;
    close_up(dir);
    Ok(())
}

/// Creates the directory `dir` (0700) if missing, and the directories above it as usual.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    match builder.create(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        other => other,
    }
}

/// Whether `name` is one of noegle's own files in the data directory: the SQLite file (with its -wal, -shm,
/// -journal) or a secret.
pub fn is_ours(name: &str) -> bool {
    name == DATABASE_FILE
        || name.strip_prefix(DATABASE_FILE).is_some_and(|rest| rest.starts_with('-'))
        || is_secret(name)
}

/// Closes `dir`, its outbox and noegle's files in them to other users, warning of each one that was open.
fn close_up(dir: &Path) {
    close(dir, 0o700);
    close_files(dir, is_ours);
    let outbox = dir.join(OUTBOX);
    if outbox.is_dir() {
        close(&outbox, 0o700);
        close_files(&outbox, |name| name.ends_with(".pdf"));
    }
}

/// [`close`]s (0600) the files in `dir` whose names are `ours`.
fn close_files(dir: &Path, ours: fn(&str) -> bool) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_file()) && entry.file_name().to_str().is_some_and(ours) {
            close(&entry.path(), 0o600);
        }
    }
}

/// Sets `path` to `mode` if others may read or enter it, with a warning.
#[cfg(unix)]
fn close(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = std::fs::metadata(path) else { return };
    let was = meta.permissions().mode() & 0o7777;
    if was & 0o077 == 0 {
        return;
    }
    match std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)) {
        Ok(()) => tracing::warn!(path = %path.display(), was = format!("{was:o}"), now = format!("{mode:o}"),
            "this was open to other users; closed"),
        Err(e) => tracing::warn!(path = %path.display(), was = format!("{was:o}"), error = %e,
            "this is open to other users and could not be closed"),
    }
}

#[cfg(not(unix))]
fn close(_: &Path, _: u32) {}

/// Reads the secret file at `path`, first writing `make()` to it if it does not exist yet. When another
/// process (an admin command, a second node) creates it at the same time, theirs is used.
fn read_or_create(path: &Path, make: impl FnOnce() -> anyhow::Result<Vec<u8>>) -> anyhow::Result<Vec<u8>> {
    if !path.exists() {
        match write_private(path, &make()?) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => anyhow::bail!("cannot write {}: {e}", path.display()),
        }
    }
    std::fs::read(path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))
}

/// Whether `name` is one of the data directory's secret files: the four of [`ALL`], or a signing key added
/// by a rotation (`oidc-signing-key.<unix time it signs from>.pem`).
pub fn is_secret(name: &str) -> bool {
    ALL.contains(&name) || rotated_from(name).is_some()
}

/// The time a rotated signing key's file name says it signs from.
fn rotated_from(name: &str) -> Option<i64> {
    name.strip_prefix("oidc-signing-key.")?.strip_suffix(".pem")?.parse().ok()
}

/// Every ID-token signing key with the time it signs from: the first (created at first start, from the
/// start) and those `noegle keys rotate` added.
pub fn signing_keys(dir: &Path) -> anyhow::Result<Vec<(i64, SigningKey)>> {
    let mut keys = vec![(0, signing_key(dir)?)];
    for entry in std::fs::read_dir(dir).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", dir.display()))? {
        let entry = entry?;
        let Some(from) = entry.file_name().to_str().and_then(rotated_from) else { continue };
        let pem = std::fs::read_to_string(entry.path())?;
        let key = SigningKey::from_pkcs8_pem(&pem)
            .map_err(|e| anyhow::anyhow!("{} is not a P-256 PKCS#8 key: {e}", entry.path().display()))?;
        keys.push((from, key));
    }
    keys.sort_by_key(|(from, _)| *from);
    Ok(keys)
}

/// Adds a new ID-token signing key that signs from `from` (unix time); answers its file.
pub fn add_signing_key(dir: &Path, from: i64) -> anyhow::Result<std::path::PathBuf> {
    let key = new_signing_key();
    let pem = key.to_pkcs8_pem(LineEnding::LF).map_err(|e| anyhow::anyhow!("cannot encode signing key: {e}"))?;
    let path = dir.join(format!("oidc-signing-key.{from}.pem"));
    write_private(&path, pem.as_bytes()).map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

fn new_signing_key() -> SigningKey {
    loop {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        if let Ok(k) = SigningKey::from_slice(&bytes) {
            return k;
        }
    }
}

/// Loads the signing key, creating it at first start.
pub fn signing_key(dir: &Path) -> anyhow::Result<SigningKey> {
    let path = dir.join(SIGNING_KEY_FILE);
    let pem = read_or_create(&path, || {
        let key = new_signing_key();
        let pem = key.to_pkcs8_pem(LineEnding::LF).map_err(|e| anyhow::anyhow!("cannot encode signing key: {e}"))?;
        Ok(pem.as_bytes().to_vec())
    })?;
    let pem = String::from_utf8(pem).map_err(|_| anyhow::anyhow!("{} is not a PEM file", path.display()))?;
    SigningKey::from_pkcs8_pem(&pem).map_err(|e| anyhow::anyhow!("{} is not a P-256 PKCS#8 key: {e}", path.display()))
}

/// Loads the key-card pepper, creating it at first start.
pub fn pepper(dir: &Path) -> anyhow::Result<KeyPepper> {
    let path = dir.join(PEPPER_FILE);
    let bytes = read_or_create(&path, || {
        let mut bytes = vec![0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Ok(bytes)
    })?;
    let bytes: [u8; 32] =
        bytes.try_into().map_err(|_| anyhow::anyhow!("{} must hold exactly 32 bytes", path.display()))?;
    Ok(KeyPepper::from_bytes(bytes))
}

/// Loads the OPAQUE server setup, creating it at first start. Whoever holds it together with the records could
/// try all 10⁴ codes offline, hence a file apart from the database.
pub fn opaque_setup(dir: &Path) -> anyhow::Result<noegle_core::appcode::Setup> {
    let path = dir.join(OPAQUE_SETUP_FILE);
    let bytes = read_or_create(&path, || Ok(noegle_core::appcode::new_setup(&mut rand::rngs::OsRng)))?;
    noegle_core::appcode::parse_setup(&bytes)
        .ok_or_else(|| anyhow::anyhow!("{} is not an OPAQUE server setup", path.display()))
}

/// Loads the VAPID key that signs Web Push requests, creating it at first start. Its public half is what
/// browsers bind push subscriptions to: a new key silently orphans every subscription.
pub fn vapid_key(dir: &Path) -> anyhow::Result<web_push_native::jwt_simple::algorithms::ES256KeyPair> {
    use web_push_native::jwt_simple::algorithms::ES256KeyPair;
    let path = dir.join(VAPID_FILE);
    let bytes = read_or_create(&path, || Ok(ES256KeyPair::generate().to_bytes()))?;
    ES256KeyPair::from_bytes(&bytes).map_err(|e| anyhow::anyhow!("{} is not a P-256 key: {e}", path.display()))
}

#[cfg(all(test, unix))]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn the_data_directory_is_made_and_kept_private() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("above").join("data");
        ensure_data_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        pepper(&dir).unwrap();
        let open = |p: &Path, m| std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
        std::fs::write(dir.join(DATABASE_FILE), b"").unwrap();
        std::fs::write(dir.join("noegle.sqlite-wal"), b"").unwrap();
        std::fs::write(dir.join("noegle.toml"), b"").unwrap();
        for f in [PEPPER_FILE, DATABASE_FILE, "noegle.sqlite-wal", "noegle.toml"] {
            open(&dir.join(f), 0o644);
        }
        open(&dir, 0o755);
        ensure_data_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        for f in [PEPPER_FILE, DATABASE_FILE, "noegle.sqlite-wal"] {
            assert_eq!(mode(&dir.join(f)), 0o600, "{f}");
        }
        assert_eq!(mode(&dir.join("noegle.toml")), 0o644, "what is not noegle's is left alone");
        assert!(is_ours("oidc-signing-key.1700000000.pem") && !is_ours("noegle.sqlite.bak"));
    }
}
