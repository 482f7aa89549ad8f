//! A streaming LSH index over a sliding time window.
//!
//! Layout, per post (defaults: K = 128, 21 bands):
//!
//! * one 8-byte slot per band in an open-addressing table per band: a 32-bit
//!   fingerprint of the band hash and either the post id or, when several posts
//!   share the band hash, the number of a posting list (capped at
//!   `max_postings` ids, oldest dropped first); tables are kept between 60 %
//!   and 85 % full;
//! * the post time (4 bytes, seconds since an internal epoch);
//! * a 4-bit compact signature (the low 4 bits of each of the K values,
//!   K/2 = 64 bytes), from which candidates get a Jaccard estimate
//!   (b-bit MinHash, Li & König 2010: `Ĵ = (m − 1/16)/(1 − 1/16)` where `m`
//!   is the fraction of equal nibbles; standard error ≈ 0.037 at J = 0.8,
//!   against 0.035 for full 32-bit values).
//!
//! Full signatures are not kept. Eviction is lazy and amortized: queries skip
//! expired posts, and when a band table reaches 85 % load every table is
//! rebuilt without them (and resized to 60 % load), so each insert costs O(1)
//! amortized slot moves.

use std::cmp::Ordering;
use std::fmt;

use crate::lsh::{ParamsError, SketchParams};
use crate::minhash::Signature;

/// Default window: 7 days, in seconds.
pub const DEFAULT_WINDOW_SECS: i64 = 7 * 24 * 3600;

/// Longest supported window (2³¹ s, 68 years); longer ones are clamped.
pub const MAX_WINDOW_SECS: i64 = 1 << 31;

/// Default cap on the number of posts kept for one band hash.
pub const DEFAULT_MAX_POSTINGS: usize = 64;

const ABSENT: u32 = u32::MAX;
const LIST_BIT: u32 = 1 << 31;
const MIN_CAPACITY: usize = 64;
// Load factors, in 1/1000.
const MAX_LOAD: usize = 850;
const TARGET_LOAD: usize = 600;
const NIBBLE_CHANCE: f64 = 1.0 / 16.0;

/// A post that shares at least one band with the query.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Candidate {
    /// The id it was inserted with.
    pub id: u32,
    /// Its post time (unix seconds).
    pub time: i64,
    /// Number of bands it shares with the query.
    pub bands: u32,
    /// Jaccard similarity estimated from its 4-bit compact signature.
    pub jaccard: f32,
}

/// Why an insert was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IndexError {
    /// The signature does not have the index's K values.
    SignatureLength {
        /// K of the index.
        expected: usize,
        /// Length of the signature given.
        got: usize,
    },
    /// The id is below the lowest id the index still tracks (ids below it
    /// have been evicted; ids are expected to grow roughly with time).
    IdEvicted {
        /// The id given.
        id: u32,
        /// The lowest id still tracked.
        lowest: u32,
    },
    /// The id is already in the index.
    DuplicateId(u32),
    /// The id is ≥ 2³¹.
    IdTooLarge(u32),
}

impl fmt::Display for IndexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IndexError::SignatureLength { expected, got } => {
                write!(f, "signature has {got} values, the index expects {expected}")
            }
            IndexError::IdEvicted { id, lowest } => {
                write!(f, "id {id} is below the lowest tracked id {lowest}")
            }
            IndexError::DuplicateId(id) => write!(f, "id {id} is already in the index"),
            IndexError::IdTooLarge(id) => write!(f, "id {id} is not below 2^31"),
        }
    }
}

impl std::error::Error for IndexError {}

#[derive(Clone, Copy, Default, Debug)]
struct Slot {
    /// 32-bit fingerprint of the band hash; 0 marks an empty slot.
    fp: u32,
    /// A post id, or `LIST_BIT | list number`.
    val: u32,
}

#[derive(Clone, Debug)]
struct BandTable {
    slots: Vec<Slot>,
    used: usize,
}

impl BandTable {
    fn with_capacity(cap: usize) -> Self {
        BandTable { slots: vec![Slot::default(); cap], used: 0 }
    }

    #[inline(always)]
    fn home(&self, fp: u32) -> usize {
        ((u64::from(fp) * self.slots.len() as u64) >> 32) as usize
    }

    /// Index of the slot holding `fp`, or of the empty slot where it would go.
    #[inline(always)]
    fn find(&self, fp: u32) -> usize {
        let n = self.slots.len();
        let mut i = self.home(fp);
        loop {
            let s = self.slots[i].fp;
            if s == fp || s == 0 {
                return i;
            }
            i += 1;
            if i == n {
                i = 0;
            }
        }
    }
}

#[inline(always)]
fn fingerprint(h: u64) -> u32 {
    ((h >> 32) as u32).max(1)
}

/// A streaming near-duplicate index over a sliding time window; see the
/// module docs for its layout.
///
/// Ids are dense `u32`s (`< 2³¹`) chosen by the caller, expected to grow
/// roughly with post time (e.g. arrival order): per-post data is kept in an
/// array indexed by `id − lowest live id`, so memory follows the id span of the
/// live window. Posts may arrive out of time order; the window is measured
/// from the latest time seen (by [`insert`](Self::insert) or
/// [`advance_to`](Self::advance_to)), so a post time far in the future moves
/// the window with it: validate times before inserting.
#[derive(Clone, Debug)]
pub struct WindowIndex {
    params: SketchParams,
    window: i64,
    max_postings: usize,
    /// Latest time seen (unix seconds); `None` before the first post.
    now: Option<i64>,
    /// Stored times are `time − epoch`.
    epoch: i64,
    /// Id of `times[0]`.
    id_base: u32,
    times: Vec<u32>,
    /// Compact signatures, `sig_stride` bytes per id.
    sigs: Vec<u8>,
    sig_stride: usize,
    tables: Vec<BandTable>,
    lists: Vec<Vec<u32>>,
    free_lists: Vec<u32>,
    stored: usize,
}

impl WindowIndex {
    /// An index for signatures made with `params`, keeping posts for
    /// `window_secs` seconds (clamped to `0..=MAX_WINDOW_SECS`), with the
    /// default posting-list cap.
    pub fn new(params: SketchParams, window_secs: i64) -> Result<Self, ParamsError> {
        Self::with_max_postings(params, window_secs, DEFAULT_MAX_POSTINGS)
    }

    /// As [`new`](Self::new), keeping at most `max_postings` (≥ 2) posts per
    /// band hash: a campaign of 10 000 identical posts then costs each new copy
    /// at most `bands × max_postings` candidate look-ups, and still links it to
    /// the most recent copies.
    pub fn with_max_postings(params: SketchParams, window_secs: i64, max_postings: usize) -> Result<Self, ParamsError> {
        params.validate()?;
        Ok(WindowIndex {
            params,
            window: window_secs.clamp(0, MAX_WINDOW_SECS),
            max_postings: max_postings.max(2),
            now: None,
            epoch: 0,
            id_base: 0,
            times: Vec::new(),
            sigs: Vec::new(),
            sig_stride: params.num_hashes.div_ceil(2),
            tables: (0..params.bands).map(|_| BandTable::with_capacity(MIN_CAPACITY)).collect(),
            lists: Vec::new(),
            free_lists: Vec::new(),
            stored: 0,
        })
    }

    /// The parameters signatures must be made with.
    pub fn params(&self) -> &SketchParams {
        &self.params
    }

    /// The window length in seconds.
    pub fn window_secs(&self) -> i64 {
        self.window
    }

    /// The latest time seen, if any.
    pub fn now(&self) -> Option<i64> {
        self.now
    }

    /// Number of posts stored, including expired ones not yet evicted.
    pub fn len(&self) -> usize {
        self.stored
    }

    /// True when no post is stored.
    pub fn is_empty(&self) -> bool {
        self.stored == 0
    }

    fn cutoff_rel(&self) -> i64 {
        match self.now {
            Some(now) => now - self.window - self.epoch,
            None => i64::MIN,
        }
    }

    #[inline(always)]
    fn rel_time(&self, id: u32) -> Option<u32> {
        let idx = id.checked_sub(self.id_base)? as usize;
        match self.times.get(idx) {
            Some(&t) if t != ABSENT => Some(t),
            _ => None,
        }
    }

    #[inline(always)]
    fn is_live(&self, id: u32, cutoff_rel: i64) -> bool {
        self.rel_time(id).is_some_and(|t| i64::from(t) >= cutoff_rel)
    }

    /// The post time of `id` if it is stored and inside the window.
    pub fn time_of(&self, id: u32) -> Option<i64> {
        let t = self.rel_time(id)?;
        (i64::from(t) >= self.cutoff_rel()).then(|| i64::from(t) + self.epoch)
    }

    /// Moves the window's end to `now` if that is later than the latest time
    /// seen. Posts that fall out of the window stop being returned at once and
    /// are freed at the next rebuild (or by [`evict_expired`](Self::evict_expired)).
    pub fn advance_to(&mut self, now: i64) {
        match self.now {
            None => {
                self.now = Some(now);
                self.epoch = now.saturating_sub(self.window).saturating_sub(1);
            }
            Some(t) if now > t => self.now = Some(now),
            Some(_) => {}
        }
    }

    /// Inserts post `id` with post time `time` (unix seconds) and signature
    /// `sig`, advancing the window to `time` if it is the latest seen. Returns
    /// `Ok(false)` without storing anything when the signature is empty (no
    /// shingles) or the post is already outside the window.
    pub fn insert(&mut self, id: u32, time: i64, sig: &Signature) -> Result<bool, IndexError> {
        if sig.len() != self.params.num_hashes {
            return Err(IndexError::SignatureLength { expected: self.params.num_hashes, got: sig.len() });
        }
        if id >= LIST_BIT {
            return Err(IndexError::IdTooLarge(id));
        }
        if id < self.id_base {
            return Err(IndexError::IdEvicted { id, lowest: self.id_base });
        }
        if self.rel_time(id).is_some() {
            return Err(IndexError::DuplicateId(id));
        }
        if sig.is_empty() {
            return Ok(false);
        }
        self.advance_to(time);
        let rel = time - self.epoch;
        if rel < self.cutoff_rel() {
            return Ok(false);
        }
        // Room in every band table for one more key.
        let worst = self.tables.iter().any(|t| (t.used + 1) * 1000 > t.slots.len() * MAX_LOAD);
        if worst {
            // Keep `id` trackable: the dead prefix is dropped up to it at most.
            self.rebuild(id);
        }

        let idx = (id - self.id_base) as usize;
        if idx >= self.times.len() {
            self.times.resize(idx + 1, ABSENT);
            self.sigs.resize((idx + 1) * self.sig_stride, 0);
        }
        self.times[idx] = rel.clamp(0, i64::from(ABSENT) - 1) as u32;
        let packed = &mut self.sigs[idx * self.sig_stride..(idx + 1) * self.sig_stride];
        pack_nibbles(sig.values(), packed);
        self.stored += 1;

        for band in 0..self.params.bands {
            let fp = fingerprint(self.params.band_hash(sig, band));
            let table = &mut self.tables[band];
            let i = table.find(fp);
            let slot = table.slots[i];
            if slot.fp == 0 {
                table.slots[i] = Slot { fp, val: id };
                table.used += 1;
            } else if slot.val & LIST_BIT == 0 {
                let list = match self.free_lists.pop() {
                    Some(n) => {
                        let l = &mut self.lists[n as usize];
                        l.clear();
                        l.extend([slot.val, id]);
                        n
                    }
                    None => {
                        self.lists.push(vec![slot.val, id]);
                        (self.lists.len() - 1) as u32
                    }
                };
                table.slots[i].val = LIST_BIT | list;
            } else {
                let l = &mut self.lists[(slot.val & !LIST_BIT) as usize];
                if l.len() >= self.max_postings {
                    l.remove(0);
                }
                l.push(id);
            }
        }
        Ok(true)
    }

    /// Posts inside the window that share at least one band with `sig`, with
    /// the number of shared bands and an estimated Jaccard similarity, best
    /// estimate first.
    pub fn query(&self, sig: &Signature) -> Vec<Candidate> {
        let mut out = Vec::new();
        self.query_into(sig, &mut out);
        out
    }

    /// As [`query`](Self::query), into `out` (cleared first).
    pub fn query_into(&self, sig: &Signature, out: &mut Vec<Candidate>) {
        out.clear();
        if sig.is_empty() || sig.len() != self.params.num_hashes || self.stored == 0 {
            return;
        }
        let cutoff = self.cutoff_rel();
        let mut raw: Vec<u32> = Vec::new();
        for band in 0..self.params.bands {
            let fp = fingerprint(self.params.band_hash(sig, band));
            let table = &self.tables[band];
            let slot = table.slots[table.find(fp)];
            if slot.fp == 0 {
                continue;
            }
            if slot.val & LIST_BIT == 0 {
                raw.push(slot.val);
            } else {
                raw.extend_from_slice(&self.lists[(slot.val & !LIST_BIT) as usize]);
            }
        }
        if raw.is_empty() {
            return;
        }
        raw.sort_unstable();
        let mut r = 0;
        while r < raw.len() {
            let id = raw[r];
            let mut bands = 1;
            r += 1;
            while r < raw.len() && raw[r] == id {
                bands += 1;
                r += 1;
            }
            if self.is_live(id, cutoff) {
                out.push(Candidate { id, time: 0, bands, jaccard: 0.0 });
            }
        }
        let k = self.params.num_hashes;
        for c in out.iter_mut() {
            let idx = (c.id - self.id_base) as usize;
            c.time = i64::from(self.times[idx]) + self.epoch;
            let packed = &self.sigs[idx * self.sig_stride..(idx + 1) * self.sig_stride];
            let m = equal_nibbles(sig.values(), packed) as f64 / k as f64;
            c.jaccard = ((m - NIBBLE_CHANCE) / (1.0 - NIBBLE_CHANCE)).clamp(0.0, 1.0) as f32;
        }
        out.sort_unstable_by(|a, b| b.jaccard.partial_cmp(&a.jaccard).unwrap_or(Ordering::Equal).then(a.id.cmp(&b.id)));
    }

    /// Drops every post outside the window now and resizes the tables.
    pub fn evict_expired(&mut self) {
        self.rebuild(u32::MAX);
    }

    /// Expires posts, drops the dead prefix of the per-id arrays (never past
    /// id `keep_from`) and rebuilds the band tables at the target load.
    fn rebuild(&mut self, keep_from: u32) {
        let cutoff = self.cutoff_rel();
        // Expire posts.
        for t in self.times.iter_mut() {
            if *t != ABSENT && i64::from(*t) < cutoff {
                *t = ABSENT;
                self.stored -= 1;
            }
        }
        // Drop the dead prefix of the per-id arrays.
        let limit = keep_from.saturating_sub(self.id_base) as usize;
        let dead = self.times.iter().take(limit).take_while(|&&t| t == ABSENT).count();
        if dead > 0 {
            self.times.drain(..dead);
            self.sigs.drain(..dead * self.sig_stride);
            self.id_base += dead as u32;
        }
        if self.times.capacity() > self.times.len() * 3 / 2 + 64 {
            self.times.shrink_to(self.times.len() * 5 / 4);
            self.sigs.shrink_to(self.times.len() * 5 / 4 * self.sig_stride);
        }
        let id_base = self.id_base;
        let times = &self.times;
        let live = |id: u32| id.checked_sub(id_base).and_then(|i| times.get(i as usize)).is_some_and(|&t| t != ABSENT);
        for b in 0..self.tables.len() {
            let old = std::mem::take(&mut self.tables[b].slots);
            let mut kept: Vec<Slot> = Vec::with_capacity(self.tables[b].used);
            for slot in old.iter().filter(|s| s.fp != 0) {
                if slot.val & LIST_BIT == 0 {
                    if live(slot.val) {
                        kept.push(*slot);
                    }
                    continue;
                }
                let n = slot.val & !LIST_BIT;
                let list = &mut self.lists[n as usize];
                list.retain(|&id| live(id));
                match list.len() {
                    0 => self.free_lists.push(n),
                    1 => {
                        kept.push(Slot { fp: slot.fp, val: list[0] });
                        list.clear();
                        self.free_lists.push(n);
                    }
                    _ => kept.push(*slot),
                }
            }
            drop(old);
            let cap = (kept.len() * 1000 / TARGET_LOAD).max(MIN_CAPACITY);
            let mut table = BandTable::with_capacity(cap);
            for slot in kept {
                let i = table.find(slot.fp);
                table.slots[i] = slot;
            }
            table.used = table.slots.iter().filter(|s| s.fp != 0).count();
            self.tables[b] = table;
        }
        for &n in &self.free_lists {
            self.lists[n as usize] = Vec::new();
        }
    }

    /// Approximate heap and inline memory used by the index, in bytes.
    pub fn approx_bytes(&self) -> usize {
        use std::mem::size_of;
        size_of::<Self>()
            + self.tables.iter().map(|t| t.slots.capacity() * size_of::<Slot>() + size_of::<BandTable>()).sum::<usize>()
            + self.lists.capacity() * size_of::<Vec<u32>>()
            + self.lists.iter().map(|l| l.capacity() * size_of::<u32>()).sum::<usize>()
            + self.free_lists.capacity() * size_of::<u32>()
            + self.times.capacity() * size_of::<u32>()
            + self.sigs.capacity()
    }
}

fn pack_nibbles(values: &[u32], out: &mut [u8]) {
    for (byte, pair) in out.iter_mut().zip(values.chunks(2)) {
        let lo = (pair[0] & 0xF) as u8;
        let hi = pair.get(1).map_or(0, |v| (v & 0xF) as u8);
        *byte = lo | (hi << 4);
    }
}

/// Number of positions where the low nibble of `values[i]` equals nibble `i`
/// of `packed` (as written by [`pack_nibbles`]).
fn equal_nibbles(values: &[u32], packed: &[u8]) -> usize {
    let mut n = 0;
    let mut chunks = values.chunks_exact(16).zip(packed.chunks_exact(8));
    for (vals, bytes) in chunks.by_ref() {
        let mut word = 0u64;
        for (k, v) in vals.iter().enumerate() {
            word |= u64::from(v & 0xF) << (4 * k);
        }
        let stored = u64::from_le_bytes(bytes.try_into().unwrap_or([0; 8]));
        let x = word ^ stored;
        // One bit per non-zero nibble.
        let nz = (x | (x >> 1) | (x >> 2) | (x >> 3)) & 0x1111_1111_1111_1111;
        n += 16 - nz.count_ones() as usize;
    }
    let done = values.len() / 16 * 16;
    for (pair, &byte) in values[done..].chunks(2).zip(&packed[done / 2..]) {
        n += usize::from((pair[0] & 0xF) as u8 == byte & 0xF);
        if let Some(v) = pair.get(1) {
            n += usize::from((v & 0xF) as u8 == byte >> 4);
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nibble_counts_match_a_plain_count() {
        for len in [1usize, 7, 16, 31, 128, 130] {
            let a: Vec<u32> = (0..len as u32).map(|i| i.wrapping_mul(2_654_435_761)).collect();
            let b: Vec<u32> = a.iter().enumerate().map(|(i, v)| if i % 3 == 0 { v + 1 } else { *v }).collect();
            let mut packed = vec![0u8; len.div_ceil(2)];
            pack_nibbles(&b, &mut packed);
            let plain = a.iter().zip(&b).filter(|(x, y)| (*x & 0xF) == (*y & 0xF)).count();
            assert_eq!(equal_nibbles(&a, &packed), plain, "len {len}");
        }
    }

    #[test]
    fn nibbles_round_trip() {
        let vals: Vec<u32> = (0..7u32).map(|i| i * 0x1111_1111 + 3).collect();
        let mut packed = vec![0u8; 4];
        pack_nibbles(&vals, &mut packed);
        assert_eq!(equal_nibbles(&vals, &packed), 7);
        let other: Vec<u32> = vals.iter().map(|v| v ^ 1).collect();
        assert_eq!(equal_nibbles(&other, &packed), 0);
    }
}
