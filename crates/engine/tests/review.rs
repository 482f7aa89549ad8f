//! The human loop in the engine, on every store: an overturn gives back credit and ends
//! restrictions in memory at once and after a restart, a modification replaces the
//! decision with a person's, and the audit log verifies after it all.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::json;
use steward_engine::input::split_ndjson;
use steward_engine::review::ReviewError;
use steward_engine::{Engine, EngineOptions, IngestOutcome};
use steward_model::{Action, CaseAction, CaseState};
use steward_policy::Policy;
use steward_store::Store;

mod stores;

const POLICY: &str = r#"
version = "review-1"

[credit]
initial = 10
restore_days = 30

[[ladder]]
id = "below-8"
below = 8
ground = "Repeated violations"
category = "repeat_violations"
actions = [{ type = "suspend", days = 3 }]
reason = "Credit fell to {{standing.credit}}."

[[queues]]
id = "ai"
description = "AI-generated posts published without the label"

[[rules]]
id = "ai"
ground = "AI labelling rules"
category = "ai_unlabelled"
when = "has(signals.unlabelled_ai)"
actions = [
  { type = "label", label = "ai-generated" },
  { type = "deduct_credit", points = 1 },
  { type = "restrict_posting", days = 7 },
  { type = "queue_review", queue = "ai" },
]
reason = "Post {{post.id}} is AI-generated without a label."
"#;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 8, 0, 0).unwrap()
}

fn open(store: &Arc<dyn Store>) -> Engine {
    let options = EngineOptions { clock: Arc::new(t0), ..Default::default() };
    let policy = Arc::new(Policy::parse(POLICY, "review.toml", &steward_engine::schema()).unwrap());
    Engine::open(store.clone(), policy, options).unwrap()
}

fn ai_post(engine: &mut Engine, id: &str) -> IngestOutcome {
    let line = json!({"id": id, "type": "post.created", "at": t0(), "post": {"id": format!("p-{id}"),
        "account_id": "a1", "kind": "video", "text": "生成的视频", "created_at": t0(),
        "ai_generated": {"declared": true}}})
    .to_string();
    engine.ingest(&split_ndjson(line.as_bytes(), 1)).unwrap()
}

fn credit(engine: &Engine) -> i64 {
    steward_engine::standing(engine.store().as_ref(), engine.policy(), "a1", t0()).unwrap().credit
}

#[test]
fn an_overturn_gives_back_what_the_decision_took_at_once_and_after_a_restart() {
    for s in stores::all() {
        eprintln!("-- {}", s.store.backend());
        let mut engine = open(&s.store);
        ai_post(&mut engine, "e1");
        ai_post(&mut engine, "e2");
        assert_eq!(credit(&engine), 8);
        // Each decision opened a case on its post.
        let case = engine.claim_next("ai", "k_m1").unwrap().expect("a case waits");
        assert_eq!(case.state, CaseState::Assigned);
        let err = engine.act(&case.id, case.version, "k_m2", CaseAction::Overturn { reason: "x".into() });
        assert!(matches!(err, Err(ReviewError::Conflict { .. })), "another moderator's claim: {err:?}");
        let overturn = CaseAction::Overturn { reason: "labelled after all".into() };
        let done = engine.act(&case.id, case.version, "k_m1", overturn).unwrap();
        assert_eq!(done.outcome.as_deref(), Some("overturned"));
        assert_eq!(credit(&engine), 9, "the point comes back at once");
        // Memory knows too: a third post takes the account to 8, not under it.
        let third = ai_post(&mut engine, "e3");
        assert!(third.decisions.iter().all(|d| !d.rule_id.starts_with("ladder.")), "{:?}", third.decisions);
        assert_eq!(credit(&engine), 8);
        drop(engine);
        // After a restart the reversal still holds: the fourth post brings it to 7, under 8.
        let mut engine = open(&s.store);
        let fourth = ai_post(&mut engine, "e4");
        assert!(fourth.decisions.iter().any(|d| d.rule_id == "ladder.below-8"), "{:?}", fourth.decisions);
        let standing = steward_engine::standing(s.store.as_ref(), engine.policy(), "a1", t0()).unwrap();
        let posting = standing.restrictions.iter().filter(|r| r.kind.as_str() == "posting").count();
        assert_eq!(posting, 3, "the overturned decision's restriction has ended: {:?}", standing.restrictions);
        steward_store::audit::verify(s.store.as_ref()).unwrap();
    }
}

#[test]
fn a_modification_replaces_the_decision_with_a_persons() {
    for s in stores::all() {
        eprintln!("-- {}", s.store.backend());
        let mut engine = open(&s.store);
        let outcome = ai_post(&mut engine, "e1");
        let original = outcome.decisions[0].id.clone();
        let case = engine.claim_next("ai", "k_m1").unwrap().unwrap();
        let modify = CaseAction::Modify {
            reason: "a label is enough".into(),
            actions: vec![Action::Label { label: "ai-generated".into() }],
        };
        let done = engine.act(&case.id, case.version, "k_m1", modify).unwrap();
        assert_eq!(done.outcome.as_deref(), Some("modified"));
        let made = done.decisions.last().unwrap();
        let decision = s.store.decision(made).unwrap().unwrap();
        assert!(!decision.automated_decision);
        assert_eq!(decision.facts["replaces"], original.as_str());
        assert_eq!(credit(&engine), 10);
        assert!(s.store.reversal(&original).unwrap().is_some());
        let entries = s.store.case_entries(&case.id).unwrap();
        let actions: Vec<&str> = entries.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(actions, ["decision", "claimed", "modified"]);
        // A stale version and a resolved case are refused.
        let again = engine.act(&case.id, case.version, "k_m1", CaseAction::Release {});
        assert!(matches!(again, Err(ReviewError::Conflict { .. })));
        steward_store::audit::verify(s.store.as_ref()).unwrap();
    }
}

#[test]
fn the_policy_routes_a_widely_reported_case_on_a_large_account() {
    for s in stores::all() {
        eprintln!("-- {}", s.store.backend());
        let options = EngineOptions { clock: Arc::new(t0), ..Default::default() };
        let mut engine =
            Engine::open(s.store.clone(), Arc::new(steward_engine::default_policy().unwrap()), options).unwrap();
        let mut lines = vec![
            json!({"id": "a", "type": "account.upserted", "at": t0(), "account": {"id": "big", "handle": "big",
                "display_name": "大号", "followers": 250_000}})
            .to_string(),
        ];
        for i in 0..3 {
            lines.push(
                json!({"id": format!("r{i}"), "type": "report.created", "at": t0(), "report": {"id": format!("r{i}"),
                    "reporter_id": format!("u{i}"), "account_id": "big", "reason": "rumour"}})
                .to_string(),
            );
        }
        let outcome = engine.ingest(&split_ndjson(lines.join("\n").as_bytes(), 1)).unwrap();
        assert_eq!(outcome.accepted, 4, "{:?}", outcome.rejected);
        let subject = steward_model::Subject::new(steward_model::SubjectKind::Account, "big");
        let case = s.store.open_case(&subject).unwrap().unwrap();
        assert_eq!((case.queue.as_str(), case.reporters), ("high-reach", 3));
    }
}

#[test]
fn appeals_close_with_their_window_and_escalations_and_comments_are_logged() {
    use std::sync::atomic::{AtomicI64, Ordering};
    for s in stores::all() {
        eprintln!("-- {}", s.store.backend());
        let clock = Arc::new(AtomicI64::new(t0().timestamp()));
        let read = clock.clone();
        let options = EngineOptions {
            clock: Arc::new(move || Utc.timestamp_opt(read.load(Ordering::SeqCst), 0).unwrap()),
            ..Default::default()
        };
        let policy = Arc::new(Policy::parse(POLICY, "review.toml", &steward_engine::schema()).unwrap());
        let mut engine = Engine::open(s.store.clone(), policy, options).unwrap();
        let d = ai_post(&mut engine, "e1").decisions[0].clone();
        // The window is the policy's (180 days by default): a day after it, the appeal is refused.
        let late = (d.appeal.until - t0()).num_seconds() + 86_400;
        clock.fetch_add(late, Ordering::SeqCst);
        let refused = engine.file_appeal(&d.id, "a1", "too late?");
        assert!(matches!(refused, Err(ReviewError::Unprocessable(ref m)) if m.contains("window")), "{refused:?}");
        let none = engine.file_appeal("no@such", "a1", "?");
        assert!(matches!(none, Err(ReviewError::NotFound(_))), "{none:?}");
        // A comment needs no claim; escalating hands the case on and lets go of the claim.
        let case = s.store.cases(Some("ai"), None, 10).unwrap().remove(0);
        let note = CaseAction::Comment { text: "looks staged".into(), visibility: steward_model::Visibility::Internal };
        let case = engine.act(&case.id, case.version, "k_m1", note).unwrap();
        let case = engine.act(&case.id, case.version, "k_m1", CaseAction::Claim {}).unwrap();
        let up = CaseAction::Escalate { reason: "needs a senior look".into(), queue: None };
        let case = engine.act(&case.id, case.version, "k_m1", up).unwrap();
        assert_eq!((case.state, case.queue.as_str(), case.claim.is_none()), (CaseState::Escalated, "escalated", true));
        let next = engine.claim_next("escalated", "k_senior").unwrap().unwrap();
        assert_eq!(next.id, case.id);
        let log: Vec<String> = s.store.case_entries(&case.id).unwrap().into_iter().map(|e| e.action).collect();
        assert_eq!(log, ["decision", "commented", "claimed", "escalated", "claimed"]);
        steward_store::audit::verify(s.store.as_ref()).unwrap();
    }
}
