//! `steward registry import FILE`: protected identities (government bodies, police, courts,
//! media, campuses) from a JSONL file, one `{"id","name","aliases","kind",
//! "owner_account_ids"[, "avatar_hashes"]}` a line, each turned into an `identity.upserted`
//! event and ingested through the engine like `steward ingest`.
//!
//! An event's id is the identity's id and a hash of its content: importing the same file
//! again changes nothing (every event is a replay), and a changed entry is a new upsert.
//! A line that is no identity is reported with its line and reason; the rest are imported.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use steward_engine::Engine;
use steward_model::Identity;
use steward_policy::Policy;
use steward_store::Store;

use crate::ingest::{Totals, content_event, finish, ingest_events};

/// The `identity.upserted` event for one registry line; `Err` says why the line is none.
pub fn identity_event(line: &str, at: DateTime<Utc>) -> Result<String, String> {
    let identity: Identity = serde_json::from_str(line).map_err(|e| format!("not an identity: {e}"))?;
    Ok(content_event("identity", "identity", &identity.id, &identity, at))
}

pub fn import(store: Arc<dyn Store>, policy: Arc<Policy>, file: &Path) -> Result<ExitCode> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let name = file.display().to_string();
    let at = Utc::now();
    let mut totals = Totals::default();
    let mut events = Vec::new();
    for (n, line) in bytes.split(|&b| b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let parsed = std::str::from_utf8(line)
            .map_err(|e| format!("not valid UTF-8 (byte {})", e.valid_up_to()))
            .and_then(|line| identity_event(line, at));
        match parsed {
            Ok(event) => events.push((n + 1, event)),
            Err(reason) => {
                eprintln!("{name}:{}: rejected: {reason}", n + 1);
                totals.rejected += 1;
            }
        }
    }
    let mut engine = Engine::open(store, policy, Default::default())?;
    let started = Instant::now();
    let ingested = ingest_events(&mut engine, &name, &events, &mut totals);
    finish(&totals, started, ingested)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_become_events_or_reasons() {
        let at = "2026-11-22T08:00:00Z".parse().unwrap();
        let line =
            r#"{"id":"i1","name":"青川县公安局","aliases":["青川公安"],"kind":"police","owner_account_ids":["a1"]}"#;
        let id = |line: &str| {
            let event: serde_json::Value = serde_json::from_str(&identity_event(line, at).unwrap()).unwrap();
            assert_eq!(event["type"], "identity.upserted");
            event["id"].as_str().unwrap().to_string()
        };
        assert!(id(line).starts_with("identity:i1:"));
        // Same content, same id; changed content, another.
        assert_eq!(id(line), id(line));
        assert_ne!(id(&line.replace("青川公安", "青川警方")), id(line));
        assert!(identity_event("{", at).unwrap_err().contains("not an identity"));
        let unknown = r#"{"id":"i2","name":"x","kind":"wizard"}"#;
        assert!(identity_event(unknown, at).unwrap_err().contains("wizard"));
    }
}
