//! WindowIndex: insert, query, eviction, errors, memory.

mod common;

use common::{Rng, mutate, random_text};
use steward_text::{IndexError, Signature, SketchParams, Sketcher, WindowIndex};

const T0: i64 = 1_700_000_000;
const DAY: i64 = 86_400;

fn setup(window: i64) -> (Sketcher, WindowIndex) {
    let p = SketchParams::default();
    (Sketcher::new(p).unwrap(), WindowIndex::new(p, window).unwrap())
}

#[test]
fn finds_near_duplicates_and_not_unrelated_posts() {
    let (mut sk, mut idx) = setup(7 * DAY);
    let mut rng = Rng(5);
    let originals: Vec<String> = (0..500).map(|_| random_text(&mut rng, 120)).collect();
    for (i, t) in originals.iter().enumerate() {
        assert!(idx.insert(i as u32, T0 + i as i64, &sk.sketch(t)).unwrap());
    }
    assert_eq!(idx.len(), 500);
    let mut found = 0;
    for (i, t) in originals.iter().enumerate().step_by(5) {
        let copy = mutate(&mut rng, t, 0.03);
        let c = idx.query(&sk.sketch(&copy));
        if c.first().map(|c| c.id) == Some(i as u32) {
            found += 1;
            assert!(c[0].jaccard > 0.6, "{:?}", c[0]);
            assert_eq!(c[0].time, T0 + i as i64);
            assert!(c[0].bands >= 1);
        }
        // Unrelated random posts share almost no band.
        assert!(c.len() <= 2, "{} candidates", c.len());
    }
    assert!(found >= 99, "{found}/100");
    let unrelated = sk.sketch("完全不同的一段话，与上面的任何内容都没有关系。Nothing alike.");
    assert!(idx.query(&unrelated).is_empty());
}

#[test]
fn exact_copies_share_every_band() {
    let (mut sk, mut idx) = setup(7 * DAY);
    let sig = sk.sketch("今天下午三点，市中心广场集合，不见不散！转发扩散");
    for id in 0..10 {
        idx.insert(id, T0 + i64::from(id), &sig).unwrap();
    }
    let c = idx.query(&sig);
    assert_eq!(c.len(), 10);
    assert!(c.iter().all(|c| c.bands == 21 && c.jaccard == 1.0));
}

#[test]
fn posts_leave_the_window_as_time_advances() {
    let (mut sk, mut idx) = setup(DAY);
    let old = sk.sketch("这是一条很早以前发布的帖子，内容关于天气和交通");
    let new = sk.sketch("这是一条刚刚发布的帖子，内容关于美食和旅游推荐");
    idx.insert(0, T0, &old).unwrap();
    idx.insert(1, T0 + DAY / 2, &new).unwrap();
    assert_eq!(idx.query(&old).len(), 1);
    assert_eq!(idx.time_of(0), Some(T0));

    idx.advance_to(T0 + DAY + 1);
    assert!(idx.query(&old).is_empty(), "expired posts are not returned");
    assert_eq!(idx.time_of(0), None);
    assert_eq!(idx.query(&new).len(), 1);
    assert_eq!(idx.len(), 2, "freed lazily");

    idx.evict_expired();
    assert_eq!(idx.len(), 1);
    assert_eq!(idx.query(&new)[0].id, 1);
    // Time never goes back.
    idx.advance_to(T0);
    assert_eq!(idx.now(), Some(T0 + DAY + 1));
    // A post older than the window is not stored.
    assert_eq!(idx.insert(2, T0, &old), Ok(false));
    // Out-of-order posts inside the window are fine.
    assert_eq!(idx.insert(3, T0 + DAY / 2 + 10, &old), Ok(true));
    assert_eq!(idx.query(&old)[0].time, T0 + DAY / 2 + 10);
}

#[test]
fn streaming_eviction_keeps_memory_bounded() {
    // 200 posts an hour for 30 days through a 2-day window.
    let (mut sk, mut idx) = setup(2 * DAY);
    let mut rng = Rng(9);
    let texts: Vec<String> = (0..300).map(|_| random_text(&mut rng, 100)).collect();
    let mut sig = Signature::default();
    let per_hour = 200;
    let mut peak_len = 0;
    let mut id = 0u32;
    for hour in 0..(30 * 24) {
        for k in 0..per_hour {
            let t = &texts[(id as usize * 7 + k) % texts.len()];
            let varied = format!("{t}{id}");
            sk.sketch_into(&varied, &mut sig);
            let time = T0 + hour * 3600 + (k as i64 * 3600 / per_hour as i64);
            assert!(idx.insert(id, time, &sig).unwrap());
            id += 1;
        }
        peak_len = peak_len.max(idx.len());
    }
    let live = 2 * 24 * per_hour;
    assert!(peak_len <= live * 2, "peak {peak_len} vs live {live}");
    idx.evict_expired();
    assert!(idx.len() <= live + per_hour, "{}", idx.len());
    let per_post = idx.approx_bytes() / idx.len();
    println!("bytes per post after eviction: {per_post}");
    assert!(per_post <= 400, "{per_post}");
    // The latest post is still found.
    let c = idx.query(&sig);
    assert_eq!(c[0].id, id - 1);
}

/// A signature of random values whose band 0 is `band0`.
fn sig_with_band0(rng: &mut Rng, band0: u32) -> Signature {
    let values = (0..128).map(|i| if i < 6 { band0 + i } else { rng.next() as u32 >> 1 }).collect();
    Signature::from_values(values, 50)
}

#[test]
fn posting_lists_are_capped() {
    // 100 distinct signatures that share band 0 only: at most 8 groups are kept for it.
    let p = SketchParams::default();
    let mut idx = WindowIndex::with_max_postings(p, DAY, 8).unwrap();
    assert_eq!(idx.max_postings(), 8);
    let mut rng = Rng(21);
    for id in 0..100 {
        idx.insert(id, T0, &sig_with_band0(&mut rng, 1000)).unwrap();
    }
    let c = idx.query(&sig_with_band0(&mut rng, 1000));
    assert_eq!(c.len(), 8);
    // The most recent ones are kept.
    assert!(c.iter().all(|c| c.id >= 92 && c.bands == 1));
}

#[test]
fn floods_of_identical_posts_are_returned_whole() {
    // Equal signatures form one group, which the cap does not apply to.
    let p = SketchParams::default();
    let mut sk = Sketcher::new(p).unwrap();
    let mut idx = WindowIndex::with_max_postings(p, DAY, 2).unwrap();
    let sig = sk.sketch("一模一样的刷屏内容，一模一样的刷屏内容，快来看看吧");
    let near = sk.sketch("一模一样的刷屏内容，一模一样的刷屏内容，快去看看吧");
    assert_ne!(sig, near);
    for id in 0..3000 {
        assert!(idx.insert(id, T0 + i64::from(id), &sig).unwrap());
    }
    idx.insert(3000, T0 + 3000, &near).unwrap();
    assert_eq!(idx.len(), 3001);
    let c = idx.query(&sig);
    assert_eq!(c.len(), 3001);
    assert!(
        c[..3000]
            .iter()
            .enumerate()
            .all(|(i, c)| c.id == i as u32 && c.time == T0 + i as i64 && c.bands == 21 && c.jaccard == 1.0)
    );
    assert_eq!(c[3000].id, 3000);
    assert!(c[3000].bands < 21 && c[3000].jaccard < 1.0);
    // The near-duplicate finds the whole flood too.
    let c = idx.query(&near);
    assert_eq!(c.len(), 3001);
    assert_eq!((c[0].id, c[0].bands, c[0].jaccard), (3000, 21, 1.0));
}

#[test]
fn groups_shrink_as_members_expire() {
    let (mut sk, mut idx) = setup(DAY);
    let sig = sk.sketch("明天上午十点在人民广场集合，大家一起转发扩散");
    let other = sk.sketch("这条帖子和上面那条没有任何关系，只是凑个数而已");
    // Copies every 4 hours over 36 hours, ids out of order at the end.
    for k in 0..10u32 {
        idx.insert(k, T0 + i64::from(k) * 4 * 3600, &sig).unwrap();
    }
    idx.insert(12, T0 + 40 * 3600, &sig).unwrap();
    idx.insert(11, T0 + 40 * 3600, &sig).unwrap();
    idx.insert(10, T0 + 40 * 3600, &other).unwrap();
    let ids = |idx: &WindowIndex| idx.query(&sig).iter().map(|c| c.id).collect::<Vec<_>>();
    // Window [T0 + 16 h, T0 + 40 h]: copies 4..=9, 11 and 12.
    assert_eq!(ids(&idx), vec![4, 5, 6, 7, 8, 9, 11, 12]);
    assert_eq!(idx.time_of(3), None);
    assert_eq!(idx.time_of(4), Some(T0 + 16 * 3600));
    // Freed: the group lives on under its first live copy.
    idx.evict_expired();
    assert_eq!(idx.len(), 9);
    assert_eq!(ids(&idx), vec![4, 5, 6, 7, 8, 9, 11, 12]);
    // New copies still join it; later ones expire the rest.
    idx.insert(13, T0 + 61 * 3600, &sig).unwrap();
    assert_eq!(ids(&idx), vec![11, 12, 13]);
    idx.evict_expired();
    assert_eq!(idx.len(), 4);
    assert_eq!(ids(&idx), vec![11, 12, 13]);
    assert_eq!(idx.query(&other)[0].id, 10);
    // Once every copy is gone, a new one starts the group again.
    idx.advance_to(T0 + 100 * 3600);
    assert!(idx.query(&sig).is_empty());
    idx.evict_expired();
    assert!(idx.is_empty());
    idx.insert(20, T0 + 100 * 3600, &sig).unwrap();
    assert_eq!(ids(&idx), vec![20]);
}

/// Signature families: exact copies, near-duplicates (a few values changed) and unrelated.
fn family_sig(rng: &mut Rng, bases: &[Vec<u32>]) -> Signature {
    let base = &bases[rng.below(bases.len())];
    let mut values = base.clone();
    if rng.chance(0.5) {
        for _ in 0..1 + rng.below(12) {
            values[rng.below(128)] = rng.next() as u32 >> 1;
        }
    }
    Signature::from_values(values, 40)
}

#[test]
fn queries_match_a_brute_force_scan() {
    // A stream with duplicate groups, near-duplicates, out-of-order ids and times, and
    // eviction, checked query by query against a scan of every post in the window.
    let p = SketchParams::default();
    let window = 5000;
    let mut idx = WindowIndex::with_max_postings(p, window, usize::MAX).unwrap();
    // The same stream through the combined step.
    let mut idx2 = idx.clone();
    let mut got2 = Vec::new();
    let mut rng = Rng(1234);
    let bases: Vec<Vec<u32>> = (0..40).map(|_| (0..128).map(|_| rng.next() as u32 >> 1).collect()).collect();
    let mut stored: Vec<(u32, i64, Signature)> = Vec::new();
    let mut now = T0;
    let mut next_id = 0u32;
    for step in 0..3000 {
        let sig = family_sig(&mut rng, &bases);
        // Expected candidates: stored posts in the window sharing a band.
        let bands = p.band_hashes(&sig);
        let cutoff = idx.now().map_or(i64::MIN, |n| n - window);
        let mut expected: Vec<(u32, i64, u32)> = stored
            .iter()
            .filter(|(_, t, _)| *t >= cutoff)
            .filter_map(|(id, t, s)| {
                let shared = p.band_hashes(s).iter().zip(&bands).filter(|(a, b)| a == b).count() as u32;
                (shared > 0).then_some((*id, *t, shared))
            })
            .collect();
        expected.sort_unstable();
        let got = idx.query(&sig);
        assert!(got.is_sorted_by(|a, b| a.jaccard > b.jaccard || (a.jaccard == b.jaccard && a.id < b.id)));
        let mut got_keys: Vec<(u32, i64, u32)> = got.iter().map(|c| (c.id, c.time, c.bands)).collect();
        got_keys.sort_unstable();
        assert_eq!(got_keys, expected, "step {step}");
        for c in &got {
            let (_, _, s) = stored.iter().find(|(id, _, _)| *id == c.id).unwrap();
            let nibbles = s.values().iter().zip(sig.values()).filter(|(a, b)| (*a & 15) == (*b & 15)).count();
            let m = nibbles as f64 / 128.0;
            let want = ((m - 1.0 / 16.0) / (15.0 / 16.0)).clamp(0.0, 1.0) as f32;
            assert_eq!(c.jaccard, want);
        }
        // Ids mostly in order, sometimes skipping ahead and filling in later.
        let id = if rng.chance(0.05) && next_id > 3 && !stored.iter().any(|(i, _, _)| *i == next_id - 2) {
            next_id - 2
        } else {
            next_id += if rng.chance(0.1) { 3 } else { 1 };
            next_id - 1
        };
        if stored.iter().any(|(i, _, _)| *i == id) {
            continue;
        }
        now += rng.below(40) as i64;
        let time = now - rng.below(200) as i64;
        let inserted = idx.insert(id, time, &sig);
        assert_eq!(idx2.query_insert_into(id, time, &sig, &mut got2), inserted);
        assert_eq!(got2, got);
        if inserted == Ok(true) {
            stored.push((id, time, sig));
        }
        if step % 500 == 499 {
            idx.evict_expired();
            idx2.evict_expired();
        }
        let cutoff = idx.now().map_or(i64::MIN, |n| n - window);
        stored.retain(|(_, t, _)| *t >= cutoff);
        assert_eq!(idx.time_of(id), (time >= cutoff).then_some(time));
    }
}

#[test]
fn insert_errors() {
    let (mut sk, mut idx) = setup(DAY);
    let sig = sk.sketch("一条普通的帖子内容");
    assert_eq!(idx.insert(5, T0, &sig), Ok(true));
    assert_eq!(idx.insert(5, T0, &sig), Err(IndexError::DuplicateId(5)));
    assert_eq!(idx.insert(6, T0, &Signature::empty(64)), Err(IndexError::SignatureLength { expected: 128, got: 64 }));
    assert_eq!(idx.insert(1 << 31, T0, &sig), Err(IndexError::IdTooLarge(1 << 31)));
    assert_eq!(idx.insert(7, T0, &sk.sketch("！！！")), Ok(false));
    // Once id 5 is evicted, ids below the lowest tracked one are refused.
    idx.advance_to(T0 + 2 * DAY);
    idx.evict_expired();
    assert!(idx.is_empty());
    assert!(matches!(idx.insert(3, T0 + 2 * DAY, &sig), Err(IndexError::IdEvicted { id: 3, .. })));
    assert_eq!(idx.insert(8, T0 + 2 * DAY, &sig), Ok(true));
    assert_eq!(idx.query(&sig)[0].id, 8);
}

#[test]
fn compact_signature_estimate_tracks_the_full_one() {
    let (mut sk, mut idx) = setup(7 * DAY);
    let mut rng = Rng(77);
    let mut worst: f64 = 0.0;
    for i in 0..300u32 {
        let a = random_text(&mut rng, 150);
        let b = mutate(&mut rng, &a, [0.02, 0.05, 0.08][i as usize % 3]);
        let (sa, sb) = (sk.sketch(&a), sk.sketch(&b));
        idx.insert(i, T0, &sa).unwrap();
        if let Some(c) = idx.query(&sb).iter().find(|c| c.id == i) {
            worst = worst.max((f64::from(c.jaccard) - sa.jaccard(&sb)).abs());
        }
    }
    println!("worst |4-bit − 32-bit estimate| = {worst:.3}");
    assert!(worst < 0.12, "{worst}");
}
