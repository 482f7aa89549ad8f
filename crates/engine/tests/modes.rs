//! Rule modes, circuit breakers and policy versions end to end on real stores: shadow rules
//! record and enforce nothing, drafts run only in backtests, a flood trips a rule's breaker
//! (and it stays tripped across a restart until re-armed), a new version is put in force
//! with its mode changes audited, and a spot test touches nothing.

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::json;
use steward_engine::input::split_ndjson;
use steward_engine::{Engine, EngineOptions, IngestOutcome};
use steward_model::{Limits, Signal, parse_event};
use steward_policy::{Mode, Policy};
use steward_store::Store;

mod stores;

/// Two rules on the same signal: one live with a quota, one as given.
fn policy(version: &str, second_mode: &str, quota: &str) -> Arc<Policy> {
    let text = format!(
        r#"
version = "{version}"

[[rules]]
id = "ai"
ground = "AI labelling rules"
category = "ai_unlabelled"
when = "has(signals.unlabelled_ai)"
actions = [{{ type = "label", label = "ai-generated" }}, {{ type = "deduct_credit", points = 1 }}]
reason = "Post {{{{post.id}}}} is AI-generated without a label."
{quota}

[[rules]]
id = "short"
ground = "Test ground"
category = "test"
mode = "{second_mode}"
when = "post != null && size(post.text) < 10"
actions = [{{ type = "label", label = "short" }}, {{ type = "limit_reach" }}]
reason = "Post {{{{post.id}}}} is short."
"#
    );
    Arc::new(Policy::parse(&text, "test.toml", &steward_engine::schema()).unwrap())
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 8, 0, 0).unwrap()
}

fn post(id: &str, account: &str, at: DateTime<Utc>, ai: bool) -> String {
    json!({"id": id, "type": "post.created", "at": at, "post": {"id": format!("p-{id}"), "account_id": account,
        "kind": "video", "text": "生成的视频", "created_at": at, "ai_generated": {"declared": ai}}})
    .to_string()
}

fn ingest(engine: &mut Engine, lines: &[String]) -> IngestOutcome {
    let body = lines.join("\n");
    engine.ingest(&split_ndjson(body.as_bytes(), 1)).unwrap()
}

fn audit_actions(store: &dyn Store) -> Vec<(String, String)> {
    store.audit_entries(0, usize::MAX).unwrap().into_iter().map(|e| (e.action, e.subject)).collect()
}

fn options() -> EngineOptions {
    let now = t0() + Duration::days(1);
    EngineOptions { clock: Arc::new(move || now), ..Default::default() }
}

#[test]
fn streamed_outcomes_carry_the_live_decisions_only() {
    for s in stores::all() {
        let store = s.store.clone();
        let mut engine = Engine::open(store.clone(), policy("v1", "shadow", ""), options()).unwrap();
        let batches: Vec<Vec<steward_engine::Parsed>> = (0..3)
            .map(|b| {
                let body = (0..2).map(|i| post(&format!("s{b}-{i}"), "a1", t0(), true)).collect::<Vec<_>>().join("\n");
                steward_engine::parse_records(&split_ndjson(body.as_bytes(), 1), &Limits::default(), t0())
            })
            .collect();
        let mut outcomes = Vec::new();
        engine.ingest_stream(batches, |o| outcomes.push(o)).unwrap();
        for o in &outcomes {
            assert_eq!(o.decisions.iter().map(|d| d.rule_id.as_str()).collect::<Vec<_>>(), vec!["ai", "ai"]);
            assert!(o.decisions.iter().all(|d| !d.shadow));
            assert_eq!(o.shadow_decisions, 2);
        }
        assert_eq!(store.decisions_for("a1", true, 100).unwrap().len(), 6);
    }
}

#[test]
fn shadow_rules_record_what_they_would_do_and_enforce_nothing() {
    for s in stores::all() {
        let store = s.store.clone();
        let mut engine = Engine::open(store.clone(), policy("v1", "shadow", ""), options()).unwrap();
        let out = ingest(&mut engine, &[post("e1", "a1", t0(), true)]);
        // The live rule decides; the shadow one only records.
        assert_eq!(out.decisions.iter().map(|d| d.rule_id.as_str()).collect::<Vec<_>>(), vec!["ai"]);
        assert_eq!(out.shadow_decisions, 1);
        let shadow = store.decisions_for("p-e1", true, 10).unwrap();
        assert_eq!(shadow.len(), 1);
        assert!(shadow[0].shadow);
        assert_eq!(shadow[0].rule_id, "short");
        // Its restrictions are written out as what would have happened, and none is in force.
        assert_eq!(shadow[0].restrictions.len(), 2);
        let in_force = store.restrictions_for("a1").unwrap();
        assert!(in_force.iter().all(|r| r.decision_id != shadow[0].id), "{in_force:?}");
        assert_eq!(store.decisions_for("p-e1", false, 10).unwrap().len(), 1);
        // Only the live decision is audited; the stats count both.
        let decided: Vec<String> = audit_actions(store.as_ref())
            .into_iter()
            .filter(|(a, _)| a == "decision.created")
            .map(|(_, s)| s)
            .collect();
        assert_eq!(decided, vec!["ai@e1".to_string()]);
        let stats = engine.stats().snapshot();
        let short = stats.iter().find(|(id, _)| id == "short").unwrap().1;
        assert_eq!((short.live, short.shadow, short.mode), (0, 1, Mode::Shadow));
    }
}

#[test]
fn drafts_run_only_in_backtests() {
    for s in stores::all() {
        let mut live = Engine::open(s.store.clone(), policy("v1", "draft", ""), options()).unwrap();
        let out = ingest(&mut live, &[post("e1", "a1", t0(), false)]);
        assert!(out.decisions.is_empty());
        assert_eq!(out.shadow_decisions, 0);
    }
    let dir = tempfile::tempdir().unwrap();
    let store = steward_store::open(dir.path(), None).unwrap();
    let backtest = EngineOptions { drafts: true, ..options() };
    let mut engine = Engine::open(store, policy("v1", "draft", ""), backtest).unwrap();
    let out = ingest(&mut engine, &[post("e1", "a1", t0(), false)]);
    assert_eq!(out.decisions.iter().map(|d| d.rule_id.as_str()).collect::<Vec<_>>(), vec!["short"]);
}

/// The replay of the clickbait defect in miniature: a rule that fires on most posts of a
/// quiet first hour trips its breaker within it, and drops to shadow.
#[test]
fn a_flood_trips_the_breaker_which_holds_until_rearmed() {
    for s in stores::all() {
        let store = s.store.clone();
        let quota = "quota = { max_share = 0.02 }";
        let mut engine = Engine::open(store.clone(), policy("v1", "draft", quota), options()).unwrap();
        // Twenty posts over the first hour, two in three AI-declared.
        let lines: Vec<String> = (0..20)
            .map(|i| post(&format!("e{i}"), &format!("a{i}"), t0() + Duration::minutes(3 * i), i % 3 != 0))
            .collect();
        let mut live = 0;
        let mut shadow = 0;
        for line in &lines {
            let out = ingest(&mut engine, std::slice::from_ref(line));
            live += out.decisions.len();
            shadow += out.shadow_decisions;
        }
        assert_eq!(live, 4, "four decisions before the fifth trips the ceiling");
        assert_eq!(live + shadow, 13);
        let tripped: Vec<_> = engine.tripped().cloned().collect();
        assert_eq!(tripped.len(), 1);
        assert!(tripped[0].tripped_at < t0() + Duration::hours(1));
        assert!(tripped[0].detail.contains("ceiling of 2.0% of posts"), "{}", tripped[0].detail);
        assert!(audit_actions(store.as_ref()).contains(&("rule.breaker_tripped".into(), "ai".into())));
        assert_eq!(engine.stats().snapshot().iter().find(|(id, _)| id == "ai").unwrap().1.trips, 1);

        // A restart keeps the rule in shadow.
        drop(engine);
        let mut engine = Engine::open(store.clone(), policy("v1", "draft", quota), options()).unwrap();
        let out = ingest(&mut engine, &[post("late", "z", t0() + Duration::hours(5), true)]);
        assert!(out.decisions.is_empty());
        assert_eq!(out.shadow_decisions, 1);

        // Re-armed, it is live again and counts afresh; re-arming twice is a no-op.
        assert!(engine.rearm("ai", "k_admin").unwrap().is_some());
        assert!(engine.rearm("ai", "k_admin").unwrap().is_none());
        assert!(store.tripped_breakers().unwrap().is_empty());
        let out = ingest(&mut engine, &[post("after", "y", t0() + Duration::hours(6), true)]);
        assert_eq!(out.decisions.len(), 1);
        assert!(audit_actions(store.as_ref()).contains(&("rule.rearmed".into(), "ai".into())));
        assert!(steward_store::audit::verify(store.as_ref()).is_ok());
    }
}

#[test]
fn a_new_version_is_recorded_with_its_mode_changes() {
    for s in stores::all() {
        let store = s.store.clone();
        let mut engine = Engine::open(store.clone(), policy("v1", "shadow", ""), options()).unwrap();
        assert_eq!(store.active_policy().unwrap().unwrap().version, "v1");
        // Opening again with the same policy records nothing new.
        drop(engine);
        engine = Engine::open(store.clone(), policy("v1", "shadow", ""), options()).unwrap();
        assert_eq!(store.policy_versions().unwrap().len(), 1);

        engine.set_policy(policy("v2", "live", ""), "k_admin").unwrap();
        let active = store.active_policy().unwrap().unwrap();
        assert_eq!((active.version.as_str(), active.activated_by.as_str()), ("v2", "k_admin"));
        assert!(active.text.contains("version = \"v2\""));
        let actions = audit_actions(store.as_ref());
        assert_eq!(actions.iter().filter(|(a, _)| a == "policy.activated").count(), 2);
        assert_eq!(
            actions.iter().filter(|(a, _)| a == "rule.mode_changed").cloned().collect::<Vec<_>>(),
            vec![("rule.mode_changed".to_string(), "short".to_string())]
        );
        let out = ingest(&mut engine, &[post("e1", "a1", t0(), false)]);
        assert_eq!(out.decisions.len(), 1, "the short rule is live in v2");
        // The version in force is what a later start resolves to without a file.
        let resolved = steward_engine::resolve_policy(store.as_ref(), None).unwrap();
        assert_eq!(resolved.version, "v2");
    }
}

#[test]
fn a_spot_test_touches_nothing() {
    for s in stores::all() {
        let store = s.store.clone();
        let mut engine = Engine::open(store.clone(), policy("v1", "draft", ""), options()).unwrap();
        ingest(&mut engine, &[post("e0", "a1", t0(), false)]);
        let audit_before = store.audit_entries(0, usize::MAX).unwrap().len();
        let event = parse_event(post("e1", "a1", t0(), true).as_bytes(), &Limits::default(), t0()).unwrap();
        let extra = vec![Signal::new("copy_campaign", "test", 1, 1.0)];
        let test = engine.spot_test(&policy("v1", "draft", ""), &event, extra).unwrap();
        let mut rules: Vec<(&str, Mode)> =
            test.decisions.iter().map(|d| (d.decision.rule_id.as_str(), d.mode)).collect();
        rules.sort_by_key(|(id, _)| *id);
        assert_eq!(rules, vec![("ai", Mode::Live), ("short", Mode::Draft)]);
        assert!(test.signals.iter().any(|s| s.name == "unlabelled_ai"));
        assert!(test.signals.iter().any(|s| s.name == "copy_campaign"));
        assert!(store.event("e1").unwrap().is_none());
        assert_eq!(store.audit_entries(0, usize::MAX).unwrap().len(), audit_before);
        assert!(store.decisions_for("a1", false, 10).unwrap().is_empty());
    }
}
