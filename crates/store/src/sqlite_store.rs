//! The embedded SQLite backend: one file, `steward.db`, in the data directory.
//!
//! The database runs in WAL mode with `synchronous=NORMAL`: a commit survives the process
//! crashing or being killed (SIGKILL) at any point, but a power loss or OS crash may drop
//! the last few commits (never corrupting the file). Writes go through one connection
//! behind a mutex and `BEGIN IMMEDIATE`, so writers in other processes (such as
//! `steward keys create`) queue behind it for up to [`BUSY_TIMEOUT`]. Reads use their own
//! connections and never wait behind a write.
//!
//! A new database has 16 KiB pages ([`SqliteStore::PAGE_SIZE`]).
//!
//! Times are stored as integer microseconds since the Unix epoch (UTC); sub-microsecond
//! precision is dropped, as in PostgreSQL.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::mpsc::RecvTimeoutError;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::types::ToSql;
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, Statement, Transaction, TransactionBehavior, params};
use steward_model::{
    AppealFiled, Audience, Case, CaseEntry, CaseReport, CaseState, CreditEntry, Decision, GroupMember, QueueCount,
    ReporterStanding, Restriction, Reversal, StoredNotice, Subject,
};

use crate::audit::{self, AuditEntry, AuditRecord};
use crate::chains::{self, Chain, ChainHead};
use crate::coverage::{self, Covered, DecisionRow, Table, TableRow};
use crate::outbox::sqlite as outbox;
use crate::review;
use crate::rows::{self, u32_from_db, u64_from_db};
use crate::transparency::{self, TransparencyCounts};
use crate::{
    ApiKey, Batch, BreakerChange, EntityRow, PolicyVersion, Result, RuleHits, Store, StoreError, StoredEvent,
    TrippedBreaker, migrations,
};

/// How long a statement waits for a lock held by another connection or process.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Idle reader connections kept open; more are opened when reads run in parallel.
const IDLE_READERS: usize = 4;

const STATEMENT_CACHE: usize = 64;

/// The SQLite store. Cheap to share between threads.
pub struct SqliteStore {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    /// Dropped with the store, which stops the checkpointing thread.
    _checkpoints: std::sync::mpsc::Sender<()>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").field("path", &self.path).finish_non_exhaustive()
    }
}

pub(crate) fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

pub(crate) fn time(v: i64) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp_micros(v).ok_or_else(|| StoreError::Corrupt(format!("time out of range: {v}")))
}

pub(crate) fn opt_time(v: Option<i64>) -> Result<Option<DateTime<Utc>>> {
    v.map(time).transpose()
}

pub(crate) fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// How often the WAL is checkpointed (see [`SqliteStore::checkpoint_in_background`]).
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);

impl SqliteStore {
    /// Bytes per database page of a new store. Each commit writes every page it touched to the
    /// WAL, and the checkpoint copies them into the database, one page per system call: with
    /// 16 KiB pages instead of 4 KiB, a flood of decisions (mostly long rows appended) costs
    /// the committing thread 30% less time (100,000-post flood: system 1.5 → 0.9 s, user
    /// 2.1 → 1.8 s per 50,000 posts), and the real replay 15% less.
    pub const PAGE_SIZE: i64 = 16384;

    /// Opens (creating if needed) `steward.db` in `data_dir` (created if missing) and
    /// applies pending migrations.
    pub fn open(data_dir: &Path) -> Result<SqliteStore> {
        std::fs::create_dir_all(data_dir)
            .map_err(|source| StoreError::DataDir { path: data_dir.display().to_string(), source })?;
        let path = data_dir.join("steward.db");
        let mut writer = Connection::open(&path)?;
        writer.busy_timeout(BUSY_TIMEOUT)?;
        // Takes effect only while the file is new (before WAL mode and the first table): an
        // existing store keeps the page size it was made with.
        writer.pragma_update(None, "page_size", Self::PAGE_SIZE)?;
        let mode: String = writer.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Corrupt(format!("{} cannot use WAL mode (got {mode})", path.display())));
        }
        writer.pragma_update(None, "synchronous", "NORMAL")?;
        writer.pragma_update(None, "cache_size", -65536)?; // 64 MiB
        writer.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        migrations::apply_sqlite(&mut writer)?;
        let checkpoints = Self::checkpoint_in_background(&path, &writer)?;
        let store = SqliteStore {
            path,
            writer: Mutex::new(writer),
            readers: Mutex::new(Vec::new()),
            _checkpoints: checkpoints,
        };
        // Open one reader now, so a problem shows at start rather than on the first read.
        let reader = store.open_reader()?;
        store.idle_readers().push(reader);
        Ok(store)
    }

    /// Copies the WAL into the database on a thread of its own, every [`CHECKPOINT_EVERY`],
    /// instead of inside whichever commit crosses SQLite's threshold: that commit would take
    /// tens of milliseconds longer, and every request waiting on it too. A passive
    /// checkpoint runs beside the writer and readers without waiting for them. The thread
    /// stops, after a last checkpoint, when the returned sender is dropped.
    fn checkpoint_in_background(path: &Path, writer: &Connection) -> Result<std::sync::mpsc::Sender<()>> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        writer.pragma_update(None, "wal_autocheckpoint", 0)?;
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let spawned = std::thread::Builder::new().name("steward-checkpoint".into()).spawn(move || {
            loop {
                let last = matches!(stopped.recv_timeout(CHECKPOINT_EVERY), Err(RecvTimeoutError::Disconnected));
                if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                    tracing::warn!("checkpointing the WAL: {e}");
                }
                if last {
                    return;
                }
            }
        });
        if let Err(e) = spawned {
            // Without the thread, SQLite checkpoints inside commits as it would by default.
            tracing::warn!("cannot start the checkpointing thread ({e}); commits checkpoint instead");
            writer.pragma_update(None, "wal_autocheckpoint", 1000)?;
        }
        Ok(stop)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn open_reader(&self) -> Result<Connection> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
        let conn = Connection::open_with_flags(&self.path, flags)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(conn)
    }

    fn idle_readers(&self) -> MutexGuard<'_, Vec<Connection>> {
        self.readers.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn writer(&self) -> MutexGuard<'_, Connection> {
        // A panic inside a transaction rolled it back when the transaction dropped, so the
        // connection is usable after poisoning.
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` on a reader connection: an idle one, or a new one when all are busy.
    fn read<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T>) -> Result<T> {
        let idle = self.idle_readers().pop();
        let mut conn = match idle {
            Some(c) => c,
            None => self.open_reader()?,
        };
        let out = f(&mut conn);
        if !conn.is_autocommit() {
            // A failed read left a transaction open; do not reuse the connection.
            return out;
        }
        let mut idle = self.idle_readers();
        if idle.len() < IDLE_READERS {
            idle.push(conn);
        }
        out
    }
}

/// Rows per multi-row `INSERT`: one statement to step, and one set of cursors to open and
/// close, for this many rows instead of one each.
const ROWS_PER_INSERT: usize = 32;

/// Binds one row's values, in column order, to the next parameters of a statement.
pub(crate) struct Binder<'s, 'c> {
    stmt: &'s mut Statement<'c>,
    next: usize,
}

impl Binder<'_, '_> {
    pub(crate) fn bind(&mut self, value: impl ToSql) -> rusqlite::Result<()> {
        self.next += 1;
        self.stmt.raw_bind_parameter(self.next, value)
    }
}

/// `INSERT INTO table (columns) VALUES (?, ...), ... tail` for `rows` rows.
fn insert_sql(into: &str, columns: usize, rows: usize, tail: &str) -> String {
    let tuple = format!("({})", vec!["?"; columns].join(", "));
    format!("{into} VALUES {} {tail}", vec![tuple; rows].join(", "))
}

/// Inserts `rows` in order through `INSERT` statements of [`ROWS_PER_INSERT`] rows (the
/// rest one by one), each kept prepared; `bind` binds one row's `columns` values. Returns
/// the rows inserted or updated.
pub(crate) fn insert_rows<T>(
    tx: &Transaction<'_>,
    into: &str,
    columns: usize,
    tail: &str,
    rows: &[T],
    bind: impl Fn(&mut Binder<'_, '_>, &T) -> rusqlite::Result<()>,
) -> Result<usize> {
    let mut changed = 0;
    let full = rows.len() - rows.len() % ROWS_PER_INSERT;
    if full > 0 {
        let mut stmt = tx.prepare_cached(&insert_sql(into, columns, ROWS_PER_INSERT, tail))?;
        for chunk in rows[..full].chunks(ROWS_PER_INSERT) {
            let mut binder = Binder { stmt: &mut stmt, next: 0 };
            for row in chunk {
                bind(&mut binder, row)?;
            }
            changed += stmt.raw_execute()?;
        }
    }
    if full < rows.len() {
        let mut stmt = tx.prepare_cached(&insert_sql(into, columns, 1, tail))?;
        for row in &rows[full..] {
            bind(&mut Binder { stmt: &mut stmt, next: 0 }, row)?;
            changed += stmt.raw_execute()?;
        }
    }
    Ok(changed)
}

/// The root chain's last entry.
fn head(tx: &Connection) -> Result<Option<AuditEntry>> {
    let sql = format!("SELECT {AUDIT_COLUMNS} FROM audit WHERE chain = '' ORDER BY seq DESC LIMIT 1");
    Ok(collect(tx, &sql, [], audit_row)?.pop())
}

fn chain_heads(conn: &Connection) -> Result<Vec<ChainHead>> {
    collect(conn, chains::HEADS_SQL, [], |r| chains::head_from_db(r.get(0)?, r.get(1)?, r.get(2)?))
}

/// Reads the head of `chain` and appends `records`, inside the caller's transaction.
pub(crate) fn append_audit<'a>(
    tx: &Transaction<'_>,
    chain: &Chain,
    records: impl IntoIterator<Item = &'a AuditRecord>,
) -> Result<()> {
    let mut records = records.into_iter().peekable();
    if records.peek().is_none() {
        return Ok(());
    }
    let head = tx
        .prepare_cached("SELECT seq, hash FROM audit WHERE chain = ?1 ORDER BY seq DESC LIMIT 1")?
        .query_row([chain.as_str()], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
        .optional()?;
    let head = match head {
        Some((seq, hash)) => Some((u64_from_db(seq, "audit seq")?, hash)),
        None => None,
    };
    let entries = audit::chain(head, records);
    if entries.last().is_some_and(|e| i64::try_from(e.seq).is_err()) {
        return Err(StoreError::Corrupt("audit seq overflow".into()));
    }
    let into = "INSERT INTO audit (chain, seq, at, action, subject, body, prev_hash, hash)";
    insert_rows(tx, into, 8, "", &entries, |b, e| {
        b.bind(chain.as_str())?;
        b.bind(e.seq as i64)?;
        b.bind(micros(e.at))?;
        b.bind(&e.action)?;
        b.bind(&e.subject)?;
        b.bind(&e.body)?;
        b.bind(&e.prev_hash)?;
        b.bind(&e.hash)
    })?;
    Ok(())
}

const AUDIT_COLUMNS: &str = "seq, at, action, subject, body, prev_hash, hash";

fn audit_row(r: &Row<'_>) -> Result<AuditEntry> {
    Ok(AuditEntry {
        seq: u64_from_db(r.get(0)?, "audit seq")?,
        at: time(r.get(1)?)?,
        action: r.get(2)?,
        subject: r.get(3)?,
        body: r.get(4)?,
        prev_hash: r.get(5)?,
        hash: r.get(6)?,
    })
}

/// Rows of a covered table on `chain` with `seq > after`, in order, at most `n`.
pub(crate) fn table_rows(c: &Connection, table: Table, chain: &Chain, after: i64, n: usize) -> Result<Vec<TableRow>> {
    let (on_chain, name) = chains::row_condition(chain, "?3");
    let n = limit(n);
    let mut params: Vec<&dyn ToSql> = vec![&after, &n];
    params.extend(name.as_ref().map(|name| name as &dyn ToSql));
    let params = params.as_slice();
    match table {
        Table::Events => collect(
            c,
            &format!("SELECT seq, id, type, at, body FROM events WHERE {on_chain} AND seq > ?1 ORDER BY seq LIMIT ?2"),
            params,
            |r| {
                let event = StoredEvent { id: r.get(1)?, event_type: r.get(2)?, at: time(r.get(3)?)?, body: r.get(4)? };
                Ok(TableRow::Event { seq: r.get(0)?, event })
            },
        ),
        Table::Decisions => collect(
            c,
            &format!(
                "SELECT seq, id, event_id, account_id, post_id, rule_id, decided_at, body, shadow FROM decisions
                 WHERE {on_chain} AND seq > ?1 ORDER BY seq LIMIT ?2"
            ),
            params,
            |r| {
                Ok(TableRow::Decision(DecisionRow {
                    seq: r.get(0)?,
                    id: r.get(1)?,
                    event_id: r.get(2)?,
                    account_id: r.get(3)?,
                    post_id: r.get(4)?,
                    rule_id: r.get(5)?,
                    decided_at: time(r.get(6)?)?,
                    body: r.get(7)?,
                    shadow: r.get(8)?,
                }))
            },
        ),
        Table::Restrictions => collect(
            c,
            &format!(
                "SELECT {RESTRICTION_COLUMNS}, seq FROM restrictions WHERE {on_chain} AND seq > ?1 ORDER BY seq LIMIT ?2"
            ),
            params,
            |r| Ok(TableRow::Restriction { seq: r.get(7)?, restriction: restriction_row(r)? }),
        ),
        Table::Credits => collect(
            c,
            &format!("SELECT {CREDIT_COLUMNS}, seq FROM credits WHERE {on_chain} AND seq > ?1 ORDER BY seq LIMIT ?2"),
            params,
            |r| Ok(TableRow::Credit { seq: r.get(5)?, credit: credit_row(r)? }),
        ),
    }
}

/// Covers the rows already stored with one `rows.adopted` entry (see [`coverage`]), inside
/// the migration's transaction.
pub(crate) fn adopt_rows(tx: &Transaction<'_>) -> Result<()> {
    let root = Chain::root();
    let record = coverage::adopt(|table, after, n| table_rows(tx, table, &root, after, n))?;
    append_audit(tx, &root, record.as_ref())
}

fn entity_row(row: &Row<'_>) -> Result<EntityRow> {
    let kind: String = row.get(0)?;
    Ok(EntityRow {
        kind: rows::entity_kind(&kind),
        id: row.get(1)?,
        account_id: row.get(2)?,
        body: row.get(3)?,
        deleted: row.get(4)?,
        updated_at: time(row.get(5)?)?,
    })
}

fn restriction_row(row: &Row<'_>) -> Result<Restriction> {
    let kind: String = row.get(3)?;
    Ok(Restriction {
        decision_id: row.get(0)?,
        account_id: row.get(1)?,
        post_id: row.get(2)?,
        kind: rows::restriction_kind(&kind)?,
        detail: row.get(4)?,
        start: time(row.get(5)?)?,
        end: opt_time(row.get(6)?)?,
    })
}

fn credit_row(row: &Row<'_>) -> Result<CreditEntry> {
    Ok(CreditEntry {
        decision_id: row.get(0)?,
        account_id: row.get(1)?,
        at: time(row.get(2)?)?,
        points: u32_from_db(row.get(3)?, "credit points")?,
        restores_at: opt_time(row.get(4)?)?,
    })
}

fn key_row(row: &Row<'_>) -> Result<ApiKey> {
    Ok(ApiKey {
        id: row.get(0)?,
        hash: row.get(1)?,
        role: rows::role(&row.get::<_, String>(2)?)?,
        created_at: time(row.get(3)?)?,
        revoked_at: opt_time(row.get(4)?)?,
    })
}

/// Runs a prepared query and converts every row with `f`.
pub(crate) fn collect<T, P: rusqlite::Params>(
    conn: &Connection,
    sql: &str,
    params: P,
    f: impl Fn(&Row<'_>) -> Result<T>,
) -> Result<Vec<T>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(params)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(f(row)?);
    }
    Ok(out)
}

fn upsert_entities(tx: &Transaction<'_>, rows: &[EntityRow]) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    // Rows are applied in order, within a statement too: a later row for the same entity
    // updates the one before.
    insert_rows(
        tx,
        "INSERT INTO entities (kind, id, account_id, body, deleted, updated_at)",
        6,
        "ON CONFLICT (kind, id) DO UPDATE SET account_id = excluded.account_id, body = excluded.body,
             deleted = excluded.deleted, updated_at = excluded.updated_at",
        rows,
        |b, r| {
            b.bind(r.kind)?;
            b.bind(&r.id)?;
            b.bind(&r.account_id)?;
            b.bind(&r.body)?;
            b.bind(r.deleted)?;
            b.bind(micros(r.updated_at))
        },
    )?;
    Ok(())
}

fn write_groups(tx: &Transaction<'_>, batch: &Batch) -> Result<()> {
    for g in &batch.groups {
        upsert_entities(tx, &[rows::group_summary(g)])?;
        for old in &g.absorbed {
            tx.prepare_cached("UPDATE group_members SET group_id = ?1 WHERE kind = ?2 AND group_id = ?3")?
                .execute(params![g.id, g.kind, old])?;
            tx.prepare_cached(
                "UPDATE entities SET deleted = 1, body = ?1, updated_at = ?2 WHERE kind = ?3 AND id = ?4",
            )?
            .execute(params![rows::merged_body(old, &g.id), micros(g.at), g.kind, old])?;
        }
        let mut insert = tx.prepare_cached(
            "INSERT INTO group_members (kind, group_id, post_id, account_id, at) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (kind, post_id) DO UPDATE SET group_id = excluded.group_id",
        )?;
        for m in &g.joined {
            insert.execute(params![g.kind, g.id, m.post_id, m.account_id, micros(m.at)])?;
        }
    }
    Ok(())
}

fn write_policy_changes(tx: &Transaction<'_>, batch: &Batch) -> Result<()> {
    for p in &batch.policies {
        tx.prepare_cached(
            "INSERT INTO policy_versions (version, source, text, activated_at, activated_by) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![p.version, p.source, p.text, micros(p.activated_at), p.activated_by])?;
    }
    for change in &batch.breakers {
        match change {
            BreakerChange::Tripped(b) => tx
                .prepare_cached(
                    "INSERT INTO rule_breakers (rule_id, tripped_at, detail) VALUES (?1, ?2, ?3)
                     ON CONFLICT (rule_id) DO NOTHING",
                )?
                .execute(params![b.rule_id, micros(b.tripped_at), b.detail])?,
            BreakerChange::Rearmed { rule_id } => {
                tx.prepare_cached("DELETE FROM rule_breakers WHERE rule_id = ?1")?.execute([rule_id])?
            }
        };
    }
    Ok(())
}

fn policy_version_row(r: &Row<'_>) -> Result<PolicyVersion> {
    Ok(PolicyVersion {
        version: r.get(0)?,
        source: r.get(1)?,
        text: r.get(2)?,
        activated_at: time(r.get(3)?)?,
        activated_by: r.get(4)?,
    })
}

const RESTRICTION_COLUMNS: &str = "decision_id, account_id, post_id, kind, detail, start_at, end_at";
const CREDIT_COLUMNS: &str = "decision_id, account_id, at, points, restores_at";
const KEY_COLUMNS: &str = "id, hash, role, created_at, revoked_at";

impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    fn existing_event_ids(&self, ids: &[&str]) -> Result<HashSet<String>> {
        self.read(|conn| {
            // One read transaction for all the lookups: one snapshot, and the WAL read lock
            // taken once instead of once per id.
            let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
            let mut found = HashSet::new();
            {
                let mut stmt = tx.prepare_cached("SELECT 1 FROM events WHERE id = ?1")?;
                for id in ids {
                    if stmt.exists([id])? {
                        found.insert(id.to_string());
                    }
                }
            }
            tx.commit()?;
            Ok(found)
        })
    }

    fn commit(&self, batch: &Batch) -> Result<usize> {
        if batch.is_empty() {
            return Ok(0);
        }
        let mut conn = self.writer();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        crate::fence::check_sqlite(&tx, &batch.fences)?;
        let events: Vec<_> = chains::item_chains(batch, |o| o.events, batch.events.len()).zip(&batch.events).collect();
        let new_events = insert_rows(
            &tx,
            "INSERT INTO events (id, type, at, body, chain)",
            5,
            "ON CONFLICT (id) DO NOTHING",
            &events,
            |b, (chain, e)| {
                b.bind(&e.id)?;
                b.bind(&e.event_type)?;
                b.bind(micros(e.at))?;
                b.bind(&e.body)?;
                b.bind(chain.as_str())
            },
        )?;
        let mut covered = Covered::default();
        if new_events == batch.events.len() {
            covered.events(batch, None);
        } else {
            // Some were stored already: cover the rows this commit added (one writer: the
            // last ones).
            let n = i64::try_from(new_events).unwrap_or(i64::MAX);
            let stored =
                collect(&tx, "SELECT id FROM events ORDER BY seq DESC LIMIT ?1", [n], |r| Ok(r.get::<_, String>(0)?))?;
            covered.events(batch, Some(&stored.into_iter().collect()));
        }
        upsert_entities(&tx, &batch.entities)?;
        let referenced = rows::referenced_decisions(batch);
        if !referenced.is_empty() {
            let mut existing = HashSet::new();
            {
                let mut stmt = tx.prepare_cached("SELECT 1 FROM decisions WHERE id = ?1")?;
                for id in referenced {
                    if stmt.exists([id])? {
                        existing.insert(id.to_string());
                    }
                }
            }
            let new = rows::new_rows(batch, &existing);
            let bodies = new.decisions.iter().map(|(_, d)| rows::decision_json(d)).collect::<Result<Vec<_>>>()?;
            let decisions: Vec<_> = new.decisions.iter().zip(&bodies).collect();
            decisions.iter().for_each(|((chain, d), body)| covered.on(chain).decision(d, body));
            new.restrictions.iter().for_each(|(chain, r)| covered.on(chain).restriction(r));
            new.credits.iter().for_each(|(chain, c)| covered.on(chain).credit(c));
            insert_rows(
                &tx,
                "INSERT INTO decisions (id, event_id, account_id, post_id, rule_id, decided_at, body, shadow, chain)",
                9,
                "",
                &decisions,
                |b, ((chain, d), body)| {
                    b.bind(&d.id)?;
                    b.bind(&d.event_id)?;
                    b.bind(&d.account_id)?;
                    b.bind(&d.post_id)?;
                    b.bind(&d.rule_id)?;
                    b.bind(micros(d.decided_at))?;
                    b.bind(body)?;
                    b.bind(d.shadow)?;
                    b.bind(chain.as_str())
                },
            )?;
            insert_rows(
                &tx,
                "INSERT INTO restrictions (decision_id, account_id, post_id, kind, detail, start_at, end_at, chain)",
                8,
                "",
                &new.restrictions,
                |b, (chain, r)| {
                    b.bind(&r.decision_id)?;
                    b.bind(&r.account_id)?;
                    b.bind(&r.post_id)?;
                    b.bind(r.kind.as_str())?;
                    b.bind(&r.detail)?;
                    b.bind(micros(r.start))?;
                    b.bind(r.end.map(micros))?;
                    b.bind(chain.as_str())
                },
            )?;
            insert_rows(
                &tx,
                "INSERT INTO credits (decision_id, account_id, at, points, restores_at, chain)",
                6,
                "",
                &new.credits,
                |b, (chain, c)| {
                    b.bind(&c.decision_id)?;
                    b.bind(&c.account_id)?;
                    b.bind(micros(c.at))?;
                    b.bind(c.points)?;
                    b.bind(c.restores_at.map(micros))?;
                    b.bind(chain.as_str())
                },
            )?;
        }
        write_groups(&tx, batch)?;
        write_policy_changes(&tx, batch)?;
        review::sqlite::write(&tx, &batch.review)?;
        outbox::insert(&tx, &batch.notices)?;
        for (chain, records) in rows::audit_by_chain(batch) {
            append_audit(&tx, &chain, records.into_iter().chain(&covered.record(&chain)))?;
        }
        crate::crash::reach(crate::crash::CrashPoint::InTransaction);
        tx.commit()?;
        Ok(new_events)
    }

    fn event_count(&self) -> Result<u64> {
        self.read(|conn| {
            let n: i64 = conn.prepare_cached("SELECT count(*) FROM events")?.query_row([], |r| r.get(0))?;
            u64_from_db(n, "event count")
        })
    }

    fn event(&self, id: &str) -> Result<Option<StoredEvent>> {
        self.read(|conn| {
            let row = conn
                .prepare_cached("SELECT id, type, at, body FROM events WHERE id = ?1")?
                .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)?, r.get(3)?)))
                .optional()?;
            row.map(|(id, event_type, at, body)| Ok(StoredEvent { id, event_type, at: time(at)?, body })).transpose()
        })
    }

    fn entity(&self, kind: &str, id: &str) -> Result<Option<EntityRow>> {
        self.read(|conn| {
            let rows = collect(
                conn,
                "SELECT kind, id, account_id, body, deleted, updated_at FROM entities WHERE kind = ?1 AND id = ?2",
                params![kind, id],
                entity_row,
            )?;
            Ok(rows.into_iter().next())
        })
    }

    fn entities(&self, kind: &str) -> Result<Vec<EntityRow>> {
        self.read(|conn| {
            collect(
                conn,
                "SELECT kind, id, account_id, body, deleted, updated_at FROM entities WHERE kind = ?1 ORDER BY id",
                [kind],
                entity_row,
            )
        })
    }

    fn recent_entities(&self, kind: &str, n: usize) -> Result<Vec<EntityRow>> {
        self.read(|conn| {
            collect(
                conn,
                "SELECT kind, id, account_id, body, deleted, updated_at FROM entities
                 WHERE kind = ?1 AND deleted = 0 ORDER BY updated_at DESC, id LIMIT ?2",
                params![kind, limit(n)],
                entity_row,
            )
        })
    }

    fn decisions_for(&self, subject: &str, shadow: bool, n: usize) -> Result<Vec<Decision>> {
        self.read(|conn| {
            collect(
                conn,
                "SELECT body FROM decisions WHERE (account_id = ?1 OR post_id = ?1) AND shadow = ?3
                 ORDER BY decided_at DESC, seq DESC LIMIT ?2",
                params![subject, limit(n), shadow],
                |r| rows::decision_from_json(&r.get::<_, String>(0)?),
            )
        })
    }

    fn shadow_decisions(&self, rule_id: Option<&str>, n: usize) -> Result<Vec<Decision>> {
        self.read(|conn| {
            collect(
                conn,
                "SELECT body FROM decisions WHERE shadow = 1 AND (?1 IS NULL OR rule_id = ?1) ORDER BY seq DESC LIMIT ?2",
                params![rule_id, limit(n)],
                |r| rows::decision_from_json(&r.get::<_, String>(0)?),
            )
        })
    }

    fn decisions_after(&self, after: i64, n: usize) -> Result<Vec<(i64, Decision)>> {
        self.read(|conn| {
            collect(
                conn,
                "SELECT seq, body FROM decisions WHERE seq > ?1 ORDER BY seq LIMIT ?2",
                params![after, limit(n)],
                |r| Ok((r.get(0)?, rows::decision_from_json(&r.get::<_, String>(1)?)?)),
            )
        })
    }

    fn live_decisions_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        after: Option<(DateTime<Utc>, i64)>,
        n: usize,
    ) -> Result<Vec<(i64, Decision)>> {
        let (after_at, after_seq) = after.unwrap_or((from, i64::MIN));
        self.read(|conn| {
            collect(
                conn,
                "SELECT seq, body FROM decisions
                 WHERE shadow = 0 AND decided_at >= ?1 AND decided_at < ?2 AND (decided_at, seq) > (?3, ?4)
                 ORDER BY decided_at, seq LIMIT ?5",
                params![micros(from), micros(to), micros(after_at), after_seq, limit(n)],
                |r| Ok((r.get(0)?, rows::decision_from_json(&r.get::<_, String>(1)?)?)),
            )
        })
    }

    fn rule_hits(&self) -> Result<Vec<RuleHits>> {
        self.read(|conn| {
            collect(
                conn,
                "SELECT rule_id, sum(shadow = 0), sum(shadow = 1) FROM decisions GROUP BY rule_id ORDER BY rule_id",
                [],
                |r| {
                    Ok(RuleHits {
                        rule_id: r.get(0)?,
                        live: u64_from_db(r.get(1)?, "decision count")?,
                        shadow: u64_from_db(r.get(2)?, "decision count")?,
                    })
                },
            )
        })
    }

    fn active_policy(&self) -> Result<Option<PolicyVersion>> {
        self.read(|conn| {
            let rows = collect(
                conn,
                "SELECT version, source, text, activated_at, activated_by FROM policy_versions ORDER BY seq DESC LIMIT 1",
                [],
                policy_version_row,
            )?;
            Ok(rows.into_iter().next())
        })
    }

    fn policy_versions(&self) -> Result<Vec<PolicyVersion>> {
        self.read(|conn| {
            collect(
                conn,
                "SELECT version, source, '', activated_at, activated_by FROM policy_versions ORDER BY seq",
                [],
                policy_version_row,
            )
        })
    }

    fn tripped_breakers(&self) -> Result<Vec<TrippedBreaker>> {
        self.read(|conn| {
            collect(conn, "SELECT rule_id, tripped_at, detail FROM rule_breakers ORDER BY rule_id", [], |r| {
                Ok(TrippedBreaker { rule_id: r.get(0)?, tripped_at: time(r.get(1)?)?, detail: r.get(2)? })
            })
        })
    }

    fn decision(&self, id: &str) -> Result<Option<Decision>> {
        self.read(|conn| {
            let body: Option<String> = conn
                .prepare_cached("SELECT body FROM decisions WHERE id = ?1")?
                .query_row([id], |r| r.get(0))
                .optional()?;
            body.map(|b| rows::decision_from_json(&b)).transpose()
        })
    }

    fn restrictions_for(&self, account_id: &str) -> Result<Vec<Restriction>> {
        self.read(|conn| {
            collect(
                conn,
                &format!("SELECT {RESTRICTION_COLUMNS} FROM restrictions WHERE account_id = ?1 ORDER BY seq"),
                [account_id],
                restriction_row,
            )
        })
    }

    fn credits_for(&self, account_id: &str) -> Result<Vec<CreditEntry>> {
        self.read(|conn| {
            collect(
                conn,
                &format!("SELECT {CREDIT_COLUMNS} FROM credits WHERE account_id = ?1 ORDER BY seq"),
                [account_id],
                credit_row,
            )
        })
    }

    fn enforcement_in_force(&self, at: DateTime<Utc>) -> Result<(Vec<Restriction>, Vec<CreditEntry>)> {
        self.read(|conn| {
            // One read transaction, so both lists come from the same snapshot.
            let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
            let restrictions = collect(
                &tx,
                &format!(
                    "SELECT {RESTRICTION_COLUMNS} FROM restrictions WHERE end_at IS NULL OR end_at > ?1 ORDER BY seq"
                ),
                [micros(at)],
                restriction_row,
            )?;
            let credits = collect(
                &tx,
                &format!(
                    "SELECT {CREDIT_COLUMNS} FROM credits WHERE restores_at IS NULL OR restores_at > ?1 ORDER BY seq"
                ),
                [micros(at)],
                credit_row,
            )?;
            tx.commit()?;
            Ok((restrictions, credits))
        })
    }

    fn insert_key(&self, key: &ApiKey) -> Result<()> {
        let mut conn = self.writer();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.prepare_cached("INSERT INTO api_keys (id, hash, role, created_at) VALUES (?1, ?2, ?3, ?4)")?
            .execute(params![key.id, key.hash, key.role.as_str(), micros(key.created_at)])?;
        append_audit(&tx, &Chain::root(), &[rows::key_audit(key)])?;
        tx.commit()?;
        Ok(())
    }

    fn key_by_hash(&self, hash: &str) -> Result<Option<ApiKey>> {
        self.read(|conn| {
            let rows = collect(conn, &format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE hash = ?1"), [hash], key_row)?;
            Ok(rows.into_iter().next())
        })
    }

    fn keys(&self) -> Result<Vec<ApiKey>> {
        self.read(|conn| {
            collect(conn, &format!("SELECT {KEY_COLUMNS} FROM api_keys ORDER BY created_at, id"), [], key_row)
        })
    }

    fn revoke_key(&self, id: &str, at: DateTime<Utc>) -> Result<Option<ApiKey>> {
        let mut conn = self.writer();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let revoked = tx
            .prepare_cached("UPDATE api_keys SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL")?
            .execute(params![id, micros(at)])?;
        let key = collect(&tx, &format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE id = ?1"), [id], key_row)?.pop();
        if let (1, Some(key)) = (revoked, &key) {
            append_audit(&tx, &Chain::root(), &[rows::key_audit(key)])?;
        }
        tx.commit()?;
        Ok(key)
    }

    fn chain_entries(&self, chain: &Chain, after: u64, n: usize) -> Result<Vec<AuditEntry>> {
        let after = i64::try_from(after).unwrap_or(i64::MAX);
        self.read(|conn| {
            collect(
                conn,
                &format!("SELECT {AUDIT_COLUMNS} FROM audit WHERE chain = ?3 AND seq > ?1 ORDER BY seq LIMIT ?2"),
                params![after, limit(n), chain.as_str()],
                audit_row,
            )
        })
    }

    fn chain_heads(&self) -> Result<Vec<ChainHead>> {
        self.read(|conn| chain_heads(conn))
    }

    fn chains(&self) -> Result<Vec<Chain>> {
        self.read(|conn| {
            let mut out = std::collections::BTreeSet::new();
            for table in chains::CHAINED_TABLES {
                let names = collect(conn, &chains::distinct_chains_sql(table), [], |r| Ok(r.get::<_, String>(0)?))?;
                out.extend(names.into_iter().map(Chain::named));
            }
            Ok(out.into_iter().collect())
        })
    }

    fn checkpoint_chains(&self, at: DateTime<Utc>) -> Result<Option<AuditEntry>> {
        let mut conn = self.writer();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let Some(record) = chains::checkpoint_record(&chain_heads(&tx)?, at) else { return Ok(None) };
        append_audit(&tx, &Chain::root(), [&record])?;
        let entry = head(&tx)?;
        tx.commit()?;
        Ok(entry)
    }

    fn audit_head(&self) -> Result<Option<AuditEntry>> {
        self.read(|conn| head(conn))
    }

    fn table_rows(&self, table: Table, chain: &Chain, after: i64, n: usize) -> Result<Vec<TableRow>> {
        self.read(|conn| table_rows(conn, table, chain, after, n))
    }

    fn group_members(&self, kind: &str, group_id: &str, n: usize) -> Result<Vec<GroupMember>> {
        self.read(|conn| {
            collect(
                conn,
                "SELECT post_id, account_id, at FROM group_members WHERE kind = ?1 AND group_id = ?2
                 ORDER BY at, seq LIMIT ?3",
                params![kind, group_id, limit(n)],
                |r| Ok(GroupMember { post_id: r.get(0)?, account_id: r.get(1)?, at: time(r.get(2)?)? }),
            )
        })
    }

    fn case(&self, id: &str) -> Result<Option<Case>> {
        self.read(|c| review::sqlite::case(c, id))
    }

    fn open_case(&self, subject: &Subject) -> Result<Option<Case>> {
        self.read(|c| review::sqlite::open_case(c, subject.kind.as_str(), &subject.id))
    }

    fn claimable_cases(&self, queue: &str, at: DateTime<Utc>, n: usize) -> Result<Vec<Case>> {
        self.read(|c| review::sqlite::claimable(c, queue, at, n))
    }

    fn cases(&self, queue: Option<&str>, state: Option<CaseState>, n: usize) -> Result<Vec<Case>> {
        self.read(|c| review::sqlite::cases(c, queue, state, n))
    }

    fn subject_cases(&self, subject: &Subject, n: usize) -> Result<Vec<Case>> {
        self.read(|c| review::sqlite::subject_cases(c, subject.kind.as_str(), &subject.id, n))
    }

    fn queue_counts(&self) -> Result<Vec<QueueCount>> {
        self.read(|c| review::sqlite::queue_counts(c))
    }

    fn case_entries(&self, case_id: &str) -> Result<Vec<CaseEntry>> {
        self.read(|c| review::sqlite::entries(c, case_id))
    }

    fn case_reports(&self, case_id: &str) -> Result<Vec<CaseReport>> {
        self.read(|c| review::sqlite::reports(c, case_id))
    }

    fn case_report(&self, id: &str) -> Result<Option<CaseReport>> {
        self.read(|c| review::sqlite::report(c, id))
    }

    fn reporter_standing(&self, reporter_id: &str) -> Result<ReporterStanding> {
        let (upheld, dismissed, mute) = self.read(|c| review::sqlite::reporter(c, reporter_id))?;
        Ok(ReporterStanding::new(reporter_id, upheld, dismissed, mute.map(|m| m.until)))
    }

    fn appeal(&self, id: &str) -> Result<Option<AppealFiled>> {
        self.read(|c| review::sqlite::appeal(c, id))
    }

    fn appeals_for(&self, decision_id: &str) -> Result<Vec<AppealFiled>> {
        self.read(|c| review::sqlite::appeals_for(c, decision_id))
    }

    fn reversal(&self, decision_id: &str) -> Result<Option<Reversal>> {
        self.read(|c| review::sqlite::reversal(c, decision_id))
    }

    fn reversals(&self, account_id: Option<&str>) -> Result<Vec<Reversal>> {
        self.read(|c| review::sqlite::reversals(c, account_id))
    }

    fn reversals_since(&self, at: DateTime<Utc>) -> Result<Vec<Reversal>> {
        self.read(|c| review::sqlite::reversals_since(c, micros(at)))
    }

    fn latest_event_at(&self) -> Result<Option<DateTime<Utc>>> {
        self.read(|conn| {
            let at: Option<i64> = conn.prepare_cached("SELECT max(at) FROM events")?.query_row([], |r| r.get(0))?;
            opt_time(at)
        })
    }

    fn events_since(
        &self,
        at: DateTime<Utc>,
        after: i64,
        n: usize,
        chains: &[Chain],
    ) -> Result<Vec<(i64, StoredEvent)>> {
        // Every chain, or those in the JSON array.
        let chains = (!chains.is_empty())
            .then(|| serde_json::json!(chains.iter().map(Chain::as_str).collect::<Vec<_>>()).to_string());
        self.read(|conn| {
            collect(
                conn,
                "SELECT seq, id, type, at, body FROM events
                 WHERE at >= ?1 AND seq > ?2 AND (?4 IS NULL OR chain IN (SELECT value FROM json_each(?4)))
                 ORDER BY seq LIMIT ?3",
                params![micros(at), after, limit(n), chains],
                |r| {
                    let event =
                        StoredEvent { id: r.get(1)?, event_type: r.get(2)?, at: time(r.get(3)?)?, body: r.get(4)? };
                    Ok((r.get(0)?, event))
                },
            )
        })
    }

    fn notices_for(&self, recipient: &str, n: usize) -> Result<Vec<StoredNotice>> {
        self.read(|conn| outbox::notices_for(conn, recipient, n))
    }

    fn due_notices(&self, now: DateTime<Utc>, audiences: &[Audience], n: usize) -> Result<Vec<StoredNotice>> {
        self.read(|conn| outbox::due(conn, now, audiences, n))
    }

    fn notice_delivered(&self, id: &str, at: DateTime<Utc>) -> Result<()> {
        outbox::delivered(&self.writer(), id, at)
    }

    fn notice_failed(&self, id: &str, attempts: u32, next: DateTime<Utc>, error: &str, dead: bool) -> Result<()> {
        outbox::failed(&self.writer(), id, attempts, next, error, dead)
    }

    fn dead_notices(&self, n: usize) -> Result<Vec<StoredNotice>> {
        self.read(|conn| outbox::dead(conn, n))
    }

    fn replay_notice(&self, id: &str, now: DateTime<Utc>) -> Result<Option<(bool, StoredNotice)>> {
        outbox::replay(&self.writer(), id, now)
    }

    fn notice_backlog(&self) -> Result<u64> {
        self.read(|conn| outbox::backlog(conn))
    }

    fn transparency_counts(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<TransparencyCounts> {
        self.read(|conn| transparency::sqlite::counts(conn, from, to))
    }

    fn resolved_cases(&self, from: DateTime<Utc>, to: DateTime<Utc>, n: usize) -> Result<Vec<Case>> {
        self.read(|conn| transparency::sqlite::resolved_cases(conn, from, to, n))
    }
}
