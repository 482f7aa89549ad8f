//! Two moderators claim 10,000 cases at once over HTTP: no case is held twice and none is
//! lost. In its own test binary, so that its timing is its own.

mod common;

use std::collections::HashSet;
use std::time::Instant;

use common::start;
use reqwest::StatusCode;
use serde_json::json;
use steward_model::Role;
use steward_server::Limits;

const CASES: usize = 10_000;

#[test]
fn two_moderators_never_hold_the_same_case() {
    let s = start(Limits::default());
    let at = common::now();
    for chunk in (0..CASES).collect::<Vec<_>>().chunks(2000) {
        let mut events = Vec::new();
        for i in chunk {
            events.push(json!({"id": format!("acct-e{i}"), "type": "account.upserted", "at": at,
                "account": {"id": format!("a{i}"), "handle": format!("h{i}"), "display_name": format!("n{i}"), "followers": i}}));
            events.push(json!({"id": format!("rep-e{i}"), "type": "report.created", "at": at,
                "report": {"id": format!("r{i}"), "reporter_id": format!("u{}", i % 97), "account_id": format!("a{i}"), "reason": "spam"}}));
        }
        let (status, answer) = s.post(Role::Ingest, "application/json", json!(events).to_string());
        assert_eq!((status, answer["accepted"].as_u64()), (StatusCode::OK, Some(chunk.len() as u64 * 2)), "{answer}");
    }
    let (_, queues) = s.get(Some(Role::Auditor), "/v1/queues");
    assert_eq!(queues[0]["open"], CASES);
    let started = Instant::now();
    let keys = [s.keys[&Role::Moderator].clone(), s.moderator2.clone()];
    let claimed: Vec<Vec<String>> = std::thread::scope(|scope| {
        let s = &s;
        let workers: Vec<_> = keys
            .iter()
            .map(|key| {
                scope.spawn(move || {
                    let mut mine = Vec::new();
                    loop {
                        let (status, case) = s.send_with(key, "/v1/queues/reports/next", "application/json", "");
                        match status {
                            StatusCode::OK => mine.push(case["id"].as_str().unwrap().to_string()),
                            StatusCode::NO_CONTENT => return mine,
                            other => panic!("{other}: {case}"),
                        }
                    }
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    let took = started.elapsed();
    let (a, b): (HashSet<_>, HashSet<_>) = (claimed[0].iter().collect(), claimed[1].iter().collect());
    eprintln!(
        "{CASES} cases claimed by two moderators in {took:?} ({:.0} claims/s): {} and {}",
        CASES as f64 / took.as_secs_f64(),
        a.len(),
        b.len()
    );
    assert_eq!(a.len() + b.len(), claimed[0].len() + claimed[1].len(), "a moderator got a case twice");
    assert!(a.is_disjoint(&b), "a case was held by both");
    assert_eq!(a.len() + b.len(), CASES, "a case was lost");
    assert!(a.len() > CASES / 10 && b.len() > CASES / 10, "both moderators worked: {} and {}", a.len(), b.len());
    let (_, queues) = s.get(Some(Role::Auditor), "/v1/queues");
    assert_eq!((queues[0]["open"].as_u64(), queues[0]["assigned"].as_u64()), (Some(0), Some(CASES as u64)));
}
