//! `steward cluster status`: the flags and the printing; the querying is
//! `steward_worker::status`.

use std::process::ExitCode;

use anyhow::Result;

#[derive(clap::Subcommand)]
pub enum ClusterCommand {
    /// One line per partition of the stream: its owner (the worker holding its advisory lock,
    /// host:pid; else the last one, from its fence), fence epoch and consumer lag (events not
    /// yet delivered, delivered and not acknowledged, delivered more than once); then the
    /// campaign stage's leader and lag, and a summary line with the dead letters
    /// (<stream>-dead). Reads only.
    Status(StatusArgs),
}

#[derive(clap::Args)]
pub struct StatusArgs {
    /// URLs of the NATS servers, comma-separated (nats://10.0.0.1:4222,...).
    #[arg(long, value_name = "URL[,URL...]")]
    pub nats: String,
    /// PostgreSQL URL (postgres://...) of the workers' store, where they hold their locks.
    #[arg(long, env = "STEWARD_DATABASE_URL")]
    pub database_url: String,
    /// The JetStream stream the workers consume.
    #[arg(long, default_value = steward_stream::DEFAULT_STREAM)]
    pub nats_stream: String,
    /// Print JSON (one object: stream, messages, partitions[], campaign_stage, dead_letters)
    /// instead of the table.
    #[arg(long)]
    pub json: bool,
}

pub fn run(command: ClusterCommand) -> Result<ExitCode> {
    let ClusterCommand::Status(args) = command;
    let status = steward_worker::status::query(&args.nats, &args.database_url, &args.nats_stream)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&status)?);
    } else {
        print!("{}", status.table());
        println!("{}", status.summary());
    }
    Ok(ExitCode::SUCCESS)
}
