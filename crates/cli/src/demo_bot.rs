//! `steward demo --bot`: a scripted afternoon in two QQ groups, played by the NapCat-like
//! simulator over a real reverse WebSocket into the real bot and engine, with a scripted
//! model standing in for the operator's LLM. Prints what members say and what the bot does.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use serde_json::Value;
use steward_bot::{Bot, BotConfig};
use steward_engine::input::split_ndjson;
use steward_llm::testing::{Script, ScriptedServer};
use steward_onebot::event::Role;
use steward_onebot::message::Segment;
use steward_onebot::simulator::{Format, ReceivedAction, Simulator};
use steward_onebot::{Hub, HubConfig};

const BOT: &str = "20000";
const EN: &str = "800100";
const ZH: &str = "800200";

/// The groups' rules, added to the default policy.
const GROUPS: &str = r#"
[[groups]]
id = "800100"
name = "Rust learners"
language = "en"
flood = { messages = 5, seconds = 10 }
links = false
admins = ["20002"]

[[groups]]
id = "800200"
name = "本地生活群"
language = "zh"
admins = ["20012"]
"#;

const FACT_CHECK: &str = r#"{"id":"demo-bot-fc","type":"factcheck.upserted","at":"2026-12-01T08:00:00Z","factcheck":{"id":"fc-vinegar","claim":"喝醋可以软化血管，治疗高血压","verdict":"false","publisher":"中国互联网联合辟谣平台","url":"https://www.piyao.org.cn/"}}"#;

/// One line of the script: who says what where.
struct Line {
    group: &'static str,
    user: &'static str,
    role: Role,
    text: &'static str,
    /// The message this one quotes, by its place in the script.
    quotes: Option<usize>,
}

fn script() -> Vec<Line> {
    let line = |group, user, role, text| Line { group, user, role, text, quotes: None };
    vec![
        line(EN, "20001", Role::Owner, "Welcome to Rust learners! English only here, please."),
        line(EN, "501", Role::Member, "Thanks! Glad to be here."),
        line(EN, "502", Role::Member, "大家好，请问这里可以说中文吗？"),
        line(EN, "20001", Role::Owner, "群主用中文说一句：欢迎大家。"),
        line(EN, "501", Role::Member, "ai how does the borrow checker work?"),
        line(EN, "503", Role::Member, "ai please answer in Chinese: what is ownership?"),
        line(EN, "504", Role::Member, "cheap crates at https://spam.example/buy now"),
        line(EN, "505", Role::Member, "up"),
        line(EN, "505", Role::Member, "up up"),
        line(EN, "505", Role::Member, "up up up"),
        line(EN, "505", Role::Member, "up up up up"),
        line(EN, "505", Role::Member, "up up up up up"),
        line(EN, "505", Role::Member, "up up up up up up"),
        line(ZH, "601", Role::Member, "转给家里老人：喝醋可以软化血管，治疗高血压！"),
        Line { group: ZH, user: "602", role: Role::Member, text: "真的吗？", quotes: Some(13) },
        line(ZH, "603", Role::Member, "周五晚上七点在老地方聚会，别迟到。"),
        Line { group: ZH, user: "604", role: Role::Member, text: "辟谣", quotes: Some(15) },
        line(ZH, "605", Role::Member, "ai 高血压平时要注意什么？"),
    ]
}

/// The model's answers, in the order the script asks.
fn answers() -> Vec<Script> {
    vec![
        Script::deltas(&[
            "The borrow checker tracks who owns each value and how it is borrowed. ",
            "It refuses code where a reference could outlive its data or alias a mutable one. ",
            "All of it happens at compile time, so it costs nothing when the program runs.",
        ]),
        Script::deltas(&[
            "Ownership means every value has one owner. ",
            "用中文来说：所有权是 Rust 管理内存的核心规则，每个值只有一个所有者。",
        ]),
        Script::deltas(&["高血压要按医嘱服药，少盐、多运动。", "另外，喝醋可以软化血管，治疗高血压。", "祝您健康。"]),
    ]
}

pub fn run(data_dir: Option<PathBuf>) -> Result<ExitCode> {
    let data_dir = match data_dir {
        Some(d) => d,
        None => tempfile::Builder::new().prefix("steward-demo-bot-").tempdir()?.keep(),
    };
    let store = steward_store::open(&data_dir, None).with_context(|| format!("opening {}", data_dir.display()))?;
    let text = format!("{}\n{GROUPS}", steward_engine::DEFAULT_POLICY);
    let policy = steward_policy::Policy::parse(&text, "default.toml + demo groups", &steward_engine::schema())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut engine = steward_engine::Engine::open(store, Arc::new(policy), Default::default())?;
    engine.ingest(&split_ndjson(FACT_CHECK.as_bytes(), 1))?;
    println!("steward demo --bot: two QQ groups, played by a OneBot simulator into {}\n", data_dir.display());
    println!("  {EN} Rust learners: English only, at most 5 messages in 10 seconds, no links; admin 20002");
    println!(
        "  {ZH} 本地生活群: Chinese only; admin 20012; a fact-check of 喝醋可以软化血管 is in the knowledge base\n"
    );
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(play(engine))?;
    Ok(ExitCode::SUCCESS)
}

async fn play(engine: steward_engine::Engine) -> Result<()> {
    let state = steward_server::AppState::new(engine, steward_server::Limits::default());
    let (hub, events) = Hub::new(HubConfig { access_token: Some("demo".into()), ..HubConfig::default() });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(axum::serve(listener, steward_onebot::router(hub.clone())).into_future());
    let llm = ScriptedServer::start(answers()).await;
    let bot = Bot::new(state, hub, BotConfig { llm: Some(llm.config("scripted")), ..BotConfig::default() }).await?;
    tokio::spawn(bot.clone().run(events));
    let sim = Simulator::connect(&format!("ws://{addr}/onebot/v11/ws"), Some("demo"), BOT)
        .await
        .map_err(|e| anyhow::anyhow!("the simulator could not connect: {e}"))?;
    let mut ids: Vec<String> = Vec::new();
    for line in script() {
        let mut segments = Vec::new();
        if let Some(i) = line.quotes {
            segments.push(Segment::Reply { id: ids[i].clone() });
        }
        segments.push(Segment::text(line.text));
        let quoting = line.quotes.map_or(String::new(), |i| format!(" (quoting message {})", ids[i]));
        let role = if line.role == Role::Owner { " (owner)" } else { "" };
        let id = sim
            .send_group_message(line.group, line.user, line.role, &segments, Format::ARRAY)
            .await
            .map_err(|e| anyhow::anyhow!("sending: {e}"))?;
        println!("[{}] {}{role}{quoting}: {}", line.group, line.user, line.text);
        ids.push(id);
        while let Some(action) = sim.next_action(Duration::from_millis(600)).await {
            println!("    bot: {}", describe(&action));
        }
    }
    let q = |s: &steward_bot::stats::Samples, p| s.quantile(p).map_or("-".into(), |d| format!("{d:.2?}"));
    println!(
        "\n{} messages went through the engine. Rails per chunk: median {}, p99 {}; a chunk from the model's \
         sentence to the group: median {}, p99 {}.",
        bot.stats.ingested(),
        q(&bot.stats.rails, 0.5),
        q(&bot.stats.rails, 0.99),
        q(&bot.stats.release, 0.5),
        q(&bot.stats.release, 0.99),
    );
    println!("Every decision is in the store with its reason and appeal, like any other: steward serve --data-dir …");
    Ok(())
}

/// An action in words.
fn describe(a: &ReceivedAction) -> String {
    let p = &a.params;
    let id = |k: &str| p[k].as_i64().map_or_else(|| p[k].as_str().unwrap_or("?").to_string(), |n| n.to_string());
    match a.action.as_str() {
        "delete_msg" => format!("recalls message {}", id("message_id")),
        "set_group_ban" => format!("mutes {} for {} s", id("user_id"), p["duration"]),
        "set_group_kick" => format!("removes {} from the group", id("user_id")),
        "send_group_msg" => format!("says: {}", text(&p["message"])),
        "send_private_msg" => {
            format!("tells {} privately: {}", id("user_id"), text(&p["message"]).replace('\n', "\n        "))
        }
        other => format!("{other} {p}"),
    }
}

/// A message's segments as text.
fn text(message: &Value) -> String {
    let Some(segments) = message.as_array() else { return message.to_string() };
    segments
        .iter()
        .map(|s| match s["type"].as_str() {
            Some("text") => s["data"]["text"].as_str().unwrap_or("").to_string(),
            Some("at") => format!("@{}", s["data"]["qq"].as_str().unwrap_or("")),
            Some("reply") => format!("(replying to {}) ", s["data"]["id"]),
            _ => String::new(),
        })
        .collect()
}
