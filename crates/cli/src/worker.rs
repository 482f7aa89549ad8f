//! `steward worker`: the flags; the worker itself is `steward-worker`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use steward_store::crash::CrashPoint;
pub use steward_worker::stream_config;

#[derive(clap::Args)]
pub struct WorkerArgs {
    /// URLs of the NATS servers, comma-separated (nats://10.0.0.1:4222,...). The stream is the
    /// one `steward ingest --nats` and `steward serve --nats` publish to (created if missing).
    #[arg(long, value_name = "URL[,URL...]")]
    pub nats: String,
    /// PostgreSQL URL (postgres://...): the store every worker writes to, and where partitions
    /// are claimed with advisory locks.
    #[arg(long, env = "STEWARD_DATABASE_URL")]
    pub database_url: String,
    /// Policy file (TOML), put in force; when omitted, the version in force in the store, else
    /// the shipped default.
    #[arg(long)]
    pub policy: Option<PathBuf>,
    /// Partitions this worker owns at most. Default: every free one (the first worker takes
    /// them all, later ones stand by and take over a dead worker's). For N workers sharing the
    /// load, give ceil(64 / N).
    #[arg(long, value_name = "N")]
    pub partitions_per_worker: Option<u32>,
    /// Events per engine batch (one PostgreSQL transaction), across the owned partitions.
    #[arg(long, default_value_t = 2000)]
    pub batch: usize,
    /// Seconds between checks of the locks held and attempts to claim free partitions.
    #[arg(long, default_value_t = 2.0)]
    pub claim_interval: f64,
    /// Seconds JetStream waits for an ack before delivering an event again.
    #[arg(long, default_value_t = 60)]
    pub ack_wait: u64,
    /// Never stand for election as the campaign stage, which runs the detectors that need every
    /// account's posts (copy campaigns) for the whole cluster. By default every worker stands
    /// and one at a time leads.
    #[arg(long)]
    pub no_campaign_stage: bool,
    /// Serve Prometheus metrics at http://ADDR/metrics (events and decisions, batches, commit
    /// failures, redeliveries, dead letters, partitions owned, each owned partition's lag,
    /// whether this worker leads the campaign stage) and /healthz (200 while the worker runs
    /// and reaches NATS and PostgreSQL, else 503 naming what is down). Off by default.
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// Seconds between the checkpoints in which this worker records every partition audit
    /// chain's head on the root chain (also at shutdown), while its batches move them.
    #[arg(long, default_value_t = 60.0)]
    pub audit_checkpoint_interval: f64,
    /// Signed checkpoints of the root audit chain, whose entries record every partition chain's
    /// head (--audit-checkpoint-interval): signing the root anchors them all. Without
    /// --checkpoints they go to ./audit-checkpoints.jsonl; give each worker its own file.
    #[command(flatten)]
    pub anchor: crate::anchor::AnchorArgs,
    /// The JetStream stream (tests use their own).
    #[arg(long, default_value = steward_stream::DEFAULT_STREAM, hide = true)]
    pub nats_stream: String,
    /// The stream's subject prefix.
    #[arg(long, default_value = steward_stream::DEFAULT_SUBJECT_PREFIX, hide = true)]
    pub nats_subject_prefix: String,
    /// Fault tests only: SIGKILL this process at a crash point (fetched, in-transaction,
    /// committed, acked) the `--crash-after`th time it is reached.
    #[arg(long, value_name = "POINT", value_parser = parse_crash_point, hide = true)]
    pub crash_at: Option<CrashPoint>,
    /// Fault tests only: the time `--crash-at`'s point is reached that kills (1 = the first).
    #[arg(long, value_name = "N", default_value_t = 1, hide = true)]
    pub crash_after: u64,
}

fn parse_crash_point(s: &str) -> Result<CrashPoint, String> {
    CrashPoint::parse(s).ok_or_else(|| {
        let names: Vec<&str> = CrashPoint::ALL.iter().map(|p| p.name()).collect();
        format!("unknown crash point {s:?}: one of {}", names.join(", "))
    })
}

pub fn run(args: WorkerArgs) -> Result<ExitCode> {
    if let Some(point) = args.crash_at {
        steward_store::crash::arm(point, args.crash_after);
    }
    let store = steward_store::open(std::path::Path::new("."), Some(&args.database_url))
        .context("opening the PostgreSQL store")?;
    let policy = crate::load_policy(store.as_ref(), args.policy.as_deref())?;
    let checkpoints = args.anchor.start(&store, std::path::Path::new("."))?;
    let options = steward_worker::Options {
        stream: stream_config(&args.nats_stream, &args.nats_subject_prefix),
        nats: args.nats,
        database_url: args.database_url,
        partitions_per_worker: args.partitions_per_worker,
        batch: args.batch,
        claim_interval: Duration::from_secs_f64(args.claim_interval.clamp(0.05, 3600.0)),
        ack_wait: Duration::from_secs(args.ack_wait),
        campaign_stage: !args.no_campaign_stage,
        metrics_listen: args.metrics_listen,
        audit_checkpoint_interval: Duration::from_secs_f64(args.audit_checkpoint_interval.clamp(1.0, 86_400.0)),
    };
    steward_worker::run(options, policy)?;
    // After the worker's last commit and its record of the chains' heads.
    crate::anchor::finish(checkpoints)?;
    Ok(ExitCode::SUCCESS)
}
