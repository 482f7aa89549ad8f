//! A one-event request is answered promptly while a 30,000-event batch is ingested. In its
//! own test binary, so that no other test shares the cores while it measures.

mod common;

use std::time::{Duration, Instant};

use common::{ai_post, start};
use reqwest::StatusCode;
use serde_json::{Value, json};
use steward_model::Role;
use steward_server::Limits;

#[test]
fn a_small_request_is_answered_while_a_large_batch_is_ingested() {
    let s = std::sync::Arc::new(start(Limits::default()));
    // 30,000 posts, each ending in a decision.
    let big: Vec<Value> = (0..30_000).map(|i| ai_post(&format!("big{i}"), &format!("big{}", i % 1000))).collect();
    let big = json!(big).to_string();
    let server = s.clone();
    let batch = std::thread::spawn(move || {
        let started = Instant::now();
        let (status, answer) = server.post(Role::Ingest, "application/json", big);
        assert_eq!(status, StatusCode::OK);
        assert_eq!(answer["accepted"], 30_000);
        started.elapsed()
    });
    // Wait until the batch is being read, then post one event at a time.
    std::thread::sleep(Duration::from_millis(300));
    let mut latencies = Vec::new();
    let mut i = 0;
    while !batch.is_finished() {
        let started = Instant::now();
        let (status, answer) =
            s.post(Role::Ingest, "application/json", json!([ai_post(&format!("small{i}"), "small")]).to_string());
        latencies.push(started.elapsed());
        assert_eq!((status, answer["accepted"].as_u64()), (StatusCode::OK, Some(1)));
        i += 1;
        std::thread::sleep(Duration::from_millis(5));
    }
    let batch_time = batch.join().unwrap();
    latencies.sort();
    let p99 = latencies[(latencies.len() * 99 / 100).min(latencies.len() - 1)];
    eprintln!(
        "30,000-event batch in {batch_time:?}; {} single-event posts meanwhile: median {:?}, p99 {p99:?}, max {:?}",
        latencies.len(),
        latencies[latencies.len() / 2],
        latencies.last().unwrap()
    );
    assert!(latencies.len() >= 10, "the batch was over too soon to measure: {batch_time:?}");
    assert!(p99 < Duration::from_millis(100), "p99 {p99:?}");
}
