//! `steward bench impersonation`: accounts per second against a large registry. The registry
//! given is grown to `--identities` entries with synthetic ones made from it — each a real
//! entry moved to another place (`某某县公安局` → `青川县公安局`), or placed in one when its
//! name has none — so that official words and common pairs are as frequent as in a real
//! national registry. Prints one JSON object: registry size, build time, accounts per
//! second, and the figures of the evaluation against the grown registry (for information:
//! synthetic entries may coincide with real names).

use std::path::Path;
use std::time::Instant;

use anyhow::{Result, ensure};
use serde_json::json;
use steward_detect::impersonation::{Impersonation, Places};
use steward_model::Identity;

use crate::eval_impersonation::{learn, read_accounts, read_registry, run_accounts, score, show_errors};

/// A deterministic stream of numbers (xorshift).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n.max(1) as u64) as usize
    }
}

/// `name` moved to `place`: its leading place name replaced, or `place` put before it.
fn relocate(places: &Places, name: &str, place: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let rest: String = chars[places.leading(&chars).unwrap_or(0)..].iter().collect();
    format!("{place}{rest}")
}

/// The real registry followed by synthetic entries up to `total`.
pub fn grow(registry: &[Identity], total: usize, places: &Places) -> Vec<Identity> {
    let mut out = registry.to_vec();
    let mut rng = Rng(0x5EED_1DE7_1715);
    let all = places.all();
    while out.len() < total && !registry.is_empty() && !all.is_empty() {
        let base = &registry[rng.below(registry.len())];
        let place = &all[rng.below(all.len())].name;
        // Half the time the short form (青川 rather than 青川县).
        let place: String = if rng.below(2) == 0 && place.chars().count() > 2 {
            place.chars().take(place.chars().count() - 1).collect()
        } else {
            place.clone()
        };
        out.push(Identity {
            id: format!("synthetic-{}", out.len()),
            name: relocate(places, &base.name, &place),
            aliases: base.aliases.iter().map(|a| relocate(places, a, &place)).collect(),
            kind: base.kind,
            owner_account_ids: Vec::new(),
            avatar_hashes: Vec::new(),
        });
    }
    out
}

pub fn run(registry: &Path, accounts: &Path, identities: usize, show: bool) -> Result<()> {
    let registry = read_registry(registry)?;
    let accounts = read_accounts(accounts)?;
    let places = Places::shipped().map_err(|e| anyhow::anyhow!("{e}"))?;
    let grown = grow(&registry, identities, places);
    ensure!(grown.len() >= identities, "could not grow the registry to {identities} entries");
    let mut detector = Impersonation::default();
    let started = Instant::now();
    learn(&mut detector, &grown);
    let build_seconds = started.elapsed().as_secs_f64();
    let (signals, per_second) = run_accounts(&mut detector, &accounts);
    let figures = score(&accounts, &signals);
    if show {
        show_errors(&accounts, &signals);
    }
    println!(
        "{}",
        json!({
            "bench": "impersonation",
            "identities": grown.len(),
            "real_identities": registry.len(),
            "accounts": accounts.len(),
            "build_seconds": build_seconds,
            "accounts_per_second": per_second.round(),
            "precision": figures["precision"],
            "recall": figures["recall"],
            "identity_accuracy": figures["identity_accuracy"],
        })
    );
    Ok(())
}
