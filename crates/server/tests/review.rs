//! The human loop over real HTTP: a decision that asks for review opens a case, reports
//! join it, moderators claim and act with versions, an overturn restores standing at once,
//! and appeals go to a moderator who took no part.

mod common;

use common::{Server, ai_post, start_ai_review as server};
use reqwest::StatusCode;
use serde_json::{Value, json};
use steward_model::Role;

fn post_json(s: &Server, role: Role, path: &str, body: Value) -> (StatusCode, Value) {
    s.send(role, path, "application/json", body.to_string())
}

fn act(s: &Server, key: &str, case: &str, version: u64, action: Value) -> (StatusCode, Value) {
    let body = json!({ "version": version, "action": action }).to_string();
    s.send_with(key, &format!("/v1/cases/{case}/actions"), "application/json", body)
}

#[test]
fn a_case_is_claimed_decided_and_appealed_by_people() {
    let s = server();
    let (status, answer) = s.post(Role::Ingest, "application/json", json!([ai_post("e1", "acct-1")]).to_string());
    assert_eq!(status, StatusCode::OK, "{answer}");
    let decision_id = answer["decision_ids"][0].as_str().unwrap().to_string();
    let (_, standing) = s.get(Some(Role::Moderator), "/v1/accounts/acct-1/standing");
    assert_eq!(standing["credit"], 99);
    assert_eq!(standing["restrictions"][0]["kind"], "posting");

    // The decision opened a case in its queue; a report on the post joins it.
    let (_, queues) = s.get(Some(Role::Auditor), "/v1/queues");
    assert_eq!(queues[0]["queue"], "ai");
    assert_eq!(queues[0]["open"], 1);
    let report = json!({"id": "r1", "reporter_id": "u-9", "post_id": "p-e1", "reason": "ai_unlabelled"});
    let (status, filed) = post_json(&s, Role::Ingest, "/v1/reports", report.clone());
    assert_eq!(status, StatusCode::CREATED, "{filed}");
    assert_eq!(filed["state"], "open");
    let case_id = filed["case_id"].as_str().unwrap().to_string();
    let (status, again) = post_json(&s, Role::Ingest, "/v1/reports", report);
    assert_eq!((status, &again["state"]), (StatusCode::OK, &json!("open")), "the same report sent again");
    let second = json!({"id": "r2", "reporter_id": "u-9", "post_id": "p-e1", "reason": "spam"});
    let (_, dup) = post_json(&s, Role::Ingest, "/v1/reports", second);
    assert_eq!(dup["state"], "duplicate", "a reporter's second report of the subject");
    let unknown = json!({"id": "r3", "reporter_id": "u-9", "post_id": "p-nope", "reason": "spam"});
    let (status, refused) = post_json(&s, Role::Ingest, "/v1/reports", unknown);
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused["error"].as_str().unwrap().contains("report.post_id"), "{refused}");

    // Moderator 1 takes the case; moderator 2 cannot act on it, nor with a stale version.
    let m1 = s.keys[&Role::Moderator].clone();
    let (status, case) = post_json(&s, Role::Moderator, "/v1/queues/ai/next", json!({}));
    assert_eq!(status, StatusCode::OK, "{case}");
    assert_eq!(case["id"], case_id.as_str());
    assert_eq!(case["state"], "assigned");
    let version = case["version"].as_u64().unwrap();
    let (status, _) = s.send_with(&s.moderator2, "/v1/queues/ai/next", "application/json", "{}");
    assert_eq!(status, StatusCode::NO_CONTENT, "the only case is held");
    let (status, e) = act(&s, &s.moderator2, &case_id, version, json!({"type": "uphold", "reason": "x"}));
    assert_eq!(status, StatusCode::CONFLICT, "{e}");
    let (status, e) = act(&s, &m1, &case_id, version - 1, json!({"type": "uphold", "reason": "x"}));
    assert_eq!(status, StatusCode::CONFLICT, "{e}");
    assert!(e["error"].as_str().unwrap().contains("version"), "{e}");
    let (status, e) = act(&s, &m1, &case_id, version, json!({"type": "uphold", "reason": " "}));
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    let (status, e) = act(&s, &s.keys[&Role::Auditor], &case_id, version, json!({"type": "uphold", "reason": "x"}));
    assert_eq!(status, StatusCode::FORBIDDEN, "{e}");

    // Moderator 1 upholds: the report is upheld and counts for its reporter.
    let (status, case) = act(&s, &m1, &case_id, version, json!({"type": "uphold", "reason": "the video is AI-made"}));
    assert_eq!(status, StatusCode::OK, "{case}");
    assert_eq!((case["state"].as_str(), case["outcome"].as_str()), (Some("resolved"), Some("upheld")));
    let (_, reporter) = s.get(Some(Role::Moderator), "/v1/reporters/u-9");
    assert_eq!(reporter["upheld"], 1);

    // The account appeals; only it may, once at a time.
    let appeal = |account: &str| json!({"decision_id": decision_id, "account_id": account, "text": "I labelled it"});
    let (status, e) = post_json(&s, Role::Ingest, "/v1/appeals", appeal("acct-2"));
    assert_eq!(status, StatusCode::FORBIDDEN, "{e}");
    let (status, filed) = post_json(&s, Role::Ingest, "/v1/appeals", appeal("acct-1"));
    assert_eq!(status, StatusCode::CREATED, "{filed}");
    let (status, e) = post_json(&s, Role::Ingest, "/v1/appeals", appeal("acct-1"));
    assert_eq!(status, StatusCode::CONFLICT, "{e}");

    // Moderator 1 upheld the decision, so the appeal goes to moderator 2.
    let (status, _) = post_json(&s, Role::Moderator, "/v1/queues/appeals/next", json!({}));
    assert_eq!(status, StatusCode::NO_CONTENT, "moderator 1 took part in the decision");
    let (status, case) = s.send_with(&s.moderator2, "/v1/queues/appeals/next", "application/json", "{}");
    assert_eq!(status, StatusCode::OK, "{case}");
    let appeal_case = case["id"].as_str().unwrap().to_string();
    let version = case["version"].as_u64().unwrap();
    let overturn = json!({"type": "overturn", "reason": "the label was there; the detector missed it"});
    let (status, case) = act(&s, &s.moderator2, &appeal_case, version, overturn);
    assert_eq!(status, StatusCode::OK, "{case}");

    // Standing shows it at once: the restriction is gone and the credit is back.
    let (_, standing) = s.get(Some(Role::Moderator), "/v1/accounts/acct-1/standing");
    assert_eq!(standing["credit"], 100, "{standing}");
    assert_eq!(standing["restrictions"], json!([]), "{standing}");
    let (_, decision) = s.get(Some(Role::Auditor), &format!("/v1/decisions/{decision_id}"));
    assert_eq!(decision["appeals"][0]["state"], "overturned", "{decision}");
    assert_eq!(decision["reversal"]["case_id"], appeal_case.as_str());
    let (_, full) = s.get(Some(Role::Auditor), &format!("/v1/cases/{appeal_case}"));
    let actions: Vec<&str> = full["log"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["appeal", "claimed", "overturned"], "{full}");
    // The account was told of the decision, and of the appeal's outcome; the reporter of
    // the report upheld, of that.
    let (_, told) = s.get(Some(Role::Ingest), "/v1/notices?account=acct-1");
    let mut kinds: Vec<&str> =
        told["notices"].as_array().unwrap().iter().map(|n| n["kind"].as_str().unwrap()).collect();
    kinds.sort();
    assert_eq!(kinds, ["appeal_outcome", "case_outcome", "case_outcome", "decision"], "{told}");
    let (_, told) = s.get(Some(Role::Ingest), "/v1/notices?account=u-9");
    assert_eq!(told["notices"][0]["kind"], "report_outcome", "{told}");
    assert_eq!(told["notices"][0]["body"]["outcome"], "upheld", "{told}");
    // A second appeal of an overturned decision has nothing to ask for.
    let (status, _) = post_json(&s, Role::Ingest, "/v1/appeals", appeal("acct-1"));
    assert_eq!(status, StatusCode::CONFLICT);
}

#[test]
fn a_muted_reporter_is_recorded_not_queued() {
    let s = server();
    let account = json!({"id": "e0", "type": "account.upserted", "at": common::now(),
        "account": {"id": "acct-7", "handle": "h7", "display_name": "七", "followers": 10}});
    s.post(Role::Ingest, "application/json", json!([account]).to_string());
    let until = (chrono::Utc::now() + chrono::Duration::days(3)).to_rfc3339();
    let mute = json!({"until": until, "reason": "mass false reports"});
    let (status, _) = post_json(&s, Role::Moderator, "/v1/reporters/u-1/mute", mute.clone());
    assert_eq!(status, StatusCode::FORBIDDEN, "only an admin mutes");
    let (status, m) = post_json(&s, Role::Admin, "/v1/reporters/u-1/mute", mute);
    assert_eq!(status, StatusCode::OK, "{m}");
    let report = json!({"id": "r1", "reporter_id": "u-1", "account_id": "acct-7", "reason": "spam"});
    let (_, filed) = post_json(&s, Role::Ingest, "/v1/reports", report);
    assert_eq!(filed["state"], "muted");
    let (_, queues) = s.get(Some(Role::Moderator), "/v1/queues");
    assert_eq!(queues, json!([]));
    // Another reporter's report opens a case, which can be dismissed.
    let report = json!({"id": "r2", "reporter_id": "u-2", "account_id": "acct-7", "reason": "spam"});
    let (_, filed) = post_json(&s, Role::Ingest, "/v1/reports", report);
    let case_id = filed["case_id"].as_str().unwrap().to_string();
    let (_, case) = post_json(&s, Role::Admin, "/v1/queues/reports/next", json!({}));
    let admin = s.keys[&Role::Admin].clone();
    let v = case["version"].as_u64().unwrap();
    let (status, e) = act(&s, &admin, &case_id, v, json!({"type": "overturn", "reason": "no"}));
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "a report-only case has nothing to overturn: {e}");
    let (status, case) = act(&s, &admin, &case_id, v, json!({"type": "dismiss_reports", "reason": "not spam"}));
    assert_eq!(status, StatusCode::OK, "{case}");
    assert_eq!(case["outcome"], "dismissed");
    let (_, reporter) = s.get(Some(Role::Auditor), "/v1/reporters/u-2");
    assert_eq!(reporter["dismissed"], 1);
}
