//! The hash-chained audit log.
//!
//! Every entry carries the SHA-256 of its own contents and of the entry before it, so
//! changing, removing or reordering any stored entry breaks the chain at that entry, which
//! [`verify`] names. Both backends append through [`chain`] and hash with [`entry_hash`]:
//! the encoding is the same whatever the database.
//!
//! The chain alone cannot show entries cut off its end, nor a chain recomputed from a
//! changed entry onward: whoever can write the database can do both. Signed checkpoints of
//! the head, kept outside the database ([`crate::checkpoint`]), show both: [`verify_with`]
//! checks the log against them. And the rows of the tables the log speaks for are covered by
//! entries of their own ([`crate::coverage`]), which [`verify`] checks row by row.
//!
//! In distributed mode the log is several chains: the root, and one per partition
//! ([`crate::chains`]). Each is chained and verified on its own; the root records the
//! partition chains' heads, and [`verify`] checks each partition chain against the last head
//! recorded, as the signed checkpoints check the root.
//!
//! Times are kept to the microsecond (what both backends store); [`chain`] truncates `at`
//! before hashing, so a stored entry hashes the same after a round trip.

use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::StoreError;
use crate::chains::Chain;

/// The `prev_hash` of the first entry.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// How many entries (and rows of each covered table) [`verify`] reads at a time.
pub const VERIFY_PAGE: usize = 10_000;

pub use crate::verify::{Verified, verify, verify_with};

/// Something to audit, as callers append it (in a [`crate::Batch`] or by the store itself).
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    pub at: DateTime<Utc>,
    /// What happened, e.g. `key.created`, `decision.made`, `policy.loaded`.
    pub action: String,
    /// What it happened to, e.g. a key, decision or account id.
    pub subject: String,
    pub body: AuditBody,
}

/// The body of an audit record: the canonical JSON text (object keys sorted, no whitespace)
/// that is stored and hashed. Made from a [`Value`] (`json!({..}).into()`), or written
/// canonically by a caller on a hot path ([`AuditBody::from_canonical`]), so that no value
/// tree is built, kept and walked again for each entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditBody(String);

impl AuditBody {
    /// A body from text its writer made canonical, e.g. with [`CanonicalObject`]. It is
    /// stored and hashed as given.
    pub fn from_canonical(text: String) -> AuditBody {
        AuditBody(text)
    }

    /// The canonical JSON text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<Value> for AuditBody {
    fn from(value: Value) -> AuditBody {
        AuditBody(canonical_json(&value))
    }
}

impl From<&Value> for AuditBody {
    fn from(value: &Value) -> AuditBody {
        AuditBody(canonical_json(value))
    }
}

/// Writes one JSON object canonically, field by field: the caller gives the keys in sorted
/// order (checked in debug builds) and values that are canonical themselves (scalars,
/// strings, and structs through [`write_canonical`] or another `CanonicalObject`).
pub struct CanonicalObject<'a> {
    out: &'a mut Vec<u8>,
    last_key: Option<&'static str>,
}

impl<'a> CanonicalObject<'a> {
    pub fn start(out: &'a mut Vec<u8>) -> CanonicalObject<'a> {
        out.push(b'{');
        CanonicalObject { out, last_key: None }
    }

    /// Writes the key and returns the buffer, for the caller to write the value.
    #[inline]
    pub fn key(&mut self, key: &'static str) -> &mut Vec<u8> {
        debug_assert!(self.last_key.is_none_or(|last| last < key), "canonical keys out of order: {key}");
        if self.last_key.is_some() {
            self.out.push(b',');
        }
        self.last_key = Some(key);
        if key.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
            self.out.push(b'"');
            self.out.extend_from_slice(key.as_bytes());
            self.out.extend_from_slice(b"\":");
        } else {
            // A string always serializes.
            let _ = serde_json::to_writer(&mut *self.out, key);
            self.out.push(b':');
        }
        self.out
    }

    /// Writes a key and a value that serializes canonically by itself: a scalar, a string,
    /// an option of one, a time.
    pub fn field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<(), serde_json::Error> {
        serde_json::to_writer(self.key(key), value)
    }

    /// Writes a key and a string.
    pub fn str_field(&mut self, key: &'static str, value: &str) {
        crate::json_text::write_str(self.key(key), value);
    }

    /// Writes a key and a time, as it serializes.
    pub fn time_field(&mut self, key: &'static str, value: DateTime<Utc>) {
        crate::json_text::write_time(self.key(key), value);
    }

    pub fn end(self) {
        self.out.push(b'}');
    }
}

/// A stored audit entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// 1, 2, 3, ... without gaps.
    pub seq: u64,
    pub at: DateTime<Utc>,
    pub action: String,
    pub subject: String,
    /// Canonical JSON text (object keys sorted, no whitespace), exactly as stored and hashed.
    pub body: String,
    /// `hash` of the entry before, [`GENESIS_HASH`] for the first.
    pub prev_hash: String,
    /// [`entry_hash`] of this entry.
    pub hash: String,
}

/// Why the audit log does not verify: the first problem found, named with its chain
/// ([`crate::chains`]; the root chain's are named as before chains existed).
#[derive(Debug, thiserror::Error)]
pub enum ChainBreak {
    /// The first entry that does not fit the chain.
    #[error("the audit chain{} is broken at entry {seq}: {reason}", label(chain))]
    Broken { chain: Chain, seq: u64, reason: String },
    /// The log does not hold what a checkpoint recorded: a signed checkpoint of the root
    /// chain, or a `chains.checkpoint` entry of the root recording a partition chain's head.
    /// Entries were cut off its end, or the chain was rewritten and its hashes computed again.
    #[error("{}: {reason}", checkpoint_noun(chain))]
    Checkpoint { chain: Chain, seq: u64, reason: String },
    /// A row of a covered table is missing, was added or differs from what the entry
    /// covering it recorded.
    #[error("the {table} table does not match the audit log{}: {} {id} {reason}", in_chain(chain), noun(table))]
    Rows {
        chain: Chain,
        table: &'static str,
        /// The row's id (for restrictions and credits, their decision's).
        id: String,
        /// The entry covering the row, if any.
        entry: Option<u64>,
        reason: String,
    },
    /// The log could not be read.
    #[error("cannot read the audit log: {0}")]
    Store(#[from] StoreError),
}

fn noun(table: &str) -> &'static str {
    crate::coverage::Table::ALL.into_iter().find(|t| t.name() == table).map_or("row", |t| t.noun())
}

fn label(chain: &Chain) -> String {
    if chain.is_root() { String::new() } else { format!(" {chain}") }
}

fn in_chain(chain: &Chain) -> String {
    if chain.is_root() { String::new() } else { format!(" (chain {chain})") }
}

fn checkpoint_noun(chain: &Chain) -> String {
    if chain.is_root() {
        "the audit log does not match a signed checkpoint".to_string()
    } else {
        format!("the audit chain {chain} does not match the head a root checkpoint recorded")
    }
}

impl ChainBreak {
    /// The entry at fault, if one is: the broken entry, the entry a checkpoint disagrees
    /// with, or the entry covering a row that differs.
    pub fn seq(&self) -> Option<u64> {
        match self {
            ChainBreak::Broken { seq, .. } | ChainBreak::Checkpoint { seq, .. } => Some(*seq),
            ChainBreak::Rows { entry, .. } => *entry,
            ChainBreak::Store(_) => None,
        }
    }

    /// The chain at fault, if one is.
    pub fn chain(&self) -> Option<&Chain> {
        match self {
            ChainBreak::Broken { chain, .. }
            | ChainBreak::Checkpoint { chain, .. }
            | ChainBreak::Rows { chain, .. } => Some(chain),
            ChainBreak::Store(_) => None,
        }
    }
}

/// Hex SHA-256 of one entry: a version tag, then every field, each prefixed with its length,
/// so no two different entries encode the same way. `at` is encoded as RFC 3339 UTC with
/// exactly six fractional digits.
pub fn entry_hash(prev_hash: &str, seq: u64, at: DateTime<Utc>, action: &str, subject: &str, body: &str) -> String {
    let at = at.to_rfc3339_opts(SecondsFormat::Micros, true);
    let mut h = Sha256::new();
    h.update(b"steward-audit-v1");
    for field in [
        prev_hash.as_bytes(),
        &seq.to_be_bytes(),
        at.as_bytes(),
        action.as_bytes(),
        subject.as_bytes(),
        body.as_bytes(),
    ] {
        h.update((field.len() as u64).to_be_bytes());
        h.update(field);
    }
    hex::encode(h.finalize())
}

/// Canonical JSON text: object keys sorted, no insignificant whitespace. Independent of
/// whether `serde_json` keeps insertion order.
pub fn canonical_json(value: &Value) -> String {
    let mut out = Vec::with_capacity(256);
    write_canonical(value, &mut out);
    // serde_json writes UTF-8 only.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Appends the canonical JSON text of `value` to `out`.
pub fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    // Writing to a Vec cannot fail, and a Value always serializes.
    let _ = serde_json::to_writer(out, &Canonical(value));
}

/// A value that serializes with its object keys in sorted order, by serde_json's compact
/// writer: scalars, strings and keys are written (and escaped) exactly as
/// `Value::to_string` writes them.
struct Canonical<'a>(&'a Value);

impl Serialize for Canonical<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self.0 {
            Value::Object(map) => {
                let mut entries = serializer.serialize_map(Some(map.len()))?;
                // serde_json's map is a BTreeMap (sorted) unless its `preserve_order` feature
                // is on; sort only when it is not sorted already.
                if map.keys().zip(map.keys().skip(1)).all(|(a, b)| a < b) {
                    for (k, v) in map {
                        entries.serialize_entry(k, &Canonical(v))?;
                    }
                } else {
                    let mut sorted: Vec<(&String, &Value)> = map.iter().collect();
                    sorted.sort_by(|a, b| a.0.cmp(b.0));
                    for (k, v) in sorted {
                        entries.serialize_entry(k, &Canonical(v))?;
                    }
                }
                entries.end()
            }
            Value::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(&Canonical(item))?;
                }
                seq.end()
            }
            scalar => scalar.serialize(serializer),
        }
    }
}

/// Chains `records` after the head of the log (`None` when the log is empty): the entries to
/// insert, with their sequence numbers and hashes.
pub(crate) fn chain<'a>(
    head: Option<(u64, String)>,
    records: impl IntoIterator<Item = &'a AuditRecord>,
) -> Vec<AuditEntry> {
    let (mut seq, mut prev) = head.unwrap_or_else(|| (0, GENESIS_HASH.to_string()));
    records
        .into_iter()
        .map(|r| {
            seq += 1;
            let at = r.at.trunc_subsecs(6);
            let body = r.body.as_str().to_string();
            let hash = entry_hash(&prev, seq, at, &r.action, &r.subject, &body);
            AuditEntry {
                seq,
                at,
                action: r.action.clone(),
                subject: r.subject.clone(),
                body,
                prev_hash: std::mem::replace(&mut prev, hash.clone()),
                hash,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 22, 8, 0, 0).unwrap()
    }

    #[test]
    fn hash_is_stable_and_hex() {
        let h = entry_hash(GENESIS_HASH, 1, at(), "key.created", "k1", r#"{"role":"admin"}"#);
        assert_eq!(h.len(), 64);
        assert!(h.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_eq!(h, entry_hash(GENESIS_HASH, 1, at(), "key.created", "k1", r#"{"role":"admin"}"#));
    }

    #[test]
    fn every_field_counts_and_boundaries_are_unambiguous() {
        let base = entry_hash(GENESIS_HASH, 1, at(), "ab", "c", "{}");
        let others = [
            entry_hash(GENESIS_HASH, 1, at(), "a", "bc", "{}"),
            entry_hash(GENESIS_HASH, 2, at(), "ab", "c", "{}"),
            entry_hash(&"1".repeat(64), 1, at(), "ab", "c", "{}"),
            entry_hash(GENESIS_HASH, 1, at() + chrono::Duration::microseconds(1), "ab", "c", "{}"),
            entry_hash(GENESIS_HASH, 1, at(), "ab", "c", "{ }"),
        ];
        for other in others {
            assert_ne!(base, other);
        }
    }

    /// The first implementation, kept as the reference the fast one must match byte for byte.
    fn reference_canonical(value: &Value, out: &mut String) {
        match value {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                out.push('{');
                for (i, key) in keys.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::String(key.clone()).to_string());
                    out.push(':');
                    reference_canonical(&map[key], out);
                }
                out.push('}');
            }
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    reference_canonical(item, out);
                }
                out.push(']');
            }
            scalar => out.push_str(&scalar.to_string()),
        }
    }

    #[test]
    fn canonical_json_matches_the_reference_byte_for_byte() {
        let values = [
            json!(null),
            json!({}),
            json!([]),
            json!({"z": [1, -2, 3.25, 1e300, -0.0, 18446744073709551615u64, i64::MIN], "a": null, "é": "x"}),
            json!({"ctl": "\u{0}\u{1f}\u{7f}\"\\/\n\t", "zh": "标题党…【】", "emoji": "🙂", "": ""}),
            json!({"b": {"d": [{"y": true, "x": false}], "c": {}}, "a\"q": 1, "A": 2, "aa": 3, "a": 4}),
        ];
        for v in values {
            let mut reference = String::new();
            reference_canonical(&v, &mut reference);
            assert_eq!(canonical_json(&v), reference);
        }
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_level() {
        let v = json!({"b": 1, "a": {"y": [true, null, "x\"y"], "x": 1.5}});
        assert_eq!(canonical_json(&v), r#"{"a":{"x":1.5,"y":[true,null,"x\"y"]},"b":1}"#);
    }

    #[test]
    fn chain_links_entries_and_truncates_to_microseconds() {
        let r = AuditRecord {
            at: at() + chrono::Duration::nanoseconds(1_234_567),
            action: "a".into(),
            subject: "s".into(),
            body: json!({"k": 1}).into(),
        };
        let entries = chain(Some((41, "f".repeat(64))), &[r.clone(), r]);
        assert_eq!(entries[0].seq, 42);
        assert_eq!(entries[0].prev_hash, "f".repeat(64));
        assert_eq!(entries[1].prev_hash, entries[0].hash);
        assert_eq!(entries[0].at, at() + chrono::Duration::microseconds(1_234));
        let genesis = chain(None, &entries_to_records(&entries[..1]));
        assert_eq!(genesis[0].seq, 1);
        assert_eq!(genesis[0].prev_hash, GENESIS_HASH);
    }

    fn entries_to_records(entries: &[AuditEntry]) -> Vec<AuditRecord> {
        entries
            .iter()
            .map(|e| AuditRecord {
                at: e.at,
                action: e.action.clone(),
                subject: e.subject.clone(),
                body: AuditBody::from(serde_json::from_str::<Value>(&e.body).unwrap()),
            })
            .collect()
    }
}
