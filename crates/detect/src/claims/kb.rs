//! The knowledge base of fact-checks and the matcher over it.
//!
//! A claim is short and a post that repeats it is usually longer, with comments, hashtags and
//! a video caption around it; so the score is one-sided: how much of the claim is in the
//! post, not how alike the two texts are. "How much" is counted in information, as the
//! surprise of finding those pieces of the claim in a post of that length by chance:
//!
//! - The claim is read as a chain of characters (and words of other scripts). A character
//!   starting a piece carries `-ln p(c)`, one continuing it `-ln p(c | previous)`, from
//!   character and bigram frequencies over the claims of the base (smoothed; a continuation
//!   never counts more than a fresh start). So "无症状感染者" is worth about one rare word,
//!   not five independent bigrams, and a place name the claims seldom use is worth more than
//!   the template words around it.
//! - Words of spaced scripts are read as characters are: a word starting a piece carries
//!   `-ln p(word)`, one continuing it `-ln p(word | previous)` (backing off to the word alone
//!   more readily than a character: `WORD_BIGRAM_PRIOR`).
//! - A segment is a run of the claim's characters (or words) that the post carries as
//!   consecutive bigrams; then each character or word of the claim the post has anywhere
//!   else is a segment of its own, a character counting no more than it would in general
//!   text ([`SHIPPED_CHARS`]): 他 or 的 in a post says little, however seldom the claims use
//!   it.
//!   Each bigram, word and character of the post is credited once. A post of `L` positions
//!   holds a piece of probability `p` somewhere with a chance of about `L·p`, so a segment
//!   counts `max(0, info − ln L)`: a phrase repeated whole pays `ln L` once, the same words
//!   scattered over a long news article pay it again and again.
//! - `score = Σ segments / (info(claim) − ln L + EVIDENCE_PAD)`, in `[0, 1]`: the share of
//!   the claim's information the post carries beyond chance. [`EVIDENCE_PAD`] nats are
//!   added to every claim, so that a short or generic claim ("北京出现本地确诊病例？")
//!   cannot be matched by a post that carries it in full by coincidence.
//!
//! The scale is the same for every claim, post length and size of base (information, net of
//! what chance would give), which is what lets one threshold serve them all.
//!
//! Explanations are not matched: rulings share a lot of boilerplate (经查…被举报人言论构成…).
//!
//! Search proposes candidates through the text's rarest tokens ([`POSTINGS_BUDGET`]),
//! weighted by IDF, keeps the best [`CANDIDATES`] by that partial score, and scores those
//! exactly.

use std::collections::HashMap;

use steward_model::{FactCheck, Verdict};

use super::tokens::{Analysis, Token, Unit, char_key};
use crate::u64_map::U64Map;

/// Nats added to every claim's information (see the module docs): about two uncommon
/// words' worth.
pub const EVIDENCE_PAD: f32 = 15.0;
/// Candidates scored exactly per search.
pub const CANDIDATES: usize = 64;
/// Postings read per search to propose candidates: the text's tokens are taken rarest first
/// while the postings read stay within this budget (a text whose rarest token is in more
/// claims than that proposes nothing: it shares no distinctive words with any claim). A
/// claim the text carries most of shares the text's rarest tokens, so common tokens would
/// only add work; they still count in the exact scores.
pub const POSTINGS_BUDGET: usize = 2048;

/// No term or character.
const NONE: u32 = u32::MAX;

/// Whether a verdict refutes its claim: false or misleading.
pub fn debunks(verdict: Verdict) -> bool {
    matches!(verdict, Verdict::False | Verdict::Misleading)
}

/// One position of a claim: a character or a word (`ch`, with `term` the bigram joining it
/// to the one before it in its run, or [`NONE`]). `repeat`: the claim had the term before;
/// `first`: the first position with the same character or word (so that a text's bigram,
/// character or word is credited once).
#[derive(Debug, Clone, Copy)]
struct Pos {
    term: u32,
    ch: u32,
    first: u32,
    repeat: bool,
}

/// One fact-check in the knowledge base.
#[derive(Debug, Clone)]
pub struct Entry {
    pub fact_check: FactCheck,
    /// The claim's term ids, sorted.
    terms: Box<[u32]>,
    /// The claim in order.
    shape: Box<[Pos]>,
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
    /// Per term: the low half of its token (how recent posts are stored), and for a bigram
    /// the ids of its two characters.
    term_keys: Vec<u32>,
    term_chars: Vec<[u32; 2]>,
    /// Characters: id per key, occurrences in live claims, low half of the key.
    chars: U64Map<u32>,
    char_count: Vec<u32>,
    char_keys: Vec<u32>,
    /// Per character, its information in general text ([`SHIPPED_CHARS`]; infinite when
    /// the table lacks it).
    char_general: Vec<f32>,
    /// Per character, whether it is a word of a spaced script.
    char_is_word: Vec<bool>,
    /// Positions (characters and words) of the live claims.
    positions: u64,
    live: u32,
    weights: Weights,
    /// Per-search scratch: partial score per entry, the entries touched, the text's terms
    /// and characters and, per term and character, whether the text has it (exact scores
    /// look up a claim's few positions there instead of merging them with the text's many).
    acc: Vec<f32>,
    touched: Vec<u32>,
    query_terms: Vec<u32>,
    query_chars: Vec<u32>,
    in_query: Vec<bool>,
    char_in_query: Vec<bool>,
    used: Vec<bool>,
    steps: Vec<Step>,
}

/// Weights, recomputed when the base has grown or shrunk by more than a fiftieth since
/// (frequencies drift slowly; exactness here buys nothing): IDF per term and its sum per
/// entry (to propose candidates), information per character (as a start) and per term (a
/// bigram as a continuation, a word whole), per character found alone (the less of its
/// information in the claims and in general text: a character every text has, like 他 or
/// 的, says little on its own however seldom the claims use it), and per entry its claim's
/// information.
#[derive(Debug, Default)]
struct Weights {
    idf: Vec<f32>,
    total: Vec<f32>,
    char_info: Vec<f32>,
    lone_info: Vec<f32>,
    term_info: Vec<f32>,
    claim_info: Vec<f32>,
    live_at_refresh: u32,
}

fn idf(df: u32, n: u32) -> f32 {
    ((n as f32 + 1.0) / (df as f32 + 0.5)).ln().max(0.0)
}

/// Character and word probabilities per position, from the claims of the base mixed with a
/// prior of [`PRIOR_POSITIONS`] spread evenly over [`PRIOR_VOCABULARY`] characters: a small
/// base (a new deployment, the first fact-checks) does not yet say which characters are
/// common, so they all count as one character among thousands; a base of a thousand claims
/// outweighs the prior many times.
struct Background {
    positions: f32,
}

/// Live fact-checks up to which every change recomputes all weights (a full pass over a
/// thousand claims takes well under a millisecond).
const EXACT_WEIGHTS_UP_TO: u32 = 1024;

/// Pseudo-positions of the prior (about a hundred claims).
const PRIOR_POSITIONS: f32 = 2000.0;
/// Characters the prior spreads over (about those in common use).
const PRIOR_VOCABULARY: f32 = 5000.0;
/// Pseudo-occurrences of a bigram's first character through which its second backs off to
/// its own probability: one bigram seen once is not yet a phrase.
const BIGRAM_PRIOR: f32 = 5.0;
/// [`BIGRAM_PRIOR`] for two words in a row. A word is followed by far more different words
/// than a character by characters, so a pair of words seen once or twice in the claims says
/// much less that the second follows the first: without this, a claim's words after its
/// first would count for little as a phrase, and the same words found scattered over a post
/// (each counting whole) would outweigh the phrase itself.
const WORD_BIGRAM_PRIOR: f32 = 50.0;

impl Background {
    fn of(kb: &KnowledgeBase) -> Self {
        Background { positions: kb.positions as f32 }
    }

    fn p(&self, count: u32) -> f32 {
        (count as f32 + PRIOR_POSITIONS / PRIOR_VOCABULARY) / (self.positions + PRIOR_POSITIONS)
    }

    fn char_info(&self, count: u32) -> f32 {
        -self.p(count).ln()
    }

    /// A bigram's second character (or word) given its first, backing off to it alone through
    /// `prior` pseudo-occurrences of the first; never more than the second alone.
    fn bigram_info(&self, df: u32, first: u32, second: u32, prior: f32) -> f32 {
        let p = (df as f32 + prior * self.p(second)) / (first as f32 + prior);
        (-p.ln()).min(self.char_info(second)).max(0.0)
    }
}

/// One position of a claim as [`carried`] reads it.
#[derive(Debug, Clone, Copy)]
struct Step {
    /// The position's bigram (joining it to the character or word before) is in the text,
    /// and the claim did not have it before.
    joined: bool,
    /// The character or word is in the text.
    present: bool,
    /// Information of the character starting a segment, continuing one, and found alone.
    start: f32,
    cont: f32,
    lone: f32,
    /// The first position of the claim with the same character.
    first: u32,
}

/// `Σ max(0, segment − chance)` over the claim's segments (see the module docs): first the
/// words and runs of shared bigrams, then the characters the text has outside them. A
/// bigram, word or character of the text is credited once, however often the claim repeats
/// it: a post saying 食用 once carries one 食用 of "停止食用烘焙食品！食用烘焙食品…", not
/// two. `used` is scratch (per position, whether its character was credited).
fn carried(steps: &[Step], chance: f32, used: &mut Vec<bool>) -> f32 {
    used.clear();
    used.resize(steps.len(), false);
    let mut found = 0.0f32;
    let mut add = |segment: f32| found += (segment - chance).max(0.0);
    let mut segment: Option<f32> = None;
    for (i, s) in steps.iter().enumerate() {
        if s.joined {
            // A joined position always follows another of its run.
            let previous = &steps[i.saturating_sub(1)];
            if segment.is_none() {
                used[previous.first as usize] = true;
            }
            used[s.first as usize] = true;
            segment = Some(segment.unwrap_or(previous.start) + s.cont);
            continue;
        }
        if let Some(x) = segment.take() {
            add(x);
        }
    }
    if let Some(x) = segment {
        add(x);
    }
    for s in steps.iter().filter(|s| s.present) {
        if !std::mem::replace(&mut used[s.first as usize], true) {
            add(s.lone);
        }
    }
    found
}

/// The score of a claim (its steps and information) against a text of `length` positions;
/// see the module docs.
fn evidence(steps: &[Step], claim_info: f32, length: u32, used: &mut Vec<bool>) -> f32 {
    let chance = (length.max(1) as f32).ln();
    let total = (claim_info - chance + EVIDENCE_PAD).max(1.0);
    (carried(steps, chance, used) / total).clamp(0.0, 1.0)
}

/// How common each Chinese character is in general text, in nats (`models/zh-chars.tsv`,
/// from jieba's dictionary; see `scripts/zh-chars.sh`).
pub const SHIPPED_CHARS: &str = include_str!("../../../../models/zh-chars.tsv");

/// [`SHIPPED_CHARS`] by [`super::tokens::char_key`], read once.
fn general_chars() -> &'static U64Map<f32> {
    static TABLE: std::sync::OnceLock<U64Map<f32>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        SHIPPED_CHARS
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| {
                let (c, info) = l.split_once('\t')?;
                let mut chars = c.chars();
                let (Some(c), None) = (chars.next(), chars.next()) else { return None };
                Some((char_key(c), info.trim().parse().ok()?))
            })
            .collect()
    })
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

    fn term_id(&mut self, token: Token) -> u32 {
        let next = self.df.len() as u32;
        let term = *self.terms.entry(token).or_insert(next);
        if term == next {
            self.df.push(0);
            self.postings.push(Vec::new());
            self.in_query.push(false);
            self.term_keys.push(token as u32);
            self.term_chars.push([NONE; 2]);
        }
        term
    }

    fn char_id(&mut self, key: Token, word: bool) -> u32 {
        let next = self.char_count.len() as u32;
        let ch = *self.chars.entry(key).or_insert(next);
        if ch == next {
            self.char_count.push(0);
            self.char_in_query.push(false);
            self.char_keys.push(key as u32);
            self.char_general.push(general_chars().get(&key).copied().unwrap_or(f32::INFINITY));
            self.char_is_word.push(word);
        }
        ch
    }

    /// The live fact-check with this id.
    pub fn get(&self, id: &str) -> Option<&FactCheck> {
        let entry = &self.entries[*self.by_id.get(id)? as usize];
        entry.live.then_some(&entry.fact_check)
    }

    /// Adds a fact-check, or replaces the one with its id; matchable at once. `claim` is the
    /// claim's analysis, from [`super::tokens::Tokenizer::claim_into`]. Returns the entry
    /// index.
    pub fn upsert(&mut self, fact_check: FactCheck, claim: &Analysis) -> u32 {
        if let Some(old) = self.by_id.get(&fact_check.id).copied() {
            self.retire(old);
        }
        let index = self.entries.len() as u32;
        let mut terms: Vec<u32> = claim.tokens.iter().map(|&t| self.term_id(t)).collect();
        terms.sort_unstable();
        terms.dedup();
        for &t in &terms {
            self.df[t as usize] += 1;
            self.postings[t as usize].push(index);
        }
        let mut shape: Vec<Pos> = Vec::with_capacity(claim.units.len());
        let (mut seen_terms, mut first_of) = (std::collections::HashSet::new(), HashMap::new());
        let mut previous = NONE;
        for unit in &claim.units {
            // A word is read as a character is (see the tokens module docs).
            let (Unit::Char { key, joined } | Unit::Word { key, joined }) = *unit;
            let ch = self.char_id(key, matches!(unit, Unit::Word { .. }));
            self.char_count[ch as usize] += 1;
            let term = joined.map_or(NONE, |t| self.term_id(t));
            if term != NONE && previous != NONE {
                self.term_chars[term as usize] = [previous, ch];
            }
            let here = shape.len() as u32;
            let first = *first_of.entry(ch).or_insert(here);
            let repeat = term != NONE && !seen_terms.insert(term);
            previous = ch;
            shape.push(Pos { term, ch, first, repeat });
        }
        self.positions += shape.len() as u64;
        self.by_id.insert(fact_check.id.clone(), index);
        self.entries.push(Entry { fact_check, terms: terms.into_boxed_slice(), shape: shape.into(), live: true });
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
        for p in entry.shape.iter().filter(|p| p.ch != NONE) {
            self.char_count[p.ch as usize] -= 1;
        }
        self.positions -= entry.shape.len() as u64;
        self.live -= 1;
    }

    /// The information of term `t`: a bigram as a continuation, a word whole.
    fn term_info(&self, bg: &Background, t: usize) -> f32 {
        match self.term_chars[t] {
            [a, b] if a != NONE => {
                let prior = if self.char_is_word[a as usize] { WORD_BIGRAM_PRIOR } else { BIGRAM_PRIOR };
                bg.bigram_info(self.df[t], self.char_count[a as usize], self.char_count[b as usize], prior)
            }
            _ => bg.char_info(self.df[t]),
        }
    }

    /// Keeps the weights current after entry `new` was added: a full recomputation while the
    /// base is small or when it has changed by a fiftieth since the last one, else the new
    /// entry's totals (and the weights of terms and characters new to the base). A small
    /// base's weights are so a function of its fact-checks, not of the order they came in
    /// (a worker learns them in another order than a single box).
    fn refresh_weights(&mut self, new: u32) {
        let n = self.live;
        let bg = Background::of(self);
        let full = n <= EXACT_WEIGHTS_UP_TO
            || n.abs_diff(self.weights.live_at_refresh) * 50 > self.weights.live_at_refresh.max(50);
        let mut w = std::mem::take(&mut self.weights);
        if full {
            w.idf = self.df.iter().map(|&df| idf(df, n)).collect();
            w.char_info = self.char_count.iter().map(|&c| bg.char_info(c)).collect();
            w.lone_info = w.char_info.iter().zip(&self.char_general).map(|(a, b)| a.min(*b)).collect();
            w.term_info = (0..self.df.len()).map(|t| self.term_info(&bg, t)).collect();
            w.live_at_refresh = n;
        } else {
            while w.idf.len() < self.df.len() {
                let t = w.idf.len();
                w.idf.push(idf(self.df[t], n));
                w.term_info.push(self.term_info(&bg, t));
            }
            while w.char_info.len() < self.char_count.len() {
                let ch = w.char_info.len();
                let info = bg.char_info(self.char_count[ch]);
                w.char_info.push(info);
                w.lone_info.push(info.min(self.char_general[ch]));
            }
        }
        let from = if full { 0 } else { new as usize };
        w.total.truncate(from);
        w.total.extend(self.entries[from..].iter().map(|e| e.terms.iter().map(|&t| w.idf[t as usize]).sum::<f32>()));
        w.claim_info.truncate(from);
        self.weights = w;
        // A claim's information: what a text carrying all of it, once, would carry.
        let (mut steps, mut used) = (Vec::new(), Vec::new());
        for e in from..self.entries.len() {
            self.steps_into(e as u32, None, &mut steps);
            let info = carried(&steps, 0.0, &mut used);
            self.weights.claim_info.push(info);
        }
    }

    /// The steps of entry `index` against a text, or against a text holding all of it when
    /// `text` is `None` (see [`carried`]), into `out`.
    fn steps_into(&self, index: u32, text: Option<&Marks>, out: &mut Vec<Step>) {
        let w = &self.weights;
        out.clear();
        out.extend(self.entries[index as usize].shape.iter().map(|p| {
            let joined = p.term != NONE && !p.repeat && text.is_none_or(|m| m.terms[p.term as usize]);
            let ch = p.ch as usize;
            Step {
                joined,
                present: text.is_none_or(|m| m.chars[ch]),
                start: w.char_info[ch],
                cont: if p.term == NONE { 0.0 } else { w.term_info[p.term as usize] },
                lone: w.lone_info[ch],
                first: p.first,
            }
        }));
    }

    /// The `k` best fact-checks for a text, best first, into `out`.
    pub fn search(&mut self, text: &Analysis, k: usize, out: &mut Vec<Match>) {
        out.clear();
        if self.live == 0 || k == 0 {
            return;
        }
        let mut query_terms = std::mem::take(&mut self.query_terms);
        query_terms.clear();
        query_terms.extend(text.tokens.iter().filter_map(|t| self.terms.get(t).copied()));
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
                Match { entry: e, score: partial / self.weights.total[e as usize].max(f32::MIN_POSITIVE) }
            })
            .collect();
        let keep = CANDIDATES.max(k);
        if candidates.len() > keep {
            candidates.select_nth_unstable_by(keep - 1, |a, b| b.score.total_cmp(&a.score));
            candidates.truncate(keep);
        }
        let mut query_chars = std::mem::take(&mut self.query_chars);
        query_chars.clear();
        query_chars.extend(text.chars.iter().filter_map(|c| self.chars.get(c).copied()));
        for &t in &query_terms {
            self.in_query[t as usize] = true;
        }
        for &c in &query_chars {
            self.char_in_query[c as usize] = true;
        }
        let marks = Marks { terms: &self.in_query, chars: &self.char_in_query };
        let (mut used, mut steps) = (std::mem::take(&mut self.used), std::mem::take(&mut self.steps));
        for c in &mut candidates {
            self.steps_into(c.entry, Some(&marks), &mut steps);
            c.score = evidence(&steps, self.weights.claim_info[c.entry as usize], text.length, &mut used);
        }
        (self.used, self.steps) = (used, steps);
        for &t in &query_terms {
            self.in_query[t as usize] = false;
        }
        for &c in &query_chars {
            self.char_in_query[c as usize] = false;
        }
        candidates.sort_unstable_by(|a, b| b.score.total_cmp(&a.score).then(a.entry.cmp(&b.entry)));
        candidates.truncate(k);
        out.extend(candidates);
        self.touched = touched;
        self.query_terms = query_terms;
        self.query_chars = query_chars;
    }

    /// A scorer of texts stored as 32-bit keys (the low half of each token and
    /// [`super::tokens::char_key`], sorted) against entry `index`: how recent posts are
    /// checked against a new fact-check, built once for all of them.
    pub fn stored_scorer(&self, index: u32) -> StoredScorer {
        let mut steps = Vec::new();
        self.steps_into(index, None, &mut steps);
        let key = |t: u32| if t == NONE { None } else { Some(self.term_keys[t as usize]) };
        let keys = self.entries[index as usize]
            .shape
            .iter()
            .map(|p| {
                let term = if p.repeat { None } else { key(p.term) };
                (term, Some(self.char_keys[p.ch as usize]))
            })
            .collect();
        let entry = &self.entries[index as usize];
        let terms = entry.terms.iter().map(|&t| self.term_keys[t as usize]).collect();
        StoredScorer { steps, keys, terms, claim_info: self.weights.claim_info[index as usize] }
    }
}

/// The text being searched, marked by term and character ids.
struct Marks<'a> {
    terms: &'a [bool],
    chars: &'a [bool],
}

/// See [`KnowledgeBase::stored_scorer`].
#[derive(Debug)]
pub struct StoredScorer {
    /// The claim's steps, and per step the keys its bigram (or word) and character are
    /// stored by.
    steps: Vec<Step>,
    keys: Vec<(Option<u32>, Option<u32>)>,
    /// The keys of the claim's terms: a text with none of them is not one search proposes.
    terms: Vec<u32>,
    claim_info: f32,
}

impl StoredScorer {
    /// The score of a stored text, from its sorted keys and its length in positions; 0 for a
    /// text that shares no word or bigram with the claim, as [`KnowledgeBase::search`] never
    /// proposes it (lone characters alone do not make a match), so that a post is judged
    /// alike whether the fact-check came before it or after.
    pub fn score(&self, keys: &[u32], length: u32) -> f32 {
        let has = |k: Option<u32>| k.is_some_and(|k| keys.binary_search(&k).is_ok());
        if !self.terms.iter().any(|&t| has(Some(t))) {
            return 0.0;
        }
        let steps: Vec<Step> = self
            .steps
            .iter()
            .zip(&self.keys)
            .map(|(s, &(term, ch))| Step { joined: has(term), present: has(ch), ..*s })
            .collect();
        evidence(&steps, self.claim_info, length, &mut Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::claims::tokens::Tokenizer;
    use crate::testing::fact_check;

    /// Texts drawn from a small alphabet of Han characters, digits and a Latin word, so that
    /// they share bigrams, lone characters and words with each other.
    fn texts(n: usize, seed: u64) -> Vec<String> {
        let alphabet: Vec<char> = "新冠病毒疫情北京上海青岛增例无症状感染者口罩疫苗 ，5x".chars().collect();
        let mut s = seed;
        let mut next = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        };
        (0..n)
            .map(|_| {
                let len = 1 + (next() % 40) as usize;
                (0..len).map(|_| alphabet[(next() % alphabet.len() as u64) as usize]).collect()
            })
            .collect()
    }

    #[test]
    fn the_shipped_character_table_reads_whole() {
        let rows = SHIPPED_CHARS.lines().filter(|l| !l.starts_with('#')).count();
        assert_eq!(general_chars().len(), rows);
        assert!(rows > 3000, "{rows}");
        let info = |c: char| general_chars()[&char_key(c)];
        // Common characters carry little, and less than uncommon ones.
        assert!(info('的') < 6.0 && info('他') < info('狮'));
    }

    #[test]
    fn stored_texts_score_as_searched_ones_and_scores_stay_in_range() {
        let mut kb = KnowledgeBase::new();
        let mut tokenizer = Tokenizer::default();
        let mut a = Analysis::default();
        for (i, claim) in texts(60, 7).iter().enumerate() {
            tokenizer.claim_into(claim, &mut a);
            kb.upsert(fact_check(&format!("fc-{i}"), claim, Verdict::False, None), &a);
        }
        let (mut out, mut positive) = (Vec::new(), 0);
        for text in texts(200, 11) {
            tokenizer.text_into(&text, &mut a);
            kb.search(&a, 5, &mut out);
            let mut keys: Vec<u32> = a.tokens.iter().chain(&a.chars).map(|&t| t as u32).collect();
            keys.sort_unstable();
            keys.dedup();
            for m in &out {
                assert!((0.0..=1.0).contains(&m.score), "{text}: {m:?}");
                let stored = kb.stored_scorer(m.entry).score(&keys, a.length);
                assert!((stored - m.score).abs() < 1e-5, "{text}: {m:?} stored {stored}");
                positive += usize::from(m.score > 0.0);
            }
        }
        assert!(positive > 100, "{positive}");
    }
}
