//! Web Push end to end: a device subscribes, a log-in is sent to the app, and a local push endpoint —
//! playing the push service and the browser — checks the VAPID signature and decrypts the message as RFC 8291
//! says a browser does. The message names the event and nothing personal.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes128Gcm, Nonce};
use axum::http::HeaderMap;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hkdf::Hkdf;
use noegle_testkit::{Backend, PASSWORD, TestServer};
use p256::ecdsa::signature::Verifier;
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::sync::mpsc;
use web_push_native::p256::elliptic_curve::sec1::ToEncodedPoint;

use crate::app::App;
use crate::{CB, authorize_url};

/// The browser's side of a subscription: its ECDH key and auth secret.
struct Receiver {
    secret: web_push_native::p256::SecretKey,
    auth: [u8; 16],
}

impl Receiver {
    fn new() -> Receiver {
        let mut auth = [0u8; 16];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut auth);
        Receiver { secret: web_push_native::p256::SecretKey::random(&mut rand::rngs::OsRng), auth }
    }

    fn public(&self) -> Vec<u8> {
        self.secret.public_key().to_encoded_point(false).as_bytes().to_vec()
    }

    /// RFC 8291 §3.4 and RFC 8188 §2: the aes128gcm body → the plaintext.
    fn decrypt(&self, body: &[u8]) -> Vec<u8> {
        let (salt, rest) = body.split_at(16);
        let record_size = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
        let id_len = rest[4] as usize;
        let (sender_public, ciphertext) = rest[5..].split_at(id_len);
        assert_eq!(id_len, 65, "the key id is the sender's uncompressed P-256 key");
        assert!(ciphertext.len() <= record_size, "one record");
        let sender = web_push_native::p256::PublicKey::from_sec1_bytes(sender_public).unwrap();
        let shared = web_push_native::p256::ecdh::diffie_hellman(self.secret.to_nonzero_scalar(), sender.as_affine());
        let mut info = b"WebPush: info\0".to_vec();
        info.extend_from_slice(&self.public());
        info.extend_from_slice(sender_public);
        let mut ikm = [0u8; 32];
        Hkdf::<Sha256>::new(Some(&self.auth), shared.raw_secret_bytes()).expand(&info, &mut ikm).unwrap();
        let prk = Hkdf::<Sha256>::new(Some(salt), &ikm);
        let (mut cek, mut nonce) = ([0u8; 16], [0u8; 12]);
        prk.expand(b"Content-Encoding: aes128gcm\0", &mut cek).unwrap();
        prk.expand(b"Content-Encoding: nonce\0", &mut nonce).unwrap();
        let mut plain =
            Aes128Gcm::new_from_slice(&cek).unwrap().decrypt(Nonce::from_slice(&nonce), ciphertext).unwrap();
        // The last record ends with the delimiter 2, then optional zero padding.
        while plain.last() == Some(&0) {
            plain.pop();
        }
        assert_eq!(plain.pop(), Some(2), "last-record delimiter");
        plain
    }
}

/// Checks `Authorization: vapid t=JWT, k=KEY` (RFC 8292): answers the key and the JWT's claims.
fn check_vapid(headers: &HeaderMap) -> (String, Value) {
    let value = headers["authorization"].to_str().unwrap();
    let rest = value.strip_prefix("vapid ").expect("vapid scheme");
    let part =
        |name: &str| rest.split(',').map(str::trim).find_map(|p| p.strip_prefix(name)).map(str::to_string).unwrap();
    let (token, key) = (part("t="), part("k="));
    let mut pieces = token.split('.');
    let (header, claims, signature) = (pieces.next().unwrap(), pieces.next().unwrap(), pieces.next().unwrap());
    let verifying = p256::ecdsa::VerifyingKey::from_sec1_bytes(&B64.decode(&key).unwrap()).unwrap();
    let signature = p256::ecdsa::Signature::from_slice(&B64.decode(signature).unwrap()).unwrap();
    verifying.verify(format!("{header}.{claims}").as_bytes(), &signature).expect("the VAPID JWT is signed by k");
    let header: Value = serde_json::from_slice(&B64.decode(header).unwrap()).unwrap();
    assert_eq!(header["alg"], "ES256");
    (key, serde_json::from_slice(&B64.decode(claims).unwrap()).unwrap())
}

/// A push service's routes: every message's headers and body go to the channel it answers.
fn push_service() -> (axum::Router, mpsc::UnboundedReceiver<(HeaderMap, Vec<u8>)>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let app = axum::Router::new().route(
        "/push/{id}",
        axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
            let tx = tx.clone();
            async move {
                let _ = tx.send((headers, body.to_vec()));
                axum::http::StatusCode::CREATED
            }
        }),
    );
    (app, rx)
}

/// A push endpoint on a real socket: every message's headers and body go to the channel.
async fn endpoint() -> (String, mpsc::UnboundedReceiver<(HeaderMap, Vec<u8>)>) {
    let (app, rx) = push_service();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://127.0.0.1:{}/push/abc", listener.local_addr().unwrap().port());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, rx)
}

#[tokio::test]
async fn a_request_reaches_a_subscribed_app_by_web_push_encrypted_and_signed() {
    let server = TestServer::start_with(Backend::Sqlite, |c| c.web_push_allow_http = true).await;
    let (_, card) = server.user_with_card("alice").await;
    let mut app = App::new(&server);
    app.activate(&server, "alice", &card, "Alices telefon").await;
    let (url, mut inbox) = endpoint().await;
    let receiver = Receiver::new();
    let subscription = json!({
        "endpoint": url, "expirationTime": null,
        "keys": { "p256dh": B64.encode(receiver.public()), "auth": B64.encode(receiver.auth) },
    });

    // Bad subscriptions are refused and change nothing.
    let mut bad = subscription.clone();
    bad["keys"]["auth"] = json!("short");
    let (status, body) = app.signed(&server, "PUT", "/api/app/v1/push", Some(bad)).await;
    assert_eq!((status, body["error"].as_str()), (422, Some("invalid")), "{body}");
    let (status, _) = app.signed(&server, "PUT", "/api/app/v1/push", Some(subscription.clone())).await;
    assert_eq!(status, 200);

    let c = server.client("Demo Bank", CB, false).await;
    let b = server.browser();
    let first = b.open(&authorize_url(&server, c.client.client_id.as_str(), &[])).await;
    let choice = b.password(&first, "alice", PASSWORD).await;
    assert_eq!(b.post("/login/app/send", &[("csrf", &choice.csrf())]).await.status, 303);

    let (headers, body) =
        tokio::time::timeout(std::time::Duration::from_secs(10), inbox.recv()).await.unwrap().unwrap();
    assert_eq!(headers["content-encoding"], "aes128gcm");
    assert!(headers["ttl"].to_str().unwrap().parse::<u64>().unwrap() > 0);
    let (key, claims) = check_vapid(&headers);
    let published: Value =
        reqwest::get(format!("{}/api/app/v1/push/key", server.url)).await.unwrap().json().await.unwrap();
    assert_eq!(published["key"], key, "signed with the key the app subscribed with");
    assert_eq!(claims["aud"], url.trim_end_matches("/push/abc"));
    assert!(claims["sub"].as_str().unwrap().starts_with("mailto:"));
    let message: Value = serde_json::from_slice(&receiver.decrypt(&body)).unwrap();
    assert_eq!(message, json!({ "event": "request" }), "the event and nothing personal");

    // Unsubscribed: the next request sends nothing.
    let (status, _) = app.signed(&server, "DELETE", "/api/app/v1/push", None).await;
    assert_eq!(status, 200);
    assert_eq!(server.state.store.attachment(&app.device_id.as_str().into(), "push").await.unwrap(), None);

    // A deregistered device leaves no push address behind.
    let (status, _) = app.signed(&server, "PUT", "/api/app/v1/push", Some(subscription)).await;
    assert_eq!(status, 200);
    let (status, _) = app.signed(&server, "DELETE", "/api/app/v1/device", None).await;
    assert_eq!(status, 200);
    assert_eq!(server.state.store.attachment(&app.device_id.as_str().into(), "push").await.unwrap(), None);
}

#[tokio::test]
async fn a_pending_device_hears_by_web_push_when_its_wait_is_over() {
    let server = TestServer::start_with(Backend::Sqlite, |c| {
        c.web_push_allow_http = true;
        c.activation_wait_secs = 600;
    })
    .await;
    let (_, card) = server.user_with_card("alice").await;
    let mut app = App::new(&server);
    let (status, body) = app.start("alice", &card, "android", "14", "Alices telefon").await;
    assert_eq!(status, 201, "{body}");
    let (url, mut inbox) = endpoint().await;
    let receiver = Receiver::new();
    let subscription = json!({
        "endpoint": url,
        "keys": { "p256dh": B64.encode(receiver.public()), "auth": B64.encode(receiver.auth) },
    });
    let (status, _) = app.signed(&server, "PUT", "/api/app/v1/push", Some(subscription)).await;
    assert_eq!(status, 200, "a pending device may subscribe");

    server.clock.advance(599);
    let early = tokio::time::timeout(std::time::Duration::from_secs(7), inbox.recv()).await;
    assert!(early.is_err(), "nothing before the wait is over");
    server.clock.advance(1);
    let (_, body) = tokio::time::timeout(std::time::Duration::from_secs(10), inbox.recv()).await.unwrap().unwrap();
    let message: Value = serde_json::from_slice(&receiver.decrypt(&body)).unwrap();
    assert_eq!(message, json!({ "event": "activation_ready" }));
}

/// A push service over TLS on a real socket, its certificate for `push.test` issued by a test CA: answers
/// the port, the CA (to trust), how many connections reached it, and its inbox.
async fn tls_endpoint() -> (
    u16,
    reqwest::Certificate,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
    mpsc::UnboundedReceiver<(HeaderMap, Vec<u8>)>,
) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    use tokio_rustls::rustls;
    use tower::ServiceExt;

    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["push.test".to_string()]).unwrap().signed_by(&key, &ca, &ca_key).unwrap();
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.der().clone()], rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()))
        .unwrap();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));

    let (app, rx) = push_service();
    let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let counter = accepted.clone();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let (acceptor, app) = (acceptor.clone(), app.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else { return };
                let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    app.clone().oneshot(req.map(axum::body::Body::new))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    (port, reqwest::Certificate::from_der(ca.der()).unwrap(), accepted, rx)
}

#[tokio::test]
async fn web_push_goes_out_over_tls_and_never_to_an_internal_address() {
    use noegle_server::live::AppEvent;
    use noegle_server::webpush::{Subscription, Transport, WebPush};
    use std::collections::HashMap;
    use std::sync::atomic::Ordering;

    let server = TestServer::start(Backend::Sqlite).await;
    let (_, card) = server.user_with_card("alice").await;
    let mut app = App::new(&server);
    app.activate(&server, "alice", &card, "Alices telefon").await;
    let (port, root, accepted, mut inbox) = tls_endpoint().await;
    let receiver = Receiver::new();
    let subscription: Subscription = serde_json::from_value(json!({
        "endpoint": format!("https://push.test:{port}/push/abc"),
        "keys": { "p256dh": B64.encode(receiver.public()), "auth": B64.encode(receiver.auth) },
    }))
    .unwrap();
    // `push.test` resolves to this machine, as a name an attacker controls could.
    let sender = |allow_internal: bool| {
        WebPush::with_transport(
            web_push_native::jwt_simple::algorithms::ES256KeyPair::generate(),
            "mailto:drift@example.org".into(),
            allow_internal,
            server.state.store.clone(),
            server.state.clock.clone(),
            Transport {
                roots: vec![root.clone()],
                fixed: HashMap::from([("push.test".to_string(), vec![std::net::IpAddr::from([127, 0, 0, 1])])]),
            },
        )
    };

    // As the server runs in production: the name resolves only to an internal address — no connection.
    assert!(!sender(false).send(&app.device_id.as_str().into(), &subscription, AppEvent::Request).await);
    assert_eq!(accepted.load(Ordering::SeqCst), 0, "nothing reached the internal address");

    // With internal addresses allowed (the test setting) the same message goes out over TLS and decrypts.
    assert!(sender(true).send(&app.device_id.as_str().into(), &subscription, AppEvent::Request).await, "sent over TLS");
    let (headers, body) =
        tokio::time::timeout(std::time::Duration::from_secs(10), inbox.recv()).await.unwrap().unwrap();
    let (_, claims) = check_vapid(&headers);
    assert_eq!(claims["aud"], format!("https://push.test:{port}"));
    let message: Value = serde_json::from_slice(&receiver.decrypt(&body)).unwrap();
    assert_eq!(message, json!({ "event": "request" }));
}

#[tokio::test]
async fn a_pending_device_whose_activation_lapsed_cannot_subscribe() {
    let server = TestServer::start_with(Backend::Sqlite, |c| c.web_push_allow_http = true).await;
    let (_, card) = server.user_with_card("alice").await;
    let mut app = App::new(&server);
    let (status, body) = app.start("alice", &card, "android", "14", "Alices telefon").await;
    assert_eq!(status, 201, "{body}");
    let receiver = Receiver::new();
    let subscription = json!({
        "endpoint": "http://127.0.0.1:9/push/abc",
        "keys": { "p256dh": B64.encode(receiver.public()), "auth": B64.encode(receiver.auth) },
    });
    let device = server.state.store.device(&app.device_id.as_str().into()).await.unwrap().unwrap();
    server.clock.set(device.expires_at);
    let (status, body) = app.signed(&server, "PUT", "/api/app/v1/push", Some(subscription)).await;
    assert_eq!((status, body["error"].as_str()), (410, Some("activation_ended")), "{body}");
    assert_eq!(
        server.state.store.attachment(&app.device_id.as_str().into(), "push").await.unwrap(),
        None,
        "nothing stored"
    );
}
