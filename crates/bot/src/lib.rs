//! steward's group bot. A QQ group reaches it through a OneBot v11 implementation (NapCatQQ)
//! connected to [`steward_onebot`]'s endpoints. Every group message goes through the one
//! engine as a `post.created` of kind `group_message`; the live decisions on it become
//! OneBot actions ([`enforce`]), and the member is told why. Members can ask the AI
//! (`ai <question>`), whose answers pass the output [`rails`] a sentence at a time
//! ([`answer`]), and ask "is this true?" of a message they quote.
//!
//! [`Bot::run`] takes the hub's events: it ingests what has arrived as one batch (so a busy
//! group costs one commit per batch, not per message), then answers each message in its
//! own task, so that a slow answer never holds the next batch. Enforcement goes through the
//! outbox: the engine commits a `group_actions` notice with the decisions, and the bot
//! delivers it ([`deliver`]), so a decision is enforced even if the bot stops in between.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use chrono::Utc;
use steward_engine::input::BodyFormat;
use steward_llm::{ChatClient, ChatConfig, LlmError};
use steward_model::{Decision, FactCheck, GroupRules};
use steward_onebot::message::Segment;
use steward_onebot::{Action, ActionClient, Event, GroupMessage, Hub, Incoming};
use steward_server::AppState;
use tokio::sync::{Notify, mpsc};

pub mod answer;
pub mod ask;
mod deliver;
pub mod enforce;
pub mod message;
pub mod rails;
pub mod stats;

use ask::{Ask, AskLimits, RateLimiter, Refused};
use rails::{Rails, fact_check_note};
use stats::Stats;

/// How the bot behaves.
#[derive(Debug, Clone)]
pub struct BotConfig {
    /// The model `ai <question>` asks; without one, the bot says AI answers are off.
    pub llm: Option<ChatConfig>,
    pub limits: AskLimits,
    /// The longest chunk of an answer released at once, in characters.
    pub chunk_chars: usize,
    /// How often the rails read the fact-checks again.
    pub knowledge_refresh: Duration,
    /// The most messages ingested as one batch.
    pub batch: usize,
    /// How many recent messages' texts are kept for "is this true?".
    pub remembered: usize,
    /// In HTTP POST mode, the implementation's HTTP API that actions go to (with its
    /// token); otherwise actions go over the bot's reverse WebSocket.
    pub http_api: Option<HttpApi>,
}

/// An implementation's HTTP API.
#[derive(Debug, Clone)]
pub struct HttpApi {
    pub base_url: String,
    pub token: Option<String>,
}

impl Default for BotConfig {
    fn default() -> Self {
        BotConfig {
            llm: None,
            limits: AskLimits::default(),
            chunk_chars: 200,
            knowledge_refresh: Duration::from_secs(60),
            batch: 256,
            remembered: 10_000,
            http_api: None,
        }
    }
}

/// The bot: the engine's state, the OneBot hub, the model, the rails.
pub struct Bot {
    state: AppState,
    /// Wakes the group deliverer when a batch made decisions.
    wake: Notify,
    hub: Hub,
    config: BotConfig,
    llm: Option<ChatClient>,
    rails: Mutex<Rails>,
    limiter: Mutex<RateLimiter>,
    recent: Mutex<Recent>,
    pub stats: Stats,
}

impl Bot {
    /// A bot over the engine of `state` and the connections of `hub`.
    pub async fn new(state: AppState, hub: Hub, config: BotConfig) -> Result<Arc<Bot>, BotError> {
        let llm = config.llm.clone().map(ChatClient::new).transpose().map_err(BotError::Llm)?;
        let store = state.store.clone();
        let rails = tokio::task::spawn_blocking(move || Rails::load(store.as_ref()))
            .await
            .map_err(|e| BotError::Store(e.to_string()))?
            .map_err(|e| BotError::Store(e.to_string()))?;
        Ok(Arc::new(Bot {
            limiter: Mutex::new(RateLimiter::new(config.limits)),
            recent: Mutex::new(Recent::new(config.remembered)),
            rails: Mutex::new(rails),
            state,
            wake: Notify::new(),
            hub,
            config,
            llm,
            stats: Stats::default(),
        }))
    }

    /// Handles the hub's events until the hub is gone. Also reads the fact-checks again now
    /// and then, for the rails.
    pub async fn run(self: Arc<Self>, mut events: mpsc::Receiver<Incoming>) {
        let refresher = tokio::spawn(self.clone().refresh_knowledge());
        let deliverer = tokio::spawn(deliver::run(self.clone()));
        while let Some(first) = events.recv().await {
            let mut messages = Vec::new();
            let mut next = Some(first);
            while let Some(incoming) = next {
                if let Event::GroupMessage(m) = incoming.event
                    && m.user_id != m.self_id
                    && self.remember(&m)
                {
                    messages.push(m);
                }
                next = if messages.len() < self.config.batch { events.try_recv().ok() } else { None };
            }
            if !messages.is_empty() {
                self.batch(messages).await;
            }
        }
        refresher.abort();
        deliverer.abort();
    }

    /// The action client of bot account `self_id`.
    pub fn client(&self, self_id: &str) -> ActionClient {
        match &self.config.http_api {
            Some(api) => ActionClient::http(&api.base_url, api.token.as_deref()),
            None => self.hub.client(self_id),
        }
    }

    /// Keeps a message's text for "is this true?"; false when it was seen before (delivered
    /// again after a reconnect).
    fn remember(&self, m: &GroupMessage) -> bool {
        let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        recent.insert(key(&m.self_id, &m.message_id), message::text(m))
    }

    /// Ingests a batch of messages, then acts on each.
    async fn batch(self: &Arc<Self>, messages: Vec<GroupMessage>) {
        let now = Utc::now();
        let body: Vec<String> = messages.iter().map(|m| message::record(m, now)).collect();
        let answer = match self.state.engine.ingest(Bytes::from(body.join("\n")), BodyFormat::Ndjson).await {
            Ok(answer) => answer,
            Err(e) => {
                tracing::error!("group messages not ingested: {e:?}");
                return;
            }
        };
        let committed = answer.accepted + answer.duplicates;
        self.stats.ingested.fetch_add(committed as u64, std::sync::atomic::Ordering::Relaxed);
        for r in &answer.rejected {
            tracing::warn!(index = r.index, "group message refused: {}", r.error);
        }
        let mut decided: HashMap<String, Vec<Decision>> = HashMap::new();
        let inline: std::collections::HashSet<&str> = answer.decisions.iter().map(|d| d.id.as_str()).collect();
        let rest: Vec<String> =
            answer.decision_ids.iter().filter(|id| !inline.contains(id.as_str())).cloned().collect();
        let mut all = answer.decisions.clone();
        if !rest.is_empty() {
            // The store's clients block (PostgreSQL's runs a runtime of its own): off the runtime.
            let store = self.state.store.clone();
            let read = tokio::task::spawn_blocking(move || {
                rest.iter().map(|id| (id.clone(), store.decision(id))).collect::<Vec<_>>()
            });
            for (id, read) in read.await.unwrap_or_default() {
                match read {
                    Ok(Some(d)) => all.push(d),
                    other => tracing::error!(decision = %id, "a decision of the batch cannot be read: {other:?}"),
                }
            }
        }
        if !all.is_empty() {
            self.wake.notify_one();
        }
        for d in all {
            decided.entry(d.event_id.clone()).or_default().push(d);
        }
        let policy = self.state.policy();
        for m in messages {
            let decisions = decided.remove(&message::event_id(&m)).unwrap_or_default();
            let rules = policy.groups.iter().find(|g| g.id == m.group_id).cloned();
            let bot = self.clone();
            tokio::spawn(async move { bot.act(m, decisions, rules).await });
        }
    }

    /// Answers what one message asks, unless its decisions removed it.
    async fn act(self: Arc<Self>, m: GroupMessage, decisions: Vec<Decision>, rules: Option<GroupRules>) {
        if enforce::removes(&decisions, &message::post_id(&m)) {
            return;
        }
        let client = self.client(&m.self_id);
        // A message that repeats a refuted claim gets the fact-check in reply.
        if let Some(fc) = decisions.iter().find_map(|d| debunked(&d.facts)) {
            reply(&client, &m, fact_check_note(&fc)).await;
            return;
        }
        match ask::parse(&m, &m.self_id) {
            Some(Ask::Question(q)) => self.ask(&client, &m, rules.as_ref(), &q).await,
            Some(Ask::IsItTrue { reply_to }) => self.is_it_true(&client, &m, &reply_to).await,
            None => {}
        }
    }

    async fn ask(&self, client: &ActionClient, m: &GroupMessage, rules: Option<&GroupRules>, question: &str) {
        let Some(llm) = &self.llm else {
            reply(client, m, "AI answers are not set up here.".into()).await;
            return;
        };
        let admitted =
            self.limiter.lock().unwrap_or_else(|p| p.into_inner()).admit(&m.group_id, &m.user_id, Instant::now());
        if let Err(refused) = admitted {
            let line = match refused {
                Refused::Member => {
                    "you have asked several questions just now; please wait a minute before asking again."
                }
                Refused::Group => "many questions have been asked in this group just now; please wait a minute.",
            };
            let message = vec![Segment::at(m.user_id.clone()), Segment::text(format!(" Sorry, {line}"))];
            send(client, Action::SendGroupMsg { group_id: m.group_id.clone(), message }).await;
            return;
        }
        let to = answer::Answering {
            client,
            bot_id: &m.self_id,
            group_id: &m.group_id,
            question_id: &m.message_id,
            rules,
            policy: self.state.policy(),
            rails: &self.rails,
            stats: &self.stats,
            chunk_chars: self.config.chunk_chars,
        };
        let outcome = answer::answer(llm, &to, question).await;
        self.stats.answers.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tracing::info!(group = %m.group_id, ?outcome, "AI answer");
    }

    async fn is_it_true(&self, client: &ActionClient, m: &GroupMessage, quoted: &str) {
        let text = self.recent.lock().unwrap_or_else(|p| p.into_inner()).get(&key(&m.self_id, quoted));
        let line = match text {
            None => "I cannot see that message, so I cannot check it.".to_string(),
            Some(text) => match self.rails.lock().unwrap_or_else(|p| p.into_inner()).fact_check(&text) {
                Some(fc) => fact_check_note(&fc),
                None => "I know of no fact-check about that message.".to_string(),
            },
        };
        reply(client, m, line).await;
    }

    /// Reads the fact-checks again every `knowledge_refresh`, when they have changed.
    async fn refresh_knowledge(self: Arc<Self>) {
        let mut tick = tokio::time::interval(self.config.knowledge_refresh);
        tick.tick().await;
        loop {
            tick.tick().await;
            let store = self.state.store.clone();
            match tokio::task::spawn_blocking(move || Rails::load(store.as_ref())).await {
                Ok(Ok(rails)) => *self.rails.lock().unwrap_or_else(|p| p.into_inner()) = rails,
                Ok(Err(e)) => tracing::warn!("the rails' fact-checks were not read again: {e}"),
                Err(e) => tracing::warn!("the rails' fact-checks were not read again: {e}"),
            }
        }
    }
}

/// Why a bot cannot start.
#[derive(Debug)]
pub enum BotError {
    Llm(LlmError),
    Store(String),
}

impl std::fmt::Display for BotError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BotError::Llm(e) => write!(f, "the AI endpoint: {e}"),
            BotError::Store(e) => write!(f, "reading the fact-checks: {e}"),
        }
    }
}

impl std::error::Error for BotError {}

/// The fact-check behind a `debunked_claim` signal among a decision's facts.
fn debunked(facts: &serde_json::Value) -> Option<FactCheck> {
    let signals = facts.get("signals")?.as_array()?;
    let e = signals.iter().find(|s| s["name"] == "debunked_claim")?.get("evidence")?;
    let fc = serde_json::json!({
        "id": e.get("factcheck")?, "claim": e.get("claim")?, "verdict": e.get("verdict")?,
        "publisher": e.get("publisher")?, "url": e.get("url").cloned().unwrap_or_default(),
    });
    serde_json::from_value(fc).ok()
}

/// Says `text` in the message's group, quoting it.
async fn reply(client: &ActionClient, m: &GroupMessage, text: String) {
    let message = vec![Segment::Reply { id: m.message_id.clone() }, Segment::text(text)];
    send(client, Action::SendGroupMsg { group_id: m.group_id.clone(), message }).await;
}

async fn send(client: &ActionClient, action: Action) {
    if let Err(e) = client.call(&action).await {
        tracing::warn!(action = action.name(), "bot message failed: {e}");
    }
}

fn key(self_id: &str, message_id: &str) -> String {
    format!("{self_id}:{message_id}")
}

/// The texts of the most recent messages, by bot and message id.
struct Recent {
    cap: usize,
    texts: HashMap<String, String>,
    order: VecDeque<String>,
}

impl Recent {
    fn new(cap: usize) -> Self {
        Recent { cap: cap.max(1), texts: HashMap::new(), order: VecDeque::new() }
    }

    /// Keeps a text; false when the key was already kept.
    fn insert(&mut self, key: String, text: String) -> bool {
        if self.texts.contains_key(&key) {
            return false;
        }
        if self.order.len() >= self.cap
            && let Some(old) = self.order.pop_front()
        {
            self.texts.remove(&old);
        }
        self.order.push_back(key.clone());
        self.texts.insert(key, text);
        true
    }

    fn get(&self, key: &str) -> Option<String> {
        self.texts.get(key).cloned()
    }
}
