//! `steward worker`: the flags; the worker itself is `steward-worker`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
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
    /// Seconds between the checkpoints in which this worker records every partition audit
    /// chain's head on the root chain (also at shutdown), while its batches move them.
    #[arg(long, default_value_t = 60.0)]
    pub audit_checkpoint_interval: f64,
    /// The JetStream stream (tests use their own).
    #[arg(long, default_value = steward_stream::DEFAULT_STREAM, hide = true)]
    pub nats_stream: String,
    /// The stream's subject prefix.
    #[arg(long, default_value = steward_stream::DEFAULT_SUBJECT_PREFIX, hide = true)]
    pub nats_subject_prefix: String,
}

pub fn run(args: WorkerArgs) -> Result<ExitCode> {
    let store = steward_store::open(std::path::Path::new("."), Some(&args.database_url))
        .context("opening the PostgreSQL store")?;
    let policy = crate::load_policy(store.as_ref(), args.policy.as_deref())?;
    drop(store);
    let options = steward_worker::Options {
        stream: stream_config(&args.nats_stream, &args.nats_subject_prefix),
        nats: args.nats,
        database_url: args.database_url,
        partitions_per_worker: args.partitions_per_worker,
        batch: args.batch,
        claim_interval: Duration::from_secs_f64(args.claim_interval.clamp(0.05, 3600.0)),
        ack_wait: Duration::from_secs(args.ack_wait),
        campaign_stage: !args.no_campaign_stage,
        audit_checkpoint_interval: Duration::from_secs_f64(args.audit_checkpoint_interval.clamp(1.0, 86_400.0)),
    };
    steward_worker::run(options, policy)?;
    Ok(ExitCode::SUCCESS)
}
