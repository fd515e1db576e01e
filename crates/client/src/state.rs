//! What the app keeps on disk: one JSON file, readable by its owner only, in the app's data directory.

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use p256::ecdsa::SigningKey;
use rand::RngCore;
use serde::{Deserialize, Serialize};

/// The device's state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceState {
    /// The server's URL.
    pub server: String,
    /// The device id, once activation started.
    pub device_id: Option<String>,
    /// The support serial.
    pub serial: Option<String>,
    /// `pending` or `active`, as last seen.
    pub status: Option<String>,
    /// When the second activation log-in is possible (Unix seconds).
    pub ready_at: Option<i64>,
    /// The device's P-256 private key in clear (32 bytes, base64url) — only until an app code is chosen.
    pub private_key: Option<String>,
    /// The device key sealed under the app code's OPAQUE export key, once a code is chosen.
    pub sealed_key: Option<crate::appcode::SealedKey>,
    /// The token the server gave with the code, which every unlock names (so that no one else can use up the
    /// device's attempts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unlock_token: Option<String>,
    /// "Lås når appen lukker" (default on); the app always locks after 5 minutes regardless.
    #[serde(default = "default_true")]
    pub lock_on_close: bool,
    /// "Slå meddelelser til" (default on); requests still arrive with "Opdater" when off.
    #[serde(default = "default_true")]
    pub notifications: bool,
}

fn default_true() -> bool {
    true
}

/// Why the state cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// No state: the app is not set up here.
    #[error("no key app in {0}; run `noegleapp activate start` first")]
    Missing(PathBuf),
    /// File system.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        error: std::io::Error,
    },
    /// Damaged file.
    #[error("{0}: the file is damaged: {1}")]
    Damaged(PathBuf, String),
}

/// The state file in `dir`.
pub fn file(dir: &Path) -> PathBuf {
    dir.join("device.json")
}

impl DeviceState {
    /// A new state for `server` with a fresh device key.
    pub fn new(server: &str) -> DeviceState {
        let key = Self::fresh_key().to_bytes();
        DeviceState {
            server: server.trim_end_matches('/').to_string(),
            device_id: None,
            serial: None,
            status: None,
            ready_at: None,
            private_key: Some(B64.encode(key.as_slice())),
            sealed_key: None,
            unlock_token: None,
            lock_on_close: true,
            notifications: true,
        }
    }

    /// The device key while it is in clear (before an app code is chosen).
    pub fn clear_key(&self) -> Option<SigningKey> {
        let bytes = B64.decode(self.private_key.as_ref()?).ok()?;
        SigningKey::from_slice(&bytes).ok()
    }

    /// A fresh device key (32 bytes).
    pub fn fresh_key() -> SigningKey {
        loop {
            let mut b = [0u8; 32];
            rand::rngs::OsRng.fill_bytes(&mut b);
            if let Ok(k) = SigningKey::from_slice(&b) {
                return k;
            }
        }
    }

    /// Reads the state from `dir`.
    pub fn load(dir: &Path) -> Result<DeviceState, StateError> {
        let path = file(dir);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(StateError::Missing(dir.to_path_buf())),
            Err(error) => return Err(StateError::Io { path, error }),
        };
        serde_json::from_str(&text).map_err(|e| StateError::Damaged(path, e.to_string()))
    }

    /// Writes the state to `dir` (created 0700 if missing; the file 0600), replacing it atomically.
    pub fn save(&self, dir: &Path) -> Result<(), StateError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |error| StateError::Io { path, error }
        };
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(io(dir))?;
        }
        let tmp = dir.join("device.json.tmp");
        let _ = std::fs::remove_file(&tmp);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut f = options.open(&tmp).map_err(io(&tmp))?;
        let text = serde_json::to_vec_pretty(self).map_err(|e| StateError::Damaged(tmp.clone(), e.to_string()))?;
        f.write_all(&text).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
        std::fs::rename(&tmp, file(dir)).map_err(io(&file(dir)))
    }

    /// Deletes every file of the app in `dir`.
    pub fn wipe(dir: &Path) -> Result<(), StateError> {
        match std::fs::remove_dir_all(dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(error) => Err(StateError::Io { path: dir.to_path_buf(), error }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_with_owner_only_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let app = dir.path().join("app");
        assert!(matches!(DeviceState::load(&app), Err(StateError::Missing(_))));
        let s = DeviceState::new("http://localhost:8080/");
        assert_eq!(s.server, "http://localhost:8080");
        s.save(&app).unwrap();
        assert_eq!(DeviceState::load(&app).unwrap(), s);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(file(&app)).unwrap().permissions().mode() & 0o777, 0o600);
        }
        assert!(s.clear_key().is_some());
        DeviceState::wipe(&app).unwrap();
        assert!(!app.exists());
    }
}
