//! A chat stream's bytes split at arbitrary points read as they do whole, with a cap on an
//! event that holds; every event's data through the delta parser (never a panic) and the
//! sentence chunker (split anywhere, the same chunks; trimmed, never empty, no character
//! but whitespace lost).
#![no_main]

use libfuzzer_sys::fuzz_target;
use steward_llm::{SentenceChunker, SseReader, parse_delta};

/// Sizes of the pieces, from the seed: 1 to 16 bytes.
struct Pieces(u32);

impl Pieces {
    fn next(&mut self, left: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        1 + (self.0 as usize % 16).min(left - 1)
    }
}

fn chunks(text: &str, max: usize, pieces: Option<&mut Pieces>) -> Vec<String> {
    let mut chunker = SentenceChunker::new(max);
    let mut out = Vec::new();
    match pieces {
        None => out.extend(chunker.push(text)),
        Some(pieces) => {
            let mut rest = text;
            while !rest.is_empty() {
                let mut n = pieces.next(rest.len());
                while !rest.is_char_boundary(n) {
                    n += 1;
                }
                out.extend(chunker.push(&rest[..n]));
                rest = &rest[n..];
            }
        }
    }
    out.extend(chunker.finish());
    out
}

fn no_space(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

fuzz_target!(|data: &[u8]| {
    let Some((&seed, bytes)) = data.split_first() else { return };
    let cap = 16 + usize::from(seed) * 8;
    let whole = SseReader::new(cap).push(bytes);

    let mut pieces = Pieces(u32::from(seed) | 0x9E37_0000);
    let mut reader = SseReader::new(cap);
    let mut split = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let n = pieces.next(rest.len());
        split.extend(reader.push(&rest[..n]));
        rest = &rest[n..];
    }
    assert_eq!(split, whole);

    for event in whole.into_iter().flatten() {
        assert!(event.data.len() <= cap, "an event over the cap");
        let _ = parse_delta(&event.data);
        let max = 1 + usize::from(seed % 40);
        let once = chunks(&event.data, max, None);
        assert_eq!(chunks(&event.data, max, Some(&mut pieces)), once, "chunks differ when split");
        assert!(once.iter().all(|c| !c.is_empty() && c.trim() == c));
        assert_eq!(no_space(&once.concat()), no_space(&event.data));
    }
});
