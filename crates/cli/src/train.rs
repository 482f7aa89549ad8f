//! `steward train clickbait`: trains the clickbait model from labelled files, reproducibly
//! (fixed seed, deterministic code, no threads), prints its cross-validation per language
//! as JSON, and writes the weights (`models/clickbait.json`, committed; the training data
//! never is).

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use serde_json::json;
use steward_detect::clickbait::learn::metrics_of;
use steward_detect::clickbait::train::{
    self, Example, HANDWRITTEN_EN, HANDWRITTEN_ZH, parse_label_title, train_en, train_zh,
};
use steward_detect::clickbait::{Clickbait, Language, THRESHOLD};

use crate::eval_clickbait::{examples, read_rows};

fn file_name(p: &Path) -> String {
    p.file_name().map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().into_owned())
}

fn load(path: &Path, lang: Language) -> Result<(Vec<Example>, usize)> {
    let (rows, rejected) = read_rows(path)?;
    let ex = examples(&rows, lang);
    let other = rows.len() - ex.len();
    if other > 0 {
        eprintln!("{}: {other} titles are not {} by script and were left out", path.display(), lang.as_str());
    }
    if ex.is_empty() {
        bail!("{}: no usable {} titles", path.display(), lang.as_str());
    }
    Ok((ex, rejected))
}

/// Trains on `zh` (Chinese, `label,title,content[,source]`) and `en` (English,
/// `label,title`) with `folds`-fold cross-validation and `seed`, and writes the weights to
/// `out`. Prints one JSON object: the cross-validation figures per language (Chinese beside
/// its character n-gram baseline), the hand-written checks, and where the weights went.
pub fn run(zh: &Path, en: &Path, out: &Path, folds: usize, seed: u64) -> Result<ExitCode> {
    if folds < 2 {
        bail!("--folds must be at least 2");
    }
    let (zh_ex, zh_rejected) = load(zh, Language::Zh)?;
    let (en_ex, en_rejected) = load(en, Language::En)?;
    let zh_model = train_zh(&zh_ex, folds, seed).map_err(anyhow::Error::msg)?;
    let en_model = train_en(&en_ex, folds, seed).map_err(anyhow::Error::msg)?;
    let command =
        format!("steward train clickbait --zh {} --en {} --folds {folds} --seed {seed}", file_name(zh), file_name(en));
    let provenance =
        train::provenance(&command, &[("zh", zh_ex.len()), ("en", en_ex.len())], folds, seed, &zh_model, &en_model);
    let file = train::model_file(&zh_model, &en_model, provenance);
    let text = serde_json::to_string(&file)? + "\n";
    // The written file must load: a round trip before anything is replaced.
    let model = Clickbait::from_json(&text).map_err(anyhow::Error::msg)?;
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(out, &text).with_context(|| format!("cannot write {}", out.display()))?;

    // The project's own hand-written headlines, never trained on (titles alone).
    let mut checks = serde_json::Map::new();
    for (lang, file) in [(Language::Zh, HANDWRITTEN_ZH), (Language::En, HANDWRITTEN_EN)] {
        let rows = parse_label_title(file).map_err(anyhow::Error::msg)?;
        let flags: Vec<bool> = rows.iter().map(|(_, t)| model.decide(t, "").flagged).collect();
        let labels: Vec<bool> = rows.iter().map(|(l, _)| *l).collect();
        checks.insert(lang.as_str().into(), serde_json::to_value(metrics_of(&flags, &labels))?);
    }
    let summary = json!({
        "cross_validation": zh_model.cv.reports.iter().chain([&en_model.report]).collect::<Vec<_>>(),
        "baseline_char_ngram": zh_model.cv.baseline,
        "zh": {"c": zh_model.choice.c, "threshold": zh_model.choice.threshold, "weights": file.languages.zh.weights},
        "en": {"threshold": en_model.threshold},
        "hand_written_checks": checks,
        "rows": {"zh": zh_ex.len(), "en": en_ex.len()},
        "rejected": {"zh": zh_rejected, "en": en_rejected},
        "weights": out.display().to_string(),
        "bytes": text.len(),
        "threshold": THRESHOLD,
    });
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(ExitCode::SUCCESS)
}
