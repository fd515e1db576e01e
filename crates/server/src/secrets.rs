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

/// The prefix of the temporary files of a restore (`noegle restore`) in the data directory. One left there is a
/// restore that did not finish: the directory may lack its database or a secret.
pub const RESTORING: &str = ".restore.";

/// Creates the data directory if missing, open to its owner only (0700, whatever the umask). A data directory
/// that others may enter, and noegle's files in it that others may read (left so by an older version or a
/// wide umask), are closed (0700, 0600) with a warning; the outbox and its cards only to other users (an
/// operator may have given them to a group that prints). Refused, with what to do: a data directory another
/// user owns, one that cannot be closed, and one holding what a restore that did not finish left
/// ([`RESTORING`]).
pub fn ensure_data_dir(dir: &Path) -> anyhow::Result<()> {
    create_private_dir(dir).map_err(|e| anyhow::anyhow!("cannot create data directory {}: {e}", dir.display()))?;
    owned_by_us(dir)?;
    unfinished_restore(dir)?;
    close_up(dir)
}

/// [`ensure_data_dir`], and the secrets as a node needs them with its database `database_url`: where that is
/// a SQLite file that exists, all four secrets ([`ALL`]) must be there — a missing one is refused rather than
/// made anew, since a new pepper or OPAQUE setup would silently break every key card or app code the database
/// holds; where it does not exist yet (the first start), the secrets are made now, before the database, so
/// that a first start cut short never leaves a database without them. On PostgreSQL the data directory
/// cannot tell a first start from a lost secret: missing secrets are made, as at a first start.
pub fn open_data_dir(dir: &Path, database_url: &str) -> anyhow::Result<()> {
    ensure_data_dir(dir)?;
    let database = noegle_store::SqliteStore::file(database_url);
    match database.filter(|f| std::fs::symlink_metadata(f).is_ok()) {
        Some(db) => {
            if let Some(secret) = ALL.iter().find(|s| std::fs::symlink_metadata(dir.join(s)).is_err()) {
                anyhow::bail!(
                    "{} holds no {secret}, yet the database {} exists: {} — a new {secret} would not fit the \
                     database, so nøgle makes none. Put the file back (from the backup: noegle restore it into a \
                     new directory and copy {secret} from there; or from another node), or, to start this node \
                     afresh with no users, move the database away",
                    dir.display(),
                    db.display(),
                    needed_for(secret)
                );
            }
        }
        None => {
            signing_key(dir)?;
            pepper(dir)?;
            opaque_setup(dir)?;
            vapid_key(dir)?;
        }
    }
    Ok(())
}

/// Why a node needs `secret`, one of [`ALL`].
pub fn needed_for(secret: &str) -> &'static str {
    match secret {
        PEPPER_FILE => "without it no key-card key checks",
        OPAQUE_SETUP_FILE => "without it no app code unlocks",
        SIGNING_KEY_FILE => "without it relying parties see a new signing key",
        VAPID_FILE => "without it every Web Push subscription is lost",
        _ => "a node needs it",
    }
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

/// Refuses the directory `dir` unless the user running noegle owns it: another user could open it again, and
/// noegle could not close it.
#[cfg(unix)]
pub fn owned_by_us(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let meta = std::fs::metadata(dir).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", dir.display()))?;
    let us = rustix::process::geteuid().as_raw();
    if meta.uid() != us {
        anyhow::bail!(
            "{} belongs to the user with uid {} (mode {:o}), not to the one running noegle (uid {us}); nøgle keeps \
             its secrets only in a directory of its own user. Run noegle as the directory's owner (sudo -u), or \
             give it a directory of its own (chown {us} {}; chmod 700 {})",
            dir.display(),
            meta.uid(),
            meta.permissions().mode() & 0o7777,
            dir.display(),
            dir.display()
        );
    }
    Ok(())
}

/// Refuses the directory `dir` unless the user running noegle owns it (nothing to check off unix).
#[cfg(not(unix))]
pub fn owned_by_us(_: &Path) -> anyhow::Result<()> {
    Ok(())
}

/// Refuses a data directory that holds the temporary files of a restore that did not finish.
fn unfinished_restore(dir: &Path) -> anyhow::Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", dir.display()))?;
    for entry in entries {
        let name = entry.map_err(|e| anyhow::anyhow!("cannot read {}: {e}", dir.display()))?.file_name();
        if name.to_string_lossy().starts_with(RESTORING) {
            anyhow::bail!(
                "{} holds {}, left by a restore that did not finish (killed, or the machine stopped): the \
                 directory may lack its database or a secret, and a node started on it would make new ones. \
                 Delete the directory and restore the backup again (noegle restore FILE)",
                dir.display(),
                name.to_string_lossy()
            );
        }
    }
    Ok(())
}

/// Whether `name` is one of noegle's own files in the data directory: the SQLite file (with its -wal, -shm,
/// -journal) or a secret.
pub fn is_ours(name: &str) -> bool {
    name == DATABASE_FILE
        || name.strip_prefix(DATABASE_FILE).is_some_and(|rest| rest.starts_with('-'))
        || is_secret(name)
}

/// How a path open to others is closed.
#[derive(Clone, Copy)]
enum Close {
    /// To this mode, if its group or others may use it (the data directory 0700, noegle's files 0600).
    To(u32),
    /// Only to other users: the group keeps what the operator gave it (the outbox and its cards).
    Others,
}

/// Closes `dir`, its outbox and noegle's files in them, warning of each one that was open.
fn close_up(dir: &Path) -> anyhow::Result<()> {
    close(dir, Close::To(0o700))?;
    close_files(dir, is_ours, Close::To(0o600))?;
    let outbox = dir.join(OUTBOX);
    if outbox.is_dir() {
        close(&outbox, Close::Others)?;
        close_files(&outbox, |name| name.ends_with(".pdf"), Close::Others)?;
    }
    Ok(())
}

/// [`close`]s the files in `dir` whose names are `ours`.
fn close_files(dir: &Path, ours: fn(&str) -> bool, how: Close) -> anyhow::Result<()> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(()) };
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_file()) && entry.file_name().to_str().is_some_and(ours) {
            close(&entry.path(), how)?;
        }
    }
    Ok(())
}

/// Closes `path` as `how` says if it is open, with a warning; refuses it if it cannot be closed.
#[cfg(unix)]
fn close(path: &Path, how: Close) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = std::fs::metadata(path) else { return Ok(()) };
    let was = meta.permissions().mode() & 0o7777;
    let now = match how {
        Close::To(mode) if was & 0o077 != 0 => mode,
        Close::Others if was & 0o007 != 0 => was & !0o007,
        _ => return Ok(()),
    };
    match std::fs::set_permissions(path, std::fs::Permissions::from_mode(now)) {
        Ok(()) => {
            tracing::warn!(path = %path.display(), was = format!("{was:o}"), now = format!("{now:o}"),
                "this was open to other users; closed");
            Ok(())
        }
        Err(e) => anyhow::bail!(
            "{} is open to other users (mode {was:o}) and cannot be closed ({e}); nøgle keeps no secret there. \
             Close it (chmod {now:o} {}) as its owner, or give nøgle a directory of its own",
            path.display(),
            path.display()
        ),
    }
}

#[cfg(not(unix))]
fn close(_: &Path, _: Close) -> anyhow::Result<()> {
    Ok(())
}

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

    fn set(p: &Path, m: u32) {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
    }

    /// An outbox the operator gave to a group keeps it; only other users are shut out.
    #[test]
    fn the_outbox_is_closed_to_other_users_only() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        ensure_data_dir(&dir).unwrap();
        let outbox = dir.join(OUTBOX);
        create_private_dir(&outbox).unwrap();
        assert_eq!(mode(&outbox), 0o700, "a new outbox is private");
        let card = outbox.join("keycard-alice-1.pdf");
        std::fs::write(&card, b"%PDF").unwrap();
        set(&outbox, 0o750);
        set(&card, 0o640);
        ensure_data_dir(&dir).unwrap();
        assert_eq!((mode(&outbox), mode(&card)), (0o750, 0o640), "the group the operator gave is kept");
        set(&outbox, 0o755);
        set(&card, 0o644);
        ensure_data_dir(&dir).unwrap();
        assert_eq!((mode(&outbox), mode(&card)), (0o750, 0o640), "other users are shut out");
    }

    /// A data directory holding what a killed restore left is refused, with what to do.
    #[test]
    fn a_directory_an_unfinished_restore_left_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        std::fs::write(dir.join(".restore.noegle.sqlite"), b"").unwrap();
        let e = open_data_dir(dir, &format!("sqlite://{}", dir.join(DATABASE_FILE).display())).unwrap_err();
        let e = e.to_string();
        assert!(e.contains(".restore.noegle.sqlite") && e.contains("Delete the directory and restore"), "{e}");
        assert!(ALL.iter().all(|s| !dir.join(s).exists()), "no secret was made");
    }

    /// A database without its pepper (or another secret) is refused rather than given a new
    /// one; at a first start the secrets are made before the database; on PostgreSQL they are made.
    #[test]
    fn a_database_without_its_secrets_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        let url = format!("sqlite://{}", dir.join(DATABASE_FILE).display());
        open_data_dir(&dir, &url).unwrap();
        assert!(ALL.iter().all(|s| dir.join(s).exists()), "the first start makes every secret");
        assert!(!dir.join(DATABASE_FILE).exists(), "before the database");
        std::fs::write(dir.join(DATABASE_FILE), b"").unwrap();
        open_data_dir(&dir, &url).unwrap();
        for secret in ALL {
            let kept = std::fs::read(dir.join(secret)).unwrap();
            std::fs::remove_file(dir.join(secret)).unwrap();
            let e = open_data_dir(&dir, &url).unwrap_err().to_string();
            assert!(e.contains(secret) && e.contains("yet the database") && e.contains(needed_for(secret)), "{e}");
            assert!(!dir.join(secret).exists(), "no new {secret} is made");
            std::fs::write(dir.join(secret), kept).unwrap();
        }
        // A database elsewhere (sqlite:///…/other.db) counts the same.
        let other = tmp.path().join("other.db");
        std::fs::write(&other, b"").unwrap();
        let e = open_data_dir(&tmp.path().join("fresh"), &format!("sqlite://{}", other.display())).unwrap_err();
        assert!(e.to_string().contains("holds no"), "{e}");
        let pg = tmp.path().join("pg");
        open_data_dir(&pg, "postgres://noegle@localhost/noegle").unwrap();
        assert!(ALL.iter().all(|s| pg.join(s).exists()), "on PostgreSQL missing secrets are made");
    }

    /// A data directory another user owns is refused, naming its owner and mode.
    #[test]
    fn a_data_directory_of_another_user_is_refused() {
        use std::os::unix::fs::MetadataExt;
        let tmp = tempfile::tempdir().unwrap();
        let dir = if rustix::process::geteuid().is_root() {
            let dir = tmp.path().join("theirs");
            std::fs::create_dir(&dir).unwrap();
            std::os::unix::fs::chown(&dir, Some(65534), Some(65534)).unwrap();
            set(&dir, 0o755);
            dir
        } else {
            // Not root: a directory someone else owns.
            std::path::PathBuf::from("/")
        };
        let owner = std::fs::metadata(&dir).unwrap().uid();
        let e = ensure_data_dir(&dir).unwrap_err().to_string();
        assert!(e.contains(&format!("uid {owner}")) && e.contains("Run noegle as the directory's owner"), "{e}");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count() > 0, dir == Path::new("/"), "nothing written");
        if dir != Path::new("/") {
            assert_eq!(mode(&dir), 0o755, "left as it was");
        }
    }
}
