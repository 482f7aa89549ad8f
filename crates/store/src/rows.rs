//! Conversions and batch logic shared by both backends.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;

use serde_json::json;
use steward_model::{Decision, RestrictionKind, Role};

use crate::audit::AuditRecord;
use crate::chains::{Chain, item_chains};
use crate::{ApiKey, Batch, EntityRow, Result, StoreError};

/// Entity kinds the engine writes, so reading one back needs no allocation.
const ENTITY_KINDS: &[&str] =
    &["account", "post", "report", "factcheck", "identity", "credential", "snapshot", "campaign"];

/// The `&'static str` for a stored entity kind. Kinds outside [`ENTITY_KINDS`] are interned
/// once each (there are only ever a handful).
pub(crate) fn entity_kind(kind: &str) -> &'static str {
    if let Some(k) = ENTITY_KINDS.iter().find(|k| **k == kind) {
        return k;
    }
    static INTERNED: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());
    let mut interned = INTERNED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(k) = interned.iter().find(|k| **k == kind) {
        return k;
    }
    let k: &'static str = Box::leak(kind.to_string().into_boxed_str());
    interned.push(k);
    k
}

const RESTRICTION_KINDS: [RestrictionKind; 10] = [
    RestrictionKind::Label,
    RestrictionKind::LimitReach,
    RestrictionKind::Removed,
    RestrictionKind::Posting,
    RestrictionKind::NewFollowers,
    RestrictionKind::Monetization,
    RestrictionKind::Suspended,
    RestrictionKind::Closed,
    RestrictionKind::Disclosure,
    RestrictionKind::Muted,
];

pub(crate) fn restriction_kind(s: &str) -> Result<RestrictionKind> {
    RESTRICTION_KINDS
        .into_iter()
        .find(|k| k.as_str() == s)
        .ok_or_else(|| StoreError::Corrupt(format!("unknown restriction kind {s:?}")))
}

pub(crate) fn role(s: &str) -> Result<Role> {
    Role::parse(s).ok_or_else(|| StoreError::Corrupt(format!("unknown key role {s:?}")))
}

pub(crate) fn decision_json(d: &Decision) -> Result<String> {
    crate::json_text::decision_json(d)
        .map_err(|e| StoreError::Corrupt(format!("decision {} cannot be serialized: {e}", d.id)))
}

pub(crate) fn decision_from_json(text: &str) -> Result<Decision> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("stored decision is not valid: {e}")))
}

pub(crate) fn u64_from_db(v: i64, what: &str) -> Result<u64> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("negative {what}: {v}")))
}

pub(crate) fn u32_from_db(v: i64, what: &str) -> Result<u32> {
    u32::try_from(v).map_err(|_| StoreError::Corrupt(format!("{what} out of range: {v}")))
}

/// The entity rows to write: the last row for each (kind, id), in the order of those rows.
pub(crate) fn last_entities(rows: &[EntityRow]) -> Vec<&EntityRow> {
    let mut last: HashMap<(&str, &str), usize> = HashMap::with_capacity(rows.len());
    for (i, r) in rows.iter().enumerate() {
        last.insert((r.kind, r.id.as_str()), i);
    }
    rows.iter().enumerate().filter(|(i, r)| last[&(r.kind, r.id.as_str())] == *i).map(|(_, r)| r).collect()
}

/// Every decision id the batch mentions (its decisions, restrictions and credits).
pub(crate) fn referenced_decisions(batch: &Batch) -> Vec<&str> {
    let mut seen = HashSet::new();
    batch
        .decisions
        .iter()
        .map(|d| d.id.as_str())
        .chain(batch.restrictions.iter().map(|r| r.decision_id.as_str()))
        .chain(batch.credits.iter().map(|c| c.decision_id.as_str()))
        .filter(|id| seen.insert(*id))
        .collect()
}

/// What to insert given the decision ids already stored before the batch: new decisions
/// (the first of any repeated id), and the restrictions and credits whose decision is not
/// already stored, so committing a batch again never duplicates them. Each with its audit
/// chain.
pub(crate) struct NewRows<'a> {
    pub decisions: Vec<(&'a Chain, &'a Decision)>,
    pub restrictions: Vec<(&'a Chain, &'a steward_model::Restriction)>,
    pub credits: Vec<(&'a Chain, &'a steward_model::CreditEntry)>,
}

pub(crate) fn new_rows<'a>(batch: &'a Batch, existing: &HashSet<String>) -> NewRows<'a> {
    let mut seen = HashSet::new();
    NewRows {
        decisions: item_chains(batch, |o| o.decisions, batch.decisions.len())
            .zip(&batch.decisions)
            .filter(|(_, d)| !existing.contains(&d.id) && seen.insert(d.id.as_str()))
            .collect(),
        restrictions: item_chains(batch, |o| o.restrictions, batch.restrictions.len())
            .zip(&batch.restrictions)
            .filter(|(_, r)| !existing.contains(&r.decision_id))
            .collect(),
        credits: item_chains(batch, |o| o.credits, batch.credits.len())
            .zip(&batch.credits)
            .filter(|(_, c)| !existing.contains(&c.decision_id))
            .collect(),
    }
}

/// The batch's audit records by chain, in the order the chains are appended to (each chain
/// of the batch, records or not: its rows' covering entry follows them).
pub(crate) fn audit_by_chain(batch: &Batch) -> BTreeMap<Chain, Vec<&AuditRecord>> {
    let mut by_chain: BTreeMap<Chain, Vec<&AuditRecord>> =
        crate::chains::batch_chains(batch).into_iter().map(|c| (c, Vec::new())).collect();
    for (chain, record) in item_chains(batch, |o| o.audit, batch.audit.len()).zip(&batch.audit) {
        if let Some(records) = by_chain.get_mut(chain) {
            records.push(record);
        }
    }
    by_chain
}

/// The audit record of what last happened to a key: its revocation once revoked, else its
/// creation.
pub(crate) fn key_audit(key: &ApiKey) -> AuditRecord {
    let (action, at) = match key.revoked_at {
        Some(at) => ("key.revoked", at),
        None => ("key.created", key.created_at),
    };
    AuditRecord {
        at,
        action: action.to_string(),
        subject: key.id.clone(),
        body: json!({ "role": key.role.as_str() }).into(),
    }
}

/// A group's summary as the entity row it is stored as.
pub(crate) fn group_summary(g: &steward_model::GroupChange) -> EntityRow {
    EntityRow {
        kind: g.kind,
        id: g.id.clone(),
        account_id: None,
        body: g.summary.to_string(),
        deleted: false,
        updated_at: g.at,
    }
}

/// What a group merged into another keeps as its body: where its members went.
pub(crate) fn merged_body(id: &str, into: &str) -> String {
    json!({ "id": id, "merged_into": into }).to_string()
}
