//! Micro-benchmark of rule evaluation. Run in release mode:
//!
//! ```sh
//! cargo test --release -p steward-policy --test bench -- --ignored --nocapture
//! ```

mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use common::*;
use steward_model::{Event, Signal};
use steward_policy::{Input, Policy, Schema};

/// Ten rules of the kinds a platform runs, over several signals.
const TEN_RULES: &str = r#"
version = "bench-1"
[[queues]]
id = "minors"
description = "Protection of minors"
[[queues]]
id = "large-accounts"
description = "Large accounts"
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

/// A post and an account as large as the limits allow, and a signal with long evidence: the
/// worst input the cost estimate has to bound.
fn largest_input() -> (Event, Event, Vec<Signal>) {
    let limits = steward_model::Limits::default();
    // Chinese characters (3 bytes each) with a space every tenth.
    let mut text = String::new();
    for i in 0u32.. {
        let c = if i % 10 == 9 { ' ' } else { char::from_u32(0x4e00 + (i * 7919) % 20000).unwrap() };
        if text.len() + c.len_utf8() > limits.max_text_bytes {
            break;
        }
        text.push(c);
    }
    let post = serde_json::json!({"id": "e1", "type": "post.created", "at": "2026-11-22T08:00:00Z", "post": {
        "id": "p1", "account_id": "a1", "kind": "article", "title": text, "text": text,
        "created_at": "2026-11-22T08:00:00Z"}});
    let features: Vec<String> = (0..limits.max_list_items).map(|i| format!("{i:0>200}")).collect();
    let account = serde_json::json!({"id": "e0", "type": "account.upserted", "at": "2026-11-22T07:00:00Z",
        "account": {"id": "a1", "handle": "h", "display_name": text, "bio": text, "monetization": features}});
    let cues: Vec<String> = (0..limits.max_list_items).map(|i| format!("cue {i}")).collect();
    let signals = vec![Signal::new("clickbait", "clickbait", 1, 0.9).with("cues", cues).with("language", text)];
    (event(&post.to_string()), event(&account.to_string()), signals)
}

/// How long a step of the cost estimate takes on the largest input, for conditions of every
/// kind of work: the estimate's constants are set so that none takes much more than 0.1 µs
/// a step.
#[test]
#[ignore = "benchmark: run with --release -- --ignored --nocapture"]
fn cost_calibration() {
    let conditions = [
        "lists.range(100).all(a, lists.range(100).all(b, a + b >= 0))",
        "lists.range(3000).exists(a, a < 0)",
        "lists.range(1000).map(x, x * 2).filter(x, x % 3 == 0).size() < 0",
        "account.monetization.exists(m, m.startsWith('ads') || m.endsWith('x'))",
        "account.monetization.exists(m, m.contains('tips'))",
        "'ads' in account.monetization",
        "signals.clickbait.evidence.cues.exists(c, c == 'x')",
        "post.text.contains('不存在的词')",
        "post.text.size() < 10 || post.title.size() < 10",
        "post.text.indexOf('不存在的词') > 0",
        "post.text.lowerAscii().size() < 10",
        "post.text.replace('一', '二二').size() < 10",
        "post.text.split(' ').size() < 10",
        "post.text.split(' ').exists(w, w == '一')",
        "post.title + post.text == post.text + post.title",
        "[post.text, post.title, account.bio].join('-').size() < 10",
        "'%s %s'.format([post.text, post.title]).size() < 10",
        "post.text.matches('^(点击|领取)')",
        "post.text.matches('点击.*领取')",
        "post.text.matches('\\\\b(点击|领取)\\\\w+')",
        "post.text.matches('(?i)click here|free gift')",
        "lists.range(200).distinct().size() < 0",
        "lists.range(2000).sort().size() < 0",
        "lists.range(30).map(i, lists.range(30)).flatten().size() < 0",
    ];
    let (post, account_event, signals) = largest_input();
    let input = Input::new(&post, &signals).with_account(account(&account_event));
    println!();
    println!("{:<75} {:>9} {:>9} {:>10} {:>8}", "condition", "estimate", "counted", "µs", "ns/step");
    for when in conditions {
        let text = format!(
            "version = \"c\"\n[[rules]]\nid = \"r\"\nground = \"g\"\ncategory = \"c\"\nwhen = {when:?}\nactions = [{{ type = \"remove\" }}]\nreason = \"r\"\n"
        );
        let huge = steward_policy::Budget { rule_cost: u64::MAX / 2, eval_steps: u64::MAX / 2 };
        let policy =
            Policy::parse(&text, "c.toml", &bench_schema().with_budget(huge)).unwrap_or_else(|e| panic!("{e}"));
        let evaluation = policy.evaluate_all(&input);
        assert!(evaluation.errors.is_empty(), "{when}: {:?}", evaluation.errors);
        let mut best = Duration::MAX;
        for _ in 0..5 {
            let start = Instant::now();
            black_box(policy.evaluate_all(&input).matches.len());
            best = best.min(start.elapsed());
        }
        let estimate = policy.rules[0].cost();
        let ns = best.as_secs_f64() * 1e9 / estimate as f64;
        println!(
            "{:<75} {estimate:>9} {:>9} {:>10.1} {ns:>8.1}",
            when.chars().take(75).collect::<String>(),
            evaluation.steps,
            best.as_secs_f64() * 1e6
        );
        assert!(evaluation.steps <= estimate, "{when}: counted {} over the estimate {estimate}", evaluation.steps);
    }
}
