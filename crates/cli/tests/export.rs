//! `steward export sor`: a store holding decisions of every kind of restriction, action,
//! source and subject is exported, and every statement is held to the Database's rules.

use std::collections::{HashMap, HashSet};
use std::process::{Command, Output};

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};
use steward_model::sor::rules;
use steward_model::{Action, Appeal, Decision, Restriction, RestrictionKind, Reversal, decision_id};
use steward_store::{Batch, EntityRow, ReviewWrite, SqliteStore, Store};

const STEWARD: &str = env!("CARGO_BIN_EXE_steward");

fn steward(args: &[&str]) -> Output {
    Command::new(STEWARD).args(args).output().unwrap()
}

/// `steward export sor --data-dir DATA` with `args`.
fn export(data: &str, args: &[&str]) -> Output {
    steward(&[&["export", "sor", "--data-dir", data], args].concat())
}

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// A live decision by rule `rule` on event `event`, about `post` of account `a1` (or the
/// account alone), with `actions`; its restrictions follow as the engine derives them.
fn decision(rule: &str, event: &str, post: Option<&str>, at: DateTime<Utc>, actions: Vec<Action>) -> Decision {
    let id = decision_id(event, rule);
    let restriction = |kind, post_id: Option<&str>, days: Option<u32>, detail: &str| Restriction {
        decision_id: id.clone(),
        account_id: "a1".into(),
        post_id: post_id.map(str::to_string),
        kind,
        detail: detail.into(),
        start: at,
        end: days.map(|d| at + Duration::days(d.into())),
    };
    let restrictions = actions
        .iter()
        .filter_map(|a| match a {
            Action::Label { label } => Some(restriction(RestrictionKind::Label, post, None, label)),
            Action::LimitReach {} => Some(restriction(RestrictionKind::LimitReach, post, None, "")),
            Action::Remove {} => Some(restriction(RestrictionKind::Removed, post, None, "")),
            Action::RestrictPosting { days } => Some(restriction(RestrictionKind::Posting, None, Some(*days), "")),
            Action::RestrictNewFollowers { days } => {
                Some(restriction(RestrictionKind::NewFollowers, None, Some(*days), ""))
            }
            Action::Demonetize { days, .. } => Some(restriction(RestrictionKind::Monetization, None, Some(*days), "")),
            Action::Suspend { days } => Some(restriction(RestrictionKind::Suspended, None, Some(*days), "")),
            Action::Close {} => Some(restriction(RestrictionKind::Closed, None, None, "")),
            Action::Mute {} => Some(restriction(RestrictionKind::Muted, None, Some(1), "g1")),
            Action::RequireDisclosure { days } => Some(restriction(RestrictionKind::Disclosure, None, Some(*days), "")),
            Action::QueueReview { .. } | Action::DeductCredit { .. } => None,
        })
        .collect();
    Decision {
        id,
        event_id: event.into(),
        account_id: Some("a1".into()),
        post_id: post.map(str::to_string),
        rule_id: rule.into(),
        policy_version: "test-1".into(),
        ground: "The platform's rules, section 4".into(),
        category: "false_information".into(),
        facts: json!({
            "event": {"id": event, "type": "post.created", "at": at},
            "signals": [{"name": "debunked_claim", "detector": "claims", "version": 1, "score": 0.8,
                         "evidence": {"claim": "自来水被污染"}}],
        }),
        automated_detection: true,
        automated_decision: true,
        actions,
        restrictions,
        credit_deducted: 0,
        explanation: "Your post p1 by 陈医生 (a1) repeats a refuted claim.".into(),
        appeal: Appeal { how: "appeal".into(), until: at + Duration::days(180) },
        decided_at: at,
        shadow: false,
    }
}

fn post_row(id: &str, kind: &str, media: Value, at: DateTime<Utc>) -> EntityRow {
    let body = json!({"id": id, "account_id": "a1", "kind": kind, "text": "网传某地自来水被污染", "created_at": at,
                      "media": media});
    EntityRow {
        kind: "post",
        id: id.into(),
        account_id: Some("a1".into()),
        body: body.to_string(),
        deleted: false,
        updated_at: at,
    }
}

#[test]
fn every_statement_of_a_period_keeps_every_rule_of_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    let at = t("2026-11-22T08:00:00Z");
    let mut batch = Batch::default();
    batch.entities.push(EntityRow {
        kind: "account",
        id: "a1".into(),
        account_id: Some("a1".into()),
        body: json!({"id": "a1", "handle": "chen_doc", "display_name": "陈医生", "followers": 12}).to_string(),
        deleted: false,
        updated_at: at,
    });
    batch.entities.push(post_row("p1", "short_post", json!([]), at - Duration::days(400)));
    batch.entities.push(post_row("p2", "video", json!([{"kind": "audio", "ai_marker": true}]), at));

    let p1 = Some("p1");
    let d = |rule: &str, n: usize, post, actions| {
        decision(rule, &format!("e{n}"), post, at + Duration::minutes(n as i64), actions)
    };
    let mut decisions = vec![
        d("labels", 1, p1, vec![Action::Label { label: "debunked-claim".into() }, Action::LimitReach {}]),
        d("removes", 2, Some("p2"), vec![Action::Remove {}, Action::DeductCredit { points: 2 }]),
        d(
            "restricts",
            3,
            p1,
            vec![
                Action::RestrictPosting { days: 7 },
                Action::RestrictNewFollowers { days: 30 },
                Action::Demonetize { features: vec![], days: 30 },
                Action::Suspend { days: 15 },
            ],
        ),
        d("closes", 4, None, vec![Action::Close {}, Action::Suspend { days: 90 }]),
        d(
            "discloses",
            5,
            None,
            vec![Action::RequireDisclosure { days: 180 }, Action::QueueReview { queue: "q".into() }],
        ),
        d("reviews-only", 6, p1, vec![Action::QueueReview { queue: "q".into() }, Action::DeductCredit { points: 1 }]),
        d("reversed", 7, p1, vec![Action::Label { label: "x".into() }, Action::Suspend { days: 30 }]),
        d("too-long", 8, p1, vec![Action::Suspend { days: 365 * 40 }]),
        d("odd.rule_id", 9, p1, vec![Action::Label { label: "x".into() }]),
    ];
    decisions[1].category = "impersonation".into();
    decisions[3].category = "an_operator_category".into();
    decisions[4].category = "disclosure_evasion".into();
    decisions[8].event_id = "事件 9".into();
    decisions[8].id = decision_id("事件 9", "odd.rule_id");
    // A moderator's decision on a user's report, in place of another.
    decisions[2].automated_decision = false;
    decisions[2].automated_detection = false;
    decisions[2].facts = json!({"event": {"type": "report.created", "at": at}, "signals": [], "replaces": "labels@e1"});
    decisions[2].ground = "g".repeat(600);
    decisions[2].explanation = "e".repeat(2500);
    // Enough more for three calls.
    for n in 100..330 {
        decisions.push(d("bulk", n, p1, vec![Action::LimitReach {}]));
    }
    // Outside the period, and a shadow decision: not exported.
    decisions.push(decision("late", "e-late", p1, t("2026-11-25T00:00:00Z"), vec![Action::Remove {}]));
    decisions.push(decision("early", "e-early", p1, t("2026-11-21T23:59:59Z"), vec![Action::Remove {}]));
    let mut shadow = d("shadowed", 10, p1, vec![Action::Remove {}]);
    shadow.shadow = true;
    shadow.restrictions.clear();
    decisions.push(shadow);
    batch.decisions = decisions.clone();
    let reversed_at = at + Duration::days(2);
    batch.review.push(ReviewWrite::Reversal(Reversal {
        decision_id: decision_id("e7", "reversed"),
        account_id: Some("a1".into()),
        at: reversed_at,
        by: "k_mod".into(),
        reason: "not a refuted claim".into(),
        case_id: "c1".into(),
    }));
    store.commit(&batch).unwrap();
    drop(store);

    let out_file = dir.path().join("sor.ndjson");
    let data = dir.path().to_str().unwrap();
    let out = export(data, &["--from", "2026-11-22", "--to", "2026-11-25", "--out", out_file.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The one decision the Database cannot take is named, and the rest written.
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("decision too-long@e8: not exported: its account restriction's end 2066-")
            && stderr.contains("outside what the Database takes"),
        "{stderr}"
    );
    assert!(stderr.contains("1 restrict nothing") && stderr.contains("1 could not be written"), "{stderr}");
    assert!(stderr.contains("1 overturned"), "{stderr}");
    assert!(stderr.contains("category \"an_operator_category\" is not in the mapping: its 1 statements"), "{stderr}");

    // Every call is a valid body of the multiple-statements endpoint, every PUID unique.
    let text = std::fs::read_to_string(&out_file).unwrap();
    let mut statements: HashMap<String, Value> = HashMap::new();
    let mut sizes = Vec::new();
    for line in text.lines() {
        let call: Value = serde_json::from_str(line).unwrap();
        assert_eq!(rules::check_call(&call), Vec::<String>::new());
        let list = call["statements"].as_array().unwrap();
        sizes.push(list.len());
        for s in list {
            let puid = s["puid"].as_str().unwrap().to_string();
            assert!(statements.insert(puid.clone(), s.clone()).is_none(), "{puid} twice");
        }
    }
    // 9 + 230 in the period, less the one restricting nothing and the one too long.
    assert_eq!(sizes, vec![100, 100, 37]);

    let get = |puid: &str| statements.get(puid).unwrap_or_else(|| panic!("no statement {puid}"));
    let keys = |s: &Value| -> HashSet<String> { s.as_object().unwrap().keys().cloned().collect() };
    let end_dates = [
        "end_date_visibility_restriction",
        "end_date_monetary_restriction",
        "end_date_service_restriction",
        "end_date_account_restriction",
    ];

    let labels = get("labels_40e1");
    assert_eq!(
        labels["decision_visibility"],
        json!(["DECISION_VISIBILITY_CONTENT_LABELLED", "DECISION_VISIBILITY_CONTENT_DEMOTED"])
    );
    assert!(end_dates.iter().all(|f| !keys(labels).contains(*f)), "labels stay: no end");
    assert_eq!(labels["category"], "STATEMENT_CATEGORY_NEGATIVE_EFFECTS_ON_CIVIC_DISCOURSE_OR_ELECTIONS");
    assert_eq!(labels["category_specification"], json!(["KEYWORD_MISINFORMATION_DISINFORMATION"]));
    assert_eq!(labels["content_type"], json!(["CONTENT_TYPE_TEXT"]));
    assert_eq!(labels["content_date"], "2025-10-18");
    assert_eq!(labels["application_date"], "2026-11-22");
    assert_eq!(labels["source_type"], "SOURCE_VOLUNTARY");
    assert_eq!(
        (&labels["automated_detection"], &labels["automated_decision"]),
        (&json!("Yes"), &json!("AUTOMATED_DECISION_FULLY"))
    );
    assert_eq!(labels["decision_ground"], "DECISION_GROUND_INCOMPATIBLE_CONTENT");
    assert_eq!(labels["incompatible_content_ground"], "The platform's rules, section 4");
    // No personal data: ids and names out of the explanation, evidence out of the facts.
    assert_eq!(
        labels["incompatible_content_explanation"],
        "Your post [post] by [name] ([account]) repeats a refuted claim."
    );
    let facts = labels["decision_facts"].as_str().unwrap();
    assert!(facts.contains("debunked_claim (detector claims, score 0.80)") && !facts.contains("自来水"), "{facts}");
    assert_eq!(labels["territorial_scope"].as_array().unwrap().len(), rules::EEA_COUNTRIES.len());

    let removes = get("removes_40e2");
    assert_eq!(removes["decision_visibility"], json!(["DECISION_VISIBILITY_CONTENT_REMOVED"]));
    assert_eq!(removes["category"], "STATEMENT_CATEGORY_SCAMS_AND_FRAUD");
    assert_eq!(removes["category_specification"], json!(["KEYWORD_IMPERSONATION_ACCOUNT_HIJACKING"]));
    assert_eq!(
        removes["content_type"],
        json!(["CONTENT_TYPE_VIDEO", "CONTENT_TYPE_TEXT", "CONTENT_TYPE_AUDIO", "CONTENT_TYPE_SYNTHETIC_MEDIA"])
    );

    let restricts = get("restricts_40e3");
    assert!(!keys(restricts).contains("decision_visibility"));
    assert_eq!(restricts["decision_provision"], "DECISION_PROVISION_PARTIAL_SUSPENSION");
    assert_eq!(restricts["end_date_service_restriction"], "2026-12-22", "the later of posting and followers");
    assert_eq!(restricts["decision_monetary"], "DECISION_MONETARY_SUSPENSION");
    assert_eq!(restricts["end_date_monetary_restriction"], "2026-12-22");
    assert_eq!(restricts["decision_account"], "DECISION_ACCOUNT_SUSPENDED");
    assert_eq!(restricts["end_date_account_restriction"], "2026-12-07");
    assert_eq!(restricts["source_type"], "SOURCE_TYPE_OTHER_NOTIFICATION");
    assert_eq!(
        (&restricts["automated_detection"], &restricts["automated_decision"]),
        (&json!("No"), &json!("AUTOMATED_DECISION_NOT_AUTOMATED"))
    );
    assert!(restricts["decision_facts"].as_str().unwrap().contains("in place of statement labels_40e1"));
    assert_eq!(restricts["incompatible_content_ground"].as_str().unwrap().chars().count(), 500);
    assert_eq!(restricts["incompatible_content_explanation"].as_str().unwrap().chars().count(), 2000);

    let closes = get("closes_40e4");
    assert_eq!(closes["decision_account"], "DECISION_ACCOUNT_TERMINATED");
    assert!(!keys(closes).contains("end_date_account_restriction"), "a closed account has no end");
    assert_eq!(closes["category"], "STATEMENT_CATEGORY_OTHER_VIOLATION_TC");
    assert_eq!(
        (&closes["content_type"], &closes["content_type_other"]),
        (&json!(["CONTENT_TYPE_OTHER"]), &json!(steward_model::sor::ACCOUNT_CONTENT))
    );
    assert_eq!(closes["content_date"], "2026-11-22");

    let discloses = get("discloses_40e5");
    assert_eq!(discloses["decision_visibility"], json!(["DECISION_VISIBILITY_OTHER"]));
    assert_eq!(discloses["decision_visibility_other"], steward_model::sor::DISCLOSURE);
    assert_eq!(discloses["end_date_visibility_restriction"], "2027-05-21");

    let reversed = get("reversed_40e7");
    assert_eq!(reversed["end_date_visibility_restriction"], "2026-11-24");
    assert_eq!(reversed["end_date_account_restriction"], "2026-11-24");
    assert!(reversed["decision_facts"].as_str().unwrap().contains("Overturned on review on 2026-11-24"));

    assert!(statements.contains_key("odd_2Erule_5Fid_40_E4_BA_8B_E4_BB_B6_209"));
    for gone in ["reviews-only_40e6", "too-long_40e8", "late_40e-late", "early_40e-early", "shadowed_40e10"] {
        assert!(!statements.contains_key(gone), "{gone}");
    }
}

#[test]
fn a_bad_period_is_refused_naming_the_option() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let out = export(data, &["--from", "2026-13-01", "--to", "2026-12-01"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--from") && stderr.contains("\"2026-13-01\" is neither a day (YYYY-MM-DD)"), "{stderr}");

    let out = export(data, &["--from", "2026-12-01", "--to", "2026-11-01T00:00:00Z"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--from 2026-12-01T00:00:00+00:00 is not before --to 2026-11-01T00:00:00+00:00"),
        "{stderr}"
    );

    let out =
        export(data, &["--from", "2026-11-01", "--to", "2026-12-01", "--category", "x=STATEMENT_CATEGORY_RUMOUR"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--category \"STATEMENT_CATEGORY_RUMOUR\" is not a category")
    );
    assert!(!dir.path().join("steward.db").exists(), "refused before the store is opened");
}
