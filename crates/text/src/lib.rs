//! Text matching primitives for steward: normalization, shingles, MinHash
//! signatures and a sliding-window LSH index for near-duplicate detection.
//!
//! Every text detector (copy-paste campaigns, re-spread of refuted claims,
//! impersonation) matches text through this crate, so that evasions that do not
//! change what a reader sees — full-width letters, zero-width characters,
//! Cyrillic look-alikes, traditional characters, emoji and punctuation padding —
//! do not change what the detectors see either. The crate is pure: no I/O, no
//! global state other than a lazily built lookup table.
//!
//! # Main items
//!
//! * [`normalize()`] / [`normalize_into`]: the matching form of a text
//!   ([`normalize_chars_into`]: as code points). Steps, in
//!   order (each available alone in [`steps`]):
//!   1. bracket emoticons `[吃惊]`, `[doge]` removed (`[` + 1–6 ASCII letters or
//!      digits or Han characters + `]`, ASCII or full-width brackets);
//!   2. NFKC, code point by code point (full-width → half-width, ligatures,
//!      circled forms, Kangxi radicals, compatibility ideographs);
//!   3. zero-width and format characters removed (category Cf: U+200B–U+200F,
//!      U+202A–U+202E, U+2060–U+206F, U+FEFF, U+00AD… and the Hangul fillers);
//!   4. Latin, Cyrillic and Greek confusables folded to Latin with `decancer`
//!      (Chinese, Japanese, Korean and other scripts retained);
//!   5. Chinese look-alike and variant characters folded with a small table of
//!      the project's own (`囯` → `国`, `図` → `图`, `壹` → `一`);
//!   6. traditional → simplified Chinese, character by character, with OpenCC's
//!      tables (`ferrous-opencc`, Apache-2.0; `資訊` → `资讯`);
//!   7. lower case;
//!   8. punctuation, symbols and emoji removed without a gap; whitespace kept
//!      as one space only between two letters or digits of spaced scripts, so
//!      Latin word boundaries survive and Chinese text becomes one run.
//!
//!   All steps except 1 and 8 act on single code points, so they are composed
//!   into one lookup table (two-stage, about 0.5 MiB, built on first use in
//!   0.1–0.3 s; [`warm_up`] builds it eagerly); ASCII has its own 128-entry
//!   table. NFKC is thus applied per code point rather than over combining
//!   sequences: the results differ only for decomposed accents (which step 4
//!   and 8 strip either way) and conjoining Hangul jamo.
//! * [`shingle`]: character n-grams (default 3) of normalized text, hashed from
//!   their packed code points; short texts yield one shingle and the count is exposed.
//! * [`Signature`], [`OnePermutationHasher`]: MinHash signatures (default
//!   K = 128 × u32) by one-permutation hashing with optimal densification;
//!   [`estimate_jaccard`] compares two of them.
//! * [`SketchParams`], [`Sketcher`]: the parameters (n-gram, K, LSH bands ×
//!   rows, default 21 × 6) and the reusable text → signature pipeline; band
//!   hashes are [`SketchParams::band_hashes`].
//! * [`WindowIndex`]: streaming LSH index over a sliding time window (default 7
//!   days) keyed by post time, with lazy amortized eviction and a Jaccard
//!   estimate per candidate from a 4-bit compact signature. Posts with equal
//!   signatures (spam floods) share one duplicate group, so a query costs one
//!   entry per group plus one per candidate returned and no copy is dropped;
//!   320–390 bytes per post with default parameters (323 measured on 40 707
//!   real posts, 349 on 500 000 synthetic ones; more in an index of only a
//!   few thousand posts);
//!   [`WindowIndex::query_insert_into`] is the streaming step.
//!
//! # Example
//!
//! ```
//! use steward_text::{normalize, SketchParams, Sketcher, WindowIndex, DEFAULT_WINDOW_SECS};
//!
//! // Full-width, zero-width space, traditional characters, emoticon, punctuation:
//! assert_eq!(normalize("ＡＢＣ 資\u{200B}訊，[吃惊]！"), "abc资讯");
//!
//! let params = SketchParams::default();
//! let mut sketcher = Sketcher::new(params).unwrap();
//! let mut index = WindowIndex::new(params, DEFAULT_WINDOW_SECS).unwrap();
//!
//! let original = sketcher.sketch("紧急扩散！某地自来水被污染，千万不要喝自来水，转给家人朋友");
//! index.insert(0, 1_700_000_000, &original).unwrap();
//!
//! // A traditional-character copy with padding is found, with its similarity.
//! let copy = sketcher.sketch("緊急擴散!!某地自來水被污染 千萬不要喝自來水，轉給家人朋友[怒]");
//! let candidates = index.query(&copy);
//! assert_eq!(candidates[0].id, 0);
//! assert!(candidates[0].jaccard > 0.8);
//! assert!(steward_text::estimate_jaccard(&original, &copy) > 0.9);
//! ```

pub mod index;
pub mod lsh;
pub mod mentions;
pub mod minhash;
pub mod normalize;
pub mod shingle;

pub use index::{Candidate, DEFAULT_MAX_POSTINGS, DEFAULT_WINDOW_SECS, IndexError, MAX_WINDOW_SECS, WindowIndex};
pub use lsh::{DEFAULT_BANDS, DEFAULT_ROWS, ParamsError, SketchParams, Sketcher};
pub use mentions::strip_mentions;
pub use minhash::{DEFAULT_NUM_HASHES, OnePermutationHasher, Signature, estimate_jaccard};
pub use normalize::{normalize, normalize_chars_into, normalize_into, steps, warm_up};
pub use shingle::{DEFAULT_NGRAM, exact_jaccard, shingles};
