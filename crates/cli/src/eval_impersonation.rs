//! `steward eval impersonation --registry R --accounts A`: feeds a registry of protected
//! identities and then every account through the impersonation detector, as the engine
//! does, and prints one JSON object: `precision`, `recall`, `f1`, `identity_accuracy`,
//! `accounts_per_second`, with counts, recall (or, for accounts that should not be flagged,
//! the share flagged) per `note`, and how the flagged accounts matched.
//!
//! Positives are accounts whose `expected` is an identity id; a flagged positive is a true
//! positive, and `identity_accuracy` is the share of those flagged as the expected identity.
//! The thresholds are the shipped ones: nothing here is tuned to the file scored.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;
use chrono::Utc;
use serde::Deserialize;
use serde_json::json;
use steward_detect::impersonation::Impersonation;
use steward_detect::{Context, Detector, Findings};
use steward_model::{Account, Event, Identity, Payload, Signal};

use crate::jsonl::{self, Id};

/// One labelled account.
#[derive(Debug, Clone, Deserialize)]
pub struct LabelledAccount {
    pub account_id: Id,
    pub display_name: String,
    #[serde(default)]
    pub bio: String,
    #[serde(default)]
    pub verified: bool,
    #[serde(default)]
    pub avatar_hash: Option<String>,
    /// The identity the account imitates; null for an honest account.
    pub expected: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
}

impl LabelledAccount {
    pub fn account(&self) -> Account {
        let id = self.account_id.to_string();
        Account {
            handle: id.clone(),
            id,
            display_name: self.display_name.clone(),
            bio: self.bio.clone(),
            avatar_hash: self.avatar_hash.clone(),
            followers: 0,
            verified: self.verified,
            identity: None,
            ip_region: None,
            monetization: Vec::new(),
        }
    }
}

pub fn read_registry(path: &Path) -> Result<Vec<Identity>> {
    jsonl::read(path, None, "an identity with id, name, kind (aliases, owner_account_ids optional)")
}

pub fn read_accounts(path: &Path) -> Result<Vec<LabelledAccount>> {
    jsonl::read(path, None, "an account with account_id, display_name and expected")
}

fn event(payload: Payload) -> Event {
    Event { id: String::new(), at: Utc::now(), payload }
}

/// Feeds the identities to the detector, as the engine does at start.
pub fn learn(detector: &mut Impersonation, registry: &[Identity]) {
    let mut out = Findings::default();
    for identity in registry {
        detector
            .inspect(&Context { event: &event(Payload::IdentityUpserted(identity.clone())), account: None }, &mut out);
    }
}

/// Runs the accounts through the detector: the signal for each (if any), and accounts per
/// second (accounts are checked again until half a second has passed, so small files time
/// well).
pub fn run_accounts(detector: &mut Impersonation, accounts: &[LabelledAccount]) -> (Vec<Option<Signal>>, f64) {
    let events: Vec<Event> = accounts.iter().map(|a| event(Payload::AccountUpserted(a.account()))).collect();
    let mut signals = Vec::with_capacity(events.len());
    let mut out = Findings::default();
    let start = Instant::now();
    for e in &events {
        out.clear();
        // Each account is new to the detector.
        detector.inspect(&Context { event: e, account: None }, &mut out);
        signals.push(out.signals.pop());
    }
    let mut checked = events.len();
    while start.elapsed().as_secs_f64() < 0.5 {
        for e in &events {
            if let Payload::AccountUpserted(a) = &e.payload {
                std::hint::black_box(detector.matcher().check(std::hint::black_box(a)));
            }
        }
        checked += events.len();
    }
    (signals, checked as f64 / start.elapsed().as_secs_f64())
}

pub fn run(registry: &Path, accounts: &Path, show: bool) -> Result<ExitCode> {
    let registry = read_registry(registry)?;
    let accounts = read_accounts(accounts)?;
    let mut detector = Impersonation::default();
    learn(&mut detector, &registry);
    let (signals, per_second) = run_accounts(&mut detector, &accounts);
    let mut report = score(&accounts, &signals);
    report["identities"] = json!(registry.len());
    report["accounts_per_second"] = json!(per_second.round());
    if show {
        show_errors(&accounts, &signals);
    }
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(ExitCode::SUCCESS)
}

/// Prints every miss, false flag and wrong identity on standard error.
pub fn show_errors(accounts: &[LabelledAccount], signals: &[Option<Signal>]) {
    for (a, s) in accounts.iter().zip(signals) {
        let wrong = match (&a.expected, s) {
            (Some(e), Some(s)) => s.evidence["identity"].as_str() != Some(e.as_str()),
            (Some(_), None) | (None, Some(_)) => true,
            (None, None) => false,
        };
        if wrong {
            let flagged = s.as_ref().map(|s| serde_json::Value::Object(s.evidence.clone()));
            eprintln!(
                "{} {:?} expected {} ({}): flagged {}",
                a.account_id,
                a.display_name,
                a.expected.as_deref().unwrap_or("nothing"),
                a.note.as_deref().unwrap_or_default(),
                flagged.unwrap_or_default()
            );
        }
    }
}

/// The figures for labelled accounts and the signal raised for each.
pub fn score(accounts: &[LabelledAccount], signals: &[Option<Signal>]) -> serde_json::Value {
    let (mut tp, mut fp, mut fneg, mut right) = (0usize, 0usize, 0usize, 0usize);
    // note → (accounts, flagged, expects an identity)
    let mut notes: BTreeMap<String, (usize, usize, bool)> = BTreeMap::new();
    let mut hows: BTreeMap<String, usize> = BTreeMap::new();
    for (a, s) in accounts.iter().zip(signals) {
        let note = a.note.clone().unwrap_or_else(|| if a.expected.is_some() { "positive" } else { "negative" }.into());
        let entry = notes.entry(note).or_insert((0, 0, a.expected.is_some()));
        entry.0 += 1;
        if let Some(s) = s {
            entry.1 += 1;
            *hows.entry(s.evidence.get("how").and_then(|h| h.as_str()).unwrap_or_default().to_string()).or_default() +=
                1;
        }
        match (&a.expected, s) {
            (Some(expected), Some(s)) => {
                tp += 1;
                if s.evidence.get("identity").and_then(|i| i.as_str()) == Some(expected.as_str()) {
                    right += 1;
                }
            }
            (Some(_), None) => fneg += 1,
            (None, Some(_)) => fp += 1,
            (None, None) => {}
        }
    }
    let ratio = |a: usize, b: usize| if b > 0 { a as f64 / b as f64 } else { 0.0 };
    let (precision, recall) = (ratio(tp, tp + fp), ratio(tp, tp + fneg));
    let f1 = if precision + recall > 0.0 { 2.0 * precision * recall / (precision + recall) } else { 0.0 };
    let by_note: BTreeMap<String, serde_json::Value> = notes
        .into_iter()
        .map(|(note, (n, flagged, positive))| {
            let share = if positive { "recall" } else { "flagged_share" };
            (note, json!({ "accounts": n, "flagged": flagged, share: ratio(flagged, n) }))
        })
        .collect();
    json!({
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "identity_accuracy": ratio(right, tp),
        "accounts": accounts.len(),
        "positives": tp + fneg,
        "true_positives": tp,
        "false_positives": fp,
        "false_negatives": fneg,
        "by_note": by_note,
        "by_how": hows,
    })
}
