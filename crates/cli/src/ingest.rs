//! `steward ingest`: NDJSON files through the engine in batches, with a progress bar.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use steward_engine::input::{RawRecord, split_ndjson};
use steward_engine::{Engine, IngestOutcome, Parsed, parse_records};
use steward_policy::Policy;
use steward_store::Store;

/// Records per engine batch (one store transaction each). Each commit rewrites every page its
/// rows touch, and the random keys of the indexes (event, entity and decision ids) touch a
/// page per row until a batch is large: 5,000 records write about 40% fewer bytes of WAL
/// and checkpoint per record than 1,000 (150,000 real events: the committing thread's
/// system time 2.4 → 1.4 s), for a few more megabytes held per batch.
const BATCH: usize = 5000;
/// Rejections printed in full; the rest are counted.
const SHOWN_REJECTIONS: usize = 50;

/// What an ingest did.
#[derive(Default)]
pub struct Totals {
    pub accepted: usize,
    pub duplicates: usize,
    pub rejected: usize,
    pub decisions: usize,
    /// Decisions by rule id.
    pub by_rule: std::collections::BTreeMap<String, usize>,
    /// `--nats`: valid events the stream did not acknowledge (not accepted).
    pub not_acked: usize,
}

pub fn run(store: Arc<dyn Store>, policy: Arc<Policy>, files: &[PathBuf]) -> Result<ExitCode> {
    let mut engine = Engine::open(store, policy, Default::default())?;
    let started = Instant::now();
    let (totals, ingested) = ingest_files(&mut engine, files);
    finish(&totals, started, ingested)
}

/// Prints what an ingest did; fails when it stopped early, exits 1 when records were
/// rejected.
pub fn finish(totals: &Totals, started: Instant, ingested: Result<()>) -> Result<ExitCode> {
    let seconds = started.elapsed().as_secs_f64();
    let total = totals.accepted + totals.duplicates + totals.rejected;
    eprintln!(
        "ingested {total} records in {seconds:.2} s ({:.0}/s): {} accepted, {} duplicates, {} rejected; {} decisions",
        total as f64 / seconds.max(1e-9),
        totals.accepted,
        totals.duplicates,
        totals.rejected,
        totals.decisions
    );
    ingested.context("ingest stopped; the counts above were committed")?;
    Ok(if totals.rejected > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

/// An upsert event whose id comes from its content (`{prefix}:{id}:{hash}`): importing the
/// same record again is a duplicate that changes nothing, a changed record a new upsert.
pub fn content_event(prefix: &str, kind: &str, id: &str, entity: &impl serde::Serialize, at: DateTime<Utc>) -> String {
    let body = serde_json::to_value(entity).unwrap_or_default();
    let digest = xxhash_rust::xxh3::xxh3_64(body.to_string().as_bytes());
    let mut event = serde_json::json!({
        "id": format!("{prefix}:{id}:{digest:016x}"),
        "type": format!("{kind}.upserted"),
        "at": at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    });
    event[kind] = body;
    event.to_string()
}

/// Streams events made in memory (each with the line of the file it came from) through the
/// engine, as [`ingest_files`] does for files, adding to `totals`; rejections are reported
/// against `name`.
pub fn ingest_events(engine: &mut Engine, name: &str, events: &[(usize, String)], totals: &mut Totals) -> Result<()> {
    let limits = engine.options().limits;
    let clock = engine.options().clock.clone();
    let batches = events.chunks(BATCH).map(|chunk| {
        let records: Vec<RawRecord> =
            chunk.iter().map(|(line, e)| RawRecord { bytes: e.as_bytes(), line: Some(*line) }).collect();
        parse_records(&records, &limits, clock())
    });
    let bar = ProgressBar::hidden();
    engine.ingest_stream(batches, |outcome| report(&bar, name, &outcome, totals)).map_err(anyhow::Error::from)
}

/// Reads NDJSON files (`-` for stdin) and streams them through the engine, with a progress
/// bar on a terminal. Returns what was committed, and the error that stopped it, if any.
pub fn ingest_files(engine: &mut Engine, files: &[PathBuf]) -> (Totals, Result<()>) {
    let mut totals = Totals::default();
    let bar = ProgressBar::hidden();
    let (received, reader) = spawn_reader(files, engine.options().limits, engine.options().clock.clone(), &bar);
    let names = std::cell::RefCell::new(std::collections::VecDeque::new());
    let stream = received.iter().map(|(name, parsed)| {
        names.borrow_mut().push_back(name);
        parsed
    });
    let ingested = engine.ingest_stream(stream, |outcome| {
        let name = names.borrow_mut().pop_front().unwrap_or_default();
        report(&bar, &name, &outcome, &mut totals);
    });
    drop(received);
    let read = reader.join().unwrap_or_else(|_| Err(anyhow::anyhow!("the reader thread panicked")));
    bar.finish_and_clear();
    let result = ingested.map_err(anyhow::Error::from).and(read);
    (totals, result)
}

/// Batches of parsed records of one file.
type Batches = std::sync::mpsc::Receiver<(String, Vec<Parsed>)>;

/// Reading and parsing run on their own thread, ahead of the consumer: batches of [`BATCH`]
/// records, each named by its file, validated with `limits` and `clock`. The thread stops when
/// the receiver is dropped, and returns the error that stopped it, if any.
fn spawn_reader(
    files: &[PathBuf],
    limits: steward_model::Limits,
    clock: steward_engine::Clock,
    bar: &ProgressBar,
) -> (Batches, std::thread::JoinHandle<Result<()>>) {
    let (batches, received) = std::sync::mpsc::sync_channel::<(String, Vec<Parsed>)>(4);
    let reader_bar = bar.clone();
    let files = files.to_vec();
    let reader = std::thread::spawn(move || -> Result<()> {
        for path in &files {
            let (input, size): (Box<dyn Read + Send>, Option<u64>) = if path == Path::new("-") {
                (Box::new(std::io::stdin()), None)
            } else {
                let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
                let size = file.metadata().map(|m| m.len()).ok();
                (Box::new(file), size)
            };
            start_bar(&reader_bar, path, size);
            let name = path.display().to_string();
            let mut input = BufReader::with_capacity(1 << 20, reader_bar.wrap_read(input));
            let mut chunk = Vec::with_capacity(1 << 20);
            let mut first_line = 1;
            let mut lines = 0;
            loop {
                let read = read_line_limited(&mut input, &mut chunk, limits.max_record_bytes + 1)
                    .with_context(|| format!("reading {name}"))?;
                if read > 0 {
                    lines += 1;
                }
                if lines == BATCH || (read == 0 && lines > 0) {
                    let parsed = parse_records(&split_ndjson(&chunk, first_line), &limits, clock());
                    if batches.send((name.clone(), parsed)).is_err() {
                        return Ok(()); // the consumer stopped; its error is reported
                    }
                    first_line += lines;
                    lines = 0;
                    chunk.clear();
                }
                if read == 0 {
                    break;
                }
            }
        }
        Ok(())
    });
    (received, reader)
}

/// `steward ingest --nats`: validates the files' records as the engine does and publishes the
/// accepted events to the JetStream stream, a batch at a time, pipelined. `accepted` counts
/// only events JetStream acknowledged; `duplicates` those it already had. At the first batch
/// with events it did not acknowledge (after retrying for 30 s), ingest stops and says how many
/// were not acknowledged and where; running it again is safe.
pub fn run_nats(urls: &str, config: steward_stream::StreamConfig, files: &[PathBuf]) -> Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let publisher = runtime
        .block_on(steward_stream::Publisher::connect(urls, config))
        .map_err(|e| anyhow::anyhow!("cannot publish to the NATS JetStream cluster at {urls}: {e}"))?;
    let options = steward_engine::EngineOptions::default();
    let started = Instant::now();
    let mut totals = Totals::default();
    let bar = ProgressBar::hidden();
    let (received, reader) = spawn_reader(files, options.limits, options.clock.clone(), &bar);
    let mut stopped = None;
    for (name, parsed) in received.iter() {
        let published = runtime.block_on(steward_server::publish::publish_parsed(&publisher, parsed));
        report(&bar, &name, &published.outcome, &mut totals);
        if let Some(first) = published.not_acked.first() {
            totals.not_acked += published.not_acked.len();
            let lines: Vec<String> =
                published.not_acked.iter().take(10).map(|n| n.line.unwrap_or(0).to_string()).collect();
            let more = if published.not_acked.len() > 10 { ", ..." } else { "" };
            stopped = Some(anyhow::anyhow!(
                "{name}: {} valid events were not acknowledged by the stream and are not accepted \
                 (lines {}{more}): {}; the records after this batch were not sent. Run the ingest again: \
                 the acknowledged events count as duplicates",
                published.not_acked.len(),
                lines.join(", "),
                first.error
            ));
            break;
        }
    }
    drop(received);
    let read = reader.join().unwrap_or_else(|_| Err(anyhow::anyhow!("the reader thread panicked")));
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    let total = totals.accepted + totals.duplicates + totals.rejected + totals.not_acked;
    eprintln!(
        "published {total} records in {seconds:.2} s ({:.0}/s) to {}: {} accepted (acknowledged), {} duplicates, \
         {} rejected, {} not acknowledged",
        total as f64 / seconds.max(1e-9),
        publisher.config().name,
        totals.accepted,
        totals.duplicates,
        totals.rejected,
        totals.not_acked
    );
    if let Some(e) = stopped {
        return Err(e);
    }
    read.context("ingest stopped; the counts above were acknowledged")?;
    Ok(if totals.rejected > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

fn start_bar(bar: &ProgressBar, path: &Path, size: Option<u64>) {
    bar.reset();
    match size {
        Some(n) => {
            bar.set_length(n);
            bar.set_style(
                ProgressStyle::with_template("{msg} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
        }
        None => bar.set_style(ProgressStyle::default_spinner()),
    }
    bar.set_message(path.display().to_string());
    bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
}

fn report(bar: &ProgressBar, name: &str, outcome: &IngestOutcome, totals: &mut Totals) {
    for r in &outcome.rejected {
        if totals.rejected < SHOWN_REJECTIONS {
            bar.suspend(|| eprintln!("{name}:{}: rejected: {}", r.line.unwrap_or(0), r.error));
        } else if totals.rejected == SHOWN_REJECTIONS {
            bar.suspend(|| eprintln!("(further rejections are counted, not shown)"));
        }
        totals.rejected += 1;
    }
    totals.accepted += outcome.accepted;
    totals.duplicates += outcome.duplicates;
    totals.decisions += outcome.decisions.len();
    crate::bench_ingest::count_rules(&mut totals.by_rule, &outcome.decisions);
}

/// Appends one line (with its newline) to `buf`, keeping at most `limit` bytes of it: an
/// absurdly long line cannot exhaust memory, and the engine still rejects it as oversized.
/// Returns the bytes consumed, 0 at end of input.
fn read_line_limited(reader: &mut impl BufRead, buf: &mut Vec<u8>, limit: usize) -> std::io::Result<usize> {
    let mut consumed = 0;
    let mut kept = 0;
    loop {
        let available = reader.fill_buf()?;
        if available.is_empty() {
            if consumed > 0 {
                buf.push(b'\n');
            }
            return Ok(consumed);
        }
        let (take, done) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (available.len(), false),
        };
        let keep = take.min(limit.saturating_sub(kept));
        buf.extend_from_slice(&available[..keep]);
        kept += keep;
        reader.consume(take);
        consumed += take;
        if done {
            // A cut line lost its newline; the record must still end here.
            if buf.last() != Some(&b'\n') {
                buf.push(b'\n');
            }
            return Ok(consumed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_are_cut_and_still_end_the_record() {
        let input = b"short\nxxxxxxxxxxxxxxxx\nlast";
        let mut reader = &input[..];
        let mut buf = Vec::new();
        assert_eq!(read_line_limited(&mut reader, &mut buf, 8).unwrap(), 6);
        assert_eq!(read_line_limited(&mut reader, &mut buf, 8).unwrap(), 17);
        assert_eq!(read_line_limited(&mut reader, &mut buf, 8).unwrap(), 4);
        assert_eq!(read_line_limited(&mut reader, &mut buf, 8).unwrap(), 0);
        assert_eq!(buf, b"short\nxxxxxxxx\nlast\n");
    }
}
