//! Text normalization for matching: one table lookup per code point.
//!
//! See the crate docs for the list of steps; [`steps`] has each of them as a
//! separate (slow) function.

pub mod steps;
mod variants;

use std::collections::HashMap;
use std::sync::OnceLock;

use steps::Boundary;

/// Normalizes `s` for matching (see the crate docs for the steps).
///
/// ```
/// assert_eq!(steward_text::normalize("Ｈｅｌｌｏ，  Wörld！[doge]資訊"), "hello world资讯");
/// ```
pub fn normalize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    normalize_into(s, &mut out);
    out
}

/// Normalizes `s` into `out`, which is cleared first; reusing `out` across
/// calls avoids allocating.
///
/// Characters that the table maps to themselves are not pushed one by one:
/// runs of them are copied from `s` in bulk, so text that is mostly
/// simplified Chinese or lower-case ASCII costs little more than a table
/// lookup per character.
pub fn normalize_into(s: &str, out: &mut String) {
    normalize_to(s, out);
}

/// The code points of [`normalize`]`(s)` into `out`, which is cleared first:
/// what the shingler reads, without encoding the text to UTF-8 and decoding
/// it again.
pub fn normalize_chars_into(s: &str, out: &mut Vec<u32>) {
    normalize_to(s, out);
}

/// Where normalized text goes. A character the table maps to itself is given
/// twice, as a code point ([`keep`](Sink::keep)) and within the run of input
/// it ends ([`copy_run`](Sink::copy_run)): each sink takes the form it needs
/// and ignores the other.
pub(crate) trait Sink {
    /// Empties the sink and makes room for text of about `len` bytes.
    fn clear_for(&mut self, len: usize);
    /// The pure-ASCII fast path: byte in, at most one byte (plus a boundary
    /// space) out.
    fn push_ascii(&mut self, table: &Table, bytes: &[u8]);
    /// A run of input characters that map to themselves.
    fn copy_run(&mut self, run: &str);
    /// One input character that maps to itself.
    fn keep(&mut self, cp: u32);
    /// A character that the input character maps to.
    fn push(&mut self, c: char);
}

impl Sink for String {
    fn clear_for(&mut self, len: usize) {
        self.clear();
        self.reserve(len);
    }

    fn push_ascii(&mut self, table: &Table, bytes: &[u8]) {
        let mut buf = std::mem::take(self).into_bytes();
        normalize_ascii(table, bytes, |b| buf.push(b));
        *self = match String::from_utf8(buf) {
            Ok(s) => s,
            // Unreachable: only ASCII bytes were pushed.
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        };
    }

    #[inline(always)]
    fn copy_run(&mut self, run: &str) {
        self.push_str(run);
    }

    #[inline(always)]
    fn keep(&mut self, _: u32) {}

    #[inline(always)]
    fn push(&mut self, c: char) {
        String::push(self, c);
    }
}

impl Sink for Vec<u32> {
    fn clear_for(&mut self, len: usize) {
        self.clear();
        // At least one byte per character.
        self.reserve(len);
    }

    fn push_ascii(&mut self, table: &Table, bytes: &[u8]) {
        normalize_ascii(table, bytes, |b| self.push(u32::from(b)));
    }

    #[inline(always)]
    fn copy_run(&mut self, _: &str) {}

    #[inline(always)]
    fn keep(&mut self, cp: u32) {
        Vec::push(self, cp);
    }

    #[inline(always)]
    fn push(&mut self, c: char) {
        Vec::push(self, u32::from(c));
    }
}

/// [`normalize_into`] for any sink.
fn normalize_to(s: &str, out: &mut impl Sink) {
    let table = table();
    out.clear_for(s.len());
    if s.is_ascii() {
        out.push_ascii(table, s.as_bytes());
        return;
    }
    let mut state = Boundary::default();
    let bytes = s.as_bytes();
    // Start of the pending run of identity-mapped input, copied when it ends.
    let mut run = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let (cp, entry, width) = if b < 0x80 {
            if b == b'['
                && let Some(n) = steps::emoticon_len(&s[i..])
            {
                out.copy_run(&s[run..i]);
                i += n;
                run = i;
                continue;
            }
            (u32::from(b), table.ascii[b as usize], 1)
        } else {
            let (cp, width) = decode(bytes, i);
            if width == 3 && table.is_plain_unspaced(cp) {
                // The bits first: `stage2` is large, and most characters of a
                // Chinese text need only these.
                state.mark(false);
                out.keep(cp);
                i = table.keep_plain_unspaced(bytes, i + 3, out);
                continue;
            }
            if cp == 0xFF3B
                && let Some(n) = steps::emoticon_len(&s[i..])
            {
                out.copy_run(&s[run..i]);
                i += n;
                run = i;
                continue;
            }
            (cp, table.lookup(cp), width)
        };
        if entry & IDENTITY != 0 {
            let spaced = entry & KIND_MASK == SPACED;
            if spaced && state.needs_space() {
                out.copy_run(&s[run..i]);
                out.push(' ');
                run = i;
            }
            // Unchanged unspaced three-byte characters took the path above.
            state.mark(spaced);
            out.keep(cp);
        } else {
            out.copy_run(&s[run..i]);
            table.emit(entry, out, &mut state);
            run = i + width;
        }
        i += width;
    }
    out.copy_run(&s[run..]);
}

/// The pure-ASCII fast path: byte in, at most one byte (plus a boundary
/// space) out, through the 128-entry table.
#[inline(always)]
fn normalize_ascii(table: &Table, bytes: &[u8], mut push: impl FnMut(u8)) {
    let mut pending = false;
    let mut last_spaced = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'[' {
            // ASCII text: the emoticon, if any, is ASCII too.
            if let Some(n) = ascii_emoticon_len(&bytes[i..]) {
                i += n;
                continue;
            }
        }
        let entry = table.ascii[b as usize];
        match entry & KIND_MASK {
            SPACED => {
                if pending && last_spaced {
                    push(b' ');
                }
                // ASCII letters and digits map to ASCII letters and digits.
                push((entry & CHAR_MASK) as u8);
                last_spaced = true;
                pending = false;
            }
            SPACE => pending = true,
            _ => {}
        }
        i += 1;
    }
}

fn ascii_emoticon_len(bytes: &[u8]) -> Option<usize> {
    let inner = bytes[1..].iter().take(7).position(|&b| !b.is_ascii_alphanumeric())?;
    (inner > 0 && bytes[1 + inner] == b']').then_some(inner + 2)
}

/// The code point of a three-byte UTF-8 sequence.
#[inline(always)]
fn decode3(b0: u8, b1: u8, b2: u8) -> u32 {
    (u32::from(b0 & 0x0F) << 12) | (u32::from(b1 & 0x3F) << 6) | u32::from(b2 & 0x3F)
}

/// Decodes the non-ASCII character starting at `bytes[i]`; `bytes` is valid
/// UTF-8 (it comes from a `&str`).
#[inline(always)]
fn decode(bytes: &[u8], i: usize) -> (u32, usize) {
    let b0 = u32::from(bytes[i]);
    if b0 < 0xE0 {
        (((b0 & 0x1F) << 6) | (u32::from(bytes[i + 1]) & 0x3F), 2)
    } else if b0 < 0xF0 {
        (decode3(bytes[i], bytes[i + 1], bytes[i + 2]), 3)
    } else {
        (
            ((b0 & 0x07) << 18)
                | ((u32::from(bytes[i + 1]) & 0x3F) << 12)
                | ((u32::from(bytes[i + 2]) & 0x3F) << 6)
                | (u32::from(bytes[i + 3]) & 0x3F),
            4,
        )
    }
}

// A table entry: the low 21 bits hold a character (or, for `MULTI`, an index
// into `Table::spans`), bits 21.. the kind.
const KIND_SHIFT: u32 = 21;
const CHAR_MASK: u32 = (1 << KIND_SHIFT) - 1;
const DROP: u32 = 0;
const SPACE: u32 = 1 << KIND_SHIFT;
const SPACED: u32 = 2 << KIND_SHIFT;
const UNSPACED: u32 = 3 << KIND_SHIFT;
const MULTI: u32 = 4 << KIND_SHIFT;
const KIND_MASK: u32 = 7 << KIND_SHIFT;
/// Set on `SPACED` and `UNSPACED` entries whose character is the input
/// character itself.
const IDENTITY: u32 = 8 << KIND_SHIFT;

const BLOCK_BITS: u32 = 8;
const BLOCK: usize = 1 << BLOCK_BITS;
const PLANES: u32 = 0x110000;
// Code points from here to U+DFFFF are unassigned or private use: one shared
// all-drop block covers them without building.
const BUILD_LIMIT: u32 = 0x40000;
const TAGS: std::ops::Range<u32> = 0xE0000..0xE1000;

/// An entry for an unchanged unspaced character (most Chinese characters).
const fn is_plain_unspaced_entry(entry: u32) -> bool {
    entry & (IDENTITY | KIND_MASK) == IDENTITY | UNSPACED
}

pub(crate) struct Table {
    ascii: [u32; 128],
    /// Block number for each 256-code-point block.
    stage1: Vec<u16>,
    /// Deduplicated blocks of entries.
    stage2: Vec<u32>,
    /// `(start, len)` into `expansions` for `MULTI` entries.
    spans: Vec<(u32, u32)>,
    expansions: Vec<u32>,
    /// A bit per code point below U+10000, set when it is an unchanged
    /// unspaced character: the look-up of Chinese text's fast path, 8 KiB
    /// (its CJK part under 3 KiB) where `stage2` holds about 80 KiB for CJK.
    plain_unspaced: Box<[u64; 0x10000 / 64]>,
}

fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(Table::build)
}

/// Builds the lookup table now instead of on the first call of
/// [`normalize`] (it takes 0.1–0.3 s in release builds).
pub fn warm_up() {
    table();
}

impl Table {
    #[inline(always)]
    fn lookup(&self, cp: u32) -> u32 {
        let block = self.stage1[(cp >> BLOCK_BITS) as usize] as usize;
        self.stage2[(block << BLOCK_BITS) | (cp as usize & (BLOCK - 1))]
    }

    /// [`is_plain_unspaced_entry`]`(self.lookup(cp))`, for `cp < 0x10000`.
    #[inline(always)]
    fn is_plain_unspaced(&self, cp: u32) -> bool {
        debug_assert!(cp < 0x10000);
        // The mask keeps the index in bounds without a check.
        self.plain_unspaced[(cp >> 6) as usize & 0x3FF] >> (cp & 63) & 1 != 0
    }

    /// Keeps the run of unchanged unspaced three-byte characters from
    /// `bytes[i]` on and returns its end: most of a Chinese text, which
    /// leaves the boundary state as it is and so needs only the look-ups.
    #[inline(always)]
    fn keep_plain_unspaced(&self, bytes: &[u8], mut i: usize, out: &mut impl Sink) -> usize {
        while let Some(&[b0, b1, b2]) = bytes.get(i..i + 3) {
            let cp = decode3(b0, b1, b2);
            if b0 & 0xF0 != 0xE0 || !self.is_plain_unspaced(cp) {
                break;
            }
            out.keep(cp);
            i += 3;
        }
        i
    }

    #[inline(always)]
    fn emit(&self, entry: u32, out: &mut impl Sink, state: &mut Boundary) {
        match entry & KIND_MASK {
            DROP => {}
            SPACE => state.space(),
            MULTI => self.emit_multi(entry, out, state),
            kind => {
                // Entries are built from `char`s, so the fallback never happens.
                let c = char::from_u32(entry & CHAR_MASK).unwrap_or('\u{FFFD}');
                state.push_char(out, c, kind == UNSPACED);
            }
        }
    }

    #[cold]
    fn emit_multi(&self, entry: u32, out: &mut impl Sink, state: &mut Boundary) {
        let (start, len) = self.spans[(entry & CHAR_MASK) as usize];
        for &e in &self.expansions[start as usize..(start + len) as usize] {
            self.emit(e, out, state);
        }
    }

    fn build() -> Table {
        let conv = steps::t2s_converter();
        let mut spans = Vec::new();
        let mut expansions = Vec::new();
        let mut entry_of = |c: char| -> u32 {
            let mut outs: Vec<u32> = Vec::new();
            steps::map_char(c, conv, &mut |d| {
                outs.push(if d == ' ' {
                    SPACE
                } else if steps::is_unspaced_script(d) {
                    UNSPACED | d as u32
                } else {
                    SPACED | d as u32
                });
            });
            match outs.len() {
                0 => DROP,
                1 if outs[0] & CHAR_MASK == c as u32 && outs[0] & KIND_MASK != SPACE => outs[0] | IDENTITY,
                1 => outs[0],
                n => {
                    spans.push((expansions.len() as u32, n as u32));
                    expansions.extend_from_slice(&outs);
                    MULTI | (spans.len() as u32 - 1)
                }
            }
        };

        let mut ascii = [DROP; 128];
        for (b, slot) in ascii.iter_mut().enumerate() {
            *slot = entry_of(char::from(b as u8));
        }

        let mut stage1 = Vec::with_capacity((PLANES >> BLOCK_BITS) as usize);
        let mut stage2: Vec<u32> = Vec::new();
        let mut seen: HashMap<Vec<u32>, u16> = HashMap::new();
        let mut block = vec![DROP; BLOCK];
        for b in 0..(PLANES >> BLOCK_BITS) {
            let base = b << BLOCK_BITS;
            if base < BUILD_LIMIT || TAGS.contains(&base) {
                for (k, slot) in block.iter_mut().enumerate() {
                    *slot = char::from_u32(base + k as u32).map_or(DROP, &mut entry_of);
                }
            } else {
                block.fill(DROP);
            }
            let next = (stage2.len() / BLOCK) as u16;
            let id = *seen.entry(block.clone()).or_insert_with(|| {
                stage2.extend_from_slice(&block);
                next
            });
            stage1.push(id);
        }
        let mut table = Table { ascii, stage1, stage2, spans, expansions, plain_unspaced: Box::new([0; 0x10000 / 64]) };
        for cp in 0..0x10000 {
            if is_plain_unspaced_entry(table.lookup(cp)) {
                table.plain_unspaced[cp as usize / 64] |= 1 << (cp % 64);
            }
        }
        table
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_table_matches_block_zero() {
        let t = table();
        for b in 0u32..128 {
            assert_eq!(t.ascii[b as usize], t.lookup(b));
        }
    }

    #[test]
    fn plain_unspaced_bits_match_the_table() {
        let t = table();
        for cp in 0..0x10000 {
            assert_eq!(t.is_plain_unspaced(cp), is_plain_unspaced_entry(t.lookup(cp)), "U+{cp:04X}");
        }
    }

    #[test]
    fn table_is_compact() {
        let t = table();
        let bytes = t.stage1.len() * 2 + t.stage2.len() * 4 + t.expansions.len() * 4 + t.plain_unspaced.len() * 8;
        assert!(bytes < 4 << 20, "{bytes}");
    }
}
