//! The app code (R-APP9): an OPAQUE registration per device, so the 4-digit code never leaves the device and
//! cannot be guessed offline from what the server stores. Every login *start* counts as a wrong code until
//! its finish succeeds (a wrong code fails on the client, which then never finishes); five in a row block
//! the device until "Glemt kode". A successful login opens an app session of at most five minutes.
//!
//! Because a start counts, only the device may start: registering a code gives the device an *unlock token*
//! (kept beside its sealed key, its digest on the server), and a login names it — someone who merely knows
//! a device id cannot use up its attempts. "Glemt kode" ([`reset_code`]) gives the device a new key but sets
//! it cooling off for the activation wait, audited and shown to the user's other devices, which may cancel it.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use noegle_proto::opaque::Suite;
use opaque_ke::{
    CredentialFinalization, CredentialRequest, RegistrationRequest, RegistrationUpload, ServerLogin,
    ServerLoginParameters, ServerRegistration, ServerSetup,
};

use crate::Ctx;
use crate::SecureRng;
use crate::audit::AuditKind;
use crate::device::{Device, Unlock};
use crate::secret::{constant_time_eq, random_token, token_digest};
use crate::session_key::SessionKey;
use crate::store::StoreError;

/// Wrong codes in a row that block the device (R-APP9 default).
pub const MAX_CODE_FAILURES: i64 = 5;
/// Seconds an app session lasts: the app always locks after five minutes (R-APP4).
pub const APP_SESSION_SECS: i64 = 300;
/// Seconds between login start and finish.
const LOGIN_STATE_SECS: i64 = 60;

/// The server's OPAQUE setup (secret; kept apart from the database).
pub type Setup = ServerSetup<Suite>;

/// Why an app-code step failed.
#[derive(Debug, thiserror::Error)]
pub enum AppCodeError {
    /// A message that does not decode.
    #[error("malformed OPAQUE message: {0}")]
    Malformed(&'static str),
    /// The device has no app code yet.
    #[error("this key app has no code yet; choose one")]
    NoCode,
    /// Five wrong codes: blocked until "Glemt kode".
    #[error("the key app is blocked after 5 wrong codes; use \"Glemt kode\" (user ID, password and a key-card key)")]
    Blocked,
    /// The code was wrong (or the login expired).
    #[error("wrong code")]
    WrongCode {
        /// Attempts left before the device is blocked.
        remaining: i64,
    },
    /// Changing the code needs an unlocked app (or a forgot-code proof).
    #[error("unlock the app with the current code first, or use \"Glemt kode\"")]
    NotAllowed,
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn decode(b64: &str, what: &'static str) -> Result<Vec<u8>, AppCodeError> {
    B64.decode(b64.trim()).map_err(|_| AppCodeError::Malformed(what))
}

/// Creates a new server setup.
pub fn new_setup(rng: &mut dyn SecureRng) -> Vec<u8> {
    let mut r = RngAdapter(rng);
    Setup::new(&mut r).serialize().to_vec()
}

/// Parses a stored setup.
pub fn parse_setup(bytes: &[u8]) -> Option<Setup> {
    Setup::deserialize(bytes).ok()
}

/// Registration, server's first step: answers the client's request for `device`.
pub fn register_start(setup: &Setup, device: &Device, request_b64: &str) -> Result<String, AppCodeError> {
    let request = RegistrationRequest::<Suite>::deserialize(&decode(request_b64, "registration request")?)
        .map_err(|_| AppCodeError::Malformed("registration request"))?;
    let result = ServerRegistration::<Suite>::start(setup, request, device.device_id.as_str().as_bytes())
        .map_err(|_| AppCodeError::Malformed("registration request"))?;
    Ok(B64.encode(result.message.serialize()))
}

/// Registration, server's last step: stores the record and clears the wrong-code count (a new code, or a
/// reset by "Glemt kode"). The caller has checked the device may (re)register.
pub async fn register_finish(ctx: Ctx<'_>, device: &Device, upload_b64: &str) -> Result<(), AppCodeError> {
    let upload = RegistrationUpload::<Suite>::deserialize(&decode(upload_b64, "registration upload")?)
        .map_err(|_| AppCodeError::Malformed("registration upload"))?;
    let record = ServerRegistration::<Suite>::finish(upload).serialize().to_vec();
    ctx.store.set_app_code(&device.device_id, &record).await?;
    ctx.audit_device(AuditKind::AppCodeSet, device, serde_json::json!({})).await?;
    Ok(())
}

/// What lets a device set its app code: nothing for its first code; otherwise an unlocked app (changing the
/// code) or a "Glemt kode" proof.
#[derive(Clone, Copy, Debug)]
pub struct CodeAuthority<'a> {
    /// The app session of an unlocked app, if the app sent one.
    pub app_session: Option<&'a str>,
    /// A forgot-code proof from [`reset_code`], if the app sent one (it is used up, whatever follows).
    pub reset_token: Option<&'a str>,
}

/// Sets `device`'s app code from the client's last registration message — its first code, or a new one if
/// `authority` allows it — and answers the device's new unlock token (which its logins must name).
pub async fn set_code(
    ctx: Ctx<'_>,
    rng: &mut dyn SecureRng,
    device: &Device,
    upload_b64: &str,
    authority: CodeAuthority<'_>,
) -> Result<String, AppCodeError> {
    let first = ctx.store.app_code(&device.device_id).await?.is_none();
    let allowed = first
        || match (authority.reset_token, authority.app_session) {
            (Some(t), _) => take_reset(ctx, device, t).await?,
            (None, Some(s)) => session_unlock(ctx, device, s).await?.is_some(),
            (None, None) => false,
        };
    if !allowed {
        return Err(AppCodeError::NotAllowed);
    }
    register_finish(ctx, device, upload_b64).await?;
    Ok(issue_unlock_token(ctx, rng, device).await?)
}

/// Login, server's first step. Counts the attempt before answering; answers the server's message and how
/// many attempts remain should this one fail.
pub async fn login_start(
    ctx: Ctx<'_>,
    rng: &mut dyn SecureRng,
    setup: &Setup,
    device: &Device,
    request_b64: &str,
) -> Result<(String, i64), AppCodeError> {
    let request = CredentialRequest::<Suite>::deserialize(&decode(request_b64, "credential request")?)
        .map_err(|_| AppCodeError::Malformed("credential request"))?;
    let record = ctx.store.app_code(&device.device_id).await?.ok_or(AppCodeError::NoCode)?;
    let failures = ctx.store.add_code_failure(&device.device_id).await?;
    if failures > MAX_CODE_FAILURES {
        return Err(AppCodeError::Blocked);
    }
    let record =
        ServerRegistration::<Suite>::deserialize(&record).map_err(|_| AppCodeError::Malformed("stored record"))?;
    let mut r = RngAdapter(rng);
    let result = ServerLogin::start(
        &mut r,
        setup,
        Some(record),
        request,
        device.device_id.as_str().as_bytes(),
        ServerLoginParameters::default(),
    )
    .map_err(|_| AppCodeError::Malformed("credential request"))?;
    let state = B64.encode(result.state.serialize());
    ctx.store.put_session(&SessionKey::code_login(&device.device_id), &state, ctx.now.plus(LOGIN_STATE_SECS)).await?;
    Ok((B64.encode(result.message.serialize()), MAX_CODE_FAILURES - failures))
}

/// Login, server's last step: on success clears the count and opens an app session (answered).
pub async fn login_finish(
    ctx: Ctx<'_>,
    rng: &mut dyn SecureRng,
    device: &Device,
    finalization_b64: &str,
) -> Result<(String, i64), AppCodeError> {
    let Some(state) = ctx.store.take_session(&SessionKey::code_login(&device.device_id), ctx.now).await? else {
        return Err(wrong_code(ctx, device).await?);
    };
    let finalization =
        CredentialFinalization::<Suite>::deserialize(&decode(finalization_b64, "credential finalization")?)
            .map_err(|_| AppCodeError::Malformed("credential finalization"))?;
    let state = ServerLogin::<Suite>::deserialize(&decode(&state, "login state")?)
        .map_err(|_| AppCodeError::Malformed("login state"))?;
    if state.finish(finalization, ServerLoginParameters::default()).is_err() {
        return Err(wrong_code(ctx, device).await?);
    }
    ctx.store.reset_code_failures(&device.device_id).await?;
    Ok(open_session(ctx, rng, device, Unlock::Code).await?)
}

/// Opens an app session of `device` (after a right code or a verified fingerprint); answers the token and
/// its lifetime in seconds.
pub async fn open_session(
    ctx: Ctx<'_>,
    rng: &mut dyn SecureRng,
    device: &Device,
    how: Unlock,
) -> Result<(String, i64), StoreError> {
    let token = random_token(rng, 32);
    let expires = ctx.now.plus(APP_SESSION_SECS);
    let data = format!("{} {}", device.device_id, how.amr().as_str());
    ctx.store.put_session(&SessionKey::app_session(&token), &data, expires).await?;
    Ok((token, APP_SESSION_SECS))
}

/// Whether the device is blocked by wrong codes (then only "Glemt kode" helps; the fingerprint does not).
pub async fn blocked(ctx: Ctx<'_>, device: &Device) -> Result<bool, StoreError> {
    Ok(ctx.store.code_failures(&device.device_id).await? >= MAX_CODE_FAILURES)
}

/// Records a failed login and answers how many attempts remain.
async fn wrong_code(ctx: Ctx<'_>, device: &Device) -> Result<AppCodeError, StoreError> {
    let failures = ctx.store.code_failures(&device.device_id).await?;
    ctx.audit_device(AuditKind::AppCodeRejected, device, serde_json::json!({ "failures": failures })).await?;
    Ok(AppCodeError::WrongCode { remaining: (MAX_CODE_FAILURES - failures).max(0) })
}

/// How the app was unlocked, if `token` is a live app session of `device`.
pub async fn session_unlock(ctx: Ctx<'_>, device: &Device, token: &str) -> Result<Option<Unlock>, StoreError> {
    let data = ctx.store.session(&SessionKey::app_session(token), ctx.now).await?;
    Ok(data.and_then(|d| {
        let (owner, how) = d.split_once(' ')?;
        (device.device_id == owner).then(|| Unlock::parse(how)).flatten()
    }))
}

/// Ends an app session (the app locked).
pub async fn end_session(ctx: Ctx<'_>, token: &str) -> Result<(), StoreError> {
    ctx.store.delete_session(&SessionKey::app_session(token)).await
}

/// The attachment kind under which the digest of a device's unlock token is kept.
const UNLOCK: &str = "unlock";

/// A new unlock token for `device` (replacing any earlier one), given to the device when it registers a code.
pub async fn issue_unlock_token(ctx: Ctx<'_>, rng: &mut dyn SecureRng, device: &Device) -> Result<String, StoreError> {
    let token = random_token(rng, 32);
    ctx.store.set_attachment(&device.device_id, UNLOCK, Some(&token_digest(&token))).await?;
    Ok(token)
}

/// What a login's unlock token says for its device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnlockToken {
    /// It is the device's token.
    Shown,
    /// The device was set up before unlock tokens and has none yet: none is needed, and its next successful
    /// login gives it one.
    NoneYet,
    /// It is missing or not the device's: the login must not go on (nothing is counted).
    Refused,
}

/// Checks `presented` against `device`'s unlock token (constant time, on digests).
pub async fn check_unlock_token(
    ctx: Ctx<'_>,
    device: &Device,
    presented: Option<&str>,
) -> Result<UnlockToken, StoreError> {
    Ok(match ctx.store.attachment(&device.device_id, UNLOCK).await? {
        None => UnlockToken::NoneYet,
        Some(digest) if presented.is_some_and(|t| constant_time_eq(token_digest(t).as_bytes(), digest.as_bytes())) => {
            UnlockToken::Shown
        }
        Some(_) => UnlockToken::Refused,
    })
}

/// "Glemt kode" (R-APP8) once the caller has checked user ID, password and a key-card key for the device's
/// user: the device gets `public_key` (its old key was sealed under the forgotten code), its wrong-code count
/// is cleared, and it cools off for `wait_secs` ([`Device::cooling_off`]) — the event audited in the same
/// transaction. Answers the proof for one new code, or `None` if the device is no longer active.
pub async fn reset_code(
    ctx: Ctx<'_>,
    rng: &mut dyn SecureRng,
    device: &Device,
    public_key: &[u8],
    wait_secs: i64,
) -> Result<Option<String>, StoreError> {
    let until = ctx.now.plus(wait_secs);
    let event = ctx.device_event(AuditKind::AppCodeReset, device, serde_json::json!({ "ready_at": until })).await?;
    if !ctx.store.reset_device_key(&device.device_id, public_key, until, &event).await? {
        return Ok(None);
    }
    Ok(Some(issue_reset(ctx, rng, device).await?))
}

/// "Glemt kode" (R-APP8) from the app: the `ticket` (user ID and password checked) must be for `device`'s
/// user, and `key` the key-card key it asked for; then the code is reset as [`reset_code`] says. Answers the
/// proof for one new code, or `None` if the device is no longer active.
#[allow(clippy::too_many_arguments)]
pub async fn forgot_code(
    ctx: Ctx<'_>,
    rng: &mut dyn SecureRng,
    pepper: &crate::keycard::KeyPepper,
    device: &Device,
    ticket: &crate::ticket::Ticket,
    key: &str,
    public_key: &[u8],
    wait_secs: i64,
) -> Result<Option<String>, crate::login::LoginError> {
    if ticket.sub != device.sub {
        return Err(crate::login::LoginError::Rejected);
    }
    crate::login::check_key(ctx, rng, pepper, &ticket.sub, &ticket.challenge, key).await?;
    Ok(reset_code(ctx, rng, device, public_key, wait_secs).await?)
}

/// A forgot-code proof ("Glemt kode", R-APP8): after password and key-card key, a short-lived token that
/// allows one new registration for `device`.
pub async fn issue_reset(ctx: Ctx<'_>, rng: &mut dyn SecureRng, device: &Device) -> Result<String, StoreError> {
    let token = random_token(rng, 32);
    ctx.store.put_session(&SessionKey::code_reset(&token), device.device_id.as_str(), ctx.now.plus(300)).await?;
    Ok(token)
}

/// Uses a forgot-code proof: true if it was valid for `device` (it works once).
pub async fn take_reset(ctx: Ctx<'_>, device: &Device, token: &str) -> Result<bool, StoreError> {
    let owner = ctx.store.take_session(&SessionKey::code_reset(token), ctx.now).await?;
    Ok(owner.as_deref() == Some(device.device_id.as_str()))
}

/// `opaque-ke` wants a sized RNG; this lends it ours.
struct RngAdapter<'a>(&'a mut dyn SecureRng);

impl rand::RngCore for RngAdapter<'_> {
    fn next_u32(&mut self) -> u32 {
        self.0.next_u32()
    }
    fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.0.fill_bytes(dest)
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand::Error> {
        self.0.try_fill_bytes(dest)
    }
}

impl rand::CryptoRng for RngAdapter<'_> {}

#[cfg(test)]
mod tests {
    use opaque_ke::{ClientRegistration, ClientRegistrationFinishParameters, RegistrationResponse};

    use super::*;
    use crate::device::DeviceStatus;
    use crate::login::{InlinePasswordCheck, LoginError};
    use crate::memory::{PASSWORD, World};
    use crate::store::DeviceStore;

    /// What an app sends to register `code` for `device` (the client's side of OPAQUE).
    fn upload(setup: &Setup, device: &Device, code: &str) -> String {
        let rng = &mut rand::rngs::OsRng;
        let start = ClientRegistration::<Suite>::start(rng, code.as_bytes()).unwrap();
        let answer = register_start(setup, device, &B64.encode(start.message.serialize())).unwrap();
        let answer = RegistrationResponse::<Suite>::deserialize(&B64.decode(answer).unwrap()).unwrap();
        let params = ClientRegistrationFinishParameters::default();
        B64.encode(start.state.finish(rng, code.as_bytes(), answer, params).unwrap().message.serialize())
    }

    fn setup() -> Setup {
        parse_setup(&new_setup(&mut rand::rngs::OsRng)).unwrap()
    }

    #[tokio::test]
    async fn the_first_code_needs_nothing_a_new_one_an_unlocked_app_or_a_reset_proof() {
        let (w, setup, rng) = (World::new().await, setup(), &mut rand::rngs::OsRng);
        let me = w.device(&w.user.sub, DeviceStatus::Active, w.now).await;
        let none = CodeAuthority { app_session: None, reset_token: None };
        let first = set_code(w.ctx(), rng, &me, &upload(&setup, &me, "7391"), none).await.unwrap();
        assert_eq!(check_unlock_token(w.ctx(), &me, Some(&first)).await.unwrap(), UnlockToken::Shown);

        // A second code: not without proof, not with another device's session or a made-up reset token.
        let other = w.device(&w.user.sub, DeviceStatus::Active, w.now).await;
        let (foreign, _) = open_session(w.ctx(), rng, &other, Unlock::Code).await.unwrap();
        for authority in [
            none,
            CodeAuthority { app_session: Some(&foreign), reset_token: None },
            CodeAuthority { app_session: None, reset_token: Some("made-up") },
        ] {
            let r = set_code(w.ctx(), rng, &me, &upload(&setup, &me, "5820"), authority).await;
            assert!(matches!(r, Err(AppCodeError::NotAllowed)), "{authority:?}: {r:?}");
        }
        assert_eq!(check_unlock_token(w.ctx(), &me, Some(&first)).await.unwrap(), UnlockToken::Shown, "unchanged");

        // An unlocked app may change it: the old unlock token is replaced.
        let (session, _) = open_session(w.ctx(), rng, &me, Unlock::Code).await.unwrap();
        let unlocked = CodeAuthority { app_session: Some(&session), reset_token: None };
        let second = set_code(w.ctx(), rng, &me, &upload(&setup, &me, "5820"), unlocked).await.unwrap();
        assert_eq!(check_unlock_token(w.ctx(), &me, Some(&first)).await.unwrap(), UnlockToken::Refused);
        assert_eq!(check_unlock_token(w.ctx(), &me, Some(&second)).await.unwrap(), UnlockToken::Shown);

        // A reset proof works once.
        let proof = issue_reset(w.ctx(), rng, &me).await.unwrap();
        let reset = CodeAuthority { app_session: None, reset_token: Some(&proof) };
        set_code(w.ctx(), rng, &me, &upload(&setup, &me, "1357"), reset).await.unwrap();
        let again = set_code(w.ctx(), rng, &me, &upload(&setup, &me, "2468"), reset).await;
        assert!(matches!(again, Err(AppCodeError::NotAllowed)));
    }

    #[tokio::test]
    async fn forgot_code_needs_the_users_ticket_and_key_and_cools_the_device_off() {
        let (w, rng) = (World::new().await, &mut rand::rngs::OsRng);
        let me = w.device(&w.user.sub, DeviceStatus::Active, w.now).await;
        let ticket = |_: ()| async {
            let (secret, _) =
                crate::ticket::issue(w.ctx(), &mut rand::rngs::OsRng, &InlinePasswordCheck, "alice", PASSWORD)
                    .await
                    .unwrap();
            crate::ticket::take(w.ctx(), &secret).await.unwrap().unwrap()
        };
        let new_key = [5u8; 65];

        // Someone else's ticket, or a wrong key: refused, and the device is as it was.
        let mut theirs = ticket(()).await;
        theirs.sub = "someone-else".into();
        let r = forgot_code(w.ctx(), rng, &w.pepper, &me, &theirs, "000000", &new_key, 3600).await;
        assert!(matches!(r, Err(LoginError::Rejected)));
        let t = ticket(()).await;
        let r = forgot_code(w.ctx(), rng, &w.pepper, &me, &t, "000000", &new_key, 3600).await;
        assert!(matches!(r, Err(LoginError::Rejected)));
        assert_eq!(w.store.device(&me.device_id).await.unwrap().unwrap().public_key, me.public_key);

        let t = ticket(()).await;
        let proof = forgot_code(w.ctx(), rng, &w.pepper, &me, &t, &w.key(&t.challenge), &new_key, 3600).await.unwrap();
        assert!(proof.is_some());
        let now = w.store.device(&me.device_id).await.unwrap().unwrap();
        assert_eq!(now.public_key, new_key.to_vec(), "the device has its new key");
        assert!(now.cooling_off(w.now) && !now.cooling_off(w.now.plus(3600)), "for the activation wait");
        assert!(w.audit_kinds().await.contains(&"app_code_reset".to_string()));

        // A device no longer active gets nothing.
        let gone = w.device(&w.user.sub, DeviceStatus::Revoked, w.now).await;
        let t = ticket(()).await;
        let r = forgot_code(w.ctx(), rng, &w.pepper, &gone, &t, &w.key(&t.challenge), &new_key, 3600).await;
        assert_eq!(r.unwrap(), None);
    }

    /// The client's first login message for `code`, and its state.
    fn login_request(code: &str) -> (String, opaque_ke::ClientLogin<Suite>) {
        let start = opaque_ke::ClientLogin::<Suite>::start(&mut rand::rngs::OsRng, code.as_bytes()).unwrap();
        (B64.encode(start.message.serialize()), start.state)
    }

    /// The client's last login message, if the server's answer opens with `code`.
    fn login_finalization(state: opaque_ke::ClientLogin<Suite>, code: &str, answer: &str) -> Option<String> {
        let answer = opaque_ke::CredentialResponse::<Suite>::deserialize(&B64.decode(answer).unwrap()).unwrap();
        let params = opaque_ke::ClientLoginFinishParameters::default();
        let done = state.finish(&mut rand::rngs::OsRng, code.as_bytes(), answer, params).ok()?;
        Some(B64.encode(done.message.serialize()))
    }

    #[tokio::test]
    async fn every_unlock_counts_until_it_succeeds_and_five_wrong_block_the_device() {
        let (w, setup, rng) = (World::new().await, setup(), &mut rand::rngs::OsRng);
        let me = w.device(&w.user.sub, DeviceStatus::Active, w.now).await;
        let none = CodeAuthority { app_session: None, reset_token: None };
        set_code(w.ctx(), rng, &me, &upload(&setup, &me, "7391"), none).await.unwrap();

        // The right code: the count goes up at the start and back to nothing at the finish.
        let (request, state) = login_request("7391");
        let (answer, left_if_wrong) = login_start(w.ctx(), rng, &setup, &me, &request).await.unwrap();
        assert_eq!(left_if_wrong, 4);
        let finalization = login_finalization(state, "7391", &answer).unwrap();
        let (session, secs) = login_finish(w.ctx(), rng, &me, &finalization).await.unwrap();
        assert_eq!(
            (secs, session_unlock(w.ctx(), &me, &session).await.unwrap()),
            (APP_SESSION_SECS, Some(Unlock::Code))
        );
        assert_eq!(w.store.code_failures(&me.device_id).await.unwrap(), 0);
        let after_five_minutes = crate::Ctx { now: w.now.plus(APP_SESSION_SECS), ..w.ctx() };
        assert_eq!(session_unlock(after_five_minutes, &me, &session).await.unwrap(), None, "the app locks");

        // Wrong codes: the app cannot open the answer, so the start alone counts; five block the device.
        for left in (0..5).rev() {
            let (request, state) = login_request("0000");
            let (answer, left_if_wrong) = login_start(w.ctx(), rng, &setup, &me, &request).await.unwrap();
            assert_eq!(left_if_wrong, left);
            assert_eq!(login_finalization(state, "0000", &answer), None);
        }
        assert!(blocked(w.ctx(), &me).await.unwrap());
        let (request, _) = login_request("7391");
        let r = login_start(w.ctx(), rng, &setup, &me, &request).await;
        assert!(matches!(r, Err(AppCodeError::Blocked)), "even the right code: only \"Glemt kode\" helps");
        assert!(w.audit_kinds().await.contains(&"app_code_set".to_string()));
    }
}
