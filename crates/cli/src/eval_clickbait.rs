//! `steward eval clickbait --csv F`: scores every title of a labelled file with the
//! committed model at the shipped threshold and prints one JSON object: `precision`,
//! `recall`, `f1`, `accuracy`, `n`, `titles_per_second` (and the same per language when the
//! file mixes languages).
//!
//! Also the reader of labelled clickbait files, shared with `steward train clickbait`.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde_json::json;
use steward_detect::clickbait::train::{Metrics, metrics_of};
use steward_detect::clickbait::{Clickbait, Language, THRESHOLD};

/// One labelled item of a clickbait file.
#[derive(Debug, Clone)]
pub struct Labelled {
    pub label: bool,
    pub title: String,
    pub content: String,
    pub source: String,
}

/// Reads a labelled file: CSV with columns `label,title[,content[,source]]`, either
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
    // Column of label, title, content, source.
    let mut columns: (usize, usize, Option<usize>, Option<usize>) = (0, 1, Some(2), Some(3));
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
                columns = (label, title, find("content").or_else(|| find("text")), find("source"));
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
        rows.push(Labelled {
            label,
            title,
            content: columns.2.and_then(field).unwrap_or_default(),
            source: columns.3.and_then(field).unwrap_or_default(),
        });
    }
    Ok((rows, rejected))
}

pub fn run(csv: &Path) -> Result<ExitCode> {
    let (rows, rejected) = read_labelled(csv)?;
    for r in &rejected {
        eprintln!("skipped {r}");
    }
    if rows.is_empty() {
        bail!("{}: no usable labelled titles", csv.display());
    }
    let model = Clickbait::shipped().map_err(|e| anyhow::anyhow!("{e}"))?;
    let report = evaluate(model, &rows);
    let mut out = serde_json::to_value(report.overall)?;
    out["threshold"] = json!(THRESHOLD);
    out["titles_per_second"] = json!(report.titles_per_second.round());
    out["rejected"] = json!(rejected.len());
    if report.by_language.len() > 1 {
        out["languages"] = serde_json::to_value(&report.by_language)?;
    }
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(ExitCode::SUCCESS)
}

/// Figures of one evaluation.
pub struct Report {
    pub overall: Metrics,
    pub by_language: BTreeMap<&'static str, Metrics>,
    pub titles_per_second: f64,
}

/// Decides every row as the detector does (shipped threshold and cue rule) and times it
/// (titles decided again until at least half a second has passed, so that small files
/// time well).
pub fn evaluate(model: &Clickbait, rows: &[Labelled]) -> Report {
    let mut flags = Vec::with_capacity(rows.len());
    let mut langs = Vec::with_capacity(rows.len());
    let start = Instant::now();
    for r in rows {
        let d = model.decide(&r.title);
        flags.push(d.flagged);
        langs.push(d.language);
    }
    let mut scored = rows.len();
    while start.elapsed().as_secs_f64() < 0.5 {
        for r in rows {
            std::hint::black_box(model.decide(std::hint::black_box(&r.title)));
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
        assert_eq!((rows[0].label, rows[0].content.as_str(), rows[0].source.as_str()), (true, "正文", "site"));
        assert_eq!(rows[1].title, "国务院召开常务会议");
        assert_eq!(rejected.len(), 2);
        assert!(rejected[0].ends_with(":2: label \"x\" is not 0 or 1"), "{rejected:?}");
        assert!(rejected[1].contains(":4: empty title"), "{rejected:?}");

        let f = write("source,title,label\nA,\"Why, Really?\",1\nB,Markets close higher,0\n");
        let (rows, rejected) = read_labelled(f.path()).unwrap();
        assert!(rejected.is_empty());
        assert_eq!((rows[0].title.as_str(), rows[0].label, rows[0].source.as_str()), ("Why, Really?", true, "A"));

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
}
