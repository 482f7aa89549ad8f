//! What the matcher reads of a text, all taken from the normalized text so that traditional
//! characters, look-alikes, full-width forms and punctuation do not stand between a post and
//! a claim:
//! - index keys: character bigrams for Chinese and Japanese (written without spaces, where a
//!   bigram is the usual retrieval unit), a character standing alone between other scripts,
//!   and for every other script whole words and word bigrams (two words in a row);
//! - every character of the unspaced scripts and every word on its own, so that a claim's
//!   character or word a post carries outside any shared bigram still counts (see
//!   [`super::kb`]);
//! - for claims, the text in order ([`Unit`]s), which tells runs of shared bigrams (a phrase
//!   the post repeats) from bigrams scattered over the post. A word is to a spaced script
//!   what a character is to an unspaced one: "5G towers spread the coronavirus" is one run of
//!   five words, as 喝醋可以软化血管 is one run of eight characters;
//! - the length in positions (characters of the unspaced scripts, words of the others),
//!   which sets how much a post could share with a claim by chance.
//!
//! @mentions are cut first: an account's name is not a claim the post makes.

use steward_text::steps::is_unspaced_script;

/// A token as a 64-bit key. Keys are well mixed, so their low 32 bits are a good hash too.
pub type Token = u64;

/// One position of a text, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A character of an unspaced script, as its [`char_key`]; `joined` is the bigram it
    /// forms with the character before it, when that one is of the same run.
    Char { key: Token, joined: Option<Token> },
    /// A word of another script (letters and digits), as its token (an index key too);
    /// `joined` is the word bigram it forms with the word before it, when that one is of the
    /// same run (words not parted by a character of an unspaced script).
    Word { key: Token, joined: Option<Token> },
}

/// A text as the matcher reads it. Buffers are reused from one text to the next.
#[derive(Debug, Default, Clone)]
pub struct Analysis {
    /// Index keys, sorted and deduplicated: bigrams, lone characters, words and word
    /// bigrams.
    pub tokens: Vec<Token>,
    /// The [`char_key`] of every character of the unspaced scripts and the token of every
    /// word, sorted and deduplicated: the positions a text has on their own.
    pub chars: Vec<Token>,
    /// The text in order; filled by [`Tokenizer::claim_into`] only.
    pub units: Vec<Unit>,
    /// Positions: characters of the unspaced scripts plus words. (Counting a word's letters
    /// instead would make every English text look five times longer than it is, and so
    /// everything it shares with a claim look that much likelier by chance.)
    pub length: u32,
}

/// Turns texts into [`Analysis`]es, reusing its buffers.
#[derive(Debug, Default)]
pub struct Tokenizer {
    unmentioned: String,
    normalized: String,
    word: String,
}

impl Tokenizer {
    /// A post (or any text matched against claims) into `out`: no units.
    pub fn text_into(&mut self, text: &str, out: &mut Analysis) {
        self.analyze(text, out, false);
    }

    /// A claim into `out`, with its units.
    pub fn claim_into(&mut self, text: &str, out: &mut Analysis) {
        self.analyze(text, out, true);
    }

    fn analyze(&mut self, text: &str, out: &mut Analysis, units: bool) {
        out.tokens.clear();
        out.chars.clear();
        out.units.clear();
        out.length = 0;
        let text = steward_text::strip_mentions(text, &mut self.unmentioned);
        steward_text::normalize_into(text, &mut self.normalized);
        self.word.clear();
        let mut prev: Option<char> = None;
        // The last word of the current run of words.
        let mut prev_word: Option<Token> = None;
        // A lone character between non-Han text still counts, as a unigram.
        let mut run_len = 0usize;
        for c in self.normalized.chars() {
            if is_unspaced_script(c) {
                flush_word(&mut self.word, &mut prev_word, out, units);
                prev_word = None;
                let joined = prev.map(|p| bigram(p, c));
                out.tokens.extend(joined);
                out.chars.push(char_key(c));
                if units {
                    out.units.push(Unit::Char { key: char_key(c), joined });
                }
                out.length += 1;
                prev = Some(c);
                run_len += 1;
            } else {
                end_run(prev, run_len, &mut out.tokens);
                prev = None;
                run_len = 0;
                if c.is_alphanumeric() {
                    self.word.push(c);
                } else {
                    flush_word(&mut self.word, &mut prev_word, out, units);
                }
            }
        }
        end_run(prev, run_len, &mut out.tokens);
        flush_word(&mut self.word, &mut prev_word, out, units);
        for keys in [&mut out.tokens, &mut out.chars] {
            keys.sort_unstable();
            keys.dedup();
        }
    }
}

/// The key of a single character of an unspaced script (apart from every token's).
pub fn char_key(c: char) -> Token {
    mix(0x2_0000_0000 | c as u64)
}

fn end_run(prev: Option<char>, run_len: usize, out: &mut Vec<Token>) {
    if let (Some(c), 1) = (prev, run_len) {
        out.push(mix(0x1_0000_0000 | c as u64));
    }
}

fn bigram(a: char, b: char) -> Token {
    mix(((a as u64) << 32) | b as u64 | 1 << 63)
}

/// Ends the word being read, if any: its token, and its bigram with `prev` (the word before
/// it in the run), which it then becomes.
fn flush_word(word: &mut String, prev: &mut Option<Token>, out: &mut Analysis, units: bool) {
    if word.is_empty() {
        return;
    }
    // FNV-1a over the bytes, tagged apart from character keys, then mixed.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in word.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    let token = mix(h | 1 << 62);
    let joined = prev.map(|p| word_bigram(p, token));
    out.tokens.push(token);
    out.tokens.extend(joined);
    out.chars.push(token);
    out.length += 1;
    if units {
        out.units.push(Unit::Word { key: token, joined });
    }
    *prev = Some(token);
    word.clear();
}

/// Two words in a row (ordered: "towers spread" is not "spread towers").
fn word_bigram(a: Token, b: Token) -> Token {
    mix(a.rotate_left(23) ^ b ^ 0x5bd1_e995)
}

/// The splitmix64 finalizer: spreads every input bit over the whole key.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim(text: &str) -> Analysis {
        let mut out = Analysis::default();
        Tokenizer::default().claim_into(text, &mut out);
        out
    }

    fn tokens(text: &str) -> Vec<Token> {
        let mut out = Analysis::default();
        Tokenizer::default().text_into(text, &mut out);
        out.tokens
    }

    #[test]
    fn chinese_gives_bigrams_and_words_stay_whole() {
        assert_eq!(tokens("钟南山").len(), 2);
        // Three words and two word bigrams.
        assert_eq!(tokens("Drinking hot water").len(), 5);
        // 800 is a word; 只狮 and 狮子 are bigrams.
        assert_eq!(tokens("800只狮子").len(), 3);
        // A lone Han character is a unigram, and parts the words around it.
        assert_eq!(tokens("A 股 rally").len(), 3);
        // Word order counts.
        assert_ne!(tokens("towers spread"), tokens("spread towers"));
    }

    #[test]
    fn disguises_do_not_change_the_tokens() {
        assert_eq!(tokens("醫療船：每艘１０００張病床！"), tokens("医疗船每艘1000张病床"));
        assert_eq!(tokens("Hot\u{200b} WATER, cures"), tokens("hot water cures"));
    }

    #[test]
    fn empty_and_symbol_only_texts_have_no_tokens() {
        assert!(tokens("").is_empty());
        assert!(tokens("！！？…[doge]").is_empty());
        assert_eq!(claim("！！").length, 0);
    }

    #[test]
    fn a_claim_keeps_its_order_runs_and_length() {
        // Punctuation is normalized away, so a run goes on across it; another script ends it.
        // A word is one position, however many letters it has.
        let a = claim("84岁钟南山，x 出征！");
        assert_eq!(a.length, 1 + 4 + 1 + 2);
        let shape: Vec<Option<bool>> = a
            .units
            .iter()
            .map(|u| match u {
                Unit::Char { joined, .. } => Some(joined.is_some()),
                Unit::Word { .. } => None,
            })
            .collect();
        let (f, t) = (Some(false), Some(true));
        assert_eq!(shape, [None, f, t, t, t, None, f, t]);
        // Six characters and two words.
        assert_eq!(a.chars.len(), 8);
        // Words run on across spaces and punctuation, as characters do.
        let a = claim("5G towers, spread!");
        assert_eq!(a.length, 3);
        let joined: Vec<bool> = a
            .units
            .iter()
            .map(|u| match u {
                Unit::Word { joined, .. } => joined.is_some(),
                Unit::Char { .. } => panic!("{u:?}"),
            })
            .collect();
        assert_eq!(joined, [false, true, true]);
    }
}
