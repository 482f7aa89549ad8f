//! NATS JetStream publishing for steward's distributed mode (issue 20).
//!
//! Accepted events go to one JetStream stream whose subjects are `ev.<type>.<partition>`. The
//! partition is a stable hash of the account id ([`partition`]), so every event of an account
//! lands in one partition and one worker owns it. Each message carries `Nats-Msg-Id` = the event
//! id, so a publish retried inside the stream's duplicate window is stored once; a client is told
//! `accepted` only after JetStream's publish ack ([`Publisher::publish`]).
//!
//! The stream keeps messages by age (Limits retention, [`StreamConfig::max_age`]), longer than
//! the longest detector window, so a worker can rebuild its state by replay.
//!
//! Works with nats-server 2.9 (Debian 12): the client is built without its 2.10+ features.
//!
//! Measured against the 3-node R3 loopback cluster of `scripts/nats.sh` on the 2-core
//! development machine: about 40,000 publishes/s pipelined, 4,000/s one ack at a time
//! (README.md has the table and the failover timings).

use std::collections::VecDeque;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::time::{Duration, Instant};

use async_nats::jetstream::context::{PublishAckFuture, PublishErrorKind};
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::stream::{Config, DiscardPolicy, RetentionPolicy, StorageType};
use async_nats::jetstream::{self, Context, ErrorCode};
use bytes::Bytes;

/// FNV-1a, 64-bit: offset basis and prime. Part of the wire contract, never to change.
const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// The partition of an account: 64-bit FNV-1a over the UTF-8 bytes of `account_id`, reduced
/// modulo `partitions`. Fixed forever (publishers, workers and replays must agree across
/// releases and languages), unlike std's randomly seeded hasher. `partitions` of 0 counts as 1.
pub fn partition(account_id: &str, partitions: u32) -> u32 {
    let mut h = FNV_OFFSET;
    for &b in account_id.as_bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(FNV_PRIME);
    }
    (h % u64::from(partitions.max(1))) as u32
}

/// `ev.<type>.<partition>`, the subject of an event in the default stream.
pub fn subject(event_type: &str, partition: u32) -> String {
    format!("{DEFAULT_SUBJECT_PREFIX}.{}.{partition}", subject_token(event_type))
}

/// An event type as one subject token: ASCII letters, digits, `-` and `_` are kept, anything
/// else (`.`, `*`, `>`, spaces, non-ASCII) becomes `_`; an empty type is `_`. The subject only
/// routes: the payload carries the exact type.
pub fn subject_token(event_type: &str) -> String {
    if event_type.is_empty() {
        return "_".to_string();
    }
    event_type.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect()
}

pub const DEFAULT_STREAM: &str = "steward-events";
pub const DEFAULT_SUBJECT_PREFIX: &str = "ev";
pub const DEFAULT_PARTITIONS: u32 = 64;

/// How a [`Publisher`] waits and retries. Every retry reuses the event id, so the whole retry
/// span ([`RetryPolicy::span`]) must fit in the stream's duplicate window; [`Publisher::connect`]
/// refuses a config where it does not.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// How long one attempt waits for JetStream's publish ack.
    pub ack_timeout: Duration,
    /// Retries (same id) go on while less than this has passed since the first send, on ack
    /// timeout, lost connection or no responders. A stream leader election after a node failure
    /// answers "no responders" for a few seconds; a client reconnecting to another node loses the
    /// acks in flight.
    pub retry_for: Duration,
    /// Pause before each retry.
    pub backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            ack_timeout: Duration::from_secs(5),
            retry_for: Duration::from_secs(30),
            backoff: Duration::from_millis(250),
        }
    }
}

impl RetryPolicy {
    /// The longest time from the first send of an event to the end of its last attempt.
    pub fn span(&self) -> Duration {
        self.retry_for + self.backoff + self.ack_timeout
    }
}

/// The event stream. Defaults: Limits retention kept 8 days (the longest detector window is 7),
/// file storage, 3 replicas, 64 partitions, a 5-minute duplicate window (the default retry span
/// is 35.25 s). A client that retries after the window is still stored once: the worker's insert is
/// idempotent on the event id. The server keeps the ids of the window in memory, about
/// rate × window entries.
#[derive(Debug, Clone)]
pub struct StreamConfig {
    pub name: String,
    /// The first subject token; the stream takes `<prefix>.>`.
    pub subject_prefix: String,
    pub partitions: u32,
    pub replicas: usize,
    pub max_age: Duration,
    pub duplicate_window: Duration,
    /// Bytes kept at most, -1 for no limit. Past it new publishes are refused (discard new), so
    /// no event that was acknowledged is dropped before the workers read it.
    pub max_bytes: i64,
}

impl Default for StreamConfig {
    fn default() -> Self {
        StreamConfig {
            name: DEFAULT_STREAM.to_string(),
            subject_prefix: DEFAULT_SUBJECT_PREFIX.to_string(),
            partitions: DEFAULT_PARTITIONS,
            replicas: 3,
            max_age: Duration::from_secs(8 * 24 * 3600),
            duplicate_window: Duration::from_secs(300),
            max_bytes: -1,
        }
    }
}

impl StreamConfig {
    /// `<prefix>.<type>.<partition>`.
    pub fn subject(&self, event_type: &str, partition: u32) -> String {
        format!("{}.{}.{partition}", self.subject_prefix, subject_token(event_type))
    }

    /// The subject of an event of this account.
    pub fn subject_for(&self, event_type: &str, account_id: &str) -> String {
        self.subject(event_type, partition(account_id, self.partitions))
    }

    /// The filter of one partition's events of every type, for a worker's consumer.
    pub fn partition_filter(&self, partition: u32) -> String {
        format!("{}.*.{partition}", self.subject_prefix)
    }

    /// The dead-letter stream's name: `<stream>-dead`. Workers put there the events the engine
    /// fails on alone (`steward worker`'s docs), so they do not block their partition.
    pub fn dead_letter_stream(&self) -> String {
        format!("{}-dead", self.name)
    }

    /// The subject of a partition's dead letters: `<prefix>-dead.<partition>`.
    pub fn dead_letter_subject(&self, partition: u32) -> String {
        format!("{}-dead.{partition}", self.subject_prefix)
    }

    /// The dead-letter stream: Limits retention, kept as long as the events, as many replicas.
    pub fn dead_letter_config(&self) -> Config {
        Config {
            name: self.dead_letter_stream(),
            description: Some(format!("steward dead letters of {}", self.name)),
            subjects: vec![format!("{}-dead.>", self.subject_prefix)],
            retention: RetentionPolicy::Limits,
            storage: StorageType::File,
            num_replicas: self.replicas,
            max_age: self.max_age,
            duplicate_window: self.duplicate_window,
            ..Default::default()
        }
    }

    /// Written into the stream's description, read back to catch publishers and workers that
    /// disagree on the partition count (nats-server 2.9 has no stream metadata).
    fn description(&self) -> String {
        format!("steward events; partitions={}", self.partitions)
    }

    /// The partition count a stream's description (as [`StreamConfig`] writes it) gives.
    pub fn described_partitions(description: &str) -> Option<u32> {
        description.split("partitions=").nth(1)?.trim().parse().ok()
    }

    fn validate(&self, retry: &RetryPolicy) -> Result<(), ConnectError> {
        let bad = |m: String| Err(ConnectError::InvalidConfig(m));
        let token_ok = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !token_ok(&self.name) {
            return bad(format!("stream name {:?} must be ASCII letters, digits, - or _", self.name));
        }
        if !token_ok(&self.subject_prefix) {
            return bad(format!("subject prefix {:?} must be one subject token", self.subject_prefix));
        }
        if self.partitions == 0 {
            return bad("partitions must be at least 1".into());
        }
        if !(1..=5).contains(&self.replicas) {
            return bad(format!("replicas must be 1 to 5, not {}", self.replicas));
        }
        if self.max_age < Duration::from_secs(7 * 24 * 3600) {
            return bad(format!("max_age {:?} is shorter than the 7-day detector window", self.max_age));
        }
        if self.duplicate_window < Duration::from_secs(120) {
            return bad(format!("duplicate_window {:?} is shorter than 2 minutes", self.duplicate_window));
        }
        if self.duplicate_window <= retry.span() {
            return bad(format!(
                "duplicate_window {:?} must be longer than the publisher's retry span {:?}",
                self.duplicate_window,
                retry.span()
            ));
        }
        Ok(())
    }

    fn to_nats(&self) -> Config {
        Config {
            name: self.name.clone(),
            description: Some(self.description()),
            subjects: vec![format!("{}.>", self.subject_prefix)],
            retention: RetentionPolicy::Limits,
            storage: StorageType::File,
            num_replicas: self.replicas,
            max_age: self.max_age,
            duplicate_window: self.duplicate_window,
            max_bytes: self.max_bytes,
            max_messages: -1,
            max_messages_per_subject: -1,
            max_consumers: -1,
            discard: DiscardPolicy::New,
            ..Default::default()
        }
    }
}

/// Failure to connect or to set up the stream.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("invalid stream config: {0}")]
    InvalidConfig(String),
    #[error("cannot connect to NATS at {urls}: {source}")]
    Connect { urls: String, source: async_nats::ConnectError },
    #[error("JetStream is not available at {urls} (not enabled, no meta leader, or timed out): {detail}")]
    JetStreamUnavailable { urls: String, detail: String },
    #[error("stream {stream} exists with a different config: {detail}")]
    ConfigMismatch { stream: String, detail: String },
    #[error("JetStream refused stream {stream}: {detail}")]
    Stream { stream: String, detail: String },
}

impl ConnectError {
    /// Whether another attempt may succeed: a request that timed out or found no responder,
    /// or a stream created by another publisher meanwhile.
    fn is_transient(&self) -> bool {
        match self {
            // "already in use": another publisher created the stream at the same moment;
            // the next attempt finds it.
            ConnectError::JetStreamUnavailable { detail, .. } | ConnectError::Stream { detail, .. } => {
                detail.contains("timed out") || detail.contains("no responders") || detail.contains("already in use")
            }
            _ => false,
        }
    }
}

/// Failure to get one event acknowledged. The client must not be told `accepted`.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("event id is empty")]
    EmptyEventId,
    #[error("no publish ack for event {event_id} within {ack_timeout:?} per attempt, {attempts} attempts")]
    Timeout { event_id: String, ack_timeout: Duration, attempts: u32 },
    #[error("no stream answers {subject} (no responders), {attempts} attempts")]
    NoResponders { subject: String, attempts: u32 },
    #[error("event {event_id} is larger than the server's max payload")]
    TooLarge { event_id: String },
    #[error("connection lost while publishing event {event_id}")]
    Disconnected { event_id: String },
    #[error("JetStream refused event {event_id}: {detail}")]
    Rejected { event_id: String, detail: String },
}

impl PublishError {
    fn retryable(&self) -> bool {
        matches!(
            self,
            PublishError::Timeout { .. } | PublishError::NoResponders { .. } | PublishError::Disconnected { .. }
        )
    }
}

/// JetStream's publish ack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack {
    pub stream: String,
    /// The message's sequence in the stream (for a duplicate, the first copy's).
    pub sequence: u64,
    /// The event id was already in the stream's duplicate window: nothing new was stored.
    pub duplicate: bool,
}

/// One event to publish.
#[derive(Debug, Clone)]
pub struct Event {
    pub event_id: String,
    pub event_type: String,
    pub account_id: String,
    pub payload: Bytes,
}

type AckFuture = Pin<
    Box<
        dyn Future<Output = Result<jetstream::publish::PublishAck, async_nats::jetstream::context::PublishError>>
            + Send,
    >,
>;

/// Publishes events to the stream and waits for JetStream's acks. Cheap to clone.
#[derive(Clone)]
pub struct Publisher {
    client: async_nats::Client,
    js: Context,
    config: StreamConfig,
    retry: RetryPolicy,
    window: usize,
}

/// Publishes in flight at once in [`Publisher::publish_batch`].
pub const DEFAULT_WINDOW: usize = 1024;

impl Publisher {
    /// Connects to any of `urls` (comma-separated `nats://host:port`), then creates the stream or
    /// updates it to `config`. Refuses a stream whose partition count differs.
    pub async fn connect(urls: &str, config: StreamConfig) -> Result<Publisher, ConnectError> {
        Publisher::connect_with(urls, config, RetryPolicy::default()).await
    }

    pub async fn connect_with(urls: &str, config: StreamConfig, retry: RetryPolicy) -> Result<Publisher, ConnectError> {
        config.validate(&retry)?;
        let addrs: Vec<&str> = urls.split(',').map(str::trim).filter(|u| !u.is_empty()).collect();
        let connect_err = |source| ConnectError::Connect { urls: urls.to_string(), source };
        if addrs.is_empty() {
            return Err(connect_err(async_nats::ConnectError::new(async_nats::ConnectErrorKind::ServerParse)));
        }
        let client = async_nats::ConnectOptions::new()
            .name("steward-publisher")
            .connection_timeout(Duration::from_secs(5))
            .request_timeout(Some(Duration::from_secs(10)))
            .connect(addrs)
            .await
            .map_err(connect_err)?;
        let window = DEFAULT_WINDOW;
        let js = jetstream::ContextBuilder::new()
            .timeout(retry.ack_timeout)
            .max_ack_inflight(window * 4)
            .build(client.clone());
        // A cluster under load, or electing a leader, may time a management request out:
        // tried again within the publish retry span before giving up.
        let started = std::time::Instant::now();
        loop {
            match ensure_stream(&js, &config, urls).await {
                Ok(()) => break,
                Err(e) if e.is_transient() && started.elapsed() < retry.retry_for => {
                    tracing::warn!("setting up the stream, trying again: {e}");
                    tokio::time::sleep(retry.backoff).await;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(Publisher { client, js, config, retry, window })
    }

    /// Publishes in flight at once in [`Publisher::publish_batch`] (at least 1).
    pub fn with_window(mut self, window: usize) -> Publisher {
        self.window = window.clamp(1, DEFAULT_WINDOW * 4);
        self
    }

    pub fn config(&self) -> &StreamConfig {
        &self.config
    }

    /// The JetStream context, for consumers and stream queries.
    pub fn jetstream(&self) -> &Context {
        &self.js
    }

    pub fn client(&self) -> &async_nats::Client {
        &self.client
    }

    /// Publishes one event to `<prefix>.<type>.<partition of account>` with `Nats-Msg-Id` = the
    /// event id and returns once JetStream has acknowledged it (stored on a quorum of replicas),
    /// retrying on timeout or no responders with the same id.
    pub async fn publish(
        &self,
        event_id: &str,
        event_type: &str,
        account_id: &str,
        payload: Bytes,
    ) -> Result<Ack, PublishError> {
        if event_id.is_empty() {
            return Err(PublishError::EmptyEventId);
        }
        let subject = self.config.subject_for(event_type, account_id);
        let start = Instant::now();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = match self.send(&subject, event_id, payload.clone()).await {
                Ok(ack) => self.ack(event_id, &subject, ack.into_future().await),
                Err(e) => Err(e),
            };
            match result {
                Err(e) if e.retryable() && start.elapsed() < self.retry.retry_for => {
                    tracing::debug!(event_id, attempt, error = %e, "publish retry");
                    tokio::time::sleep(self.retry.backoff).await;
                }
                Err(e) => return Err(self.with_attempts(e, attempt)),
                Ok(ack) => return Ok(ack),
            }
        }
    }

    /// Publishes many events pipelined: up to the window's count are in flight before the oldest
    /// ack is awaited. Returns one result per event, in order. The events whose attempt failed in
    /// a retryable way are pipelined again, after a pause, under the same retry budget as
    /// [`Publisher::publish`].
    pub async fn publish_batch(&self, events: &[Event]) -> Vec<Result<Ack, PublishError>> {
        let start = Instant::now();
        let mut results: Vec<Option<Result<Ack, PublishError>>> = (0..events.len()).map(|_| None).collect();
        let mut pending: Vec<usize> = (0..events.len()).collect();
        let mut attempt = 0;
        while !pending.is_empty() {
            attempt += 1;
            self.pipeline(events, &pending, &mut results).await;
            let retry: Vec<usize> =
                pending.into_iter().filter(|&i| matches!(&results[i], Some(Err(e)) if e.retryable())).collect();
            if retry.is_empty() || start.elapsed() >= self.retry.retry_for {
                for &i in &retry {
                    if let Some(Err(e)) = results[i].take() {
                        results[i] = Some(Err(self.with_attempts(e, attempt)));
                    }
                }
                break;
            }
            tracing::debug!(attempt, retries = retry.len(), "batch publish retry");
            tokio::time::sleep(self.retry.backoff).await;
            pending = retry;
        }
        results
            .into_iter()
            .zip(events)
            .map(|(r, ev)| r.unwrap_or_else(|| Err(PublishError::Disconnected { event_id: ev.event_id.clone() })))
            .collect()
    }

    /// One pass of `publish_batch` over the events at `indexes`.
    async fn pipeline(&self, events: &[Event], indexes: &[usize], results: &mut [Option<Result<Ack, PublishError>>]) {
        let mut in_flight: VecDeque<(usize, String, AckFuture)> = VecDeque::with_capacity(self.window);
        for &i in indexes {
            if in_flight.len() >= self.window
                && let Some((j, subject, fut)) = in_flight.pop_front()
            {
                results[j] = Some(self.ack(&events[j].event_id, &subject, fut.await));
            }
            let ev = &events[i];
            if ev.event_id.is_empty() {
                results[i] = Some(Err(PublishError::EmptyEventId));
                continue;
            }
            let subject = self.config.subject_for(&ev.event_type, &ev.account_id);
            match self.send(&subject, &ev.event_id, ev.payload.clone()).await {
                Ok(fut) => in_flight.push_back((i, subject, fut.into_future())),
                Err(e) => results[i] = Some(Err(e)),
            }
        }
        while let Some((j, subject, fut)) = in_flight.pop_front() {
            results[j] = Some(self.ack(&events[j].event_id, &subject, fut.await));
        }
    }

    async fn send(&self, subject: &str, event_id: &str, payload: Bytes) -> Result<PublishAckFuture, PublishError> {
        let msg = PublishMessage::build().payload(payload).message_id(event_id);
        self.js.send_publish(subject.to_string(), msg).await.map_err(|e| self.map_error(event_id, subject, e))
    }

    fn ack(
        &self,
        event_id: &str,
        subject: &str,
        r: Result<jetstream::publish::PublishAck, async_nats::jetstream::context::PublishError>,
    ) -> Result<Ack, PublishError> {
        match r {
            Ok(a) => Ok(Ack { stream: a.stream, sequence: a.sequence, duplicate: a.duplicate }),
            Err(e) => Err(self.map_error(event_id, subject, e)),
        }
    }

    fn map_error(
        &self,
        event_id: &str,
        subject: &str,
        e: async_nats::jetstream::context::PublishError,
    ) -> PublishError {
        let event_id = event_id.to_string();
        match e.kind() {
            PublishErrorKind::TimedOut => {
                PublishError::Timeout { event_id, ack_timeout: self.retry.ack_timeout, attempts: 1 }
            }
            PublishErrorKind::StreamNotFound => {
                PublishError::NoResponders { subject: subject.to_string(), attempts: 1 }
            }
            PublishErrorKind::MaxPayloadExceeded => PublishError::TooLarge { event_id },
            PublishErrorKind::BrokenPipe => PublishError::Disconnected { event_id },
            _ => PublishError::Rejected { event_id, detail: e.to_string() },
        }
    }

    fn with_attempts(&self, e: PublishError, n: u32) -> PublishError {
        match e {
            PublishError::Timeout { event_id, ack_timeout, .. } => {
                PublishError::Timeout { event_id, ack_timeout, attempts: n }
            }
            PublishError::NoResponders { subject, .. } => PublishError::NoResponders { subject, attempts: n },
            e => e,
        }
    }
}

/// Creates the stream, or updates it when it exists and agrees on the partition count.
/// The settings steward relies on where `got` differs from `want`, as the server has them.
fn differences(got: &jetstream::stream::Config, want: &jetstream::stream::Config) -> Vec<String> {
    let mut diffs = Vec::new();
    if got.subjects != want.subjects {
        diffs.push(format!("subjects {:?}", got.subjects));
    }
    if got.num_replicas != want.num_replicas {
        diffs.push(format!("replicas {}", got.num_replicas));
    }
    if got.max_age != want.max_age {
        diffs.push(format!("max_age {:?}", got.max_age));
    }
    if got.duplicate_window != want.duplicate_window {
        diffs.push(format!("duplicate_window {:?}", got.duplicate_window));
    }
    if got.retention != want.retention {
        diffs.push(format!("retention {:?}", got.retention));
    }
    if got.storage != want.storage {
        diffs.push(format!("storage {:?}", got.storage));
    }
    if got.discard != want.discard {
        diffs.push(format!("discard {:?}", got.discard));
    }
    if got.max_bytes != want.max_bytes {
        diffs.push(format!("max_bytes {}", got.max_bytes));
    }
    diffs
}

async fn ensure_stream(js: &Context, config: &StreamConfig, urls: &str) -> Result<(), ConnectError> {
    let want = config.to_nats();
    let stream_err = |detail: String| ConnectError::Stream { stream: config.name.clone(), detail };
    let info = match js.get_stream(&config.name).await {
        Ok(mut stream) => {
            let have = stream.info().await.map_err(|e| stream_err(e.to_string()))?.config.clone();
            if have.description != want.description {
                return Err(ConnectError::ConfigMismatch {
                    stream: config.name.clone(),
                    detail: format!(
                        "description {:?}, this publisher wants {:?}: the partition count differs",
                        have.description.unwrap_or_default(),
                        want.description.unwrap_or_default()
                    ),
                });
            }
            // Left as it is when it already is as asked (no update to race with its creator).
            if differences(&have, &want).is_empty() {
                stream.cached_info().clone()
            } else {
                js.update_stream(&want).await.map_err(|e| {
                    let detail = format!("cannot update it: {e}");
                    // A stream just created elsewhere may not answer yet: not a mismatch.
                    if detail.contains("timed out") {
                        stream_err(detail)
                    } else {
                        ConnectError::ConfigMismatch { stream: config.name.clone(), detail }
                    }
                })?
            }
        }
        Err(e) => match e.kind() {
            jetstream::context::GetStreamErrorKind::JetStream(je) if je.error_code() == ErrorCode::STREAM_NOT_FOUND => {
                js.create_stream(want.clone()).await.map_err(|e| stream_err(e.to_string()))?.cached_info().clone()
            }
            jetstream::context::GetStreamErrorKind::JetStream(je) => return Err(stream_err(je.to_string())),
            _ => return Err(ConnectError::JetStreamUnavailable { urls: urls.to_string(), detail: e.to_string() }),
        },
    };
    // The server may keep some settings as they were: check the ones steward relies on.
    let diffs = differences(&info.config, &want);
    if !diffs.is_empty() {
        return Err(ConnectError::ConfigMismatch { stream: config.name.clone(), detail: diffs.join(", ") });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_is_fixed() {
        // Fixed values: a change here breaks every deployed stream's routing.
        assert_eq!(partition("", 1 << 31), (FNV_OFFSET % (1 << 31)) as u32);
        let fnv_a: u64 = 0xaf63_dc4c_8601_ec8c; // FNV-1a 64 of "a", the published test vector
        assert_eq!(partition("a", u32::MAX), (fnv_a % u64::from(u32::MAX)) as u32);
        let got: Vec<u32> = ["alice", "bob", "acct-42", "用户"].iter().map(|a| partition(a, 64)).collect();
        assert_eq!(got, PINNED);
        assert_eq!(partition("anything", 0), 0);
        assert_eq!(partition("anything", 1), 0);
    }

    const PINNED: [u32; 4] = [7, 20, 35, 57];

    #[test]
    fn partitions_spread() {
        let mut counts = [0u32; 16];
        for i in 0..16_000 {
            counts[partition(&format!("account-{i}"), 16) as usize] += 1;
        }
        assert!(counts.iter().all(|&c| (800..1200).contains(&c)), "{counts:?}");
    }

    #[test]
    fn subjects() {
        assert_eq!(subject("post", 7), "ev.post.7");
        assert_eq!(subject("a.b c>*", 0), "ev.a_b_c__.0");
        assert_eq!(subject("", 1), "ev._.1");
        assert_eq!(subject("帖子", 2), "ev.__.2");
        let c = StreamConfig { subject_prefix: "t1".into(), ..Default::default() };
        assert_eq!(c.subject("post", 3), "t1.post.3");
        assert_eq!(c.partition_filter(3), "t1.*.3");
        assert_eq!(c.dead_letter_subject(3), "t1-dead.3");
        assert_eq!(c.dead_letter_stream(), "steward-events-dead");
    }

    #[test]
    fn defaults_are_valid() {
        let c = StreamConfig::default();
        let r = RetryPolicy::default();
        c.validate(&r).unwrap();
        assert!(c.max_age >= Duration::from_secs(8 * 24 * 3600));
        assert!(c.duplicate_window > r.span() && c.duplicate_window >= Duration::from_secs(120));
        let short = StreamConfig { duplicate_window: Duration::from_secs(30), ..Default::default() };
        assert!(matches!(short.validate(&r), Err(ConnectError::InvalidConfig(_))));
        let dotted = StreamConfig { name: "a.b".into(), ..Default::default() };
        assert!(dotted.validate(&r).is_err());
    }
}
