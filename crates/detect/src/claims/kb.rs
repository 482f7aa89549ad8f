//! The knowledge base of fact-checks and the matcher over it.
//!
//! A claim is short and a post that repeats it is usually longer, with comments, hashtags and
//! a video caption around it; so the score is one-sided: how much of the claim is in the
//! post, not how alike the two texts are. Tokens are weighted by their rarity among the
//! claims (IDF), so "新冠" counts for little and "纽约港" for much, and the claim's total
//! weight is padded by [`SHRINK_TOKENS`] tokens of average weight, so that a claim of three
//! bigrams cannot match in full by accident:
//!
//! `score = Σ idf(t) for claim tokens t in the post / (Σ idf(t) for claim tokens + k · mean idf)`
//!
//! in `[0, 1)`, the share of the claim's evidence the post carries. Explanations are not
//! matched: rulings share a lot of boilerplate (经查…被举报人言论构成…), and on the shared dev
//! set adding them made the ranking worse.
//!
//! Search proposes candidates through the text's rarest tokens ([`POSTINGS_BUDGET`]), keeps
//! the best [`CANDIDATES`] by that partial score, and scores those exactly.

use std::collections::HashMap;

use steward_model::{FactCheck, Verdict};

use super::tokens::Token;
use crate::u64_map::U64Map;

/// Tokens of average weight added to every claim's total (see the module docs).
pub const SHRINK_TOKENS: f32 = 2.0;
/// Candidates scored exactly per search.
pub const CANDIDATES: usize = 64;
/// Postings read per search to propose candidates: the text's tokens are taken rarest first
/// while the postings read stay within this budget (a text whose rarest token is in more
/// claims than that proposes nothing: it shares no distinctive words with any claim). A
/// claim the text carries most of shares the text's rarest tokens, so common tokens would
/// only add work; they still count in the exact scores.
pub const POSTINGS_BUDGET: usize = 2048;

/// Whether a verdict refutes its claim: false or misleading.
pub fn debunks(verdict: Verdict) -> bool {
    matches!(verdict, Verdict::False | Verdict::Misleading)
}

/// One fact-check in the knowledge base.
#[derive(Debug, Clone)]
pub struct Entry {
    pub fact_check: FactCheck,
    /// The claim's term ids, sorted.
    terms: Box<[u32]>,
    live: bool,
}

impl Entry {
    /// Whether a post matching it is spreading a debunked claim.
    pub fn debunks(&self) -> bool {
        debunks(self.fact_check.verdict)
    }
}

/// A fact-check a text matched, best first in search results.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Match {
    pub entry: u32,
    pub score: f32,
}

/// Fact-checks indexed by their claims' tokens.
#[derive(Debug, Default)]
pub struct KnowledgeBase {
    entries: Vec<Entry>,
    by_id: HashMap<String, u32>,
    terms: U64Map<u32>,
    /// Per term: live claims holding it, and those claims' entries. A replaced entry leaves
    /// its postings, so search never looks at entries themselves (a cache miss each, in a
    /// large base) to skip dead ones.
    df: Vec<u32>,
    postings: Vec<Vec<u32>>,
    live: u32,
    weights: Weights,
    /// Per-search scratch: partial score per entry, the entries touched, the text's terms
    /// and, per term, whether the text has it (exact scores look up a claim's few terms
    /// there instead of merging them with the text's many).
    acc: Vec<f32>,
    touched: Vec<u32>,
    query_terms: Vec<u32>,
    in_query: Vec<bool>,
}

/// IDF per term and total weight per entry, recomputed when the base has grown or shrunk
/// by more than a fiftieth since (IDF drifts slowly; exactness here buys nothing).
#[derive(Debug, Default)]
struct Weights {
    idf: Vec<f32>,
    total: Vec<f32>,
    pad: f32,
    live_at_refresh: u32,
}

fn idf(df: u32, n: u32) -> f32 {
    ((n as f32 + 1.0) / (df as f32 + 0.5)).ln().max(0.0)
}

impl KnowledgeBase {
    pub fn new() -> Self {
        Self::default()
    }

    /// Live fact-checks.
    pub fn len(&self) -> usize {
        self.live as usize
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    pub fn entry(&self, index: u32) -> &Entry {
        &self.entries[index as usize]
    }

    /// Adds a fact-check, or replaces the one with its id; matchable at once. `tokens` are
    /// the claim's, from [`super::tokens::Tokenizer`]. Returns the entry index.
    pub fn upsert(&mut self, fact_check: FactCheck, tokens: &[Token]) -> u32 {
        if let Some(old) = self.by_id.get(&fact_check.id).copied() {
            self.retire(old);
        }
        let index = self.entries.len() as u32;
        let mut terms: Vec<u32> = tokens
            .iter()
            .map(|t| {
                let next = self.df.len() as u32;
                let term = *self.terms.entry(*t).or_insert(next);
                if term == next {
                    self.df.push(0);
                    self.postings.push(Vec::new());
                    self.in_query.push(false);
                }
                term
            })
            .collect();
        terms.sort_unstable();
        terms.dedup();
        for &t in &terms {
            self.df[t as usize] += 1;
            self.postings[t as usize].push(index);
        }
        self.by_id.insert(fact_check.id.clone(), index);
        self.entries.push(Entry { fact_check, terms: terms.into_boxed_slice(), live: true });
        self.acc.push(0.0);
        self.live += 1;
        self.refresh_weights(index);
        index
    }

    fn retire(&mut self, index: u32) {
        let entry = &mut self.entries[index as usize];
        if !entry.live {
            return;
        }
        entry.live = false;
        for &t in entry.terms.iter() {
            self.df[t as usize] -= 1;
            self.postings[t as usize].retain(|&e| e != index);
        }
        self.live -= 1;
    }

    /// Keeps IDF and totals current after entry `new` was added: a full recomputation when
    /// the base has changed by a fiftieth since the last one, else the new entry's total (and
    /// the IDF of terms new to the base).
    fn refresh_weights(&mut self, new: u32) {
        let n = self.live;
        let w = &mut self.weights;
        if n.abs_diff(w.live_at_refresh) * 50 > w.live_at_refresh.max(50) {
            w.idf = self.df.iter().map(|&df| idf(df, n)).collect();
            w.total = self.entries.iter().map(|e| e.terms.iter().map(|&t| w.idf[t as usize]).sum()).collect();
            let live = self.entries.iter().zip(&w.total).filter(|(e, _)| e.live);
            let count: usize = live.clone().map(|(e, _)| e.terms.len()).sum();
            let sum: f32 = live.map(|(_, t)| *t).sum();
            w.pad = if count == 0 { 0.0 } else { SHRINK_TOKENS * sum / count as f32 };
            w.live_at_refresh = n;
            return;
        }
        while w.idf.len() < self.df.len() {
            w.idf.push(idf(self.df[w.idf.len()], n));
        }
        let entry = &self.entries[new as usize];
        let total: f32 = entry.terms.iter().map(|&t| w.idf[t as usize]).sum();
        w.total.push(total);
        if w.pad == 0.0 && !entry.terms.is_empty() {
            w.pad = SHRINK_TOKENS * total / entry.terms.len() as f32;
        }
    }

    /// The exact score of entry `index` for the text whose terms are marked in `in_query`.
    fn exact(&self, index: u32) -> f32 {
        let w = &self.weights;
        let found: f32 = self.entries[index as usize]
            .terms
            .iter()
            .filter(|&&t| self.in_query[t as usize])
            .map(|&t| w.idf[t as usize])
            .sum();
        let total = w.total[index as usize] + w.pad;
        if total > 0.0 { found / total } else { 0.0 }
    }

    /// The `k` best fact-checks for a text with token set `tokens`, best first, into `out`.
    pub fn search(&mut self, tokens: &[Token], k: usize, out: &mut Vec<Match>) {
        out.clear();
        if self.live == 0 || k == 0 {
            return;
        }
        let mut query_terms = std::mem::take(&mut self.query_terms);
        query_terms.clear();
        query_terms.extend(tokens.iter().filter_map(|t| self.terms.get(t).copied()));
        // Rarest first for proposing.
        query_terms.sort_unstable_by_key(|&t| (self.postings[t as usize].len(), t));
        let mut touched = std::mem::take(&mut self.touched);
        let mut read = 0;
        for &t in &query_terms {
            let len = self.postings[t as usize].len();
            if read + len > POSTINGS_BUDGET {
                break;
            }
            read += len;
            let weight = self.weights.idf[t as usize];
            for &e in &self.postings[t as usize] {
                let slot = &mut self.acc[e as usize];
                if *slot == 0.0 {
                    touched.push(e);
                }
                *slot += weight;
            }
        }
        // The best candidates by their share of rare evidence, then exact scores.
        let mut candidates: Vec<Match> = touched
            .drain(..)
            .map(|e| {
                let partial = std::mem::take(&mut self.acc[e as usize]);
                Match { entry: e, score: partial / (self.weights.total[e as usize] + self.weights.pad) }
            })
            .collect();
        let keep = CANDIDATES.max(k);
        if candidates.len() > keep {
            candidates.select_nth_unstable_by(keep - 1, |a, b| b.score.total_cmp(&a.score));
            candidates.truncate(keep);
        }
        for &t in &query_terms {
            self.in_query[t as usize] = true;
        }
        for c in &mut candidates {
            c.score = self.exact(c.entry);
        }
        for &t in &query_terms {
            self.in_query[t as usize] = false;
        }
        candidates.sort_unstable_by(|a, b| b.score.total_cmp(&a.score).then(a.entry.cmp(&b.entry)));
        candidates.truncate(k);
        out.extend(candidates);
        self.touched = touched;
        self.query_terms = query_terms;
    }

    /// A scorer of texts stored as 32-bit token keys (the low half of each [`Token`],
    /// sorted) against entry `index`, whose claim has the tokens `claim_tokens`: how recent
    /// posts are checked against a new fact-check, built once for all of them.
    pub fn stored_scorer(&self, index: u32, claim_tokens: &[Token]) -> StoredScorer {
        let w = &self.weights;
        let mut keyed: Vec<(u32, f32)> = claim_tokens
            .iter()
            .filter_map(|t| self.terms.get(t).map(|&term| (*t as u32, w.idf[term as usize])))
            .collect();
        keyed.sort_unstable_by_key(|k| k.0);
        StoredScorer { keyed, total: w.total[index as usize] + w.pad }
    }
}

/// See [`KnowledgeBase::stored_scorer`].
#[derive(Debug)]
pub struct StoredScorer {
    /// The claim's keys with their weights, sorted by key.
    keyed: Vec<(u32, f32)>,
    total: f32,
}

impl StoredScorer {
    /// The score of a stored text, from its sorted keys.
    pub fn score(&self, stored: impl Iterator<Item = u32>) -> f32 {
        let mut found = 0.0;
        let mut it = self.keyed.iter().peekable();
        for key in stored {
            while let Some(&&(k, weight)) = it.peek() {
                if k < key {
                    it.next();
                } else {
                    if k == key {
                        found += weight;
                        it.next();
                    }
                    break;
                }
            }
        }
        if self.total > 0.0 { found / self.total } else { 0.0 }
    }
}
