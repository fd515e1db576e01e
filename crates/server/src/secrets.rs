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

/// Creates the data directory if missing.
pub fn ensure_data_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("cannot create data directory {}: {e}", dir.display()))
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
