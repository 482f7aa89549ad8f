//! The PostgreSQL backend, for deployments that already run PostgreSQL.
//!
//! One connection writes and one reads, each behind a mutex; a connection that breaks is
//! replaced on next use. Every write transaction first locks the heads of the audit chains it
//! appends to, so that no chain forks: the root chain's by `LOCK TABLE audit IN EXCLUSIVE
//! MODE`, which serializes it with every writer across processes while plain reads go on; a
//! partition chain's ([`crate::chains`]) by a transaction advisory lock of its own, under
//! `ROW EXCLUSIVE` (which waits for root writers only), so that writers of different
//! partitions do not wait for each other. Batches are written with one `unnest` statement per
//! table.
//!
//! The URL may carry libpq-style parameters, e.g.
//! `postgres://steward@db/steward?options=-csearch_path%3Dsteward` to use a schema.

use std::collections::{BTreeSet, HashSet};
use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, SubsecRound, Utc};
use postgres::{Client, Config, GenericClient, IsolationLevel, NoTls, Row, Transaction};
use steward_model::{
    AppealFiled, Audience, Case, CaseEntry, CaseReport, CaseState, CreditEntry, Decision, GroupMember, QueueCount,
    ReporterStanding, Restriction, Reversal, StoredNotice, Subject,
};

use crate::audit::{self, AuditEntry, AuditRecord};
use crate::chains::{self, Chain, ChainHead};
use crate::coverage::{self, Covered, DecisionRow, Table, TableRow};
use crate::outbox::postgres as outbox;
use crate::review;
use crate::rows::{self, u32_from_db, u64_from_db};
use crate::transparency::{self, TransparencyCounts};
use crate::{
    AccountStates, ApiKey, Batch, BreakerChange, EntityRow, PolicyVersion, Result, RuleHits, Store, StoreError,
    StoredEvent, TrippedBreaker, migrations,
};

/// The PostgreSQL store. Cheap to share between threads.
pub struct PostgresStore {
    config: Config,
    writer: Mutex<Client>,
    reader: Mutex<Client>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("host", &self.config.get_hosts())
            .field("dbname", &self.config.get_dbname())
            .finish_non_exhaustive()
    }
}

/// The URL with any password replaced, for error messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://***{}", &url[..s], &url[at..]),
        _ => url.to_string(),
    }
}

fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl PostgresStore {
    /// Connects to `url` (`postgres://` or `postgresql://`) and applies pending migrations.
    pub fn connect(url: &str) -> Result<PostgresStore> {
        let lower = url.to_ascii_lowercase();
        if !(lower.starts_with("postgres://") || lower.starts_with("postgresql://")) {
            return Err(StoreError::BadUrl(redact(url)));
        }
        let config: Config = url.parse()?;
        let mut writer = config.connect(NoTls)?;
        migrations::apply_postgres(&mut writer)?;
        let reader = config.connect(NoTls)?;
        Ok(PostgresStore { config, writer: Mutex::new(writer), reader: Mutex::new(reader) })
    }

    /// Locks a connection, reconnecting first if it was lost.
    fn client<'a>(&self, m: &'a Mutex<Client>) -> Result<MutexGuard<'a, Client>> {
        let mut guard = m.lock().unwrap_or_else(|e| e.into_inner());
        if guard.is_closed() {
            *guard = self.config.connect(NoTls)?;
        }
        Ok(guard)
    }

    fn read(&self) -> Result<MutexGuard<'_, Client>> {
        self.client(&self.reader)
    }

    /// The writing connection, for one statement that needs no audit lock (the outbox's
    /// bookkeeping).
    fn write_alone(&self) -> Result<MutexGuard<'_, Client>> {
        self.client(&self.writer)
    }

    /// Starts a write transaction holding the root chain's lock.
    fn write<T>(&self, f: impl FnOnce(&mut Transaction<'_>) -> Result<T>) -> Result<T> {
        self.write_on(&BTreeSet::from([Chain::root()]), f)
    }

    /// Starts a write transaction holding the locks of `chains`' heads (module docs), taken
    /// in chain order so that two writers never wait for each other's.
    fn write_on<T>(&self, chains: &BTreeSet<Chain>, f: impl FnOnce(&mut Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut client = self.client(&self.writer)?;
        let mut tx = client.transaction()?;
        if chains.iter().any(Chain::is_root) {
            tx.batch_execute("LOCK TABLE audit IN EXCLUSIVE MODE")?;
        } else {
            tx.batch_execute("LOCK TABLE audit IN ROW EXCLUSIVE MODE")?;
            // One statement, the locks taken in the array's (chain) order.
            let names: Vec<&str> = chains.iter().map(Chain::as_str).collect();
            tx.execute(
                "SELECT pg_advisory_xact_lock(hashtext('steward.audit.chain'), hashtext(c)) FROM unnest($1::text[]) AS u(c)",
                &[&names],
            )?;
        }
        let out = f(&mut tx)?;
        tx.commit()?;
        Ok(out)
    }
}

/// Reads the head of `chain` and appends `records`, inside the caller's transaction (which
/// holds the chain's lock).
pub(crate) fn append_audit<'a>(
    tx: &mut Transaction<'_>,
    chain: &Chain,
    records: impl IntoIterator<Item = &'a AuditRecord>,
) -> Result<()> {
    let mut records = records.into_iter().peekable();
    if records.peek().is_none() {
        return Ok(());
    }
    let head =
        tx.query_opt("SELECT seq, hash FROM audit WHERE chain = $1 ORDER BY seq DESC LIMIT 1", &[&chain.as_str()])?;
    let head = match head {
        Some(row) => Some((u64_from_db(row.get(0), "audit seq")?, row.get::<_, String>(1))),
        None => None,
    };
    let entries = audit::chain(head, records);
    let mut seqs = Vec::with_capacity(entries.len());
    for e in &entries {
        seqs.push(i64::try_from(e.seq).map_err(|_| StoreError::Corrupt("audit seq overflow".into()))?);
    }
    let ats: Vec<DateTime<Utc>> = entries.iter().map(|e| e.at).collect();
    let actions: Vec<&str> = entries.iter().map(|e| e.action.as_str()).collect();
    let subjects: Vec<&str> = entries.iter().map(|e| e.subject.as_str()).collect();
    let bodies: Vec<&str> = entries.iter().map(|e| e.body.as_str()).collect();
    let prevs: Vec<&str> = entries.iter().map(|e| e.prev_hash.as_str()).collect();
    let hashes: Vec<&str> = entries.iter().map(|e| e.hash.as_str()).collect();
    tx.execute(
        "INSERT INTO audit (chain, seq, at, action, subject, body, prev_hash, hash)
         SELECT $8, u.* FROM unnest($1::bigint[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[]) AS u",
        &[&seqs, &ats, &actions, &subjects, &bodies, &prevs, &hashes, &chain.as_str()],
    )?;
    Ok(())
}

const AUDIT_COLUMNS: &str = "seq, at, action, subject, body, prev_hash, hash";

/// The root chain's last entry.
fn root_head(c: &mut impl GenericClient) -> Result<Option<AuditEntry>> {
    let row =
        c.query_opt(&format!("SELECT {AUDIT_COLUMNS} FROM audit WHERE chain = '' ORDER BY seq DESC LIMIT 1"), &[])?;
    row.as_ref().map(audit_row).transpose()
}

fn chain_heads(c: &mut impl GenericClient) -> Result<Vec<ChainHead>> {
    c.query(chains::HEADS_SQL, &[])?.iter().map(|r| chains::head_from_db(r.get(0), r.get(1), r.get(2))).collect()
}

fn audit_row(r: &Row) -> Result<AuditEntry> {
    Ok(AuditEntry {
        seq: u64_from_db(r.get(0), "audit seq")?,
        at: r.get(1),
        action: r.get(2),
        subject: r.get(3),
        body: r.get(4),
        prev_hash: r.get(5),
        hash: r.get(6),
    })
}

/// A time as it is stored: to the microsecond, truncated (PostgreSQL would round times
/// before 2000 towards 2000), so a row hashes the same when it is read back.
pub(crate) fn stored(t: DateTime<Utc>) -> DateTime<Utc> {
    t.trunc_subsecs(6)
}

fn event_row(r: &Row) -> TableRow {
    TableRow::Event {
        seq: r.get(0),
        event: StoredEvent { id: r.get(1), event_type: r.get(2), at: r.get(3), body: r.get(4) },
    }
}

/// Rows of a covered table on `chain` with `seq > after`, in order, at most `n`.
pub(crate) fn table_rows(
    c: &mut impl GenericClient,
    table: Table,
    chain: &Chain,
    after: i64,
    n: usize,
) -> Result<Vec<TableRow>> {
    let (on_chain, name) = chains::row_condition(chain, "$3");
    let n = limit(n);
    let mut params: Vec<&(dyn postgres::types::ToSql + Sync)> = vec![&after, &n];
    if let Some(name) = &name {
        params.push(name);
    }
    match table {
        Table::Events => {
            let rows = c.query(
                &format!("SELECT seq, id, type, at, body FROM events WHERE {on_chain} AND seq > $1 ORDER BY seq LIMIT $2"),
                &params,
            )?;
            Ok(rows.iter().map(event_row).collect())
        }
        Table::Decisions => {
            let rows = c.query(
                &format!(
                    "SELECT seq, id, event_id, account_id, post_id, rule_id, decided_at, body::text, shadow FROM decisions
                     WHERE {on_chain} AND seq > $1 ORDER BY seq LIMIT $2"
                ),
                &params,
            )?;
            Ok(rows
                .iter()
                .map(|r| {
                    TableRow::Decision(DecisionRow {
                        seq: r.get(0),
                        id: r.get(1),
                        event_id: r.get(2),
                        account_id: r.get(3),
                        post_id: r.get(4),
                        rule_id: r.get(5),
                        decided_at: r.get(6),
                        body: r.get(7),
                        shadow: r.get(8),
                    })
                })
                .collect())
        }
        Table::Restrictions => c
            .query(
                &format!(
                    "SELECT {RESTRICTION_COLUMNS}, seq FROM restrictions WHERE {on_chain} AND seq > $1 ORDER BY seq LIMIT $2"
                ),
                &params,
            )?
            .iter()
            .map(|r| Ok(TableRow::Restriction { seq: r.get(7), restriction: restriction_row(r)? }))
            .collect(),
        Table::Credits => c
            .query(
                &format!("SELECT {CREDIT_COLUMNS}, seq FROM credits WHERE {on_chain} AND seq > $1 ORDER BY seq LIMIT $2"),
                &params,
            )?
            .iter()
            .map(|r| Ok(TableRow::Credit { seq: r.get(5), credit: credit_row(r)? }))
            .collect(),
    }
}

/// Covers the rows already stored with one `rows.adopted` entry (see [`coverage`]), inside
/// the migration's transaction (which holds the audit lock). They are all the root's.
pub(crate) fn adopt_rows(tx: &mut Transaction<'_>) -> Result<()> {
    let root = Chain::root();
    let record = coverage::adopt(|table, after, n| table_rows(tx, table, &root, after, n))?;
    append_audit(tx, &root, record.as_ref())
}

fn entity_row(row: &Row) -> EntityRow {
    EntityRow {
        kind: rows::entity_kind(row.get(0)),
        id: row.get(1),
        account_id: row.get(2),
        body: row.get(3),
        deleted: row.get(4),
        updated_at: row.get(5),
    }
}

const RESTRICTION_COLUMNS: &str = "decision_id, account_id, post_id, kind, detail, start_at, end_at";
const CREDIT_COLUMNS: &str = "decision_id, account_id, at, points, restores_at";
const KEY_COLUMNS: &str = "id, hash, role, created_at, revoked_at";

fn restriction_row(row: &Row) -> Result<Restriction> {
    Ok(Restriction {
        decision_id: row.get(0),
        account_id: row.get(1),
        post_id: row.get(2),
        kind: rows::restriction_kind(row.get(3))?,
        detail: row.get(4),
        start: row.get(5),
        end: row.get(6),
    })
}

fn key_row(row: &Row) -> Result<ApiKey> {
    Ok(ApiKey {
        id: row.get(0),
        hash: row.get(1),
        role: rows::role(row.get(2))?,
        created_at: row.get(3),
        revoked_at: row.get(4),
    })
}

fn credit_row(row: &Row) -> Result<CreditEntry> {
    Ok(CreditEntry {
        decision_id: row.get(0),
        account_id: row.get(1),
        at: row.get(2),
        points: u32_from_db(row.get(3), "credit points")?,
        restores_at: row.get(4),
    })
}

fn upsert_entities(tx: &mut Transaction<'_>, last: &[&EntityRow]) -> Result<()> {
    if last.is_empty() {
        return Ok(());
    }
    let kinds: Vec<&str> = last.iter().map(|r| r.kind).collect();
    let ids: Vec<&str> = last.iter().map(|r| r.id.as_str()).collect();
    let accounts: Vec<Option<&str>> = last.iter().map(|r| r.account_id.as_deref()).collect();
    let bodies: Vec<&str> = last.iter().map(|r| r.body.as_str()).collect();
    let deleted: Vec<bool> = last.iter().map(|r| r.deleted).collect();
    let updated: Vec<DateTime<Utc>> = last.iter().map(|r| r.updated_at).collect();
    tx.execute(
        "INSERT INTO entities (kind, id, account_id, body, deleted, updated_at)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bool[], $6::timestamptz[])
         ON CONFLICT (kind, id) DO UPDATE SET account_id = EXCLUDED.account_id, body = EXCLUDED.body,
             deleted = EXCLUDED.deleted, updated_at = EXCLUDED.updated_at",
        &[&kinds, &ids, &accounts, &bodies, &deleted, &updated],
    )?;
    Ok(())
}

/// Writes the batch's rows, each on its audit chain, adding those of the covered tables to
/// `covered`.
fn write_batch(tx: &mut Transaction<'_>, batch: &Batch, covered: &mut Covered) -> Result<usize> {
    let mut new_events = 0;
    if !batch.events.is_empty() {
        let ids: Vec<&str> = batch.events.iter().map(|e| e.id.as_str()).collect();
        let types: Vec<&str> = batch.events.iter().map(|e| e.event_type.as_str()).collect();
        let ats: Vec<DateTime<Utc>> = batch.events.iter().map(|e| stored(e.at)).collect();
        let bodies: Vec<&str> = batch.events.iter().map(|e| e.body.as_str()).collect();
        let n = insert_chained(
            tx,
            batch,
            "INSERT INTO events (id, type, at, body{c})
             SELECT id, type, at, body{c}
             FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[]{cp}) WITH ORDINALITY AS u(id, type, at, body{c}, n)
             ORDER BY n
             ON CONFLICT (id) DO NOTHING",
            &[&ids, &types, &ats, &bodies],
            || names(chains::item_chains(batch, |o| o.events, batch.events.len())),
        )?;
        new_events = usize::try_from(n).unwrap_or(usize::MAX);
        if new_events == batch.events.len() {
            covered.events(batch, None);
        } else {
            // Some were stored already: cover the rows this transaction added (its xid is
            // their xmin). Writers of other chains commit beside it, so they are not simply
            // the last rows.
            let stored: HashSet<String> = tx
                .query(
                    "SELECT id FROM events WHERE id = ANY($1) AND xmin::text::bigint = txid_current() % 4294967296",
                    &[&ids],
                )?
                .iter()
                .map(|r| r.get(0))
                .collect();
            covered.events(batch, Some(&stored));
        }
    }
    upsert_entities(tx, &rows::last_entities(&batch.entities))?;
    let referenced = rows::referenced_decisions(batch);
    if referenced.is_empty() {
        return Ok(new_events);
    }
    let existing: HashSet<String> =
        tx.query("SELECT id FROM decisions WHERE id = ANY($1)", &[&referenced])?.iter().map(|r| r.get(0)).collect();
    let new = rows::new_rows(batch, &existing);
    if !new.decisions.is_empty() {
        let mut bodies = Vec::with_capacity(new.decisions.len());
        for (_, d) in &new.decisions {
            bodies.push(rows::decision_json(d)?);
        }
        let ids: Vec<&str> = new.decisions.iter().map(|(_, d)| d.id.as_str()).collect();
        let events: Vec<&str> = new.decisions.iter().map(|(_, d)| d.event_id.as_str()).collect();
        let accounts: Vec<Option<&str>> = new.decisions.iter().map(|(_, d)| d.account_id.as_deref()).collect();
        let posts: Vec<Option<&str>> = new.decisions.iter().map(|(_, d)| d.post_id.as_deref()).collect();
        let rules: Vec<&str> = new.decisions.iter().map(|(_, d)| d.rule_id.as_str()).collect();
        let ats: Vec<DateTime<Utc>> = new.decisions.iter().map(|(_, d)| stored(d.decided_at)).collect();
        new.decisions.iter().zip(&bodies).for_each(|((chain, d), body)| covered.on(chain).decision(d, body));
        let shadows: Vec<bool> = new.decisions.iter().map(|(_, d)| d.shadow).collect();
        insert_chained(
            tx,
            batch,
            "INSERT INTO decisions (id, event_id, account_id, post_id, rule_id, decided_at, body, shadow{c})
             SELECT id, event_id, account_id, post_id, rule_id, decided_at, body::json, shadow{c}
             FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::text[],
                         $8::bool[]{cp})
                 WITH ORDINALITY AS u(id, event_id, account_id, post_id, rule_id, decided_at, body, shadow{c}, n)
             ORDER BY n",
            &[&ids, &events, &accounts, &posts, &rules, &ats, &bodies, &shadows],
            || names(new.decisions.iter().map(|(c, _)| *c)),
        )?;
    }
    if !new.restrictions.is_empty() {
        let r: Vec<&Restriction> = new.restrictions.iter().map(|(_, r)| *r).collect();
        let decisions: Vec<&str> = r.iter().map(|r| r.decision_id.as_str()).collect();
        let accounts: Vec<&str> = r.iter().map(|r| r.account_id.as_str()).collect();
        let posts: Vec<Option<&str>> = r.iter().map(|r| r.post_id.as_deref()).collect();
        let kinds: Vec<&str> = r.iter().map(|r| r.kind.as_str()).collect();
        let details: Vec<&str> = r.iter().map(|r| r.detail.as_str()).collect();
        let starts: Vec<DateTime<Utc>> = r.iter().map(|r| stored(r.start)).collect();
        let ends: Vec<Option<DateTime<Utc>>> = r.iter().map(|r| r.end.map(stored)).collect();
        new.restrictions.iter().for_each(|(chain, r)| covered.on(chain).restriction(r));
        insert_chained(
            tx,
            batch,
            "INSERT INTO restrictions (decision_id, account_id, post_id, kind, detail, start_at, end_at{c})
             SELECT decision_id, account_id, post_id, kind, detail, start_at, end_at{c}
             FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::timestamptz[]{cp})
                 WITH ORDINALITY AS u(decision_id, account_id, post_id, kind, detail, start_at, end_at{c}, n)
             ORDER BY n",
            &[&decisions, &accounts, &posts, &kinds, &details, &starts, &ends],
            || names(new.restrictions.iter().map(|(c, _)| *c)),
        )?;
    }
    if !new.credits.is_empty() {
        let c: Vec<&CreditEntry> = new.credits.iter().map(|(_, c)| *c).collect();
        let decisions: Vec<&str> = c.iter().map(|c| c.decision_id.as_str()).collect();
        let accounts: Vec<&str> = c.iter().map(|c| c.account_id.as_str()).collect();
        let ats: Vec<DateTime<Utc>> = c.iter().map(|c| stored(c.at)).collect();
        let points: Vec<i64> = c.iter().map(|c| i64::from(c.points)).collect();
        let restores: Vec<Option<DateTime<Utc>>> = c.iter().map(|c| c.restores_at.map(stored)).collect();
        new.credits.iter().for_each(|(chain, c)| covered.on(chain).credit(c));
        insert_chained(
            tx,
            batch,
            "INSERT INTO credits (decision_id, account_id, at, points, restores_at{c})
             SELECT decision_id, account_id, at, points, restores_at{c}
             FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::bigint[], $5::timestamptz[]{cp})
                 WITH ORDINALITY AS u(decision_id, account_id, at, points, restores_at{c}, n)
             ORDER BY n",
            &[&decisions, &accounts, &ats, &points, &restores],
            || names(new.credits.iter().map(|(c, _)| *c)),
        )?;
    }
    Ok(new_events)
}

/// Runs an insert into a covered table whose text marks where its `chain` column goes: `{c}`
/// in its column lists, `{cp}` in its `unnest`, as the parameter after `params`, the names
/// `chains` gives. A batch all the root's leaves the column to its default instead: an array
/// of empty names cost the single box 8% of its events/s.
fn insert_chained<'a>(
    tx: &mut Transaction<'_>,
    batch: &Batch,
    sql: &str,
    params: &[&(dyn postgres::types::ToSql + Sync)],
    chains: impl FnOnce() -> Vec<&'a str>,
) -> Result<u64> {
    if batch.chains.is_empty() {
        return Ok(tx.execute(&sql.replace("{c}", "").replace("{cp}", ""), params)?);
    }
    let chains = chains();
    let mut all = params.to_vec();
    all.push(&chains);
    let sql = sql.replace("{c}", ", chain").replace("{cp}", &format!(", ${}::text[]", all.len()));
    Ok(tx.execute(&sql, &all)?)
}

/// Chain names, for a statement's array parameter.
fn names<'a>(chains: impl IntoIterator<Item = &'a Chain>) -> Vec<&'a str> {
    chains.into_iter().map(Chain::as_str).collect()
}

fn write_groups(tx: &mut Transaction<'_>, batch: &Batch) -> Result<()> {
    for g in &batch.groups {
        upsert_entities(tx, &[&rows::group_summary(g)])?;
        for old in &g.absorbed {
            tx.execute(
                "UPDATE group_members SET group_id = $1 WHERE kind = $2 AND group_id = $3",
                &[&g.id, &g.kind, old],
            )?;
            tx.execute(
                "UPDATE entities SET deleted = TRUE, body = $1, updated_at = $2 WHERE kind = $3 AND id = $4",
                &[&rows::merged_body(old, &g.id), &g.at, &g.kind, old],
            )?;
        }
        if g.joined.is_empty() {
            continue;
        }
        let posts: Vec<&str> = g.joined.iter().map(|m| m.post_id.as_str()).collect();
        let accounts: Vec<&str> = g.joined.iter().map(|m| m.account_id.as_str()).collect();
        let ats: Vec<DateTime<Utc>> = g.joined.iter().map(|m| m.at).collect();
        tx.execute(
            "INSERT INTO group_members (kind, group_id, post_id, account_id, at)
             SELECT $1, $2, post_id, account_id, at
             FROM unnest($3::text[], $4::text[], $5::timestamptz[]) WITH ORDINALITY AS u(post_id, account_id, at, n)
             ORDER BY n
             ON CONFLICT (kind, post_id) DO UPDATE SET group_id = EXCLUDED.group_id",
            &[&g.kind, &g.id, &posts, &accounts, &ats],
        )?;
    }
    Ok(())
}

fn write_policy_changes(tx: &mut Transaction<'_>, batch: &Batch) -> Result<()> {
    for p in &batch.policies {
        tx.execute(
            "INSERT INTO policy_versions (version, source, text, activated_at, activated_by) VALUES ($1, $2, $3, $4, $5)",
            &[&p.version, &p.source, &p.text, &p.activated_at, &p.activated_by],
        )?;
    }
    for change in &batch.breakers {
        match change {
            BreakerChange::Tripped(b) => tx.execute(
                "INSERT INTO rule_breakers (rule_id, tripped_at, detail) VALUES ($1, $2, $3)
                 ON CONFLICT (rule_id) DO NOTHING",
                &[&b.rule_id, &b.tripped_at, &b.detail],
            )?,
            BreakerChange::Rearmed { rule_id } => {
                tx.execute("DELETE FROM rule_breakers WHERE rule_id = $1", &[rule_id])?
            }
        };
    }
    Ok(())
}

fn policy_version_row(r: &Row) -> PolicyVersion {
    PolicyVersion {
        version: r.get(0),
        source: r.get(1),
        text: r.get(2),
        activated_at: r.get(3),
        activated_by: r.get(4),
    }
}

impl Store for PostgresStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    fn existing_event_ids(&self, ids: &[&str]) -> Result<HashSet<String>> {
        if ids.is_empty() {
            return Ok(HashSet::new());
        }
        let rows = self.read()?.query("SELECT id FROM events WHERE id = ANY($1)", &[&ids])?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    fn commit(&self, batch: &Batch) -> Result<usize> {
        if batch.is_empty() {
            return Ok(0);
        }
        self.write_on(&chains::batch_chains(batch), |tx| {
            crate::fence::check_postgres(tx, &batch.fences)?;
            let mut covered = Covered::default();
            let new_events = write_batch(tx, batch, &mut covered)?;
            write_groups(tx, batch)?;
            write_policy_changes(tx, batch)?;
            review::postgres::write(tx, &batch.review)?;
            outbox::insert(tx, &batch.notices)?;
            for (chain, records) in rows::audit_by_chain(batch) {
                append_audit(tx, &chain, records.into_iter().chain(&covered.record(&chain)))?;
            }
            crate::crash::reach(crate::crash::CrashPoint::InTransaction);
            Ok(new_events)
        })
    }

    fn event_count(&self) -> Result<u64> {
        let n: i64 = self.read()?.query_one("SELECT count(*) FROM events", &[])?.get(0);
        u64_from_db(n, "event count")
    }

    fn event(&self, id: &str) -> Result<Option<StoredEvent>> {
        let row = self.read()?.query_opt("SELECT id, type, at, body FROM events WHERE id = $1", &[&id])?;
        Ok(row.map(|r| StoredEvent { id: r.get(0), event_type: r.get(1), at: r.get(2), body: r.get(3) }))
    }

    fn entity(&self, kind: &str, id: &str) -> Result<Option<EntityRow>> {
        let row = self.read()?.query_opt(
            "SELECT kind, id, account_id, body, deleted, updated_at FROM entities WHERE kind = $1 AND id = $2",
            &[&kind, &id],
        )?;
        Ok(row.as_ref().map(entity_row))
    }

    fn entities(&self, kind: &str) -> Result<Vec<EntityRow>> {
        let rows = self.read()?.query(
            "SELECT kind, id, account_id, body, deleted, updated_at FROM entities WHERE kind = $1 ORDER BY id",
            &[&kind],
        )?;
        Ok(rows.iter().map(entity_row).collect())
    }

    fn recent_entities(&self, kind: &str, n: usize) -> Result<Vec<EntityRow>> {
        let rows = self.read()?.query(
            "SELECT kind, id, account_id, body, deleted, updated_at FROM entities
             WHERE kind = $1 AND NOT deleted ORDER BY updated_at DESC, id LIMIT $2",
            &[&kind, &limit(n)],
        )?;
        Ok(rows.iter().map(entity_row).collect())
    }

    fn decisions_for(&self, subject: &str, shadow: bool, n: usize) -> Result<Vec<Decision>> {
        let rows = self.read()?.query(
            "SELECT body::text FROM decisions WHERE (account_id = $1 OR post_id = $1) AND shadow = $3
             ORDER BY decided_at DESC, seq DESC LIMIT $2",
            &[&subject, &limit(n), &shadow],
        )?;
        rows.iter().map(|r| rows::decision_from_json(r.get(0))).collect()
    }

    fn shadow_decisions(&self, rule_id: Option<&str>, n: usize) -> Result<Vec<Decision>> {
        let rows = self.read()?.query(
            "SELECT body::text FROM decisions WHERE shadow AND ($1::text IS NULL OR rule_id = $1)
             ORDER BY seq DESC LIMIT $2",
            &[&rule_id, &limit(n)],
        )?;
        rows.iter().map(|r| rows::decision_from_json(r.get(0))).collect()
    }

    fn decisions_after(&self, after: i64, n: usize) -> Result<Vec<(i64, Decision)>> {
        let rows = self.read()?.query(
            "SELECT seq, body::text FROM decisions WHERE seq > $1 ORDER BY seq LIMIT $2",
            &[&after, &limit(n)],
        )?;
        rows.iter().map(|r| Ok((r.get(0), rows::decision_from_json(r.get(1))?))).collect()
    }

    fn live_decisions_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        after: Option<(DateTime<Utc>, i64)>,
        n: usize,
    ) -> Result<Vec<(i64, Decision)>> {
        let (after_at, after_seq) = after.unwrap_or((from, i64::MIN));
        let rows = self.read()?.query(
            "SELECT seq, body::text FROM decisions
             WHERE NOT shadow AND decided_at >= $1 AND decided_at < $2 AND (decided_at, seq) > ($3, $4)
             ORDER BY decided_at, seq LIMIT $5",
            &[&from, &to, &after_at, &after_seq, &limit(n)],
        )?;
        rows.iter().map(|r| Ok((r.get(0), rows::decision_from_json(r.get(1))?))).collect()
    }

    fn rule_hits(&self) -> Result<Vec<RuleHits>> {
        let rows = self.read()?.query(
            "SELECT rule_id, count(*) FILTER (WHERE NOT shadow), count(*) FILTER (WHERE shadow)
             FROM decisions GROUP BY rule_id ORDER BY rule_id",
            &[],
        )?;
        rows.iter()
            .map(|r| {
                Ok(RuleHits {
                    rule_id: r.get(0),
                    live: u64_from_db(r.get(1), "decision count")?,
                    shadow: u64_from_db(r.get(2), "decision count")?,
                })
            })
            .collect()
    }

    fn active_policy(&self) -> Result<Option<PolicyVersion>> {
        let row = self.read()?.query_opt(
            "SELECT version, source, text, activated_at, activated_by FROM policy_versions ORDER BY seq DESC LIMIT 1",
            &[],
        )?;
        Ok(row.as_ref().map(policy_version_row))
    }

    fn policy_versions(&self) -> Result<Vec<PolicyVersion>> {
        let rows = self
            .read()?
            .query("SELECT version, source, '', activated_at, activated_by FROM policy_versions ORDER BY seq", &[])?;
        Ok(rows.iter().map(policy_version_row).collect())
    }

    fn tripped_breakers(&self) -> Result<Vec<TrippedBreaker>> {
        let rows = self.read()?.query("SELECT rule_id, tripped_at, detail FROM rule_breakers ORDER BY rule_id", &[])?;
        Ok(rows.iter().map(|r| TrippedBreaker { rule_id: r.get(0), tripped_at: r.get(1), detail: r.get(2) }).collect())
    }

    fn decision(&self, id: &str) -> Result<Option<Decision>> {
        let row = self.read()?.query_opt("SELECT body::text FROM decisions WHERE id = $1", &[&id])?;
        row.map(|r| rows::decision_from_json(r.get(0))).transpose()
    }

    fn restrictions_for(&self, account_id: &str) -> Result<Vec<Restriction>> {
        let sql = format!("SELECT {RESTRICTION_COLUMNS} FROM restrictions WHERE account_id = $1 ORDER BY seq");
        self.read()?.query(&sql, &[&account_id])?.iter().map(restriction_row).collect()
    }

    fn credits_for(&self, account_id: &str) -> Result<Vec<CreditEntry>> {
        let sql = format!("SELECT {CREDIT_COLUMNS} FROM credits WHERE account_id = $1 ORDER BY seq");
        self.read()?.query(&sql, &[&account_id])?.iter().map(credit_row).collect()
    }

    fn enforcement_in_force(&self, at: DateTime<Utc>) -> Result<(Vec<Restriction>, Vec<CreditEntry>)> {
        let mut client = self.read()?;
        // One snapshot for both lists.
        let mut tx =
            client.build_transaction().isolation_level(IsolationLevel::RepeatableRead).read_only(true).start()?;
        let restrictions = tx
            .query(
                &format!(
                    "SELECT {RESTRICTION_COLUMNS} FROM restrictions WHERE end_at IS NULL OR end_at > $1 ORDER BY seq"
                ),
                &[&at],
            )?
            .iter()
            .map(restriction_row)
            .collect::<Result<Vec<_>>>()?;
        let credits = tx
            .query(
                &format!(
                    "SELECT {CREDIT_COLUMNS} FROM credits WHERE restores_at IS NULL OR restores_at > $1 ORDER BY seq"
                ),
                &[&at],
            )?
            .iter()
            .map(credit_row)
            .collect::<Result<Vec<_>>>()?;
        tx.commit()?;
        Ok((restrictions, credits))
    }

    fn insert_key(&self, key: &ApiKey) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO api_keys (id, hash, role, created_at) VALUES ($1, $2, $3, $4)",
                &[&key.id, &key.hash, &key.role.as_str(), &key.created_at],
            )?;
            append_audit(tx, &Chain::root(), &[rows::key_audit(key)])
        })
    }

    fn key_by_hash(&self, hash: &str) -> Result<Option<ApiKey>> {
        let row = self.read()?.query_opt(&format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE hash = $1"), &[&hash])?;
        row.as_ref().map(key_row).transpose()
    }

    fn keys(&self) -> Result<Vec<ApiKey>> {
        let rows = self.read()?.query(&format!("SELECT {KEY_COLUMNS} FROM api_keys ORDER BY created_at, id"), &[])?;
        rows.iter().map(key_row).collect()
    }

    fn revoke_key(&self, id: &str, at: DateTime<Utc>) -> Result<Option<ApiKey>> {
        self.write(|tx| {
            let revoked =
                tx.execute("UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL", &[&id, &at])?;
            let key = tx
                .query_opt(&format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE id = $1"), &[&id])?
                .as_ref()
                .map(key_row)
                .transpose()?;
            if let (1, Some(key)) = (revoked, &key) {
                append_audit(tx, &Chain::root(), &[rows::key_audit(key)])?;
            }
            Ok(key)
        })
    }

    fn chain_entries(&self, chain: &Chain, after: u64, n: usize) -> Result<Vec<AuditEntry>> {
        let after = i64::try_from(after).unwrap_or(i64::MAX);
        let rows = self.read()?.query(
            &format!("SELECT {AUDIT_COLUMNS} FROM audit WHERE chain = $3 AND seq > $1 ORDER BY seq LIMIT $2"),
            &[&after, &limit(n), &chain.as_str()],
        )?;
        rows.iter().map(audit_row).collect()
    }

    fn audit_head(&self) -> Result<Option<AuditEntry>> {
        root_head(&mut *self.read()?)
    }

    fn chain_heads(&self) -> Result<Vec<ChainHead>> {
        chain_heads(&mut *self.read()?)
    }

    fn chains(&self) -> Result<Vec<Chain>> {
        let mut client = self.read()?;
        let mut out = std::collections::BTreeSet::new();
        for table in chains::CHAINED_TABLES {
            for row in client.query(&chains::distinct_chains_sql(table), &[])? {
                out.insert(Chain::named(row.get::<_, String>(0)));
            }
        }
        Ok(out.into_iter().collect())
    }

    fn checkpoint_chains(&self, at: DateTime<Utc>) -> Result<Option<AuditEntry>> {
        // The root's lock: no partition writer holds a head, and none moves one until the end.
        self.write(|tx| {
            let Some(record) = chains::checkpoint_record(&chain_heads(tx)?, at) else { return Ok(None) };
            append_audit(tx, &Chain::root(), [&record])?;
            root_head(tx)
        })
    }

    fn table_rows(&self, table: Table, chain: &Chain, after: i64, n: usize) -> Result<Vec<TableRow>> {
        table_rows(&mut *self.read()?, table, chain, after, n)
    }

    fn group_members(&self, kind: &str, group_id: &str, n: usize) -> Result<Vec<GroupMember>> {
        let rows = self.read()?.query(
            "SELECT post_id, account_id, at FROM group_members WHERE kind = $1 AND group_id = $2
             ORDER BY at, seq LIMIT $3",
            &[&kind, &group_id, &limit(n)],
        )?;
        Ok(rows.iter().map(|r| GroupMember { post_id: r.get(0), account_id: r.get(1), at: r.get(2) }).collect())
    }

    fn case(&self, id: &str) -> Result<Option<Case>> {
        review::postgres::case(&mut *self.read()?, id)
    }

    fn open_case(&self, subject: &Subject) -> Result<Option<Case>> {
        review::postgres::open_case(&mut *self.read()?, subject.kind.as_str(), &subject.id)
    }

    fn claimable_cases(&self, queue: &str, at: DateTime<Utc>, n: usize) -> Result<Vec<Case>> {
        review::postgres::claimable(&mut *self.read()?, queue, at, n)
    }

    fn cases(&self, queue: Option<&str>, state: Option<CaseState>, n: usize) -> Result<Vec<Case>> {
        review::postgres::cases(&mut *self.read()?, queue, state, n)
    }

    fn subject_cases(&self, subject: &Subject, n: usize) -> Result<Vec<Case>> {
        review::postgres::subject_cases(&mut *self.read()?, subject.kind.as_str(), &subject.id, n)
    }

    fn queue_counts(&self) -> Result<Vec<QueueCount>> {
        review::postgres::queue_counts(&mut *self.read()?)
    }

    fn case_entries(&self, case_id: &str) -> Result<Vec<CaseEntry>> {
        review::postgres::entries(&mut *self.read()?, case_id)
    }

    fn case_reports(&self, case_id: &str) -> Result<Vec<CaseReport>> {
        review::postgres::reports(&mut *self.read()?, case_id)
    }

    fn case_report(&self, id: &str) -> Result<Option<CaseReport>> {
        review::postgres::report(&mut *self.read()?, id)
    }

    fn reporter_standing(&self, reporter_id: &str) -> Result<ReporterStanding> {
        let (upheld, dismissed, mute) = review::postgres::reporter(&mut *self.read()?, reporter_id)?;
        Ok(ReporterStanding::new(reporter_id, upheld, dismissed, mute.map(|m| m.until)))
    }

    fn appeal(&self, id: &str) -> Result<Option<AppealFiled>> {
        review::postgres::appeal(&mut *self.read()?, id)
    }

    fn appeals_for(&self, decision_id: &str) -> Result<Vec<AppealFiled>> {
        review::postgres::appeals_for(&mut *self.read()?, decision_id)
    }

    fn reversal(&self, decision_id: &str) -> Result<Option<Reversal>> {
        review::postgres::reversal(&mut *self.read()?, decision_id)
    }

    fn reversals(&self, account_id: Option<&str>) -> Result<Vec<Reversal>> {
        review::postgres::reversals(&mut *self.read()?, account_id)
    }

    fn reversals_since(&self, at: DateTime<Utc>) -> Result<Vec<Reversal>> {
        review::postgres::reversals_since(&mut *self.read()?, at)
    }

    fn account_states(&self, ids: &[&str], at: DateTime<Utc>) -> Result<AccountStates> {
        let mut client = self.read()?;
        // One snapshot for the four lists, one query each for all the accounts.
        let mut tx =
            client.build_transaction().isolation_level(IsolationLevel::RepeatableRead).read_only(true).start()?;
        let accounts = tx
            .query(
                "SELECT kind, id, account_id, body, deleted, updated_at FROM entities WHERE kind = 'account' AND id = ANY($1)",
                &[&ids],
            )?
            .iter()
            .map(entity_row)
            .collect();
        let sql = format!(
            "SELECT {RESTRICTION_COLUMNS} FROM restrictions WHERE account_id = ANY($1) AND (end_at IS NULL OR end_at > $2) ORDER BY seq"
        );
        let restrictions = tx.query(&sql, &[&ids, &at])?.iter().map(restriction_row).collect::<Result<_>>()?;
        let sql = format!(
            "SELECT {CREDIT_COLUMNS} FROM credits WHERE account_id = ANY($1) AND (restores_at IS NULL OR restores_at > $2) ORDER BY seq"
        );
        let credits = tx.query(&sql, &[&ids, &at])?.iter().map(credit_row).collect::<Result<_>>()?;
        let reversals = review::postgres::reversals_of(&mut tx, ids)?;
        tx.commit()?;
        Ok(AccountStates { accounts, restrictions, credits, reversals })
    }

    fn latest_event_at(&self) -> Result<Option<DateTime<Utc>>> {
        Ok(self.read()?.query_one("SELECT max(at) FROM events", &[])?.get(0))
    }

    fn events_since(
        &self,
        at: DateTime<Utc>,
        after: i64,
        n: usize,
        chains: &[Chain],
    ) -> Result<Vec<(i64, StoredEvent)>> {
        let rows = if chains.is_empty() {
            self.read()?.query(
                "SELECT seq, id, type, at, body FROM events WHERE at >= $1 AND seq > $2 ORDER BY seq LIMIT $3",
                &[&at, &after, &limit(n)],
            )?
        } else {
            let chains: Vec<&str> = chains.iter().map(Chain::as_str).collect();
            self.read()?.query(
                "SELECT seq, id, type, at, body FROM events WHERE chain = ANY($4) AND at >= $1 AND seq > $2
                 ORDER BY seq LIMIT $3",
                &[&at, &after, &limit(n), &chains],
            )?
        };
        Ok(rows
            .iter()
            .map(|r| (r.get(0), StoredEvent { id: r.get(1), event_type: r.get(2), at: r.get(3), body: r.get(4) }))
            .collect())
    }

    fn notices_for(&self, recipient: &str, n: usize) -> Result<Vec<StoredNotice>> {
        outbox::notices_for(&mut *self.read()?, recipient, n)
    }

    fn due_notices(&self, now: DateTime<Utc>, audiences: &[Audience], n: usize) -> Result<Vec<StoredNotice>> {
        outbox::due(&mut *self.read()?, now, audiences, n)
    }

    fn notice_delivered(&self, id: &str, at: DateTime<Utc>) -> Result<()> {
        outbox::delivered(&mut *self.write_alone()?, id, at)
    }

    fn notice_failed(&self, id: &str, attempts: u32, next: DateTime<Utc>, error: &str, dead: bool) -> Result<()> {
        outbox::failed(&mut *self.write_alone()?, id, attempts, next, error, dead)
    }

    fn dead_notices(&self, n: usize) -> Result<Vec<StoredNotice>> {
        outbox::dead(&mut *self.read()?, n)
    }

    fn replay_notice(&self, id: &str, now: DateTime<Utc>) -> Result<Option<(bool, StoredNotice)>> {
        outbox::replay(&mut *self.write_alone()?, id, now)
    }

    fn notice_backlog(&self) -> Result<u64> {
        outbox::backlog(&mut *self.read()?)
    }

    fn transparency_counts(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<TransparencyCounts> {
        transparency::postgres::counts(&mut *self.read()?, from, to)
    }

    fn resolved_cases(&self, from: DateTime<Utc>, to: DateTime<Utc>, n: usize) -> Result<Vec<Case>> {
        transparency::postgres::resolved_cases(&mut *self.read()?, from, to, n)
    }
}
