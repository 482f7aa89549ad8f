//! `POST /v1/events` with a NATS sink (`steward serve --nats`) against the real cluster of
//! scripts/nats.sh: events JetStream does not acknowledge are a 503, never `accepted`.
//! The round trip through the stream is tested end to end in crates/cli/tests/nats.rs.

mod common;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{nats_url, now};
use reqwest::StatusCode;
use serde_json::json;
use steward_model::Role;
use steward_stream::{Publisher, RetryPolicy, StreamConfig};

fn events(prefix: &str, n: usize) -> String {
    let at = now();
    let lines: Vec<String> = (0..n)
        .map(|i| {
            json!({"id": format!("{prefix}-{i}"), "type": "post.created", "at": at, "post": {"id": format!("{prefix}-p{i}"),
                "account_id": format!("acct-{i}"), "kind": "short_post", "text": "hello", "created_at": at}})
            .to_string()
        })
        .collect();
    lines.join("\n")
}

#[test]
fn unacknowledged_events_are_a_503_not_accepted() {
    let Some(url) = nats_url("unacknowledged_events_are_a_503_not_accepted") else { return };
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() % 1_000_000_000_000;
    let unique = format!("srv503-{}-{nanos}", std::process::id());
    // A stream of the test's own, and a publisher that gives up after 2 s.
    let config =
        StreamConfig { name: unique.clone(), subject_prefix: unique.clone(), partitions: 4, ..Default::default() };
    let retry = RetryPolicy {
        ack_timeout: Duration::from_secs(1),
        retry_for: Duration::from_secs(2),
        backoff: Duration::from_millis(100),
    };
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let publisher = rt.block_on(Publisher::connect_with(&url, config, retry)).unwrap();
    let p = publisher.clone();
    let server = common::start_configured(
        steward_server::Limits::default(),
        Arc::new(steward_engine::default_policy().unwrap()),
        move |state| state.with_publisher(p),
    );

    let (status, answer) = server.post(Role::Ingest, "application/x-ndjson", events(&unique, 5));
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["accepted"], 5, "{answer}");
    assert_eq!(answer["decisions"], json!([]), "{answer}");

    // A report is published too, and answered 202: a worker files it.
    let report = json!({"id": format!("{unique}-r"), "reporter_id": "u1", "account_id": "acct-1", "reason": "spam"});
    let (status, answer) = server.send(Role::Ingest, "/v1/reports", "application/json", report.to_string());
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert_eq!(answer["accepted"], 1, "{answer}");

    // The stream is gone: nothing answers its subjects, and nothing may be called accepted.
    rt.block_on(publisher.jetstream().delete_stream(&unique)).unwrap();
    let (status, answer) = server.post(Role::Ingest, "application/x-ndjson", events(&format!("{unique}-b"), 3));
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{answer}");
    let error = answer["error"].as_str().unwrap_or_default();
    assert!(error.contains("did not acknowledge 3 valid events"), "{answer}");
    assert!(error.contains("0 events of it were acknowledged"), "{answer}");
    assert!(answer.get("accepted").is_none(), "{answer}");
}
