//! A worker's Prometheus metrics and health, served by `--metrics-listen` ([`crate::http`]).
//!
//! Counters since start, as `steward serve`'s: the same crate (prometheus-client), the same
//! `steward_` prefix and OpenMetrics text. The lag gauges are refreshed every
//! [`REFRESH`] from the owned partitions' consumers ([`refresh`]).

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use steward_engine::IngestOutcome;
use steward_stream::StreamConfig;

/// How often the lag gauges are asked of JetStream.
pub const REFRESH: Duration = Duration::from_secs(2);

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Partition {
    partition: u32,
}

/// What a worker exports, and whether it is healthy.
pub struct Metrics {
    registry: Registry,
    events: Counter,
    outcomes: Family<Outcome, Counter>,
    decisions: Counter,
    batches: Counter,
    batch_failures: Counter,
    redeliveries: Counter,
    dead_letters: Counter,
    owned_count: Gauge,
    stage: Gauge,
    lag: Family<Partition, Gauge>,
    stage_lag: Gauge,
    /// The partitions owned now, for the lag refresh.
    owned: Mutex<BTreeSet<u32>>,
    /// Set by the main loop: false once it stopped.
    pub(crate) running: AtomicBool,
    /// The last contact with PostgreSQL (lock checks, commits) succeeded.
    pub(crate) store_up: AtomicBool,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("steward_worker");
        let counter = |registry: &mut Registry, name: &str, help: &str| {
            let c = Counter::default();
            registry.register(name, help, c.clone());
            c
        };
        let gauge = |registry: &mut Registry, name: &str, help: &str| {
            let g = Gauge::default();
            registry.register(name, help, g.clone());
            g
        };
        let events = counter(&mut registry, "events", "Events of committed batches (and dead letters), since start");
        let outcomes = Family::<Outcome, Counter>::default();
        registry.register(
            "event_outcomes",
            "Events of committed batches by outcome: accepted, duplicate (already stored), rejected (final)",
            outcomes.clone(),
        );
        let decisions = counter(&mut registry, "decisions", "Decisions made in committed batches");
        let batches = counter(&mut registry, "batches", "Batches committed and acknowledged");
        let batch_failures = counter(
            &mut registry,
            "batch_failures",
            "Batch commits that failed (tried again, split, or fetched again from the ack floor)",
        );
        let redeliveries = counter(
            &mut registry,
            "redeliveries",
            "Messages received whose delivery count was above 1 (an ack wait ran out)",
        );
        let dead_letters = counter(
            &mut registry,
            "dead_letters",
            "Events the engine failed on alone, published to the dead-letter stream and acknowledged",
        );
        let owned_count = gauge(&mut registry, "partitions_owned", "Partitions this worker owns");
        let stage = gauge(&mut registry, "campaign_stage", "1 while this worker leads the campaign stage, else 0");
        let lag = Family::<Partition, Gauge>::default();
        registry.register(
            "partition_lag",
            "Per owned partition: events not yet delivered plus delivered and not acknowledged",
            lag.clone(),
        );
        let stage_lag = gauge(
            &mut registry,
            "campaign_stage_lag",
            "While this worker leads the campaign stage: posts not yet delivered to it plus unacknowledged",
        );
        Metrics {
            registry,
            events,
            outcomes,
            decisions,
            batches,
            batch_failures,
            redeliveries,
            dead_letters,
            owned_count,
            stage,
            lag,
            stage_lag,
            owned: Mutex::new(BTreeSet::new()),
            running: AtomicBool::new(true),
            store_up: AtomicBool::new(true),
        }
    }
}

impl Metrics {
    /// A committed batch of `events`.
    pub(crate) fn committed(&self, events: usize, outcome: &IngestOutcome) {
        self.events.inc_by(events as u64);
        self.batches.inc();
        for (name, n) in
            [("accepted", outcome.accepted), ("duplicate", outcome.duplicates), ("rejected", outcome.rejected.len())]
        {
            self.outcomes.get_or_create(&Outcome { outcome: name }).inc_by(n as u64);
        }
        self.decisions.inc_by(outcome.decisions.len() as u64);
        self.store_up.store(true, Ordering::Relaxed);
    }

    pub(crate) fn batch_failed(&self) {
        self.batch_failures.inc();
    }

    pub(crate) fn dead_letter(&self) {
        self.events.inc();
        self.dead_letters.inc();
    }

    pub(crate) fn redelivered(&self, n: u64) {
        self.redeliveries.inc_by(n);
    }

    /// The partitions owned now; their lag is refreshed, the others' dropped.
    pub(crate) fn owned(&self, partitions: impl IntoIterator<Item = u32>) {
        let now: BTreeSet<u32> = partitions.into_iter().collect();
        let mut owned = self.owned.lock().unwrap_or_else(|e| e.into_inner());
        for gone in owned.difference(&now) {
            self.lag.remove(&Partition { partition: *gone });
        }
        self.owned_count.set(now.len() as i64);
        *owned = now;
    }

    pub(crate) fn campaign_stage(&self, leading: bool) {
        self.stage.set(i64::from(leading));
        if !leading {
            self.stage_lag.set(0);
        }
    }

    /// The OpenMetrics text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// Every [`REFRESH`], the lag of each owned partition's consumer (and of the campaign stage's,
/// while this worker leads it). A consumer that does not answer keeps its last figure.
pub(crate) async fn refresh(
    metrics: std::sync::Arc<Metrics>,
    js: async_nats::jetstream::Context,
    config: StreamConfig,
) {
    loop {
        tokio::time::sleep(REFRESH).await;
        let owned: Vec<u32> = metrics.owned.lock().unwrap_or_else(|e| e.into_inner()).iter().copied().collect();
        let Ok(stream) = js.get_stream(&config.name).await else { continue };
        let lags = futures_util::future::join_all(
            owned.iter().map(|p| stream.consumer_info(crate::consume::partition_consumer(&config, *p))),
        )
        .await;
        // Only the partitions still owned: one given up meanwhile has no gauge any more.
        let still = metrics.owned.lock().unwrap_or_else(|e| e.into_inner()).clone();
        for (p, info) in owned.into_iter().zip(lags) {
            if let Ok(info) = info
                && still.contains(&p)
            {
                let lag = info.num_pending + info.num_ack_pending as u64;
                metrics.lag.get_or_create(&Partition { partition: p }).set(lag as i64);
            }
        }
        if metrics.stage.get() == 1
            && let Ok(info) = stream.consumer_info(crate::campaign::consumer_name(&config)).await
        {
            metrics.stage_lag.set((info.num_pending + info.num_ack_pending as u64) as i64);
        }
    }
}
