//! `steward bot`: the group bot. A OneBot v11 implementation (NapCatQQ) connects to
//! `--listen`; group messages go through the engine, and the bot enforces and answers.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use steward_bot::{Bot, BotConfig, HttpApi};
use steward_llm::{ChatConfig, Timeouts, api_key_from_env};
use steward_onebot::{Hub, HubConfig};

use crate::{StoreArgs, anchor, load_policy, shutdown};

#[derive(Args)]
pub struct BotArgs {
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    anchor: anchor::AnchorArgs,
    /// Policy file (TOML), with the groups' rules in `[[groups]]`; when omitted, the version
    /// in force in the store, else the shipped default.
    #[arg(long)]
    policy: Option<PathBuf>,
    /// Address the OneBot implementation connects to: the reverse WebSocket at
    /// /onebot/v11/ws, and HTTP POST events at /onebot/v11/http.
    #[arg(long, default_value = "127.0.0.1:8081")]
    listen: SocketAddr,
    /// Token the implementation must present (`Authorization: Bearer …`, or
    /// `?access_token=`); without it, any connection is accepted.
    #[arg(long, env = "STEWARD_ONEBOT_TOKEN", hide_env_values = true)]
    access_token: Option<String>,
    /// HTTP POST mode: the secret events are signed with (X-Signature, HMAC-SHA1).
    #[arg(long, env = "STEWARD_ONEBOT_SECRET", hide_env_values = true)]
    secret: Option<String>,
    /// HTTP POST mode: the implementation's HTTP API (e.g. http://127.0.0.1:3000), which
    /// actions are sent to with the access token. Without it, actions go over the reverse
    /// WebSocket.
    #[arg(long)]
    onebot_http_api: Option<String>,
    /// Base URL of the OpenAI-compatible API `ai <question>` asks, e.g.
    /// http://127.0.0.1:8080/v1. Without it, the bot says AI answers are off.
    #[arg(long, requires = "llm_model")]
    llm_base_url: Option<String>,
    /// The model's name at that API.
    #[arg(long, requires = "llm_base_url")]
    llm_model: Option<String>,
    /// The environment variable that holds the API's key (sent as a Bearer token).
    #[arg(long, default_value = "STEWARD_LLM_API_KEY")]
    llm_api_key_env: String,
    /// Also serve steward's HTTP API (review, appeals, console, transparency) on this
    /// address, from the same engine.
    #[arg(long)]
    api_listen: Option<SocketAddr>,
}

pub fn run(args: BotArgs) -> Result<ExitCode> {
    let llm = match (&args.llm_base_url, &args.llm_model) {
        (Some(base_url), Some(model)) => Some(ChatConfig {
            base_url: base_url.clone(),
            model: model.clone(),
            api_key: api_key_from_env(&args.llm_api_key_env)?,
            timeouts: Timeouts::default(),
            max_tokens: Some(400),
            temperature: None,
        }),
        _ => None,
    };
    let http_api = args.onebot_http_api.clone().map(|base_url| HttpApi { base_url, token: args.access_token.clone() });
    let store = args.store.open()?;
    let checkpoints = args.anchor.start(&store, &args.store.data_dir)?;
    let policy = load_policy(store.as_ref(), args.policy.as_deref())?;
    let groups = policy.groups.len();
    let engine = steward_engine::Engine::open(store, policy, Default::default())?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let state = steward_server::AppState::new(engine, steward_server::Limits::default());
        let (hub, events) = Hub::new(HubConfig {
            access_token: args.access_token.clone(),
            secret: args.secret.clone(),
            action_timeout: Duration::from_secs(10),
            ..HubConfig::default()
        });
        let with_llm = llm.is_some();
        let bot = Bot::new(state.clone(), hub.clone(), BotConfig { llm, http_api, ..BotConfig::default() }).await?;
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let addr = listener.local_addr()?;
        eprintln!(
            "steward bot: OneBot reverse WebSocket at ws://{addr}/onebot/v11/ws, HTTP POST at http://{addr}/onebot/v11/http; \
             {groups} group(s) with rules; AI answers {}",
            if with_llm { "on" } else { "off (no --llm-base-url)" }
        );
        if args.access_token.is_none() {
            eprintln!("warning: no --access-token: any client that reaches {addr} can connect as a bot");
        }
        tokio::spawn(bot.run(events));
        if let Some(api) = args.api_listen {
            let api_listener =
                tokio::net::TcpListener::bind(api).await.with_context(|| format!("cannot listen on {api}"))?;
            eprintln!("steward API at http://{}", api_listener.local_addr()?);
            tokio::spawn(steward_server::serve(api_listener, state, shutdown()));
        }
        axum::serve(listener, steward_onebot::router(hub)).with_graceful_shutdown(shutdown()).await?;
        anyhow::Ok(())
    })?;
    anchor::finish(checkpoints)?;
    Ok(ExitCode::SUCCESS)
}
