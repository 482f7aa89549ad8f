//! Audit chains: the root chain, and one per partition in distributed mode.
//!
//! Every audit entry, and every row of the covered tables, belongs to one chain (column
//! `chain`). The root chain (`''`) holds everything single-box mode writes and every entry
//! stored before chains existed. A worker's batch appends each partition's entries to that
//! partition's chain (`p17`), and the rows they cover are marked with it, so a commit locks
//! only the heads of its own chains: workers owning different partitions do not wait for one
//! another on the audit log.
//!
//! A partition chain alone could be cut short, or recomputed after a change, without a trace.
//! So a `chains.checkpoint` entry on the root chain records every partition chain's head
//! (chain, seq, hash); the signed checkpoints of the root ([`crate::checkpoint`]) then anchor
//! the partition heads too, and [`crate::audit::verify`] checks each chain against the last
//! head recorded for it.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::audit::{AuditRecord, CanonicalObject};
use crate::{Batch, StoreError};

/// The action of the root entry recording the partition chains' heads.
pub const CHECKPOINT: &str = "chains.checkpoint";

/// An audit chain, by name: `''` for the root, `p<partition>` for a partition's.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Chain(String);

impl Chain {
    pub fn root() -> Chain {
        Chain(String::new())
    }

    /// The chain of a stream partition.
    pub fn partition(p: u32) -> Chain {
        Chain(format!("p{p}"))
    }

    /// A chain as stored.
    pub fn named(name: impl Into<String>) -> Chain {
        Chain(name.into())
    }

    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// The name as stored (`''` for the root).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.is_root() { "root" } else { &self.0 })
    }
}

/// How long each list of a [`Batch`] that goes to an audit chain was when a span began.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Offsets {
    pub events: usize,
    pub decisions: usize,
    pub restrictions: usize,
    pub credits: usize,
    pub audit: usize,
}

impl Offsets {
    pub(crate) fn of(batch: &Batch) -> Offsets {
        Offsets {
            events: batch.events.len(),
            decisions: batch.decisions.len(),
            restrictions: batch.restrictions.len(),
            credits: batch.credits.len(),
            audit: batch.audit.len(),
        }
    }
}

/// From `from` on (until the next span), what a batch adds goes to `chain`. Before its first
/// span, a batch's items go to the root chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainSpan {
    pub chain: Chain,
    pub from: Offsets,
}

/// The chain of each item of one of a batch's lists (`at` picks the list's offset).
pub(crate) fn item_chains(batch: &Batch, at: fn(&Offsets) -> usize, len: usize) -> impl Iterator<Item = &Chain> {
    static ROOT: Chain = Chain(String::new());
    let mut current = &ROOT;
    let mut spans = batch.chains.iter().peekable();
    (0..len).map(move |i| {
        while let Some(span) = spans.next_if(|s| at(&s.from) <= i) {
            current = &span.chain;
        }
        current
    })
}

/// The chains a batch appends to, in the order their heads are locked and appended to.
pub(crate) fn batch_chains(batch: &Batch) -> BTreeSet<Chain> {
    let mut chains: BTreeSet<Chain> = batch.chains.iter().map(|s| s.chain.clone()).collect();
    if batch.chains.first().is_none_or(|s| s.from != Offsets::default()) {
        chains.insert(Chain::root());
    }
    chains
}

/// A chain's last entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainHead {
    pub chain: Chain,
    pub seq: u64,
    pub hash: String,
}

/// The body of a [`CHECKPOINT`] entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CheckpointBody {
    pub heads: Vec<ChainHead>,
}

/// The root entry recording `heads`; `None` without partition chains.
pub(crate) fn checkpoint_record(heads: &[ChainHead], at: DateTime<Utc>) -> Option<AuditRecord> {
    if heads.is_empty() {
        return None;
    }
    let mut out = Vec::with_capacity(96 * heads.len());
    let mut body = CanonicalObject::start(&mut out);
    let list = body.key("heads");
    list.push(b'[');
    for (i, h) in heads.iter().enumerate() {
        if i > 0 {
            list.push(b',');
        }
        let mut o = CanonicalObject::start(list);
        o.str_field("chain", h.chain.as_str());
        o.str_field("hash", &h.hash);
        // A number always serializes.
        let _ = o.field("seq", &h.seq);
        o.end();
    }
    list.push(b']');
    body.end();
    Some(AuditRecord {
        at,
        action: CHECKPOINT.to_string(),
        subject: format!("{} chains", heads.len()),
        // Written canonically above, in UTF-8.
        body: crate::audit::AuditBody::from_canonical(String::from_utf8(out).unwrap_or_default()),
    })
}

/// The condition on the `chain` column of a query of one chain's covered rows, whose third
/// parameter (`third`: `$3` or `?3`) is then the chain's name, and that name; the root's
/// takes no parameter. The partial `(chain, seq)` indexes serve partition chains only: their
/// queries spell out the index's condition for the planner to use it.
pub(crate) fn row_condition<'c>(chain: &'c Chain, third: &str) -> (String, Option<&'c str>) {
    if chain.is_root() {
        ("chain = ''".to_string(), None)
    } else {
        (format!("chain = {third} AND chain <> ''"), Some(chain.as_str()))
    }
}

/// The heads of every partition chain, by a skip scan of `audit (chain, seq)`: one index
/// probe per chain, not a read of the log (`chain > ''` starts the scan past the root's
/// entries, where `<>` would walk them). Same text for both backends.
pub(crate) const HEADS_SQL: &str = "
WITH RECURSIVE c(chain) AS (
    SELECT min(chain) FROM audit WHERE chain > ''
    UNION ALL
    SELECT (SELECT min(a.chain) FROM audit a WHERE a.chain > c.chain) FROM c WHERE c.chain IS NOT NULL
)
SELECT chain,
       (SELECT a.seq FROM audit a WHERE a.chain = c.chain ORDER BY a.seq DESC LIMIT 1),
       (SELECT a.hash FROM audit a WHERE a.chain = c.chain ORDER BY a.seq DESC LIMIT 1)
FROM c WHERE chain IS NOT NULL ORDER BY chain";

/// The partition chains that have rows in `table` (a covered table, or `audit`), by a skip
/// scan of its `(chain, seq)` index (`<> ''` names the partial indexes' condition, `> ''`
/// bounds the scan).
pub(crate) fn distinct_chains_sql(table: &str) -> String {
    format!(
        "WITH RECURSIVE c(chain) AS (
            SELECT min(chain) FROM {table} WHERE chain > '' AND chain <> ''
            UNION ALL
            SELECT (SELECT min(t.chain) FROM {table} t WHERE t.chain > c.chain AND t.chain <> '')
            FROM c WHERE c.chain IS NOT NULL
        )
        SELECT chain FROM c WHERE chain IS NOT NULL"
    )
}

/// The tables whose rows carry a chain, for [`distinct_chains_sql`].
pub(crate) const CHAINED_TABLES: [&str; 5] = ["audit", "events", "decisions", "restrictions", "credits"];

pub(crate) fn head_from_db(chain: String, seq: i64, hash: String) -> Result<ChainHead, StoreError> {
    Ok(ChainHead { chain: Chain(chain), seq: crate::rows::u64_from_db(seq, "audit seq")?, hash })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StoredEvent;

    fn event(id: &str) -> StoredEvent {
        StoredEvent { id: id.into(), event_type: "post.created".into(), at: Utc::now(), body: "{}".into() }
    }

    #[test]
    fn items_before_the_first_span_are_the_roots_and_each_span_takes_what_follows() {
        let mut batch = Batch::default();
        batch.events.push(event("e0"));
        batch.audit_on(&Chain::partition(3));
        batch.events.push(event("e1"));
        batch.events.push(event("e2"));
        batch.audit_on(&Chain::partition(3));
        batch.audit_on(&Chain::partition(1));
        batch.events.push(event("e3"));
        let names: Vec<&str> = item_chains(&batch, |o| o.events, batch.events.len()).map(|c| c.as_str()).collect();
        assert_eq!(names, ["", "p3", "p3", "p1"]);
        let all: Vec<Chain> = batch_chains(&batch).into_iter().collect();
        assert_eq!(all, [Chain::root(), Chain::partition(1), Chain::partition(3)]);
    }

    #[test]
    fn a_batch_on_partitions_from_its_start_appends_to_no_root() {
        let mut batch = Batch::default();
        batch.audit_on(&Chain::partition(0));
        batch.events.push(event("e0"));
        assert_eq!(batch_chains(&batch).into_iter().collect::<Vec<_>>(), [Chain::partition(0)]);
        assert_eq!(batch_chains(&Batch::default()).into_iter().collect::<Vec<_>>(), [Chain::root()]);
    }

    #[test]
    fn a_checkpoint_body_is_canonical_and_reads_back() {
        let heads = vec![
            ChainHead { chain: Chain::partition(0), seq: 4, hash: "a".repeat(64) },
            ChainHead { chain: Chain::partition(17), seq: 9, hash: "b".repeat(64) },
        ];
        let r = checkpoint_record(&heads, Utc::now()).unwrap();
        let value: serde_json::Value = serde_json::from_str(r.body.as_str()).unwrap();
        assert_eq!(r.body.as_str(), crate::audit::canonical_json(&value));
        let back: CheckpointBody = serde_json::from_str(r.body.as_str()).unwrap();
        assert_eq!(back.heads, heads);
        assert!(checkpoint_record(&[], Utc::now()).is_none());
    }
}
