//! `steward eval claims --factchecks F --posts P`: matches every post against a knowledge
//! base of the fact-checks with the shipped matcher and prints one JSON object.
//!
//! A labelled post names the fact-check it repeats (`expected`) and every false or
//! misleading fact-check of the same rumour (`accept`, the expected one included); a match
//! counts when the fact-check ranked first is in `accept`. Posts marked `unmatchable` (their
//! ruling is about an image or video the text never states) are left out of every figure.
//! - `recall_at_1`, `recall_at_5`, `mrr` (over the top 10): ranking, over the matchable
//!   positives.
//! - `threshold` (the shipped one), `matched_recall` (positives whose shipped decision names
//!   a fact-check in `accept`), `false_match_rate` (null posts on which the detector would
//!   decide: a false or misleading fact-check among the top 5 at the threshold),
//!   `queries_per_second`.
//! - `cross_validation`: how the shipped threshold was chosen (k-fold by rumour, see
//!   [`cross_validate`]) and its out-of-fold figures.
//! - `curve`: an analysis, not an operating point: for false match rates of 0.5%, 1% and 2%,
//!   the threshold that allows at most that rate on this file's null posts and the matched
//!   recall there, for the matcher and for the baseline.
//! - `baseline`: the same figures for BM25 over the claims' character bigrams, Cofacts' way
//!   (Elasticsearch more_like_this). BM25 scores have no fixed scale, so its threshold is the
//!   curve's 2% point, fitted on the file itself: a generous comparison.

use std::collections::HashMap;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use chrono::FixedOffset;
use serde::Deserialize;
use serde_json::{Value, json};
use steward_detect::claims::{ClaimMatcher, KnowledgeBase, Match, MatcherConfig};
use steward_model::FactCheck;
use steward_model::factcheck_import::from_jsonl;

use crate::excerpt::excerpt;
use crate::jsonl::{self, Id};

/// A labelled post: `expected` is the fact-check it repeats, or null; `accept` every
/// fact-check of the same rumour; `unmatchable` why its text cannot match, if so.
#[derive(Deserialize)]
pub struct LabelledPost {
    pub id: Id,
    pub text: String,
    #[serde(default)]
    pub expected: Option<String>,
    #[serde(default)]
    pub accept: Vec<String>,
    #[serde(default)]
    pub unmatchable: Option<String>,
}

impl LabelledPost {
    fn is_positive(&self) -> bool {
        self.expected.is_some() || !self.accept.is_empty()
    }
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

/// Reads the labelled posts; every fact-check they name must be in `fact_checks`, and the
/// expected one joins `accept`.
fn read_posts(path: &Path, fact_checks: &[FactCheck], factchecks_path: &Path) -> Result<Vec<LabelledPost>> {
    let mut posts: Vec<LabelledPost> =
        jsonl::read(path, None, "a post with id, text, expected (and accept, unmatchable)")?;
    let known: std::collections::HashSet<&str> = fact_checks.iter().map(|f| f.id.as_str()).collect();
    for p in &mut posts {
        if let Some(e) = &p.expected
            && !p.accept.contains(e)
        {
            p.accept.push(e.clone());
        }
        if let Some(missing) = p.accept.iter().find(|a| !known.contains(a.as_str())) {
            bail!("post {} names fact-check {missing:?}, which is not in {}", p.id, factchecks_path.display());
        }
    }
    Ok(posts)
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

    fn json(&self) -> serde_json::Map<String, Value> {
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

/// What a matcher would decide on one post, before any threshold: the score of its best
/// false or misleading fact-check (`-inf` when none), and whether that one is accepted.
#[derive(Debug, Clone, Copy)]
struct Decision {
    positive: bool,
    score: f32,
    accepted: bool,
}

/// Decisions on the scored posts (matchable positives and null posts).
struct Decisions(Vec<Decision>);

impl Decisions {
    /// Matched recall and false match rate at `threshold`.
    fn at(&self, threshold: f32) -> (f64, f64) {
        rates(self.0.iter(), threshold)
    }

    /// The lowest threshold that decides on at most `rate` of the null posts.
    fn threshold_for(&self, rate: f64) -> f32 {
        threshold_for(self.0.iter(), rate)
    }

    fn json_at(&self, threshold: f32) -> Value {
        let (matched, false_matches) = self.at(threshold);
        json!({"threshold": round(f64::from(threshold)), "matched_recall": round(matched),
               "false_match_rate": round(false_matches)})
    }
}

fn rates<'a>(ds: impl Iterator<Item = &'a Decision>, threshold: f32) -> (f64, f64) {
    let (mut positives, mut matched, mut negatives, mut false_matches) = (0usize, 0usize, 0usize, 0usize);
    for d in ds {
        let decided = d.score >= threshold;
        if d.positive {
            positives += 1;
            matched += usize::from(decided && d.accepted);
        } else {
            negatives += 1;
            false_matches += usize::from(decided);
        }
    }
    (matched as f64 / positives.max(1) as f64, false_matches as f64 / negatives.max(1) as f64)
}

fn threshold_for<'a>(ds: impl Iterator<Item = &'a Decision>, rate: f64) -> f32 {
    let mut scores: Vec<f32> = ds.filter(|d| !d.positive).map(|d| d.score).collect();
    scores.sort_unstable_by(|a, b| b.total_cmp(a));
    let allowed = (scores.len() as f64 * rate + 1e-9).floor() as usize;
    // Scores at or above it would decide: just above the first null post that must not.
    scores.get(allowed).map_or(f32::NEG_INFINITY, |s| if s.is_finite() { s.next_up() } else { f32::MIN })
}

/// False match rates of the curve.
const CURVE: [f64; 3] = [0.005, 0.01, 0.02];
/// What the threshold is chosen for: the most null posts it may decide on.
pub const TARGET_FALSE_MATCH_RATE: f64 = 0.02;
const FOLDS: usize = 5;
const REPEATS: u64 = 3;

/// How the shipped threshold is chosen, on a labelled file: `REPEATS` times, the posts are
/// split into `FOLDS` folds by rumour (positives whose `accept` sets share a fact-check stay
/// together; null posts stay with the others whose best match is the same fact-check, so one
/// claim's false matches never span train and test); on each fold's training part the
/// threshold is the lowest with at most [`TARGET_FALSE_MATCH_RATE`] false matches, and it is
/// scored on the held-out part. Reports the out-of-fold matched recall and false match rate
/// (mean over repeats), every fold's threshold and their median (rounded up to the
/// hundredth, the side of fewer false matches, it is what ships).
fn cross_validate(decisions: &Decisions, groups: &[String]) -> Value {
    let mut keys: Vec<&str> = groups.iter().map(String::as_str).collect();
    keys.sort_unstable();
    keys.dedup();
    if keys.len() < FOLDS {
        return json!({"error": format!("{} groups: too few for {FOLDS} folds", keys.len())});
    }
    let size: HashMap<&str, usize> = groups.iter().fold(HashMap::new(), |mut m, g| {
        *m.entry(g.as_str()).or_default() += 1;
        m
    });
    let (mut thresholds, mut matched, mut false_matches) = (Vec::new(), 0.0, 0.0);
    for repeat in 0..REPEATS {
        // Largest groups first, ties in an order of the repeat's own; each to the lightest fold.
        keys.sort_unstable_by_key(|k| (std::cmp::Reverse(size[k]), fnv(repeat, k)));
        let mut load = [0usize; FOLDS];
        let mut fold_of = HashMap::new();
        for k in &keys {
            let f = (0..FOLDS).min_by_key(|&f| (load[f], f)).unwrap_or(0);
            load[f] += size[k];
            fold_of.insert(*k, f);
        }
        let fold = |i: usize| fold_of[groups[i].as_str()];
        let mut held_out = Vec::new();
        for f in 0..FOLDS {
            let train = decisions.0.iter().enumerate().filter(|(i, _)| fold(*i) != f).map(|(_, d)| d);
            let threshold = threshold_for(train, TARGET_FALSE_MATCH_RATE);
            thresholds.push(threshold);
            held_out
                .extend(decisions.0.iter().enumerate().filter(|(i, _)| fold(*i) == f).map(|(_, d)| (threshold, *d)));
        }
        let (m, fm) = held_out_rates(&held_out);
        matched += m / REPEATS as f64;
        false_matches += fm / REPEATS as f64;
    }
    thresholds.sort_unstable_by(f32::total_cmp);
    let median = thresholds[thresholds.len() / 2];
    json!({
        "method": format!("{FOLDS}-fold by rumour, {REPEATS} repeats; per fold the lowest threshold with \
            at most {TARGET_FALSE_MATCH_RATE} false matches on the training folds; their median, rounded up to the \
            hundredth, ships"),
        "fold_thresholds": thresholds.iter().map(|t| round(f64::from(*t))).collect::<Vec<_>>(),
        "threshold": round(f64::from(median)),
        "shipped_as": (f64::from(median) * 100.0).ceil() / 100.0,
        "out_of_fold_matched_recall": round(matched),
        "out_of_fold_false_match_rate": round(false_matches),
    })
}

/// Matched recall and false match rate of held-out decisions, each at its fold's threshold.
fn held_out_rates(held_out: &[(f32, Decision)]) -> (f64, f64) {
    let (mut p, mut m, mut n, mut fm) = (0usize, 0usize, 0usize, 0usize);
    for (t, d) in held_out {
        if d.positive {
            p += 1;
            m += usize::from(d.score >= *t && d.accepted);
        } else {
            n += 1;
            fm += usize::from(d.score >= *t);
        }
    }
    (m as f64 / p.max(1) as f64, fm as f64 / n.max(1) as f64)
}

fn fnv(seed: u64, text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325 ^ seed, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// Rumours as groups: fact-check ids that appear in one `accept` set share a group (union
/// find); the group's name is its smallest id.
fn rumours(posts: &[LabelledPost]) -> HashMap<String, String> {
    let mut parent: HashMap<String, String> = HashMap::new();
    fn find(parent: &mut HashMap<String, String>, x: &str) -> String {
        let mut x = x.to_string();
        loop {
            let p = parent.entry(x.clone()).or_insert_with(|| x.clone()).clone();
            if p == x {
                return x;
            }
            x = p;
        }
    }
    for p in posts {
        for pair in p.accept.windows(2) {
            let (a, b) = (find(&mut parent, &pair[0]), find(&mut parent, &pair[1]));
            if a != b {
                let (lo, hi) = if a < b { (a, b) } else { (b, a) };
                parent.insert(hi, lo);
            }
        }
    }
    let ids: Vec<String> = parent.keys().cloned().collect();
    ids.into_iter().map(|id| (id.clone(), find(&mut parent, &id))).collect()
}

const RANKED: usize = 10;

pub fn run(factchecks: &Path, posts: &Path, show_errors: bool) -> Result<ExitCode> {
    let fact_checks = read_fact_checks(factchecks)?;
    let posts = read_posts(posts, &fact_checks, factchecks)?;
    let known: HashMap<&str, usize> = fact_checks.iter().enumerate().map(|(i, f)| (f.id.as_str(), i)).collect();

    let mut matcher = ClaimMatcher::new(MatcherConfig::default());
    for f in &fact_checks {
        matcher.add_fact_check(f.clone());
    }
    let threshold = matcher.config().threshold;
    let top_k = matcher.config().top_k;
    let rumour = rumours(&posts);
    let mut ranks = Ranks::default();
    let (mut decisions, mut groups, mut unmatchable) = (Vec::new(), Vec::new(), 0usize);
    let started = Instant::now();
    for p in &posts {
        let hits = matcher.search(&p.text, RANKED).to_vec();
        let kb = matcher.knowledge_base();
        let best = matcher.best_debunking(&hits[..hits.len().min(top_k)]);
        if p.unmatchable.is_some() {
            unmatchable += 1;
            continue;
        }
        let accepted = |m: &Match| p.accept.contains(&kb.entry(m.entry).fact_check.id);
        decisions.push(Decision {
            positive: p.is_positive(),
            score: best.map_or(f32::NEG_INFINITY, |m| m.score),
            accepted: best.as_ref().is_some_and(accepted),
        });
        if p.is_positive() {
            let rank = hits.iter().position(accepted);
            ranks.add(rank);
            groups.push(format!("rumour {}", rumour.get(&p.accept[0]).unwrap_or(&p.accept[0])));
            if show_errors && rank != Some(0) {
                let expected = p.expected.as_deref().unwrap_or(&p.accept[0]);
                let rank = rank.map_or(format!("not in the top {RANKED}"), |r| format!("ranked {}", r + 1));
                eprintln!("missed {}: expected {expected} ({rank})", p.id);
                show_hit(kb, hits.first(), &p.text);
                eprintln!("  expected: {}", excerpt(&fact_checks[known[expected]].claim, 160));
            } else if show_errors && best.is_some_and(|m| m.score < threshold) {
                eprintln!("below the threshold {}:", p.id);
                show_hit(kb, best.as_ref(), &p.text);
            }
        } else {
            groups.push(hits.first().map_or(format!("post {}", p.id), |h| format!("top {}", h.entry)));
            if show_errors && best.is_some_and(|m| m.score >= threshold) {
                eprintln!("false match {}:", p.id);
                show_hit(kb, best.as_ref(), &p.text);
            }
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let decisions = Decisions(decisions);

    let mut report = ranks.json();
    let (matched, false_matches) = decisions.at(threshold);
    let negatives = decisions.0.iter().filter(|d| !d.positive).count();
    report.insert("threshold".into(), json!(round(f64::from(threshold))));
    report.insert("matched_recall".into(), json!(round(matched)));
    report.insert("false_match_rate".into(), json!(round(false_matches)));
    report.insert("queries_per_second".into(), json!((posts.len() as f64 / seconds.max(1e-9)).round()));
    report.insert("fact_checks".into(), json!(fact_checks.len()));
    report.insert("positives".into(), json!(ranks.positives));
    report.insert("unmatchable".into(), json!(unmatchable));
    report.insert("negatives".into(), json!(negatives));
    report.insert("cross_validation".into(), cross_validate(&decisions, &groups));
    let (baseline, baseline_decisions) = baseline(&fact_checks, &posts);
    let curve: Vec<Value> = CURVE
        .iter()
        .map(|&rate| {
            json!({
                "false_match_rate_at_most": rate,
                "steward": decisions.json_at(decisions.threshold_for(rate)),
                "baseline": baseline_decisions.json_at(baseline_decisions.threshold_for(rate)),
            })
        })
        .collect();
    report.insert(
        "curve".into(),
        json!({
            "note": "analysis only, not the shipped operating point: at each false match rate, the threshold \
                fitted on this file's null posts and the matched recall there",
            "points": curve,
        }),
    );
    report.insert("baseline".into(), baseline.into());
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(ExitCode::SUCCESS)
}

/// The post and the fact-check it matched best, for `--show-errors`.
fn show_hit(kb: &KnowledgeBase, hit: Option<&Match>, text: &str) {
    eprintln!("  post: {}", excerpt(text, 160));
    if let Some(h) = hit {
        let f = &kb.entry(h.entry).fact_check;
        eprintln!("  matched {} at {:.3}: {}", f.id, h.score, excerpt(&f.claim, 160));
    }
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

fn baseline(fact_checks: &[FactCheck], posts: &[LabelledPost]) -> (serde_json::Map<String, Value>, Decisions) {
    let claims: Vec<&str> = fact_checks.iter().map(|f| f.claim.as_str()).collect();
    let bm25 = Bm25::new(&claims);
    let debunks = |doc: u32| steward_detect::claims::debunks(fact_checks[doc as usize].verdict);
    let mut ranks = Ranks::default();
    let mut decisions = Vec::new();
    let started = Instant::now();
    for p in posts {
        let hits = bm25.search(&p.text, RANKED);
        if p.unmatchable.is_some() {
            continue;
        }
        let accepted = |doc: u32| p.accept.contains(&fact_checks[doc as usize].id);
        let best = hits.iter().take(5).find(|h| debunks(h.0));
        if p.is_positive() {
            ranks.add(hits.iter().position(|h| accepted(h.0)));
        }
        decisions.push(Decision {
            positive: p.is_positive(),
            score: best.map_or(f32::NEG_INFINITY, |h| h.1),
            accepted: best.is_some_and(|h| accepted(h.0)),
        });
    }
    let seconds = started.elapsed().as_secs_f64();
    let decisions = Decisions(decisions);
    let threshold = decisions.threshold_for(TARGET_FALSE_MATCH_RATE);
    let (matched, false_matches) = decisions.at(threshold);
    let mut report = ranks.json();
    report.insert("threshold".into(), json!(round(f64::from(threshold))));
    report.insert("matched_recall".into(), json!(round(matched)));
    report.insert("false_match_rate".into(), json!(round(false_matches)));
    report.insert("queries_per_second".into(), json!((posts.len() as f64 / seconds.max(1e-9)).round()));
    (report, decisions)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn d(positive: bool, score: f32, accepted: bool) -> Decision {
        Decision { positive, score, accepted }
    }

    fn post(json: &str) -> LabelledPost {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn the_threshold_for_a_rate_allows_at_most_that_many_null_posts() {
        let mut ds: Vec<Decision> = (0..100).map(|i| d(false, i as f32 / 100.0, false)).collect();
        ds.push(d(true, 0.985, true));
        ds.push(d(true, 0.5, true));
        ds.push(d(false, f32::NEG_INFINITY, false));
        let ds = Decisions(ds);
        let t = ds.threshold_for(0.02);
        // 101 null posts: two may match (0.99 and 0.98), the third (0.97) must not.
        assert!(t > 0.97 && t <= 0.98, "{t}");
        assert_eq!(ds.at(t), (0.5, 2.0 / 101.0));
        // No null post may match: just above the best one.
        assert!(ds.threshold_for(0.0) > 0.99);
    }

    #[test]
    fn rulings_of_one_rumour_are_grouped_through_any_post() {
        let posts = [
            post(r#"{"id":"p1","text":"x","expected":"a","accept":["a","b"]}"#),
            post(r#"{"id":"p2","text":"x","expected":"c","accept":["c","b"]}"#),
            post(r#"{"id":"p3","text":"x","expected":"d","accept":["d"]}"#),
        ];
        let r = rumours(&posts);
        assert_eq!((r["a"].as_str(), r["b"].as_str(), r["c"].as_str()), ("a", "a", "a"));
        // A rumour of one ruling has no entry: the ruling names its own group.
        assert!(!r.contains_key("d"));
    }

    #[test]
    fn cross_validation_reports_its_thresholds_and_held_out_figures() {
        // Ten rumours of two positives, matched at 0.9, and 100 null posts spread below 0.5:
        // every fold's threshold is under 0.5 and every positive is matched out of fold.
        let mut ds = Vec::new();
        let mut groups = Vec::new();
        for r in 0..10 {
            for _ in 0..2 {
                ds.push(d(true, 0.9, true));
                groups.push(format!("rumour {r}"));
            }
        }
        for i in 0..100 {
            ds.push(d(false, i as f32 / 200.0, false));
            groups.push(format!("top {}", i % 20));
        }
        let report = cross_validate(&Decisions(ds), &groups);
        assert_eq!(report["fold_thresholds"].as_array().unwrap().len(), FOLDS * REPEATS as usize);
        assert_eq!(report["out_of_fold_matched_recall"], 1.0);
        assert!(report["threshold"].as_f64().unwrap() < 0.5, "{report}");
        assert!(report["out_of_fold_false_match_rate"].as_f64().unwrap() <= 0.05, "{report}");
        // Too few groups for the folds: said, not a panic.
        let few = cross_validate(&Decisions(vec![d(true, 0.9, true)]), &["rumour 0".to_string()]);
        assert!(few["error"].is_string(), "{few}");
    }

    #[test]
    fn posts_must_name_known_fact_checks_and_the_expected_one_is_accepted() {
        let dir = std::env::temp_dir().join(format!("steward-eval-claims-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let fc = |id: &str| -> FactCheck {
            serde_json::from_str(&format!(r#"{{"id":"{id}","claim":"c","verdict":"false","publisher":"p"}}"#)).unwrap()
        };
        let checks = [fc("a"), fc("b")];
        let path = dir.join("posts.jsonl");
        std::fs::write(&path, r#"{"id":"p1","text":"x","expected":"a","accept":["b"]}"#).unwrap();
        let posts = read_posts(&path, &checks, Path::new("fc.jsonl")).unwrap();
        assert_eq!(posts[0].accept, ["b", "a"]);
        std::fs::write(&path, r#"{"id":"p1","text":"x","expected":"a","accept":["a","zz"]}"#).unwrap();
        let e = read_posts(&path, &checks, Path::new("fc.jsonl")).err().unwrap();
        assert!(e.to_string().contains("\"zz\""), "{e}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
