//! Fact-checks from the formats publishers export, for `steward kb import`:
//!
//! - JSONL, one fact-check a line: `{"id","claim","verdict","explanation","publisher",
//!   "published_at","url","language"}`, where `published_at` may be RFC 3339, a plain
//!   `YYYY-MM-DD[ HH:MM[:SS]]` (read in the `offset` time zone), unix seconds or null.
//! - schema.org ClaimReview in JSON-LD: one object, an array, or a `@graph`; the verdict comes
//!   from `reviewRating.alternateName` (the publisher's words, English or Chinese) or else
//!   from `ratingValue` on its `worstRating`–`bestRating` scale.
//! - A Cofacts-style CSV export: `articles.csv` (id, articleType, status, text, createdAt),
//!   `replies.csv` (id, type, reference, text, createdAt) and `article_replies.csv`
//!   (articleId, replyId, replyType, status). Each live article–reply pair is a fact-check of
//!   the article's text: RUMOR is false, NOT_RUMOR true, OPINIONATED opinion; NOT_ARTICLE
//!   replies and deleted or blocked rows are skipped.
//!
//! Each function returns the fact-checks it could read and, for the others, where and why not.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Utc};
use serde::Deserialize;
use serde_json::Value;

use crate::entity::{FactCheck, Verdict};

/// A record that could not be read: where (`line 3`, `articles.csv line 12`, `node 2`) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{place}: {reason}")]
pub struct ImportError {
    pub place: String,
    pub reason: String,
}

fn error(place: impl Into<String>, reason: impl Into<String>) -> ImportError {
    ImportError { place: place.into(), reason: reason.into() }
}

/// What an import read.
#[derive(Debug, Default)]
pub struct Imported {
    pub fact_checks: Vec<FactCheck>,
    pub errors: Vec<ImportError>,
    /// Records left out on purpose (not a claim, deleted, no verdict given).
    pub skipped: usize,
}

/// Reads a time as RFC 3339, `YYYY-MM-DD[ HH:MM[:SS[.f]]]` or `T`-separated without zone (in
/// `offset`), or unix seconds (milliseconds when over 10^11).
pub fn parse_time(s: &str, offset: FixedOffset) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(n) = s.parse::<i64>() {
        let secs = if n.abs() > 100_000_000_000 { n / 1000 } else { n };
        return DateTime::from_timestamp(secs, 0);
    }
    let naive =
        ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M"]
            .iter()
            .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
            .or_else(|| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok().and_then(|d| d.and_hms_opt(0, 0, 0)))?;
    offset.from_local_datetime(&naive).single().map(|t| t.with_timezone(&Utc))
}

/// A verdict from a rating's words: steward's own names, then common fact-checker ratings
/// in English and Chinese. `None` when the words say nothing we can map.
pub fn verdict_from_words(words: &str) -> Option<Verdict> {
    let w = words.trim().to_lowercase();
    let has = |keys: &[&str]| keys.iter().any(|k| w.contains(k));
    // Order matters: "mostly false" is misleading, not false; "not true" is false.
    if has(&[
        "misleading",
        "mostly false",
        "half true",
        "half-true",
        "partly",
        "partially",
        "mixture",
        "missing context",
        "out of context",
        "exaggerat",
        "误导",
        "片面",
        "部分",
        "夸大",
        "不准确",
    ]) {
        Some(Verdict::Misleading)
    } else if has(&[
        "unproven",
        "unverified",
        "unsupported",
        "no evidence",
        "not proven",
        "research in progress",
        "未证实",
        "尚无定论",
        "存疑",
        "有待",
    ]) {
        Some(Verdict::Unproven)
    } else if has(&["opinion", "satire", "观点", "讽刺"]) {
        Some(Verdict::Opinion)
    } else if has(&[
        "false",
        "fake",
        "hoax",
        "pants on fire",
        "incorrect",
        "not true",
        "untrue",
        "wrong",
        "fabricated",
        "谣言",
        "不实",
        "虚假",
        "错误",
        "假的",
        "伪",
    ]) {
        Some(Verdict::False)
    } else if has(&["true", "correct", "accurate", "real", "属实", "真实", "正确", "确有其事"]) {
        Some(Verdict::True)
    } else {
        None
    }
}

/// One JSONL line. Ids may be numbers; times may be any form [`parse_time`] reads.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonlRecord {
    id: Value,
    claim: String,
    verdict: String,
    #[serde(default)]
    explanation: Option<String>,
    #[serde(default)]
    publisher: Option<String>,
    #[serde(default)]
    published_at: Option<Value>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    language: Option<String>,
}

fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn checked(fc: FactCheck, place: &str) -> Result<FactCheck, ImportError> {
    if fc.id.is_empty() {
        return Err(error(place, "no id"));
    }
    if fc.claim.trim().is_empty() {
        return Err(error(place, "the claim is empty"));
    }
    Ok(fc)
}

/// Reads JSONL fact-checks (blank lines skipped).
pub fn from_jsonl(text: &str, offset: FixedOffset) -> Imported {
    let mut out = Imported::default();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let place = format!("line {}", n + 1);
        match jsonl_record(line, offset, &place) {
            Ok(fc) => out.fact_checks.push(fc),
            Err(e) => out.errors.push(e),
        }
    }
    out
}

fn jsonl_record(line: &str, offset: FixedOffset, place: &str) -> Result<FactCheck, ImportError> {
    let r: JsonlRecord = serde_json::from_str(line).map_err(|e| error(place, e.to_string()))?;
    let verdict = serde_json::from_value(Value::String(r.verdict.clone()))
        .ok()
        .or_else(|| verdict_from_words(&r.verdict))
        .ok_or_else(|| {
            error(place, format!("unknown verdict {:?}; use false, misleading, true, unproven or opinion", r.verdict))
        })?;
    let published_at = match r.published_at.as_ref().and_then(text_of) {
        None => None,
        Some(s) => Some(parse_time(&s, offset).ok_or_else(|| error(place, format!("unreadable published_at {s:?}")))?),
    };
    checked(
        FactCheck {
            id: text_of(&r.id).unwrap_or_default(),
            claim: r.claim.trim().to_string(),
            verdict,
            explanation: r.explanation.unwrap_or_default(),
            publisher: r.publisher.unwrap_or_default(),
            published_at,
            url: r.url.filter(|u| !u.is_empty()),
            language: r.language.filter(|l| !l.is_empty()),
        },
        place,
    )
}

/// Reads ClaimReview nodes from a JSON-LD document.
pub fn from_claim_review(text: &str, offset: FixedOffset) -> Imported {
    let mut out = Imported::default();
    let doc: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            out.errors.push(error("document", format!("not JSON: {e}")));
            return out;
        }
    };
    let mut nodes = Vec::new();
    collect_nodes(&doc, &mut nodes);
    if nodes.is_empty() {
        out.errors.push(error("document", "no node of @type ClaimReview"));
    }
    for (n, node) in nodes.into_iter().enumerate() {
        match claim_review(node, offset, &format!("ClaimReview {}", n + 1)) {
            Ok(Some(fc)) => out.fact_checks.push(fc),
            Ok(None) => out.skipped += 1,
            Err(e) => out.errors.push(e),
        }
    }
    out
}

fn is_claim_review(node: &Value) -> bool {
    match node.get("@type") {
        Some(Value::String(t)) => t == "ClaimReview",
        Some(Value::Array(ts)) => ts.iter().any(|t| t == "ClaimReview"),
        _ => false,
    }
}

fn collect_nodes<'a>(v: &'a Value, out: &mut Vec<&'a Value>) {
    match v {
        Value::Array(items) => items.iter().for_each(|i| collect_nodes(i, out)),
        Value::Object(_) if is_claim_review(v) => out.push(v),
        Value::Object(map) => {
            if let Some(graph) = map.get("@graph") {
                collect_nodes(graph, out);
            }
        }
        _ => {}
    }
}

/// The `name` of a person or organization given as a string, an object or a list of them.
fn name_of(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o.get("name").and_then(text_of),
        Value::Array(a) => a.iter().find_map(|x| name_of(Some(x))),
        _ => None,
    }
}

fn number(v: Option<&Value>) -> Option<f64> {
    match v? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn claim_review(node: &Value, offset: FixedOffset, place: &str) -> Result<Option<FactCheck>, ImportError> {
    let claim = node.get("claimReviewed").and_then(text_of).ok_or_else(|| error(place, "no claimReviewed"))?;
    let rating = node.get("reviewRating");
    let from_words = rating.and_then(|r| r.get("alternateName")).and_then(text_of).and_then(|w| verdict_from_words(&w));
    let from_scale = || {
        let r = rating?;
        let (value, best, worst) =
            (number(r.get("ratingValue"))?, number(r.get("bestRating"))?, number(r.get("worstRating"))?);
        if best == worst {
            return None;
        }
        let share = (value - worst) / (best - worst);
        Some(match share {
            s if s <= 0.25 => Verdict::False,
            s if s < 0.5 => Verdict::Misleading,
            s if s < 0.75 => Verdict::Unproven,
            _ => Verdict::True,
        })
    };
    let Some(verdict) = from_words.or_else(from_scale) else {
        return Ok(None);
    };
    let url = node.get("url").and_then(text_of);
    let id = node.get("@id").and_then(text_of).or_else(|| url.clone()).ok_or_else(|| error(place, "no @id or url"))?;
    let published_at = match node.get("datePublished").and_then(text_of) {
        None => None,
        Some(s) => Some(parse_time(&s, offset).ok_or_else(|| error(place, format!("unreadable datePublished {s:?}")))?),
    };
    let language = match node.get("inLanguage") {
        Some(Value::Object(o)) => o.get("alternateName").or(o.get("name")).and_then(text_of),
        other => other.and_then(text_of),
    };
    checked(
        FactCheck {
            id,
            claim,
            verdict,
            explanation: node.get("reviewBody").or(node.get("description")).and_then(text_of).unwrap_or_default(),
            publisher: name_of(node.get("author")).or_else(|| name_of(node.get("publisher"))).unwrap_or_default(),
            published_at,
            url,
            language,
        },
        place,
    )
    .map(Some)
}

/// Rows of a CSV file by header name, with their line numbers.
fn csv_rows(name: &str, text: &str, columns: &[&str]) -> Result<Vec<(u64, Vec<String>)>, ImportError> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(text.as_bytes());
    let headers = reader.headers().map_err(|e| error(name, e.to_string()))?.clone();
    let index: Vec<usize> = columns
        .iter()
        .map(|c| headers.iter().position(|h| h.trim() == *c).ok_or_else(|| error(name, format!("no column {c:?}"))))
        .collect::<Result<_, _>>()?;
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| error(name, e.to_string()))?;
        let line = record.position().map_or(0, |p| p.line());
        rows.push((line, index.iter().map(|&i| record.get(i).unwrap_or("").to_string()).collect()));
    }
    Ok(rows)
}

/// Reads a Cofacts-style export from the text of its three files.
pub fn from_cofacts(articles: &str, replies: &str, article_replies: &str, offset: FixedOffset) -> Imported {
    let mut out = Imported::default();
    let tables = (
        csv_rows("articles.csv", articles, &["id", "articleType", "status", "text", "createdAt"]),
        csv_rows("replies.csv", replies, &["id", "type", "reference", "text", "createdAt"]),
        csv_rows("article_replies.csv", article_replies, &["articleId", "replyId", "replyType", "status"]),
    );
    let (articles, replies, links) = match tables {
        (Ok(a), Ok(r), Ok(l)) => (a, r, l),
        (a, r, l) => {
            out.errors.extend([a.err(), r.err(), l.err()].into_iter().flatten());
            return out;
        }
    };
    let live = |status: &str| status.is_empty() || status.eq_ignore_ascii_case("NORMAL");
    let articles: std::collections::HashMap<&str, &Vec<String>> =
        articles.iter().filter(|(_, r)| live(&r[2])).map(|(_, r)| (r[0].as_str(), r)).collect();
    let replies: std::collections::HashMap<&str, &Vec<String>> =
        replies.iter().map(|(_, r)| (r[0].as_str(), r)).collect();
    for (line, link) in &links {
        let place = format!("article_replies.csv line {line}");
        let (article_id, reply_id, reply_type, status) = (&link[0], &link[1], &link[2], &link[3]);
        if !live(status) {
            out.skipped += 1;
            continue;
        }
        let verdict = match reply_type.trim() {
            "RUMOR" => Verdict::False,
            "NOT_RUMOR" => Verdict::True,
            "OPINIONATED" => Verdict::Opinion,
            "NOT_ARTICLE" => {
                out.skipped += 1;
                continue;
            }
            other => {
                out.errors.push(error(place, format!("unknown replyType {other:?}")));
                continue;
            }
        };
        let Some(article) = articles.get(article_id.as_str()) else {
            // Blocked articles are left out of the map on purpose; others are missing.
            out.errors.push(error(place, format!("article {article_id:?} is not in articles.csv or not live")));
            continue;
        };
        let Some(reply) = replies.get(reply_id.as_str()) else {
            out.errors.push(error(place, format!("reply {reply_id:?} is not in replies.csv")));
            continue;
        };
        let published_at = if reply[4].trim().is_empty() { None } else { parse_time(&reply[4], offset) };
        let url = reply[2].split_whitespace().find(|w| w.starts_with("http")).map(str::to_string);
        let fc = FactCheck {
            id: format!("cofacts-{article_id}-{reply_id}"),
            claim: article[3].trim().to_string(),
            verdict,
            explanation: reply[3].trim().to_string(),
            publisher: "Cofacts".into(),
            published_at,
            url,
            language: None,
        };
        match checked(fc, &place) {
            Ok(fc) => out.fact_checks.push(fc),
            Err(e) => out.errors.push(e),
        }
    }
    out
}

#[cfg(test)]
mod tests;
