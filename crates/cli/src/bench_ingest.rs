//! `steward bench ingest` and `steward bench flood`: events/s and decisions/s through the
//! path `steward ingest` takes (a reader thread parsing ahead, the engine, each batch
//! committed while the next is processed), on a throwaway store.
//!
//! `ingest` replays an event file, after loading fact-checks and the identity registry the
//! way `steward kb import` and `steward registry import` do. `flood` makes a stream where
//! every post ends in a decision: AI-generated posts published without the label, from
//! accounts that post again and again, so credit is deducted and the credit ladder fires.
//! Only the ingest is timed; the audit chain is verified afterwards.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use chrono::{Duration, SecondsFormat, Utc};
use serde_json::json;
use steward_engine::Engine;

/// Where the events come from and what is loaded first.
pub struct Setup<'a> {
    pub factchecks: Option<&'a Path>,
    pub registry: Option<&'a Path>,
    pub policy: Option<&'a Path>,
    pub database_url: Option<&'a str>,
}

/// Replays `events` (its first `limit` lines when given).
pub fn ingest(events: &Path, limit: Option<usize>, setup: &Setup) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let file = match limit {
        None => events.to_path_buf(),
        Some(n) => {
            let cut = dir.path().join("events.ndjson");
            copy_lines(events, &cut, n)?;
            cut
        }
    };
    run("ingest", &dir, &file, setup, json!({ "file": events.display().to_string(), "limit": limit }))
}

/// `posts` AI-generated, unlabelled posts from accounts posting `per_account` times each.
pub fn flood(posts: usize, per_account: usize, setup: &Setup) -> Result<()> {
    anyhow::ensure!(per_account > 0, "--per-account must be at least 1");
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("flood.ndjson");
    let accounts = posts.div_ceil(per_account);
    write_flood(&file, posts, accounts)?;
    run("flood", &dir, &file, setup, json!({ "posts": posts, "accounts": accounts, "per_account": per_account }))
}

fn run(name: &str, dir: &tempfile::TempDir, file: &Path, setup: &Setup, about: serde_json::Value) -> Result<()> {
    let store = steward_store::open(dir.path(), setup.database_url)?;
    anyhow::ensure!(store.event_count()? == 0, "the bench needs an empty store; this one holds events already");
    let policy = crate::load_policy(store.as_ref(), setup.policy)?;
    let offset = chrono::FixedOffset::east_opt(0).context("UTC offset")?;
    if let Some(f) = setup.factchecks {
        crate::kb::import(store.clone(), policy.clone(), &[f.to_path_buf()], crate::kb::Format::Auto, offset)?;
    }
    if let Some(r) = setup.registry {
        crate::registry::import(store.clone(), policy.clone(), r)?;
    }
    let loaded = store.event_count()?;
    // As `steward ingest` does: open the engine over the store, then time the stream.
    let opening = Instant::now();
    let mut engine = Engine::open(store.clone(), policy, Default::default())?;
    let open_seconds = opening.elapsed().as_secs_f64();
    let started = Instant::now();
    let cpu_before = cpu_seconds();
    let (totals, result) = crate::ingest::ingest_files(&mut engine, &[file.to_path_buf()]);
    result?;
    let seconds = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds().zip(cpu_before).map(|(after, before)| after - before);
    drop(engine);
    let stored = store.event_count()? - loaded;
    anyhow::ensure!(stored as usize == totals.accepted, "stored {stored} of {} accepted events", totals.accepted);
    let verifying = Instant::now();
    let audited = steward_store::audit::verify(store.as_ref())?;
    let verify_seconds = verifying.elapsed().as_secs_f64();
    let events = totals.accepted + totals.duplicates + totals.rejected;
    println!(
        "{}",
        json!({
            "bench": name,
            "backend": store.backend(),
            "input": about,
            "events": events,
            "rejected": totals.rejected,
            "decisions": totals.decisions,
            "decisions_by_rule": totals.by_rule,
            "open_seconds": open_seconds,
            "seconds": seconds,
            "events_per_second": events as f64 / seconds,
            "cpu_seconds": cpu,
            "decisions_per_second": totals.decisions as f64 / seconds,
            "audit_entries_verified": audited.entries,
            "audit_rows_verified": audited.rows.events + audited.rows.decisions + audited.rows.restrictions
                + audited.rows.credits,
            "audit_verify_seconds": verify_seconds,
        })
    );
    Ok(())
}

/// CPU time (user and system, all threads) the process has used so far, from
/// `/proc/self/stat` (Linux; in clock ticks of 1/100 s, the USER_HZ of every Linux port):
/// on a shared machine, what the work cost whatever else ran. `None` elsewhere.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name may hold spaces; fields are counted after its closing parenthesis.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i)?.parse::<u64>().ok();
    // utime and stime are fields 14 and 15 of the line; the first after the name is field 3.
    Some((ticks(11)? + ticks(12)?) as f64 / 100.0)
}

fn copy_lines(from: &Path, to: &Path, n: usize) -> Result<()> {
    let input = BufReader::new(std::fs::File::open(from).with_context(|| format!("cannot open {}", from.display()))?);
    let mut out = BufWriter::new(std::fs::File::create(to)?);
    for line in input.lines().take(n) {
        writeln!(out, "{}", line.with_context(|| format!("reading {}", from.display()))?)?;
    }
    out.flush()?;
    Ok(())
}

/// The flood: each account is upserted before its first post, then posts go round the
/// accounts, one a second of event time ending a minute ago.
fn write_flood(file: &PathBuf, posts: usize, accounts: usize) -> Result<()> {
    let start = Utc::now() - Duration::seconds(posts as i64 + 60);
    let mut out = BufWriter::new(std::fs::File::create(file)?);
    for i in 0..posts {
        let at = (start + Duration::seconds(i as i64)).to_rfc3339_opts(SecondsFormat::Secs, true);
        let account = i % accounts;
        if i < accounts {
            writeln!(
                out,
                r#"{{"id":"flood-a{account}","type":"account.upserted","at":"{at}","account":{{"id":"f{account}","handle":"f{account}","display_name":"用户{account}","followers":{}}}}}"#,
                100 + account * 7
            )?;
        }
        let text = crate::bench::post_text(i);
        writeln!(
            out,
            r#"{{"id":"flood-{i}","type":"post.created","at":"{at}","post":{{"id":"fp{i}","account_id":"f{account}","kind":"short_post","text":"{text}","created_at":"{at}","ai_generated":{{"declared":true,"implicit_label":false}},"explicit_label":false}}}}"#
        )?;
    }
    out.flush()?;
    Ok(())
}

/// Counts decisions by rule.
pub fn count_rules(by_rule: &mut BTreeMap<String, usize>, decisions: &[steward_model::Decision]) {
    for d in decisions {
        match by_rule.get_mut(&d.rule_id) {
            Some(n) => *n += 1,
            None => {
                by_rule.insert(d.rule_id.clone(), 1);
            }
        }
    }
}
