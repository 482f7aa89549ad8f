//! `steward kb import`: fact-checks from JSONL, ClaimReview JSON-LD or a Cofacts-style CSV
//! export into the knowledge base, as `factcheck.upserted` events through the engine, so
//! they are stored, audited and matchable at once, and recent posts repeating a refuted
//! claim are decided on.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use chrono::{FixedOffset, Utc};
use steward_engine::Engine;
use steward_engine::input::split_ndjson;
use steward_model::factcheck_import::{Imported, from_claim_review, from_cofacts, from_jsonl};
use steward_policy::Policy;
use steward_store::Store;

use crate::ingest::content_event;

/// The files' format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// From the name: a directory is a Cofacts export, `.json`/`.jsonld` ClaimReview,
    /// anything else JSONL.
    Auto,
    Jsonl,
    Claimreview,
    /// A directory holding articles.csv, replies.csv and article_replies.csv.
    Cofacts,
}

/// Events per engine batch.
const BATCH: usize = 1000;

/// Reads one file (or Cofacts directory) in its format.
pub fn read(path: &Path, format: Format, offset: FixedOffset) -> Result<Imported> {
    let format = match format {
        Format::Auto if path.is_dir() => Format::Cofacts,
        Format::Auto => match path.extension().and_then(|e| e.to_str()) {
            Some("json" | "jsonld") => Format::Claimreview,
            _ => Format::Jsonl,
        },
        f => f,
    };
    let text = |p: &Path| std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()));
    Ok(match format {
        Format::Cofacts => {
            if !path.is_dir() {
                bail!(
                    "{}: a Cofacts export is a directory with articles.csv, replies.csv and article_replies.csv",
                    path.display()
                );
            }
            from_cofacts(
                &text(&path.join("articles.csv"))?,
                &text(&path.join("replies.csv"))?,
                &text(&path.join("article_replies.csv"))?,
                offset,
            )
        }
        Format::Claimreview => from_claim_review(&text(path)?, offset),
        Format::Jsonl | Format::Auto => from_jsonl(&text(path)?, offset),
    })
}

pub fn parse_offset(s: &str) -> Result<FixedOffset, String> {
    s.parse::<FixedOffset>().map_err(|_| format!("{s:?} is not a UTC offset such as +08:00"))
}

pub fn import(
    store: Arc<dyn Store>,
    policy: Arc<Policy>,
    files: &[PathBuf],
    format: Format,
    offset: FixedOffset,
) -> Result<ExitCode> {
    let mut engine = Engine::open(store, policy, Default::default())?;
    let (mut read_errors, mut skipped) = (0, 0);
    let mut events = Vec::new();
    let now = Utc::now();
    for path in files {
        let imported = read(path, format, offset)?;
        for e in &imported.errors {
            eprintln!("{}: {e}", path.display());
        }
        read_errors += imported.errors.len();
        skipped += imported.skipped;
        events.extend(imported.fact_checks.iter().map(|fc| content_event("kb", "factcheck", &fc.id, fc, now)));
    }
    let (mut accepted, mut unchanged, mut decisions) = (0, 0, 0);
    for chunk in events.chunks(BATCH) {
        let ndjson = chunk.join("\n");
        let outcome = engine.ingest(&split_ndjson(ndjson.as_bytes(), 1))?;
        for r in &outcome.rejected {
            eprintln!("fact-check rejected: {}", r.error);
        }
        read_errors += outcome.rejected.len();
        accepted += outcome.accepted;
        unchanged += outcome.duplicates;
        decisions += outcome.decisions.len();
    }
    eprintln!(
        "imported {accepted} fact-checks ({unchanged} unchanged, {skipped} skipped, {read_errors} unreadable); \
         {decisions} decisions on recent posts"
    );
    Ok(if read_errors > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}
