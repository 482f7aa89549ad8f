//! `steward eval ...`: the quality gates. Each evaluation runs the detector code the engine
//! runs over a labelled file and prints one JSON object of figures.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;
use clap::Subcommand;
use serde::Deserialize;
use serde_json::json;
use steward_detect::copy_campaign::{CampaignConfig, PostRef, Tracker};

use crate::jsonl::{self, Id};

#[derive(Subcommand)]
pub enum EvalCommand {
    /// Debunked claims: matches every post against the fact-checks with the shipped matcher
    /// and prints recall_at_1, recall_at_5, mrr, threshold, matched_recall,
    /// false_match_rate, queries_per_second, the cross-validated threshold, a curve of
    /// matched recall at false match rates of 0.5%, 1% and 2%, and a BM25 baseline.
    Claims {
        /// JSONL fact-checks: {"id","claim","verdict","explanation","publisher","published_at","url","language"}.
        #[arg(long)]
        factchecks: PathBuf,
        /// JSONL posts: {"id","text","expected": fact-check id | null, "accept": [fact-check
        /// ids of the same rumour], "unmatchable": reason (optional)}.
        #[arg(long)]
        posts: PathBuf,
        /// Print every positive whose fact-check is not ranked first, and every false match,
        /// on standard error.
        #[arg(long)]
        show_errors: bool,
    },
    /// Clickbait: precision, recall, f1, accuracy of the shipped model at its shipped
    /// threshold on a CSV of `label,title[,content,source]` (label 1 = clickbait).
    Clickbait {
        #[arg(long)]
        csv: PathBuf,
    },
    /// Copy-paste campaigns: runs the campaign tracker over a post file in file order and
    /// scores the campaigns found against the labelled ones. A campaign counts as found when
    /// one detected campaign holds at least 90% of its posts; purity is the share of that
    /// detected campaign's posts that belong to it. Prints `campaigns` (detected),
    /// `campaign_recall`, `mean_purity` (over labelled campaigns that overlap a detected
    /// one) and `posts_per_second` (normalization, sketch, index, clustering).
    Copy {
        /// JSONL: {"id","account_id","created_at": unix seconds,"text","campaign": null | id}.
        #[arg(long)]
        posts: PathBuf,
        /// Distinct accounts a cluster needs to be a campaign.
        #[arg(long, default_value_t = CampaignConfig::default().min_accounts)]
        min_accounts: usize,
        /// Estimated Jaccard similarity at which two posts are copies.
        #[arg(long, default_value_t = CampaignConfig::default().similarity)]
        similarity: f32,
        /// Window in hours: posts further apart are never linked.
        #[arg(long, default_value_t = CampaignConfig::default().window_secs as f64 / 3600.0)]
        window_hours: f64,
        /// Shortest text (normalized characters) that can join a campaign.
        #[arg(long, default_value_t = CampaignConfig::default().min_chars)]
        min_chars: usize,
    },
    /// Impersonation: learns a registry of protected identities, then checks every account
    /// and prints `precision`, `recall`, `f1`, `identity_accuracy`, `accounts_per_second`,
    /// recall per `note` and how flagged accounts matched. Positives are accounts whose
    /// `expected` names an identity; the registry's owners are its owners.
    Impersonation {
        /// JSONL: {"id","name","aliases":[..],"kind","owner_account_ids":[..]}.
        #[arg(long)]
        registry: PathBuf,
        /// JSONL: {"account_id","display_name","bio","expected": null | identity id,"note"}.
        #[arg(long)]
        accounts: PathBuf,
        /// Print every miss, false flag and wrong identity on standard error.
        #[arg(long)]
        show_errors: bool,
    },
}

pub fn run(command: EvalCommand) -> Result<ExitCode> {
    match command {
        EvalCommand::Clickbait { csv } => crate::eval_clickbait::run(&csv),
        EvalCommand::Claims { factchecks, posts, show_errors } => {
            crate::eval_claims::run(&factchecks, &posts, show_errors)
        }
        EvalCommand::Impersonation { registry, accounts, show_errors } => {
            crate::eval_impersonation::run(&registry, &accounts, show_errors)
        }
        EvalCommand::Copy { posts, min_accounts, similarity, window_hours, min_chars } => {
            let config =
                CampaignConfig { min_accounts, similarity, window_secs: (window_hours * 3600.0) as i64, min_chars };
            let report = copy(&jsonl::read(&posts, None, "a post with id, account_id, created_at and text")?, config)?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(ExitCode::SUCCESS)
        }
    }
}

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

/// The number of a detected campaign, given on first sight.
fn campaign_number(number: &mut HashMap<String, usize>, merged_into: &mut Vec<usize>, id: &str) -> usize {
    if let Some(&n) = number.get(id) {
        return n;
    }
    let n = merged_into.len();
    merged_into.push(n);
    number.insert(id.to_string(), n);
    n
}

fn copy(posts: &[LabelledPost], config: CampaignConfig) -> Result<serde_json::Value> {
    let ids: Vec<String> = posts.iter().map(|p| p.id.to_string()).collect();
    let accounts: Vec<String> = posts.iter().map(|p| p.account_id.to_string()).collect();
    let mut tracker = Tracker::new(config)?;
    // Detected campaign ids → numbers; each number → the campaign it was merged into.
    let mut number: HashMap<String, usize> = HashMap::new();
    let mut merged_into: Vec<usize> = Vec::new();
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
        let c = campaign_number(&mut number, &mut merged_into, &update.campaign.id);
        for old in &update.absorbed {
            let o = campaign_number(&mut number, &mut merged_into, old);
            merged_into[o] = c;
        }
        for m in &update.joined {
            if let Some(&k) = index.get(m.post_id.as_str()) {
                campaign_of[k] = c;
            }
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let root = |mut c: usize| {
        while merged_into[c] != c {
            c = merged_into[c];
        }
        c
    };
    // Sizes of detected campaigns, and labelled campaign → detected campaign → shared posts.
    let mut size: HashMap<usize, usize> = HashMap::new();
    let mut labelled: HashMap<&str, (usize, HashMap<usize, usize>)> = HashMap::new();
    for (k, p) in posts.iter().enumerate() {
        let c = (campaign_of[k] != usize::MAX).then(|| root(campaign_of[k]));
        if let Some(c) = c {
            *size.entry(c).or_default() += 1;
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
                purities.push(n as f64 / size[c] as f64);
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
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
    Ok(json!({
        "posts": posts.len(),
        "campaigns": size.len(),
        "labelled_campaigns": labelled.len(),
        "found": found,
        "campaign_recall": ratio(found as f64, labelled.len() as f64),
        "mean_purity": ratio(purities.iter().sum(), purities.len() as f64),
        "min_purity": purities.iter().copied().fold(f64::NAN, f64::min),
        "posts_in_campaigns": campaign_of.iter().filter(|&&c| c != usize::MAX).count(),
        "posts_per_second": ratio(posts.len() as f64, seconds),
        "config": {
            "min_accounts": config.min_accounts,
            "similarity": config.similarity,
            "window_hours": config.window_secs as f64 / 3600.0,
            "min_chars": config.min_chars,
        },
        "missed": missed,
    }))
}
