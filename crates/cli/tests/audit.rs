//! The audit log anchored as an operator runs it: a key from `steward audit keygen`,
//! checkpoints signed by `ingest` and by `serve` up to its shutdown (SIGTERM), and
//! `steward audit verify` naming entries cut off the log and a changed decision.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const STEWARD: &str = env!("CARGO_BIN_EXE_steward");

fn steward(args: &[&str]) -> Output {
    Command::new(STEWARD).args(args).env_remove("STEWARD_AUDIT_KEY").output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn event(id: &str) -> String {
    let t = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    format!(
        r#"{{"id":"{id}","type":"post.created","at":"{t}","post":{{"id":"p-{id}","account_id":"a1","kind":"image","text":"x","created_at":"{t}","ai_generated":{{"declared":true}}}}}}"#
    )
}

fn checkpoint_seqs(file: &std::path::Path) -> Vec<u64> {
    std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["seq"].as_u64().unwrap())
        .collect()
}

#[test]
fn ingest_signs_checkpoints_and_verify_names_truncation_and_a_changed_decision() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("audit.key");
    let out = steward(&["audit", "keygen", "--out", key.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let public = text(&out.stdout).trim().to_string();
    assert_eq!(public.len(), 64);
    assert!(!steward(&["audit", "keygen", "--out", key.to_str().unwrap()]).status.success(), "never overwrites");

    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    let file = dir.path().join("e.ndjson");
    let lines: Vec<String> = (0..5).map(|i| event(&format!("x{i}"))).collect();
    std::fs::write(&file, lines.join("\n")).unwrap();
    let out = steward(&["ingest", "--data-dir", d, "--audit-key", key.to_str().unwrap(), file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // The policy put in force, a decision per event, the rows: signed at the end.
    let checkpoints = data.join("audit-checkpoints.jsonl");
    assert_eq!(checkpoint_seqs(&checkpoints), [7]);

    let out = steward(&["audit", "verify", "--data-dir", d, "--public-key", &public]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("7 entries, chain intact; rows covered: 5 events, 5 decisions"), "{stdout}");
    assert!(stdout.contains("anchored by 1 signed checkpoints up to entry 7"), "{stdout}");
    // The checkpoints, unchecked without the key: said so.
    let out = steward(&["audit", "verify", "--data-dir", d]);
    assert!(out.status.success());
    assert!(text(&out.stderr).contains("are not checked: give --public-key"), "{}", text(&out.stderr));

    let db = rusqlite::Connection::open(data.join("steward.db")).unwrap();
    let changed = r#"replace(body, '"credit_deducted":1', '"credit_deducted":3')"#;
    db.execute(&format!("UPDATE decisions SET body = {changed} WHERE seq = 2"), []).unwrap();
    let out = steward(&["audit", "verify", "--data-dir", d, "--public-key", &public]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("credit_deducted is 3 in the row but 1 in its decision.created entry 3"),
        "{}",
        text(&out.stderr)
    );

    db.execute("DELETE FROM audit WHERE seq > 3", []).unwrap();
    let out =
        steward(&["audit", "verify", "--data-dir", d, "--public-key", key.with_extension("key.pub").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("entry 4 missing: checkpoint of ")
            && text(&out.stderr).contains("signed head seq 7, and the log ends at entry 3"),
        "{}",
        text(&out.stderr)
    );
    // A checkpoint line edited to match the log no longer verifies.
    let forged = std::fs::read_to_string(&checkpoints).unwrap().replace("\"seq\":7", "\"seq\":3");
    std::fs::write(&checkpoints, forged).unwrap();
    let out = steward(&["audit", "verify", "--data-dir", d, "--public-key", &public]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains(":1: the signature of the checkpoint"), "{}", text(&out.stderr));
}

#[test]
fn serve_signs_the_head_at_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("audit.key");
    assert!(steward(&["audit", "keygen", "--out", key.to_str().unwrap()]).status.success());
    let data = dir.path().join("data");
    let out = steward(&["keys", "create", "--role", "ingest", "--data-dir", data.to_str().unwrap()]);
    let api_key = text(&out.stdout).trim().to_string();
    let checkpoints = dir.path().join("published").join("heads.jsonl");
    std::fs::create_dir_all(checkpoints.parent().unwrap()).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut server = Command::new(STEWARD)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(&data)
        .arg("--audit-key")
        .arg(&key)
        .arg("--checkpoints")
        .arg(&checkpoints)
        .args(["--checkpoint-every", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let client = reqwest::blocking::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while client.get(format!("http://127.0.0.1:{port}/healthz")).send().is_err() {
        assert!(Instant::now() < deadline, "server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let post = |body: String| {
        let r = client
            .post(format!("http://127.0.0.1:{port}/v1/events"))
            .bearer_auth(&api_key)
            .header("content-type", "application/x-ndjson")
            .body(body)
            .send()
            .unwrap();
        assert!(r.status().is_success(), "{}", r.status());
    };
    post(event("s1"));
    // The periodic checkpoint signs the head while the server runs.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !checkpoints.exists() || checkpoint_seqs(&checkpoints).is_empty() {
        assert!(Instant::now() < deadline, "no periodic checkpoint");
        std::thread::sleep(Duration::from_millis(100));
    }
    post(format!("{}\n{}", event("s2"), event("s3")));
    let stopped = Command::new("kill").args(["-TERM", &server.id().to_string()]).status().unwrap();
    assert!(stopped.success());
    let status = server.wait().unwrap();
    assert!(status.success(), "{status}");
    // The last checkpoint signs the head as the server left it.
    let db = rusqlite::Connection::open(data.join("steward.db")).unwrap();
    let head: u64 = db.query_row("SELECT max(seq) FROM audit", [], |r| r.get(0)).unwrap();
    let seqs = checkpoint_seqs(&checkpoints);
    assert_eq!(seqs.last(), Some(&head), "{seqs:?}");
    assert!(seqs.len() >= 2 && seqs[0] < head, "a periodic checkpoint, then the last: {seqs:?}");
    let public = key.with_extension("key.pub");
    let out = steward(&[
        "audit",
        "verify",
        "--data-dir",
        data.to_str().unwrap(),
        "--checkpoints",
        checkpoints.to_str().unwrap(),
        "--public-key",
        public.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains(&format!("up to entry {head} (")), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("0 entries after it not yet"), "{}", text(&out.stdout));
}
