//! `steward worker`: the consuming side of distributed mode (issue 20, item 2, first cut).
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
//! engine works. Crash points, each safe:
//!
//! 1. after the fetch, before the commit: nothing was written; the events were not acked, the
//!    next owner re-creates the consumer at the ack floor and gets them again.
//! 2. inside the transaction: PostgreSQL rolls it back when the connection goes; as 1.
//! 3. after the commit, before the ack: the events are delivered again; the store already has
//!    their ids, so the engine counts them as duplicates and decides nothing again (decision
//!    ids are `<event id>/<rule>`, inserted once).
//! 4. after the ack: done; nothing is delivered again.
//!
//! Acks: every message is acked (`+ACK`, published in order on one connection), then the last
//! message of each partition's batch is double-acked (acked again, awaiting the server's
//! answer). NATS keeps the order of one connection's messages, so once the last answer is in,
//! the server has processed the acks before it.
//!
//! # Not done in this first cut
//!
//! - Per-account state rebuild on claim: the worker keeps one engine for all its partitions;
//!   whenever it claims partitions it re-opens the engine, reloading the whole store's state
//!   and detector window (coarse, not per account; its cost grows with the store).
//! - Fencing: a worker that lost its lock connection but not its store connection could still
//!   commit the batch in hand; the lock is checked between batches, not inside the transaction.
//! - The campaign stage for detectors that need every account's posts (issue item 3): a
//!   copy campaign spanning partitions owned by different workers is not seen whole.
//! - Metrics, `steward cluster status`, per-partition audit chains.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, PullConsumer, pull};
use async_nats::jetstream::{self, Message};
use futures_util::StreamExt;
use steward_engine::Engine;
use steward_engine::input::RawRecord;
use steward_stream::{Publisher, StreamConfig};

#[derive(clap::Args)]
pub struct WorkerArgs {
    /// URLs of the NATS servers, comma-separated (nats://10.0.0.1:4222,...). The stream is the
    /// one `steward ingest --nats` and `steward serve --nats` publish to (created if missing).
    #[arg(long, value_name = "URL[,URL...]")]
    pub nats: String,
    /// PostgreSQL URL (postgres://...): the store every worker writes to, and where partitions
    /// are claimed with advisory locks.
    #[arg(long, env = "STEWARD_DATABASE_URL")]
    pub database_url: String,
    /// Policy file (TOML), put in force; when omitted, the version in force in the store, else
    /// the shipped default.
    #[arg(long)]
    pub policy: Option<PathBuf>,
    /// Partitions this worker owns at most. Default: every free one (the first worker takes
    /// them all, later ones stand by and take over a dead worker's). For N workers sharing the
    /// load, give ceil(64 / N).
    #[arg(long, value_name = "N")]
    pub partitions_per_worker: Option<u32>,
    /// Events per engine batch (one PostgreSQL transaction), across the owned partitions.
    #[arg(long, default_value_t = 2000)]
    pub batch: usize,
    /// Seconds between checks of the locks held and attempts to claim free partitions.
    #[arg(long, default_value_t = 2.0)]
    pub claim_interval: f64,
    /// Seconds JetStream waits for an ack before delivering an event again.
    #[arg(long, default_value_t = 60)]
    pub ack_wait: u64,
    /// The JetStream stream (tests use their own).
    #[arg(long, default_value = steward_stream::DEFAULT_STREAM, hide = true)]
    pub nats_stream: String,
    /// The stream's subject prefix.
    #[arg(long, default_value = steward_stream::DEFAULT_SUBJECT_PREFIX, hide = true)]
    pub nats_subject_prefix: String,
}

/// The advisory lock class of a stream's partitions: the low 32 bits of 64-bit FNV-1a over
/// `steward-worker/<stream>`, as a signed int4 (1816471355 for `steward-events`). Fixed: workers
/// of different releases must agree.
pub fn lock_class(stream: &str) -> i32 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in format!("steward-worker/{stream}").as_bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h as u32 as i32
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
    /// Time spent in the engine, the commit and the acks.
    busy: Duration,
    /// From the first fetch that returned events to the end of the last batch.
    first: Option<Instant>,
    last: Option<Instant>,
}

/// The advisory locks of one worker, on their own connection.
struct Locks {
    url: String,
    class: i32,
    client: Option<postgres::Client>,
}

impl Locks {
    fn connect(&mut self) -> Result<&mut postgres::Client> {
        if self.client.as_ref().is_none_or(|c| c.is_closed()) {
            let client = postgres::Client::connect(&self.url, postgres::NoTls)
                .context("connecting to PostgreSQL for the partition locks")?;
            self.client = Some(client);
        }
        Ok(self.client.as_mut().expect("connected"))
    }

    /// The partitions whose lock this session holds (an error when the connection is gone,
    /// and with it every lock).
    fn held(&mut self) -> Result<Vec<u32>> {
        let class = self.class;
        let Some(client) = self.client.as_mut() else { return Ok(Vec::new()) };
        let rows = client.query(
            "SELECT objid::int8 FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()
             AND granted AND classid::int8 = ($1::int4::int8 & 4294967295) AND objsubid = 2",
            &[&class],
        )?;
        Ok(rows.iter().map(|r| r.get::<_, i64>(0) as u32).collect())
    }

    fn try_lock(&mut self, partition: u32) -> Result<bool> {
        let class = self.class;
        let row = self.connect()?.query_one("SELECT pg_try_advisory_lock($1, $2)", &[&class, &(partition as i32)])?;
        Ok(row.get(0))
    }

    fn release_all(&mut self) {
        if let Some(mut c) = self.client.take() {
            let _ = c.batch_execute("SELECT pg_advisory_unlock_all()");
            let _ = c.close();
        }
    }
}

/// An owned partition: the task pulling its consumer's events into the worker's channel,
/// stopped when the partition is given up.
struct Owned(tokio::task::AbortHandle);

impl Drop for Owned {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Events pulled, with their partition, in each partition's stream order.
type Pulled = (u32, Message);

struct Worker {
    runtime: tokio::runtime::Runtime,
    js: jetstream::Context,
    config: StreamConfig,
    store: Arc<dyn steward_store::Store>,
    policy: Arc<steward_policy::Policy>,
    /// Opened (again) whenever partitions are claimed.
    engine: Option<Engine>,
    locks: Locks,
    owned: BTreeMap<u32, Owned>,
    pulled_tx: tokio::sync::mpsc::Sender<Pulled>,
    pulled: tokio::sync::mpsc::Receiver<Pulled>,
    max_owned: usize,
    batch: usize,
    ack_wait: Duration,
    totals: Totals,
}

pub fn run(args: WorkerArgs) -> Result<ExitCode> {
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
    let config = stream_config(&args.nats_stream, &args.nats_subject_prefix);
    let publisher = runtime
        .block_on(Publisher::connect(&args.nats, config.clone()))
        .map_err(|e| anyhow::anyhow!("cannot reach the NATS JetStream cluster at {}: {e}", args.nats))?;
    let store = steward_store::open(std::path::Path::new("."), Some(&args.database_url))
        .context("opening the PostgreSQL store")?;
    let policy = crate::load_policy(store.as_ref(), args.policy.as_deref())?;
    let partitions = config.partitions;
    let (pulled_tx, pulled) = tokio::sync::mpsc::channel(args.batch.max(1) * 2);
    let mut worker = Worker {
        js: publisher.jetstream().clone(),
        runtime,
        store,
        policy,
        engine: None,
        locks: Locks { url: args.database_url.clone(), class: lock_class(&config.name), client: None },
        owned: BTreeMap::new(),
        pulled_tx,
        pulled,
        max_owned: args.partitions_per_worker.unwrap_or(partitions).clamp(1, partitions) as usize,
        batch: args.batch.max(1),
        ack_wait: Duration::from_secs(args.ack_wait.max(1)),
        config,
        totals: Totals::default(),
    };
    let claim_every = Duration::from_secs_f64(args.claim_interval.clamp(0.05, 3600.0));
    let started = Instant::now();
    let result = worker.run(&stop, claim_every);
    // Leaving: the locks go now rather than when the process ends.
    worker.locks.release_all();
    let t = &worker.totals;
    let active = t.first.zip(t.last).map_or(0.0, |(a, b)| (b - a).as_secs_f64());
    eprintln!(
        "worker: {} events in {} batches ({} accepted, {} duplicates, {} rejected), {} decisions; \
         {:.2} s busy ({:.0} events/s), {active:.2} s from first fetch to last ack ({:.0} events/s), {:.1} s up",
        t.events,
        t.batches,
        t.accepted,
        t.duplicates,
        t.rejected,
        t.decisions,
        t.busy.as_secs_f64(),
        t.events as f64 / t.busy.as_secs_f64().max(1e-9),
        t.events as f64 / active.max(1e-9),
        started.elapsed().as_secs_f64()
    );
    result.map(|()| ExitCode::SUCCESS)
}

impl Worker {
    fn run(&mut self, stop: &AtomicBool, claim_every: Duration) -> Result<()> {
        let mut last_claim: Option<Instant> = None;
        // SIGTERM: no new batch. The batch in hand was committed and acked before the check; the
        // events pulled and not yet in a batch are not acked: the next owner gets them again.
        while !stop.load(Ordering::SeqCst) {
            if last_claim.is_none_or(|t| t.elapsed() >= claim_every) {
                last_claim = Some(Instant::now());
                if self.claim()? > 0 || self.engine.is_none() {
                    // The accounts of the partitions claimed may have been written by their last
                    // owner since this engine loaded its state: load it again, the whole store's
                    // (first cut; per-account loading is not done).
                    self.engine = None;
                    self.engine = Some(Engine::open(self.store.clone(), self.policy.clone(), Default::default())?);
                }
            }
            let began = Instant::now();
            let fetched = self.next_batch();
            if fetched.is_empty() {
                continue;
            }
            self.totals.first.get_or_insert(began);
            self.process(fetched);
            self.totals.last = Some(Instant::now());
        }
        self.owned.clear();
        Ok(())
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
        let mut by_partition: BTreeMap<u32, Vec<Message>> = BTreeMap::new();
        for (p, m) in got {
            if self.owned.contains_key(&p) {
                by_partition.entry(p).or_default().push(m);
            }
        }
        by_partition.into_iter().collect()
    }

    /// Starts pulling partition `p`'s events into the channel: a continuous pull (requests of
    /// a batch's share, kept topped up by the client, idle heartbeats), bounded by the
    /// consumer's max ack pending.
    fn pull(&self, p: u32, consumer: PullConsumer) -> Owned {
        let share = self.batch.div_ceil(self.max_owned).max(16);
        let tx = self.pulled_tx.clone();
        let task = self.runtime.spawn(async move {
            loop {
                let stream = consumer
                    .stream()
                    .max_messages_per_batch(share)
                    .expires(Duration::from_secs(30))
                    .heartbeat(Duration::from_secs(5))
                    .messages()
                    .await;
                match stream {
                    Ok(mut messages) => {
                        while let Some(m) = messages.next().await {
                            match m {
                                Ok(m) => {
                                    if tx.send((p, m)).await.is_err() {
                                        return;
                                    }
                                }
                                Err(e) => tracing::warn!(partition = p, "pull: {e}"),
                            }
                        }
                    }
                    Err(e) => tracing::warn!(partition = p, "pull: {e}"),
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        });
        Owned(task.abort_handle())
    }

    /// Gives up partitions whose lock is gone and claims free ones, up to the maximum. Returns
    /// how many it claimed.
    fn claim(&mut self) -> Result<usize> {
        match self.locks.held() {
            Ok(held) => self.owned.retain(|p, _| {
                let keep = held.contains(p);
                if !keep {
                    tracing::warn!(partition = p, "partition lock lost; giving the partition up");
                }
                keep
            }),
            Err(e) => {
                tracing::warn!("partition lock connection lost ({e}); giving up every partition");
                self.owned.clear();
                self.locks.client = None;
            }
        }
        // Locks first, then every new partition's consumer at once (on an R3 stream each
        // consumer operation is a round of the cluster's consensus).
        let mut locked = Vec::new();
        for p in 0..self.config.partitions {
            if self.owned.len() + locked.len() >= self.max_owned {
                break;
            }
            if self.owned.contains_key(&p) {
                continue;
            }
            match self.locks.try_lock(p) {
                Ok(true) => locked.push(p),
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!("cannot claim partitions: {e:#}");
                    break;
                }
            }
        }
        let consumers = self.runtime.block_on(futures_util::future::join_all(locked.iter().map(|&p| self.rewind(p))));
        let mut claimed = 0;
        for (p, consumer) in locked.into_iter().zip(consumers) {
            match consumer {
                Ok(consumer) => {
                    let owned = self.pull(p, consumer);
                    self.owned.insert(p, owned);
                    claimed += 1;
                }
                Err(e) => {
                    tracing::warn!(partition = p, "cannot set up the partition's consumer: {e:#}");
                    if let Some(c) = self.locks.client.as_mut() {
                        let _ = c.query("SELECT pg_advisory_unlock($1, $2)", &[&self.locks.class, &(p as i32)]);
                    }
                }
            }
        }
        if claimed > 0 {
            tracing::info!(claimed, owned = self.owned.len(), "partitions claimed");
        }
        Ok(claimed)
    }

    /// The partition's durable consumer. When it has events delivered and not acknowledged (a
    /// dead owner's batch in hand, or a batch not committed), it is re-created at its ack floor
    /// so they come back first, in stream order (see the module docs); else it is used as is.
    async fn rewind(&self, p: u32) -> Result<PullConsumer> {
        let name = format!("{}-p{p}", self.config.name);
        let stream = self.js.get_stream(&self.config.name).await?;
        let start = match stream.consumer_info(&name).await {
            Ok(info) if info.num_ack_pending == 0 => {
                return stream.get_consumer(&name).await.map_err(|e| anyhow::anyhow!("{e}"));
            }
            Ok(info) => {
                let start = info.ack_floor.stream_sequence + 1;
                stream.delete_consumer(&name).await?;
                start
            }
            Err(_) => 1,
        };
        let consumer = stream
            .create_consumer(pull::Config {
                durable_name: Some(name.clone()),
                filter_subject: self.config.partition_filter(p),
                deliver_policy: if start <= 1 {
                    DeliverPolicy::All
                } else {
                    DeliverPolicy::ByStartSequence { start_sequence: start }
                },
                ack_policy: AckPolicy::Explicit,
                ack_wait: self.ack_wait,
                max_ack_pending: (self.batch * 2).max(1024) as i64,
                ..Default::default()
            })
            .await?;
        Ok(consumer)
    }

    /// One batch: engine (one transaction), then acks. False when it was not committed.
    fn process(&mut self, fetched: Vec<(u32, Vec<Message>)>) -> bool {
        let began = Instant::now();
        let records: Vec<RawRecord> =
            fetched.iter().flat_map(|(_, ms)| ms.iter()).map(|m| RawRecord { bytes: &m.payload, line: None }).collect();
        let n = records.len();
        // Crash points 1 and 2 (module docs): nothing acked, nothing or all committed.
        let Some(engine) = self.engine.as_mut() else { return false };
        match engine.ingest(&records) {
            Ok(outcome) => {
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
            }
            Err(e) => {
                // Nothing of the batch is stored; the engine reloads its state before its next
                // batch. Start every partition again at its ack floor, so the events come back
                // first and in order.
                tracing::error!("batch of {n} events not committed: {e}; fetching them again");
                drop(records);
                std::thread::sleep(Duration::from_secs(1));
                let owned: Vec<u32> = self.owned.keys().copied().collect();
                // Stop pulling, and drop what was pulled: it is delivered again from the floor.
                self.owned.clear();
                while self.pulled.try_recv().is_ok() {}
                let rewound =
                    self.runtime.block_on(futures_util::future::join_all(owned.iter().map(|&p| self.rewind(p))));
                for (p, consumer) in owned.into_iter().zip(rewound) {
                    match consumer {
                        Ok(c) => {
                            let owned = self.pull(p, c);
                            self.owned.insert(p, owned);
                        }
                        Err(e) => tracing::warn!(partition = p, "cannot rewind: {e:#}"),
                    }
                }
                return false;
            }
        }
        drop(records);
        // Committed. Crash point 3: from here to the last ack, a crash delivers the events
        // again, and they are duplicates.
        self.runtime.block_on(ack(&fetched));
        self.totals.busy += began.elapsed();
        true
    }
}

/// Acks every message, then double-acks the last of each partition (module docs). A failed ack
/// only means the events come again, as duplicates.
async fn ack(fetched: &[(u32, Vec<Message>)]) {
    for (p, ms) in fetched {
        for m in ms.iter().take(ms.len().saturating_sub(1)) {
            if let Err(e) = m.ack().await {
                tracing::warn!(partition = p, "ack: {e}");
            }
        }
    }
    let confirms = fetched.iter().filter_map(|(p, ms)| ms.last().map(|m| (p, m))).map(|(p, m)| async move {
        if let Err(e) = m.double_ack().await {
            tracing::warn!(partition = p, "double ack: {e}");
        }
    });
    futures_util::future::join_all(confirms).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_class_is_fixed() {
        // Part of the contract between workers of every release: never to change.
        assert_eq!(lock_class("steward-events"), 1_816_471_355);
        assert_ne!(lock_class("steward-events"), lock_class("other"));
    }
}
