//! The cluster tests' helpers (worker.rs, faults.rs): seeded workloads, `steward ingest --nats`
//! and `steward worker` processes, waiting for the consumers to drain, and the checks that every
//! event is stored once and decided at most once.
#![allow(dead_code)] // Each test binary uses a part.

use std::collections::{BTreeSet, HashSet};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_nats::jetstream;

use crate::common::{STEWARD, database_url, nats_url};

pub fn unique(tag: &str) -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
    format!("{tag}_{}_{}", std::process::id(), nanos % 1_000_000_000)
}

/// Common characters: texts drawn from them share few 3-grams, as unrelated posts do.
pub const CHARS: &str = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处府";

/// A seeded workload: `accounts` accounts, each upserted before its first post, and `posts`
/// posts a second apart; about a third AI-generated and unlabelled (a decision each, and the
/// credit ladder for accounts that do it often), the rest ordinary unrelated texts.
pub fn workload(prefix: &str, accounts: usize, posts: usize, seed: u64) -> Vec<String> {
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
    // A claim refuted only halfway through: the posts that repeated it before are judged
    // when its fact-check comes, by their partitions' owners.
    let late = draw(&mut next);
    let published = start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    for (f, claim) in claims.iter().enumerate() {
        lines.push(format!(
            r#"{{"id":"{prefix}-fc{f}","type":"factcheck.upserted","at":"{published}","factcheck":{{"id":"{prefix}-f{f}","claim":"{claim}","verdict":"false","publisher":"辟谣平台","published_at":"{published}"}}}}"#
        ));
    }
    for i in 0..posts {
        let at = (start + chrono::Duration::seconds(i as i64)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        if i == posts / 2 {
            lines.push(format!(
                r#"{{"id":"{prefix}-fc-late","type":"factcheck.upserted","at":"{at}","factcheck":{{"id":"{prefix}-f-late","claim":"{late}","verdict":"false","publisher":"辟谣平台","published_at":"{at}"}}}}"#
            ));
        }
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
        if i % 100 == 40 && i + 1000 > posts / 2 && i < posts / 2 + 1000 {
            text = format!("{late}，速看");
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

pub fn write(path: &Path, lines: &[String]) {
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

pub fn stream_args(stream: &str) -> [String; 4] {
    ["--nats-stream".into(), stream.into(), "--nats-subject-prefix".into(), format!("{stream}-ev")]
}

/// `steward ingest --nats` into the test's own stream; returns its stderr.
pub fn publish(url: &str, stream: &str, file: &Path) -> String {
    let out =
        Command::new(STEWARD).args(["ingest", "--nats", url]).args(stream_args(stream)).arg(file).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{stderr}");
    stderr
}

/// A `steward worker` process; its stderr goes to `log`.
pub fn worker(url: &str, db: &str, stream: &str, log: &Path, more: &[&str]) -> Child {
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
pub fn same_decisions<T: Ord + std::fmt::Debug>(got: &BTreeSet<T>, single: &BTreeSet<T>, what: &str) {
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

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

pub async fn jetstream_at(url: &str) -> jetstream::Context {
    jetstream::new(async_nats::connect(url.split(',').collect::<Vec<_>>()).await.unwrap())
}

/// Per partition consumer: (pending, ack pending); `None` while a consumer does not exist yet,
/// or when the cluster did not answer in time (a loaded machine; asked again).
pub async fn consumers(js: &jetstream::Context, stream: &str) -> Option<Vec<(u64, usize)>> {
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
pub fn wait_drained(rt: &tokio::runtime::Runtime, js: &jetstream::Context, stream: &str, within: Duration) -> Duration {
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
pub fn terminate(mut child: Child, log: &Path) -> (Option<i32>, String) {
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

pub type DecisionRow = (String, String, Option<String>, bool);

pub fn pg_decisions(db: &str) -> BTreeSet<DecisionRow> {
    let mut c = postgres::Client::connect(db, postgres::NoTls).unwrap();
    c.query("SELECT id, rule_id, account_id, shadow FROM decisions", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect()
}

/// Campaign members: (post, account), whatever the campaign's id.
pub fn pg_campaign_members(db: &str) -> BTreeSet<(String, String)> {
    let mut c = postgres::Client::connect(db, postgres::NoTls).unwrap();
    c.query("SELECT post_id, account_id FROM group_members WHERE kind = 'campaign'", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

pub fn sqlite_campaign_members(dir: &Path) -> BTreeSet<(String, String)> {
    let db = rusqlite::Connection::open(dir.join("steward.db")).unwrap();
    let mut q = db.prepare("SELECT post_id, account_id FROM group_members WHERE kind = 'campaign'").unwrap();
    q.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect()
}

/// The cases as review sees them: each subject's decisions (a campaign's, gathered from every
/// partition), whatever order they joined in.
pub type CaseRow = (String, String, BTreeSet<String>);

fn case_row(kind: String, id: String, body: &str) -> CaseRow {
    let body: serde_json::Value = serde_json::from_str(body).unwrap();
    let decisions = body["decisions"].as_array().unwrap().iter().map(|d| d.as_str().unwrap().to_string()).collect();
    (kind, id, decisions)
}

pub fn pg_cases(db: &str) -> BTreeSet<CaseRow> {
    let mut c = postgres::Client::connect(db, postgres::NoTls).unwrap();
    let rows = c.query("SELECT subject_kind, subject_id, body FROM cases", &[]).unwrap();
    rows.iter().map(|r| case_row(r.get(0), r.get(1), r.get(2))).collect()
}

pub fn sqlite_cases(dir: &Path) -> BTreeSet<CaseRow> {
    let db = rusqlite::Connection::open(dir.join("steward.db")).unwrap();
    let mut q = db.prepare("SELECT subject_kind, subject_id, body FROM cases").unwrap();
    q.query_map([], |r| Ok(case_row(r.get(0)?, r.get(1)?, &r.get::<_, String>(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

pub fn sqlite_decisions(dir: &Path) -> BTreeSet<DecisionRow> {
    let db = rusqlite::Connection::open(dir.join("steward.db")).unwrap();
    let mut q = db.prepare("SELECT id, rule_id, account_id, shadow FROM decisions").unwrap();
    q.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get::<_, i64>(3)? != 0)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// Single-box `steward ingest` of `file` into a fresh SQLite dir: its decisions, and the
/// events/s it printed.
pub fn single_box(file: &Path, dir: &Path) -> (BTreeSet<DecisionRow>, f64) {
    let start = Instant::now();
    let out = Command::new(STEWARD).args(["ingest", "--data-dir"]).arg(dir).arg(file).output().unwrap();
    let seconds = start.elapsed().as_secs_f64();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    eprintln!("single box: {} ({seconds:.2} s wall)", String::from_utf8_lossy(&out.stderr).trim());
    (sqlite_decisions(dir), figure(&String::from_utf8_lossy(&out.stderr), "s (", "/s)"))
}

/// The number between `before` and `after` in the last line of `text` holding `before`.
pub fn figure(text: &str, before: &str, after: &str) -> f64 {
    text.rfind(before)
        .and_then(|i| {
            let rest = &text[i + before.len()..];
            rest[..rest.find(after)?].trim().parse().ok()
        })
        .unwrap_or(0.0)
}

/// Stored exactly once (the events published) and decided at most once.
pub fn check_once(db: &str, expected_events: &[String]) {
    let mut c = postgres::Client::connect(db, postgres::NoTls).unwrap();
    let ids: Vec<String> = c.query("SELECT id FROM events", &[]).unwrap().iter().map(|r| r.get(0)).collect();
    let stored: BTreeSet<&String> = ids.iter().collect();
    assert_eq!(ids.len(), stored.len(), "an event is stored twice");
    let expected: BTreeSet<&String> = expected_events.iter().collect();
    assert_eq!(stored, expected, "stored events differ from those published");
    check_decided_once(db);
}

/// Decided at most once: decisions audited once each, credits once per decision.
pub fn check_decided_once(db: &str) {
    let mut c = postgres::Client::connect(db, postgres::NoTls).unwrap();
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

/// The ids of the events stored.
pub fn stored_ids(db: &str) -> BTreeSet<String> {
    let mut c = postgres::Client::connect(db, postgres::NoTls).unwrap();
    c.query("SELECT id FROM events", &[]).unwrap().iter().map(|r| r.get(0)).collect()
}

/// How many events are stored (0 before the store's tables exist).
pub fn count_events(db: &str) -> i64 {
    let mut c = postgres::Client::connect(db, postgres::NoTls).unwrap();
    c.query_one("SELECT count(*) FROM events", &[]).map(|r| r.get(0)).unwrap_or(0)
}

pub fn strip_ansi(s: &str) -> String {
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

pub fn event_ids(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["id"].as_str().unwrap().to_string())
        .collect()
}

/// The log verifies, every chain of it; the workers audited on their partitions' chains
/// (decisions and events, none on the root), and the last worker to stop recorded every
/// partition chain's head on the root.
pub fn audit_verifies(db: &str) {
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

/// Waits until `n` events are stored (the worker logging to `log` is at work).
pub fn wait_stored(db: &str, n: i64, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while count_events(db) < n {
        assert!(Instant::now() < deadline, "the worker stored nothing: {}", std::fs::read_to_string(log).unwrap());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Deletes the test's stream and the dead-letter stream its workers created.
pub fn drop_streams(rt: &tokio::runtime::Runtime, js: &jetstream::Context, stream: &str) {
    rt.block_on(async {
        js.delete_stream(stream).await.unwrap();
        js.delete_stream(format!("{stream}-dead")).await.unwrap();
    });
}

/// Events the workers set aside on the dead-letter stream (0 when it does not exist).
pub fn dead_letters(rt: &tokio::runtime::Runtime, js: &jetstream::Context, stream: &str) -> u64 {
    rt.block_on(async {
        match js.get_stream(format!("{stream}-dead")).await {
            Ok(mut s) => s.info().await.map_or(0, |i| i.state.messages),
            Err(_) => 0,
        }
    })
}

/// What each test starts with: the services, its own stream and schema (named after `tag`),
/// and a seeded workload written to a file.
pub struct Case {
    pub url: String,
    pub db: String,
    pub stream: String,
    pub dir: tempfile::TempDir,
    pub file: std::path::PathBuf,
    pub lines: Vec<String>,
    pub rt: tokio::runtime::Runtime,
    pub js: jetstream::Context,
}

/// `None` (the test skipped) without NATS or PostgreSQL.
pub fn case(test: &str, tag: &str, accounts: usize, posts: usize, seed: u64) -> Option<Case> {
    let url = nats_url(test)?;
    let tag = unique(tag);
    let db = database_url(test, &tag)?;
    let stream = tag.replace('_', "-");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("events.jsonl");
    let lines = workload(&stream, accounts, posts, seed);
    write(&file, &lines);
    let rt = runtime();
    let js = rt.block_on(jetstream_at(&url));
    Some(Case { url, db, stream, dir, file, lines, rt, js })
}
