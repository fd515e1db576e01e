//! A burst of password posts is absorbed: the bounded password pool keeps the server's memory small, turns
//! what it cannot take away with 503 and `Retry-After`, and counts only the checks that ran.

use std::sync::Arc;

use noegle_core::Ctx;
use noegle_core::login::issue_card;
use noegle_core::{Clock, accounts};
use noegle_testkit::{Browser, PASSWORD};
use rand::rngs::OsRng;

use crate::{authorize_url, free_port, serve};

const POSTS: usize = 1000;
const USERS: usize = 20;
const WORKERS: u64 = 2;

/// Opens a log-in box session the way a browser does; answers its cookie and CSRF token.
async fn open_session(http: &reqwest::Client, base: &str, authorize: &str) -> (String, String) {
    let r = http.get(authorize).send().await.unwrap();
    assert_eq!(r.status(), 303);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
    let page = http.get(format!("{base}/login")).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
    let marker = "name=\"csrf\" value=\"";
    let start = page.find(marker).unwrap() + marker.len();
    (cookie, page[start..].split('"').next().unwrap().to_string())
}

/// The peak resident memory of process `pid`, in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_parallel_password_posts_keep_memory_bounded_and_count_only_real_checks() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // The node's first start makes its secrets before its database (a database without them is refused).
    noegle_server::secrets::open_data_dir(d, &noegle_store::testing::sqlite_url(d)).unwrap();
    // The users, a key card and the client, stored before the server starts.
    let store = noegle_store::open(&noegle_store::testing::sqlite_url(d)).await.unwrap();
    let ctx = Ctx { store: store.as_ref(), now: noegle_server::SystemClock.now(), source: Some("test") };
    let mut subs = Vec::new();
    for i in 0..USERS {
        subs.push(accounts::create_user(ctx, &mut OsRng, &format!("burst{i}"), None, PASSWORD).await.unwrap().sub);
    }
    let carol = accounts::create_user(ctx, &mut OsRng, "carol", None, PASSWORD).await.unwrap();
    let card = issue_card(ctx, &mut OsRng, &noegle_server::secrets::pepper(d).unwrap(), &carol).await.unwrap();
    let cb = "http://localhost:9999/cb";
    let client = accounts::add_client(ctx, &mut OsRng, "Bank", &[cb.into()], true).await.unwrap();

    let workers = WORKERS.to_string();
    // The burst comes from one address that speaks for many clients, as a proxy in front does: trusted, it
    // is held to the node's connection limit only.
    let env = [
        ("NOEGLE_PASSWORD_WORKERS", workers.as_str()),
        ("NOEGLE_GUESSES_PER_MINUTE", "100000"),
        ("NOEGLE_TRUSTED_PROXIES", "127.0.0.1/32"),
    ];
    let server = serve(d, None, free_port(), &env).await;
    eprintln!("burst: RSS at start {} KiB", peak_rss_kib(server.child.id()));
    let base = server.url.clone();
    let authorize = authorize_url(&base, client.client.client_id.as_str(), cb);

    // A thousand log-in box sessions, opened a few at a time.
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let mut sessions = Vec::new();
    for chunk in (0..POSTS).collect::<Vec<_>>().chunks(25) {
        let opened = chunk.iter().map(|_| open_session(&http, &base, &authorize));
        sessions.extend(futures::future::join_all(opened).await);
    }

    eprintln!("burst: RSS before the posts {} KiB", peak_rss_kib(server.child.id()));
    // Then every one of them posts a wrong password at the same moment, each on its own connection.
    let start = Arc::new(tokio::sync::Barrier::new(POSTS));
    let mut posts = Vec::new();
    for (i, (cookie, csrf)) in sessions.into_iter().enumerate() {
        let (start, base) = (start.clone(), base.clone());
        posts.push(tokio::spawn(async move {
            let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
            let form =
                [("csrf", csrf), ("user_id", format!("burst{}", i % USERS)), ("password", format!("forkert {i}"))];
            start.wait().await;
            let r =
                http.post(format!("{base}/login/password")).header("cookie", cookie).form(&form).send().await.unwrap();
            let retry_after = r.headers().contains_key("retry-after");
            (r.status().as_u16(), retry_after, r.text().await.unwrap())
        }));
    }
    let mut answers = Vec::new();
    for p in posts {
        answers.push(p.await.unwrap());
    }

    let peak = peak_rss_kib(server.child.id());
    let bound = (64 + 19 * WORKERS) * 1024;
    let rejected = answers.iter().filter(|a| a.0 == 401).count();
    eprintln!(
        "burst: peak RSS {peak} KiB (bound {bound} KiB), {rejected} checked and refused, {} busy",
        answers.len() - rejected
    );
    assert!(peak < bound, "peak RSS {peak} KiB is over the bound of {bound} KiB");
    let busy: Vec<_> = answers.iter().filter(|a| a.0 == 503).collect();
    assert_eq!(
        rejected + busy.len(),
        POSTS,
        "every answer is 401 or 503: {:?}",
        answers.iter().map(|a| a.0).collect::<Vec<_>>()
    );
    assert!(rejected > 0 && !busy.is_empty(), "{rejected} checked, {} turned away", busy.len());
    for (_, retry_after, body) in &busy {
        assert!(*retry_after, "a busy answer says when to come back");
        assert!(body.contains("Der er travlt lige nu"), "{body}");
        assert!(body.contains("name=\"password\""), "the form is there to try again");
    }

    // A correct log-in right after the burst goes through.
    let b = Browser::new(&base);
    let done = b.log_in(&authorize, "carol", &card).await;
    assert!(done.location.unwrap().starts_with(cb));

    // The failure counters hold exactly the checks that ran: every 401, no 503.
    let mut counted = 0;
    for sub in &subs {
        let u = store.user_by_sub(sub).await.unwrap().unwrap();
        assert!(u.failed_attempts < 100, "nobody is locked by the burst");
        counted += u.failed_attempts;
    }
    assert_eq!(counted as usize, rejected, "failures counted = passwords checked and refused");
}
