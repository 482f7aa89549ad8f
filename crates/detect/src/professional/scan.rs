//! Matching on normalized text: the titles in a text (one pass, longest title first), what
//! stands around a title, and whole words.
//!
//! Chinese words match anywhere. Latin words match only as whole words: the normalizer keeps
//! one space between Latin words and drops punctuation, so a word boundary is any byte that
//! is not an ASCII letter or digit.

use super::field::Field;
use super::lexicon::{FILLERS, QUALIFIERS, RELATIONS};

/// A title found in a text, by byte range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TitleMatch {
    pub start: usize,
    pub end: usize,
    pub title: &'static str,
    pub field: Field,
}

/// Titles arranged for a one-pass scan.
pub struct Titles {
    /// Chinese titles by their last character, longest first: a title is looked for only
    /// where its last character is.
    by_last: Vec<(char, Vec<(&'static str, Field)>)>,
    /// One bit per last character, by its code point modulo 64: most characters are passed
    /// over with one test.
    last_mask: u64,
    /// Latin titles, longest first, looked for at word starts.
    latin: Vec<(&'static str, Field)>,
}

impl Titles {
    pub fn new(list: &[(&'static str, Field)]) -> Titles {
        let mut by_last: Vec<(char, Vec<(&'static str, Field)>)> = Vec::new();
        let mut latin = Vec::new();
        for &(title, field) in list {
            if title.as_bytes().first().is_some_and(|&b| is_word_byte(b)) {
                latin.push((title, field));
                continue;
            }
            let Some(last) = title.chars().next_back() else { continue };
            match by_last.iter_mut().find(|(c, _)| *c == last) {
                Some((_, group)) => group.push((title, field)),
                None => by_last.push((last, vec![(title, field)])),
            }
        }
        for (_, group) in &mut by_last {
            group.sort_by_key(|(t, _)| std::cmp::Reverse(t.len()));
        }
        latin.sort_by_key(|(t, _)| std::cmp::Reverse(t.len()));
        let last_mask = by_last.iter().fold(0, |mask, (c, _)| mask | mask_bit(*c));
        Titles { by_last, last_mask, latin }
    }

    /// Every title in `text`, left to right, none overlapping an earlier one.
    pub fn find_into(&self, text: &str, out: &mut Vec<TitleMatch>) {
        out.clear();
        let mut covered = 0;
        for (i, c) in text.char_indices() {
            let found = if c.is_ascii_alphanumeric() {
                if i < covered || !starts_word(text, i) {
                    continue;
                }
                let rest = &text[i..];
                self.latin
                    .iter()
                    .find(|(t, _)| rest.starts_with(t) && ends_word(text, i + t.len()))
                    .map(|&(t, f)| (i, t, f))
            } else {
                if self.last_mask & mask_bit(c) == 0 {
                    continue;
                }
                let Some((_, group)) = self.by_last.iter().find(|(last, _)| *last == c) else { continue };
                let end = i + c.len_utf8();
                group.iter().find(|(t, _)| text[..end].ends_with(t)).map(|&(t, f)| (end - t.len(), t, f))
            };
            if let Some((start, title, field)) = found.filter(|(start, _, _)| *start >= covered) {
                covered = start + title.len();
                out.push(TitleMatch { start, end: covered, title, field });
            }
        }
    }

    /// The field of the first title in a normalized text.
    pub fn first_field(&self, text: &str) -> Option<Field> {
        let mut found = Vec::new();
        self.find_into(text, &mut found);
        found.first().map(|m| m.field)
    }
}

fn mask_bit(c: char) -> u64 {
    1 << (c as u32 % 64)
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

fn starts_word(text: &str, i: usize) -> bool {
    i == 0 || !is_word_byte(text.as_bytes()[i - 1])
}

fn ends_word(text: &str, i: usize) -> bool {
    text.as_bytes().get(i).is_none_or(|&b| !is_word_byte(b))
}

/// `text` without `word` at its end and the spaces before it, when it ends with that word.
fn strip_word<'a>(text: &'a str, word: &str) -> Option<&'a str> {
    let rest = text.strip_suffix(word)?;
    let latin = word.as_bytes().first().is_some_and(|&b| is_word_byte(b));
    if latin && !starts_word(text, rest.len()) {
        return None;
    }
    Some(rest.trim_end_matches(' '))
}

/// `text` without the longest of `words` at its end, when it ends with one.
fn strip_any<'a>(text: &'a str, words: &[&str]) -> Option<&'a str> {
    words.iter().filter_map(|w| strip_word(text, w)).min_by_key(|rest| rest.len())
}

/// What a text says before a title once the words that only qualify or count it are set
/// aside: `我是一名资深` → `我是`, `i am a licensed` → `i am`.
pub fn lead_in(before: &str) -> &str {
    let mut rest = before.trim_end_matches(' ');
    for _ in 0..3 {
        match strip_any(rest, QUALIFIERS) {
            Some(r) => rest = r,
            None => break,
        }
    }
    strip_any(rest, FILLERS).unwrap_or(rest)
}

/// Whether `before` ends with one of `words`.
pub fn ends_with_any(before: &str, words: &[&str]) -> bool {
    words.iter().any(|w| strip_word(before, w).is_some())
}

/// Whether the text after a title makes the title someone else's (医生的家属, 律师助理).
pub fn names_someone_else(after: &str) -> bool {
    let after = after.trim_start_matches(' ');
    let after = after.strip_prefix('的').unwrap_or(after);
    RELATIONS.iter().any(|r| after.starts_with(r) && ends_word(after, r.len()))
}

/// Endings a Latin cue or marker word may carry (`treatment`, `invested`, `stocks`).
const INFLECTIONS: &[&str] = &["", "s", "es", "d", "ed", "ing", "ment", "ments", "ation", "ations"];

/// Whether `word` occurs in `text`: anywhere for Chinese, for Latin as a whole word, bare or
/// with one of the usual inflections.
pub fn contains_word(text: &str, word: &str) -> bool {
    if !word.as_bytes().first().is_some_and(|&b| is_word_byte(b)) {
        return text.contains(word);
    }
    text.match_indices(word).any(|(i, _)| {
        let end = i + word.len();
        let tail = text.as_bytes()[end..].iter().take_while(|&&b| is_word_byte(b)).count();
        starts_word(text, i) && INFLECTIONS.contains(&&text[end..end + tail])
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::professional::lexicon::TITLES;

    fn titles(text: &str) -> Vec<&'static str> {
        let mut out = Vec::new();
        Titles::new(TITLES).find_into(text, &mut out);
        out.iter().map(|m| m.title).collect()
    }

    #[test]
    fn the_longest_title_wins_and_titles_do_not_overlap() {
        assert_eq!(titles("副主任医师张三"), ["副主任医师"]);
        assert_eq!(titles("主任医师和中医师"), ["主任医师", "中医师"]);
        assert_eq!(titles("心理医生"), ["心理医生"]);
        assert_eq!(titles("老中医师"), ["老中医"]);
        assert_eq!(titles("注册会计师"), ["注册会计师"]);
    }

    #[test]
    fn latin_titles_are_whole_words() {
        assert_eq!(titles("dr chen nutrition"), ["dr"]);
        assert_eq!(titles("as a financial planner"), ["financial planner"]);
        assert!(titles("doctors without borders drive cmd doctored").is_empty());
        assert_eq!(titles("chen md"), ["md"]);
    }

    #[test]
    fn lead_in_sets_aside_qualifiers_and_counting_words() {
        assert_eq!(lead_in("我是一名资深"), "我是");
        assert_eq!(lead_in("我是一名三甲医院的"), "我是");
        assert_eq!(lead_in("i am a licensed "), "i am");
        assert_eq!(lead_in("tea"), "tea");
    }

    #[test]
    fn words_match_whole_or_inflected() {
        assert!(contains_word("the treatment works", "treat"));
        assert!(contains_word("he invested", "invest"));
        assert!(!contains_word("a taxi ride", "tax"));
        assert!(!contains_word("fundamental", "fund"));
        assert!(!contains_word("country", "try"));
        assert!(contains_word("千万不要停药", "停药"));
        assert!(names_someone_else("的家属"));
        assert!(names_someone_else(" wife"));
        assert!(!names_someone_else("建议"));
    }
}
