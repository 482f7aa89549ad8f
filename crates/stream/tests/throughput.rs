//! Publishes/s to the 3-node R3 cluster, pipelined and one at a time. Prints the figures (run with
//! --nocapture); STEWARD_STREAM_BENCH_N sets the pipelined count (default 50,000).

mod common;

use std::time::Instant;

use bytes::Bytes;
use common::*;
use steward_stream::Publisher;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishes_per_second() {
    let Some(url) = nats_url("publishes_per_second") else { return };
    let n: usize = std::env::var("STEWARD_STREAM_BENCH_N").ok().and_then(|v| v.parse().ok()).unwrap_or(50_000);
    for window in [256, 1024, 4096] {
        let config = test_config(&format!("bench{window}"), 64);
        let p = Publisher::connect(&url, config.clone()).await.expect("connect").with_window(window);
        let evs = events(&format!("w{window}"), n, 10_000);
        let t = Instant::now();
        for chunk in evs.chunks(10_000) {
            for r in p.publish_batch(chunk).await {
                r.expect("publish");
            }
        }
        let secs = t.elapsed().as_secs_f64();
        eprintln!(
            "pipelined, window {window}: {n} events of ~{} bytes in {secs:.2} s = {:.0} publishes/s",
            evs[0].payload.len(),
            n as f64 / secs
        );
        assert_eq!(stream_messages(p.jetstream(), &config.name).await, n as u64);
        delete_stream(p.jetstream(), &config.name).await;
    }
    let config = test_config("bench1", 64);
    let p = Publisher::connect(&url, config.clone()).await.expect("connect");
    let t = Instant::now();
    let m = 2_000;
    for i in 0..m {
        p.publish(&format!("s-{i}"), "post", &format!("acct-{i}"), Bytes::from_static(&[b'x'; 200]))
            .await
            .expect("publish");
    }
    let secs = t.elapsed().as_secs_f64();
    eprintln!(
        "one at a time: {m} events in {secs:.2} s = {:.0} publishes/s, {:.2} ms per ack",
        m as f64 / secs,
        secs * 1e3 / m as f64
    );
    delete_stream(p.jetstream(), &config.name).await;
}
