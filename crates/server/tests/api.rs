//! End-to-end tests of the HTTP API over a real socket and a real SQLite store.

mod common;

use std::sync::Arc;

use common::{Server, ai_post, now};
use reqwest::StatusCode;
use serde_json::{Value, json};
use steward_model::Role;

fn start(max_body_bytes: usize) -> Server {
    start_with(max_body_bytes, Arc::new(steward_engine::default_policy().unwrap()))
}

fn start_with(max_body_bytes: usize, policy: Arc<steward_policy::Policy>) -> Server {
    common::start_with(steward_server::Limits { max_body_bytes, ..Default::default() }, policy)
}

#[test]
fn json_array_ingest_decides_and_serves_the_statement_of_reasons() {
    let s = start(1 << 20);
    let account = json!({"id": "e0", "type": "account.upserted", "at": now(),
        "account": {"id": "a1", "handle": "lin", "display_name": "林晓雨", "followers": 100}});
    let (status, body) = s.post(Role::Ingest, "application/json", json!([account, ai_post("e1", "a1")]).to_string());
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["accepted"], 2);
    assert_eq!(body["duplicates"], 0);
    assert_eq!(body["decisions"][0]["rule_id"], "ai-unlabelled");

    let (status, body) = s.get(Some(Role::Auditor), "/v1/decisions?subject=a1");
    assert_eq!(status, StatusCode::OK);
    let d = &body["decisions"][0];
    assert_eq!(d["post_id"], "p-e1");
    assert_eq!(d["automated_detection"], true);
    assert!(d["explanation"].as_str().unwrap().contains("p-e1"), "{d}");
    assert!(d["appeal"]["until"].is_string());
    assert!(d["policy_version"].is_string());
    assert!(d["facts"]["signals"][0]["evidence"]["source"] == "declared");

    let (_, by_post) = s.get(Some(Role::Moderator), "/v1/decisions?subject=p-e1");
    assert_eq!(by_post["decisions"].as_array().unwrap().len(), 1);
    let id = d["id"].as_str().unwrap();
    let (status, one) = s.get(Some(Role::Admin), &format!("/v1/decisions/{id}"));
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one["id"], id);

    let (status, standing) = s.get(Some(Role::Auditor), "/v1/accounts/a1/standing");
    assert_eq!(status, StatusCode::OK);
    assert!(standing["credit"].as_i64().unwrap() < standing["credit_initial"].as_i64().unwrap());
    assert!(standing.get("disclosure").is_none(), "a small account discloses nothing: {standing}");
}

#[test]
fn standing_says_what_a_large_account_must_disclose() {
    let s = start(1 << 20);
    let account = json!({"id": "big", "type": "account.upserted", "at": now(), "account": {"id": "a2",
        "handle": "big", "display_name": "Big", "followers": 1_200_000, "verified": true,
        "identity": {"name": "某某文化传媒有限公司", "type": "organization"}}});
    let (status, body) = s.post(Role::Ingest, "application/json", json!([account]).to_string());
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, standing) = s.get(Some(Role::Auditor), "/v1/accounts/a2/standing");
    assert_eq!(status, StatusCode::OK);
    let d = &standing["disclosure"];
    assert_eq!(d["because"], "followers", "{standing}");
    assert_eq!((d["followers"].as_u64(), d["threshold"].as_u64()), (Some(1_200_000), Some(1_000_000)));
    assert_eq!(d["identity"], json!({"name": "某某文化传媒有限公司", "type": "organization"}));
    assert_eq!(d["missing"], json!(["ip_region"]));
}

#[test]
fn ndjson_keeps_valid_records_and_names_each_rejection() {
    let s = start(1 << 20);
    let body = format!(
        "{}\n{}\n\n{}\n{}\n",
        ai_post("n1", "a1"),
        r#"{"id":"n2","type":"post.created","at":"#,
        json!({"id": "n3", "type": "post.liked", "at": now()}),
        ai_post("n4", "a2"),
    );
    let (status, body) = s.post(Role::Ingest, "application/x-ndjson", body);
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["accepted"], 2);
    let rejected = body["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 2);
    assert_eq!(rejected[0]["index"], 1);
    assert_eq!(rejected[0]["line"], 2);
    assert_eq!(rejected[1]["line"], 4);
    assert_eq!(rejected[1]["field"], "type");
    assert!(rejected[1]["error"].as_str().unwrap().contains("unknown event type"));
}

#[test]
fn replays_are_counted_no_ops() {
    let s = start(1 << 20);
    let batch = json!([ai_post("r1", "a1"), ai_post("r1", "a1")]).to_string();
    let (_, first) = s.post(Role::Ingest, "application/json", batch.clone());
    assert_eq!((first["accepted"].as_u64(), first["duplicates"].as_u64()), (Some(1), Some(1)));
    let (status, second) = s.post(Role::Admin, "application/json", batch);
    assert_eq!(status, StatusCode::OK);
    assert_eq!((second["accepted"].as_u64(), second["duplicates"].as_u64()), (Some(0), Some(2)));
    assert_eq!(second["decisions"].as_array().unwrap().len(), 0);
    let (_, decisions) = s.get(Some(Role::Auditor), "/v1/decisions?subject=a1");
    assert_eq!(decisions["decisions"].as_array().unwrap().len(), 1);
}

#[test]
fn limits_answer_413_and_400_with_a_message() {
    let s = start(4096);
    let big = json!([ai_post("b1", "a1")]).to_string() + " ".repeat(5000).as_str();
    let (status, body) = s.post(Role::Ingest, "application/json", big);
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(body["error"].as_str().unwrap().contains("4096 bytes"), "{body}");

    let s = start(1 << 20);
    let mut post = ai_post("b2", "a1");
    post["post"]["text"] = json!("长".repeat(30_000));
    let (status, body) = s.post(Role::Ingest, "application/json", json!([post]).to_string());
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["rejected"][0]["field"], "post.text");

    let (status, body) = s.post(Role::Ingest, "application/json", "[{\"id\":");
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"].as_str().unwrap().contains("JSON array"), "{body}");

    let (status, body) = s.post(Role::Ingest, "application/x-ndjson", vec![b'{', 0xff, 0xfe, b'}']);
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["rejected"][0]["error"].as_str().unwrap().contains("UTF-8"), "{body}");
}

#[test]
fn every_v1_route_needs_a_key_of_an_allowed_role() {
    let s = start(1 << 20);
    for path in
        ["/v1/decisions?subject=a1", "/v1/accounts/a1/standing", "/v1/decisions/x", "/v1/campaigns", "/v1/campaigns/x"]
    {
        let (status, _) = s.get(None, path);
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
        let (status, _) = s.get(Some(Role::Ingest), path);
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
    }
    let r = s.client.post(format!("{}/v1/events", s.base)).body("[]").send().unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = s.client.post(format!("{}/v1/events", s.base)).bearer_auth("stw_nope").body("[]").send().unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = s.client.get(format!("{}/v1/campaigns", s.base)).bearer_auth(&s.revoked).send().unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.text().unwrap().contains("was revoked at"));
    for role in [Role::Auditor, Role::Moderator] {
        let (status, body) = s.post(role, "application/json", "[]");
        assert_eq!(status, StatusCode::FORBIDDEN, "{role:?}");
        assert!(body["error"].as_str().unwrap().contains("may not send events"));
    }
    let (status, _) = s.get(Some(Role::Auditor), "/v1/decisions");
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[test]
fn health_metrics_and_openapi_are_served() {
    let s = start(1 << 20);
    let (status, health) = s.get(None, "/healthz");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(health["backend"], "sqlite");
    s.post(Role::Ingest, "application/json", json!([ai_post("m1", "a1")]).to_string());
    let metrics = s.client.get(format!("{}/metrics", s.base)).send().unwrap().text().unwrap();
    assert!(metrics.contains("steward_events_total{outcome=\"accepted\"} 1"), "{metrics}");
    assert!(metrics.contains("steward_decisions_total{rule=\"ai-unlabelled\"} 1"), "{metrics}");
    let (status, doc) = s.get(None, "/openapi.json");
    assert_eq!(status, StatusCode::OK);
    for path in [
        "/v1/events",
        "/v1/decisions",
        "/v1/accounts/{id}/standing",
        "/v1/campaigns",
        "/v1/campaigns/{id}",
        "/healthz",
        "/metrics",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} missing from the OpenAPI document");
    }
    assert!(doc["components"]["schemas"]["Decision"].is_object());
}

#[test]
fn campaigns_are_listed_with_their_posts_and_their_posts_labelled() {
    let s = start(1 << 20);
    let text = "网传本市明天起全面封城，超市将全部关闭，请大家今晚务必抢购囤货，消息来自内部人士，转给家人";
    let copies: Vec<Value> = (0..6)
        .map(|i| {
            let text =
                if i % 2 == 0 { text.to_string() } else { format!("紧急扩散！{}[哭]", text.replace('，', " ")) };
            json!({"id": format!("c{i}"), "type": "post.created", "at": now(), "post": {"id": format!("cp{i}"),
                "account_id": format!("ca{i}"), "kind": "short_post", "text": text, "created_at": now()}})
        })
        .collect();
    let (status, body) = s.post(Role::Ingest, "application/json", Value::Array(copies).to_string());
    assert_eq!(status, StatusCode::OK, "{body}");
    let labelled: Vec<&str> = body["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["rule_id"] == "copy-campaign")
        .map(|d| d["post_id"].as_str().unwrap())
        .collect();
    assert_eq!(labelled.len(), 6, "{body}");

    let (status, list) = s.get(Some(Role::Moderator), "/v1/campaigns");
    assert_eq!(status, StatusCode::OK);
    let campaigns = list["campaigns"].as_array().unwrap();
    assert_eq!(campaigns.len(), 1, "{list}");
    assert_eq!(campaigns[0]["accounts"], 6);
    let id = campaigns[0]["id"].as_str().unwrap();
    let (status, one) = s.get(Some(Role::Auditor), &format!("/v1/campaigns/{id}"));
    assert_eq!(status, StatusCode::OK);
    let posts: Vec<&str> = one["posts"].as_array().unwrap().iter().map(|p| p["post_id"].as_str().unwrap()).collect();
    assert_eq!(posts.len(), 6);
    assert!(posts.contains(&"cp0") && posts.contains(&"cp5"), "{one}");
    let (status, _) = s.get(Some(Role::Auditor), "/v1/campaigns/nope");
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, by_post) = s.get(Some(Role::Moderator), "/v1/decisions?subject=cp0");
    let d = &by_post["decisions"][0];
    assert_eq!(d["rule_id"], "copy-campaign");
    assert!(d["explanation"].as_str().unwrap().contains("accounts have published"), "{d}");
    assert_eq!(d["facts"]["signals"][0]["evidence"]["campaign"], id);
}

#[test]
fn policy_versions_modes_spot_tests_and_shadow_decisions() {
    let s = start(1 << 20);
    let (status, p) = s.get(Some(Role::Auditor), "/v1/policy");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(p["versions"].as_array().unwrap().len(), 1);
    let ai = p["rules"].as_array().unwrap().iter().find(|r| r["id"] == "ai-unlabelled").unwrap().clone();
    assert_eq!((ai["mode"].as_str(), ai["running"].as_str()), (Some("live"), Some("live")));
    assert!(ai["quota"].is_object(), "{ai}");

    // A policy with problems is refused with every one and its line; the old one stays.
    let bad = "version = \"x\"\n[[rules]]\nid = \"r\"\nmode = \"sometimes\"\n";
    let (status, refused) = s.send(Role::Admin, "/v1/policy", "application/toml", bad);
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert!(refused["problems"].as_array().unwrap().iter().any(|e| e["line"] == 4), "{refused}");
    let (status, _) = s.send(Role::Moderator, "/v1/policy", "application/toml", bad);
    assert_eq!(status, StatusCode::FORBIDDEN);

    // The default policy with the AI rule in shadow goes in force without a restart.
    let shadowed = steward_engine::DEFAULT_POLICY
        .replace("version = \"default-2026.11\"", "version = \"shadow-test\"")
        .replace("id = \"ai-unlabelled\"\n", "id = \"ai-unlabelled\"\nmode = \"shadow\"\n");
    let (status, p) = s.send(Role::Admin, "/v1/policy", "application/toml", shadowed);
    assert_eq!(status, StatusCode::OK, "{p}");
    assert_eq!(p["version"], "shadow-test");
    assert_eq!(s.get(None, "/healthz").1["policy_version"], "shadow-test");

    let (status, out) = s.post(Role::Ingest, "application/json", json!([ai_post("e1", "a1")]).to_string());
    assert_eq!(status, StatusCode::OK);
    assert_eq!(out["decisions"].as_array().unwrap().len(), 0, "{out}");
    assert_eq!(out["shadow_decisions"], 1);
    let (_, shadow) = s.get(Some(Role::Moderator), "/v1/decisions?shadow=true&rule=ai-unlabelled");
    assert_eq!(shadow["decisions"][0]["shadow"], true, "{shadow}");
    let (_, standing) = s.get(Some(Role::Moderator), "/v1/accounts/a1/standing");
    assert_eq!(standing["credit"], 100, "a shadow rule deducts nothing: {standing}");
    let (_, p) = s.get(Some(Role::Auditor), "/v1/policy");
    let ai = p["rules"].as_array().unwrap().iter().find(|r| r["id"] == "ai-unlabelled").unwrap().clone();
    assert_eq!((ai["running"].as_str(), ai["shadow_decisions"].as_u64()), (Some("shadow"), Some(1)));
    let metrics = s.client.get(format!("{}/metrics", s.base)).send().unwrap().text().unwrap();
    assert!(metrics.contains("steward_rule_decisions_total{rule=\"ai-unlabelled\",mode=\"shadow\"} 1"), "{metrics}");

    // A spot test of the one in force answers what each rule would do, storing nothing.
    let test = json!({ "event": ai_post("e2", "a2") }).to_string();
    let (status, t) = s.send(Role::Auditor, "/v1/policy/test", "application/json", test);
    assert_eq!(status, StatusCode::OK, "{t}");
    assert_eq!(t["decisions"][0]["mode"], "shadow");
    assert_eq!(s.get(Some(Role::Moderator), "/v1/decisions?subject=a2").1["decisions"], json!([]));
    let (status, _) = s.send(Role::Auditor, "/v1/policy/test", "application/json", "{\"event\": 1}");
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Nothing to re-arm.
    let (status, _) = s.send(Role::Admin, "/v1/policy/rules/clickbait/rearm", "application/json", "");
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = s.send(Role::Admin, "/v1/policy/rules/nope/rearm", "application/json", "");
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[test]
fn a_breaker_trips_over_http_and_an_admin_rearms_it() {
    let s = start(1 << 20);
    // A tighter quota on the AI rule and a lower disclosure line, in force without a restart.
    let tight = steward_engine::DEFAULT_POLICY
        .replace("version = \"default-2026.11\"", "version = \"tight\"")
        .replace("quota = { max_per_hour = 20000 }", "quota = { max_per_hour = 2 }")
        .replace("[disclosure]\nfollowers = 1000000", "[disclosure]\nfollowers = 5000");
    assert!(tight.contains("max_per_hour = 2 }") && tight.contains("followers = 5000"));
    let (status, p) = s.send(Role::Admin, "/v1/policy", "application/toml", tight);
    assert_eq!(status, StatusCode::OK, "{p}");

    let account = json!({"id": "acc", "type": "account.upserted", "at": now(), "account": {"id": "a9",
        "handle": "mid", "display_name": "Mid", "followers": 6000}});
    let posts: Vec<Value> = (0..4).map(|i| ai_post(&format!("t{i}"), "a9")).collect();
    let mut events = vec![account];
    events.extend(posts);
    let (status, out) = s.post(Role::Ingest, "application/json", json!(events).to_string());
    assert_eq!(status, StatusCode::OK, "{out}");
    // Two live decisions fit the quota; the third passes it, trips the breaker, and from
    // then on the rule runs in shadow.
    let live = out["decisions"].as_array().unwrap().iter().filter(|d| d["rule_id"] == "ai-unlabelled").count();
    assert_eq!((live, out["shadow_decisions"].as_u64()), (2, Some(2)), "{out}");
    let (_, p) = s.get(Some(Role::Auditor), "/v1/policy");
    let ai = p["rules"].as_array().unwrap().iter().find(|r| r["id"] == "ai-unlabelled").unwrap().clone();
    assert_eq!(ai["running"], "shadow", "{ai}");
    assert!(ai["breaker"]["tripped_at"].is_string(), "{ai}");
    let metrics = s.client.get(format!("{}/metrics", s.base)).send().unwrap().text().unwrap();
    assert!(metrics.contains("steward_rule_breaker_trips_total{rule=\"ai-unlabelled\"} 1"), "{metrics}");

    // The new disclosure line applies at once.
    let (_, standing) = s.get(Some(Role::Auditor), "/v1/accounts/a9/standing");
    assert_eq!(standing["disclosure"]["threshold"], 5000, "{standing}");

    // Only an admin re-arms; then the rule is live again.
    let (status, _) = s.send(Role::Moderator, "/v1/policy/rules/ai-unlabelled/rearm", "application/json", "");
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, r) = s.send(Role::Admin, "/v1/policy/rules/ai-unlabelled/rearm", "application/json", "");
    assert_eq!(status, StatusCode::OK, "{r}");
    let (_, p) = s.get(Some(Role::Auditor), "/v1/policy");
    let ai = p["rules"].as_array().unwrap().iter().find(|r| r["id"] == "ai-unlabelled").unwrap().clone();
    assert_eq!((ai["running"].as_str(), ai["breaker"].is_null()), (Some("live"), true), "{ai}");
}

/// Issue 21: a bad `limit` answered 400 in plain text; every request that cannot be read is
/// answered with a JSON error naming the parameter or field.
#[test]
fn every_unreadable_request_answers_a_json_error_naming_its_parameter() {
    let s = start(4096);
    let ask = |method: reqwest::Method, path: &str, content_type: &str, body: &str| {
        let r = s
            .client
            .request(method, format!("{}{path}", s.base))
            .bearer_auth(&s.keys[&Role::Admin])
            .header("content-type", content_type)
            .body(body.to_string())
            .send()
            .unwrap();
        let status = r.status();
        let json = r.headers()["content-type"].to_str().unwrap().starts_with("application/json");
        let text = r.text().unwrap();
        assert!(json, "{path}: {status} {text}");
        let body: Value = serde_json::from_str(&text).unwrap();
        (status, body["error"].as_str().unwrap_or_default().to_string())
    };
    let get = |path: &str| ask(reqwest::Method::GET, path, "", "");
    for (path, message) in [
        ("/v1/decisions?subject=a1&limit=ten", "query parameter `limit`: invalid digit found in string"),
        ("/v1/decisions?subject=a1&limit=-1", "query parameter `limit`: invalid digit found in string"),
        ("/v1/decisions?shadow=maybe", "query parameter `shadow`: provided string was not `true` or `false`"),
        ("/v1/campaigns?limit=1e3", "query parameter `limit`"),
        ("/v1/campaigns/c1?limit=", "query parameter `limit`: cannot parse integer from empty string"),
        ("/v1/accounts/%FF/standing", "`id`"),
    ] {
        let (status, error) = get(path);
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {error}");
        assert!(error.contains(message), "{path}: {error}");
    }
    assert_eq!(get("/v1/decisions?subject=a1&limit=5").0, StatusCode::OK);

    let post = |path: &str, content_type: &str, body: &str| ask(reqwest::Method::POST, path, content_type, body);
    let (status, error) = post("/v1/policy/test", "application/json", r#"{"event": {}, "signals": [{}]}"#);
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error.starts_with("body field `signals[0]."), "{error}");
    assert!(error.contains("missing field"), "{error}");
    let (status, error) = post("/v1/policy/test", "application/json", r#"{"signals": []}"#);
    assert_eq!(
        (status, error.starts_with("body field `event`: missing field `event`")),
        (StatusCode::BAD_REQUEST, true)
    );
    let (status, error) = post("/v1/policy/test", "application/json", r#"{"event": {}} {}"#);
    assert_eq!((status, error.starts_with("the body: trailing characters")), (StatusCode::BAD_REQUEST, true));
    let (status, error) = post("/v1/policy/test", "text/plain", r#"{"event": {}}"#);
    assert_eq!((status, error.contains("Content-Type: application/json")), (StatusCode::BAD_REQUEST, true));
    let (status, error) = post("/v1/policy", "application/toml", &"#".repeat(5000));
    assert_eq!((status, error.contains("over the limit of 4096 bytes")), (StatusCode::PAYLOAD_TOO_LARGE, true));

    let (status, error) = get("/v1/nothing");
    assert_eq!((status, error.contains("/openapi.json")), (StatusCode::NOT_FOUND, true));
    let (status, _) = ask(reqwest::Method::DELETE, "/v1/events", "", "");
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);

    // Records: an element that is no object, a repeated key and a missing field.
    let mut twice = ai_post("d1", "a1").to_string();
    twice = twice.replacen("\"id\":\"d1\"", "\"id\":\"d1\",\"id\":\"d2\"", 1);
    let mut missing = ai_post("d3", "a1");
    missing["post"].as_object_mut().unwrap().remove("account_id");
    let (status, body) = s.post(Role::Ingest, "application/json", format!("[3, {twice}, {missing}]"));
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let fields: Vec<&str> = body["rejected"].as_array().unwrap().iter().map(|r| r["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["(record)", "id", "post.account_id"], "{body}");
}

/// Issue 21: a rule that can hang the engine is refused when posted; forced in (by a check
/// that allowed it), it is stopped at its budget, tripped, counted and shown not running.
#[test]
fn a_rule_over_its_budget_is_refused_and_forced_in_is_tripped() {
    let nested = steward_engine::DEFAULT_POLICY.replace("version = \"default-2026.11\"", "version = \"nested\"")
        + r#"
[[rules]]
id = "nested"
ground = "Test ground"
category = "test"
when = "lists.range(100).all(a, lists.range(100).all(b, lists.range(100).all(c, a + b + c >= 0)))"
actions = [{ type = "label", label = "nested" }]
reason = "Post {{post.id}}."
"#;
    let s = start(1 << 20);
    let (status, refused) = s.send(Role::Admin, "/v1/policy", "application/toml", nested.clone());
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    let problems = refused["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{refused}");
    assert!(problems[0]["message"].as_str().unwrap().contains("over the budget of 50,000 steps a rule"), "{refused}");

    let anything = steward_engine::schema()
        .with_budget(steward_policy::Budget { rule_cost: u64::MAX, ..steward_policy::Budget::default() });
    let forced = steward_policy::Policy::parse(&nested, "nested.toml", &anything).unwrap();
    let s = start_with(1 << 20, Arc::new(forced));
    let (status, out) = s.post(Role::Ingest, "application/json", json!([ai_post("e1", "a1")]).to_string());
    assert_eq!(status, StatusCode::OK);
    assert_eq!(out["decisions"][0]["rule_id"], "ai-unlabelled", "{out}");
    let (_, p) = s.get(Some(Role::Auditor), "/v1/policy");
    let rule = p["rules"].as_array().unwrap().iter().find(|r| r["id"] == "nested").unwrap().clone();
    assert_eq!(rule["running"], "draft", "{rule}");
    assert_eq!(rule["breaker"]["detail"]["cause"], "evaluation_budget", "{rule}");
    let metrics = s.client.get(format!("{}/metrics", s.base)).send().unwrap().text().unwrap();
    for line in [
        "steward_rule_eval_errors_total{rule=\"nested\",kind=\"over_budget\"} 1",
        "steward_rule_eval_errors_total{rule=\"nested\",kind=\"failed\"} 0",
        "steward_rule_breaker_trips_total{rule=\"nested\"} 1",
        "steward_rule_mode{rule=\"nested\",mode=\"draft\"} 1",
    ] {
        assert!(metrics.contains(line), "{line} not in {metrics}");
    }
    // Re-armed, it runs again.
    let (status, _) = s.send(Role::Admin, "/v1/policy/rules/nested/rearm", "application/json", "");
    assert_eq!(status, StatusCode::OK);
    let (_, p) = s.get(Some(Role::Auditor), "/v1/policy");
    let rule = p["rules"].as_array().unwrap().iter().find(|r| r["id"] == "nested").unwrap().clone();
    assert_eq!(rule["running"], "live", "{rule}");
}
