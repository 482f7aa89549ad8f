//! Names in matching form, and the cores left when padding words are stripped.
//!
//! The matching form is the shared normalizer's output (traditional, look-alike, full-width
//! and zero-width characters, emoji and punctuation already dealt with) without the
//! separators Chinese names use (`丨`, `丶`) or spaces ([`Canonical::plain`]), and the same
//! with synonyms folded (`人民法院` → `法院`, `警方` → `公安`: [`Canonical::chars`]).
//! Protected names and the names checked go through the same steps, so folding never makes
//! two names differ; both forms are kept because a look-alike character inside a synonym
//! (`擎方` for `警方`) is one edit from the plain word but two from the folded one.
//!
//! Padding words ([`PREFIX_WORDS`], [`SUFFIX_WORDS`]) are also recognised written in
//! pinyin, wholly or in part (`官fang`, `zui新`), and a trailing number of up to four digits
//! (`某某日报2`, the usual name of a second account) is padding too.

use std::collections::HashMap;
use std::sync::OnceLock;

use pinyin::ToPinyin;

use super::lexicon::{PREFIX_WORDS, SEPARATORS, SUFFIX_WORDS, SYNONYMS};

/// Longer names are cut: nobody reads further, and matching cost stays bounded.
pub const MAX_NAME_CHARS: usize = 48;

/// One synonym word found while folding: which canonical word, and which spelling
/// (`None` when the canonical word itself was written).
pub type Fold = (u8, Option<u8>);

/// A name in matching form.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Canonical {
    /// Normalized, without separators.
    pub plain: Vec<char>,
    /// `plain` with synonyms folded.
    pub chars: Vec<char>,
    /// The synonym words in the name, in order.
    pub folds: Vec<Fold>,
}

/// Whether two names spell some synonym differently (one says `警方`, the other `公安局`).
pub fn swapped_synonym(a: &[Fold], b: &[Fold]) -> bool {
    a.iter().any(|&(c, v)| b.iter().any(|&(c2, v2)| c == c2 && v != v2))
}

/// A spelling of a synonym: its characters, its canonical word, its index in [`SYNONYMS`]
/// (`None` for the canonical word itself).
type Spelling = (Vec<char>, u8, Option<u8>);

struct Words {
    /// Canonical words of [`SYNONYMS`], deduplicated.
    canonical: Vec<Vec<char>>,
    /// The spellings by first character, longest first.
    spellings: HashMap<char, Vec<Spelling>>,
    /// Padding words and their pinyin spellings, by first character.
    prefixes: HashMap<char, Vec<Vec<char>>>,
    /// The same by last character.
    suffixes: HashMap<char, Vec<Vec<char>>>,
}

/// `word` and every spelling of it with some of its characters written in pinyin.
fn with_pinyin(word: &str) -> Vec<Vec<char>> {
    let chars: Vec<char> = word.chars().collect();
    let readings: Vec<Option<&'static str>> = chars.iter().map(|c| c.to_pinyin().map(|p| p.plain())).collect();
    let mut out = Vec::new();
    for mask in 0u32..1 << chars.len().min(4) {
        let mut spelt = Vec::new();
        let mut spellable = true;
        for (i, &c) in chars.iter().enumerate() {
            if mask & 1 << i == 0 {
                spelt.push(c);
            } else if let Some(r) = readings[i] {
                spelt.extend(r.chars().map(|c| if c == 'ü' { 'v' } else { c }));
            } else {
                spellable = false;
            }
        }
        if spellable && !out.contains(&spelt) {
            out.push(spelt);
        }
    }
    out
}

fn words() -> &'static Words {
    static WORDS: OnceLock<Words> = OnceLock::new();
    WORDS.get_or_init(|| {
        let chars = |s: &str| s.chars().collect::<Vec<char>>();
        let mut canonical: Vec<Vec<char>> = Vec::new();
        let mut spellings: Vec<Spelling> = Vec::new();
        for (i, (variant, target)) in SYNONYMS.iter().enumerate() {
            let t = chars(target);
            let c = canonical.iter().position(|w| *w == t).unwrap_or_else(|| {
                canonical.push(t.clone());
                canonical.len() - 1
            });
            spellings.push((chars(variant), c as u8, Some(i as u8)));
        }
        for (c, w) in canonical.iter().enumerate() {
            spellings.push((w.clone(), c as u8, None));
        }
        spellings.sort_by_key(|s| std::cmp::Reverse(s.0.len()));
        let mut by_first: HashMap<char, Vec<Spelling>> = HashMap::new();
        for s in spellings {
            if let Some(&c) = s.0.first() {
                by_first.entry(c).or_default().push(s);
            }
        }
        let by = |list: &[&str], first: bool| {
            let mut map: HashMap<char, Vec<Vec<char>>> = HashMap::new();
            for spelt in list.iter().flat_map(|w| with_pinyin(w)) {
                let key = if first { spelt.first() } else { spelt.last() };
                if let Some(&k) = key {
                    map.entry(k).or_default().push(spelt);
                }
            }
            map
        };
        Words { canonical, spellings: by_first, prefixes: by(PREFIX_WORDS, true), suffixes: by(SUFFIX_WORDS, false) }
    })
}

/// The matching form of the name `raw`; `scratch` is reused across calls.
pub fn canonical(raw: &str, scratch: &mut String) -> Canonical {
    canonical_text(raw, scratch, MAX_NAME_CHARS)
}

/// The matching form of a text (a bio), at most `max_chars` characters of it.
pub fn canonical_text(raw: &str, scratch: &mut String, max_chars: usize) -> Canonical {
    steward_text::normalize_into(raw, scratch);
    let plain: Vec<char> =
        scratch.chars().filter(|c| !c.is_whitespace() && !SEPARATORS.contains(c)).take(max_chars).collect();
    fold(plain)
}

/// Folds synonyms, longest spelling first.
fn fold(plain: Vec<char>) -> Canonical {
    let w = words();
    let mut out = Canonical { chars: Vec::with_capacity(plain.len()), folds: Vec::new(), plain: Vec::new() };
    let mut i = 0;
    while i < plain.len() {
        let rest = &plain[i..];
        let found = w.spellings.get(&plain[i]).and_then(|list| list.iter().find(|(s, _, _)| rest.starts_with(s)));
        match found {
            Some((s, c, v)) => {
                out.chars.extend_from_slice(&w.canonical[*c as usize]);
                out.folds.push((*c, *v));
                i += s.len();
            }
            None => {
                out.chars.push(plain[i]);
                i += 1;
            }
        }
    }
    out.plain = plain;
    out
}

/// A part of a name left when padding words are stripped from its ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Core {
    pub start: usize,
    pub end: usize,
    /// Padding words stripped.
    pub words: u8,
}

/// Ends reachable by stripping up to this many words from either side.
const MAX_STRIPPED: u8 = 3;
/// At most this many cores are tried per name.
const MAX_CORES: usize = 16;

/// A trailing number of at most this many digits is padding.
const MAX_PADDING_DIGITS: usize = 4;

/// The cores of `name`: the whole name, and every part left by stripping padding words
/// ([`PREFIX_WORDS`], [`SUFFIX_WORDS`], in characters or pinyin, and a short trailing
/// number) from its ends; at least two characters each.
pub fn cores(name: &[char], out: &mut Vec<Core>) {
    out.clear();
    let w = words();
    let mut starts: Vec<(usize, u8)> = vec![(0, 0)];
    let mut k = 0;
    while k < starts.len() {
        let (s, n) = starts[k];
        k += 1;
        let Some(first) = name.get(s) else { continue };
        if n == MAX_STRIPPED {
            continue;
        }
        for p in w.prefixes.get(first).map(Vec::as_slice).unwrap_or_default() {
            if name[s..].starts_with(p) && !starts.iter().any(|&(x, _)| x == s + p.len()) {
                starts.push((s + p.len(), n + 1));
            }
        }
    }
    let mut ends: Vec<(usize, u8)> = vec![(name.len(), 0)];
    let digits = name.iter().rev().take_while(|c| c.is_ascii_digit()).count();
    if (1..=MAX_PADDING_DIGITS).contains(&digits) {
        ends.push((name.len() - digits, 1));
    }
    let mut k = 0;
    while k < ends.len() {
        let (e, n) = ends[k];
        k += 1;
        if n == MAX_STRIPPED || e == 0 {
            continue;
        }
        for p in w.suffixes.get(&name[e - 1]).map(Vec::as_slice).unwrap_or_default() {
            if name[..e].ends_with(p) && !ends.iter().any(|&(x, _)| x + p.len() == e) {
                ends.push((e - p.len(), n + 1));
            }
        }
    }
    for &(start, a) in &starts {
        for &(end, b) in &ends {
            if end >= start + 2 && out.len() < MAX_CORES {
                out.push(Core { start, end, words: a + b });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(s: &str) -> String {
        canonical(s, &mut String::new()).chars.iter().collect()
    }

    #[test]
    fn matching_form_drops_separators_and_folds_synonyms() {
        assert_eq!(canon("青川丨县 公安局"), "青川县公安");
        assert_eq!(canon("青川縣警方"), "青川县公安");
        assert_eq!(canon("某某县人民法院"), "某某县法院");
        assert_eq!(canon("某某广播电视台"), "某某广电");
        assert_eq!(canon("🚔某某\u{200B}消防救援"), "某某消防");
    }

    #[test]
    fn synonym_swaps_are_seen() {
        let s = &mut String::new();
        let a = canonical("青川警方", s);
        let b = canonical("青川县公安局", s);
        let c = canonical("青川公安局交警", s);
        assert!(swapped_synonym(&a.folds, &b.folds));
        assert!(!swapped_synonym(&b.folds, &c.folds));
    }

    #[test]
    fn cores_strip_padding_words_from_both_ends() {
        let name: Vec<char> = "最新官方青川发布在线v".chars().collect();
        let mut out = Vec::new();
        cores(&name, &mut out);
        let texts: Vec<String> = out.iter().map(|c| name[c.start..c.end].iter().collect()).collect();
        assert!(texts.contains(&"青川".to_string()), "{texts:?}");
        assert!(texts.contains(&"青川发布".to_string()), "{texts:?}");
        assert!(texts.contains(&name.iter().collect::<String>()));
        assert!(out.len() <= MAX_CORES);
        cores(&[], &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn padding_words_in_pinyin_and_numbers_are_stripped() {
        for (name, core) in
            [("zui新青川发布", "青川发布"), ("青川发布guanfang2", "青川发布"), ("官fang青川发布", "青川发布")]
        {
            let name: Vec<char> = name.chars().collect();
            let mut out = Vec::new();
            cores(&name, &mut out);
            let texts: Vec<String> = out.iter().map(|c| name[c.start..c.end].iter().collect()).collect();
            assert!(texts.contains(&core.to_string()), "{texts:?}");
        }
    }
}
