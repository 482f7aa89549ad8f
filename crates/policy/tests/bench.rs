//! Micro-benchmark of rule evaluation. Run in release mode:
//!
//! ```sh
//! cargo test --release -p steward-policy --test bench -- --ignored --nocapture
//! ```

mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use common::*;
use steward_model::Signal;
use steward_policy::{Input, Policy, Schema};

/// Ten rules of the kinds a platform runs, over several signals.
const TEN_RULES: &str = r#"
version = "bench-1"
[[rules]]
id = "ai-unlabelled"
ground = "g"
category = "ai_unlabelled"
when = "has(signals.unlabelled_ai) && signals.unlabelled_ai.score >= 0.5"
actions = [{ type = "label", label = "ai-generated" }, { type = "limit_reach" }, { type = "deduct_credit", points = 1 }]
reason = "Post {{post.id}} is AI-generated ({{signals.unlabelled_ai.evidence.source}}) but carries no AI label."
[[rules]]
id = "rumour"
ground = "g"
category = "rumour"
when = "has(signals.rumour) && signals.rumour.score >= 0.8 && post != null"
actions = [{ type = "label", label = "disputed" }]
reason = "Post {{post.id}} repeats a claim fact-checkers found false: {{signals.rumour.evidence.claim}}"
[[rules]]
id = "impersonation"
ground = "g"
category = "impersonation"
when = "has(signals.impersonation) && signals.impersonation.score >= 0.9 && account != null && !account.verified"
actions = [{ type = "suspend", days = 30 }]
reason = "{{account.display_name}} poses as {{signals.impersonation.evidence.identity}}."
[[rules]]
id = "spam-repeat"
ground = "g"
category = "spam"
when = "has(signals.spam) && signals.spam.score > 0.7 && standing != null && standing.recent_violations >= 2"
actions = [{ type = "restrict_posting", days = 3 }]
reason = "Repeated spam."
[[rules]]
id = "unqualified-advice"
ground = "g"
category = "unqualified_advice"
when = "has(signals.unqualified_advice) && signals.unqualified_advice.evidence.field in ['medicine', 'law', 'finance']"
actions = [{ type = "limit_reach" }]
reason = "Advice on {{signals.unqualified_advice.evidence.field}} without a verified qualification."
[[rules]]
id = "minor-risk-video"
ground = "g"
category = "minors"
when = "has(signals.minor_risk) && post != null && post.kind in ['video', 'live']"
actions = [{ type = "queue_review", queue = "minors" }]
reason = "Review for the protection of minors."
automated = false
[[rules]]
id = "large-account-rumour"
ground = "g"
category = "rumour"
when = "account != null && account.followers > 1000000 && has(signals.rumour) && signals.rumour.score >= 0.5"
actions = [{ type = "queue_review", queue = "large-accounts" }]
reason = "Large account spreading a disputed claim."
[[rules]]
id = "repost-removed"
ground = "g"
category = "rumour"
when = "post != null && post.reposted_from != null && has(signals.reposted_removed)"
actions = [{ type = "remove" }]
reason = "Repost of removed content {{post.reposted_from}}."
[[rules]]
id = "abuse"
ground = "g"
category = "abuse"
when = "has(signals.abuse) && signals.abuse.score >= 0.6"
actions = [{ type = "remove" }, { type = "deduct_credit", points = 3 }]
reason = "Abuse."
[[rules]]
id = "group-spam"
ground = "g"
category = "spam"
when = "post != null && post.kind == 'group_message' && has(signals.spam)"
actions = [{ type = "remove" }]
reason = "Spam in group {{post.group_id}}."
"#;

fn bench_schema() -> Schema {
    schema()
        .with_signal("impersonation", &["identity"])
        .with_signal("spam", &[])
        .with_signal("unqualified_advice", &["field"])
        .with_signal("minor_risk", &[])
        .with_signal("reposted_removed", &[])
        .with_signal("abuse", &[])
}

/// Best time per call over several rounds.
fn time_per_call(mut f: impl FnMut() -> usize) -> Duration {
    let mut best = Duration::MAX;
    let n = 20_000u32;
    for _ in 0..15 {
        let start = Instant::now();
        for _ in 0..n {
            black_box(f());
        }
        best = best.min(start.elapsed() / n);
    }
    best
}

fn report(name: &str, d: Duration) {
    let us = d.as_secs_f64() * 1e6;
    println!("{name:<58} {us:>7.2} µs/event  {:>10.0} events/s", 1.0 / d.as_secs_f64());
}

#[test]
#[ignore = "benchmark: run with --release -- --ignored --nocapture"]
fn evaluation_speed() {
    let default = Policy::parse(DEFAULT_POLICY, "default.toml", &bench_schema()).unwrap();
    let ten = Policy::parse(TEN_RULES, "ten.toml", &bench_schema()).unwrap();
    let event = post_event();
    let account_event = account_event();
    let standing = standing(70);
    let with_signal = [unlabelled(1.0)];
    let two_signals = [unlabelled(1.0), Signal::new("rumour", "factcheck", 1, 0.6).with("claim", "the river flooded")];
    let input = |signals| Input::new(&event, signals).with_account(account(&account_event)).with_standing(&standing);

    let no_signal = input(&[]);
    let one = input(&with_signal);
    let two = input(&two_signals);
    assert!(default.evaluate(&no_signal).unwrap().is_empty());
    assert_eq!(default.evaluate(&one).unwrap().len(), 1);
    assert_eq!(ten.evaluate(&two).unwrap().len(), 1);

    println!();
    report("default policy (1 rule), no signal", time_per_call(|| default.evaluate(&no_signal).unwrap().len()));
    report(
        "default policy (1 rule), unlabelled_ai: match + reason",
        time_per_call(|| default.evaluate(&one).unwrap().len()),
    );
    report("10 rules, no signal", time_per_call(|| ten.evaluate(&no_signal).unwrap().len()));
    report("10 rules, unlabelled_ai: 1 match + reason", time_per_call(|| ten.evaluate(&one).unwrap().len()));
    report("10 rules, 2 signals: 1 match + reason", time_per_call(|| ten.evaluate(&two).unwrap().len()));
    assert_eq!(ten.runtime_errors(), 0);
}
