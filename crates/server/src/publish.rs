//! Distributed mode's ingest (issue 20): records are validated exactly as the engine validates
//! them, then each accepted event is published to the JetStream stream instead of the local
//! store, and counted `accepted` only once JetStream has acknowledged it. `steward serve --nats`
//! and `steward ingest --nats` both go through [`publish_parsed`].
//!
//! The partition of an event is the hash of its account id ([`partition_key`]); an event that
//! names no account (`factcheck.upserted`, `identity.upserted`, a `report.created` or
//! `post.deleted` without `account_id`) is partitioned by its own event id, which spreads such
//! events evenly and keeps a re-sent one on the same subject, so JetStream still deduplicates it.
//!
//! What the publisher cannot check is left to the worker that stores the event: whether the
//! event id was stored long ago (outside the stream's duplicate window; the worker's insert is
//! idempotent) and whether a report's subject exists.

use std::sync::Arc;

use steward_engine::input::RawRecord;
use steward_engine::{IngestOutcome, Parsed, Rejection, parse_records};
use steward_model::{Event, Limits};
use steward_stream::{PublishError, Publisher};

/// The key an event's partition is computed from: its account id, else its event id.
pub fn partition_key(event: &Event) -> &str {
    event.payload.account_id().unwrap_or(&event.id)
}

/// The stream message of an accepted event: its id (`Nats-Msg-Id`), type, partition key and
/// the record exactly as received.
pub fn stream_event(event: &Event, raw: String) -> steward_stream::Event {
    steward_stream::Event {
        event_id: event.id.clone(),
        event_type: event.payload.event_type().to_string(),
        account_id: partition_key(event).to_string(),
        payload: raw.into(),
    }
}

/// An event that was valid but not acknowledged: it must not be reported accepted.
#[derive(Debug)]
pub struct NotAcked {
    /// Position in the parsed batch, and line for NDJSON.
    pub index: usize,
    pub line: Option<usize>,
    pub error: PublishError,
}

/// What publishing one parsed batch did. `outcome.accepted` counts events JetStream stored,
/// `outcome.duplicates` events it acknowledged as already in its duplicate window (and repeats
/// within the batch); `outcome.rejected` are the validation rejections, exactly the engine's.
/// Decisions are made by the workers, so `outcome.decisions` is empty.
#[derive(Debug, Default)]
pub struct Published {
    pub outcome: IngestOutcome,
    pub not_acked: Vec<NotAcked>,
}

/// Publishes the valid records of `parsed`, pipelined, and waits for every ack.
pub async fn publish_parsed(publisher: &Publisher, parsed: Vec<Parsed>) -> Published {
    let mut published = Published::default();
    let mut events = Vec::with_capacity(parsed.len());
    let mut at = Vec::with_capacity(parsed.len());
    for p in parsed {
        match p.result {
            Ok((event, raw)) => {
                events.push(stream_event(&event, raw));
                at.push((p.index, p.line));
            }
            Err(e) => published.outcome.rejected.push(Rejection {
                index: p.index,
                line: p.line,
                field: e.field.clone(),
                error: e.to_string(),
            }),
        }
    }
    for ((index, line), result) in at.into_iter().zip(publisher.publish_batch(&events).await) {
        match result {
            Ok(ack) if ack.duplicate => published.outcome.duplicates += 1,
            Ok(_) => published.outcome.accepted += 1,
            Err(error) => published.not_acked.push(NotAcked { index, line, error }),
        }
    }
    published
}

/// Where the server's ingest sends accepted events: a publisher to the stream, with the limits
/// and clock records are validated with (the engine's).
#[derive(Clone)]
pub struct NatsSink {
    pub publisher: Publisher,
    pub limits: Limits,
    pub clock: steward_engine::Clock,
}

impl NatsSink {
    pub fn parse(&self, records: &[RawRecord]) -> Vec<Parsed> {
        parse_records(records, &self.limits, (self.clock)())
    }
}

/// Shared by the handles of one server.
pub type SharedSink = Arc<NatsSink>;
