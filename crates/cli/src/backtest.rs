//! `steward backtest`: replays event files through the detectors and a policy on a
//! throwaway store, at full pipeline speed, and reports what each rule would have done:
//! events matched, share of posts, accounts affected, breakers tripped. With `--against`,
//! a second policy replays the same events and the decisions that differ are listed with
//! samples (text, signals, reason). Draft rules run as if live; shadow rules as in
//! production (recorded, not enforced), and so do the circuit breakers.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde::Serialize;
use serde_json::{Value, json};
use steward_engine::{Engine, EngineOptions};
use steward_model::Decision;
use steward_policy::Policy;
use steward_store::{Store, TrippedBreaker};

use crate::excerpt::excerpt;
use crate::ingest::{Totals, ingest_files};

/// Decisions read from the throwaway store per page.
const PAGE: usize = 10_000;

#[derive(clap::Args)]
pub struct BacktestArgs {
    /// NDJSON event files (as for `steward ingest`; `-` reads standard input).
    #[arg(long, required = true, num_args = 1..)]
    events: Vec<PathBuf>,
    /// Policy to replay with; the shipped default when omitted.
    #[arg(long)]
    policy: Option<PathBuf>,
    /// A second policy to replay the same events with, listing the decisions that differ.
    #[arg(long)]
    against: Option<PathBuf>,
    /// Samples shown per rule (and per side of a difference).
    #[arg(long, default_value_t = 3)]
    samples: usize,
    /// One JSON object on standard output instead of tables.
    #[arg(long)]
    json: bool,
}

/// One rule's figures in a replay.
#[derive(Debug, Serialize)]
struct RuleFigures {
    rule: String,
    mode: String,
    /// Events the rule decided on (live or shadow).
    events: usize,
    /// Share of the replay's posts it decided on.
    share_of_posts: f64,
    accounts: usize,
    live: usize,
    shadow: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    breaker_tripped_at: Option<String>,
    samples: Vec<Value>,
}

/// A replay of the events under one policy.
struct Replay {
    version: String,
    totals: Totals,
    posts: usize,
    seconds: f64,
    decisions: Vec<Decision>,
    tripped: Vec<TrippedBreaker>,
    store: Arc<dyn Store>,
    _dir: tempfile::TempDir,
}

fn load(path: Option<&std::path::Path>) -> Result<Arc<Policy>> {
    steward_engine::load_policy(path).map(Arc::new).map_err(|e| anyhow::anyhow!("the policy is invalid:\n{e}"))
}

fn replay(policy: Arc<Policy>, files: &[PathBuf]) -> Result<Replay> {
    let dir = tempfile::tempdir().context("creating a throwaway store")?;
    let store = steward_store::open(dir.path(), None)?;
    let options = EngineOptions { drafts: true, activated_by: "backtest".into(), ..EngineOptions::default() };
    let version = policy.version.clone();
    let mut engine = Engine::open(store.clone(), policy, options)?;
    let started = Instant::now();
    let (totals, ingested) = ingest_files(&mut engine, files);
    ingested.context("the replay stopped")?;
    let seconds = started.elapsed().as_secs_f64();
    drop(engine);
    let posts = store.entities("post")?.len();
    let mut decisions = Vec::new();
    let mut after = 0;
    loop {
        let page = store.decisions_after(after, PAGE)?;
        let Some((last, _)) = page.last() else { break };
        after = *last;
        decisions.extend(page.into_iter().map(|(_, d)| d));
    }
    let tripped = store.tripped_breakers()?;
    Ok(Replay { version, totals, posts, seconds, decisions, tripped, store, _dir: dir })
}

/// What a reviewer reads of one decision: the post's text or the account's name and bio,
/// the signals, the reason.
fn sample(store: &dyn Store, d: &Decision) -> Value {
    let stored = store.event(&d.event_id).ok().flatten();
    let record: Value = stored.and_then(|e| serde_json::from_str(&e.body).ok()).unwrap_or(Value::Null);
    let text = if let Some(post) = record.get("post") {
        let title = post.get("title").and_then(Value::as_str).map(|t| format!("【{t}】")).unwrap_or_default();
        format!("{title}{}", post.get("text").and_then(Value::as_str).unwrap_or_default())
    } else if let Some(account) = record.get("account") {
        let field = |k: &str| account.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
        format!("{} / {}", field("display_name"), field("bio"))
    } else {
        String::new()
    };
    let signals: Vec<Value> = d.facts["signals"]
        .as_array()
        .map(|s| {
            s.iter().map(|s| json!({ "name": s["name"], "score": s["score"], "evidence": s["evidence"] })).collect()
        })
        .unwrap_or_default();
    json!({
        "decision": d.id,
        "shadow": d.shadow,
        "text": excerpt(&text, 200),
        "signals": signals,
        "reason": d.explanation,
    })
}

/// Spread-out picks: the same every run, from the whole replay rather than its start.
fn picks<T>(items: &[T], n: usize) -> impl Iterator<Item = &T> {
    let step = items.len().div_ceil(n.max(1)).max(1);
    items.iter().step_by(step).take(n)
}

fn figures(policy: &Policy, r: &Replay, samples: usize) -> Vec<RuleFigures> {
    let mut by_rule: BTreeMap<&str, Vec<&Decision>> = BTreeMap::new();
    for d in &r.decisions {
        by_rule.entry(d.rule_id.as_str()).or_default().push(d);
    }
    let mut ids: Vec<&str> = policy.rules.iter().map(|r| r.id.as_str()).collect();
    ids.extend(by_rule.keys().filter(|k| policy.rule(k).is_none()));
    ids.into_iter()
        .map(|id| {
            let ds = by_rule.get(id).map(Vec::as_slice).unwrap_or_default();
            let events: HashSet<&str> = ds.iter().map(|d| d.event_id.as_str()).collect();
            let posts: HashSet<&str> = ds.iter().filter_map(|d| d.post_id.as_deref()).collect();
            let accounts: HashSet<&str> = ds.iter().filter_map(|d| d.account_id.as_deref()).collect();
            let mode = policy.rule(id).map_or("ladder", |rule| rule.mode.as_str());
            RuleFigures {
                rule: id.to_string(),
                mode: mode.to_string(),
                events: events.len(),
                share_of_posts: posts.len() as f64 / r.posts.max(1) as f64,
                accounts: accounts.len(),
                live: ds.iter().filter(|d| !d.shadow).count(),
                shadow: ds.iter().filter(|d| d.shadow).count(),
                breaker_tripped_at: r.tripped.iter().find(|b| b.rule_id == id).map(|b| b.tripped_at.to_rfc3339()),
                samples: picks(ds, samples).map(|d| sample(r.store.as_ref(), d)).collect(),
            }
        })
        .collect()
}

fn summary(policy: &Policy, r: &Replay, samples: usize) -> Value {
    let decided: HashSet<&str> =
        r.decisions.iter().filter(|d| !d.shadow).filter_map(|d| d.post_id.as_deref()).collect();
    let any: HashSet<&str> = r.decisions.iter().filter_map(|d| d.post_id.as_deref()).collect();
    let events = r.totals.accepted + r.totals.duplicates + r.totals.rejected;
    json!({
        "version": r.version,
        "events": events,
        "accepted": r.totals.accepted,
        "rejected": r.totals.rejected,
        "posts": r.posts,
        "seconds": r.seconds,
        "events_per_second": events as f64 / r.seconds.max(1e-9),
        "posts_decided": decided.len(),
        "share_of_posts_decided": decided.len() as f64 / r.posts.max(1) as f64,
        "posts_decided_with_shadow": any.len(),
        "decisions": r.decisions.len(),
        "rules": figures(policy, r, samples),
    })
}

/// Decisions by (event, rule), whatever their mode.
fn keyed(r: &Replay) -> HashMap<(&str, &str), &Decision> {
    r.decisions.iter().map(|d| ((d.event_id.as_str(), d.rule_id.as_str()), d)).collect()
}

fn differences(a: &Replay, b: &Replay, samples: usize) -> Value {
    let (ka, kb) = (keyed(a), keyed(b));
    fn only<'a>(x: &HashMap<(&str, &str), &'a Decision>, y: &HashMap<(&str, &str), &Decision>) -> Vec<&'a Decision> {
        let mut v: Vec<&Decision> = x.iter().filter(|(k, _)| !y.contains_key(*k)).map(|(_, d)| *d).collect();
        v.sort_by(|p, q| p.id.cmp(&q.id));
        v
    }
    let changed: Vec<&Decision> = {
        let mut v: Vec<&Decision> = ka
            .iter()
            .filter(|(k, d)| kb.get(*k).is_some_and(|e| e.actions != d.actions || e.shadow != d.shadow))
            .map(|(_, d)| *d)
            .collect();
        v.sort_by(|p, q| p.id.cmp(&q.id));
        v
    };
    let (only_a, only_b) = (only(&ka, &kb), only(&kb, &ka));
    let by_rule = |ds: &[&Decision], store: &dyn Store| -> Value {
        let mut groups: BTreeMap<&str, Vec<&Decision>> = BTreeMap::new();
        for d in ds {
            groups.entry(d.rule_id.as_str()).or_default().push(d);
        }
        groups
            .into_iter()
            .map(|(rule, ds)| {
                let shown: Vec<Value> = picks(&ds, samples).map(|d| sample(store, d)).collect();
                json!({ "rule": rule, "decisions": ds.len(), "samples": shown })
            })
            .collect()
    };
    json!({
        "only_policy": { "decisions": only_a.len(), "by_rule": by_rule(&only_a, a.store.as_ref()) },
        "only_against": { "decisions": only_b.len(), "by_rule": by_rule(&only_b, b.store.as_ref()) },
        "changed_actions_or_mode": { "decisions": changed.len(), "by_rule": by_rule(&changed, a.store.as_ref()) },
    })
}

fn print_side(label: &str, s: &Value) {
    println!(
        "{label} {}: {} events ({} posts) in {:.1} s, {:.0} events/s; live decisions on {} posts ({:.2}%), {} with shadow rules",
        s["version"].as_str().unwrap_or_default(),
        s["events"],
        s["posts"],
        s["seconds"].as_f64().unwrap_or_default(),
        s["events_per_second"].as_f64().unwrap_or_default(),
        s["posts_decided"],
        100.0 * s["share_of_posts_decided"].as_f64().unwrap_or_default(),
        s["posts_decided_with_shadow"],
    );
    println!(
        "  {:<34} {:<7} {:>8} {:>8} {:>9} {:>8} {:>8}  breaker",
        "rule", "mode", "events", "posts%", "accounts", "live", "shadow"
    );
    for r in s["rules"].as_array().into_iter().flatten() {
        let n = |k: &str| r[k].as_u64().unwrap_or_default();
        println!(
            "  {:<34} {:<7} {:>8} {:>7.3}% {:>9} {:>8} {:>8}  {}",
            r["rule"].as_str().unwrap_or_default(),
            r["mode"].as_str().unwrap_or_default(),
            n("events"),
            100.0 * r["share_of_posts"].as_f64().unwrap_or_default(),
            n("accounts"),
            n("live"),
            n("shadow"),
            r["breaker_tripped_at"].as_str().map_or("-".to_string(), |t| format!("tripped at {t}")),
        );
    }
    for r in s["rules"].as_array().into_iter().flatten() {
        print_samples(r["rule"].as_str().unwrap_or_default(), &r["samples"]);
    }
}

fn print_samples(rule: &str, samples: &Value) {
    for x in samples.as_array().into_iter().flatten() {
        let signals: Vec<&str> =
            x["signals"].as_array().into_iter().flatten().filter_map(|s| s["name"].as_str()).collect();
        println!(
            "    {rule}{}: {:?} [{}]\n      {}",
            if x["shadow"] == true { " (shadow)" } else { "" },
            x["text"].as_str().unwrap_or_default(),
            signals.join(", "),
            excerpt(x["reason"].as_str().unwrap_or_default(), 240),
        );
    }
}

pub fn run(args: BacktestArgs) -> Result<ExitCode> {
    if args.events.iter().any(|p| p.as_os_str() == "-") && args.against.is_some() {
        bail!("--against replays the events twice, so it needs files, not standard input");
    }
    let policy = load(args.policy.as_deref())?;
    let against = args.against.as_deref().map(|p| load(Some(p))).transpose()?;
    let a = replay(policy.clone(), &args.events)?;
    let mut out = json!({ "policy": summary(&policy, &a, args.samples) });
    if let Some(q) = &against {
        let b = replay(q.clone(), &args.events)?;
        out["against"] = summary(q, &b, args.samples);
        out["differences"] = differences(&a, &b, args.samples);
    }
    if args.json {
        println!("{out}");
    } else {
        print_side("policy", &out["policy"]);
        if against.is_some() {
            print_side("against", &out["against"]);
            for (side, label) in [
                ("only_policy", "only the policy"),
                ("only_against", "only --against"),
                ("changed_actions_or_mode", "both, differently"),
            ] {
                let d = &out["differences"][side];
                println!("decided by {label}: {}", d["decisions"]);
                for r in d["by_rule"].as_array().into_iter().flatten() {
                    println!(
                        "  {:<34} {:>8}",
                        r["rule"].as_str().unwrap_or_default(),
                        r["decisions"].as_u64().unwrap_or_default()
                    );
                    print_samples(r["rule"].as_str().unwrap_or_default(), &r["samples"]);
                }
            }
        }
    }
    Ok(if a.totals.rejected > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_spread_over_the_whole_list() {
        let v: Vec<usize> = (0..10).collect();
        assert_eq!(picks(&v, 3).copied().collect::<Vec<_>>(), vec![0, 4, 8]);
        assert_eq!(picks(&v, 20).count(), 10);
        assert_eq!(picks(&v, 0).count(), 0);
        assert_eq!(picks::<usize>(&[], 3).count(), 0);
    }
}
