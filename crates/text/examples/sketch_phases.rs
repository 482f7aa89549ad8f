//! Times the phases of the text path separately on a JSONL corpus (a profiling aid; CPU time
//! of the thread by default, wall time with `WALL=1`):
//! `cargo run --release -p steward-text --example sketch_phases -- POSTS [RUNS] [MODE]`.
//! MODE: `all` (default, every phase); `text`, `shingles` or `index` (one loop, to profile);
//! `check` (checksums of the candidates of the bench loops, to compare builds); `mem` (bytes
//! per post of an index of every post).
use std::hint::black_box;
use std::time::Instant;

use steward_text::{Signature, SketchParams, Sketcher, WindowIndex, normalize_into, warm_up};

/// CPU time of this thread in seconds (Linux schedstat), less sensitive than
/// wall time to other processes on a busy machine.
fn cpu_time() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |ns| ns * 1e-9)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let path = args.get(1).expect("posts path");
    let runs: usize = args.get(2).map_or(5, |s| s.parse().unwrap());
    let mode = args.get(3).map_or("all", String::as_str);
    let data = std::fs::read_to_string(path).unwrap();
    let posts: Vec<(String, i64)> = data
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .map(|v| (v["text"].as_str().unwrap().to_string(), v["created_at"].as_i64().unwrap()))
        .collect();
    warm_up();
    let params = SketchParams::default();
    let mut sk = Sketcher::new(params).unwrap();
    let n = posts.len() as f64;
    let sets: Vec<Vec<u64>> = posts
        .iter()
        .map(|(t, _)| {
            let mut s = String::new();
            normalize_into(t, &mut s);
            let mut v = Vec::new();
            sk.shingles_into(&s, &mut v);
            v.sort_unstable();
            v.dedup();
            v
        })
        .collect();
    let sigs: Vec<Signature> = sets.iter().map(|s| sk.sign_hashes(s.iter().copied())).collect();
    let mut out: Vec<(&str, Vec<f64>)> = Vec::new();
    let mut time = |name: &'static str, f: &mut dyn FnMut()| {
        let mut v = Vec::new();
        for _ in 0..runs {
            let (t, c) = (Instant::now(), cpu_time());
            f();
            let (wall, cpu) = (t.elapsed().as_secs_f64(), cpu_time() - c);
            v.push(if std::env::var_os("WALL").is_some() { wall } else { cpu });
        }
        out.push((name, v));
    };
    let index_loop = |window: i64, cap: usize, from_text: bool, sk: &mut Sketcher| -> u64 {
        let mut index = WindowIndex::with_max_postings(params, window, cap).unwrap();
        let mut sig = Signature::default();
        let mut found = Vec::new();
        let mut c = 0u64;
        for (i, (t, time)) in posts.iter().enumerate() {
            if from_text {
                sk.sketch_into(t, &mut sig);
            } else {
                sk.sign_hashes_into(sets[i].iter().copied(), &mut sig);
            }
            index.query_insert_into(i as u32, *time, &sig, &mut found).unwrap();
            for f in &found {
                c = (c ^ u64::from(f.id) ^ (u64::from(f.bands) << 32) ^ (u64::from(f.jaccard.to_bits()) << 20))
                    .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                    .rotate_left(17)
                    ^ f.time as u64;
            }
        }
        black_box(c)
    };
    let week = 7 * 86400;
    if mode == "check" {
        println!("checksum #1 text {:016x}", index_loop(week, 64, true, &mut sk));
        println!("checksum #2 text {:016x}", index_loop(1 << 31, 1 << 30, true, &mut sk));
        println!("checksum #1 shingles {:016x}", index_loop(week, 64, false, &mut sk));
        return;
    }
    if mode == "mem" {
        let mut index = WindowIndex::with_max_postings(params, 1 << 31, 64).unwrap();
        let mut found = Vec::new();
        for (i, (_, t)) in posts.iter().enumerate() {
            index.query_insert_into(i as u32, *t, &sigs[i], &mut found).unwrap();
        }
        println!("bytes/post {}", index.approx_bytes() as f64 / index.len() as f64);
        return;
    }
    if mode == "text" {
        time("text loop #1", &mut || {
            index_loop(week, 64, true, &mut sk);
        });
    } else if mode == "shingles" {
        time("shingles loop #1", &mut || {
            index_loop(week, 64, false, &mut sk);
        });
    } else if mode == "index" {
        time("index only #1", &mut || {
            let mut index = WindowIndex::with_max_postings(params, week, 64).unwrap();
            let mut found = Vec::new();
            for (i, (_, t)) in posts.iter().enumerate() {
                index.query_insert_into(i as u32, *t, &sigs[i], &mut found).unwrap();
            }
        });
    } else {
        time("text loop #1", &mut || {
            index_loop(week, 64, true, &mut sk);
        });
        time("text loop #2 (all)", &mut || {
            index_loop(1 << 31, 1 << 30, true, &mut sk);
        });
        time("shingles loop #1", &mut || {
            index_loop(week, 64, false, &mut sk);
        });
        let mut s = String::new();
        time("normalize", &mut || {
            for (t, _) in &posts {
                normalize_into(t, &mut s);
                black_box(&s);
            }
        });
        let mut sig = Signature::default();
        time("sketch from text", &mut || {
            for (t, _) in &posts {
                sk.sketch_into(t, &mut sig);
                black_box(&sig);
            }
        });
        time("sign from shingles", &mut || {
            for set in &sets {
                sk.sign_hashes_into(set.iter().copied(), &mut sig);
                black_box(&sig);
            }
        });
        let mut hashes = Vec::new();
        time("band hashes", &mut || {
            for sig in &sigs {
                params.band_hashes_into(sig, &mut hashes);
                black_box(&hashes);
            }
        });
        time("index only #1", &mut || {
            let mut index = WindowIndex::with_max_postings(params, week, 64).unwrap();
            let mut found = Vec::new();
            for (i, (_, t)) in posts.iter().enumerate() {
                index.query_insert_into(i as u32, *t, &sigs[i], &mut found).unwrap();
            }
        });
        time("index only #2 (all)", &mut || {
            let mut index = WindowIndex::with_max_postings(params, 1 << 31, 1 << 30).unwrap();
            let mut found = Vec::new();
            for (i, (_, t)) in posts.iter().enumerate() {
                index.query_insert_into(i as u32, *t, &sigs[i], &mut found).unwrap();
            }
        });
    }
    for (name, v) in out {
        let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
        let m = median(v);
        println!(
            "{name:24} median {:6.0} ns/post  min {:6.0} ns/post  {:8.0} posts/s (median)",
            m * 1e9 / n,
            lo * 1e9 / n,
            n / m
        );
    }
}
