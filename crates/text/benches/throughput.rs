//! Throughput, memory and recall of the text path, printed as a report.
//!
//! ```sh
//! cargo bench -p steward-text --bench throughput
//! STEWARD_TEXT_POSTS=path/to/posts.jsonl cargo bench -p steward-text --bench throughput
//! ```
//!
//! Real posts are read at run time from a JSONL file with a `text` field (and
//! optionally `created_at`, unix seconds), by default
//! `../shared/data/copy/posts-long.jsonl` beside the repository; nothing from it is stored. Without
//! the file, synthetic text is used.

use std::collections::HashMap;
use std::hint::black_box;
use std::time::Instant;

use steward_text::shingle::exact_jaccard_sorted;
use steward_text::{Candidate, Signature, SketchParams, Sketcher, WindowIndex, normalize_into, warm_up};

const DEFAULT_POSTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/copy/posts-long.jsonl");

struct Post {
    text: String,
    time: i64,
}

fn load() -> (Vec<Post>, String) {
    let path = std::env::var("STEWARD_TEXT_POSTS").unwrap_or_else(|_| DEFAULT_POSTS.into());
    match std::fs::read_to_string(&path) {
        Ok(data) => {
            let posts = data
                .lines()
                .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
                .filter_map(|v| {
                    Some(Post {
                        text: v.get("text")?.as_str()?.to_string(),
                        time: v.get("created_at").and_then(|t| t.as_i64()).unwrap_or(0),
                    })
                })
                .collect();
            (posts, path)
        }
        Err(_) => (synthetic(40_000, 1), "synthetic".into()),
    }
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (((self.next() >> 32) * n as u64) >> 32) as usize
    }
}

/// Random "posts": common characters, some punctuation, a few Latin words.
fn synthetic(n: usize, seed: u64) -> Vec<Post> {
    let pool: Vec<char> = "的一是了我不人在他有这个上们来到时大地为子中你说生国年着就那和要她出也得里后自以会家可下而过天去能对小多然于心学么之都好看起发当没成只如事把还用第样道想作种开美总从无情己面最女但现前些所同日手又行意动方期它头经长儿回位分爱老因很给名法间斯知世什两次使身者被高已亲其进此话常与活正感见明问力理尔点文几定本公特做外孩相西果走将月十实向声车全信重三机工物气每并别真打太新比才便夫再书部水像眼等体却加电主界门利海受听表德少克代员许先口由死安写性马光白或住难望教命花结乐色更拉东神记处让母父应直字场平报友关放至张认接告入笑内英军候民岁往何度山觉路带万男边风解叫任金快原吃妈变通师立象数四失满战远格士音轻目条呢病始达深完今提求清王化空业思切怎非找片罗钱吗语元喜曾离飞科言干流欢约各即指合反题必该论交终林请医晚制球决传画保读运及则房早院量苦火布品近坐产答星精视五连司巴奇管类未朋且婚台夜青北队久乎越观落尽形影红爸百令周吧识步希亚术留市半热送兴造谈容极随演收首根讲整式取照办强石古华拿计您装似足双妻尼转诉米称丽客南领节衣站黑刻统断福城故历惊脸选包紧争另建维绝树系伤示愿持千史谁准联妇纪基买志静阿诗独复痛消社算".chars().collect();
    let words = ["iPhone", "OK", "http://t.cn/abc", "2024", "VIP", "App"];
    let punct = ['，', '。', '！', '？', '、', ' ', '…'];
    let mut rng = Rng(seed | 1);
    (0..n)
        .map(|i| {
            let len = 10 + rng.below(150);
            let mut s = String::new();
            for k in 0..len {
                s.push(pool[rng.below(pool.len())]);
                if k % 13 == 12 {
                    s.push(punct[rng.below(punct.len())]);
                }
                if k % 41 == 40 {
                    s.push_str(words[rng.below(words.len())]);
                }
            }
            Post { text: s, time: i as i64 }
        })
        .collect()
}

/// CPU time of this thread in seconds (from /proc; falls back to 0): on a
/// shared machine it is a steadier measure than wall time.
fn cpu_secs() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |ns| ns / 1e9)
}

/// Wall and CPU seconds of `f`.
fn timed(mut f: impl FnMut()) -> (f64, f64) {
    let (w, c) = (Instant::now(), cpu_secs());
    f();
    (w.elapsed().as_secs_f64(), cpu_secs() - c)
}

fn mb_per_s(bytes: usize, secs: f64) -> f64 {
    bytes as f64 / secs / 1e6
}

fn bench_normalize(posts: &[Post]) {
    let bytes: usize = posts.iter().map(|p| p.text.len()).sum();
    let mut out = String::new();
    // Best-of-`reps` time of each ~64 KB chunk, summed: on a shared machine
    // this approximates an uncontended core. CPU time (mean) is printed too.
    let mut run = |label: &str, texts: &[&str], reps: usize| {
        let bytes: usize = texts.iter().map(|t| t.len()).sum();
        let mut chunks: Vec<&[&str]> = Vec::new();
        let mut start = 0;
        let mut acc = 0;
        for (i, t) in texts.iter().enumerate() {
            acc += t.len();
            if acc >= 64 << 10 || i + 1 == texts.len() {
                chunks.push(&texts[start..=i]);
                start = i + 1;
                acc = 0;
            }
        }
        let mut wall = 0.0;
        let mut cpu = 0.0;
        for chunk in chunks {
            let mut best = f64::MAX;
            for _ in 0..reps {
                let (w, c) = timed(|| {
                    for t in chunk {
                        normalize_into(t, &mut out);
                        black_box(&out);
                    }
                });
                best = best.min(w);
                cpu += c;
            }
            wall += best;
        }
        println!(
            "normalize: {:.0} MB/s (best-of-{reps} per chunk), {:.0} MB/s CPU (mean) on {label} ({:.1} MB)",
            mb_per_s(bytes, wall),
            mb_per_s(bytes * reps, cpu),
            bytes as f64 / 1e6
        );
    };
    let real: Vec<&str> = posts.iter().map(|p| p.text.as_str()).collect();
    run("real posts", &real, 15);
    let english: Vec<String> = (0..2000)
        .map(|i| format!("The quick brown fox {i} jumps over the lazy dog; breaking news: 42 people attend!"))
        .collect();
    let english: Vec<&str> = english.iter().map(|s| s.as_str()).collect();
    run("pure-ASCII English", &english, 50);
    let syn = synthetic(20_000, 5);
    let syn: Vec<&str> = syn.iter().map(|p| p.text.as_str()).collect();
    run("synthetic mixed Chinese", &syn, 15);
    let _ = bytes;
}

/// Normalization + shingles + signature + query + insert for every post (the
/// streaming step); bytes per post sampled every 256 posts once the index holds
/// over 1000.
fn full_path(posts: &[Post], window: i64, label: &str) -> WindowIndex {
    let params = SketchParams::default();
    let mut sk = Sketcher::new(params).unwrap();
    let mut idx = WindowIndex::new(params, window).unwrap();
    let mut sig = Signature::default();
    let mut cands: Vec<Candidate> = Vec::new();
    let mut total_cands = 0usize;
    let mut peak_bytes_per_post = 0usize;
    let (wall, cpu) = timed(|| {
        for (i, p) in posts.iter().enumerate() {
            sk.sketch_into(&p.text, &mut sig);
            idx.query_insert_into(i as u32, p.time, &sig, &mut cands).unwrap();
            total_cands += cands.len();
            if i % 256 == 255 && idx.len() > 1000 {
                peak_bytes_per_post = peak_bytes_per_post.max(idx.approx_bytes() / idx.len());
            }
        }
    });
    println!(
        "full path ({label}): {:.0} posts/s wall, {:.0} posts/s CPU over {} posts; {:.2} candidates/query; index {} posts, {} bytes/post (peak {} during the run)",
        posts.len() as f64 / wall,
        posts.len() as f64 / cpu,
        posts.len(),
        total_cands as f64 / posts.len() as f64,
        idx.len(),
        idx.approx_bytes() / idx.len().max(1),
        peak_bytes_per_post
    );
    idx
}

/// Exact pairs with shingle Jaccard ≥ `t` by prefix filtering, then the share
/// of them the LSH bands make candidates.
fn recall(posts: &[Post], t: f64) {
    let params = SketchParams::default();
    let sk = Sketcher::new(params).unwrap();
    let mut sets: Vec<Vec<u64>> = Vec::with_capacity(posts.len());
    let mut bands: Vec<Vec<u64>> = Vec::with_capacity(posts.len());
    let mut hashes = Vec::new();
    let mut norm = String::new();
    for p in posts {
        normalize_into(&p.text, &mut norm);
        sk.shingles_into(&norm, &mut hashes);
        let mut set = hashes.clone();
        set.sort_unstable();
        set.dedup();
        let sig = sk.sign_hashes(hashes.iter().copied());
        bands.push(params.band_hashes(&sig));
        sets.push(set);
    }
    // Global order: rare shingles first.
    let mut freq: HashMap<u64, u32> = HashMap::new();
    for s in &sets {
        for &h in s {
            *freq.entry(h).or_default() += 1;
        }
    }
    let mut inverted: HashMap<u64, Vec<u32>> = HashMap::new();
    let mut pairs = 0usize;
    let mut found = 0usize;
    let mut buckets = [(0usize, 0usize); 4]; // [0.8,0.9), [0.9,1), 1.0 long, 1.0 short(<5 shingles)
    let mut seen: Vec<u32> = Vec::new();
    for (i, s) in sets.iter().enumerate() {
        if s.is_empty() {
            continue;
        }
        let mut ordered: Vec<u64> = s.clone();
        ordered.sort_unstable_by_key(|h| (freq[h], *h));
        let prefix = s.len() - (t * s.len() as f64).ceil() as usize + 1;
        seen.clear();
        for h in &ordered[..prefix] {
            if let Some(list) = inverted.get(h) {
                seen.extend_from_slice(list);
            }
        }
        seen.sort_unstable();
        seen.dedup();
        for &j in &seen {
            let o = &sets[j as usize];
            let (a, b) = (s.len().min(o.len()), s.len().max(o.len()));
            if (a as f64) < t * b as f64 {
                continue;
            }
            let jac = exact_jaccard_sorted(s, o);
            if jac + 1e-12 < t {
                continue;
            }
            pairs += 1;
            let hit = bands[i].iter().zip(&bands[j as usize]).any(|(x, y)| x == y);
            found += usize::from(hit);
            let bucket = if jac < 0.9 {
                0
            } else if jac < 1.0 {
                1
            } else if s.len() >= 5 {
                2
            } else {
                3
            };
            buckets[bucket].0 += 1;
            buckets[bucket].1 += usize::from(hit);
        }
        for h in &ordered[..prefix] {
            inverted.entry(*h).or_default().push(i as u32);
        }
    }
    println!(
        "pair recall at J ≥ {t}: {found}/{pairs} = {:.4} (S-curve predicts ≥ {:.4})",
        found as f64 / pairs.max(1) as f64,
        params.candidate_probability(t)
    );
    let (n, h) = (buckets[0].0 + buckets[1].0, buckets[0].1 + buckets[1].1);
    println!("  non-identical pairs (J < 1): {h}/{n} = {:.5}", h as f64 / n.max(1) as f64);
    for (name, (n, h)) in ["[0.8, 0.9)", "[0.9, 1.0)", "1.0, ≥5 shingles", "1.0, <5 shingles"].iter().zip(buckets) {
        println!("  J in {name}: {h}/{n}");
    }
}

fn main() {
    let t = Instant::now();
    warm_up();
    println!("normalization table built in {:.0} ms", t.elapsed().as_secs_f64() * 1e3);
    let (posts, source) = load();
    println!("posts: {} from {source}", posts.len());

    // STEWARD_TEXT_BENCH=normalize|full|scale|recall runs one part only.
    let only = std::env::var("STEWARD_TEXT_BENCH").unwrap_or_default();
    let run = |part: &str| only.is_empty() || only == part;
    if run("normalize") {
        bench_normalize(&posts);
    }
    if run("full") {
        full_path(&posts, steward_text::DEFAULT_WINDOW_SECS, "real posts, 7-day window");
        full_path(&posts, 10 * 365 * 86_400, "real posts, all in window");
    }
    if run("scale") {
        let syn = synthetic(500_000, 9);
        full_path(&syn, 10 * 365 * 86_400, "500k synthetic posts, all in window");
        // 1M synthetic posts at 5 posts/s through a 1-day window (432k live).
        let mut stream = synthetic(1_000_000, 13);
        for (i, p) in stream.iter_mut().enumerate() {
            p.time = i as i64 / 5;
        }
        full_path(&stream, 86_400, "1M synthetic posts streaming through a 1-day window");
    }
    if run("recall") {
        recall(&posts, 0.8);
    }
}
