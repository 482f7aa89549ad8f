//! Dead letters: the events the engine fails on alone, set aside so that one such event does
//! not block its partition.
//!
//! A batch whose commit fails with an error about its data (the store refused what the engine
//! wrote for it: a constraint, a trigger, a value out of range; [`isolable`]) is tried again in
//! hand, [`ATTEMPTS`] times in all, [`PAUSE`] apart. Still failing, it is bisected: split into
//! halves in stream order, the first tried before the second; a half that commits is
//! acknowledged, a half that fails is split again, and an event that fails alone [`ATTEMPTS`]
//! times is published to the dead-letter stream `<stream>-dead` (subject
//! `<prefix>-dead.<partition>`, the original payload, headers [`SUBJECT`], [`SEQUENCE`],
//! [`ERROR`]; `Nats-Msg-Id` `<stream>/<sequence>`, so a retry stores it once) and, once
//! JetStream has stored it, acknowledged on the main stream. Each failure makes the engine
//! reload its state before the next attempt, as after any failed commit.
//!
//! Events of one account keep their order: everything before the dead event is committed before
//! it is set aside, everything after it after. A validation rejection is not a failure: it is
//! final, counted, and the batch commits.
//!
//! Errors that are not about the data (the connection to PostgreSQL gone, a serialization
//! failure, a server shutting down, a fence moved) split nothing: the held partitions start
//! again at their ack floors and the batch comes again, as long as it takes; what was committed
//! or set aside by then stays acknowledged.
//!
//! No consumer `max_deliver`: it would be no backstop here. A partition's consumer is
//! re-created at its ack floor whenever its owner changes or a batch is fetched again
//! ([`crate::consume::durable`]), which starts every delivery count afresh, and an event that
//! reached its maximum would be skipped silently (an advisory at most), where the dead-letter
//! stream keeps it with its error.

use std::time::{Duration, Instant};

use async_nats::jetstream::{AckKind, Message};
use steward_engine::EngineError;
use steward_store::StoreError;

use crate::{Pulled, Worker};

/// Attempts of the whole batch, and of an event alone, before it is split or set aside.
pub const ATTEMPTS: u32 = 3;

/// Between two attempts of the same events.
const PAUSE: Duration = Duration::from_millis(250);

/// Dead-letter headers: the event's subject on the main stream, its stream sequence there, and
/// the engine's error (one line, at most [`ERROR_MAX`] bytes).
pub const SUBJECT: &str = "Steward-Subject";
pub const SEQUENCE: &str = "Steward-Stream-Sequence";
pub const ERROR: &str = "Steward-Error";
const ERROR_MAX: usize = 1024;

/// True when the error is about the batch's data, so that splitting the batch can find the
/// events it comes from. PostgreSQL's answer about a statement, except its classes for a lost
/// connection (08), a transaction to retry (40), a transaction state (25, e.g. a read-only
/// standby), resources (53, 54), objects busy (55), an operator's or the system's doing (57,
/// 58, XX); and stored data that does not read back.
pub fn isolable(e: &EngineError) -> bool {
    if conflict(e) {
        return false;
    }
    match e {
        EngineError::Store(StoreError::Postgres(pg)) => pg.as_db_error().is_some_and(|db| {
            let class = db.code().code().get(..2).unwrap_or("");
            !matches!(class, "08" | "25" | "40" | "53" | "54" | "55" | "57" | "58" | "XX")
        }),
        EngineError::Store(StoreError::Corrupt(_)) => true,
        _ => false,
    }
}

/// True when the batch lost a race with another worker's commit, not when its data is wrong:
/// a case changed since it was read ([`StoreError::Stale`]), a second open case on one subject
/// (a unique violation: every other insert is idempotent), a serialization failure or deadlock.
/// Made again in hand on the engine's reloaded state, it goes through.
pub fn conflict(e: &EngineError) -> bool {
    match e {
        EngineError::Store(StoreError::Stale(_)) => true,
        EngineError::Store(StoreError::Postgres(pg)) => {
            pg.as_db_error().is_some_and(|db| matches!(db.code().code(), "23505" | "40001" | "40P01"))
        }
        _ => false,
    }
}

/// Events grouped by partition, each in stream order, as a batch is.
fn grouped(events: &[Pulled]) -> Vec<(u32, Vec<Message>)> {
    let mut by: std::collections::BTreeMap<u32, Vec<Message>> = Default::default();
    for (p, m) in events {
        by.entry(*p).or_default().push(m.clone());
    }
    by.into_iter().collect()
}

fn sequence(m: &Message) -> u64 {
    m.info().map_or(0, |i| i.stream_sequence)
}

/// One line of an error, cut at a character boundary: header values cannot hold line breaks.
fn header_value(error: &str) -> String {
    let mut line: String = error.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    if line.len() > ERROR_MAX {
        let mut cut = ERROR_MAX;
        while !line.is_char_boundary(cut) {
            cut -= 1;
        }
        line.truncate(cut);
    }
    line
}

impl Worker {
    /// Creates the dead-letter stream when missing. A failure is logged: the first dead letter
    /// tries again.
    pub(crate) fn ensure_dead_letters(&self) {
        let config = self.config.dead_letter_config();
        if let Err(e) = self.runtime.block_on(self.js.get_or_create_stream(config)) {
            tracing::warn!("cannot create the dead-letter stream {}: {e}", self.config.dead_letter_stream());
        }
    }

    /// A batch whose commit failed with `error`, [`isolable`]: tried again, then bisected (module
    /// docs). True when every event of it was committed or set aside, and acknowledged; false
    /// when it stopped on an error of another kind and the held partitions start again at their
    /// ack floors.
    pub(crate) fn isolate(&mut self, fetched: Vec<(u32, Vec<Message>)>, error: &EngineError) -> bool {
        let mut events: Vec<Pulled> =
            fetched.into_iter().flat_map(|(p, ms)| ms.into_iter().map(move |m| (p, m))).collect();
        events.sort_by_cached_key(|(_, m)| sequence(m));
        let whole = events.len();
        tracing::warn!("batch of {whole} events not committed: {error}; trying it again, then splitting it");
        // Parts to try, the next on top, each with its failures so far and its last error.
        let mut todo: Vec<(Vec<Pulled>, u32, String)> = vec![(events, 1, error.to_string())];
        let mut progress = Instant::now();
        while let Some((part, failures, last)) = todo.pop() {
            // The whole batch and single events get ATTEMPTS; a part split off is split again
            // at its first failure.
            let attempts = if part.len() == whole || part.len() == 1 { ATTEMPTS } else { 1 };
            if failures >= attempts {
                if part.len() == 1 {
                    if !self.set_aside(&part[0], &last) {
                        self.restart_held();
                        return false;
                    }
                    continue;
                }
                let mut first = part;
                let second = first.split_off(first.len() / 2);
                todo.push((second, 0, last.clone()));
                todo.push((first, 0, last));
                continue;
            }
            if failures > 0 {
                std::thread::sleep(PAUSE);
            }
            // The parts in hand stay ours while they wait: their ack wait starts again.
            if progress.elapsed() > self.ack_wait / 3 {
                progress = Instant::now();
                let waiting = todo.iter().flat_map(|(ms, ..)| ms.iter()).chain(part.iter());
                self.runtime
                    .block_on(futures_util::future::join_all(waiting.map(|(_, m)| m.ack_with(AckKind::Progress))));
            }
            let batch = grouped(&part);
            match self.commit(&batch) {
                Some(Ok(outcome)) => {
                    self.count(part.len(), &outcome);
                    self.runtime.block_on(crate::consume::ack(&batch));
                }
                Some(Err(e)) if isolable(&e) => {
                    self.metrics.batch_failed();
                    tracing::warn!(events = part.len(), failures = failures + 1, "not committed: {e}");
                    todo.push((part, failures + 1, e.to_string()));
                }
                Some(Err(e)) => {
                    self.metrics.batch_failed();
                    tracing::error!("{} events not committed: {e}; fetching them again", part.len());
                    std::thread::sleep(Duration::from_secs(1));
                    self.restart_held();
                    return false;
                }
                None => return false,
            }
        }
        true
    }

    /// Publishes one event to the dead-letter stream, then acknowledges it. False when JetStream
    /// did not store it (nothing acknowledged: it comes again).
    fn set_aside(&mut self, (p, m): &Pulled, error: &str) -> bool {
        let seq = sequence(m);
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", format!("{}/{seq}", self.config.name).as_str());
        headers.insert(SUBJECT, m.subject.as_str());
        headers.insert(SEQUENCE, seq.to_string().as_str());
        headers.insert(ERROR, header_value(error).as_str());
        let subject = self.config.dead_letter_subject(*p);
        let stored = self.runtime.block_on(async {
            // The stream may not have been created at start (JetStream busy then).
            if self.js.get_stream(self.config.dead_letter_stream()).await.is_err() {
                self.js.get_or_create_stream(self.config.dead_letter_config()).await.map_err(|e| e.to_string())?;
            }
            let ack = self
                .js
                .publish_with_headers(subject.clone(), headers, m.payload.clone())
                .await
                .map_err(|e| e.to_string())?;
            ack.await.map_err(|e| e.to_string())
        });
        match stored {
            Ok(_) => {
                tracing::error!(partition = p, sequence = seq, "event set aside on {subject}: {error}");
                self.runtime.block_on(crate::consume::ack(&[(*p, vec![m.clone()])]));
                self.metrics.dead_letter();
                self.totals.dead_letters += 1;
                true
            }
            Err(e) => {
                tracing::error!(partition = p, sequence = seq, "cannot publish the dead letter to {subject}: {e}");
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_header_is_one_bounded_line() {
        assert_eq!(header_value("a\nb\r\tc"), "a b  c");
        let long = "错".repeat(1000);
        let v = header_value(&long);
        assert!(v.len() <= ERROR_MAX && v.chars().all(|c| c == '错'));
    }

    #[test]
    fn only_errors_about_the_data_are_isolated() {
        assert!(isolable(&EngineError::Store(StoreError::Corrupt("bad json".into()))));
        let fenced = StoreError::Fenced { key: "s/1".into(), epoch: 2, found: Some(3) };
        assert!(!isolable(&EngineError::Store(fenced)));
    }
}
