//! `steward eval ...`: the quality gates. Each evaluation runs the detector code the engine
//! runs over a labelled file and prints one JSON object of figures.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;
use steward_detect::copy_campaign::CampaignConfig;

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
    /// Clickbait. `--csv F`: precision, recall, f1, accuracy of the shipped model at its
    /// shipped threshold on a CSV of `label,title[,content,source]` (label 1 = clickbait).
    /// `--csv F --cv`: instead, the cross-validated figures of the training procedure on F
    /// (Chinese: nested, topic-held-out and stratified, beside a character n-gram baseline;
    /// English: stratified). `--posts F`: the share of the posts of a JSONL file that are
    /// flagged, with a random sample of the flags.
    Clickbait {
        #[arg(long, required_unless_present = "posts", conflicts_with = "posts")]
        csv: Option<PathBuf>,
        /// Cross-validate the training procedure on the CSV (nothing is written).
        #[arg(long, requires = "csv")]
        cv: bool,
        #[arg(long, default_value_t = 10)]
        folds: usize,
        /// Seed of the folds and of the sample of flags.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// JSONL posts: {"id","text","title"?,"campaign"?}; rows of a campaign (non-null) are
        /// left out, and a post's title is its `title`, else a leading 【…】 line.
        #[arg(long)]
        posts: Option<PathBuf>,
        /// How many flagged posts to show, drawn at random with --seed.
        #[arg(long, default_value_t = 10)]
        samples: usize,
    },
    /// Copy-paste campaigns: runs the campaign tracker over a post file in file order and
    /// scores the campaigns found against the labelled ones. A campaign counts as found when
    /// one detected campaign holds at least 90% of its posts; purity is the share of that
    /// detected campaign's posts that belong to it. Prints `campaigns` (detected),
    /// `campaign_recall`, `mean_purity` (over labelled campaigns that overlap a detected
    /// one), `posts_per_second` (normalization, sketch, index, clustering), and
    /// `background_campaigns` and `background_posts`: what it flags among unlabelled posts.
    Copy {
        /// JSONL: {"id","account_id","created_at": unix seconds,"text","campaign": null | id}.
        #[arg(long)]
        posts: PathBuf,
        /// Distinct accounts a cluster needs to be a campaign.
        #[arg(long, default_value_t = CampaignConfig::default().min_accounts)]
        min_accounts: usize,
        /// Minutes within which those accounts must post.
        #[arg(long, default_value_t = CampaignConfig::default().burst_secs as f64 / 60.0)]
        burst_minutes: f64,
        /// Estimated Jaccard similarity at which two posts are copies.
        #[arg(long, default_value_t = CampaignConfig::default().similarity)]
        similarity: f32,
        /// Window in hours: posts further apart are never linked.
        #[arg(long, default_value_t = CampaignConfig::default().window_secs as f64 / 3600.0)]
        window_hours: f64,
        /// Shortest text (normalized characters) that can join a campaign.
        #[arg(long, default_value_t = CampaignConfig::default().min_chars)]
        min_chars: usize,
        /// Add a random sample of this many campaigns holding no labelled post (first text,
        /// accounts, posts, span, burst) under `background_sample`.
        #[arg(long, default_value_t = 0)]
        show_background: usize,
        /// Seed of that sample.
        #[arg(long, default_value_t = 16)]
        seed: u64,
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
        EvalCommand::Clickbait { csv, cv, folds, seed, posts, samples } => match (csv, posts) {
            (Some(csv), _) if cv => crate::eval_clickbait::run_cv(&csv, folds, seed),
            (Some(csv), _) => crate::eval_clickbait::run(&csv),
            (None, Some(posts)) => crate::eval_clickbait::run_posts(&posts, samples, seed),
            (None, None) => anyhow::bail!("give --csv or --posts"),
        },
        EvalCommand::Claims { factchecks, posts, show_errors } => {
            crate::eval_claims::run(&factchecks, &posts, show_errors)
        }
        EvalCommand::Impersonation { registry, accounts, show_errors } => {
            crate::eval_impersonation::run(&registry, &accounts, show_errors)
        }
        EvalCommand::Copy {
            posts,
            min_accounts,
            burst_minutes,
            similarity,
            window_hours,
            min_chars,
            show_background,
            seed,
        } => {
            let config = CampaignConfig {
                min_accounts,
                burst_secs: (burst_minutes * 60.0) as i64,
                similarity,
                window_secs: (window_hours * 3600.0) as i64,
                min_chars,
            };
            crate::eval_copy::run(&posts, config, show_background, seed)
        }
    }
}
