//! Prometheus metrics, served at `/metrics`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use steward_engine::IngestOutcome;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Rule {
    rule: String,
}

/// The counters steward exports.
pub struct Metrics {
    registry: Registry,
    events: Family<Outcome, Counter>,
    decisions: Family<Rule, Counter>,
    ingest_seconds: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("steward");
        let events = Family::<Outcome, Counter>::default();
        registry.register("events", "Events received, by outcome", events.clone());
        let decisions = Family::<Rule, Counter>::default();
        registry.register("decisions", "Decisions made, by rule", decisions.clone());
        let ingest_seconds = Histogram::new(exponential_buckets(0.0001, 2.0, 16));
        registry.register("ingest_seconds", "Time to ingest one request body", ingest_seconds.clone());
        Metrics { registry, events, decisions, ingest_seconds }
    }
}

impl Metrics {
    pub fn record(&self, outcome: &IngestOutcome, seconds: f64) {
        self.events.get_or_create(&Outcome { outcome: "accepted" }).inc_by(outcome.accepted as u64);
        self.events.get_or_create(&Outcome { outcome: "duplicate" }).inc_by(outcome.duplicates as u64);
        self.events.get_or_create(&Outcome { outcome: "rejected" }).inc_by(outcome.rejected.len() as u64);
        for d in &outcome.decisions {
            self.decisions.get_or_create(&Rule { rule: d.rule_id.clone() }).inc();
        }
        self.ingest_seconds.observe(seconds);
    }

    /// The OpenMetrics text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
