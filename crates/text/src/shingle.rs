//! Character n-gram shingles over normalized text, hashed with xxh3.

use xxhash_rust::xxh3::xxh3_64_with_seed;

/// Default shingle length in characters: 3 suits Chinese, where a character is
/// close to a morpheme; for Latin text 3-grams include the word-boundary space.
pub const DEFAULT_NGRAM: usize = 3;

/// Default seed for shingle hashing.
pub const DEFAULT_SEED: u64 = 0x5354_4557_4152_4431; // "STEWARD1"

/// Calls `f` with the xxh3 hash (seeded with `seed`) of every window of `n`
/// consecutive characters of `text`, in order and with repeats, and returns how
/// many windows there were.
///
/// Nothing is skipped for short texts: a non-empty text of fewer than `n`
/// characters yields one shingle, the whole text. An empty text yields none.
/// `n == 0` is treated as 1.
pub fn for_each_shingle(text: &str, n: usize, seed: u64, mut f: impl FnMut(u64)) -> usize {
    let n = n.max(1);
    let bytes = text.as_bytes();
    if bytes.is_empty() {
        return 0;
    }
    // Fast path: pure ASCII text, where characters are bytes.
    if text.is_ascii() {
        if bytes.len() <= n {
            f(xxh3_64_with_seed(bytes, seed));
            return 1;
        }
        for w in bytes.windows(n) {
            f(xxh3_64_with_seed(w, seed));
        }
        return bytes.len() - n + 1;
    }
    // General path: a ring of the byte offsets where the last n characters start.
    let mut starts = [0usize; 64];
    if n > starts.len() {
        return for_each_shingle_long(text, n, seed, f);
    }
    let mut count = 0usize;
    let mut seen = 0usize;
    for (i, _) in text.char_indices() {
        if seen >= n {
            let start = starts[(seen - n) % 64];
            f(xxh3_64_with_seed(&bytes[start..i], seed));
            count += 1;
        }
        starts[seen % 64] = i;
        seen += 1;
    }
    let start = if seen >= n { starts[(seen - n) % 64] } else { 0 };
    f(xxh3_64_with_seed(&bytes[start..], seed));
    count + 1
}

fn for_each_shingle_long(text: &str, n: usize, seed: u64, mut f: impl FnMut(u64)) -> usize {
    let starts: Vec<usize> = text.char_indices().map(|(i, _)| i).chain([text.len()]).collect();
    let chars = starts.len() - 1;
    if chars <= n {
        f(xxh3_64_with_seed(text.as_bytes(), seed));
        return 1;
    }
    for w in starts.windows(n + 1) {
        f(xxh3_64_with_seed(&text.as_bytes()[w[0]..w[n]], seed));
    }
    chars - n + 1
}

/// The shingle hashes of `text` (see [`for_each_shingle`]) appended to `out`,
/// which is cleared first; returns their number.
pub fn shingles_into(text: &str, n: usize, seed: u64, out: &mut Vec<u64>) -> usize {
    out.clear();
    for_each_shingle(text, n, seed, |h| out.push(h))
}

/// The shingle hashes of `text` with the default seed, in order, with repeats.
pub fn shingles(text: &str, n: usize) -> Vec<u64> {
    let mut out = Vec::new();
    shingles_into(text, n, DEFAULT_SEED, &mut out);
    out
}

/// Exact Jaccard similarity of two multisets of shingle hashes taken as sets
/// (repeats ignored). Two empty sets have similarity 0.
pub fn exact_jaccard(a: &[u64], b: &[u64]) -> f64 {
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    a.sort_unstable();
    a.dedup();
    b.sort_unstable();
    b.dedup();
    exact_jaccard_sorted(&a, &b)
}

/// [`exact_jaccard`] for inputs already sorted and without repeats.
pub fn exact_jaccard_sorted(a: &[u64], b: &[u64]) -> f64 {
    let (mut i, mut j, mut inter) = (0, 0, 0usize);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                inter += 1;
                i += 1;
                j += 1;
            }
        }
    }
    let union = a.len() + b.len() - inter;
    if union == 0 { 0.0 } else { inter as f64 / union as f64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grams(text: &str, n: usize) -> Vec<u64> {
        let chars: Vec<char> = text.chars().collect();
        if chars.is_empty() {
            return vec![];
        }
        if chars.len() <= n {
            return vec![xxh3_64_with_seed(text.as_bytes(), DEFAULT_SEED)];
        }
        chars
            .windows(n)
            .map(|w| {
                let s: String = w.iter().collect();
                xxh3_64_with_seed(s.as_bytes(), DEFAULT_SEED)
            })
            .collect()
    }

    #[test]
    fn matches_naive_windows() {
        for text in [
            "",
            "a",
            "ab",
            "abc",
            "abcd",
            "hello world",
            "中",
            "中文",
            "中文字",
            "今天天气很好我们去公园",
            "mixed中英text文本",
        ] {
            for n in [1, 2, 3, 5] {
                assert_eq!(shingles(text, n), grams(text, n), "{text:?} n={n}");
            }
        }
    }

    #[test]
    fn counts_and_short_texts() {
        assert_eq!(shingles("", 3).len(), 0);
        assert_eq!(shingles("转发", 3).len(), 1);
        assert_eq!(shingles("转发微博", 3).len(), 2);
        assert_eq!(shingles("abcdef", 3).len(), 4);
        let long: String = "一二三四五六七八九十".repeat(10);
        assert_eq!(shingles(&long, 70).len(), 31);
        assert_eq!(shingles(&long, 70), grams(&long, 70));
    }

    #[test]
    fn shingles_are_position_free() {
        let a = shingles("我们今天去公园", 3);
        let b = shingles("今天去公园", 3);
        assert!(b.iter().all(|h| a.contains(h)));
    }

    #[test]
    fn exact_jaccard_basics() {
        let a = shingles("今天天气很好", 3);
        assert_eq!(exact_jaccard(&a, &a), 1.0);
        assert_eq!(exact_jaccard(&[], &[]), 0.0);
        // 4 shingles each, 3 shared → 3 / 5.
        let b = shingles("今天天气很坏", 3);
        assert!((exact_jaccard(&a, &b) - 3.0 / 5.0).abs() < 1e-12);
    }
}
