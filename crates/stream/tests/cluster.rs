//! steward-stream against the real 3-node cluster of scripts/nats.sh.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use common::*;
use steward_stream::{ConnectError, PublishError, Publisher, RetryPolicy, StreamConfig, partition};

#[tokio::test]
async fn publish_is_acknowledged() {
    let Some(url) = nats_url("publish_is_acknowledged") else { return };
    let config = test_config("ack", 8);
    let p = Publisher::connect(&url, config.clone()).await.expect("connect");
    let a = p.publish("e-1", "post", "alice", Bytes::from_static(b"hello")).await.expect("publish");
    assert_eq!((a.stream.as_str(), a.sequence, a.duplicate), (config.name.as_str(), 1, false));
    let b = p.publish("e-2", "post", "bob", Bytes::from_static(b"world")).await.expect("publish");
    assert_eq!((b.sequence, b.duplicate), (2, false));
    assert!(matches!(p.publish("", "post", "bob", Bytes::new()).await, Err(PublishError::EmptyEventId)));
    // Connecting again to the same stream with the same config is an update, not an error.
    Publisher::connect(&url, config.clone()).await.expect("reconnect");
    assert_eq!(stream_messages(p.jetstream(), &config.name).await, 2);
    delete_stream(p.jetstream(), &config.name).await;
}

#[tokio::test]
async fn duplicate_is_detected_by_event_id() {
    let Some(url) = nats_url("duplicate_is_detected_by_event_id") else { return };
    let config = test_config("dup", 8);
    let p = Publisher::connect(&url, config.clone()).await.expect("connect");
    let first = p.publish("ev-42", "post", "alice", Bytes::from_static(b"one")).await.expect("first");
    let again = p.publish("ev-42", "post", "alice", Bytes::from_static(b"one")).await.expect("again");
    assert!(!first.duplicate);
    assert!(again.duplicate);
    assert_eq!(again.sequence, first.sequence);
    // In a batch too: 1% of the events published a second time.
    let evs = events("b", 1000, 50);
    let mut batch = evs.clone();
    batch.extend(evs.iter().step_by(100).cloned());
    let acks = p.publish_batch(&batch).await;
    let acks: Vec<_> = acks.into_iter().map(|r| r.expect("batch publish")).collect();
    assert_eq!(acks.iter().filter(|a| a.duplicate).count(), 10);
    assert!(acks[..1000].iter().all(|a| !a.duplicate));
    assert_eq!(stream_messages(p.jetstream(), &config.name).await, 1001);
    delete_stream(p.jetstream(), &config.name).await;
}

#[tokio::test]
async fn consumer_reads_back_each_partition() {
    let Some(url) = nats_url("consumer_reads_back_each_partition") else { return };
    let config = test_config("part", 8);
    let p = Publisher::connect(&url, config.clone()).await.expect("connect");
    let evs = events("c", 400, 37);
    for r in p.publish_batch(&evs).await {
        r.expect("publish");
    }
    let mut want: HashMap<u32, Vec<&str>> = HashMap::new();
    for e in &evs {
        want.entry(partition(&e.account_id, 8)).or_default().push(&e.event_id);
    }
    let mut seen = 0;
    for part in 0..8 {
        let expect = want.get(&part).map_or(0, Vec::len);
        let msgs = read_partition(p.jetstream(), &config.name, &config.partition_filter(part), expect).await;
        let ids: Vec<String> = msgs
            .iter()
            .map(|m| {
                assert!(m.subject.ends_with(&format!(".{part}")), "{}", m.subject);
                let account = std::str::from_utf8(&m.payload).unwrap().split(' ').next().unwrap();
                assert_eq!(partition(account, 8), part);
                m.headers.as_ref().and_then(|h| h.get("Nats-Msg-Id")).expect("Nats-Msg-Id").to_string()
            })
            .collect();
        // One partition's events come back in publish order.
        assert_eq!(ids, want.get(&part).cloned().unwrap_or_default(), "partition {part}");
        seen += ids.len();
    }
    assert_eq!(seen, 400);
    delete_stream(p.jetstream(), &config.name).await;
}

#[tokio::test]
async fn partition_count_mismatch_is_refused() {
    let Some(url) = nats_url("partition_count_mismatch_is_refused") else { return };
    let config = test_config("mismatch", 8);
    let p = Publisher::connect(&url, config.clone()).await.expect("connect");
    let other = StreamConfig { partitions: 16, ..config.clone() };
    match Publisher::connect(&url, other).await {
        Err(ConnectError::ConfigMismatch { stream, detail }) => {
            assert_eq!(stream, config.name);
            assert!(detail.contains("partitions=8"), "{detail}");
        }
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("a stream with another partition count was accepted"),
    }
    delete_stream(p.jetstream(), &config.name).await;
}

#[tokio::test]
async fn clear_errors_without_a_server_or_a_stream() {
    let Some(url) = nats_url("clear_errors_without_a_server_or_a_stream") else { return };
    match Publisher::connect("nats://127.0.0.1:1", StreamConfig::default()).await {
        Err(e @ ConnectError::Connect { .. }) => assert!(e.to_string().contains("127.0.0.1:1"), "{e}"),
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("connected to nothing"),
    }
    // The stream deleted under a publisher: no responders, reported once the retries are spent.
    let config = test_config("gone", 4);
    let retry = RetryPolicy {
        ack_timeout: Duration::from_secs(2),
        retry_for: Duration::from_millis(250),
        backoff: Duration::from_millis(100),
    };
    let p = Publisher::connect_with(&url, config.clone(), retry).await.expect("connect");
    delete_stream(p.jetstream(), &config.name).await;
    match p.publish("x-1", "post", "alice", Bytes::from_static(b"x")).await {
        Err(e @ PublishError::NoResponders { attempts: 2..=4, .. }) => assert!(e.to_string().contains("no responders")),
        other => panic!("wrong result: {other:?}"),
    }
}
