//! The transparency report's counts on both backends, against a store whose every row is
//! known: decisions of automated rules and a moderator's, one overturned, one shadow and one
//! out of the period; restrictions of each length; reports from the API and from events;
//! moderators' actions; appeals of each state.

use steward_model::{
    AppealFiled, AppealState, Case, CaseEntry, CaseReport, CaseState, ReportState, Reversal, Subject, SubjectKind,
};
use steward_store::ReviewWrite;
use steward_store::transparency::{DecisionGroup, DetectorTally, Length, LengthTally, Tally, Waits};

use super::*;

suite!(transparency_counts_add_up, transparency_of_an_empty_period);

fn hours(n: i64) -> DateTime<Utc> {
    t0() + Duration::hours(n)
}

fn restriction(d: &Decision, kind: RestrictionKind, days: Option<i64>) -> Restriction {
    Restriction {
        decision_id: d.id.clone(),
        account_id: d.account_id.clone().unwrap(),
        post_id: None,
        kind,
        detail: String::new(),
        start: d.decided_at,
        end: days.map(|n| d.decided_at + Duration::days(n)),
    }
}

fn entry(case: &str, actor: &str, action: &str, at: DateTime<Utc>) -> ReviewWrite {
    ReviewWrite::Entry(CaseEntry {
        case_id: case.into(),
        at,
        actor: actor.into(),
        action: action.into(),
        reason: "per the rules".into(),
        version: 1,
        detail: json!({}),
    })
}

fn report(id: &str, case: &str, state: ReportState, at: DateTime<Utc>) -> ReviewWrite {
    ReviewWrite::Report(CaseReport {
        id: id.into(),
        reporter_id: "u1".into(),
        subject: Subject::new(SubjectKind::Post, "p1"),
        reason: "rumour".into(),
        text: String::new(),
        at,
        case_id: Some(case.into()),
        state,
        weight: 1.0,
    })
}

fn appeal(id: &str, decision: &str, state: AppealState, at: DateTime<Utc>) -> ReviewWrite {
    ReviewWrite::Appeal(AppealFiled {
        id: id.into(),
        decision_id: decision.into(),
        account_id: "a1".into(),
        text: "请复核".into(),
        filed_at: at,
        case_id: "c1".into(),
        state,
        decided_by: None,
        decided_at: None,
        reason: String::new(),
    })
}

fn resolved(id: &str, post: &str, opened_at: DateTime<Utc>, state: CaseState) -> ReviewWrite {
    ReviewWrite::Case(Case {
        id: id.into(),
        subject: Subject::new(SubjectKind::Post, post),
        queue: "reports".into(),
        state,
        version: 3,
        priority: 1.0,
        category: "ai_unlabelled".into(),
        account_id: Some("a1".into()),
        decisions: vec![],
        reports: vec![],
        appeals: vec![],
        reporters: 1,
        reporter_weight: 1.0,
        reach: 10,
        claim: None,
        opened_at,
        updated_at: opened_at,
        resolved_at: (state == CaseState::Resolved).then_some(opened_at),
        outcome: (state == CaseState::Resolved).then(|| "upheld".into()),
    })
}

/// The store described at the top of the file; the period is two days from 2026-11-22.
fn fill(store: &dyn Store) {
    let mut group_post = post_row("p2", "a2", "群里的消息", t0());
    group_post.body = json!({"id": "p2", "account_id": "a2", "kind": "group_message", "text": "群里的消息",
        "group_id": "g1", "created_at": t0()})
    .to_string();
    let (d1, c1) = decision("e1", "ai-unlabelled", "a1", Some("p1"), t0());
    let (mut d2, c2) = decision("e2", "ai-unlabelled", "a2", Some("p2"), hours(24));
    d2.restrictions.push(restriction(&d2, RestrictionKind::Monetization, Some(60)));
    let (mut d3, c3) = decision("e3", "impersonation", "a3", None, hours(25));
    d3.category = "impersonation".into();
    d3.ground = "平台规则 第3条".into();
    d3.facts = json!({"signals": [{"name": "impersonation", "detector": "impersonation", "version": 1,
        "score": 0.9, "evidence": {}}]});
    d3.actions = vec![Action::Suspend { days: 3 }, Action::RestrictNewFollowers { days: 1 }];
    d3.restrictions = vec![
        restriction(&d3, RestrictionKind::Suspended, Some(3)),
        restriction(&d3, RestrictionKind::NewFollowers, Some(1)),
    ];
    // A moderator's replacement of d1: made by a person, on the same post.
    let (mut d4, c4) = decision("e1", "review.c1.4", "a1", Some("p1"), hours(2));
    d4.automated_decision = false;
    d4.facts = json!({"replaces": d1.id, "decided_by": "k_m1"});
    d4.actions = vec![Action::Label { label: "disputed".into() }];
    d4.restrictions = vec![restriction(&d4, RestrictionKind::Label, None)];
    let (mut shadow, c5) = decision("e5", "ai-unlabelled", "a1", Some("p1"), hours(3));
    shadow.shadow = true;
    shadow.restrictions.clear();
    let (before, c6) = decision("e6", "ai-unlabelled", "a1", Some("p1"), t0() - Duration::days(2));
    let mut batch = decisions_batch(&[(d1.clone(), c1), (d2.clone(), c2), (d3.clone(), c3), (d4.clone(), c4)]);
    batch.decisions.push(shadow);
    batch.credits.push(c5);
    batch.decisions.push(before.clone());
    batch.restrictions.extend(before.restrictions.iter().cloned());
    batch.credits.push(c6);
    batch.entities = vec![post_row("p1", "a1", "网传某地自来水被污染", t0()), group_post];
    batch.events = vec![
        event("report.r1", "a1", "p1", t0()),
        event("e-r2", "a1", "p1", hours(1)),
        event("report.r4", "a1", "p1", hours(4)),
    ];
    store.commit(&batch).unwrap();
    let review = vec![
        ReviewWrite::Reversal(Reversal {
            decision_id: d1.id.clone(),
            account_id: Some("a1".into()),
            at: hours(2),
            by: "k_m1".into(),
            reason: "labelled after all".into(),
            case_id: "c1".into(),
        }),
        resolved("c1", "p1", t0(), CaseState::Resolved),
        resolved("c2", "p2", hours(1), CaseState::Resolved),
        resolved("c3", "p3", hours(-1), CaseState::Open),
        resolved("c0", "p0", t0() - Duration::days(3), CaseState::Resolved),
        report("r1", "c1", ReportState::Upheld, t0()),
        report("r2", "c2", ReportState::Dismissed, hours(1)),
        report("r3", "c3", ReportState::Upheld, t0()),
        report("r4", "c3", ReportState::Open, hours(4)),
        report("r5", "c0", ReportState::Upheld, t0() - Duration::days(3)),
        entry("c1", "steward", "report", t0()),
        entry("c1", "k_m1", "claimed", hours(1)),
        entry("c1", "k_m1", "modified", hours(2)),
        entry("c2", "k_m2", "reports_dismissed", hours(5)),
        entry("c3", "k_m1", "escalated", t0() + Duration::minutes(30)),
        entry("c3", "k_m1", "upheld", hours(3)),
        entry("c3", "k_m1", "upheld", hours(72)),
        appeal("ap1", &d1.id, AppealState::Overturned, hours(1)),
        appeal("ap2", &d2.id, AppealState::Upheld, hours(26)),
        appeal("ap3", &d3.id, AppealState::Pending, hours(27)),
        appeal("ap4", &d4.id, AppealState::Pending, hours(28)),
        appeal("ap5", &before.id, AppealState::Upheld, t0() - Duration::days(1)),
    ];
    store.commit(&Batch { review, ..Batch::default() }).unwrap();
}

fn tally(key: &str, by: &str, count: u64) -> Tally {
    Tally { key: key.into(), by: by.into(), count }
}

fn sorted_by_key<T, K: Ord>(mut v: Vec<T>, key: impl Fn(&T) -> K) -> Vec<T> {
    v.sort_by_key(key);
    v
}

fn transparency_counts_add_up(db: &dyn Db) {
    let store = db.open().unwrap();
    fill(store.as_ref());
    let (from, to) = (t("2026-11-22T00:00:00Z"), t("2026-11-24T00:00:00Z"));
    let c = store.transparency_counts(from, to).unwrap();

    let group = |rule: &str, content: &str, automated: bool, decisions, reversed| DecisionGroup {
        category: if rule == "impersonation" { "impersonation" } else { "ai_unlabelled" }.into(),
        ground: if rule == "impersonation" {
            "平台规则 第3条"
        } else {
            "《人工智能生成合成内容标识办法》第十条"
        }
        .into(),
        rule: rule.into(),
        content: content.into(),
        automated_detection: true,
        automated_decision: automated,
        decisions,
        reversed,
    };
    let key = |g: &DecisionGroup| (g.rule.clone(), g.content.clone());
    assert_eq!(
        sorted_by_key(c.decisions, key),
        sorted_by_key(
            vec![
                group("ai-unlabelled", "short_post", true, 1, 1),
                group("ai-unlabelled", "group_message", true, 1, 0),
                group("impersonation", "account", true, 1, 0),
                group("review", "short_post", false, 1, 0),
            ],
            key
        )
    );
    let day = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
    assert_eq!(c.decisions_by_day, vec![(day("2026-11-22"), 2), (day("2026-11-23"), 2)]);
    assert_eq!(
        sorted_by_key(c.actions, |t| t.key.clone()),
        vec![
            tally("deduct_credit", "", 2),
            tally("label", "", 3),
            tally("restrict_new_followers", "", 1),
            tally("restrict_posting", "", 2),
            tally("suspend", "", 1),
        ]
    );
    assert_eq!(
        sorted_by_key(c.detectors, |d| d.detector.clone()),
        vec![
            DetectorTally { detector: "ai_label".into(), decisions: 2, reversed: 1 },
            DetectorTally { detector: "impersonation".into(), decisions: 1, reversed: 0 },
        ]
    );
    let length = |kind: &str, length, count| LengthTally { kind: kind.into(), length, count };
    assert_eq!(
        sorted_by_key(c.restrictions, |l| (l.kind.clone(), l.length)),
        vec![
            length("label", Length::Permanent, 3),
            length("monetization", Length::Longer, 1),
            length("new_followers", Length::UpToDay, 1),
            length("posting", Length::UpToMonth, 2),
            length("suspended", Length::UpToWeek, 1),
        ]
    );
    let by_key = |t: &Tally| (t.key.clone(), t.by.clone());
    assert_eq!(
        sorted_by_key(c.reviews, by_key),
        vec![
            tally("escalated", "", 1),
            tally("modified", "", 1),
            tally("reports_dismissed", "", 1),
            tally("upheld", "", 1)
        ]
    );
    assert_eq!(
        sorted_by_key(c.reports, by_key),
        vec![
            tally("api", "open", 1),
            tally("api", "upheld", 1),
            tally("event", "dismissed", 1),
            tally("event", "upheld", 1)
        ]
    );
    // Waits of 2, 4 and 3 hours (the escalation before the uphold decided nothing).
    assert_eq!(c.waits, Some(Waits { reports: 3, median_seconds: 3.0 * 3600.0 }));
    assert_eq!(
        sorted_by_key(c.appeals_by_rule, by_key),
        vec![
            tally("ai-unlabelled", "overturned", 1),
            tally("ai-unlabelled", "upheld", 1),
            tally("impersonation", "pending", 1),
            tally("review", "pending", 1),
        ]
    );
    assert_eq!(
        sorted_by_key(c.appeals_by_detector, by_key),
        vec![tally("ai_label", "overturned", 1), tally("ai_label", "upheld", 1), tally("impersonation", "pending", 1)]
    );
    let cases = store.resolved_cases(from, to, 10).unwrap();
    assert_eq!(cases.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), ["c2", "c1"]);
    assert_eq!(store.resolved_cases(from, to, 1).unwrap().len(), 1);
}

fn transparency_of_an_empty_period(db: &dyn Db) {
    let store = db.open().unwrap();
    fill(store.as_ref());
    let (from, to) = (t("2030-01-01T00:00:00Z"), t("2030-02-01T00:00:00Z"));
    assert_eq!(store.transparency_counts(from, to).unwrap(), steward_store::TransparencyCounts::default());
    // Even medians are the mean of the middle two.
    let store2 = db.open().unwrap();
    let review = vec![
        report("x1", "c9", ReportState::Upheld, t("2030-01-02T00:00:00Z")),
        report("x2", "c9", ReportState::Dismissed, t("2030-01-02T01:00:00Z")),
        entry("c9", "k_m1", "upheld", t("2030-01-02T02:00:00Z")),
    ];
    store2.commit(&Batch { review, ..Batch::default() }).unwrap();
    let waits = store2.transparency_counts(from, to).unwrap().waits;
    assert_eq!(waits, Some(Waits { reports: 2, median_seconds: 1.5 * 3600.0 }));
}
