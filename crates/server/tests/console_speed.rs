//! Every console page answers in under 200 ms with 100,000 cases in the store. In its own
//! test binary, so that its timing is its own.

mod common;

use std::time::{Duration, Instant};

use common::{ai_post, start_ai_review};
use reqwest::StatusCode;
use reqwest::blocking::Client;
use serde_json::json;
use steward_model::Role;

const CASES: usize = 100_000;

#[test]
fn console_pages_answer_quickly_with_100_000_cases() {
    let s = start_ai_review();
    let at = common::now();
    let started = Instant::now();
    for chunk in (0..CASES).collect::<Vec<_>>().chunks(5000) {
        let mut events = Vec::new();
        for i in chunk {
            events.push(json!({"id": format!("acct-e{i}"), "type": "account.upserted", "at": at,
                "account": {"id": format!("a{i}"), "handle": format!("h{i}"), "display_name": format!("n{i}"), "followers": i}}));
            events.push(json!({"id": format!("rep-e{i}"), "type": "report.created", "at": at,
                "report": {"id": format!("r{i}"), "reporter_id": format!("u{}", i % 997), "account_id": format!("a{i}"), "reason": "spam"}}));
        }
        let (status, answer) = s.post(Role::Ingest, "application/json", json!(events).to_string());
        let accepted = answer["accepted"].as_u64();
        assert_eq!((status, accepted), (StatusCode::OK, Some(chunk.len() as u64 * 2)), "{}", answer["rejected"][0]);
    }
    // A decision's case with an appeal, for the case, account and appeals pages.
    let (status, _) = s.post(Role::Ingest, "application/json", json!([ai_post("e-ai", "acct-ai")]).to_string());
    assert_eq!(status, StatusCode::OK);
    let (_, decisions) = s.get(Some(Role::Auditor), "/v1/decisions?subject=acct-ai");
    let decision = decisions["decisions"][0]["id"].as_str().unwrap().to_string();
    let appeal = json!({ "decision_id": decision, "account_id": "acct-ai", "text": "wrong" });
    let (status, filed) = s.send(Role::Ingest, "/v1/appeals", "application/json", appeal.to_string());
    assert_eq!(status, StatusCode::CREATED, "{filed}");
    let case = filed["case_id"].as_str().unwrap().to_string();
    let (_, queues) = s.get(Some(Role::Auditor), "/v1/queues");
    eprintln!("{CASES} report cases and one appeal stored in {:?}: {queues}", started.elapsed());

    let client = Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let r = client
        .post(format!("{}/console/signin", s.base))
        .form(&[("key", s.keys[&Role::Moderator].as_str())])
        .send()
        .unwrap();
    let cookie = r.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
    let pages = [
        "/console/queues".to_string(),
        "/console/cases?queue=reports".to_string(),
        "/console/cases?state=open".to_string(),
        "/console/cases?state=resolved".to_string(),
        "/console/appeals".to_string(),
        format!("/console/cases/{case}"),
        "/console/accounts/acct-ai".to_string(),
        "/console/accounts/a77777".to_string(),
        "/console/policy".to_string(),
    ];
    let mut slowest = Duration::ZERO;
    for page in &pages {
        let mut times = Vec::new();
        for _ in 0..5 {
            let t = Instant::now();
            let r = client.get(format!("{}{page}", s.base)).header("cookie", &cookie).send().unwrap();
            assert_eq!(r.status(), StatusCode::OK, "{page}");
            let body = r.text().unwrap();
            times.push(t.elapsed());
            assert!(body.contains("</html>"), "{page}");
        }
        times.sort();
        eprintln!("{page}: median {:?}, slowest {:?}", times[2], times[4]);
        assert!(times[2] < Duration::from_millis(200), "{page} took {:?} (median of 5)", times[2]);
        slowest = slowest.max(times[2]);
    }
    eprintln!("slowest page median: {slowest:?}");
}
