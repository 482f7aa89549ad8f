//! What a hostile or careless client can make the server do, bounded: answers, turns,
//! queues and connection timeouts.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{ai_post, start};
use reqwest::StatusCode;
use serde_json::{Value, json};
use steward_model::Role;
use steward_server::Limits;

#[test]
fn an_answer_lists_the_first_rejections_and_counts_the_rest() {
    let s = start(Limits::default());
    // 200,000 records that are not events, and two that are.
    let mut body = "1\n".repeat(200_000);
    body.push_str(&format!("{}\n", ai_post("ok1", "a1")));
    body.push_str("{\"id\": \"x\"}\n");
    body.push_str(&format!("{}\n", ai_post("ok2", "a1")));
    let (status, answer) = s.post(Role::Ingest, "application/x-ndjson", body);
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!((answer["accepted"].as_u64(), answer["rejected_total"].as_u64()), (Some(2), Some(200_001)));
    let listed = answer["rejected"].as_array().unwrap();
    assert_eq!(listed.len(), 100);
    assert_eq!((listed[99]["index"].as_u64(), listed[99]["line"].as_u64()), (Some(99), Some(100)));
    let counts = answer["rejected_by_reason"].as_array().unwrap();
    assert_eq!(counts[0]["count"], 200_000, "{counts:?}");
    assert_eq!(counts.iter().map(|c| c["count"].as_u64().unwrap()).sum::<u64>(), 200_001);
    assert!(answer.to_string().len() < 64 * 1024, "the answer is small");
    // Both valid posts are stored and decided, their decisions inline and by id.
    assert_eq!(answer["decisions"].as_array().unwrap().len(), 2);
    assert_eq!(answer["decision_ids"].as_array().unwrap().len(), 2);
    assert_eq!(answer["decisions_by_rule"]["ai-unlabelled"], 2);
}

#[test]
fn a_large_batch_answers_decision_ids_with_the_first_decisions_in_full() {
    let s = start(Limits::default());
    let events: Vec<Value> = (0..600).map(|i| ai_post(&format!("b{i}"), &format!("acct{}", i % 300))).collect();
    let (status, answer) = s.post(Role::Ingest, "application/json", json!(events).to_string());
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["accepted"], 600);
    let ids = answer["decision_ids"].as_array().unwrap();
    assert!(ids.len() >= 600, "{}", ids.len());
    assert_eq!(answer["decisions"].as_array().unwrap().len(), 100);
    let by_rule: u64 = answer["decisions_by_rule"].as_object().unwrap().values().map(|n| n.as_u64().unwrap()).sum();
    assert_eq!(by_rule as usize, ids.len());
    // One beyond those inline, read by id.
    let last = ids.last().unwrap().as_str().unwrap();
    let (status, d) = s.get(Some(Role::Auditor), &format!("/v1/decisions/{last}"));
    assert_eq!((status, d["id"].as_str()), (StatusCode::OK, Some(last)));
}

#[test]
fn past_the_queue_bound_requests_are_refused_with_retry_after() {
    let s = std::sync::Arc::new(start(Limits { queued_requests: 2, ..Limits::default() }));
    let events: Vec<Value> = (0..3000).map(|i| ai_post(&format!("q{i}"), "q")).collect();
    let body = json!(events).to_string();
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (s, body) = (s.clone(), body.clone());
            std::thread::spawn(move || {
                let r = s
                    .client
                    .post(format!("{}/v1/events", s.base))
                    .bearer_auth(&s.keys[&Role::Ingest])
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .unwrap();
                let retry = r.headers().get("retry-after").map(|v| v.to_str().unwrap().to_string());
                (r.status(), retry)
            })
        })
        .collect();
    let answers: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let refused: Vec<_> = answers.iter().filter(|(status, _)| *status == StatusCode::SERVICE_UNAVAILABLE).collect();
    assert!(!refused.is_empty(), "{answers:?}");
    assert!(refused.iter().all(|(_, retry)| retry.as_deref() == Some("1")), "{answers:?}");
    assert!(answers.iter().any(|(status, _)| *status == StatusCode::OK), "{answers:?}");
}

/// Whether the server has closed `socket` within `within` (reads end or fail).
fn closed_within(socket: &mut TcpStream, within: Duration) -> bool {
    socket.set_read_timeout(Some(within)).unwrap();
    let mut buf = [0u8; 1024];
    loop {
        match socket.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue, // an answer (such as 408) before the close
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                return false;
            }
            Err(_) => return true,
        }
    }
}

#[test]
fn idle_sockets_slow_headers_and_slow_bodies_are_closed() {
    let limits = Limits {
        header_timeout: Duration::from_millis(300),
        body_timeout: Duration::from_millis(300),
        ..Default::default()
    };
    let s = start(limits);
    let addr = s.base.trim_start_matches("http://").to_string();

    let mut idle = TcpStream::connect(&addr).unwrap();
    let mut slow_headers = TcpStream::connect(&addr).unwrap();
    slow_headers.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").unwrap();
    let mut slow_body = TcpStream::connect(&addr).unwrap();
    let key = &s.keys[&Role::Ingest];
    let head = format!(
        "POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n["
    );
    slow_body.write_all(head.as_bytes()).unwrap();
    let started = Instant::now();
    for (what, socket) in [("idle", &mut idle), ("slow headers", &mut slow_headers), ("slow body", &mut slow_body)] {
        assert!(closed_within(socket, Duration::from_secs(3)), "{what} still open after {:?}", started.elapsed());
    }
    // A keep-alive connection is closed once idle for as long.
    let mut kept = TcpStream::connect(&addr).unwrap();
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut buf = [0u8; 512];
    assert!(kept.read(&mut buf).unwrap() > 0);
    assert!(closed_within(&mut kept, Duration::from_secs(3)), "an idle keep-alive connection stays open");
    // The server still answers.
    assert_eq!(s.get(None, "/healthz").0, StatusCode::OK);
}

#[test]
fn when_every_place_is_taken_the_longest_idle_connection_makes_room() {
    let s = start(Limits { max_connections: 20, ..Default::default() });
    let addr = s.base.trim_start_matches("http://").to_string();
    // Sockets that send half a header and wait, far more than the places.
    let held: Vec<TcpStream> = (0..200)
        .map(|_| {
            let mut socket = TcpStream::connect(&addr).unwrap();
            socket.write_all(b"GET /healthz HTTP/1.1\r\n").unwrap();
            socket
        })
        .collect();
    for _ in 0..20 {
        let started = Instant::now();
        assert_eq!(s.get(None, "/healthz").0, StatusCode::OK);
        assert!(started.elapsed() < Duration::from_secs(1), "{:?}", started.elapsed());
    }
    let metrics = s.client.get(format!("{}/metrics", s.base)).send().unwrap().text().unwrap();
    let displaced = metrics
        .lines()
        .find_map(|l| l.strip_prefix("steward_connections_displaced_total "))
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap();
    assert!(displaced >= 180, "{displaced}");
    drop(held);
}
