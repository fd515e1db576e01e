//! The reference deployment (`deploy/nginx/noegle.conf`) run for real — nginx (TLS) in front of two
//! `noegle serve` nodes on one PostgreSQL (S-SCALE). A log-in with the key card passes through it; each
//! client behind it has its own guess budget, counted across both nodes; a forged `X-Forwarded-For` or
//! `Forwarded` (once, nginx passed the client's own `Forwarded` on, and the nodes believed it) buys nothing,
//! spends no one else's budget and is not in the audit trail, neither through nginx nor sent straight to a
//! node.

use std::net::IpAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use noegle_client::api::Answer;
use noegle_client::{AppClient, DeviceState};
use noegle_core::Clock;
use noegle_core::keycard::ClearCard;
use noegle_testkit::{Browser, PASSWORD};
use rcgen::{CertificateParams, KeyPair};

use crate::{authorize_url, copy_secrets, free_port, json, serve};

/// nginx, stopped when dropped (SIGTERM to the master, which stops its workers too).
struct Nginx(Child);

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.0.id().to_string()]).status();
        let _ = self.0.wait();
    }
}

/// The nginx binary (Debian puts it in /usr/sbin, which not every user's PATH holds).
fn nginx_bin() -> &'static str {
    if Path::new("/usr/sbin/nginx").exists() { "/usr/sbin/nginx" } else { "nginx" }
}

/// A test CA and a certificate for `localhost` signed by it, written to `dir`: the CA, the chain's file and
/// the key's file.
fn certificate(dir: &Path) -> (reqwest::Certificate, std::path::PathBuf, std::path::PathBuf) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["localhost".into()]).unwrap().signed_by(&key, &ca, &ca_key).unwrap();
    let (cert_file, key_file) = (dir.join("fullchain.pem"), dir.join("privkey.pem"));
    std::fs::write(&cert_file, cert.pem()).unwrap();
    std::fs::write(&key_file, key.serialize_pem()).unwrap();
    (reqwest::Certificate::from_pem(ca.pem().as_bytes()).unwrap(), cert_file, key_file)
}

/// Runs the reference site configuration with nginx as this user: the same file, with its ports, upstream
/// nodes and certificate paths set for the test, and `extra` (a test's own server block) after it.
fn nginx(dir: &Path, https: u16, http: u16, nodes: [u16; 2], cert: &Path, key: &Path, extra: &str) -> Nginx {
    let site = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy/nginx/noegle.conf"))
        .unwrap()
        .replace("listen 443 ssl;", &format!("listen 127.0.0.1:{https} ssl;"))
        .replace("listen 80;", &format!("listen 127.0.0.1:{http};"))
        .replace("server 127.0.0.1:8081", &format!("server 127.0.0.1:{}", nodes[0]))
        .replace("server 127.0.0.1:8082", &format!("server 127.0.0.1:{}", nodes[1]))
        .replace("/etc/noegle/tls/fullchain.pem", cert.to_str().unwrap())
        .replace("/etc/noegle/tls/privkey.pem", key.to_str().unwrap());
    std::fs::write(dir.join("site.conf"), format!("{site}\n{extra}\n")).unwrap();
    let d = dir.display();
    let main = format!(
        "pid {d}/nginx.pid;\nerror_log {d}/error.log warn;\ndaemon off;\nevents {{}}\nhttp {{\n  access_log off;\n  \
         client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n  \
         uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n  include {d}/site.conf;\n}}\n"
    );
    std::fs::write(dir.join("nginx.conf"), main).unwrap();
    let test =
        Command::new(nginx_bin()).args(["-t", "-p"]).arg(dir).arg("-c").arg(dir.join("nginx.conf")).output().unwrap();
    assert!(test.status.success(), "nginx -t: {}", String::from_utf8_lossy(&test.stderr));
    let mut run = Command::new(nginx_bin());
    run.arg("-p").arg(dir).arg("-c").arg(dir.join("nginx.conf")).stdout(Stdio::null()).stderr(Stdio::null());
    Nginx(run.spawn().unwrap())
}

/// A wrong-password guess at the app API from `from` through `base`; the status, perhaps with forged headers.
async fn guess(base: &str, ca: &reqwest::Certificate, from: &str, forged: &[(&str, &str)]) -> u16 {
    let client = reqwest::Client::builder()
        .add_root_certificate(ca.clone())
        .local_address(from.parse::<IpAddr>().unwrap())
        .build()
        .unwrap();
    let mut req = client
        .post(format!("{base}/api/app/v1/login"))
        .json(&serde_json::json!({ "user_id": "alice", "password": "wrong password!" }));
    for (name, value) in forged {
        req = req.header(*name, *value);
    }
    req.send().await.unwrap().status().as_u16()
}

/// Client 127.0.0.2's budget (12 a minute) is spent over both nodes (nginx takes turns), while it names
/// 127.0.0.3 in forged headers; a forged header, through nginx or straight to node `pa`, does not make it
/// someone else; 127.0.0.3 behind the same proxy still has its own. Answers the checks that did not hold.
async fn budget_checks(public: &str, ca: &reqwest::Certificate, pa: u16) -> Vec<String> {
    let mut wrong = Vec::new();
    let mut expect = |what: String, got: u16, want: u16| {
        if got != want {
            wrong.push(format!("{what}: {got}, not {want}"));
        }
    };
    let as_other = [("forwarded", "for=127.0.0.3"), ("x-forwarded-for", "127.0.0.3")];
    for i in 0..12 {
        let one = &as_other[i % 2..i % 2 + 1];
        expect(format!("guess {i} naming {one:?}"), guess(public, ca, "127.0.0.2", one).await, 401);
    }
    expect("the 13th guess".into(), guess(public, ca, "127.0.0.2", &[]).await, 429);
    for n in 1..=2 {
        let (forwarded, xff) = (format!("for=198.51.100.{n}"), format!("198.51.100.{n}"));
        let forged = [("forwarded", forwarded.as_str()), ("x-forwarded-for", xff.as_str())];
        for one in [&forged[..1], &forged[1..], &forged[..]] {
            expect(format!("forged through nginx: {one:?}"), guess(public, ca, "127.0.0.2", one).await, 429);
        }
    }
    let other = guess(public, ca, "127.0.0.3", &[]).await;
    expect("another client has its own budget".into(), other, 401);
    let straight = format!("http://127.0.0.1:{pa}");
    let forged = [("forwarded", "for=198.51.100.9"), ("x-forwarded-for", "198.51.100.9")];
    for one in [&forged[..1], &forged[1..]] {
        expect(format!("forged straight to a node: {one:?}"), guess(&straight, ca, "127.0.0.2", one).await, 429);
    }
    wrong
}

/// Two nodes on one PostgreSQL behind nginx (TLS), with alice, her key card and a public client.
struct Site {
    tmp: tempfile::TempDir,
    db: String,
    card: ClearCard,
    /// Bob's card: bob has the key app, alice logs in with her card only.
    bob_card: ClearCard,
    client_id: String,
    public: String,
    ca: reqwest::Certificate,
    ports: [u16; 2],
    nodes: [Option<crate::Server>; 2],
    guesses_per_minute: &'static str,
    _nginx: Nginx,
}

const CB: &str = "http://localhost:9999/cb";

impl Site {
    /// The site, with `guesses_per_minute` per client address.
    async fn start(guesses_per_minute: &'static str) -> Site {
        let db = noegle_store::testing::fresh_postgres_database().await.unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
        json(&a, Some(&db), &["user", "add", "alice", "--password-stdin", "--json"], &format!("{PASSWORD}\n"));
        let card: ClearCard =
            serde_json::from_value(json(&a, Some(&db), &["keycard", "issue", "alice", "--json"], "")).unwrap();
        json(&a, Some(&db), &["user", "add", "bob", "--password-stdin", "--json"], &format!("{PASSWORD}\n"));
        let bob_card: ClearCard =
            serde_json::from_value(json(&a, Some(&db), &["keycard", "issue", "bob", "--json"], "")).unwrap();
        let client = json(&a, Some(&db), &["client", "add", "Bank", "--redirect-uri", CB, "--public", "--json"], "");
        // Both nodes hold the same secrets (the pepper above all): the second gets a copy of the first's.
        copy_secrets(&a, &b);
        let (https, http) = (free_port(), free_port());
        let public = format!("https://localhost:{https}");
        let ports = [free_port(), free_port()];
        let (ca, cert_file, key_file) = certificate(tmp.path());
        let nginx_dir = tmp.path().join("nginx");
        std::fs::create_dir_all(&nginx_dir).unwrap();
        let nginx = nginx(&nginx_dir, https, http, ports, &cert_file, &key_file, "");
        let client_id = client["client_id"].as_str().unwrap().to_string();
        let nodes = [None, None];
        let mut site =
            Site { tmp, db, card, bob_card, client_id, public, ca, ports, nodes, guesses_per_minute, _nginx: nginx };
        for i in 0..2 {
            site.start_node(i).await;
        }
        let probe = reqwest::Client::builder().add_root_certificate(site.ca.clone()).build().unwrap();
        for _ in 0..100 {
            if probe.get(format!("{}/readyz", site.public)).send().await.is_ok_and(|r| r.status().is_success()) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        site
    }

    async fn start_node(&mut self, i: usize) {
        let dir = self.tmp.path().join(["a", "b"][i]);
        let env = [
            ("NOEGLE_PUBLIC_URL", self.public.as_str()),
            ("NOEGLE_TRUSTED_PROXIES", "127.0.0.1/32"),
            ("NOEGLE_GUESSES_PER_MINUTE", self.guesses_per_minute),
            ("NOEGLE_ACTIVATION_WAIT_SECS", "0"),
        ];
        self.nodes[i] = Some(serve(&dir, Some(&self.db), self.ports[i], &env).await);
    }

    /// SIGTERM to node `i`; waits until it has stopped.
    fn stop_node(&mut self, i: usize) {
        let mut node = self.nodes[i].take().unwrap();
        let pid = node.child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        let status = node.child.wait().unwrap();
        assert!(status.success(), "node {i} stopped cleanly: {status}");
    }

    fn browser(&self) -> Browser {
        Browser::with(&self.public, reqwest::Client::builder().add_root_certificate(self.ca.clone()))
    }

    /// Bob's terminal key app, activated (no wait here) and unlocked through nginx.
    async fn key_app(&self) -> AppClient {
        let http = reqwest::Client::builder().add_root_certificate(self.ca.clone()).build().unwrap();
        let now = Box::new(|| noegle_server::SystemClock.now().0);
        let mut app = AppClient::with_http(DeviceState::new(&self.public), now, http);
        let keys = &self.bob_card.keys;
        let t = app.login("bob", PASSWORD).await.unwrap();
        app.start_activation(&t.ticket, &keys[&t.key_card.key_number], "terminal", "1.0", "Test").await.unwrap();
        let t = app.login("bob", PASSWORD).await.unwrap();
        app.complete_activation(&t.ticket, &keys[&t.key_card.key_number]).await.unwrap();
        app.set_code("7391").await.unwrap();
        app.unlock("7391").await.unwrap();
        app
    }

    /// Starts bob's log-in in `browser` and sends it to his key app; answers the match code.
    async fn send_to_app(&self, browser: &Browser) -> String {
        let choice = browser.password(&browser.open(&self.authorize()).await, "bob", PASSWORD).await;
        assert_eq!(browser.post("/login/app/send", &[("csrf", &choice.csrf())]).await.status, 303);
        browser.get("/login").await.class_text("match-code").unwrap()
    }

    fn authorize(&self) -> String {
        authorize_url(&self.public, &self.client_id, CB)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_behind_nginx_serve_log_ins_and_keep_one_budget_per_client() {
    let site = Site::start("12").await;
    let (public, ca, pa) = (site.public.clone(), site.ca.clone(), site.ports[0]);
    let nginx_dir = site.tmp.path().join("nginx");
    // A log-in with the key card, through nginx, over TLS (the cookies are __Host-, and the nodes share them).
    let done = site.browser().log_in(&site.authorize(), "alice", &site.card).await;
    assert!(done.location.unwrap().starts_with(CB), "logged in through nginx");
    // And one approved in a key app, both through nginx.
    let mut app = site.key_app().await;
    let browser = site.browser();
    let code = site.send_to_app(&browser).await;
    let r = app.requests().await.unwrap().remove(0);
    assert_eq!(app.decide(&r, Answer::Approve { match_code: Some(&code) }).await.unwrap(), "approved");
    let done = browser.get("/login").await;
    assert!(done.location.unwrap().starts_with(CB), "logged in with the key app through nginx");

    // The budgets are per minute of the nodes' own clock: a sequence that straddles a minute is played again
    // (a new minute gives every client a fresh budget, which would make its checks meaningless).
    let mut tries = 0;
    let wrong = loop {
        let minute = noegle_server::SystemClock.now().0 / 60;
        let wrong = budget_checks(&public, &ca, pa).await;
        if noegle_server::SystemClock.now().0 / 60 == minute {
            break wrong;
        }
        tries += 1;
        assert!(tries < 3, "three sequences straddled a minute");
    };
    assert!(wrong.is_empty(), "{wrong:#?}");
    let audit = json(
        &site.tmp.path().join("a"),
        Some(&site.db),
        &["audit", "--user", "alice", "--limit", "1000", "--json"],
        "",
    );
    let sources: Vec<&str> = audit.as_array().unwrap().iter().filter_map(|e| e["source"].as_str()).collect();
    assert!(sources.contains(&"127.0.0.2") && sources.contains(&"127.0.0.3"), "{sources:?}");
    assert!(!sources.iter().any(|s| s.starts_with("198.51.100.")), "forged addresses in the audit trail: {sources:?}");
    let log = std::fs::read_to_string(nginx_dir.join("error.log")).unwrap_or_default();
    assert!(!log.contains("[emerg]"), "{log}");
}

/// The compose variant (not run here: no container daemon) is the tested file but for its nodes' names, and
/// nginx takes it as written.
#[test]
fn the_compose_variant_is_the_tested_file_but_for_its_nodes() {
    let read = |name: &str| {
        std::fs::read_to_string(format!("{}/../../deploy/nginx/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    };
    let (tested, compose) = (read("noegle.conf"), read("compose.conf"));
    // From the upstream block on, the files are the same but for the nodes' addresses.
    let body = |text: &str, nodes: [&str; 2]| {
        let from = text.find("# Connections per client, counted by nginx").unwrap();
        text[from..].replace(nodes[0], "NODE1").replace(nodes[1], "NODE2")
    };
    assert_eq!(
        body(&compose, ["node1:8080", "node2:8080"]),
        body(&tested, ["127.0.0.1:8081", "127.0.0.1:8082"]),
        "compose.conf drifted from noegle.conf"
    );
    assert!(compose.contains("proxy_set_header Forwarded \"\";"));
}

/// nginx counts a client's connections (`limit_conn`) as the nodes count its budget — an IPv6 client by its
/// /64, not by each of its 2^64 addresses. The key it counts by, from the file as written, is read back
/// through a probe server the test adds, which takes the client's address from a header (nginx's realip
/// module), so that clients from any network can be played over loopback.
#[tokio::test]
async fn nginx_counts_an_ipv6_client_by_its_prefix() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, cert, key) = certificate(tmp.path());
    let probe = free_port();
    let extra = format!(
        "server {{ listen 127.0.0.1:{probe}; set_real_ip_from 127.0.0.1; real_ip_header X-Test-Client; \
         return 200 $noegle_client; }}"
    );
    let _nginx = nginx(tmp.path(), free_port(), free_port(), [free_port(), free_port()], &cert, &key, &extra);
    let http = reqwest::Client::new();
    let counted_as = |client: &'static str| {
        let (http, url) = (http.clone(), format!("http://127.0.0.1:{probe}/"));
        async move {
            for _ in 0..100 {
                if let Ok(r) = http.get(&url).header("x-test-client", client).send().await {
                    return r.bytes().await.unwrap().to_vec();
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            panic!("nginx did not answer");
        }
    };
    let slash64 = vec![0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01, 0x00, 0x02];
    assert_eq!(counted_as("2001:db8:1:2::1").await, slash64);
    assert_eq!(counted_as("2001:db8:1:2:ffff:ffff:ffff:9").await, slash64, "the same /64: one client");
    assert_ne!(counted_as("2001:db8:1:3::1").await, slash64, "the next /64: another");
    assert_eq!(counted_as("192.0.2.7").await, vec![192, 0, 2, 7], "an IPv4 client by its address");
}

/// A rolling restart under a steady load of log-ins — each node SIGTERM'd and started again in turn behind
/// nginx — and not one log-in fails; a key app listening through nginx is sent on when its node stops, and
/// hears the next request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_restart_under_load_fails_no_log_in() {
    let mut site = Site::start("100000").await;
    let mut app = site.key_app().await;
    let (heard_tx, mut heard) = tokio::sync::mpsc::unbounded_channel();
    let listening = tokio::spawn(async move {
        app.watch(|name| {
            let _ = heard_tx.send(name.to_string());
            name != "request"
        })
        .await
        .unwrap();
    });
    assert_eq!(heard.recv().await.as_deref(), Some("connected"));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (browser, url, card, flag) = (site.browser(), site.authorize(), site.card.clone(), stop.clone());
    let load = tokio::spawn(async move {
        let mut done = 0;
        while !flag.load(std::sync::atomic::Ordering::Relaxed) {
            let back = browser.log_in(&url, "alice", &card).await;
            assert!(back.location.unwrap().starts_with(CB));
            done += 1;
            // A few log-ins a second: the load goes on all along, and alice's card does not run out.
            tokio::time::sleep(std::time::Duration::from_millis(150)).await;
        }
        done
    });
    // As the deployment's words say: the next node is stopped once the restarted one is ready and nginx's
    // fail_timeout (2 s) has passed.
    for i in 0..2 {
        tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
        site.stop_node(i);
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        site.start_node(i).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let log = std::fs::read_to_string(site.tmp.path().join("nginx").join("error.log")).unwrap_or_default();
    let done = load.await.unwrap_or_else(|e| panic!("a log-in failed: {e}\nnginx: {log}"));
    assert!(done >= 5, "log-ins went on all along: {done}");

    // Both nodes have been restarted, so the app's first stream is gone; it listens again, and hears this.
    site.send_to_app(&site.browser()).await;
    let heard_request = tokio::time::timeout(std::time::Duration::from_secs(15), async {
        while let Some(name) = heard.recv().await {
            if name == "request" {
                return true;
            }
        }
        false
    });
    assert_eq!(heard_request.await, Ok(true), "the app reconnected and heard the request");
    listening.await.unwrap();
}
