//! The transparency report over HTTP: auditors read it in each format, a period that
//! cannot be read is a 400 naming the parameter, and the public page answers only when the
//! operator turned it on.

mod common;

use std::sync::Arc;

use chrono::{Duration, Utc};
use common::{Server, ai_post, start, start_configured};
use reqwest::StatusCode;
use serde_json::json;
use steward_model::Role;
use steward_server::Limits;

/// Yesterday to tomorrow, as dates: three days around what the server decides now.
fn days() -> String {
    let today = Utc::now().date_naive();
    format!("from={}&to={}", today - Duration::days(1), today + Duration::days(1))
}

/// Two decisions on unlabelled AI videos, and a report through the API.
fn fill(s: &Server) {
    let events = json!([ai_post("e1", "acct-1"), ai_post("e2", "acct-2")]).to_string();
    let (status, answer) = s.post(Role::Ingest, "application/json", events);
    assert_eq!((status, answer["decision_ids"].as_array().map(Vec::len)), (StatusCode::OK, Some(2)), "{answer}");
    let report = json!({"id": "r1", "reporter_id": "u-9", "post_id": "p-e1", "reason": "ai_unlabelled"});
    let (status, _) = s.send(Role::Ingest, "/v1/reports", "application/json", report.to_string());
    assert_eq!(status, StatusCode::CREATED);
}

fn text(s: &Server, role: Option<Role>, path: &str) -> (StatusCode, String, reqwest::header::HeaderMap) {
    let mut req = s.client.get(format!("{}{path}", s.base));
    if let Some(role) = role {
        req = req.bearer_auth(&s.keys[&role]);
    }
    let r = req.send().unwrap();
    let (status, headers) = (r.status(), r.headers().clone());
    (status, r.text().unwrap(), headers)
}

#[test]
fn auditors_read_the_report_in_every_format() {
    let s = start(Limits::default());
    fill(&s);
    let (status, report) = s.get(Some(Role::Auditor), &format!("/v1/transparency?{}", days()));
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["decisions"]["total"], 2);
    assert_eq!(report["decisions"]["by_category"], json!([{"key": "ai_unlabelled", "count": 2}]));
    assert_eq!(report["decisions"]["by_content"], json!([{"key": "video", "count": 2}]));
    assert_eq!(
        report["reports"]["by_source_and_outcome"],
        json!([{"source": "api", "outcome": "pending", "count": 1}])
    );
    assert_eq!(report["decisions"]["over_time"]["points"].as_array().unwrap().len(), 3);

    let (status, csv, headers) = text(&s, Some(Role::Admin), &format!("/v1/transparency?{}&format=csv", days()));
    assert_eq!(status, StatusCode::OK);
    assert!(headers[reqwest::header::CONTENT_TYPE].to_str().unwrap().starts_with("text/csv"));
    assert!(csv.starts_with("section,key,field,value\n"), "{csv}");
    assert!(csv.contains("\ndecisions_by_category,ai_unlabelled,decisions,2\n"), "{csv}");

    let (status, html, headers) = text(&s, Some(Role::Auditor), &format!("/v1/transparency?{}&format=html", days()));
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[reqwest::header::CONTENT_SECURITY_POLICY], "default-src 'none'; style-src 'unsafe-inline'");
    assert_eq!(html.matches("<rect class=\"bar\"").count(), 3 + 1, "three days and one category");
    assert!(html.contains("<title>ai_unlabelled: 2 decisions</title>"), "{html}");
    let today = Utc::now().date_naive();
    assert!(html.contains(&format!("<title>{today}: 2 decisions</title>")), "{html}");
}

#[test]
fn a_period_that_cannot_be_read_is_named() {
    let s = start(Limits::default());
    for (query, error) in [
        ("from=2026-13-01&to=2026-12-31", "`from`: \"2026-13-01\" is not a date (YYYY-MM-DD) or an RFC 3339 time"),
        ("from=2026-11-01&to=soon", "`to`: \"soon\" is not a date"),
        ("from=2026-12-01&to=2026-11-30", "the period is empty: `from` 2026-12-01 is not before `to` 2026-11-30"),
        ("from=2026-11-01", "query parameters `from` and `to` are both needed"),
        ("from=2026-11-01&to=2026-11-30&format=xml", "query parameter `format`: \"xml\" is not json, csv or html"),
        ("from=2026-11-01&to=2026-11-30&limit=3", "limit"),
    ] {
        let (status, body) = s.get(Some(Role::Auditor), &format!("/v1/transparency?{query}"));
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        let message = body["error"].as_str().unwrap();
        assert!(message.starts_with(error) || message.contains(error), "{query}: {message}");
    }
}

#[test]
fn the_public_page_is_off_unless_the_operator_turns_it_on() {
    let off = start(Limits::default());
    let (status, body) = off.get(None, "/transparency");
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"], "the public transparency page is not enabled on this server");

    let policy = Arc::new(steward_engine::default_policy().unwrap());
    let on = start_configured(Limits::default(), policy, |state| state.with_public_transparency());
    fill(&on);
    let (status, html, headers) = text(&on, None, &format!("/transparency?{}", days()));
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(headers[reqwest::header::CONTENT_TYPE].to_str().unwrap().starts_with("text/html"));
    assert_eq!(html.matches("<rect class=\"bar\"").count(), 3 + 1);
    // The last 30 days by default, today's so far included.
    let (status, html, _) = text(&on, None, "/transparency");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(html.matches("<rect class=\"bar\"").count(), 30 + 1, "thirty days and one category");
    let (status, _, _) = text(&on, None, &format!("/transparency?{}&format=json", days()));
    assert_eq!(status, StatusCode::BAD_REQUEST);
}
