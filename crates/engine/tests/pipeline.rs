//! The pipeline end to end on real stores: decisions, enforcement with expiry, the credit
//! ladder, idempotency, and state rebuilt after a restart. Runs on SQLite, and on
//! PostgreSQL too when `STEWARD_TEST_DATABASE_URL` is set.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::json;
use steward_engine::input::{split_json_array, split_ndjson};
use steward_engine::{Engine, EngineOptions, IngestOutcome};
use steward_model::{Action, CaseAction, RestrictionKind};
use steward_policy::Policy;
use steward_store::Store;

mod stores;

const POLICY: &str = r#"
version = "test-1"

[credit]
initial = 10
restore_days = 30

[appeal]
days = 14
how = "Reply to the notice."

[[queues]]
id = "campaigns"
description = "Coordinated copy campaigns"
bulk_cap = 5

[[queues]]
id = "professional-claims"
description = "Unverified professional titles"

[[ladder]]
id = "below-8"
below = 8
ground = "Repeated violations"
category = "repeat_violations"
actions = [{ type = "restrict_posting", days = 7 }]
reason = "Credit fell to {{standing.credit}}."

[[rules]]
id = "ai"
ground = "AI labelling rules"
category = "ai_unlabelled"
when = "has(signals.unlabelled_ai)"
actions = [{ type = "label", label = "ai-generated" }, { type = "deduct_credit", points = 1 }]
reason = "Post {{post.id}} is AI-generated ({{signals.unlabelled_ai.evidence.source}}) without a label."

[[rules]]
id = "campaign"
ground = "Coordinated publication"
category = "coordinated_campaign"
when = "has(signals.copy_campaign)"
actions = [{ type = "label", label = "coordinated-copy" }, { type = "queue_review", queue = "campaigns" }]
reason = "Post {{post.id}} is one of {{signals.copy_campaign.evidence.posts}} copies in {{signals.copy_campaign.evidence.campaign}}."

[[rules]]
id = "debunked"
ground = "False information"
category = "false_information"
when = "has(signals.debunked_claim)"
actions = [{ type = "label", label = "debunked-claim" }, { type = "deduct_credit", points = 2 }]
reason = "Post {{post.id}} repeats {{signals.debunked_claim.evidence.factcheck}} ({{signals.debunked_claim.evidence.url}})."

[[rules]]
id = "impersonation"
ground = "Account naming rules"
category = "impersonation"
when = "has(signals.impersonation)"
actions = [{ type = "label", label = "impersonation-suspected" }, { type = "restrict_new_followers", days = 30 }]
reason = "Account {{account.display_name}} poses as {{signals.impersonation.evidence.identity_name}}."

[[rules]]
id = "evasion"
ground = "Identity disclosure"
category = "disclosure_evasion"
when = "has(signals.threshold_evasion)"
actions = [{ type = "require_disclosure", days = 180 }]
reason = "{{account.display_name}} fell from {{signals.threshold_evasion.evidence.from}} to {{signals.threshold_evasion.evidence.to}} followers."

[[rules]]
id = "professional"
ground = "Professional qualifications"
category = "unqualified_professional"
when = "has(signals.unqualified_professional_claim)"
actions = [{ type = "label", label = "unverified-professional-claim" }, { type = "queue_review", queue = "professional-claims" }]
reason = "{{signals.unqualified_professional_claim.evidence.title}} ({{signals.unqualified_professional_claim.evidence.where}}) gives {{signals.unqualified_professional_claim.evidence.field}} advice."
"#;

/// A clock the test moves by hand.
struct TestClock(Arc<AtomicI64>);

impl TestClock {
    fn start() -> (TestClock, EngineOptions) {
        let t = Arc::new(AtomicI64::new(t0().timestamp()));
        let read = t.clone();
        let options = EngineOptions {
            clock: Arc::new(move || Utc.timestamp_opt(read.load(Ordering::SeqCst), 0).unwrap()),
            ..Default::default()
        };
        (TestClock(t), options)
    }
    fn advance(&self, d: Duration) {
        self.0.fetch_add(d.num_seconds(), Ordering::SeqCst);
    }
    fn now(&self) -> DateTime<Utc> {
        Utc.timestamp_opt(self.0.load(Ordering::SeqCst), 0).unwrap()
    }
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 8, 0, 0).unwrap()
}

fn policy() -> Arc<Policy> {
    Arc::new(Policy::parse(POLICY, "test.toml", &steward_engine::schema()).unwrap())
}

fn ai_post(id: &str, account: &str, at: DateTime<Utc>) -> String {
    json!({"id": id, "type": "post.created", "at": at, "post": {"id": format!("p-{id}"), "account_id": account,
        "kind": "video", "text": "生成的视频", "created_at": at, "ai_generated": {"declared": true}}})
    .to_string()
}

fn ingest(engine: &mut Engine, lines: &[String]) -> IngestOutcome {
    let body = lines.join("\n");
    engine.ingest(&split_ndjson(body.as_bytes(), 1)).unwrap()
}

fn each_store(test: impl Fn(Arc<dyn Store>)) {
    for s in stores::all() {
        eprintln!("-- {}", s.store.backend());
        test(s.store.clone());
    }
}

#[test]
fn one_event_never_yields_the_same_decision_twice() {
    each_store(|store| {
        let (clock, options) = TestClock::start();
        let mut engine = Engine::open(store.clone(), policy(), options).unwrap();
        let e = ai_post("e1", "a1", clock.now());
        let first = ingest(&mut engine, &[e.clone(), e.clone()]);
        assert_eq!((first.accepted, first.duplicates, first.decisions.len()), (1, 1, 1));
        let again = ingest(&mut engine, std::slice::from_ref(&e));
        assert_eq!((again.accepted, again.duplicates, again.decisions.len()), (0, 1, 0));
        assert_eq!(store.decisions_for("a1", false, 10).unwrap().len(), 1);
        let d = &first.decisions[0];
        assert_eq!(d.id, "ai@e1");
        assert_eq!(d.explanation, "Post p-e1 is AI-generated (declared) without a label.");
        assert_eq!(d.policy_version, "test-1");
        assert_eq!(d.appeal.until, clock.now() + Duration::days(14));
        assert_eq!(d.restrictions[0].kind, RestrictionKind::Label);
        assert_eq!(d.restrictions[0].detail, "ai-generated");
    });
}

#[test]
fn the_ladder_escalates_once_and_restrictions_lapse_on_their_own() {
    each_store(|store| {
        let (clock, options) = TestClock::start();
        let mut engine = Engine::open(store.clone(), policy(), options).unwrap();
        let posts: Vec<String> = (0..4).map(|i| ai_post(&format!("l{i}"), "a1", clock.now())).collect();
        let outcome = ingest(&mut engine, &posts);
        // 10 → 6: the third violation crosses 8, and only that one escalates.
        let ladder: Vec<_> = outcome.decisions.iter().filter(|d| d.rule_id == "ladder.below-8").collect();
        assert_eq!(ladder.len(), 1, "{:#?}", outcome.decisions);
        assert_eq!(ladder[0].event_id, "l2");
        assert_eq!(ladder[0].explanation, "Credit fell to 7.");
        let policy = policy();
        let standing = steward_engine::standing(store.as_ref(), &policy, "a1", clock.now()).unwrap();
        assert_eq!(standing.credit, 6);
        assert!(standing.is(RestrictionKind::Posting));

        clock.advance(Duration::days(8));
        let standing = steward_engine::standing(store.as_ref(), &policy, "a1", clock.now()).unwrap();
        assert!(!standing.is(RestrictionKind::Posting), "the 7-day restriction should have lapsed");
        assert_eq!(standing.credit, 6);
        clock.advance(Duration::days(30));
        let standing = steward_engine::standing(store.as_ref(), &policy, "a1", clock.now()).unwrap();
        assert_eq!(standing.credit, 10, "credit comes back after restore_days");
    });
}

#[test]
fn state_survives_a_restart() {
    each_store(|store| {
        let (clock, options) = TestClock::start();
        let mut engine = Engine::open(store.clone(), policy(), options.clone()).unwrap();
        let posts: Vec<String> = (0..2).map(|i| ai_post(&format!("s{i}"), "a1", clock.now())).collect();
        ingest(&mut engine, &posts);
        drop(engine);
        // A new engine over the same store knows the credit already lost: one more
        // violation (10 → 7) crosses the threshold.
        let mut engine = Engine::open(store.clone(), policy(), options).unwrap();
        let outcome = ingest(&mut engine, &[ai_post("s2", "a1", clock.now())]);
        assert!(outcome.decisions.iter().any(|d| d.rule_id == "ladder.below-8"), "{:#?}", outcome.decisions);
        assert!(steward_store::audit::verify(store.as_ref()).is_ok());
    });
}

#[test]
fn every_event_type_is_stored_and_deletion_keeps_the_post() {
    each_store(|store| {
        let (clock, options) = TestClock::start();
        let at = clock.now();
        let mut engine = Engine::open(store.clone(), policy(), options).unwrap();
        let lines = [
            json!({"id":"1","type":"account.upserted","at":at,"account":{"id":"a1","handle":"h","display_name":"某某"}}),
            json!({"id":"2","type":"post.created","at":at,"post":{"id":"p1","account_id":"a1","kind":"article","text":"正文","created_at":at}}),
            json!({"id":"3","type":"post.deleted","at":at,"post":{"id":"p1"}}),
            json!({"id":"4","type":"report.created","at":at,"report":{"id":"r1","reporter_id":"a2","post_id":"p1","reason":"rumour"}}),
            json!({"id":"5","type":"factcheck.upserted","at":at,"factcheck":{"id":"f1","claim":"c","verdict":"misleading","publisher":"p","published_at":at}}),
            json!({"id":"6","type":"identity.upserted","at":at,"identity":{"id":"i1","name":"某市公安局","kind":"police"}}),
            json!({"id":"7","type":"credential.verified","at":at,"credential":{"account_id":"a1","field":"law","title":"律师"}}),
            json!({"id":"8","type":"follower.snapshot","at":at,"snapshot":{"account_id":"a1","followers":5}}),
        ]
        .map(|v| v.to_string());
        let outcome = ingest(&mut engine, &lines);
        assert_eq!(outcome.accepted, 8, "{:?}", outcome.rejected);
        assert_eq!(store.event_count().unwrap(), 8);
        let post = store.entity("post", "p1").unwrap().unwrap();
        assert!(post.deleted);
        assert!(post.body.contains("正文"), "a deleted post keeps its content for appeals");
        assert_eq!(post.account_id.as_deref(), Some("a1"));
        for (kind, id) in
            [("report", "r1"), ("factcheck", "f1"), ("identity", "i1"), ("credential", "a1/law"), ("snapshot", "a1")]
        {
            assert!(store.entity(kind, id).unwrap().is_some(), "{kind} {id}");
        }
    });
}

#[test]
fn a_bad_record_never_costs_the_good_ones() {
    each_store(|store| {
        let (clock, options) = TestClock::start();
        let mut engine = Engine::open(store.clone(), policy(), options).unwrap();
        let good = ai_post("g1", "a1", clock.now());
        let future = ai_post("g2", "a1", clock.now() + Duration::days(400));
        let lines = [good, "{\"id\": 5}".to_string(), future, "[]".to_string()];
        let outcome = ingest(&mut engine, &lines);
        assert_eq!(outcome.accepted, 1);
        let fields: Vec<&str> = outcome.rejected.iter().map(|r| r.field.as_str()).collect();
        assert_eq!(fields, ["id", "at", "(record)"]);
        assert_eq!(outcome.rejected.iter().map(|r| r.line).collect::<Vec<_>>(), [Some(2), Some(3), Some(4)]);
    });
}

/// Issue 21: invalid UTF-8, an oversized record, a missing field, a duplicate key and an
/// array element that is no object were rejected with an empty `field`.
#[test]
fn every_rejection_names_its_field() {
    each_store(|store| {
        let (clock, options) = TestClock::start();
        let mut engine = Engine::open(store.clone(), policy(), options).unwrap();
        let good: serde_json::Value = serde_json::from_str(&ai_post("g1", "a1", clock.now())).unwrap();
        let with = |edit: &dyn Fn(&mut serde_json::Value)| {
            let mut v = good.clone();
            edit(&mut v);
            v.to_string()
        };
        let lines = [
            with(&|v| v["post"]["text"] = json!("长".repeat(100_000))),
            with(&|v| drop(v.as_object_mut().unwrap().remove("at"))),
            with(&|v| drop(v["post"].as_object_mut().unwrap().remove("account_id"))),
            with(&|v| v["id"] = json!("g2")).replacen(r#""id":"g2""#, r#""id":"g2","id":"g3""#, 1),
            with(&|v| v["post"]["text"] = json!("\u{fffd}")),
        ];
        let mut body = lines.join("\n").into_bytes();
        // The last line's U+FFFD (EF BF BD) made invalid: a lone continuation byte.
        let bad = body.windows(3).rposition(|w| w == "\u{fffd}".as_bytes()).unwrap();
        body[bad] = 0xbf;
        let outcome = engine.ingest(&split_ndjson(&body, 1)).unwrap();
        assert_eq!(outcome.accepted, 0);
        let got: Vec<(&str, &str)> = outcome.rejected.iter().map(|r| (r.field.as_str(), r.error.as_str())).collect();
        assert_eq!(got.len(), 5, "{got:?}");
        assert!(got[0].0 == "(record)" && got[0].1.starts_with("record is 300"), "{got:?}");
        assert!(got[1].0 == "at" && got[1].1.starts_with("field `at`: missing field `at`"), "{got:?}");
        assert!(got[2].0 == "post.account_id" && got[2].1.contains("missing field `account_id`"), "{got:?}");
        assert!(got[3].0 == "id" && got[3].1.contains("duplicate field `id`"), "{got:?}");
        assert!(got[4].0 == "(record)" && got[4].1.starts_with("invalid UTF-8 at byte"), "{got:?}");

        let array = format!("[3, {}, \"e\", null, []]", with(&|v| v["post"]["kind"] = json!("reel")));
        let outcome = engine.ingest(&split_json_array(array.as_bytes()).unwrap()).unwrap();
        let got: Vec<(usize, &str)> = outcome.rejected.iter().map(|r| (r.index, r.field.as_str())).collect();
        assert_eq!(got, [(0, "(record)"), (1, "post.kind"), (2, "(record)"), (3, "(record)"), (4, "(record)")]);
        assert!(outcome.rejected[0].error.starts_with("invalid type: integer `3`, expected"), "{:?}", outcome.rejected);
    });
}

/// Copy `n` of one rumour, posted by account `a{n}`, `n` minutes after t0, disguised a little.
fn copy(n: usize) -> String {
    let text = "紧急扩散：本市自来水厂今晚检修，明天全天停水，据说水里已检测出有毒物质，请马上囤水并转告亲友";
    let text = match n % 3 {
        0 => text.to_string(),
        1 => format!("转发：{}[怒]", text.replace("自来水", "自來水")),
        _ => text.replace('，', ",").replace("停水", "停\u{200B}水"),
    };
    let at = t0() + Duration::minutes(n as i64);
    json!({"id": format!("c{n}"), "type": "post.created", "at": at, "post": {"id": format!("cp{n}"),
        "account_id": format!("a{n}"), "kind": "short_post", "text": text, "created_at": at}})
    .to_string()
}

/// The decisions of one rule: (decision id, post id), sorted.
fn decided(outcome: &IngestOutcome, rule: &str) -> Vec<(String, String)> {
    let mut d: Vec<_> = outcome
        .decisions
        .iter()
        .filter(|d| d.rule_id == rule)
        .map(|d| (d.id.clone(), d.post_id.clone().unwrap_or_default()))
        .collect();
    d.sort();
    d
}

fn campaign_decisions(outcome: &IngestOutcome) -> Vec<(String, String)> {
    decided(outcome, "campaign")
}

#[test]
fn a_rename_to_a_protected_name_labels_the_account_and_the_registry_survives_a_restart() {
    each_store(|store| {
        let (clock, options) = TestClock::start();
        let mut engine = Engine::open(store.clone(), policy(), options.clone()).unwrap();
        let identity = json!({"id": "i1", "type": "identity.upserted", "at": clock.now(), "identity": {"id": "qc",
            "name": "青川县公安局", "kind": "police", "owner_account_ids": ["own"]}});
        ingest(&mut engine, &[identity.to_string()]);
        drop(engine);
        // The registry is learnt from the store at start.
        let mut engine = Engine::open(store.clone(), policy(), options).unwrap();
        let account = |id: &str, account: &str, name: &str| {
            json!({"id": id, "type": "account.upserted", "at": clock.now(), "account": {"id": account,
                "handle": account, "display_name": name, "followers": 1}})
            .to_string()
        };
        let outcome = ingest(
            &mut engine,
            &[account("r1", "a9", "小王"), account("r2", "own", "青川县公安局"), account("r3", "a9", "青川縣警方")],
        );
        assert_eq!(outcome.decisions.len(), 1, "{:#?}", outcome.decisions);
        let d = &outcome.decisions[0];
        assert_eq!((d.rule_id.as_str(), d.event_id.as_str()), ("impersonation", "r3"));
        assert_eq!(d.explanation, "Account 青川縣警方 poses as 青川县公安局.");
        let label = &d.restrictions[0];
        assert_eq!(
            (label.kind, label.post_id.as_deref(), label.detail.as_str()),
            (RestrictionKind::Label, None, "impersonation-suspected")
        );
        assert_eq!(d.restrictions[1].kind, RestrictionKind::NewFollowers);
    });
}

#[test]
fn a_purge_to_just_under_the_disclosure_line_keeps_disclosure_on_across_restarts() {
    each_store(|store| {
        let (clock, options) = TestClock::start();
        let mut engine = Engine::open(store.clone(), policy(), options.clone()).unwrap();
        let account = json!({"id": "u1", "type": "account.upserted", "at": clock.now(), "account": {"id": "big",
            "handle": "big", "display_name": "Big", "followers": 2_500_000, "verified": true,
            "identity": {"name": "某某文化传媒有限公司", "type": "organization"}, "ip_region": "四川"}});
        ingest(&mut engine, &[account.to_string()]);
        let disclosure = |at| steward_engine::standing(store.as_ref(), &policy(), "big", at).unwrap().disclosure;
        let large = disclosure(clock.now()).expect("a large account discloses");
        assert_eq!((large.because.as_str(), large.ip_region.as_deref()), ("followers", Some("四川")));
        assert!(large.missing.is_empty());
        // The highest count of the week is rebuilt by replay after a restart.
        drop(engine);
        let mut engine = Engine::open(store.clone(), policy(), options).unwrap();
        clock.advance(Duration::hours(30));
        let snapshot = |id: &str, followers: u64| {
            json!({"id": id, "type": "follower.snapshot", "at": clock.now(),
                "snapshot": {"account_id": "big", "followers": followers}})
            .to_string()
        };
        let outcome = ingest(&mut engine, &[snapshot("s1", 980_000), snapshot("s2", 975_000)]);
        assert_eq!(decided(&outcome, "evasion"), [("evasion@s1".to_string(), String::new())]);
        assert_eq!(outcome.decisions[0].explanation, "Big fell from 2500000 to 980000 followers.");
        let kept = disclosure(clock.now()).expect("kept on under the line");
        assert_eq!((kept.because.as_str(), kept.followers), ("decision", 975_000));
        assert_eq!(kept.until, Some(clock.now() + Duration::days(180)));
        assert_eq!(disclosure(clock.now() + Duration::days(181)), None);
    });
}

#[test]
fn a_campaign_labels_every_copy_once_and_survives_a_restart() {
    each_store(|store| {
        let (_clock, options) = TestClock::start();
        let mut engine = Engine::open(store.clone(), policy(), options.clone()).unwrap();
        let first: Vec<String> = (0..4).map(copy).collect();
        assert!(campaign_decisions(&ingest(&mut engine, &first)).is_empty(), "four accounts are not a campaign");

        // The fifth account makes a campaign: the four earlier posts are decided on too, each
        // under its own event.
        let outcome = ingest(&mut engine, &[copy(4)]);
        let expected: Vec<(String, String)> = (0..5).map(|n| (format!("campaign@c{n}"), format!("cp{n}"))).collect();
        assert_eq!(campaign_decisions(&outcome), expected);
        let d = outcome.decisions.iter().find(|d| d.id == "campaign@c1").unwrap();
        assert_eq!(d.event_id, "c1");
        assert_eq!(d.account_id.as_deref(), Some("a1"));
        assert_eq!(d.explanation, "Post cp1 is one of 5 copies in campaign-cp4.");
        assert_eq!(d.restrictions[0].detail, "coordinated-copy");
        assert_eq!(store.group_members("campaign", "campaign-cp4", 100).unwrap().len(), 5);
        let summary = store.entity("campaign", "campaign-cp4").unwrap().expect("campaign stored");
        let summary: serde_json::Value = serde_json::from_str(&summary.body).unwrap();
        assert_eq!((summary["accounts"].as_u64(), summary["posts"].as_u64()), (Some(5), Some(5)));
        // One case gathers the campaign's decisions for review.
        let subject = steward_model::Subject::new(steward_model::SubjectKind::Campaign, "campaign-cp4");
        let case = store.open_case(&subject).unwrap().expect("the campaign is under review");
        assert_eq!((case.queue.as_str(), case.decisions.len()), ("campaigns", 5));
        assert_eq!(store.cases(Some("campaigns"), None, 100).unwrap().len(), 1);

        // After a restart the detector has its window back: the sixth copy joins the same
        // campaign, and only it is decided on.
        drop(engine);
        let mut engine = Engine::open(store.clone(), policy(), options).unwrap();
        let outcome = ingest(&mut engine, &[copy(5)]);
        assert_eq!(campaign_decisions(&outcome), [("campaign@c5".to_string(), "cp5".to_string())]);
        assert_eq!(outcome.decisions[0].explanation, "Post cp5 is one of 6 copies in campaign-cp4.");
        assert_eq!(store.group_members("campaign", "campaign-cp4", 100).unwrap().len(), 6);
        let replay = ingest(&mut engine, &[copy(5), copy(2)]);
        assert_eq!((replay.duplicates, replay.decisions.len()), (2, 0));

        // One action on the case acts on all six decisions: over the queue's cap of five, it
        // is refused and the case goes to a senior moderator, whose modification puts one
        // decision of theirs in place of each post's.
        let case = engine.claim_next("campaigns", "k_m1").unwrap().expect("the campaign's case");
        let overturn = CaseAction::Overturn { reason: "a quote, not a campaign".into() };
        let refused = engine.act(&case.id, case.version, "k_m1", overturn).unwrap_err().to_string();
        assert!(refused.contains("reverse 6 decisions") && refused.contains("cap of 5"), "{refused}");
        let escalate = CaseAction::Escalate { reason: "six accounts".into(), queue: None };
        engine.act(&case.id, case.version, "k_m1", escalate).unwrap();
        let case = engine.claim_next("escalated", "k_senior").unwrap().expect("escalated");
        let modify = CaseAction::Modify {
            reason: "label the copies, restrict nobody".into(),
            actions: vec![Action::Label { label: "copied-text".into() }],
        };
        let done = engine.act(&case.id, case.version, "k_senior", modify).unwrap();
        let made: Vec<_> = done.decisions.iter().filter(|d| d.starts_with("review.")).collect();
        assert_eq!(made.len(), 6, "one per post: {:?}", done.decisions);
        let mut posts: Vec<String> = made
            .iter()
            .map(|id| store.decision(id).unwrap().unwrap())
            .inspect(|d| assert!(!d.automated_decision))
            .filter_map(|d| d.post_id)
            .collect();
        posts.sort();
        assert_eq!(posts, (0..6).map(|n| format!("cp{n}")).collect::<Vec<_>>());
        assert!(steward_store::audit::verify(store.as_ref()).is_ok());
    });
}

#[test]
fn streamed_batches_decide_on_posts_still_being_committed() {
    each_store(|store| {
        let (clock, options) = TestClock::start();
        let mut engine = Engine::open(store.clone(), policy(), options).unwrap();
        let lines: Vec<String> = (0..7).map(copy).collect();
        let batches: Vec<Vec<steward_engine::Parsed>> = lines
            .iter()
            .map(|l| {
                let records = split_ndjson(l.as_bytes(), 1);
                steward_engine::parse_records(&records, &Default::default(), clock.now())
            })
            .collect();
        let mut decided = Vec::new();
        engine.ingest_stream(batches, |o| decided.extend(campaign_decisions(&o))).unwrap();
        decided.sort();
        let expected: Vec<(String, String)> = (0..7).map(|n| (format!("campaign@c{n}"), format!("cp{n}"))).collect();
        assert_eq!(decided, expected);
        assert_eq!(store.group_members("campaign", "campaign-cp4", 100).unwrap().len(), 7);
    });
}

#[test]
fn streamed_outcomes_carry_the_decisions_of_their_batch_as_stored() {
    each_store(|store| {
        let (clock, options) = TestClock::start();
        let mut engine = Engine::open(store.clone(), policy(), options).unwrap();
        // Five batches of four posts from one account: credit runs down and the ladder fires.
        let batches: Vec<Vec<steward_engine::Parsed>> = (0..5)
            .map(|b| {
                let lines: Vec<String> = (0..4).map(|i| ai_post(&format!("s{b}-{i}"), "a1", clock.now())).collect();
                let body = lines.join("\n");
                steward_engine::parse_records(&split_ndjson(body.as_bytes(), 1), &Default::default(), clock.now())
            })
            .collect();
        let mut outcomes = Vec::new();
        engine.ingest_stream(batches, |o| outcomes.push(o)).unwrap();
        assert_eq!(outcomes.len(), 5);
        let mut streamed = Vec::new();
        for (b, o) in outcomes.iter().enumerate() {
            assert_eq!(o.accepted, 4);
            let posts: Vec<&str> = o.decisions.iter().filter_map(|d| d.post_id.as_deref()).collect();
            assert!(posts.iter().all(|p| p.starts_with(&format!("p-s{b}-"))), "batch {b}: {posts:?}");
            streamed.extend(o.decisions.iter().cloned());
        }
        // 20 AI posts, and the ladder step once credit fell below 8.
        assert_eq!(streamed.len(), 21);
        let mut stored = store.decisions_for("a1", false, 100).unwrap();
        stored.sort_by(|a, b| a.id.cmp(&b.id));
        streamed.sort_by(|a, b| a.id.cmp(&b.id));
        assert_eq!(streamed, stored);
    });
}

fn fact_check(id: &str, claim: &str, published: DateTime<Utc>) -> String {
    json!({"id": format!("e-{id}"), "type": "factcheck.upserted", "at": published, "factcheck": {"id": id,
        "claim": claim, "verdict": "false", "publisher": "示例辟谣", "published_at": published,
        "url": format!("https://piyao.example.cn/{id}")}})
    .to_string()
}

fn post(id: &str, text: &str, at: DateTime<Utc>) -> String {
    json!({"id": format!("e-{id}"), "type": "post.created", "at": at, "post": {"id": id, "account_id": "a1",
        "kind": "short_post", "text": text, "created_at": at}})
    .to_string()
}

#[test]
fn refuted_claims_are_decided_on_before_and_after_the_fact_check_and_after_a_restart() {
    each_store(|store| {
        let (clock, options) = TestClock::start();
        let mut engine = Engine::open(store.clone(), policy(), options.clone()).unwrap();
        let rumour = "海关在进口冻虾包装上检出活病毒，今晚起全市超市下架所有冻虾";
        let before = ingest(&mut engine, &[post("p1", &format!("紧急！{rumour}，大家别买了"), clock.now())]);
        assert!(decided(&before, "debunked").is_empty());

        // The fact-check arrives an hour later: the earlier post is decided on under its own event.
        clock.advance(Duration::hours(1));
        let outcome = ingest(&mut engine, &[fact_check("fc-shrimp", rumour, clock.now())]);
        assert_eq!(decided(&outcome, "debunked"), [("debunked@e-p1".to_string(), "p1".to_string())]);
        assert_eq!(outcome.decisions[0].event_id, "e-p1");
        assert_eq!(outcome.decisions[0].explanation, "Post p1 repeats fc-shrimp (https://piyao.example.cn/fc-shrimp).");

        // After a restart the knowledge base is back: a new copy is decided on at once.
        drop(engine);
        let mut engine = Engine::open(store.clone(), policy(), options).unwrap();
        clock.advance(Duration::hours(1));
        let outcome =
            ingest(&mut engine, &[post("p2", rumour, clock.now()), post("p3", "今天超市的冻虾打折", clock.now())]);
        assert_eq!(decided(&outcome, "debunked"), [("debunked@e-p2".to_string(), "p2".to_string())]);
        // An update of the fact-check (a new event) rechecks the window but decides nothing twice.
        let update = fact_check("fc-shrimp", rumour, clock.now()).replace("\"e-fc-shrimp\"", "\"e-fc-shrimp-2\"");
        let again = ingest(&mut engine, &[update]);
        assert_eq!(again.accepted, 1);
        assert!(decided(&again, "debunked").is_empty(), "{:?}", again.decisions);
    });
}

#[test]
fn verified_professionals_are_left_alone_and_their_credentials_survive_a_restart() {
    each_store(|store| {
        let (clock, options) = TestClock::start();
        let mut engine = Engine::open(store.clone(), policy(), options.clone()).unwrap();
        let advice = |id: &str, account: &str, text: &str| {
            json!({"id": id, "type": "post.created", "at": clock.now(), "post": {"id": id, "account_id": account,
                "kind": "short_post", "text": text, "created_at": clock.now()}})
            .to_string()
        };
        let claim = "我是一名主任医师，建议高血压患者停药，改吃这个偏方";
        let credential = json!({"id": "cred", "type": "credential.verified", "at": clock.now(), "credential":
            {"account_id": "doc", "field": "medicine", "title": "主任医师"}});
        let outcome =
            ingest(&mut engine, &[credential.to_string(), advice("q1", "doc", claim), advice("q2", "anon", claim)]);
        assert_eq!(decided(&outcome, "professional"), [("professional@q2".to_string(), "q2".to_string())]);
        assert_eq!(outcome.decisions[0].explanation, "主任医师 (post) gives medicine advice.");
        assert_eq!(outcome.decisions[0].restrictions[0].detail, "unverified-professional-claim");

        // The author's profile counts: a title in the display name, advice in the post.
        let profile = json!({"id": "acct", "type": "account.upserted", "at": clock.now(), "account":
            {"id": "anon2", "handle": "anon2", "display_name": "王醫生談健康", "followers": 10}});
        let outcome = ingest(&mut engine, &[profile.to_string(), advice("q3", "anon2", "降血压偏方，一定要试试")]);
        assert_eq!(decided(&outcome, "professional"), [("professional@q3".to_string(), "q3".to_string())]);
        assert_eq!(outcome.decisions[0].explanation, "医生 (name) gives medicine advice.");

        // After a restart the credential is learnt from the store.
        drop(engine);
        let mut engine = Engine::open(store.clone(), policy(), options).unwrap();
        let outcome = ingest(&mut engine, &[advice("q4", "doc", claim), advice("q5", "anon", claim)]);
        assert_eq!(decided(&outcome, "professional"), [("professional@q5".to_string(), "q5".to_string())]);
    });
}

#[test]
fn a_group_mutes_for_longer_on_each_breach_across_restarts_and_never_the_owner() {
    let text = format!(
        "{POLICY}\n{}",
        r#"
[[groups]]
id = "g1"
name = "Rust learners"
language = "en"
mutes = [60, 600]

[[rules]]
id = "group-language"
ground = "The group's rules"
category = "group_rules"
when = "has(signals.group_language)"
actions = [{ type = "remove" }, { type = "mute" }]
reason = "Muted in {{signals.group_language.evidence.group_name}} for {{signals.group_language.evidence.mute_for}}."
"#
    );
    let policy = Arc::new(Policy::parse(&text, "test.toml", &steward_engine::schema()).unwrap());
    each_store(|store| {
        let (clock, options) = TestClock::start();
        let message = |id: &str, account: &str, role: &str| {
            json!({"id": id, "type": "post.created", "at": clock.now(), "post": {"id": format!("p-{id}"),
                "account_id": account, "kind": "group_message", "group_id": "g1", "group_role": role,
                "text": "请用中文回答我的问题，谢谢", "created_at": clock.now()}})
            .to_string()
        };
        let mut engine = Engine::open(store.clone(), policy.clone(), options.clone()).unwrap();
        let outcome = ingest(&mut engine, &[message("e1", "m1", "member"), message("e2", "boss", "owner")]);
        assert_eq!(outcome.decisions.len(), 1, "the owner is never held to the group's rules");
        let d = &outcome.decisions[0];
        assert_eq!(
            (d.id.as_str(), d.explanation.as_str()),
            ("group-language@e1", "Muted in Rust learners for 1 minute.")
        );
        let kinds: Vec<_> = d.restrictions.iter().map(|r| (r.kind, r.detail.as_str(), r.end)).collect();
        assert_eq!(
            kinds,
            [
                (RestrictionKind::Removed, "", None),
                (RestrictionKind::Muted, "g1", Some(clock.now() + Duration::seconds(60)))
            ]
        );
        // The breach is remembered over a restart: the second mute is the longer one.
        drop(engine);
        let mut engine = Engine::open(store.clone(), policy.clone(), options).unwrap();
        clock.advance(Duration::hours(1));
        let outcome = ingest(&mut engine, &[message("e3", "m1", "member")]);
        let muted = outcome.decisions[0].restrictions.iter().find(|r| r.kind == RestrictionKind::Muted).unwrap();
        assert_eq!(muted.end, Some(clock.now() + Duration::seconds(600)));
    });
}
