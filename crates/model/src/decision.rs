//! Actions, decisions with their statement of reasons, restrictions and credit.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// What a policy rule may do. In policy files: `{ type = "restrict_posting", days = 15 }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// Show a label on the post (e.g. `ai-generated`, `disputed`).
    Label { label: String },
    /// Keep the post out of recommendations and trends.
    LimitReach {},
    /// Take the post down.
    Remove {},
    /// No posting for `days`.
    RestrictPosting { days: u32 },
    /// No new followers for `days`.
    RestrictNewFollowers { days: u32 },
    /// Switch monetization `features` off for `days` (all features when the list is empty).
    Demonetize {
        #[serde(default)]
        features: Vec<String>,
        days: u32,
    },
    /// Suspend the account for `days`.
    Suspend { days: u32 },
    /// Close the account for good.
    Close {},
    /// Mute the author in the message's chat group for the length the group's rules give
    /// this breach (`[[groups]] mutes`, escalating within `mute_window_hours`).
    Mute {},
    /// Keep the account's identity disclosure on for `days`, whatever its follower count
    /// (after a follower purge that landed just under the disclosure threshold).
    RequireDisclosure { days: u32 },
    /// Put the case in a human review queue.
    QueueReview { queue: String },
    /// Deduct credit points from the account.
    DeductCredit { points: u32 },
}

impl Action {
    /// The action's type, as written in policy files.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Label { .. } => "label",
            Action::LimitReach {} => "limit_reach",
            Action::Remove {} => "remove",
            Action::RestrictPosting { .. } => "restrict_posting",
            Action::RestrictNewFollowers { .. } => "restrict_new_followers",
            Action::Demonetize { .. } => "demonetize",
            Action::Suspend { .. } => "suspend",
            Action::Close {} => "close",
            Action::Mute {} => "mute",
            Action::RequireDisclosure { .. } => "require_disclosure",
            Action::QueueReview { .. } => "queue_review",
            Action::DeductCredit { .. } => "deduct_credit",
        }
    }
}

/// Names of all actions, as written in policy files.
pub const ACTION_TYPES: &[&str] = &[
    "label",
    "limit_reach",
    "remove",
    "restrict_posting",
    "restrict_new_followers",
    "demonetize",
    "suspend",
    "close",
    "mute",
    "require_disclosure",
    "queue_review",
    "deduct_credit",
];

/// The kinds of enforcement steward keeps, on posts and accounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RestrictionKind {
    /// Post, or account for an event without a post: labelled (the label is in `detail`).
    Label,
    /// Post: reach limited.
    LimitReach,
    /// Post: removed.
    Removed,
    /// Account: may not post.
    Posting,
    /// Account: may not gain followers.
    NewFollowers,
    /// Account: monetization features off (listed in `detail`, all when empty).
    Monetization,
    /// Account: suspended.
    Suspended,
    /// Account: closed.
    Closed,
    /// Account: must show its verified identity and IP region whatever its follower count.
    Disclosure,
    /// Account: muted in one chat group (the group's id is in `detail`).
    Muted,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_names_are_their_serialized_types() {
        let actions = [
            Action::Label { label: "x".into() },
            Action::LimitReach {},
            Action::Remove {},
            Action::RestrictPosting { days: 1 },
            Action::RestrictNewFollowers { days: 1 },
            Action::Demonetize { features: vec![], days: 1 },
            Action::Suspend { days: 1 },
            Action::Close {},
            Action::Mute {},
            Action::RequireDisclosure { days: 1 },
            Action::QueueReview { queue: "q".into() },
            Action::DeductCredit { points: 1 },
        ];
        let names: Vec<&str> = actions.iter().map(Action::name).collect();
        assert_eq!(names, ACTION_TYPES);
        for a in &actions {
            assert_eq!(serde_json::to_value(a).unwrap()["type"], a.name());
        }
    }
}

impl RestrictionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RestrictionKind::Label => "label",
            RestrictionKind::LimitReach => "limit_reach",
            RestrictionKind::Removed => "removed",
            RestrictionKind::Posting => "posting",
            RestrictionKind::NewFollowers => "new_followers",
            RestrictionKind::Monetization => "monetization",
            RestrictionKind::Suspended => "suspended",
            RestrictionKind::Closed => "closed",
            RestrictionKind::Disclosure => "disclosure",
            RestrictionKind::Muted => "muted",
        }
    }
}

/// One enforcement in force from `start` until `end` (forever when `end` is null).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Restriction {
    pub decision_id: String,
    pub account_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_id: Option<String>,
    pub kind: RestrictionKind,
    /// Label text, or monetization features joined by commas.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
    pub start: DateTime<Utc>,
    #[serde(default)]
    pub end: Option<DateTime<Utc>>,
}

impl Restriction {
    /// Whether the restriction is in force at `at`.
    pub fn active_at(&self, at: DateTime<Utc>) -> bool {
        self.start <= at && self.end.is_none_or(|end| at < end)
    }
}

/// Credit points deducted from an account by a decision, restored at `restores_at`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CreditEntry {
    pub decision_id: String,
    pub account_id: String,
    pub at: DateTime<Utc>,
    pub points: u32,
    #[serde(default)]
    pub restores_at: Option<DateTime<Utc>>,
}

impl CreditEntry {
    pub fn active_at(&self, at: DateTime<Utc>) -> bool {
        self.at <= at && self.restores_at.is_none_or(|r| at < r)
    }
}

/// How the subject of a decision can appeal it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Appeal {
    /// Plain-language instructions.
    pub how: String,
    /// Last moment an appeal is accepted.
    pub until: DateTime<Utc>,
}

/// A decision with its statement of reasons.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Decision {
    /// Derived from event and rule, so one event never yields the same decision twice.
    pub id: String,
    pub event_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_id: Option<String>,
    pub rule_id: String,
    pub policy_version: String,
    /// The rule or law the content or conduct breaks.
    pub ground: String,
    /// Harm category (rumour, impersonation, ai_unlabelled, ...).
    pub category: String,
    /// The facts relied on: signals with their evidence, and the standing before.
    #[schema(value_type = Object)]
    pub facts: Value,
    pub automated_detection: bool,
    pub automated_decision: bool,
    pub actions: Vec<Action>,
    /// Enforcement that follows, with start and end.
    pub restrictions: Vec<Restriction>,
    /// Credit points deducted.
    pub credit_deducted: u32,
    /// Human explanation rendered from the rule's template.
    pub explanation: String,
    pub appeal: Appeal,
    pub decided_at: DateTime<Utc>,
    /// A shadow rule's would-be decision: recorded and counted, but nothing of it is
    /// enforced and no one is told. Left out (false) for live decisions.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub shadow: bool,
}

impl Decision {
    /// What a decision's notice tells: the decision, the ground and category, the facts relied
    /// on, the explanation, the enforcement with its start and end, the credit deducted, whether
    /// it was automated, and how and until when to appeal.
    pub fn statement_of_reasons(&self) -> Value {
        let d = self;
        let restrictions: Vec<Value> = d
            .restrictions
            .iter()
            .map(|r| {
                let mut v = json!({ "kind": r.kind, "start": r.start, "end": r.end });
                if let Some(post) = &r.post_id {
                    v["post_id"] = json!(post);
                }
                if !r.detail.is_empty() {
                    v["detail"] = json!(r.detail);
                }
                v
            })
            .collect();
        let mut body = json!({
            "decision_id": d.id,
            "decided_at": d.decided_at,
            "policy_version": d.policy_version,
            "rule_id": d.rule_id,
            "ground": d.ground,
            "category": d.category,
            "facts": d.facts,
            "explanation": d.explanation,
            "actions": d.actions,
            "restrictions": restrictions,
            "credit_deducted": d.credit_deducted,
            "automated_detection": d.automated_detection,
            "automated_decision": d.automated_decision,
            "appeal": d.appeal,
        });
        if let Some(post) = &d.post_id {
            body["post_id"] = json!(post);
        }
        body
    }
}

/// Derives a decision id that is the same every time for the same event and rule. Rule ids
/// never contain `@` (the policy loader checks), so the id is unambiguous.
pub fn decision_id(event_id: &str, rule_id: &str) -> String {
    format!("{rule_id}@{event_id}")
}
