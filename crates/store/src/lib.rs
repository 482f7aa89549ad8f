//! Storage for steward.
//!
//! [`Store`] is the one interface the engine and the server use. Two backends implement it:
//! embedded SQLite in WAL mode (the default, one file in the data directory) and PostgreSQL
//! (when a `postgres://` URL is configured). Both run the same versioned migrations and pass
//! the same test suite. Every write goes through [`Store::commit`], which writes a whole
//! [`Batch`] atomically, including its entries in the hash-chained audit log and one entry
//! covering every row it adds to the append-only tables ([`coverage`]), on the audit chain of
//! each of its parts ([`chains`]: the root, or a partition's in distributed mode). The head of
//! the log can be signed outside the database ([`checkpoint`]), and [`audit::verify`] checks
//! every chain, the rows and the signed heads together.
//!
//! ```no_run
//! let store = steward_store::open(std::path::Path::new("steward-data"), None).unwrap();
//! println!("{} events stored", store.event_count().unwrap());
//! ```

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use steward_model::{
    AppealFiled, Audience, Case, CaseEntry, CaseReport, CaseState, CreditEntry, Decision, GroupChange, GroupMember,
    Notice, QueueCount, ReporterStanding, Restriction, Reversal, Role, StoredNotice, Subject,
};

pub mod audit;
pub mod chains;
pub mod checkpoint;
pub mod coverage;
pub mod crash;
pub mod fence;
pub mod json_text;
mod migrations;
mod outbox;
mod postgres_store;
pub mod review;
mod rows;
mod sqlite_store;
pub mod transparency;
mod verify;

pub use audit::{AuditBody, AuditEntry, AuditRecord, ChainBreak};
pub use chains::{Chain, ChainHead};
pub use coverage::{DecisionRow, Table, TableRow};
pub use postgres_store::PostgresStore;
pub use review::ReviewWrite;
pub use sqlite_store::SqliteStore;
pub use transparency::TransparencyCounts;

/// A storage failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("PostgreSQL: {}", postgres_message(.0))]
    Postgres(#[from] postgres::Error),
    #[error("cannot open the data directory {path}: {source}")]
    DataDir { path: String, source: std::io::Error },
    #[error("the database holds schema version {found}, newer than this steward knows ({known}); upgrade steward")]
    SchemaTooNew { found: i64, known: i64 },
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("unsupported database URL {0:?}: expected postgres:// or postgresql://")]
    BadUrl(String),
    /// The batch's writer no longer owns what it wrote for ([`fence`]); nothing was written.
    #[error("fenced: {key} is at epoch {}, not {epoch}: another writer owns it now", found.map_or("none".to_string(), |f| f.to_string()))]
    Fenced { key: String, epoch: i64, found: Option<i64> },
    /// A record was changed by another writer after the batch's writer read it (two workers
    /// adding to one campaign's case); nothing was written, and the batch can be made again.
    #[error("{0} was changed by another writer since it was read; nothing was written")]
    Stale(String),
}

/// The server's message when there is one: `postgres::Error` alone displays as `db error`.
fn postgres_message(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => db.to_string(),
        None => e.to_string(),
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// An accepted event as stored: the original record, byte for byte.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub id: String,
    pub event_type: String,
    pub at: DateTime<Utc>,
    /// The record as received (JSON).
    pub body: String,
}

/// The current state of one entity (account, post, fact-check, ...), as JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct EntityRow {
    /// `account`, `post`, `report`, `factcheck`, `identity`, `credential`, `snapshot`.
    pub kind: &'static str,
    pub id: String,
    /// The account the entity belongs to (stored, not indexed).
    pub account_id: Option<String>,
    pub body: String,
    /// Set by `post.deleted`; a deleted entity keeps its body.
    pub deleted: bool,
    pub updated_at: DateTime<Utc>,
}

/// What the engine keeps in memory about some accounts ([`Store::account_states`]).
#[derive(Debug, Default)]
pub struct AccountStates {
    pub accounts: Vec<EntityRow>,
    pub restrictions: Vec<Restriction>,
    pub credits: Vec<CreditEntry>,
    pub reversals: Vec<Reversal>,
}

/// An API key; only the SHA-256 of the secret is stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiKey {
    /// Public identifier, shown in listings and the audit log.
    pub id: String,
    /// Hex SHA-256 of the secret key.
    pub hash: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
    /// Set once the key is revoked; a revoked key opens nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A version of the policy, as activated: the policy in force is the last one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyVersion {
    /// The policy's own `version`.
    pub version: String,
    /// Where it came from: a file name, or `api`.
    pub source: String,
    /// The policy file, whole.
    pub text: String,
    pub activated_at: DateTime<Utc>,
    /// Who activated it: `start` (the file given at start), or an API key id.
    pub activated_by: String,
}

/// A rule's circuit breaker, tripped: the rule runs in shadow until an admin re-arms it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrippedBreaker {
    pub rule_id: String,
    pub tripped_at: DateTime<Utc>,
    /// What passed the ceiling (JSON).
    pub detail: String,
}

impl TrippedBreaker {
    /// The detail as JSON (a detail that is not JSON comes back as a string).
    pub fn detail_json(&self) -> serde_json::Value {
        serde_json::from_str(&self.detail).unwrap_or_else(|_| serde_json::Value::String(self.detail.clone()))
    }
}

/// A change to a rule's circuit breaker.
#[derive(Debug, Clone, PartialEq)]
pub enum BreakerChange {
    Tripped(TrippedBreaker),
    Rearmed { rule_id: String },
}

/// How many decisions one rule has made, live and in shadow.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RuleHits {
    pub rule_id: String,
    pub live: u64,
    pub shadow: u64,
}

/// Everything one step of the pipeline writes; committed atomically.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    /// New events. An id that is already stored is skipped (never an error).
    pub events: Vec<StoredEvent>,
    /// Entity upserts, applied in order (a later row for the same kind and id wins).
    pub entities: Vec<EntityRow>,
    /// New decisions. A decision id that is already stored is skipped.
    pub decisions: Vec<Decision>,
    /// Restrictions of the decisions above (also inside each decision, kept here for queries).
    pub restrictions: Vec<Restriction>,
    pub credits: Vec<CreditEntry>,
    /// Audit entries to chain, in order.
    pub audit: Vec<AuditRecord>,
    /// Groups of posts (campaigns): summaries stored as entities of the group's kind,
    /// members, merges. Applied after `entities`.
    pub groups: Vec<GroupChange>,
    /// Policy versions activated, in order.
    pub policies: Vec<PolicyVersion>,
    /// Circuit breakers tripped or re-armed, in order.
    pub breakers: Vec<BreakerChange>,
    /// Cases, reports, appeals and reversals of the human loop, in order.
    pub review: Vec<ReviewWrite>,
    /// Notices to put in the outbox, pending delivery (the transactional outbox: they are
    /// stored if and only if what caused them is). A notice id already stored is skipped.
    pub notices: Vec<Notice>,
    /// Fences the commit holds under ([`fence`]): when one has moved on, nothing is written.
    pub fences: Vec<fence::Fence>,
    /// The audit chain of each part of the batch ([`chains`]); none: all of it is the root's.
    /// Set with [`Batch::audit_on`].
    pub chains: Vec<chains::ChainSpan>,
}

impl Batch {
    /// What is added to the batch from now on (events, decisions, restrictions, credits and
    /// audit records) goes to `chain`'s audit log ([`chains`]).
    pub fn audit_on(&mut self, chain: &chains::Chain) {
        let from = chains::Offsets::of(self);
        match self.chains.last_mut() {
            Some(last) if last.chain == *chain => {}
            // Nothing was added on the last span's chain: it is replaced.
            Some(last) if last.from == from => last.chain = chain.clone(),
            None if chain.is_root() => {}
            _ => self.chains.push(chains::ChainSpan { chain: chain.clone(), from }),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
            && self.entities.is_empty()
            && self.decisions.is_empty()
            && self.restrictions.is_empty()
            && self.credits.is_empty()
            && self.audit.is_empty()
            && self.groups.is_empty()
            && self.policies.is_empty()
            && self.breakers.is_empty()
            && self.review.is_empty()
            && self.notices.is_empty()
    }
}

/// The storage interface. Implementations are safe to share between threads; writes are
/// serialized inside.
pub trait Store: Send + Sync {
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;

    /// Which of `ids` are stored events already.
    fn existing_event_ids(&self, ids: &[&str]) -> Result<HashSet<String>>;

    /// Writes the batch in one transaction: all of it or none of it. Returns how many of
    /// its events were new.
    fn commit(&self, batch: &Batch) -> Result<usize>;

    fn event_count(&self) -> Result<u64>;

    fn event(&self, id: &str) -> Result<Option<StoredEvent>>;

    /// One entity's current state.
    fn entity(&self, kind: &str, id: &str) -> Result<Option<EntityRow>>;

    /// All entities of a kind, ordered by id, for rebuilding in-memory indexes at start.
    fn entities(&self, kind: &str) -> Result<Vec<EntityRow>>;

    /// The entities of a kind not deleted, most recently updated first (then by id), at most
    /// `limit`. Meant for small kinds (campaigns): the rows of the kind are sorted, not
    /// indexed by time, so that the write path keeps one index per entity.
    fn recent_entities(&self, kind: &str, limit: usize) -> Result<Vec<EntityRow>>;

    /// Decisions whose account or post is `subject`, newest first, at most `limit`: the
    /// live ones, or with `shadow` the would-be decisions of shadow rules.
    fn decisions_for(&self, subject: &str, shadow: bool, limit: usize) -> Result<Vec<Decision>>;

    /// The would-be decisions of shadow rules (of `rule_id`, or all), newest first, at most
    /// `limit`.
    fn shadow_decisions(&self, rule_id: Option<&str>, limit: usize) -> Result<Vec<Decision>>;

    /// Decisions with `seq > after`, live and shadow, in the order they were stored, each
    /// with its `seq`, at most `limit`: for reading a whole store's decisions page by page.
    fn decisions_after(&self, after: i64, limit: usize) -> Result<Vec<(i64, Decision)>>;

    /// Live decisions decided in `[from, to)`, by decision time and then stored order, each
    /// with its `seq`, at most `limit`, from after `after` (the decision time and `seq` of
    /// the last one read): for reading a period's decisions page by page.
    fn live_decisions_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        after: Option<(DateTime<Utc>, i64)>,
        limit: usize,
    ) -> Result<Vec<(i64, Decision)>>;

    /// Decisions made per rule, live and in shadow, by rule id.
    fn rule_hits(&self) -> Result<Vec<RuleHits>>;

    /// The policy version in force: the last activated.
    fn active_policy(&self) -> Result<Option<PolicyVersion>>;

    /// Every policy version, oldest first, without their texts.
    fn policy_versions(&self) -> Result<Vec<PolicyVersion>>;

    /// Rules whose circuit breaker has tripped and not been re-armed.
    fn tripped_breakers(&self) -> Result<Vec<TrippedBreaker>>;

    fn decision(&self, id: &str) -> Result<Option<Decision>>;

    /// Every restriction ever placed on the account or its posts.
    fn restrictions_for(&self, account_id: &str) -> Result<Vec<Restriction>>;

    /// Every credit deduction of the account.
    fn credits_for(&self, account_id: &str) -> Result<Vec<CreditEntry>>;

    /// Restrictions not ended at `at` and credit entries not restored at `at`, for all
    /// accounts: what the engine needs in memory after a restart.
    fn enforcement_in_force(&self, at: DateTime<Utc>) -> Result<(Vec<Restriction>, Vec<CreditEntry>)>;

    /// Stores a new key and audits its creation.
    fn insert_key(&self, key: &ApiKey) -> Result<()>;

    /// The key with this hash, revoked or not.
    fn key_by_hash(&self, hash: &str) -> Result<Option<ApiKey>>;

    /// Every key, oldest first.
    fn keys(&self) -> Result<Vec<ApiKey>>;

    /// Revokes key `id` at `at` and audits it; a key already revoked keeps its first
    /// revocation. Returns the key as it now is, or `None` when there is no such key.
    fn revoke_key(&self, id: &str, at: DateTime<Utc>) -> Result<Option<ApiKey>>;

    /// Entries of the root audit chain with `seq > after`, in order, at most `limit`.
    fn audit_entries(&self, after: u64, limit: usize) -> Result<Vec<AuditEntry>> {
        self.chain_entries(&Chain::root(), after, limit)
    }

    /// Entries of an audit chain with `seq > after`, in order, at most `limit`.
    fn chain_entries(&self, chain: &Chain, after: u64, limit: usize) -> Result<Vec<AuditEntry>>;

    /// The last entry of the root audit chain, if any.
    fn audit_head(&self) -> Result<Option<AuditEntry>>;

    /// The head of every partition chain ([`chains`]), by chain.
    fn chain_heads(&self) -> Result<Vec<ChainHead>>;

    /// Every partition chain with entries or covered rows, by name.
    fn chains(&self) -> Result<Vec<Chain>>;

    /// Appends to the root chain a `chains.checkpoint` entry recording every partition
    /// chain's head, while no partition writer can move one; returns it (`None` without
    /// partition chains).
    fn checkpoint_chains(&self, at: DateTime<Utc>) -> Result<Option<AuditEntry>>;

    /// Rows of an append-only table on `chain` with `seq > after`, in order, at most
    /// `limit`, as stored: for checking them against the audit entries that cover them.
    fn table_rows(&self, table: Table, chain: &Chain, after: i64, limit: usize) -> Result<Vec<TableRow>>;

    /// Members of a group, oldest post first, at most `limit`.
    fn group_members(&self, kind: &str, group_id: &str, limit: usize) -> Result<Vec<GroupMember>>;

    /// A case by id.
    fn case(&self, id: &str) -> Result<Option<Case>>;

    /// The subject's case not resolved, if it has one.
    fn open_case(&self, subject: &Subject) -> Result<Option<Case>>;

    /// Cases of `queue` a moderator may take at `at` (open, escalated, or under a claim
    /// that has run out), highest rank first, at most `limit`.
    fn claimable_cases(&self, queue: &str, at: DateTime<Utc>, limit: usize) -> Result<Vec<Case>>;

    /// Cases of a queue and state (or any), highest rank first, at most `limit`.
    fn cases(&self, queue: Option<&str>, state: Option<CaseState>, limit: usize) -> Result<Vec<Case>>;

    /// Every case of a subject, resolved or not, oldest first, at most `limit`.
    fn subject_cases(&self, subject: &Subject, limit: usize) -> Result<Vec<Case>>;

    /// Per queue, its cases not resolved by state, and the oldest.
    fn queue_counts(&self) -> Result<Vec<QueueCount>>;

    /// A case's log, in order.
    fn case_entries(&self, case_id: &str) -> Result<Vec<CaseEntry>>;

    /// The reports that joined a case.
    fn case_reports(&self, case_id: &str) -> Result<Vec<CaseReport>>;

    /// A report as the human loop keeps it.
    fn case_report(&self, id: &str) -> Result<Option<CaseReport>>;

    /// A reporter's record of resolved reports and mute.
    fn reporter_standing(&self, reporter_id: &str) -> Result<ReporterStanding>;

    fn appeal(&self, id: &str) -> Result<Option<AppealFiled>>;

    /// The appeals against a decision, oldest first.
    fn appeals_for(&self, decision_id: &str) -> Result<Vec<AppealFiled>>;

    /// The reversal of a decision, if a person overturned it.
    fn reversal(&self, decision_id: &str) -> Result<Option<Reversal>>;

    /// The reversals of an account's decisions, or of all, in the order made.
    fn reversals(&self, account_id: Option<&str>) -> Result<Vec<Reversal>>;

    /// The reversals made at `at` or later, in the order made: a partitioned engine forgets
    /// what it loaded about their accounts, which people changed elsewhere (`steward serve`).
    fn reversals_since(&self, at: DateTime<Utc>) -> Result<Vec<Reversal>>;

    /// What the engine keeps about the accounts `ids` (a partitioned engine loads it as their
    /// events come, not every account's at start): their rows, their restrictions and credit
    /// entries in force at `at`, and the reversals of their decisions, each account's in the
    /// order stored. This default asks one account at a time.
    fn account_states(&self, ids: &[&str], at: DateTime<Utc>) -> Result<AccountStates> {
        let mut states = AccountStates::default();
        for id in ids {
            states.accounts.extend(self.entity("account", id)?);
            states.restrictions.extend(self.restrictions_for(id)?.into_iter().filter(|r| r.end.is_none_or(|e| e > at)));
            states.credits.extend(self.credits_for(id)?.into_iter().filter(|c| c.restores_at.is_none_or(|r| r > at)));
            states.reversals.extend(self.reversals(Some(id))?);
        }
        Ok(states)
    }

    /// The latest event time stored.
    fn latest_event_at(&self) -> Result<Option<DateTime<Utc>>>;

    /// Events with time `at` or later and received order `seq > after`, in received order,
    /// at most `limit`, each with its `seq`: detectors rebuild their window from these. With
    /// `chains`, only the events audited on them (a partitioned engine's partitions).
    fn events_since(
        &self,
        at: DateTime<Utc>,
        after: i64,
        limit: usize,
        chains: &[Chain],
    ) -> Result<Vec<(i64, StoredEvent)>>;

    /// The notices to `recipient`, newest first, at most `limit`, with their delivery.
    fn notices_for(&self, recipient: &str, limit: usize) -> Result<Vec<StoredNotice>>;

    /// The notices to deliver now: for each recipient of one of `audiences`, its oldest
    /// pending notice if its next attempt is due at `now` (a later one waits for it, so
    /// delivery is ordered per recipient). Soonest due first, at most `limit`.
    fn due_notices(&self, now: DateTime<Utc>, audiences: &[Audience], limit: usize) -> Result<Vec<StoredNotice>>;

    /// Records a pending notice as delivered at `at`.
    fn notice_delivered(&self, id: &str, at: DateTime<Utc>) -> Result<()>;

    /// Records a failed attempt on a pending notice: `attempts` made in all, the next at
    /// `next_attempt_at`, or none with `dead`.
    fn notice_failed(
        &self,
        id: &str,
        attempts: u32,
        next_attempt_at: DateTime<Utc>,
        error: &str,
        dead: bool,
    ) -> Result<()>;

    /// Dead notices (every attempt failed), newest first, at most `limit`.
    fn dead_notices(&self, limit: usize) -> Result<Vec<StoredNotice>>;

    /// Makes a dead notice pending again, due at `now`, with its attempts counted from
    /// zero. Returns whether it did (the notice was dead) and the notice as it now is, or
    /// `None` when there is no such notice.
    fn replay_notice(&self, id: &str, now: DateTime<Utc>) -> Result<Option<(bool, StoredNotice)>>;

    /// How many notices are pending delivery.
    fn notice_backlog(&self) -> Result<u64>;

    /// The counts of a transparency report over `[from, to)`, aggregated in the database
    /// from one snapshot (see [`transparency`]).
    fn transparency_counts(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<TransparencyCounts>;

    /// Resolved cases opened in `[from, to)`, newest first, at most `limit`.
    fn resolved_cases(&self, from: DateTime<Utc>, to: DateTime<Utc>, limit: usize) -> Result<Vec<Case>>;
}

/// Opens the store: PostgreSQL when `database_url` is given, else SQLite in `data_dir`
/// (created if missing). Runs pending migrations.
pub fn open(data_dir: &Path, database_url: Option<&str>) -> Result<Arc<dyn Store>> {
    match database_url {
        Some(url) => Ok(Arc::new(PostgresStore::connect(url)?)),
        None => Ok(Arc::new(SqliteStore::open(data_dir)?)),
    }
}
