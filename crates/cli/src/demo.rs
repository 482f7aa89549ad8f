//! `steward demo`: a realistic event stream the project writes itself, run through the
//! default policy, summarised, then served.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::{Value, json};
use steward_engine::input::split_ndjson;
use steward_engine::{Engine, IngestOutcome};
use steward_model::Role;

/// The human loop: the cases the decisions and the report opened, and an appeal by
/// acct-farm against its first decision, waiting for a moderator.
fn review(engine: &mut Engine, store: &dyn steward_store::Store) -> Result<()> {
    let queues = store.queue_counts()?;
    let waiting: Vec<String> = queues.iter().map(|q| format!("{} {}", q.queue, q.open + q.escalated)).collect();
    println!("\nCases waiting for a person: {}", if waiting.is_empty() { "none".into() } else { waiting.join(", ") });
    let Some(first) = store.decisions_for("acct-farm", false, 100)?.pop() else { return Ok(()) };
    let text = "这些视频是我们自己拍的，不是AI生成的。 These videos were filmed by us, not generated.";
    match engine.file_appeal(&first.id, "acct-farm", text) {
        Ok(a) => println!(
            "acct-farm appealed decision {} ({}): appeal {} waits in the appeals queue for a moderator who took no \
             part in the decision",
            first.id, first.rule_id, a.id
        ),
        Err(e) => println!("acct-farm could not appeal decision {}: {e}", first.id),
    }
    Ok(())
}

pub fn run(data_dir: Option<PathBuf>, listen: SocketAddr, no_serve: bool) -> Result<ExitCode> {
    let data_dir = match data_dir {
        Some(d) => d,
        None => tempfile::Builder::new().prefix("steward-demo-").tempdir()?.keep(),
    };
    let store = steward_store::open(&data_dir, None).with_context(|| format!("opening {}", data_dir.display()))?;
    let policy = Arc::new(steward_engine::default_policy().map_err(|e| anyhow::anyhow!("{e}"))?);
    let mut engine = Engine::open(store.clone(), policy.clone(), Default::default())?;

    let now = Utc::now();
    let stream = events(now);
    let body: String = stream.iter().map(|e| format!("{e}\n")).collect();
    println!("steward demo: {} events into {}\n", stream.len(), data_dir.display());
    let outcome = engine.ingest(&split_ndjson(body.as_bytes(), 1))?;
    // Delivering the same stream again is a no-op: every event is already stored.
    let replay = engine.ingest(&split_ndjson(body.as_bytes(), 1))?;
    summarise(&outcome, &replay);
    for trip in engine.tripped() {
        println!(
            "\nCircuit breaker of rule {} tripped at {}: {}. The rule runs in shadow (its would-be decisions are \
             recorded, not enforced) until an admin re-arms it: POST /v1/policy/rules/{}/rearm",
            trip.rule_id,
            fmt_time(trip.tripped_at),
            trip.detail_json()["reason"].as_str().unwrap_or_default(),
            trip.rule_id
        );
    }

    let farm = steward_engine::standing(store.as_ref(), &policy, "acct-farm", Utc::now())?;
    println!("\nStanding of acct-farm (每日奇闻速递) now: credit {}/{}", farm.credit, farm.credit_initial);
    for r in &farm.restrictions {
        println!("  {} until {}", r.kind.as_str(), r.end.map_or("further notice".into(), fmt_time));
    }
    if let Some(d) = &farm.disclosure {
        let until = d.until.map_or(String::new(), |t| format!(" until {}", fmt_time(t)));
        println!(
            "  must show its verified identity and IP region (because: {}{until}; not known yet: {})",
            d.because,
            d.missing.join(", ")
        );
    }
    review(&mut engine, store.as_ref())?;
    match steward_store::audit::verify(store.as_ref()) {
        Ok(v) => println!(
            "\nAudit log: {} entries, hash chain intact; every row covered ({}). Not anchored: `steward audit \
             keygen`, then --audit-key signs checkpoints of its head outside the database.",
            v.entries, v.rows
        ),
        Err(b) => println!("\nAudit log: {b}"),
    }
    if no_serve {
        return Ok(ExitCode::SUCCESS);
    }
    drop(engine);
    let key = steward_server::auth::create_key(store.as_ref(), Role::Admin)?;
    let banner = format!(
        "\nServing the API on http://{listen} (Ctrl-C to stop). An admin key for it:\n  {key}\n\
         The moderator console: http://{listen}/console (sign in with that key).\n\
         Try:\n  curl -H 'Authorization: Bearer {key}' 'http://{listen}/v1/decisions?subject=acct-farm'\n  \
         curl -H 'Authorization: Bearer {key}' http://{listen}/v1/accounts/acct-farm/standing\n  \
         curl -H 'Authorization: Bearer {key}' http://{listen}/v1/campaigns\n  \
         curl -H 'Authorization: Bearer {key}' http://{listen}/v1/policy\n  \
         curl -H 'Authorization: Bearer {key}' http://{listen}/v1/queues\n  \
         curl -H 'Authorization: Bearer {key}' -X POST http://{listen}/v1/queues/appeals/next\n  \
         curl -H 'Authorization: Bearer {key}' 'http://{listen}/v1/decisions?shadow=true'\n  \
         curl http://{listen}/openapi.json\n\
         The public transparency report of the last 30 days, in a browser: http://{listen}/transparency"
    );
    let options = crate::ServeOptions {
        limits: steward_server::Limits::default(),
        webhooks: None,
        public_transparency: true,
        banner: Some(banner),
        nats: None,
    };
    crate::serve(store, policy, listen, options)?;
    Ok(ExitCode::SUCCESS)
}

fn fmt_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn summarise(outcome: &IngestOutcome, replay: &IngestOutcome) {
    println!(
        "Ingested: {} accepted, {} duplicates, {} rejected; {} decisions.",
        outcome.accepted,
        outcome.duplicates,
        outcome.rejected.len(),
        outcome.decisions.len()
    );
    for r in &outcome.rejected {
        println!("  rejected line {}: {}", r.line.unwrap_or(0), r.error);
    }
    println!(
        "Replayed the whole stream: {} accepted, {} duplicates, {} new decisions.\n",
        replay.accepted,
        replay.duplicates,
        replay.decisions.len()
    );
    let mut by_rule: Vec<(&str, usize)> = Vec::new();
    for d in &outcome.decisions {
        match by_rule.iter_mut().find(|(r, _)| *r == d.rule_id) {
            Some((_, n)) => *n += 1,
            None => by_rule.push((&d.rule_id, 1)),
        }
    }
    println!("Decisions by rule:");
    for (rule, n) in &by_rule {
        println!("  {n:>4}  {rule}");
    }
    // One full statement of reasons per rule.
    for (rule, _) in &by_rule {
        let Some(d) = outcome.decisions.iter().find(|d| d.rule_id == *rule) else { continue };
        println!("\n── {} ── {}", d.rule_id, d.category);
        println!(
            "  subject: account {} post {}",
            d.account_id.as_deref().unwrap_or("-"),
            d.post_id.as_deref().unwrap_or("-")
        );
        println!("  ground: {}", d.ground);
        println!("  explanation: {}", d.explanation);
        for r in &d.restrictions {
            let detail = if r.detail.is_empty() { String::new() } else { format!(" ({})", r.detail) };
            let end = r.end.map_or("no end".into(), |e| format!("until {}", fmt_time(e)));
            println!("  enforcement: {}{detail}, {end}", r.kind.as_str());
        }
        if d.credit_deducted > 0 {
            println!("  credit deducted: {} points", d.credit_deducted);
        }
        println!(
            "  automated detection: {}, automated decision: {}; policy {}",
            d.automated_detection, d.automated_decision, d.policy_version
        );
        println!("  appeal: {} (until {})", d.appeal.how, fmt_time(d.appeal.until));
    }
}

/// The demo stream: accounts, posts (human, labelled AI, unlabelled AI from several
/// sources, a content farm), fact-checks, protected identities, credentials, reports,
/// follower snapshots, one malformed record.
/// Builds the demo stream, numbering events and posts.
struct Stream {
    start: DateTime<Utc>,
    out: Vec<String>,
    posts: usize,
}

impl Stream {
    fn push(&mut self, kind: &str, entity: &str, payload: Value, at: DateTime<Utc>) {
        let mut e = json!({ "id": format!("demo-{:04}", self.out.len() + 1), "type": kind, "at": fmt_time(at) });
        e[entity] = payload;
        self.out.push(e.to_string());
    }

    /// A post `minutes` after the start; `ai` is (declared, implicit label).
    #[allow(clippy::too_many_arguments)]
    fn post(
        &mut self,
        account: &str,
        kind: &str,
        title: Option<&str>,
        text: &str,
        ai: Option<(bool, bool)>,
        label: bool,
        minutes: i64,
    ) {
        self.posts += 1;
        let at = self.start + Duration::minutes(minutes);
        let mut p = json!({ "id": format!("post-{:03}", self.posts), "account_id": account, "kind": kind,
            "text": text, "created_at": fmt_time(at), "explicit_label": label });
        if let Some(t) = title {
            p["title"] = json!(t);
        }
        if let Some((declared, implicit)) = ai {
            p["ai_generated"] = json!({ "declared": declared, "implicit_label": implicit });
        }
        self.push("post.created", "post", p, at);
    }
}

fn events(now: DateTime<Utc>) -> Vec<String> {
    let start = now - Duration::hours(6);
    let mut s = Stream { start, out: Vec::new(), posts: 0 };
    let accounts = [
        ("acct-lin", "linxiaoyu", "林晓雨的日常", "成都 | 生活vlog | 合作请私信", 52_300, false),
        ("acct-science", "kexuexiaozhan", "科学小站", "用图讲清楚科学。AI 配图均已标注。", 480_000, true),
        ("acct-farm", "meiri_qiwen", "每日奇闻速递", "每天带你看世界奇闻 🔥", 2_050_000, false),
        (
            "acct-harbor",
            "harborlights",
            "Harbor Lights Studio",
            "Digital art, mostly generated. Always labelled.",
            8_900,
            false,
        ),
        ("acct-news", "citydesk_daily", "City Desk Daily", "Local news from the harbour district.", 120_400, true),
        ("acct-chen", "chen_yisheng", "陈医生谈健康", "三甲医院主任医师 | 科普", 860_000, true),
        ("acct-wang", "wangxm", "王小明", "", 312, false),
    ];
    for (id, handle, name, bio, followers, verified) in accounts {
        let account = json!({ "id": id, "handle": handle, "display_name": name, "bio": bio,
            "followers": followers, "verified": verified, "ip_region": "四川" });
        s.push("account.upserted", "account", account, start);
    }
    s.post("acct-lin", "video", Some("成都周末去哪儿"), "带大家逛了宽窄巷子和人民公园，喝了盖碗茶。", None, false, 5);
    s.post(
        "acct-lin",
        "video",
        Some("如果大熊猫会说话"),
        "用AI做了一只会讲四川话的熊猫，大家觉得像吗？",
        Some((true, true)),
        false,
        40,
    );
    s.post(
        "acct-science",
        "image",
        Some("黑洞长什么样"),
        "示意图由AI生成，已标注。真实照片见事件视界望远镜官网。",
        Some((true, true)),
        true,
        50,
    );
    s.post(
        "acct-harbor",
        "image",
        None,
        "Morning fog over the harbour, generated with my own model. #aiart",
        Some((true, true)),
        true,
        60,
    );
    s.post("acct-harbor", "image", None, "New series: lighthouses that never existed.", Some((false, true)), false, 75);
    s.post(
        "acct-news",
        "article",
        Some("Bridge closure extended to Friday"),
        "The council confirmed the north bridge stays closed for repairs until Friday evening.",
        None,
        false,
        80,
    );
    s.post(
        "acct-chen",
        "article",
        Some("秋冬季节如何预防流感"),
        "勤洗手、接种疫苗、规律作息。有发热症状请及时就医。",
        None,
        false,
        90,
    );
    s.post("acct-wang", "short_post", None, "今天的火锅太辣了[哈哈]", None, false, 95);
    // A content farm: AI videos with the embedded label but none shown to viewers.
    let farm_titles = [
        "震惊！深山发现会发光的巨型蘑菇",
        "百岁老人的长寿秘诀竟然是这个",
        "海底惊现古代城市遗址",
        "一只猫救了全村人",
        "这座桥一夜之间消失了",
        "外星信号被天文台捕获？",
        "沙漠中出现巨大脚印",
        "历史上最神秘的十个地方",
        "千年古树开口说话",
        "雪山上的神秘部落",
        "暴雨后天空出现双层彩虹",
        "会下棋的乌鸦",
        "深夜古镇的怪声",
        "百年老宅里的秘密",
        "一夜长出的石头",
        "会唱歌的沙丘",
        "湖面上漂浮的城堡",
        "失踪五十年的火车找到了",
        "海边捡到的神秘瓶子",
        "会走路的树",
        "云中之城",
        "古墓中的现代手表",
        "跨越千年的一封信",
        "山洞里的水晶宫殿",
    ];
    for (i, title) in farm_titles.iter().enumerate() {
        let text = format!("{title}，看完你就明白了！转发给家人看看");
        s.post("acct-farm", "video", Some(title), &text, Some((false, true)), false, 100 + 10 * i as i64);
    }
    // A copy-paste campaign: eight new accounts push one rumour within 40 minutes, each copy
    // disguised a little (traditional characters, zero-width spaces, full-width digits,
    // emoticons, added words, cut short).
    let rumour = "紧急通知：明天起全市自来水停供三天，水厂检测出有毒物质，赶紧囤水，转给家人朋友";
    let copies = [
        rumour.to_string(),
        format!("转发：{rumour}[怒]"),
        rumour.replace("自来水", "自來水").replace("检测", "檢測"),
        rumour.replace("停供", "停\u{200B}供").replace("三天", "３天"),
        format!("{rumour} @所有人 #停水#"),
        rumour.replace('，', " ").replace("通知", "通知!!!"),
        rumour.chars().take(34).collect(),
        format!("真的假的？{rumour}"),
    ];
    for (i, text) in copies.iter().enumerate() {
        s.post(&format!("acct-sj{i}"), "short_post", None, text, None, false, 400 + 5 * i as i64);
    }
    // A self-styled doctor without a verified credential advising patients to stop their
    // medicine; the verified 主任医师 above is left alone.
    let healer = json!({ "id": "acct-li", "handle": "li_yangsheng", "display_name": "李医生养生堂",
        "bio": "分享养生心得", "followers": 41_000 });
    s.push("account.upserted", "account", healer, start);
    s.post(
        "acct-li",
        "short_post",
        None,
        "高血压不用一直吃药，每天喝芹菜汁就能降下来，建议大家停药试试。",
        None,
        false,
        420,
    );
    let factcheck = json!({ "id": "fc-demo-1", "claim": "吃大蒜可以预防新冠病毒感染", "verdict": "false",
        "explanation": "世界卫生组织指出，没有证据表明吃大蒜能防止感染新冠病毒。", "publisher": "辟谣平台",
        "published_at": fmt_time(start) });
    s.push("factcheck.upserted", "factcheck", factcheck, start);
    let identity = json!({ "id": "id-demo-police", "name": "成都市公安局", "aliases": ["成都公安", "平安成都"],
        "kind": "police", "owner_account_ids": ["acct-police"] });
    s.push("identity.upserted", "identity", identity, start);
    // The police's own account is left alone; an account that renames itself to look like
    // the police is flagged at the rename.
    for (id, name, minutes) in
        [("acct-police", "平安成都", 10), ("acct-zhang", "张三的日常", 10), ("acct-zhang", "成都警方官方", 300)]
    {
        let account = json!({ "id": id, "handle": id, "display_name": name, "followers": 2_000 });
        s.push("account.upserted", "account", account, start + Duration::minutes(minutes));
    }
    let credential = json!({ "account_id": "acct-chen", "field": "medicine", "title": "主任医师",
        "issuer": "国家卫生健康委员会" });
    s.push("credential.verified", "credential", credential, start);
    let report = json!({ "id": "rep-1", "reporter_id": "acct-wang", "post_id": "post-010",
        "account_id": "acct-farm", "reason": "ai_unlabelled", "text": "这些视频明显是AI做的，但没有标注" });
    s.push("report.created", "report", report, start + Duration::hours(5));
    // Most of its followers gone in hours, just under the disclosure line: disclosure stays on.
    let snapshot = json!({ "account_id": "acct-farm", "followers": 968_000 });
    s.push("follower.snapshot", "snapshot", snapshot, start + Duration::hours(5));
    // A client bug: a post whose flag is a string. Rejected with its line; the rest is kept.
    s.out.push(format!(
        r#"{{"id":"demo-bad","type":"post.created","at":"{}","post":{{"id":"post-bad","account_id":"acct-wang","kind":"short_post","text":"hi","created_at":"{}","explicit_label":"no"}}}}"#,
        fmt_time(now),
        fmt_time(now)
    ));
    s.out
}
