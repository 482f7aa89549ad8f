//! The group bot end to end: a NapCat-like simulator on a real reverse WebSocket, the real
//! engine on a SQLite store with the default policy and a group's rules, and a scripted
//! OpenAI-compatible server for the model.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use steward_bot::{Bot, BotConfig};
use steward_engine::input::split_ndjson;
use steward_engine::{DEFAULT_POLICY, Engine};
use steward_llm::testing::{Script, ScriptedServer, Step, delta_event};
use steward_onebot::event::Role;
use steward_onebot::message::Segment;
use steward_onebot::simulator::{Behaviour, Format, ReceivedAction, Simulator};
use steward_onebot::{Hub, HubConfig};
use steward_policy::Policy;
use steward_server::{AppState, Limits};

const GROUP: &str = "700100";
const BOT: &str = "10000";
const OWNER: &str = "1";
const ADMIN: &str = "2";

const GROUPS: &str = r#"
[[groups]]
id = "700100"
name = "Rust learners"
language = "en"
flood = { messages = 5, seconds = 10 }
links = false
admins = ["2"]

[[groups]]
id = "700300"
name = "本地生活群"
language = "zh"
"#;

/// The Chinese group, where the refuted claim below circulates.
const ZH_GROUP: &str = "700300";

const FACT_CHECK: &str = r#"{"id":"fc-vinegar","type":"factcheck.upserted","at":"2026-12-01T08:00:00Z","factcheck":{"id":"fc-vinegar","claim":"喝醋可以软化血管，治疗高血压","verdict":"false","publisher":"中国互联网联合辟谣平台","published_at":"2026-12-01T08:00:00Z","url":"https://www.piyao.org.cn/vinegar"}}"#;

/// The fact-check as the bot says it.
const NOTE: &str = "Fact-check: \u{201c}喝醋可以软化血管，治疗高血压\u{201d} is rated false by 中国互联网联合辟谣平台. https://www.piyao.org.cn/vinegar";

struct Group {
    sim: Simulator,
    llm: ScriptedServer,
    bot: Arc<Bot>,
    _dir: tempfile::TempDir,
}

async fn start(scripts: Vec<Script>, config: BotConfig) -> Group {
    start_with(scripts, config, HubConfig::default()).await
}

async fn start_with(scripts: Vec<Script>, config: BotConfig, hub: HubConfig) -> Group {
    let dir = tempfile::tempdir().unwrap();
    let store = steward_store::open(dir.path(), None).unwrap();
    let policy = Policy::parse(&format!("{DEFAULT_POLICY}\n{GROUPS}"), "test.toml", &steward_engine::schema()).unwrap();
    let mut engine = Engine::open(store, Arc::new(policy), Default::default()).unwrap();
    engine.ingest(&split_ndjson(FACT_CHECK.as_bytes(), 1)).unwrap();
    let state = AppState::new(engine, Limits::default());
    let (hub, events) = Hub::new(HubConfig { access_token: Some("secret".into()), ..hub });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(axum::serve(listener, steward_onebot::router(hub.clone())).into_future());
    let llm = ScriptedServer::start(scripts).await;
    let config = BotConfig { llm: config.llm.clone().or_else(|| Some(llm.config("test-model"))), ..config };
    let bot = Bot::new(state, hub, config).await.unwrap();
    tokio::spawn(bot.clone().run(events));
    let sim = Simulator::connect(&format!("ws://{addr}/onebot/v11/ws"), Some("secret"), BOT).await.unwrap();
    Group { sim, llm, bot, _dir: dir }
}

impl Group {
    async fn say(&self, user: &str, role: Role, text: &str) -> String {
        self.sim.send_group_text(GROUP, user, role, text, Format::ARRAY).await.unwrap()
    }

    async fn say_in(&self, group: &str, user: &str, text: &str) -> String {
        self.sim.send_group_text(group, user, Role::Member, text, Format::ARRAY).await.unwrap()
    }

    /// The actions that arrive within `wait` of the last one.
    async fn actions(&self, wait: Duration) -> Vec<ReceivedAction> {
        let mut out = Vec::new();
        while let Some(a) = self.sim.next_action(wait).await {
            out.push(a);
        }
        out
    }
}

/// An action's name and its message's text (segments of text joined), or its other params.
fn summary(a: &ReceivedAction) -> (String, String) {
    let text = match a.params.get("message") {
        Some(Value::Array(segments)) => segments
            .iter()
            .map(|s| match s["type"].as_str() {
                Some("text") => s["data"]["text"].as_str().unwrap_or("").to_string(),
                Some("at") => format!("@{}", s["data"]["qq"].as_str().unwrap_or("")),
                Some("reply") => format!("[reply {}]", s["data"]["id"]),
                _ => String::new(),
            })
            .collect(),
        _ => a.params.to_string(),
    };
    (a.action.clone(), text)
}

fn names(actions: &[ReceivedAction]) -> Vec<&str> {
    actions.iter().map(|a| a.action.as_str()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_english_group_removes_and_mutes_with_the_reason_and_never_touches_the_owner() {
    let g = start(vec![], BotConfig::default()).await;
    let quiet = Duration::from_millis(700);
    g.say("501", Role::Member, "Hello everyone, happy to be here!").await;
    assert!(g.actions(quiet).await.is_empty(), "English is fine");

    let id = g.say("501", Role::Member, "大家好，请问这里可以说中文吗？").await;
    let actions = g.actions(quiet).await;
    assert_eq!(names(&actions), ["delete_msg", "set_group_ban", "send_group_msg", "send_private_msg"]);
    assert_eq!(actions[0].params["message_id"].to_string().trim_matches('"'), id);
    assert_eq!(
        (actions[1].params["user_id"].to_string(), actions[1].params["duration"].as_u64()),
        ("501".into(), Some(600))
    );
    let (_, notice) = summary(&actions[2]);
    assert!(notice.starts_with("@501 The group Rust learners asks members to write in its language (en)"), "{notice}");
    assert!(notice.contains("muted in the group for 10 minutes") && !notice.contains("中文"), "{notice}");
    let (_, details) = summary(&actions[3]);
    assert_eq!(actions[3].params["user_id"].to_string(), "2");
    assert!(details.contains("group-language") && details.contains("请问这里可以说中文吗"), "{details}");

    // The second breach of the day costs an hour.
    g.say("501", Role::Member, "我还是想用中文交流，可以吗？").await;
    let actions = g.actions(quiet).await;
    assert_eq!(actions[1].params["duration"].as_u64(), Some(3600));

    // The owner and (by default) admins are outside the group's rules.
    g.say(OWNER, Role::Owner, "这是群主的消息，用中文写的。").await;
    g.say(ADMIN, Role::Admin, "管理员也用中文说一句话吧。").await;
    assert!(g.actions(quiet).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enforcement_is_retried_from_the_outbox_until_the_implementation_answers() {
    let hub = HubConfig { action_timeout: Duration::from_millis(300), ..HubConfig::default() };
    let g = start_with(vec![], BotConfig::default(), hub).await;
    g.sim.set_behaviour("delete_msg", Behaviour::Silent);
    let id = g.say("511", Role::Member, "这条消息应该被撤回才对吧？").await;
    let first = g.actions(Duration::from_millis(700)).await;
    assert_eq!(names(&first), ["delete_msg"], "the first attempt times out at the recall");
    g.sim.set_behaviour("delete_msg", Behaviour::Ok);
    // Retried after the first backoff (2 s), in full and in order.
    let again = g.actions(Duration::from_millis(3000)).await;
    assert_eq!(names(&again), ["delete_msg", "set_group_ban", "send_group_msg", "send_private_msg"]);
    assert_eq!(again[0].params["message_id"].to_string(), id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_and_a_link_mute() {
    let g = start(vec![], BotConfig::default()).await;
    for i in 0..6 {
        g.say("502", Role::Member, &format!("spam number {i}")).await;
    }
    let actions = g.actions(Duration::from_millis(700)).await;
    assert_eq!(names(&actions), ["set_group_ban", "send_group_msg", "send_private_msg"]);
    assert!(summary(&actions[1]).1.contains("at most 5 messages in 10 seconds"), "{:?}", summary(&actions[1]));
    g.say("503", Role::Member, "cheap watches at https://spam.example/buy").await;
    let actions = g.actions(Duration::from_millis(700)).await;
    assert_eq!(names(&actions), ["delete_msg", "set_group_ban", "send_group_msg", "send_private_msg"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_in_chinese_in_an_english_group_is_recalled_with_one_neutral_line() {
    let script = Script::deltas(&[
        "Rust is a systems programming language. ",
        "It is fast and memory-safe. ",
        "用中文来说，Rust 是一种注重安全和性能的系统编程语言。",
    ]);
    let g = start(vec![script], BotConfig::default()).await;
    let question = g.say("504", Role::Member, "ai please answer in Chinese: what is Rust?").await;
    let actions = g.actions(Duration::from_millis(1500)).await;
    let got: Vec<(String, String)> = actions.iter().map(summary).collect();
    assert_eq!(
        names(&actions),
        ["send_group_msg", "send_group_msg", "delete_msg", "delete_msg", "send_group_msg"],
        "{got:?}"
    );
    assert_eq!(got[0].1, format!("[reply \"{question}\"][AI] Rust is a systems programming language."));
    assert_eq!(got[1].1, "[AI] It is fast and memory-safe.");
    assert!(
        got[4].1.ends_with("[AI] I withdrew my answer because it was not in this group's language (en)."),
        "{got:?}"
    );
    // The system prompt carried the group's rule.
    let request = &g.llm.requests()[0].body;
    let system = request["messages"][0]["content"].as_str().unwrap();
    assert!(system.contains("writes in English only"), "{system}");
    assert_eq!(request["messages"][1]["content"], "please answer in Chinese: what is Rust?");
    assert!(g.bot.stats.rails.quantile(0.5).is_some() && g.bot.stats.release.quantile(0.5).is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refuted_claim_in_an_answer_is_replaced_by_the_fact_check() {
    let script =
        Script::deltas(&["这个问题很多人问过。", "其实喝醋可以软化血管，治疗高血压，每天一小杯就行。", "祝你健康。"]);
    let g = start(vec![script], BotConfig::default()).await;
    g.say_in(ZH_GROUP, "505", "ai 高血压平时要注意什么？").await;
    let got: Vec<_> = g.actions(Duration::from_millis(1500)).await.iter().map(summary).collect();
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got[0].1.ends_with("[AI] 这个问题很多人问过。"), "{got:?}");
    assert_eq!(got[1].1, format!("[AI] {NOTE}"));
    let system = g.llm.requests()[0].body["messages"][0]["content"].as_str().unwrap().to_string();
    assert!(system.contains("writes in Chinese only"), "{system}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn is_this_true_answers_only_with_a_confident_fact_check() {
    let g = start(vec![], BotConfig::default()).await;
    let quiet = Duration::from_millis(700);
    // A message that repeats the claim is answered at once.
    let rumour = g.say_in(ZH_GROUP, "506", "转给家里老人：喝醋可以软化血管，治疗高血压！").await;
    let got: Vec<_> = g.actions(quiet).await.iter().map(summary).collect();
    assert_eq!(got, [("send_group_msg".to_string(), format!("[reply \"{rumour}\"]{NOTE}"))]);
    let sim = &g.sim;
    let ask = |quoted: String, text: &'static str| async move {
        let segments = vec![Segment::Reply { id: quoted }, Segment::text(text)];
        sim.send_group_message(ZH_GROUP, "507", Role::Member, &segments, Format::CQ).await.unwrap()
    };
    let question = ask(rumour, "真的吗？").await;
    let got: Vec<_> = g.actions(quiet).await.iter().map(summary).collect();
    assert_eq!(got, [("send_group_msg".to_string(), format!("[reply \"{question}\"]{NOTE}"))]);
    let plain = g.say_in(ZH_GROUP, "508", "周五晚上七点在老地方聚会，别迟到。").await;
    ask(plain, "辟谣").await;
    let got: Vec<_> = g.actions(quiet).await.iter().map(summary).collect();
    assert!(got.len() == 1 && got[0].1.ends_with("I know of no fact-check about that message."), "{got:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_stream_a_silent_model_and_the_rate_limits_each_get_a_short_line() {
    let cut = Script::Stream(vec![
        Step::Bytes(delta_event("Rust was first released in 2015. It").into_bytes()),
        Step::Sleep(Duration::from_millis(20)),
        Step::Cut,
    ]);
    let g = start(vec![cut, Script::HangBeforeHeaders], BotConfig::default()).await;
    g.say("509", Role::Member, "ai when was Rust released?").await;
    let got: Vec<_> = g.actions(Duration::from_millis(1500)).await.iter().map(summary).collect();
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got[0].1.ends_with("[AI] Rust was first released in 2015."), "{got:?}");
    assert_eq!(got[1].1, "[AI] The answer was cut off, so it may be incomplete.");
    let started = Instant::now();
    g.say("509", Role::Member, "AI: and Go?").await;
    let got: Vec<_> = g.actions(Duration::from_millis(3000)).await.iter().map(summary).collect();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].1, "[AI] No answer: the AI service took too long. Please try again later.");
    assert!(started.elapsed() < Duration::from_secs(6), "bounded by the first-token timeout");
    // Third question within the minute: over the member's limit of 3? Two so far; the third
    // goes to the model (no script left: an error line), the fourth is refused.
    g.say("509", Role::Member, "ai third").await;
    let _ = g.actions(Duration::from_millis(1000)).await;
    g.say("509", Role::Member, "ai fourth").await;
    let got: Vec<_> = g.actions(Duration::from_millis(700)).await.iter().map(summary).collect();
    assert_eq!(
        got,
        [(
            "send_group_msg".to_string(),
            "@509 Sorry, you have asked several questions just now; please wait a minute before asking again."
                .to_string()
        )]
    );
}

/// `cargo test --release -p steward-bot --test scenarios thousands -- --nocapture` prints the
/// figure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_group_messages_a_second_go_through_the_engine() {
    let g = start(vec![], BotConfig::default()).await;
    let n: u64 = std::env::var("STEWARD_BOT_BENCH_N").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000);
    let started = Instant::now();
    for i in 0..n {
        let text = chatter(i);
        g.sim
            .send_group_text("700200", &(1000 + i % 200).to_string(), Role::Member, &text, Format::ARRAY)
            .await
            .unwrap();
    }
    let sent = started.elapsed();
    while g.bot.stats.ingested() < n {
        assert!(started.elapsed() < Duration::from_secs(120), "only {} of {n} ingested", g.bot.stats.ingested());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let took = started.elapsed();
    let rate = n as f64 / took.as_secs_f64();
    eprintln!("{n} group messages: sent in {sent:.2?}, through the engine in {took:.2?}: {rate:.0} messages/s");
    // A guard against collapse on a loaded 2-core machine; the figure is read on a quiet one.
    assert!(rate >= 1000.0, "{rate:.0} messages/s");
}

/// Ordinary chat, different from message to message (a group's members do not copy each
/// other, and copies would rightly look like a campaign).
fn chatter(i: u64) -> String {
    const WORDS: &[&str] = &[
        "rust", "borrow", "checker", "lifetime", "async", "tokio", "meetup", "friday", "slides", "compile", "error",
        "trait", "generic", "macro", "crate", "cargo", "test", "bench", "release", "debug", "thanks", "question",
        "answer", "link", "docs", "book", "example", "closure", "iterator", "vector",
    ];
    let mut x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
    let mut words = Vec::new();
    for _ in 0..(6 + i % 9) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        words.push(WORDS[(x % WORDS.len() as u64) as usize]);
    }
    format!("{} {i}", words.join(" "))
}

/// The one scenario against a real model: SmolLM2-135M served by llama.cpp on loopback
/// (`scripts/llm.sh`). Skipped, with a message, when it is not running.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_local_model_answers_through_the_rails() {
    let Ok(base_url) = std::env::var("STEWARD_TEST_LLM_URL") else {
        if std::env::var("STEWARD_REQUIRE_LLM").as_deref() == Ok("1") {
            panic!("STEWARD_REQUIRE_LLM=1 but STEWARD_TEST_LLM_URL is unset: source scripts/llm.sh and run start_llm");
        }
        println!("skipped: no local LLM (STEWARD_TEST_LLM_URL unset; scripts/llm.sh installs one)");
        return;
    };
    let model = std::env::var("STEWARD_TEST_LLM_MODEL").unwrap_or_else(|_| "local".into());
    let llm = steward_llm::ChatConfig {
        base_url,
        model,
        api_key: None,
        timeouts: steward_llm::Timeouts {
            first_token: Duration::from_secs(60),
            total: Duration::from_secs(120),
            ..Default::default()
        },
        max_tokens: Some(64),
        temperature: Some(0.0),
    };
    let g = start(vec![], BotConfig { llm: Some(llm), ..BotConfig::default() }).await;
    let started = Instant::now();
    g.say("510", Role::Member, "ai What is the capital of France?").await;
    while g.bot.stats.answers() == 0 {
        assert!(started.elapsed() < Duration::from_secs(150), "no answer in 150 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let took = started.elapsed();
    let got: Vec<_> = g.actions(Duration::from_millis(300)).await.iter().map(summary).collect();
    eprintln!("the real model's answer, in {took:.2?}: {got:#?}");
    assert!(!got.is_empty());
    for (action, text) in &got {
        assert!(action == "send_group_msg" || action == "delete_msg", "{got:?}");
        if action == "send_group_msg" {
            let text = text.split_once("]").filter(|_| text.starts_with("[reply")).map_or(text.as_str(), |(_, t)| t);
            assert!(text.starts_with("[AI] "), "every line is labelled: {text:?}");
        }
    }
    let (rails, release) = (&g.bot.stats.rails, &g.bot.stats.release);
    eprintln!(
        "rails per chunk: median {:?}, max {:?}; sentence to group: median {:?}, max {:?}",
        rails.quantile(0.5),
        rails.quantile(1.0),
        release.quantile(0.5),
        release.quantile(1.0)
    );
}
