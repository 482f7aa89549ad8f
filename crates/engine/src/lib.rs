//! The steward pipeline, the same for every entry point:
//!
//! ```text
//! record ─► validate ─► dedupe ─► detectors ─► signals ─► policy ─► decisions
//!        ─► enforcement (restrictions with an end, credit) ─► notices (outbox)
//!        ─► store + audit, in one commit
//! ```
//!
//! [`Engine::ingest`] takes raw records (split by [`input`]) and returns an
//! [`IngestOutcome`]: how many were accepted, how many were replays of stored events, every
//! rejection with its position, field and reason, and the decisions made. A batch is
//! committed atomically; nothing is acknowledged before it is stored.
//!
//! ```
//! use std::sync::Arc;
//! use steward_engine::{Engine, EngineOptions, input::split_ndjson};
//! let dir = tempfile::tempdir().unwrap();
//! let store = steward_store::open(dir.path(), None).unwrap();
//! let policy = Arc::new(steward_engine::default_policy().unwrap());
//! let mut engine = Engine::open(store, policy, EngineOptions::default()).unwrap();
//! let body = br#"{"id":"e1","type":"post.created","at":"2026-11-22T08:00:00Z","post":{"id":"p1","account_id":"a1","kind":"video","text":"sunset","created_at":"2026-11-22T08:00:00Z","ai_generated":{"declared":true}}}"#;
//! let outcome = engine.ingest(&split_ndjson(body, 1)).unwrap();
//! assert_eq!(outcome.accepted, 1);
//! assert_eq!(outcome.decisions[0].rule_id, "ai-unlabelled");
//! ```

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use steward_detect::{Context, Detectors, EarlierSignal, Findings, Settings};
use steward_model::{
    Account, Action, Decision, EVENT_TYPES, Event, Limits, Payload, RecordError, Reversal, Signal, Standing,
    parse_event,
};
use steward_policy::{EvalError, EvalErrorKind, Input, Match, Mode, Policy, PolicyErrors, Schema, SignalSpec};
use steward_store::{
    AuditRecord, Batch, BreakerChange, Chain, EntityRow, PolicyVersion, Store, StoreError, StoredEvent, TrippedBreaker,
};

pub mod breaker;
mod decide;
pub mod input;
pub mod notice;
pub mod review;
mod rule_stats;
mod state;

use breaker::Breakers;
use decide::{Circumstances, Outcome, Verdict, decide};
use input::RawRecord;
pub use rule_stats::{RuleCount, RuleStats};
use state::State;

/// The policy steward ships, compiled into the binary.
pub const DEFAULT_POLICY: &str = include_str!("../../../policies/default.toml");

/// The schema policies are checked against: every signal the registered detectors raise,
/// the limits events are validated against, and the default budget of a rule.
pub fn schema() -> Schema {
    let specs = Detectors::default().signal_specs();
    Schema {
        signals: specs
            .iter()
            .map(|s| SignalSpec {
                name: s.name.to_string(),
                evidence: s.evidence.iter().map(|e| e.to_string()).collect(),
            })
            .collect(),
        ..Schema::default()
    }
}

/// Parses the shipped default policy.
pub fn default_policy() -> Result<Policy, PolicyErrors> {
    Policy::parse(DEFAULT_POLICY, "policies/default.toml", &schema())
}

/// Loads a policy file, or the default policy when `path` is `None`.
pub fn load_policy(path: Option<&std::path::Path>) -> Result<Policy, PolicyErrors> {
    match path {
        Some(p) => Policy::load(p, &schema()),
        None => default_policy(),
    }
}

/// Why no policy could be put in force.
#[derive(Debug, thiserror::Error)]
pub enum PolicyLoadError {
    #[error("{0}")]
    Invalid(PolicyErrors),
    #[error(
        "the policy in force ({version}, activated {at} by {by}) no longer checks; start with --policy FILE:\n{errors}"
    )]
    StoredInvalid { version: String, at: DateTime<Utc>, by: String, errors: PolicyErrors },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The policy to run with: the file given, else the version in force in the store, else the
/// shipped default.
pub fn resolve_policy(store: &dyn Store, path: Option<&std::path::Path>) -> Result<Policy, PolicyLoadError> {
    if let Some(path) = path {
        return Policy::load(path, &schema()).map_err(PolicyLoadError::Invalid);
    }
    match store.active_policy()? {
        Some(v) => Policy::parse(&v.text, &v.source, &schema()).map_err(|errors| PolicyLoadError::StoredInvalid {
            version: v.version,
            at: v.activated_at,
            by: v.activated_by,
            errors,
        }),
        None => default_policy().map_err(PolicyLoadError::Invalid),
    }
}

/// Where the engine's notion of "now" comes from.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// Engine settings.
#[derive(Clone)]
pub struct EngineOptions {
    pub limits: Limits,
    pub clock: Clock,
    /// Run draft rules as if they were live: for backtests, never for live traffic.
    pub drafts: bool,
    /// Who puts the policy in force when the engine opens (recorded with the version).
    pub activated_by: String,
    /// The engine sees only some accounts' events (a worker owning some partitions): the
    /// detectors that need every account's posts do not run here; their findings come from
    /// the campaign stage, through [`Engine::stage_signals`].
    pub partitioned: bool,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            limits: Limits::default(),
            clock: Arc::new(Utc::now),
            drafts: false,
            activated_by: "start".into(),
            partitioned: false,
        }
    }
}

/// A record that was not accepted, and why.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Rejection {
    /// 0-based position in the batch.
    pub index: usize,
    /// 1-based line, for NDJSON.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// Path of the offending field (`post.account_id`, `post.media[0].kind`), or `(record)`
    /// when the record as a whole is at fault (not UTF-8, too large, not a JSON object).
    pub field: String,
    /// The whole message: field and reason.
    pub error: String,
}

/// One record, parsed ahead of the engine (possibly on another thread).
#[derive(Debug)]
pub struct Parsed {
    pub index: usize,
    pub line: Option<usize>,
    /// The event with its record as received, or why it was rejected.
    pub result: Result<(Event, String), RecordError>,
}

/// Parses and validates records; `index` is each record's position in `records`.
pub fn parse_records(records: &[RawRecord], limits: &Limits, now: DateTime<Utc>) -> Vec<Parsed> {
    records
        .iter()
        .enumerate()
        .map(|(index, r)| Parsed {
            index,
            line: r.line,
            result: parse_event(r.bytes, limits, now)
                // parse_event checked the bytes are UTF-8.
                .map(|e| {
                    (
                        e,
                        String::from_utf8(r.bytes.to_vec())
                            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
                    )
                }),
        })
        .collect()
}

/// The result of one batch.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct IngestOutcome {
    pub accepted: usize,
    pub duplicates: usize,
    pub rejected: Vec<Rejection>,
    /// Live decisions: what is enforced.
    pub decisions: Vec<Decision>,
    /// Would-be decisions of rules in shadow (recorded, not enforced; read them with
    /// `GET /v1/decisions?shadow=true`).
    pub shadow_decisions: usize,
}

/// Slices of records, from one request or several, processed one after another into one
/// batch and committed together by [`Engine::commit_group`]: concurrent requests share a
/// transaction, and each gets its own outcome.
#[derive(Default)]
pub struct Group {
    batch: Batch,
    /// Event ids in the batch: a record repeating one in another part is a duplicate.
    seen: HashSet<String>,
    /// Each part's outcome and the range of the batch's decisions it made.
    parts: Vec<(IngestOutcome, std::ops::Range<usize>)>,
    /// Decisions to join to their cases at commit ([`Engine::join_cases`]).
    joins: Vec<review::Join>,
}

impl Group {
    /// Commits the group only while these fences hold ([`steward_store::fence`]).
    pub fn fence(&mut self, fences: Vec<steward_store::fence::Fence>) {
        self.batch.fences.extend(fences);
    }
}

/// Why a batch could not be processed at all. Nothing of it was stored.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The pipeline. One engine owns the write path of a store; entry points share it.
pub struct Engine {
    store: Arc<dyn Store>,
    policy: Arc<Policy>,
    detectors: Detectors,
    state: State,
    options: EngineOptions,
    /// Set when a commit failed: memory may be ahead of the store, so reload first.
    stale: bool,
    breakers: Breakers,
    stats: Arc<RuleStats>,
    /// Batches handed to the store and not yet confirmed (streaming ingest), with the
    /// position of each of their events.
    in_flight: std::collections::VecDeque<InFlight>,
    findings: Findings,
    /// What [`Engine::learn`] taught, in order, taught again whenever the detectors are
    /// rebuilt from the store (which may not hold it yet).
    learnt: Vec<Event>,
    /// Decisions of the records being prepared that ask for review ([`Engine::join_cases`]).
    joins: Vec<review::Join>,
    /// The audit chains of the partitions a partitioned engine owns ([`Engine::own`]).
    owned: Vec<Chain>,
}

struct InFlight {
    events: std::collections::HashMap<String, usize>,
    batch: Arc<Batch>,
}

/// Events read per page when detectors rebuild their window at start.
const REPLAY_PAGE: usize = 5000;

/// Commits of one group whose cases other writers kept changing before it gives up
/// ([`Engine::commit_group`]).
const JOIN_ATTEMPTS: u32 = 10;

impl Engine {
    /// Opens the engine over a store, rebuilding in-memory state from it, and records the
    /// policy in force in the audit log when it changed.
    pub fn open(store: Arc<dyn Store>, policy: Arc<Policy>, options: EngineOptions) -> Result<Engine, EngineError> {
        let now = (options.clock)();
        let state = State::for_engine(store.as_ref(), &options, now)?;
        let breakers = Breakers::with_tripped(store.tripped_breakers()?);
        let mut engine = Engine {
            detectors: detectors_for(&policy, &options),
            store,
            policy,
            state,
            options,
            stale: false,
            breakers,
            stats: Arc::default(),
            in_flight: Default::default(),
            findings: Findings::default(),
            learnt: Vec::new(),
            joins: Vec::new(),
            owned: Vec::new(),
        };
        engine.sync_stats();
        let by = engine.options.activated_by.clone();
        let source = engine.policy.source().to_string();
        engine.activate(&source, &by)?;
        restore_knowledge(engine.store.as_ref(), &mut engine.detectors)?;
        engine.replay_window()?;
        Ok(engine)
    }

    /// Records the policy as the version in force when it is not already, auditing the
    /// activation and every rule whose mode it changes.
    fn activate(&mut self, source: &str, by: &str) -> Result<(), EngineError> {
        let previous = self.store.active_policy()?;
        if previous.as_ref().is_some_and(|p| p.text == self.policy.text() && p.version == self.policy.version) {
            return Ok(());
        }
        let now = (self.options.clock)();
        // The modes before: a stored version that no longer checks counts as unknown.
        let before: Option<HashMap<String, Mode>> = previous.as_ref().and_then(|p| {
            Policy::parse(&p.text, &p.source, &schema())
                .ok()
                .map(|old| old.rules.iter().map(|r| (r.id.clone(), r.mode)).collect())
        });
        let mut batch = Batch::default();
        batch.policies.push(PolicyVersion {
            version: self.policy.version.clone(),
            source: source.to_string(),
            text: self.policy.text().to_string(),
            activated_at: now,
            activated_by: by.to_string(),
        });
        let modes: serde_json::Map<String, serde_json::Value> =
            self.policy.rules.iter().map(|r| (r.id.clone(), json!(r.mode.as_str()))).collect();
        batch.audit.push(AuditRecord {
            at: now,
            action: "policy.activated".into(),
            subject: self.policy.version.clone(),
            body: json!({
                "source": source,
                "by": by,
                "previous": previous.as_ref().map(|p| &p.version),
                "modes": modes,
            })
            .into(),
        });
        if let Some(before) = before {
            for rule in &self.policy.rules {
                let was = before.get(&rule.id).copied();
                if was != Some(rule.mode) {
                    batch.audit.push(AuditRecord {
                        at: now,
                        action: "rule.mode_changed".into(),
                        subject: rule.id.clone(),
                        body: json!({
                            "from": was.map(Mode::as_str),
                            "to": rule.mode.as_str(),
                            "version": self.policy.version,
                            "by": by,
                        })
                        .into(),
                    });
                }
            }
        }
        self.commit(&batch)
    }

    /// Puts a new policy in force without a restart: recorded as a version, its mode
    /// changes audited. `by` names who did it (an API key id).
    pub fn set_policy(&mut self, policy: Arc<Policy>, by: &str) -> Result<(), EngineError> {
        let rebuild = policy.disclosure != self.policy.disclosure;
        let previous = std::mem::replace(&mut self.policy, policy);
        if let Err(e) = self.activate("api", by) {
            self.policy = previous;
            return Err(e);
        }
        if rebuild {
            // Detectors take settings from the policy: start them afresh from the store.
            self.stale = true;
        }
        self.sync_stats();
        Ok(())
    }

    /// Re-arms a rule whose circuit breaker tripped: it is live again, and counts afresh.
    /// Returns the trip it cleared, or `None` when the rule's breaker had not tripped.
    pub fn rearm(&mut self, rule_id: &str, by: &str) -> Result<Option<TrippedBreaker>, EngineError> {
        let Some(trip) = self.breakers.tripped.get(rule_id).cloned() else { return Ok(None) };
        let now = (self.options.clock)();
        let batch = Batch {
            breakers: vec![BreakerChange::Rearmed { rule_id: rule_id.to_string() }],
            audit: vec![AuditRecord {
                at: now,
                action: "rule.rearmed".into(),
                subject: rule_id.to_string(),
                body: json!({ "by": by, "tripped_at": trip.tripped_at }).into(),
            }],
            ..Batch::default()
        };
        self.commit(&batch)?;
        self.breakers.rearm(rule_id);
        self.sync_stats();
        Ok(Some(trip))
    }

    /// Rules whose breaker has tripped and not been re-armed.
    pub fn tripped(&self) -> impl Iterator<Item = &TrippedBreaker> {
        self.breakers.tripped.values()
    }

    /// Per-rule counts since start, shared with whoever reports them (`/metrics`).
    pub fn stats(&self) -> &Arc<RuleStats> {
        &self.stats
    }

    fn sync_stats(&self) {
        self.stats.set_rules(
            self.policy.rules.iter().map(|r| (r.id.as_str(), self.mode_of(r).unwrap_or(Mode::Draft), r.mode)),
        );
    }

    /// How a rule runs now: its declared mode, shadow while its breaker is tripped, and
    /// `None` when it does not run: a draft outside backtests, or a rule tripped by an
    /// evaluation over its budget.
    fn mode_of(&self, rule: &steward_policy::Rule) -> Option<Mode> {
        match rule.mode {
            Mode::Draft if !self.options.drafts => None,
            _ if self.breakers.halted(&rule.id) => None,
            Mode::Draft => Some(Mode::Live),
            Mode::Live if self.breakers.tripped.contains_key(&rule.id) => Some(Mode::Shadow),
            mode => Some(mode),
        }
    }
    /// Rebuilds the detectors' state from the stored events of their window, in received
    /// order, as if they had just run.
    fn replay_window(&mut self) -> Result<(), EngineError> {
        if self.options.partitioned && self.owned.is_empty() {
            return Ok(());
        }
        let (Some(window), Some(latest)) = (self.detectors.window(), self.store.latest_event_at()?) else {
            return Ok(());
        };
        let since = latest - chrono::Duration::seconds(window);
        let now = (self.options.clock)();
        let mut after = 0;
        let mut scratch = Findings::default();
        // Entities detectors learn from were fed in their current state already: an older
        // upsert replayed now would undo a newer one.
        let learnt = self.detectors.knowledge();
        loop {
            let page = self.store.events_since(since, after, REPLAY_PAGE, &self.owned)?;
            let Some((last, _)) = page.last() else { break };
            after = *last;
            for (_, stored) in &page {
                let kind = stored.event_type.split('.').next().unwrap_or_default();
                if learnt.contains(&kind) {
                    continue;
                }
                // The event was valid when it was accepted; if the limits have tightened since,
                // it is left out of the window rather than stopping the start.
                match parse_event(stored.body.as_bytes(), &self.options.limits, now) {
                    Ok(event) => self.detectors.replay(&Context { event: &event, account: None }, &mut scratch),
                    Err(e) => tracing::warn!(event = %stored.id, "stored event left out of the detectors' window: {e}"),
                }
            }
        }
        Ok(())
    }

    /// The event types whose payloads detectors learn from (fact-checks, identities,
    /// credentials): what a partitioned engine must see from every partition, through
    /// [`Engine::learn`].
    pub fn knowledge_event_types(&self) -> Vec<&'static str> {
        let kinds = self.detectors.knowledge();
        EVENT_TYPES.iter().map(|(t, _)| *t).filter(|t| kinds.iter().any(|k| t.split('.').next() == Some(*k))).collect()
    }

    /// Teaches the detectors an upsert they learn from, accepted anywhere in the cluster (its
    /// owner stores and judges it): a partitioned engine's knowledge base and registry follow
    /// every change. Learning the same upsert twice changes nothing.
    ///
    /// Returns the signals it raises about earlier posts this engine judged (a fact-check
    /// matching posts of the claims window), for the caller to judge in its next batch with
    /// [`Engine::stage_signals`], as a single box judges them with the fact-check.
    pub fn learn(&mut self, event: &Event) -> Vec<EarlierSignal> {
        let mut findings = Findings::default();
        teach(&mut self.detectors, event, &mut findings);
        self.learnt.push(event.clone());
        findings.earlier
    }

    pub fn options(&self) -> &EngineOptions {
        &self.options
    }

    /// A partitioned engine lets go of what it loaded about these accounts, whose decisions a
    /// person overturned elsewhere (`steward serve`, sharing the store): they are loaded again,
    /// reversal included, with their next event. An engine holding every account (one box)
    /// reverses in memory as it overturns, and keeps them.
    pub fn forget_accounts<'a>(&mut self, ids: impl IntoIterator<Item = &'a str>) {
        self.state.forget(ids);
    }

    /// The partitions a partitioned engine owns now, by their audit chains: before its next
    /// batch it rebuilds its detectors' window from their events alone, and loads accounts
    /// afresh as their events come (another owner may have changed them since).
    pub fn own(&mut self, chains: Vec<Chain>) {
        self.owned = chains;
        self.stale = true;
    }

    pub fn policy(&self) -> &Arc<Policy> {
        &self.policy
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Validates, stores and acts on a batch of records. Rejected records are reported and
    /// the valid ones kept; replays of stored events are counted and skipped. Returns once
    /// the batch is committed.
    pub fn ingest(&mut self, records: &[RawRecord]) -> Result<IngestOutcome, EngineError> {
        let mut group = Group::default();
        self.stage(&mut group, records)?;
        Ok(self.commit_group(group)?.pop().unwrap_or_default())
    }

    /// Validates and processes one slice of records into `group`, to be committed with the
    /// others there by [`Engine::commit_group`]. Memory moves on at once: should the group
    /// not be committed, the engine reloads from the store before its next batch.
    pub fn stage(&mut self, group: &mut Group, records: &[RawRecord]) -> Result<(), EngineError> {
        self.stage_on(group, records, &[])
    }

    /// [`Engine::stage`], each record audited on its own chain (`chains[i]` for `records[i]`,
    /// e.g. its partition's in distributed mode; see `steward_store::chains`): what it writes
    /// (its event, decisions, restrictions, credits, audit entries) goes to that chain. A
    /// record beyond `chains` goes to the chain of the record before it, the first to the root.
    pub fn stage_on(&mut self, group: &mut Group, records: &[RawRecord], chains: &[Chain]) -> Result<(), EngineError> {
        let parsed = parse_records(records, &self.options.limits, (self.options.clock)());
        let from = group.batch.decisions.len();
        match self.prepare_into(parsed, &mut group.batch, &mut group.seen, chains) {
            Ok(outcome) => {
                group.parts.push((outcome, from..group.batch.decisions.len()));
                group.joins.append(&mut self.joins);
                Ok(())
            }
            Err(e) => {
                self.stale = true;
                self.joins.clear();
                Err(e)
            }
        }
    }

    /// Judges signals found elsewhere about stored posts (the campaign stage's, in distributed
    /// mode) into `group`, each as the engine judges a detector's signal about an earlier post:
    /// against that post as it stands, one decision per rule however often it is signalled.
    /// The post's event may be in the group already. Each is audited on the chain given with
    /// it (its post's partition's, as [`Engine::stage_on`]).
    pub fn stage_signals(
        &mut self,
        group: &mut Group,
        signals: Vec<(Chain, EarlierSignal)>,
    ) -> Result<(), EngineError> {
        let now = (self.options.clock)();
        let from = group.batch.decisions.len();
        let mut outcome = IngestOutcome::default();
        let accounts = signals.iter().map(|(_, s)| s.account_id.as_str());
        if let Err(e) = self.state.load_accounts(self.store.as_ref(), accounts, now) {
            self.stale = true;
            return Err(e.into());
        }
        for (chain, signal) in signals {
            group.batch.audit_on(&chain);
            if let Err(e) = self.judge_earlier(signal, now, &mut group.batch, &mut outcome) {
                self.stale = true;
                self.joins.clear();
                return Err(e);
            }
        }
        group.parts.push((outcome, from..group.batch.decisions.len()));
        group.joins.append(&mut self.joins);
        Ok(())
    }

    /// Commits everything staged in `group` in one transaction (group commit). Returns each
    /// part's outcome, in the order staged, with its live decisions.
    ///
    /// The decisions that join cases do so last, and when another writer changed one of those
    /// cases since it was read ([`StoreError::Stale`]), they join its new version and the
    /// batch is committed again: nothing else in it depends on a case, so the engine's memory
    /// holds (a batch of one campaign's posts in several partitions, committed by their
    /// owners at once, needs no reload).
    pub fn commit_group(&mut self, group: Group) -> Result<Vec<IngestOutcome>, EngineError> {
        let Group { mut batch, parts, joins, .. } = group;
        if parts.is_empty() {
            return Ok(Vec::new());
        }
        // What the joins add (audit entries, case writes, chain spans) is taken off again
        // before they are made anew.
        let before = (batch.audit.len(), batch.review.len(), batch.chains.clone());
        for attempt in 1.. {
            if let Err(e) = self.join_cases(&joins, &mut batch) {
                self.stale = true;
                return Err(e);
            }
            if batch.is_empty() {
                break;
            }
            match self.store.commit(&batch) {
                Ok(_) => break,
                Err(StoreError::Stale(why)) if !joins.is_empty() && attempt < JOIN_ATTEMPTS => {
                    tracing::debug!("a case changed under the batch ({why}); joining its new version");
                    batch.audit.truncate(before.0);
                    batch.review.truncate(before.1);
                    batch.chains.clone_from(&before.2);
                }
                Err(e) => {
                    self.stale = true;
                    return Err(e.into());
                }
            }
        }
        let mut decisions = batch.decisions.into_iter();
        let mut taken = 0;
        Ok(parts
            .into_iter()
            .map(|(mut outcome, range)| {
                // Ranges are in order and adjacent: skip nothing, take the part's own.
                let part = decisions.by_ref().skip(range.start - taken).take(range.len());
                outcome.decisions = part.filter(|d| !d.shadow).collect();
                taken = range.end;
                outcome
            })
            .collect())
    }

    /// Ingests a stream of parsed batches, committing each while the next is processed:
    /// on two cores the store's work and the pipeline's overlap. `done` receives each
    /// batch's outcome once it is committed, in order. Stops at the first store error.
    pub fn ingest_stream(
        &mut self,
        batches: impl IntoIterator<Item = Vec<Parsed>>,
        mut done: impl FnMut(IngestOutcome),
    ) -> Result<(), EngineError> {
        let store = self.store.clone();
        std::thread::scope(|scope| {
            // One batch in flight: memory stays bounded and a failure stops the stream early.
            let (to_commit, commits) = std::sync::mpsc::sync_channel::<Arc<Batch>>(1);
            let (to_report, committed) = std::sync::mpsc::channel::<Result<(), StoreError>>();
            scope.spawn(move || {
                for batch in commits {
                    let committed = store.commit(&batch).map(|_| ());
                    // Let go of the batch first, so the engine holds the last reference and
                    // can move the decisions out of it.
                    drop(batch);
                    if to_report.send(committed).is_err() {
                        break;
                    }
                }
            });
            let mut waiting: std::collections::VecDeque<IngestOutcome> = Default::default();
            let mut confirm = |engine: &mut Engine, waiting: &mut std::collections::VecDeque<IngestOutcome>, r| {
                let outcome = waiting.pop_front();
                let batch = engine.in_flight.pop_front().map(|f| f.batch);
                match r {
                    Ok(()) => {
                        let mut outcome = outcome.unwrap_or_default();
                        if let Some(batch) = batch {
                            outcome.decisions = take_live_decisions(batch);
                        }
                        done(outcome);
                        Ok(())
                    }
                    Err(e) => {
                        engine.stale = true;
                        Err(EngineError::from(e))
                    }
                }
            };
            for parsed in batches {
                let (batch, outcome) = self.prepare(parsed)?;
                let batch = Arc::new(batch);
                let events = batch.events.iter().enumerate().map(|(i, e)| (e.id.clone(), i)).collect();
                self.in_flight.push_back(InFlight { events, batch: batch.clone() });
                waiting.push_back(outcome);
                if to_commit.send(batch).is_err() {
                    break;
                }
                while let Ok(r) = committed.try_recv() {
                    confirm(self, &mut waiting, r)?;
                }
            }
            drop(to_commit);
            for r in committed {
                confirm(self, &mut waiting, r)?;
            }
            Ok(())
        })
    }

    /// Dedupes and processes parsed records into the batch to commit and its outcome, whose
    /// live decisions are the batch's, moved into it once the batch is committed. Memory is
    /// updated at once; a failed commit marks it stale.
    fn prepare(&mut self, parsed: Vec<Parsed>) -> Result<(Batch, IngestOutcome), EngineError> {
        let mut batch = Batch::default();
        let outcome = self.prepare_into(parsed, &mut batch, &mut HashSet::new(), &[]);
        let joins = std::mem::take(&mut self.joins);
        let outcome = outcome.and_then(|outcome| self.join_cases(&joins, &mut batch).map(|()| outcome));
        if outcome.is_err() {
            self.stale = true;
        }
        Ok((batch, outcome?))
    }

    /// [`Engine::prepare`] into a batch that may hold other records already; `seen` holds
    /// the event ids there. Each record is audited on its chain in `chains`, if given.
    fn prepare_into(
        &mut self,
        parsed: Vec<Parsed>,
        batch: &mut Batch,
        seen: &mut HashSet<String>,
        chains: &[Chain],
    ) -> Result<IngestOutcome, EngineError> {
        let now = (self.options.clock)();
        if self.stale {
            self.state = State::for_engine(self.store.as_ref(), &self.options, now)?;
            self.in_flight.clear();
            self.detectors = detectors_for(&self.policy, &self.options);
            self.breakers = Breakers::with_tripped(self.store.tripped_breakers()?);
            self.sync_stats();
            restore_knowledge(self.store.as_ref(), &mut self.detectors)?;
            // Before the window's posts: they raise nothing to judge again.
            for event in &self.learnt {
                teach(&mut self.detectors, event, &mut Findings::default());
            }
            self.replay_window()?;
            self.stale = false;
        }
        let mut outcome = IngestOutcome::default();
        let mut events = Vec::with_capacity(parsed.len());
        for p in parsed {
            match p.result {
                Ok((event, raw)) => events.push((p.index, p.line, event, raw)),
                Err(e) => outcome.rejected.push(Rejection {
                    index: p.index,
                    line: p.line,
                    field: e.field.clone(),
                    error: e.to_string(),
                }),
            }
        }
        let accounts = events.iter().filter_map(|(_, _, e, _)| e.payload.account_id());
        self.state.load_accounts(self.store.as_ref(), accounts, now)?;
        let ids: Vec<&str> = events.iter().map(|(_, _, e, _)| e.id.as_str()).collect();
        let stored = if ids.is_empty() { HashSet::new() } else { self.store.existing_event_ids(&ids)? };
        seen.reserve(events.len());
        let mut findings = std::mem::take(&mut self.findings);
        for (index, line, event, raw) in events {
            let in_flight = self.in_flight.iter().any(|f| f.events.contains_key(&event.id));
            if stored.contains(&event.id) || in_flight || !seen.insert(event.id.clone()) {
                outcome.duplicates += 1;
                continue;
            }
            if let Payload::ReportCreated(r) = &event.payload
                && let Some((field, error)) = self.unknown_report_subject(r, batch)?
            {
                let error = format!("{field}: {error}");
                outcome.rejected.push(Rejection { index, line, field, error });
                continue;
            }
            if let Some(chain) = chains.get(index) {
                batch.audit_on(chain);
            }
            // The event goes into the batch first: a detector may signal it again at once.
            batch.events.push(StoredEvent {
                id: event.id.clone(),
                event_type: event.payload.event_type().to_string(),
                at: event.at,
                body: raw,
            });
            self.process(&event, now, &mut findings, batch, &mut outcome)?;
            outcome.accepted += 1;
        }
        self.findings = findings;
        Ok(outcome)
    }

    fn commit(&mut self, batch: &Batch) -> Result<(), EngineError> {
        self.store.commit(batch).map_err(|e| {
            self.stale = true;
            EngineError::from(e)
        })?;
        Ok(())
    }

    /// One event through entity state, detectors, policy and enforcement.
    fn process(
        &mut self,
        event: &Event,
        now: DateTime<Utc>,
        findings: &mut Findings,
        batch: &mut Batch,
        outcome: &mut IngestOutcome,
    ) -> Result<(), EngineError> {
        self.breakers.tick(event.at);
        if matches!(event.payload, Payload::PostCreated(_)) {
            self.breakers.post();
        }
        let replaced = self.record_entity(event, batch)?;
        let account = match &event.payload {
            Payload::AccountUpserted(_) => replaced.as_ref(),
            payload => payload.account_id().and_then(|id| self.state.accounts.get(id)),
        };
        findings.clear();
        self.detectors.inspect(&Context { event, account }, findings);
        self.judge(event, &findings.signals, now, batch, outcome, false)?;
        for earlier in findings.earlier.drain(..) {
            self.judge_earlier(earlier, now, batch, outcome)?;
        }
        if let Payload::ReportCreated(r) = &event.payload {
            self.file_report(r, now, batch)?;
        }
        batch.groups.append(&mut findings.groups);
        Ok(())
    }

    /// A signal about an earlier post: the policy weighs it against that post, as it stands,
    /// and the decisions are that post's (one per rule, however often it is signalled).
    fn judge_earlier(
        &mut self,
        earlier: EarlierSignal,
        now: DateTime<Utc>,
        batch: &mut Batch,
        outcome: &mut IngestOutcome,
    ) -> Result<(), EngineError> {
        let Some(body) = self.event_body(&earlier.event_id, batch)? else {
            tracing::warn!(event = %earlier.event_id, "signal about an event that is not stored");
            return Ok(());
        };
        let event = match parse_event(body.as_bytes(), &self.options.limits, now) {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(event = %earlier.event_id, "stored event no longer parses: {e}");
                return Ok(());
            }
        };
        self.judge(&event, std::slice::from_ref(&earlier.signal), now, batch, outcome, true)
    }

    /// The record of an accepted event: in the batch being prepared, in a batch being
    /// committed, or in the store.
    fn event_body(&self, id: &str, batch: &Batch) -> Result<Option<String>, EngineError> {
        if let Some(e) = batch.events.iter().rev().find(|e| e.id == id) {
            return Ok(Some(e.body.clone()));
        }
        for f in &self.in_flight {
            if let Some(&i) = f.events.get(id) {
                return Ok(Some(f.batch.events[i].body.clone()));
            }
        }
        Ok(self.store.event(id)?.map(|e| e.body))
    }

    /// Whether a decision is stored, or about to be.
    fn decided(&self, id: &str, batch: &Batch) -> Result<bool, EngineError> {
        let pending = |b: &Batch| b.decisions.iter().any(|d| d.id == id);
        Ok(pending(batch) || self.in_flight.iter().any(|f| pending(&f.batch)) || self.store.decision(id)?.is_some())
    }

    /// Policy and enforcement for one event and the signals about it. With `once`, rules
    /// that already decided on the event are skipped (the event is being judged again).
    fn judge(
        &mut self,
        event: &Event,
        signals: &[Signal],
        now: DateTime<Utc>,
        batch: &mut Batch,
        outcome: &mut IngestOutcome,
        once: bool,
    ) -> Result<(), EngineError> {
        let policy = Arc::clone(&self.policy);
        let account_id = event.payload.account_id();
        let standing = account_id.map(|id| self.state.standing(id, &policy, now));
        let post = match &event.payload {
            Payload::PostCreated(p) => Some(p),
            _ => None,
        };
        let account = account_id.and_then(|id| self.state.accounts.get(id));
        let input = Input { event, account, post, signals, standing: standing.as_ref() };
        // Only the rules that run are evaluated. A rule that fails at run time counts as not
        // matching; the others still decide.
        let evaluation = policy.evaluate_where(&input, |rule| self.mode_of(rule).is_some());
        for e in &evaluation.errors {
            self.stats.error(&e.rule_id, e.kind);
            match e.kind {
                EvalErrorKind::OverBudget => {
                    over_budget(&mut self.breakers, &self.stats, &policy, e, &event.id, now, batch)
                }
                _ => tracing::warn!(event = %event.id, "policy rule failed: {e}"),
            }
        }
        if evaluation.matches.is_empty() {
            return Ok(());
        }
        let mut live = Vec::with_capacity(evaluation.matches.len());
        let mut shadow = Vec::new();
        for m in evaluation.matches {
            if once && self.decided(&steward_model::decision_id(&event.id, &m.rule.id), batch)? {
                continue;
            }
            match self.mode_of(m.rule) {
                None => {}
                Some(Mode::Shadow) => shadow.push(m),
                Some(_) if within_quota(&mut self.breakers, &self.stats, &policy, m.rule, now, batch) => live.push(m),
                Some(_) => shadow.push(m),
            }
        }
        let circumstances = Circumstances {
            event,
            account_id,
            post_id: post.map(|p| p.id.as_str()),
            signals,
            standing: standing.as_ref(),
            now,
        };
        for o in outcomes(&policy, &circumstances, &input, shadow, false) {
            self.stats.count(&o.decision.rule_id, true);
            outcome.shadow_decisions += 1;
            batch.decisions.push(Decision { shadow: true, ..o.decision });
        }
        let on_message = |d: &Decision| post.is_some_and(|p| d.post_id.as_deref() == Some(p.id.as_str()));
        let mut group_decisions: Vec<String> = Vec::new();
        for o in outcomes(&policy, &circumstances, &input, live, true) {
            if on_message(&o.decision) {
                group_decisions.push(o.decision.id.clone());
            }
            self.stats.count(&o.decision.rule_id, false);
            self.state.enforce(&o.decision.restrictions, &o.credits, now);
            batch.audit.push(AuditRecord {
                at: now,
                action: "decision.created".into(),
                subject: o.decision.id.clone(),
                body: decide::audit_body(&o.decision),
            });
            batch.restrictions.extend(o.decision.restrictions.iter().cloned());
            batch.credits.extend(o.credits);
            for action in &o.decision.actions {
                if let Action::QueueReview { queue } = action {
                    self.queue_decision(&o.decision, queue, now, batch);
                }
            }
            batch.notices.extend(notice::decision(&o.decision));
            batch.decisions.push(o.decision);
        }
        let ids: Vec<&str> = group_decisions.iter().map(String::as_str).collect();
        batch.notices.extend(notice::group_actions(event, &ids, now));
        Ok(())
    }

    /// What a policy would decide on one event, touching nothing: the signals the detectors
    /// raise on it (those that learn from the store's fact-checks, registry and credentials
    /// included; those over a window of recent posts start empty), `extra` signals given by
    /// the caller, and every rule of `policy` that matches whatever its mode, with the mode
    /// it has in `policy`. The account's standing is the one in force.
    pub fn spot_test(&self, policy: &Policy, event: &Event, extra: Vec<Signal>) -> Result<SpotTest, EngineError> {
        let now = (self.options.clock)();
        let mut detectors = detectors_for(policy, &self.options);
        restore_knowledge(self.store.as_ref(), &mut detectors)?;
        let account_id = event.payload.account_id();
        let known = account_id.and_then(|id| self.state.accounts.get(id));
        let mut findings = Findings::default();
        detectors.inspect(&Context { event, account: known }, &mut findings);
        let mut signals = findings.signals;
        signals.extend(extra);
        let post = match &event.payload {
            Payload::PostCreated(p) => Some(p),
            _ => None,
        };
        let account = match &event.payload {
            Payload::AccountUpserted(a) => Some(a),
            _ => known,
        };
        let standing = account_id.map(|id| self.state.standing(id, policy, now));
        let input = Input { event, account, post, signals: &signals, standing: standing.as_ref() };
        let evaluation = policy.evaluate_all(&input);
        let circumstances = Circumstances {
            event,
            account_id,
            post_id: post.map(|p| p.id.as_str()),
            signals: &signals,
            standing: standing.as_ref(),
            now,
        };
        let decisions = outcomes(policy, &circumstances, &input, evaluation.matches, true)
            .into_iter()
            .map(|o| {
                // Ladder steps have no mode: they follow the rules that deducted the credit.
                let mode = policy.rule(&o.decision.rule_id).map_or(Mode::Live, |r| r.mode);
                SpotDecision { mode, decision: o.decision }
            })
            .collect();
        let errors = evaluation.errors.iter().map(ToString::to_string).collect();
        Ok(SpotTest { signals, decisions, errors })
    }

    /// Keeps the entity's current state: in memory where detectors need it, and in the store.
    /// Adds the event's entity to the batch; for an account, returns its state before.
    fn record_entity(&mut self, event: &Event, batch: &mut Batch) -> Result<Option<Account>, EngineError> {
        let row = |kind, id: &str, account_id: Option<&str>, body: String| EntityRow {
            kind,
            id: id.to_string(),
            account_id: account_id.map(str::to_string),
            body,
            deleted: false,
            updated_at: event.at,
        };
        let mut replaced = None;
        let entity = match &event.payload {
            Payload::AccountUpserted(a) => {
                replaced = self.state.accounts.insert(a.id.clone(), a.clone());
                row("account", &a.id, Some(&a.id), json(a))
            }
            Payload::PostCreated(p) => row("post", &p.id, Some(&p.account_id), json(p)),
            Payload::PostDeleted(p) => {
                let pending = batch.entities.iter().rev().find(|r| r.kind == "post" && r.id == p.id).cloned();
                let existing = match pending {
                    Some(r) => Some(r),
                    None => self.store.entity("post", &p.id)?,
                };
                let (account_id, body) = match existing {
                    Some(r) => (r.account_id, r.body),
                    None => (p.account_id.clone(), json(p)),
                };
                EntityRow { deleted: true, ..row("post", &p.id, account_id.as_deref(), body) }
            }
            Payload::ReportCreated(r) => row("report", &r.id, r.account_id.as_deref(), json(r)),
            Payload::FactCheckUpserted(f) => row("factcheck", &f.id, None, json(f)),
            Payload::IdentityUpserted(i) => row("identity", &i.id, None, json(i)),
            Payload::CredentialVerified(c) => {
                let id = format!("{}/{}", c.account_id, c.field);
                row("credential", &id, Some(&c.account_id), json(c))
            }
            Payload::FollowerSnapshot(s) => {
                // The newest count is the account's own: its disclosure follows it.
                if let Some(a) = self.state.accounts.get_mut(&s.account_id)
                    && a.followers != s.followers
                {
                    a.followers = s.followers;
                    batch.entities.push(row("account", &a.id, Some(&a.id), json(a)));
                }
                row("snapshot", &s.account_id, Some(&s.account_id), json(s))
            }
        };
        batch.entities.push(entity);
        Ok(replaced)
    }
}

/// Teaches the detectors an upsert event of an entity kind they learn from.
fn teach(detectors: &mut Detectors, event: &Event, findings: &mut Findings) {
    let kind = event.payload.event_type().split('.').next().unwrap_or_default();
    detectors.learn(kind, &Context { event, account: None }, findings);
}

/// Gives detectors the stored state of the entities they learn from (fact-checks, protected
/// identities, credentials).
fn restore_knowledge(store: &dyn Store, detectors: &mut Detectors) -> Result<(), EngineError> {
    let mut scratch = Findings::default();
    for kind in detectors.knowledge() {
        for row in store.entities(kind)? {
            if row.deleted {
                continue;
            }
            match Payload::from_entity(kind, &row.body) {
                Some(Ok(payload)) => {
                    let event = Event { id: format!("stored:{kind}/{}", row.id), at: row.updated_at, payload };
                    detectors.learn(kind, &Context { event: &event, account: None }, &mut scratch);
                }
                Some(Err(e)) => {
                    tracing::warn!(kind, id = %row.id, "stored entity left out of detector knowledge: {e}")
                }
                None => tracing::warn!(kind, "a detector learns from an entity kind that has no upsert event"),
            }
        }
    }
    Ok(())
}

/// Counts a live decision of a rule against its quota. Returns false when the rule has just
/// passed its ceiling: its breaker trips (recorded, audited, logged) and the decision, like
/// the rule's next ones, is made in shadow.
fn within_quota(
    breakers: &mut Breakers,
    stats: &RuleStats,
    policy: &Policy,
    rule: &steward_policy::Rule,
    now: DateTime<Utc>,
    batch: &mut Batch,
) -> bool {
    let Some(quota) = &rule.quota else { return true };
    let Some(trip) = breakers.decision(&rule.id, quota) else { return true };
    tracing::error!(
        rule = %rule.id,
        "circuit breaker tripped: {}; the rule runs in shadow until an admin re-arms it",
        trip.reason
    );
    let detail = json!({
        "cause": breaker::QUOTA,
        "reason": trip.reason,
        "decisions": trip.decisions,
        "posts": trip.posts,
        "quota": trip.quota,
        "policy_version": policy.version,
    });
    trip_breaker(breakers, &rule.id, trip.at, detail, now, batch);
    stats.trip(&rule.id, Mode::Shadow);
    false
}

/// A rule stopped at its budget: its breaker trips (recorded, audited, logged), and it is not
/// evaluated again until an admin re-arms it, so it stalls no more than one event.
fn over_budget(
    breakers: &mut Breakers,
    stats: &RuleStats,
    policy: &Policy,
    e: &EvalError,
    event_id: &str,
    now: DateTime<Utc>,
    batch: &mut Batch,
) {
    tracing::error!(
        rule = %e.rule_id,
        event = %event_id,
        "circuit breaker tripped: the rule's evaluation {}; the rule is not evaluated until an admin re-arms it",
        e.message
    );
    let detail = json!({
        "cause": breaker::EVALUATION_BUDGET,
        "reason": format!("evaluation {}", e.message),
        "event_id": event_id,
        "eval_steps": policy.budget().eval_steps,
        "estimate": policy.rule(&e.rule_id).map(|r| r.cost()),
        "policy_version": policy.version,
    });
    let at = breakers.now().unwrap_or(now);
    trip_breaker(breakers, &e.rule_id, at, detail, now, batch);
    stats.trip(&e.rule_id, Mode::Draft);
}

/// Trips a rule's breaker at traffic time `at`: the trip goes into the batch with its
/// `rule.breaker_tripped` audit entry, and into force.
fn trip_breaker(
    breakers: &mut Breakers,
    rule_id: &str,
    at: DateTime<Utc>,
    detail: serde_json::Value,
    now: DateTime<Utc>,
    batch: &mut Batch,
) {
    let tripped = TrippedBreaker { rule_id: rule_id.to_string(), tripped_at: at, detail: detail.to_string() };
    batch.audit.push(AuditRecord {
        at: now,
        action: "rule.breaker_tripped".into(),
        subject: rule_id.to_string(),
        body: detail.into(),
    });
    batch.breakers.push(BreakerChange::Tripped(tripped.clone()));
    breakers.insert(tripped);
}

/// The decisions of the rules that matched, and with `ladder` the credit ladder's steps that
/// the credit they deduct crosses.
fn outcomes(
    policy: &Policy,
    circumstances: &Circumstances,
    input: &Input,
    matches: Vec<Match<'_>>,
    ladder: bool,
) -> Vec<Outcome> {
    let mut outcomes: Vec<Outcome> = matches
        .into_iter()
        .map(|m| {
            let verdict = Verdict {
                rule_id: &m.rule.id,
                ground: &m.rule.ground,
                category: &m.rule.category,
                actions: &m.rule.actions,
                automated: m.rule.automated,
                explanation: m.explanation,
            };
            decide(policy, circumstances, verdict)
        })
        .collect();
    // Credit deductions may cross ladder thresholds, each of which escalates once.
    if let (true, Some(id), Some(before)) = (ladder, circumstances.account_id, circumstances.standing) {
        let deducted: i64 = outcomes.iter().map(|o| o.decision.credit_deducted as i64).sum();
        let after_credit = before.credit - deducted;
        let after = Standing { credit: after_credit, ..before.clone() };
        let input = Input { standing: Some(&after), ..*input };
        for step in policy.ladder_crossed(before.credit, after_credit) {
            let rule_id = format!("ladder.{}", step.id);
            let verdict = Verdict {
                rule_id: &rule_id,
                ground: &step.ground,
                category: &step.category,
                actions: &step.actions,
                automated: true,
                explanation: policy.render_ladder(step, &input),
            };
            let c = Circumstances { account_id: Some(id), ..*circumstances };
            outcomes.push(decide(policy, &c, verdict));
        }
    }
    outcomes
}

/// What [`Engine::spot_test`] found.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SpotTest {
    /// Signals raised on the event, and those given.
    #[schema(value_type = Vec<Object>)]
    pub signals: Vec<Signal>,
    /// What each matching rule would decide.
    pub decisions: Vec<SpotDecision>,
    /// Rules whose condition failed at run time (they count as not matching).
    pub errors: Vec<String>,
}

/// A decision a spot test would make, with the mode of its rule.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SpotDecision {
    #[schema(value_type = String)]
    pub mode: Mode,
    pub decision: Decision,
}

/// The live decisions of a committed batch (its shadow ones are recorded, not enforced), in
/// order.
fn live_decisions(batch: Batch) -> Vec<Decision> {
    let mut decisions = batch.decisions;
    decisions.retain(|d| !d.shadow);
    decisions
}

/// [`live_decisions`] of a batch that was shared with the committing thread: moved out when
/// the engine holds the last reference (that thread lets go before it reports), else copied.
fn take_live_decisions(batch: Arc<Batch>) -> Vec<Decision> {
    match Arc::try_unwrap(batch) {
        Ok(batch) => live_decisions(batch),
        Err(shared) => shared.decisions.iter().filter(|d| !d.shadow).cloned().collect(),
    }
}

/// Entities are plain data: serializing them cannot fail.
fn json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// The detectors, set up for the policy.
fn detectors_for(policy: &Policy, options: &EngineOptions) -> Detectors {
    let detectors =
        Detectors::with(&Settings { disclosure_followers: policy.disclosure.followers, groups: policy.groups.clone() });
    if options.partitioned { detectors.retain(|d| !d.needs_every_account()) } else { detectors }
}

/// An account's standing now, read from the store (restrictions lapse by time alone).
pub fn standing(
    store: &dyn Store,
    policy: &Policy,
    account_id: &str,
    at: DateTime<Utc>,
) -> Result<Standing, StoreError> {
    let mut restrictions = store.restrictions_for(account_id)?;
    let mut credits = store.credits_for(account_id)?;
    Reversal::apply(&store.reversals(Some(account_id))?, &mut restrictions, &mut credits);
    let account = store.entity("account", account_id)?.map(|row| state::account_of(&row)).transpose()?;
    let standing = Standing::compute(account_id, &restrictions, &credits, policy.credit.initial, at);
    Ok(standing.with_disclosure(account.as_ref(), policy.disclosure.followers))
}
