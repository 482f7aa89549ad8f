//! The engine's writer thread. The engine owns the write path, so it runs on one thread of
//! its own; handlers send it work (a request body to ingest, a policy to put in force) and
//! await the answer. Reads go to the store directly.
//!
//! Ingest requests take turns. Each turn reads the next slice of every waiting request
//! (a few hundred records each), processes them one request after another into one batch
//! and commits it in one transaction: concurrent requests share a commit (group commit),
//! and a large body cannot hold the engine while a small one waits. A request is answered
//! once its last slice is committed. What may wait is bounded: past it, a request is
//! refused at once with [`IngestFailure::Busy`].
//!
//! With a NATS sink (`steward serve --nats`, [`Sink::Nats`]) the engine thread takes no ingest:
//! each request's slices are validated as the engine validates them and published to the
//! JetStream stream, and the request is answered once every event of it is acknowledged
//! (see [`crate::publish`]). The queue's bounds apply the same way.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use steward_engine::input::{BodyFormat, Cursor};
use steward_engine::{Engine, Group};
use tokio::sync::{mpsc, oneshot};

use crate::answer::{AnswerBuilder, IngestAnswer};
use crate::publish::{NatsSink, publish_parsed};
use crate::{Limits, Metrics};

/// Why a body could not be ingested, or not all of it.
#[derive(Debug)]
pub enum IngestFailure {
    /// The body itself is malformed (not a JSON array); nothing in it was looked at.
    BadBody(String),
    /// Storage failed. The records of the slices committed before it (the first
    /// `stored` records of the body) are stored; the rest are not.
    Engine { error: String, stored: usize },
    /// Too much is waiting for the engine; nothing of the body was looked at.
    Busy,
    /// The engine thread is gone.
    Stopped,
    /// JetStream did not acknowledge `not_acked` valid events of the body (after retrying):
    /// they are not accepted. `acked` others were acknowledged (stored or duplicates);
    /// sending the body again is safe, those count as duplicates.
    Publish { error: String, acked: usize, not_acked: usize },
}

/// Where accepted events go: the engine and its store (single box), or the NATS stream.
#[derive(Clone)]
pub enum Sink {
    Store,
    Nats(Arc<NatsSink>),
}

/// The engine thread is gone.
#[derive(Debug, Clone, Copy)]
pub struct Stopped;

type Job = Box<dyn FnOnce(&mut Engine) + Send>;

enum Work {
    /// Runs between turns.
    Job(Job),
    Ingest(Box<Request>),
}

/// A request body being ingested a slice at a time.
struct Request {
    body: Bytes,
    cursor: Cursor,
    answer: AnswerBuilder,
    reply: oneshot::Sender<Result<IngestAnswer, IngestFailure>>,
    /// Index in the body of this turn's slice.
    base: usize,
    /// Held until the engine is done with the request, answered or not.
    _place: Place,
}

/// What waits for the engine, against [`Limits::queued_requests`] and `queued_bytes`.
#[derive(Debug, Default)]
struct Queue {
    requests: AtomicUsize,
    bytes: AtomicUsize,
}

/// A place in the queue, given back when the request is answered.
struct Place {
    queue: Arc<Queue>,
    bytes: usize,
}

impl Drop for Place {
    fn drop(&mut self) {
        self.queue.requests.fetch_sub(1, Ordering::Relaxed);
        self.queue.bytes.fetch_sub(self.bytes, Ordering::Relaxed);
    }
}

/// A cheap, cloneable handle to the engine thread.
#[derive(Clone)]
pub struct EngineHandle {
    work: mpsc::UnboundedSender<Work>,
    queue: Arc<Queue>,
    limits: Limits,
    sink: Sink,
    /// The engine's record limits and clock, for validating records off its thread.
    validation: (steward_model::Limits, steward_engine::Clock),
    metrics: Arc<Metrics>,
}

impl EngineHandle {
    /// Starts the engine thread. It stops when the last handle is dropped.
    pub fn spawn(engine: Engine, limits: Limits, metrics: Arc<Metrics>) -> EngineHandle {
        // Unbounded as a channel; what it may hold is bounded by the queue's counts.
        let (tx, rx) = mpsc::unbounded_channel::<Work>();
        let validation = (engine.options().limits, engine.options().clock.clone());
        let thread_metrics = metrics.clone();
        std::thread::Builder::new()
            .name("steward-engine".into())
            .spawn(move || take_turns(engine, rx, limits, &thread_metrics))
            .expect("spawning the engine thread");
        EngineHandle { work: tx, queue: Arc::default(), limits, sink: Sink::Store, validation, metrics }
    }

    /// Ingest publishes accepted events to the stream instead of the engine's store.
    pub fn with_publisher(mut self, publisher: steward_stream::Publisher) -> EngineHandle {
        let (limits, clock) = self.validation.clone();
        self.sink = Sink::Nats(Arc::new(NatsSink { publisher, limits, clock }));
        self
    }

    pub fn sink(&self) -> &Sink {
        &self.sink
    }

    /// Runs `f` on the engine thread, between two turns of ingest.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Engine) -> T + Send + 'static,
    ) -> Result<T, Stopped> {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |engine| {
            let _ = reply.send(f(engine));
        });
        self.work.send(Work::Job(job)).map_err(|_| Stopped)?;
        answer.await.map_err(|_| Stopped)
    }

    /// Ingests one request body; answers once all of it is committed.
    pub async fn ingest(&self, body: Bytes, format: BodyFormat) -> Result<IngestAnswer, IngestFailure> {
        let place = self.enter(body.len())?;
        let cursor = Cursor::new(&body, format).map_err(IngestFailure::BadBody)?;
        if let Sink::Nats(nats) = &self.sink {
            let answer = publish_body(nats, &body, cursor, &self.limits, &self.metrics).await;
            drop(place);
            return answer;
        }
        let (reply, answer) = oneshot::channel();
        let request = Request { body, cursor, answer: AnswerBuilder::new(self.limits), reply, base: 0, _place: place };
        self.work.send(Work::Ingest(Box::new(request))).map_err(|_| IngestFailure::Stopped)?;
        answer.await.map_err(|_| IngestFailure::Stopped)?
    }

    /// Takes a place in the queue, or refuses when it is full.
    fn enter(&self, bytes: usize) -> Result<Place, IngestFailure> {
        let q = &self.queue;
        let requests = q.requests.fetch_add(1, Ordering::Relaxed) + 1;
        let queued = q.bytes.fetch_add(bytes, Ordering::Relaxed) + bytes;
        let place = Place { queue: q.clone(), bytes };
        // One request is always let in, however large, so that a body under the body limit
        // but over the queue's bytes is not refused for ever.
        if requests > 1 && (requests > self.limits.queued_requests || queued > self.limits.queued_bytes) {
            return Err(IngestFailure::Busy);
        }
        Ok(place)
    }
}

/// Validates and publishes a body a slice at a time; answers once all of it is acknowledged, or
/// fails at the first slice with events JetStream did not acknowledge.
async fn publish_body(
    nats: &NatsSink,
    body: &[u8],
    mut cursor: Cursor,
    limits: &Limits,
    metrics: &Metrics,
) -> Result<IngestAnswer, IngestFailure> {
    let mut answer = AnswerBuilder::new(*limits);
    let mut acked = 0;
    while !cursor.is_done() {
        let base = cursor.index();
        let parsed = nats.parse(&cursor.next_slice(body, limits.slice_records, limits.slice_bytes));
        let published = publish_parsed(&nats.publisher, parsed).await;
        metrics.record(&published.outcome);
        acked += published.outcome.accepted + published.outcome.duplicates;
        if let Some(first) = published.not_acked.first() {
            let error = format!("event at index {}: {}", base + first.index, first.error);
            tracing::error!("publish: {error}");
            return Err(IngestFailure::Publish { error, acked, not_acked: published.not_acked.len() });
        }
        answer.add(published.outcome, base);
    }
    Ok(answer.finish())
}

/// What a record has lately cost to process, to size slices to [`Limits::turn_time`].
#[derive(Debug)]
struct Pace {
    /// Seconds a record, a moving average over slices.
    per_record: f64,
}

impl Pace {
    /// Records that fit in `time`, within `max` (one at least).
    fn records_in(&self, time: Duration, max: usize) -> usize {
        let fit = time.as_secs_f64() / self.per_record.max(1e-7);
        (fit as usize).clamp(1, max.max(1))
    }

    fn learn(&mut self, records: usize, took: Duration) {
        if records > 0 {
            let sample = took.as_secs_f64() / records as f64;
            self.per_record = 0.8 * self.per_record + 0.2 * sample;
        }
    }
}

/// The engine thread: jobs as they come, ingest requests in turns.
fn take_turns(mut engine: Engine, mut rx: mpsc::UnboundedReceiver<Work>, limits: Limits, metrics: &Metrics) {
    let mut waiting: VecDeque<Request> = VecDeque::new();
    // Until measured, a record is taken to cost 50 µs (a post that ends in a decision).
    let mut pace = Pace { per_record: 50e-6 };
    loop {
        if waiting.is_empty() {
            match rx.blocking_recv() {
                Some(work) => arrive(work, &mut engine, &mut waiting),
                None => return,
            }
        }
        while let Ok(work) = rx.try_recv() {
            arrive(work, &mut engine, &mut waiting);
        }
        if !waiting.is_empty() {
            turn(&mut engine, &mut waiting, &limits, &mut pace, metrics);
        }
    }
}

fn arrive(work: Work, engine: &mut Engine, waiting: &mut VecDeque<Request>) {
    match work {
        Work::Job(job) => job(engine),
        Work::Ingest(request) => waiting.push_back(*request),
    }
}

/// One turn: the next slice of each waiting request, up to `round_records` records and about
/// `turn_time` in all, staged into one group and committed together. Finished requests are
/// answered; the others go to the back of the line.
fn turn(engine: &mut Engine, waiting: &mut VecDeque<Request>, limits: &Limits, pace: &mut Pace, metrics: &Metrics) {
    let started = Instant::now();
    let mut group = Group::default();
    let mut taking: Vec<Request> = Vec::new();
    let mut records = 0;
    while records < limits.round_records && (taking.is_empty() || started.elapsed() < limits.turn_time) {
        let Some(mut request) = waiting.pop_front() else { break };
        if request.reply.is_closed() {
            // The client has gone: what it sent so far is stored; it was never answered,
            // so it sends the body again, and the stored records count as duplicates.
            continue;
        }
        request.base = request.cursor.index();
        let left = limits.turn_time.saturating_sub(started.elapsed());
        let room = pace.records_in(left, limits.slice_records.min(limits.round_records - records));
        // The first records whole whatever they cost, then as many more as fit.
        let mut slice = request.cursor.next_slice(&request.body, limits.whole_records, usize::MAX);
        let bytes: usize = slice.iter().map(|r| r.bytes.len()).sum();
        if room > slice.len() && bytes < limits.slice_bytes && !request.cursor.is_done() {
            let more = request.cursor.next_slice(&request.body, room - slice.len(), limits.slice_bytes - bytes);
            slice.extend(more);
        }
        records += slice.len();
        let staging = Instant::now();
        let staged = engine.stage(&mut group, &slice);
        pace.learn(slice.len(), staging.elapsed());
        drop(slice);
        taking.push(request);
        if let Err(e) = staged {
            // The group is not committed: its requests fail with what was stored before.
            return fail(taking, &e.to_string());
        }
    }
    match engine.commit_group(group) {
        Ok(outcomes) => {
            metrics.turn(started.elapsed().as_secs_f64());
            for (mut request, outcome) in taking.into_iter().zip(outcomes) {
                metrics.record(&outcome);
                request.answer.add(outcome, request.base);
                if request.cursor.is_done() {
                    let _ = request.reply.send(Ok(request.answer.finish()));
                } else {
                    waiting.push_back(request);
                }
            }
        }
        Err(e) => fail(taking, &e.to_string()),
    }
}

fn fail(requests: Vec<Request>, error: &str) {
    tracing::error!("ingest: {error}");
    for r in requests {
        let _ = r.reply.send(Err(IngestFailure::Engine { error: error.to_string(), stored: r.base }));
    }
}
