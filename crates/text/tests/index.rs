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

#[test]
fn posting_lists_are_capped() {
    let p = SketchParams::default();
    let mut sk = Sketcher::new(p).unwrap();
    let mut idx = WindowIndex::with_max_postings(p, DAY, 8).unwrap();
    let sig = sk.sketch("一模一样的刷屏内容，一模一样的刷屏内容");
    for id in 0..100 {
        idx.insert(id, T0, &sig).unwrap();
    }
    let c = idx.query(&sig);
    assert_eq!(c.len(), 8);
    // The most recent copies are kept.
    assert!(c.iter().all(|c| c.id >= 92));
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
