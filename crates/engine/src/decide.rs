//! From a matched rule to a decision: the enforcement its actions imply, with start and
//! end, the credit it deducts, and the statement of reasons.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Map, Value, json};
use steward_model::chat_group::{DEFAULT_MUTES, MAX_MUTE_SECONDS};
use steward_model::{
    Action, Appeal, CreditEntry, Decision, Event, Payload, Restriction, RestrictionKind, Signal, Standing, decision_id,
};
use steward_policy::Policy;
use steward_store::audit::{AuditBody, CanonicalObject};

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
        let account_until = |kind, end: Option<DateTime<Utc>>, detail: String| {
            c.account_id.map(|account_id| Restriction {
                decision_id: id.clone(),
                account_id: account_id.to_string(),
                post_id: None,
                kind,
                detail,
                start: c.now,
                end,
            })
        };
        let account_level = |kind, days: Option<u32>, detail| {
            account_until(kind, days.map(|d| c.now + Duration::days(d as i64)), detail)
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
            // In the message's group, for as long as the group's rules give this breach.
            Action::Mute {} => group_of(c.event).and_then(|group| {
                let end = c.now + Duration::seconds(i64::from(mute_seconds(c.signals)));
                account_until(RestrictionKind::Muted, Some(end), group.to_string())
            }),
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

/// The chat group of a group message.
fn group_of(event: &Event) -> Option<&str> {
    match &event.payload {
        Payload::PostCreated(p) => p.group_id.as_deref(),
        _ => None,
    }
}

/// The longest mute the event's signals earn (`mute_seconds` evidence of the group rules),
/// or the groups' first default length when none says.
fn mute_seconds(signals: &[Signal]) -> u32 {
    signals
        .iter()
        .filter_map(|s| s.evidence.get("mute_seconds")?.as_u64())
        .max()
        .map_or(DEFAULT_MUTES[0], |s| s.min(u64::from(MAX_MUTE_SECONDS)) as u32)
}

fn facts(c: &Circumstances, skipped: &[&str]) -> Value {
    let mut facts = json!({
        "event": { "id": c.event.id, "type": c.event.payload.event_type(), "at": c.event.at },
    });
    facts["signals"] = Value::Array(c.signals.iter().map(signal_value).collect());
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

/// A signal as a value, as it serializes, its evidence copied as it is rather than
/// serialized again entry by entry.
fn signal_value(s: &Signal) -> Value {
    let Signal { name, detector, version, score, evidence } = s;
    let mut v = Map::new();
    v.insert("name".into(), Value::String(name.clone()));
    v.insert("detector".into(), Value::String(detector.clone()));
    v.insert("version".into(), Value::from(*version));
    v.insert("score".into(), Value::from(*score));
    v.insert("evidence".into(), Value::Object(evidence.clone()));
    Value::Object(v)
}

/// The body of a decision's `decision.created` audit entry, written canonically from the
/// decision: `{account_id, actions, credit_deducted, event_id, policy_version, post_id,
/// restrictions, rule_id}`, each as the decision serializes it.
pub(crate) fn audit_body(d: &Decision) -> AuditBody {
    let mut out = Vec::with_capacity(512);
    // Strings, numbers, options and times always serialize.
    let _ = write_audit_body(d, &mut out);
    AuditBody::from_canonical(String::from_utf8(out).unwrap_or_default())
}

fn write_audit_body(d: &Decision, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
    let mut body = CanonicalObject::start(out);
    body.field("account_id", &d.account_id)?;
    write_array(body.key("actions"), &d.actions, write_action)?;
    body.field("credit_deducted", &d.credit_deducted)?;
    body.str_field("event_id", &d.event_id);
    body.str_field("policy_version", &d.policy_version);
    body.field("post_id", &d.post_id)?;
    write_array(body.key("restrictions"), &d.restrictions, write_restriction)?;
    body.str_field("rule_id", &d.rule_id);
    body.end();
    Ok(())
}

fn write_array<T>(
    out: &mut Vec<u8>,
    items: &[T],
    write: fn(&T, &mut Vec<u8>) -> Result<(), serde_json::Error>,
) -> Result<(), serde_json::Error> {
    out.push(b'[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write(item, out)?;
    }
    out.push(b']');
    Ok(())
}

/// An action as it serializes (internally tagged by `type`), keys sorted.
fn write_action(a: &Action, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
    let mut o = CanonicalObject::start(out);
    match a {
        Action::Label { label } => o.field("label", label)?,
        Action::QueueReview { queue } => o.field("queue", queue)?,
        Action::DeductCredit { points } => o.field("points", points)?,
        Action::Demonetize { features, days } => {
            o.field("days", days)?;
            o.field("features", features)?;
        }
        Action::RestrictPosting { days }
        | Action::RestrictNewFollowers { days }
        | Action::Suspend { days }
        | Action::RequireDisclosure { days } => o.field("days", days)?,
        Action::LimitReach {} | Action::Remove {} | Action::Close {} | Action::Mute {} => {}
    }
    o.field("type", a.name())?;
    o.end();
    Ok(())
}

/// A restriction as it serializes (a missing post and an empty detail are left out), keys
/// sorted.
fn write_restriction(r: &Restriction, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
    let mut o = CanonicalObject::start(out);
    o.str_field("account_id", &r.account_id);
    o.str_field("decision_id", &r.decision_id);
    if !r.detail.is_empty() {
        o.str_field("detail", &r.detail);
    }
    match r.end {
        Some(end) => o.time_field("end", end),
        None => o.field("end", &())?,
    }
    o.str_field("kind", r.kind.as_str());
    if let Some(post_id) = &r.post_id {
        o.str_field("post_id", post_id);
    }
    o.time_field("start", r.start);
    o.end();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use steward_store::audit::canonical_json;

    fn decision(actions: Vec<Action>, restrictions: Vec<Restriction>, account: bool, post: bool) -> Decision {
        let mut d: Decision = serde_json::from_value(json!({
            "id": "r@e\"1", "event_id": "e\"1", "rule_id": "r", "policy_version": "v 1 — 版本",
            "ground": "g", "category": "c", "facts": {}, "automated_detection": true,
            "automated_decision": true, "actions": [], "restrictions": [], "credit_deducted": 3,
            "explanation": "x", "appeal": {"how": "h", "until": "2026-11-22T08:00:00.123456789Z"},
            "decided_at": "2026-11-22T08:00:00.123456789Z",
        }))
        .unwrap();
        d.account_id = account.then(|| "a1".into());
        d.post_id = post.then(|| "p1".into());
        d.actions = actions;
        d.restrictions = restrictions;
        d
    }

    /// The body as first written: a value through `json!`, made canonical.
    fn reference(d: &Decision) -> String {
        canonical_json(&json!({
            "event_id": d.event_id,
            "rule_id": d.rule_id,
            "policy_version": d.policy_version,
            "account_id": d.account_id,
            "post_id": d.post_id,
            "actions": d.actions,
            "restrictions": d.restrictions,
            "credit_deducted": d.credit_deducted,
        }))
    }

    #[test]
    fn signals_become_the_values_they_serialize_to() {
        let signals = [
            Signal::new("clickbait", "clickbait", 2, 0.75)
                .with("cues", json!(["exclamation", "标题"]))
                .with("nested", json!({"a": [1, 2.5, null], "b": {"c": "d"}})),
            Signal::new("copy_campaign", "copy", 1, 1.0),
            Signal::new("x", "y", 0, f64::NAN),
        ];
        for s in signals {
            assert_eq!(signal_value(&s), serde_json::to_value(&s).unwrap());
        }
    }

    #[test]
    fn the_audit_body_is_the_canonical_json_of_the_decision_fields() {
        let at = Utc.with_ymd_and_hms(2026, 11, 22, 8, 0, 0).unwrap() + Duration::microseconds(5);
        let template = Restriction {
            decision_id: "r@e\"1".into(),
            account_id: "a\u{1}1".into(),
            post_id: None,
            kind: RestrictionKind::Label,
            detail: String::new(),
            start: at,
            end: None,
        };
        let actions = vec![
            Action::Label { label: "ai-generated".into() },
            Action::LimitReach {},
            Action::Remove {},
            Action::RestrictPosting { days: 7 },
            Action::RestrictNewFollowers { days: 30 },
            Action::Demonetize { features: vec!["ads".into(), "tips".into()], days: 30 },
            Action::Suspend { days: 90 },
            Action::Close {},
            Action::RequireDisclosure { days: 180 },
            Action::QueueReview { queue: "campaigns".into() },
            Action::DeductCredit { points: 2 },
        ];
        let on_post = Some("p1".to_string());
        let restrictions = vec![
            Restriction { post_id: on_post.clone(), detail: "标题党 \"x\"".into(), ..template.clone() },
            Restriction { post_id: on_post, kind: RestrictionKind::LimitReach, ..template.clone() },
            Restriction {
                kind: RestrictionKind::Monetization,
                detail: "ads,tips".into(),
                end: Some(at + Duration::days(30)),
                ..template.clone()
            },
            Restriction { kind: RestrictionKind::Posting, end: Some(at + Duration::nanoseconds(1)), ..template },
        ];
        for (account, post) in [(true, true), (true, false), (false, false)] {
            for d in [
                decision(actions.clone(), restrictions.clone(), account, post),
                decision(vec![], vec![], account, post),
            ] {
                assert_eq!(audit_body(&d).as_str(), reference(&d));
            }
        }
    }
}
