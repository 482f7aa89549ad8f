//! OPH signatures against exact shingle Jaccard, and LSH banding, on synthetic
//! texts.

mod common;

use common::{Rng, mutate, random_text};
use steward_text::shingle::{exact_jaccard, shingles_into};
use steward_text::{SketchParams, Sketcher, estimate_jaccard, normalize};

struct Pair {
    exact: f64,
    estimate: f64,
}

fn pairs(rng: &mut Rng, n: usize, len: (usize, usize)) -> Vec<Pair> {
    let mut sk = Sketcher::new(SketchParams::default()).unwrap();
    let ngram = sk.params().ngram;
    let mut out = Vec::new();
    let (mut ha, mut hb) = (Vec::new(), Vec::new());
    for i in 0..n {
        let n = len.0 + rng.below(len.1 - len.0);
        let a = random_text(rng, n);
        let rate = [0.01, 0.03, 0.06, 0.1, 0.2, 0.35][i % 6];
        let b = mutate(rng, &a, rate);
        let (na, nb) = (normalize(&a), normalize(&b));
        shingles_into(&na, ngram, sk.params().seed, &mut ha);
        shingles_into(&nb, ngram, sk.params().seed, &mut hb);
        let sa = sk.sketch(&a);
        let sb = sk.sketch(&b);
        out.push(Pair { exact: exact_jaccard(&ha, &hb), estimate: estimate_jaccard(&sa, &sb) });
    }
    out
}

fn check_accuracy(p: &[Pair], label: &str) {
    let k = 128.0;
    let mut worst: f64 = 0.0;
    let mut bias = 0.0;
    let mut sq = 0.0;
    let mut expected_sq = 0.0;
    for x in p {
        let sd = (x.exact * (1.0 - x.exact) / k).sqrt();
        let err = x.estimate - x.exact;
        worst = worst.max(err.abs() / (sd + 1.0 / k));
        bias += err;
        sq += err * err;
        expected_sq += sd * sd;
    }
    let n = p.len() as f64;
    let bias = bias / n;
    let ratio = sq / expected_sq;
    println!("{label}: bias {bias:+.4}, mse / binomial mse {ratio:.2}, worst {worst:.2} sd");
    // No single estimate beyond 5 standard errors (plus one bin).
    assert!(worst < 5.0, "{label}: worst error {worst} sd");
    // Unbiased within noise: the mean of n errors has sd ≈ 0.04/√n.
    assert!(bias.abs() < 0.01, "{label}: bias {bias}");
    // Variance close to that of K independent permutations.
    assert!(ratio < 1.5, "{label}: mse ratio {ratio}");
}

#[test]
fn oph_estimates_follow_exact_jaccard() {
    let mut rng = Rng(42);
    let p = pairs(&mut rng, 1200, (80, 300));
    let spread = p.iter().map(|x| x.exact).fold((1.0f64, 0.0f64), |(lo, hi), j| (lo.min(j), hi.max(j)));
    assert!(spread.0 < 0.3 && spread.1 > 0.9, "{spread:?}");
    check_accuracy(&p, "long texts");
}

#[test]
fn oph_estimates_on_short_texts_with_densification() {
    // 12–40 characters: most of the 128 bins are empty before densification.
    let mut rng = Rng(7);
    let p = pairs(&mut rng, 1200, (12, 40));
    check_accuracy(&p, "short texts");
}

#[test]
fn identical_and_disjoint_texts() {
    let mut sk = Sketcher::new(SketchParams::default()).unwrap();
    let mut rng = Rng(3);
    let a = random_text(&mut rng, 200);
    let sa = sk.sketch(&a);
    assert_eq!(estimate_jaccard(&sa, &sk.sketch(&a)), 1.0);
    let sb = sk.sketch("The quick brown fox jumps over the lazy dog, again and again.");
    assert!(estimate_jaccard(&sa, &sb) < 0.05);
    assert!(sk.sketch("").is_empty());
    assert_eq!(sk.sketch("转发").shingle_count(), 1);
    assert_eq!(sk.sketch("转发微博").shingle_count(), 2);
    let mut normalized = String::from("left over");
    sk.last_normalized_into(&mut normalized);
    assert_eq!(normalized, "转发微博");
}

#[test]
fn banding_recall_matches_the_s_curve() {
    // Pairs near J = 0.8 must almost always share a band; pairs near 0.2
    // almost never.
    let params = SketchParams::default();
    let mut sk = Sketcher::new(params).unwrap();
    let mut rng = Rng(11);
    let (mut hi_total, mut hi_hit, mut lo_total, mut lo_hit) = (0, 0, 0, 0);
    let (mut ha, mut hb) = (Vec::new(), Vec::new());
    for i in 0..3000 {
        let n = 60 + rng.below(200);
        let a = random_text(&mut rng, n);
        let b = mutate(&mut rng, &a, if i % 2 == 0 { 0.03 } else { 0.3 });
        shingles_into(&normalize(&a), 3, params.seed, &mut ha);
        shingles_into(&normalize(&b), 3, params.seed, &mut hb);
        let j = exact_jaccard(&ha, &hb);
        let (sa, sb) = (sk.sketch(&a), sk.sketch(&b));
        let shared = params.band_hashes(&sa).iter().zip(params.band_hashes(&sb)).any(|(x, y)| *x == y);
        if j >= 0.8 {
            hi_total += 1;
            hi_hit += usize::from(shared);
        } else if j <= 0.25 {
            lo_total += 1;
            lo_hit += usize::from(shared);
        }
    }
    let recall = hi_hit as f64 / hi_total as f64;
    let false_rate = lo_hit as f64 / lo_total.max(1) as f64;
    println!("J≥0.8: {hi_hit}/{hi_total} = {recall:.4}; J≤0.25: {lo_hit}/{lo_total}");
    assert!(hi_total > 500);
    assert!(recall > 0.99, "recall {recall}");
    assert!(false_rate < 0.02, "false rate {false_rate}");
}

#[test]
fn s_curve_values() {
    let p = SketchParams::default();
    for (j, lo, hi) in [(0.2, 0.0, 0.002), (0.5, 0.2, 0.35), (0.7, 0.9, 0.97), (0.8, 0.998, 1.0)] {
        let v = p.candidate_probability(j);
        assert!((lo..=hi).contains(&v), "P({j}) = {v}");
    }
}
