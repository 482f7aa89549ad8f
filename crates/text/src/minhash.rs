//! MinHash signatures by one-permutation hashing (OPH) with optimal
//! densification.
//!
//! Each shingle hash `h` (64 bits) falls into bin `⌊(h >> 32)·K / 2³²⌋` and
//! offers the value `h mod 2³²`; a bin keeps its smallest value. One pass over
//! the shingles fills the signature, instead of K hash evaluations per shingle.
//! Bins that no shingle reached are filled by *optimal densification*
//! (Shrivastava, ICML 2017): empty bin `i` probes bins `j = g(i, 1), g(i, 2), …`
//! with a fixed hash `g` until it finds one that was non-empty before
//! densification and copies its value. Because `g` is the same for every text,
//! two texts copy from the same bins and `P[sig_a[i] = sig_b[i]] = J(a, b)` still
//! holds for every `i`, with a variance close to that of K independent
//! permutations.

/// Default number of signature values (bins).
pub const DEFAULT_NUM_HASHES: usize = 128;

/// Largest supported number of signature values.
pub const MAX_NUM_HASHES: usize = 4096;

/// The value of a bin of an empty signature (a text with no shingles).
pub const EMPTY: u32 = u32::MAX;

/// A MinHash signature: `K` 32-bit values, plus the number of shingles it was
/// computed from.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Signature {
    values: Vec<u32>,
    shingles: u32,
}

impl Signature {
    /// An empty signature of `k` values (all [`EMPTY`]).
    pub fn empty(k: usize) -> Self {
        Signature { values: vec![EMPTY; k], shingles: 0 }
    }

    /// Builds a signature from raw values (e.g. deserialized); `shingles` is the
    /// number of shingles it was computed from.
    pub fn from_values(values: Vec<u32>, shingles: u32) -> Self {
        Signature { values, shingles }
    }

    /// The values, one per bin.
    pub fn values(&self) -> &[u32] {
        &self.values
    }

    /// Number of values (K).
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// True when computed from a text without shingles (an empty normalized
    /// text): such a signature matches nothing.
    pub fn is_empty(&self) -> bool {
        self.shingles == 0
    }

    /// Number of shingles (with repeats) the signature was computed from. Few
    /// shingles mean a coarse signature: callers may want a floor (e.g. ignore
    /// texts with fewer than 5 shingles for campaign detection).
    pub fn shingle_count(&self) -> u32 {
        self.shingles
    }

    /// Estimated Jaccard similarity of the two shingle sets: the fraction of
    /// bins with equal values. Its standard error is about
    /// `sqrt(J(1-J)/K)` (0.035 at J = 0.8, K = 128). Empty signatures, or
    /// signatures of different lengths, give 0.
    pub fn jaccard(&self, other: &Signature) -> f64 {
        estimate_jaccard(self, other)
    }
}

/// Estimated Jaccard similarity of two signatures (see [`Signature::jaccard`]).
pub fn estimate_jaccard(a: &Signature, b: &Signature) -> f64 {
    if a.is_empty() || b.is_empty() || a.values.len() != b.values.len() || a.values.is_empty() {
        return 0.0;
    }
    let equal = a.values.iter().zip(&b.values).filter(|(x, y)| x == y).count();
    equal as f64 / a.values.len() as f64
}

/// Computes OPH signatures of a fixed size.
#[derive(Clone, Debug)]
pub struct OnePermutationHasher {
    k: usize,
    seed: u64,
    /// The first `PROBES` densification probes of every bin, precomputed:
    /// `probes[i * PROBES + a - 1] = g(i, a)`.
    probes: Vec<u16>,
    /// For K ≤ `FIRST_MAX_K`: `first[i * K + j]` = the first attempt `a` with
    /// `g(i, a) = j` (saturating at `u16::MAX`), so that a signature with few
    /// filled bins is densified in O(filled) per empty bin instead of
    /// O(K / filled) probes.
    first: Vec<u16>,
}

/// Largest K for which the `first` table (K² × 2 bytes) is built.
const FIRST_MAX_K: usize = 512;

/// Densification probes precomputed per bin; later ones are computed on the
/// fly (needed only when fewer than about K/32 bins are filled).
const PROBES: usize = 32;

#[inline(always)]
fn mix64(mut x: u64) -> u64 {
    // splitmix64 finalizer
    x ^= x >> 30;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

impl OnePermutationHasher {
    /// A hasher with `k` bins (`1 ≤ k ≤ 4096`) and a densification seed.
    ///
    /// # Panics
    /// If `k` is out of range.
    pub fn new(k: usize, seed: u64) -> Self {
        assert!((1..=MAX_NUM_HASHES).contains(&k), "number of hashes out of range: {k}");
        let mut h = OnePermutationHasher { k, seed, probes: Vec::new(), first: Vec::new() };
        h.probes =
            (0..k).flat_map(|i| (1..=PROBES as u64).map(move |a| (i, a))).map(|(i, a)| h.probe(i, a) as u16).collect();
        if k <= FIRST_MAX_K {
            let mut first = vec![u16::MAX; k * k];
            for i in 0..k {
                let row = &mut first[i * k..(i + 1) * k];
                let mut missing = k;
                for a in 1..u64::from(u16::MAX) {
                    let j = h.probe(i, a);
                    if row[j] == u16::MAX {
                        row[j] = a as u16;
                        missing -= 1;
                        if missing == 0 {
                            break;
                        }
                    }
                }
            }
            h.first = first;
        }
        h
    }

    /// Densification probe `attempt` (≥ 1) of bin `i`: `g(i, attempt)`.
    #[inline(always)]
    fn probe(&self, i: usize, attempt: u64) -> usize {
        self.bin_of(mix64((self.seed ^ ((i as u64) << 32)).wrapping_add(attempt)))
    }

    /// Number of bins (K).
    pub fn num_hashes(&self) -> usize {
        self.k
    }

    #[inline(always)]
    fn bin_of(&self, h: u64) -> usize {
        (((h >> 32) * self.k as u64) >> 32) as usize
    }

    /// Starts a signature in `out` (resizing it to K and clearing it).
    pub fn begin(&self, out: &mut Signature) {
        out.values.clear();
        out.values.resize(self.k, EMPTY);
        out.shingles = 0;
    }

    /// Adds one shingle hash to a signature started with [`begin`](Self::begin).
    #[inline(always)]
    pub fn add(&self, out: &mut Signature, h: u64) {
        let bin = self.bin_of(h);
        // EMPTY marks an empty bin: a genuine value of u32::MAX is taken as
        // u32::MAX - 1 (a 2⁻³² bias, irrelevant).
        let v = (h as u32).min(EMPTY - 1);
        let slot = &mut out.values[bin];
        if v < *slot {
            *slot = v;
        }
        out.shingles = out.shingles.saturating_add(1);
    }

    /// Finishes a signature: densifies its empty bins.
    pub fn finish(&self, out: &mut Signature) {
        if out.shingles == 0 {
            return;
        }
        let k = self.k;
        let filled = out.values.iter().filter(|&&v| v != EMPTY).count();
        if filled == k {
            return;
        }
        if filled == 1 {
            let v = out.values.iter().copied().find(|&v| v != EMPTY).unwrap_or(EMPTY);
            out.values.fill(v);
            return;
        }
        // Which bins were non-empty before densification (copies must come from
        // those only).
        let mut occupied = [0u64; MAX_NUM_HASHES / 64];
        let occupied = &mut occupied[..k.div_ceil(64)];
        for (i, &v) in out.values.iter().enumerate() {
            if v != EMPTY {
                occupied[i >> 6] |= 1 << (i & 63);
            }
        }
        let is_filled = |j: usize| occupied[j >> 6] & (1 << (j & 63)) != 0;
        // Few filled bins: pick, for each empty bin, the filled bin its probe
        // sequence reaches first, from the `first` table (same result as
        // probing; ties are impossible since each attempt names one bin, and
        // an unreached `u16::MAX` entry falls back to probing).
        if !self.first.is_empty() && filled * filled < k {
            let filled_bins: Vec<usize> = (0..k).filter(|&j| is_filled(j)).collect();
            for i in 0..k {
                if is_filled(i) {
                    continue;
                }
                let row = &self.first[i * k..(i + 1) * k];
                let (best, at) =
                    filled_bins.iter().map(|&j| (j, row[j])).min_by_key(|&(_, a)| a).unwrap_or((i, u16::MAX));
                let source = if at == u16::MAX {
                    (1..).map(|a| self.probe(i, a)).find(|&j| is_filled(j)).unwrap_or(i)
                } else {
                    best
                };
                out.values[i] = out.values[source];
            }
            return;
        }
        for i in 0..k {
            if is_filled(i) {
                continue;
            }
            let pre = &self.probes[i * PROBES..(i + 1) * PROBES];
            let source = match pre.iter().map(|&j| j as usize).find(|&j| is_filled(j)) {
                Some(j) => j,
                None => (PROBES as u64 + 1..).map(|a| self.probe(i, a)).find(|&j| is_filled(j)).unwrap_or(i),
            };
            out.values[i] = out.values[source];
        }
    }

    /// Signature of a sequence of shingle hashes.
    pub fn sign(&self, hashes: impl IntoIterator<Item = u64>) -> Signature {
        let mut out = Signature::default();
        self.sign_into(hashes, &mut out);
        out
    }

    /// Signature of a sequence of shingle hashes, into `out`.
    pub fn sign_into(&self, hashes: impl IntoIterator<Item = u64>, out: &mut Signature) {
        self.begin(out);
        for h in hashes {
            self.add(out, h);
        }
        self.finish(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_single() {
        let oph = OnePermutationHasher::new(128, 7);
        let e = oph.sign([]);
        assert!(e.is_empty());
        assert_eq!(e.values().len(), 128);
        assert_eq!(estimate_jaccard(&e, &e), 0.0);
        let s = oph.sign([42u64 << 40 | 5]);
        assert!(s.values().iter().all(|&v| v == 5));
        assert_eq!(s.jaccard(&s), 1.0);
    }

    /// Reference optimal densification by plain probing.
    fn densify_by_probing(oph: &OnePermutationHasher, hashes: &[u64]) -> Vec<u32> {
        let mut sig = Signature::default();
        oph.begin(&mut sig);
        for &h in hashes {
            oph.add(&mut sig, h);
        }
        let orig = sig.values.clone();
        let mut out = orig.clone();
        for i in 0..oph.k {
            if orig[i] == EMPTY {
                let j = (1..).map(|a| oph.probe(i, a)).find(|&j| orig[j] != EMPTY).unwrap();
                out[i] = orig[j];
            }
        }
        out
    }

    #[test]
    fn all_densification_paths_agree_with_probing() {
        let oph = OnePermutationHasher::new(128, 99);
        for n in 2..300u64 {
            let hashes: Vec<u64> = (0..n).map(|x| mix64(x * 7919 + n)).collect();
            let sig = oph.sign(hashes.iter().copied());
            assert_eq!(sig.values(), &densify_by_probing(&oph, &hashes)[..], "n={n}");
        }
    }

    #[test]
    fn densified_bins_come_from_filled_ones() {
        let oph = OnePermutationHasher::new(128, 7);
        let hashes: Vec<u64> = (0..10u64).map(mix64).collect();
        let sig = oph.sign(hashes.iter().copied());
        let mins: Vec<u32> = hashes.iter().map(|&h| h as u32).collect();
        assert!(sig.values().iter().all(|v| mins.contains(v)));
        // order independence
        let rev = oph.sign(hashes.iter().rev().copied());
        assert_eq!(sig, rev);
    }
}
