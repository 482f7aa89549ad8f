//! Cuts a streamed answer into sentences, so that a bot can check and release it a sentence
//! at a time instead of waiting for the whole answer.
//!
//! A chunk ends:
//! * after `.`, `!` or `?` (and any closing quotes or brackets after them) followed by
//!   whitespace, except after a likely abbreviation (`e.g.`, `Dr.`, a single letter) or a
//!   bare list number (`1.`); a decimal such as `3.14` has no whitespace after its point;
//! * at once after the Chinese `。`, `！`, `？`, `；` and `…` (and closers after them);
//! * at a line break;
//! * at the length cap, at the last space or after the last pause mark (`,`, `，`, `、`,
//!   `:`…) before it, or at the cap itself when there is none, so a run-on answer still
//!   flows. A chunk holds at most the cap in characters, plus the one mark that ends it.
//!
//! Chunks are trimmed and never empty. A boundary that depends on the next character waits
//! for it; [`SentenceChunker::finish`] releases what is left.

/// Closing marks that stay with the sentence they close.
const CLOSERS: &[char] = &['"', '\'', ')', ']', '}', '”', '’', '」', '』', '）', '】', '》', '〉'];
/// Ends of a sentence that need whitespace after them.
const LATIN_ENDS: &[char] = &['.', '!', '?'];
/// Ends of a sentence that end it wherever they are.
const CJK_ENDS: &[char] = &['。', '！', '？', '；', '…'];
/// Marks after which a chunk cut at the cap may end.
const PAUSES: &[char] = &[',', ';', ':', '，', '、', '：', '；', '—'];
/// Words that a period often follows without ending the sentence (compared lower case).
const ABBREVIATIONS: &[&str] =
    &["mr", "mrs", "ms", "dr", "prof", "st", "vs", "no", "jr", "sr", "inc", "ltd", "co", "fig", "approx", "cf"];

/// The default cap on a chunk, in characters.
pub const DEFAULT_MAX_CHARS: usize = 200;

/// Splits streamed text into sentences. See the [module docs](self).
#[derive(Debug, Clone)]
pub struct SentenceChunker {
    buf: String,
    max_chars: usize,
}

impl Default for SentenceChunker {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_CHARS)
    }
}

impl SentenceChunker {
    /// A chunker whose chunks hold at most `max_chars` characters (at least 1).
    pub fn new(max_chars: usize) -> Self {
        SentenceChunker { buf: String::new(), max_chars: max_chars.max(1) }
    }

    /// Adds the next piece of the answer; returns the chunks it completes.
    pub fn push(&mut self, delta: &str) -> Vec<String> {
        self.buf.push_str(delta);
        let mut out = Vec::new();
        while let Some(end) = self.boundary(false) {
            self.cut(end, &mut out);
        }
        out
    }

    /// Ends the answer: the chunks still held, in order (usually one, more when a cap or
    /// a boundary that waited on the next character applies).
    pub fn finish(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        while let Some(end) = self.boundary(true) {
            self.cut(end, &mut out);
        }
        let rest = std::mem::take(&mut self.buf);
        push_trimmed(&rest, &mut out);
        out
    }

    fn cut(&mut self, end: usize, out: &mut Vec<String>) {
        push_trimmed(&self.buf[..end], out);
        self.buf.drain(..end);
    }

    /// The byte offset where the first chunk of the buffer ends, if it is known yet.
    fn boundary(&self, at_end: bool) -> Option<usize> {
        let chars: Vec<(usize, char)> = self.buf.char_indices().collect();
        let byte_at = |i: usize| chars.get(i).map_or(self.buf.len(), |&(b, _)| b);
        // Characters before the chunk's first non-space count towards nothing.
        let start = chars.iter().position(|&(_, c)| !c.is_whitespace()).unwrap_or(chars.len());
        let mut i = start;
        while i < chars.len() {
            let c = chars[i].1;
            if c == '\n' || c == '\r' {
                return Some(byte_at(i + 1));
            }
            if LATIN_ENDS.contains(&c) || CJK_ENDS.contains(&c) {
                let mut j = i + 1;
                while j < chars.len() && (LATIN_ENDS.contains(&chars[j].1) || CJK_ENDS.contains(&chars[j].1)) {
                    j += 1;
                }
                let run_has_cjk = chars[i..j].iter().any(|&(_, c)| CJK_ENDS.contains(&c));
                while j < chars.len() && CLOSERS.contains(&chars[j].1) {
                    j += 1;
                }
                if j == chars.len() && !at_end {
                    return None; // a closer or the space that decides may come next
                }
                let ends = if run_has_cjk {
                    true
                } else {
                    (j == chars.len() || chars[j].1.is_whitespace())
                        && !(j == i + 1 && c == '.' && self.abbreviation_before(&chars, start, i))
                        && chars[start..i].iter().any(|&(_, c)| c.is_alphabetic())
                };
                if ends {
                    return Some(byte_at(j));
                }
                if j - start <= self.max_chars {
                    i = j;
                    continue;
                }
            }
            if i - start >= self.max_chars {
                if PAUSES.contains(&c) || CLOSERS.contains(&c) {
                    return Some(byte_at(i + 1)); // the mark stays with the words it follows
                }
                return Some(byte_at(self.cap_cut(&chars, start, start + self.max_chars)));
            }
            i += 1;
        }
        None
    }

    /// Where a chunk over the cap ends: at the last space or after the last pause before the
    /// cap, else at the cap.
    fn cap_cut(&self, chars: &[(usize, char)], start: usize, cap: usize) -> usize {
        let space_or_pause =
            |k: usize| chars[k - 1].1.is_whitespace() || PAUSES.contains(&chars[k - 1].1) || chars[k].1.is_whitespace();
        (start + 1..=cap).rev().find(|&k| space_or_pause(k)).unwrap_or(cap)
    }

    /// Whether the word before the period at `dot` looks like an abbreviation: one letter
    /// (`A.`, the `g` of `e.g.`), a word with periods inside (`e.g`), or a known short word.
    fn abbreviation_before(&self, chars: &[(usize, char)], start: usize, dot: usize) -> bool {
        let from = (start..dot).rev().find(|&k| chars[k].1.is_whitespace()).map_or(start, |k| k + 1);
        let word: String = chars[from..dot].iter().map(|&(_, c)| c).collect();
        let letters = word.chars().filter(|c| c.is_alphabetic()).count();
        letters == 1 || word.contains('.') || ABBREVIATIONS.contains(&word.to_lowercase().as_str())
    }
}

fn push_trimmed(text: &str, out: &mut Vec<String>) {
    let t = text.trim();
    if !t.is_empty() {
        out.push(t.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `text` in pieces of `step` characters and returns every chunk.
    fn chunks(text: &str, step: usize, max: usize) -> Vec<String> {
        let mut c = SentenceChunker::new(max);
        let chars: Vec<char> = text.chars().collect();
        let mut out = Vec::new();
        for piece in chars.chunks(step) {
            out.extend(c.push(&piece.iter().collect::<String>()));
        }
        out.extend(c.finish());
        out
    }

    fn all_steps(text: &str, max: usize) -> Vec<String> {
        let once = chunks(text, usize::MAX, max);
        for step in 1..8 {
            assert_eq!(chunks(text, step, max), once, "pieces of {step}");
        }
        once
    }

    #[test]
    fn english_sentences() {
        let got = all_steps("Hello there! Pi is about 3.14, e.g. in school. Is it? Yes.\"  Dr. Who said so.", 200);
        assert_eq!(got, ["Hello there!", "Pi is about 3.14, e.g. in school.", "Is it?", "Yes.\"", "Dr. Who said so."]);
    }

    #[test]
    fn chinese_sentences_end_at_once() {
        let got = all_steps("地球是圆的。月亮呢？它也是圆的！他说：“对。”然后走了；好吧", 200);
        assert_eq!(got, ["地球是圆的。", "月亮呢？", "它也是圆的！", "他说：“对。”", "然后走了；", "好吧"]);
    }

    #[test]
    fn lines_and_lists() {
        let got = all_steps("Steps:\n1. Open it.\n2. Close it\n\n\nDone...  ok", 200);
        assert_eq!(got, ["Steps:", "1. Open it.", "2. Close it", "Done...", "ok"]);
    }

    #[test]
    fn a_run_on_answer_is_cut_at_the_cap_after_a_space_or_pause() {
        let got = all_steps("one two three four five six seven", 10);
        assert_eq!(got, ["one two", "three four", "five six", "seven"]);
        assert!(got.iter().all(|c| c.chars().count() <= 10));
        let got = all_steps("这是一个没有句号的很长很长的句子，一直写下去不停", 8);
        assert_eq!(got, ["这是一个没有句号", "的很长很长的句子，", "一直写下去不停"]);
        assert_eq!(all_steps("abcdefghijkl", 5), ["abcde", "fghij", "kl"]);
    }

    #[test]
    fn no_empty_chunks() {
        assert!(all_steps("   \n\n  \n", 10).is_empty());
        assert_eq!(all_steps("!!! ?", 10), ["!!! ?"]);
        assert_eq!(all_steps("", 10), Vec::<String>::new());
    }
}
