//! Matching tokens: character bigrams for Chinese and Japanese (written without spaces, where
//! a bigram is the usual retrieval unit), whole words for every other script, all taken from
//! the normalized text so that traditional characters, look-alikes, full-width forms and
//! punctuation do not stand between a post and a claim.

use steward_text::steps::is_unspaced_script;

/// A token as a 64-bit key. Keys are well mixed, so their low 32 bits are a good hash too.
pub type Token = u64;

/// Turns texts into sorted, deduplicated token sets, reusing its buffers.
#[derive(Debug, Default)]
pub struct Tokenizer {
    normalized: String,
    word: String,
}

impl Tokenizer {
    /// The token set of `text`, sorted and deduplicated, into `out` (cleared first).
    pub fn tokens_into(&mut self, text: &str, out: &mut Vec<Token>) {
        out.clear();
        steward_text::normalize_into(text, &mut self.normalized);
        self.word.clear();
        let mut prev: Option<char> = None;
        // A lone character between non-Han text still counts, as a unigram.
        let mut run_len = 0usize;
        for c in self.normalized.chars() {
            if is_unspaced_script(c) {
                flush_word(&mut self.word, out);
                if let Some(p) = prev {
                    out.push(bigram(p, c));
                }
                prev = Some(c);
                run_len += 1;
            } else {
                end_run(prev, run_len, out);
                prev = None;
                run_len = 0;
                if c.is_alphanumeric() {
                    self.word.push(c);
                } else {
                    flush_word(&mut self.word, out);
                }
            }
        }
        end_run(prev, run_len, out);
        flush_word(&mut self.word, out);
        out.sort_unstable();
        out.dedup();
    }
}

fn end_run(prev: Option<char>, run_len: usize, out: &mut Vec<Token>) {
    if let (Some(c), 1) = (prev, run_len) {
        out.push(mix(0x1_0000_0000 | c as u64));
    }
}

fn bigram(a: char, b: char) -> Token {
    mix(((a as u64) << 32) | b as u64 | 1 << 63)
}

fn flush_word(word: &mut String, out: &mut Vec<Token>) {
    if word.is_empty() {
        return;
    }
    // FNV-1a over the bytes, tagged apart from character keys, then mixed.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in word.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    out.push(mix(h | 1 << 62));
    word.clear();
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

    fn tokens(text: &str) -> Vec<Token> {
        let mut out = Vec::new();
        Tokenizer::default().tokens_into(text, &mut out);
        out
    }

    #[test]
    fn chinese_gives_bigrams_and_words_stay_whole() {
        assert_eq!(tokens("钟南山").len(), 2);
        assert_eq!(tokens("Drinking hot water").len(), 3);
        // 800 is a word; 只狮 and 狮子 are bigrams.
        assert_eq!(tokens("800只狮子").len(), 3);
        // A lone Han character is a unigram.
        assert_eq!(tokens("A 股 rally").len(), 3);
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
    }
}
