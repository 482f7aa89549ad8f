//! `steward bench`: the whole pipeline in events/s, and single-event HTTP latency under a
//! fixed request rate. Results are printed as one JSON object.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use chrono::{SecondsFormat, Utc};
use clap::Subcommand;
use serde_json::json;
use steward_engine::Engine;
use steward_model::Role;

#[derive(Subcommand)]
pub enum BenchCommand {
    /// NDJSON → validation → detectors → policy → store, in batches, on a fresh store.
    Pipeline {
        /// Post events to ingest.
        #[arg(long, default_value_t = 200_000)]
        events: usize,
        /// PostgreSQL URL; a temporary SQLite store when omitted.
        #[arg(long)]
        database_url: Option<String>,
    },
    /// `steward ingest` over an event file on a throwaway store, after loading fact-checks and
    /// the identity registry as `steward kb import` and `steward registry import` do; events/s
    /// and decisions/s of the ingest (the engine's start is timed apart), and the audit
    /// chain verified afterwards.
    Ingest {
        /// NDJSON events, e.g. the real posts from `scripts/copy-events.py`.
        #[arg(long)]
        events: std::path::PathBuf,
        /// Only the first N lines of the file.
        #[arg(long)]
        limit: Option<usize>,
        #[command(flatten)]
        setup: SetupArgs,
    },
    /// `steward ingest` over a flood where every post ends in a decision: AI-generated posts
    /// published without the label (labelled, kept out of recommendations, a credit point
    /// deducted), from accounts posting `--per-account` times each, so the credit ladder
    /// fires too.
    Flood {
        #[arg(long, default_value_t = 100_000)]
        posts: usize,
        /// Posts per account: from the 21st a post brings the account under 80 credit points,
        /// from the 41st under 60, from the 61st under 40 (each a ladder step).
        #[arg(long, default_value_t = 100)]
        per_account: usize,
        #[command(flatten)]
        setup: SetupArgs,
    },
    /// Single-event `POST /v1/events` latency at a fixed request rate against an
    /// in-process server on a fresh SQLite store (open loop: latency counts from the
    /// moment each request was due, so a stall is not hidden).
    Http {
        /// Requests per second; 0 sends as fast as the connections are answered (closed
        /// loop: each connection sends its next request once the last is answered), for
        /// the throughput.
        #[arg(long, default_value_t = 1000)]
        rate: u32,
        /// Seconds of load (after one second of warm-up).
        #[arg(long, default_value_t = 10)]
        seconds: u32,
        /// Concurrent connections.
        #[arg(long, default_value_t = 32)]
        connections: usize,
    },
    /// The transparency report (counted and rendered as HTML) over a store of `--decisions`
    /// decisions spread over `--days`, a hundredth of them reported, appealed and reviewed:
    /// milliseconds for the whole period and for its last week.
    Report {
        #[arg(long, default_value_t = 100_000)]
        decisions: usize,
        #[arg(long, default_value_t = 90)]
        days: u32,
        /// An empty PostgreSQL database; a temporary SQLite store when omitted.
        #[arg(long)]
        database_url: Option<String>,
    },
    /// Claim matching: posts per second against a knowledge base grown from real fact-checks
    /// to `--kb-size` entries, on one thread.
    Claims {
        /// JSONL fact-checks to grow the knowledge base from.
        #[arg(long)]
        factchecks: std::path::PathBuf,
        /// JSONL posts with `text`, queried over and over.
        #[arg(long)]
        posts: std::path::PathBuf,
        #[arg(long, default_value_t = 100_000)]
        kb_size: usize,
        /// Seconds of queries.
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
    },
    /// Text matching on a post corpus: normalization, shingles, MinHash signature, LSH query and
    /// insert into the sliding-window index, per post; posts/s, bytes per post and pair recall.
    Sketch {
        /// JSONL corpus, one post a line with `created_at` (unix seconds) and `text`.
        #[arg(long)]
        posts: std::path::PathBuf,
        #[command(flatten)]
        options: crate::bench_sketch::Options,
    },
    /// Impersonation checks per second against a registry grown with synthetic identities
    /// (real entries moved to other places) to `--identities` entries.
    Impersonation {
        /// JSONL registry to grow: {"id","name","aliases","kind","owner_account_ids"}.
        #[arg(long, default_value = "../shared/data/impersonation/registry.jsonl")]
        registry: std::path::PathBuf,
        /// JSONL accounts: {"account_id","display_name","bio","expected","note"}.
        #[arg(long, default_value = "../shared/data/impersonation/accounts.jsonl")]
        accounts: std::path::PathBuf,
        /// Registry size.
        #[arg(long, default_value_t = 100_000)]
        identities: usize,
        /// Print every miss, false flag and wrong identity on standard error.
        #[arg(long)]
        show_errors: bool,
    },
}

/// What `bench ingest` and `bench flood` load before timing, and where they store.
#[derive(clap::Args)]
pub struct SetupArgs {
    /// JSONL fact-checks to import first (`steward kb import`).
    #[arg(long)]
    factchecks: Option<std::path::PathBuf>,
    /// JSONL identity registry to import first (`steward registry import`).
    #[arg(long)]
    registry: Option<std::path::PathBuf>,
    /// Policy file; the shipped default policy when omitted.
    #[arg(long)]
    policy: Option<std::path::PathBuf>,
    /// An empty PostgreSQL database; a temporary SQLite store when omitted.
    #[arg(long)]
    database_url: Option<String>,
}

impl SetupArgs {
    fn setup(&self) -> crate::bench_ingest::Setup<'_> {
        crate::bench_ingest::Setup {
            factchecks: self.factchecks.as_deref(),
            registry: self.registry.as_deref(),
            policy: self.policy.as_deref(),
            database_url: self.database_url.as_deref(),
        }
    }
}

pub fn run(command: BenchCommand) -> Result<std::process::ExitCode> {
    match command {
        BenchCommand::Pipeline { events, database_url } => pipeline(events, database_url)?,
        BenchCommand::Ingest { events, limit, setup } => crate::bench_ingest::ingest(&events, limit, &setup.setup())?,
        BenchCommand::Flood { posts, per_account, setup } => {
            crate::bench_ingest::flood(posts, per_account, &setup.setup())?
        }
        BenchCommand::Http { rate, seconds, connections } => http(rate, seconds, connections)?,
        BenchCommand::Report { decisions, days, database_url } => {
            crate::bench_report::run(decisions, days, database_url.as_deref())?
        }
        BenchCommand::Sketch { posts, options } => crate::bench_sketch::run(&posts, &options)?,
        BenchCommand::Claims { factchecks, posts, kb_size, seconds } => {
            crate::eval_claims::bench(&factchecks, &posts, kb_size, seconds)?
        }
        BenchCommand::Impersonation { registry, accounts, identities, show_errors } => {
            crate::bench_impersonation::run(&registry, &accounts, identities, show_errors)?
        }
    }
    Ok(std::process::ExitCode::SUCCESS)
}

/// A synthetic post event: realistic sizes, one in ten an unlabelled AI post that the
/// default policy acts on, one in a hundred a copy in one of a few copy-paste campaigns
/// (each copy from its own account); the other texts differ from each other.
pub fn synthetic_event(i: usize, at: &str) -> String {
    let ai = if i.is_multiple_of(10) { r#","ai_generated":{"declared":false,"implicit_label":true}"# } else { "" };
    let (text, account) = if i % 100 == 7 {
        (post_text(1_000_000 + i / 10_000), format!("c{i}"))
    } else {
        (post_text(i), format!("a{}", i % 5000))
    };
    format!(
        r#"{{"id":"bench-{i}","type":"post.created","at":"{at}","post":{{"id":"p{i}","account_id":"{account}","kind":"short_post","title":"第{i}条","text":"{text}","created_at":"{at}"{ai}}}}}"#
    )
}

/// 48 common Chinese characters chosen by a hash of `seed`, with punctuation: texts of
/// different seeds share few 3-grams, as unrelated posts do.
pub fn post_text(seed: usize) -> String {
    const CHARS: &str = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处队南给色光门即保治北造百规热领七海口东导器压志世金增争济阶油思术极交受联什认六共权收证改清己美再采转更单风切打白教速花带安场身车例真务具万每目至达走积示议声报斗完类八离华名确才科张信马节话米整空元况今集温传土许步群广石记需段研界拉林律叫且究观越织装影算低持音众书布复容儿须际商非验连断深难近矿千周委素技备半办青省列习响约支般史感劳便团往酸历市克何除消构府称太准精值号率族维划选标写存候毛亲快效斯院查江型眼王按格养易置派层片始却专状育厂京识适属圆包火住调满县局照参红细引听该铁价严";
    let chars: Vec<char> = CHARS.chars().collect();
    let mut x = (seed as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut text = String::with_capacity(160);
    for k in 0..48 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        text.push(chars[(x % chars.len() as u64) as usize]);
        if k % 12 == 11 {
            text.push('，');
        }
    }
    text.push('。');
    text
}

fn pipeline(events: usize, database_url: Option<String>) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let store = steward_store::open(dir.path(), database_url.as_deref())?;
    let policy = Arc::new(steward_engine::default_policy().map_err(|e| anyhow::anyhow!("{e}"))?);
    let mut engine = Engine::open(store.clone(), policy, Default::default())?;
    let at = Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true);
    let file = dir.path().join("events.ndjson");
    let mut body = String::with_capacity(events * 400);
    for i in 0..events {
        body.push_str(&synthetic_event(i, &at));
        body.push('\n');
    }
    std::fs::write(&file, &body)?;
    // The same path as `steward ingest`: read, parse, process, commit.
    let started = Instant::now();
    let (totals, result) = crate::ingest::ingest_files(&mut engine, &[file]);
    result?;
    anyhow::ensure!(totals.rejected == 0, "synthetic events were rejected");
    let decisions = totals.decisions;
    let seconds = started.elapsed().as_secs_f64();
    let stored = store.event_count()?;
    anyhow::ensure!(stored as usize == events, "stored {stored} of {events} events");
    println!(
        "{}",
        json!({
            "bench": "pipeline",
            "backend": store.backend(),
            "events": events,
            "decisions": decisions,
            "seconds": seconds,
            "events_per_second": events as f64 / seconds,
            "bytes_per_event": body.len() / events.max(1),
        })
    );
    Ok(())
}

fn http(rate: u32, seconds: u32, connections: usize) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let store = steward_store::open(dir.path(), None)?;
    let policy = Arc::new(steward_engine::default_policy().map_err(|e| anyhow::anyhow!("{e}"))?);
    let key = steward_server::auth::create_key(store.as_ref(), Role::Ingest)?;
    let engine = Engine::open(store, policy, Default::default())?;
    // The server gets its own runtime and threads, the load generator another.
    let server = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let listener = server.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let addr = listener.local_addr()?;
    let state = steward_server::AppState::new(engine, Default::default());
    server.spawn(steward_server::serve(listener, state, std::future::pending()));

    let client_rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;
    let client = reqwest::Client::builder().pool_max_idle_per_host(connections).tcp_nodelay(true).build()?;
    let url = format!("http://{addr}/v1/events");
    let load = Arc::new(Load { client, url, key });
    let begin = Instant::now();
    let latencies = if rate == 0 {
        closed_loop(&client_rt, &load, seconds, connections)?
    } else {
        open_loop(&client_rt, &load, rate, seconds, connections)?
    };
    let elapsed = begin.elapsed().as_secs_f64();
    let mut ms: Vec<f64> = latencies.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    ms.sort_by(f64::total_cmp);
    let q = |p: f64| ms[((ms.len() as f64 * p) as usize).min(ms.len() - 1)];
    println!(
        "{}",
        json!({
            "bench": "http",
            "rate": rate,
            "requests": ms.len(),
            "requests_per_second": if rate == 0 { ms.len() as f64 / elapsed } else { f64::from(rate) },
            "connections": connections,
            "p50_ms": q(0.50),
            "p90_ms": q(0.90),
            "p99_ms": q(0.99),
            "max_ms": ms.last().copied().unwrap_or(0.0),
        })
    );
    server.shutdown_background();
    Ok(())
}

/// Where and how the load generator sends.
struct Load {
    client: reqwest::Client,
    url: String,
    key: String,
}

impl Load {
    /// Posts the `i`th single-event body; whether it was answered 2xx.
    async fn send(&self, i: usize) -> bool {
        let at = Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true);
        let body = format!("[{}]", synthetic_event(i, &at));
        let request = self.client.post(&self.url).bearer_auth(&self.key).header("content-type", "application/json");
        matches!(request.body(body).send().await, Ok(r) if r.status().is_success())
    }
}

/// `rate` requests a second for `seconds` (after a second of warm-up, not counted); each
/// latency counts from when its request was due, so a stall delays every one behind it.
fn open_loop(
    rt: &tokio::runtime::Runtime,
    load: &Arc<Load>,
    rate: u32,
    seconds: u32,
    connections: usize,
) -> Result<Vec<Duration>> {
    // Requests are started by a plain thread at their due times (tokio's timer ticks in
    // whole milliseconds, which would add up to a millisecond to every measurement) and
    // run on the client runtime.
    let total = (rate as usize) * (seconds as usize + 1);
    let interval = Duration::from_secs_f64(1.0 / f64::from(rate));
    let limit = Arc::new(tokio::sync::Semaphore::new(connections));
    let begin = Instant::now();
    let mut tasks = Vec::with_capacity(total);
    for i in 0..total {
        let due = begin + interval * i as u32;
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let (load, limit) = (load.clone(), limit.clone());
        tasks.push(rt.spawn(async move {
            let _permit = limit.acquire_owned().await;
            let ok = load.send(i).await;
            (i, due.elapsed(), ok)
        }));
    }
    rt.block_on(async move {
        let mut latencies = Vec::with_capacity(total);
        for t in tasks {
            let (i, latency, ok) = t.await?;
            anyhow::ensure!(ok, "request {i} failed");
            if i >= rate as usize {
                latencies.push(latency);
            }
        }
        anyhow::Ok(latencies)
    })
}

/// Each connection sends its next request once the last is answered, for `seconds`. The
/// connections are hyper's own, without a pool or anything else between: the generator
/// shares the two cores with the server and should take as little of them as it can.
fn closed_loop(
    rt: &tokio::runtime::Runtime,
    load: &Arc<Load>,
    seconds: u32,
    connections: usize,
) -> Result<Vec<Duration>> {
    let addr = load.url.trim_start_matches("http://").split('/').next().unwrap_or_default().to_string();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let until = Instant::now() + Duration::from_secs(u64::from(seconds));
    let tasks: Vec<_> = (0..connections)
        .map(|_| {
            let (load, next, addr) = (load.clone(), next.clone(), addr.clone());
            rt.spawn(async move {
                let stream = tokio::net::TcpStream::connect(&addr).await?;
                stream.set_nodelay(true)?;
                let (mut sender, conn) =
                    hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
                tokio::spawn(conn);
                let auth = format!("Bearer {}", load.key);
                let mut latencies = Vec::new();
                while Instant::now() < until {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let at = Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true);
                    let body = format!("[{}]", synthetic_event(i, &at));
                    let request = hyper::Request::post("/v1/events")
                        .header("host", &addr)
                        .header("authorization", &auth)
                        .header("content-type", "application/json")
                        .body(http_body_util::Full::new(axum::body::Bytes::from(body)))?;
                    let sent = Instant::now();
                    let response = sender.send_request(request).await?;
                    let status = response.status();
                    // The answer is read whole, as a client would.
                    http_body_util::BodyExt::collect(response.into_body()).await?;
                    anyhow::ensure!(status.is_success(), "request {i}: {status}");
                    latencies.push(sent.elapsed());
                }
                anyhow::Ok(latencies)
            })
        })
        .collect();
    rt.block_on(async move {
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await??);
        }
        anyhow::Ok(all)
    })
}
