//! Prometheus metrics, served at `/metrics`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use steward_engine::{IngestOutcome, RuleStats};
use steward_policy::{EvalErrorKind, Mode};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Rule {
    rule: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RuleMode {
    rule: String,
    mode: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RuleError {
    rule: String,
    kind: &'static str,
}

/// The counters steward exports.
pub struct Metrics {
    registry: Registry,
    events: Family<Outcome, Counter>,
    decisions: Family<Rule, Counter>,
    rule_decisions: Family<RuleMode, Counter>,
    rule_mode: Family<RuleMode, Gauge>,
    breaker_trips: Family<Rule, Counter>,
    rule_errors: Family<RuleError, Counter>,
    ingest_seconds: Histogram,
    connections: Gauge,
    displaced: Counter,
    busy: Counter,
    notices: Family<Outcome, Counter>,
    backlog: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("steward");
        let events = Family::<Outcome, Counter>::default();
        registry.register("events", "Events received, by outcome", events.clone());
        let decisions = Family::<Rule, Counter>::default();
        registry.register("decisions", "Decisions made, by rule", decisions.clone());
        let rule_decisions = Family::<RuleMode, Counter>::default();
        registry.register(
            "rule_decisions",
            "Decisions per rule since start: live (enforced) and shadow (recorded only)",
            rule_decisions.clone(),
        );
        let rule_mode = Family::<RuleMode, Gauge>::default();
        registry.register(
            "rule_mode",
            "1 for the mode each rule runs in now (shadow while its circuit breaker is tripped)",
            rule_mode.clone(),
        );
        let breaker_trips = Family::<Rule, Counter>::default();
        registry.register(
            "rule_breaker_trips",
            "Times a rule's circuit breaker tripped since start (the rule then runs in shadow until re-armed, or not at all when it went over its budget)",
            breaker_trips.clone(),
        );
        let rule_errors = Family::<RuleError, Counter>::default();
        registry.register(
            "rule_eval_errors",
            "Evaluations of a rule since start that failed (kind failed: they count as not matching) or were stopped at its budget of steps (kind over_budget: its breaker trips)",
            rule_errors.clone(),
        );
        let ingest_seconds = Histogram::new(exponential_buckets(0.0001, 2.0, 16));
        registry.register(
            "ingest_turn_seconds",
            "Time of one engine turn: the next slice of every waiting request, processed and committed together",
            ingest_seconds.clone(),
        );
        let connections = Gauge::default();
        registry.register("connections", "Connections open", connections.clone());
        let displaced = Counter::default();
        registry.register(
            "connections_displaced",
            "Connections closed to make room for a new one when all places were taken",
            displaced.clone(),
        );
        let busy = Counter::default();
        registry.register(
            "ingest_refused",
            "Ingest requests answered 503 because too much was waiting for the engine",
            busy.clone(),
        );
        let notices = Family::<Outcome, Counter>::default();
        registry.register(
            "notice_attempts",
            "Webhook deliveries of notices, by outcome: delivered (2xx), failed (retried later), dead (the last attempt failed)",
            notices.clone(),
        );
        let backlog = Gauge::default();
        registry.register(
            "outbox_backlog",
            "Notices pending delivery, as last counted by the deliverer",
            backlog.clone(),
        );
        Metrics {
            registry,
            events,
            decisions,
            rule_decisions,
            rule_mode,
            breaker_trips,
            rule_errors,
            ingest_seconds,
            connections,
            displaced,
            busy,
            notices,
            backlog,
        }
    }
}

impl Metrics {
    /// Counts what one slice of a request did.
    pub fn record(&self, outcome: &IngestOutcome) {
        self.events.get_or_create(&Outcome { outcome: "accepted" }).inc_by(outcome.accepted as u64);
        self.events.get_or_create(&Outcome { outcome: "duplicate" }).inc_by(outcome.duplicates as u64);
        self.events.get_or_create(&Outcome { outcome: "rejected" }).inc_by(outcome.rejected.len() as u64);
        for d in &outcome.decisions {
            self.decisions.get_or_create(&Rule { rule: d.rule_id.clone() }).inc();
        }
    }

    pub fn connection_opened(&self) {
        self.connections.inc();
    }

    pub fn connection_closed(&self) {
        self.connections.dec();
    }

    pub fn connection_displaced(&self) {
        self.displaced.inc();
    }

    pub fn ingest_refused(&self) {
        self.busy.inc();
    }

    /// A notice delivered.
    pub fn notice_delivered(&self) {
        self.notices.get_or_create(&Outcome { outcome: "delivered" }).inc();
    }

    /// A delivery attempt failed; with `dead`, it was the notice's last.
    pub fn notice_failed(&self, dead: bool) {
        self.notices.get_or_create(&Outcome { outcome: if dead { "dead" } else { "failed" } }).inc();
    }

    /// The notices pending delivery.
    pub fn notice_backlog(&self, n: u64) {
        self.backlog.set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// Times one turn of the engine.
    pub fn turn(&self, seconds: f64) {
        self.ingest_seconds.observe(seconds);
    }

    /// The OpenMetrics text exposition, with the rules' counts as of now.
    pub fn render(&self, rules: &RuleStats) -> String {
        // The engine keeps the counts; bring the exported counters up to them.
        let catch_up = |c: &Counter, to: u64| {
            c.inc_by(to.saturating_sub(c.get()));
        };
        for (rule, count) in rules.snapshot() {
            for (mode, n) in [("live", count.live), ("shadow", count.shadow)] {
                catch_up(&self.rule_decisions.get_or_create(&RuleMode { rule: rule.clone(), mode }), n);
            }
            for mode in [Mode::Live, Mode::Shadow, Mode::Draft] {
                let running = i64::from(count.mode == mode);
                self.rule_mode.get_or_create(&RuleMode { rule: rule.clone(), mode: mode.as_str() }).set(running);
            }
            for (kind, n) in [(EvalErrorKind::Failed, count.failed), (EvalErrorKind::OverBudget, count.over_budget)] {
                catch_up(&self.rule_errors.get_or_create(&RuleError { rule: rule.clone(), kind: kind.as_str() }), n);
            }
            catch_up(&self.breaker_trips.get_or_create(&Rule { rule }), count.trips);
        }
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
