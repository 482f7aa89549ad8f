//! The checker and the cost estimator, whatever the condition: loading never panics, and a
//! rule it accepts keeps to its estimate on the largest inputs the limits allow. The steps
//! counted while the rule runs never exceed its estimate, and it is never stopped at the
//! budget.
//!
//! The input is the text of one `when`, put in a rule of an otherwise valid policy: as it
//! is, or, when its first byte is a control character (no condition starts with one), built
//! from the bytes after it by a small grammar of
//! the variables, literals, operators, functions and loops conditions use (most random text
//! is no CEL at all, and the estimate is only tested on what parses and checks).
#![no_main]

use std::sync::OnceLock;

use chrono::TimeZone;
use libfuzzer_sys::fuzz_target;
use serde_json::json;
use steward_model::{Event, Limits, Payload, Restriction, RestrictionKind, Signal, Standing, parse_event};
use steward_policy::{EvalErrorKind, Input, Policy, Schema};

struct Inputs {
    schema: Schema,
    post: Event,
    account: Event,
    standing: Standing,
    signals: Vec<Signal>,
}

/// A post and an account as large as the limits allow, a standing under every kind of
/// restriction, and signals with long evidence.
fn inputs() -> &'static Inputs {
    static INPUTS: OnceLock<Inputs> = OnceLock::new();
    INPUTS.get_or_init(|| {
        let limits = Limits::default();
        let now = chrono::Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap();
        let mut text = String::new();
        for i in 0u32.. {
            let c = if i % 7 == 6 { ' ' } else { char::from_u32(0x4e00 + (i * 7919) % 20000).unwrap() };
            if text.len() + c.len_utf8() > limits.max_text_bytes {
                break;
            }
            text.push(c);
        }
        let parse = |v: serde_json::Value| parse_event(v.to_string().as_bytes(), &limits, now).unwrap();
        let post = parse(json!({"id": "e1", "type": "post.created", "at": "2026-11-22T08:00:00Z", "post": {
            "id": "p1", "account_id": "a1", "kind": "article", "title": text, "text": text,
            "created_at": "2026-11-22T08:00:00Z", "ai_generated": {"declared": true}}}));
        let features: Vec<String> = (0..limits.max_list_items).map(|i| format!("{i:0>250}")).collect();
        let account = parse(json!({"id": "e0", "type": "account.upserted", "at": "2026-11-22T07:00:00Z",
            "account": {"id": "a1", "handle": text, "display_name": text, "bio": text, "followers": 5,
            "monetization": features}}));
        let kinds = [
            RestrictionKind::Posting,
            RestrictionKind::NewFollowers,
            RestrictionKind::Monetization,
            RestrictionKind::Suspended,
            RestrictionKind::Closed,
            RestrictionKind::Disclosure,
        ];
        let restrictions = (0..500)
            .map(|i| Restriction {
                decision_id: format!("d{i}"),
                account_id: "a1".into(),
                post_id: None,
                kind: kinds[i % kinds.len()],
                detail: String::new(),
                start: now,
                end: None,
            })
            .collect();
        let standing = Standing {
            account_id: "a1".into(),
            at: now,
            credit: 40,
            credit_initial: 100,
            restrictions,
            recent_violations: 30,
            disclosure: None,
        };
        let cues: Vec<String> =
            (0..limits.max_list_items).map(|i| format!("{i} {text}").chars().take(300).collect()).collect();
        let schema = steward_engine::schema();
        // Every registered signal, with its evidence keys filled in at the limits.
        let signals = schema
            .signals
            .iter()
            .map(|spec| {
                let mut s = Signal::new(&spec.name, "fuzz", 1, 0.9);
                for (i, key) in spec.evidence.iter().enumerate() {
                    s = match i % 3 {
                        0 => s.with(key, text.as_str()),
                        1 => s.with(key, cues.clone()),
                        _ => s.with(key, json!([cues[..10].to_vec(), {"k": text}])),
                    };
                }
                s
            })
            .collect();
        Inputs { schema, post, account, standing, signals }
    })
}

/// Builds a condition from bytes, each choice taking one.
struct Grammar<'d> {
    bytes: std::slice::Iter<'d, u8>,
    vars: usize,
}

const LEAVES: &[&str] = &[
    "post.text",
    "post.title",
    "post.kind",
    "account.bio",
    "account.monetization",
    "account.followers",
    "standing.restrictions",
    "standing.credit",
    "signals",
    "signals.clickbait.evidence",
    "signals.clickbait.evidence.cues",
    "signals.clickbait.score",
    "event.id",
    "'ab'",
    "''",
    "' '",
    "1",
    "3",
    "2.5",
    "true",
    "null",
    "[1, 2, 3]",
    "['a', 'b']",
    "[[1], [2, 3]]",
    "{'k': [1, 2], 'j': []}",
];

impl Grammar<'_> {
    fn byte(&mut self) -> u8 {
        self.bytes.next().copied().unwrap_or(0)
    }

    fn expr(&mut self, depth: usize) -> String {
        let choice = if depth >= 5 { 0 } else { self.byte() % 5 };
        match choice {
            0 => {
                let b = self.byte() as usize;
                if self.vars > 0 && b % 3 == 0 {
                    format!("v{}", b / 3 % self.vars)
                } else {
                    LEAVES[b % LEAVES.len()].to_string()
                }
            }
            1 => {
                let op = ["+", "==", "!=", "<", "in", "&&", "||", "*", "-"][self.byte() as usize % 9];
                format!("({} {op} {})", self.expr(depth + 1), self.expr(depth + 1))
            }
            2 => {
                let a = self.expr(depth + 1);
                match self.byte() % 22 {
                    0 => format!("{a}.size()"),
                    1 => format!("{a}.contains({})", self.expr(depth + 1)),
                    2 => format!("{a}.startsWith({})", self.expr(depth + 1)),
                    3 => format!("{a}.split({})", self.expr(depth + 1)),
                    4 => format!("{a}.join({})", self.expr(depth + 1)),
                    5 => format!("{a}.replace({}, {})", self.expr(depth + 1), self.expr(depth + 1)),
                    6 => format!("{a}.lowerAscii()"),
                    7 => format!("{a}.matches('^(a|点)+b')"),
                    8 => format!("{a}.distinct()"),
                    9 => format!("{a}.sort()"),
                    10 => format!("{a}.flatten()"),
                    11 => format!("{a}.reverse()"),
                    12 => format!("{a}.indexOf({})", self.expr(depth + 1)),
                    13 => format!("{a}.substring(1)"),
                    14 => format!("'%s-%s'.format([{a}, {}])", self.expr(depth + 1)),
                    15 => format!("string({a})"),
                    16 => format!("lists.range({})", self.byte() as u32 * 8),
                    17 => format!("{a}.slice(0, 2)"),
                    18 => format!("math.greatest({a})"),
                    19 => format!("{a}[{}]", self.expr(depth + 1)),
                    20 => format!("has({a}.x)"),
                    _ => format!("({a} ? {} : {})", self.expr(depth + 1), self.expr(depth + 1)),
                }
            }
            _ => {
                let range = self.expr(depth + 1);
                let var = format!("v{}", self.vars);
                self.vars += 1;
                let body = self.expr(depth + 1);
                let loop_ = match self.byte() % 7 {
                    0 => format!("{range}.all({var}, {body})"),
                    1 => format!("{range}.exists({var}, {body})"),
                    2 => format!("{range}.exists_one({var}, {body})"),
                    3 => format!("{range}.map({var}, {body})"),
                    4 => format!("{range}.filter({var}, {body})"),
                    5 => format!("{range}.map({var}, {body}, {})", self.expr(depth + 1)),
                    _ => format!("{range}.sortBy({var}, {body})"),
                };
                self.vars -= 1;
                loop_
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let generated;
    let when = match data.split_first() {
        Some((mode, rest)) if *mode < 0x20 => {
            generated = Grammar { bytes: rest.iter(), vars: 0 }.expr(0);
            generated.as_str()
        }
        _ => match std::str::from_utf8(data) {
            Ok(text) => text,
            Err(_) => return,
        },
    };
    if when.contains("'''") || when.contains('\r') {
        return;
    }
    let inputs = inputs();
    let text = format!(
        "version = \"fuzz\"\n[[rules]]\nid = \"r\"\nground = \"g\"\ncategory = \"c\"\nwhen = '''{when}'''\nactions = [{{ type = \"remove\" }}]\nreason = \"r\"\n"
    );
    let Ok(policy) = Policy::parse(&text, "fuzz.toml", &inputs.schema) else { return };
    let rule = &policy.rules[0];
    assert!(rule.cost() <= policy.budget().rule_cost);
    // POLICY_COST_SHOW=1 lists what is accepted, e.g. over a corpus with -runs=0.
    let show = std::env::var_os("POLICY_COST_SHOW").is_some();
    let account = match &inputs.account.payload {
        Payload::AccountUpserted(a) => a,
        _ => unreachable!(),
    };
    for input in [
        Input::new(&inputs.post, &inputs.signals).with_account(account).with_standing(&inputs.standing),
        Input::new(&inputs.account, &inputs.signals[..1]).with_standing(&inputs.standing),
        Input::new(&inputs.post, &[]),
    ] {
        let evaluation = policy.evaluate_all(&input);
        assert!(
            evaluation.steps <= rule.cost(),
            "{when}: counted {} steps, over the estimate of {}",
            evaluation.steps,
            rule.cost()
        );
        assert!(
            evaluation.errors.iter().all(|e| e.kind != EvalErrorKind::OverBudget),
            "{when}: stopped within its estimate"
        );
        if show {
            eprintln!("accepted\t{}\t{}\t{}\t{when}", rule.cost(), evaluation.steps, evaluation.errors.len());
        }
    }
});
