//! Web Push: an extra notification path for the installed phone app, behind the same [`Notifier`] as the
//! live channel. Messages are encrypted for the subscription (RFC 8291, aes128gcm) and signed with the
//! server's VAPID key (RFC 8292) by `web-push-native`; the payload names only the event, never a person.
//!
//! The endpoint is chosen by the device, so the server must not become a way into the operator's network:
//! messages go out over TLS only (rustls, the web's roots), by domain name, through no proxy, and to an
//! address the name resolves to only when that address is public ([`is_public`]) — checked on the very
//! addresses the connection is made to, so a name that resolves differently later (DNS rebinding) gains
//! nothing.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use noegle_core::device::DeviceStatus;
use noegle_core::{Clock, DeviceId, Store, UnixTime};
use serde::{Deserialize, Serialize};
use serde_json::json;
use web_push_native::jwt_simple::algorithms::{ECDSAP256KeyPairLike, ECDSAP256PublicKeyLike, ES256KeyPair};
use web_push_native::jwt_simple::claims::Claims;
use web_push_native::{Auth, WebPushBuilder, p256};

use crate::api::ApiError;
use crate::live::{AppEvent, Notifier};

/// The attachment kind a device's subscription is stored under.
pub(crate) const KIND: &str = "push";
/// How long a push service keeps an undelivered message (a request lives 3 minutes).
const TTL: Duration = Duration::from_secs(180);

/// A browser's push subscription, as `PushSubscription.toJSON()` gives it.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subscription {
    /// Where the push service takes messages for this browser.
    pub endpoint: String,
    /// When the subscription lapses (browsers send null).
    #[serde(default, rename = "expirationTime", skip_serializing)]
    pub expiration_time: Option<f64>,
    /// The browser's keys.
    pub keys: SubscriptionKeys,
}

/// The keys of a subscription (base64url).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionKeys {
    /// The browser's P-256 public key (65 bytes, uncompressed).
    pub p256dh: String,
    /// The 16-byte authentication secret.
    pub auth: String,
}

impl Subscription {
    /// Checks the subscription; answers the parts the sender needs.
    pub(crate) fn parts(&self, allow_http: bool) -> Result<(url::Url, p256::PublicKey, Auth), ApiError> {
        let url =
            url::Url::parse(&self.endpoint).map_err(|e| ApiError::invalid(format!("endpoint is not a URL: {e}")))?;
        let scheme_ok = url.scheme() == "https" || (allow_http && url.scheme() == "http");
        // Push services have domain names; an IP address or localhost would make the server post to a host of
        // the device's choosing on the operator's network.
        let host_ok = match url.host() {
            Some(url::Host::Domain(d)) => allow_http || !d.eq_ignore_ascii_case("localhost"),
            Some(url::Host::Ipv4(_) | url::Host::Ipv6(_)) => allow_http,
            None => false,
        };
        if !scheme_ok || !host_ok || self.endpoint.len() > 2048 {
            return Err(ApiError::invalid(
                "endpoint must be an https:// URL of a push service, by domain name (at most 2048 characters)",
            ));
        }
        let public = B64
            .decode(self.keys.p256dh.trim_end_matches('='))
            .ok()
            .and_then(|b| p256::PublicKey::from_sec1_bytes(&b).ok())
            .ok_or_else(|| ApiError::invalid("keys.p256dh must be a base64url P-256 public key"))?;
        let auth = B64
            .decode(self.keys.auth.trim_end_matches('='))
            .ok()
            .filter(|b| b.len() == 16)
            .ok_or_else(|| ApiError::invalid("keys.auth must be 16 bytes, base64url"))?;
        Ok((url, public, Auth::clone_from_slice(&auth)))
    }
}

/// Whether `ip` is an address on the public internet: not loopback, private, shared (CGNAT), link-local,
/// unique-local, multicast, documentation, benchmarking or reserved — and for IPv6 forms that carry an IPv4
/// address (mapped, NAT64, 6to4), the IPv4 address inside is judged; Teredo is refused.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let embedded = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
            match s[0] {
                // IPv4-compatible (deprecated) and unspecified/loopback.
                0 if s[1..6].iter().all(|x| *x == 0) => false,
                // NAT64 64:ff9b::/96 and 64:ff9b:1::/48.
                0x64 if s[1] == 0xff9b => {
                    s[2] == 0 && s[3..6].iter().all(|x| *x == 0) && is_public_v4(embedded(s[6], s[7]))
                }
                // 6to4: the IPv4 address is in the second and third segments.
                0x2002 => is_public_v4(embedded(s[1], s[2])),
                // Teredo 2001::/32 and documentation 2001:db8::/32; ORCHID and the other IETF blocks 2001:0::/23.
                0x2001 => s[1] >= 0x0200 && s[1] != 0x0db8,
                // Documentation 3fff::/20.
                0x3fff if s[1] < 0x1000 => false,
                // Global unicast 2000::/3, less the above.
                x => (0x2000..=0x3fff).contains(&x),
            }
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0
        || a >= 240
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (b == 18 || b == 19)))
}

/// Resolves push-service names for the sender, keeping only the addresses it may connect to.
struct PushResolver {
    allow_internal: bool,
    fixed: HashMap<String, Vec<IpAddr>>,
}

impl reqwest::dns::Resolve for PushResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_ascii_lowercase();
        let fixed = self.fixed.get(&host).cloned();
        let allow_internal = self.allow_internal;
        Box::pin(async move {
            let found: Vec<IpAddr> = match fixed {
                Some(addresses) => addresses,
                None => tokio::net::lookup_host((host.as_str(), 0)).await?.map(|a| a.ip()).collect(),
            };
            let usable: Vec<SocketAddr> = found
                .into_iter()
                .filter(|ip| allow_internal || is_public(*ip))
                .map(|ip| SocketAddr::new(ip, 0))
                .collect();
            if usable.is_empty() {
                metrics::counter!("noegle_web_push_refused_total").increment(1);
                return Err(format!("{host} resolves to no public address; push services are on the internet").into());
            }
            Ok(Box::new(usable.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// How the sender reaches push services beyond the defaults: more trusted roots (PEM; a TLS-inspecting
/// proxy's, or a test's) and fixed addresses for names, as `/etc/hosts` would give them. Fixed addresses
/// pass the same public-address check.
#[derive(Default)]
pub struct Transport {
    /// Roots trusted besides the web's (webpki-roots).
    pub roots: Vec<reqwest::Certificate>,
    /// Addresses for names, in place of DNS.
    pub fixed: HashMap<String, Vec<IpAddr>>,
}

/// Sends Web Push messages to the subscribed devices of a user.
pub struct WebPush {
    key: ES256KeyPair,
    contact: String,
    allow_http: bool,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    http: reqwest::Client,
}

impl WebPush {
    /// A sender signing with `key`.
    pub fn new(
        key: ES256KeyPair,
        contact: String,
        allow_http: bool,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
    ) -> WebPush {
        Self::with_transport(key, contact, allow_http, store, clock, Transport::default())
    }

    /// A sender signing with `key` that reaches push services by `transport`. `allow_http` (a test setting)
    /// also allows internal addresses.
    pub fn with_transport(
        key: ES256KeyPair,
        contact: String,
        allow_http: bool,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        transport: Transport,
    ) -> WebPush {
        let resolver = PushResolver { allow_internal: allow_http, fixed: transport.fixed };
        let mut builder = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .https_only(!allow_http)
            .dns_resolver(Arc::new(resolver));
        for root in transport.roots {
            builder = builder.add_root_certificate(root);
        }
        let http = builder.build().unwrap_or_else(|e| {
            // Only a broken TLS setup fails here; every send will then say the service cannot be reached.
            tracing::error!(error = %e, "web push: cannot build the HTTP client");
            reqwest::Client::new()
        });
        WebPush { key, contact, allow_http, store, clock, http }
    }

    /// The VAPID public key, base64url (what `pushManager.subscribe` takes as `applicationServerKey`).
    pub fn public_key(&self) -> String {
        B64.encode(self.key.public_key().public_key().to_bytes_uncompressed())
    }

    /// Sends `event` to one subscription; answers whether the push service took it. A subscription the
    /// service no longer knows (404/410) is removed from `device_id`.
    pub async fn send(&self, device_id: &DeviceId, sub: &Subscription, event: AppEvent) -> bool {
        let Ok((url, public, auth)) = sub.parts(self.allow_http) else { return false };
        let Ok(endpoint) = url.as_str().parse() else { return false };
        let payload = json!({ "event": event.name() }).to_string();
        let request = match WebPushBuilder::new(endpoint, public, auth).with_valid_duration(TTL).build(payload) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "web push: cannot build the message");
                return false;
            }
        };
        let Some(authorization) = self.vapid(&url) else { return false };
        let mut out = self.http.post(url.as_str()).header("authorization", authorization);
        for (name, value) in request.headers() {
            out = out.header(name.as_str(), value.as_bytes());
        }
        match out.body(request.into_body()).send().await {
            Ok(r) if r.status().is_success() => {
                metrics::counter!("noegle_web_push_sent_total").increment(1);
                true
            }
            Ok(r) => {
                if matches!(r.status().as_u16(), 404 | 410) {
                    let _ = self.store.set_attachment(device_id, KIND, None).await;
                }
                tracing::info!(status = %r.status(), "web push: the push service refused the message");
                false
            }
            Err(e) => {
                let mut why = e.to_string();
                let mut source = std::error::Error::source(&e);
                while let Some(s) = source {
                    why = format!("{why}: {s}");
                    source = s.source();
                }
                tracing::warn!(error = %why, "web push: the push service cannot be reached");
                false
            }
        }
    }

    /// `vapid t=JWT, k=KEY` (RFC 8292) for `endpoint`. The audience is the endpoint's origin *with* its port
    /// (web-push-native's own VAPID header leaves a non-default port out, which a push service would refuse).
    fn vapid(&self, endpoint: &url::Url) -> Option<String> {
        let claims = Claims::create(TTL.into())
            .with_audience(endpoint.origin().ascii_serialization())
            .with_subject(&self.contact);
        match self.key.sign(claims) {
            Ok(token) => Some(format!("vapid t={token}, k={}", self.public_key())),
            Err(e) => {
                tracing::warn!(error = %e, "web push: cannot sign the VAPID token");
                None
            }
        }
    }

    async fn send_to_user(&self, sub: &str, event: AppEvent) {
        let subscriptions = match self.store.active_attachments(sub, KIND).await {
            Ok(s) => s,
            Err(e) => return tracing::warn!(error = %e, "web push: cannot read subscriptions"),
        };
        for (device_id, value) in subscriptions {
            if let Ok(s) = serde_json::from_str::<Subscription>(&value) {
                self.send(&device_id, &s, event).await;
            }
        }
    }

    /// Tells a pending device by Web Push when its wait is over (the app may be closed meanwhile, R-APP1).
    /// Watches the server's clock; gives up when the device is no longer pending.
    pub fn announce_ready(self: &Arc<Self>, device_id: DeviceId, ready_at: UnixTime) {
        let me = self.clone();
        tokio::spawn(async move {
            // Sleeps in steps of at most 5 s (the clock may jump, or be a test's), without asking the database
            // until the time has come.
            while me.clock.now() < ready_at {
                let left = (ready_at.0 - me.clock.now().0).clamp(1, 5);
                tokio::time::sleep(Duration::from_secs(left.unsigned_abs())).await;
            }
            let device = match me.store.device(&device_id).await {
                Ok(Some(d)) if d.status == DeviceStatus::Pending => d,
                _ => return,
            };
            if let Ok(Some(value)) = me.store.attachment(&device.device_id, KIND).await
                && let Ok(s) = serde_json::from_str::<Subscription>(&value)
            {
                me.send(&device.device_id, &s, AppEvent::ActivationReady).await;
            }
        });
    }
}

impl Notifier for Arc<WebPush> {
    fn notify(&self, sub: &str, event: AppEvent) {
        let (me, sub) = (self.clone(), sub.to_string());
        tokio::spawn(async move { me.send_to_user(&sub, event).await });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subscription(endpoint: &str) -> Subscription {
        let key = p256::SecretKey::random(&mut rand::rngs::OsRng).public_key();
        Subscription {
            endpoint: endpoint.into(),
            expiration_time: None,
            keys: SubscriptionKeys {
                p256dh: B64.encode(p256::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(&key, false)),
                auth: B64.encode([7u8; 16]),
            },
        }
    }

    #[test]
    fn only_https_push_services_by_domain_name_unless_testing() {
        assert!(subscription("https://fcm.googleapis.com/fcm/send/abc").parts(false).is_ok());
        for bad in ["http://push.example/x", "https://127.0.0.1/x", "https://[::1]/x", "https://localhost/x", "nope"] {
            assert!(subscription(bad).parts(false).is_err(), "{bad}");
        }
        assert!(subscription("http://127.0.0.1:9/x").parts(true).is_ok(), "the test setting allows a local endpoint");
    }

    #[test]
    fn only_public_addresses_are_reached() {
        for public in ["8.8.8.8", "142.250.74.10", "2a00:1450:400f:80d::200a", "2606:4700::1111", "64:ff9b::808:808"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
        for internal in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "192.0.0.8",
            "198.18.0.1",
            "203.0.113.5",
            "::1",
            "::",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "fe80::1",
            "fc00::1",
            "fd12:3456::1",
            "ff02::1",
            "2001:db8::1",
            "2001::1",
            "2002:7f00:1::1",
            "64:ff9b::a00:1",
            "3fff::1",
        ] {
            assert!(!is_public(internal.parse().unwrap()), "{internal}");
        }
    }
}
