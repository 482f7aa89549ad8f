//! `steward export sor`: the live decisions of a period as statements of reasons for the EU
//! DSA Transparency Database, in the bodies its multiple-statements endpoint takes.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use chrono::{DateTime, NaiveDate, Utc};
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use steward_model::sor::{self, Categories, Subject, rules};
use steward_model::{Account, Decision, Post, Reversal};
use steward_store::Store;

use crate::StoreArgs;

#[derive(Subcommand)]
pub enum ExportCommand {
    /// Statements of reasons for the EU DSA Transparency Database: every live decision
    /// decided from --from (included) to --to (excluded), one JSON object a line, each
    /// `{"statements": [...]}` with at most 100 statements, the body of a POST to the
    /// Database's /api/v1/statements. Every value comes from the Database's allowed lists
    /// (the mapping is in the README). A decision that restricts nothing (only a review or a
    /// credit deduction) has no statement; one that cannot be written (a date the Database
    /// does not take, its post missing) is named on stderr with the reason, and the export
    /// exits with status 1 after writing the rest. A decision a person overturned is written
    /// with its restrictions ended at the reversal.
    #[command(verbatim_doc_comment)]
    Sor(SorArgs),
}

#[derive(Args)]
pub struct SorArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// First day (YYYY-MM-DD, from midnight UTC) or moment (RFC 3339) of the period.
    #[arg(long, value_name = "DATE", value_parser = moment)]
    from: DateTime<Utc>,
    /// End of the period, excluded: a day (YYYY-MM-DD, its midnight UTC) or an RFC 3339 time.
    #[arg(long, value_name = "DATE", value_parser = moment)]
    to: DateTime<Utc>,
    /// Where to write the statements [default: standard output].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Maps a category of the policy to one of the Database's, over the built-in mapping,
    /// e.g. `--category hate=STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH`. Repeatable.
    #[arg(long = "category", value_name = "NAME=STATEMENT_CATEGORY_...")]
    categories: Vec<String>,
}

/// A day at midnight UTC, or an RFC 3339 time.
fn moment(s: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(day) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(day.and_hms_opt(0, 0, 0).map(|t| t.and_utc()).unwrap_or_default());
    }
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| format!("{s:?} is neither a day (YYYY-MM-DD) nor an RFC 3339 time (2026-11-22T08:00:00Z)"))
}

/// Decisions read from the store at a time.
const PAGE: usize = 500;
/// Decisions not exported that are named one by one; the rest are counted.
const SHOWN: usize = 100;

#[derive(Default)]
struct Counts {
    read: u64,
    statements: u64,
    calls: u64,
    restrict_nothing: u64,
    unmappable: u64,
    reversed: u64,
    unknown_categories: BTreeMap<String, u64>,
}

pub fn run(command: ExportCommand) -> Result<ExitCode> {
    let ExportCommand::Sor(args) = command;
    let mut categories = Categories::default();
    let mut errors = Vec::new();
    for mapping in &args.categories {
        let result = match mapping.split_once('=') {
            Some((name, category)) => categories.set(name.trim(), category.trim()),
            None => Err(format!("{mapping:?} is not NAME=STATEMENT_CATEGORY_...")),
        };
        if let Err(e) = result {
            errors.push(format!("--category {e}"));
        }
    }
    if args.from >= args.to {
        errors.push(format!("--from {} is not before --to {}", args.from.to_rfc3339(), args.to.to_rfc3339()));
    }
    if !errors.is_empty() {
        anyhow::bail!("{}", errors.join("\n"));
    }
    let store = args.store.open()?;
    let out: Box<dyn Write> = match &args.out {
        Some(path) => Box::new(File::create(path).with_context(|| format!("cannot create {}", path.display()))?),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut out = BufWriter::new(out);
    let bar = ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} {elapsed}").unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    let counts = export(store.as_ref(), &args, &categories, &mut out, &bar)?;
    out.flush().context("writing the statements")?;
    bar.finish_and_clear();

    let to = args.out.as_ref().map_or("standard output".to_string(), |p| p.display().to_string());
    eprintln!(
        "{} live decisions from {} to {}: {} statements in {} calls written to {to}; {} overturned, written with their \
         restrictions ended at the reversal; {} restrict nothing the Database records; {} could not be written",
        counts.read,
        args.from.to_rfc3339(),
        args.to.to_rfc3339(),
        counts.statements,
        counts.calls,
        counts.reversed,
        counts.restrict_nothing,
        counts.unmappable,
    );
    for (name, n) in &counts.unknown_categories {
        eprintln!(
            "category {name:?} is not in the mapping: its {n} statements say STATEMENT_CATEGORY_OTHER_VIOLATION_TC \
             (map it with --category {name}=STATEMENT_CATEGORY_...)"
        );
    }
    Ok(if counts.unmappable > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

fn export(
    store: &dyn Store,
    args: &SorArgs,
    categories: &Categories,
    out: &mut impl Write,
    bar: &ProgressBar,
) -> Result<Counts> {
    let reversals: HashMap<String, Reversal> =
        store.reversals(None)?.into_iter().map(|r| (r.decision_id.clone(), r)).collect();
    let mut counts = Counts::default();
    let mut call: Vec<serde_json::Value> = Vec::with_capacity(rules::MAX_STATEMENTS_PER_CALL);
    let mut after = None;
    loop {
        let page = store.live_decisions_between(args.from, args.to, after, PAGE)?;
        let Some((seq, last)) = page.last() else { break };
        after = Some((last.decided_at, *seq));
        for (_, d) in &page {
            counts.read += 1;
            if d.restrictions.is_empty() {
                // Only a review or a credit deduction: no restriction, no statement.
                counts.restrict_nothing += 1;
                continue;
            }
            let reversal = reversals.get(&d.id);
            let exported = subject(store, d)?.and_then(|subject| {
                let s = sor::statement(d, &subject, reversal, categories)?;
                let value = serde_json::to_value(&s).map_err(|e| e.to_string())?;
                // The mapping keeps to the rules; this makes sure nothing it missed is sent.
                let broken = rules::check(&value);
                if broken.is_empty() { Ok(value) } else { Err(format!("its statement breaks {}", broken.join("; "))) }
            });
            match exported {
                Ok(value) => {
                    if categories.get(&d.category).is_none() {
                        *counts.unknown_categories.entry(d.category.clone()).or_default() += 1;
                    }
                    counts.reversed += u64::from(reversal.is_some());
                    call.push(value);
                    if call.len() == rules::MAX_STATEMENTS_PER_CALL {
                        write_call(out, &mut call, &mut counts)?;
                    }
                }
                Err(why) => {
                    if counts.unmappable < SHOWN as u64 {
                        bar.suspend(|| eprintln!("decision {}: not exported: {why}", d.id));
                    } else if counts.unmappable == SHOWN as u64 {
                        bar.suspend(|| eprintln!("(further decisions not exported are counted, not shown)"));
                    }
                    counts.unmappable += 1;
                }
            }
        }
        bar.set_message(format!("{} decisions read, {} statements written", counts.read, counts.statements));
    }
    write_call(out, &mut call, &mut counts)?;
    Ok(counts)
}

/// Writes the statements gathered as one call's body, if there are any.
fn write_call(out: &mut impl Write, call: &mut Vec<serde_json::Value>, counts: &mut Counts) -> Result<()> {
    if call.is_empty() {
        return Ok(());
    }
    let body = serde_json::json!({ "statements": call });
    serde_json::to_writer(&mut *out, &body).context("writing the statements")?;
    out.write_all(b"\n").context("writing the statements")?;
    counts.statements += call.len() as u64;
    counts.calls += 1;
    call.clear();
    Ok(())
}

/// The decision's post and account as stored, or why its post cannot be read.
fn subject(store: &dyn Store, d: &Decision) -> Result<Result<Subject, String>> {
    let post = match &d.post_id {
        Some(id) => match store.entity("post", id)? {
            Some(row) => match serde_json::from_str::<Post>(&row.body) {
                Ok(post) => Some(post),
                Err(e) => return Ok(Err(format!("its stored post {id} does not read: {e}"))),
            },
            None => None,
        },
        None => None,
    };
    // The account only serves to keep its names out of the explanation.
    let account = match &d.account_id {
        Some(id) => store.entity("account", id)?.and_then(|row| serde_json::from_str::<Account>(&row.body).ok()),
        None => None,
    };
    Ok(Ok(Subject { post, account }))
}
