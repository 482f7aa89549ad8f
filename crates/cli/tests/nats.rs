//! Distributed mode's publishing (issue 20) against the real NATS cluster of scripts/nats.sh:
//! `steward ingest --nats` and `steward serve --nats` validate as the single box does, publish
//! each valid event once to `ev.<type>.<partition>` with `Nats-Msg-Id` = its id, count accepted
//! only what JetStream acknowledged, and a re-send is all duplicates, no new message.
//!
//! ```sh
//! source scripts/nats.sh && start_nats_cluster
//! STEWARD_REQUIRE_NATS=1 cargo test --release -p steward --test nats
//! ```

mod common;

use std::collections::HashMap;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_nats::jetstream::{self, consumer};
use common::{STEWARD, free_port, key, nats_url, serve_with};
use futures_util::StreamExt;
use serde_json::{Value, json};
use steward_stream::StreamConfig;

/// A prefix no other run uses.
fn unique(tag: &str) -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
    format!("{tag}-{}-{}", std::process::id(), nanos % 1_000_000_000_000)
}

/// `n` valid events of several accounts and types, a fact-check (no account) and two invalid
/// records; returns the NDJSON and each valid event's (id, type, partition key).
fn workload(prefix: &str, n: usize) -> (String, Vec<(String, String, String)>) {
    let at = "2026-11-22T08:00:00Z";
    let mut lines = Vec::new();
    let mut valid = Vec::new();
    for i in 0..n {
        let account = format!("{prefix}-acct-{}", i % 7);
        let id = format!("{prefix}-e{i}");
        let event = if i % 4 == 0 {
            json!({"id": id, "type": "account.upserted", "at": at, "account": {"id": account, "handle": format!("h{i}"),
                "display_name": "someone", "bio": "", "followers": i}})
        } else {
            json!({"id": id, "type": "post.created", "at": at, "post": {"id": format!("{prefix}-p{i}"),
                "account_id": account, "kind": "short_post", "text": format!("post number {i}"), "created_at": at}})
        };
        valid.push((id, event["type"].as_str().unwrap().to_string(), account));
        lines.push(event.to_string());
    }
    let fc = format!("{prefix}-fc");
    lines.push(
        json!({"id": fc, "type": "factcheck.upserted", "at": at, "factcheck": {"id": format!("{prefix}-f1"),
            "claim": "the moon is cheese", "verdict": "false", "publisher": "checkers", "published_at": at}})
        .to_string(),
    );
    // No account: partitioned by the event id.
    valid.push((fc.clone(), "factcheck.upserted".into(), fc));
    lines.push(
        json!({"id": format!("{prefix}-bad1"), "type": "post.created", "at": "yesterday", "post": {}}).to_string(),
    );
    lines.push("{not json".to_string());
    (lines.join("\n") + "\n", valid)
}

/// The last sequence of the default stream (0 when it does not exist yet).
async fn last_sequence(js: &jetstream::Context) -> u64 {
    match js.get_stream(&StreamConfig::default().name).await {
        Ok(mut s) => s.info().await.unwrap().state.last_sequence,
        Err(_) => 0,
    }
}

/// The messages of the default stream after sequence `after` whose Nats-Msg-Id starts with
/// `prefix`: id → (subject, count, payload).
async fn published(js: &jetstream::Context, after: u64, prefix: &str) -> HashMap<String, (String, usize, Value)> {
    let stream = js.get_stream(&StreamConfig::default().name).await.unwrap();
    let consumer = stream
        .create_consumer(consumer::pull::Config {
            deliver_policy: consumer::DeliverPolicy::ByStartSequence { start_sequence: after + 1 },
            ack_policy: consumer::AckPolicy::None,
            inactive_threshold: Duration::from_secs(30),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut out: HashMap<String, (String, usize, Value)> = HashMap::new();
    loop {
        let mut batch =
            consumer.fetch().max_messages(1000).expires(Duration::from_millis(1500)).messages().await.unwrap();
        let mut got = 0;
        while let Some(m) = batch.next().await {
            let m = m.unwrap();
            got += 1;
            let id = m.headers.as_ref().and_then(|h| h.get("Nats-Msg-Id")).map(|v| v.to_string()).unwrap_or_default();
            if id.starts_with(prefix) {
                let payload: Value = serde_json::from_slice(&m.payload).unwrap();
                let entry = out.entry(id).or_insert((m.subject.to_string(), 0, payload));
                entry.1 += 1;
            }
        }
        if got == 0 {
            return out;
        }
    }
}

/// Every valid event is in the stream once, on its partition's subject, with its record.
fn check_stream(got: &HashMap<String, (String, usize, Value)>, valid: &[(String, String, String)]) {
    let config = StreamConfig::default();
    assert_eq!(got.len(), valid.len(), "messages: {:?}", got.keys().collect::<Vec<_>>());
    for (id, kind, key) in valid {
        let (subject, count, payload) = got.get(id).unwrap_or_else(|| panic!("{id} is not in the stream"));
        assert_eq!(*count, 1, "{id} is in the stream {count} times");
        assert_eq!(subject, &config.subject_for(kind, key), "{id}");
        assert_eq!(payload["id"], json!(id));
    }
}

async fn jetstream_at(url: &str) -> jetstream::Context {
    jetstream::new(async_nats::connect(url.split(',').collect::<Vec<_>>()).await.unwrap())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

#[test]
fn ingest_publishes_each_valid_event_once() {
    let Some(url) = nats_url("ingest_publishes_each_valid_event_once") else { return };
    let rt = runtime();
    let js = rt.block_on(jetstream_at(&url));
    let after = rt.block_on(last_sequence(&js));
    let prefix = unique("cli");
    let (ndjson, valid) = workload(&prefix, 40);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("events.jsonl");
    std::fs::write(&file, ndjson).unwrap();

    let ingest = || Command::new(STEWARD).args(["ingest", "--nats", &url]).arg(&file).output().unwrap();
    let out = ingest();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Rejections as the single box reports them: exit 1, each named by line.
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("events.jsonl:42: rejected: field `at`"), "{stderr}");
    assert!(stderr.contains("events.jsonl:43: rejected:"), "{stderr}");
    assert!(stderr.contains("41 accepted (acknowledged), 0 duplicates, 2 rejected, 0 not acknowledged"), "{stderr}");
    check_stream(&rt.block_on(published(&js, after, &prefix)), &valid);
    // The same rejections, word for word, as the single box's ingest of the file.
    let local =
        Command::new(STEWARD).args(["ingest", "--data-dir"]).arg(dir.path().join("local")).arg(&file).output().unwrap();
    let rejections = |s: &str| s.lines().filter(|l| l.contains(": rejected: ")).map(String::from).collect::<Vec<_>>();
    let local_stderr = String::from_utf8_lossy(&local.stderr);
    assert_eq!(rejections(&stderr), rejections(&local_stderr), "{local_stderr}");
    assert!(local_stderr.contains("41 accepted, 0 duplicates, 2 rejected"), "{local_stderr}");

    // Again: every event is a duplicate and nothing new is stored.
    let out = ingest();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("0 accepted (acknowledged), 41 duplicates, 2 rejected"), "{stderr}");
    check_stream(&rt.block_on(published(&js, after, &prefix)), &valid);
}

#[test]
fn serve_answers_accepted_only_for_acknowledged_events() {
    let Some(url) = nats_url("serve_answers_accepted_only_for_acknowledged_events") else { return };
    let rt = runtime();
    let js = rt.block_on(jetstream_at(&url));
    let after = rt.block_on(last_sequence(&js));
    let prefix = unique("srv");
    let (ndjson, valid) = workload(&prefix, 30);
    let dir = tempfile::tempdir().unwrap();
    let key = key(dir.path(), "ingest");
    let port = free_port();
    let mut server = serve_with(dir.path(), port, |c| c.args(["--nats", &url]));
    let post = |body: &str| {
        let r = reqwest::blocking::Client::new()
            .post(format!("http://127.0.0.1:{port}/v1/events"))
            .bearer_auth(&key)
            .header("content-type", "application/x-ndjson")
            .body(body.to_string())
            .send()
            .unwrap();
        (r.status().as_u16(), r.json::<Value>().unwrap())
    };
    let (status, answer) = post(&ndjson);
    assert_eq!(status, 200, "{answer}");
    assert_eq!((answer["accepted"].as_u64(), answer["duplicates"].as_u64()), (Some(31), Some(0)), "{answer}");
    assert_eq!(answer["rejected_total"], 2, "{answer}");
    assert_eq!(answer["rejected"][0]["index"], 31, "{answer}");
    // Decisions are the workers': none here, and none in the local store.
    assert_eq!(answer["decisions"], json!([]), "{answer}");
    check_stream(&rt.block_on(published(&js, after, &prefix)), &valid);

    let (status, answer) = post(&ndjson);
    assert_eq!(status, 200, "{answer}");
    assert_eq!((answer["accepted"].as_u64(), answer["duplicates"].as_u64()), (Some(0), Some(31)), "{answer}");
    check_stream(&rt.block_on(published(&js, after, &prefix)), &valid);
    let _ = server.kill();
    let _ = server.wait();
}

/// No cluster at the URL: a clear error and exit 2, nothing claimed.
#[test]
fn unreachable_cluster_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("events.jsonl");
    let (ndjson, _) = workload("unreachable", 3);
    std::fs::write(&file, ndjson).unwrap();
    let dead = format!("nats://127.0.0.1:{}", free_port());
    let out = Command::new(STEWARD).args(["ingest", "--nats", &dead]).arg(&file).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&format!("cannot publish to the NATS JetStream cluster at {dead}")), "{stderr}");
    assert!(!stderr.contains("accepted"), "{stderr}");

    let out = Command::new(STEWARD)
        .args(["serve", "--nats", &dead, "--listen", &format!("127.0.0.1:{}", free_port()), "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("cannot publish to the NATS JetStream cluster"), "{stderr}");
}
