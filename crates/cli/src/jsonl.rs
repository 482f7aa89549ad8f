//! Reading evaluation files: one JSON record a line.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use anyhow::{Context, Result, ensure};
use serde::de::DeserializeOwned;

/// Reads every record of a JSONL file (blank lines skipped), at most `limit`. A line that is
/// not a valid record stops the read with its line number and `what` it should have been.
pub fn read<T: DeserializeOwned>(path: &Path, limit: Option<usize>, what: &str) -> Result<Vec<T>> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut out = Vec::new();
    for (n, line) in BufReader::with_capacity(1 << 20, file).lines().enumerate() {
        if limit.is_some_and(|l| out.len() >= l) {
            break;
        }
        let line = line.with_context(|| format!("reading {} line {}", path.display(), n + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        let record =
            serde_json::from_str(&line).with_context(|| format!("{} line {}: not {what}", path.display(), n + 1))?;
        out.push(record);
    }
    ensure!(!out.is_empty(), "no records in {}", path.display());
    Ok(out)
}

/// An id given as a JSON string or number.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Deserialize)]
#[serde(untagged)]
pub enum Id {
    Text(String),
    Number(i64),
}

impl std::fmt::Display for Id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Id::Text(s) => f.write_str(s),
            Id::Number(n) => write!(f, "{n}"),
        }
    }
}
