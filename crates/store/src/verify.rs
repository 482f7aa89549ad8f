//! Verifying the audit log ([`crate::audit`]): every chain, a page at a time, against its
//! checkpoints, with the rows its entries cover ([`crate::coverage`]).

use std::collections::{BTreeMap, BTreeSet};

use crate::Store;
use crate::audit::{AuditEntry, ChainBreak, GENESIS_HASH, VERIFY_PAGE, entry_hash};
use crate::chains::{self, Chain, ChainHead};
use crate::checkpoint::Checkpoint;
use crate::coverage::{Checker, RowCounts};

/// What [`verify`] checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    /// Entries in the root chain, all chained.
    pub entries: u64,
    /// Partition chains, each chained and matching the last head the root recorded of it.
    pub chains: usize,
    /// Entries in the partition chains.
    pub chain_entries: u64,
    /// Rows of the covered tables, each matching the entry that covers it.
    pub rows: RowCounts,
    /// Signed checkpoints checked against the root chain.
    pub checkpoints: usize,
    /// The checkpoint with the highest `seq`: root entries up to it are anchored.
    pub anchored: Option<Checkpoint>,
}

impl Verified {
    /// Root entries after the last checkpoint, not anchored yet (all of them without
    /// checkpoints).
    pub fn unanchored(&self) -> u64 {
        self.entries - self.anchored.as_ref().map_or(0, |c| c.seq.min(self.entries))
    }
}

/// Checks the whole audit log, every chain [`VERIFY_PAGE`] entries at a time, and every row
/// it covers: returns what was checked, or the first problem, named (see [`ChainBreak`]).
/// Without signed checkpoints, a root chain computed again after a change, and entries cut
/// off its end that covered no rows, are not seen: see [`verify_with`].
pub fn verify(store: &dyn Store) -> Result<Verified, ChainBreak> {
    verify_with(store, &[], VERIFY_PAGE)
}

/// A partition chain's head as a `chains.checkpoint` entry of the root recorded it.
struct Recorded {
    head: ChainHead,
    /// The root entry that recorded it.
    by: u64,
}

/// [`verify`], also checking the root chain against signed `checkpoints` (their signatures
/// already checked, see [`crate::checkpoint::read`]): the entry at each one's `seq` must be
/// there with the hash it signed. Reads `page` entries and rows at a time.
///
/// The root chain first; in order: the chain (a sequence gap, a `prev_hash` that is not the
/// hash of the entry before, a `hash` that does not match its entry), each checkpoint as its
/// entry is reached, the rows each covering entry covers as it is reached; at its end,
/// checkpoints past the end of the log, then rows no entry covers. Then each partition chain
/// the same way, against the last head the root's `chains.checkpoint` entries recorded of it
/// (which shows a partition chain cut short or recomputed, as the signed checkpoints show the
/// root's).
pub fn verify_with(store: &dyn Store, checkpoints: &[Checkpoint], page: usize) -> Result<Verified, ChainBreak> {
    let page = page.max(1);
    let mut signed: BTreeMap<u64, Vec<&Checkpoint>> = Default::default();
    for c in checkpoints {
        signed.entry(c.seq).or_default().push(c);
    }
    let mut recorded = BTreeMap::new();
    let root = Walk { store, chain: Chain::root(), page, signed: &signed, recorded: None }.run(&mut recorded)?;
    let mut names: BTreeSet<Chain> = store.chains()?.into_iter().collect();
    names.extend(recorded.keys().cloned());
    let mut rows = root.rows;
    let mut chain_entries = 0;
    let none = Default::default();
    for chain in &names {
        let walk = Walk { store, chain: chain.clone(), page, signed: &none, recorded: recorded.get(chain) };
        let checked = walk.run(&mut Default::default())?;
        chain_entries += checked.entries;
        rows += checked.rows;
    }
    let anchored = signed.into_iter().next_back().and_then(|(_, cs)| cs.first().map(|c| (*c).clone()));
    Ok(Verified {
        entries: root.entries,
        chains: names.len(),
        chain_entries,
        rows,
        checkpoints: checkpoints.len(),
        anchored,
    })
}

/// One chain read through, a page at a time.
struct Walk<'a> {
    store: &'a dyn Store,
    chain: Chain,
    page: usize,
    /// Signed checkpoints of the chain, by seq (the root's only).
    signed: &'a BTreeMap<u64, Vec<&'a Checkpoint>>,
    /// The last head of the chain the root recorded (partition chains only).
    recorded: Option<&'a Recorded>,
}

/// What one chain held.
struct Walked {
    entries: u64,
    rows: RowCounts,
}

impl Walk<'_> {
    fn broken(&self, seq: u64, reason: String) -> ChainBreak {
        ChainBreak::Broken { chain: self.chain.clone(), seq, reason }
    }

    fn checkpoint(&self, seq: u64, reason: String) -> ChainBreak {
        ChainBreak::Checkpoint { chain: self.chain.clone(), seq, reason }
    }

    /// Checks the chain, collecting the partition heads its `chains.checkpoint` entries record
    /// into `heads` (the highest recorded of each chain).
    fn run(&self, heads: &mut BTreeMap<Chain, Recorded>) -> Result<Walked, ChainBreak> {
        let (store, page) = (self.store, self.page);
        let mut rows = Checker::new(store, &self.chain, page);
        let mut last_seq = 0u64;
        let mut prev_hash = GENESIS_HASH.to_string();
        let mut read_ahead = None;
        loop {
            let entries = match read_ahead.take() {
                Some(entries) => entries,
                None => store.chain_entries(&self.chain, last_seq, page)?,
            };
            let n = entries.len();
            for e in entries {
                self.link(&e, last_seq, &prev_hash)?;
                self.against_checkpoints(&e)?;
                if e.action == chains::CHECKPOINT && self.chain.is_root() {
                    self.record_heads(&e, heads)?;
                }
                rows.entry(&e)?;
                last_seq = e.seq;
                prev_hash = e.hash;
            }
            if n == page {
                continue;
            }
            // The end of the chain as read. On a live store, rows read after it may have
            // been committed since, with the entries covering them: read on when rows are left.
            if !rows.rows_left()? {
                break;
            }
            let more = store.chain_entries(&self.chain, last_seq, page)?;
            if more.is_empty() {
                break;
            }
            read_ahead = Some(more);
        }
        self.past_the_end(last_seq)?;
        Ok(Walked { entries: last_seq, rows: rows.finish()? })
    }

    /// The entry must follow the one before: `seq` next, `prev_hash` its hash, and its own
    /// hash its contents'.
    fn link(&self, e: &AuditEntry, last_seq: u64, prev_hash: &str) -> Result<(), ChainBreak> {
        let expected = last_seq + 1;
        if e.seq != expected {
            let reason = if e.seq > expected {
                format!("entry {expected} is missing (next stored entry is {})", e.seq)
            } else {
                format!("out of order after entry {last_seq}")
            };
            return Err(self.broken(expected.min(e.seq), reason));
        }
        if e.prev_hash != prev_hash {
            let reason = format!("prev_hash {} is not the hash of the entry before ({prev_hash})", e.prev_hash);
            return Err(self.broken(e.seq, reason));
        }
        let computed = entry_hash(&e.prev_hash, e.seq, e.at, &e.action, &e.subject, &e.body);
        if e.hash != computed {
            let reason = format!("stored hash {} does not match its contents (hash {computed})", e.hash);
            return Err(self.broken(e.seq, reason));
        }
        Ok(())
    }

    /// The entry against the signed checkpoints at its seq, and the head recorded at it.
    fn against_checkpoints(&self, e: &AuditEntry) -> Result<(), ChainBreak> {
        for c in self.signed.get(&e.seq).into_iter().flatten() {
            if c.hash != e.hash {
                return Err(self.checkpoint(
                    e.seq,
                    format!(
                        "entry {} hash differs from the signed checkpoint of {}: the log was rewritten at or before \
                         entry {} (signed {}, stored {})",
                        e.seq,
                        c.at.to_rfc3339(),
                        e.seq,
                        c.hash,
                        e.hash
                    ),
                ));
            }
        }
        if let Some(r) = self.recorded.filter(|r| r.head.seq == e.seq && r.head.hash != e.hash) {
            return Err(self.checkpoint(
                e.seq,
                format!(
                    "entry {} hash differs from the head root checkpoint {} recorded: chain {} was rewritten at or \
                     before entry {} (recorded {}, stored {})",
                    e.seq, r.by, self.chain, e.seq, r.head.hash, e.hash
                ),
            ));
        }
        Ok(())
    }

    /// After the last entry: no checkpoint may be past it.
    fn past_the_end(&self, last_seq: u64) -> Result<(), ChainBreak> {
        if let Some((&seq, cs)) = self.signed.range(last_seq + 1..).next() {
            return Err(self.checkpoint(
                last_seq + 1,
                format!(
                    "entry {} missing: checkpoint of {} signed head seq {seq}, and the log ends at entry {last_seq}",
                    last_seq + 1,
                    cs[0].at.to_rfc3339()
                ),
            ));
        }
        if let Some(r) = self.recorded.filter(|r| r.head.seq > last_seq) {
            return Err(self.checkpoint(
                last_seq + 1,
                format!(
                    "chain {} ends at seq {last_seq} but checkpoint {} recorded seq {}: entries were cut off its end",
                    self.chain, r.by, r.head.seq
                ),
            ));
        }
        Ok(())
    }

    /// Keeps, of each chain a `chains.checkpoint` entry records, the highest head: whatever
    /// was cut off or rewritten at or below an earlier head shows at the highest, as every
    /// entry's hash takes in those before it.
    fn record_heads(&self, e: &AuditEntry, heads: &mut BTreeMap<Chain, Recorded>) -> Result<(), ChainBreak> {
        let body: chains::CheckpointBody = serde_json::from_str(&e.body)
            .map_err(|err| self.broken(e.seq, format!("its body does not list chain heads: {err}")))?;
        for head in body.heads {
            if heads.get(&head.chain).is_none_or(|r| r.head.seq <= head.seq) {
                heads.insert(head.chain.clone(), Recorded { head, by: e.seq });
            }
        }
        Ok(())
    }
}
