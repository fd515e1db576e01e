//! A node with `tls_cert`/`tls_key` serves the log-in box over https itself (rustls), with `__Host-` cookies
//! and HSTS, and nothing in plain HTTP.

use noegle_testkit::{Backend, TestServer};
use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};

use crate::{CB, authorize_url};

#[tokio::test]
async fn a_node_with_its_own_certificate_serves_the_log_in_box_over_https() {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["localhost".to_string()]).unwrap().signed_by(&key, &ca, &ca_key).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (cert_file, key_file) = (dir.path().join("fullchain.pem"), dir.path().join("privkey.pem"));
    std::fs::write(&cert_file, cert.pem()).unwrap();
    std::fs::write(&key_file, key.serialize_pem()).unwrap();

    let server = TestServer::start_with(Backend::Sqlite, |c| {
        c.tls_cert = Some(cert_file.clone());
        c.tls_key = Some(key_file.clone());
    })
    .await;
    assert!(server.url.starts_with("https://localhost:"), "{}", server.url);
    let c = server.client("Bank", CB, false).await;
    let https = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(ca.pem().as_bytes()).unwrap())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = https.get(authorize_url(&server, c.client.client_id.as_str(), &[])).send().await.unwrap();
    assert_eq!(r.status(), 303);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.starts_with("__Host-") && cookie.contains("; Secure"), "{cookie}");
    assert_eq!(r.headers()["strict-transport-security"], "max-age=31536000");
    let page = https.get(format!("{}/login", server.url)).header("cookie", cookie.split(';').next().unwrap()).send();
    let page = page.await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("Bruger-id"));

    // Plain HTTP to the same port gets no page.
    let answered = reqwest::get(format!("{}/healthz", server.url.replacen("https://", "http://", 1))).await;
    assert!(answered.is_err(), "no page without TLS: {answered:?}");
}
