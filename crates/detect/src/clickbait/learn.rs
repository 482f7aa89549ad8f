//! Learning: L2-regularized logistic regression fitted by L-BFGS, folds for
//! cross-validation (stratified, or whole topics held out), out-of-fold scores, figures, and
//! the choice of an operating cut. Deterministic: a fixed seed gives the same folds, the same
//! weights and the same figures, byte for byte.

use serde::Serialize;

/// Rows of sparse features.
pub struct Matrix {
    pub dim: usize,
    starts: Vec<usize>,
    idx: Vec<u32>,
    val: Vec<f32>,
}

impl Matrix {
    /// An empty matrix of `dim` columns.
    pub fn new(dim: usize) -> Self {
        Matrix { dim, starts: vec![0], idx: Vec::new(), val: Vec::new() }
    }

    /// Appends a row of (column, value) pairs; columns must be below `dim`.
    pub fn push_row(&mut self, row: impl IntoIterator<Item = (u32, f32)>) {
        for (i, v) in row {
            debug_assert!((i as usize) < self.dim);
            self.idx.push(i);
            self.val.push(v);
        }
        self.starts.push(self.idx.len());
    }

    pub fn rows(&self) -> usize {
        self.starts.len() - 1
    }

    fn row(&self, r: usize) -> (&[u32], &[f32]) {
        let (a, b) = (self.starts[r], self.starts[r + 1]);
        (&self.idx[a..b], &self.val[a..b])
    }

    /// The linear score of row `r` under `w` (`[bias, weights...]`).
    pub fn dot(&self, r: usize, w: &[f64]) -> f64 {
        let (idx, val) = self.row(r);
        // w[0] is the bias; feature j is w[j + 1].
        w[0] + idx.iter().zip(val).map(|(i, v)| w[*i as usize + 1] * f64::from(*v)).sum::<f64>()
    }
}

/// The objective and its gradient over `rows`.
fn objective(m: &Matrix, y: &[bool], rows: &[usize], c: f64, w: &[f64], grad: &mut [f64]) -> f64 {
    let mut f = 0.0;
    grad[0] = 0.0;
    for (g, wj) in grad[1..].iter_mut().zip(&w[1..]) {
        *g = wj / c;
        f += wj * wj / (2.0 * c);
    }
    for &r in rows {
        let z = m.dot(r, w);
        let yz = if y[r] { z } else { -z };
        // log(1 + e^{-yz}), stably.
        f += if yz > 0.0 { (-yz).exp().ln_1p() } else { -yz + yz.exp().ln_1p() };
        let p = 1.0 / (1.0 + (-z).exp());
        let d = p - if y[r] { 1.0 } else { 0.0 };
        grad[0] += d;
        let (idx, val) = m.row(r);
        for (i, v) in idx.iter().zip(val) {
            grad[*i as usize + 1] += d * f64::from(*v);
        }
    }
    f
}

fn dotv(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Fits the logistic regression on `rows` by L-BFGS (history 10, backtracking line search).
/// Returns `[bias, weights...]`.
pub fn fit(m: &Matrix, y: &[bool], rows: &[usize], c: f64) -> Vec<f64> {
    const HISTORY: usize = 10;
    const MAX_ITER: usize = 500;
    let n = m.dim + 1;
    let mut w = vec![0.0; n];
    let mut g = vec![0.0; n];
    let mut f = objective(m, y, rows, c, &w, &mut g);
    let mut hist_s: Vec<Vec<f64>> = Vec::new();
    let mut hist_y: Vec<Vec<f64>> = Vec::new();
    let mut dir = vec![0.0; n];
    let mut w_new = vec![0.0; n];
    let mut g_new = vec![0.0; n];
    let tol = 1e-5 * (rows.len().max(1) as f64);
    for iter in 0..MAX_ITER {
        if g.iter().fold(0f64, |a, x| a.max(x.abs())) < tol {
            break;
        }
        // Two-loop recursion: dir = -H g.
        dir.copy_from_slice(&g);
        let k = hist_s.len();
        let mut alpha = vec![0.0; k];
        for i in (0..k).rev() {
            let rho = 1.0 / dotv(&hist_y[i], &hist_s[i]);
            alpha[i] = rho * dotv(&hist_s[i], &dir);
            for (d, yv) in dir.iter_mut().zip(&hist_y[i]) {
                *d -= alpha[i] * yv;
            }
        }
        let gamma = if k > 0 {
            dotv(&hist_s[k - 1], &hist_y[k - 1]) / dotv(&hist_y[k - 1], &hist_y[k - 1])
        } else {
            1.0 / dotv(&g, &g).sqrt().max(1e-12)
        };
        for d in dir.iter_mut() {
            *d *= gamma;
        }
        for i in 0..k {
            let rho = 1.0 / dotv(&hist_y[i], &hist_s[i]);
            let beta = rho * dotv(&hist_y[i], &dir);
            for (d, sv) in dir.iter_mut().zip(&hist_s[i]) {
                *d += (alpha[i] - beta) * sv;
            }
        }
        for d in dir.iter_mut() {
            *d = -*d;
        }
        let mut slope = dotv(&g, &dir);
        if slope >= 0.0 {
            // Not a descent direction: restart from steepest descent.
            hist_s.clear();
            hist_y.clear();
            for (d, gv) in dir.iter_mut().zip(&g) {
                *d = -gv;
            }
            slope = dotv(&g, &dir);
        }
        let mut step = if iter == 0 && k == 0 { 1.0 / dotv(&g, &g).sqrt().max(1e-12) } else { 1.0 };
        let mut accepted = false;
        let mut f_new = f;
        for _ in 0..40 {
            for ((wn, wv), d) in w_new.iter_mut().zip(&w).zip(&dir) {
                *wn = wv + step * d;
            }
            f_new = objective(m, y, rows, c, &w_new, &mut g_new);
            if f_new <= f + 1e-4 * step * slope {
                accepted = true;
                break;
            }
            step *= 0.5;
        }
        if !accepted {
            break;
        }
        let s_vec: Vec<f64> = w_new.iter().zip(&w).map(|(a, b)| a - b).collect();
        let y_vec: Vec<f64> = g_new.iter().zip(&g).map(|(a, b)| a - b).collect();
        let sy = dotv(&s_vec, &y_vec);
        std::mem::swap(&mut w, &mut w_new);
        std::mem::swap(&mut g, &mut g_new);
        let converged = (f - f_new).abs() <= 1e-10 * f.abs().max(1.0);
        f = f_new;
        if sy > 1e-12 {
            if hist_s.len() == HISTORY {
                hist_s.remove(0);
                hist_y.remove(0);
            }
            hist_s.push(s_vec);
            hist_y.push(y_vec);
        }
        if converged {
            break;
        }
    }
    w
}

/// The probability of row `r` under `w`.
pub fn probability(m: &Matrix, r: usize, w: &[f64]) -> f64 {
    1.0 / (1.0 + (-m.dot(r, w)).exp())
}

/// Out-of-fold probabilities: each fold scored by a model fitted (at `c`) on the others. Only
/// `rows` take part (the others score 0); `fold[r]` is the fold of row `r`, below `k`.
pub fn out_of_fold(m: &Matrix, y: &[bool], rows: &[usize], fold: &[usize], k: usize, c: f64) -> Vec<f64> {
    let mut p = vec![0.0; y.len()];
    for f in 0..k {
        let train: Vec<usize> = rows.iter().copied().filter(|&r| fold[r] != f).collect();
        let test: Vec<usize> = rows.iter().copied().filter(|&r| fold[r] == f).collect();
        if test.is_empty() || train.is_empty() {
            continue;
        }
        let w = fit(m, y, &train, c);
        for r in test {
            p[r] = probability(m, r, &w);
        }
    }
    p
}

/// A seeded generator (splitmix64), so folds do not depend on any library's version.
pub struct SplitMix(u64);

impl SplitMix {
    pub fn new(seed: u64) -> Self {
        SplitMix(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i + 1);
            v.swap(i, j);
        }
    }
}

/// Stratified folds: the fold of each item.
pub fn stratified_folds(labels: &[bool], k: usize, seed: u64) -> Vec<usize> {
    let mut rng = SplitMix::new(seed);
    let mut fold = vec![0; labels.len()];
    let mut next = 0;
    for class in [true, false] {
        let mut items: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == class).collect();
        rng.shuffle(&mut items);
        for i in items {
            fold[i] = next % k;
            next += 1;
        }
    }
    fold
}

/// Topic-held-out folds: items clustered by topic (spherical k-means over hashed character
/// bigrams of `texts`, 3k clusters), whole clusters dealt to folds, largest first, each to
/// the fold with fewest items.
pub fn topic_folds(texts: &[&str], k: usize, seed: u64) -> Vec<usize> {
    const BITS: u32 = 14;
    let dims = 1usize << BITS;
    let mut norm = String::new();
    let vectors: Vec<Vec<(u32, f64)>> = texts
        .iter()
        .map(|t| {
            steward_text::normalize_into(t, &mut norm);
            let chars: Vec<char> = norm.chars().filter(|c| !c.is_whitespace()).collect();
            let mut v: Vec<u32> = chars
                .windows(2)
                .map(|w| {
                    let h = (u64::from(w[0]) << 32 | u64::from(w[1])).wrapping_mul(0x9E37_79B9_7F4A_7C15);
                    (h >> (64 - BITS)) as u32
                })
                .collect();
            v.sort_unstable();
            let mut out: Vec<(u32, f64)> = Vec::new();
            for i in v {
                match out.last_mut() {
                    Some((j, c)) if *j == i => *c += 1.0,
                    _ => out.push((i, 1.0)),
                }
            }
            // Sublinear counts, unit length.
            for (_, c) in out.iter_mut() {
                *c = 1.0 + c.ln();
            }
            let len = out.iter().map(|(_, c)| c * c).sum::<f64>().sqrt().max(1e-12);
            for (_, c) in out.iter_mut() {
                *c /= len;
            }
            out
        })
        .collect();
    let n = vectors.len();
    let clusters = (3 * k).min(n).max(1);
    let mut rng = SplitMix::new(seed ^ 0x70_91C5);
    // k-means++ seeding on cosine distance.
    let mut centroids: Vec<Vec<f64>> = Vec::with_capacity(clusters);
    let dense = |v: &[(u32, f64)]| {
        let mut d = vec![0.0; dims];
        for &(i, c) in v {
            d[i as usize] = c;
        }
        d
    };
    let sim = |c: &[f64], v: &[(u32, f64)]| v.iter().map(|&(i, x)| c[i as usize] * x).sum::<f64>();
    if n == 0 {
        return Vec::new();
    }
    centroids.push(dense(&vectors[rng.below(n)]));
    let mut best = vec![f64::MIN; n];
    while centroids.len() < clusters {
        let last = centroids.last().map(|c| c.as_slice()).unwrap_or(&[]);
        for (b, v) in best.iter_mut().zip(&vectors) {
            *b = b.max(sim(last, v));
        }
        let weights: Vec<f64> = best.iter().map(|b| (1.0 - b).max(0.0).powi(2)).collect();
        let total: f64 = weights.iter().sum();
        let pick = if total <= 0.0 {
            rng.below(n)
        } else {
            let mut x = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * total;
            let mut chosen = n - 1;
            for (i, w) in weights.iter().enumerate() {
                if x < *w {
                    chosen = i;
                    break;
                }
                x -= w;
            }
            chosen
        };
        centroids.push(dense(&vectors[pick]));
    }
    let mut assign = vec![0usize; n];
    for _ in 0..30 {
        let mut changed = false;
        for (a, v) in assign.iter_mut().zip(&vectors) {
            let mut top = (0, f64::MIN);
            for (ci, c) in centroids.iter().enumerate() {
                let s = sim(c, v);
                if s > top.1 {
                    top = (ci, s);
                }
            }
            if *a != top.0 {
                *a = top.0;
                changed = true;
            }
        }
        for (ci, c) in centroids.iter_mut().enumerate() {
            let members: Vec<&Vec<(u32, f64)>> =
                vectors.iter().zip(&assign).filter(|(_, a)| **a == ci).map(|(v, _)| v).collect();
            if members.is_empty() {
                continue;
            }
            c.iter_mut().for_each(|x| *x = 0.0);
            for v in members {
                for &(i, x) in v {
                    c[i as usize] += x;
                }
            }
            let len = c.iter().map(|x| x * x).sum::<f64>().sqrt().max(1e-12);
            c.iter_mut().for_each(|x| *x /= len);
        }
        if !changed {
            break;
        }
    }
    let mut sizes: Vec<(usize, usize)> =
        (0..clusters).map(|c| (assign.iter().filter(|a| **a == c).count(), c)).collect();
    sizes.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut fold_size = vec![0usize; k];
    let mut fold_of_cluster = vec![0usize; clusters];
    for (size, c) in sizes {
        let f = (0..k).min_by_key(|&f| (fold_size[f], f)).unwrap_or(0);
        fold_of_cluster[c] = f;
        fold_size[f] += size;
    }
    assign.iter().map(|c| fold_of_cluster[*c]).collect()
}

/// Binary classification figures.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Metrics {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub accuracy: f64,
    pub n: usize,
    pub positives: usize,
    pub flagged: usize,
}

/// Figures of scores cut at `threshold`.
pub fn metrics(scores: &[f64], labels: &[bool], threshold: f64) -> Metrics {
    let flags: Vec<bool> = scores.iter().map(|s| *s >= threshold).collect();
    metrics_of(&flags, labels)
}

/// Figures of decisions.
pub fn metrics_of(flags: &[bool], labels: &[bool]) -> Metrics {
    let (mut tp, mut fp, mut fn_, mut tn) = (0usize, 0usize, 0usize, 0usize);
    for (s, l) in flags.iter().zip(labels) {
        match (*s, *l) {
            (true, true) => tp += 1,
            (true, false) => fp += 1,
            (false, true) => fn_ += 1,
            (false, false) => tn += 1,
        }
    }
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let precision = ratio(tp, tp + fp);
    let recall = ratio(tp, tp + fn_);
    let f1 = if precision + recall == 0.0 { 0.0 } else { 2.0 * precision * recall / (precision + recall) };
    Metrics {
        precision: round4(precision),
        recall: round4(recall),
        f1: round4(f1),
        accuracy: round4(ratio(tp + tn, flags.len())),
        n: flags.len(),
        positives: tp + fn_,
        flagged: tp + fp,
    }
}

fn round4(x: f64) -> f64 {
    (x * 1e4).round() / 1e4
}

/// The value a cut is chosen by: the mean of F1 and accuracy.
pub fn cut_value(m: &Metrics) -> f64 {
    (m.f1 + m.accuracy) / 2.0
}

/// The cut among 0.20, 0.21, … 0.80 at which `scores` do best on `labels` by
/// [`cut_value`] (ties: nearer 0.5), and its value. A coarse grid keeps the cut from chasing
/// a few items.
pub fn best_cut(scores: &[f64], labels: &[bool]) -> (f64, f64) {
    let mut best: (f64, f64) = (0.5, f64::MIN);
    for step in 20..=80 {
        let cut = f64::from(step) / 100.0;
        let value = cut_value(&metrics(scores, labels, cut));
        if value > best.1 + 1e-12 || ((value - best.1).abs() <= 1e-12 && (cut - 0.5).abs() < (best.0 - 0.5).abs()) {
            best = (cut, value);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy() -> (Matrix, Vec<bool>) {
        // Feature 0 says clickbait, feature 1 says not; feature 2 is noise.
        let mut m = Matrix::new(3);
        let mut y = vec![];
        for i in 0..40 {
            let label = i % 2 == 0;
            let mut row = vec![(if label { 0 } else { 1 }, 1.0)];
            if i % 3 == 0 {
                row.push((2, 1.0));
            }
            m.push_row(row);
            y.push(label);
        }
        (m, y)
    }

    #[test]
    fn fit_separates_and_is_deterministic() {
        let (m, y) = toy();
        let rows: Vec<usize> = (0..40).collect();
        let w = fit(&m, &y, &rows, 1.0);
        assert!(w[1] > 1.0 && w[2] < -1.0, "{w:?}");
        assert!(w[3].abs() < 0.5, "{w:?}");
        assert_eq!(w, fit(&m, &y, &rows, 1.0));
    }

    #[test]
    fn folds_are_stratified_and_seeded() {
        let y: Vec<bool> = (0..50).map(|i| i % 5 == 0).collect();
        let f = stratified_folds(&y, 5, 7);
        for k in 0..5 {
            assert_eq!((0..50).filter(|&i| f[i] == k && y[i]).count(), 2);
            assert_eq!((0..50).filter(|&i| f[i] == k).count(), 10);
        }
        assert_eq!(f, stratified_folds(&y, 5, 7));
        assert_ne!(f, stratified_folds(&y, 5, 8));
    }

    #[test]
    fn topic_folds_keep_topics_together() {
        // Nine topics with no characters in common, four items each, three folds (nine
        // clusters): each topic is one cluster, held out whole.
        let topics = [
            "北京新增本土感染者",
            "国足世界杯预选赛",
            "央行降准释放流动性",
            "台风登陆沿海停课",
            "高铁新线开通运营",
            "油价下调加满一箱",
            "考古发现商周墓葬",
            "芯片产业链投资热",
            "冬季供暖燃气保障",
        ];
        let mut texts = Vec::new();
        for i in 0..4 {
            for t in topics {
                texts.push(format!("{t}{t}{i}"));
            }
        }
        let refs: Vec<&str> = texts.iter().map(|s| s.as_str()).collect();
        let f = topic_folds(&refs, 3, 1);
        for topic in 0..topics.len() {
            assert!((0..4).all(|i| f[i * topics.len() + topic] == f[topic]), "{f:?}");
        }
        for k in 0..3 {
            assert_eq!(f.iter().filter(|x| **x == k).count(), 12, "{f:?}");
        }
        assert_eq!(f, topic_folds(&refs, 3, 1));
    }

    #[test]
    fn out_of_fold_scores_every_row_from_other_folds() {
        let (m, y) = toy();
        let rows: Vec<usize> = (0..40).collect();
        let fold = stratified_folds(&y, 4, 1);
        let p = out_of_fold(&m, &y, &rows, &fold, 4, 1.0);
        assert!(p.iter().zip(&y).all(|(p, y)| (*p > 0.5) == *y), "{p:?}");
    }

    #[test]
    fn metrics_and_cut() {
        let s = [0.9, 0.8, 0.6, 0.4, 0.3, 0.1];
        let y = [true, true, false, true, false, false];
        let m = metrics(&s, &y, 0.5);
        assert_eq!((m.precision, m.recall, m.accuracy), (0.6667, 0.6667, 0.6667));
        assert_eq!(best_cut(&s, &y).0, 0.4);
        assert_eq!(metrics(&[], &[], 0.5).f1, 0.0);
    }
}
