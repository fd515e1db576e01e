//! The app code on the device: OPAQUE registration and login (the code never leaves the device), and the
//! sealing of the device key under OPAQUE's export key — which exists only after the server has taken part
//! in a code check, so a copy of the app's files does not allow guessing the code offline.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hkdf::Hkdf;
use noegle_proto::opaque::Suite;
use opaque_ke::{
    ClientLogin, ClientLoginFinishParameters, ClientRegistration, ClientRegistrationFinishParameters,
    CredentialResponse, RegistrationResponse,
};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// A registration in progress.
pub struct Registering(ClientRegistration<Suite>);
/// A login in progress.
pub struct LoggingIn(ClientLogin<Suite>);

/// Why an app-code step failed on the device.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CodeError {
    /// The code is wrong (the server's answer does not open).
    #[error("wrong code")]
    WrongCode,
    /// A message from the server does not decode.
    #[error("the server's answer is malformed")]
    Malformed,
    /// The sealed key does not open with this export key.
    #[error("the device key cannot be opened")]
    Sealed,
}

/// Registration, first step: the request to send.
pub fn register_start(code: &str) -> Result<(String, Registering), CodeError> {
    let r = ClientRegistration::<Suite>::start(&mut rand::rngs::OsRng, code.as_bytes())
        .map_err(|_| CodeError::Malformed)?;
    Ok((B64.encode(r.message.serialize()), Registering(r.state)))
}

/// Registration, last step: the upload to send, and the export key.
pub fn register_finish(state: Registering, code: &str, response_b64: &str) -> Result<(String, Vec<u8>), CodeError> {
    let bytes = B64.decode(response_b64).map_err(|_| CodeError::Malformed)?;
    let response = RegistrationResponse::<Suite>::deserialize(&bytes).map_err(|_| CodeError::Malformed)?;
    let r = state
        .0
        .finish(&mut rand::rngs::OsRng, code.as_bytes(), response, ClientRegistrationFinishParameters::default())
        .map_err(|_| CodeError::Malformed)?;
    Ok((B64.encode(r.message.serialize()), r.export_key.to_vec()))
}

/// Login, first step: the request to send.
pub fn login_start(code: &str) -> Result<(String, LoggingIn), CodeError> {
    let r = ClientLogin::<Suite>::start(&mut rand::rngs::OsRng, code.as_bytes()).map_err(|_| CodeError::Malformed)?;
    Ok((B64.encode(r.message.serialize()), LoggingIn(r.state)))
}

/// Login, last step: the finalization to send, and the export key — or [`CodeError::WrongCode`].
pub fn login_finish(state: LoggingIn, code: &str, response_b64: &str) -> Result<(String, Vec<u8>), CodeError> {
    let bytes = B64.decode(response_b64).map_err(|_| CodeError::Malformed)?;
    let response = CredentialResponse::<Suite>::deserialize(&bytes).map_err(|_| CodeError::Malformed)?;
    let r = state
        .0
        .finish(&mut rand::rngs::OsRng, code.as_bytes(), response, ClientLoginFinishParameters::default())
        .map_err(|_| CodeError::WrongCode)?;
    Ok((B64.encode(r.message.serialize()), r.export_key.to_vec()))
}

/// The device key sealed under the export key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedKey {
    /// 12-byte nonce, base64url.
    pub nonce: String,
    /// ChaCha20-Poly1305 ciphertext of the 32-byte key, base64url.
    pub ciphertext: String,
}

fn cipher(export_key: &[u8]) -> Result<ChaCha20Poly1305, CodeError> {
    let mut key = [0u8; 32];
    Hkdf::<Sha256>::new(Some(b"noegle-app-v1"), export_key)
        .expand(b"device key sealing", &mut key)
        .map_err(|_| CodeError::Sealed)?;
    Ok(ChaCha20Poly1305::new(Key::from_slice(&key)))
}

/// Seals `secret` for `device_id` under `export_key`.
pub fn seal(export_key: &[u8], device_id: &str, secret: &[u8]) -> Result<SealedKey, CodeError> {
    let mut nonce = [0u8; 12];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let ct = cipher(export_key)?
        .encrypt(Nonce::from_slice(&nonce), Payload { msg: secret, aad: device_id.as_bytes() })
        .map_err(|_| CodeError::Sealed)?;
    Ok(SealedKey { nonce: B64.encode(nonce), ciphertext: B64.encode(ct) })
}

/// Opens a sealed secret.
pub fn open(export_key: &[u8], device_id: &str, sealed: &SealedKey) -> Result<Vec<u8>, CodeError> {
    let nonce = B64.decode(&sealed.nonce).map_err(|_| CodeError::Sealed)?;
    let ct = B64.decode(&sealed.ciphertext).map_err(|_| CodeError::Sealed)?;
    if nonce.len() != 12 {
        return Err(CodeError::Sealed);
    }
    cipher(export_key)?
        .decrypt(Nonce::from_slice(&nonce), Payload { msg: &ct, aad: device_id.as_bytes() })
        .map_err(|_| CodeError::Sealed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealing_needs_the_same_export_key_and_device() {
        let sealed = seal(&[1; 64], "d-1", b"secret key bytes").unwrap();
        assert_eq!(open(&[1; 64], "d-1", &sealed).unwrap(), b"secret key bytes");
        assert_eq!(open(&[2; 64], "d-1", &sealed), Err(CodeError::Sealed));
        assert_eq!(open(&[1; 64], "d-2", &sealed), Err(CodeError::Sealed));
    }
}
