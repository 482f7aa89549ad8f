//! Publishing through the loss of each node of the 3-node cluster in turn (R3 stream), with
//! scripts/nats.sh's kill_nats_node / restart_nats_node. Its own test binary: it takes nodes
//! down under every other test of the process.

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use steward_stream::Publisher;

async fn stream_leader(p: &Publisher, name: &str) -> String {
    let mut s = p.jetstream().get_stream(name).await.expect("stream");
    let info = s.info().await.expect("info");
    info.cluster.as_ref().and_then(|c| c.leader.clone()).expect("stream leader")
}

/// Waits until the stream has a leader and both other replicas are online and current.
async fn wait_replicas_current(p: &Publisher, name: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(mut s) = p.jetstream().get_stream(name).await
            && let Ok(info) = s.info().await
            && let Some(c) = &info.cluster
            && c.leader.is_some()
            && c.replicas.len() == 2
            && c.replicas.iter().all(|r| r.current && !r.offline)
        {
            return;
        }
        assert!(Instant::now() < deadline, "stream replicas not current after 60 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Restarts a killed node even when the test fails, so the cluster is whole for what runs next.
struct Down(u32);

impl Drop for Down {
    fn drop(&mut self) {
        if std::thread::panicking() {
            nats_script(&format!("restart_nats_node {}", self.0));
        }
    }
}

fn node_number(server_name: &str) -> u32 {
    server_name.trim_start_matches('n').parse().expect("node names are n1..n3")
}

// Not in the default run: in one CI dry run it hung after its third kill (n3 killed, never
// restarted, no panic) for over 15 minutes; until that is understood it runs by hand:
// `cargo test --release -p steward-stream --test fault -- --ignored --nocapture`, bounded by
// the timeout below so that a hang fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "hung once in CI (issue 20): run by hand with --ignored"]
async fn publishing_survives_losing_one_of_three_nodes() {
    let run = tokio::time::timeout(Duration::from_secs(300), losing_one_of_three_nodes());
    run.await.expect("the fault test took over 5 minutes: a publish or a wait hung");
}

async fn losing_one_of_three_nodes() {
    let Some(url) = nats_url("publishing_survives_losing_one_of_three_nodes") else { return };
    let config = test_config("fault", 8);
    let p = Publisher::connect(&url, config.clone()).await.expect("connect");
    wait_replicas_current(&p, &config.name).await;

    let leader = node_number(&stream_leader(&p, &config.name).await);
    // The stream leader first (an election), then the two others.
    let order: Vec<u32> = std::iter::once(leader).chain((1..=3).filter(|&n| n != leader)).collect();
    let mut published = 0usize;
    for (round, node) in order.into_iter().enumerate() {
        let before = events(&format!("r{round}a"), 300, 41);
        for r in p.publish_batch(&before).await {
            r.expect("publish before the kill");
        }
        let connected = p.client().server_info().server_name;
        tokio::task::spawn_blocking(move || nats_script(&format!("kill_nats_node {node}"))).await.unwrap();
        let down = Down(node);
        let t = Instant::now();
        let during = events(&format!("r{round}b"), 500, 41);
        for r in p.publish_batch(&during).await {
            r.expect("publish with one node down");
        }
        for i in 0..50 {
            p.publish(&format!("r{round}c-{i}"), "post", "acct-x", Bytes::from_static(b"single"))
                .await
                .expect("single publish with one node down");
        }
        eprintln!(
            "round {round}: n{node} killed (publisher connected to {connected}); 550 events acknowledged in {:?} with it down",
            t.elapsed()
        );
        published += 850;
        let t = Instant::now();
        tokio::task::spawn_blocking(move || nats_script(&format!("restart_nats_node {node}"))).await.unwrap();
        std::mem::forget(down);
        wait_replicas_current(&p, &config.name).await;
        eprintln!("round {round}: n{node} restarted and its replica current in {:?}", t.elapsed());
    }
    // Every acknowledged event is stored once, and its id is still known after the failovers.
    assert_eq!(stream_messages(p.jetstream(), &config.name).await, published as u64);
    for e in events("r0a", 300, 41).iter().step_by(30) {
        let a = p.publish(&e.event_id, &e.event_type, &e.account_id, e.payload.clone()).await.expect("re-publish");
        assert!(a.duplicate, "{} stored twice after failover", e.event_id);
    }
    assert_eq!(stream_messages(p.jetstream(), &config.name).await, published as u64);
    delete_stream(p.jetstream(), &config.name).await;
}
