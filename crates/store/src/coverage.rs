//! The rows the audit log covers.
//!
//! The hash chain protects the log's own entries; events, decisions, restrictions and
//! credits live in tables of their own. So every commit that adds rows to those append-only
//! tables also appends one entry, made by the store, covering them: `rows.committed`, whose
//! body holds, per table, how many rows, the first and last by name, the first 8 bytes of
//! each row's SHA-256 in order (`rows`, hex) and the SHA-256 over the full row hashes
//! (`digest`). A row's hash takes every column as stored. [`crate::audit::verify`] reads
//! each table in order beside the log and names the first row that is missing, added or
//! changed, and any row that no entry covers.
//!
//! The store writes these entries itself, so whatever commits (HTTP, the CLI, a worker, a
//! bot) is covered the same way, and a shadow decision as much as a live one. Rows stored
//! before stores covered rows are adopted by one `rows.adopted` entry when the store is
//! upgraded (migration 6).
//!
//! Cost: one SHA-256 pass over the rows a commit writes and 16 hex characters of log per
//! row.

use std::collections::{HashMap, VecDeque};

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use steward_model::{CreditEntry, Decision, Restriction};

use crate::audit::{AuditBody, AuditEntry, AuditRecord, CanonicalObject, ChainBreak};
use crate::chains::Chain;
use crate::{Store, StoredEvent};

/// The action of the entry covering the rows of one commit.
pub const COMMITTED: &str = "rows.committed";
/// The action of the entry covering the rows stored before rows were covered.
pub const ADOPTED: &str = "rows.adopted";

/// Bytes of each row's hash listed in a covering entry, to name the row that differs.
const TAG_BYTES: usize = 8;
const TAG_HEX: usize = 2 * TAG_BYTES;

/// An append-only table whose rows the audit log covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Events,
    Decisions,
    Restrictions,
    Credits,
}

impl Table {
    /// In the order a covering entry lists them (its keys, sorted).
    pub const ALL: [Table; 4] = [Table::Credits, Table::Decisions, Table::Events, Table::Restrictions];

    /// The table's name, also its key in a covering entry.
    pub fn name(self) -> &'static str {
        match self {
            Table::Events => "events",
            Table::Decisions => "decisions",
            Table::Restrictions => "restrictions",
            Table::Credits => "credits",
        }
    }

    /// What one row is called in messages.
    pub fn noun(self) -> &'static str {
        match self {
            Table::Events => "event",
            Table::Decisions => "decision",
            Table::Restrictions => "restriction of decision",
            Table::Credits => "credit of decision",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// A decision row, every column as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct DecisionRow {
    pub seq: i64,
    pub id: String,
    pub event_id: String,
    pub account_id: Option<String>,
    pub post_id: Option<String>,
    pub rule_id: String,
    pub decided_at: DateTime<Utc>,
    /// The decision as JSON, as stored.
    pub body: String,
    pub shadow: bool,
}

/// A row of one of the covered tables, with its `seq`.
#[derive(Debug, Clone, PartialEq)]
pub enum TableRow {
    Event { seq: i64, event: StoredEvent },
    Decision(DecisionRow),
    Restriction { seq: i64, restriction: Restriction },
    Credit { seq: i64, credit: CreditEntry },
}

impl TableRow {
    pub fn seq(&self) -> i64 {
        match self {
            TableRow::Event { seq, .. } | TableRow::Restriction { seq, .. } | TableRow::Credit { seq, .. } => *seq,
            TableRow::Decision(d) => d.seq,
        }
    }

    /// The row's id; for restrictions and credits, their decision's.
    pub fn name(&self) -> &str {
        match self {
            TableRow::Event { event, .. } => &event.id,
            TableRow::Decision(d) => &d.id,
            TableRow::Restriction { restriction, .. } => &restriction.decision_id,
            TableRow::Credit { credit, .. } => &credit.decision_id,
        }
    }

    pub fn table(&self) -> Table {
        match self {
            TableRow::Event { .. } => Table::Events,
            TableRow::Decision(_) => Table::Decisions,
            TableRow::Restriction { .. } => Table::Restrictions,
            TableRow::Credit { .. } => Table::Credits,
        }
    }

    /// SHA-256 of the row's columns (without `seq`).
    pub fn hash(&self) -> [u8; 32] {
        match self {
            TableRow::Event { event, .. } => event_hash(event),
            TableRow::Decision(d) => DecisionColumns {
                id: &d.id,
                event_id: &d.event_id,
                account_id: d.account_id.as_deref(),
                post_id: d.post_id.as_deref(),
                rule_id: &d.rule_id,
                decided_at: d.decided_at,
                body: &d.body,
                shadow: d.shadow,
            }
            .hash(),
            TableRow::Restriction { restriction, .. } => restriction_hash(restriction),
            TableRow::Credit { credit, .. } => credit_hash(credit),
        }
    }
}

/// SHA-256 of a row: a version tag and the table, then every column, each prefixed with
/// its length (or, if it may be null, a presence byte first); times as microseconds since
/// the epoch, as both backends store them.
struct RowHasher(Sha256);

impl RowHasher {
    fn new(table: Table) -> RowHasher {
        let mut h = Sha256::new();
        h.update(b"steward-row-v1");
        h.update([table as u8]);
        RowHasher(h)
    }

    fn str(&mut self, s: &str) -> &mut Self {
        self.0.update((s.len() as u64).to_be_bytes());
        self.0.update(s.as_bytes());
        self
    }

    fn time(&mut self, t: DateTime<Utc>) -> &mut Self {
        self.0.update(t.timestamp_micros().to_be_bytes());
        self
    }

    /// A column that may be null: a presence byte, then the value if any.
    fn opt<T>(&mut self, v: Option<T>, write: fn(&mut Self, T) -> &mut Self) -> &mut Self {
        self.0.update([u8::from(v.is_some())]);
        match v {
            Some(v) => write(self, v),
            None => self,
        }
    }

    fn u64(&mut self, v: u64) -> &mut Self {
        self.0.update(v.to_be_bytes());
        self
    }

    fn finish(&mut self) -> [u8; 32] {
        std::mem::take(&mut self.0).finalize().into()
    }
}

fn event_hash(e: &StoredEvent) -> [u8; 32] {
    RowHasher::new(Table::Events).str(&e.id).str(&e.event_type).time(e.at).str(&e.body).finish()
}

struct DecisionColumns<'a> {
    id: &'a str,
    event_id: &'a str,
    account_id: Option<&'a str>,
    post_id: Option<&'a str>,
    rule_id: &'a str,
    decided_at: DateTime<Utc>,
    body: &'a str,
    shadow: bool,
}

impl DecisionColumns<'_> {
    fn hash(&self) -> [u8; 32] {
        RowHasher::new(Table::Decisions)
            .str(self.id)
            .str(self.event_id)
            .opt(self.account_id, RowHasher::str)
            .opt(self.post_id, RowHasher::str)
            .str(self.rule_id)
            .time(self.decided_at)
            .str(self.body)
            .u64(u64::from(self.shadow))
            .finish()
    }
}

fn restriction_hash(r: &Restriction) -> [u8; 32] {
    RowHasher::new(Table::Restrictions)
        .str(&r.decision_id)
        .str(&r.account_id)
        .opt(r.post_id.as_deref(), RowHasher::str)
        .str(r.kind.as_str())
        .str(&r.detail)
        .time(r.start)
        .opt(r.end, RowHasher::time)
        .finish()
}

fn credit_hash(c: &CreditEntry) -> [u8; 32] {
    RowHasher::new(Table::Credits)
        .str(&c.decision_id)
        .str(&c.account_id)
        .time(c.at)
        .u64(u64::from(c.points))
        .opt(c.restores_at, RowHasher::time)
        .finish()
}

/// One table's rows in a covering entry, as they are added.
#[derive(Default)]
struct Section {
    count: u64,
    first: String,
    last: String,
    tags: Vec<u8>,
    digest: Sha256,
}

impl Section {
    fn add(&mut self, name: &str, hash: &[u8; 32]) {
        if self.count == 0 {
            self.first = name.to_string();
        }
        self.count += 1;
        self.last.clear();
        self.last.push_str(name);
        push_hex(&mut self.tags, &hash[..TAG_BYTES]);
        self.digest.update(hash);
    }

    fn write(self, out: &mut Vec<u8>) {
        let mut o = CanonicalObject::start(out);
        // Numbers and strings always serialize.
        let _ = o.field("count", &self.count);
        o.str_field("digest", &hex::encode(self.digest.finalize()));
        o.str_field("first", &self.first);
        o.str_field("last", &self.last);
        // Hex digits need no escaping.
        let tags = o.key("rows");
        tags.push(b'"');
        tags.extend_from_slice(&self.tags);
        tags.push(b'"');
        o.end();
    }
}

fn push_hex(out: &mut Vec<u8>, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)]);
        out.push(DIGITS[usize::from(b & 15)]);
    }
}

/// The rows one commit adds, as they are written, for the entry that covers them.
#[derive(Default)]
pub(crate) struct Coverage {
    sections: [Section; 4],
}

impl Coverage {
    pub(crate) fn event(&mut self, e: &StoredEvent) {
        self.sections[Table::Events.index()].add(&e.id, &event_hash(e));
    }

    /// A decision and its body as written.
    pub(crate) fn decision(&mut self, d: &Decision, body: &str) {
        let hash = DecisionColumns {
            id: &d.id,
            event_id: &d.event_id,
            account_id: d.account_id.as_deref(),
            post_id: d.post_id.as_deref(),
            rule_id: &d.rule_id,
            decided_at: d.decided_at,
            body,
            shadow: d.shadow,
        }
        .hash();
        self.sections[Table::Decisions.index()].add(&d.id, &hash);
    }

    pub(crate) fn restriction(&mut self, r: &Restriction) {
        self.sections[Table::Restrictions.index()].add(&r.decision_id, &restriction_hash(r));
    }

    pub(crate) fn credit(&mut self, c: &CreditEntry) {
        self.sections[Table::Credits.index()].add(&c.decision_id, &credit_hash(c));
    }

    /// A row read back from its table.
    pub(crate) fn row(&mut self, row: &TableRow) {
        self.sections[row.table().index()].add(row.name(), &row.hash());
    }

    /// The entry covering the rows added, under `action`; `None` when there are none.
    pub(crate) fn record(self, action: &str) -> Option<AuditRecord> {
        if self.sections.iter().all(|s| s.count == 0) {
            return None;
        }
        let mut sections = self.sections.map(Some);
        let mut subject = Vec::new();
        let mut out = Vec::with_capacity(256);
        let mut body = CanonicalObject::start(&mut out);
        for table in Table::ALL {
            let Some(section) = sections[table.index()].take().filter(|s| s.count > 0) else { continue };
            subject.push(format!("{} {}", section.count, table.name()));
            section.write(body.key(table.name()));
        }
        body.end();
        Some(AuditRecord {
            at: Utc::now(),
            action: action.to_string(),
            subject: subject.join(", "),
            // Written canonically above, in UTF-8.
            body: AuditBody::from_canonical(String::from_utf8(out).unwrap_or_default()),
        })
    }
}

/// The rows one commit adds, by audit chain: each chain's are covered by an entry of its own.
#[derive(Default)]
pub(crate) struct Covered(std::collections::BTreeMap<Chain, Coverage>);

impl Covered {
    pub(crate) fn on(&mut self, chain: &Chain) -> &mut Coverage {
        if !self.0.contains_key(chain) {
            self.0.insert(chain.clone(), Coverage::default());
        }
        self.0.get_mut(chain).unwrap_or_else(|| unreachable!("inserted above"))
    }

    /// The entry covering `chain`'s rows, if it has any.
    pub(crate) fn record(&mut self, chain: &Chain) -> Option<AuditRecord> {
        self.0.remove(chain).and_then(|c| c.record(COMMITTED))
    }

    /// Covers the batch's events that were stored: all of them, or those whose ids are in
    /// `stored` (the others were stored before), each once.
    pub(crate) fn events(&mut self, batch: &crate::Batch, stored: Option<&std::collections::HashSet<String>>) {
        let chains = crate::chains::item_chains(batch, |o| o.events, batch.events.len());
        let mut covered = std::collections::HashSet::new();
        for (chain, e) in chains.zip(&batch.events) {
            if stored.is_none_or(|s| s.contains(&e.id) && covered.insert(e.id.as_str())) {
                self.on(chain).event(e);
            }
        }
    }
}

/// Covers every row of the tables (read with `read`, a page at a time) with one entry.
pub(crate) fn adopt(
    mut read: impl FnMut(Table, i64, usize) -> crate::Result<Vec<TableRow>>,
) -> crate::Result<Option<AuditRecord>> {
    const PAGE: usize = 5000;
    let mut coverage = Coverage::default();
    for table in Table::ALL {
        let mut after = 0;
        loop {
            let rows = read(table, after, PAGE)?;
            for row in &rows {
                coverage.row(row);
            }
            match rows.last() {
                Some(last) if rows.len() == PAGE => after = last.seq(),
                _ => break,
            }
        }
    }
    Ok(coverage.record(ADOPTED))
}

/// One table's part of a covering entry, as read back.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SectionBody {
    count: u64,
    digest: String,
    first: String,
    last: String,
    rows: String,
}

/// Rows of the covered tables checked so far, by table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RowCounts {
    pub events: u64,
    pub decisions: u64,
    pub restrictions: u64,
    pub credits: u64,
}

impl RowCounts {
    fn add(&mut self, table: Table, n: u64) {
        let slot = match table {
            Table::Events => &mut self.events,
            Table::Decisions => &mut self.decisions,
            Table::Restrictions => &mut self.restrictions,
            Table::Credits => &mut self.credits,
        };
        *slot += n;
    }
}

impl std::ops::AddAssign for RowCounts {
    fn add_assign(&mut self, other: RowCounts) {
        self.events += other.events;
        self.decisions += other.decisions;
        self.restrictions += other.restrictions;
        self.credits += other.credits;
    }
}

impl std::fmt::Display for RowCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} events, {} decisions, {} restrictions, {} credits",
            self.events, self.decisions, self.restrictions, self.credits
        )
    }
}

/// One table read in order, a page at a time. The end of the table is read again each time
/// it is reached: on a live store, rows come with the entries that cover them.
struct Cursor {
    table: Table,
    chain: Chain,
    after: i64,
    rows: VecDeque<TableRow>,
    /// The name of the last row taken.
    previous: String,
}

impl Cursor {
    fn new(table: Table, chain: &Chain) -> Cursor {
        Cursor { table, chain: chain.clone(), after: 0, rows: VecDeque::new(), previous: String::new() }
    }

    fn fill(&mut self, store: &dyn Store, page: usize) -> crate::Result<()> {
        if self.rows.is_empty() {
            let rows = store.table_rows(self.table, &self.chain, self.after, page)?;
            if let Some(last) = rows.last() {
                self.after = last.seq();
            }
            self.rows.extend(rows);
        }
        Ok(())
    }

    fn next(&mut self, store: &dyn Store, page: usize) -> crate::Result<Option<TableRow>> {
        self.fill(store, page)?;
        Ok(self.rows.pop_front())
    }

    fn peek(&mut self, store: &dyn Store, page: usize) -> crate::Result<Option<&TableRow>> {
        self.fill(store, page)?;
        Ok(self.rows.front())
    }
}

/// Checks the rows of one audit chain against its covering entries, entry by entry, in order.
pub(crate) struct Checker<'s> {
    store: &'s dyn Store,
    chain: Chain,
    page: usize,
    cursors: [Cursor; 4],
    /// `decision.created` entries since the last covering entry, by decision id: what a
    /// changed decision is compared with, to say what differs.
    created: HashMap<String, (u64, String)>,
    pub(crate) counts: RowCounts,
}

impl<'s> Checker<'s> {
    pub(crate) fn new(store: &'s dyn Store, chain: &Chain, page: usize) -> Checker<'s> {
        Checker {
            store,
            chain: chain.clone(),
            page: page.max(1),
            cursors: [Table::Events, Table::Decisions, Table::Restrictions, Table::Credits]
                .map(|t| Cursor::new(t, chain)),
            created: HashMap::new(),
            counts: RowCounts::default(),
        }
    }

    /// Takes one entry of the log (whose hash checked).
    pub(crate) fn entry(&mut self, e: &AuditEntry) -> Result<(), ChainBreak> {
        if e.action == "decision.created" {
            self.created.insert(e.subject.clone(), (e.seq, e.body.clone()));
            return Ok(());
        }
        if e.action != COMMITTED && e.action != ADOPTED {
            return Ok(());
        }
        let mut sections: HashMap<String, SectionBody> =
            serde_json::from_str(&e.body).map_err(|err| ChainBreak::Broken {
                chain: self.chain.clone(),
                seq: e.seq,
                reason: format!("its body does not say which rows it covers: {err}"),
            })?;
        for table in Table::ALL {
            if let Some(section) = sections.remove(table.name()) {
                self.section(table, &section, e.seq)?;
            }
        }
        if let Some(other) = sections.keys().next() {
            return Err(ChainBreak::Broken {
                chain: self.chain.clone(),
                seq: e.seq,
                reason: format!("it covers an unknown table {other:?}"),
            });
        }
        self.created.clear();
        Ok(())
    }

    /// Whether any table holds rows past those covered so far.
    pub(crate) fn rows_left(&mut self) -> Result<bool, ChainBreak> {
        for cursor in &mut self.cursors {
            if cursor.peek(self.store, self.page)?.is_some() {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// After the last entry, and [`Checker::rows_left`] (whose reading is not repeated: rows
    /// stored since then come with entries read no more): every row must have been covered.
    pub(crate) fn finish(&mut self) -> Result<RowCounts, ChainBreak> {
        for cursor in &self.cursors {
            if let Some(row) = cursor.rows.front() {
                return Err(ChainBreak::Rows {
                    chain: self.chain.clone(),
                    table: cursor.table.name(),
                    id: row.name().to_string(),
                    entry: None,
                    reason: format!(
                        "(seq {}) is not covered by any audit entry: stored after the last entry that covers rows \
                         (were entries cut off the end of the log?)",
                        row.seq()
                    ),
                });
            }
        }
        Ok(self.counts)
    }

    fn section(&mut self, table: Table, section: &SectionBody, entry: u64) -> Result<(), ChainBreak> {
        let n = usize::try_from(section.count).unwrap_or(usize::MAX);
        let tags = section.rows.as_bytes();
        if tags.len() != n.saturating_mul(TAG_HEX) {
            return Err(ChainBreak::Broken {
                chain: self.chain.clone(),
                seq: entry,
                reason: format!("it lists {} row hashes for {} {}", tags.len() / TAG_HEX, n, table.name()),
            });
        }
        let mut digest = Sha256::new();
        let mut tag = Vec::with_capacity(TAG_HEX);
        for i in 0..n {
            let expected = &tags[i * TAG_HEX..(i + 1) * TAG_HEX];
            let cursor = &mut self.cursors[table.index()];
            let Some(row) = cursor.next(self.store, self.page)? else {
                let missing = if i + 1 == n { section.last.clone() } else { nth(section, i, &cursor.previous) };
                return Err(ChainBreak::Rows {
                    chain: self.chain.clone(),
                    table: table.name(),
                    id: missing,
                    entry: Some(entry),
                    reason: format!(
                        "is missing: audited by entry {entry} (row {} of {n}), and the table ends before it",
                        i + 1
                    ),
                });
            };
            let hash = row.hash();
            tag.clear();
            push_hex(&mut tag, &hash[..TAG_BYTES]);
            if tag != expected {
                return Err(self.mismatch(table, section, entry, i, &row, &tag));
            }
            digest.update(hash);
            let cursor = &mut self.cursors[table.index()];
            cursor.previous.clear();
            cursor.previous.push_str(row.name());
        }
        if hex::encode(digest.finalize()) != section.digest {
            return Err(ChainBreak::Rows {
                chain: self.chain.clone(),
                table: table.name(),
                id: format!("{} … {}", section.first, section.last),
                entry: Some(entry),
                reason: format!("differ from what entry {entry} recorded (their digest does not match)"),
            });
        }
        self.counts.add(table, section.count);
        Ok(())
    }

    /// Names what is wrong at row `i` of a section, whose hash starts `tag` instead.
    fn mismatch(
        &mut self,
        table: Table,
        section: &SectionBody,
        entry: u64,
        i: usize,
        row: &TableRow,
        tag: &[u8],
    ) -> ChainBreak {
        let n = usize::try_from(section.count).unwrap_or(usize::MAX);
        let tags = section.rows.as_bytes();
        let previous = self.cursors[table.index()].previous.clone();
        let next_expected = tags.get((i + 1) * TAG_HEX..(i + 2) * TAG_HEX);
        // The row is the next one audited: the one audited before it is gone.
        if next_expected == Some(tag) || (i + 1 == n && row.name() != section.last) {
            let missing = if i + 1 == n { section.last.clone() } else { nth(section, i, &previous) };
            return ChainBreak::Rows {
                chain: self.chain.clone(),
                table: table.name(),
                id: missing,
                entry: Some(entry),
                reason: format!("is missing: audited by entry {entry} (row {} of {n}), not in the table", i + 1),
            };
        }
        let expected = &tags[i * TAG_HEX..(i + 1) * TAG_HEX];
        let cursor = &mut self.cursors[table.index()];
        let follows = cursor.peek(self.store, self.page).ok().flatten().map(|next| {
            let mut t = Vec::with_capacity(TAG_HEX);
            push_hex(&mut t, &next.hash()[..TAG_BYTES]);
            t
        });
        if follows.as_deref() == Some(expected) {
            return ChainBreak::Rows {
                chain: self.chain.clone(),
                table: table.name(),
                id: row.name().to_string(),
                entry: Some(entry),
                reason: format!(
                    "(seq {}) is not covered by any audit entry: added among the rows of entry {entry}",
                    row.seq()
                ),
            };
        }
        let what = match row {
            TableRow::Decision(d) => self.decision_difference(d),
            TableRow::Restriction { restriction: r, .. } => {
                format!("kind {}, end {}", r.kind.as_str(), r.end.map_or("none".into(), |t| t.to_rfc3339()))
            }
            TableRow::Credit { credit: c, .. } => {
                format!("{} points, restored {}", c.points, c.restores_at.map_or("never".into(), |t| t.to_rfc3339()))
            }
            TableRow::Event { .. } => "its id, type, time or record was changed".to_string(),
        };
        ChainBreak::Rows {
            chain: self.chain.clone(),
            table: table.name(),
            id: row.name().to_string(),
            entry: Some(entry),
            reason: format!("(seq {}) differs from what audit entry {entry} recorded: {what}", row.seq()),
        }
    }

    /// What in a changed decision row differs: a column from its own body, or its body from
    /// its `decision.created` entry.
    fn decision_difference(&self, d: &DecisionRow) -> String {
        let body: Value = match serde_json::from_str(&d.body) {
            Ok(v) => v,
            Err(e) => return format!("its body is not valid JSON ({e})"),
        };
        let field = |k: &str| body.get(k).cloned().unwrap_or(Value::Null);
        let columns = [
            ("id", Value::from(d.id.as_str())),
            ("event_id", Value::from(d.event_id.as_str())),
            ("account_id", d.account_id.as_deref().map_or(Value::Null, Value::from)),
            ("post_id", d.post_id.as_deref().map_or(Value::Null, Value::from)),
            ("rule_id", Value::from(d.rule_id.as_str())),
        ];
        for (column, value) in columns {
            if field(column) != value {
                return format!("column {column} is {} but its body says {}", clip(&value), clip(&field(column)));
            }
        }
        let body_time = field("decided_at").as_str().and_then(|t| DateTime::parse_from_rfc3339(t).ok());
        if body_time.map(|t| t.timestamp_micros()) != Some(d.decided_at.timestamp_micros()) {
            return format!(
                "column decided_at is {} but its body says {}",
                d.decided_at.to_rfc3339(),
                clip(&field("decided_at"))
            );
        }
        if field("shadow").as_bool().unwrap_or(false) != d.shadow {
            return format!("column shadow is {} but its body says {}", d.shadow, clip(&field("shadow")));
        }
        if let Some((seq, audited)) = self.created.get(&d.id)
            && let Ok(Value::Object(audited)) = serde_json::from_str::<Value>(audited)
        {
            for (k, v) in &audited {
                if &field(k) != v {
                    return format!(
                        "{k} is {} in the row but {} in its decision.created entry {seq}",
                        clip(&field(k)),
                        clip(v)
                    );
                }
            }
        }
        "its body (statement of reasons, facts, explanation or appeal) was changed".to_string()
    }
}

/// How to name row `i` of a section when only its neighbours are known.
fn nth(section: &SectionBody, i: usize, previous: &str) -> String {
    if i == 0 { section.first.clone() } else { format!("after {previous}") }
}

/// A JSON value for a message, cut to a readable length.
fn clip(v: &Value) -> String {
    let s = v.to_string();
    match s.char_indices().nth(120) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn event(id: &str, body: &str) -> StoredEvent {
        StoredEvent {
            id: id.into(),
            event_type: "post.created".into(),
            at: Utc.with_ymd_and_hms(2026, 11, 22, 8, 0, 0).unwrap(),
            body: body.into(),
        }
    }

    #[test]
    fn every_column_counts_and_boundaries_are_unambiguous() {
        let base = event_hash(&event("ab", "c"));
        assert_ne!(base, event_hash(&event("a", "bc")));
        assert_ne!(base, event_hash(&event("ab", "c ")));
        let mut later = event("ab", "c");
        later.at += chrono::Duration::microseconds(1);
        assert_ne!(base, event_hash(&later));
        let mut typed = event("ab", "c");
        typed.event_type = "post.deleted".into();
        assert_ne!(base, event_hash(&typed));
    }

    #[test]
    fn a_commit_without_rows_needs_no_entry_and_one_with_rows_lists_each() {
        assert!(Coverage::default().record(COMMITTED).is_none());
        let mut c = Coverage::default();
        c.event(&event("e1", "{}"));
        c.event(&event("e2", "{}"));
        let r = c.record(COMMITTED).unwrap();
        assert_eq!(r.subject, "2 events");
        let body: Value = serde_json::from_str(r.body.as_str()).unwrap();
        let events = &body["events"];
        assert_eq!(events["count"], 2);
        assert_eq!(events["first"], "e1");
        assert_eq!(events["last"], "e2");
        assert_eq!(events["rows"].as_str().unwrap().len(), 2 * TAG_HEX);
        assert_eq!(
            &events["rows"].as_str().unwrap()[..TAG_HEX],
            hex::encode(&event_hash(&event("e1", "{}"))[..TAG_BYTES])
        );
        // Canonical: what is hashed is what a reader would write.
        assert_eq!(r.body.as_str(), crate::audit::canonical_json(&body));
    }
}
