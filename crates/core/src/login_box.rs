//! The log-in box's steps as a state machine (R-LB1, R-LB2, R-LB4): user ID and password, then the key app
//! (choose, waiting) or the key card (key), then done. [`next`] moves from a [`Step`] on an [`Event`] by
//! calling the `login` and `request` flows; the pages only parse, store the step and render the outcome.

use serde::{Deserialize, Serialize};

use crate::keycard::{CardStatus, ClearCard, KeyPepper, REISSUE_BELOW};
use crate::login::{self, Challenge, LoginError, PasswordCheck, SecondFactor};
use crate::oidc::{Amr, PendingAuthorization, amr_app, amr_keycard};
use crate::records::device::Unlock;
use crate::request::{self, RequestError, RequestState};
use crate::store::StoreError;
use crate::user::User;
use crate::{Ctx, RequestId, SecureRng};

/// Longest user ID put back into the password form after a refusal.
pub const MAX_SHOWN_USER_ID: usize = 64;

/// Where the user is in the log-in box.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Step {
    /// Step 1: user ID and password.
    Password,
    /// Step 2 for a user with an active key app: send a request (default) or switch to the key card.
    Choose {
        /// The user.
        sub: String,
        /// Their user ID, shown on the page.
        user_id: String,
    },
    /// Step 3 (app): waiting for the key app to answer this request.
    Waiting {
        /// The user.
        sub: String,
        /// Their user ID, shown on the page.
        user_id: String,
        /// The request sent.
        request_id: RequestId,
    },
    /// Step 2 with the key card: the password was right; this key is asked for.
    Key {
        /// The user.
        sub: String,
        /// Their user ID, shown on the page.
        user_id: String,
        /// The key asked for.
        challenge: Challenge,
    },
}

/// What the user did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// Looked at the current step (while waiting: how the request now stands).
    Show,
    /// Sent user ID and password (from any step: the browser's back button leads there).
    Password {
        /// As typed.
        user_id: &'a str,
        /// As typed.
        password: &'a str,
    },
    /// Asked to send (or send again) a request to the key app.
    SendToApp,
    /// "Skift til nøglekort".
    SwitchToKeyCard,
    /// Typed the key asked for.
    Key(&'a str),
}

/// Why a step is shown again with a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Wrong user ID or password, or a locked or blocked account: one answer for all.
    WrongPassword,
    /// The password could not be checked now; nothing was counted.
    Busy,
    /// The user has no key card with unused keys.
    NoKeyCard,
    /// The key was wrong or used.
    KeyRejected,
    /// Requests to the key app are held back; the key card remains.
    Paused,
    /// The user is blocked: no request is sent, an approval opens nothing.
    Blocked,
    /// The key app rejected the request.
    RequestRejected,
    /// The request lapsed or was replaced.
    RequestExpired,
}

/// Where an event leads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// On to `step` (a new session id); `notify` names the user whose key apps a new request waits for.
    Advance {
        /// The next step.
        step: Step,
        /// The user to tell about a new request.
        notify: Option<String>,
    },
    /// `step` shown, the stored state unchanged, with `refusal` said; `user_id` is put back into the
    /// password form.
    Show {
        /// The step shown.
        step: Step,
        /// What is said, if anything.
        refusal: Option<Refusal>,
        /// The user ID typed, when it is to be shown again.
        user_id: String,
    },
    /// The log-in is complete: a code for `user`, authenticated by `amr`; `new_card` is a key card issued
    /// because the old one ran low, to be printed and sent.
    Done {
        /// The user.
        user: User,
        /// How they authenticated.
        amr: Vec<Amr>,
        /// A card to print.
        new_card: Option<ClearCard>,
    },
    /// The event does not belong to this step: the current step is shown again.
    Elsewhere,
}

/// Why the log-in box cannot go on.
#[derive(Debug, thiserror::Error)]
pub enum LoginBoxError {
    /// Too many password checks wait already.
    #[error(transparent)]
    Busy(#[from] login::Busy),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A flow failed in a way the log-in box has no answer for.
    #[error("{0}")]
    Unexpected(String),
}

impl From<LoginError> for LoginBoxError {
    fn from(e: LoginError) -> Self {
        match e {
            LoginError::Store(s) => LoginBoxError::Store(s),
            LoginError::Busy(b) => LoginBoxError::Busy(b),
            other => LoginBoxError::Unexpected(other.to_string()),
        }
    }
}

/// What the log-in box works with besides the store: the password pool and the key-card pepper.
#[derive(Clone, Copy)]
pub struct LoginBox<'a> {
    /// The store, the time and the client's address.
    pub ctx: Ctx<'a>,
    /// The checker of passwords.
    pub passwords: &'a dyn PasswordCheck,
    /// The key-card pepper.
    pub pepper: &'a KeyPepper,
}

/// Moves the log-in of `authz` from `step` on `event`.
pub async fn next(
    b: LoginBox<'_>,
    rng: &mut dyn SecureRng,
    authz: &PendingAuthorization,
    step: &Step,
    event: Event<'_>,
) -> Result<Outcome, LoginBoxError> {
    match (step, event) {
        (_, Event::Password { user_id, password }) => password_given(b, rng, user_id, password).await,
        (Step::Waiting { sub, request_id, .. }, Event::Show) => follow(b.ctx, step, sub, request_id).await,
        (step, Event::Show) => Ok(show(step.clone(), None)),
        (Step::Choose { sub, user_id } | Step::Waiting { sub, user_id, .. }, Event::SendToApp) => {
            send_to_app(b.ctx, rng, authz, sub, user_id).await
        }
        (Step::Choose { sub, user_id } | Step::Waiting { sub, user_id, .. }, Event::SwitchToKeyCard) => {
            if let Step::Waiting { request_id, .. } = step {
                request::cancel(b.ctx, request_id).await?;
            }
            switch_to_keycard(b.ctx, rng, sub, user_id).await
        }
        (Step::Key { sub, challenge, .. }, Event::Key(key)) => key_given(b, rng, step, sub, challenge, key).await,
        _ => Ok(Outcome::Elsewhere),
    }
}

fn show(step: Step, refusal: Option<Refusal>) -> Outcome {
    Outcome::Show { step, refusal, user_id: String::new() }
}

/// Step 1: a right password leads to the choice (a key app can approve) or to a key of the card.
async fn password_given(
    b: LoginBox<'_>,
    rng: &mut dyn SecureRng,
    typed: &str,
    password: &str,
) -> Result<Outcome, LoginBoxError> {
    let refused = |refusal| {
        let user_id = if typed.chars().count() <= MAX_SHOWN_USER_ID { typed } else { "" };
        Ok(Outcome::Show { step: Step::Password, refusal: Some(refusal), user_id: user_id.to_string() })
    };
    let user = match login::check_password(b.ctx, b.passwords, typed, password).await {
        Ok(u) => u,
        Err(LoginError::Rejected) => return refused(Refusal::WrongPassword),
        // Nothing was checked or changed: the same form again, with the session as it was.
        Err(LoginError::Busy(_)) => return refused(Refusal::Busy),
        Err(e) => return Err(e.into()),
    };
    let (sub, user_id) = (user.sub, user.user_id.to_string());
    let step = match login::second_factor(b.ctx, rng, &sub).await {
        Ok(SecondFactor::Choose) => Step::Choose { sub, user_id },
        Ok(SecondFactor::Key(challenge)) => Step::Key { sub, user_id, challenge },
        Err(LoginError::NoKeyCard) => return Ok(show(Step::Password, Some(Refusal::NoKeyCard))),
        Err(e) => return Err(e.into()),
    };
    Ok(Outcome::Advance { step, notify: None })
}

/// The waiting step as the request now stands: approved (done, unless the user was blocked meanwhile),
/// pending, rejected, or expired.
async fn follow(ctx: Ctx<'_>, step: &Step, sub: &str, request_id: &RequestId) -> Result<Outcome, LoginBoxError> {
    let r = request::refresh(ctx, request_id).await?;
    let unlock = r.as_ref().and_then(|r| r.decided_with.as_deref()).and_then(Unlock::parse);
    let refusal = match r.map(|r| r.state) {
        Some(RequestState::Approved) => match request::approved_login(ctx, sub).await? {
            Some(user) => return Ok(Outcome::Done { user, amr: amr_app(unlock), new_card: None }),
            // Blocked after the request was sent: the approval opens nothing.
            None => Some(Refusal::Blocked),
        },
        Some(RequestState::Pending) => None,
        Some(RequestState::Rejected) => Some(Refusal::RequestRejected),
        _ => Some(Refusal::RequestExpired),
    };
    Ok(show(step.clone(), refusal))
}

/// Sends (or sends again) a request to the user's key apps: "Log på" the client.
async fn send_to_app(
    ctx: Ctx<'_>,
    rng: &mut dyn SecureRng,
    authz: &PendingAuthorization,
    sub: &str,
    user_id: &str,
) -> Result<Outcome, LoginBoxError> {
    let action = format!("Log på {}", authz.client_name);
    let choose = Step::Choose { sub: sub.to_string(), user_id: user_id.to_string() };
    match request::create(ctx, rng, sub, &authz.client_id, &authz.client_name, &action).await {
        Ok(r) => {
            let step = Step::Waiting { sub: sub.to_string(), user_id: user_id.to_string(), request_id: r.request_id };
            Ok(Outcome::Advance { step, notify: Some(sub.to_string()) })
        }
        Err(RequestError::Paused { .. }) => Ok(show(choose, Some(Refusal::Paused))),
        Err(RequestError::Blocked) => Ok(show(choose, Some(Refusal::Blocked))),
        Err(RequestError::Store(e)) => Err(e.into()),
        Err(e) => Err(LoginBoxError::Unexpected(e.to_string())),
    }
}

/// "Skift til nøglekort": a key of the card is asked for instead.
async fn switch_to_keycard(
    ctx: Ctx<'_>,
    rng: &mut dyn SecureRng,
    sub: &str,
    user_id: &str,
) -> Result<Outcome, LoginBoxError> {
    let (sub, user_id) = (sub.to_string(), user_id.to_string());
    match login::choose_challenge(ctx, rng, &sub).await {
        Ok(challenge) => Ok(Outcome::Advance { step: Step::Key { sub, user_id, challenge }, notify: None }),
        Err(LoginError::NoKeyCard) => Ok(show(Step::Choose { sub, user_id }, Some(Refusal::NoKeyCard))),
        Err(e) => Err(e.into()),
    }
}

/// Step 2 with the key card: a right key completes the log-in.
async fn key_given(
    b: LoginBox<'_>,
    rng: &mut dyn SecureRng,
    step: &Step,
    sub: &str,
    challenge: &Challenge,
    key: &str,
) -> Result<Outcome, LoginBoxError> {
    match login::check_key(b.ctx, rng, b.pepper, sub, challenge, key).await {
        Ok(a) => Ok(Outcome::Done { user: a.user, amr: amr_keycard(), new_card: a.new_card }),
        Err(LoginError::Rejected) => Ok(show(step.clone(), Some(Refusal::KeyRejected))),
        Err(e) => Err(e.into()),
    }
}

/// Whether the log-in at `step` still waits for the key app; changes nothing but a lapsed request's state.
pub async fn still_waiting(ctx: Ctx<'_>, step: &Step) -> Result<bool, StoreError> {
    let Step::Waiting { request_id, .. } = step else {
        return Ok(false);
    };
    Ok(request::refresh(ctx, request_id).await?.is_some_and(|r| r.state == RequestState::Pending))
}

/// What the key step says besides the key asked for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KeyNotices {
    /// The unused keys left on the card asked, when few are (a new card is on its way).
    pub keys_left: Option<i64>,
    /// A newer card was issued and is on its way.
    pub new_card_coming: bool,
}

/// The notices of the key step for `sub` asked `challenge`.
pub async fn key_notices(ctx: Ctx<'_>, sub: &str, challenge: &Challenge) -> Result<KeyNotices, StoreError> {
    let cards = ctx.store.cards_of(sub).await?;
    let asked = cards.iter().find(|c| c.serial == challenge.serial);
    Ok(KeyNotices {
        keys_left: asked.filter(|c| c.unused <= REISSUE_BELOW).map(|c| c.unused),
        new_card_coming: cards.iter().any(|c| c.status == CardStatus::Pending && c.serial != challenge.serial),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::DeviceStatus;
    use crate::login::InlinePasswordCheck;
    use crate::memory::{PASSWORD, World};
    use crate::oidc::Scope;
    use crate::store::RequestStore;

    fn authz() -> PendingAuthorization {
        PendingAuthorization {
            client_id: "c-1".into(),
            client_name: "Demo Bank".into(),
            redirect_uri: "https://rp.example/cb".into(),
            scope: Scope { profile: false },
            state: None,
            nonce: None,
            code_challenge: None,
        }
    }

    async fn on(w: &World, step: &Step, event: Event<'_>) -> Outcome {
        on_at(w, 0, step, event).await
    }

    async fn on_at(w: &World, secs: i64, step: &Step, event: Event<'_>) -> Outcome {
        let b = LoginBox { ctx: w.after(secs), passwords: &InlinePasswordCheck, pepper: &w.pepper };
        next(b, &mut rand::rngs::OsRng, &authz(), step, event).await.unwrap()
    }

    /// The step a right password leads to.
    async fn after_password(w: &World) -> Step {
        match on(w, &Step::Password, Event::Password { user_id: "alice", password: PASSWORD }).await {
            Outcome::Advance { step, notify: None } => step,
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn without_a_key_app_the_password_leads_to_a_key_and_the_key_completes_the_log_in() {
        let w = World::new().await;
        let step = after_password(&w).await;
        let Step::Key { challenge, user_id, .. } = &step else { panic!("{step:?}") };
        assert_eq!(user_id, "alice");
        let wrong = on(&w, &step, Event::Key("000000")).await;
        assert_eq!(wrong, show(step.clone(), Some(Refusal::KeyRejected)), "the same key is asked again");
        match on(&w, &step, Event::Key(&w.key(challenge))).await {
            Outcome::Done { user, amr, new_card: None } => {
                assert_eq!((user.sub, amr), (w.user.sub.clone(), amr_keycard()))
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn a_wrong_password_shows_the_form_again_with_a_sane_user_id_kept() {
        let w = World::new().await;
        let wrong = on(&w, &Step::Password, Event::Password { user_id: "alice", password: "nej" }).await;
        let again =
            Outcome::Show { step: Step::Password, refusal: Some(Refusal::WrongPassword), user_id: "alice".into() };
        assert_eq!(wrong, again);
        let long = "a".repeat(MAX_SHOWN_USER_ID + 1);
        match on(&w, &Step::Password, Event::Password { user_id: &long, password: "nej" }).await {
            Outcome::Show { user_id, refusal: Some(Refusal::WrongPassword), .. } => assert_eq!(user_id, ""),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn with_a_key_app_the_user_chooses_and_an_approval_completes_the_log_in() {
        let w = World::new().await;
        let device = w.device(&w.user.sub, DeviceStatus::Active, w.now).await;
        let choose = after_password(&w).await;
        assert!(matches!(choose, Step::Choose { .. }), "{choose:?}");
        let waiting = match on(&w, &choose, Event::SendToApp).await {
            Outcome::Advance { step, notify } => {
                assert_eq!(notify.as_deref(), Some(w.user.sub.as_str()), "the key apps are told");
                step
            }
            other => panic!("{other:?}"),
        };
        let Step::Waiting { request_id, .. } = &waiting else { panic!("{waiting:?}") };
        assert!(still_waiting(w.ctx(), &waiting).await.unwrap());
        assert_eq!(on(&w, &waiting, Event::Show).await, show(waiting.clone(), None));
        let (pending, approved) = (RequestState::Pending, RequestState::Approved);
        let decided =
            w.store.set_request_state(request_id, pending, approved, w.now, Some(&device.device_id), Some("pin"));
        assert!(decided.await.unwrap());
        assert!(!still_waiting(w.ctx(), &waiting).await.unwrap());
        match on(&w, &waiting, Event::Show).await {
            Outcome::Done { amr, new_card: None, .. } => assert_eq!(amr, amr_app(Some(Unlock::Code))),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn a_rejected_or_lapsed_request_is_said_and_the_key_card_remains() {
        let w = World::new().await;
        let device = w.device(&w.user.sub, DeviceStatus::Active, w.now).await;
        let choose = after_password(&w).await;
        let Outcome::Advance { step: waiting, .. } = on(&w, &choose, Event::SendToApp).await else { panic!() };
        let lapsed = on_at(&w, request::REQUEST_TTL_SECS, &waiting, Event::Show).await;
        assert_eq!(lapsed, show(waiting.clone(), Some(Refusal::RequestExpired)));
        let Outcome::Advance { step: waiting, .. } = on(&w, &choose, Event::SendToApp).await else { panic!() };
        let Step::Waiting { request_id, .. } = &waiting else { panic!() };
        let (pending, rejected) = (RequestState::Pending, RequestState::Rejected);
        w.store.set_request_state(request_id, pending, rejected, w.now, Some(&device.device_id), None).await.unwrap();
        assert_eq!(on(&w, &waiting, Event::Show).await, show(waiting.clone(), Some(Refusal::RequestRejected)));
        match on(&w, &waiting, Event::SwitchToKeyCard).await {
            Outcome::Advance { step: Step::Key { .. }, notify: None } => {}
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn switching_to_the_key_card_while_waiting_ends_the_request() {
        let w = World::new().await;
        w.device(&w.user.sub, DeviceStatus::Active, w.now).await;
        let choose = after_password(&w).await;
        let Outcome::Advance { step: waiting, .. } = on(&w, &choose, Event::SendToApp).await else { panic!() };
        let Outcome::Advance { step: Step::Key { .. }, .. } = on(&w, &waiting, Event::SwitchToKeyCard).await else {
            panic!()
        };
        let Step::Waiting { request_id, .. } = &waiting else { panic!() };
        let r = w.store.request(request_id).await.unwrap().unwrap();
        assert_eq!(r.state, RequestState::Cancelled);
    }

    #[tokio::test]
    async fn an_event_of_another_step_changes_nothing() {
        let w = World::new().await;
        assert_eq!(on(&w, &Step::Password, Event::Key("123456")).await, Outcome::Elsewhere);
        assert_eq!(on(&w, &Step::Password, Event::SendToApp).await, Outcome::Elsewhere);
        let key = after_password(&w).await;
        assert_eq!(on(&w, &key, Event::SwitchToKeyCard).await, Outcome::Elsewhere);
        assert!(!still_waiting(w.ctx(), &key).await.unwrap());
    }

    #[tokio::test]
    async fn the_key_step_says_when_few_keys_are_left() {
        let w = World::new().await;
        let Step::Key { challenge, .. } = after_password(&w).await else { panic!() };
        assert_eq!(key_notices(w.ctx(), &w.user.sub, &challenge).await.unwrap(), KeyNotices::default());
    }
}
