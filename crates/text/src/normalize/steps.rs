//! The normalization steps one by one, as plain (slow) string functions.
//!
//! [`normalize`](crate::normalize()) does not call these: it runs a per-code-point
//! lookup table that is built once from the same per-character primitives. The
//! functions here exist so that each step can be tested, explained and debugged
//! on its own; [`reference()`] chains them in the order the table applies them,
//! and `normalize(s) == reference(s)` for every input without combining
//! sequences or Hangul jamo (see the crate docs).
//!
//! Order: [`strip_emoticons`] → per character: [`nfkc`] → [`strip_invisible`]
//! → (letters and digits only) [`fold_confusables`] → [`fold_variants`] →
//! [`to_simplified`] → [`fold_case`] → [`fold_punctuation`].

use std::sync::OnceLock;

use ferrous_opencc::OpenCC;
use ferrous_opencc::config::BuiltinConfig;
use unicode_normalization::UnicodeNormalization;

use super::variants::fold_variant;

/// Invisible characters (category Cf and the Hangul fillers); ids reject them too.
pub use steward_model::chars::is_invisible;

/// NFKC applied code point by code point: full-width forms become half-width
/// (`ＡＢＣ１２３` → `ABC123`), the ideographic space becomes a space, circled
/// and parenthesised forms, ligatures, Kangxi radicals and compatibility
/// ideographs become their ordinary characters.
pub fn nfkc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        nfkc_char(c, |d| out.push(d));
    }
    out
}

pub(crate) fn nfkc_char(c: char, mut f: impl FnMut(char)) {
    if c.is_ascii() {
        f(c);
    } else {
        std::iter::once(c).nfkc().for_each(f);
    }
}

/// Removes zero-width and other invisible format characters (see
/// [`is_invisible`]).
pub fn strip_invisible(s: &str) -> String {
    s.chars().filter(|&c| !is_invisible(c)).collect()
}

/// True for CJK ideographs (all blocks, radicals, compatibility ideographs and
/// the ideographic iteration and zero marks).
pub fn is_han(c: char) -> bool {
    matches!(
        c as u32,
        0x2E80..=0x2FDF
            | 0x3005..=0x3007
            | 0x3021..=0x3029
            | 0x3038..=0x303B
            | 0x3400..=0x4DBF
            | 0x4E00..=0x9FFF
            | 0xF900..=0xFAFF
            | 0x20000..=0x3FFFF
    )
}

/// True for characters of scripts written without spaces between words (Han,
/// kana, bopomofo): no word boundary is kept next to them.
pub fn is_unspaced_script(c: char) -> bool {
    is_han(c)
        || matches!(
            c as u32,
            0x3040..=0x30FF | 0x3100..=0x312F | 0x31A0..=0x31BF | 0x31F0..=0x31FF
        )
}

fn decancer_options() -> decancer::Options {
    // Fold Latin, Cyrillic and Greek confusables (and diacritics, full-width,
    // mathematical and enclosed letters) to Latin; leave every other script as
    // it is. Emoji never reach this step.
    decancer::Options::default()
        .retain_chinese()
        .retain_japanese()
        .retain_korean()
        .retain_hebrew()
        .retain_arabic()
        .retain_devanagari()
        .retain_bengali()
        .retain_armenian()
        .retain_gujarati()
        .retain_tamil()
        .retain_thai()
        .retain_lao()
        .retain_burmese()
        .retain_khmer()
        .retain_mongolian()
        .retain_braille()
        .retain_emojis()
}

pub(crate) fn fold_confusable_char(c: char, mut f: impl FnMut(char)) {
    if c.is_ascii() || is_unspaced_script(c) {
        f(c);
        return;
    }
    match decancer::cure_char(c, decancer_options()) {
        decancer::Translation::Character(d) => f(d),
        decancer::Translation::String(s) => s.chars().for_each(f),
        decancer::Translation::None => {}
    }
}

/// Folds Latin, Cyrillic and Greek confusables to Latin with `decancer`
/// (Cyrillic `а` in `pаypal` → `paypal`, `𝐇𝐞𝐥𝐥𝐨` → `hello`, `é` → `e`).
/// Applied to letters and digits only; Chinese, Japanese, Korean and the other
/// major scripts are retained. `decancer` also lower-cases its output.
pub fn fold_confusables(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_alphanumeric() {
            fold_confusable_char(c, |d| out.push(d));
        } else {
            out.push(c);
        }
    }
    out
}

/// Folds the project's table of Chinese look-alike and variant characters
/// (`囯` → `国`, `図` → `图`, `壹` → `一`; see the `variants` module source for
/// the full list and the reasons for what is left out).
pub fn fold_variants(s: &str) -> String {
    s.chars().map(|c| fold_variant(c).unwrap_or(c)).collect()
}

pub(crate) fn t2s_converter() -> &'static OpenCC {
    static T2S: OnceLock<OpenCC> = OnceLock::new();
    T2S.get_or_init(|| {
        // The built-in configuration is embedded in ferrous-opencc; failing to
        // load it is a packaging bug, not a runtime condition.
        OpenCC::from_config(BuiltinConfig::T2s).expect("embedded OpenCC t2s configuration")
    })
}

/// Traditional → simplified Chinese, character by character, with OpenCC's
/// `TSCharacters` table (via `ferrous-opencc`, Apache-2.0): `資訊` → `资讯`.
///
/// Character-level rather than phrase-level conversion is deliberate: it is
/// context-free, so two copies of a text always convert alike, and it can be
/// folded into the per-character table.
pub fn to_simplified(s: &str) -> String {
    let conv = t2s_converter();
    let mut out = String::with_capacity(s.len());
    let mut buf = [0u8; 4];
    for c in s.chars() {
        if is_han(c) {
            out.push_str(&conv.convert(c.encode_utf8(&mut buf)));
        } else {
            out.push(c);
        }
    }
    out
}

/// Lower-cases (full Unicode lower-casing, so `İ` gives `i` plus a combining
/// dot, which [`fold_punctuation`] then drops).
pub fn fold_case(s: &str) -> String {
    s.chars().flat_map(char::to_lowercase).collect()
}

/// Length in bytes of a bracket emoticon at the start of `s`, if there is one:
/// `[` or `［`, then 1–6 ASCII letters or digits or Han characters, then `]` or
/// `］` (`[吃惊]`, `[doge]`, `[哈哈]`).
pub fn emoticon_len(s: &str) -> Option<usize> {
    let mut chars = s.char_indices();
    let (_, open) = chars.next()?;
    if open != '[' && open != '［' {
        return None;
    }
    for (inner, (i, c)) in chars.enumerate() {
        if c == ']' || c == '］' {
            return (inner > 0).then(|| i + c.len_utf8());
        }
        if inner == 6 || !(c.is_ascii_alphanumeric() || is_han(c)) {
            return None;
        }
    }
    None
}

/// Removes bracket emoticons (see [`emoticon_len`]).
pub fn strip_emoticons(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(c) = rest.chars().next() {
        if let Some(n) = emoticon_len(rest) {
            rest = &rest[n..];
        } else {
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

/// Folds punctuation and whitespace: every character that is neither a letter,
/// a digit nor whitespace (punctuation, symbols, emoji, combining marks,
/// controls) is removed without leaving a gap, so `加。微。信` and `h.e.l.l.o`
/// shingle like `加微信` and `hello`; a run of whitespace becomes one space
/// when it stands between two letters or digits of a spaced script (Latin
/// word boundaries survive: `hello world`) and disappears next to Han or kana
/// (`中 文` → `中文`). No leading or trailing space is produced.
pub fn fold_punctuation(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut state = Boundary::default();
    for c in s.chars() {
        if c.is_alphanumeric() {
            state.push_char(&mut out, c, is_unspaced_script(c));
        } else if c.is_whitespace() {
            state.space();
        }
    }
    out
}

/// The word-boundary state shared by [`fold_punctuation`] and the fast path.
#[derive(Default, Clone, Copy)]
pub(crate) struct Boundary {
    last_spaced: bool,
    pending: bool,
}

impl Boundary {
    #[inline(always)]
    pub(crate) fn push_char(&mut self, out: &mut impl super::Sink, c: char, unspaced: bool) {
        if !unspaced && self.pending && self.last_spaced {
            out.push(' ');
        }
        out.push(c);
        self.last_spaced = !unspaced;
        self.pending = false;
    }

    #[inline(always)]
    pub(crate) fn space(&mut self) {
        self.pending = true;
    }

    /// Whether a spaced character pushed now must be preceded by a space.
    #[inline(always)]
    pub(crate) fn needs_space(&self) -> bool {
        self.pending && self.last_spaced
    }

    /// Records that a character was pushed (by the caller).
    #[inline(always)]
    pub(crate) fn mark(&mut self, spaced: bool) {
        self.last_spaced = spaced;
        self.pending = false;
    }
}

/// Maps one code point (already outside any emoticon) through every
/// per-character step, calling `f` with each output character; whitespace is
/// reported as `' '`, and characters that are dropped produce nothing.
pub(crate) fn map_char(c: char, conv: &OpenCC, f: &mut impl FnMut(char)) {
    nfkc_char(c, |d| {
        if is_invisible(d) {
            return;
        }
        if d.is_whitespace() {
            f(' ');
            return;
        }
        if !d.is_alphanumeric() {
            return;
        }
        fold_confusable_char(d, |e| {
            let e = fold_variant(e).unwrap_or(e);
            if is_han(e) {
                for g in simplify_han(e, conv).chars() {
                    emit_lower(g, f);
                }
            } else {
                emit_lower(e, f);
            }
        });
    });
}

/// Variant folding and character-level t2s, repeated until nothing changes
/// (`貳` → `贰` → `二`; a few OpenCC entries chain, e.g. `薴` → `苧` → `苎`),
/// so that normalization is idempotent.
fn simplify_han(c: char, conv: &OpenCC) -> String {
    let mut cur = c.to_string();
    for _ in 0..4 {
        let folded: String = cur.chars().map(|c| fold_variant(c).unwrap_or(c)).collect();
        let next = conv.convert(&folded);
        if next == cur {
            break;
        }
        cur = next;
    }
    cur
}

fn emit_lower(c: char, f: &mut impl FnMut(char)) {
    for l in c.to_lowercase() {
        if l.is_alphanumeric() {
            f(l);
        } else if l.is_whitespace() {
            f(' ');
        }
    }
}

/// All steps chained, slowly, in the order the fast table applies them.
pub fn reference(s: &str) -> String {
    let s = strip_emoticons(s);
    let conv = t2s_converter();
    let mut mapped = String::with_capacity(s.len());
    for c in s.chars() {
        map_char(c, conv, &mut |d| mapped.push(d));
    }
    fold_punctuation(&mapped)
}
