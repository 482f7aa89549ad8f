//! `steward eval claims --factchecks F --posts P`: matches every post against a knowledge
//! base of the fact-checks with the shipped matcher and prints one JSON object:
//! `recall_at_1`, `recall_at_5`, `mrr` (over the top 10), `threshold`, `matched_recall`
//! (positives whose shipped decision names their fact-check), `false_match_rate` (posts
//! with no expected fact-check that still match a false or misleading one at the
//! threshold), `queries_per_second`; and under `baseline` the same for BM25 over the
//! claims' character bigrams, Cofacts' way (Elasticsearch more_like_this). BM25 scores have
//! no fixed scale, so the baseline's threshold is the best one for it on the file itself at
//! a false match rate of at most 2%: a generous comparison.

use std::collections::HashMap;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use chrono::FixedOffset;
use serde::Deserialize;
use serde_json::json;
use steward_detect::claims::{ClaimMatcher, KnowledgeBase, Match, MatcherConfig};
use steward_model::FactCheck;
use steward_model::factcheck_import::from_jsonl;

use crate::jsonl::{self, Id};

/// A labelled post: `expected` is the fact-check it repeats, or null.
#[derive(Deserialize)]
pub struct LabelledPost {
    pub id: Id,
    pub text: String,
    #[serde(default)]
    pub expected: Option<String>,
}

/// Reads a JSONL knowledge base; a line that cannot be read stops the evaluation.
pub fn read_fact_checks(path: &Path) -> Result<Vec<FactCheck>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let imported = from_jsonl(&text, FixedOffset::east_opt(0).expect("zero offset"));
    if let Some(e) = imported.errors.first() {
        bail!("{}: {e} ({} unreadable lines in all)", path.display(), imported.errors.len());
    }
    if imported.fact_checks.is_empty() {
        bail!("no fact-checks in {}", path.display());
    }
    Ok(imported.fact_checks)
}

/// Ranking figures of one matcher.
#[derive(Default)]
struct Ranks {
    at1: usize,
    at5: usize,
    reciprocal: f64,
    positives: usize,
}

impl Ranks {
    fn add(&mut self, rank: Option<usize>) {
        self.positives += 1;
        if let Some(r) = rank {
            self.at1 += usize::from(r == 0);
            self.at5 += usize::from(r < 5);
            self.reciprocal += 1.0 / (r + 1) as f64;
        }
    }

    fn json(&self) -> serde_json::Map<String, serde_json::Value> {
        let n = self.positives.max(1) as f64;
        let mut m = serde_json::Map::new();
        m.insert("recall_at_1".into(), json!(round(self.at1 as f64 / n)));
        m.insert("recall_at_5".into(), json!(round(self.at5 as f64 / n)));
        m.insert("mrr".into(), json!(round(self.reciprocal / n)));
        m
    }
}

fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

const RANKED: usize = 10;

pub fn run(factchecks: &Path, posts: &Path, show_errors: bool) -> Result<ExitCode> {
    let fact_checks = read_fact_checks(factchecks)?;
    let posts: Vec<LabelledPost> = jsonl::read(posts, None, "a post with id, text and expected")?;
    let known: HashMap<&str, usize> = fact_checks.iter().enumerate().map(|(i, f)| (f.id.as_str(), i)).collect();
    for p in &posts {
        if let Some(e) = &p.expected
            && !known.contains_key(e.as_str())
        {
            bail!("post {} expects fact-check {e:?}, which is not in {}", p.id, factchecks.display());
        }
    }

    let mut matcher = ClaimMatcher::new(MatcherConfig::default());
    for f in &fact_checks {
        matcher.add_fact_check(f.clone());
    }
    let threshold = matcher.config().threshold;
    let mut ranks = Ranks::default();
    let (mut matched, mut false_matches, mut negatives) = (0usize, 0usize, 0usize);
    let started = Instant::now();
    for p in &posts {
        let hits = matcher.search(&p.text, RANKED).to_vec();
        let kb = matcher.knowledge_base();
        let best = matcher.debunked(&hits);
        let decided = best.map(|m| kb.entry(m.entry).fact_check.id.as_str());
        match &p.expected {
            Some(expected) => {
                let rank = hits.iter().position(|h| kb.entry(h.entry).fact_check.id == *expected);
                ranks.add(rank);
                matched += usize::from(decided == Some(expected.as_str()));
                if show_errors && rank != Some(0) {
                    let rank = rank.map_or(format!("not in the top {RANKED}"), |r| format!("ranked {}", r + 1));
                    eprintln!("missed {}: expected {expected} ({rank})", p.id);
                    show_hit(kb, hits.first(), &p.text);
                    eprintln!("  expected: {}", clip(&fact_checks[known[expected.as_str()]].claim));
                }
            }
            None => {
                negatives += 1;
                false_matches += usize::from(decided.is_some());
                if show_errors && decided.is_some() {
                    eprintln!("false match {}:", p.id);
                    show_hit(kb, best.as_ref(), &p.text);
                }
            }
        }
    }
    let seconds = started.elapsed().as_secs_f64();

    let mut report = ranks.json();
    let positives = ranks.positives.max(1) as f64;
    report.insert("threshold".into(), json!(round(f64::from(threshold))));
    report.insert("matched_recall".into(), json!(round(matched as f64 / positives)));
    report.insert("false_match_rate".into(), json!(round(false_matches as f64 / negatives.max(1) as f64)));
    report.insert("queries_per_second".into(), json!((posts.len() as f64 / seconds.max(1e-9)).round()));
    report.insert("fact_checks".into(), json!(fact_checks.len()));
    report.insert("positives".into(), json!(ranks.positives));
    report.insert("negatives".into(), json!(negatives));
    report.insert("baseline".into(), baseline(&fact_checks, &posts).into());
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(ExitCode::SUCCESS)
}

/// The post and the fact-check it matched best, for `--show-errors`.
fn show_hit(kb: &KnowledgeBase, hit: Option<&Match>, text: &str) {
    eprintln!("  post: {}", clip(text));
    if let Some(h) = hit {
        let f = &kb.entry(h.entry).fact_check;
        eprintln!("  matched {} at {:.3}: {}", f.id, h.score, clip(&f.claim));
    }
}

fn clip(text: &str) -> String {
    text.chars().take(160).collect()
}

/// Character bigrams of a text as Elasticsearch's CJK analyzer would index them: case
/// folded, over letters and digits only.
fn bigrams(text: &str) -> Vec<(char, char)> {
    let chars: Vec<char> = text.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect();
    chars.windows(2).map(|w| (w[0], w[1])).collect()
}

/// BM25 (k1 1.2, b 0.75) over the claims' character bigrams, the post's bigrams as the query.
struct Bm25 {
    postings: HashMap<(char, char), Vec<(u32, u32)>>,
    lengths: Vec<f32>,
    mean_length: f32,
}

impl Bm25 {
    fn new(claims: &[&str]) -> Self {
        let mut postings: HashMap<(char, char), Vec<(u32, u32)>> = HashMap::new();
        let mut lengths = Vec::new();
        for (doc, claim) in claims.iter().enumerate() {
            let grams = bigrams(claim);
            lengths.push(grams.len() as f32);
            let mut tf: HashMap<(char, char), u32> = HashMap::new();
            for g in grams {
                *tf.entry(g).or_default() += 1;
            }
            for (g, n) in tf {
                postings.entry(g).or_default().push((doc as u32, n));
            }
        }
        let mean_length = lengths.iter().sum::<f32>() / lengths.len().max(1) as f32;
        Bm25 { postings, lengths, mean_length }
    }

    fn search(&self, text: &str, k: usize) -> Vec<(u32, f32)> {
        let (k1, b) = (1.2f32, 0.75f32);
        let n = self.lengths.len() as f32;
        let mut query = bigrams(text);
        query.sort_unstable();
        query.dedup();
        let mut scores: HashMap<u32, f32> = HashMap::new();
        for g in &query {
            let Some(list) = self.postings.get(g) else { continue };
            let idf = (1.0 + (n - list.len() as f32 + 0.5) / (list.len() as f32 + 0.5)).ln();
            for &(doc, tf) in list {
                let tf = tf as f32;
                let norm = k1 * (1.0 - b + b * self.lengths[doc as usize] / self.mean_length);
                *scores.entry(doc).or_default() += idf * tf * (k1 + 1.0) / (tf + norm);
            }
        }
        let mut ranked: Vec<(u32, f32)> = scores.into_iter().collect();
        ranked.sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        ranked.truncate(k);
        ranked
    }
}

fn baseline(fact_checks: &[FactCheck], posts: &[LabelledPost]) -> serde_json::Map<String, serde_json::Value> {
    let claims: Vec<&str> = fact_checks.iter().map(|f| f.claim.as_str()).collect();
    let bm25 = Bm25::new(&claims);
    let debunks = |doc: u32| steward_detect::claims::debunks(fact_checks[doc as usize].verdict);
    let mut ranks = Ranks::default();
    // Per post: the best false or misleading hit's score, and whether it is the expected one.
    let mut decided: Vec<(bool, f32, bool)> = Vec::new();
    let started = Instant::now();
    for p in posts {
        let hits = bm25.search(&p.text, RANKED);
        let best = hits.iter().find(|h| debunks(h.0));
        let hit_is = |doc: u32| p.expected.as_deref() == Some(fact_checks[doc as usize].id.as_str());
        if p.expected.is_some() {
            ranks.add(hits.iter().position(|h| hit_is(h.0)));
        }
        decided.push((
            p.expected.is_some(),
            best.map_or(f32::NEG_INFINITY, |h| h.1),
            best.is_some_and(|h| hit_is(h.0)),
        ));
    }
    let seconds = started.elapsed().as_secs_f64();
    // The lowest threshold whose false match rate is at most 2%.
    let mut negative_scores: Vec<f32> = decided.iter().filter(|d| !d.0).map(|d| d.1).collect();
    negative_scores.sort_unstable_by(|a, b| b.total_cmp(a));
    let allowed = (negative_scores.len() as f64 * 0.02).floor() as usize;
    let threshold = negative_scores.get(allowed).map_or(0.0, |s| s.next_up());
    let matched = decided.iter().filter(|d| d.0 && d.2 && d.1 >= threshold).count();
    let false_matches = decided.iter().filter(|d| !d.0 && d.1 >= threshold).count();
    let mut report = ranks.json();
    report.insert("threshold".into(), json!(round(f64::from(threshold))));
    report.insert("matched_recall".into(), json!(round(matched as f64 / ranks.positives.max(1) as f64)));
    report.insert("false_match_rate".into(), json!(round(false_matches as f64 / negative_scores.len().max(1) as f64)));
    report.insert("queries_per_second".into(), json!((posts.len() as f64 / seconds.max(1e-9)).round()));
    report
}

/// `steward bench claims`: the matcher against a knowledge base grown to `kb_size` entries
/// from the real ones (each copy has about a quarter of its characters swapped for others
/// of the same knowledge base, so token statistics stay realistic), querying the posts over
/// and over for at least `seconds`, on one thread.
pub fn bench(factchecks: &Path, posts: &Path, kb_size: usize, seconds: f64) -> Result<()> {
    let fact_checks = read_fact_checks(factchecks)?;
    let posts: Vec<LabelledPost> = jsonl::read(posts, None, "a post with id and text")?;
    let pool: Vec<char> = fact_checks.iter().flat_map(|f| f.claim.chars()).filter(|c| c.is_alphanumeric()).collect();
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut matcher = ClaimMatcher::new(MatcherConfig::default());
    let started = Instant::now();
    for i in 0..kb_size.max(fact_checks.len()) {
        let mut fc = fact_checks[i % fact_checks.len()].clone();
        if i >= fact_checks.len() {
            fc.id = format!("synthetic-{i}");
            fc.claim = fc
                .claim
                .chars()
                .map(|c| if next() % 4 == 0 { pool[next() as usize % pool.len()] } else { c })
                .collect();
        }
        matcher.add_fact_check(fc);
    }
    let build_seconds = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let (mut queries, mut found) = (0usize, 0usize);
    while started.elapsed().as_secs_f64() < seconds {
        for p in &posts {
            found += usize::from(matcher.check(&p.text).is_some());
        }
        queries += posts.len();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let report = json!({
        "kb_size": matcher.knowledge_base().len(),
        "build_seconds": round(build_seconds),
        "queries": queries,
        "matched_share": round(found as f64 / queries.max(1) as f64),
        "posts_per_second": (queries as f64 / elapsed.max(1e-9)).round(),
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
