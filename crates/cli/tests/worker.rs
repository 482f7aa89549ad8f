//! `steward worker` (issue 20, item 2) against the real NATS cluster of scripts/nats.sh and the
//! PostgreSQL of scripts/postgres.sh: events published with `steward ingest --nats` and consumed
//! by workers give the single box's decisions (same ids); events delivered again change nothing;
//! two workers with `--partitions-per-worker 32` take half each and decide the same, their
//! `/metrics` count the events and show no lag once drained, and `steward cluster status` shows
//! them owning 32 partitions each; a worker SIGKILLed midway is replaced by a standby that takes
//! its partitions over, and every event is stored once and decided at most once, nothing left
//! pending; an event the store refuses is set aside on the dead-letter stream while the rest of
//! its partition is committed.
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

use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use cluster::*;
use common::{STEWARD, database_url, free_port};

/// A worker's `/metrics` text.
fn scrape(port: u16) -> String {
    let r = reqwest::blocking::get(format!("http://127.0.0.1:{port}/metrics")).unwrap();
    assert!(r.status().is_success(), "/metrics answered {}", r.status());
    r.text().unwrap()
}

/// The samples whose name (with labels) starts with `name`: their sum and how many there are.
fn samples(text: &str, name: &str) -> (f64, usize) {
    let values: Vec<f64> = text
        .lines()
        .filter(|l| l.starts_with(name) && !l.starts_with('#'))
        .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
        .collect();
    (values.iter().sum(), values.len())
}

/// `steward cluster status --json` of the test's stream.
fn cluster_status(url: &str, db: &str, stream: &str) -> serde_json::Value {
    let out = Command::new(STEWARD)
        .args(["cluster", "status", "--json", "--nats", url, "--database-url", db, "--nats-stream", stream])
        .output()
        .unwrap();
    assert!(out.status.success(), "cluster status: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn worker_decides_as_the_single_box_and_redelivery_changes_nothing() {
    let test = "worker_decides_as_the_single_box_and_redelivery_changes_nothing";
    let n: usize = std::env::var("STEWARD_WORKER_BENCH_N").ok().and_then(|v| v.parse().ok()).unwrap_or(3000);
    let Some(Case { url, db, stream, dir, file, lines, rt, js }) =
        case(test, "wk_eq", (n / 20).max(10), n, 0x5eed_0001)
    else {
        return;
    };
    let tag = stream.replace('-', "_");

    let published = publish(&url, &stream, &file);
    eprintln!("{}", published.trim());
    // Signing checkpoints of the root chain, which records every partition chain's head.
    let key = dir.path().join("audit.key");
    let keygen = Command::new(STEWARD).args(["audit", "keygen", "--out"]).arg(&key).output().unwrap();
    assert!(keygen.status.success(), "{}", String::from_utf8_lossy(&keygen.stderr));
    let public = String::from_utf8_lossy(&keygen.stdout).trim().to_string();
    let signed = dir.path().join("checkpoints.jsonl");
    let (key_arg, signed_arg) = (key.display().to_string(), signed.display().to_string());
    let log = dir.path().join("worker.log");
    let w = worker(&url, &db, &stream, &log, &["--audit-key", &key_arg, "--checkpoints", &signed_arg]);
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
    // The last checkpoint, signed at shutdown, anchors the root chain to its end.
    let verify = Command::new(STEWARD)
        .args(["audit", "verify", "--database-url", &db, "--checkpoints", &signed_arg, "--public-key", &public])
        .output()
        .unwrap();
    let summary = String::from_utf8_lossy(&verify.stdout);
    assert!(verify.status.success(), "{summary} {}", String::from_utf8_lossy(&verify.stderr));
    assert!(
        summary.contains("signed checkpoints up to entry") && summary.contains(", 0 entries after it not yet"),
        "{summary}"
    );

    let (single, single_rate) = single_box(&file, &dir.path().join("single"));
    let distributed = pg_decisions(&db);
    assert!(!single.is_empty());
    same_decisions(&distributed, &single, "the worker's decisions");
    let members = sqlite_campaign_members(&dir.path().join("single"));
    let campaign_decisions = single.iter().filter(|d| d.1 == "copy-campaign").count();
    assert!(campaign_decisions > 0 && !members.is_empty(), "the workload makes no campaign");
    assert_eq!(pg_campaign_members(&db), members, "the campaign stage's campaigns differ from the single box's");
    assert_eq!(pg_cases(&db), sqlite_cases(&dir.path().join("single")), "the worker's cases");
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
    drop_streams(&rt, &js, &stream);
}

#[test]
fn a_killed_workers_partitions_are_taken_over() {
    let test = "a_killed_workers_partitions_are_taken_over";
    let Some(Case { url, db, stream, dir, file, lines, rt, js }) = case(test, "wk_kill", 600, 30_000, 0x5eed_0002)
    else {
        return;
    };
    publish(&url, &stream, &file);

    // A: small batches, so it is caught midway. B: started after A, stands by (A holds every
    // partition) and takes them over once A's locks go with its connection.
    let log_a = dir.path().join("a.log");
    let mut a = worker(&url, &db, &stream, &log_a, &["--batch", "100"]);
    wait_stored(&db, 300, &log_a);
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
    drop_streams(&rt, &js, &stream);
}

#[test]
fn two_workers_share_the_partitions() {
    let test = "two_workers_share_the_partitions";
    let Some(Case { url, db, stream, dir, file, lines, rt, js }) = case(test, "wk_two", 300, 6000, 0x5eed_0003) else {
        return;
    };
    // The workload's second half comes once the first is judged: the posts that repeated the
    // claim refuted halfway are stored by then, and judged again when its fact-check comes.
    let late = lines.iter().position(|l| l.contains("-fc-late\"")).expect("a late fact-check");
    let halves = [dir.path().join("first.jsonl"), dir.path().join("second.jsonl")];
    write(&halves[0], &lines[..late]);
    write(&halves[1], &lines[late..]);
    publish(&url, &stream, &halves[0]);
    let logs = [dir.path().join("1.log"), dir.path().join("2.log")];
    let ports = [free_port(), free_port()];
    let workers: Vec<Child> = logs
        .iter()
        .zip(ports)
        .map(|(log, port)| {
            let listen = format!("127.0.0.1:{port}");
            worker(&url, &db, &stream, log, &["--partitions-per-worker", "32", "--metrics-listen", &listen])
        })
        .collect();
    wait_drained(&rt, &js, &stream, Duration::from_secs(300));
    let before_late = pg_decisions(&db).iter().filter(|d| d.1 == "debunked-claim").count();
    publish(&url, &stream, &halves[1]);
    wait_drained(&rt, &js, &stream, Duration::from_secs(300));

    // While both run: each owns 32 partitions, none behind; one leads the campaign stage.
    let status = cluster_status(&url, &db, &stream);
    let partitions = status["partitions"].as_array().unwrap();
    assert_eq!(partitions.len(), 64, "{status}");
    let mut owners = std::collections::BTreeMap::<String, usize>::new();
    for p in partitions {
        let owner = p["owner"].as_str().unwrap_or_else(|| panic!("a partition without owner: {p}"));
        *owners.entry(owner.to_string()).or_default() += 1;
        assert!(p["epoch"].as_i64().unwrap() >= 1, "{p}");
        assert_eq!((p["lag"]["pending"].as_u64(), p["lag"]["ack_pending"].as_u64()), (Some(0), Some(0)), "{p}");
    }
    assert_eq!(owners.values().copied().collect::<Vec<_>>(), [32, 32], "{owners:?}");
    let leader = status["campaign_stage"]["owner"].as_str().unwrap();
    assert!(owners.contains_key(leader), "campaign stage led by {leader}, not a worker: {owners:?}");

    // Their metrics: every owned partition's lag reaches 0 (refreshed every 2 s), and the
    // counts add up to the events and the decisions stored.
    let deadline = Instant::now() + Duration::from_secs(30);
    let texts: Vec<String> = loop {
        let texts: Vec<String> = ports.iter().map(|&p| scrape(p)).collect();
        if texts.iter().all(|t| samples(t, "steward_worker_partition_lag{") == (0.0, 32)) {
            break texts;
        }
        assert!(Instant::now() < deadline, "lag gauges not at 0 for 32 partitions each: {texts:?}");
        std::thread::sleep(Duration::from_millis(250));
    };
    let total = |name: &str| texts.iter().map(|t| samples(t, name).0).sum::<f64>();
    assert_eq!(total("steward_worker_event_outcomes_total{outcome=\"accepted\"}"), lines.len() as f64);
    assert_eq!(total("steward_worker_event_outcomes_total{outcome=\"duplicate\"}"), 0.0);
    let stored: i64 = postgres::Client::connect(&db, postgres::NoTls)
        .unwrap()
        .query_one("SELECT count(*) FROM decisions", &[])
        .unwrap()
        .get(0);
    assert_eq!(total("steward_worker_decisions_total"), stored as f64);
    assert_eq!(total("steward_worker_partitions_owned"), 64.0);
    assert_eq!(total("steward_worker_campaign_stage "), 1.0);
    assert_eq!(total("steward_worker_dead_letters_total"), 0.0);
    for port in ports {
        let health = reqwest::blocking::get(format!("http://127.0.0.1:{port}/healthz")).unwrap();
        assert_eq!(health.status(), 200);
    }

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
    // The ten posts that repeated the late claim before it was refuted, judged again by the
    // owners of their partitions (most are not the fact-check's).
    let rechecked = |d: &&DecisionRow| {
        d.1 == "debunked-claim"
            && d.0.rsplit("-e").next().and_then(|i| i.parse::<usize>().ok()).is_some_and(|i| i % 100 == 40 && i < 3000)
    };
    assert_eq!(single.iter().filter(rechecked).count(), 10, "the single box's rechecks");
    assert!(before_late < pg_decisions(&db).iter().filter(|d| d.1 == "debunked-claim").count());
    same_decisions(&pg_decisions(&db), &single, "two workers' decisions");
    // Both owners add their accounts' decisions to a campaign's one case, neither overwriting
    // the other's.
    let cases = sqlite_cases(&dir.path().join("single"));
    assert!(cases.iter().any(|c| c.0 == "campaign" && c.2.len() > 1), "no campaign case of several decisions");
    assert_eq!(pg_cases(&db), cases, "two workers' cases");
    drop_streams(&rt, &js, &stream);
}

#[test]
fn an_event_the_store_refuses_is_set_aside_and_its_partition_goes_on() {
    let test = "an_event_the_store_refuses_is_set_aside_and_its_partition_goes_on";
    let Some(Case { url, db, stream, dir, file, lines, rt, js }) = case(test, "wk_dead", 10, 300, 0x5eed_0004) else {
        return;
    };
    // The poison: a real engine error, the store refusing one event's row (a CHECK constraint
    // the test adds), which no validation catches.
    let poison = format!("{stream}-e40");
    let poison_line = lines.iter().find(|l| l.contains(&format!(r#""id":"{poison}""#))).unwrap().clone();
    steward_store::open(Path::new("."), Some(&db)).unwrap();
    postgres::Client::connect(&db, postgres::NoTls)
        .unwrap()
        .batch_execute(&format!("ALTER TABLE events ADD CONSTRAINT test_poison CHECK (id <> '{poison}')"))
        .unwrap();
    publish(&url, &stream, &file);
    let port = free_port();
    let log = dir.path().join("worker.log");
    let w = worker(&url, &db, &stream, &log, &["--metrics-listen", &format!("127.0.0.1:{port}")]);
    wait_drained(&rt, &js, &stream, Duration::from_secs(120));
    let text = scrape(port);
    let (code, stderr) = terminate(w, &log);
    assert_eq!(code, Some(0), "{stderr}");
    eprintln!("{}", strip_ansi(&stderr).trim());
    assert!(stderr.contains("set aside") && stderr.contains(", 1 dead letters;"), "{stderr}");
    assert_eq!(samples(&text, "steward_worker_dead_letters_total").0, 1.0, "{text}");
    // The whole batch 3 times, then every half holding the poison once, then the poison alone 3 times.
    assert!(samples(&text, "steward_worker_batch_failures_total").0 >= 5.0, "{text}");

    // Everything else stored, the rest of the poison's partition included.
    let expected: Vec<String> = event_ids(&lines).into_iter().filter(|id| *id != poison).collect();
    check_once(&db, &expected);

    // The poison on <stream>-dead, with where it came from and why.
    let config = steward_stream::StreamConfig {
        name: stream.clone(),
        subject_prefix: format!("{stream}-ev"),
        ..Default::default()
    };
    let account = serde_json::from_str::<serde_json::Value>(&poison_line).unwrap()["post"]["account_id"]
        .as_str()
        .unwrap()
        .to_string();
    let partition = steward_stream::partition(&account, 64);
    rt.block_on(async {
        let mut dead = js.get_stream(config.dead_letter_stream()).await.unwrap();
        assert_eq!(dead.info().await.unwrap().state.messages, 1);
        let m = dead.get_raw_message(1).await.unwrap();
        assert_eq!(m.subject.as_str(), config.dead_letter_subject(partition));
        assert_eq!(m.payload.as_ref(), poison_line.as_bytes());
        let header = |h: &str| m.headers.get(h).map(|v| v.as_str().to_string()).unwrap_or_default();
        assert_eq!(header("Steward-Subject"), config.subject("post.created", partition));
        assert!(header("Steward-Stream-Sequence").parse::<u64>().unwrap() > 0);
        assert!(header("Steward-Error").contains("test_poison"), "{}", header("Steward-Error"));
    });
    assert_eq!(cluster_status(&url, &db, &stream)["dead_letters"], 1);
    drop_streams(&rt, &js, &stream);
}

#[test]
fn sigterm_acks_what_was_committed_and_releases_the_locks() {
    let test = "sigterm_acks_what_was_committed_and_releases_the_locks";
    let Some(Case { url, db, stream, dir, file, lines, rt, js }) = case(test, "wk_term", 200, 4000, 0x5eed_0005) else {
        return;
    };
    publish(&url, &stream, &file);
    // A: small batches, stopped midway.
    let log_a = dir.path().join("a.log");
    let a = worker(&url, &db, &stream, &log_a, &["--batch", "50"]);
    wait_stored(&db, 500, &log_a);
    let (code, stderr) = terminate(a, &log_a);
    assert_eq!(code, Some(0), "{stderr}");
    let by_a = count_events(&db) as usize;
    assert!(by_a < lines.len(), "A finished before SIGTERM; make the workload larger");
    // Its partitions' and the campaign stage's locks are gone with it.
    let class = steward_worker::lock_class(&stream);
    let held: i64 = postgres::Client::connect(&db, postgres::NoTls)
        .unwrap()
        .query_one(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid::int8 = ($1::int4::int8 & 4294967295)",
            &[&class],
        )
        .unwrap()
        .get(0);
    assert_eq!(held, 0, "locks still held after SIGTERM");
    // B gets the rest and nothing A committed: A acknowledged every batch it committed.
    let log_b = dir.path().join("b.log");
    let b = worker(&url, &db, &stream, &log_b, &[]);
    wait_drained(&rt, &js, &stream, Duration::from_secs(120));
    let (code, stderr) = terminate(b, &log_b);
    assert_eq!(code, Some(0), "{stderr}");
    let rest = format!("({} accepted, 0 duplicates,", lines.len() - by_a);
    assert!(stderr.contains(&rest), "expected {rest} after A stored {by_a}: {stderr}");
    eprintln!(
        "A stored {by_a} of {} events before SIGTERM; B: {}",
        lines.len(),
        stderr.lines().last().unwrap_or_default()
    );
    check_once(&db, &event_ids(&lines));
    drop_streams(&rt, &js, &stream);
}
