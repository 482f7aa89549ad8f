//! The command line as users run it: ingest, keys, policy check, audit verify, demo, eval claims, bench sketch.

use std::io::Write;
use std::process::{Command, Output, Stdio};

const STEWARD: &str = env!("CARGO_BIN_EXE_steward");

fn steward(args: &[&str]) -> Output {
    Command::new(STEWARD).args(args).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn event(id: &str) -> String {
    format!(
        r#"{{"id":"{id}","type":"post.created","at":"{t}","post":{{"id":"p-{id}","account_id":"a1","kind":"image","text":"x","created_at":"{t}","ai_generated":{{"declared":true}}}}}}"#,
        t = now()
    )
}

#[test]
fn ingest_keeps_valid_records_reports_bad_lines_and_exits_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("events.ndjson");
    let data = format!("{}\nnot json\n{}\n{}\n", event("e1"), event("e2"), event("e1"));
    std::fs::write(&file, data).unwrap();
    let d = dir.path().join("data");
    let out = steward(&["ingest", "--data-dir", d.to_str().unwrap(), file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("events.ndjson:2: rejected"), "{stderr}");
    assert!(stderr.contains("2 accepted, 1 duplicates, 1 rejected"), "{stderr}");

    // Standard input, all valid, all replays: success.
    let mut child = Command::new(STEWARD)
        .args(["ingest", "--data-dir", d.to_str().unwrap(), "-"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{}\n{}", event("e1"), event("e2")).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("0 accepted, 2 duplicates, 0 rejected"));
}

fn account(id: &str, name: &str) -> String {
    format!(
        r#"{{"id":"acc-{id}-{name}","type":"account.upserted","at":"{t}","account":{{"id":"{id}","handle":"{id}","display_name":"{name}","followers":3}}}}"#,
        t = now()
    )
}

#[test]
fn registry_import_keeps_valid_lines_and_later_ingests_flag_look_alikes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("data");
    let d = d.to_str().unwrap();
    let registry = dir.path().join("registry.jsonl");
    let mut lines = concat!(
        r#"{"id":"qc-police","name":"青川县公安局","aliases":["青川公安"],"kind":"police","owner_account_ids":["qc-own"]}"#,
        "\nnot json\n\n",
        r#"{"id":"bad","name":"x","kind":"wizard"}"#,
        "\n",
        r#"{"id":"jy-paper","name":"江屿晚报","aliases":[],"kind":"media","owner_account_ids":[],"avatar_hashes":["f0e1d2c3b4a59687"]}"#,
        "\n",
    )
    .as_bytes()
    .to_vec();
    lines.extend_from_slice(b"{\"id\":\"\xff\"}\n");
    std::fs::write(&registry, lines).unwrap();
    let out = steward(&["registry", "import", "--data-dir", d, registry.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("registry.jsonl:2: rejected: not an identity"), "{stderr}");
    assert!(stderr.contains("registry.jsonl:4: rejected: not an identity: unknown variant `wizard`"), "{stderr}");
    assert!(stderr.contains("registry.jsonl:6: rejected: not valid UTF-8"), "{stderr}");
    assert!(stderr.contains("2 accepted, 0 duplicates, 3 rejected"), "{stderr}");
    // Importing again changes nothing.
    let out = steward(&["registry", "import", "--data-dir", d, registry.to_str().unwrap()]);
    assert!(text(&out.stderr).contains("0 accepted, 2 duplicates, 3 rejected"), "{}", text(&out.stderr));

    // A later process learns the registry from the store: the owner passes, a look-alike and
    // a rename to an official name are flagged by the default policy.
    let events = dir.path().join("accounts.ndjson");
    let lines = [
        account("qc-own", "青川县公安局"),
        account("fan", "小王的日常"),
        account("fake", "官方青川縣警方"),
        account("fan", "江屿晚报粉丝后援会"),
    ];
    std::fs::write(&events, lines.join("\n")).unwrap();
    let out = steward(&["ingest", "--data-dir", d, events.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("4 accepted, 0 duplicates, 0 rejected; 2 decisions"), "{}", text(&out.stderr));
}

#[test]
fn keys_create_prints_the_key_alone() {
    let dir = tempfile::tempdir().unwrap();
    let out = steward(&["keys", "create", "--role", "auditor", "--data-dir", dir.path().to_str().unwrap()]);
    assert!(out.status.success());
    let stdout = text(&out.stdout);
    assert_eq!(stdout.lines().count(), 1);
    assert!(stdout.starts_with("stw_"));
    let out = steward(&["keys", "create", "--role", "root", "--data-dir", dir.path().to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("unknown role"));
}

#[test]
fn keys_are_listed_without_secrets_and_revoked_by_id() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let secret = text(&steward(&["keys", "create", "--role", "ingest", "--data-dir", data]).stdout);
    let listed = text(&steward(&["keys", "list", "--data-dir", data]).stdout);
    let id = listed.split_whitespace().next().unwrap().to_string();
    assert!(secret.starts_with(&format!("stw_{}_", id.trim_start_matches("k_"))), "{secret} {listed}");
    assert!(!listed.contains(secret.trim()) && listed.contains("ingest") && !listed.contains("revoked"), "{listed}");

    let out = steward(&["keys", "revoke", "--data-dir", data, &id]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&steward(&["keys", "list", "--data-dir", data]).stdout).contains("revoked"));
    let out = steward(&["keys", "revoke", "--data-dir", data, "k_nobody"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("no key with id \"k_nobody\""), "{}", text(&out.stderr));
    // Created and revoked, both in the audit chain.
    assert!(text(&steward(&["audit", "verify", "--data-dir", data]).stdout).contains("2 entries"));
}

#[test]
fn policy_check_accepts_the_default_and_names_lines_of_errors() {
    let default = concat!(env!("CARGO_MANIFEST_DIR"), "/../../policies/default.toml");
    let out = steward(&["policy", "check", default]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // Each rule with its estimated cost, against the budget.
    let stdout = text(&out.stdout);
    assert!(stdout.contains("budget 50000"), "{stdout}");
    assert!(stdout.lines().any(|l| l.trim_start().starts_with("ai-unlabelled") && l.contains(" steps ")), "{stdout}");
    // The review queues with their claim time, and the routes in order.
    assert!(stdout.lines().any(|l| l.trim_start().starts_with("appeals") && l.contains(" min ")), "{stdout}");
    assert!(stdout.contains("route reported-high-reach (line "), "{stdout}");

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "version = \"t\"\n\n[[rules]]\nid = \"r1\"\nground = \"g\"\ncategory = \"c\"\nwhen = \"has(signals.no_such_signal)\"\nactions = [{ type = \"explode\" }]\nreason = \"x\"\n",
    )
    .unwrap();
    let out = steward(&["policy", "check", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.contains("bad.toml:7:"), "{stderr}");
    assert!(stderr.contains("no_such_signal"), "{stderr}");
    assert!(stderr.contains("explode"), "{stderr}");

    // The server refuses to start on it.
    let out = steward(&["serve", "--data-dir", dir.path().to_str().unwrap(), "--policy", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("no_such_signal"));
}

/// Issue 21: a rule that passed the check and then blocked ingest for minutes.
#[test]
fn policy_check_refuses_a_rule_over_its_budget() {
    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("nested.toml");
    std::fs::write(
        &nested,
        "version = \"t\"\n\n[[rules]]\nid = \"r1\"\nground = \"g\"\ncategory = \"c\"\nwhen = \"lists.range(100).all(a, lists.range(100).all(b, lists.range(100).all(c, a + b + c >= 0)))\"\nactions = [{ type = \"remove\" }]\nreason = \"x\"\n",
    )
    .unwrap();
    let out = steward(&["policy", "check", nested.to_str().unwrap()]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.contains("nested.toml:7:"), "{stderr}");
    assert!(stderr.contains("over the budget of 50,000 steps a rule"), "{stderr}");
}

#[test]
fn audit_verify_names_the_first_tampered_entry() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let file = dir.path().join("e.ndjson");
    let lines: Vec<String> = (0..5).map(|i| event(&format!("x{i}"))).collect();
    std::fs::write(&file, lines.join("\n")).unwrap();
    assert!(steward(&["ingest", "--data-dir", d, file.to_str().unwrap()]).status.success());
    let out = steward(&["audit", "verify", "--data-dir", d]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // The policy put in force, a decision for each event, the rows the ingest added.
    assert!(text(&out.stdout).contains("7 entries"), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("5 events, 5 decisions"), "{}", text(&out.stdout));
    assert!(text(&out.stderr).contains("warning: the chain is unanchored"), "{}", text(&out.stderr));

    let db = rusqlite::Connection::open(dir.path().join("steward.db")).unwrap();
    db.execute("UPDATE audit SET body = replace(body, 'ai-unlabelled', 'nothing') WHERE seq = 3", []).unwrap();
    drop(db);
    let out = steward(&["audit", "verify", "--data-dir", d]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("entry 3"), "{}", text(&out.stderr));
}

#[test]
fn demo_runs_without_serving() {
    let dir = tempfile::tempdir().unwrap();
    let out = steward(&["demo", "--no-serve", "--data-dir", dir.path().join("demo").to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("ai-unlabelled"), "{stdout}");
    assert!(stdout.contains("成都警方官方"), "the rename to a police name should be flagged:\n{stdout}");
    assert!(stdout.contains("ladder."), "the content farm should cross a ladder threshold:\n{stdout}");
    assert!(stdout.contains("threshold-evasion"), "the farm's follower purge should be caught:\n{stdout}");
    assert!(stdout.contains("because: decision"), "the farm should stay disclosed:\n{stdout}");
    assert!(stdout.contains("acct-li post"), "the self-styled doctor should be caught:\n{stdout}");
    assert!(stdout.contains("hash chain intact"), "{stdout}");
    assert!(stdout.contains("rejected line"), "{stdout}");
}

#[test]
fn ingest_and_verify_on_postgres_when_configured() {
    let Ok(url) = std::env::var("STEWARD_TEST_DATABASE_URL") else {
        assert_ne!(std::env::var("STEWARD_REQUIRE_POSTGRES").as_deref(), Ok("1"), "PostgreSQL is required");
        eprintln!("PostgreSQL skipped: set STEWARD_TEST_DATABASE_URL to run it");
        return;
    };
    let schema = format!("steward_cli_{}", std::process::id());
    let mut admin = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    admin.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}")).unwrap();
    let sep = if url.contains('?') { '&' } else { '?' };
    let scoped = format!("{url}{sep}options=-csearch_path%3D{schema}");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("e.ndjson");
    std::fs::write(&file, format!("{}\n{}\n", event("pg1"), event("pg2"))).unwrap();
    let out = steward(&["ingest", "--database-url", &scoped, file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("2 accepted"), "{}", text(&out.stderr));
    let out = steward(&["keys", "create", "--role", "admin", "--database-url", &scoped]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = steward(&["audit", "verify", "--database-url", &scoped]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("5 entries"), "{}", text(&out.stdout));
    admin.batch_execute(&format!("DROP SCHEMA {schema} CASCADE")).unwrap();
}

#[test]
fn eval_claims_scores_a_labelled_file_and_shows_its_errors() {
    let dir = tempfile::tempdir().unwrap();
    let factchecks = dir.path().join("factchecks.jsonl");
    let posts = dir.path().join("posts.jsonl");
    let check = |id: &str, claim: &str| {
        format!(
            r#"{{"id":"{id}","claim":"{claim}","verdict":"false","explanation":"","publisher":"t","url":"","language":"zh"}}"#
        )
    };
    std::fs::write(
        &factchecks,
        [check("hot-water", "喝热水能杀死新冠病毒"), check("towers", "5G基站会传播新冠病毒")].join("\n"),
    )
    .unwrap();
    std::fs::write(
        &posts,
        [
            r#"{"id":"p1","text":"听说喝热水能杀死新冠病毒，转给家人","expected":"hot-water"}"#,
            r#"{"id":"p2","text":"5G基站会传播新冠病毒！快转","expected":"hot-water"}"#,
            r#"{"id":"p3","text":"今天的菜市场人很多","expected":null}"#,
        ]
        .join("\n"),
    )
    .unwrap();
    let (f, p) = (factchecks.to_str().unwrap(), posts.to_str().unwrap());
    let out = steward(&["eval", "claims", "--factchecks", f, "--posts", p, "--show-errors"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["positives"], 2);
    assert_eq!(report["recall_at_1"], 0.5);
    assert_eq!(report["false_match_rate"], 0.0);
    let stderr = text(&out.stderr);
    assert!(stderr.contains("missed p2: expected hot-water (ranked 2)"), "{stderr}");
    assert!(stderr.contains("matched towers"), "{stderr}");
    assert!(!stderr.contains("p1") && !stderr.contains("p3"), "{stderr}");

    // A post naming a fact-check the file lacks is an error, not a silent miss.
    std::fs::write(&posts, r#"{"id":"p9","text":"x","expected":"nowhere"}"#).unwrap();
    let out = steward(&["eval", "claims", "--factchecks", f, "--posts", p]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("nowhere"), "{}", text(&out.stderr));
}

#[test]
fn bench_sketch_times_passes_for_at_least_min_seconds_and_finds_copies() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("posts.jsonl");
    let mut lines = String::new();
    for i in 0..40 {
        // Ten copies each of four texts, an hour apart.
        let text = [
            "今天下午三点在人民广场集合大家一起转发",
            "这家店的奶茶真的很好喝推荐给大家尝尝",
            "the quick brown fox jumps over the lazy dog",
            "周末去爬山的朋友记得带好水和干粮注意安全",
        ][i % 4];
        lines.push_str(&format!("{{\"created_at\":{},\"text\":\"{text}\"}}\n", 1_700_000_000 + i * 3600));
    }
    std::fs::write(&file, lines).unwrap();
    let started = std::time::Instant::now();
    let out = steward(&[
        "bench",
        "sketch",
        "--posts",
        file.to_str().unwrap(),
        "--runs",
        "2",
        "--queries",
        "40",
        "--min-seconds",
        "0.2",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // Two runs of the text loop and two of the shingle loop, each lasting at least 0.2 s.
    assert!(started.elapsed().as_secs_f64() >= 0.8);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["posts"], 40);
    assert_eq!(report["min_seconds"], 0.2);
    // Seconds are per pass over the corpus, not per run.
    assert!(report["seconds"].as_f64().unwrap() < 0.2, "{report}");
    // Every post is sampled: the 45 pairs of copies of each of the four texts are the truth.
    assert_eq!(report["truth_pairs"], 4 * 45);
    assert_eq!(report["pair_recall"], 1.0);

    let out = steward(&["bench", "sketch", "--posts", file.to_str().unwrap(), "--min-seconds=-1"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("--min-seconds"), "{}", text(&out.stderr));
}
