//! The key app's log-in ticket: the first half of a password + key-card log-in made from the app
//! (activation, "Glemt kode"). The password is checked and a key-card key chosen; the ticket carries both to
//! the call that gives the key, and works once, for five minutes.

use serde::{Deserialize, Serialize};

use crate::login::{self, Challenge, LoginError, PasswordCheck};
use crate::secret::random_token;
use crate::session_key::SessionKey;
use crate::store::StoreError;
use crate::{Ctx, SecureRng};

/// Seconds a ticket lives.
pub const TICKET_SECS: i64 = 300;

/// What a ticket stands for: whose password was right, and which key to ask for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ticket {
    /// The user.
    pub sub: String,
    /// The key-card key the next call must give.
    pub challenge: Challenge,
}

/// Checks user ID and password, chooses the key to ask for, and answers the ticket (the secret handed to
/// the app; only its digest is stored) with that key.
pub async fn issue(
    ctx: Ctx<'_>,
    rng: &mut dyn SecureRng,
    passwords: &dyn PasswordCheck,
    user_id: &str,
    password: &str,
) -> Result<(String, Challenge), LoginError> {
    let user = login::check_password(ctx, passwords, user_id, password).await?;
    let challenge = login::choose_challenge(ctx, rng, &user.sub).await?;
    let secret = random_token(rng, 32);
    let data = serde_json::to_string(&Ticket { sub: user.sub, challenge: challenge.clone() })
        .map_err(|e| StoreError::Backend(format!("a ticket could not be written: {e}")))?;
    ctx.store.put_session(&SessionKey::ticket(&secret), &data, ctx.now.plus(TICKET_SECS)).await?;
    Ok((secret, challenge))
}

/// Takes the ticket `secret`: it works once. `None` when it is unknown, used or expired.
pub async fn take(ctx: Ctx<'_>, secret: &str) -> Result<Option<Ticket>, StoreError> {
    let data = ctx.store.take_session(&SessionKey::ticket(secret), ctx.now).await?;
    Ok(data.and_then(|d| serde_json::from_str(&d).ok()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::login::InlinePasswordCheck;
    use crate::memory::{PASSWORD, World};
    use crate::store::UserStore;

    #[tokio::test]
    async fn a_right_password_gives_a_ticket_that_works_once_for_five_minutes() {
        let w = World::new().await;
        let rng = &mut rand::rngs::OsRng;
        let (secret, challenge) = issue(w.ctx(), rng, &InlinePasswordCheck, "alice", PASSWORD).await.unwrap();
        assert_eq!(challenge.serial, w.card.serial, "the key is asked from her card");
        let ticket = take(w.ctx(), &secret).await.unwrap().unwrap();
        assert_eq!((ticket.sub.as_str(), &ticket.challenge), (w.user.sub.as_str(), &challenge));
        assert_eq!(take(w.ctx(), &secret).await.unwrap(), None, "a ticket works once");

        let (secret, _) = issue(w.ctx(), rng, &InlinePasswordCheck, "alice", PASSWORD).await.unwrap();
        let later = crate::Ctx { now: w.now.plus(TICKET_SECS), ..w.ctx() };
        assert_eq!(take(later, &secret).await.unwrap(), None, "five minutes, then gone");
    }

    #[tokio::test]
    async fn a_wrong_password_gives_no_ticket_and_counts() {
        let w = World::new().await;
        let r = issue(w.ctx(), &mut rand::rngs::OsRng, &InlinePasswordCheck, "alice", "forkert kodeord").await;
        assert!(matches!(r, Err(LoginError::Rejected)));
        assert_eq!(w.store.user_by_sub(&w.user.sub).await.unwrap().unwrap().failed_attempts, 1);
        assert_eq!(take(w.ctx(), "anything").await.unwrap(), None);
    }
}
