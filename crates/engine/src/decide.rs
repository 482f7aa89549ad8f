//! From a matched rule to a decision: the enforcement its actions imply, with start and
//! end, the credit it deducts, and the statement of reasons.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};
use steward_model::{
    Action, Appeal, CreditEntry, Decision, Event, Restriction, RestrictionKind, Signal, Standing, decision_id,
};
use steward_policy::Policy;

/// What a rule or ladder step decided, before it becomes a [`Decision`].
pub(crate) struct Verdict<'a> {
    pub rule_id: &'a str,
    pub ground: &'a str,
    pub category: &'a str,
    pub actions: &'a [Action],
    pub automated: bool,
    pub explanation: String,
}

/// The subject and circumstances shared by every decision on one event.
pub(crate) struct Circumstances<'a> {
    pub event: &'a Event,
    pub account_id: Option<&'a str>,
    pub post_id: Option<&'a str>,
    pub signals: &'a [Signal],
    pub standing: Option<&'a Standing>,
    pub now: DateTime<Utc>,
}

/// A decision with the rows it adds to the store.
pub(crate) struct Outcome {
    pub decision: Decision,
    pub credits: Vec<CreditEntry>,
}

pub(crate) fn decide(policy: &Policy, c: &Circumstances, v: Verdict) -> Outcome {
    let id = decision_id(&c.event.id, v.rule_id);
    let mut restrictions = Vec::new();
    let mut credits = Vec::new();
    let mut skipped = Vec::new();
    for action in v.actions {
        let account_level = |kind, days: Option<u32>, detail: String| {
            c.account_id.map(|account_id| Restriction {
                decision_id: id.clone(),
                account_id: account_id.to_string(),
                post_id: None,
                kind,
                detail,
                start: c.now,
                end: days.map(|d| c.now + Duration::days(d as i64)),
            })
        };
        let post_level = |kind, detail: String| {
            c.post_id.zip(c.account_id).map(|(post_id, account_id)| Restriction {
                decision_id: id.clone(),
                account_id: account_id.to_string(),
                post_id: Some(post_id.to_string()),
                kind,
                detail,
                start: c.now,
                end: None,
            })
        };
        let restriction = match action {
            // A label goes on the post; on an event about an account alone (a rename to an
            // official name), on the account.
            Action::Label { label } if c.post_id.is_none() => {
                account_level(RestrictionKind::Label, None, label.clone())
            }
            Action::Label { label } => post_level(RestrictionKind::Label, label.clone()),
            Action::LimitReach {} => post_level(RestrictionKind::LimitReach, String::new()),
            Action::Remove {} => post_level(RestrictionKind::Removed, String::new()),
            Action::RestrictPosting { days } => account_level(RestrictionKind::Posting, Some(*days), String::new()),
            Action::RestrictNewFollowers { days } => {
                account_level(RestrictionKind::NewFollowers, Some(*days), String::new())
            }
            Action::Demonetize { features, days } => {
                account_level(RestrictionKind::Monetization, Some(*days), features.join(","))
            }
            Action::Suspend { days } => account_level(RestrictionKind::Suspended, Some(*days), String::new()),
            Action::Close {} => account_level(RestrictionKind::Closed, None, String::new()),
            Action::RequireDisclosure { days } => {
                account_level(RestrictionKind::Disclosure, Some(*days), String::new())
            }
            Action::QueueReview { .. } => continue,
            Action::DeductCredit { points } => {
                if let Some(account_id) = c.account_id {
                    credits.push(CreditEntry {
                        decision_id: id.clone(),
                        account_id: account_id.to_string(),
                        at: c.now,
                        points: *points,
                        restores_at: Some(c.now + Duration::days(policy.credit.restore_days as i64)),
                    });
                    continue;
                }
                None
            }
        };
        match restriction {
            Some(r) => restrictions.push(r),
            None => skipped.push(action.name()),
        }
    }
    let decision = Decision {
        id,
        event_id: c.event.id.clone(),
        account_id: c.account_id.map(str::to_string),
        post_id: c.post_id.map(str::to_string),
        rule_id: v.rule_id.to_string(),
        policy_version: policy.version.clone(),
        ground: v.ground.to_string(),
        category: v.category.to_string(),
        facts: facts(c, &skipped),
        automated_detection: !c.signals.is_empty(),
        automated_decision: v.automated,
        actions: v.actions.to_vec(),
        restrictions,
        credit_deducted: credits.iter().map(|c| c.points).sum(),
        explanation: v.explanation,
        appeal: Appeal { how: policy.appeal.how.clone(), until: c.now + Duration::days(policy.appeal.days as i64) },
        decided_at: c.now,
        shadow: false,
    };
    Outcome { decision, credits }
}

fn facts(c: &Circumstances, skipped: &[&str]) -> Value {
    let mut facts = json!({
        "event": { "id": c.event.id, "type": c.event.payload.event_type(), "at": c.event.at },
        "signals": c.signals,
    });
    if let Some(s) = c.standing {
        let kinds: Vec<&str> = s.restrictions.iter().map(|r| r.kind.as_str()).collect();
        facts["standing_before"] = json!({
            "credit": s.credit,
            "restrictions": kinds,
            "recent_violations": s.recent_violations,
        });
    }
    if !skipped.is_empty() {
        // A post-level action on an event without a post, or an account-level one without
        // an account: recorded, so the gap in the policy is visible.
        facts["actions_without_subject"] = json!(skipped);
    }
    facts
}
