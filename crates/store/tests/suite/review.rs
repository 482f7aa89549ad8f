//! The human loop's tables on both backends: one case not resolved per subject, claims
//! that run out, the queue's order, reports and reporter standing, one pending appeal per
//! decision, and reversals.

use steward_model::{
    AppealFiled, AppealState, Case, CaseEntry, CaseReport, CaseState, Claim, ReportState, ReporterMute, Reversal,
    Subject, SubjectKind,
};
use steward_store::ReviewWrite;

use super::*;

suite!(
    cases_round_trip_and_one_is_open_per_subject,
    claimable_cases_follow_rank_and_claims,
    reports_count_for_their_reporter,
    one_appeal_pending_per_decision,
    reversals_keep_the_first,
);

fn case(id: &str, subject: &str, queue: &str, priority: f64, opened_at: DateTime<Utc>) -> Case {
    Case {
        id: id.to_string(),
        subject: Subject::new(SubjectKind::Post, subject),
        queue: queue.to_string(),
        state: CaseState::Open,
        version: 1,
        priority,
        category: "rumour".to_string(),
        account_id: Some("a1".to_string()),
        decisions: vec![],
        reports: vec![],
        appeals: vec![],
        reporters: 0,
        reporter_weight: 0.0,
        reach: 10,
        claim: None,
        opened_at,
        updated_at: opened_at,
        resolved_at: None,
        outcome: None,
    }
}

fn commit(store: &dyn Store, writes: Vec<ReviewWrite>) -> Result<usize, StoreError> {
    store.commit(&Batch { review: writes, ..Batch::default() })
}

fn cases_round_trip_and_one_is_open_per_subject(db: &dyn Db) {
    let store = db.open().unwrap();
    let c = case("c1", "p1", "reports", 3.5, t0());
    let entry = CaseEntry {
        case_id: "c1".into(),
        at: t0(),
        actor: "steward".into(),
        action: "report".into(),
        reason: "谣言".into(),
        version: 1,
        detail: json!({"report_id": "r1"}),
    };
    commit(store.as_ref(), vec![ReviewWrite::Case(c.clone()), ReviewWrite::Entry(entry.clone())]).unwrap();
    assert_eq!(store.case("c1").unwrap(), Some(c.clone()));
    assert_eq!(store.open_case(&c.subject).unwrap(), Some(c.clone()));
    assert_eq!(store.case_entries("c1").unwrap(), vec![entry]);
    // A second open case on the same subject is refused as another writer's (the batch can be
    // made again on it), and nothing of its batch stays.
    let other = case("c2", "p1", "reports", 1.0, t0());
    let refused = commit(store.as_ref(), vec![ReviewWrite::Case(other)]);
    assert!(matches!(refused, Err(StoreError::Stale(_))), "{refused:?}");
    assert_eq!(store.case("c2").unwrap(), None);
    // So is a write of a version that does not follow the stored one.
    let skipped = Case { version: 3, reach: 99, ..c.clone() };
    let refused = commit(store.as_ref(), vec![ReviewWrite::Case(skipped)]);
    assert!(matches!(refused, Err(StoreError::Stale(_))), "{refused:?}");
    assert_eq!(store.case("c1").unwrap(), Some(c.clone()));
    // Once resolved, the subject may have a new case.
    let resolved = Case { state: CaseState::Resolved, version: 2, outcome: Some("upheld".into()), ..c.clone() };
    commit(store.as_ref(), vec![ReviewWrite::Case(resolved)]).unwrap();
    assert_eq!(store.open_case(&c.subject).unwrap(), None);
    commit(store.as_ref(), vec![ReviewWrite::Case(case("c3", "p1", "reports", 1.0, t0()))]).unwrap();
    let all = store.subject_cases(&c.subject, 10).unwrap();
    assert_eq!(all.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), ["c1", "c3"]);
    let counts = store.queue_counts().unwrap();
    assert_eq!((counts.len(), counts[0].open, counts[0].oldest_opened_at), (1, 1, Some(t0())));
}

fn claimable_cases_follow_rank_and_claims(db: &dyn Db) {
    let store = db.open().unwrap();
    let old = case("old", "p1", "q", 10.0, t0());
    let new = case("new", "p2", "q", 11.0, t0() + Duration::hours(8));
    let top = case("top", "p3", "q", 30.0, t0() + Duration::hours(8));
    let elsewhere = case("x", "p4", "other", 99.0, t0());
    let writes = [&old, &new, &top, &elsewhere].into_iter().map(|c| ReviewWrite::Case(c.clone())).collect();
    commit(store.as_ref(), writes).unwrap();
    let ids = |at| store.claimable_cases("q", at, 10).unwrap().into_iter().map(|c| c.id).collect::<Vec<_>>();
    // Eight hours of waiting are worth two points: the old case passes the newer one.
    assert_eq!(ids(t0() + Duration::hours(9)), ["top", "old", "new"]);
    let claim = Claim { by: "k_m1".into(), until: t0() + Duration::hours(9) + Duration::minutes(10) };
    let held = Case { state: CaseState::Assigned, claim: Some(claim), version: 2, ..top };
    commit(store.as_ref(), vec![ReviewWrite::Case(held)]).unwrap();
    assert_eq!(ids(t0() + Duration::hours(9)), ["old", "new"], "a claimed case is not offered");
    assert_eq!(ids(t0() + Duration::hours(10)), ["top", "old", "new"], "a claim that ran out frees the case");
    assert_eq!(store.cases(Some("q"), Some(CaseState::Assigned), 10).unwrap().len(), 1);
}

fn reports_count_for_their_reporter(db: &dyn Db) {
    let store = db.open().unwrap();
    let report = |id: &str, state| CaseReport {
        id: id.to_string(),
        reporter_id: "u1".into(),
        subject: Subject::new(SubjectKind::Account, "a1"),
        reason: "spam".into(),
        text: String::new(),
        at: t0(),
        case_id: Some("c1".into()),
        state,
        weight: 1.0,
    };
    let writes = vec![
        ReviewWrite::Report(report("r1", ReportState::Upheld)),
        ReviewWrite::Report(report("r2", ReportState::Upheld)),
        ReviewWrite::Report(report("r3", ReportState::Dismissed)),
        ReviewWrite::Report(report("r4", ReportState::Duplicate)),
        ReviewWrite::Report(report("r5", ReportState::Open)),
    ];
    commit(store.as_ref(), writes).unwrap();
    let s = store.reporter_standing("u1").unwrap();
    assert_eq!((s.upheld, s.dismissed, s.standing, s.muted_until), (2, 1, None, None));
    assert_eq!(store.case_reports("c1").unwrap().len(), 5);
    let mute = ReporterMute {
        reporter_id: "u1".into(),
        until: t0() + Duration::days(2),
        by: "k_a".into(),
        reason: "x".into(),
        at: t0(),
    };
    commit(store.as_ref(), vec![ReviewWrite::Mute(mute)]).unwrap();
    let s = store.reporter_standing("u1").unwrap();
    assert!(s.muted_at(t0() + Duration::days(1)) && !s.muted_at(t0() + Duration::days(3)));
    assert_eq!(store.reporter_standing("nobody").unwrap().weight, 1.0);
}

fn one_appeal_pending_per_decision(db: &dyn Db) {
    let store = db.open().unwrap();
    let appeal = |id: &str, state| AppealFiled {
        id: id.to_string(),
        decision_id: "ai@e1".into(),
        account_id: "a1".into(),
        text: "我已标注".into(),
        filed_at: t0(),
        case_id: "c1".into(),
        state,
        decided_by: None,
        decided_at: None,
        reason: String::new(),
    };
    commit(store.as_ref(), vec![ReviewWrite::Appeal(appeal("ap1", AppealState::Pending))]).unwrap();
    assert!(commit(store.as_ref(), vec![ReviewWrite::Appeal(appeal("ap2", AppealState::Pending))]).is_err());
    let decided =
        AppealFiled { decided_by: Some("k_m2".into()), decided_at: Some(t0()), ..appeal("ap1", AppealState::Upheld) };
    commit(store.as_ref(), vec![ReviewWrite::Appeal(decided.clone())]).unwrap();
    commit(store.as_ref(), vec![ReviewWrite::Appeal(appeal("ap2", AppealState::Pending))]).unwrap();
    let all = store.appeals_for("ai@e1").unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(store.appeal("ap1").unwrap(), Some(decided));
}

fn reversals_keep_the_first(db: &dyn Db) {
    let store = db.open().unwrap();
    let reversal = |by: &str, at| Reversal {
        decision_id: "ai@e1".into(),
        account_id: Some("a1".into()),
        at,
        by: by.into(),
        reason: "wrong".into(),
        case_id: "c1".into(),
    };
    let first = reversal("k_m1", t0());
    commit(store.as_ref(), vec![ReviewWrite::Reversal(first.clone())]).unwrap();
    commit(store.as_ref(), vec![ReviewWrite::Reversal(reversal("k_m2", t0() + Duration::hours(1)))]).unwrap();
    assert_eq!(store.reversal("ai@e1").unwrap(), Some(first.clone()));
    assert_eq!(store.reversals(Some("a1")).unwrap(), vec![first.clone()]);
    assert_eq!(store.reversals(None).unwrap(), vec![first]);
    assert_eq!(store.reversals(Some("a2")).unwrap(), vec![]);
}
