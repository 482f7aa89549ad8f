//! `steward report`: the transparency report of a period, from the store, to a file or
//! standard output.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use steward_report::{Format, Period, Transparency, render};

use crate::StoreArgs;

#[derive(Args)]
pub struct ReportArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// The first day counted (YYYY-MM-DD, UTC), or the first moment (RFC 3339).
    #[arg(long)]
    from: String,
    /// The last day counted (YYYY-MM-DD, included), or the first moment not counted (RFC 3339).
    #[arg(long)]
    to: String,
    /// html (one self-contained page), json, or csv (long format: section,key,field,value).
    #[arg(long, default_value = "html", value_parser = format)]
    format: Format,
    /// Where to write it; standard output when omitted.
    #[arg(long)]
    out: Option<PathBuf>,
}

fn format(s: &str) -> Result<Format, String> {
    Format::parse(s).ok_or_else(|| format!("{s:?} is not html, json or csv"))
}

pub fn run(args: ReportArgs) -> Result<ExitCode> {
    let period = Period::parse(("--from", &args.from), ("--to", &args.to))?;
    let store = args.store.open()?;
    let report = Transparency::build(store.as_ref(), period, chrono::Utc::now()).context("counting the period")?;
    let text = render(&report, args.format);
    match &args.out {
        Some(path) => std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?,
        None => print!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}
