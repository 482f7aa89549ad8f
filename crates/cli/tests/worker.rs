//! `steward worker` (issue 20, item 2) against the real NATS cluster of scripts/nats.sh and the
//! PostgreSQL of scripts/postgres.sh: events published with `steward ingest --nats` and consumed
//! by workers give the single box's decisions (same ids); events delivered again change nothing;
//! two workers with `--partitions-per-worker 32` take half each and decide the same; a worker
//! SIGKILLed midway is replaced by a standby that takes its partitions over, and every
//! event is stored once and decided at most once, nothing left pending.
//!
//! ```sh
//! source scripts/nats.sh && start_nats_cluster
//! source scripts/postgres.sh && start_postgres && export STEWARD_TEST_DATABASE_URL=$PG_URL
//! STEWARD_REQUIRE_NATS=1 STEWARD_REQUIRE_POSTGRES=1 cargo test --release -p steward --test worker -- --nocapture
//! ```
//! `STEWARD_WORKER_BENCH_N` sets the size of the equivalence test's workload (default 3,000).

#[path = "common/cluster.rs"]
mod cluster;
mod common;

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use cluster::*;
use common::{STEWARD, database_url, nats_url};

#[test]
fn worker_decides_as_the_single_box_and_redelivery_changes_nothing() {
    let test = "worker_decides_as_the_single_box_and_redelivery_changes_nothing";
    let Some(url) = nats_url(test) else { return };
    let tag = unique("wk_eq");
    let Some(db) = database_url(test, &tag) else { return };
    let stream = tag.replace('_', "-");
    let n: usize = std::env::var("STEWARD_WORKER_BENCH_N").ok().and_then(|v| v.parse().ok()).unwrap_or(3000);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("events.jsonl");
    let lines = workload(&stream, (n / 20).max(10), n, 0x5eed_0001);
    write(&file, &lines);
    let rt = runtime();
    let js = rt.block_on(jetstream_at(&url));

    let published = publish(&url, &stream, &file);
    eprintln!("{}", published.trim());
    let log = dir.path().join("worker.log");
    let w = worker(&url, &db, &stream, &log, &[]);
    let drained = wait_drained(&rt, &js, &stream, Duration::from_secs(600));
    let (code, stderr) = terminate(w, &log);
    assert_eq!(code, Some(0), "{stderr}");
    eprintln!(
        "worker: drained {} events in {:.2} s from its start\n{}",
        lines.len(),
        drained.as_secs_f64(),
        stderr.trim()
    );
    // Each event once, unless a fetch outlived its expiry on a busy server (it comes again).
    assert!(stderr.contains(&format!("({} accepted,", lines.len())), "{stderr}");
    check_once(&db, &event_ids(&lines));
    audit_verifies(&db);

    let (single, single_rate) = single_box(&file, &dir.path().join("single"));
    let distributed = pg_decisions(&db);
    assert!(!single.is_empty());
    same_decisions(&distributed, &single, "the worker's decisions");
    let members = sqlite_campaign_members(&dir.path().join("single"));
    let campaign_decisions = single.iter().filter(|d| d.1 == "copy-campaign").count();
    assert!(campaign_decisions > 0 && !members.is_empty(), "the workload makes no campaign");
    assert_eq!(pg_campaign_members(&db), members, "the campaign stage's campaigns differ from the single box's");
    eprintln!(
        "equivalent: {} decisions ({campaign_decisions} of copy campaigns, {} campaign members); single box {single_rate:.0} events/s; one worker {:.0} events/s (first fetch to last \
         ack), {:.0} events/s (busy: engine, commit, acks), {:.0} events/s (wall, process start to drained)",
        single.len(),
        members.len(),
        figure(&stderr, "last ack (", " events/s"),
        figure(&stderr, "s busy (", " events/s"),
        lines.len() as f64 / drained.as_secs_f64()
    );

    // The single box over PostgreSQL too, for the cost of the store.
    if let Some(single_pg) = database_url(test, &format!("{tag}_single")) {
        let start = Instant::now();
        let out = Command::new(STEWARD).args(["ingest", "--database-url", &single_pg]).arg(&file).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        eprintln!(
            "single box on PostgreSQL: {} ({:.2} s wall)",
            String::from_utf8_lossy(&out.stderr).trim(),
            start.elapsed().as_secs_f64()
        );
        same_decisions(&pg_decisions(&single_pg), &single, "steward ingest on PostgreSQL");
    }

    // 1% again. Through `ingest --nats` they are duplicates in JetStream's window; published
    // with new message ids (a client retrying after the window) they reach a worker, whose
    // store already has them: nothing changes.
    let again: Vec<String> = lines.iter().step_by(100).cloned().collect();
    let again_file = dir.path().join("again.jsonl");
    write(&again_file, &again);
    let out = publish(&url, &stream, &again_file);
    assert!(out.contains(&format!("0 accepted (acknowledged), {} duplicates", again.len())), "{out}");
    rt.block_on(async {
        let js = jetstream_at(&url).await;
        for l in &again {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            // As the publisher does: the account, else (a fact-check) the event id.
            let account =
                v["account"]["id"].as_str().or(v["post"]["account_id"].as_str()).or(v["id"].as_str()).unwrap();
            let config = steward_stream::StreamConfig {
                name: stream.clone(),
                subject_prefix: format!("{stream}-ev"),
                ..Default::default()
            };
            let subject = config.subject_for(v["type"].as_str().unwrap(), account);
            let mut headers = async_nats::HeaderMap::new();
            headers.insert("Nats-Msg-Id", format!("retry-{}", v["id"].as_str().unwrap()).as_str());
            js.publish_with_headers(subject, headers, l.clone().into()).await.unwrap().await.unwrap();
        }
    });
    let log2 = dir.path().join("worker2.log");
    let w = worker(&url, &db, &stream, &log2, &[]);
    wait_drained(&rt, &js, &stream, Duration::from_secs(120));
    let (code, stderr) = terminate(w, &log2);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains(&format!("0 accepted, {} duplicates", again.len())), "{stderr}");
    check_once(&db, &event_ids(&lines));
    same_decisions(&pg_decisions(&db), &single, "after re-delivered events, the decisions");
    audit_verifies(&db);
    rt.block_on(async { js.delete_stream(&stream).await.unwrap() });
}

#[test]
fn a_killed_workers_partitions_are_taken_over() {
    let test = "a_killed_workers_partitions_are_taken_over";
    let Some(url) = nats_url(test) else { return };
    let tag = unique("wk_kill");
    let Some(db) = database_url(test, &tag) else { return };
    let stream = tag.replace('_', "-");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("events.jsonl");
    let lines = workload(&stream, 600, 30_000, 0x5eed_0002);
    write(&file, &lines);
    let rt = runtime();
    let js = rt.block_on(jetstream_at(&url));
    publish(&url, &stream, &file);

    // A: small batches, so it is caught midway. B: started after A, stands by (A holds every
    // partition) and takes them over once A's locks go with its connection.
    let log_a = dir.path().join("a.log");
    let mut a = worker(&url, &db, &stream, &log_a, &["--batch", "100"]);
    let deadline = Instant::now() + Duration::from_secs(120);
    while count_events(&db) < 300 {
        assert!(Instant::now() < deadline, "worker A stored nothing: {}", std::fs::read_to_string(&log_a).unwrap());
        std::thread::sleep(Duration::from_millis(20));
    }
    let log_b = dir.path().join("b.log");
    let b = worker(&url, &db, &stream, &log_b, &["--batch", "100"]);
    std::thread::sleep(Duration::from_millis(1500));
    let before_kill = count_events(&db);
    a.kill().unwrap(); // SIGKILL
    a.wait().unwrap();
    eprintln!("killed worker A with {before_kill} of {} events stored", lines.len());
    assert!((before_kill as usize) < lines.len(), "A finished before it was killed; make the workload larger");
    wait_drained(&rt, &js, &stream, Duration::from_secs(300));
    let (code, stderr) = terminate(b, &log_b);
    assert_eq!(code, Some(0), "{stderr}");
    eprintln!("worker B: {}", stderr.trim());
    assert!(stderr.contains("partitions claimed"), "{stderr}");
    check_once(&db, &event_ids(&lines));
    audit_verifies(&db);
    let single = single_box(&file, &dir.path().join("single")).0;
    let got = pg_decisions(&db);
    let missing = single.difference(&got).count();
    let extra = got.difference(&single).count();
    eprintln!("after the kill: {} decisions, single box {}; {missing} missing, {extra} extra", got.len(), single.len());
    rt.block_on(async { js.delete_stream(&stream).await.unwrap() });
}

#[test]
fn two_workers_share_the_partitions() {
    let test = "two_workers_share_the_partitions";
    let Some(url) = nats_url(test) else { return };
    let tag = unique("wk_two");
    let Some(db) = database_url(test, &tag) else { return };
    let stream = tag.replace('_', "-");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("events.jsonl");
    let lines = workload(&stream, 300, 6000, 0x5eed_0003);
    write(&file, &lines);
    let rt = runtime();
    let js = rt.block_on(jetstream_at(&url));
    publish(&url, &stream, &file);
    let logs = [dir.path().join("1.log"), dir.path().join("2.log")];
    let workers: Vec<Child> =
        logs.iter().map(|log| worker(&url, &db, &stream, log, &["--partitions-per-worker", "32"])).collect();
    wait_drained(&rt, &js, &stream, Duration::from_secs(300));
    for (w, log) in workers.into_iter().zip(&logs) {
        let (code, stderr) = terminate(w, log);
        assert_eq!(code, Some(0), "{stderr}");
        // Each took half: 32 partitions, at once or over several claims (the log's fields are
        // coloured: escapes stripped).
        let plain = strip_ansi(&stderr);
        assert!(plain.contains("owned=32"), "{plain}");
        eprintln!("{}", stderr.lines().last().unwrap_or_default());
    }
    check_once(&db, &event_ids(&lines));
    audit_verifies(&db);
    let single = single_box(&file, &dir.path().join("single")).0;
    // Posts repeating a fact-checked claim are judged by workers that do not own the
    // fact-check's partition: they know it from the stream's knowledge feed.
    let debunked = single.iter().filter(|d| d.1 == "debunked-claim").count();
    assert!(debunked >= 25, "{debunked} debunked-claim decisions");
    same_decisions(&pg_decisions(&db), &single, "two workers' decisions");
    rt.block_on(async { js.delete_stream(&stream).await.unwrap() });
}
