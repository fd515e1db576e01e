//! Password checks on a fixed pool of worker threads with a bounded queue in front, so that a burst of
//! log-ins costs at most `workers` × one Argon2 memory (19 MiB) however many arrive at once.
//!
//! Each worker keeps its Argon2 working memory between checks (`noegle_core::password::Verifier`). A check
//! that finds the queue full, or that waited in it longer than the configured wait, is turned away unrun
//! ([`Busy`]); the caller answers 503 with `Retry-After`, and nothing is counted or stored.

use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use noegle_core::login::{Busy, PasswordCheck};
use noegle_core::password::Verifier;
use tokio::sync::oneshot;

/// Seconds a client turned away as busy is told to wait (`Retry-After`).
pub const RETRY_AFTER_SECS: u64 = 2;

/// The `Retry-After` value of a "busy" answer.
pub fn retry_after() -> axum::http::HeaderValue {
    axum::http::HeaderValue::from(RETRY_AFTER_SECS)
}

/// One check waiting for a worker.
struct Job {
    password: String,
    /// `None`: a dummy check (unknown user, locked account).
    phc: Option<String>,
    queued_at: Instant,
    reply: oneshot::Sender<bool>,
}

/// The pool. Dropping it ends its workers once the queue is drained.
pub struct PasswordPool {
    queue: SyncSender<Job>,
    workers: usize,
}

impl std::fmt::Debug for PasswordPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordPool").field("workers", &self.workers).finish()
    }
}

impl PasswordPool {
    /// Starts `workers` threads behind a queue of `queue` checks; a check waits at most `max_wait` for a
    /// worker before it is turned away.
    pub fn start(workers: usize, queue: usize, max_wait: Duration) -> std::io::Result<PasswordPool> {
        let workers = workers.max(1);
        let (tx, rx) = sync_channel::<Job>(queue);
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..workers {
            let rx = rx.clone();
            std::thread::Builder::new().name(format!("password-{i}")).spawn(move || work(&rx, max_wait))?;
        }
        Ok(PasswordPool { queue: tx, workers })
    }

    /// How many threads check passwords.
    pub fn workers(&self) -> usize {
        self.workers
    }

    async fn check(&self, password: &str, phc: Option<&str>) -> Result<bool, Busy> {
        let (reply, answer) = oneshot::channel();
        let job = Job { password: password.to_string(), phc: phc.map(str::to_string), queued_at: started(), reply };
        // Counted before it is queued, so that the worker's decrement never comes first.
        metrics::gauge!("noegle_password_checks_queued").increment(1.0);
        if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) = self.queue.try_send(job) {
            metrics::gauge!("noegle_password_checks_queued").decrement(1.0);
            return Err(busy());
        }
        // A worker that turns the job away drops `reply` unanswered.
        answer.await.map_err(|_| busy())
    }
}

#[allow(clippy::disallowed_methods)] // how long a check queued is a resource limit, not a domain rule
fn started() -> Instant {
    Instant::now()
}

fn busy() -> Busy {
    metrics::counter!("noegle_password_checks_busy_total").increment(1);
    Busy
}

/// A worker: takes jobs until the pool is dropped, with one Argon2 memory allocated at its first check.
fn work(rx: &Mutex<Receiver<Job>>, max_wait: Duration) {
    let mut verifier: Option<Verifier> = None;
    loop {
        let job = {
            let Ok(rx) = rx.lock() else { return };
            match rx.recv() {
                Ok(job) => job,
                Err(_) => return,
            }
        };
        metrics::gauge!("noegle_password_checks_queued").decrement(1.0);
        // The asker gave up (its connection closed), or the job waited too long: drop it unrun.
        if job.reply.is_closed() || job.queued_at.elapsed() > max_wait {
            continue;
        }
        let v = verifier.get_or_insert_with(Verifier::new);
        let ok = match &job.phc {
            Some(phc) => v.verify(&job.password, phc),
            None => v.verify_dummy(&job.password),
        };
        metrics::counter!("noegle_password_checks_total").increment(1);
        let _ = job.reply.send(ok);
    }
}

#[async_trait]
impl PasswordCheck for PasswordPool {
    async fn verify(&self, password: &str, phc: &str) -> Result<bool, Busy> {
        self.check(password, Some(phc)).await
    }
    async fn verify_dummy(&self, password: &str) -> Result<bool, Busy> {
        self.check(password, None).await.map(|_| false)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn checks_run_and_a_full_queue_turns_checks_away_unrun() {
        let phc = noegle_core::password::hash("korrekt hest batteri", &mut rand::rngs::OsRng).unwrap();
        let pool = Arc::new(PasswordPool::start(1, 2, Duration::from_secs(60)).unwrap());
        assert_eq!(pool.verify("korrekt hest batteri", &phc).await, Ok(true));
        assert_eq!(pool.verify("forkert hest batteri", &phc).await, Ok(false));
        assert_eq!(pool.verify_dummy("korrekt hest batteri").await, Ok(false));

        // One worker, two places in the queue: of 12 checks at once, at most 4 get in (the worker may have
        // taken one off the queue while the others arrived).
        let mut tasks = Vec::new();
        for _ in 0..12 {
            let (pool, phc) = (pool.clone(), phc.clone());
            tasks.push(tokio::spawn(async move { pool.verify("korrekt hest batteri", &phc).await }));
        }
        let mut answers = Vec::new();
        for t in tasks {
            answers.push(t.await.unwrap());
        }
        let busy = answers.iter().filter(|a| **a == Err(Busy)).count();
        let ran = answers.iter().filter(|a| **a == Ok(true)).count();
        assert_eq!(busy + ran, 12, "{answers:?}");
        assert!(busy >= 8 && ran >= 1, "{answers:?}");
        // The pool works on once the burst is over.
        assert_eq!(pool.verify("korrekt hest batteri", &phc).await, Ok(true));
    }

    #[tokio::test]
    async fn a_check_that_waited_too_long_is_turned_away() {
        let phc = noegle_core::password::hash("korrekt hest batteri", &mut rand::rngs::OsRng).unwrap();
        let pool = Arc::new(PasswordPool::start(1, 8, Duration::ZERO).unwrap());
        // With no wait allowed, every check behind the first finds it has waited too long.
        let mut tasks = Vec::new();
        for _ in 0..4 {
            let (pool, phc) = (pool.clone(), phc.clone());
            tasks.push(tokio::spawn(async move { pool.verify("korrekt hest batteri", &phc).await }));
        }
        let mut busy = 0;
        for t in tasks {
            busy += usize::from(t.await.unwrap() == Err(Busy));
        }
        assert!(busy >= 3, "{busy} of 4 turned away");
    }
}
