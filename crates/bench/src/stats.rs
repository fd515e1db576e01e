//! Latency percentiles and the Argon2id bound, measured by the bench itself.

use std::time::{Duration, Instant};

/// Milliseconds at percentile `p` (0–100) of `samples` (nearest rank); 0 when empty.
pub fn percentile_ms(samples: &mut [Duration], p: f64) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    samples.sort_unstable();
    let rank = ((p / 100.0) * samples.len() as f64).ceil() as usize;
    samples[rank.clamp(1, samples.len()) - 1].as_secs_f64() * 1000.0
}

/// The time now (the bench measures wall time; this is its one clock).
#[allow(clippy::disallowed_methods)]
pub fn now() -> Instant {
    Instant::now()
}

/// The median time of one Argon2id password check with the project's parameters, in milliseconds, on a
/// thread of its own (the bound of a log-in: it cannot cost less than this).
pub async fn argon2_verify_ms() -> anyhow::Result<f64> {
    tokio::task::spawn_blocking(|| {
        let phc = noegle_core::password::hash("korrekt hest batteri", &mut rand::rngs::OsRng)?;
        let mut v = noegle_core::password::Verifier::new();
        for _ in 0..3 {
            v.verify("korrekt hest batteri", &phc);
        }
        let mut times = Vec::new();
        for _ in 0..25 {
            let t = now();
            v.verify("forkert hest batteri", &phc);
            times.push(t.elapsed());
        }
        Ok(percentile_ms(&mut times, 50.0))
    })
    .await?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let mut s: Vec<Duration> = (1..=100).rev().map(Duration::from_millis).collect();
        assert_eq!(percentile_ms(&mut s, 50.0), 50.0);
        assert_eq!(percentile_ms(&mut s, 99.0), 99.0);
        assert_eq!(percentile_ms(&mut s, 100.0), 100.0);
        assert_eq!(percentile_ms(&mut [], 99.0), 0.0);
    }
}
