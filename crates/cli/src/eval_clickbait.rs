//! `steward eval clickbait`, one JSON object on stdout:
//!
//! - `--csv F`: every title of a labelled file (over its content, where the file has one)
//!   decided by the committed model at the shipped threshold: `precision`, `recall`, `f1`,
//!   `accuracy`, `n`, `titles_per_second` (and the same per language when the file mixes
//!   languages).
//! - `--csv F --cv`: the cross-validated figures of the training procedure on F, per
//!   language (see `steward_detect::clickbait::train`); the top-level figures are the
//!   Chinese topic-held-out ones when F holds Chinese titles, else the English stratified
//!   ones.
//! - `--posts F`: real posts (JSONL) run through the detector's choice of title and its
//!   decision: `posts`, `titled` (posts with a title or headline), `flagged`, `flag_rate`,
//!   `posts_per_second`, and a seeded random sample of the flags.
//!
//! Also the reader of labelled clickbait files, shared with `steward train clickbait`.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use serde_json::{Value, json};
use steward_detect::clickbait::learn::{Metrics, SplitMix, metrics_of};
use steward_detect::clickbait::train::{Example, cross_validate_zh, train_en};
use steward_detect::clickbait::{Clickbait, Language, THRESHOLD, title_of};

use crate::excerpt::excerpt;
use crate::jsonl::{self, Id};

/// One labelled item of a clickbait file.
#[derive(Debug, Clone)]
pub struct Labelled {
    pub label: bool,
    pub title: String,
    pub content: String,
}

/// Reads a labelled file: CSV with columns `label,title[,content[,source]]` (the source is
/// not used), either
/// positional (no header) or named by a header line that has at least `label` and `title`
/// (`text` is accepted for `content`). Records that cannot be used are returned as
/// `file:line: reason`, the rest are kept.
pub fn read_labelled(path: &Path) -> Result<(Vec<Labelled>, Vec<String>)> {
    let name = path.display().to_string();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_path(path)
        .with_context(|| format!("cannot open {name}"))?;
    let mut rows = Vec::new();
    let mut rejected = Vec::new();
    // Column of label, title, content.
    let mut columns: (usize, usize, Option<usize>) = (0, 1, Some(2));
    let mut first = true;
    let mut record = csv::ByteRecord::new();
    loop {
        let line_hint = reader.position().line();
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                    return Err(e).with_context(|| format!("reading {name}"));
                }
                let line = e.position().map_or(line_hint, |p| p.line());
                rejected.push(format!("{name}:{line}: {e}"));
                continue;
            }
        }
        let line = record.position().map_or(line_hint, |p| p.line());
        let field = |i: usize| record.get(i).map(|b| String::from_utf8_lossy(b).trim().to_string());
        if first {
            first = false;
            let header: Vec<String> = (0..record.len())
                .map(|i| field(i).unwrap_or_default().trim_start_matches('\u{feff}').to_lowercase())
                .collect();
            if header.first().is_some_and(|h| h == "label") || header.iter().any(|h| h == "title") {
                let find = |n: &str| header.iter().position(|h| h == n);
                let (Some(label), Some(title)) = (find("label"), find("title")) else {
                    bail!("{name}:{line}: the header needs a label and a title column, found {header:?}");
                };
                columns = (label, title, find("content").or_else(|| find("text")));
                continue;
            }
        }
        if std::str::from_utf8(record.as_slice()).is_err() {
            rejected.push(format!("{name}:{line}: not valid UTF-8"));
            continue;
        }
        let label = match field(columns.0).as_deref() {
            Some("1") | Some("1.0") | Some("true") => true,
            Some("0") | Some("0.0") | Some("false") => false,
            Some(other) => {
                rejected.push(format!("{name}:{line}: label {other:?} is not 0 or 1"));
                continue;
            }
            None => {
                rejected.push(format!("{name}:{line}: no label column"));
                continue;
            }
        };
        let title = field(columns.1).unwrap_or_default();
        if title.is_empty() {
            rejected.push(format!("{name}:{line}: empty title"));
            continue;
        }
        rows.push(Labelled { label, title, content: columns.2.and_then(field).unwrap_or_default() });
    }
    Ok((rows, rejected))
}

pub fn run(csv: &Path) -> Result<ExitCode> {
    let (rows, rejected) = read_rows(csv)?;
    let model = Clickbait::shipped().map_err(|e| anyhow::anyhow!("{e}"))?;
    let report = evaluate(model, &rows);
    let mut out = serde_json::to_value(report.overall)?;
    out["threshold"] = json!(THRESHOLD);
    out["titles_per_second"] = json!(report.titles_per_second.round());
    out["rejected"] = json!(rejected);
    if report.by_language.len() > 1 {
        out["languages"] = serde_json::to_value(&report.by_language)?;
    }
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(ExitCode::SUCCESS)
}

/// The usable rows of a labelled file and how many were rejected (each reported on
/// standard error).
pub fn read_rows(csv: &Path) -> Result<(Vec<Labelled>, usize)> {
    let (rows, rejected) = read_labelled(csv)?;
    for r in &rejected {
        eprintln!("skipped {r}");
    }
    if rows.is_empty() {
        bail!("{}: no usable labelled titles", csv.display());
    }
    Ok((rows, rejected.len()))
}

/// The rows whose title is in `lang`, as training examples.
pub fn examples(rows: &[Labelled], lang: Language) -> Vec<Example> {
    rows.iter()
        .filter(|r| Language::detect(&r.title) == lang)
        .map(|r| Example { label: r.label, title: r.title.clone(), content: r.content.clone() })
        .collect()
}

/// `--cv`: cross-validates the training procedure on the file, per language.
pub fn run_cv(csv: &Path, folds: usize, seed: u64) -> Result<ExitCode> {
    if folds < 2 {
        bail!("--folds must be at least 2");
    }
    let (rows, _) = read_rows(csv)?;
    let start = Instant::now();
    let mut languages = serde_json::Map::new();
    let mut primary: Option<Value> = None;
    let zh = examples(&rows, Language::Zh);
    if !zh.is_empty() {
        let cv = cross_validate_zh(&zh, folds, seed).map_err(anyhow::Error::msg)?;
        let by_cv = |reports: &[steward_detect::clickbait::train::CvReport]| -> Value {
            reports.iter().map(|r| (r.cv.to_string(), json!(r))).collect::<serde_json::Map<_, _>>().into()
        };
        let mut zh_out = by_cv(&cv.reports);
        zh_out["baseline_char_ngram"] = by_cv(&cv.baseline);
        zh_out["chosen_per_fold"] =
            cv.choices.iter().map(|(name, c)| (name.to_string(), json!(c))).collect::<serde_json::Map<_, _>>().into();
        primary = Some(json!(cv.reports[0]));
        languages.insert("zh".into(), zh_out);
    }
    let en = examples(&rows, Language::En);
    if !en.is_empty() {
        let trained = train_en(&en, folds, seed).map_err(anyhow::Error::msg)?;
        let report = json!(trained.report);
        primary.get_or_insert_with(|| report.clone());
        languages.insert("en".into(), json!({"stratified": report}));
    }
    let mut out = primary.unwrap_or_else(|| json!({}));
    out["languages"] = Value::Object(languages);
    out["seconds"] = json!((start.elapsed().as_secs_f64() * 10.0).round() / 10.0);
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(ExitCode::SUCCESS)
}

/// A post of a JSONL file, as `--posts` reads it.
#[derive(Deserialize)]
pub struct PostRow {
    pub id: Id,
    pub text: String,
    #[serde(default)]
    pub title: Option<String>,
    /// The campaign an injected post belongs to: such rows are left out.
    #[serde(default)]
    pub campaign: Option<Value>,
}

/// `--posts`: how many real posts the detector flags.
pub fn run_posts(path: &Path, samples: usize, seed: u64) -> Result<ExitCode> {
    let rows: Vec<PostRow> = jsonl::read(path, None, "a post with id and text")?;
    let skipped = rows.iter().filter(|r| r.campaign.is_some()).count();
    let posts: Vec<&PostRow> = rows.iter().filter(|r| r.campaign.is_none()).collect();
    if posts.is_empty() {
        bail!("{}: every post belongs to a campaign", path.display());
    }
    let model = Clickbait::shipped().map_err(|e| anyhow::anyhow!("{e}"))?;
    let start = Instant::now();
    let (mut titled, mut flagged) = (0usize, Vec::new());
    for (i, p) in posts.iter().enumerate() {
        if let Some(t) = title_of(p.title.as_deref(), &p.text) {
            titled += 1;
            if model.decide(t.title, t.content).flagged {
                flagged.push(i);
            }
        }
    }
    let posts_per_second = posts.len() as f64 / start.elapsed().as_secs_f64().max(1e-9);
    let mut drawn = flagged.clone();
    SplitMix::new(seed).shuffle(&mut drawn);
    drawn.truncate(samples);
    let sample: Vec<Value> = drawn
        .iter()
        .filter_map(|&i| {
            let p = posts[i];
            let t = title_of(p.title.as_deref(), &p.text)?;
            let s = model.score(t.title, t.content);
            Some(json!({
                "id": p.id.to_string(),
                "score": (s.score * 1000.0).round() / 1000.0,
                "cues": s.cues,
                "title": t.title,
                "text": excerpt(&p.text, 80),
            }))
        })
        .collect();
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { (a as f64 / b as f64 * 1e6).round() / 1e6 };
    let out = json!({
        "posts": posts.len(),
        "campaign_posts_left_out": skipped,
        "titled": titled,
        "flagged": flagged.len(),
        "flag_rate": ratio(flagged.len(), posts.len()),
        "flagged_of_titled": ratio(flagged.len(), titled),
        "threshold": THRESHOLD,
        "posts_per_second": posts_per_second.round(),
        "seed": seed,
        "samples": sample,
    });
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(ExitCode::SUCCESS)
}

/// Figures of one evaluation.
pub struct Report {
    pub overall: Metrics,
    pub by_language: BTreeMap<&'static str, Metrics>,
    pub titles_per_second: f64,
}

/// Decides every row as the detector does (its title over its content, shipped threshold)
/// and times it (rows decided again until at least half a second has passed, so that small
/// files time well).
pub fn evaluate(model: &Clickbait, rows: &[Labelled]) -> Report {
    let mut flags = Vec::with_capacity(rows.len());
    let mut langs = Vec::with_capacity(rows.len());
    let start = Instant::now();
    for r in rows {
        let d = model.decide(&r.title, &r.content);
        flags.push(d.flagged);
        langs.push(d.language);
    }
    let mut scored = rows.len();
    while start.elapsed().as_secs_f64() < 0.5 {
        for r in rows {
            std::hint::black_box(model.decide(std::hint::black_box(&r.title), &r.content));
        }
        scored += rows.len();
    }
    let titles_per_second = scored as f64 / start.elapsed().as_secs_f64();
    let labels: Vec<bool> = rows.iter().map(|r| r.label).collect();
    let mut by_language = BTreeMap::new();
    for lang in Language::ALL {
        let (f, l): (Vec<bool>, Vec<bool>) =
            flags.iter().zip(&labels).zip(&langs).filter(|(_, g)| **g == lang).map(|((f, l), _)| (*f, *l)).unzip();
        if !f.is_empty() {
            by_language.insert(lang.as_str(), metrics_of(&f, &l));
        }
    }
    Report { overall: metrics_of(&flags, &labels), by_language, titles_per_second }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut f, text.as_bytes()).unwrap();
        f
    }

    #[test]
    fn reads_positional_and_header_files_and_reports_bad_rows() {
        let f = write("\"1\",\"震惊！竟然是这样\",\"正文\",\"site\"\n\"x\",\"t\"\n0,\"国务院召开常务会议\"\n1,\"\"\n");
        let (rows, rejected) = read_labelled(f.path()).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[0].label, rows[0].content.as_str()), (true, "正文"));
        assert_eq!(rows[1].title, "国务院召开常务会议");
        assert_eq!(rejected.len(), 2);
        assert!(rejected[0].ends_with(":2: label \"x\" is not 0 or 1"), "{rejected:?}");
        assert!(rejected[1].contains(":4: empty title"), "{rejected:?}");

        let f = write("source,title,label\nA,\"Why, Really?\",1\nB,Markets close higher,0\n");
        let (rows, rejected) = read_labelled(f.path()).unwrap();
        assert!(rejected.is_empty());
        assert_eq!((rows[0].title.as_str(), rows[0].label), ("Why, Really?", true));

        let f = write("title,content\nx,y\n");
        assert!(read_labelled(f.path()).unwrap_err().to_string().contains(":1:"));
        assert!(read_labelled(Path::new("/nonexistent/file.csv")).is_err());
    }

    #[test]
    fn evaluates_a_mixed_file() {
        let f = write(
            "label,title\n1,震惊！这种水果竟然有毒，你还在吃吗？\n0,国务院常务会议部署稳外贸措施\n\
             1,You Won't Believe What This Dog Did Next\n0,Senate passes budget bill after late vote\n",
        );
        let (rows, _) = read_labelled(f.path()).unwrap();
        let model = Clickbait::shipped().unwrap();
        let r = evaluate(model, &rows);
        assert_eq!(r.overall.n, 4);
        assert_eq!(r.by_language.len(), 2);
        assert!(r.titles_per_second > 0.0);
    }

    #[test]
    fn reads_posts_and_leaves_campaigns_out() {
        let f = write(
            "{\"id\":\"p1\",\"text\":\"【震惊！这种水果竟然有毒，你还敢吃吗】记者走访了多个水果市场，发现情况并非如此。\",\"campaign\":null}\n\
             {\"id\":2,\"text\":\"今天天气真好！\"}\n\
             {\"id\":\"c1\",\"text\":\"【震惊！竟然这样】记者走访了多个水果市场\",\"campaign\":\"x\"}\n",
        );
        let rows: Vec<PostRow> = jsonl::read(f.path(), None, "a post").unwrap();
        assert_eq!(rows.iter().filter(|r| r.campaign.is_none()).count(), 2);
        assert!(run_posts(f.path(), 5, 1).is_ok());
        let bad = write("{\"id\":\"p1\"}\n");
        assert!(run_posts(bad.path(), 5, 1).is_err());
        assert_eq!(excerpt("一二三四五", 3), "一二三…");
        assert_eq!(excerpt("a  b\nc", 10), "a b c");
    }
}
