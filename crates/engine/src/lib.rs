//! The steward pipeline, the same for every entry point:
//!
//! ```text
//! record ─► validate ─► dedupe ─► detectors ─► signals ─► policy ─► decisions
//!        ─► enforcement (restrictions with an end, credit) ─► store + audit, in one commit
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

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use steward_detect::{Context, Detectors, EarlierSignal, Findings, Settings};
use steward_model::{Account, Decision, Event, Limits, Payload, RecordError, Signal, Standing, parse_event};
use steward_policy::{Input, Policy, PolicyErrors, Schema, SignalSpec};
use steward_store::{AuditRecord, Batch, EntityRow, Store, StoreError, StoredEvent};

mod decide;
pub mod input;
mod state;

use decide::{Circumstances, Verdict, decide};
use input::RawRecord;
use state::State;

/// The policy steward ships, compiled into the binary.
pub const DEFAULT_POLICY: &str = include_str!("../../../policies/default.toml");

/// The schema policies are checked against: every signal the registered detectors raise.
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

/// Where the engine's notion of "now" comes from.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// Engine settings.
#[derive(Clone)]
pub struct EngineOptions {
    pub limits: Limits,
    pub clock: Clock,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions { limits: Limits::default(), clock: Arc::new(Utc::now) }
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
    /// Dotted path of the offending field; empty for the record as a whole.
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
                .map(|e| (e, String::from_utf8_lossy(r.bytes).into_owned())),
        })
        .collect()
}

/// The result of one batch.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct IngestOutcome {
    pub accepted: usize,
    pub duplicates: usize,
    pub rejected: Vec<Rejection>,
    pub decisions: Vec<Decision>,
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
    /// Batches handed to the store and not yet confirmed (streaming ingest), with the
    /// position of each of their events.
    in_flight: std::collections::VecDeque<InFlight>,
    findings: Findings,
}

struct InFlight {
    events: std::collections::HashMap<String, usize>,
    batch: Arc<Batch>,
}

/// Events read per page when detectors rebuild their window at start.
const REPLAY_PAGE: usize = 5000;

impl Engine {
    /// Opens the engine over a store, rebuilding in-memory state from it, and records the
    /// policy in force in the audit log when it changed.
    pub fn open(store: Arc<dyn Store>, policy: Arc<Policy>, options: EngineOptions) -> Result<Engine, EngineError> {
        let now = (options.clock)();
        let state = State::load(store.as_ref(), now)?;
        let mut engine = Engine {
            detectors: detectors_for(&policy),
            store,
            policy,
            state,
            options,
            stale: false,
            in_flight: Default::default(),
            findings: Findings::default(),
        };
        engine.restore_knowledge()?;
        engine.replay_window()?;
        Ok(engine)
    }

    /// Gives detectors the stored state of the entities they learn from (fact-checks,
    /// protected identities, credentials).
    fn restore_knowledge(&mut self) -> Result<(), EngineError> {
        let mut scratch = Findings::default();
        for kind in self.detectors.knowledge() {
            for row in self.store.entities(kind)? {
                if row.deleted {
                    continue;
                }
                match Payload::from_entity(kind, &row.body) {
                    Some(Ok(payload)) => {
                        let event = Event { id: format!("stored:{kind}/{}", row.id), at: row.updated_at, payload };
                        self.detectors.learn(kind, &Context { event: &event, account: None }, &mut scratch);
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

    /// Rebuilds the detectors' state from the stored events of their window, in received
    /// order, as if they had just run.
    fn replay_window(&mut self) -> Result<(), EngineError> {
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
            let page = self.store.events_since(since, after, REPLAY_PAGE)?;
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

    pub fn options(&self) -> &EngineOptions {
        &self.options
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
        let parsed = parse_records(records, &self.options.limits, (self.options.clock)());
        let (batch, outcome) = self.prepare(parsed)?;
        self.commit(&batch)?;
        Ok(outcome)
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
                    if to_report.send(store.commit(&batch).map(|_| ())).is_err() {
                        break;
                    }
                }
            });
            let mut waiting: std::collections::VecDeque<IngestOutcome> = Default::default();
            let mut confirm = |engine: &mut Engine, waiting: &mut std::collections::VecDeque<IngestOutcome>, r| {
                let outcome = waiting.pop_front();
                engine.in_flight.pop_front();
                match r {
                    Ok(()) => {
                        done(outcome.unwrap_or_default());
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

    /// Dedupes and processes parsed records into the batch to commit and its outcome.
    /// Memory is updated at once; a failed commit marks it stale.
    fn prepare(&mut self, parsed: Vec<Parsed>) -> Result<(Batch, IngestOutcome), EngineError> {
        let now = (self.options.clock)();
        if self.stale {
            self.state = State::load(self.store.as_ref(), now)?;
            self.in_flight.clear();
            self.detectors = detectors_for(&self.policy);
            self.restore_knowledge()?;
            self.replay_window()?;
            self.stale = false;
        }
        let mut outcome = IngestOutcome::default();
        let mut events = Vec::with_capacity(parsed.len());
        for p in parsed {
            match p.result {
                Ok((event, raw)) => events.push((event, raw)),
                Err(e) => outcome.rejected.push(Rejection {
                    index: p.index,
                    line: p.line,
                    field: e.field.clone(),
                    error: e.to_string(),
                }),
            }
        }
        let ids: Vec<&str> = events.iter().map(|(e, _)| e.id.as_str()).collect();
        let stored = self.store.existing_event_ids(&ids)?;
        let mut seen = HashSet::with_capacity(events.len());
        let mut batch = Batch::default();
        let mut findings = std::mem::take(&mut self.findings);
        for (event, raw) in events {
            let in_flight = self.in_flight.iter().any(|f| f.events.contains_key(&event.id));
            if stored.contains(&event.id) || in_flight || !seen.insert(event.id.clone()) {
                outcome.duplicates += 1;
                continue;
            }
            // The event goes into the batch first: a detector may signal it again at once.
            batch.events.push(StoredEvent {
                id: event.id.clone(),
                event_type: event.payload.event_type().to_string(),
                at: event.at,
                body: raw,
            });
            self.process(&event, now, &mut findings, &mut batch, &mut outcome.decisions)?;
            outcome.accepted += 1;
        }
        self.findings = findings;
        Ok((batch, outcome))
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
        decisions: &mut Vec<Decision>,
    ) -> Result<(), EngineError> {
        let replaced = self.record_entity(event, batch)?;
        let account = match &event.payload {
            Payload::AccountUpserted(_) => replaced.as_ref(),
            payload => payload.account_id().and_then(|id| self.state.accounts.get(id)),
        };
        findings.clear();
        self.detectors.inspect(&Context { event, account }, findings);
        self.judge(event, &findings.signals, now, batch, decisions, false)?;
        for earlier in findings.earlier.drain(..) {
            self.judge_earlier(earlier, now, batch, decisions)?;
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
        decisions: &mut Vec<Decision>,
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
        self.judge(&event, std::slice::from_ref(&earlier.signal), now, batch, decisions, true)
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
        decisions: &mut Vec<Decision>,
        once: bool,
    ) -> Result<(), EngineError> {
        let account_id = event.payload.account_id();
        let account = account_id.and_then(|id| self.state.accounts.get(id));
        let standing = account_id.map(|id| self.state.standing(id, &self.policy, now));
        let post = match &event.payload {
            Payload::PostCreated(p) => Some(p),
            _ => None,
        };
        let input = Input { event, account, post, signals, standing: standing.as_ref() };
        // A rule that fails at run time counts as not matching; the others still decide.
        let evaluation = self.policy.evaluate_all(&input);
        for e in &evaluation.errors {
            tracing::warn!(event = %event.id, "policy rule failed: {e}");
        }
        let mut matches = evaluation.matches;
        if once {
            let mut fresh = Vec::with_capacity(matches.len());
            for m in matches {
                if !self.decided(&steward_model::decision_id(&event.id, &m.rule.id), batch)? {
                    fresh.push(m);
                }
            }
            matches = fresh;
        }
        if matches.is_empty() {
            return Ok(());
        }
        let circumstances = Circumstances {
            event,
            account_id,
            post_id: post.map(|p| p.id.as_str()),
            signals,
            standing: standing.as_ref(),
            now,
        };
        let mut outcomes: Vec<_> = matches
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
                decide(&self.policy, &circumstances, verdict)
            })
            .collect();
        // Credit deductions may cross ladder thresholds, each of which escalates once.
        if let (Some(id), Some(before)) = (account_id, standing.as_ref()) {
            let deducted: i64 = outcomes.iter().map(|o| o.decision.credit_deducted as i64).sum();
            let after_credit = before.credit - deducted;
            let after = Standing { credit: after_credit, ..before.clone() };
            let input = Input { standing: Some(&after), ..input };
            for step in &self.policy.ladder {
                if before.credit >= step.below && after_credit < step.below {
                    let rule_id = format!("ladder.{}", step.id);
                    let verdict = Verdict {
                        rule_id: &rule_id,
                        ground: &step.ground,
                        category: &step.category,
                        actions: &step.actions,
                        automated: true,
                        explanation: self.policy.render_ladder(step, &input),
                    };
                    let c = Circumstances { account_id: Some(id), ..circumstances };
                    outcomes.push(decide(&self.policy, &c, verdict));
                }
            }
        }
        for o in outcomes {
            self.state.enforce(&o.decision.restrictions, &o.credits, now);
            batch.audit.push(AuditRecord {
                at: now,
                action: "decision.created".into(),
                subject: o.decision.id.clone(),
                body: json!({
                    "event_id": o.decision.event_id,
                    "rule_id": o.decision.rule_id,
                    "policy_version": o.decision.policy_version,
                    "account_id": o.decision.account_id,
                    "post_id": o.decision.post_id,
                    "actions": o.decision.actions,
                    "restrictions": o.decision.restrictions,
                    "credit_deducted": o.decision.credit_deducted,
                }),
            });
            batch.restrictions.extend(o.decision.restrictions.iter().cloned());
            batch.credits.extend(o.credits);
            decisions.push(o.decision.clone());
            batch.decisions.push(o.decision);
        }
        Ok(())
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

/// Entities are plain data: serializing them cannot fail.
fn json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// The detectors, set up for the policy.
fn detectors_for(policy: &Policy) -> Detectors {
    Detectors::with(&Settings { disclosure_followers: policy.disclosure.followers })
}

/// An account's standing now, read from the store (restrictions lapse by time alone).
pub fn standing(
    store: &dyn Store,
    policy: &Policy,
    account_id: &str,
    at: DateTime<Utc>,
) -> Result<Standing, StoreError> {
    let restrictions = store.restrictions_for(account_id)?;
    let credits = store.credits_for(account_id)?;
    let account = store.entity("account", account_id)?.map(|row| state::account_of(&row)).transpose()?;
    let standing = Standing::compute(account_id, &restrictions, &credits, policy.credit.initial, at);
    Ok(standing.with_disclosure(account.as_ref(), policy.disclosure.followers))
}
