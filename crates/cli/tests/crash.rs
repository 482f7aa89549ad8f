//! Kill the server with SIGKILL in the middle of an ingest: after a restart every
//! acknowledged event is stored exactly once and the audit chain verifies.

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

mod common;

use common::{STEWARD, free_port, serve};

fn batch(thread: usize, n: usize) -> (Vec<String>, String) {
    let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let ids: Vec<String> = (0..50).map(|i| format!("t{thread}-b{n}-e{i}")).collect();
    let body: Vec<Value> = ids
        .iter()
        .map(|id| {
            json!({"id": id, "type": "post.created", "at": at, "post": {"id": format!("p-{id}"),
                "account_id": format!("a{}", n % 7), "kind": "video", "text": "生成的视频", "created_at": at,
                "ai_generated": {"declared": n.is_multiple_of(2), "implicit_label": true}}})
        })
        .collect();
    (ids, serde_json::to_string(&body).unwrap())
}

#[test]
fn sigkill_mid_ingest_loses_no_acknowledged_event() {
    let dir = tempfile::tempdir().unwrap();
    let key = common::key(dir.path(), "ingest");
    let port = free_port();
    let mut server = serve(dir.path(), port);

    let acked = Arc::new(Mutex::new(Vec::<(Vec<String>, String)>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let senders: Vec<_> = (0..3)
        .map(|t| {
            let (acked, stop, key) = (acked.clone(), stop.clone(), key.clone());
            std::thread::spawn(move || {
                let client = reqwest::blocking::Client::new();
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    let (ids, body) = batch(t, n);
                    n += 1;
                    let sent = client
                        .post(format!("http://127.0.0.1:{port}/v1/events"))
                        .bearer_auth(&key)
                        .header("content-type", "application/json")
                        .body(body.clone())
                        .send();
                    match sent {
                        Ok(r) if r.status().is_success() => acked.lock().unwrap().push((ids, body)),
                        Ok(r) => panic!("unexpected status {}", r.status()),
                        Err(_) => break, // the server is gone
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    server.kill().unwrap(); // SIGKILL
    server.wait().unwrap();
    stop.store(true, Ordering::Relaxed);
    for s in senders {
        s.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() > 5, "too few batches acknowledged before the kill: {}", acked.len());

    // Every acknowledged event is there, once.
    let store = steward_store::open(dir.path(), None).unwrap();
    for (ids, _) in &acked {
        for id in ids {
            assert!(store.event(id).unwrap().is_some(), "acknowledged event {id} was lost");
        }
    }
    let total = store.event_count().unwrap() as usize;
    let acked_events = acked.len() * 50;
    // Batches in flight at the kill may or may not have been committed, whole.
    assert!(
        total >= acked_events && (total - acked_events).is_multiple_of(50),
        "{total} stored, {acked_events} acknowledged"
    );
    drop(store);

    let verify = Command::new(STEWARD).args(["audit", "verify", "--data-dir"]).arg(dir.path()).output().unwrap();
    assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stderr));

    // After a restart, replaying what was acknowledged changes nothing.
    let mut server = serve(dir.path(), port);
    let client = reqwest::blocking::Client::new();
    for (ids, body) in acked.iter().take(20) {
        let r: Value = client
            .post(format!("http://127.0.0.1:{port}/v1/events"))
            .bearer_auth(&key)
            .body(body.clone())
            .send()
            .unwrap()
            .json()
            .unwrap();
        assert_eq!(r["duplicates"].as_u64(), Some(ids.len() as u64), "{r}");
        assert_eq!(r["decisions"].as_array().map(Vec::len), Some(0));
    }
    server.kill().unwrap();
    server.wait().unwrap();
}
