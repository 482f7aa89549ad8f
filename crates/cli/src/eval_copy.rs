//! `steward eval copy --posts F`: runs the campaign tracker over a post file in file order
//! and scores the campaigns found against the labelled ones. A campaign counts as found when
//! one detected campaign holds at least 90% of its posts; purity is the share of that
//! detected campaign's posts that belong to it. Prints `campaigns` (detected),
//! `campaign_recall`, `mean_purity` (over labelled campaigns that overlap a detected one),
//! `posts_per_second` (normalization, sketch, index, clustering), and what the tracker does
//! with the unlabelled posts: `background_campaigns` (detected campaigns holding no labelled
//! post) and `background_posts` (unlabelled posts in any campaign), with a sample of those
//! campaigns under `background_sample` when asked.

use std::collections::HashMap;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;
use serde::Deserialize;
use serde_json::{Value, json};
use steward_detect::copy_campaign::{Campaign, CampaignConfig, PostRef, Tracker};

use crate::jsonl::{self, Id};

#[derive(Deserialize)]
pub struct LabelledPost {
    id: Id,
    account_id: Id,
    created_at: i64,
    text: String,
    #[serde(default)]
    campaign: Option<String>,
}

/// Share of a labelled campaign's posts one detected campaign must hold for it to count as
/// found (the data set's rule).
const FOUND_SHARE: f64 = 0.9;

/// Characters of a background campaign's first text shown in the sample.
const EXCERPT_CHARS: usize = 60;

pub fn run(posts: &Path, config: CampaignConfig, show_background: usize, seed: u64) -> Result<ExitCode> {
    let posts = jsonl::read(posts, None, "a post with id, account_id, created_at and text")?;
    let report = copy(&posts, config, show_background, seed)?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(ExitCode::SUCCESS)
}

/// Detected campaigns, numbered on first sight, with the merges between them.
#[derive(Default)]
struct Detected {
    number: HashMap<String, usize>,
    /// Each number → the campaign it was merged into (itself while it stands).
    merged_into: Vec<usize>,
    /// Each number → the campaign as last reported.
    latest: Vec<Option<Campaign>>,
}

impl Detected {
    fn number(&mut self, id: &str) -> usize {
        if let Some(&n) = self.number.get(id) {
            return n;
        }
        let n = self.merged_into.len();
        self.merged_into.push(n);
        self.latest.push(None);
        self.number.insert(id.to_string(), n);
        n
    }

    fn root(&self, mut c: usize) -> usize {
        while self.merged_into[c] != c {
            c = self.merged_into[c];
        }
        c
    }
}

fn copy(posts: &[LabelledPost], config: CampaignConfig, show_background: usize, seed: u64) -> Result<Value> {
    let ids: Vec<String> = posts.iter().map(|p| p.id.to_string()).collect();
    let accounts: Vec<String> = posts.iter().map(|p| p.account_id.to_string()).collect();
    let mut tracker = Tracker::new(config)?;
    let mut detected = Detected::default();
    let index: HashMap<&str, usize> = ids.iter().enumerate().map(|(i, id)| (id.as_str(), i)).collect();
    let mut campaign_of = vec![usize::MAX; posts.len()];
    let started = Instant::now();
    for (i, p) in posts.iter().enumerate() {
        let post = PostRef {
            event_id: &ids[i],
            post_id: &ids[i],
            account_id: &accounts[i],
            time: p.created_at,
            text: &p.text,
        };
        let Some(update) = tracker.add(&post) else { continue };
        let c = detected.number(&update.campaign.id);
        for old in &update.absorbed {
            let o = detected.number(old);
            detected.merged_into[o] = c;
        }
        for m in &update.joined {
            if let Some(&k) = index.get(m.post_id.as_str()) {
                campaign_of[k] = c;
            }
        }
        detected.latest[c] = Some(update.campaign);
    }
    let seconds = started.elapsed().as_secs_f64();
    // Posts of each detected campaign, and labelled campaign → detected campaign → shared posts.
    let mut members: HashMap<usize, Vec<usize>> = HashMap::new();
    let mut labelled: HashMap<&str, (usize, HashMap<usize, usize>)> = HashMap::new();
    for (k, p) in posts.iter().enumerate() {
        let c = (campaign_of[k] != usize::MAX).then(|| detected.root(campaign_of[k]));
        if let Some(c) = c {
            members.entry(c).or_default().push(k);
        }
        if let Some(label) = &p.campaign {
            let entry = labelled.entry(label).or_default();
            entry.0 += 1;
            if let Some(c) = c {
                *entry.1.entry(c).or_default() += 1;
            }
        }
    }
    let mut found = 0;
    let mut purities = Vec::new();
    let mut missed = Vec::new();
    for (label, (total, overlaps)) in &labelled {
        let best = overlaps.iter().max_by_key(|(c, n)| (**n, std::cmp::Reverse(**c)));
        match best {
            Some((c, &n)) => {
                purities.push(n as f64 / members[c].len() as f64);
                if n as f64 >= FOUND_SHARE * *total as f64 {
                    found += 1;
                } else {
                    missed.push(json!({"campaign": label, "posts": total, "in_best_cluster": n}));
                }
            }
            None => missed.push(json!({"campaign": label, "posts": total, "in_best_cluster": 0})),
        }
    }
    missed.sort_by_key(|m| m["campaign"].as_str().unwrap_or_default().to_string());
    let mut background: Vec<usize> =
        members.iter().filter(|(_, ks)| ks.iter().all(|&k| posts[k].campaign.is_none())).map(|(&c, _)| c).collect();
    background.sort_by_key(|&c| members[&c][0]);
    let background_posts = campaign_of.iter().zip(posts).filter(|(c, p)| **c != usize::MAX && p.campaign.is_none());
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
    let mut report = json!({
        "posts": posts.len(),
        "campaigns": members.len(),
        "labelled_campaigns": labelled.len(),
        "found": found,
        "campaign_recall": ratio(found as f64, labelled.len() as f64),
        "mean_purity": ratio(purities.iter().sum(), purities.len() as f64),
        "min_purity": purities.iter().copied().fold(f64::NAN, f64::min),
        "posts_in_campaigns": campaign_of.iter().filter(|&&c| c != usize::MAX).count(),
        "background_campaigns": background.len(),
        "background_posts": background_posts.count(),
        "posts_per_second": ratio(posts.len() as f64, seconds),
        "config": {
            "min_accounts": config.min_accounts,
            "burst_minutes": config.burst_secs as f64 / 60.0,
            "similarity": config.similarity,
            "window_hours": config.window_secs as f64 / 3600.0,
            "min_chars": config.min_chars,
        },
        "missed": missed,
    });
    if show_background > 0 {
        let sample: Vec<Value> = sample(background.len(), show_background, seed)
            .into_iter()
            .map(|i| describe(background[i], &members[&background[i]], &detected, posts))
            .collect();
        report["background_sample"] = sample.into();
    }
    Ok(report)
}

/// One detected campaign as a reviewer reads it: its first text, and the tracker's figures.
fn describe(c: usize, members: &[usize], detected: &Detected, posts: &[LabelledPost]) -> Value {
    let first = &posts[members[0]];
    let mut out = json!({
        "first_post": first.id.to_string(),
        "excerpt": first.text.chars().take(EXCERPT_CHARS).collect::<String>(),
        "posts_signalled": members.len(),
    });
    if let Some(campaign) = &detected.latest[c] {
        let round = |x: f64| (x * 100.0).round() / 100.0;
        out["campaign"] = json!({
            "id": campaign.id,
            "accounts": campaign.accounts,
            "posts": campaign.posts,
            "span_minutes": round(campaign.span_minutes()),
            "burst_minutes": round(campaign.burst_minutes()),
            "posts_per_hour": round(campaign.posts_per_hour()),
            "new_account_share": round(campaign.new_account_share()),
            "copying_account_share": round(campaign.copying_account_share()),
        });
    }
    out
}

/// `k` distinct indices below `n`, picked by a partial Fisher–Yates shuffle driven by
/// splitmix64 from `seed` (the same sample on every run), in increasing order.
fn sample(n: usize, k: usize, seed: u64) -> Vec<usize> {
    let mut rng = steward_detect::clickbait::learn::SplitMix::new(seed);
    let mut all: Vec<usize> = (0..n).collect();
    let k = k.min(n);
    for i in 0..k {
        let j = i + rng.below(n - i);
        all.swap(i, j);
    }
    let mut picked = all[..k].to_vec();
    picked.sort_unstable();
    picked
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(n: usize, account: &str, time: i64, text: &str, campaign: Option<&str>) -> LabelledPost {
        LabelledPost {
            id: Id::Text(format!("p{n}")),
            account_id: Id::Text(account.into()),
            created_at: time,
            text: text.into(),
            campaign: campaign.map(str::to_string),
        }
    }

    #[test]
    fn planted_campaigns_are_scored_and_background_campaigns_counted() {
        let t0 = 1_800_000_000;
        let rumour = "网传明天起全市停水三天，水厂已经检测出有毒物质，请大家马上囤水并转告亲朋好友";
        let flood = "周末市图书馆举办亲子阅读活动，现场有绘本故事会和手工课，欢迎家长带孩子参加报名";
        let saying = "慢慢来，日子是自己的，别急着和别人比较，每一步都算数，走得慢也是在往前走";
        let mut posts = Vec::new();
        for i in 0..6 {
            // A planted campaign: six accounts in half an hour.
            posts.push(post(
                i,
                &format!("c{i}"),
                t0 + i as i64 * 300,
                &format!("{rumour}{}", "！".repeat(i)),
                Some("k1"),
            ));
            // An unlabelled flood at the same pace, and a saying passed on over a day.
            posts.push(post(10 + i, &format!("f{i}"), t0 + 7200 + i as i64 * 60, flood, None));
            posts.push(post(20 + i, &format!("s{i}"), t0 + i as i64 * 14_400, saying, None));
        }
        posts.sort_by_key(|p| p.created_at);
        let report = copy(&posts, CampaignConfig::default(), 5, 16).unwrap();
        assert_eq!(report["campaign_recall"], 1.0);
        assert_eq!(report["mean_purity"], 1.0);
        assert_eq!((report["campaigns"].as_u64(), report["background_campaigns"].as_u64()), (Some(2), Some(1)));
        assert_eq!(report["background_posts"], 6);
        let sample = report["background_sample"].as_array().unwrap();
        assert_eq!(sample.len(), 1, "one background campaign to show");
        assert_eq!(sample[0]["first_post"], "p10");
        assert_eq!(sample[0]["campaign"]["accounts"], 6);
        assert_eq!(sample[0]["campaign"]["burst_minutes"], 4.0);
    }

    #[test]
    fn a_sample_is_distinct_sorted_and_the_same_every_time() {
        let a = sample(100, 30, 16);
        assert_eq!(a.len(), 30);
        assert!(a.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(a, sample(100, 30, 16));
        assert_ne!(a, sample(100, 30, 17));
        assert_eq!(sample(3, 10, 16), [0, 1, 2]);
    }
}
