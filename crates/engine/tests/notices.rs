//! Every live decision puts a notice to its account into the outbox, in the same commit;
//! an event replayed makes no second notice. Runs on SQLite, and on PostgreSQL too when
//! `STEWARD_TEST_DATABASE_URL` is set.

use std::sync::Arc;

use chrono::SubsecRound;
use serde_json::json;
use steward_engine::input::split_ndjson;
use steward_engine::{Engine, EngineOptions};
use steward_model::{Audience, DeliveryState, NoticeKind};

mod stores;

fn ai_post(id: &str, account: &str) -> String {
    let at = "2026-11-22T08:00:00Z";
    json!({"id": id, "type": "post.created", "at": at, "post": {"id": format!("p-{id}"), "account_id": account,
        "kind": "video", "text": "生成的视频", "created_at": at, "ai_generated": {"declared": true}}})
    .to_string()
}

#[test]
fn each_live_decision_notifies_its_account_once() {
    for s in stores::all() {
        let store = s.store.clone();
        let policy = Arc::new(steward_engine::default_policy().unwrap());
        let mut engine = Engine::open(store.clone(), policy, EngineOptions::default()).unwrap();
        let posts: Vec<String> = (0..3).map(|i| ai_post(&format!("n{i}"), "a1")).collect();
        let body = posts.join("\n");
        let outcome = engine.ingest(&split_ndjson(body.as_bytes(), 1)).unwrap();
        assert!(!outcome.decisions.is_empty());
        let again = engine.ingest(&split_ndjson(body.as_bytes(), 1)).unwrap();
        assert_eq!(again.duplicates, 3);

        let mut notices = store.notices_for("a1", 100).unwrap();
        notices.reverse(); // oldest first
        let ids: Vec<String> = notices.iter().map(|n| n.notice.subject.clone()).collect();
        let decided: Vec<String> = outcome.decisions.iter().map(|d| d.id.clone()).collect();
        assert_eq!(ids, decided, "one notice per live decision, in the order decided ({})", store.backend());
        for (n, d) in notices.iter().zip(&outcome.decisions) {
            assert_eq!(n.notice.id, format!("decision:{}", d.id));
            assert_eq!((n.notice.audience, n.notice.kind), (Audience::Account, NoticeKind::Decision));
            assert_eq!(n.notice.created_at, d.decided_at.trunc_subsecs(6), "stored to the microsecond");
            assert_eq!(n.delivery.state, DeliveryState::Pending);
            let body = &n.notice.body;
            assert_eq!(body["ground"], d.ground.as_str());
            assert_eq!(body["category"], d.category.as_str());
            assert_eq!(body["explanation"], d.explanation.as_str());
            assert_eq!(body["facts"], d.facts);
            assert_eq!(body["appeal"]["how"], d.appeal.how.as_str());
            assert_eq!(body["restrictions"].as_array().unwrap().len(), d.restrictions.len());
        }
    }
}
