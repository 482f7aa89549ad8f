//! A streaming LSH index over a sliding time window.
//!
//! Posts with equal signatures (exact and near-exact copies, such as the
//! thousands of identical posts of a spam flood) form one *duplicate group*,
//! stored once in the band tables: a query meets a flood as one entry and
//! expands it to its members, so its cost follows the number of candidates it
//! returns rather than bands × copies, and no copy is ever dropped to bound it.
//!
//! Layout, per post (defaults: K = 128, 21 bands):
//!
//! * the post time and the next member of its group (8 bytes);
//! * a 4-bit compact signature (the low 4 bits of each of the K values,
//!   K/2 = 64 bytes), from which candidates get a Jaccard estimate
//!   (b-bit MinHash, Li & König 2010: `Ĵ = (m − 1/16)/(1 − 1/16)` where `m`
//!   is the fraction of equal nibbles; standard error ≈ 0.037 at J = 0.8,
//!   against 0.035 for full 32-bit values);
//!
//! and per group (per post when all signatures differ):
//!
//! * a 12-byte slot in a table keyed by a 64-bit hash of the whole signature,
//!   with the group's last member (whose `next` is the first: members are
//!   chained in a circle);
//! * one 8-byte slot per band in a table per band: a 32-bit fingerprint of the
//!   band hash and either the group's first member or, when several groups
//!   share the band hash, the number of a posting list of group heads (capped
//!   at `max_postings` groups, oldest dropped first; the cap only matters for
//!   floods of near-duplicates whose signatures all differ).
//!
//! The tables use ordered linear probing (see `seek`): a look-up of a band
//! hash that is not there, the common case, stops after about as few slots as
//! one that is. They are kept between 60 % and 85 % full, which makes 320–390
//! bytes per post with default parameters (measured: 323 in an index of
//! 40 707 real posts, a quarter of them copies, 368 at most while it grew;
//! 349 for 500 000 distinct synthetic posts, 390 at most just after a
//! resize; 379–393 for a 1-day window of 440 000 streaming ones). A small
//! index weighs more per post: a 7-day window over the same real posts,
//! holding 1 000–5 000 of them, peaks at 420–440 just after its tables grow.
//!
//! A query costs one look-up per band, one entry per group found and one per
//! candidate returned; [`WindowIndex::query_insert_into`], the streaming step,
//! computes the band hashes and the compact signature once for both. Full signatures
//! are not kept. Eviction is lazy and amortized: queries skip expired posts,
//! and when a table reaches 85 % load every table is rebuilt without them (and
//! resized to 50–70 % load, sized beforehand from the share of groups left so
//! that one pass over a table suffices): expired members leave their groups, a group whose
//! first member expired is re-entered under its next live one, and each insert
//! costs O(1) amortized slot moves.

use std::fmt;
use std::hint::select_unpredictable;

use crate::lsh::{ParamsError, SketchParams};
use crate::minhash::Signature;

/// Default window: 7 days, in seconds.
pub const DEFAULT_WINDOW_SECS: i64 = 7 * 24 * 3600;

/// Longest supported window (2³¹ s, 68 years); longer ones are clamped.
pub const MAX_WINDOW_SECS: i64 = 1 << 31;

/// Default cap on the number of duplicate groups (distinct signatures) kept
/// for one band hash.
pub const DEFAULT_MAX_POSTINGS: usize = 64;

/// The time of an id that holds no post.
const ABSENT: u32 = u32::MAX;
/// The end of a group's chain.
const NONE: u32 = u32::MAX;
const LIST_BIT: u32 = 1 << 31;
const MIN_CAPACITY: usize = 64;
// Load factors, in 1/1000.
const MAX_LOAD: usize = 850;
const TARGET_LOAD: usize = 600;
/// A band table whose size after a rebuild would change by at most this
/// (in 1/1000) keeps its size and is compacted in place.
const RESIZE_SLACK: usize = 30;
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

/// A key of a table with ordered linear probing: at least 1 (0 marks an
/// empty slot).
trait Tag: Copy + Default + PartialEq {
    /// Home slot among `cap`: `⌊tag·cap/2ⁿ⌋` for an n-bit tag, which grows with
    /// the tag, so that a table can be kept sorted by tag.
    fn home(self, cap: usize) -> usize;
    /// Whether `self` is occupied and below `tag` (≥ 1): `self − 1 < tag − 1`,
    /// wrapping.
    fn below(self, tag: Self) -> bool;
}

impl Tag for u32 {
    #[inline(always)]
    fn home(self, cap: usize) -> usize {
        ((u64::from(self) * cap as u64) >> 32) as usize
    }

    #[inline(always)]
    fn below(self, tag: u32) -> bool {
        self.wrapping_sub(1) < tag - 1
    }
}

impl Tag for u64 {
    #[inline(always)]
    fn home(self, cap: usize) -> usize {
        ((u128::from(self) * cap as u128) >> 64) as usize
    }

    #[inline(always)]
    fn below(self, tag: u64) -> bool {
        self.wrapping_sub(1) < tag - 1
    }
}

/// Ordered linear probing (Amble & Knuth 1974): tags (≥ 1, 0 = empty) are
/// kept sorted along the table, each at or after its home slot with no empty
/// slot in between, and the table never wraps around (it ends with an
/// overflow run and always at least one empty slot). A look-up scans from the
/// home slot over smaller tags only, so a missing tag costs as few slots as a
/// present one (about 3 at 85 % load, against 22 with plain linear probing),
/// and a rebuild places the tags of the old table, already in order, one
/// after the other without probing.
///
/// The first slot from `tag`'s home whose tag is 0 or at least `tag`.
#[inline(always)]
fn seek<K: Tag>(tags: &[K], cap: usize, tag: K) -> usize {
    let mut i = tag.home(cap);
    while tags[i].below(tag) {
        i += 1;
    }
    i
}

/// Shifts the run of occupied slots from `i` one slot up, growing `tags`
/// (and the parallel `vals`) so that the table's last slot stays empty.
#[inline]
fn open_slot<K: Tag, T: Copy + Default>(tags: &mut Vec<K>, vals: &mut Vec<T>, i: usize) {
    let mut e = i;
    while tags[e] != K::default() {
        e += 1;
    }
    if e + 1 == tags.len() {
        push_empty(tags, vals);
    }
    tags.copy_within(i..e, i + 1);
    vals.copy_within(i..e, i + 1);
}

/// Appends an empty slot to a table, growing its allocation by
/// `OVERFLOW_STEP` slots rather than doubling it.
fn push_empty<K: Tag, T: Copy + Default>(tags: &mut Vec<K>, vals: &mut Vec<T>) {
    if tags.len() == tags.capacity() {
        tags.reserve_exact(OVERFLOW_STEP);
    }
    if vals.len() == vals.capacity() {
        vals.reserve_exact(OVERFLOW_STEP);
    }
    tags.push(K::default());
    vals.push(T::default());
}

/// Where a repack or [`place_sorted`] puts entries given in tag order, each at
/// its home slot or just after the previous kept one: `p = max(home, previous
/// p + 1)`. Written
/// as the number of entries kept before plus the running maximum of
/// `home − kept` (never below 0), the step from one entry to the next is one
/// compare and select instead of that whole formula, so a repack is not bound
/// by the chain from one entry's slot to the next one's.
#[derive(Clone, Copy, Default)]
struct Placement {
    kept: usize,
    lead: usize,
}

impl Placement {
    /// The slot for an entry with home `home`, counted when `keep`; a dropped
    /// entry gets the first free slot, for a 0 that changes nothing.
    #[inline(always)]
    fn place(&mut self, home: usize, keep: bool) -> usize {
        // Both are below 2⁶³, so the difference is right as a signed number.
        let ahead = select_unpredictable(keep, home.wrapping_sub(self.kept) as isize, 0);
        self.lead = select_unpredictable(ahead > self.lead as isize, ahead as usize, self.lead);
        let p = self.kept + self.lead;
        self.kept += usize::from(keep);
        p
    }

    /// The first slot after the last kept entry.
    fn next(self) -> usize {
        self.kept + self.lead
    }
}

/// Slots added at a time to a table's overflow run.
const OVERFLOW_STEP: usize = 16;

/// Places `(tag, val)` pairs given in tag order into `tags`/`vals` (empty, of
/// `cap` home slots plus one), each at its home slot or just after the
/// previous one.
fn place_sorted<K: Tag, T: Copy + Default>(
    tags: &mut Vec<K>,
    vals: &mut Vec<T>,
    cap: usize,
    items: impl Iterator<Item = (K, T)>,
) {
    let mut run = Placement::default();
    for (tag, val) in items {
        let p = run.place(tag.home(cap), true);
        while p + 1 >= tags.len() {
            push_empty(tags, vals);
        }
        tags[p] = tag;
        vals[p] = val;
    }
}

/// One band's table (ordered linear probing, see [`seek`]). A slot holds a
/// 32-bit fingerprint of a band hash (≥ 1) in its high half and its value in
/// the low half, so that ordering slots as integers orders them by
/// fingerprint, a look-up that hits reads one slot, and an insert shifts one
/// array; 0 marks an empty slot.
#[derive(Clone, Debug)]
struct BandTable {
    /// `fp << 32 | val`, where `val` is the head of a duplicate group or
    /// `LIST_BIT | list number`.
    slots: Vec<u64>,
    /// Number of home slots.
    cap: usize,
    used: usize,
}

#[inline(always)]
fn slot_fp(slot: u64) -> u32 {
    (slot >> 32) as u32
}

impl BandTable {
    fn with_capacity(cap: usize) -> Self {
        BandTable { slots: vec![0; cap + 1], cap, used: 0 }
    }

    /// Index of the slot holding `fp`, or of the slot where it would go.
    #[inline(always)]
    fn find(&self, fp: u32) -> usize {
        let mut i = fp.home(self.cap);
        // Occupied and below `fp`: `slot − 1 < fp·2³² − 1`, wrapping (see `Tag::below`).
        let bound = (u64::from(fp) << 32) - 1;
        // The slots below `fp` from its home are a prefix of the run (the run is
        // sorted, and a later run starts past `fp`'s home, so above `fp`): count
        // them four at a time without a branch per slot, since how many there
        // are is random and a loop exit per slot would mispredict.
        while let Some(window) = self.slots.get(i..i + 4) {
            let below = window.iter().map(|&s| usize::from(s.wrapping_sub(1) < bound)).sum::<usize>();
            i += below;
            if below < 4 {
                return i;
            }
        }
        while self.slots[i].wrapping_sub(1) < bound {
            i += 1;
        }
        i
    }

    /// Loads the first slot `fp` would be looked up in (see [`touch_homes`]).
    #[inline(always)]
    fn touch(&self, fp: u32) -> u64 {
        self.slots.get(fp.home(self.cap)).copied().unwrap_or(0)
    }

    /// Stores `fp` (not in the table) at `i`, the slot [`find`](Self::find)
    /// gave, shifting the rest of its run one slot up (runs are short: a plain
    /// loop beats a `memmove` call).
    #[inline(always)]
    fn insert_at(&mut self, mut i: usize, fp: u32, val: u32) {
        let mut carry = (u64::from(fp) << 32) | u64::from(val);
        // The last slot is always empty, so this stops inside the table.
        loop {
            let cur = std::mem::replace(&mut self.slots[i], carry);
            if cur == 0 {
                break;
            }
            carry = cur;
            i += 1;
        }
        if i + 1 == self.slots.len() {
            if self.slots.len() == self.slots.capacity() {
                self.slots.reserve_exact(OVERFLOW_STEP);
            }
            self.slots.push(0);
        }
        self.used += 1;
    }

    /// Rebuilds the table with `cap` home slots, every slot replaced by the
    /// one `slot_of` gives for it (0 drops an entry; called for empty slots
    /// too, which must give 0), in one branch-free pass: the entries, still in
    /// fingerprint order, are placed each at its home slot or just after the
    /// previous one. A table that does not grow is rebuilt in place (an entry
    /// never moves up: its home does not, and the entries before it take no
    /// more room), clearing each slot as it is read; one that grows is placed
    /// into a new zeroed buffer.
    fn repack(&mut self, cap: usize, slot_of: impl Fn(u64) -> u64) {
        let len = cap + 1 + OVERFLOW_STEP;
        let mut run = Placement::default();
        if cap <= self.cap {
            let slots = &mut self.slots[..];
            for i in 0..slots.len() {
                let slot = slots[i];
                let new = slot_of(slot);
                let p = run.place(slot_fp(slot).home(cap), new != 0);
                // `p <= i`: a dropped entry writes 0 into a free slot.
                slots[i] = 0;
                slots[p] = new;
            }
            // As long as the overflow run needs, in steps (the last slot stays empty).
            let next = run.next();
            let len = len + (next + 1).saturating_sub(len).div_ceil(OVERFLOW_STEP) * OVERFLOW_STEP;
            if len > self.slots.len() {
                self.slots.reserve_exact(len - self.slots.len());
            }
            self.slots.resize(len, 0);
            if self.slots.capacity() > len + len / 4 {
                // Much smaller than before: do not keep the memory.
                self.slots.shrink_to(len);
            }
        } else {
            // Exact sizes: doubling would waste up to half of a table.
            let mut out = vec![0; len];
            let mut slots = self.slots.iter();
            loop {
                // A local slice, so that its address and length stay in registers.
                let last = out.len() - 1;
                let dst = &mut out[..last];
                for &slot in slots.by_ref() {
                    let new = slot_of(slot);
                    let mut placed = run;
                    let p = placed.place(slot_fp(slot).home(cap), new != 0);
                    if p >= dst.len() {
                        // The last slot must stay empty: grow and redo this slot.
                        slots = self.slots[self.slots.len() - slots.len() - 1..].iter();
                        break;
                    }
                    // Slots from the next free one on are empty, so a dropped entry writes 0 into one.
                    dst[p] = new;
                    run = placed;
                }
                if slots.len() == 0 {
                    break;
                }
                out.reserve_exact(OVERFLOW_STEP);
                out.resize(out.len() + OVERFLOW_STEP, 0);
            }
            self.slots = out;
        }
        self.cap = cap;
        self.used = run.kept;
    }

    fn over_load(&self) -> bool {
        (self.used + 1) * 1000 > self.cap * MAX_LOAD
    }

    fn bytes(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<u64>()
    }
}

/// The duplicate groups: posts whose signatures are equal, chained in a
/// circle through [`Meta::next`], oldest first, the last one linking back to
/// the first (the group's head). Ordered linear probing on a 64-bit hash of
/// the whole signature (see [`seek`]), with the group's last member.
#[derive(Clone, Debug)]
struct GroupTable {
    /// Hash of each group's signature (at least 1); 0 marks an empty slot.
    keys: Vec<u64>,
    tails: Vec<u32>,
    /// Number of home slots.
    cap: usize,
    used: usize,
}

impl GroupTable {
    fn with_capacity(cap: usize) -> Self {
        GroupTable { keys: vec![0; cap + 1], tails: vec![0; cap + 1], cap, used: 0 }
    }

    /// `Ok` with the slot holding `key`, or `Err` with the slot where it would go.
    #[inline(always)]
    fn find(&self, key: u64) -> Result<usize, usize> {
        let i = seek(&self.keys, self.cap, key);
        if self.keys[i] == key { Ok(i) } else { Err(i) }
    }

    /// Stores a group (not in the table) at `i`, the slot [`find`](Self::find) gave.
    fn insert_at(&mut self, i: usize, key: u64, tail: u32) {
        open_slot(&mut self.keys, &mut self.tails, i);
        self.keys[i] = key;
        self.tails[i] = tail;
        self.used += 1;
    }

    fn over_load(&self) -> bool {
        (self.used + 1) * 1000 > self.cap * MAX_LOAD
    }

    fn bytes(&self) -> usize {
        self.keys.capacity() * std::mem::size_of::<u64>() + self.tails.capacity() * std::mem::size_of::<u32>()
    }
}

/// Loads the home slot of `fps[k]` in `tables[k]` for every `k`, so that the
/// cache misses of a post's band look-ups overlap (the loads do not depend on
/// one another) instead of coming one after the other, between hashing and
/// probing.
#[inline(always)]
fn touch_homes(tables: &[BandTable], fps: &[u32]) {
    let mut any = 0;
    for (table, &fp) in tables.iter().zip(fps) {
        any |= table.touch(fp);
    }
    std::hint::black_box(any);
}

/// Bands hashed and looked up together in a query.
const BAND_CHUNK: usize = 32;

/// Per-post data besides the compact signature.
#[derive(Clone, Copy, Debug)]
struct Meta {
    /// Post time minus the epoch, or `ABSENT`.
    time: u32,
    /// The next member of the post's duplicate group (the head, for the last
    /// one), or `NONE` for an id without a post. For a head that expired,
    /// between the chain compaction and the band tables' rebuild: the
    /// group's new head, or `NONE` if none is left.
    next: u32,
}

const VACANT: Meta = Meta { time: ABSENT, next: NONE };

#[inline(always)]
fn fingerprint(h: u64) -> u32 {
    ((h >> 32) as u32).max(1)
}

/// Key of a whole signature from its band hashes and the values no band
/// covers; never 0.
fn group_key(band_hashes: &[u64], rest: &[u32]) -> u64 {
    const MUL: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut acc = 0x243F_6A88_85A3_08D3u64;
    for &h in band_hashes {
        acc = (acc ^ h).wrapping_mul(MUL).rotate_left(29);
    }
    for &v in rest {
        acc = (acc ^ u64::from(v)).wrapping_mul(MUL).rotate_left(29);
    }
    crate::minhash::mix64(acc).max(1)
}

/// Sort key of candidates: best estimate first, then by id. Estimates are
/// non-negative, so their bits order as the numbers do, and one integer
/// compares faster than two fields.
#[inline(always)]
fn estimate_order(c: &Candidate) -> u64 {
    debug_assert!(c.jaccard.is_sign_positive());
    (u64::from(!c.jaccard.to_bits()) << 32) | u64::from(c.id)
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
    /// Id of `meta[0]`.
    id_base: u32,
    meta: Vec<Meta>,
    /// Compact signatures, `sig_stride` bytes per id.
    sigs: Vec<u8>,
    sig_stride: usize,
    tables: Vec<BandTable>,
    groups: GroupTable,
    /// Posting lists, numbered densely: a rebuild renumbers the ones left.
    lists: Vec<Vec<u32>>,
    stored: usize,
    /// Band hashes of the post being inserted.
    hashes: Vec<u64>,
    /// Compact signature of the post being inserted.
    packed: Vec<u8>,
    /// Group heads found by the query being run.
    heads: Vec<u32>,
    /// The slot each band of the last query was looked up in.
    positions: Vec<usize>,
}

impl WindowIndex {
    /// An index for signatures made with `params`, keeping posts for
    /// `window_secs` seconds (clamped to `0..=MAX_WINDOW_SECS`), with the
    /// default posting-list cap.
    pub fn new(params: SketchParams, window_secs: i64) -> Result<Self, ParamsError> {
        Self::with_max_postings(params, window_secs, DEFAULT_MAX_POSTINGS)
    }

    /// As [`new`](Self::new), keeping at most `max_postings` (≥ 2) duplicate
    /// groups (distinct signatures) per band hash, the newest ones. Copies with
    /// equal signatures share one group whatever their number, so the cap only
    /// bounds the work of near-duplicates whose signatures differ: each new post
    /// then costs at most `bands × max_postings` group look-ups, plus one entry
    /// per candidate returned.
    pub fn with_max_postings(params: SketchParams, window_secs: i64, max_postings: usize) -> Result<Self, ParamsError> {
        params.validate()?;
        Ok(WindowIndex {
            params,
            window: window_secs.clamp(0, MAX_WINDOW_SECS),
            max_postings: max_postings.max(2),
            now: None,
            epoch: 0,
            id_base: 0,
            meta: Vec::new(),
            sigs: Vec::new(),
            sig_stride: params.num_hashes.div_ceil(2),
            tables: (0..params.bands).map(|_| BandTable::with_capacity(MIN_CAPACITY)).collect(),
            groups: GroupTable::with_capacity(MIN_CAPACITY),
            lists: Vec::new(),
            stored: 0,
            hashes: Vec::with_capacity(params.bands),
            packed: Vec::new(),
            heads: Vec::new(),
            positions: Vec::new(),
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

    /// The cap on duplicate groups per band hash.
    pub fn max_postings(&self) -> usize {
        self.max_postings
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
    fn meta_of(&self, id: u32) -> Option<Meta> {
        self.meta.get(id.checked_sub(self.id_base)? as usize).copied()
    }

    #[inline(always)]
    fn rel_time(&self, id: u32) -> Option<u32> {
        self.meta_of(id).map(|m| m.time).filter(|&t| t != ABSENT)
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
    ///
    /// A post whose signature equals that of a post already stored joins its
    /// duplicate group, which costs no band-table work.
    pub fn insert(&mut self, id: u32, time: i64, sig: &Signature) -> Result<bool, IndexError> {
        let (mut hashes, mut packed) = (std::mem::take(&mut self.hashes), std::mem::take(&mut self.packed));
        let prepared = self.prepare(sig, &mut hashes, &mut packed);
        let result = self.insert_prepared(id, time, sig, prepared.then_some((&hashes, &packed)), &[]);
        (self.hashes, self.packed) = (hashes, packed);
        result
    }

    /// Queries `sig`, then inserts it as post `id` with post time `time`: the
    /// same as [`query_into`](Self::query_into) followed by
    /// [`insert`](Self::insert) (the query does not see the post itself and
    /// measures the window from the latest time seen before it), with the
    /// band hashes and the compact signature computed once. The streaming
    /// detectors' step.
    pub fn query_insert_into(
        &mut self,
        id: u32,
        time: i64,
        sig: &Signature,
        out: &mut Vec<Candidate>,
    ) -> Result<bool, IndexError> {
        out.clear();
        let (mut hashes, mut packed) = (std::mem::take(&mut self.hashes), std::mem::take(&mut self.packed));
        let prepared = self.prepare(sig, &mut hashes, &mut packed);
        let mut positions = std::mem::take(&mut self.positions);
        positions.clear();
        if prepared && self.stored > 0 {
            let mut heads = std::mem::take(&mut self.heads);
            self.collect(|band| fingerprint(hashes[band]), &packed, &mut heads, &mut positions, out);
            self.heads = heads;
        }
        let result = self.insert_prepared(id, time, sig, prepared.then_some((&hashes, &packed)), &positions);
        self.positions = positions;
        (self.hashes, self.packed) = (hashes, packed);
        result
    }

    /// Band hashes and compact form of `sig` into `hashes` and `packed`;
    /// false (and nothing computed) when `sig` is empty or of the wrong length.
    fn prepare(&self, sig: &Signature, hashes: &mut Vec<u64>, packed: &mut Vec<u8>) -> bool {
        if sig.is_empty() || sig.len() != self.params.num_hashes {
            return false;
        }
        self.params.band_hashes_into(sig, hashes);
        packed.resize(self.sig_stride, 0);
        pack_nibbles(sig.values(), packed);
        true
    }

    /// [`insert`](Self::insert), given the band hashes and the compact form of
    /// `sig` (`None` when `sig` is empty or of the wrong length) and, when a
    /// query of `sig` has just run, the slots it looked its bands up in (empty
    /// otherwise).
    fn insert_prepared(
        &mut self,
        id: u32,
        time: i64,
        sig: &Signature,
        prepared: Option<(&Vec<u64>, &Vec<u8>)>,
        positions: &[usize],
    ) -> Result<bool, IndexError> {
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
        let Some((hashes, packed)) = prepared.filter(|_| !sig.is_empty()) else {
            return Ok(false);
        };
        self.advance_to(time);
        let rel = time - self.epoch;
        if rel < self.cutoff_rel() {
            return Ok(false);
        }
        // Room in every table for one more key.
        let mut positions = positions;
        if self.groups.over_load() || self.tables.iter().any(BandTable::over_load) {
            // Keep `id` trackable: the dead prefix is dropped up to it at most.
            self.rebuild(id);
            // The query's slots moved.
            positions = &[];
        }

        let idx = (id - self.id_base) as usize;
        if idx >= self.meta.len() {
            self.meta.resize(idx + 1, VACANT);
            self.sigs.resize((idx + 1) * self.sig_stride, 0);
        }
        self.meta[idx] = Meta { time: rel.clamp(0, i64::from(ABSENT) - 1) as u32, next: id };
        self.sigs[idx * self.sig_stride..(idx + 1) * self.sig_stride].copy_from_slice(packed);
        self.stored += 1;

        let key = group_key(hashes, &sig.values()[self.params.bands * self.params.rows..]);
        match self.groups.find(key) {
            Ok(g) => {
                // An equal signature is stored: append to its chain.
                let tail = (self.groups.tails[g] - self.id_base) as usize;
                self.meta[idx].next = self.meta[tail].next;
                self.meta[tail].next = id;
                self.groups.tails[g] = id;
            }
            Err(g) => {
                self.groups.insert_at(g, key, id);
                let mut fps = [0u32; BAND_CHUNK];
                for (c, chunk) in hashes.chunks(BAND_CHUNK).enumerate() {
                    let fps = &mut fps[..chunk.len()];
                    for (fp, &h) in fps.iter_mut().zip(chunk) {
                        *fp = fingerprint(h);
                    }
                    let first = c * BAND_CHUNK;
                    if positions.is_empty() {
                        touch_homes(&self.tables[first..], fps);
                    }
                    for (k, &fp) in fps.iter().enumerate() {
                        // Each band's insert only moves its own table's slots,
                        // so the query's slot is still the right one.
                        let band = first + k;
                        let i = positions.get(band).copied().unwrap_or_else(|| self.tables[band].find(fp));
                        self.add_to_band(band, fp, i, id);
                    }
                }
            }
        }
        Ok(true)
    }

    /// Adds group head `head` under fingerprint `fp` of band `band`.
    #[inline]
    fn add_to_band(&mut self, band: usize, fp: u32, i: usize, head: u32) {
        let table = &mut self.tables[band];
        debug_assert_eq!(i, table.find(fp));
        let slot = table.slots[i];
        let val = slot as u32;
        if slot_fp(slot) != fp {
            table.insert_at(i, fp, head);
        } else if val & LIST_BIT == 0 {
            let list = self.lists.len() as u32;
            self.lists.push(vec![val, head]);
            table.slots[i] = (slot & !u64::from(u32::MAX)) | u64::from(LIST_BIT | list);
        } else {
            let l = &mut self.lists[(val & !LIST_BIT) as usize];
            if l.len() >= self.max_postings {
                l.remove(0);
            }
            l.push(head);
        }
    }

    /// Posts inside the window that share at least one band with `sig`, with
    /// the number of shared bands and an estimated Jaccard similarity, best
    /// estimate first (then by id).
    pub fn query(&self, sig: &Signature) -> Vec<Candidate> {
        let mut out = Vec::new();
        self.query_into(sig, &mut out);
        out
    }

    /// As [`query`](Self::query), into `out` (cleared first).
    ///
    /// The work is one look-up per band, one entry per duplicate group found
    /// and one per candidate returned: a flood of identical posts costs each
    /// query one group, however many copies it holds.
    pub fn query_into(&self, sig: &Signature, out: &mut Vec<Candidate>) {
        out.clear();
        if sig.is_empty() || sig.len() != self.params.num_hashes || self.stored == 0 {
            return;
        }
        let (mut small, mut large) = ([0u8; 64], Vec::new());
        let packed: &mut [u8] = if self.sig_stride <= small.len() {
            &mut small[..self.sig_stride]
        } else {
            large.resize(self.sig_stride, 0);
            &mut large
        };
        pack_nibbles(sig.values(), packed);
        let fp_of = |band| fingerprint(self.params.band_hash(sig, band));
        self.collect(fp_of, packed, &mut Vec::new(), &mut Vec::new(), out);
    }

    /// The query proper, into `out` (empty), given the band fingerprints of
    /// the signature and its compact form.
    fn collect(
        &self,
        fp_of: impl Fn(usize) -> u32,
        query: &[u8],
        heads: &mut Vec<u32>,
        positions: &mut Vec<usize>,
        out: &mut Vec<Candidate>,
    ) {
        // The group heads found, once per shared band.
        heads.clear();
        positions.clear();
        let bands = self.params.bands;
        let mut fps = [0u32; BAND_CHUNK];
        for first in (0..bands).step_by(BAND_CHUNK) {
            let fps = &mut fps[..(bands - first).min(BAND_CHUNK)];
            for (k, fp) in fps.iter_mut().enumerate() {
                *fp = fp_of(first + k);
            }
            let tables = &self.tables[first..];
            touch_homes(tables, fps);
            for (table, &fp) in tables.iter().zip(fps.iter()) {
                let i = table.find(fp);
                positions.push(i);
                let slot = table.slots[i];
                if slot_fp(slot) != fp {
                    continue;
                }
                let val = slot as u32;
                if val & LIST_BIT == 0 {
                    heads.push(val);
                } else {
                    heads.extend_from_slice(&self.lists[(val & !LIST_BIT) as usize]);
                }
            }
        }
        if heads.is_empty() {
            return;
        }
        // One entry per group, with its number of bands: the heads are tallied
        // in a small open-addressed table after them in `heads` (at most half
        // full), whose slots hold an index into `out` plus one (0 = empty).
        let found = heads.len();
        let bits = (2 * found).next_power_of_two().trailing_zeros().clamp(4, 32);
        let mask = (1usize << bits) - 1;
        heads.resize(found + mask + 1, 0);
        let (found, tally) = heads.split_at_mut(found);
        for &id in found.iter() {
            let mut i = (id.wrapping_mul(0x9E37_79B1) >> (32 - bits)) as usize;
            loop {
                match tally[i] as usize {
                    0 => {
                        out.push(Candidate { id, time: 0, bands: 1, jaccard: 0.0 });
                        tally[i] = out.len() as u32;
                        break;
                    }
                    n if out[n - 1].id == id => {
                        out[n - 1].bands += 1;
                        break;
                    }
                    _ => i = (i + 1) & mask,
                }
            }
        }
        let groups = out.len();
        let k = self.params.num_hashes;
        let stride = self.sig_stride;
        for c in out.iter_mut() {
            // Every member of a group has the head's signature.
            let idx = (c.id - self.id_base) as usize;
            let packed = &self.sigs[idx * stride..(idx + 1) * stride];
            let m = equal_nibbles(query, packed, k) as f64 / k as f64;
            c.jaccard = ((m - NIBBLE_CHANCE) / (1.0 - NIBBLE_CHANCE)).clamp(0.0, 1.0) as f32;
        }
        if groups > 1 {
            out.sort_unstable_by_key(estimate_order);
        }
        // Expand each group into its live members, after the heads.
        let cutoff = self.cutoff_rel();
        for g in 0..groups {
            let Candidate { id: head, bands, jaccard, .. } = out[g];
            let mut id = head;
            while let Some(meta) = self.meta_of(id) {
                if meta.time != ABSENT && i64::from(meta.time) >= cutoff {
                    out.push(Candidate { id, time: i64::from(meta.time) + self.epoch, bands, jaccard });
                }
                id = meta.next;
                if id == head {
                    break;
                }
            }
        }
        out.drain(..groups);
        // Members are chained in insertion order, so the order holds unless ids
        // were inserted out of order or groups with equal estimates interleave.
        if !out.is_sorted_by_key(estimate_order) {
            out.sort_unstable_by_key(estimate_order);
        }
    }

    /// Drops every post outside the window now and resizes the tables.
    pub fn evict_expired(&mut self) {
        self.rebuild(u32::MAX);
    }

    /// Expires posts, unlinks them from their groups, rebuilds the tables at
    /// the target load and drops the dead prefix of the per-id arrays (never
    /// past id `keep_from`).
    fn rebuild(&mut self, keep_from: u32) {
        // The queries' scratch: one that met a flood leaves it large.
        self.heads = Vec::new();
        let cutoff = self.cutoff_rel();
        // Expire posts.
        let mut expired = 0;
        for m in self.meta.iter_mut() {
            if m.time != ABSENT && i64::from(m.time) < cutoff {
                m.time = ABSENT;
                expired += 1;
            }
        }
        self.stored -= expired;
        let id_base = self.id_base;
        let meta = &mut self.meta;
        // Unlink expired members from their groups; an expired head keeps the
        // group's new head (or NONE) in `next`, for the band tables below.
        let old = std::mem::replace(&mut self.groups, GroupTable::with_capacity(0));
        let mut kept: Vec<(u64, u32)> = Vec::with_capacity(old.used);
        for (&key, &old_tail) in old.keys.iter().zip(&old.tails).filter(|(k, _)| **k != 0) {
            let old_head = meta[(old_tail - id_base) as usize].next;
            let (mut head, mut tail) = (NONE, NONE);
            let mut id = old_head;
            loop {
                let i = (id - id_base) as usize;
                let next = meta[i].next;
                if meta[i].time != ABSENT {
                    if tail == NONE {
                        head = id;
                    } else {
                        meta[(tail - id_base) as usize].next = id;
                    }
                    tail = id;
                }
                if id == old_tail {
                    break;
                }
                id = next;
            }
            if tail != NONE {
                meta[(tail - id_base) as usize].next = head;
                kept.push((key, tail));
            }
            if head != old_head {
                meta[(old_head - id_base) as usize].next = head;
            }
        }
        let (groups_before, groups_after) = (old.used, kept.len());
        drop(old);
        let mut groups = GroupTable::with_capacity((kept.len() * 1000 / TARGET_LOAD).max(MIN_CAPACITY));
        let cap = groups.cap;
        place_sorted(&mut groups.keys, &mut groups.tails, cap, kept.iter().copied());
        groups.used = kept.len();
        self.groups = groups;
        drop(kept);

        // Entries stay as they are when no post expired (they name live
        // heads after every rebuild), and the sizes are known before the pass.
        let target = |live: usize| (live * 1000 / TARGET_LOAD).max(MIN_CAPACITY);
        // A table is resized only when its size at the target load differs enough.
        let resized = |cap: usize, live: usize| {
            let new_cap = target(live);
            if new_cap.abs_diff(cap) * 1000 > new_cap * RESIZE_SLACK { new_cap } else { cap }
        };
        let as_is = |slot: u64| slot;
        if expired == 0 {
            for table in self.tables.iter_mut() {
                // Kept at its size, a table is already as a repack would leave it.
                let cap = resized(table.cap, table.used);
                if cap != table.cap {
                    table.repack(cap, as_is);
                }
            }
            return self.drop_dead_prefix(keep_from);
        }
        // What each entry becomes, at the index `entry` gives it: for a group
        // head, the group's live head (itself when live, else the group's new
        // head, or NONE); NONE for an empty slot; for a posting list, the list
        // under its new number when two or more of its heads are left (the
        // lists left are numbered densely again, in order), else its only
        // one or NONE (and the list is dropped). Held as a mask for the slot
        // with its value bits set: the fingerprint bits and the new value, or
        // 0 (NONE).
        let mask = |val: u32| if val == NONE { 0 } else { !u64::from(u32::MAX) | u64::from(val) };
        let mut heads: Vec<u64> = (self.meta.iter().zip(id_base..))
            .map(|(m, id)| mask(if m.time != ABSENT { id } else { m.next }))
            .chain([0])
            .collect();
        let empty_slot = heads.len() - 1;
        let list_base = heads.len();
        let mut left = 0;
        for n in 0..self.lists.len() {
            let list = &mut self.lists[n];
            list.retain_mut(|id| {
                let head = heads[(*id - id_base) as usize];
                *id = head as u32;
                head != 0
            });
            let head = if list.len() >= 2 {
                let renumbered = LIST_BIT | left as u32;
                // Lists before `left` are kept ones, so the swap only moves a dropped one up.
                self.lists.swap(left, n);
                left += 1;
                renumbered
            } else {
                list.first().copied().unwrap_or(NONE)
            };
            heads.push(mask(head));
        }
        self.lists.truncate(left);
        if self.lists.capacity() > 2 * left + MIN_CAPACITY {
            self.lists.shrink_to(left + left / 4);
        }
        // `LIST_BIT | n` maps to `list_base + n`.
        let list_offset = (list_base as u32).wrapping_sub(LIST_BIT);
        let entry = |slot: u64| -> u64 {
            let val = slot as u32;
            let i = select_unpredictable(val & LIST_BIT == 0, val.wrapping_sub(id_base), val.wrapping_add(list_offset));
            (slot | u64::from(u32::MAX)) & heads[select_unpredictable(slot != 0, i as usize, empty_slot)]
        };
        for table in self.tables.iter_mut() {
            // Sized for the share of groups left, so that one pass is enough
            // unless the load it leaves is far from the target.
            let estimate = table.used * groups_after / groups_before.max(1);
            table.repack(resized(table.cap, estimate), entry);
            let load = table.used * 1000 / table.cap;
            if target(table.used) != table.cap && !(TARGET_LOAD - 100..=TARGET_LOAD + 100).contains(&load) {
                table.repack(target(table.used), as_is);
            }
        }
        drop(heads);
        self.drop_dead_prefix(keep_from);
    }

    /// Drops the dead prefix of the per-id arrays and the forward pointers of
    /// expired heads, which no entry refers to after a rebuild.
    fn drop_dead_prefix(&mut self, keep_from: u32) {
        // Drop the dead prefix of the per-id arrays (nothing refers to it any
        // more) once it is a quarter of them, or when asked to, so that a
        // sliding window does not move the arrays at every rebuild.
        let limit = keep_from.saturating_sub(self.id_base) as usize;
        let dead = self.meta.iter().take(limit).take_while(|m| m.time == ABSENT).count();
        if dead > 0 && (keep_from == u32::MAX || dead * 4 >= self.meta.len()) {
            self.meta.drain(..dead);
            self.sigs.drain(..dead * self.sig_stride);
            self.id_base += dead as u32;
        }
        // Forward pointers of expired heads are not needed any more.
        for m in self.meta.iter_mut().filter(|m| m.time == ABSENT) {
            m.next = NONE;
        }
        if self.meta.capacity() > self.meta.len() * 3 / 2 + 64 {
            self.meta.shrink_to(self.meta.len() * 5 / 4);
            self.sigs.shrink_to(self.meta.len() * 5 / 4 * self.sig_stride);
        }
    }

    /// Approximate heap and inline memory used by the index, in bytes.
    pub fn approx_bytes(&self) -> usize {
        use std::mem::size_of;
        size_of::<Self>()
            + self.tables.iter().map(|t| t.bytes() + size_of::<BandTable>()).sum::<usize>()
            + self.groups.bytes()
            + self.lists.capacity() * size_of::<Vec<u32>>()
            + self.lists.iter().map(|l| l.capacity() * size_of::<u32>()).sum::<usize>()
            + self.meta.capacity() * size_of::<Meta>()
            + self.sigs.capacity()
            + self.hashes.capacity() * size_of::<u64>()
            + self.packed.capacity()
            + self.heads.capacity() * size_of::<u32>()
            + self.positions.capacity() * size_of::<usize>()
    }
}

fn pack_nibbles(values: &[u32], out: &mut [u8]) {
    // Two values a byte, the first in the low nibble (a form that vectorizes).
    let (pairs, rest) = values.as_chunks::<2>();
    for (&[a, b], byte) in pairs.iter().zip(out.iter_mut()) {
        *byte = ((a & 0xF) | ((b & 0xF) << 4)) as u8;
    }
    if let [last] = rest {
        out[values.len() / 2] = (last & 0xF) as u8;
    }
}

/// Number of equal nibbles among the first `k` of two signatures packed by
/// [`pack_nibbles`] (of `k.div_ceil(2)` bytes each).
fn equal_nibbles(a: &[u8], b: &[u8], k: usize) -> usize {
    let mut differ = 0;
    let mut xs = a.chunks_exact(8);
    let mut ys = b.chunks_exact(8);
    for (x, y) in xs.by_ref().zip(ys.by_ref()) {
        let word = |c: &[u8]| u64::from_le_bytes(c.try_into().unwrap_or([0; 8]));
        let d = word(x) ^ word(y);
        // One bit per non-zero nibble.
        differ += ((d | (d >> 1) | (d >> 2) | (d >> 3)) & 0x1111_1111_1111_1111).count_ones() as usize;
    }
    for (x, y) in xs.remainder().iter().zip(ys.remainder()) {
        let d = x ^ y;
        differ += usize::from(d & 0xF != 0) + usize::from(d >> 4 != 0);
    }
    // The padding nibble of an odd K is 0 on both sides.
    k - differ
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
            let mut packed_a = vec![0u8; len.div_ceil(2)];
            pack_nibbles(&a, &mut packed_a);
            let plain = a.iter().zip(&b).filter(|(x, y)| (*x & 0xF) == (*y & 0xF)).count();
            assert_eq!(equal_nibbles(&packed_a, &packed, len), plain, "len {len}");
        }
    }

    /// Checks the ordered table's invariants and that it finds exactly `held`.
    fn check_table(t: &BandTable, held: &std::collections::HashMap<u32, u32>) {
        let fps: Vec<u32> = t.slots.iter().map(|&s| slot_fp(s)).collect();
        let tags: Vec<u32> = fps.iter().copied().filter(|&f| f != 0).collect();
        assert!(tags.windows(2).all(|w| w[0] < w[1]), "sorted");
        assert_eq!(tags.len(), held.len());
        assert_eq!(t.slots.last(), Some(&0));
        for (i, &fp) in fps.iter().enumerate().filter(|(_, f)| **f != 0) {
            // At or after its home, with no empty slot in between.
            assert!(fp.home(t.cap) <= i && fps[fp.home(t.cap)..i].iter().all(|&f| f != 0));
        }
        for (&fp, &val) in held {
            let i = t.find(fp);
            assert_eq!((slot_fp(t.slots[i]), t.slots[i] as u32), (fp, val));
        }
    }

    #[test]
    fn ordered_tables_find_what_they_hold() {
        // Tags crowded onto a few homes (long runs, an overflow past the end) and
        // spread ones, over the load a table is ever kept at.
        for spread in [false, true] {
            let mut t = BandTable::with_capacity(64);
            let mut held = std::collections::HashMap::new();
            let mut x = 99u64;
            for n in 0..120u32 {
                x = crate::minhash::mix64(x);
                let fp = if spread { (x as u32).max(1) } else { u32::MAX - (x % 500) as u32 * 1001 };
                let i = t.find(fp);
                if slot_fp(t.slots[i]) == fp {
                    assert_eq!(held.get(&fp), Some(&(t.slots[i] as u32)));
                } else {
                    assert!(!held.contains_key(&fp));
                    t.insert_at(i, fp, n);
                    held.insert(fp, n);
                }
                check_table(&t, &held);
            }
            // A rebuild places the sorted entries directly, at another size.
            for cap in [50, 64, 200] {
                let mut r = t.clone();
                r.repack(cap, |slot| slot);
                assert_eq!(r.used, held.len());
                check_table(&r, &held);
            }
        }
    }

    #[test]
    fn nibbles_round_trip() {
        let vals: Vec<u32> = (0..7u32).map(|i| i * 0x1111_1111 + 3).collect();
        let mut packed = vec![0u8; 4];
        pack_nibbles(&vals, &mut packed);
        assert_eq!(packed[3] >> 4, 0);
        assert_eq!(equal_nibbles(&packed, &packed, 7), 7);
        let other: Vec<u32> = vals.iter().map(|v| v ^ 1).collect();
        let mut packed_other = vec![0u8; 4];
        pack_nibbles(&other, &mut packed_other);
        assert_eq!(equal_nibbles(&packed_other, &packed, 7), 0);
    }
}
