//! Throughput of the distributed mode (issue 20) with 1, 2 and 3 workers on this machine,
//! against single-box `steward ingest` on the same events (embedded SQLite, and PostgreSQL).
//!
//! On one 2-core machine the workers, PostgreSQL and the three nats-servers share the same
//! cores, so more workers show the overhead of distribution, not a speed-up. Beside events/s
//! this reports the CPU each event costs: the workers' own, PostgreSQL's (the postmaster with
//! its reaped backends) and the nats-servers', against the single box's whole process.
//!
//! Run by scripts/cluster-test.sh (`--ignored --nocapture`); `STEWARD_SCALE_POSTS` sets the
//! workload (default 30,000 posts).

#[path = "common/cluster.rs"]
mod cluster;
mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use cluster::*;
use common::{STEWARD, database_url, nats_url};

/// CPU seconds of a process from /proc: its own, and with `children` those of the children it
/// has waited for (the postmaster reaps every backend that ends).
fn cpu_seconds(pid: u32, children: bool) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return 0.0 };
    // Fields after the command's closing parenthesis: state is field 3, utime 14 .. cstime 17.
    let fields: Vec<f64> =
        stat[stat.rfind(')').unwrap_or(0) + 1..].split_whitespace().map(|f| f.parse().unwrap_or(0.0)).collect();
    let ticks = fields[11] + fields[12] + if children { fields[13] + fields[14] } else { 0.0 };
    ticks / clock_ticks()
}

fn clock_ticks() -> f64 {
    let out = Command::new("getconf").arg("CLK_TCK").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or(100.0)
}

/// CPU seconds of the services: PostgreSQL's postmaster with its reaped backends, and the
/// nats-servers of scripts/nats.sh (`STEWARD_NATS_DIR`).
fn services_cpu(db: &str) -> (f64, f64) {
    let mut c = postgres::Client::connect(db, postgres::NoTls).unwrap();
    let data: String = c.query_one("SHOW data_directory", &[]).unwrap().get(0);
    drop(c);
    let postmaster = std::fs::read_to_string(Path::new(&data).join("postmaster.pid")).unwrap_or_default();
    let pg = postmaster.lines().next().and_then(|l| l.trim().parse().ok()).map_or(0.0, |pid| cpu_seconds(pid, true));
    let nats = std::env::var("STEWARD_NATS_DIR").map_or(0.0, |dir| {
        (1..=3)
            .filter_map(|n| std::fs::read_to_string(format!("{dir}/n{n}.pid")).ok()?.trim().parse().ok())
            .map(|pid| cpu_seconds(pid, false))
            .sum()
    });
    (pg, nats)
}

/// `steward ingest` of `file` with `store` args, timed: (wall seconds, CPU seconds of the
/// process, from the shell's `times`).
fn single_box_run(file: &Path, store: &[&str]) -> (f64, f64) {
    let cmd = format!(
        "'{STEWARD}' ingest {} '{}' >/dev/null 2>&1 || exit 1; times",
        store.iter().map(|a| format!("'{a}'")).collect::<Vec<_>>().join(" "),
        file.display()
    );
    let start = Instant::now();
    let out = Command::new("bash").arg("-c").arg(cmd).output().unwrap();
    let wall = start.elapsed().as_secs_f64();
    assert!(out.status.success(), "single-box ingest failed");
    // `times`: the shell's user and system time, then its children's ("0m1.234s 0m0.056s").
    let text = String::from_utf8_lossy(&out.stdout);
    let children = text.lines().nth(1).unwrap_or_default();
    let cpu = children
        .split_whitespace()
        .filter_map(|t| {
            let (m, s) = t.trim_end_matches('s').split_once('m')?;
            Some(m.parse::<f64>().ok()? * 60.0 + s.parse::<f64>().ok()?)
        })
        .sum();
    (wall, cpu)
}

#[test]
#[ignore = "a benchmark with a report: run by scripts/cluster-test.sh"]
fn throughput_with_one_two_and_three_workers() {
    let test = "throughput_with_one_two_and_three_workers";
    let Some(url) = nats_url(test) else { return };
    let posts = std::env::var("STEWARD_SCALE_POSTS").ok().and_then(|s| s.parse().ok()).unwrap_or(30_000);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("events.jsonl");
    let lines = workload("scale", posts / 15, posts, 0x5ca1e);
    write(&file, &lines);
    let n = lines.len() as f64;
    let mut rows = Vec::new();

    let (wall, cpu) = single_box_run(&file, &["--data-dir", &dir.path().join("sqlite").display().to_string()]);
    rows.push(format!("single box, SQLite      {:>8.0} events/s   {:>6.1} µs CPU/event", n / wall, cpu / n * 1e6));
    let single_cpu = cpu;
    let Some(db) = database_url(test, &unique("scale_pg")) else { return };
    let (pg0, _) = services_cpu(&db);
    let (wall, cpu) = single_box_run(&file, &["--database-url", &db]);
    let (pg1, _) = services_cpu(&db);
    let pg = pg1 - pg0;
    rows.push(format!(
        "single box, PostgreSQL  {:>8.0} events/s   {:>6.1} µs CPU/event (steward {:.1}, PostgreSQL {:.1})",
        n / wall,
        (cpu + pg) / n * 1e6,
        cpu / n * 1e6,
        pg / n * 1e6
    ));

    for workers in 1..=3u32 {
        let tag = unique(&format!("scale{workers}"));
        let Some(db) = database_url(test, &tag) else { return };
        let stream = tag.replace('_', "-");
        let rt = runtime();
        let js = rt.block_on(jetstream_at(&url));
        publish(&url, &stream, &file);
        let (pg0, nats0) = services_cpu(&db);
        let share = 64u32.div_ceil(workers).to_string();
        let logs: Vec<_> = (0..workers).map(|w| dir.path().join(format!("{workers}-{w}.log"))).collect();
        let children: Vec<_> =
            logs.iter().map(|log| worker(&url, &db, &stream, log, &["--partitions-per-worker", &share])).collect();
        // From the first event stored (the workers up, their partitions claimed) to drained.
        let deadline = Instant::now() + Duration::from_secs(120);
        while count_events(&db) == 0 {
            assert!(Instant::now() < deadline, "no event stored 120 s after the workers started");
            std::thread::sleep(Duration::from_millis(20));
        }
        let start = Instant::now();
        wait_drained(&rt, &js, &stream, Duration::from_secs(600));
        let wall = start.elapsed().as_secs_f64();
        let worker_cpu: f64 = children.iter().map(|c| cpu_seconds(c.id(), false)).sum();
        for (child, log) in children.into_iter().zip(&logs) {
            let (code, stderr) = terminate(child, log);
            assert_eq!(code, Some(0), "{stderr}");
            eprintln!("{}", stderr.lines().last().unwrap_or_default());
            if std::env::var("DEBUG_SCALE").is_ok() {
                eprintln!("{stderr}");
            }
        }
        check_once(&db, &event_ids(&lines));
        let (pg1, nats1) = services_cpu(&db);
        let (pg, nats) = (pg1 - pg0, nats1 - nats0);
        let total = worker_cpu + pg + nats;
        rows.push(format!(
            "{workers} worker{}              {:>8.0} events/s   {:>6.1} µs CPU/event (workers {:.1}, PostgreSQL {:.1}, \
             NATS {:.1}): {:.1}× the single box's",
            if workers == 1 { " " } else { "s" },
            n / wall,
            total / n * 1e6,
            worker_cpu / n * 1e6,
            pg / n * 1e6,
            nats / n * 1e6,
            total / single_cpu
        ));
        drop_streams(&rt, &js, &stream);
    }
    eprintln!("\n== throughput, {} events ({posts} posts), this machine\n{}", lines.len(), rows.join("\n"));
}
