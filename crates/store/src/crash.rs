//! Crash points, for fault tests of the distributed mode (issue 20).
//!
//! `steward worker --crash-at POINT --crash-after N` arms one point: the Nth time the process
//! reaches it, it sends itself SIGKILL, as an operator's `kill -9` or the kernel's OOM killer
//! would, at a moment a test chooses rather than one it hopes to hit. No destructor runs, no
//! buffer is flushed, no transaction ends: PostgreSQL sees the connection go.
//!
//! Unarmed (always, outside fault tests) a point costs one atomic load.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// Where a worker can be killed, in the order a batch passes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrashPoint {
    /// A batch fetched from the stream, before anything is written.
    Fetched,
    /// Inside the store transaction, every row written, before COMMIT.
    InTransaction,
    /// Committed, before the acks.
    Committed,
    /// Committed and acknowledged.
    Acked,
}

impl CrashPoint {
    pub const ALL: [CrashPoint; 4] =
        [CrashPoint::Fetched, CrashPoint::InTransaction, CrashPoint::Committed, CrashPoint::Acked];

    pub fn name(self) -> &'static str {
        match self {
            CrashPoint::Fetched => "fetched",
            CrashPoint::InTransaction => "in-transaction",
            CrashPoint::Committed => "committed",
            CrashPoint::Acked => "acked",
        }
    }

    pub fn parse(s: &str) -> Option<CrashPoint> {
        CrashPoint::ALL.into_iter().find(|p| p.name() == s)
    }
}

static ARMED: OnceLock<(CrashPoint, AtomicU64)> = OnceLock::new();

/// Kills the process the `after`th time (1 = the first) it reaches `point`. Once per process.
pub fn arm(point: CrashPoint, after: u64) {
    let _ = ARMED.set((point, AtomicU64::new(after.max(1))));
}

/// A crash point: SIGKILL here if armed for it and its count is reached.
pub fn reach(point: CrashPoint) {
    let Some((armed, left)) = ARMED.get() else { return };
    if *armed == point && left.fetch_sub(1, Ordering::SeqCst) == 1 {
        eprintln!("crash point {}: SIGKILL", point.name());
        // SAFETY: kill(2) on this process's own pid, with a valid signal number.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
    }
}
