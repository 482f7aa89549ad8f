//! The transparency report end to end on a SQLite store: the numbers in each format, the
//! chart bars in the page, and example cases that give away no one, though the store is
//! full of names, handles, numbers, addresses and links.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};
use steward_model::{
    Action, Appeal, AppealFiled, AppealState, Case, CaseEntry, CaseState, Decision, Reversal, Subject, SubjectKind,
};
use steward_report::{Format, Period, Transparency, render};
use steward_store::{Batch, EntityRow, ReviewWrite, Store, StoredEvent};

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// What the store holds that no report may show.
const PERSONAL: &[&str] = &[
    "a_zhang",
    "zhang_san_88",
    "张三",
    "13800138000",
    "zhang@example.com",
    "t.cn",
    "p_secret",
    "case_secret",
    "u_reporter",
    "k_mod",
    "his number",
];

fn entity(kind: &'static str, id: &str, account: &str, body: Value) -> EntityRow {
    EntityRow {
        kind,
        id: id.into(),
        account_id: Some(account.into()),
        body: body.to_string(),
        deleted: false,
        updated_at: t("2026-11-01T00:00:00Z"),
    }
}

fn decision(id: &str, rule: &str, category: &str, account: &str, post: &str, at: &str, detector: &str) -> Decision {
    Decision {
        id: id.into(),
        event_id: format!("e-{id}"),
        account_id: Some(account.into()),
        post_id: Some(post.into()),
        rule_id: rule.into(),
        policy_version: "2026.11".into(),
        ground: "《网络信息内容生态治理规定》第六条".into(),
        category: category.into(),
        facts: json!({"signals": [{"name": category, "detector": detector, "version": 1, "score": 0.9,
            "evidence": {"text": "call 13800138000", "account": account}}]}),
        automated_detection: true,
        automated_decision: true,
        actions: vec![Action::Label { label: "disputed".into() }, Action::RestrictPosting { days: 15 }],
        restrictions: vec![],
        credit_deducted: 0,
        explanation: format!("Post {post} by @zhang_san_88 (张三) repeats a refuted claim."),
        appeal: Appeal { how: "Reply within 180 days.".into(), until: t(at) + Duration::days(180) },
        decided_at: t(at),
        shadow: false,
    }
}

fn case(id: &str, post: &str, decisions: &[&str], outcome: &str, reporters: u32) -> Case {
    Case {
        id: id.into(),
        subject: Subject::new(SubjectKind::Post, post),
        queue: "reports".into(),
        state: CaseState::Resolved,
        version: 4,
        priority: 1.0,
        category: "张三 is lying".into(),
        account_id: Some("a_zhang".into()),
        decisions: decisions.iter().map(|d| d.to_string()).collect(),
        reports: vec![],
        appeals: vec![],
        reporters,
        reporter_weight: 1.0,
        reach: 88,
        claim: None,
        opened_at: t("2026-11-02T10:00:00Z"),
        updated_at: t("2026-11-03T12:00:00Z"),
        resolved_at: Some(t("2026-11-03T12:00:00Z")),
        outcome: Some(outcome.into()),
    }
}

fn store() -> (tempfile::TempDir, std::sync::Arc<dyn Store>) {
    let dir = tempfile::tempdir().unwrap();
    let store = steward_store::open(dir.path(), None).unwrap();
    let secret = "call 13800138000 or write to zhang@example.com, see http://t.cn/x — 张三";
    let d1 = decision("d1", "refuted-claim", "rumour", "a_zhang", "p_secret", "2026-11-02T10:00:00Z", "claims");
    let d2 = decision("d2", "refuted-claim", "rumour", "a2", "p2", "2026-11-02T11:00:00Z", "claims");
    let mut d3 = decision("d3", "ai-unlabelled", "ai_unlabelled", "a2", "p3", "2026-11-04T09:00:00Z", "ai_label");
    d3.actions = vec![Action::Label { label: "ai-generated".into() }];
    let batch = Batch {
        events: vec![StoredEvent {
            id: "report.r1".into(),
            event_type: "report.created".into(),
            at: t("2026-11-02T09:00:00Z"),
            body: "{}".into(),
        }],
        entities: vec![
            entity(
                "account",
                "a_zhang",
                "a_zhang",
                json!({"id": "a_zhang", "handle": "zhang_san_88",
                "display_name": "张三", "bio": secret}),
            ),
            entity("post", "p_secret", "a_zhang", json!({"id": "p_secret", "kind": "short_post", "text": secret})),
            entity("post", "p2", "a2", json!({"id": "p2", "kind": "group_message", "text": secret})),
            entity("post", "p3", "a2", json!({"id": "p3", "kind": "image", "text": secret})),
        ],
        restrictions: vec![steward_model::Restriction {
            decision_id: "d1".into(),
            account_id: "a_zhang".into(),
            post_id: None,
            kind: steward_model::RestrictionKind::Posting,
            detail: String::new(),
            start: d1.decided_at,
            end: Some(d1.decided_at + Duration::days(15)),
        }],
        decisions: vec![d1, d2, d3],
        ..Batch::default()
    };
    store.commit(&batch).unwrap();
    let mut overturned = case("case_secret2", "p3", &["d3"], "overturned", 0);
    overturned.appeals = vec!["ap1".into()];
    let review = vec![
        ReviewWrite::Case(case("case_secret", "p_secret", &["d1"], "upheld", 2)),
        ReviewWrite::Case(overturned),
        ReviewWrite::Entry(CaseEntry {
            case_id: "case_secret".into(),
            at: t("2026-11-03T12:00:00Z"),
            actor: "k_mod".into(),
            action: "upheld".into(),
            reason: "张三 is lying, his number 13800138000".into(),
            version: 4,
            detail: json!({"decisions": ["d1"]}),
        }),
        ReviewWrite::Report(steward_model::CaseReport {
            id: "r1".into(),
            reporter_id: "u_reporter".into(),
            subject: Subject::new(SubjectKind::Post, "p_secret"),
            reason: "张三 zhang@example.com".into(),
            text: secret.into(),
            at: t("2026-11-02T09:00:00Z"),
            case_id: Some("case_secret".into()),
            state: steward_model::ReportState::Upheld,
            weight: 1.0,
        }),
        ReviewWrite::Appeal(AppealFiled {
            id: "ap1".into(),
            decision_id: "d3".into(),
            account_id: "a2".into(),
            text: secret.into(),
            filed_at: t("2026-11-04T10:00:00Z"),
            case_id: "case_secret2".into(),
            state: AppealState::Overturned,
            decided_by: Some("k_mod".into()),
            decided_at: Some(t("2026-11-05T10:00:00Z")),
            reason: "his number is 13800138000".into(),
        }),
        ReviewWrite::Reversal(Reversal {
            decision_id: "d3".into(),
            account_id: Some("a2".into()),
            at: t("2026-11-05T10:00:00Z"),
            by: "k_mod".into(),
            reason: "张三".into(),
            case_id: "case_secret2".into(),
        }),
    ];
    store.commit(&Batch { review, ..Batch::default() }).unwrap();
    (dir, store)
}

fn report() -> Transparency {
    let (_dir, store) = store();
    let period = Period::parse(("from", "2026-11-01"), ("to", "2026-11-07")).unwrap();
    Transparency::build(store.as_ref(), period, t("2026-11-08T00:00:00Z")).unwrap()
}

#[test]
fn json_holds_the_counts() {
    let json: Value = serde_json::from_str(&render(&report(), Format::Json)).unwrap();
    let d = &json["decisions"];
    assert_eq!((d["total"].as_u64(), d["automated"].as_u64(), d["reversed"].as_u64()), (Some(3), Some(3), Some(1)));
    assert_eq!(d["by_category"][0], json!({"key": "rumour", "count": 2}));
    assert_eq!(d["by_action"][0], json!({"key": "label", "count": 3}));
    assert_eq!(d["over_time"]["step"], "day");
    let days: Vec<u64> =
        d["over_time"]["points"].as_array().unwrap().iter().map(|p| p["count"].as_u64().unwrap()).collect();
    assert_eq!(days, [0, 2, 0, 1, 0, 0, 0]);
    assert_eq!(json["reports"]["by_source"][0], json!({"key": "api", "count": 1}));
    assert_eq!(json["appeals"]["overturned"], 1);
    let by_detector = &json["appeals"]["by_detector"];
    assert!(by_detector.as_array().unwrap().contains(&json!({"key": "ai_label", "decisions": 1, "reversed": 1,
        "appeals": 1, "appeals_decided": 1, "appeals_overturned": 1, "overturn_rate": 1.0})));
    assert_eq!(json["cases"].as_array().unwrap().len(), 2);
}

#[test]
fn the_page_draws_a_bar_for_every_day_and_category() {
    let html = render(&report(), Format::Html);
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert_eq!(html.matches("<rect class=\"bar\"").count(), 7 + 2, "seven days and two categories");
    assert!(html.contains("<title>2026-11-02: 2 decisions</title>"), "{html}");
    assert!(html.contains("<title>rumour: 2 decisions</title>"));
    assert!(html.contains("<title>ai_unlabelled: 1 decisions</title>"));
    assert!(!html.contains("<script") && !html.contains("src=") && !html.contains("http"), "self-contained");
    for caption in ["Decisions by category", "Reports by source and outcome", "By rule", "By detector"] {
        assert!(html.contains(&format!("<caption>{caption}</caption>")), "{caption}");
    }
}

#[test]
fn csv_is_one_number_a_row() {
    let csv = render(&report(), Format::Csv);
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    assert_eq!(reader.headers().unwrap(), vec!["section", "key", "field", "value"]);
    let rows: Vec<Vec<String>> = reader.records().map(|r| r.unwrap().iter().map(str::to_string).collect()).collect();
    assert!(rows.iter().all(|r| r.len() == 4));
    let has = |row: [&str; 4]| rows.iter().any(|r| r == &row);
    assert!(has(["decisions_by_category", "rumour", "decisions", "2"]));
    assert!(has(["decisions_over_time", "2026-11-04", "day", "1"]));
    assert!(has(["reports_by_source_and_outcome", "api", "upheld", "1"]));
    assert!(has(["precision_by_rule", "ai-unlabelled", "overturn_rate", "1.0000"]));
    assert!(has(["restrictions_by_length", "posting", "up_to_30_days", "1"]));
    assert!(has(["restrictions_by_length", "posting", "permanent", "0"]));
}

#[test]
fn example_cases_give_away_no_one() {
    let report = report();
    for format in [Format::Json, Format::Csv, Format::Html] {
        let text = render(&report, format);
        for secret in PERSONAL {
            assert!(!text.contains(secret), "{format:?} shows {secret:?}");
        }
    }
    let upheld = report.cases.iter().find(|c| c.outcome == "upheld").unwrap();
    assert_eq!(upheld.category.as_deref(), Some("rumour"));
    assert_eq!(upheld.content.as_deref(), Some("short_post"));
    assert_eq!(upheld.month, "2026-11");
    assert_eq!(upheld.days_to_resolve, Some(2));
    assert_eq!(
        upheld.summary,
        "A post (short post) in the category “rumour”, flagged by the claims detector, was decided automatically: \
         labelled “disputed”, no posting for 15 days. Ground: 《网络信息内容生态治理规定》第六条. 2 people reported it. \
         On review the decision was upheld (resolved within 2 days)."
    );
    let overturned = report.cases.iter().find(|c| c.outcome == "overturned").unwrap();
    assert_eq!(overturned.came_by, ["detection", "appeal"]);
}
