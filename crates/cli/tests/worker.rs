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

mod common;

use std::collections::{BTreeSet, HashSet};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_nats::jetstream;
use common::{STEWARD, database_url, nats_url};

fn unique(tag: &str) -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
    format!("{tag}_{}_{}", std::process::id(), nanos % 1_000_000_000)
}

/// Common characters: texts drawn from them share few 3-grams, as unrelated posts do.
const CHARS: &str = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处府";

/// A seeded workload: `accounts` accounts, each upserted before its first post, and `posts`
/// posts a second apart; about a third AI-generated and unlabelled (a decision each, and the
/// credit ladder for accounts that do it often), the rest ordinary unrelated texts.
fn workload(prefix: &str, accounts: usize, posts: usize, seed: u64) -> Vec<String> {
    let chars: Vec<char> = CHARS.chars().collect();
    let mut x = seed | 1;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let start = chrono::Utc::now() - chrono::Duration::seconds(posts as i64 + 120);
    let mut lines = Vec::new();
    let mut known = HashSet::new();
    // Fact-checks first: a third of the posts repeat one of their claims, spread by whichever
    // partition owns the post; the fact-check's partition may be owned by another worker.
    let draw = |next: &mut dyn FnMut() -> u64| -> String {
        (0..24).map(|_| chars[(next() % chars.len() as u64) as usize]).collect()
    };
    let claims: Vec<String> = (0..3).map(|_| draw(&mut next)).collect();
    let published = start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    for (f, claim) in claims.iter().enumerate() {
        lines.push(format!(
            r#"{{"id":"{prefix}-fc{f}","type":"factcheck.upserted","at":"{published}","factcheck":{{"id":"{prefix}-f{f}","claim":"{claim}","verdict":"false","publisher":"辟谣平台","published_at":"{published}"}}}}"#
        ));
    }
    for i in 0..posts {
        let at = (start + chrono::Duration::seconds(i as i64)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let a = (next() % accounts as u64) as usize;
        let account = format!("{prefix}-a{a}");
        if known.insert(a) {
            lines.push(format!(
                r#"{{"id":"{prefix}-acct-{a}","type":"account.upserted","at":"{at}","account":{{"id":"{account}","handle":"h{a}","display_name":"用户{a}","followers":{}}}}}"#,
                100 + a * 7
            ));
        }
        let mut text: String = (0..40).map(|_| chars[(next() % chars.len() as u64) as usize]).collect();
        if i % 200 == 130 {
            text = format!("{}，大家转发", claims[i / 200 % claims.len()]);
        }
        // A copy campaign every 150 posts: 7 accounts that post nothing else copy one text, a
        // word changed in each, within seconds. Its accounts fall in different partitions.
        if i % 150 == 75 {
            for k in 0..7 {
                let copy = format!("{text}{}", chars[k % chars.len()]);
                lines.push(format!(
                    r#"{{"id":"{prefix}-c{i}-{k}","type":"post.created","at":"{at}","post":{{"id":"{prefix}-cp{i}-{k}","account_id":"{prefix}-ca{i}-{k}","kind":"short_post","text":"{copy}。","created_at":"{at}"}}}}"#
                ));
            }
        }
        let ai = next() % 3 == 0;
        lines.push(format!(
            r#"{{"id":"{prefix}-e{i}","type":"post.created","at":"{at}","post":{{"id":"{prefix}-p{i}","account_id":"{account}","kind":"short_post","text":"{text}。","created_at":"{at}","ai_generated":{{"declared":{ai},"implicit_label":false}},"explicit_label":false}}}}"#
        ));
    }
    lines
}

fn write(path: &Path, lines: &[String]) {
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

fn stream_args(stream: &str) -> [String; 4] {
    ["--nats-stream".into(), stream.into(), "--nats-subject-prefix".into(), format!("{stream}-ev")]
}

/// `steward ingest --nats` into the test's own stream; returns its stderr.
fn publish(url: &str, stream: &str, file: &Path) -> String {
    let out =
        Command::new(STEWARD).args(["ingest", "--nats", url]).args(stream_args(stream)).arg(file).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{stderr}");
    stderr
}

/// A `steward worker` process; its stderr goes to `log`.
fn worker(url: &str, db: &str, stream: &str, log: &Path, more: &[&str]) -> Child {
    Command::new(STEWARD)
        .args(["worker", "--nats", url, "--database-url", db, "--claim-interval", "0.5"])
        .args(stream_args(stream))
        .args(more)
        .env("STEWARD_LOG", "warn,steward=info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap()
}

/// Fails with what only one side has (a few of each), not both whole sets.
fn same_decisions<T: Ord + std::fmt::Debug>(got: &BTreeSet<T>, single: &BTreeSet<T>, what: &str) {
    if got != single {
        panic!(
            "{what} differ from the single box's: {} here only (e.g. {:?}), {} there only (e.g. {:?})",
            got.difference(single).count(),
            got.difference(single).take(8).collect::<Vec<_>>(),
            single.difference(got).count(),
            single.difference(got).take(8).collect::<Vec<_>>()
        );
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

async fn jetstream_at(url: &str) -> jetstream::Context {
    jetstream::new(async_nats::connect(url.split(',').collect::<Vec<_>>()).await.unwrap())
}

/// Per partition consumer: (pending, ack pending); `None` while a consumer does not exist yet,
/// or when the cluster did not answer in time (a loaded machine; asked again).
async fn consumers(js: &jetstream::Context, stream: &str) -> Option<Vec<(u64, usize)>> {
    let s = js.get_stream(stream).await.ok()?;
    let mut out = Vec::new();
    // The campaign stage's first: its findings go to the partitions, checked after it.
    let info = s.consumer_info(format!("{stream}-campaigns")).await.ok()?;
    out.push((info.num_pending, info.num_ack_pending));
    for p in 0..64 {
        let info = s.consumer_info(format!("{stream}-p{p}")).await.ok()?;
        out.push((info.num_pending, info.num_ack_pending));
    }
    Some(out)
}

/// Waits until all 64 partition consumers and the campaign stage's exist and none has anything
/// pending or unacked.
fn wait_drained(rt: &tokio::runtime::Runtime, js: &jetstream::Context, stream: &str, within: Duration) -> Duration {
    let start = Instant::now();
    loop {
        let c = rt.block_on(consumers(js, stream));
        if let Some(c) = &c
            && c.iter().all(|&(p, a)| p == 0 && a == 0)
        {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < within,
            "consumers not drained after {within:?}: (pending, unacked) of the campaign stage, then of each \
             partition: {c:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// SIGTERM, then the exit status and stderr.
fn terminate(mut child: Child, log: &Path) -> (Option<i32>, String) {
    rustix::process::kill_process(rustix::process::Pid::from_child(&child), rustix::process::Signal::TERM).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return (status.code(), std::fs::read_to_string(log).unwrap_or_default());
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("worker did not exit on SIGTERM: {}", std::fs::read_to_string(log).unwrap_or_default());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

type DecisionRow = (String, String, Option<String>, bool);

fn pg_decisions(db: &str) -> BTreeSet<DecisionRow> {
    let mut c = postgres::Client::connect(db, postgres::NoTls).unwrap();
    c.query("SELECT id, rule_id, account_id, shadow FROM decisions", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect()
}

/// Campaign members: (post, account), whatever the campaign's id.
fn pg_campaign_members(db: &str) -> BTreeSet<(String, String)> {
    let mut c = postgres::Client::connect(db, postgres::NoTls).unwrap();
    c.query("SELECT post_id, account_id FROM group_members WHERE kind = 'campaign'", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

fn sqlite_campaign_members(dir: &Path) -> BTreeSet<(String, String)> {
    let db = rusqlite::Connection::open(dir.join("steward.db")).unwrap();
    let mut q = db.prepare("SELECT post_id, account_id FROM group_members WHERE kind = 'campaign'").unwrap();
    q.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect()
}

fn sqlite_decisions(dir: &Path) -> BTreeSet<DecisionRow> {
    let db = rusqlite::Connection::open(dir.join("steward.db")).unwrap();
    let mut q = db.prepare("SELECT id, rule_id, account_id, shadow FROM decisions").unwrap();
    q.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get::<_, i64>(3)? != 0)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// Single-box `steward ingest` of `file` into a fresh SQLite dir: its decisions, and the
/// events/s it printed.
fn single_box(file: &Path, dir: &Path) -> (BTreeSet<DecisionRow>, f64) {
    let start = Instant::now();
    let out = Command::new(STEWARD).args(["ingest", "--data-dir"]).arg(dir).arg(file).output().unwrap();
    let seconds = start.elapsed().as_secs_f64();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    eprintln!("single box: {} ({seconds:.2} s wall)", String::from_utf8_lossy(&out.stderr).trim());
    (sqlite_decisions(dir), figure(&String::from_utf8_lossy(&out.stderr), "s (", "/s)"))
}

/// The number between `before` and `after` in the last line of `text` holding `before`.
fn figure(text: &str, before: &str, after: &str) -> f64 {
    text.rfind(before)
        .and_then(|i| {
            let rest = &text[i + before.len()..];
            rest[..rest.find(after)?].trim().parse().ok()
        })
        .unwrap_or(0.0)
}

/// Stored exactly once, decided at most once: events by id, decisions audited once each,
/// credits once per decision.
fn check_once(db: &str, expected_events: &[String]) {
    let mut c = postgres::Client::connect(db, postgres::NoTls).unwrap();
    let ids: Vec<String> = c.query("SELECT id FROM events", &[]).unwrap().iter().map(|r| r.get(0)).collect();
    let stored: BTreeSet<&String> = ids.iter().collect();
    assert_eq!(ids.len(), stored.len(), "an event is stored twice");
    let expected: BTreeSet<&String> = expected_events.iter().collect();
    assert_eq!(stored, expected, "stored events differ from those published");
    let twice: i64 = c
        .query_one(
            "SELECT count(*) FROM (SELECT subject FROM audit WHERE action = 'decision.created'
             GROUP BY subject HAVING count(*) > 1) t",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(twice, 0, "decisions audited more than once");
    let credited_twice: i64 = c
        .query_one(
            "SELECT count(*) FROM (SELECT decision_id FROM credits GROUP BY decision_id HAVING count(*) > 1) t",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(credited_twice, 0, "credit deducted twice for a decision");
    let audited: i64 = c.query_one("SELECT count(*) FROM audit WHERE action = 'decision.created'", &[]).unwrap().get(0);
    let live: i64 = c.query_one("SELECT count(*) FROM decisions WHERE NOT shadow", &[]).unwrap().get(0);
    assert_eq!(audited, live, "every live decision audited once");
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn event_ids(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["id"].as_str().unwrap().to_string())
        .collect()
}

/// The log verifies, every chain of it; the workers audited on their partitions' chains
/// (decisions and events, none on the root), and the last worker to stop recorded every
/// partition chain's head on the root.
fn audit_verifies(db: &str) {
    let out = Command::new(STEWARD).args(["audit", "verify", "--database-url", db]).output().unwrap();
    assert!(out.status.success(), "audit verify: {}", String::from_utf8_lossy(&out.stderr));
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(summary.contains(" partition chains of "), "{summary}");
    let mut c = postgres::Client::connect(db, postgres::NoTls).unwrap();
    let on_root: i64 = c
        .query_one(
            "SELECT (SELECT count(*) FROM audit WHERE chain = '' AND action = 'decision.created')
                  + (SELECT count(*) FROM events WHERE chain = '')",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(on_root, 0, "a worker audited on the root chain");
    let heads: BTreeSet<(String, i64, String)> = c
        .query("SELECT DISTINCT ON (chain) chain, seq, hash FROM audit WHERE chain <> '' ORDER BY chain, seq DESC", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let body: String = c
        .query_one(
            "SELECT body FROM audit WHERE chain = '' AND action = 'chains.checkpoint' ORDER BY seq DESC LIMIT 1",
            &[],
        )
        .unwrap()
        .get(0);
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    let recorded: BTreeSet<(String, i64, String)> = body["heads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["chain"].as_str().unwrap().into(), h["seq"].as_i64().unwrap(), h["hash"].as_str().unwrap().into()))
        .collect();
    assert_eq!(recorded, heads, "the last checkpoint does not record the chains' heads");
}

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
    let count = |db: &str| -> i64 {
        let mut c = postgres::Client::connect(db, postgres::NoTls).unwrap();
        c.query_one("SELECT count(*) FROM events", &[]).map(|r| r.get(0)).unwrap_or(0)
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    while count(&db) < 300 {
        assert!(Instant::now() < deadline, "worker A stored nothing: {}", std::fs::read_to_string(&log_a).unwrap());
        std::thread::sleep(Duration::from_millis(20));
    }
    let log_b = dir.path().join("b.log");
    let b = worker(&url, &db, &stream, &log_b, &["--batch", "100"]);
    std::thread::sleep(Duration::from_millis(1500));
    let before_kill = count(&db);
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
