//! What the bot measures about itself: how long the rails take per chunk, and how long a
//! chunk takes from the model's sentence to its release into the group.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The most recent samples of a duration, at most [`Samples::CAP`].
#[derive(Debug, Default)]
pub struct Samples(Mutex<Vec<Duration>>);

impl Samples {
    pub const CAP: usize = 10_000;

    pub fn record(&self, d: Duration) {
        let mut v = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if v.len() >= Self::CAP {
            v.remove(0);
        }
        v.push(d);
    }

    /// The samples, sorted.
    pub fn sorted(&self) -> Vec<Duration> {
        let mut v = self.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
        v.sort_unstable();
        v
    }

    /// The `q` quantile (0 to 1), if there are samples.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        let v = self.sorted();
        let last = v.len().checked_sub(1)?;
        v.get(((last as f64) * q.clamp(0.0, 1.0)).round() as usize).copied()
    }
}

/// The bot's measurements.
#[derive(Debug, Default)]
pub struct Stats {
    /// The rails' check of one chunk.
    pub rails: Samples,
    /// From a chunk ready (its sentence complete) to the group's acknowledgement of it.
    pub release: Samples,
    /// Group messages committed through the engine.
    pub ingested: AtomicU64,
    /// AI answers finished, however they ended.
    pub answers: AtomicU64,
}

impl Stats {
    /// AI answers finished so far.
    pub fn answers(&self) -> u64 {
        self.answers.load(Ordering::Relaxed)
    }

    /// Group messages committed through the engine so far.
    pub fn ingested(&self) -> u64 {
        self.ingested.load(Ordering::Relaxed)
    }
}
