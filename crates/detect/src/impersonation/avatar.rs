//! Avatars: perceptual hashes (hex) of protected identities' avatars, and the lookup of the
//! nearest one to an account's avatar by Hamming distance.
//!
//! Two images whose perceptual hashes differ in few bits look the same; the tolerance is
//! [`max_distance`] (6 of 64 bits, in proportion for longer hashes). The index splits each
//! hash into `max_distance + 1` blocks: two hashes within the tolerance agree exactly on at
//! least one block (pigeonhole), so a lookup only compares hashes that share a block.

use std::collections::HashMap;

/// Hashes are 32 to 256 bits (8 to 64 hex digits).
const MIN_BITS: usize = 32;
const MAX_BITS: usize = 256;

/// A parsed perceptual hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hash {
    words: Vec<u64>,
    bits: usize,
}

impl Hash {
    /// Parses a hex hash (optional `0x`); `None` when it is not one, or when it is nearly
    /// blank (a uniform image matches every other uniform image).
    pub fn parse(hex: &str) -> Option<Hash> {
        let hex = hex.trim();
        let hex = hex.strip_prefix("0x").unwrap_or(hex);
        let bits = hex.len() * 4;
        if !(MIN_BITS..=MAX_BITS).contains(&bits) || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let mut words = vec![0u64; bits.div_ceil(64)];
        for (i, b) in hex.bytes().enumerate() {
            let v = (b as char).to_digit(16)? as u64;
            words[i / 16] |= v << (60 - 4 * (i % 16));
        }
        let ones: u32 = words.iter().map(|w| w.count_ones()).sum();
        let ones = ones as usize;
        (ones > bits / 8 && ones < bits - bits / 8).then_some(Hash { words, bits })
    }

    pub fn distance(&self, other: &Hash) -> Option<u32> {
        (self.bits == other.bits).then(|| self.words.iter().zip(&other.words).map(|(a, b)| (a ^ b).count_ones()).sum())
    }

    /// Bits `lo..hi` (at most 64) as a number.
    fn block(&self, lo: usize, hi: usize) -> u64 {
        let mut v = 0u64;
        for bit in lo..hi {
            let set = self.words[bit / 64] >> (63 - bit % 64) & 1;
            v = v << 1 | set;
        }
        v
    }

    fn blocks(&self) -> impl Iterator<Item = u64> + '_ {
        let n = max_distance(self.bits) as usize + 1;
        (0..n).map(move |i| {
            let (lo, hi) = (i * self.bits / n, (i + 1) * self.bits / n);
            let v = self.block(lo, hi);
            // Key: length, block number, value.
            (self.bits as u64) << 56 ^ (i as u64) << 48 ^ v.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 16
        })
    }
}

/// Bits two hashes of `bits` bits may differ in and still be the same picture.
pub fn max_distance(bits: usize) -> u32 {
    (bits * 6 / 64) as u32
}

/// Avatar hashes of identities, by block.
#[derive(Debug, Default)]
pub struct AvatarIndex {
    hashes: Vec<Option<(u32, Hash)>>,
    blocks: HashMap<u64, Vec<u32>>,
}

impl AvatarIndex {
    /// Adds the avatars of identity `owner`; returns the slots of the usable hashes.
    pub fn add(&mut self, owner: u32, hexes: &[String]) -> Vec<u32> {
        let mut added = Vec::new();
        for h in hexes.iter().filter_map(|h| Hash::parse(h)) {
            let slot = self.hashes.len() as u32;
            for key in h.blocks() {
                let list = self.blocks.entry(key).or_default();
                if list.last() != Some(&slot) {
                    list.push(slot);
                }
            }
            self.hashes.push(Some((owner, h)));
            added.push(slot);
        }
        added
    }

    /// Forgets the hashes in `slots` (as returned by [`AvatarIndex::add`]).
    pub fn remove(&mut self, slots: &[u32]) {
        for &slot in slots {
            let Some((_, h)) = self.hashes.get_mut(slot as usize).and_then(Option::take) else { continue };
            for key in h.blocks() {
                if let Some(list) = self.blocks.get_mut(&key) {
                    list.retain(|&s| s != slot);
                    if list.is_empty() {
                        self.blocks.remove(&key);
                    }
                }
            }
        }
    }

    /// The identity whose avatar is nearest to `hex`, within the tolerance, and the distance.
    pub fn nearest(&self, hex: &str) -> Option<(u32, u32)> {
        let query = Hash::parse(hex)?;
        let limit = max_distance(query.bits);
        let mut best: Option<(u32, u32)> = None;
        for key in query.blocks() {
            for &slot in self.blocks.get(&key).map(Vec::as_slice).unwrap_or_default() {
                let Some((owner, h)) = &self.hashes[slot as usize] else { continue };
                let Some(d) = query.distance(h) else { continue };
                if d <= limit && best.is_none_or(|(_, bd)| d < bd) {
                    best = Some((*owner, d));
                }
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "f0e1d2c3b4a59687";

    fn flip(hex: &str, bits: &[usize]) -> String {
        let mut v = u64::from_str_radix(hex, 16).unwrap();
        for b in bits {
            v ^= 1 << b;
        }
        format!("{v:016x}")
    }

    #[test]
    fn near_hashes_are_found_and_far_ones_not() {
        let mut idx = AvatarIndex::default();
        let slots = idx.add(7, &[A.to_string(), "not hex".into(), "0000000000000000".into()]);
        assert_eq!(slots.len(), 1);
        assert_eq!(idx.nearest(A), Some((7, 0)));
        assert_eq!(idx.nearest(&flip(A, &[0, 9, 17, 33, 50, 63])), Some((7, 6)));
        assert_eq!(idx.nearest(&flip(A, &[0, 9, 17, 33, 50, 61, 63])), None);
        assert_eq!(idx.nearest("zz"), None);
        assert_eq!(idx.nearest(""), None);
        idx.remove(&slots);
        assert_eq!(idx.nearest(A), None);
    }

    #[test]
    fn hashes_of_other_lengths_never_match() {
        let mut idx = AvatarIndex::default();
        idx.add(1, &[format!("{A}{A}")]);
        assert_eq!(idx.nearest(A), None);
        assert_eq!(idx.nearest(&format!("0x{A}{A}")), Some((1, 0)));
    }
}
