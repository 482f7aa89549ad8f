//! Evaluating rules and rendering reasons.

mod common;

use common::*;
use steward_model::Signal;
use steward_policy::{Input, Policy};

/// A policy with one rule per `(id, when)`, each with the reason `id`.
fn policy(rules: &[(&str, &str)]) -> Policy {
    policy_with_reasons(&rules.iter().map(|(id, when)| (*id, *when, *id)).collect::<Vec<_>>())
}

fn policy_with_reasons(rules: &[(&str, &str, &str)]) -> Policy {
    let mut text = String::from("version = \"t1\"\n");
    for (id, when, reason) in rules {
        text.push_str(&format!(
            "[[rules]]\nid = \"{id}\"\nground = \"g\"\ncategory = \"c\"\nwhen = '''{when}'''\nactions = [{{ type = \"limit_reach\" }}]\nreason = '''{reason}'''\n"
        ));
    }
    Policy::parse(&text, "t.toml", &schema()).unwrap_or_else(|e| panic!("{e}"))
}

fn matched(policy: &Policy, input: &Input<'_>) -> Vec<String> {
    policy.evaluate(input).unwrap().into_iter().map(|m| m.rule.id.clone()).collect()
}

#[test]
fn default_policy_matches_unlabelled_ai_content() {
    let policy = Policy::parse(DEFAULT_POLICY, "default.toml", &schema()).unwrap();
    let event = post_event();
    let signals = [unlabelled(1.0)];
    let matches = policy.evaluate(&Input::new(&event, &signals)).unwrap();
    assert_eq!(matches.len(), 1);
    let m = &matches[0];
    assert_eq!(m.rule.id, "ai-unlabelled");
    assert!(
        m.explanation.starts_with("Your video p1 is AI-generated synthetic content (人工智能生成合成内容)"),
        "{}",
        m.explanation
    );
    assert!(m.explanation.contains("How we know: the author declared it AI-generated."), "{}", m.explanation);
    assert!(!m.explanation.contains("{{"), "{}", m.explanation);

    // below the threshold, or without the signal, nothing matches
    assert!(policy.evaluate(&Input::new(&event, &[unlabelled(0.3)])).unwrap().is_empty());
    assert!(policy.evaluate(&Input::new(&event, &[])).unwrap().is_empty());
    let other = [Signal::new("rumour", "d", 1, 1.0)];
    assert!(policy.evaluate(&Input::new(&event, &other)).unwrap().is_empty());
    assert_eq!(policy.runtime_errors(), 0);
}

fn professional_claim(place: &str) -> Signal {
    Signal::new("unqualified_professional_claim", "unqualified_professional_claim", 1, 1.0)
        .with("field", "medicine")
        .with("title", "医生")
        .with("where", place)
        .with("advice", "偏方, 停药, 建议")
}

#[test]
fn default_policy_reviews_unqualified_professional_claims_on_posts_and_profiles() {
    let policy = Policy::parse(DEFAULT_POLICY, "default.toml", &schema()).unwrap();
    let cases = [
        (
            post_event(),
            "name",
            "unqualified-professional",
            "Your video p1 gives medicine advice (words found: 偏方, 停药, 建议) under the title \"医生\" (where the title appears: name)",
        ),
        (
            account_event(),
            "bio",
            "unqualified-professional-profile",
            "Your account \"陈医生\" presents itself with the title \"医生\" (where it appears: bio)",
        ),
    ];
    for (event, place, rule, opening) in cases {
        let signals = [professional_claim(place)];
        let matches = policy.evaluate(&Input::new(&event, &signals)).unwrap();
        assert_eq!(matches.iter().map(|m| m.rule.id.as_str()).collect::<Vec<_>>(), [rule]);
        let text = &matches[0].explanation;
        assert!(text.starts_with(opening), "{text}");
        assert!(text.contains("have your qualification verified") && text.contains("appeal"), "{text}");
        assert!(!text.contains("{{"), "{text}");
    }
    assert_eq!(policy.runtime_errors(), 0);
}

#[test]
fn default_ladder_renders_the_standing() {
    let policy = Policy::parse(DEFAULT_POLICY, "default.toml", &schema()).unwrap();
    let event = post_event();
    let standing = standing(58);
    let input = Input::new(&event, &[]).with_standing(&standing);
    let crossed: Vec<&str> = policy.ladder_crossed(61, 58).iter().map(|s| s.id.as_str()).collect();
    assert_eq!(crossed, ["credit-below-60"]);
    let crossed: Vec<&str> = policy.ladder_crossed(85, 39).iter().map(|s| s.id.as_str()).collect();
    assert_eq!(crossed, ["credit-below-80", "credit-below-60", "credit-below-40"]);
    assert!(policy.ladder_crossed(80, 80).is_empty());
    assert!(policy.ladder_crossed(79, 70).is_empty());
    let text = policy.render_ladder(&policy.ladder[1], &input);
    assert!(text.starts_with("Your account's credit score (信用分) fell to 58 of 100, below 60"), "{text}");
    // without a standing the values render as nothing
    let text = policy.render_ladder(&policy.ladder[1], &Input::new(&event, &[]));
    assert!(text.starts_with("Your account's credit score (信用分) fell to  of , below 60"), "{text}");
}

#[test]
fn rules_match_in_file_order() {
    let p = policy(&[("c", "true"), ("a", "false"), ("b", "1 < 2")]);
    let event = post_event();
    assert_eq!(matched(&p, &Input::new(&event, &[])), ["c", "b"]);
}

#[test]
fn has_guards_and_in_tests() {
    let p = policy(&[
        ("has", "has(signals.unlabelled_ai)"),
        ("in", "'unlabelled_ai' in signals"),
        ("score", "has(signals.unlabelled_ai) && signals.unlabelled_ai.score >= 0.5"),
        (
            "evidence",
            "has(signals.unlabelled_ai.evidence.source) && signals.unlabelled_ai.evidence.source == 'declared'",
        ),
        ("index", "'unlabelled_ai' in signals && signals['unlabelled_ai']['evidence']['kind'] == 'video'"),
        ("none", "size(signals) == 0"),
    ]);
    let event = post_event();
    let signals = [unlabelled(0.7)];
    assert_eq!(matched(&p, &Input::new(&event, &signals)), ["has", "in", "score", "evidence", "index"]);
    assert_eq!(matched(&p, &Input::new(&event, &[])), ["none"]);
    let bare = [Signal::new("unlabelled_ai", "d", 1, 0.7)];
    assert_eq!(matched(&p, &Input::new(&event, &bare)), ["has", "in", "score"]);
    // has() tests only the last field: `has(signals.x.evidence.source)` fails (as false)
    // when `x` is absent, and indexing a missing evidence key fails too
    assert_eq!(p.runtime_errors(), 2);
}

#[test]
fn unguarded_rules_fail_as_false_and_are_reported() {
    let p = policy(&[
        ("unguarded", "signals.unlabelled_ai.score >= 0.5"),
        ("ok", "true"),
        ("null-account", "account.verified"),
        ("not-bool", "post.text.size()"),
    ]);
    let event = post_event();
    let input = Input::new(&event, &[]);
    // evaluate keeps the rules that worked
    assert_eq!(matched(&p, &input), ["ok"]);
    assert_eq!(p.runtime_errors(), 3);
    let all = p.evaluate_all(&input);
    assert_eq!(all.matches.len(), 1);
    let failed: Vec<&str> = all.errors.iter().map(|e| e.rule_id.as_str()).collect();
    assert_eq!(failed, ["unguarded", "null-account", "not-bool"]);
    assert!(all.errors[0].message.contains("unlabelled_ai"), "{}", all.errors[0]);
    assert!(all.errors[2].message.contains("not a bool"), "{}", all.errors[2]);
    assert_eq!(all.errors[0].line, 6);
    assert!(all.errors[0].to_string().starts_with("rule `unguarded` (line 6): "), "{}", all.errors[0]);
    assert_eq!(p.runtime_errors(), 6);
    // with the signal the unguarded rule works
    let signals = [unlabelled(0.9)];
    assert_eq!(matched(&p, &Input::new(&event, &signals)), ["unguarded", "ok"]);
}

#[test]
fn post_account_event_and_standing_fields() {
    let p = policy(&[
        (
            "post",
            "post.kind == 'video' && post.title == '落日' && post.text.contains('river') && post.ai_declared && !post.ai_implicit_label && !post.explicit_label && post.has_media && post.media_ai_marker && post.account_id == 'a1' && post.group_id == null && post.created_at == '2026-11-22T08:00:00Z'",
        ),
        (
            "event",
            "event.type == 'post.created' && event.id == 'e1' && event.at == '2026-11-22T08:00:00Z' && timestamp(event.at) > timestamp('2026-01-01T00:00:00Z')",
        ),
        (
            "account",
            "account != null && account.verified && account.followers > 100000 && 'tips' in account.monetization && account.ip_region == '广东' && account.display_name == '陈医生'",
        ),
        (
            "standing",
            "standing != null && standing.credit < 60 && standing.credit_initial == 100 && 'posting' in standing.restrictions && standing.recent_violations == 3",
        ),
        ("no-account", "account == null"),
        ("no-standing", "standing == null"),
    ]);
    let event = post_event();
    let account_event = account_event();
    let standing = standing(55);
    let full = Input::new(&event, &[]).with_account(account(&account_event)).with_standing(&standing);
    assert_eq!(matched(&p, &full), ["post", "event", "account", "standing"]);
    assert_eq!(matched(&p, &Input::new(&event, &[])), ["post", "event", "no-account", "no-standing"]);
    assert_eq!(p.runtime_errors(), 0);
    // an account event has an account and no post
    let input = Input::new(&account_event, &[]);
    assert!(input.post.is_none());
    assert_eq!(input.account.unwrap().id, "a1");
}

#[test]
fn comprehensions_over_signals() {
    let p = policy(&[
        ("any-strong", "signals.exists(name, signals[name].score > 0.8)"),
        ("all-weak", "signals.all(name, signals[name].score < 0.5)"),
        ("two", "size(signals) == 2"),
    ]);
    let event = post_event();
    let signals = [unlabelled(0.9), Signal::new("rumour", "d", 1, 0.2)];
    assert_eq!(matched(&p, &Input::new(&event, &signals)), ["any-strong", "two"]);
    let signals = [Signal::new("rumour", "d", 1, 0.2)];
    assert_eq!(matched(&p, &Input::new(&event, &signals)), ["all-weak"]);
}

#[test]
fn the_strongest_of_repeated_signals_counts() {
    let p = policy_with_reasons(&[("r", "signals.rumour.score > 0.5", "{{signals.rumour.detector}}")]);
    let event = post_event();
    let signals = [
        Signal::new("rumour", "weak", 1, 0.2),
        Signal::new("rumour", "strong", 1, 0.9),
        Signal::new("rumour", "mid", 1, 0.5),
    ];
    let m = p.evaluate(&Input::new(&event, &signals)).unwrap();
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].explanation, "strong");
}

#[test]
fn templates_render_values_and_missing_values_as_nothing() {
    let reason = "post={{post.id}} kind={{post.kind}} title={{post.title}} group=[{{post.group_id}}] \
                  declared={{post.ai_declared}} event={{event.type}}@{{event.at}} \
                  who={{account.display_name}} followers={{account.followers}} money={{account.monetization}} \
                  credit={{ standing.credit }} r={{standing.restrictions}} \
                  score={{signals.unlabelled_ai.score}} det={{signals.unlabelled_ai.detector}} v={{signals.unlabelled_ai.version}} \
                  src={{signals.unlabelled_ai.evidence.source}} n={{signals.rumour.evidence.claim}} \
                  deep={{signals.rumour.evidence.factcheck.verdict}} list={{signals.rumour.evidence.factcheck.urls}}";
    let p = policy_with_reasons(&[("r", "true", reason)]);
    let event = post_event();
    let account_event = account_event();
    let standing = standing(42);
    let signals = [
        unlabelled(0.75),
        Signal::new("rumour", "fc", 2, 1.0)
            .with("claim", 7)
            .with("factcheck", serde_json::json!({"verdict": "false", "urls": ["u1", "u2"]})),
    ];
    let full = Input::new(&event, &signals).with_account(account(&account_event)).with_standing(&standing);
    let text = &p.evaluate(&full).unwrap()[0].explanation;
    assert_eq!(
        text,
        "post=p1 kind=video title=落日 group=[] declared=true event=post.created@2026-11-22T08:00:00Z \
         who=陈医生 followers=120000 money=ads, tips credit=42 r=posting \
         score=0.75 det=ai-label v=3 src=declared n=7 deep=false list=[\"u1\",\"u2\"]"
    );
    // nothing known: every placeholder renders as nothing, nothing panics
    let bare = policy_with_reasons(&[("r", "true", reason)]);
    let text = &bare.evaluate(&Input::new(&account_event, &[])).unwrap()[0].explanation;
    assert_eq!(
        text,
        "post= kind= title= group=[] declared= event=account.upserted@2026-11-22T07:00:00Z \
         who=陈医生 followers=120000 money=ads, tips credit= r= \
         score= det= v= src= n= deep= list="
    );
    // a rule renders its own reason too
    assert_eq!(p.rules[0].render(&full), p.evaluate(&full).unwrap()[0].explanation);
}

#[test]
fn template_text_around_placeholders_is_kept_verbatim() {
    let p = policy_with_reasons(&[("r", "true", "{{post.id}}{{post.id}} } { }} 100% 「{{post.kind}}」")]);
    let event = post_event();
    assert_eq!(p.evaluate(&Input::new(&event, &[])).unwrap()[0].explanation, "p1p1 } { }} 100% 「video」");
    assert_eq!(p.rules[0].reason(), "{{post.id}}{{post.id}} } { }} 100% 「{{post.kind}}」");
    assert_eq!(p.rules[0].when(), "true");
}

#[test]
fn restriction_kinds_are_listed_once() {
    let p = policy(&[("once", "standing.restrictions == ['posting'] && standing.restrictions.size() == 1")]);
    let event = post_event();
    let mut standing = standing(70);
    standing.restrictions.push(standing.restrictions[0].clone());
    assert_eq!(matched(&p, &Input::new(&event, &[]).with_standing(&standing)), ["once"]);
}
