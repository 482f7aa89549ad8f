//! Shared by the cluster tests: the cluster's URLs, throwaway streams, the script's fault hooks.
#![allow(dead_code)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_nats::jetstream::Context;
use bytes::Bytes;
use futures_util::StreamExt;
use steward_stream::{Event, StreamConfig};

/// `STEWARD_TEST_NATS_URL`, set by scripts/nats.sh. Unset: the test is skipped with a message,
/// or fails when `STEWARD_REQUIRE_NATS=1`.
pub fn nats_url(test: &str) -> Option<String> {
    match std::env::var("STEWARD_TEST_NATS_URL") {
        Ok(u) if !u.trim().is_empty() => Some(u),
        _ => {
            if std::env::var("STEWARD_REQUIRE_NATS").as_deref() == Ok("1") {
                panic!(
                    "{test}: STEWARD_REQUIRE_NATS=1 but STEWARD_TEST_NATS_URL is not set (source scripts/nats.sh; start_nats_cluster)"
                );
            }
            eprintln!("{test}: skipped, STEWARD_TEST_NATS_URL is not set (source scripts/nats.sh; start_nats_cluster)");
            None
        }
    }
}

/// A stream of its own for one test: a unique name and subject prefix, R3, few partitions.
pub fn test_config(tag: &str, partitions: u32) -> StreamConfig {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
    let unique = format!("{tag}-{}-{}", std::process::id(), nanos % 1_000_000_000);
    StreamConfig {
        name: format!("test-{unique}"),
        subject_prefix: format!("t-{unique}"),
        partitions,
        ..Default::default()
    }
}

pub fn events(prefix: &str, n: usize, accounts: usize) -> Vec<Event> {
    (0..n)
        .map(|i| {
            let account = format!("acct-{}", i % accounts);
            Event {
                event_id: format!("{prefix}-{i}"),
                event_type: if i % 3 == 0 { "reaction".into() } else { "post".into() },
                payload: Bytes::from(format!("{account} {prefix}-{i} {}", "x".repeat(160))),
                account_id: account,
            }
        })
        .collect()
}

pub async fn delete_stream(js: &Context, name: &str) {
    let _ = js.delete_stream(name).await;
}

pub async fn stream_messages(js: &Context, name: &str) -> u64 {
    let mut s = js.get_stream(name).await.expect("stream");
    s.info().await.expect("info").state.messages
}

/// Runs `cmd` with scripts/nats.sh sourced (kill_nats_node N, restart_nats_node N).
pub fn nats_script(cmd: &str) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/nats.sh");
    let status =
        std::process::Command::new("bash").arg("-c").arg(format!("source '{script}' && {cmd}")).status().expect("bash");
    assert!(status.success(), "`{cmd}` failed");
}

/// Reads every message of one partition back through an ephemeral pull consumer.
pub async fn read_partition(
    js: &Context,
    stream: &str,
    filter: &str,
    expect: usize,
) -> Vec<async_nats::jetstream::Message> {
    use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, pull};
    let s = js.get_stream(stream).await.expect("stream");
    let consumer = s
        .create_consumer(pull::Config {
            filter_subject: filter.to_string(),
            deliver_policy: DeliverPolicy::All,
            ack_policy: AckPolicy::Explicit,
            inactive_threshold: Duration::from_secs(30),
            ..Default::default()
        })
        .await
        .expect("consumer");
    let mut out = Vec::new();
    while out.len() < expect {
        let mut batch = consumer
            .fetch()
            .max_messages(expect - out.len())
            .expires(Duration::from_secs(2))
            .messages()
            .await
            .expect("fetch");
        let before = out.len();
        while let Some(m) = batch.next().await {
            let m = m.expect("message");
            m.ack().await.expect("ack");
            out.push(m);
        }
        if out.len() == before {
            break;
        }
    }
    out
}
