//! Versioned schema migrations, applied in one transaction when a store opens.
//!
//! Each migration has a version, a description and its SQL for each backend. The versions
//! applied are recorded in `schema_migrations`; a database recording a version newer than
//! the newest here is refused with [`StoreError::SchemaTooNew`] rather than written with an
//! older idea of the schema. Never edit a released migration: add a new one.
//!
//! Every migration not recorded is applied, in version order, not only those above the
//! highest recorded: versions may have gaps, and a version filled in later (work on two
//! branches, merged) is still applied to a database that has a higher one.
//!
//! Times: SQLite stores integer microseconds since the Unix epoch (UTC), which sort and
//! compare exactly; PostgreSQL stores `timestamptz` (also microseconds). Append-only tables
//! carry a `seq` in insertion order (in SQLite an alias of the rowid, stable across VACUUM).

use crate::{Result, StoreError};

/// One schema change.
pub(crate) struct Migration {
    pub version: i64,
    pub description: &'static str,
    pub sqlite: &'static str,
    pub postgres: &'static str,
}

/// Migration 13's columns and indexes on the covered tables, the same for both backends.
macro_rules! chained_rows {
    () => {
        r#"
ALTER TABLE events ADD COLUMN chain TEXT NOT NULL DEFAULT '';
ALTER TABLE decisions ADD COLUMN chain TEXT NOT NULL DEFAULT '';
ALTER TABLE restrictions ADD COLUMN chain TEXT NOT NULL DEFAULT '';
ALTER TABLE credits ADD COLUMN chain TEXT NOT NULL DEFAULT '';
CREATE INDEX events_chain ON events (chain, seq) WHERE chain <> '';
CREATE INDEX decisions_chain ON decisions (chain, seq) WHERE chain <> '';
CREATE INDEX restrictions_chain ON restrictions (chain, seq) WHERE chain <> '';
CREATE INDEX credits_chain ON credits (chain, seq) WHERE chain <> '';
"#
    };
}

pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "events, entities, decisions, restrictions, credits, api keys, audit log",
        sqlite: r#"
CREATE TABLE events (
    seq         INTEGER PRIMARY KEY,        -- received order
    id          TEXT    NOT NULL UNIQUE,
    type        TEXT    NOT NULL,
    at          INTEGER NOT NULL,           -- microseconds since the Unix epoch, UTC
    body        TEXT    NOT NULL
);
CREATE TABLE entities (
    kind        TEXT    NOT NULL,
    id          TEXT    NOT NULL,
    account_id  TEXT,
    body        TEXT    NOT NULL,
    deleted     INTEGER NOT NULL DEFAULT 0,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (kind, id)
);
CREATE INDEX entities_account ON entities (account_id);
CREATE TABLE decisions (
    seq         INTEGER PRIMARY KEY,
    id          TEXT    NOT NULL UNIQUE,
    event_id    TEXT    NOT NULL,
    account_id  TEXT,
    post_id     TEXT,
    rule_id     TEXT    NOT NULL,
    decided_at  INTEGER NOT NULL,
    body        TEXT    NOT NULL            -- the Decision as JSON
);
CREATE INDEX decisions_account ON decisions (account_id, decided_at);
CREATE INDEX decisions_post ON decisions (post_id, decided_at);
CREATE TABLE restrictions (
    seq         INTEGER PRIMARY KEY,
    decision_id TEXT    NOT NULL,
    account_id  TEXT    NOT NULL,
    post_id     TEXT,
    kind        TEXT    NOT NULL,
    detail      TEXT    NOT NULL,
    start_at    INTEGER NOT NULL,
    end_at      INTEGER                     -- NULL: forever
);
CREATE INDEX restrictions_account ON restrictions (account_id);
CREATE INDEX restrictions_end ON restrictions (end_at);
CREATE TABLE credits (
    seq         INTEGER PRIMARY KEY,
    decision_id TEXT    NOT NULL,
    account_id  TEXT    NOT NULL,
    at          INTEGER NOT NULL,
    points      INTEGER NOT NULL,
    restores_at INTEGER                     -- NULL: never
);
CREATE INDEX credits_account ON credits (account_id);
CREATE INDEX credits_restores ON credits (restores_at);
CREATE TABLE api_keys (
    id          TEXT    PRIMARY KEY NOT NULL,
    hash        TEXT    NOT NULL UNIQUE,
    role        TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE TABLE audit (
    seq         INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL,
    action      TEXT    NOT NULL,
    subject     TEXT    NOT NULL,
    body        TEXT    NOT NULL,
    prev_hash   TEXT    NOT NULL,
    hash        TEXT    NOT NULL
);
"#,
        postgres: r#"
CREATE TABLE events (
    id          TEXT        PRIMARY KEY,
    seq         BIGINT      GENERATED ALWAYS AS IDENTITY,   -- received order
    type        TEXT        NOT NULL,
    at          TIMESTAMPTZ NOT NULL,
    body        TEXT        NOT NULL
);
CREATE TABLE entities (
    kind        TEXT        NOT NULL,
    id          TEXT        NOT NULL,
    account_id  TEXT,
    body        TEXT        NOT NULL,
    deleted     BOOLEAN     NOT NULL DEFAULT FALSE,
    updated_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (kind, id)
);
CREATE INDEX entities_account ON entities (account_id);
CREATE TABLE decisions (
    id          TEXT        PRIMARY KEY,
    seq         BIGINT      GENERATED ALWAYS AS IDENTITY,
    event_id    TEXT        NOT NULL,
    account_id  TEXT,
    post_id     TEXT,
    rule_id     TEXT        NOT NULL,
    decided_at  TIMESTAMPTZ NOT NULL,
    body        JSON        NOT NULL    -- json, not jsonb: kept verbatim, and jsonb refuses \u0000
);
CREATE INDEX decisions_account ON decisions (account_id, decided_at);
CREATE INDEX decisions_post ON decisions (post_id, decided_at);
CREATE TABLE restrictions (
    seq         BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    decision_id TEXT        NOT NULL,
    account_id  TEXT        NOT NULL,
    post_id     TEXT,
    kind        TEXT        NOT NULL,
    detail      TEXT        NOT NULL,
    start_at    TIMESTAMPTZ NOT NULL,
    end_at      TIMESTAMPTZ
);
CREATE INDEX restrictions_account ON restrictions (account_id);
CREATE INDEX restrictions_end ON restrictions (end_at);
CREATE TABLE credits (
    seq         BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    decision_id TEXT        NOT NULL,
    account_id  TEXT        NOT NULL,
    at          TIMESTAMPTZ NOT NULL,
    points      BIGINT      NOT NULL,
    restores_at TIMESTAMPTZ
);
CREATE INDEX credits_account ON credits (account_id);
CREATE INDEX credits_restores ON credits (restores_at);
CREATE TABLE api_keys (
    id          TEXT        PRIMARY KEY,
    hash        TEXT        NOT NULL UNIQUE,
    role        TEXT        NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);
CREATE TABLE audit (
    seq         BIGINT      PRIMARY KEY,
    at          TIMESTAMPTZ NOT NULL,
    action      TEXT        NOT NULL,
    subject     TEXT        NOT NULL,
    body        TEXT        NOT NULL,   -- canonical JSON text, hashed as is
    prev_hash   TEXT        NOT NULL,
    hash        TEXT        NOT NULL
);
"#,
    },
    Migration {
        version: 2,
        description: "groups of posts (copy-paste campaigns); events by time, for detectors rebuilding their window",
        sqlite: r#"
CREATE TABLE group_members (
    seq         INTEGER PRIMARY KEY,
    kind        TEXT    NOT NULL,
    group_id    TEXT    NOT NULL,
    post_id     TEXT    NOT NULL,
    account_id  TEXT    NOT NULL,
    at          INTEGER NOT NULL,
    UNIQUE (kind, post_id)                  -- a post is in one group of a kind
);
CREATE INDEX group_members_group ON group_members (kind, group_id, at);
CREATE INDEX events_at ON events (at);
"#,
        postgres: r#"
CREATE TABLE group_members (
    seq         BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind        TEXT        NOT NULL,
    group_id    TEXT        NOT NULL,
    post_id     TEXT        NOT NULL,
    account_id  TEXT        NOT NULL,
    at          TIMESTAMPTZ NOT NULL,
    UNIQUE (kind, post_id)
);
CREATE INDEX group_members_group ON group_members (kind, group_id, at);
CREATE INDEX events_at ON events (at);
"#,
    },
    Migration {
        version: 3,
        description: "api keys can be revoked",
        sqlite: "ALTER TABLE api_keys ADD COLUMN revoked_at INTEGER;",
        postgres: "ALTER TABLE api_keys ADD COLUMN revoked_at TIMESTAMPTZ;",
    },
    Migration {
        version: 4,
        description: "rule modes: shadow decisions, policy versions, tripped circuit breakers",
        sqlite: r#"
ALTER TABLE decisions ADD COLUMN shadow INTEGER NOT NULL DEFAULT 0;
CREATE INDEX decisions_shadow ON decisions (rule_id, seq) WHERE shadow = 1;
CREATE TABLE policy_versions (
    seq          INTEGER PRIMARY KEY,
    version      TEXT    NOT NULL,
    source       TEXT    NOT NULL,
    text         TEXT    NOT NULL,
    activated_at INTEGER NOT NULL,
    activated_by TEXT    NOT NULL
);
CREATE TABLE rule_breakers (
    rule_id      TEXT    PRIMARY KEY NOT NULL,
    tripped_at   INTEGER NOT NULL,
    detail       TEXT    NOT NULL
);
"#,
        postgres: r#"
ALTER TABLE decisions ADD COLUMN shadow BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX decisions_shadow ON decisions (rule_id, seq) WHERE shadow;
CREATE TABLE policy_versions (
    seq          BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    version      TEXT        NOT NULL,
    source       TEXT        NOT NULL,
    text         TEXT        NOT NULL,
    activated_at TIMESTAMPTZ NOT NULL,
    activated_by TEXT        NOT NULL
);
CREATE TABLE rule_breakers (
    rule_id      TEXT        PRIMARY KEY,
    tripped_at   TIMESTAMPTZ NOT NULL,
    detail       TEXT        NOT NULL
);
"#,
    },
    Migration {
        version: 5,
        description: "no index of entities by account: no query reads it, and every upsert paid for it",
        // A random key: each entity row written touched a page of it (a quarter of the cost
        // of an upsert, 60,000 real events). A query by account brings it back with itself.
        sqlite: "DROP INDEX IF EXISTS entities_account;",
        postgres: "DROP INDEX IF EXISTS entities_account;",
    },
    Migration {
        version: ROWS_COVERED,
        description: "rows are covered by the audit log: the rows stored before are adopted by one entry",
        // No schema change: after the SQL, the rows already stored get their entry (see
        // `coverage`), in the same transaction.
        sqlite: "",
        postgres: "",
    },
    Migration {
        version: 7,
        description: "the human loop: cases and their log, reports, appeals, reversals, reporter mutes",
        // Cases, reports and appeals are their latest state (a JSON body beside the columns
        // looked up); the case log and the reversals are append-only. One case not resolved
        // per subject, and one pending appeal per decision, are held by the indexes.
        sqlite: r#"
CREATE TABLE cases (
    id           TEXT    PRIMARY KEY,
    subject_kind TEXT    NOT NULL,
    subject_id   TEXT    NOT NULL,
    queue        TEXT    NOT NULL,
    state        TEXT    NOT NULL,
    rank         INTEGER NOT NULL,          -- priority with age, in thousandths (Case::rank)
    claim_until  INTEGER,
    opened_at    INTEGER NOT NULL,
    body         TEXT    NOT NULL
);
CREATE UNIQUE INDEX cases_open_subject ON cases (subject_kind, subject_id) WHERE state <> 'resolved';
CREATE INDEX cases_subject ON cases (subject_kind, subject_id, opened_at);
CREATE INDEX cases_free ON cases (queue, rank DESC) WHERE state IN ('open', 'escalated');
CREATE INDEX cases_claimed ON cases (queue, claim_until) WHERE state = 'assigned';
CREATE TABLE case_log (
    seq          INTEGER PRIMARY KEY,
    case_id      TEXT    NOT NULL,
    at           INTEGER NOT NULL,
    actor        TEXT    NOT NULL,
    body         TEXT    NOT NULL
);
CREATE INDEX case_log_case ON case_log (case_id, seq);
CREATE TABLE case_reports (
    id           TEXT    PRIMARY KEY,
    reporter_id  TEXT    NOT NULL,
    case_id      TEXT,
    state        TEXT    NOT NULL,
    at           INTEGER NOT NULL,
    body         TEXT    NOT NULL
);
CREATE INDEX case_reports_reporter ON case_reports (reporter_id, state);
CREATE INDEX case_reports_case ON case_reports (case_id);
CREATE TABLE appeals (
    id           TEXT    PRIMARY KEY,
    decision_id  TEXT    NOT NULL,
    state        TEXT    NOT NULL,
    filed_at     INTEGER NOT NULL,
    body         TEXT    NOT NULL
);
CREATE INDEX appeals_decision ON appeals (decision_id);
CREATE UNIQUE INDEX appeals_pending ON appeals (decision_id) WHERE state = 'pending';
CREATE TABLE reversals (
    seq          INTEGER PRIMARY KEY,
    decision_id  TEXT    NOT NULL UNIQUE,
    account_id   TEXT,
    at           INTEGER NOT NULL,
    body         TEXT    NOT NULL
);
CREATE INDEX reversals_account ON reversals (account_id);
CREATE TABLE reporter_mutes (
    reporter_id  TEXT    PRIMARY KEY,
    until        INTEGER NOT NULL,
    body         TEXT    NOT NULL
);
"#,
        postgres: r#"
CREATE TABLE cases (
    id           TEXT        PRIMARY KEY,
    subject_kind TEXT        NOT NULL,
    subject_id   TEXT        NOT NULL,
    queue        TEXT        NOT NULL,
    state        TEXT        NOT NULL,
    rank         BIGINT      NOT NULL,
    claim_until  TIMESTAMPTZ,
    opened_at    TIMESTAMPTZ NOT NULL,
    body         TEXT        NOT NULL
);
CREATE UNIQUE INDEX cases_open_subject ON cases (subject_kind, subject_id) WHERE state <> 'resolved';
CREATE INDEX cases_subject ON cases (subject_kind, subject_id, opened_at);
CREATE INDEX cases_free ON cases (queue, rank DESC) WHERE state IN ('open', 'escalated');
CREATE INDEX cases_claimed ON cases (queue, claim_until) WHERE state = 'assigned';
CREATE TABLE case_log (
    seq          BIGSERIAL   PRIMARY KEY,
    case_id      TEXT        NOT NULL,
    at           TIMESTAMPTZ NOT NULL,
    actor        TEXT        NOT NULL,
    body         TEXT        NOT NULL
);
CREATE INDEX case_log_case ON case_log (case_id, seq);
CREATE TABLE case_reports (
    id           TEXT        PRIMARY KEY,
    reporter_id  TEXT        NOT NULL,
    case_id      TEXT,
    state        TEXT        NOT NULL,
    at           TIMESTAMPTZ NOT NULL,
    body         TEXT        NOT NULL
);
CREATE INDEX case_reports_reporter ON case_reports (reporter_id, state);
CREATE INDEX case_reports_case ON case_reports (case_id);
CREATE TABLE appeals (
    id           TEXT        PRIMARY KEY,
    decision_id  TEXT        NOT NULL,
    state        TEXT        NOT NULL,
    filed_at     TIMESTAMPTZ NOT NULL,
    body         TEXT        NOT NULL
);
CREATE INDEX appeals_decision ON appeals (decision_id);
CREATE UNIQUE INDEX appeals_pending ON appeals (decision_id) WHERE state = 'pending';
CREATE TABLE reversals (
    seq          BIGSERIAL   PRIMARY KEY,
    decision_id  TEXT        NOT NULL UNIQUE,
    account_id   TEXT,
    at           TIMESTAMPTZ NOT NULL,
    body         TEXT        NOT NULL
);
CREATE INDEX reversals_account ON reversals (account_id);
CREATE TABLE reporter_mutes (
    reporter_id  TEXT        PRIMARY KEY,
    until        TIMESTAMPTZ NOT NULL,
    body         TEXT        NOT NULL
);
"#,
    },
    Migration {
        version: 8,
        description: "the outbox: notices to accounts and reporters, with their delivery",
        sqlite: crate::outbox::SQLITE_SCHEMA,
        postgres: crate::outbox::POSTGRES_SCHEMA,
    },
    Migration {
        version: 9,
        description: "cases listed by queue, state or neither in rank order, and counted by queue, from indexes",
        // The console lists and counts cases with 100,000 in the store: each list is an
        // index range in rank order, and the counts by queue and state (with the oldest) a
        // scan of the first index alone.
        sqlite: CASE_LIST_INDEXES,
        postgres: CASE_LIST_INDEXES,
    },
    Migration {
        version: 10,
        description: "live decisions by decision time, for exporting a period's statements of reasons",
        sqlite: "CREATE INDEX IF NOT EXISTS decisions_live_time ON decisions (decided_at, seq) WHERE shadow = 0;",
        postgres: "CREATE INDEX IF NOT EXISTS decisions_live_time ON decisions (decided_at, seq) WHERE NOT shadow;",
    },
    Migration {
        version: 11,
        description: "the transparency report's periods (live decisions by time are version 10's): restrictions, case actions, reports and appeals by time",
        // Each key grows with time, so a row adds to the right edge of its index: the write
        // path pays little, and a report ranges over its period instead of every row.
        sqlite: r#"
CREATE INDEX restrictions_start ON restrictions (start_at);
CREATE INDEX case_log_at ON case_log (at);
CREATE INDEX case_reports_at ON case_reports (at);
CREATE INDEX appeals_filed ON appeals (filed_at);
"#,
        postgres: r#"
CREATE INDEX restrictions_start ON restrictions (start_at);
CREATE INDEX case_log_at ON case_log (at);
CREATE INDEX case_reports_at ON case_reports (at);
CREATE INDEX appeals_filed ON appeals (filed_at);
"#,
    },
    Migration {
        version: 12,
        description: "fences: partition owners' epochs, checked by each of their commits (distributed mode)",
        sqlite: crate::fence::SCHEMA,
        postgres: crate::fence::SCHEMA,
    },
    Migration {
        version: 13,
        description: "audit chains: one per partition in distributed mode; entries and covered rows name theirs (the root's, '', holds all stored before)",
        // SQLite cannot change a primary key: the log is copied into a table keyed by chain
        // and seq. Only partition rows are indexed by chain, so the single-box write path
        // keeps its indexes; the root's rows are read in `seq` order as before.
        sqlite: concat!(
            r#"
CREATE TABLE audit_chained (
    chain       TEXT    NOT NULL DEFAULT '',
    seq         INTEGER NOT NULL,
    at          INTEGER NOT NULL,
    action      TEXT    NOT NULL,
    subject     TEXT    NOT NULL,
    body        TEXT    NOT NULL,
    prev_hash   TEXT    NOT NULL,
    hash        TEXT    NOT NULL,
    PRIMARY KEY (chain, seq)
);
INSERT INTO audit_chained (seq, at, action, subject, body, prev_hash, hash)
    SELECT seq, at, action, subject, body, prev_hash, hash FROM audit ORDER BY seq;
DROP TABLE audit;
ALTER TABLE audit_chained RENAME TO audit;
"#,
            chained_rows!()
        ),
        postgres: concat!(
            r#"
ALTER TABLE audit ADD COLUMN chain TEXT NOT NULL DEFAULT '';
ALTER TABLE audit DROP CONSTRAINT audit_pkey;
ALTER TABLE audit ADD CONSTRAINT audit_pkey PRIMARY KEY (chain, seq);
"#,
            chained_rows!()
        ),
    },
];

// `cases_free` gains `id`, so that it serves the claim query's whole order (rank, then id)
// without a sort; the claim query names it, as `cases_by_queue` has the same order and
// walks past every claimed case (10,000 claims by two moderators: 288 a second on that one).
const CASE_LIST_INDEXES: &str = r#"
DROP INDEX cases_free;
CREATE INDEX cases_free ON cases (queue, rank DESC, id) WHERE state IN ('open', 'escalated');
CREATE INDEX cases_listed ON cases (queue, state, rank DESC, id, opened_at);
CREATE INDEX cases_by_state ON cases (state, rank DESC, id);
CREATE INDEX cases_by_queue ON cases (queue, rank DESC, id);
CREATE INDEX cases_by_rank ON cases (rank DESC, id);
"#;

/// The version from which every row of the covered tables is covered by an audit entry: a
/// store migrated to it from an older version adopts the rows it holds.
const ROWS_COVERED: i64 = 6;

/// The newest schema version this build knows.
pub(crate) fn latest() -> i64 {
    MIGRATIONS.iter().map(|m| m.version).max().unwrap_or(0)
}

/// Whether a store with the `applied` versions holds rows stored before they were covered:
/// it is not new, and it has not reached [`ROWS_COVERED`].
fn adopts_rows(applied: &[i64]) -> bool {
    !applied.is_empty() && !applied.contains(&ROWS_COVERED)
}

/// The migrations not among the `applied` versions, in version order.
fn pending(applied: &[i64]) -> Vec<&'static Migration> {
    let mut out: Vec<_> = MIGRATIONS.iter().filter(|m| !applied.contains(&m.version)).collect();
    out.sort_by_key(|m| m.version);
    out
}

fn check_version(found: i64) -> Result<()> {
    let known = latest();
    if found > known {
        return Err(StoreError::SchemaTooNew { found, known });
    }
    Ok(())
}

/// Applies pending migrations to a SQLite database in one `BEGIN IMMEDIATE` transaction,
/// so two processes opening the same file at once do not both migrate.
pub(crate) fn apply_sqlite(conn: &mut rusqlite::Connection) -> Result<()> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version     INTEGER PRIMARY KEY,
            description TEXT    NOT NULL,
            applied_at  INTEGER NOT NULL
        )",
    )?;
    let current: i64 = tx.query_row("SELECT coalesce(max(version), 0) FROM schema_migrations", [], |r| r.get(0))?;
    check_version(current)?;
    let applied = {
        let mut stmt = tx.prepare("SELECT version FROM schema_migrations")?;
        stmt.query_map([], |r| r.get::<_, i64>(0))?.collect::<rusqlite::Result<Vec<_>>>()?
    };
    for m in pending(&applied) {
        tx.execute_batch(m.sqlite)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, description, applied_at) VALUES (?1, ?2, ?3)",
            rusqlite::params![m.version, m.description, chrono::Utc::now().timestamp_micros()],
        )?;
    }
    if adopts_rows(&applied) {
        crate::sqlite_store::adopt_rows(&tx)?;
    }
    tx.commit()?;
    Ok(())
}

/// Applies pending migrations to PostgreSQL in one transaction, in the connection's current
/// schema. An advisory lock keyed on the schema serializes concurrent migrators.
pub(crate) fn apply_postgres(client: &mut postgres::Client) -> Result<()> {
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock(hashtext('steward.migrate.' || coalesce(current_schema(), '')))", &[])?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version     BIGINT      PRIMARY KEY,
            description TEXT        NOT NULL,
            applied_at  TIMESTAMPTZ NOT NULL DEFAULT now()
        )",
    )?;
    let current: i64 = tx.query_one("SELECT coalesce(max(version), 0)::bigint FROM schema_migrations", &[])?.get(0);
    check_version(current)?;
    let applied: Vec<i64> = tx.query("SELECT version FROM schema_migrations", &[])?.iter().map(|r| r.get(0)).collect();
    for m in pending(&applied) {
        tx.batch_execute(m.postgres)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, description) VALUES ($1, $2)",
            &[&m.version, &m.description],
        )?;
    }
    if adopts_rows(&applied) {
        tx.batch_execute("LOCK TABLE audit IN EXCLUSIVE MODE")?;
        crate::postgres_store::adopt_rows(&mut tx)?;
    }
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_filled_in_below_the_highest_applied_is_still_pending() {
        let versions = |ms: Vec<&Migration>| ms.iter().map(|m| m.version).collect::<Vec<_>>();
        assert_eq!(versions(pending(&[])), MIGRATIONS.iter().map(|m| m.version).collect::<Vec<_>>());
        // A store that ran 8 before 7 existed (or was merged): 7 and every version after 8 are
        // pending, 8 is not run again.
        let after_eight = MIGRATIONS.iter().map(|m| m.version).filter(|v| *v > 8);
        assert_eq!(
            versions(pending(&[1, 2, 3, 4, 5, 6, 8])),
            std::iter::once(7).chain(after_eight).collect::<Vec<_>>()
        );
        let all_but_five: Vec<i64> = MIGRATIONS.iter().map(|m| m.version).filter(|v| *v != 5).collect();
        assert_eq!(versions(pending(&all_but_five)), vec![5]);
    }
}
