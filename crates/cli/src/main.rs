//! The `steward` command. Each subcommand builds a typed command for the engine or the
//! store; none of them contains governance logic.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use steward_model::Role;

mod anchor;
mod backtest;
mod bench;
mod bench_impersonation;
mod bench_ingest;
mod bench_report;
mod bench_sketch;
mod bot;
mod cluster;
mod demo;
mod demo_bot;
mod eval;
mod eval_claims;
mod eval_clickbait;
mod eval_copy;
mod eval_impersonation;
mod excerpt;
mod export;
mod ingest;
mod jsonl;
mod kb;
mod registry;
mod report;
mod train;
mod worker;

#[derive(Parser)]
#[command(
    name = "steward",
    version,
    about = "Governance engine for self-media platforms and group chats.",
    long_about = "steward takes in accounts, posts, reports and fact-checks, runs its detectors, applies \
the operator's policy, and enforces time-limited, explained, appealable actions that are audited.\n\n\
Start with `steward demo`."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API.
    Serve {
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        anchor: anchor::AnchorArgs,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Policy file (TOML), put in force; when omitted, the version in force in the store,
        /// else the shipped default.
        #[arg(long)]
        policy: Option<PathBuf>,
        /// Webhook endpoints notices are delivered to (TOML: `[[endpoint]]` with url,
        /// secret_env, audience; optional `[delivery]`), checked at start; see the README.
        /// Without it, notices wait in the outbox and are read at /v1/notices.
        #[arg(long)]
        webhooks: Option<PathBuf>,
        /// Serve the transparency report to anyone, without a key, as a page at
        /// /transparency (the last 30 days, or ?from=&to=). Off by default.
        #[arg(long)]
        public_transparency: bool,
        /// Distributed mode: POST /v1/events publishes to NATS JetStream instead of the local
        /// store. URLs of the NATS servers, comma-separated (nats://10.0.0.1:4222,...). Records are
        /// validated as without it; each valid event goes to the stream `steward-events`
        /// (created if missing: R3, kept 8 days) on subject ev.<type>.<partition>, the partition
        /// a hash of its account id (else of its event id), with Nats-Msg-Id = the event id. A
        /// request is answered `accepted` only for events JetStream acknowledged; valid events it
        /// did not acknowledge (after retrying for 30 s) make the request a 503 that counts them,
        /// never `accepted`. Workers make the decisions: answers carry none. Keys and reads still
        /// use the store.
        #[arg(long, value_name = "URL[,URL...]")]
        nats: Option<String>,
        #[command(flatten)]
        limits: ServeLimits,
    },
    /// Run the group bot: a OneBot v11 implementation (NapCatQQ) connects to it; group
    /// messages go through the engine and the groups' rules, decisions become group actions,
    /// and members can ask `ai <question>` and "is this true?".
    Bot(bot::BotArgs),
    /// Manage API keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Ingest NDJSON event files (`-` for standard input) through the whole pipeline.
    /// Exits with status 1 when any record was rejected; valid records are kept.
    Ingest {
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        anchor: anchor::AnchorArgs,
        /// Policy file (TOML), put in force; when omitted, the version in force in the store,
        /// else the shipped default.
        #[arg(long)]
        policy: Option<PathBuf>,
        /// Distributed mode: publish to NATS JetStream instead of ingesting into the local
        /// store. URLs of the NATS servers, comma-separated (nats://10.0.0.1:4222,...). Records
        /// are validated and rejected as without it; each valid event goes to the stream
        /// `steward-events` (created if missing: R3, kept 8 days) on subject
        /// ev.<type>.<partition>, the partition a hash of its account id (else of its event id),
        /// with Nats-Msg-Id = the event id, pipelined. `accepted` counts only events JetStream
        /// acknowledged, `duplicates` those it already had; events not acknowledged are counted
        /// and stop the ingest (exit 2; run it again). Workers make the decisions. The store,
        /// --policy and the anchor options are not used.
        #[arg(long, value_name = "URL[,URL...]", conflicts_with = "policy")]
        nats: Option<String>,
        /// With --nats: the JetStream stream to publish to (tests use their own).
        #[arg(long, default_value = steward_stream::DEFAULT_STREAM, hide = true)]
        nats_stream: String,
        /// With --nats: the stream's subject prefix.
        #[arg(long, default_value = steward_stream::DEFAULT_SUBJECT_PREFIX, hide = true)]
        nats_subject_prefix: String,
        /// NDJSON files, one event a line; `-` reads standard input.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Distributed mode: consume the events `ingest --nats` and `serve --nats` published to
    /// NATS JetStream and run them through the pipeline into PostgreSQL.
    ///
    /// Each of the stream's 64 partitions is owned by one worker at a time: the one holding its
    /// session-level PostgreSQL advisory lock (pg_try_advisory_lock(classid, partition), classid
    /// from the stream's name), on a connection the worker keeps open while it owns the
    /// partition. A killed worker's locks go with its connection; the others look for free
    /// partitions every --claim-interval seconds and take them over. Per owned partition a
    /// durable pull consumer (explicit ack) is read in batches; each batch is one transaction
    /// through the engine (idempotent insert, detectors, policy, decisions, audit), committed
    /// and only then acknowledged, so an event delivered again after a crash is a duplicate
    /// that changes nothing. SIGTERM or Ctrl-C: stop fetching, commit and acknowledge the batch
    /// in hand, release the locks, exit 0.
    Worker(worker::WorkerArgs),
    /// Distributed mode at a glance: who owns each partition, how far behind it is.
    Cluster {
        #[command(subcommand)]
        command: cluster::ClusterCommand,
    },
    /// The knowledge base of fact-checks the claim matcher uses.
    Kb {
        #[command(subcommand)]
        command: KbCommand,
    },
    /// Manage the registry of protected identities (bodies others must not pose as).
    Registry {
        #[command(subcommand)]
        command: RegistryCommand,
    },
    /// Check policy files.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// Inspect the audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Load the default policy and a realistic event stream into a fresh data directory,
    /// print the decisions with their reasons, and serve the API.
    Demo {
        /// Data directory (a new temporary one when omitted).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Address to serve on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Print the summary and exit without serving.
        #[arg(long)]
        no_serve: bool,
        /// Play a scripted afternoon in two QQ groups instead: a OneBot simulator into the
        /// group bot (`steward bot`), with a scripted model for `ai` answers; then exit.
        #[arg(long)]
        bot: bool,
    },
    /// Score the detectors against labelled files (the quality gates).
    Eval {
        #[command(subcommand)]
        command: eval::EvalCommand,
    },
    /// Train a model the project ships, from labelled files.
    Train {
        #[command(subcommand)]
        command: TrainCommand,
    },
    /// Replay event files through the detectors and a policy on a throwaway store and report
    /// what each rule would do: events matched, share of posts, accounts affected, breakers
    /// tripped; with --against, the decisions another policy would make differently, with
    /// samples. Draft rules run as if live.
    Backtest(backtest::BacktestArgs),
    /// Export decisions for others: statements of reasons for the EU DSA Transparency
    /// Database.
    Export {
        #[command(subcommand)]
        command: export::ExportCommand,
    },
    /// Write the transparency report of a period: decisions by category, ground, action and
    /// content; automated against human; user reports by source and outcome, with the median
    /// time to action; appeals and the overturn rate per rule and detector; restrictions by
    /// length; a few decided cases told without personal data. Counted in the database.
    Report(report::ReportArgs),
    /// Measure the hot paths.
    Bench {
        #[command(subcommand)]
        command: bench::BenchCommand,
    },
}

#[derive(Subcommand)]
enum TrainCommand {
    /// Clickbait: k-fold cross-validation per language (JSON on stdout), then the weights for
    /// all the data, written to `--out`. Deterministic for a given seed.
    Clickbait {
        /// Chinese titles: CSV `label,title[,content,source]`.
        #[arg(long, default_value = "../shared/data/clickbait/hancd-sina.csv")]
        zh: PathBuf,
        /// English titles: CSV `label,title`.
        #[arg(long, default_value = "../shared/data/clickbait/sc-clickbait-en-train.csv")]
        en: PathBuf,
        #[arg(long, default_value = "models/clickbait.json")]
        out: PathBuf,
        #[arg(long, default_value_t = 10)]
        folds: usize,
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Create a key and print it (alone, on standard output). Only its hash is stored.
    Create {
        #[command(flatten)]
        store: StoreArgs,
        /// ingest, moderator, admin or auditor.
        #[arg(long, value_parser = parse_role)]
        role: Role,
    },
    /// List keys: id, role, when created and, if so, when revoked (secrets are never stored).
    List {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Revoke a key by its id (`k_...`, from `keys list`). Audited. A running server refuses
    /// the key within 30 seconds (it trusts a key it has seen for that long).
    Revoke {
        #[command(flatten)]
        store: StoreArgs,
        id: String,
    },
}

#[derive(Subcommand)]
enum KbCommand {
    /// Import fact-checks: JSONL (one fact-check a line), schema.org ClaimReview JSON-LD, or a
    /// Cofacts-style export (a directory with articles.csv, replies.csv, article_replies.csv).
    /// Each becomes a `factcheck.upserted` event: matchable at once, and posts of the recent
    /// window that repeat a false or misleading claim are decided on. Re-importing a file
    /// changes nothing; unreadable records are reported with where and why, the rest kept
    /// (exit status 1 when any was unreadable).
    Import {
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        anchor: anchor::AnchorArgs,
        /// Policy file (TOML), put in force; when omitted, the version in force in the store,
        /// else the shipped default.
        #[arg(long)]
        policy: Option<PathBuf>,
        #[arg(long, value_enum, default_value = "auto")]
        format: kb::Format,
        /// Time zone of times written without one, e.g. +08:00 for China.
        #[arg(long, default_value = "+00:00", value_parser = kb::parse_offset)]
        utc_offset: chrono::FixedOffset,
        /// Files (or Cofacts export directories).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

#[derive(Subcommand)]
enum RegistryCommand {
    /// Import identities from JSONL, one {"id","name","aliases":[..],"kind",
    /// "owner_account_ids":[..]} a line (avatar_hashes optional), as `identity.upserted`
    /// events through the engine. Bad lines are reported with their line and reason and the
    /// rest imported; exits with status 1 when any line was rejected. Importing the same
    /// file again changes nothing.
    Import {
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        anchor: anchor::AnchorArgs,
        /// Policy file (TOML), put in force; when omitted, the version in force in the store,
        /// else the shipped default.
        #[arg(long)]
        policy: Option<PathBuf>,
        /// JSONL file of identities.
        file: PathBuf,
    },
}

#[derive(Subcommand)]
enum PolicyCommand {
    /// Validate a policy file: syntax, rules, actions, signals and fields, CEL conditions
    /// and reason templates, and what each condition may cost against the budget of a rule.
    /// Prints every error with its line; or each rule's and route's estimated cost, the
    /// review queues and the routes.
    Check { file: PathBuf },
}

/// What `steward serve` lets a client take (the rest of `steward_server::Limits` keeps its
/// defaults).
#[derive(clap::Args)]
struct ServeLimits {
    /// Largest accepted request body, in bytes.
    #[arg(long, default_value_t = 16 * 1024 * 1024)]
    max_body_bytes: usize,
    /// Seconds allowed for a request's headers, from the connection's opening or the
    /// previous answer on it (also how long an idle connection is kept).
    #[arg(long, default_value = "10", value_parser = seconds)]
    header_timeout: std::time::Duration,
    /// Seconds allowed to receive a request's body.
    #[arg(long, default_value = "30", value_parser = seconds)]
    body_timeout: std::time::Duration,
    /// Connections held at once; when full, the one idle longest makes room for a new one.
    /// Default: the file-descriptor limit less an eighth (at least 64) kept for the store.
    #[arg(long)]
    max_connections: Option<usize>,
}

impl From<ServeLimits> for steward_server::Limits {
    fn from(l: ServeLimits) -> Self {
        let defaults = steward_server::Limits::default();
        steward_server::Limits {
            max_body_bytes: l.max_body_bytes,
            header_timeout: l.header_timeout,
            body_timeout: l.body_timeout,
            max_connections: l.max_connections.unwrap_or(defaults.max_connections),
            ..defaults
        }
    }
}

/// A positive number of seconds, at most a day.
fn seconds(s: &str) -> Result<std::time::Duration, String> {
    match s.parse::<f64>() {
        Ok(n) if n > 0.0 && n <= 86_400.0 => Ok(std::time::Duration::from_secs_f64(n)),
        _ => Err(format!("{s:?} is not a number of seconds between 0 and 86400")),
    }
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check the audit log: its hash chain, every event, decision, restriction and credit
    /// against the entry covering it, and, with a public key, the signed checkpoints (entries
    /// cut off its end, or a chain computed again, show there). Names the first problem and
    /// exits 1; warns when no checkpoint was checked.
    Verify {
        #[command(flatten)]
        store: StoreArgs,
        /// Signed checkpoints (JSON lines) [default: DATA_DIR/audit-checkpoints.jsonl, if it
        /// exists].
        #[arg(long, env = "STEWARD_AUDIT_CHECKPOINTS")]
        checkpoints: Option<PathBuf>,
        /// The public key that signs them: 64 hex digits, or a file holding them (the `.pub`
        /// that `audit keygen` writes).
        #[arg(long, env = "STEWARD_AUDIT_PUBLIC_KEY")]
        public_key: Option<String>,
    },
    /// Create a key that signs checkpoints of the audit log (`--audit-key` of `serve`, `ingest`
    /// and `worker`): the secret key goes to FILE, readable by its owner only, and the public key
    /// to FILE.pub and, alone, to standard output. Never overwrites a key.
    Keygen {
        /// Where to write the secret key; keep it outside the data directory and its backups.
        #[arg(long)]
        out: PathBuf,
    },
}

/// Where the data lives.
#[derive(Args, Clone)]
struct StoreArgs {
    /// Data directory of the embedded SQLite store.
    #[arg(long, default_value = "steward-data", env = "STEWARD_DATA_DIR")]
    data_dir: PathBuf,
    /// PostgreSQL URL (postgres://...); when given, the data directory is not used.
    #[arg(long, env = "STEWARD_DATABASE_URL")]
    database_url: Option<String>,
}

impl StoreArgs {
    fn open(&self) -> Result<Arc<dyn steward_store::Store>> {
        steward_store::open(&self.data_dir, self.database_url.as_deref()).with_context(|| match &self.database_url {
            Some(_) => "opening the PostgreSQL store".to_string(),
            None => format!("opening the store in {}", self.data_dir.display()),
        })
    }
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| format!("unknown role {s:?}: use ingest, moderator, admin or auditor"))
}

/// The policy to run with: the file given, else the version in force in the store, else
/// the shipped default.
fn load_policy(
    store: &dyn steward_store::Store,
    path: Option<&std::path::Path>,
) -> Result<Arc<steward_policy::Policy>> {
    steward_engine::resolve_policy(store, path).map(Arc::new).map_err(|e| match e {
        steward_engine::PolicyLoadError::Invalid(errors) => anyhow::anyhow!("the policy is invalid:\n{errors}"),
        other => anyhow::anyhow!("{other}"),
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Output piped into `head` and the like ends quietly when the reader goes, as other
    // command-line tools do, rather than as a panic on the next write. Not for commands that
    // hold sockets (serving, the demo, benchmarks), which must see a peer that has gone as
    // an error on that socket, not die of it.
    if !matches!(
        cli.command,
        Command::Serve { .. } | Command::Worker(_) | Command::Bot(_) | Command::Demo { .. } | Command::Bench { .. }
    ) {
        // SAFETY: setting a signal's disposition to its default before any thread starts.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("STEWARD_LOG").unwrap_or_else(|_| "warn,steward=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Serve { store: args, anchor, listen, policy, webhooks, public_transparency, nats, limits } => {
            let webhooks = webhooks.map(|f| steward_server::webhooks::WebhookConfig::load(&f)).transpose()?;
            let store = args.open()?;
            let checkpoints = anchor.start(&store, &args.data_dir)?;
            let policy = load_policy(store.as_ref(), policy.as_deref())?;
            let options = ServeOptions { limits: limits.into(), webhooks, public_transparency, banner: None, nats };
            serve(store, policy, listen, options)?;
            anchor::finish(checkpoints)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bot(args) => bot::run(args),
        Command::Keys { command: KeysCommand::Create { store, role } } => {
            let key = steward_server::auth::create_key(store.open()?.as_ref(), role)?;
            println!("{key}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Keys { command: KeysCommand::List { store } } => {
            for k in store.open()?.keys()? {
                let revoked = k.revoked_at.map_or(String::new(), |at| format!("  revoked {}", at.to_rfc3339()));
                println!("{}  {:<9}  created {}{revoked}", k.id, k.role.as_str(), k.created_at.to_rfc3339());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Keys { command: KeysCommand::Revoke { store, id } } => {
            match store.open()?.revoke_key(&id, chrono::Utc::now())? {
                Some(steward_store::ApiKey { role, revoked_at: Some(at), .. }) => {
                    eprintln!("{id} ({}) revoked at {}", role.as_str(), at.to_rfc3339())
                }
                _ => anyhow::bail!("no key with id {id:?} (see `steward keys list`)"),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Ingest { nats: Some(urls), files, nats_stream, nats_subject_prefix, .. } => {
            ingest::run_nats(&urls, worker::stream_config(&nats_stream, &nats_subject_prefix), &files)
        }
        Command::Worker(args) => worker::run(args),
        Command::Cluster { command } => cluster::run(command),
        Command::Ingest { store: args, anchor, policy, files, nats: None, .. } => {
            let store = args.open()?;
            let checkpoints = anchor.start(&store, &args.data_dir)?;
            let policy = load_policy(store.as_ref(), policy.as_deref())?;
            let code = ingest::run(store, policy, &files);
            anchor::finish(checkpoints)?;
            code
        }
        Command::Kb { command: KbCommand::Import { store: args, anchor, policy, format, utc_offset, files } } => {
            let store = args.open()?;
            let checkpoints = anchor.start(&store, &args.data_dir)?;
            let policy = load_policy(store.as_ref(), policy.as_deref())?;
            let code = kb::import(store, policy, &files, format, utc_offset);
            anchor::finish(checkpoints)?;
            code
        }
        Command::Registry { command: RegistryCommand::Import { store: args, anchor, policy, file } } => {
            let store = args.open()?;
            let checkpoints = anchor.start(&store, &args.data_dir)?;
            let policy = load_policy(store.as_ref(), policy.as_deref())?;
            let code = registry::import(store, policy, &file);
            anchor::finish(checkpoints)?;
            code
        }
        Command::Policy { command: PolicyCommand::Check { file } } => {
            match steward_policy::Policy::load(&file, &steward_engine::schema()) {
                Ok(p) => {
                    println!(
                        "{}: ok (version {}, {} rules, {} ladder steps)",
                        file.display(),
                        p.version,
                        p.rules.len(),
                        p.ladder.len()
                    );
                    // Each rule's worst case, so operators see their headroom.
                    let budget = p.budget().rule_cost;
                    println!(
                        "estimated cost of each rule, in steps an event (budget {budget}; a step is about 0.1 µs):"
                    );
                    let costs: Vec<_> = (p.rules.iter().map(|r| (&r.id, r.line(), r.cost())))
                        .chain(p.routes.iter().map(|r| (&r.id, r.line(), r.cost())))
                        .collect();
                    let width = costs.iter().map(|(id, ..)| id.len()).max().unwrap_or(0);
                    for (id, line, cost) in costs {
                        let share = 100.0 * cost as f64 / budget.max(1) as f64;
                        println!("  {id:<width$}  line {line:>4}  {cost:>6} steps  {share:6.2}% of the budget");
                    }
                    println!(
                        "review queues (claims last the minutes shown; one action reverses at most the cap's \
                         decisions; routes are tried in order):"
                    );
                    for q in p.queues() {
                        let kind = if q.built_in { "built in" } else { "declared" };
                        let cap =
                            if q.bulk_cap == u32::MAX { "no cap".to_string() } else { format!("cap {}", q.bulk_cap) };
                        println!("  {:<24} {:>3} min  {cap:<9} {kind:<8}  {}", q.id, q.claim_minutes, q.description);
                    }
                    for r in &p.routes {
                        println!("  route {} (line {}) → {}: {}", r.id, r.line(), r.queue, r.when());
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(errors) => {
                    eprintln!("{errors}");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        Command::Audit { command: AuditCommand::Verify { store, checkpoints, public_key } } => {
            anchor::verify(store.open()?.as_ref(), &store.data_dir, checkpoints.as_deref(), public_key.as_deref())
        }
        Command::Audit { command: AuditCommand::Keygen { out } } => anchor::keygen(&out),
        Command::Demo { data_dir, bot: true, .. } => demo_bot::run(data_dir),
        Command::Demo { data_dir, listen, no_serve, bot: false } => demo::run(data_dir, listen, no_serve),
        Command::Eval { command } => eval::run(command),
        Command::Train { command: TrainCommand::Clickbait { zh, en, out, folds, seed } } => {
            train::run(&zh, &en, &out, folds, seed)
        }
        Command::Backtest(args) => backtest::run(args),
        Command::Export { command } => export::run(command),
        Command::Report(args) => report::run(args),
        Command::Bench { command } => bench::run(command),
    }
}

/// How `serve` serves.
pub(crate) struct ServeOptions {
    pub limits: steward_server::Limits,
    pub webhooks: Option<steward_server::webhooks::WebhookConfig>,
    /// Serve the transparency page at /transparency without a key.
    pub public_transparency: bool,
    /// Printed once listening, in place of the address.
    pub banner: Option<String>,
    /// NATS URLs: ingest publishes to the JetStream stream (`serve --nats`).
    pub nats: Option<String>,
}

/// Serves the API until Ctrl-C.
pub(crate) fn serve(
    store: Arc<dyn steward_store::Store>,
    policy: Arc<steward_policy::Policy>,
    listen: SocketAddr,
    options: ServeOptions,
) -> Result<()> {
    let ServeOptions { limits, webhooks, public_transparency, banner, nats } = options;
    let engine = steward_engine::Engine::open(store, policy, Default::default())?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let publisher = match nats {
            Some(urls) => {
                let publisher = steward_stream::Publisher::connect(&urls, steward_stream::StreamConfig::default())
                    .await
                    .map_err(|e| anyhow::anyhow!("cannot publish to the NATS JetStream cluster at {urls}: {e}"))?;
                eprintln!("ingest publishes to the NATS stream {} at {urls}", publisher.config().name);
                Some(publisher)
            }
            None => None,
        };
        let listener =
            tokio::net::TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
        let addr = listener.local_addr()?;
        match banner {
            Some(b) => println!("{b}"),
            None => eprintln!("steward listening on http://{addr}"),
        }
        let mut state = steward_server::AppState::new(engine, limits);
        if public_transparency {
            state = state.with_public_transparency();
        }
        if let Some(publisher) = publisher {
            state = state.with_publisher(publisher);
        }
        if let Some(webhooks) = webhooks {
            steward_server::deliver::spawn(state.store.clone(), state.metrics.clone(), webhooks);
        }
        steward_server::serve(listener, state, shutdown()).await?;
        Ok(())
    })
}

/// Ctrl-C (SIGINT), or SIGTERM as service managers send: the server stops taking requests,
/// finishes those in flight, and returns.
async fn shutdown() {
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate => {}
    }
}
