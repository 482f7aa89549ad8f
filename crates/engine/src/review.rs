//! The human loop on the write path: cases opened by decisions that ask for review and by
//! user reports, moderators' claims and actions, appeals, and the reversal of what a person
//! overturned. The engine owns the write path, so every change here is worked out against
//! what is stored (and what the batch being prepared holds) and written in one commit with
//! its case log entries and audit records; an overturn also updates the enforcement the
//! engine keeps in memory, so standing shows it at once.

use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use steward_model::{
    AppealFiled, AppealState, Audience, Case, CaseAction, CaseEntry, CaseReport, CaseState, Claim, Decision, Event,
    NoticeKind, Report, ReportState, ReporterMute, Reversal, Subject, SubjectKind, Visibility, parse_event,
};
use steward_store::{AuditRecord, Batch, Chain, ReviewWrite, Store, StoreError};

use steward_policy::{
    CaseInput, DEFAULT_CLAIM_MINUTES, QUEUE_APPEALS as APPEALS_QUEUE, QUEUE_ESCALATED as ESCALATED_QUEUE,
    QUEUE_REPORTS as REPORTS_QUEUE, default_bulk_cap,
};

use crate::decide::{Circumstances, Verdict, decide};
use crate::{Engine, EngineError, notice};

/// The actor of what the engine does.
pub const ENGINE_ACTOR: &str = "steward";

/// A decision waiting to join its subject's case ([`Engine::join_cases`]).
pub(crate) struct Join {
    subject: Subject,
    /// The case is about the decision's account alone (not a campaign's).
    one_account: bool,
    decision_id: String,
    rule_id: String,
    category: String,
    account_id: Option<String>,
    queue: String,
    at: DateTime<Utc>,
    /// The audit chain of the decision's event.
    chain: Chain,
}

/// Why a review request was refused; nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error("{0}")]
    NotFound(String),
    /// The case moved on, is held by someone else, or something is pending already.
    #[error("{message}")]
    Conflict { message: String, case: Option<Box<Case>> },
    /// The caller may not do this (not the decision's account; took part in the decision).
    #[error("{0}")]
    Forbidden(String),
    /// The request cannot be carried out as it stands (the appeal window has closed).
    #[error("{0}")]
    Unprocessable(String),
    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl From<steward_store::StoreError> for ReviewError {
    fn from(e: steward_store::StoreError) -> ReviewError {
        ReviewError::Engine(e.into())
    }
}

fn conflict(message: impl Into<String>, case: &Case) -> ReviewError {
    ReviewError::Conflict { message: message.into(), case: Some(Box::new(case.clone())) }
}

/// A short stable id from what caused the record: the same cause gives the same id.
fn id_from(prefix: &str, cause: &str) -> String {
    let digest = Sha256::digest(cause.as_bytes());
    format!("{prefix}_{}", hex::encode(&digest[..10]))
}

/// Priority from what the case holds: a decision that asked for review, the weight of its
/// reporters, and the reach of the account. Appeals are taken in the order they came.
fn priority(case: &Case) -> f64 {
    if case.queue == APPEALS_QUEUE {
        return 0.0;
    }
    let queued = if case.decisions.is_empty() { 0.0 } else { 10.0 };
    queued + 10.0 * case.reporter_weight.ln_1p() + 5.0 * (case.reach as f64).ln_1p() / std::f64::consts::LN_10
}

/// The reports of a subject's open case that a moderator's outcome settles.
fn settle(reports: Vec<CaseReport>, to: ReportState, only: &[String]) -> Vec<CaseReport> {
    reports
        .into_iter()
        .filter(|r| r.state == ReportState::Open && (only.is_empty() || only.contains(&r.id)))
        .map(|r| CaseReport { state: to, ..r })
        .collect()
}

impl Engine {
    /// The human loop's writes not in the store yet, oldest first: those of batches being
    /// committed (streamed ingest), then the batch being prepared.
    fn pending_reviews<'a>(&'a self, batch: &'a Batch) -> impl Iterator<Item = &'a ReviewWrite> {
        self.in_flight.iter().flat_map(|f| f.batch.review.iter()).chain(&batch.review)
    }

    /// The subject's case not resolved, as the batches not yet stored leave it.
    fn open_case_in(&self, subject: &Subject, batch: &Batch) -> Result<Option<Case>, EngineError> {
        let pending = self.pending_reviews(batch).fold(None, |last, w| match w {
            ReviewWrite::Case(c) if c.subject == *subject => Some(c),
            _ => last,
        });
        match pending {
            Some(c) if c.state == CaseState::Resolved => Ok(None),
            Some(c) => Ok(Some(c.clone())),
            None => Ok(self.store.open_case(subject)?),
        }
    }

    /// The reports of a case, as the batches not yet stored leave them.
    fn reports_in(&self, case_id: &str, batch: &Batch) -> Result<Vec<CaseReport>, EngineError> {
        let mut reports = self.store.case_reports(case_id)?;
        for w in self.pending_reviews(batch) {
            if let ReviewWrite::Report(r) = w
                && r.case_id.as_deref() == Some(case_id)
            {
                match reports.iter_mut().find(|s| s.id == r.id) {
                    Some(s) => *s = r.clone(),
                    None => reports.push(r.clone()),
                }
            }
        }
        Ok(reports)
    }

    /// A new case on `subject`, opened by `cause` (the id of a decision, report or appeal).
    fn new_case(
        &self,
        subject: Subject,
        cause: &str,
        queue: &str,
        account_id: Option<&str>,
        now: DateTime<Utc>,
    ) -> Case {
        Case {
            id: id_from("case", cause),
            subject,
            queue: queue.to_string(),
            state: CaseState::Open,
            version: 0,
            priority: 0.0,
            category: String::new(),
            account_id: account_id.map(str::to_string),
            decisions: Vec::new(),
            reports: Vec::new(),
            appeals: Vec::new(),
            reporters: 0,
            reporter_weight: 0.0,
            reach: account_id.and_then(|a| self.state.accounts.get(a)).map_or(0, |a| a.followers),
            claim: None,
            opened_at: now,
            updated_at: now,
            resolved_at: None,
            outcome: None,
        }
    }

    /// Sends the case where the policy's routes say, when one holds. An appeal stays in the
    /// appeals queue, with a moderator who took no part in the decision.
    fn route(&self, case: &mut Case, batch: &Batch) -> Result<(), EngineError> {
        if case.queue == APPEALS_QUEUE || self.policy.routes.is_empty() {
            return Ok(());
        }
        let mut signals: Vec<String> = Vec::new();
        for id in &case.decisions {
            let pending = batch.decisions.iter().find(|d| &d.id == id).cloned();
            let Some(d) = pending.map_or_else(|| self.store.decision(id), |d| Ok(Some(d)))? else { continue };
            for s in d.facts["signals"].as_array().into_iter().flatten() {
                if let Some(name) = s["name"].as_str().filter(|n| !signals.iter().any(|s| s == n)) {
                    signals.push(name.to_string());
                }
            }
        }
        let input = CaseInput {
            subject: case.subject.kind.as_str(),
            category: &case.category,
            queue: &case.queue,
            reporters: case.reporters,
            reporter_weight: case.reporter_weight,
            reach: case.reach,
            decisions: u32::try_from(case.decisions.len()).unwrap_or(u32::MAX),
            signals: &signals,
            appeal: !case.appeals.is_empty(),
        };
        let routed = self.policy.route(&input);
        for e in &routed.errors {
            tracing::warn!(case = %case.id, "policy route failed: {e}");
        }
        if let Some(queue) = routed.queue {
            case.queue = queue.id.clone();
        }
        Ok(())
    }

    /// Writes the case as `entry` leaves it: a new version, its log entry and audit record.
    fn log(
        case: &mut Case,
        batch: &mut Batch,
        actor: &str,
        action: &str,
        reason: &str,
        detail: Value,
        at: DateTime<Utc>,
    ) {
        case.version += 1;
        case.updated_at = at;
        case.priority = priority(case);
        let entry = CaseEntry {
            case_id: case.id.clone(),
            at,
            actor: actor.to_string(),
            action: action.to_string(),
            reason: reason.to_string(),
            version: case.version,
            detail,
        };
        batch.audit.push(AuditRecord {
            at,
            action: format!("case.{action}"),
            subject: case.id.clone(),
            body: json!({
                "actor": actor,
                "reason": reason,
                "version": case.version,
                "state": case.state.as_str(),
                "queue": case.queue,
                "detail": entry.detail,
            })
            .into(),
        });
        batch.review.push(ReviewWrite::Case(case.clone()));
        batch.review.push(ReviewWrite::Entry(entry));
    }

    /// A live decision whose actions ask for review: it joins its subject's case once its
    /// batch is complete ([`Engine::join_cases`]).
    pub(crate) fn queue_decision(&mut self, d: &Decision, queue: &str, now: DateTime<Utc>, batch: &Batch) {
        // A decision about a post of a campaign is reviewed with the campaign's others: one
        // case gathers them, however many accounts posted.
        let campaign =
            d.facts["signals"].as_array().into_iter().flatten().find_map(|s| s["evidence"]["campaign"].as_str());
        let subject = match (campaign, &d.post_id, &d.account_id) {
            (Some(campaign), ..) => Subject::new(SubjectKind::Campaign, campaign),
            (None, Some(post), _) => Subject::new(SubjectKind::Post, post),
            (None, None, Some(account)) => Subject::new(SubjectKind::Account, account),
            (None, None, None) => return,
        };
        self.joins.push(Join {
            one_account: campaign.is_none(),
            subject,
            decision_id: d.id.clone(),
            rule_id: d.rule_id.clone(),
            category: d.category.clone(),
            account_id: d.account_id.clone(),
            queue: queue.to_string(),
            at: now,
            chain: batch.chains.last().map_or_else(Chain::root, |span| span.chain.clone()),
        });
    }

    /// Joins decisions to their subjects' cases, in order: each opens the case, or joins the
    /// one open as the store and `batch` leave it. They come last in a batch because a case
    /// can be shared by writers (a campaign's, by the owners of its accounts' partitions):
    /// when another commits first, [`Engine::commit_group`] makes them again on its version.
    pub(crate) fn join_cases(&self, joins: &[Join], batch: &mut Batch) -> Result<(), EngineError> {
        for j in joins {
            batch.audit_on(&j.chain);
            let one_account = if j.one_account { j.account_id.as_deref() } else { None };
            let mut case = match self.open_case_in(&j.subject, batch)? {
                Some(c) => c,
                None => self.new_case(j.subject.clone(), &j.decision_id, &j.queue, one_account, j.at),
            };
            if case.decisions.contains(&j.decision_id) {
                continue;
            }
            let followers = j.account_id.as_deref().and_then(|a| self.state.accounts.get(a)).map_or(0, |a| a.followers);
            case.reach = case.reach.max(followers);
            if case.queue == REPORTS_QUEUE {
                case.queue = j.queue.clone();
            }
            if case.category.is_empty() {
                case.category = j.category.clone();
            }
            case.decisions.push(j.decision_id.clone());
            self.route(&mut case, batch)?;
            let detail = json!({ "decision_id": j.decision_id, "rule_id": j.rule_id });
            Self::log(&mut case, batch, ENGINE_ACTOR, "decision", "", detail, j.at);
        }
        Ok(())
    }

    /// Why a report's subject is not one steward knows, if it is not.
    pub(crate) fn unknown_report_subject(
        &self,
        r: &Report,
        batch: &Batch,
    ) -> Result<Option<(String, String)>, EngineError> {
        let known = |kind: &str, id: &str| -> Result<bool, EngineError> {
            let in_batch = batch.entities.iter().any(|e| e.kind == kind && e.id == id);
            Ok(in_batch || self.store.entity(kind, id)?.is_some())
        };
        if let Some(post) = &r.post_id {
            if !known("post", post)? {
                return Ok(Some((
                    "report.post_id".into(),
                    format!("no post {post:?} is known: report a post steward has seen"),
                )));
            }
        } else if let Some(account) = &r.account_id
            && !self.state.accounts.contains_key(account)
            && !known("account", account)?
        {
            return Ok(Some((
                "report.account_id".into(),
                format!("no account {account:?} is known: report an account steward has seen"),
            )));
        }
        Ok(None)
    }

    /// A user report joins the subject's open case or opens one in the reports queue. A
    /// reporter's second report of a subject under review is a duplicate; a muted
    /// reporter's report is recorded and not queued.
    pub(crate) fn file_report(&self, r: &Report, now: DateTime<Utc>, batch: &mut Batch) -> Result<(), EngineError> {
        let subject = match (&r.post_id, &r.account_id) {
            (Some(post), _) => Subject::new(SubjectKind::Post, post),
            (None, Some(account)) => Subject::new(SubjectKind::Account, account),
            (None, None) => return Ok(()),
        };
        let reporter = self.store.reporter_standing(&r.reporter_id)?;
        let mut report = CaseReport {
            id: r.id.clone(),
            reporter_id: r.reporter_id.clone(),
            subject: subject.clone(),
            reason: r.reason.clone(),
            text: r.text.clone(),
            at: now,
            case_id: None,
            state: ReportState::Open,
            weight: reporter.weight,
        };
        if reporter.muted_at(now) {
            report.state = ReportState::Muted;
            batch.review.push(ReviewWrite::Report(report));
            return Ok(());
        }
        let account_id = match &subject.kind {
            SubjectKind::Account => Some(subject.id.clone()),
            _ => r.account_id.clone().or_else(|| self.post_account(&subject.id, batch)),
        };
        let mut case = match self.open_case_in(&subject, batch)? {
            Some(c) => c,
            None => self.new_case(subject, &r.id, REPORTS_QUEUE, account_id.as_deref(), now),
        };
        report.case_id = Some(case.id.clone());
        let earlier = self.reports_in(&case.id, batch)?;
        if earlier.iter().any(|e| e.reporter_id == r.reporter_id && e.id != r.id) {
            report.state = ReportState::Duplicate;
            batch.review.push(ReviewWrite::Report(report));
            return Ok(());
        }
        if case.category.is_empty() {
            case.category = r.reason.clone();
        }
        case.reports.push(r.id.clone());
        case.reporters += 1;
        case.reporter_weight += reporter.weight;
        self.route(&mut case, batch)?;
        let detail = json!({ "report_id": r.id, "reporter_id": r.reporter_id, "weight": reporter.weight });
        batch.review.push(ReviewWrite::Report(report));
        Self::log(&mut case, batch, ENGINE_ACTOR, "report", &r.reason, detail, now);
        Ok(())
    }

    /// The account that wrote a post, from the batch or the store.
    fn post_account(&self, post_id: &str, batch: &Batch) -> Option<String> {
        let row = batch.entities.iter().rev().find(|e| e.kind == "post" && e.id == post_id).cloned();
        let row = row.or_else(|| self.store.entity("post", post_id).ok().flatten());
        row.and_then(|e| e.account_id)
    }

    /// Gives `actor` the next case of `queue` they may take: the highest ranked that is
    /// free, leaving out, in the appeals queue, cases about decisions they took part in.
    pub fn claim_next(&mut self, queue: &str, actor: &str) -> Result<Option<Case>, ReviewError> {
        let now = (self.options.clock)();
        let mut seen = 0;
        loop {
            let page = self.store.claimable_cases(queue, now, seen + 50)?;
            let fresh = page.len() > seen;
            for case in page.into_iter().skip(seen) {
                seen += 1;
                if case.queue == APPEALS_QUEUE && self.participants(&case)?.contains(actor) {
                    continue;
                }
                let version = case.version;
                return self.act(&case.id, version, actor, CaseAction::Claim {}).map(Some);
            }
            if !fresh {
                return Ok(None);
            }
        }
    }

    /// Who took part in the decisions of a case: the people who acted on any case of its
    /// subject that held one of them (claims alone are not taking part).
    fn participants(&self, case: &Case) -> Result<HashSet<String>, EngineError> {
        Ok(participants(self.store.as_ref(), case)?)
    }

    /// Carries out a moderator's action on case `case_id` at `version`. Returns the case as
    /// it now stands.
    pub fn act(&mut self, case_id: &str, version: u64, actor: &str, action: CaseAction) -> Result<Case, ReviewError> {
        let now = (self.options.clock)();
        let Some(mut case) = self.store.case(case_id)? else {
            return Err(ReviewError::NotFound(format!("no case {case_id:?}")));
        };
        if case.version != version {
            return Err(conflict(
                format!(
                    "case {case_id} is at version {}, not {version}: read it again and act on what it now holds",
                    case.version
                ),
                &case,
            ));
        }
        if case.state == CaseState::Resolved {
            return Err(conflict(
                format!("case {case_id} is resolved ({})", case.outcome.as_deref().unwrap_or("")),
                &case,
            ));
        }
        let holder = case.claimed_at(now).map(|c| c.by.clone());
        match (&action, holder.as_deref()) {
            (CaseAction::Comment { .. }, _) => {}
            (_, Some(by)) if by != actor => {
                let until = case.claim.as_ref().map(|c| c.until.to_rfc3339()).unwrap_or_default();
                return Err(conflict(format!("case {case_id} is claimed by {by} until {until}"), &case));
            }
            (CaseAction::Claim {}, _) => {}
            (_, None) => {
                return Err(conflict(
                    format!("claim case {case_id} before acting on it (an action of type \"claim\")"),
                    &case,
                ));
            }
            _ => {}
        }
        let appeals = self.pending_appeals(&case)?;
        let deciding =
            matches!(action, CaseAction::Uphold { .. } | CaseAction::Overturn { .. } | CaseAction::Modify { .. });
        if deciding && !appeals.is_empty() && self.participants(&case)?.contains(actor) {
            return Err(ReviewError::Forbidden(format!(
                "{actor} took part in the decision appealed; another moderator must decide the appeal"
            )));
        }
        let mut batch = Batch::default();
        let reports = self.store.case_reports(&case.id)?;
        match action {
            CaseAction::Claim {} => {
                let renewing = holder.is_some();
                case.state = CaseState::Assigned;
                let minutes = self.policy.queue(&case.queue).map_or(DEFAULT_CLAIM_MINUTES, |q| q.claim_minutes);
                case.claim = Some(Claim { by: actor.to_string(), until: now + Duration::minutes(i64::from(minutes)) });
                let detail = json!({ "until": case.claim.as_ref().map(|c| c.until) });
                Self::log(&mut case, &mut batch, actor, if renewing { "renewed" } else { "claimed" }, "", detail, now);
            }
            CaseAction::Release {} => {
                case.state = if case.queue == ESCALATED_QUEUE { CaseState::Escalated } else { CaseState::Open };
                case.claim = None;
                Self::log(&mut case, &mut batch, actor, "released", "", json!({}), now);
            }
            CaseAction::Uphold { reason } => {
                require_reason(&reason)?;
                for r in settle(reports, ReportState::Upheld, &[]) {
                    batch.review.push(ReviewWrite::Report(r));
                }
                self.decide_appeals(appeals, AppealState::Upheld, actor, &reason, now, &mut batch);
                resolve(&mut case, "upheld", now);
                let detail = json!({ "decisions": case.decisions });
                Self::log(&mut case, &mut batch, actor, "upheld", &reason, detail, now);
            }
            CaseAction::Overturn { reason } => {
                require_reason(&reason)?;
                let reversed = self.reverse(&case, actor, &reason, now, &mut batch)?;
                for r in settle(reports, ReportState::Dismissed, &[]) {
                    batch.review.push(ReviewWrite::Report(r));
                }
                self.decide_appeals(appeals, AppealState::Overturned, actor, &reason, now, &mut batch);
                resolve(&mut case, "overturned", now);
                Self::log(&mut case, &mut batch, actor, "overturned", &reason, json!({ "reversed": reversed }), now);
            }
            CaseAction::Modify { reason, actions } => {
                require_reason(&reason)?;
                if actions.is_empty() {
                    return Err(ReviewError::Unprocessable(
                        "modify needs the actions that replace the decision's (to end them all, overturn)".into(),
                    ));
                }
                let reversed = self.reverse(&case, actor, &reason, now, &mut batch)?;
                // One decision in place of each event's: a campaign's case gets one for each
                // of its posts, a post decided by two rules one for the post.
                let mut made: Vec<String> = Vec::new();
                let mut events = HashSet::new();
                for id in &reversed {
                    let original = self.store.decision(id)?.expect("reversed decisions are stored");
                    if events.insert(original.event_id.clone()) {
                        made.push(self.replace(&original, &case, actor, &reason, &actions, now, &mut batch)?);
                    }
                }
                for r in settle(reports, ReportState::Upheld, &[]) {
                    batch.review.push(ReviewWrite::Report(r));
                }
                self.decide_appeals(appeals, AppealState::Overturned, actor, &reason, now, &mut batch);
                case.decisions.extend(made.iter().cloned());
                resolve(&mut case, "modified", now);
                let detail =
                    json!({ "reversed": reversed, "decision_id": made[0], "decision_ids": made, "actions": actions });
                Self::log(&mut case, &mut batch, actor, "modified", &reason, detail, now);
            }
            CaseAction::Escalate { reason, queue } => {
                require_reason(&reason)?;
                case.state = CaseState::Escalated;
                case.claim = None;
                case.queue = queue.filter(|q| !q.trim().is_empty()).unwrap_or_else(|| ESCALATED_QUEUE.to_string());
                let detail = json!({ "queue": case.queue });
                Self::log(&mut case, &mut batch, actor, "escalated", &reason, detail, now);
            }
            CaseAction::Comment { text, visibility } => {
                if text.trim().is_empty() {
                    return Err(ReviewError::Unprocessable("a comment needs text".into()));
                }
                comment_notices(&case, &reports, &text, visibility, now, &mut batch);
                Self::log(
                    &mut case,
                    &mut batch,
                    actor,
                    "commented",
                    "",
                    json!({ "text": text, "visibility": visibility }),
                    now,
                );
            }
            CaseAction::DismissReports { reason, report_ids } => {
                require_reason(&reason)?;
                if let Some(unknown) = report_ids.iter().find(|id| !reports.iter().any(|r| &r.id == *id)) {
                    return Err(ReviewError::NotFound(format!("case {case_id} holds no report {unknown:?}")));
                }
                let dismissed = settle(reports.clone(), ReportState::Dismissed, &report_ids);
                let ids: Vec<&str> = dismissed.iter().map(|r| r.id.as_str()).collect();
                let still_open = reports.iter().filter(|r| r.state == ReportState::Open).count() > ids.len();
                let detail = json!({ "reports": ids });
                for r in &dismissed {
                    case.reporter_weight = (case.reporter_weight - r.weight).max(0.0);
                }
                for r in dismissed {
                    batch.review.push(ReviewWrite::Report(r));
                }
                if !still_open && case.decisions.is_empty() && appeals.is_empty() {
                    resolve(&mut case, "dismissed", now);
                }
                Self::log(&mut case, &mut batch, actor, "reports_dismissed", &reason, detail, now);
            }
        }
        outcome_notices(&case, &mut batch, now);
        self.commit(&batch)?;
        Ok(case)
    }

    fn pending_appeals(&self, case: &Case) -> Result<Vec<AppealFiled>, EngineError> {
        let mut out = Vec::new();
        for id in &case.appeals {
            if let Some(a) = self.store.appeal(id)?
                && a.state == AppealState::Pending
            {
                out.push(a);
            }
        }
        Ok(out)
    }

    fn decide_appeals(
        &self,
        appeals: Vec<AppealFiled>,
        to: AppealState,
        actor: &str,
        reason: &str,
        now: DateTime<Utc>,
        batch: &mut Batch,
    ) {
        for a in appeals {
            batch.audit.push(AuditRecord {
                at: now,
                action: format!("appeal.{}", to.as_str()),
                subject: a.id.clone(),
                body: json!({ "decision_id": a.decision_id, "by": actor, "reason": reason }).into(),
            });
            batch.review.push(ReviewWrite::Appeal(AppealFiled {
                state: to,
                decided_by: Some(actor.to_string()),
                decided_at: Some(now),
                reason: reason.to_string(),
                ..a
            }));
        }
    }

    /// Reverses the live decisions of a case not reversed yet, in the store and in memory.
    /// Returns their ids; a case holding none cannot be overturned.
    fn reverse(
        &mut self,
        case: &Case,
        actor: &str,
        reason: &str,
        now: DateTime<Utc>,
        batch: &mut Batch,
    ) -> Result<Vec<String>, ReviewError> {
        let mut in_force = Vec::new();
        for id in &case.decisions {
            let Some(d) = self.store.decision(id)? else { continue };
            if !d.shadow && self.store.reversal(id)?.is_none() {
                in_force.push(d);
            }
        }
        let cap = self.policy.queue(&case.queue).map_or_else(|| default_bulk_cap(&case.queue), |q| q.bulk_cap);
        if in_force.len() > cap as usize {
            return Err(ReviewError::Unprocessable(format!(
                "this would reverse {} decisions of case {}, over the cap of {cap} for one action in queue `{}` \
                 (the policy's `bulk_cap`): escalate the case for a senior moderator",
                in_force.len(),
                case.id,
                case.queue
            )));
        }
        let mut reversed = Vec::new();
        for d in in_force {
            let reversal = Reversal {
                decision_id: d.id.clone(),
                account_id: d.account_id.clone(),
                at: now,
                by: actor.to_string(),
                reason: reason.to_string(),
                case_id: case.id.clone(),
            };
            batch.audit.push(AuditRecord {
                at: now,
                action: "decision.reversed".into(),
                subject: d.id.clone(),
                body: json!({ "by": actor, "reason": reason, "case_id": case.id }).into(),
            });
            self.state.reverse(&reversal);
            batch.review.push(ReviewWrite::Reversal(reversal));
            reversed.push(d.id);
        }
        if reversed.is_empty() {
            return Err(ReviewError::Unprocessable(format!(
                "case {} holds no decision in force to reverse: dismiss its reports instead",
                case.id
            )));
        }
        Ok(reversed)
    }

    /// The decision a moderator puts in place of `original`: the same subject, ground and
    /// category, the moderator's actions, made by a person.
    #[allow(clippy::too_many_arguments)]
    fn replace(
        &mut self,
        original: &Decision,
        case: &Case,
        actor: &str,
        reason: &str,
        actions: &[steward_model::Action],
        now: DateTime<Utc>,
        batch: &mut Batch,
    ) -> Result<String, ReviewError> {
        let Some(stored) = self.store.event(&original.event_id)? else {
            return Err(ReviewError::NotFound(format!(
                "the event {} of decision {} is not stored",
                original.event_id, original.id
            )));
        };
        let event: Event = parse_event(stored.body.as_bytes(), &self.options.limits, now).map_err(|e| {
            ReviewError::Unprocessable(format!("the event of decision {} no longer reads: {e}", original.id))
        })?;
        let policy = self.policy.clone();
        let standing = original.account_id.as_deref().map(|a| self.state.standing(a, &policy, now));
        let circumstances = Circumstances {
            event: &event,
            account_id: original.account_id.as_deref(),
            post_id: original.post_id.as_deref(),
            signals: &[],
            standing: standing.as_ref(),
            now,
        };
        let rule_id = format!("review.{}.{}", case.id, case.version + 1);
        let verdict = Verdict {
            rule_id: &rule_id,
            ground: &original.ground,
            category: &original.category,
            actions,
            automated: false,
            explanation: reason.to_string(),
        };
        let mut outcome = decide(&policy, &circumstances, verdict);
        outcome.decision.automated_detection = original.automated_detection;
        outcome.decision.facts["replaces"] = json!(original.id);
        outcome.decision.facts["decided_by"] = json!(actor);
        self.state.enforce(&outcome.decision.restrictions, &outcome.credits, now);
        batch.audit.push(AuditRecord {
            at: now,
            action: "decision.created".into(),
            subject: outcome.decision.id.clone(),
            body: crate::decide::audit_body(&outcome.decision),
        });
        batch.restrictions.extend(outcome.decision.restrictions.iter().cloned());
        batch.credits.extend(outcome.credits);
        let id = outcome.decision.id.clone();
        batch.notices.extend(notice::decision(&outcome.decision));
        batch.decisions.push(outcome.decision);
        Ok(id)
    }

    /// Files an appeal by `account_id` against decision `decision_id`: only the decision's
    /// account, within its window, one pending at a time. The appeal joins the subject's
    /// open case, or opens one, in the appeals queue.
    pub fn file_appeal(&mut self, decision_id: &str, account_id: &str, text: &str) -> Result<AppealFiled, ReviewError> {
        let now = (self.options.clock)();
        let Some(d) = self.store.decision(decision_id)? else {
            return Err(ReviewError::NotFound(format!("no decision {decision_id:?}")));
        };
        if d.shadow {
            return Err(ReviewError::Unprocessable(format!(
                "decision {decision_id} is a shadow rule's: nothing of it was enforced"
            )));
        }
        if d.account_id.as_deref() != Some(account_id) {
            return Err(ReviewError::Forbidden(format!(
                "only the account decision {decision_id} is about may appeal it, not {account_id:?}"
            )));
        }
        if now > d.appeal.until {
            return Err(ReviewError::Unprocessable(format!(
                "the appeal window of decision {decision_id} closed at {}",
                d.appeal.until.to_rfc3339()
            )));
        }
        if text.trim().is_empty() {
            return Err(ReviewError::Unprocessable("an appeal needs text: why the decision is wrong".into()));
        }
        let earlier = self.store.appeals_for(decision_id)?;
        if let Some(p) = earlier.iter().find(|a| a.state == AppealState::Pending) {
            return Err(ReviewError::Conflict {
                message: format!("decision {decision_id} has a pending appeal already ({})", p.id),
                case: None,
            });
        }
        if self.store.reversal(decision_id)?.is_some() {
            return Err(ReviewError::Conflict {
                message: format!("decision {decision_id} was overturned already"),
                case: None,
            });
        }
        let subject = match &d.post_id {
            Some(post) => Subject::new(SubjectKind::Post, post),
            None => Subject::new(SubjectKind::Account, account_id),
        };
        let appeal_id = id_from("appeal", &format!("{decision_id}#{}", earlier.len()));
        let mut batch = Batch::default();
        let mut case = match self.open_case_in(&subject, &batch)? {
            Some(c) => c,
            None => self.new_case(subject, &appeal_id, APPEALS_QUEUE, Some(account_id), now),
        };
        case.queue = APPEALS_QUEUE.to_string();
        if case.category.is_empty() {
            case.category = d.category.clone();
        }
        if !case.decisions.contains(&d.id) {
            case.decisions.push(d.id.clone());
        }
        case.appeals.push(appeal_id.clone());
        // An appeal goes to whoever is free: a claim on the case before it was filed ends.
        if case.state == CaseState::Assigned {
            case.state = CaseState::Open;
            case.claim = None;
        }
        let appeal = AppealFiled {
            id: appeal_id.clone(),
            decision_id: decision_id.to_string(),
            account_id: account_id.to_string(),
            text: text.to_string(),
            filed_at: now,
            case_id: case.id.clone(),
            state: AppealState::Pending,
            decided_by: None,
            decided_at: None,
            reason: String::new(),
        };
        batch.review.push(ReviewWrite::Appeal(appeal.clone()));
        let detail = json!({ "appeal_id": appeal_id, "decision_id": decision_id });
        Self::log(&mut case, &mut batch, account_id, "appeal", "", detail, now);
        self.commit(&batch)?;
        Ok(appeal)
    }

    /// Mutes a reporter until `until`: their reports are recorded and not queued.
    pub fn mute_reporter(
        &mut self,
        reporter_id: &str,
        until: DateTime<Utc>,
        by: &str,
        reason: &str,
    ) -> Result<ReporterMute, ReviewError> {
        let now = (self.options.clock)();
        require_reason(reason)?;
        let mute = ReporterMute {
            reporter_id: reporter_id.to_string(),
            until,
            by: by.to_string(),
            reason: reason.to_string(),
            at: now,
        };
        let batch = Batch {
            audit: vec![AuditRecord {
                at: now,
                action: "reporter.muted".into(),
                subject: reporter_id.to_string(),
                body: json!({ "until": until, "by": by, "reason": reason }).into(),
            }],
            review: vec![ReviewWrite::Mute(mute.clone())],
            ..Batch::default()
        };
        self.commit(&batch)?;
        Ok(mute)
    }
}

/// The notices of what an action settled, from the writes it made: the account told the
/// case's outcome, each reporter whose report was upheld or dismissed told so, and each
/// appellant told their appeal's outcome. Who decided is not told, only that a person did.
fn outcome_notices(case: &Case, batch: &mut Batch, now: DateTime<Utc>) {
    let n = u32::try_from(case.version).unwrap_or(u32::MAX);
    let mut notices = Vec::new();
    for w in &batch.review {
        match w {
            ReviewWrite::Report(r) if matches!(r.state, ReportState::Upheld | ReportState::Dismissed) => {
                let body = json!({ "report_id": r.id, "case_id": case.id, "subject": r.subject,
                    "outcome": r.state.as_str(), "reason": last_reason(batch) });
                notices.push(notice::outcome(
                    NoticeKind::ReportOutcome,
                    &case.id,
                    n,
                    Audience::Reporter,
                    &r.reporter_id,
                    now,
                    body,
                ));
            }
            ReviewWrite::Appeal(a) if a.state != AppealState::Pending => {
                let body = json!({ "appeal_id": a.id, "decision_id": a.decision_id, "outcome": a.state.as_str(),
                    "reason": a.reason, "decided_at": a.decided_at, "decided_by": "a moderator who took no part in the decision" });
                notices.push(notice::outcome(
                    NoticeKind::AppealOutcome,
                    &a.id,
                    1,
                    Audience::Account,
                    &a.account_id,
                    now,
                    body,
                ));
            }
            _ => {}
        }
    }
    if case.state == CaseState::Resolved {
        // The case's account, and every account whose decision it reversed (a campaign's).
        let mut accounts: Vec<&String> = case.account_id.iter().collect();
        for w in &batch.review {
            if let ReviewWrite::Reversal(r) = w
                && let Some(a) = &r.account_id
                && !accounts.contains(&a)
            {
                accounts.push(a);
            }
        }
        let body = json!({ "case_id": case.id, "subject": case.subject, "outcome": case.outcome,
            "decisions": case.decisions, "reason": last_reason(batch) });
        for account in accounts {
            notices.push(notice::outcome(
                NoticeKind::CaseOutcome,
                &case.id,
                n,
                Audience::Account,
                account,
                now,
                body.clone(),
            ));
        }
    }
    batch.notices.extend(notices);
}

/// The reason of the last case entry written.
fn last_reason(batch: &Batch) -> String {
    batch
        .review
        .iter()
        .rev()
        .find_map(|w| match w {
            ReviewWrite::Entry(e) => Some(e.reason.clone()),
            _ => None,
        })
        .unwrap_or_default()
}

/// A comment visible outside: to the reporters of the case's open reports, the author, or
/// both.
fn comment_notices(
    case: &Case,
    reports: &[CaseReport],
    text: &str,
    visibility: Visibility,
    now: DateTime<Utc>,
    batch: &mut Batch,
) {
    let n = u32::try_from(case.version + 1).unwrap_or(u32::MAX);
    let body = json!({ "case_id": case.id, "subject": case.subject, "comment": text });
    if matches!(visibility, Visibility::Reporter | Visibility::Both) {
        let mut told: Vec<&str> = Vec::new();
        for r in reports.iter().filter(|r| matches!(r.state, ReportState::Open)) {
            if !told.contains(&r.reporter_id.as_str()) {
                told.push(&r.reporter_id);
                batch.notices.push(notice::outcome(
                    NoticeKind::ReportOutcome,
                    &case.id,
                    n,
                    Audience::Reporter,
                    &r.reporter_id,
                    now,
                    body.clone(),
                ));
            }
        }
    }
    if matches!(visibility, Visibility::Author | Visibility::Both)
        && let Some(account) = &case.account_id
    {
        batch.notices.push(notice::outcome(
            NoticeKind::CaseOutcome,
            &case.id,
            n,
            Audience::Account,
            account,
            now,
            body,
        ));
    }
}

fn require_reason(reason: &str) -> Result<(), ReviewError> {
    if reason.trim().is_empty() {
        return Err(ReviewError::Unprocessable(
            "a reason is required: it is recorded and told to those affected".into(),
        ));
    }
    Ok(())
}

fn resolve(case: &mut Case, outcome: &str, now: DateTime<Utc>) {
    case.state = CaseState::Resolved;
    case.claim = None;
    case.resolved_at = Some(now);
    case.outcome = Some(outcome.to_string());
}

/// The people who took part in the decisions of `case` (acted on a case that held one of
/// them): an appeal of those decisions goes to someone else.
pub fn participants(store: &dyn Store, case: &Case) -> Result<HashSet<String>, StoreError> {
    let mut people = HashSet::new();
    let acting = ["upheld", "overturned", "modified", "escalated", "commented", "reports_dismissed"];
    for c in store.subject_cases(&case.subject, 1000)? {
        if !c.decisions.iter().any(|d| case.decisions.contains(d)) {
            continue;
        }
        for e in store.case_entries(&c.id)? {
            if e.actor != ENGINE_ACTOR && acting.contains(&e.action.as_str()) {
                people.insert(e.actor);
            }
        }
    }
    Ok(people)
}
