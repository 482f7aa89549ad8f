//! Every bound the server puts on what a client can make it do, in one place: how much a
//! request may send, how much its answer may hold, how long the engine works for one
//! request before another gets a turn, how much may wait, and how long a connection may
//! take. Record and text limits are the engine's (`steward_model::Limits`).

use std::time::Duration;

/// The server's bounds. `Limits::default()` suits one box; `steward serve` sets some of
/// them from its flags.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest accepted request body, in bytes; larger bodies get 413.
    pub max_body_bytes: usize,
    /// Rejections an ingest answer lists in full; the rest are counted by field and reason.
    pub listed_rejections: usize,
    /// Distinct (field, reason) pairs counted; further ones are counted together.
    pub rejection_reasons: usize,
    /// Decisions an ingest answer carries in full; every decision's id is listed.
    pub inline_decisions: usize,
    /// Requests of up to this many records are committed whole, in one turn: stored all
    /// or none, whatever happens to the server.
    pub whole_records: usize,
    /// Records of one request the engine takes in one turn at most, and their bytes: a
    /// larger body is read a slice at a time, in turn with other requests.
    pub slice_records: usize,
    pub slice_bytes: usize,
    /// Time a turn spends processing before it commits: slices shrink when records cost
    /// more (a slower machine, heavier records), so a small request waits about as long.
    pub turn_time: Duration,
    /// Records committed in one transaction, across the requests whose slices share it.
    pub round_records: usize,
    /// Ingest requests waiting for the engine, and their bytes; past either, a request is
    /// answered 503 with Retry-After at once rather than waiting without end.
    pub queued_requests: usize,
    pub queued_bytes: usize,
    /// Time allowed for a request's headers, from the connection's opening or from the
    /// previous answer on it: also how long an idle connection is kept.
    pub header_timeout: Duration,
    /// Time allowed to receive a request's body once its headers are in.
    pub body_timeout: Duration,
    /// Connections held at once. When full, a new connection takes the place of the one
    /// that has waited longest for its request's headers; the default leaves room under
    /// the process's file-descriptor limit.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 16 * 1024 * 1024,
            listed_rejections: 100,
            rejection_reasons: 100,
            inline_decisions: 100,
            whole_records: 100,
            slice_records: 1000,
            slice_bytes: 1024 * 1024,
            turn_time: Duration::from_millis(5),
            round_records: 2000,
            queued_requests: 4096,
            queued_bytes: 256 * 1024 * 1024,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            max_connections: connections_under_fd_limit(),
        }
    }
}

/// Connections that fit under the soft file-descriptor limit with room for the store's
/// files, logs and listeners: an eighth of it kept back, at least 64.
fn connections_under_fd_limit() -> usize {
    let soft = rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .current
        .map_or(usize::MAX, |n| usize::try_from(n).unwrap_or(usize::MAX));
    let reserve = (soft / 8).max(64);
    soft.saturating_sub(reserve).clamp(16, 65_536)
}
