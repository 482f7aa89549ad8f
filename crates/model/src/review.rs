//! The human loop: cases that people review, the reports that open them, appeals against
//! decisions, and the reversal of a decision a person overturned.
//!
//! A subject (a post, an account, a campaign, a group) has at most one open case. The case
//! gathers what is about it: the decisions that asked for review, user reports, appeals and
//! notes. Every change of a case carries its version, so two people acting on one case
//! never overwrite each other. What happened to a case is kept as a log of entries; the case
//! row is its latest state.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What a case, report or appeal is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Subject {
    pub kind: SubjectKind,
    pub id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SubjectKind {
    Post,
    Account,
    Campaign,
    Group,
}

impl SubjectKind {
    pub const ALL: [SubjectKind; 4] =
        [SubjectKind::Post, SubjectKind::Account, SubjectKind::Campaign, SubjectKind::Group];

    pub fn as_str(self) -> &'static str {
        match self {
            SubjectKind::Post => "post",
            SubjectKind::Account => "account",
            SubjectKind::Campaign => "campaign",
            SubjectKind::Group => "group",
        }
    }

    pub fn parse(s: &str) -> Option<SubjectKind> {
        SubjectKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl Subject {
    pub fn new(kind: SubjectKind, id: impl Into<String>) -> Subject {
        Subject { kind, id: id.into() }
    }
}

impl std::fmt::Display for Subject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.kind.as_str(), self.id)
    }
}

/// Where a case is. `assigned` lasts while its claim does: a claim that has run out leaves
/// the case free to be claimed again without anything having to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CaseState {
    Open,
    Assigned,
    Escalated,
    Resolved,
}

impl CaseState {
    pub const ALL: [CaseState; 4] = [CaseState::Open, CaseState::Assigned, CaseState::Escalated, CaseState::Resolved];

    pub fn as_str(self) -> &'static str {
        match self {
            CaseState::Open => "open",
            CaseState::Assigned => "assigned",
            CaseState::Escalated => "escalated",
            CaseState::Resolved => "resolved",
        }
    }

    pub fn parse(s: &str) -> Option<CaseState> {
        CaseState::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// A moderator's hold on a case, until it runs out or is let go.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Claim {
    pub by: String,
    pub until: DateTime<Utc>,
}

/// A case: one subject's review, as it now stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Case {
    pub id: String,
    pub subject: Subject,
    /// The queue it waits in (named by the policy; appeals wait in `appeals`).
    pub queue: String,
    pub state: CaseState,
    /// Counts every change; an action names the version it was taken on.
    pub version: u64,
    /// Higher is reviewed first. Fixed when the case changes: report weight and reach;
    /// age is added at claim time by [`Case::rank`].
    pub priority: f64,
    /// The harm category of the first decision or report.
    pub category: String,
    /// The account the subject belongs to, when known: it is told the outcome.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// Decisions that asked for review, and decisions appealed.
    pub decisions: Vec<String>,
    /// Reports on the subject (duplicates and muted reporters' left out).
    pub reports: Vec<String>,
    pub appeals: Vec<String>,
    /// Distinct reporters, and the sum of their weights.
    pub reporters: u32,
    pub reporter_weight: f64,
    /// Followers of the account, when known: how far the subject reaches.
    pub reach: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim: Option<Claim>,
    pub opened_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_at: Option<DateTime<Utc>>,
    /// How it was resolved: `upheld`, `overturned`, `modified`, `dismissed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
}

impl Case {
    /// The claim in force at `at`, if any.
    pub fn claimed_at(&self, at: DateTime<Utc>) -> Option<&Claim> {
        self.claim.as_ref().filter(|c| self.state == CaseState::Assigned && at < c.until)
    }

    /// Whether a moderator may take the case at `at`: open or escalated, or assigned under
    /// a claim that has run out.
    pub fn claimable_at(&self, at: DateTime<Utc>) -> bool {
        match self.state {
            CaseState::Open | CaseState::Escalated => true,
            CaseState::Assigned => self.claimed_at(at).is_none(),
            CaseState::Resolved => false,
        }
    }

    /// The order queues are worked in: priority, plus a point for every [`AGE_HOURS_PER_POINT`]
    /// hours the case has waited, so no case waits for ever behind newer ones. It is the
    /// same order at any moment, so it is stored and indexed.
    pub fn rank(&self) -> i64 {
        let hours = self.opened_at.timestamp() as f64 / 3600.0;
        ((self.priority - hours / AGE_HOURS_PER_POINT) * 1000.0).round() as i64
    }
}

/// Hours of waiting worth one point of priority.
pub const AGE_HOURS_PER_POINT: f64 = 4.0;

/// One thing that happened to a case, by whom and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CaseEntry {
    pub case_id: String,
    pub at: DateTime<Utc>,
    /// The key id of the person, or `steward` for the engine.
    pub actor: String,
    /// `opened`, `decision`, `report`, `appeal`, `claimed`, `renewed`, `released`, `upheld`,
    /// `overturned`, `modified`, `escalated`, `commented`, `reports_dismissed`,
    /// `appeal_upheld`, `appeal_overturned`.
    pub action: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// The case's version after the entry.
    pub version: u64,
    /// What the action carried (a comment's text and visibility, the new actions, the ids).
    #[schema(value_type = Object)]
    pub detail: Value,
}

/// What a moderator does with a case. Every action names the case version it was taken
/// on; all but a comment need the moderator's claim on the case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum CaseAction {
    /// Takes the case, or renews one's claim on it.
    Claim {},
    /// Lets go of one's claim.
    Release {},
    /// The decisions stand and the reports were right. On an appeal: the appeal is refused.
    Uphold {
        reason: String,
    },
    /// The decisions are reversed: their restrictions end, their credit comes back, their
    /// labels come off. On an appeal: the appeal is granted.
    Overturn {
        reason: String,
    },
    /// The decisions are reversed and replaced by one with these actions.
    Modify {
        reason: String,
        actions: Vec<crate::Action>,
    },
    /// Hands the case on, to `queue` (or `escalated`), for someone more senior.
    Escalate {
        reason: String,
        #[serde(default)]
        queue: Option<String>,
    },
    Comment {
        text: String,
        visibility: Visibility,
    },
    /// Dismisses the reports named (all open ones when none are): they were wrong.
    DismissReports {
        reason: String,
        #[serde(default)]
        report_ids: Vec<String>,
    },
}

impl CaseAction {
    pub fn name(&self) -> &'static str {
        match self {
            CaseAction::Claim {} => "claim",
            CaseAction::Release {} => "release",
            CaseAction::Uphold { .. } => "uphold",
            CaseAction::Overturn { .. } => "overturn",
            CaseAction::Modify { .. } => "modify",
            CaseAction::Escalate { .. } => "escalate",
            CaseAction::Comment { .. } => "comment",
            CaseAction::DismissReports { .. } => "dismiss_reports",
        }
    }
}

/// Who may read a comment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    /// Moderators, admins and auditors only.
    Internal,
    Reporter,
    Author,
    /// The reporters and the author.
    Both,
}

/// What became of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReportState {
    /// On an open case.
    Open,
    /// The reporter had reported the subject already while the case was open.
    Duplicate,
    /// The reporter was muted: recorded, not queued.
    Muted,
    /// The case was resolved against the subject (upheld, modified).
    Upheld,
    /// Dismissed, or the decision it backed was overturned.
    Dismissed,
}

impl ReportState {
    pub const ALL: [ReportState; 5] =
        [ReportState::Open, ReportState::Duplicate, ReportState::Muted, ReportState::Upheld, ReportState::Dismissed];

    pub fn as_str(self) -> &'static str {
        match self {
            ReportState::Open => "open",
            ReportState::Duplicate => "duplicate",
            ReportState::Muted => "muted",
            ReportState::Upheld => "upheld",
            ReportState::Dismissed => "dismissed",
        }
    }

    pub fn parse(s: &str) -> Option<ReportState> {
        ReportState::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// A user report as the human loop keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CaseReport {
    pub id: String,
    pub reporter_id: String,
    pub subject: Subject,
    pub reason: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub text: String,
    pub at: DateTime<Utc>,
    /// The case it joined; none for a muted reporter's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case_id: Option<String>,
    pub state: ReportState,
    /// The reporter's weight when it was filed.
    pub weight: f64,
}

/// What a reporter's record says of them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReporterStanding {
    pub reporter_id: String,
    /// Resolved reports upheld and dismissed (duplicates and muted ones do not count).
    pub upheld: u32,
    pub dismissed: u32,
    /// The share upheld, once at least [`MIN_JUDGED_REPORTS`] were resolved.
    pub standing: Option<f64>,
    /// How much a report of theirs adds to a case's priority: 1 for a reporter with no
    /// record, from 0.2 (never upheld) to 2 (always).
    pub weight: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub muted_until: Option<DateTime<Utc>>,
}

/// Resolved reports needed before a reporter's share of upheld reports is shown.
pub const MIN_JUDGED_REPORTS: u32 = 5;

impl ReporterStanding {
    /// The standing of a reporter with `upheld` and `dismissed` resolved reports. The
    /// weight is the share upheld smoothed towards one half by five reports' worth of prior
    /// (so that two reports prove little), relative to one half, kept within 0.2 and 2.
    pub fn new(reporter_id: &str, upheld: u32, dismissed: u32, muted_until: Option<DateTime<Utc>>) -> ReporterStanding {
        const PRIOR: f64 = 5.0;
        let judged = upheld + dismissed;
        let smoothed = (f64::from(upheld) + PRIOR * 0.5) / (f64::from(judged) + PRIOR);
        ReporterStanding {
            reporter_id: reporter_id.to_string(),
            upheld,
            dismissed,
            standing: (judged >= MIN_JUDGED_REPORTS).then(|| f64::from(upheld) / f64::from(judged)),
            weight: (smoothed / 0.5).clamp(0.2, 2.0),
            muted_until,
        }
    }

    pub fn muted_at(&self, at: DateTime<Utc>) -> bool {
        self.muted_until.is_some_and(|until| at < until)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AppealState {
    Pending,
    Upheld,
    Overturned,
}

impl AppealState {
    pub fn as_str(self) -> &'static str {
        match self {
            AppealState::Pending => "pending",
            AppealState::Upheld => "upheld",
            AppealState::Overturned => "overturned",
        }
    }

    pub fn parse(s: &str) -> Option<AppealState> {
        [AppealState::Pending, AppealState::Upheld, AppealState::Overturned].into_iter().find(|k| k.as_str() == s)
    }
}

/// An appeal against a decision by the account it was about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AppealFiled {
    pub id: String,
    pub decision_id: String,
    pub account_id: String,
    pub text: String,
    pub filed_at: DateTime<Utc>,
    pub case_id: String,
    pub state: AppealState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
}

/// A decision a person overturned: its restrictions end and its credit comes back at `at`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Reversal {
    pub decision_id: String,
    pub account_id: Option<String>,
    pub at: DateTime<Utc>,
    pub by: String,
    pub reason: String,
    /// The case it was decided in.
    pub case_id: String,
}

impl Reversal {
    /// Ends what `reversals` overturned: each restriction and credit entry of a reversed
    /// decision ends at the reversal, if it had not ended before.
    pub fn apply(reversals: &[Reversal], restrictions: &mut [crate::Restriction], credits: &mut [crate::CreditEntry]) {
        if reversals.is_empty() {
            return;
        }
        let at = |decision_id: &str| reversals.iter().find(|r| r.decision_id == decision_id).map(|r| r.at);
        for r in restrictions.iter_mut() {
            if let Some(at) = at(&r.decision_id) {
                r.end = Some(r.end.map_or(at, |end| end.min(at)).max(r.start));
            }
        }
        for c in credits.iter_mut() {
            if let Some(at) = at(&c.decision_id) {
                c.restores_at = Some(c.restores_at.map_or(at, |end| end.min(at)).max(c.at));
            }
        }
    }
}

/// A reporter muted by an admin until a date: their reports are recorded, not queued.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReporterMute {
    pub reporter_id: String,
    pub until: DateTime<Utc>,
    pub by: String,
    pub reason: String,
    pub at: DateTime<Utc>,
}

/// A queue's cases not resolved.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct QueueCount {
    pub queue: String,
    pub open: u64,
    pub assigned: u64,
    pub escalated: u64,
    /// When the oldest case not resolved was opened.
    pub oldest_opened_at: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reporter_weight_is_smoothed_and_bounded() {
        let w = |u, d| ReporterStanding::new("r", u, d, None).weight;
        assert!((w(0, 0) - 1.0).abs() < 1e-9);
        assert!((w(20, 0) - 1.8).abs() < 1e-9);
        assert!(w(0, 20) >= 0.2 && w(0, 20) < 0.25);
        assert!(w(2, 0) < w(20, 0));
        assert_eq!(ReporterStanding::new("r", 3, 1, None).standing, None);
        assert_eq!(ReporterStanding::new("r", 3, 2, None).standing, Some(0.6));
    }

    #[test]
    fn an_older_case_rises_by_a_point_every_four_hours() {
        let at = |h: i64| DateTime::<Utc>::from_timestamp(1_800_000_000 + h * 3600, 0).unwrap();
        let case = |priority, opened_at| Case {
            id: "c".into(),
            subject: Subject::new(SubjectKind::Post, "p"),
            queue: "q".into(),
            state: CaseState::Open,
            version: 1,
            priority,
            category: String::new(),
            account_id: None,
            decisions: vec![],
            reports: vec![],
            appeals: vec![],
            reporters: 0,
            reporter_weight: 0.0,
            reach: 0,
            claim: None,
            opened_at,
            updated_at: opened_at,
            resolved_at: None,
            outcome: None,
        };
        assert_eq!(case(10.0, at(0)).rank(), case(12.0, at(8)).rank());
        assert!(case(10.0, at(0)).rank() > case(11.0, at(8)).rank());
    }
}
