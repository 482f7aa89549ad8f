//! Notices as an operator runs them: `steward serve --webhooks FILE` refuses a bad file at
//! start, and a server killed with SIGKILL in the middle of delivering sends, once
//! restarted, every notice at least once, the idempotency keys telling the repeats.

use std::collections::HashSet;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod common;

use common::{STEWARD, free_port, key, serve_with};

const SECRET_VAR: &str = "STEWARD_TEST_WEBHOOK_SECRET";
const SECRET: &str = "a secret for signing test webhooks, 32+ bytes";

fn hooks(dir: &std::path::Path, url: &str, extra: &str) -> std::path::PathBuf {
    let file = dir.join("hooks.toml");
    let text = format!("[[endpoint]]\nurl = \"{url}\"\nsecret_env = \"{SECRET_VAR}\"\naudience = \"account\"\n{extra}");
    std::fs::write(&file, text).unwrap();
    file
}

#[test]
fn a_webhook_url_that_is_not_http_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let file = hooks(dir.path(), "ftp://notify.example.org/steward", "");
    let out = Command::new(STEWARD)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .arg("--webhooks")
        .arg(&file)
        .env(SECRET_VAR, "short")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let name = file.display();
    assert!(stderr.contains(&format!("{name}:2: url \"ftp://notify.example.org/steward\" is not http(s)")), "{stderr}");
    assert!(stderr.contains(&format!("{name}:3: the secret in {SECRET_VAR} is 5 bytes; at least 32")), "{stderr}");
    assert!(!dir.path().join("data").exists(), "refused before the store is opened");
}

/// Notice ids a receiver got, in order, repeats included; it answers 200 after `delay`.
fn receiver(runtime: &tokio::runtime::Runtime, delay: Duration) -> (String, Arc<Mutex<Vec<String>>>) {
    let got = Arc::new(Mutex::new(Vec::new()));
    let log = got.clone();
    let app = axum::Router::new().route(
        "/",
        axum::routing::post(move |headers: axum::http::HeaderMap| {
            let log = log.clone();
            async move {
                tokio::time::sleep(delay).await;
                let id = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).unwrap_or_default();
                log.lock().unwrap().push(id.to_string());
                "ok"
            }
        }),
    );
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    runtime.spawn(async move { axum::serve(listener, app).await });
    (url, got)
}

fn distinct(got: &Mutex<Vec<String>>) -> HashSet<String> {
    got.lock().unwrap().iter().cloned().collect()
}

#[test]
fn sigkill_during_delivery_then_restart_delivers_every_notice_at_least_once() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (url, got) = receiver(&runtime, Duration::from_millis(5));
    let dir = tempfile::tempdir().unwrap();
    let file = hooks(dir.path(), &url, "[delivery]\nconcurrency = 4\n");
    let data = dir.path().join("data");
    let key = key(&data, "ingest");
    let port = free_port();
    let start = || serve_with(&data, port, |c| c.arg("--webhooks").arg(&file).env(SECRET_VAR, SECRET));
    let mut server = start();

    // 2,000 accounts, one unlabelled AI video each: a decision, so a notice, for each.
    let client = reqwest::blocking::Client::new();
    let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut expected = HashSet::new();
    for b in 0..10 {
        let events: Vec<Value> = (0..200)
            .map(|i| {
                let id = format!("e{b}-{i}");
                json!({"id": id, "type": "post.created", "at": at, "post": {"id": format!("p-{id}"),
                    "account_id": format!("a{b}-{i}"), "kind": "video", "text": "生成的视频", "created_at": at,
                    "ai_generated": {"declared": true, "implicit_label": true}}})
            })
            .collect();
        let answer: Value = client
            .post(format!("http://127.0.0.1:{port}/v1/events"))
            .bearer_auth(&key)
            .json(&events)
            .send()
            .unwrap()
            .json()
            .unwrap();
        for id in answer["decision_ids"].as_array().unwrap() {
            expected.insert(format!("decision:{}", id.as_str().unwrap()));
        }
    }
    assert!(expected.len() >= 2_000, "{} decisions", expected.len());

    // Kill it a while into delivering.
    let deadline = Instant::now() + Duration::from_secs(30);
    while distinct(&got).len() < 300 {
        assert!(Instant::now() < deadline, "delivery did not start");
        std::thread::sleep(Duration::from_millis(5));
    }
    server.kill().unwrap(); // SIGKILL
    server.wait().unwrap();
    let before = distinct(&got).len();
    assert!(before < expected.len(), "all {before} were delivered before the kill: kill sooner");

    let mut server = start();
    let deadline = Instant::now() + Duration::from_secs(60);
    while distinct(&got).len() < expected.len() {
        assert!(
            Instant::now() < deadline,
            "{} of {} delivered after the restart",
            distinct(&got).len(),
            expected.len()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    server.kill().unwrap();
    server.wait().unwrap();

    let got = got.lock().unwrap().clone();
    let unique: HashSet<String> = got.iter().cloned().collect();
    assert_eq!(unique, expected, "every notice arrived, and nothing else");
    println!(
        "{} notices; {before} delivered before the SIGKILL; {} requests in all, {} repeats removed by their idempotency key",
        expected.len(),
        got.len(),
        got.len() - unique.len()
    );
}
