//! Character n-gram shingles over normalized text, hashed from their code
//! points.
//!
//! Up to [`PACKED_MAX`] characters pack into one `u64` (21 bits each, so
//! distinct shingles never share a key) that one mixing step hashes: a
//! rolling window over the text costs a shift and a mix per shingle, instead
//! of hashing the shingle's bytes again. Longer n-grams fold their code points
//! one at a time.

use crate::minhash::{fold_mul, mix64};

/// Default shingle length in characters: 3 suits Chinese, where a character is
/// close to a morpheme; for Latin text 3-grams include the word-boundary space.
pub const DEFAULT_NGRAM: usize = 3;

/// Default seed for shingle hashing.
pub const DEFAULT_SEED: u64 = 0x5354_4557_4152_4431; // "STEWARD1"

/// Longest n-gram whose code points are packed into one key.
pub const PACKED_MAX: usize = 3;

/// Bits per code point in a packed key.
const CHAR_BITS: u32 = 21;

/// Marks the key of a text shorter than n characters, so that it differs
/// from every full window (bit 63 is above 3 × 21 bits).
const SHORT: u64 = 1 << 63;

/// Hash of a packed key: splitmix64's finalizer, a bijection whose every
/// output bit depends on every input bit, so bins (high bits) and values (low
/// bits) of the MinHash are both well spread.
#[inline(always)]
fn hash_key(key: u64, seed: u64) -> u64 {
    mix64(key ^ seed)
}

/// Hash of more than [`PACKED_MAX`] code points: folded one at a time by
/// 64 × 64 → 128-bit multiplications, then mixed with the count.
fn folded(chars: impl Iterator<Item = u32>, len: usize, seed: u64) -> u64 {
    const P: u64 = 0xA409_3822_299F_31D1;
    let h = chars.fold(seed, |h, c| fold_mul(h ^ u64::from(c), P));
    hash_key(h ^ len as u64, seed)
}

/// Calls `f` with the hash (seeded with `seed`) of every
/// window of `n` consecutive characters of `text`, in order and with repeats,
/// and returns how many windows there were.
///
/// Nothing is skipped for short texts: a non-empty text of fewer than `n`
/// characters yields one shingle, the whole text. An empty text yields none.
/// `n == 0` is treated as 1.
///
/// The code points are collected first; [`for_each_shingle_of`] takes them
/// as they are.
pub fn for_each_shingle(text: &str, n: usize, seed: u64, f: impl FnMut(u64)) -> usize {
    let chars: Vec<u32> = text.chars().map(u32::from).collect();
    for_each_shingle_of(&chars, n, seed, f)
}

/// [`for_each_shingle`] over a text's code points.
#[inline]
pub fn for_each_shingle_of(chars: &[u32], n: usize, seed: u64, f: impl FnMut(u64)) -> usize {
    let n = n.max(1);
    if chars.is_empty() {
        return 0;
    }
    if n > PACKED_MAX {
        return for_each_shingle_long(chars, n, seed, f);
    }
    for_each_packed(chars, n, seed, f)
}

/// [`for_each_shingle_of`] for `n ≤ PACKED_MAX` and a non-empty text: a
/// rolling key of the last `n` code points.
#[inline(always)]
fn for_each_packed(chars: &[u32], n: usize, seed: u64, mut f: impl FnMut(u64)) -> usize {
    debug_assert!((1..=PACKED_MAX).contains(&n));
    let mask = (1u64 << (CHAR_BITS as usize * n)) - 1;
    let push = |key: u64, &c: &u32| ((key << CHAR_BITS) | u64::from(c)) & mask;
    if chars.len() < n {
        // Shorter than a window: one shingle, the whole text.
        f(hash_key(chars.iter().fold(0, push) | SHORT, seed));
        return 1;
    }
    // The first n − 1 characters only fill the window.
    let (fill, rest) = chars.split_at(n - 1);
    let mut key = fill.iter().fold(0, push);
    for c in rest {
        key = push(key, c);
        f(hash_key(key, seed));
    }
    rest.len()
}

/// [`for_each_shingle_of`] for `n > PACKED_MAX` and a non-empty text.
fn for_each_shingle_long(chars: &[u32], n: usize, seed: u64, mut f: impl FnMut(u64)) -> usize {
    if chars.len() < n {
        f(folded(chars.iter().copied(), chars.len(), seed));
        return 1;
    }
    for w in chars.windows(n) {
        f(folded(w.iter().copied(), n, seed));
    }
    chars.len() - n + 1
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

    /// The hash of one shingle of an `n`-gram shingling given as its characters:
    /// what [`for_each_shingle`] calls `f` with for a window of `n` characters,
    /// or for a whole text shorter than `n` (`chars.len() < n`).
    fn shingle_hash(chars: &[char], n: usize, seed: u64) -> u64 {
        if n <= PACKED_MAX {
            let key = chars.iter().fold(0u64, |k, &c| (k << CHAR_BITS) | u64::from(c));
            return hash_key(if chars.len() < n { key | SHORT } else { key }, seed);
        }
        folded(chars.iter().map(|&c| u32::from(c)), chars.len(), seed)
    }

    /// Naive reference: every window of `n` characters hashed on its own.
    fn grams(text: &str, n: usize) -> Vec<u64> {
        let chars: Vec<char> = text.chars().collect();
        if chars.is_empty() {
            return vec![];
        }
        if chars.len() < n {
            return vec![shingle_hash(&chars, n, DEFAULT_SEED)];
        }
        chars.windows(n).map(|w| shingle_hash(w, n, DEFAULT_SEED)).collect()
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
    fn hashes_of_structured_shingles_are_uniform() {
        // Neighbouring code points, the most regular input there is: bins (high
        // bits) must be even and every low bit (the MinHash values) fair.
        let pool: Vec<char> = (0x4E00..0x4E28).chain(0x61..0x71).filter_map(char::from_u32).collect();
        let mut bins = [0u32; 128];
        let mut ones = [0u32; 32];
        let mut total = 0u32;
        for &a in &pool {
            for &b in &pool {
                for &c in &pool {
                    let h = shingle_hash(&[a, b, c], 3, DEFAULT_SEED);
                    bins[(h >> 57) as usize] += 1;
                    for (bit, n) in ones.iter_mut().enumerate() {
                        *n += (h >> bit) as u32 & 1;
                    }
                    total += 1;
                }
            }
        }
        let expected = f64::from(total) / 128.0;
        let chi2: f64 = bins.iter().map(|&n| (f64::from(n) - expected).powi(2) / expected).sum();
        // 127 degrees of freedom: p < 0.001 above 181.
        assert!(chi2 < 181.0, "chi2 {chi2}");
        for n in ones {
            assert!((f64::from(n) / f64::from(total) - 0.5).abs() < 0.01, "{n} of {total}");
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
