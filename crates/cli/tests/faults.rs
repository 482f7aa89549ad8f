//! Fault tests of the distributed mode (issue 20), against the real 3-node NATS cluster of
//! scripts/nats.sh and the PostgreSQL of scripts/postgres.sh, each over several seeds:
//!
//! - a worker SIGKILLed at each crash point in turn (after the fetch, inside the transaction,
//!   after the commit before the ack, after the ack: `steward worker --crash-at`), each time
//!   replaced by a fresh one, the last of which drains the stream;
//! - each nats-server in turn SIGKILLed and restarted (the stream leader first) while clients
//!   publish with `steward ingest --nats` and a worker consumes.
//!
//! Afterwards every event acknowledged to a client is stored exactly once and decided at most
//! once, nothing is pending, and the audit log verifies. Each run prints Jepsen's classes of the
//! clients' events: ok (acknowledged and stored), lost (acknowledged, not stored) and unknown
//! (the client got an error, so it cannot know; how many of those were stored anyway).
//!
//! They take nodes down and kill processes, and print a report: scripts/cluster-test.sh runs
//! them (`--ignored --nocapture`, one at a time). `STEWARD_FAULT_SEEDS` sets how many seeds.

#[path = "common/cluster.rs"]
mod cluster;
mod common;

use std::collections::{BTreeSet, HashMap};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use cluster::*;
use common::STEWARD;

const CRASH_POINTS: [&str; 4] = ["fetched", "in-transaction", "committed", "acked"];

fn seeds(default: usize) -> Vec<u64> {
    let n = std::env::var("STEWARD_FAULT_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(default);
    (1..=n as u64).map(|i| 0xfa17_0000 + i).collect()
}

/// Jepsen's classes of the events clients sent.
#[derive(Debug, Default, Clone, Copy)]
struct Classes {
    ok: usize,
    lost: usize,
    unknown: usize,
    /// Of the unknown, stored anyway.
    unknown_stored: usize,
}

impl std::fmt::Display for Classes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ok {} · lost {} · unknown {} ({} of them stored)",
            self.ok, self.lost, self.unknown, self.unknown_stored
        )
    }
}

/// Classifies the events clients were answered `accepted` for (`acked`) and those they got an
/// error for (`unknown`), against what the store holds; and checks that no event is stored
/// twice and none that no client sent is stored.
fn classify(db: &str, acked: &[String], unknown: &[String]) -> Classes {
    let mut c = postgres::Client::connect(db, postgres::NoTls).unwrap();
    let ids: Vec<String> = c.query("SELECT id FROM events", &[]).unwrap().iter().map(|r| r.get(0)).collect();
    let stored: BTreeSet<&String> = ids.iter().collect();
    assert_eq!(ids.len(), stored.len(), "an event is stored twice");
    let sent: BTreeSet<&String> = acked.iter().chain(unknown).collect();
    let strangers: Vec<_> = stored.difference(&sent).take(5).collect();
    assert!(strangers.is_empty(), "stored events no client sent: {strangers:?}");
    let ok = acked.iter().filter(|id| stored.contains(id)).count();
    let unknown_stored = unknown.iter().filter(|id| stored.contains(id)).count();
    Classes { ok, lost: acked.len() - ok, unknown: unknown.len(), unknown_stored }
}

/// Decided at most once (each decision audited once, credited once), and how the decisions
/// compare with single-box steward's on every event stored: (same, missing, extra).
fn decided_once_against_single_box(db: &str, stored_lines: &[String], dir: &Path) -> (usize, usize, usize) {
    check_decided_once(db);
    let file = dir.join("stored.jsonl");
    write(&file, stored_lines);
    let single = single_box(&file, &dir.join("single")).0;
    let got = pg_decisions(db);
    (got.intersection(&single).count(), single.difference(&got).count(), got.difference(&single).count())
}

/// Waits up to `within` for a process to end; `None` if it is still running (then killed).
fn wait_exit(child: &mut std::process::Child, within: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

#[test]
#[ignore = "kills processes and prints a report: run by scripts/cluster-test.sh"]
fn workers_killed_at_each_crash_point() {
    let test = "workers_killed_at_each_crash_point";
    let mut report = Vec::new();
    for seed in seeds(3) {
        let Some(Case { url, db, stream, dir, file, lines, rt, js }) =
            case(test, &format!("fk_{}", seed & 0xff), 150, 1500, seed)
        else {
            return;
        };
        // `steward ingest --nats` exits 0 only when the stream acknowledged every event.
        publish(&url, &stream, &file);

        let mut rng = seed;
        let mut kills = Vec::new();
        for point in CRASH_POINTS {
            rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let after = 1 + (rng >> 33) % 3;
            let log = dir.path().join(format!("{point}.log"));
            let mut w = worker(
                &url,
                &db,
                &stream,
                &log,
                &["--batch", "50", "--crash-at", point, "--crash-after", &after.to_string()],
            );
            let status = wait_exit(&mut w, Duration::from_secs(180));
            let stderr = std::fs::read_to_string(&log).unwrap_or_default();
            assert_eq!(
                status.and_then(|s| s.signal()),
                Some(9),
                "the worker armed at {point} (after {after}) was not killed there: {status:?}\n{stderr}"
            );
            let stored = count_events(&db);
            kills.push(format!("{point}#{after} ({stored} stored)"));
        }
        let log = dir.path().join("last.log");
        let last = worker(&url, &db, &stream, &log, &["--batch", "50"]);
        let drained = wait_drained(&rt, &js, &stream, Duration::from_secs(300));
        let (code, stderr) = terminate(last, &log);
        assert_eq!(code, Some(0), "{stderr}");
        eprintln!("the last worker: {}", stderr.lines().last().unwrap_or_default());

        let classes = classify(&db, &event_ids(&lines), &[]);
        audit_verifies(&db);
        let (same, missing, extra) = decided_once_against_single_box(&db, &lines, dir.path());
        let row = format!(
            "seed {seed:#x}: killed at {}; drained {drained:.1?} after; {classes}; decisions: {same} as single box, \
             {missing} missing, {extra} extra",
            kills.join(", ")
        );
        eprintln!("{row}");
        report.push(row.clone());
        assert_eq!(classes.lost, 0, "{row}");
        assert_eq!((missing, extra), (0, 0), "{row}");
        assert_eq!(dead_letters(&rt, &js, &stream), 0, "events set aside as dead letters");
        drop_streams(&rt, &js, &stream);
    }
    eprintln!("\n== workers SIGKILLed at each crash point\n{}", report.join("\n"));
}

/// scripts/nats.sh's functions (kill_nats_node N, restart_nats_node N), in a shell of their own.
fn nats_script(cmd: &str) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/nats.sh");
    let status = Command::new("bash").arg("-c").arg(format!("source '{script}' && {cmd}")).status().unwrap();
    assert!(status.success(), "`{cmd}` failed");
}

/// The node number (1..3) of the stream's leader, and whether both other replicas are current.
async fn stream_cluster(js: &async_nats::jetstream::Context, stream: &str) -> Option<(u32, bool)> {
    let mut s = js.get_stream(stream).await.ok()?;
    let info = s.info().await.ok()?;
    let c = info.cluster.as_ref()?;
    let leader = c.leader.as_ref()?.trim_start_matches('n').parse().ok()?;
    Some((leader, c.replicas.len() == 2 && c.replicas.iter().all(|r| r.current && !r.offline)))
}

/// Requests of `chunk` events at a time, each one `steward ingest --nats` run, until `stop` or
/// the lines run out: the event ids each request was answered for (acknowledged), and those of
/// requests that failed or timed out (unknown), which are not sent again.
fn clients(
    url: &str,
    stream: &str,
    lines: &[String],
    chunk: usize,
    dir: &Path,
    stop: &AtomicBool,
) -> (Vec<String>, Vec<String>) {
    let (mut acked, mut unknown) = (Vec::new(), Vec::new());
    for (i, part) in lines.chunks(chunk).enumerate() {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let file = dir.join(format!("request-{i}.jsonl"));
        write(&file, part);
        let mut child = Command::new(STEWARD)
            .args(["ingest", "--nats", url])
            .args(stream_args(stream))
            .arg(&file)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let status = wait_exit(&mut child, Duration::from_secs(60));
        let ids = event_ids(part);
        if status.is_some_and(|s| s.success()) {
            acked.extend(ids)
        } else {
            unknown.extend(ids)
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    (acked, unknown)
}

#[test]
#[ignore = "takes nats-server nodes down and prints a report: run by scripts/cluster-test.sh"]
fn nats_nodes_killed_and_restarted_one_at_a_time() {
    let test = "nats_nodes_killed_and_restarted_one_at_a_time";
    let mut report = Vec::new();
    for seed in seeds(2) {
        let Some(Case { url, db, stream, dir, lines, rt, js, .. }) =
            case(test, &format!("fn_{}", seed & 0xff), 200, 4000, seed)
        else {
            return;
        };
        let by_id: HashMap<String, &String> = event_ids(&lines).into_iter().zip(&lines).collect();
        // The stream exists (R3) before the first kill: the first request creates it.
        let (first, rest) = lines.split_at(20);
        write(&dir.path().join("first.jsonl"), first);
        publish(&url, &stream, &dir.path().join("first.jsonl"));
        let log = dir.path().join("worker.log");
        let w = worker(&url, &db, &stream, &log, &["--batch", "200"]);

        let stop = Arc::new(AtomicBool::new(false));
        let client = {
            let (url, stream, rest, dir, stop) =
                (url.clone(), stream.clone(), rest.to_vec(), dir.path().to_path_buf(), stop.clone());
            std::thread::spawn(move || clients(&url, &stream, &rest, 20, &dir, &stop))
        };
        std::thread::sleep(Duration::from_secs(2));
        let leader = rt.block_on(stream_cluster(&js, &stream)).map_or(1, |(l, _)| l);
        // The stream's leader first (an election under load), then the others in seeded order.
        let mut order: Vec<u32> = (1..=3).filter(|&n| n != leader).collect();
        if seed % 2 == 0 {
            order.reverse();
        }
        order.insert(0, leader);
        let mut rounds = Vec::new();
        for node in order {
            nats_script(&format!("kill_nats_node {node}"));
            std::thread::sleep(Duration::from_secs(3));
            let t = Instant::now();
            nats_script(&format!("restart_nats_node {node}"));
            let deadline = Instant::now() + Duration::from_secs(120);
            while !rt.block_on(stream_cluster(&js, &stream)).is_some_and(|(_, current)| current) {
                assert!(Instant::now() < deadline, "n{node}'s replica not current 120 s after its restart");
                std::thread::sleep(Duration::from_millis(200));
            }
            rounds.push(format!("n{node} down 3 s, current again {:.1?} after restart", t.elapsed()));
            std::thread::sleep(Duration::from_secs(1));
        }
        stop.store(true, Ordering::SeqCst);
        let (mut acked, unknown) = client.join().unwrap();
        acked.extend(event_ids(first));
        let drained = wait_drained(&rt, &js, &stream, Duration::from_secs(300));
        let (code, stderr) = terminate(w, &log);
        assert_eq!(code, Some(0), "{stderr}");
        eprintln!("the worker: {}", stderr.lines().last().unwrap_or_default());

        let classes = classify(&db, &acked, &unknown);
        audit_verifies(&db);
        let stored: BTreeSet<String> = stored_ids(&db);
        // Compared with a single box fed the events stored, in the order they were sent.
        let stored_lines: Vec<String> =
            event_ids(&lines).iter().filter(|id| stored.contains(*id)).map(|id| by_id[id].clone()).collect();
        let (same, missing, extra) = decided_once_against_single_box(&db, &stored_lines, dir.path());
        let row = format!(
            "seed {seed:#x}: {}; drained {drained:.1?} after; {classes}; decisions: {same} as single box, \
             {missing} missing, {extra} extra",
            rounds.join("; ")
        );
        eprintln!("{row}");
        report.push(row.clone());
        assert_eq!(classes.lost, 0, "{row}");
        assert_eq!(dead_letters(&rt, &js, &stream), 0, "events set aside as dead letters");
        drop_streams(&rt, &js, &stream);
    }
    eprintln!("\n== nats-server nodes SIGKILLed and restarted, one at a time\n{}", report.join("\n"));
}
