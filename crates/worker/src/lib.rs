//! The consuming side of distributed mode: `steward worker` (issue 20).
//!
//! A worker reads the events that `steward ingest --nats` / `steward serve --nats` published to
//! the JetStream stream, runs them through one [`Engine`] over the PostgreSQL store, commits,
//! and only then acknowledges them.
//!
//! # Partition ownership
//!
//! Each of the stream's partitions (64 by default) has at most one owner at a time: the worker
//! holding the session-level PostgreSQL advisory lock
//!
//! ```sql
//! pg_try_advisory_lock(classid, objid)   -- the two-int4 form
//!   classid = low 32 bits of FNV-1a-64("steward-worker/" || <stream name>), as int4
//!   objid   = the partition number
//! ```
//!
//! ([`lock_class`]). The lock is taken on a connection of its own that the worker keeps open
//! for as long as it owns the partitions; when the worker dies, the connection goes and
//! PostgreSQL drops its locks with it. Every `--claim-interval` (2 s) a worker checks that its
//! locks are still held (else it gives those partitions up) and tries to take free partitions,
//! in order 0, 1, ..., up to `--partitions-per-worker` (default: all of them; the first worker
//! takes every free partition and the others stand by, taking over what a dead one leaves).
//!
//! The lock alone cannot stop a worker that lost its lock connection but not its store
//! connection from committing the batch in hand after another took the partition over. So a
//! claim also advances the partition's fence (`fences` table, key `<stream>/<partition>`), and
//! each batch commits only while the fences of its partitions hold the epochs this worker got
//! (`steward_store::fence`): a fenced batch writes nothing, and the worker gives those
//! partitions up.
//!
//! # Consuming
//!
//! Per owned partition, a durable pull consumer `<stream>-p<partition>` filtered on
//! `partition_filter(p)` (`ev.*.<p>`), explicit ack, ack wait 60 s, max ack pending bounded.
//! On claim, a consumer with events delivered and not acknowledged is re-created at its ack
//! floor (the first sequence not acknowledged), so the events a dead owner had fetched come back
//! first, in stream order, rather than after the ack wait and behind newer events of the same
//! accounts.
//!
//! Each owned partition's events are pulled continuously (a task per partition, into one
//! channel); a batch is what has arrived, up to `--batch` events across the partitions. It runs
//! through the engine as one batch (one PostgreSQL transaction: idempotent insert, detectors,
//! policy, decisions, state, audit), is committed, then acknowledged; pulling goes on while the
//! engine works. Crash points, each safe (the fault tests SIGKILL a worker at each one:
//! `--crash-at`, [`steward_store::crash`]):
//!
//! 1. after the fetch, before the commit: nothing was written; the events were not acked, the
//!    next owner re-creates the consumer at the ack floor and gets them again.
//! 2. inside the transaction: PostgreSQL rolls it back when the connection goes; as 1.
//! 3. after the commit, before the ack: the events are delivered again; the store already has
//!    their ids, so the engine counts them as duplicates and decides nothing again (decision
//!    ids are `<event id>/<rule>`, inserted once).
//! 4. after the ack: done; nothing is delivered again.
//!
//! Acks are cumulative (`AckPolicy::All`): the last message of each partition's batch is
//! double-acked (the server answers once the ack is applied), which acknowledges every message
//! of the partition before it. A partition's events are committed in the order they are
//! delivered, so nothing is acknowledged before it is committed.
//!
//! # Detectors that need every account's posts
//!
//! A worker's engine runs partitioned (`EngineOptions::partitioned`): copy campaigns are found
//! by the campaign stage, one for the cluster, elected among the workers ([`campaign`]). Its
//! findings come back on the partitions' subjects, and each batch judges them after its events,
//! in the same transaction.
//!
//! # The knowledge base and the registry
//!
//! Fact-checks, protected identities and credentials name no account; each lands in some
//! partition, but every worker's detectors need it. Each worker follows those event types on
//! the whole stream ([`knowledge`]) and teaches its engine before each batch; the engine
//! teaches them again whenever it rebuilds its detectors from the store, which may not hold
//! them yet. A batch runs in stream order across its partitions, as a single box would. A
//! fact-check learnt this way is checked against the posts the worker judged lately, and those
//! it matches are judged again in the next batch.
//!
//! # The audit log
//!
//! Each event is audited on its partition's chain (`steward_store::chains`), with what it
//! decides: a batch's commit locks the heads of its partitions' chains only, so workers owning
//! different partitions do not wait for each other on the audit log. A worker records every
//! partition chain's head on the root chain once per `--audit-checkpoint-interval` while its
//! batches move them, and at shutdown.
//!
//! # State
//!
//! The worker keeps one engine for all its partitions, opened once. It holds what it has read
//! of its partitions, not the whole store's: an account's state (its row, the enforcement in
//! force, reversals) is loaded with the first batch that has an event of it, and the detectors'
//! window is rebuilt from the events of the owned partitions alone (their audit chains). When
//! it claims partitions, whose accounts another owner may have changed, or after a batch that
//! was not committed, the engine starts again from the store in the same way
//! ([`Engine::own`]). A batch that loses a race on a campaign's case (another owner added to
//! it first) does not: its decisions join the case's new version and it commits again.
//!
//! # Operations
//!
//! - Dead letters: an event the engine fails on alone is set aside on `<stream>-dead` rather
//!   than blocking its partition ([`deadletter`]).
//! - `--metrics-listen`: Prometheus `/metrics` and `/healthz` ([`metrics`]).
//! - `steward cluster status`: every partition's owner, fence and lag ([`status`]).

pub mod campaign;
mod consume;
pub mod deadletter;
mod http;
mod knowledge;
mod locks;
pub mod metrics;
pub mod status;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use async_nats::jetstream::{self, Message};
use steward_detect::EarlierSignal;
use steward_engine::input::RawRecord;
use steward_engine::{Engine, EngineOptions, Group, IngestOutcome, Rejection};
use steward_stream::{Publisher, StreamConfig};

pub use locks::lock_class;

use consume::{Owned, ack};
use locks::{Locks, fence_key};
use steward_store::Chain;
use steward_store::crash::{self, CrashPoint};
use steward_store::fence::Fence;

/// Attempts of a batch that loses races with other workers' commits before its partitions
/// start again at their ack floors.
const CONFLICT_ATTEMPTS: u32 = 10;

/// How far back a worker reads the reversals people made ([`Worker::follow_reversals`]):
/// longer than any transaction takes to commit.
const REVERSALS_LOOKBACK: chrono::Duration = chrono::Duration::minutes(10);

/// What `steward worker` is given.
pub struct Options {
    /// URLs of the NATS servers, comma-separated.
    pub nats: String,
    /// The PostgreSQL store every worker writes to, and where partitions are claimed.
    pub database_url: String,
    /// The stream published to.
    pub stream: StreamConfig,
    /// Partitions owned at most; `None`: every free one.
    pub partitions_per_worker: Option<u32>,
    /// Events per engine batch (one transaction).
    pub batch: usize,
    /// Between checks of the locks held and attempts to claim free partitions.
    pub claim_interval: Duration,
    /// How long JetStream waits for an ack before delivering an event again.
    pub ack_wait: Duration,
    /// Stand for election as the campaign stage ([`campaign`]). Every worker should, so that
    /// one always runs; a worker that does not only judges the stage's findings.
    pub campaign_stage: bool,
    /// Where to serve `/metrics` and `/healthz` ([`metrics`]), if anywhere.
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// Between the records of every partition audit chain's head on the root chain (module docs).
    pub audit_checkpoint_interval: Duration,
}

/// The stream config a worker and a publisher with these flags agree on.
pub fn stream_config(name: &str, prefix: &str) -> StreamConfig {
    StreamConfig { name: name.to_string(), subject_prefix: prefix.to_string(), ..Default::default() }
}

/// Counts since start, printed at exit.
#[derive(Default)]
struct Totals {
    events: usize,
    accepted: usize,
    duplicates: usize,
    rejected: usize,
    decisions: usize,
    batches: usize,
    /// Events set aside on the dead-letter stream.
    dead_letters: usize,
    /// Time spent in the engine, the commit and the acks.
    busy: Duration,
    /// From the first fetch that returned events to the end of the last batch.
    first: Option<Instant>,
    last: Option<Instant>,
}

/// Events pulled, with their partition, in each partition's stream order.
type Pulled = (u32, Message);

pub(crate) struct Worker {
    runtime: tokio::runtime::Runtime,
    js: jetstream::Context,
    config: StreamConfig,
    store: Arc<dyn steward_store::Store>,
    policy: Arc<steward_policy::Policy>,
    /// Opened once, at the first claim check; told of every claim ([`Engine::own`]).
    engine: Option<Engine>,
    locks: Locks,
    owned: BTreeMap<u32, Owned>,
    /// The fence epoch of each partition claimed: its batches commit under it.
    fences: BTreeMap<u32, i64>,
    /// Fact-checks, identities and credentials from every partition, for the engine to learn.
    knowledge: Option<knowledge::Feed>,
    /// What learning them raised about posts of owned partitions judged before, with the
    /// partition: judged in the next batch that commits ([`knowledge`]).
    rechecks: Vec<(u32, EarlierSignal)>,
    /// The reversals already followed ([`Worker::follow_reversals`]), by decision, with their time.
    reversals_seen: HashMap<String, chrono::DateTime<chrono::Utc>>,
    pulled_tx: tokio::sync::mpsc::Sender<Pulled>,
    pulled: tokio::sync::mpsc::Receiver<Pulled>,
    max_owned: usize,
    batch: usize,
    ack_wait: Duration,
    totals: Totals,
    metrics: Arc<metrics::Metrics>,
    checkpoints: Checkpoints,
}

/// When the worker last recorded the audit chains' heads, and whether it moved any since.
struct Checkpoints {
    every: Duration,
    last: Instant,
    moved: bool,
}

/// Runs a worker until SIGTERM or SIGINT: claims partitions, consumes, commits, acks; then
/// releases its locks and prints its totals.
pub fn run(options: Options, policy: Arc<steward_policy::Policy>) -> Result<()> {
    let stop = Arc::new(AtomicBool::new(false));
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    {
        // SIGTERM and SIGINT: stop fetching; the batch in hand is committed and acked first.
        let stop = stop.clone();
        let mut term = {
            let _guard = runtime.enter();
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?
        };
        runtime.spawn(async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            stop.store(true, Ordering::SeqCst);
        });
    }
    let config = options.stream;
    let publisher = runtime
        .block_on(Publisher::connect(&options.nats, config.clone()))
        .map_err(|e| anyhow::anyhow!("cannot reach the NATS JetStream cluster at {}: {e}", options.nats))?;
    let store = steward_store::open(std::path::Path::new("."), Some(&options.database_url))
        .context("opening the PostgreSQL store")?;
    let partitions = config.partitions;
    let (pulled_tx, pulled) = tokio::sync::mpsc::channel(options.batch.max(1) * 2);
    let mut worker = Worker {
        js: publisher.jetstream().clone(),
        runtime,
        store,
        policy,
        engine: None,
        locks: Locks { url: options.database_url.clone(), class: lock_class(&config.name), client: None },
        owned: BTreeMap::new(),
        fences: BTreeMap::new(),
        knowledge: None,
        rechecks: Vec::new(),
        reversals_seen: HashMap::new(),
        pulled_tx,
        pulled,
        max_owned: options.partitions_per_worker.unwrap_or(partitions).clamp(1, partitions) as usize,
        batch: options.batch.max(1),
        ack_wait: options.ack_wait.max(Duration::from_secs(1)),
        config,
        totals: Totals::default(),
        metrics: Arc::new(metrics::Metrics::default()),
        checkpoints: Checkpoints {
            every: options.audit_checkpoint_interval.max(Duration::from_secs(1)),
            last: Instant::now(),
            moved: false,
        },
    };
    worker.ensure_dead_letters();
    if let Some(addr) = options.metrics_listen {
        http::serve(&worker.runtime, addr, worker.metrics.clone(), publisher.client().clone())?;
        let refresh = metrics::refresh(worker.metrics.clone(), worker.js.clone(), worker.config.clone());
        worker.runtime.spawn(refresh);
    }
    let claim_every = options.claim_interval.clamp(Duration::from_millis(50), Duration::from_secs(3600));
    let stage = if options.campaign_stage {
        // Its own store connection and lock connection: it commits and is elected apart.
        let store = steward_store::open(std::path::Path::new("."), Some(&options.database_url))
            .context("opening the PostgreSQL store for the campaign stage")?;
        let locks = Locks { url: options.database_url.clone(), class: worker.locks.class, client: None };
        let stage = campaign::Stage::new(
            publisher.clone(),
            store,
            locks,
            worker.runtime.handle().clone(),
            worker.ack_wait,
            worker.batch,
            worker.metrics.clone(),
        );
        let stop = stop.clone();
        Some(std::thread::spawn(move || stage.run(&stop, claim_every)))
    } else {
        None
    };
    let started = Instant::now();
    let result = worker.run(&stop, claim_every);
    stop.store(true, Ordering::SeqCst);
    worker.metrics.running.store(false, Ordering::SeqCst);
    if let Some(stage) = stage {
        let _ = stage.join();
    }
    // Leaving: the locks go now rather than when the process ends.
    worker.locks.release_all();
    let t = &worker.totals;
    let active = t.first.zip(t.last).map_or(0.0, |(a, b)| (b - a).as_secs_f64());
    eprintln!(
        "worker: {} events in {} batches ({} accepted, {} duplicates, {} rejected), {} decisions, {} dead letters; \
         {:.2} s busy ({:.0} events/s), {active:.2} s from first fetch to last ack ({:.0} events/s), {:.1} s up",
        t.events,
        t.batches,
        t.accepted,
        t.duplicates,
        t.rejected,
        t.decisions,
        t.dead_letters,
        t.busy.as_secs_f64(),
        t.events as f64 / t.busy.as_secs_f64().max(1e-9),
        t.events as f64 / active.max(1e-9),
        started.elapsed().as_secs_f64()
    );
    result
}

impl Worker {
    fn run(&mut self, stop: &AtomicBool, claim_every: Duration) -> Result<()> {
        let mut last_claim: Option<Instant> = None;
        // SIGTERM: no new batch. The batch in hand was committed and acked before the check; the
        // events pulled and not yet in a batch are not acked: the next owner gets them again.
        while !stop.load(Ordering::SeqCst) {
            if last_claim.is_none_or(|t| t.elapsed() >= claim_every) {
                last_claim = Some(Instant::now());
                let claimed = self.claim()?;
                if self.engine.is_none() {
                    let options = EngineOptions { partitioned: true, ..Default::default() };
                    let engine = match Engine::open(self.store.clone(), self.policy.clone(), options) {
                        Ok(engine) => engine,
                        Err(e) => {
                            // E.g. PostgreSQL restarted: the store reconnects at its next use.
                            tracing::error!("cannot open the engine over the store: {e}; trying again");
                            self.metrics.store_up.store(false, Ordering::Relaxed);
                            std::thread::sleep(Duration::from_secs(1));
                            last_claim = None;
                            continue;
                        }
                    };
                    let types = engine.knowledge_event_types();
                    self.knowledge = Some(knowledge::follow(&self.runtime, &self.js, &self.config, &types));
                    self.engine = Some(engine);
                }
                if claimed > 0
                    && let Some(engine) = self.engine.as_mut()
                {
                    // Their accounts may have changed under their last owner: the engine loads
                    // them afresh, and the owned partitions' window, before its next batch.
                    engine.own(self.owned.keys().map(|&p| Chain::partition(p)).collect());
                }
                self.follow_reversals();
            }
            if let (Some(feed), Some(engine)) = (self.knowledge.as_mut(), self.engine.as_mut()) {
                for signal in feed.teach(engine) {
                    let p = steward_stream::partition(&signal.account_id, self.config.partitions);
                    if self.owned.contains_key(&p) {
                        self.rechecks.push((p, signal));
                    }
                }
            }
            let gaps: Vec<u32> = self.owned.iter().filter(|(_, o)| o.at_gap()).map(|(p, _)| *p).collect();
            if !gaps.is_empty() {
                self.restart(gaps);
            }
            let began = Instant::now();
            let fetched = self.next_batch();
            if fetched.is_empty() && self.rechecks.is_empty() {
                continue;
            }
            self.totals.first.get_or_insert(began);
            crash::reach(CrashPoint::Fetched);
            self.checkpoints.moved |= self.process(fetched);
            self.totals.last = Some(Instant::now());
            if self.checkpoints.moved && self.checkpoints.last.elapsed() >= self.checkpoints.every {
                self.checkpoint();
            }
        }
        self.owned.clear();
        if self.checkpoints.moved {
            self.checkpoint();
        }
        Ok(())
    }

    /// Decisions a person overturned through `steward serve` since the last look: the engine
    /// loads their accounts afresh with their next event, so that standing no longer counts
    /// what was overturned. Read over the last [`REVERSALS_LOOKBACK`], as transactions may
    /// commit out of order, each followed once.
    fn follow_reversals(&mut self) {
        let Some(engine) = self.engine.as_mut() else { return };
        let since = chrono::Utc::now() - REVERSALS_LOOKBACK;
        let reversals = match self.store.reversals_since(since) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!("cannot read the decisions overturned lately: {e}");
                return;
            }
        };
        let seen = &mut self.reversals_seen;
        let new: Vec<_> = reversals.into_iter().filter(|r| !seen.contains_key(&r.decision_id)).collect();
        engine.forget_accounts(new.iter().filter_map(|r| r.account_id.as_deref()));
        seen.extend(new.into_iter().map(|r| (r.decision_id, r.at)));
        seen.retain(|_, at| *at >= since);
    }

    /// Records every partition chain's head in a `chains.checkpoint` entry of the root chain
    /// (`steward_store::chains`): once per `--audit-checkpoint-interval` while this worker's
    /// batches move heads, and at shutdown. Each worker records all heads, not only its own:
    /// one entry is then enough to anchor them all, and no worker need be elected for it. The
    /// root's signed checkpoints (`--audit-key` of `steward worker`, `serve` or `ingest`) anchor it in
    /// turn. A failure is logged and tried again at the next batch.
    fn checkpoint(&mut self) {
        self.checkpoints.last = Instant::now();
        match self.store.checkpoint_chains(chrono::Utc::now()) {
            Ok(entry) => {
                self.checkpoints.moved = false;
                if let Some(e) = entry {
                    tracing::debug!(seq = e.seq, "audit chain heads recorded: {}", e.subject);
                }
            }
            Err(e) => tracing::warn!("cannot record the audit chains' heads: {e}"),
        }
    }

    /// The next batch: the events pulled, up to `--batch`, waiting up to 100 ms for the first
    /// and 20 ms in all for more; grouped by partition, each in stream order. Events of
    /// partitions given up since they were pulled are left out (not acked: the next owner's).
    fn next_batch(&mut self) -> Vec<(u32, Vec<Message>)> {
        let max = self.batch;
        let rx = &mut self.pulled;
        let got: Vec<Pulled> = self.runtime.block_on(async {
            let mut got = Vec::new();
            let Ok(Some(first)) = tokio::time::timeout(Duration::from_millis(100), rx.recv()).await else {
                return got;
            };
            got.push(first);
            let deadline = tokio::time::Instant::now() + Duration::from_millis(20);
            while got.len() < max {
                match tokio::time::timeout_at(deadline, rx.recv()).await {
                    Ok(Some(m)) => got.push(m),
                    _ => break,
                }
            }
            got
        });
        let again = got.iter().filter(|(_, m)| m.info().is_ok_and(|i| i.delivered > 1)).count();
        self.metrics.redelivered(again as u64);
        let mut by_partition: BTreeMap<u32, Vec<Message>> = BTreeMap::new();
        for (p, m) in got {
            if self.owned.contains_key(&p) {
                by_partition.entry(p).or_default().push(m);
            }
        }
        by_partition.into_iter().collect()
    }

    /// One batch: engine (one transaction), then acks. False when it was not committed.
    fn process(&mut self, fetched: Vec<(u32, Vec<Message>)>) -> bool {
        let began = Instant::now();
        let n: usize = fetched.iter().map(|(_, ms)| ms.len()).sum();
        // Crash points 1 and 2 (module docs): nothing acked, nothing or all committed.
        let Some(mut result) = self.commit(&fetched) else { return false };
        let mut tries = 1;
        while let Err(e) = &result
            && deadletter::conflict(e)
            && tries < CONFLICT_ATTEMPTS
        {
            // Another worker committed first what this batch read (two partitions' owners
            // adding to one campaign's case): made again on the engine's reloaded state.
            tracing::info!("batch of {n} events lost a race ({e}); making it again");
            self.metrics.batch_failed();
            std::thread::sleep(Duration::from_millis(10 * u64::from(tries)));
            tries += 1;
            let Some(again) = self.commit(&fetched) else { return false };
            result = again;
        }
        match result {
            Ok(outcome) => self.count(n, &outcome),
            Err(e) => {
                self.metrics.batch_failed();
                if deadletter::isolable(&e) {
                    // About the events themselves: tried again, then split to set aside the
                    // events that fail alone ([`deadletter`]).
                    let settled = self.isolate(fetched, &e);
                    self.totals.busy += began.elapsed();
                    return settled;
                }
                // Nothing of the batch is stored; the engine reloads its state before its next
                // batch. Start every partition again at its ack floor, so the events come back
                // first and in order.
                tracing::error!("batch of {n} events not committed: {e}; fetching them again");
                std::thread::sleep(Duration::from_secs(1));
                self.restart_held();
                return false;
            }
        }
        // Committed. Crash point 3: from here to the last ack, a crash delivers the events
        // again, and they are duplicates.
        crash::reach(CrashPoint::Committed);
        self.runtime.block_on(ack(&fetched));
        crash::reach(CrashPoint::Acked);
        self.totals.busy += began.elapsed();
        true
    }

    /// The events through the engine, and the posts to judge again, under the fences of their
    /// partitions; `None` before the engine is open.
    fn commit(
        &mut self,
        fetched: &[(u32, Vec<Message>)],
    ) -> Option<Result<IngestOutcome, steward_engine::EngineError>> {
        let engine = self.engine.as_mut()?;
        let owned = &self.owned;
        self.rechecks.retain(|(p, _)| owned.contains_key(p));
        let partitions: BTreeSet<u32> =
            fetched.iter().map(|(p, _)| *p).chain(self.rechecks.iter().map(|(p, _)| *p)).collect();
        let fences: Vec<Fence> = partitions
            .into_iter()
            .filter_map(|p| self.fences.get(&p).map(|&epoch| Fence { key: fence_key(&self.config.name, p), epoch }))
            .collect();
        let rechecks = self.rechecks.iter().map(|(p, s)| (Chain::partition(*p), s.clone()));
        let result = ingest(engine, fetched, rechecks.collect(), fences);
        if result.is_ok() {
            self.rechecks.clear();
        }
        // A store that answered, even to refuse, is up.
        let down = matches!(&result, Err(steward_engine::EngineError::Store(steward_store::StoreError::Postgres(e))) if e.as_db_error().is_none());
        self.metrics.store_up.store(!down, Ordering::Relaxed);
        Some(result)
    }

    /// Counts a committed batch of `n` events.
    fn count(&mut self, n: usize, outcome: &IngestOutcome) {
        for r in &outcome.rejected {
            // Final: delivering the event again would reject it again.
            tracing::warn!("event rejected by the worker: {}", r.error);
        }
        self.totals.events += n;
        self.totals.batches += 1;
        self.totals.accepted += outcome.accepted;
        self.totals.duplicates += outcome.duplicates;
        self.totals.rejected += outcome.rejected.len();
        self.totals.decisions += outcome.decisions.len();
        self.metrics.committed(n, outcome);
    }
}

/// One batch through the engine in one transaction: the events, then the campaign stage's
/// findings about stored posts (after their posts in each partition's order, so a finding's
/// post is stored by then, in an earlier batch or this one), then `rechecks`. A finding that
/// does not parse is reported like a rejected event.
fn ingest(
    engine: &mut Engine,
    fetched: &[(u32, Vec<Message>)],
    rechecks: Vec<(Chain, EarlierSignal)>,
    fences: Vec<Fence>,
) -> Result<IngestOutcome, steward_engine::EngineError> {
    let mut records = Vec::new();
    // Each record's audit chain: its partition's.
    let mut chains = Vec::new();
    let mut findings = Vec::new();
    let mut unreadable = Vec::new();
    // In the stream's order across partitions, as a single box would take them: a fact-check
    // in one partition comes before the posts after it in the others.
    let mut messages: Vec<(u32, &Message)> = fetched.iter().flat_map(|(p, ms)| ms.iter().map(|m| (*p, m))).collect();
    messages.sort_by_cached_key(|(_, m)| m.info().map_or(0, |i| i.stream_sequence));
    for (i, (p, m)) in messages.into_iter().enumerate() {
        if !campaign::is_finding(&m.subject) {
            records.push(RawRecord { bytes: &m.payload, line: None });
            chains.push(Chain::partition(p));
            continue;
        }
        match serde_json::from_slice::<campaign::Finding>(&m.payload) {
            Ok(f) => findings.push((Chain::partition(p), f.into())),
            Err(e) => unreadable.push(Rejection {
                index: i,
                line: None,
                field: "(record)".into(),
                error: format!("a campaign finding on {} that does not parse: {e}", m.subject),
            }),
        }
    }
    let mut group = Group::default();
    group.fence(fences);
    engine.stage_on(&mut group, &records, &chains)?;
    findings.extend(rechecks);
    if !findings.is_empty() {
        engine.stage_signals(&mut group, findings)?;
    }
    let mut total = IngestOutcome { rejected: unreadable, ..Default::default() };
    for part in engine.commit_group(group)? {
        total.accepted += part.accepted;
        total.duplicates += part.duplicates;
        total.rejected.extend(part.rejected);
        total.decisions.extend(part.decisions);
    }
    Ok(total)
}
