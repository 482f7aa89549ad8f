//! `steward bench sketch`: the text-matching hot path on a real post corpus — normalization,
//! shingles, MinHash signature, LSH query and insert into the sliding-window index (one
//! `WindowIndex::query_insert_into` step), per post in file order — in posts/s, with the
//! index's memory per post and its pair recall against exact shingle Jaccard. Prints one JSON object. The same loop is also timed from the
//! pre-tokenized shingle sets (signature, query, insert), the work MinHash libraries do when
//! given shingles.
//!
//! Pair recall: over a fixed-seed sample of posts, every pair (sampled post, any other post)
//! whose exact Jaccard on steward's own normalized shingle sets is at least 0.8 is a truth
//! pair; it is found when the index returned one post of the pair as a candidate of the
//! other. The shingle sets and the truth pairs can be written out so that other MinHash
//! libraries get exactly the same input and ground truth (`scripts/peers/run.sh`).

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, ensure};
use serde::Deserialize;
use serde_json::json;
use steward_text::{
    DEFAULT_MAX_POSTINGS, MAX_WINDOW_SECS, Signature, SketchParams, Sketcher, WindowIndex, normalize_into,
};

/// Exact shingle Jaccard at or above which a pair is a truth pair.
const TRUTH_JACCARD: f64 = 0.8;

/// Options of `steward bench sketch` besides the corpus.
#[derive(clap::Args, Clone, Debug)]
pub struct Options {
    /// Read at most this many posts.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Window of the index, in days (posts are timed by their `created_at`).
    #[arg(long, default_value_t = 7.0)]
    pub window_days: f64,
    /// Most duplicate groups (distinct signatures) the index keeps per band hash, the newest
    /// ones. Identical copies share one group whatever their number, so the cap only limits
    /// floods of near-copies whose signatures all differ.
    #[arg(long, default_value_t = DEFAULT_MAX_POSTINGS)]
    pub max_postings: usize,
    /// Timed runs; the best and the median are reported.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Repeat the corpus within each timed run, each pass with a new index, until the run
    /// has lasted this many seconds; the run's time is then its seconds per pass. A run of a
    /// fraction of a second catches a shared machine in one of its fast or slow spells,
    /// while a peer's run of many seconds averages over them: timing both for seconds makes
    /// them comparable.
    #[arg(long, default_value_t = 0.0)]
    pub min_seconds: f64,
    /// Sampled query posts for pair recall.
    #[arg(long, default_value_t = 2000)]
    pub queries: usize,
    /// Seed of the query sample.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Write the normalized shingle set of every post (sorted u64 shingle hashes) as JSONL,
    /// one array per post in file order.
    #[arg(long)]
    pub dump_shingles: Option<PathBuf>,
    /// Write the recall sample and truth pairs as JSON: `{"threshold", "queries", "pairs"}`
    /// (post numbers are 0-based line order among the posts read).
    #[arg(long)]
    pub dump_truth: Option<PathBuf>,
}

#[derive(Deserialize)]
struct Post {
    created_at: i64,
    text: String,
}

/// What an index is built with.
#[derive(Clone, Copy)]
struct Setup {
    params: SketchParams,
    window: i64,
    max_postings: usize,
}

impl Setup {
    fn index(&self) -> Result<WindowIndex> {
        Ok(WindowIndex::with_max_postings(self.params, self.window, self.max_postings)?)
    }
}

struct Run {
    seconds: f64,
    candidates: usize,
    index: WindowIndex,
}

/// Runs `pass` over and over until `min_seconds` have passed (at least once): the seconds
/// per pass and what the last pass returned.
fn timed_passes<T>(min_seconds: f64, mut pass: impl FnMut() -> Result<T>) -> Result<(f64, T)> {
    let started = Instant::now();
    let mut passes = 0;
    loop {
        let last = pass()?;
        passes += 1;
        let elapsed = started.elapsed().as_secs_f64();
        if elapsed >= min_seconds {
            return Ok((elapsed / f64::from(passes), last));
        }
    }
}

/// The timed loop: per post, `sign` (post number, signature out), query, insert, each pass
/// with a new index (see [`timed_passes`]).
fn timed_loop(
    posts: &[Post],
    setup: Setup,
    min_seconds: f64,
    mut sign: impl FnMut(usize, &mut Signature),
) -> Result<Run> {
    let mut sig = Signature::default();
    let mut found = Vec::new();
    let (seconds, (candidates, index)) = timed_passes(min_seconds, || {
        let mut index = setup.index()?;
        let mut candidates = 0usize;
        for (i, post) in posts.iter().enumerate() {
            sign(i, &mut sig);
            index.query_insert_into(i as u32, post.created_at, &sig, &mut found)?;
            candidates += found.len();
        }
        Ok((candidates, index))
    })?;
    Ok(Run { seconds, candidates, index })
}

/// The product's work: normalization, shingles and signature from each post's text.
fn timed_run(posts: &[Post], setup: Setup, min_seconds: f64) -> Result<Run> {
    let mut sketcher = Sketcher::new(setup.params)?;
    timed_loop(posts, setup, min_seconds, |i, sig| sketcher.sketch_into(&posts[i].text, sig))
}

/// The peers' work: the signature from pre-tokenized shingle sets, without normalization
/// and shingling. Returns the seconds per pass.
fn timed_run_shingles(posts: &[Post], sets: &[Vec<u64>], setup: Setup, min_seconds: f64) -> Result<f64> {
    let sketcher = Sketcher::new(setup.params)?;
    let run = timed_loop(posts, setup, min_seconds, |i, sig| sketcher.sign_hashes_into(sets[i].iter().copied(), sig))?;
    Ok(run.seconds)
}

/// The same loop, untimed, recording every candidate pair `(earlier, later)` that involves a
/// sampled post. Returns the pairs and the index at the end.
fn candidate_pairs(posts: &[Post], setup: Setup, sampled: &[bool]) -> Result<(HashSet<(u32, u32)>, WindowIndex)> {
    let mut sketcher = Sketcher::new(setup.params)?;
    let mut index = setup.index()?;
    let mut sig = Signature::default();
    let mut found = Vec::new();
    let mut pairs = HashSet::new();
    for (i, post) in posts.iter().enumerate() {
        sketcher.sketch_into(&post.text, &mut sig);
        let id = i as u32;
        index.query_insert_into(id, post.created_at, &sig, &mut found)?;
        for c in &found {
            if sampled[i] || sampled[c.id as usize] {
                pairs.insert((c.id.min(id), c.id.max(id)));
            }
        }
    }
    Ok((pairs, index))
}

/// Sorted, deduplicated shingle hashes of every post's normalized text.
fn shingle_sets(posts: &[Post], sketcher: &Sketcher) -> Vec<Vec<u64>> {
    let mut normalized = String::new();
    posts
        .iter()
        .map(|p| {
            normalize_into(&p.text, &mut normalized);
            let mut set = Vec::new();
            sketcher.shingles_into(&normalized, &mut set);
            set.sort_unstable();
            set.dedup();
            set
        })
        .collect()
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// `n` distinct posts with a non-empty shingle set, drawn with a fixed seed, sorted.
fn sample(sets: &[Vec<u64>], n: usize, seed: u64) -> Vec<u32> {
    let mut pool: Vec<u32> = (0..sets.len() as u32).filter(|&i| !sets[i as usize].is_empty()).collect();
    let n = n.min(pool.len());
    let mut state = seed;
    for i in 0..n {
        let j = i + (splitmix64(&mut state) % (pool.len() - i) as u64) as usize;
        pool.swap(i, j);
    }
    pool.truncate(n);
    pool.sort_unstable();
    pool
}

/// Every pair (query, other post) with exact Jaccard ≥ [`TRUTH_JACCARD`], as `(low, high)`,
/// through an inverted index of shingles.
fn truth_pairs(sets: &[Vec<u64>], queries: &[u32]) -> Vec<(u32, u32)> {
    let mut postings: HashMap<u64, Vec<u32>> = HashMap::new();
    for (i, set) in sets.iter().enumerate() {
        for &h in set {
            postings.entry(h).or_default().push(i as u32);
        }
    }
    let mut shared = vec![0u32; sets.len()];
    let mut touched = Vec::new();
    let mut pairs = HashSet::new();
    for &q in queries {
        let qs = &sets[q as usize];
        for h in qs {
            for &p in &postings[h] {
                if shared[p as usize] == 0 {
                    touched.push(p);
                }
                shared[p as usize] += 1;
            }
        }
        for &p in &touched {
            let inter = shared[p as usize] as usize;
            shared[p as usize] = 0;
            let union = qs.len() + sets[p as usize].len() - inter;
            if p != q && inter as f64 >= TRUTH_JACCARD * union as f64 {
                pairs.insert((q.min(p), q.max(p)));
            }
        }
        touched.clear();
    }
    let mut pairs: Vec<(u32, u32)> = pairs.into_iter().collect();
    pairs.sort_unstable();
    pairs
}

fn write_shingles(path: &Path, sets: &[Vec<u64>]) -> Result<()> {
    let write = || -> std::io::Result<()> {
        let mut out = BufWriter::new(File::create(path)?);
        for set in sets {
            out.write_all(b"[")?;
            for (k, h) in set.iter().enumerate() {
                if k > 0 {
                    out.write_all(b",")?;
                }
                write!(out, "{h}")?;
            }
            out.write_all(b"]\n")?;
        }
        out.flush()
    };
    write().with_context(|| format!("writing {}", path.display()))
}

/// Mean over the sampled posts that have truth pairs of the fraction of their pairs found
/// (each such post weighs the same, however big its cluster).
fn query_recall_mean(truth: &[(u32, u32)], sampled: &[bool], found: &HashSet<(u32, u32)>) -> f64 {
    let mut per_query: HashMap<u32, (usize, usize)> = HashMap::new();
    for pair in truth {
        let hit = usize::from(found.contains(pair));
        for q in [pair.0, pair.1] {
            if sampled[q as usize] {
                let e = per_query.entry(q).or_default();
                e.0 += 1;
                e.1 += hit;
            }
        }
    }
    if per_query.is_empty() {
        return 1.0;
    }
    per_query.values().map(|&(total, hit)| hit as f64 / total as f64).sum::<f64>() / per_query.len() as f64
}

fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 { sorted[n / 2] } else { (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0 }
}

fn ratio(found: usize, total: usize) -> f64 {
    if total == 0 { 1.0 } else { found as f64 / total as f64 }
}

pub fn run(posts_path: &Path, options: &Options) -> Result<()> {
    ensure!(options.runs >= 1, "--runs must be at least 1");
    ensure!(options.window_days >= 0.0, "--window-days must not be negative");
    ensure!(
        options.min_seconds.is_finite() && options.min_seconds >= 0.0,
        "--min-seconds must be a number of seconds, not {}",
        options.min_seconds
    );
    let window = ((options.window_days * 86_400.0).round() as i64).min(MAX_WINDOW_SECS);
    let posts: Vec<Post> = crate::jsonl::read(posts_path, options.limit, "a post with created_at and text")?;
    ensure!(posts.len() < 1 << 31, "too many posts: {}", posts.len());
    let params = SketchParams::default();
    let setup = Setup { params, window, max_postings: options.max_postings };
    steward_text::warm_up();

    let mut runs = Vec::with_capacity(options.runs);
    for _ in 0..options.runs {
        runs.push(timed_run(&posts, setup, options.min_seconds)?);
    }
    let mut seconds: Vec<f64> = runs.iter().map(|r| r.seconds).collect();
    seconds.sort_by(f64::total_cmp);
    let (best, med) = (seconds[0], median(&seconds));
    let last = runs.pop().context("no run")?;
    let candidates = last.candidates;
    let mut index = last.index;
    drop(runs);
    // The window index at the end, expired posts dropped.
    index.evict_expired();
    let (end_live, end_bytes) = (index.len(), index.approx_bytes());
    drop(index);

    // Ground truth on steward's own normalized shingles.
    let sketcher = Sketcher::new(params)?;
    let sets = shingle_sets(&posts, &sketcher);
    let queries = sample(&sets, options.queries, options.seed);
    let truth = truth_pairs(&sets, &queries);
    let mut shingle_seconds = Vec::with_capacity(options.runs);
    for _ in 0..options.runs {
        shingle_seconds.push(timed_run_shingles(&posts, &sets, setup, options.min_seconds)?);
    }
    shingle_seconds.sort_by(f64::total_cmp);
    let mut sampled = vec![false; posts.len()];
    for &q in &queries {
        sampled[q as usize] = true;
    }
    // Recall and memory of an index that keeps every post (as the peers' indexes do) …
    let all = Setup { window: MAX_WINDOW_SECS, ..setup };
    let (all_found, all_index) = candidate_pairs(&posts, all, &sampled)?;
    let (all_live, all_bytes) = (all_index.len(), all_index.approx_bytes());
    drop(all_index);
    let found = truth.iter().filter(|p| all_found.contains(p)).count();
    // … and recall of the timed window over the truth pairs that fall inside it.
    let (window_found, _) = candidate_pairs(&posts, setup, &sampled)?;
    let in_window: Vec<&(u32, u32)> = truth
        .iter()
        .filter(|&&(a, b)| (posts[b as usize].created_at - posts[a as usize].created_at).abs() <= window)
        .collect();
    let found_in_window = in_window.iter().filter(|p| window_found.contains(p)).count();

    if let Some(path) = &options.dump_shingles {
        write_shingles(path, &sets)?;
    }
    if let Some(path) = &options.dump_truth {
        let body = json!({ "threshold": TRUTH_JACCARD, "queries": queries, "pairs": truth });
        std::fs::write(path, serde_json::to_vec(&body)?).with_context(|| format!("writing {}", path.display()))?;
    }

    let n = posts.len();
    println!(
        "{}",
        json!({
            "bench": "sketch",
            "posts": n,
            "ngram": params.ngram,
            "num_hashes": params.num_hashes,
            "bands": params.bands,
            "rows": params.rows,
            "window_secs": window,
            "max_postings": setup.max_postings,
            "runs": options.runs,
            "min_seconds": options.min_seconds,
            "seconds": best,
            "seconds_median": med,
            "posts_per_second": n as f64 / best,
            "posts_per_second_median": n as f64 / med,
            "candidates": candidates,
            "from_shingles_seconds": shingle_seconds[0],
            "from_shingles_seconds_median": median(&shingle_seconds),
            "from_shingles_posts_per_second": n as f64 / shingle_seconds[0],
            "from_shingles_posts_per_second_median": n as f64 / median(&shingle_seconds),
            "bytes_per_post": all_bytes as f64 / all_live.max(1) as f64,
            "bytes_per_post_posts": all_live,
            "window_end_live_posts": end_live,
            "window_end_index_bytes": end_bytes,
            "recall_threshold": TRUTH_JACCARD,
            "recall_queries": queries.len(),
            "truth_pairs": truth.len(),
            "found_pairs": found,
            "pair_recall": ratio(found, truth.len()),
            "query_recall_mean": query_recall_mean(&truth, &sampled, &all_found),
            "truth_pairs_in_window": in_window.len(),
            "found_pairs_in_window": found_in_window,
            "pair_recall_in_window": ratio(found_in_window, in_window.len()),
        })
    );
    Ok(())
}
