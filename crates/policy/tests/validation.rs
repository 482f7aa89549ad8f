//! Loading and checking policy files: every problem, with its line and column.

mod common;

use common::{DEFAULT_POLICY, schema};
use steward_model::Action;
use steward_policy::{Policy, PolicyError, Schema};

fn errors(text: &str) -> Vec<PolicyError> {
    match Policy::parse(text, "p.toml", &schema()) {
        Ok(_) => panic!("policy was accepted:\n{text}"),
        Err(e) => e.0,
    }
}

/// Asserts exactly one error, at `line`, whose message contains every one of `parts`.
fn one_error(text: &str, line: usize, parts: &[&str]) -> PolicyError {
    let errs = errors(text);
    assert_eq!(errs.len(), 1, "expected one error, got:\n{}", lines(&errs));
    let e = errs.into_iter().next().unwrap();
    assert_eq!(e.line, line, "{e}");
    for p in parts {
        assert!(e.message.contains(p), "{e} does not contain {p:?}");
    }
    e
}

fn lines(errs: &[PolicyError]) -> String {
    errs.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n")
}

/// A valid rule with one key replaced or added: `(key, "key = value")`.
fn rule(id: &str, replace: &[(&str, &str)]) -> String {
    let mut keys = vec![
        ("id", format!("id = \"{id}\"")),
        ("ground", "ground = \"Platform rules\"".to_string()),
        ("category", "category = \"test\"".to_string()),
        ("when", "when = \"has(signals.unlabelled_ai)\"".to_string()),
        ("actions", "actions = [{ type = \"label\", label = \"ai-generated\" }]".to_string()),
        ("reason", "reason = \"Post {{post.id}} is unlabelled.\"".to_string()),
    ];
    for (key, line) in replace {
        match keys.iter_mut().find(|(k, _)| k == key) {
            Some(entry) => entry.1 = line.to_string(),
            None => keys.push((key, line.to_string())),
        }
    }
    let body: Vec<String> = keys.into_iter().map(|(_, l)| l).filter(|l| !l.is_empty()).collect();
    format!("[[rules]]\n{}\n", body.join("\n"))
}

const HEAD: &str = "version = \"t1\"\n"; // line 1; the first [[rules]] is on line 2, its `when` on line 6

#[test]
fn shipped_default_policy_parses() {
    let policy = Policy::parse(DEFAULT_POLICY, "default.toml", &schema()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(policy.version, "default-2026.11");
    assert_eq!(policy.credit.initial, 100);
    assert_eq!(policy.credit.restore_days, 180);
    assert_eq!(policy.appeal.days, 180);
    assert!(policy.appeal.how.contains("POST /v1/appeals"), "{}", policy.appeal.how);
    let below: Vec<i64> = policy.ladder.iter().map(|s| s.below).collect();
    assert_eq!(below, [80, 60, 40]);
    assert_eq!(policy.ladder[0].actions, [Action::RestrictPosting { days: 7 }]);
    assert_eq!(
        policy.ladder[1].actions,
        [Action::RestrictPosting { days: 30 }, Action::Demonetize { features: vec![], days: 30 }]
    );
    assert_eq!(policy.ladder[2].actions, [Action::Suspend { days: 90 }]);
    let rule = policy.rule("ai-unlabelled").unwrap();
    assert_eq!(rule.category, "ai_unlabelled");
    assert!(rule.ground.contains("人工智能生成合成内容标识办法"));
    assert!(rule.automated);
    assert_eq!(
        rule.actions,
        [Action::Label { label: "ai-generated".into() }, Action::LimitReach {}, Action::DeductCredit { points: 1 }]
    );
}

#[test]
fn shipped_default_policy_parses_with_only_its_signals() {
    Policy::parse(DEFAULT_POLICY, "default.toml", &schema()).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn shipped_default_policy_needs_its_signal() {
    let errs = match Policy::parse(DEFAULT_POLICY, "default.toml", &Schema::new()) {
        Ok(_) => panic!("accepted without the signal"),
        Err(e) => e.0,
    };
    assert!(!errs.is_empty());
    let when_line =
        DEFAULT_POLICY.lines().position(|l| l.starts_with("when = \"has(signals.unlabelled_ai)")).unwrap() + 1;
    assert!(
        errs.iter().any(|e| e.line == when_line && e.message.contains("unknown signal `unlabelled_ai`")),
        "{}",
        lines(&errs)
    );
}

#[test]
fn load_reads_a_file_and_reports_a_missing_one() {
    let dir = std::env::temp_dir().join(format!("steward-policy-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("p.toml");
    std::fs::write(&path, format!("{HEAD}{}", rule("r1", &[]))).unwrap();
    let policy = Policy::load(&path, &schema()).unwrap();
    assert_eq!(policy.rules.len(), 1);
    assert_eq!(policy.source(), path.display().to_string());
    let err = Policy::load(&dir.join("missing.toml"), &schema()).unwrap_err();
    assert_eq!(err.0.len(), 1);
    assert_eq!(err.0[0].line, 0);
    assert!(err.to_string().contains("missing.toml: cannot read the policy"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn empty_rule_set_is_allowed_and_config_defaults_apply() {
    let policy = Policy::parse(HEAD, "p.toml", &Schema::new()).unwrap();
    assert!(policy.rules.is_empty());
    assert!(policy.ladder.is_empty());
    assert_eq!(policy.credit.initial, 100);
    assert_eq!(policy.credit.restore_days, 180);
    assert_eq!(policy.appeal.days, 180);
    assert!(policy.appeal.how.contains("POST /v1/appeals"));
}

#[test]
fn several_toml_syntax_errors_are_reported_at_once_with_their_lines() {
    let text = "version = \"t\"\n[credit]\ninitial = \n[appeal]\ndays = 30\nhow = \"unterminated\n[[rules]]\nid = 'x\n";
    let errs = errors(text);
    let at: Vec<usize> = errs.iter().map(|e| e.line).collect();
    assert!(errs.len() >= 3, "{}", lines(&errs));
    assert!(at.contains(&3) && at.contains(&6) && at.contains(&8), "{}", lines(&errs));
    assert!(errs.iter().all(|e| e.message.starts_with("TOML syntax")), "{}", lines(&errs));
    // Display: one `file:line:col: message` per line
    let shown = steward_policy::PolicyErrors(errs.clone()).to_string();
    assert_eq!(shown.lines().count(), errs.len());
    assert!(shown.lines().next().unwrap().starts_with("p.toml:3:"), "{shown}");
}

#[test]
fn duplicate_keys_are_syntax_errors() {
    let text = format!("{HEAD}{}", rule("r1", &[("ground2", "id = \"again\"")]));
    let e = one_error(&text, 9, &["TOML syntax"]);
    assert_eq!(e.column, 1);
}

#[test]
fn all_semantic_errors_are_collected_in_file_order() {
    let text = format!(
        "{HEAD}{}{}{}",
        rule("r1", &[("when", "when = \"has(signals.nope)\"")]),
        rule("R2", &[]),
        rule("r3", &[("actions", "actions = [{ type = \"suspend\", days = 0 }]")]),
    );
    let errs = errors(&text);
    assert_eq!(errs.len(), 3, "{}", lines(&errs));
    assert_eq!(errs[0].line, 6);
    assert!(errs[0].message.contains("unknown signal `nope`"));
    assert_eq!(errs[1].line, 10);
    assert!(errs[1].message.contains("`R2` is not valid"));
    assert_eq!(errs[2].line, 21);
    assert!(errs[2].message.contains("`days` must be at least 1"));
}

#[test]
fn missing_version_and_unknown_top_level_keys() {
    let errs = errors("verison = \"x\"\n");
    assert_eq!(errs.len(), 2, "{}", lines(&errs));
    assert!(errs.iter().any(|e| e.message.contains("missing `version`")));
    let unknown = errs.iter().find(|e| e.message.contains("unknown key `verison`")).unwrap();
    assert!(unknown.message.contains("did you mean `version`?"), "{unknown}");
    assert_eq!((unknown.line, unknown.column), (1, 1));
}

#[test]
fn unknown_keys_in_rules_and_sections_are_rejected() {
    one_error(
        &format!("{HEAD}{}", rule("r1", &[("reasn", "reasn = \"x\"")])),
        9,
        &["unknown key `reasn` in [[rules]]"],
    );
    let e = one_error(&format!("{HEAD}[credit]\ninitial = 100\nrestore_day = 3\n"), 4, &["unknown key `restore_day`"]);
    assert!(e.message.contains("did you mean `restore_days`?"), "{e}");
    one_error(&format!("{HEAD}[appeal]\nwindow = 3\n"), 3, &["unknown key `window` in [appeal]", "days, how"]);
}

#[test]
fn missing_rule_keys_are_each_reported() {
    let errs = errors(&format!("{HEAD}[[rules]]\nid = \"r1\"\n"));
    assert_eq!(errs.len(), 5, "{}", lines(&errs));
    for key in ["ground", "category", "when", "actions", "reason"] {
        assert!(
            errs.iter().any(|e| e.line == 2 && e.message == format!("rule `r1` is missing `{key}`")),
            "{}",
            lines(&errs)
        );
    }
}

#[test]
fn wrong_value_types_are_reported() {
    one_error(
        &format!("{HEAD}{}", rule("r1", &[("automated", "automated = \"yes\"")])),
        9,
        &["`automated` must be true or false"],
    );
    one_error(
        &format!("{HEAD}{}", rule("r1", &[("ground", "ground = 3")])),
        4,
        &["`ground` must be a string, not an integer"],
    );
    one_error(&format!("{HEAD}[credit]\ninitial = \"a\"\n"), 3, &["must be an integer"]);
    one_error(&format!("{HEAD}[credit]\ninitial = 0\n"), 3, &["at least 1"]);
    one_error(&format!("{HEAD}[appeal]\ndays = -1\n"), 3, &["`appeal.days` must be at least 1"]);
    one_error(&format!("{HEAD}rules = 3\n"), 2, &["array of tables"]);
}

#[test]
fn rule_ids_are_checked() {
    for bad in ["a@b", "Upper", "-lead", "with space", ""] {
        let text = format!("{HEAD}{}", rule(bad, &[]));
        let errs = errors(&text);
        assert_eq!(errs.len(), 1, "{bad}: {}", lines(&errs));
        assert_eq!(errs[0].line, 3);
    }
    Policy::parse(&format!("{HEAD}{}", rule("ai.unlabelled_v2-b", &[])), "p", &schema()).unwrap();
}

#[test]
fn duplicate_ids_are_rejected_across_rules_and_ladder() {
    let text = format!("{HEAD}{}{}", rule("r1", &[]), rule("r1", &[]));
    let e = one_error(&text, 10, &["duplicate id `r1`", "line 3"]);
    assert_eq!(e.column, 6);
    let ladder = "[[ladder]]\nid = \"r1\"\nbelow = 50\nground = \"g\"\ncategory = \"c\"\nactions = [{ type = \"suspend\", days = 1 }]\nreason = \"r\"\n";
    let text = format!("{HEAD}{}{ladder}", rule("r1", &[]));
    one_error(&text, 10, &["duplicate id `r1`: already used on line 3"]);
}

#[test]
fn unknown_action_types_list_the_known_ones() {
    let text = format!("{HEAD}{}", rule("r1", &[("actions", "actions = [{ type = \"lable\", label = \"x\" }]")]));
    let e = one_error(
        &text,
        7,
        &["unknown action type `lable`", "did you mean `label`?", "restrict_posting", "deduct_credit"],
    );
    assert_eq!(e.column, 21);
    let text = format!("{HEAD}{}", rule("r1", &[("actions", "actions = [{ days = 3 }]")]));
    one_error(&text, 7, &["missing `type`", "label, limit_reach"]);
    let text = format!("{HEAD}{}", rule("r1", &[("actions", "actions = []")]));
    one_error(&text, 7, &["no actions"]);
}

#[test]
fn bad_action_parameters_are_rejected() {
    let cases = [
        ("{ type = \"restrict_posting\", days = 0 }", "`days` must be at least 1"),
        ("{ type = \"suspend\" }", "missing field `days`"),
        ("{ type = \"demonetize\", days = 0 }", "`days` must be at least 1"),
        ("{ type = \"deduct_credit\", points = 0 }", "`points` must be at least 1"),
        ("{ type = \"label\", label = \"\" }", "`label` must not be empty"),
        ("{ type = \"label\", text = \"x\" }", "unknown field `text`"),
        ("{ type = \"queue_review\", queue = \" \" }", "`queue` must not be empty"),
        ("{ type = \"suspend\", days = -3 }", "action `suspend`"),
        ("{ type = \"remove\", days = 3 }", "unknown field `days`"),
    ];
    for (action, msg) in cases {
        let text = format!("{HEAD}{}", rule("r1", &[("actions", &format!("actions = [{action}]"))]));
        one_error(&text, 7, &[msg]);
    }
}

#[test]
fn several_bad_actions_in_one_rule_are_all_reported() {
    let text = format!(
        "{HEAD}{}",
        rule(
            "r1",
            &[("actions", "actions = [{ type = \"nope\" }, { type = \"suspend\", days = 0 }, { type = \"close\" }]")]
        )
    );
    let errs = errors(&text);
    assert_eq!(errs.len(), 2, "{}", lines(&errs));
}

#[test]
fn cel_syntax_errors_point_into_the_when() {
    let text = format!("{HEAD}{}", rule("r1", &[("when", "when = \"has(signals.unlabelled_ai) &&\"")]));
    let e = one_error(&text, 6, &["invalid `when`", "Syntax error"]);
    // the error is at the end of the expression: `when = "` is 8 characters, the expression 29
    assert_eq!(e.column, 9 + 29, "{e}");

    // in a multi-line string the line is the line inside the string
    let when = "when = \"\"\"\nhas(signals.unlabelled_ai)\n  && signals.unlabelled_ai.score >=\n\"\"\"";
    let text = format!("{HEAD}{}", rule("r1", &[("when", when)]));
    let e = one_error(&text, 9, &["invalid `when`"]);
    assert_eq!(e.column, 1, "{e}");
}

#[test]
fn unknown_signals_fields_and_evidence_keys_are_rejected() {
    let cases = [
        (
            "has(signals.unlabeled_ai)",
            12,
            "unknown signal `unlabeled_ai` (did you mean `unlabelled_ai`?); the registered signals are: unlabelled_ai, rumour",
        ),
        ("'rumor' in signals", 0, "unknown signal `rumor`"),
        ("signals['nope'].score > 0.0", 8, "unknown signal `nope`"),
        (
            "has(signals.rumour) && signals.rumour.scor > 0.5",
            38,
            "a signal has no field `scor` (did you mean `score`?)",
        ),
        ("has(signals.rumour) && signals.rumour.evidence.claim == 'x'", 0, ""),
        (
            "has(signals.rumour) && signals.rumour.evidence.clam == 'x'",
            47,
            "signal `rumour` has no evidence key `clam` (did you mean `claim`?); its evidence keys are: claim, factcheck",
        ),
        ("has(signals.rumour.evidence.factchecks)", 28, "no evidence key `factchecks`"),
        ("'src' in signals.unlabelled_ai.evidence", 0, "no evidence key `src`"),
        ("post.txt.contains('x')", 5, "`post` has no field `txt` (did you mean `text`?)"),
        ("account.folowers > 10", 8, "`account` has no field `folowers` (did you mean `followers`?)"),
        ("event.kind == 'post.created'", 6, "`event` has no field `kind`"),
        ("standing.credits < 50", 9, "`standing` has no field `credits` (did you mean `credit`?)"),
        ("post.id.length > 3", 8, "`post.id` is a string and has no field `length`"),
        (
            "has(signals.rumour) && signals.rumour.score.x",
            44,
            "`signals.rumour.score` is a double and has no field `x`",
        ),
        ("user.id == 'a'", 0, "unknown variable `user`"),
        ("sginals.size() > 0", 0, "unknown variable `sginals` (did you mean `signals`?)"),
        ("post.text.startWith('a')", 10, "unknown function `startWith` (did you mean `startsWith`?)"),
        ("frobnicate(post.text)", 0, "unknown function `frobnicate`"),
    ];
    for (when, col, msg) in cases {
        let text = format!("{HEAD}{}", rule("r1", &[("when", &format!("when = \"{when}\""))]));
        if msg.is_empty() {
            Policy::parse(&text, "p", &schema()).unwrap_or_else(|e| panic!("{when}: {e}"));
            continue;
        }
        let e = one_error(&text, 6, &[msg]);
        assert_eq!(e.column, 9 + col, "{when}: {e}");
    }
}

#[test]
fn valid_conditions_pass_the_checker() {
    for when in [
        "true",
        "has(signals.unlabelled_ai) && signals.unlabelled_ai.score >= 0.5",
        "'unlabelled_ai' in signals && signals['unlabelled_ai'].evidence['source'] == 'declared'",
        "signals.exists(name, signals[name].score > 0.9)",
        "signals.all(k, k.startsWith('u'))",
        "post != null && post.kind in ['video', 'image'] && !post.explicit_label",
        "account != null && account.verified && account.followers > 100000 && 'ads' in account.monetization",
        "standing != null && standing.credit < 60 && 'posting' in standing.restrictions",
        "event.type == 'post.created' && timestamp(event.at) > timestamp('2026-01-01T00:00:00Z')",
        "post.text.lowerAscii().contains('ai') || size(post.text) > 100",
        "math.greatest(1, 2) == 2",
        "type(post.title) == string || post.title == null",
        "[1, 2, 3].map(x, x * 2).exists(y, y == 4)",
        "{'a': 1}.a == 1",
        "post.text.matches('^sun')",
    ] {
        let text = format!("{HEAD}{}", rule("r1", &[("when", &format!("when = \"{when}\""))]));
        Policy::parse(&text, "p", &schema()).unwrap_or_else(|e| panic!("{when}: {e}"));
    }
}

#[test]
fn templates_are_checked() {
    let cases = [
        ("Post {{post.idd}}", 12, "`post` has no field `idd` (did you mean `id`?)"),
        ("{{ signals.rumour.evidence.clam }}", 27, "no evidence key `clam`"),
        ("{{signals.nope.score}}", 10, "unknown signal `nope`"),
        ("{{signals.rumour}}", 2, "is a signal, not a value"),
        ("{{post}}", 2, "is a variable, not a value"),
        ("{{signals.rumour.evidence}}", 2, "is the evidence map, not a value"),
        ("a {{}} b", 4, "empty placeholder"),
        ("a {{post id}}", 4, "is not a path"),
        ("a {{post.id", 2, "`{{` is not closed"),
        ("{{user.name}}", 2, "unknown variable `user`"),
    ];
    for (reason, col, msg) in cases {
        let text = format!("{HEAD}{}", rule("r1", &[("reason", &format!("reason = \"{reason}\""))]));
        let e = one_error(&text, 8, &[msg]);
        assert_eq!(e.column, 11 + col, "{reason}: {e}");
    }
    let text = format!("{HEAD}{}", rule("r1", &[("reason", "reason = \"{{post.idd}} {{post.txt}}\"")]));
    assert_eq!(errors(&text).len(), 2);
}

#[test]
fn ladder_is_checked() {
    let step = |id: &str, below: &str, actions: &str| {
        format!(
            "[[ladder]]\nid = \"{id}\"\nbelow = {below}\nground = \"g\"\ncategory = \"c\"\nactions = [{actions}]\nreason = \"Credit {{{{standing.credit}}}}\"\n"
        )
    };
    let ok = step("s1", "50", "{ type = \"suspend\", days = 1 }");
    Policy::parse(&format!("{HEAD}{ok}"), "p", &schema()).unwrap();

    let e = one_error(
        &format!("{HEAD}{}", step("s1", "100", "{ type = \"suspend\", days = 1 }")),
        4,
        &["`below = 100` is not below `credit.initial = 100`"],
    );
    assert_eq!(e.column, 9);
    one_error(
        &format!("{HEAD}[credit]\ninitial = 40\n{}", step("s1", "50", "{ type = \"suspend\", days = 1 }")),
        6,
        &["not below `credit.initial = 40`"],
    );
    one_error(
        &format!("{HEAD}{}", step("s1", "50", "{ type = \"deduct_credit\", points = 2 }")),
        7,
        &["may not deduct credit"],
    );
    one_error(
        &format!("{HEAD}{ok}{}", step("s2", "50", "{ type = \"suspend\", days = 2 }")),
        9,
        &["`below = 50` is also the threshold of step `s1`"],
    );
    one_error(
        &format!("{HEAD}{}", step("s1", "\"x\"", "{ type = \"suspend\", days = 1 }")),
        4,
        &["`below` must be an integer"],
    );
    let errs = errors(&format!("{HEAD}[[ladder]]\nid = \"s1\"\nbelow = 10\n"));
    assert_eq!(errs.len(), 4, "{}", lines(&errs));
    assert!(errs.iter().all(|e| e.line == 2 && e.message.starts_with("ladder step `s1` is missing")));
}

#[test]
fn conditions_that_are_plainly_not_bools_are_rejected() {
    for (when, what) in [
        ("post.id", "a string"),
        ("'yes'", "a string"),
        ("1", "a number"),
        ("null", "null"),
        ("post", "a map"),
        ("signals.unlabelled_ai", "a map"),
        ("signals.unlabelled_ai.score", "a double"),
        ("standing.credit", "an int"),
        ("[true]", "a list"),
    ] {
        let text = format!("{HEAD}{}", rule("r1", &[("when", &format!("when = \"{when}\""))]));
        one_error(&text, 6, &["in `when`: must be a condition (true or false)", what]);
    }
    for when in ["post.explicit_label", "true", "account.verified", "signals.unlabelled_ai.evidence.source"] {
        let text = format!("{HEAD}{}", rule("r1", &[("when", &format!("when = \"{when}\""))]));
        Policy::parse(&text, "p", &schema()).unwrap_or_else(|e| panic!("{when}: {e}"));
    }
}

#[test]
fn mangled_policies_never_panic() {
    let chars: Vec<char> = DEFAULT_POLICY.chars().collect();
    let alphabet: Vec<char> = "\"'{}[]=.,\n #@\\x0_(|)&!<>é字".chars().collect();
    let mut seed = 11u64;
    let mut next = || {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (seed >> 33) as usize
    };
    for round in 0..300 {
        let mut text = chars.clone();
        for _ in 0..(round % 5 + 1) {
            let i = next() % text.len();
            match next() % 3 {
                0 => text[i] = alphabet[next() % alphabet.len()],
                1 => {
                    text.remove(i);
                }
                _ => text.insert(i, alphabet[next() % alphabet.len()]),
            }
        }
        let text: String = text.into_iter().collect();
        if let Err(errs) = Policy::parse(&text, "m.toml", &schema()) {
            assert!(!errs.is_empty());
            for e in &errs {
                assert!(e.line >= 1 && e.column >= 1, "{e}");
            }
        }
    }
}

#[test]
fn groups_are_read_with_their_defaults() {
    let text = r#"version = "v"
[[groups]]
id = 123456789
name = "Rust learners"
language = "EN"
flood = { messages = 5, seconds = 10 }
links = false
mutes = [60, 600]
admins = [10001, "10002"]

[[groups]]
id = "g2"
"#;
    let policy = Policy::parse(text, "p.toml", &schema()).unwrap();
    let [g, g2] = &policy.groups[..] else { panic!("{:?}", policy.groups) };
    assert_eq!((g.id.as_str(), g.name.as_str(), g.language.as_deref()), ("123456789", "Rust learners", Some("en")));
    assert_eq!(g.flood.map(|f| (f.messages, f.seconds)), Some((5, 10)));
    assert!(!g.links && g.admins_exempt);
    assert_eq!(
        (g.mutes.clone(), g.mute_window_hours, g.admins.clone()),
        (vec![60, 600], 24, vec!["10001".into(), "10002".into()])
    );
    assert_eq!(
        (g2.name.as_str(), g2.language.as_deref(), g2.links, g2.mutes.clone()),
        ("g2", None, true, vec![600, 3600, 86_400])
    );
}

#[test]
fn every_problem_of_a_group_is_reported_where_it_is() {
    let text = r#"version = "v"
[[groups]]
id = "g1"
language = "english"
flood = { messages = 1, seconds = 7200, burst = 3 }
mutes = [60, 9999999]
mute_window_hours = 200
links = "no"
colour = "red"

[[groups]]
id = "g1"
[[groups]]
name = "no id"
"#;
    let errs = errors(text);
    let found = lines(&errs);
    for (line, part) in [
        (4, "unknown language `english`"),
        (5, "`flood.messages` must be at least 2"),
        (5, "`flood.seconds` is at most 3600"),
        (5, "unknown key `burst` in `flood`"),
        (6, "a mute is at most 2592000 seconds"),
        (7, "`mute_window_hours` is at most 168"),
        (8, "`links` must be true or false"),
        (9, "unknown key `colour` in [[groups]]"),
        (12, "duplicate group `g1`: already declared on line 3"),
        (13, "the group on line 13 is missing `id`"),
    ] {
        assert!(
            errs.iter().any(|e| e.line == line && e.message.contains(part)),
            "no {part:?} on line {line} in:\n{found}"
        );
    }
}
