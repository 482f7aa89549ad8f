//! The role matrix, from one table of every route: without a key each is 401, with a key of
//! a role it does not allow 403, and with one it allows anything but those. The table
//! covers every route the router serves and every route is in the OpenAPI document.

mod common;

use common::start;
use reqwest::StatusCode;
use serde_json::Value;
use steward_model::Role;
use steward_server::Limits;

const READ: &[Role] = &[Role::Moderator, Role::Admin, Role::Auditor];
const INGEST: &[Role] = &[Role::Ingest, Role::Admin];
const MODERATE: &[Role] = &[Role::Moderator, Role::Admin];
const ADMIN: &[Role] = &[Role::Admin];
const NOTICES: &[Role] = &[Role::Ingest, Role::Moderator, Role::Admin, Role::Auditor];
const AUDIT: &[Role] = &[Role::Auditor, Role::Admin];

/// (method, the route as the router names it, a path to call, a body, the roles allowed).
const ROUTES: &[(&str, &str, &str, &str, &[Role])] = &[
    ("POST", "/v1/events", "/v1/events", "[]", INGEST),
    ("GET", "/v1/decisions", "/v1/decisions?subject=a1", "", READ),
    ("GET", "/v1/decisions/{id}", "/v1/decisions/x", "", READ),
    ("GET", "/v1/accounts/{id}/standing", "/v1/accounts/a1/standing", "", READ),
    ("GET", "/v1/campaigns", "/v1/campaigns", "", READ),
    ("GET", "/v1/campaigns/{id}", "/v1/campaigns/x", "", READ),
    ("GET", "/v1/policy", "/v1/policy", "", READ),
    ("POST", "/v1/policy", "/v1/policy", "version = 1", ADMIN),
    ("POST", "/v1/policy/test", "/v1/policy/test", SPOT_TEST, READ),
    ("POST", "/v1/policy/rules/{id}/rearm", "/v1/policy/rules/ai-unlabelled/rearm", "", ADMIN),
    ("POST", "/v1/reports", "/v1/reports", r#"{"id":"r","reporter_id":"u","post_id":"p","reason":"spam"}"#, INGEST),
    ("GET", "/v1/reports/{id}", "/v1/reports/r", "", READ),
    ("GET", "/v1/reporters/{id}", "/v1/reporters/u", "", READ),
    (
        "POST",
        "/v1/reporters/{id}/mute",
        "/v1/reporters/u/mute",
        r#"{"until":"2020-01-01T00:00:00Z","reason":"x"}"#,
        ADMIN,
    ),
    ("GET", "/v1/queues", "/v1/queues", "", READ),
    ("POST", "/v1/queues/{queue}/next", "/v1/queues/reports/next", "", MODERATE),
    ("GET", "/v1/cases", "/v1/cases", "", READ),
    ("GET", "/v1/cases/{id}", "/v1/cases/c", "", READ),
    ("POST", "/v1/cases/{id}/actions", "/v1/cases/c/actions", r#"{"version":1,"action":{"type":"claim"}}"#, MODERATE),
    ("POST", "/v1/appeals", "/v1/appeals", r#"{"decision_id":"d","account_id":"a","text":"t"}"#, INGEST),
    ("GET", "/v1/appeals/{id}", "/v1/appeals/a", "", READ),
    ("GET", "/v1/notices", "/v1/notices?account=a1", "", NOTICES),
    ("GET", "/v1/notices/dead", "/v1/notices/dead", "", ADMIN),
    ("POST", "/v1/notices/{id}/replay", "/v1/notices/n/replay", "", ADMIN),
    ("GET", "/v1/transparency", "/v1/transparency?from=2026-11-01&to=2026-11-30", "", AUDIT),
];

const SPOT_TEST: &str = r#"{"event": {"id": "e", "type": "account.upserted", "at": "2026-11-22T08:00:00Z",
    "account": {"id": "a", "handle": "h", "display_name": "d", "followers": 1}}}"#;

/// Routes anyone may call.
const OPEN: &[&str] = &["/healthz", "/metrics", "/openapi.json", "/transparency"];

#[test]
fn every_route_answers_each_role_as_the_table_says() {
    let s = start(Limits::default());
    let call = |method: &str, path: &str, body: &str, key: Option<&str>| {
        let url = format!("{}{path}", s.base);
        let mut req = if method == "GET" { s.client.get(url) } else { s.client.post(url).body(body.to_string()) };
        req = req.header("content-type", if path == "/v1/policy" { "application/toml" } else { "application/json" });
        if let Some(key) = key {
            req = req.bearer_auth(key);
        }
        req.send().unwrap().status()
    };
    for (method, _, path, body, allowed) in ROUTES {
        assert_eq!(call(method, path, body, None), StatusCode::UNAUTHORIZED, "{method} {path} without a key");
        for role in Role::ALL {
            let status = call(method, path, body, Some(&s.keys[&role]));
            if allowed.contains(&role) {
                assert_ne!(status, StatusCode::FORBIDDEN, "{method} {path} as {role:?}");
                assert_ne!(status, StatusCode::UNAUTHORIZED, "{method} {path} as {role:?}");
            } else {
                assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path} as {role:?}");
            }
        }
    }
}

#[test]
fn the_table_and_the_openapi_document_cover_every_route() {
    let source = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/lib.rs")).unwrap();
    let served: Vec<&str> = source.split(".route(\"").skip(1).filter_map(|rest| rest.split('"').next()).collect();
    assert!(served.len() >= ROUTES.len(), "{served:?}");
    for route in &served {
        assert!(
            OPEN.contains(route) || ROUTES.iter().any(|(_, r, ..)| r == route),
            "{route} is served but not in the role table"
        );
    }
    let s = start(Limits::default());
    let (_, doc) = s.get(None, "/openapi.json");
    let paths = doc["paths"].as_object().unwrap();
    for (method, route, ..) in ROUTES {
        let op = &paths.get(*route).unwrap_or(&Value::Null)[method.to_lowercase()];
        assert!(op.is_object(), "{method} {route} is not in /openapi.json");
    }
    for route in OPEN {
        assert!(paths.contains_key(*route) || *route == "/openapi.json", "{route} is not in /openapi.json");
    }
}
