//! The notices steward sends, built from their causes: each goes into the [`Batch`] of its
//! cause, so it is stored if and only if the cause is (the transactional outbox), and its id
//! comes from the cause, so committing the cause again makes no second notice.
//!
//! [`decision`] makes the notice of a live decision to its subject account, which carries
//! the decision's statement of reasons ([`Decision::statement_of_reasons`]) when it is read; [`outcome`] makes the notice of a case, appeal or report outcome.
//!
//! ```
//! use steward_engine::notice;
//! use steward_model::{Audience, NoticeKind};
//! let at = chrono::Utc::now();
//! let body = serde_json::json!({"outcome": "upheld", "reason": "the label stays"});
//! let n = notice::outcome(NoticeKind::ReportOutcome, "case-7", 1, Audience::Reporter, "acct-wang", at, body);
//! assert_eq!(n.id, "report:case-7:1:acct-wang");
//! ```
//!
//! [`Batch`]: steward_store::Batch

use chrono::{DateTime, Utc};
use serde_json::Value;
use steward_model::{Audience, Decision, Event, Notice, NoticeKind, Payload};

/// The notice of a live decision to the account it concerns, or `None` for a shadow
/// decision (no one is told) or one without an account.
pub fn decision(d: &Decision) -> Option<Notice> {
    if d.shadow {
        return None;
    }
    let recipient = d.account_id.clone()?;
    Some(Notice {
        id: Notice::decision_id(&d.id),
        recipient,
        audience: Audience::Account,
        kind: NoticeKind::Decision,
        subject: d.id.clone(),
        created_at: d.decided_at,
        // The statement of reasons is the decision's, which is stored: it is written out
        // when the notice is read or sent rather than kept twice.
        body: Value::Null,
    })
}

/// The group actions for the live decisions `decisions` (ids) an event made on its own
/// message, when that is a group message: one notice per message, to its group, which the
/// group's bot delivers by enforcing them in order.
pub fn group_actions(event: &Event, decisions: &[&str], at: DateTime<Utc>) -> Option<Notice> {
    let Payload::PostCreated(post) = &event.payload else { return None };
    let group = post.group_id.as_ref()?;
    if decisions.is_empty() {
        return None;
    }
    Some(Notice {
        id: Notice::group_actions_id(&event.id),
        recipient: group.clone(),
        audience: Audience::Group,
        kind: NoticeKind::GroupActions,
        subject: event.id.clone(),
        created_at: at,
        body: serde_json::json!({ "post_id": post.id, "decisions": decisions }),
    })
}

/// The notice of an outcome: the `n`th of its `kind` about `subject` (the case, appeal or
/// report) to `recipient`, who is the account concerned or a reporter. Give each outcome of
/// a subject its own `n` (the case's version, say): the same `n` twice is one notice.
pub fn outcome(
    kind: NoticeKind,
    subject: &str,
    n: u32,
    audience: Audience,
    recipient: &str,
    at: DateTime<Utc>,
    body: Value,
) -> Notice {
    Notice {
        id: Notice::outcome_id(kind, subject, n, audience, recipient),
        recipient: recipient.to_string(),
        audience,
        kind,
        subject: subject.to_string(),
        created_at: at,
        body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use steward_model::{Appeal, Restriction, RestrictionKind};

    fn decided(shadow: bool, account: Option<&str>) -> Decision {
        let at = DateTime::parse_from_rfc3339("2026-11-22T08:00:00Z").unwrap().with_timezone(&Utc);
        Decision {
            id: "ai@e1".into(),
            event_id: "e1".into(),
            account_id: account.map(str::to_string),
            post_id: Some("p1".into()),
            rule_id: "ai".into(),
            policy_version: "v1".into(),
            ground: "第十条".into(),
            category: "ai_unlabelled".into(),
            facts: json!({"signals": []}),
            automated_detection: true,
            automated_decision: true,
            actions: vec![],
            restrictions: vec![Restriction {
                decision_id: "ai@e1".into(),
                account_id: "a1".into(),
                post_id: None,
                kind: RestrictionKind::Posting,
                detail: String::new(),
                start: at,
                end: Some(at + chrono::Duration::days(7)),
            }],
            credit_deducted: 2,
            explanation: "why".into(),
            appeal: Appeal { how: "POST /v1/appeals".into(), until: at + chrono::Duration::days(180) },
            decided_at: at,
            shadow,
        }
    }

    #[test]
    fn a_live_decision_on_an_account_is_told_with_its_reasons() {
        let d = decided(false, Some("a1"));
        let n = decision(&d).unwrap();
        assert_eq!((n.id.as_str(), n.recipient.as_str(), n.subject.as_str()), ("decision:ai@e1", "a1", "ai@e1"));
        let body = d.statement_of_reasons();
        assert_eq!(
            body["restrictions"][0],
            json!({"kind": "posting", "start": d.decided_at, "end": d.restrictions[0].end})
        );
        assert_eq!(body["appeal"]["until"], json!(d.appeal.until));
        assert_eq!(body["post_id"], "p1");
        assert_eq!(body["credit_deducted"], 2);
    }

    #[test]
    fn shadow_decisions_and_decisions_without_an_account_are_not_told() {
        assert!(decision(&decided(true, Some("a1"))).is_none());
        assert!(decision(&decided(false, None)).is_none());
    }
}
