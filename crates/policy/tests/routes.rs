//! Review queues and the routes that choose a case's queue: declared and checked at load,
//! with every problem at its line and column; tried in file order on a case, held to the
//! budget of rules.

mod common;

use common::{DEFAULT_POLICY, schema};
use steward_policy::{
    BUILT_IN_QUEUES, Budget, CaseInput, DEFAULT_CLAIM_MINUTES, EvalErrorKind, Evaluated, Policy, PolicyError,
    RULE_STEPS, Schema,
};

fn parse(text: &str) -> Policy {
    Policy::parse(text, "p.toml", &schema()).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// Exactly one error, at `line` and `column`, whose message contains every one of `parts`.
fn one_error(text: &str, line: usize, column: usize, parts: &[&str]) -> PolicyError {
    let errs = match Policy::parse(text, "p.toml", &schema()) {
        Ok(_) => panic!("policy was accepted:\n{text}"),
        Err(e) => e,
    };
    assert_eq!(errs.len(), 1, "expected one error, got:\n{errs}");
    let e = errs.0.into_iter().next().unwrap();
    assert_eq!((e.line, e.column), (line, column), "{e}");
    for p in parts {
        assert!(e.message.contains(p), "{e}\n does not contain {p:?}");
    }
    e
}

/// The column (1-based) where `needle` starts on line `line` of `text`.
fn column_of(text: &str, line: usize, needle: &str) -> usize {
    let l = text.lines().nth(line - 1).unwrap();
    l.find(needle).unwrap_or_else(|| panic!("{needle:?} not on line {line}: {l}")) + 1
}

/// A policy with one queue, `review`, and one route (lines 5-8) before a rule (lines 9-15).
fn with_route(when: &str, queue: &str) -> String {
    format!(
        r#"version = "t1"
[[queues]]
id = "review"
description = "Everything"
[[routes]]
id = "r1"
when = "{when}"
queue = "{queue}"
[[rules]]
id = "rule"
ground = "g"
category = "c"
when = "true"
actions = [{{ type = "queue_review", queue = "review" }}]
reason = "r"
"#
    )
}

fn case<'a>(signals: &'a [String]) -> CaseInput<'a> {
    CaseInput {
        subject: "post",
        category: "false_information",
        queue: "review",
        reporters: 0,
        reporter_weight: 0.0,
        reach: 0,
        decisions: 1,
        signals,
        appeal: false,
    }
}

/// The id of the queue routing chose, if any.
fn routed(policy: &Policy, case: &CaseInput<'_>) -> Option<String> {
    let result = policy.route(case);
    assert!(result.errors.is_empty(), "{:?}", result.errors);
    assert_eq!(result.route.map(|r| &r.queue), result.queue.map(|q| &q.id));
    result.queue.map(|q| q.id.clone())
}

#[test]
fn built_in_queues_exist_undeclared() {
    let policy = parse("version = \"t1\"\n");
    let ids: Vec<&str> = policy.queues().iter().map(|q| q.id.as_str()).collect();
    assert_eq!(ids, ["reports", "appeals", "escalated"]);
    for (q, (id, description)) in policy.queues().iter().zip(BUILT_IN_QUEUES) {
        assert_eq!((q.id.as_str(), q.description.as_str()), (id, description));
        assert!(q.built_in && q.line().is_none());
        assert_eq!(q.claim_minutes, DEFAULT_CLAIM_MINUTES);
    }
    assert!(policy.routes.is_empty());
    let result = policy.route(&case(&[]));
    assert!(result.route.is_none() && result.queue.is_none() && result.errors.is_empty());
    assert_eq!(result.steps, 0);
}

#[test]
fn the_default_policy_declares_the_queues_its_rules_use() {
    let policy = parse(DEFAULT_POLICY);
    for rule in &policy.rules {
        for action in &rule.actions {
            if let steward_model::Action::QueueReview { queue } = action {
                let q = policy.queue(queue).unwrap_or_else(|| panic!("{}: {queue}", rule.id));
                assert!(!q.description.is_empty());
            }
        }
    }
    for route in &policy.routes {
        assert!(policy.queue(&route.queue).is_some(), "{}", route.id);
        assert!(route.cost() > 0 && route.cost() < 100, "{}: {}", route.id, route.cost());
    }
    // `appeals` is declared again for a longer claim; it keeps its place and stays built in.
    let appeals = policy.queue("appeals").unwrap();
    assert!(appeals.built_in && appeals.line().is_some());
    assert_eq!(appeals.claim_minutes, 20);
    assert_eq!(policy.queues()[1].id, "appeals");
    assert_eq!(policy.queue("high-reach").unwrap().claim_minutes, DEFAULT_CLAIM_MINUTES);
    assert!(!policy.queue("high-reach").unwrap().built_in);

    // Many reporters on a large account: high-reach; an appeal stays where it is.
    let big = CaseInput { reporters: 3, reach: 100_000, ..case(&[]) };
    assert_eq!(routed(&policy, &big).as_deref(), Some("high-reach"));
    assert_eq!(routed(&policy, &CaseInput { appeal: true, queue: "appeals", ..big }), None);
    assert_eq!(routed(&policy, &CaseInput { reach: 99_999, ..big }), None);
    // Reports of a campaign go to the campaign reviewers.
    let campaign = CaseInput { subject: "campaign", queue: "reports", reporters: 1, ..case(&[]) };
    assert_eq!(routed(&policy, &campaign).as_deref(), Some("campaigns"));
}

#[test]
fn queues_are_declared_with_a_description_and_a_claim_time() {
    let policy = parse(
        "version = \"t1\"\n[[queues]]\nid = \"minors\"\ndescription = \"Protection of minors\"\nclaim_minutes = 30\n\
         [[queues]]\nid = \"escalated\"\ndescription = \"Senior moderators\"\nclaim_minutes = 240\n",
    );
    let ids: Vec<&str> = policy.queues().iter().map(|q| q.id.as_str()).collect();
    assert_eq!(ids, ["reports", "appeals", "escalated", "minors"]);
    let minors = policy.queue("minors").unwrap();
    assert_eq!((minors.claim_minutes, minors.line(), minors.built_in), (30, Some(2), false));
    let escalated = policy.queue("escalated").unwrap();
    assert_eq!(escalated.description, "Senior moderators");
    assert_eq!((escalated.claim_minutes, escalated.line(), escalated.built_in), (240, Some(6), true));
}

#[test]
fn bad_queue_declarations_are_refused_where_they_are() {
    let head = "version = \"t1\"\n[[queues]]\n";
    one_error(&format!("{head}id = \"q\"\n"), 2, 1, &["queue `q` is missing `description`"]);
    one_error(&format!("{head}id = \"q\"\ndescription = \" \"\n"), 4, 15, &["`description` must not be empty"]);
    one_error(&format!("{head}description = \"d\"\n"), 2, 1, &["queue is missing `id`"]);
    one_error(&format!("{head}id = \"Big Q\"\ndescription = \"d\"\n"), 3, 6, &["queue id `Big Q` is not valid"]);
    one_error(
        &format!("{head}id = \"q\"\ndescription = \"d\"\nclaim_minutes = 0\n"),
        5,
        17,
        &["`claim_minutes` must be at least 1"],
    );
    one_error(
        &format!("{head}id = \"q\"\ndescription = \"d\"\nclaim_minutes = 241\n"),
        5,
        17,
        &["queue `q`: `claim_minutes` is at most 240"],
    );
    one_error(
        &format!("{head}id = \"q\"\ndescription = \"d\"\nclaim_minute = 5\n"),
        5,
        1,
        &["unknown key `claim_minute` in [[queues]] (did you mean `claim_minutes`?)"],
    );
    one_error(
        &format!("{head}id = \"q\"\ndescription = \"d\"\n[[queues]]\nid = \"q\"\ndescription = \"e\"\n"),
        6,
        6,
        &["duplicate queue `q`: already declared on line 3"],
    );
    // Queues have their own namespace: a queue may share its id with a rule.
    let policy = parse(
        &with_route("true", "review")
            .replace("id = \"review\"", "id = \"rule\"")
            .replace("queue = \"review\"", "queue = \"rule\""),
    );
    assert_eq!(policy.queue("rule").unwrap().description, "Everything");
}

#[test]
fn a_queue_review_of_an_undeclared_queue_is_refused_at_the_queue() {
    let text = with_route("true", "review").replace(
        "{ type = \"queue_review\", queue = \"review\" }",
        "{ type = \"label\", label = \"x\" }, { type = \"queue_review\", queue = \"reveiw\" }",
    );
    let e = one_error(
        &text,
        14,
        column_of(&text, 14, "\"reveiw\""),
        &[
            "unknown queue `reveiw` (did you mean `review`?)",
            "the queues are: reports, appeals, escalated, review",
            "declare it with `[[queues]]`",
        ],
    );
    assert!(e.to_string().starts_with(&format!("p.toml:14:{}: unknown queue", e.column)), "{e}");
    // In a ladder step too.
    let text = "version = \"t1\"\n[[ladder]]\nid = \"l\"\nbelow = 50\nground = \"g\"\ncategory = \"c\"\n\
                actions = [{ type = \"queue_review\", queue = \"credit\" }]\nreason = \"r\"\n";
    one_error(text, 7, column_of(text, 7, "\"credit\""), &["unknown queue `credit`"]);
    // A built-in queue needs no declaration.
    parse(&with_route("true", "review").replace("queue = \"review\" }", "queue = \"escalated\" }"));
}

#[test]
fn a_route_to_an_undeclared_queue_is_refused_at_the_queue() {
    let text = with_route("case.reporters > 1", "minors");
    one_error(&text, 8, 9, &["unknown queue `minors`", "the queues are: reports, appeals, escalated, review"]);
    one_error(&with_route("true", " "), 8, 9, &["`queue` must not be empty"]);
    let text = "version = \"t1\"\n[[routes]]\nid = \"r\"\nwhen = \"true\"\n";
    one_error(text, 2, 1, &["route `r` is missing `queue`"]);
    let text = "version = \"t1\"\n[[routes]]\nid = \"r\"\nqueue = \"reports\"\nwhen = \"true\"\nqueues = \"x\"\n";
    one_error(
        text,
        6,
        1,
        &["unknown key `queues` in [[routes]] (did you mean `queue`?)", "the keys are: id, when, queue"],
    );
}

#[test]
fn route_ids_are_unique_with_rule_and_ladder_ids() {
    let text = with_route("true", "review").replace("id = \"r1\"", "id = \"rule\"");
    one_error(&text, 10, 6, &["duplicate id `rule`: already used on line 6"]);
}

#[test]
fn a_bad_field_of_case_is_refused_with_where_and_why() {
    let text = with_route("case.reporter > 2", "review");
    one_error(
        &text,
        7,
        column_of(&text, 7, "reporter "),
        &[
            "in `when`: `case` has no field `reporter` (did you mean `reporters`?)",
            "the fields of `case` are: subject, category, queue, reporters, reporter_weight, reach, decisions, signals, appeal",
        ],
    );
    let text = with_route("case.signals.rumour_match", "review");
    one_error(&text, 7, column_of(&text, 7, "rumour_match"), &["`case.signals` is a list of strings and has no field"]);
    one_error(&with_route("case.reach", "review"), 7, 9, &["must be a condition (true or false), but this is an int"]);
    one_error(&with_route("cases.reach > 1", "review"), 7, 9, &["unknown variable `cases` (did you mean `case`?)"]);
}

#[test]
fn a_route_may_not_look_at_an_event_and_a_rule_not_at_a_case() {
    for (when, root) in [
        ("post.kind == 'video'", "post"),
        ("case.reach > 10 && has(signals.rumour)", "signals"),
        ("'rumour' in signals", "signals"),
        ("standing != null", "standing"),
        ("account.followers > 10", "account"),
        ("event.type == 'report.created'", "event"),
    ] {
        let text = with_route(when, "review");
        one_error(
            &text,
            7,
            column_of(&text, 7, root),
            &[&format!("`{root}` is a variable of rules, not of routes: a route sees only `case`"), "reporter_weight"],
        );
    }
    // `case` in a rule's condition and in its reason.
    let text = with_route("true", "review").replace("when = \"true\"", "when = \"case.reporters > 2\"");
    one_error(
        &text,
        13,
        column_of(&text, 13, "case."),
        &[
            "`case` is the variable of routes ([[routes]]), not of rules: a rule sees `event`, `account`, `post`, `signals`, `standing`",
        ],
    );
    let text = with_route("true", "review").replace("reason = \"r\"", "reason = \"Reported by {{case.reporters}}\"");
    one_error(&text, 15, column_of(&text, 15, "case."), &["`case` is the variable of routes"]);
    // A loop variable may be called `case` in a rule.
    parse(&with_route("true", "review").replace("when = \"true\"", "when = \"[1, 2].exists(case, case > 1)\""));
}

#[test]
fn every_field_of_the_case_is_read() {
    let signals = vec!["rumour_match".to_string(), "copy_campaign".to_string()];
    let when = "case.subject == 'account' && case.category == 'impersonation' && case.queue == 'review' \
                && case.reporters == 4 && case.reporter_weight > 2.4 && case.reporter_weight < 2.6 \
                && case.reach == 5000000000 && case.decisions == 2 && 'copy_campaign' in case.signals \
                && case.signals.size() == 2 && case.appeal && has(case.reach) && size(case) == 9";
    let policy = parse(&with_route(when, "escalated"));
    let full = CaseInput {
        subject: "account",
        category: "impersonation",
        queue: "review",
        reporters: 4,
        reporter_weight: 2.5,
        reach: 5_000_000_000,
        decisions: 2,
        signals: &signals,
        appeal: true,
    };
    assert_eq!(routed(&policy, &full).as_deref(), Some("escalated"));
    assert_eq!(routed(&policy, &CaseInput { appeal: false, ..full }), None);
    assert_eq!(routed(&policy, &CaseInput { signals: &signals[..1], ..full }), None);
}

const THREE_ROUTES: &str = r#"version = "t1"
[[queues]]
id = "high-reach"
description = "Large accounts reported by many"
[[queues]]
id = "rumours"
description = "Rumours"
[[routes]]
id = "by-reach"
when = "case.reporters >= 3 && case.reach >= 100000"
queue = "high-reach"
[[routes]]
id = "first-signal"
when = "case.signals[0] == 'rumour_match'"
queue = "rumours"
[[routes]]
id = "by-weight"
when = "case.reporter_weight >= 10.0"
queue = "escalated"
"#;

#[test]
fn routes_are_tried_in_file_order_and_the_first_that_holds_chooses() {
    let policy = parse(THREE_ROUTES);
    let rumour = vec!["rumour_match".to_string()];
    // All three hold: the first chooses, and the others are not evaluated.
    let all = CaseInput { reporters: 5, reach: 200_000, reporter_weight: 12.0, ..case(&rumour) };
    let result = policy.route(&all);
    assert_eq!(result.route.map(|r| r.id.as_str()), Some("by-reach"));
    assert_eq!(result.queue.map(|q| (q.id.as_str(), q.claim_minutes)), Some(("high-reach", 10)));
    assert!(result.errors.is_empty());
    // The second and third hold: the second chooses.
    assert_eq!(routed(&policy, &CaseInput { reach: 10, ..all }).as_deref(), Some("rumours"));
    // Only the third.
    let other = vec!["copy_campaign".to_string()];
    let heavy = CaseInput { reach: 10, reporter_weight: 10.0, ..case(&other) };
    assert_eq!(routed(&policy, &heavy).as_deref(), Some("escalated"));
    // None: the case stays where it is.
    assert_eq!(routed(&policy, &case(&other)), None);
}

/// A route that fails at run time counts as not holding; the next one is tried.
#[test]
fn a_route_that_fails_counts_as_not_holding_and_is_reported() {
    let policy = parse(THREE_ROUTES);
    let before = policy.runtime_errors();
    // No signals: `case.signals[0]` fails.
    let result = policy.route(&CaseInput { reporter_weight: 11.0, ..case(&[]) });
    assert_eq!(result.queue.map(|q| q.id.as_str()), Some("escalated"));
    assert_eq!(result.errors.len(), 1, "{:?}", result.errors);
    let e = &result.errors[0];
    assert_eq!(
        (e.rule_id.as_str(), e.line, e.kind, e.of),
        ("first-signal", 14, EvalErrorKind::Failed, Evaluated::Route)
    );
    assert!(e.to_string().starts_with("route `first-signal` (line 14): "), "{e}");
    assert_eq!(policy.runtime_errors(), before + 1);
    // Failing and nothing else holding: no queue, the error still reported.
    let result = policy.route(&case(&[]));
    assert!(result.queue.is_none() && result.errors.len() == 1);
}

/// Issue 21's loops, in a route: refused at load with where and why.
#[test]
fn a_route_over_the_budget_is_refused_at_load() {
    let when = "case.signals.all(a, case.signals.all(b, case.signals.all(c, a + b + c != '')))";
    let text = with_route(when, "review");
    let e = one_error(
        &text,
        7,
        column_of(&text, 7, ".all(b") + ".all".len(),
        &[
            "in `when`: may cost up to",
            "over the budget of 50,000 steps a route",
            "this `all` runs its body once per item of a list of up to 100 items",
        ],
    );
    assert!(!e.message.contains("a rule"), "{e}");
    // The same in a tighter budget schema is refused sooner; a small one is accepted.
    let small = "case.signals.exists(s, s.startsWith('rumour'))";
    let policy = parse(&with_route(small, "review"));
    assert!(policy.routes[0].cost() < RULE_STEPS / 10, "{}", policy.routes[0].cost());
    let tight = Schema { budget: Budget { rule_cost: 100, eval_steps: 100 }, ..schema() };
    let errs = Policy::parse(&with_route(small, "review"), "p.toml", &tight).unwrap_err();
    assert!(errs.to_string().contains("over the budget of 100 steps a route"), "{errs}");
}

/// A route within its estimate on inputs the limits allow is stopped at its budget on a
/// case with far more signals than that.
#[test]
fn a_route_is_metered_at_run_time() {
    let policy = parse(&with_route("case.signals.all(s, s.size() < 1000)", "review"));
    let estimate = policy.routes[0].cost();
    let at_limits: Vec<String> = (0..100).map(|i| format!("{i:0>256}")).collect();
    let result = policy.route(&case(&at_limits));
    assert!(result.errors.is_empty() && result.queue.is_some());
    assert!(result.steps <= estimate, "{} > {estimate}", result.steps);

    let many: Vec<String> = (0..100_000).map(|i| format!("s{i}")).collect();
    let result = policy.route(&case(&many));
    assert!(result.queue.is_none());
    assert_eq!(result.errors.len(), 1);
    let e = &result.errors[0];
    assert_eq!((e.kind, e.of), (EvalErrorKind::OverBudget, Evaluated::Route));
    assert!(e.message.contains("over its budget of 50,000 steps"), "{e}");
    assert!(result.steps > RULE_STEPS && result.steps < RULE_STEPS + 100, "{}", result.steps);
}

/// A small xorshift generator: the property below needs no more.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// A random condition over `case`, from a grammar of its fields, literals, operators,
/// functions and loops over its signals (sometimes with a mistake in it).
fn condition(rng: &mut Rng, depth: usize) -> String {
    const INTS: &[&str] = &["case.reporters", "case.reach", "case.decisions", "case.signals.size()", "3", "100000"];
    const STRINGS: &[&str] = &["case.subject", "case.category", "case.queue", "'post'", "'rumour_match'", "s"];
    const BOOLS: &[&str] = &["case.appeal", "true", "has(case.reach)", "'rumour_match' in case.signals"];
    const WRONG: &[&str] = &["case.nope", "post.id == 'p'", "signals.x", "case.signals.x", "unknown(1)", "(("];
    let leaf = |rng: &mut Rng| match rng.below(6) {
        0 => rng.pick(BOOLS).to_string(),
        1 => format!("{} {} {}", rng.pick(INTS), rng.pick(&["<", ">=", "==", "!="]), rng.pick(INTS)),
        2 => format!("case.reporter_weight {} {}.5", rng.pick(&["<", ">"]), rng.below(20)),
        3 => format!("{} == {}", rng.pick(&STRINGS[..5]), rng.pick(&STRINGS[..5])),
        4 => format!("{}.{}('{}')", rng.pick(&STRINGS[..3]), rng.pick(&["startsWith", "contains", "endsWith"]), "r"),
        _ if rng.below(8) == 0 => rng.pick(WRONG).to_string(),
        _ => format!("case.category.size() > {}", rng.below(100)),
    };
    if depth == 0 {
        return leaf(rng);
    }
    match rng.below(6) {
        0 => format!("({}) && ({})", condition(rng, depth - 1), condition(rng, depth - 1)),
        1 => format!("({}) || ({})", condition(rng, depth - 1), condition(rng, depth - 1)),
        2 => format!("!({})", condition(rng, depth - 1)),
        3 => {
            let body = match rng.below(3) {
                0 => format!("s.{}('{}')", rng.pick(&["startsWith", "contains", "matches"]), rng.pick(&["r", "a.*b"])),
                1 => format!("s == {}", rng.pick(&STRINGS[..5])),
                _ => format!("({}) && s.size() > 1", condition(rng, depth - 1).replace(" s ", " 's' ")),
            };
            format!("case.signals.{}(s, {body})", rng.pick(&["exists", "all", "exists_one"]))
        }
        4 => format!("case.signals.map(s, s + 'x').filter(s, s.size() > {}).size() > 0", rng.below(10)),
        _ => leaf(rng),
    }
}

/// A random case, within the limits (signals: at most 100 names of at most 256 bytes) or,
/// now and then, well beyond them.
fn random_case<'a>(rng: &mut Rng, signals: &'a mut Vec<String>, strings: &'a [String; 3]) -> CaseInput<'a> {
    let n = if rng.below(10) == 0 { 5_000 } else { rng.below(101) };
    signals.clear();
    for _ in 0..n {
        let name = rng.pick(&["rumour_match", "copy_campaign", "r"]).repeat(1 + rng.below(20));
        signals.push(name[..name.len().min(256)].to_string());
    }
    CaseInput {
        subject: &strings[0],
        category: &strings[1],
        queue: &strings[2],
        reporters: rng.below(10) as u32,
        reporter_weight: rng.below(100) as f64 / 7.0,
        reach: rng.next() % 1_000_000,
        decisions: rng.below(5) as u32,
        signals,
        appeal: rng.below(2) == 0,
    }
}

/// Whatever the condition, loading does not panic; an accepted route, on any case within
/// the limits, counts no more steps than its estimate and is never stopped; beyond them it
/// is stopped at the budget, never later.
#[test]
fn routes_keep_to_their_estimate_on_random_conditions_and_cases() {
    let mut rng = Rng(0x5eed_0f70_7574_6573);
    let (mut accepted, mut refused) = (0, 0);
    let mut signals = Vec::new();
    for _ in 0..400 {
        let depth = 1 + rng.below(3);
        let when = condition(&mut rng, depth);
        let text = with_route(&when.replace('"', "'"), "review");
        let Ok(policy) = Policy::parse(&text, "p.toml", &schema()) else {
            refused += 1;
            continue;
        };
        accepted += 1;
        let estimate = policy.routes[0].cost();
        for _ in 0..4 {
            let strings = [
                ["post", "account", "campaign", "group"][rng.below(4)].to_string(),
                "r".repeat(rng.below(300)),
                "review".to_string(),
            ];
            let case = random_case(&mut rng, &mut signals, &strings);
            let within = case.signals.len() <= 100;
            let result = policy.route(&case);
            if within {
                assert!(result.steps <= estimate, "{when}: {} steps > estimate {estimate}", result.steps);
                assert!(result.errors.iter().all(|e| e.kind != EvalErrorKind::OverBudget), "{when}");
            } else {
                assert!(result.steps <= RULE_STEPS + estimate, "{when}: {}", result.steps);
            }
        }
    }
    assert!(accepted > 100 && refused > 10, "accepted {accepted}, refused {refused}");
}
