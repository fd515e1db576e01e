//! What the scenarios need in the database, written through the store: a relying party, users with key
//! cards, and (for the live channel) active devices whose keys the bench holds.
//!
//! Every bench user has the same password, hashed once: the server still runs one full Argon2id check per
//! log-in, but seeding thousands of users takes seconds, not minutes.

use std::sync::Arc;

use anyhow::anyhow;
use futures::StreamExt;
use noegle_core::Ctx;
use noegle_core::device::{Device, DeviceStatus, new_ids};
use noegle_core::keycard::{self, CardStatus, ClearCard, KeyCard, KeyPepper};
use noegle_core::secret::random_token;
use noegle_core::user::{User, UserId};
use noegle_core::{Clock, Store, accounts, password};
use p256::ecdsa::SigningKey;
use rand::rngs::OsRng;

/// The password of every bench user.
pub const PASSWORD: &str = "benchmark adgangskode";

/// Where the bench's relying party receives codes (never called: the bench reads the redirect).
pub const REDIRECT_URI: &str = "http://localhost:9/callback";

/// A user the bench logs in as.
#[derive(Clone, Debug)]
pub struct BenchUser {
    /// User ID.
    pub user_id: String,
    /// Subject.
    pub sub: String,
    /// The key card, in clear (empty when seeded without one).
    pub card: ClearCard,
}

/// A device the bench speaks for.
#[derive(Clone, Debug)]
pub struct BenchDevice {
    /// Its id.
    pub device_id: String,
    /// Its user.
    pub sub: String,
    /// Its P-256 key.
    pub key: SigningKey,
}

fn ctx(store: &dyn Store) -> Ctx<'_> {
    Ctx { store, now: noegle_server::SystemClock.now(), source: Some("bench") }
}

/// Registers a public client (PKCE) and answers its id.
pub async fn client(store: &dyn Store) -> anyhow::Result<String> {
    let c = accounts::add_client(ctx(store), &mut OsRng, "Bench Bank", &[REDIRECT_URI.into()], true).await?;
    Ok(c.client.client_id.into())
}

/// Creates `n` users named `PREFIX-0`…, with a key card each when `pepper` is given.
pub async fn users(
    store: Arc<dyn Store>,
    pepper: Option<&KeyPepper>,
    prefix: &str,
    n: usize,
) -> anyhow::Result<Vec<BenchUser>> {
    let hash = password::hash(PASSWORD, &mut OsRng)?;
    let made = futures::stream::iter(0..n)
        .map(|i| {
            let (store, hash) = (store.clone(), hash.clone());
            async move {
                let user = User {
                    sub: format!("u-{}", random_token(&mut OsRng, 16)),
                    user_id: UserId::parse(&format!("{prefix}-{i}")).map_err(|e| anyhow!("{e}"))?,
                    display_name: format!("Bench {i}"),
                    password_hash: hash,
                    blocked: false,
                    failed_attempts: 0,
                    last_failure_at: None,
                    created_at: noegle_server::SystemClock.now(),
                };
                store.insert_user(&user).await?;
                let card = match pepper {
                    Some(p) => card(store.as_ref(), p, &user.sub).await?,
                    None => ClearCard { serial: String::new().into(), keys: Default::default() },
                };
                Ok::<_, anyhow::Error>(BenchUser { user_id: user.user_id.to_string(), sub: user.sub, card })
            }
        })
        .buffered(8)
        .collect::<Vec<_>>()
        .await;
    made.into_iter().collect()
}

async fn card(store: &dyn Store, pepper: &KeyPepper, sub: &str) -> anyhow::Result<ClearCard> {
    let (clear, keys) = keycard::generate(&mut OsRng, pepper);
    let card = KeyCard {
        serial: clear.serial.clone(),
        sub: sub.to_string(),
        status: CardStatus::Active,
        issued_at: noegle_server::SystemClock.now(),
        unused: keys.len() as i64,
    };
    store.insert_card(&card, &keys).await?;
    Ok(clear)
}

/// Gives each user `per_user` active devices (at most three, as activation allows).
pub async fn devices(store: Arc<dyn Store>, users: &[BenchUser], per_user: usize) -> anyhow::Result<Vec<BenchDevice>> {
    let now = noegle_server::SystemClock.now();
    let wanted: Vec<(usize, String)> =
        users.iter().flat_map(|u| (0..per_user.min(3)).map(|i| (i, u.sub.clone()))).collect();
    let made = futures::stream::iter(wanted)
        .map(|(i, sub)| {
            let store = store.clone();
            async move {
                let key = noegle_client::DeviceState::fresh_key();
                let (device_id, serial) = new_ids(&mut OsRng);
                let device = Device {
                    device_id: device_id.clone(),
                    serial,
                    sub: sub.clone(),
                    public_key: key.verifying_key().to_sec1_point(false).as_bytes().to_vec(),
                    platform: noegle_core::device::Platform::Terminal,
                    os_version: "bench".into(),
                    name: format!("bench {i}"),
                    status: DeviceStatus::Active,
                    created_at: now,
                    second_login_from: now,
                    cooling_off_until: None,
                    expires_at: now.plus(86_400),
                    activated_at: Some(now),
                    revoked_by: None,
                };
                store.insert_device(&device).await?;
                Ok::<_, anyhow::Error>(BenchDevice { device_id: device_id.into(), sub, key })
            }
        })
        .buffered(8)
        .collect::<Vec<_>>()
        .await;
    made.into_iter().collect()
}
