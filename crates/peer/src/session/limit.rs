//! A token bucket shared by every connection of a session (or of every session on a
//! [`Shared`](super::Shared)), for `--max-upload-rate` and `--max-download-rate`.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// Limits a byte stream to `rate` bytes per second, with a burst of a quarter second.
#[derive(Debug)]
pub(super) struct Bucket {
    rate: f64,
    burst: f64,
    state: Mutex<(f64, Instant)>,
}

impl Bucket {
    pub(super) fn new(rate: u64) -> Self {
        let rate = rate.max(1) as f64;
        let burst = (rate / 4.0).max(64.0 * 1024.0);
        Bucket {
            rate,
            burst,
            state: Mutex::new((burst, Instant::now())),
        }
    }

    /// The buckets a byte must pass: one for this session's own `rate` (if any), then the
    /// shared one (if any).
    pub(super) fn combine(rate: Option<u64>, shared: Option<Arc<Bucket>>) -> Vec<Arc<Bucket>> {
        rate.map(|r| Arc::new(Bucket::new(r)))
            .into_iter()
            .chain(shared)
            .collect()
    }

    /// Accounts for `n` bytes, waiting as long as the bucket is in debt.
    pub(super) async fn take(&self, n: usize) {
        let wait = {
            let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            let now = Instant::now();
            let (tokens, last) = *s;
            let tokens = (tokens + now.duration_since(last).as_secs_f64() * self.rate)
                .min(self.burst)
                - n as f64;
            *s = (tokens, now);
            (tokens < 0.0).then(|| Duration::from_secs_f64(-tokens / self.rate))
        };
        if let Some(w) = wait {
            tokio::time::sleep(w).await;
        }
    }
}
