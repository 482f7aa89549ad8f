//! English features of a title, and the language a title is scored as.
//!
//! One feature vector is `[cues] ++ [2^bits hashed n-gram buckets]`; the same code produces
//! it for training and for scoring, so the two never drift apart. The cues look for the
//! marks of a headline that withholds or oversells its news (questions, exclamations, "you",
//! "this", suspense and emotion words, a number opening a listicle, Capitalized Small
//! Words); the n-grams are words and word pairs (as written and lower case) and lower-case
//! character 2–5-grams within words. English titles are scored alone: the training data has
//! no content. Chinese titles are scored against their content: see [`super::zh`].

use std::collections::HashMap;

use steward_text::steps::is_han;

/// The language a title is scored as, from its script.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Language {
    Zh,
    En,
}

impl Language {
    pub const ALL: [Language; 2] = [Language::Zh, Language::En];

    pub fn as_str(self) -> &'static str {
        match self {
            Language::Zh => "zh",
            Language::En => "en",
        }
    }

    /// Chinese when Han characters make up a fair share of the letters (a Latin brand name
    /// in a Chinese title does not make it English); English otherwise. Text without any
    /// letters counts as Chinese, the platforms' language.
    pub fn detect(text: &str) -> Language {
        let (mut han, mut latin) = (0usize, 0usize);
        for c in text.chars() {
            if is_han(c) {
                han += 1;
            } else if c.is_alphabetic() {
                latin += 1;
            }
        }
        if han * 3 >= latin { Language::Zh } else { Language::En }
    }
}

// Declares a cue list and a module of its indices (`en::question` is the index of
// "question" in `EN_CUES`).
macro_rules! cues {
    ($(#[$doc:meta])* $list:ident, $module:ident: $($name:ident),* $(,)?) => {
        $(#[$doc])*
        pub const $list: &[&str] = &[$(stringify!($name)),*];
        #[allow(non_upper_case_globals, dead_code)]
        mod $module {
            cues!(@index 0usize; $($name),*);
        }
    };
    (@index $i:expr; $name:ident $(, $rest:ident)*) => {
        pub const $name: usize = $i;
        cues!(@index $i + 1usize; $($rest),*);
    };
    (@index $i:expr;) => {};
}

cues!(
    /// Names of the English cues, in feature order.
    EN_CUES, en:
    question, question_opening, exclamation, ellipsis, number_opening, second_person, first_person,
    demonstrative, suspense, emotion, superlative, quiz, capitalized_small_words, colon, quotes, digit_share,
    short, long
);

/// The cues that are evidence of bait on their own.
pub const EN_STRONG_CUES: &[usize] = &[
    en::question,
    en::question_opening,
    en::exclamation,
    en::ellipsis,
    en::number_opening,
    en::second_person,
    en::demonstrative,
    en::suspense,
    en::emotion,
    en::superlative,
    en::quiz,
];

/// Cues that describe a title's shape rather than bait: never listed as reasons.
pub const NEUTRAL_CUES: &[&str] = &["digit_share", "short", "long", "colon"];

/// Whether cue `i`, fired with `contribution` (weight × value) to the score, is a bait
/// cue to show: a strong one ([`EN_STRONG_CUES`]), or another non-neutral cue that raises
/// the score.
pub fn is_bait_cue(i: usize, contribution: f32) -> bool {
    i < EN_CUES.len() && (EN_STRONG_CUES.contains(&i) || (contribution > 0.0 && !NEUTRAL_CUES.contains(&EN_CUES[i])))
}

#[rustfmt::skip]
const EN_WORDS: &[(&str, &[&str])] = &[
    ("second_person", &[
        "you", "your", "youre", "yourself", "yours", "ya", "u",
    ]),
    ("first_person", &[
        "i", "me", "my", "we", "our", "us", "im", "ive",
    ]),
    ("demonstrative", &[
        "this", "these", "that", "those", "here", "heres",
    ]),
    ("suspense", &[
        "believe", "secret", "secrets", "truth", "actually", "finally", "reason", "reasons", "revealed", "reveals",
        "happened", "happens", "surprising", "shocking", "unexpected", "mind", "blow", "really", "literally",
        "guess", "why", "things", "everything", "nobody", "everyone",
    ]),
    ("emotion", &[
        "amazing", "incredible", "unbelievable", "omg", "wtf", "lol", "epic", "perfect", "adorable", "cute",
        "hilarious", "genius", "awesome", "insane", "crazy", "weird", "totally", "super", "cutest", "beautiful",
        "heartbreaking", "heartwarming", "tears", "cry", "fucking", "damn", "wow", "omfg", "awkward", "struggles",
    ]),
    ("superlative", &[
        "best", "worst", "most", "ever", "greatest", "all-time", "biggest", "cutest", "funniest",
    ]),
    ("quiz", &[
        "quiz", "which", "should", "can", "guess", "test", "pick", "tell", "answer",
    ]),
];

const EN_QUESTION_OPENERS: &[&str] = &[
    "what", "why", "how", "who", "which", "where", "when", "can", "do", "does", "is", "are", "should", "would", "will",
    "did", "could", "have", "has",
];

const EN_SMALL_WORDS: &[&str] = &[
    "to", "a", "an", "the", "of", "in", "on", "for", "and", "with", "is", "at", "by", "from", "or", "as", "are", "be",
];

fn cue_index(names: &[&str], name: &str) -> usize {
    names.iter().position(|n| *n == name).unwrap_or_else(|| unreachable_cue(name))
}

#[cold]
fn unreachable_cue(name: &str) -> usize {
    // The word lists above only name cues of the lists; a test checks it.
    debug_assert!(false, "unknown cue {name}");
    0
}

/// The word lists as lookup tables.
pub struct Lexicon {
    /// Lower-case word → cue indices.
    en: HashMap<&'static str, Vec<u16>>,
    en_question_openers: Vec<&'static str>,
}

impl Default for Lexicon {
    fn default() -> Self {
        Lexicon::new()
    }
}

impl Lexicon {
    pub fn new() -> Self {
        let mut en: HashMap<&'static str, Vec<u16>> = HashMap::new();
        for (cue, words) in EN_WORDS {
            let idx = cue_index(EN_CUES, cue) as u16;
            for w in *words {
                let e = en.entry(*w).or_default();
                if !e.contains(&idx) {
                    e.push(idx);
                }
            }
        }
        Lexicon { en, en_question_openers: EN_QUESTION_OPENERS.to_vec() }
    }
}

/// Reusable buffers, so that scoring allocates nothing once warm.
#[derive(Default)]
pub struct Scratch {
    normalized: String,
    chars: Vec<char>,
    words: Vec<(usize, usize)>,
    lower: String,
    lower_bounds: Vec<(usize, usize)>,
    cased_bounds: Vec<(usize, usize)>,
    /// The features of the last title: (index, value), hashed indices may repeat.
    pub features: Vec<(u32, f32)>,
}

/// The feature layout: the cues, then 2^`hash_bits` hashed n-gram buckets.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Layout {
    pub hash_bits: u32,
    /// Value of one n-gram occurrence (the cues' scale is 1); a smaller value regularizes
    /// n-grams more than cues.
    pub ngram_value: f32,
}

impl Layout {
    pub fn cues(&self) -> usize {
        EN_CUES.len()
    }

    pub fn dim(&self) -> usize {
        self.cues() + (1usize << self.hash_bits)
    }
}

/// Fills `scratch.features` with the features of the English title `text` under `layout`.
pub fn extract(lex: &Lexicon, layout: &Layout, text: &str, scratch: &mut Scratch) {
    scratch.features.clear();
    extract_en(lex, layout, text, scratch);
}

fn is_question(c: char) -> bool {
    matches!(c, '?' | '？' | '¿')
}

fn is_exclamation(c: char) -> bool {
    matches!(c, '!' | '！' | '¡')
}

fn is_open_quote(c: char) -> bool {
    matches!(c, '“' | '「' | '『' | '《' | '"' | '‘')
}

/// Punctuation cues, from the raw text.
struct Marks {
    question: bool,
    exclamation: bool,
    ellipsis: bool,
    quotes: usize,
    colon: bool,
}

fn marks(text: &str) -> Marks {
    let t = text.trim();
    let mut m = Marks {
        question: false,
        exclamation: false,
        ellipsis: t.contains('…') || t.contains('⋯') || t.contains("...") || t.contains("。。"),
        quotes: 0,
        colon: false,
    };
    let mut ascii_quotes = 0usize;
    for c in t.chars() {
        m.question |= is_question(c);
        m.exclamation |= is_exclamation(c);
        if c == '"' {
            ascii_quotes += 1;
        } else if is_open_quote(c) {
            m.quotes += 1;
        }
        m.colon |= matches!(c, ':' | '：');
    }
    m.quotes += ascii_quotes.div_ceil(2);
    m
}

// n-gram hashing: a word-at-a-time mix seeded by the n-gram's kind.
const MUL: u64 = 0x9E37_79B9_7F4A_7C15;

#[inline]
fn mix(h: u64, x: u64) -> u64 {
    (h.rotate_left(26) ^ x).wrapping_mul(MUL)
}

#[inline]
fn finish(h: u64, bits: u32) -> u32 {
    let h = (h ^ (h >> 31)).wrapping_mul(0xD6E8_FEB8_6659_FD93);
    let h = h ^ (h >> 32);
    (h >> (64 - bits)) as u32
}

#[inline]
fn push_hashed(scratch_features: &mut Vec<(u32, f32)>, layout: &Layout, cues: usize, h: u64) {
    let bucket = finish(h, layout.hash_bits);
    scratch_features.push((cues as u32 + bucket, layout.ngram_value));
}

fn set(features: &mut Vec<(u32, f32)>, idx: usize, value: f32) {
    if value != 0.0 {
        features.push((idx as u32, value));
    }
}

/// Hashed character 1–3-grams of `chars` (start and end marked for pairs and triples) into
/// 2^`bits` buckets: the plain character n-gram baseline the Chinese model is compared with.
pub fn char_ngrams(chars: &[char], bits: u32, out: &mut Vec<u32>) {
    out.clear();
    let padded: Vec<u64> =
        std::iter::once(u64::from('^')).chain(chars.iter().map(|c| u64::from(*c))).chain([u64::from('$')]).collect();
    for &c in &padded[1..padded.len() - 1] {
        out.push(finish(mix(mix(0x5A41, 0), c), bits));
    }
    for len in 2..=3usize {
        for w in padded.windows(len) {
            out.push(finish(w.iter().fold(mix(0x5A40 + len as u64, 0), |h, c| mix(h, *c)), bits));
        }
    }
}

fn extract_en(lex: &Lexicon, layout: &Layout, text: &str, s: &mut Scratch) {
    let m = marks(text);
    let t = text.trim();
    // Words: runs of letters and digits (an apostrophe inside a word is dropped, so
    // "What's" is "Whats").
    s.words.clear();
    s.lower.clear();
    s.normalized.clear();
    let mut start: Option<usize> = None;
    for (i, c) in t.char_indices() {
        let word_char = c.is_alphanumeric();
        let inner_apostrophe = matches!(c, '\'' | '’') && start.is_some();
        if word_char || inner_apostrophe {
            if start.is_none() {
                start = Some(i);
            }
        } else if let Some(b) = start.take() {
            s.words.push((b, i));
        }
    }
    if let Some(b) = start {
        s.words.push((b, t.len()));
    }
    // Lower-case word forms, without apostrophes, joined by spaces in `lower`; the word
    // boundaries in `lower` are recomputed below.
    s.lower_bounds.clear();
    s.cased_bounds.clear();
    for &(b, e) in &s.words {
        let lb = s.lower.len();
        let cb = s.normalized.len();
        for c in t[b..e].chars() {
            if matches!(c, '\'' | '’') {
                continue;
            }
            s.normalized.push(c);
            for lc in c.to_lowercase() {
                s.lower.push(lc);
            }
        }
        s.lower_bounds.push((lb, s.lower.len()));
        s.cased_bounds.push((cb, s.normalized.len()));
        s.lower.push(' ');
        s.normalized.push(' ');
    }

    let mut flags = [0f32; EN_CUES.len()];
    flags[en::question] = m.question as u8 as f32;
    flags[en::exclamation] = m.exclamation as u8 as f32;
    flags[en::ellipsis] = m.ellipsis as u8 as f32;
    flags[en::colon] = m.colon as u8 as f32;
    flags[en::quotes] = m.quotes.min(2) as f32 / 2.0;
    let words = s.lower_bounds.len();
    if let Some(&(b, e)) = s.lower_bounds.first() {
        let first = &s.lower[b..e];
        flags[en::question_opening] = lex.en_question_openers.contains(&first) as u8 as f32;
        flags[en::number_opening] = first.chars().all(|c| c.is_ascii_digit()) as u8 as f32;
    }
    let mut digits = 0usize;
    let mut chars = 0usize;
    for (k, &(b, e)) in s.lower_bounds.iter().enumerate() {
        let w = &s.lower[b..e];
        if let Some(idxs) = lex.en.get(w) {
            for idx in idxs {
                flags[*idx as usize] = 1.0;
            }
        }
        if k > 0 && EN_SMALL_WORDS.contains(&w) {
            let (cb, _) = s.cased_bounds[k];
            if s.normalized[cb..].starts_with(|c: char| c.is_uppercase()) {
                flags[en::capitalized_small_words] = 1.0;
            }
        }
        for c in w.chars() {
            chars += 1;
            if c.is_ascii_digit() {
                digits += 1;
            }
        }
    }
    if s.lower.contains("you won") || s.lower.contains("what happens") || s.lower.contains("will make you") {
        flags[en::suspense] = 1.0;
    }
    flags[en::digit_share] = if chars == 0 { 0.0 } else { digits as f32 / chars as f32 };
    flags[en::short] = (words < 6) as u8 as f32;
    flags[en::long] = (words > 12) as u8 as f32;
    for (i, v) in flags.iter().enumerate() {
        set(&mut s.features, i, *v);
    }

    let cues = EN_CUES.len();
    // Words and word pairs, as written and in lower case.
    for (kind, text, bounds) in [(1u64, &s.normalized, &s.cased_bounds), (2u64, &s.lower, &s.lower_bounds)] {
        let mut prev: Option<u64> = None;
        for &(b, e) in bounds.iter() {
            let wh = text[b..e]
                .bytes()
                .fold(0xCBF2_9CE4_8422_2325u64, |h, x| (h ^ u64::from(x)).wrapping_mul(0x100_0000_01B3));
            push_hashed(&mut s.features, layout, cues, mix(mix(0xE0 + kind, 0), wh));
            if let Some(p) = prev {
                push_hashed(&mut s.features, layout, cues, mix(mix(mix(0xE8 + kind, 0), p), wh));
            }
            prev = Some(wh);
        }
    }
    // Lower-case character 2–5-grams of each whitespace-separated token (punctuation
    // included), padded with a space on each side.
    s.chars.clear();
    for token in t.split_whitespace() {
        s.chars.clear();
        s.chars.push(' ');
        for c in token.chars() {
            s.chars.extend(c.to_lowercase());
        }
        s.chars.push(' ');
        let n = s.chars.len();
        for len in 2..=5usize {
            if len > n {
                break;
            }
            for i in 0..=(n - len) {
                let mut h = mix(0xC0 + len as u64, 0);
                for c in &s.chars[i..i + len] {
                    h = mix(h, u64::from(*c));
                }
                push_hashed(&mut s.features, layout, cues, h);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_lists_name_known_cues() {
        for (cue, _) in EN_WORDS {
            assert!(EN_CUES.contains(cue), "{cue}");
        }
        for cue in NEUTRAL_CUES {
            assert!(EN_CUES.contains(cue), "{cue}");
        }
    }

    #[test]
    fn language_from_script() {
        assert_eq!(Language::detect("iPhone 15发布会来了"), Language::Zh);
        assert_eq!(Language::detect("You Won't Believe What Happened Next"), Language::En);
        assert_eq!(Language::detect("Why Beijing 北京 matters to the world economy now"), Language::En);
        assert_eq!(Language::detect("🔥🔥"), Language::Zh);
    }

    fn cues_of(text: &str) -> Vec<&'static str> {
        let lex = Lexicon::new();
        let layout = Layout { hash_bits: 10, ngram_value: 1.0 };
        let mut s = Scratch::default();
        extract(&lex, &layout, text, &mut s);
        let mut out: Vec<_> = s
            .features
            .iter()
            .filter(|(i, _)| (*i as usize) < EN_CUES.len())
            .map(|(i, _)| EN_CUES[*i as usize])
            .collect();
        out.dedup();
        assert!(s.features.iter().all(|(i, _)| (*i as usize) < layout.dim()));
        out
    }

    #[test]
    fn english_cues() {
        let c = cues_of("21 Things You Won't Believe Happened To The Cutest Dogs Ever");
        for want in ["number_opening", "second_person", "suspense", "superlative", "capitalized_small_words"] {
            assert!(c.contains(&want), "{want} missing from {c:?}");
        }
        let c = cues_of("Senate passes budget bill after late-night vote");
        assert!(c.is_empty(), "{c:?}");
    }

    #[test]
    fn char_ngrams_count_and_range() {
        let mut out = Vec::new();
        char_ngrams(&['北', '京'], 8, &mut out);
        // Two unigrams, three bigrams (^北, 北京, 京$), two trigrams.
        assert_eq!(out.len(), 7);
        assert!(out.iter().all(|b| *b < 256));
        char_ngrams(&[], 8, &mut out);
        assert_eq!(out.len(), 1);
    }

    #[test]
    fn odd_input_does_not_panic() {
        for t in ["", " ", "？", "!!!", "\u{200b}", "【", "a", "1", "这", "…", "''", "’s", "\"", "👍👍👍", "x\u{0301}"]
        {
            cues_of(t);
        }
    }
}
