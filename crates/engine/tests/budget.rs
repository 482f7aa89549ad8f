//! Issue 21 end to end on real stores: the policy whose rule can hang the engine is refused
//! wherever a policy comes from, and forced in anyway it stalls ingest by one evaluation's
//! budget: the rule is stopped there, counted, and tripped, and not evaluated again until
//! re-armed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use serde_json::json;
use steward_engine::input::split_ndjson;
use steward_engine::{Engine, EngineOptions, PolicyLoadError};
use steward_policy::{Budget, Mode, Policy};
use steward_store::Store;

mod stores;

/// The rule of the issue (four nested loops over a 100-element list: minutes an event),
/// beside an ordinary one.
const POLICY: &str = r#"
version = "issue-21"

[[rules]]
id = "nested"
ground = "Test ground"
category = "test"
when = "lists.range(100).all(a, lists.range(100).all(b, lists.range(100).all(c, lists.range(100).all(d, a + b + c + d >= 0))))"
actions = [{ type = "label", label = "nested" }]
reason = "Post {{post.id}}."

[[rules]]
id = "ai"
ground = "AI labelling rules"
category = "ai_unlabelled"
when = "has(signals.unlabelled_ai)"
actions = [{ type = "label", label = "ai-generated" }]
reason = "Post {{post.id}} is AI-generated without a label."
"#;

/// The policy as a check that allows anything would let it in.
fn forced() -> Arc<Policy> {
    let anything = steward_engine::schema().with_budget(Budget { rule_cost: u64::MAX, ..Budget::default() });
    Arc::new(Policy::parse(POLICY, "issue-21.toml", &anything).unwrap())
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 8, 0, 0).unwrap()
}

fn options() -> EngineOptions {
    let now = t0() + chrono::Duration::days(1);
    EngineOptions { clock: Arc::new(move || now), ..Default::default() }
}

/// Posts of several accounts, one in three AI-declared, a minute apart.
fn stream(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| {
            let at = t0() + chrono::Duration::minutes(i as i64);
            json!({"id": format!("e{i}"), "type": "post.created", "at": at, "post": {"id": format!("p{i}"),
                "account_id": format!("a{}", i % 17), "kind": "short_post", "text": format!("今天的第{i}条消息"),
                "created_at": at, "ai_generated": {"declared": i % 3 == 0}}})
            .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn trips(store: &dyn Store) -> Vec<serde_json::Value> {
    store
        .audit_entries(0, usize::MAX)
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "rule.breaker_tripped")
        .map(|e| serde_json::from_str(e.body.as_str()).unwrap())
        .collect()
}

#[test]
fn issue_21_the_policy_is_refused_wherever_it_comes_from() {
    // `steward policy check`, `--policy FILE`, POST /v1/policy: all parse with the schema.
    let errors = Policy::parse(POLICY, "issue-21.toml", &steward_engine::schema()).unwrap_err();
    assert_eq!(errors.len(), 1, "{errors}");
    assert!(errors.to_string().contains("over the budget of 50,000 steps a rule"), "{errors}");
    // A version stored before (here, put in force by a check that allowed it) no longer
    // checks: a start without a policy file is refused with why.
    for s in stores::all() {
        drop(Engine::open(s.store.clone(), forced(), options()).unwrap());
        match steward_engine::resolve_policy(s.store.as_ref(), None) {
            Err(PolicyLoadError::StoredInvalid { version, errors, .. }) => {
                assert_eq!(version, "issue-21");
                assert!(errors.to_string().contains("nested loops multiply"), "{errors}");
            }
            other => panic!("the stored policy was not refused: {:?}", other.map(|p| p.version)),
        }
    }
}

#[test]
fn issue_21_forced_in_it_stalls_ingest_by_one_budget_and_trips() {
    for s in stores::all() {
        let store = s.store.clone();
        let mut engine = Engine::open(store.clone(), forced(), options()).unwrap();

        // The first event runs the rule until its budget, then the rule is off.
        let start = Instant::now();
        let first = engine.ingest(&split_ndjson(stream(0, 1).as_bytes(), 1)).unwrap();
        let first_took = start.elapsed();
        assert_eq!(first.accepted, 1);
        assert_eq!(first.decisions.iter().map(|d| d.rule_id.as_str()).collect::<Vec<_>>(), ["ai"]);
        let tripped: Vec<_> = engine.tripped().cloned().collect();
        assert_eq!(tripped.len(), 1);
        assert_eq!(tripped[0].rule_id, "nested");
        assert!(steward_engine::breaker::halts(&tripped[0]));
        let audit = trips(store.as_ref());
        assert_eq!(audit.len(), 1);
        assert_eq!(audit[0]["cause"], "evaluation_budget");
        assert_eq!(audit[0]["event_id"], "e0");
        assert_eq!(audit[0]["eval_steps"], 50_000);
        assert!(audit[0]["reason"].as_str().unwrap().contains("stopped after"), "{}", audit[0]);
        let nested = |engine: &Engine| engine.stats().snapshot().into_iter().find(|(id, _)| id == "nested").unwrap().1;
        let count = nested(&engine);
        assert_eq!((count.over_budget, count.failed, count.trips, count.mode), (1, 0, 1, Mode::Draft));

        // A realistic stream after it: the ordinary rule decides on every event, the nested
        // one is not evaluated again.
        let start = Instant::now();
        let rest = engine.ingest(&split_ndjson(stream(1, 299).as_bytes(), 1)).unwrap();
        let rest_took = start.elapsed();
        assert_eq!(rest.accepted, 299);
        assert_eq!(rest.decisions.len(), (1..300).filter(|i| i % 3 == 0).count());
        assert!(rest.decisions.iter().all(|d| d.rule_id == "ai"));
        assert_eq!(nested(&engine).over_budget, 1);
        eprintln!("first event {first_took:?} (the rule stopped at its budget), the 299 after it {rest_took:?}");
        // Unchecked, one event took minutes. Generous bounds, for a loaded machine.
        assert!(first_took < Duration::from_secs(1), "{first_took:?}");
        assert!(rest_took < Duration::from_secs(5), "{rest_took:?}");

        // The trip survives a restart; re-armed, the rule runs again, and trips again.
        drop(engine);
        let mut engine = Engine::open(store.clone(), forced(), options()).unwrap();
        engine.ingest(&split_ndjson(stream(300, 5).as_bytes(), 1)).unwrap();
        assert_eq!(nested(&engine).over_budget, 0, "not evaluated after a restart");
        assert!(engine.rearm("nested", "k_admin").unwrap().is_some());
        engine.ingest(&split_ndjson(stream(305, 5).as_bytes(), 1)).unwrap();
        assert_eq!(nested(&engine).over_budget, 1);
        assert_eq!(trips(store.as_ref()).len(), 2);
        assert!(steward_store::audit::verify(store.as_ref()).is_ok());
    }
}
