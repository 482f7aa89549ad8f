//! The outbox: notices written in the same transaction as their cause ([`Batch::notices`]),
//! and the bookkeeping of their delivery, for both backends.
//!
//! A notice's id derives from its cause, so a notice already stored is skipped when its
//! cause is committed again. Delivery is ordered per recipient and audience: only the oldest
//! pending notice of each (its *head*) is ever due ([`crate::Store::due_notices`]), so a
//! later notice waits while an earlier one is retried, and goes once the earlier is
//! delivered or dead. Bookkeeping (delivered, failed, dead, replayed) changes the notice row
//! alone, outside the audit lock: the outbox is not one of the append-only tables the audit
//! log covers, and its deliverer writes it directly rather than through the engine.
//!
//! [`Batch::notices`]: crate::Batch::notices

use chrono::{DateTime, Utc};
use steward_model::{Audience, Delivery, DeliveryState, Notice, NoticeKind, StoredNotice};

use crate::rows::{u32_from_db, u64_from_db};
use crate::{Result, StoreError};

/// Schema version 8, SQLite. Times are microseconds since the epoch.
pub(crate) const SQLITE_SCHEMA: &str = r#"
CREATE TABLE notices (
    seq             INTEGER PRIMARY KEY,    -- outbox order: delivery order per recipient
    id              TEXT    NOT NULL UNIQUE,
    recipient       TEXT    NOT NULL,
    audience        TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    subject         TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    body            TEXT    NOT NULL,       -- JSON
    state           TEXT    NOT NULL DEFAULT 'pending',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT,
    delivered_at    INTEGER
);
CREATE INDEX notices_recipient ON notices (recipient, seq);
CREATE INDEX notices_pending ON notices (audience, recipient, seq) WHERE state = 'pending';
CREATE INDEX notices_dead ON notices (seq) WHERE state = 'dead';
"#;

/// Schema version 8, PostgreSQL.
pub(crate) const POSTGRES_SCHEMA: &str = r#"
CREATE TABLE notices (
    seq             BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id              TEXT        NOT NULL UNIQUE,
    recipient       TEXT        NOT NULL,
    audience        TEXT        NOT NULL,
    kind            TEXT        NOT NULL,
    subject         TEXT        NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    body            TEXT        NOT NULL,   -- JSON text, kept verbatim
    state           TEXT        NOT NULL DEFAULT 'pending',
    attempts        BIGINT      NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    last_error      TEXT,
    delivered_at    TIMESTAMPTZ
);
CREATE INDEX notices_recipient ON notices (recipient, seq);
CREATE INDEX notices_pending ON notices (audience, recipient, seq) WHERE state = 'pending';
CREATE INDEX notices_dead ON notices (seq) WHERE state = 'dead';
"#;

const COLUMNS: &str = "id, recipient, audience, kind, subject, created_at, body, state, attempts, next_attempt_at, last_error, delivered_at";

/// The body of a decision notice's decision, after [`COLUMNS`]: a decision notice keeps no
/// body of its own, its statement of reasons being the stored decision's.
macro_rules! decision_body {
    ($body:literal) => {
        concat!(", (SELECT ", $body, " FROM decisions d WHERE notices.kind = 'decision' AND d.id = notices.subject)")
    };
}

/// A notice row's columns, read by either backend, in [`COLUMNS`] order.
struct NoticeRow {
    id: String,
    recipient: String,
    audience: String,
    kind: String,
    subject: String,
    created_at: DateTime<Utc>,
    body: String,
    state: String,
    attempts: i64,
    next_attempt_at: DateTime<Utc>,
    last_error: Option<String>,
    delivered_at: Option<DateTime<Utc>>,
    /// The decision of a decision notice, as stored.
    decision: Option<String>,
}

impl NoticeRow {
    fn into_notice(self) -> Result<StoredNotice> {
        let corrupt = |what: &str, v: &str| StoreError::Corrupt(format!("notice {}: unknown {what} {v:?}", self.id));
        let audience = Audience::parse(&self.audience).ok_or_else(|| corrupt("audience", &self.audience))?;
        let kind = NoticeKind::parse(&self.kind).ok_or_else(|| corrupt("kind", &self.kind))?;
        let state = DeliveryState::parse(&self.state).ok_or_else(|| corrupt("state", &self.state))?;
        let body = match &self.decision {
            Some(decision) => crate::rows::decision_from_json(decision)?.statement_of_reasons(),
            None => serde_json::from_str(&self.body)
                .map_err(|e| StoreError::Corrupt(format!("notice {}: body is not JSON: {e}", self.id)))?,
        };
        Ok(StoredNotice {
            delivery: Delivery {
                state,
                attempts: u32_from_db(self.attempts, "notice attempts")?,
                next_attempt_at: self.next_attempt_at,
                last_error: self.last_error,
                delivered_at: self.delivered_at,
            },
            notice: Notice {
                id: self.id,
                recipient: self.recipient,
                audience,
                kind,
                subject: self.subject,
                created_at: self.created_at,
                body,
            },
        })
    }
}

/// The notices of a batch to insert: each id once (the first), bodies as JSON text.
fn to_insert(notices: &[Notice]) -> Vec<(&Notice, String)> {
    let mut seen = std::collections::HashSet::new();
    notices.iter().filter(|n| seen.insert(n.id.as_str())).map(|n| (n, n.body.to_string())).collect()
}

/// The heads of both audiences' queues, merged: soonest due first, at most `n`.
fn merge_due(mut heads: Vec<StoredNotice>, n: usize) -> Vec<StoredNotice> {
    heads.sort_by_key(|h| h.delivery.next_attempt_at);
    heads.truncate(n);
    heads
}

/// The oldest pending notice of each recipient of one audience, if due by the first
/// parameter; the audience is the second, the limit the third.
macro_rules! due_sql {
    ($p1:literal, $p2:literal, $p3:literal, $decision:expr) => {
        concat!(
            "SELECT id, recipient, audience, kind, subject, created_at, body, state, attempts, next_attempt_at, ",
            "last_error, delivered_at",
            $decision,
            " FROM notices WHERE seq IN (SELECT min(seq) FROM notices ",
            "WHERE state = 'pending' AND audience = ",
            $p2,
            " GROUP BY recipient) AND next_attempt_at <= ",
            $p1,
            " ORDER BY next_attempt_at, seq LIMIT ",
            $p3
        )
    };
}

/// The SQLite side. Reads take a reader connection, writes the writer (in the batch's
/// transaction, or alone for bookkeeping).
pub(crate) mod sqlite {
    use rusqlite::{Connection, Row, Transaction, params};

    use super::*;
    use crate::sqlite_store::{collect, insert_rows, limit, micros, opt_time, time};

    const DECISION: &str = decision_body!("d.body");

    fn row(r: &Row<'_>) -> Result<StoredNotice> {
        NoticeRow {
            id: r.get(0)?,
            recipient: r.get(1)?,
            audience: r.get(2)?,
            kind: r.get(3)?,
            subject: r.get(4)?,
            created_at: time(r.get(5)?)?,
            body: r.get(6)?,
            state: r.get(7)?,
            attempts: r.get(8)?,
            next_attempt_at: time(r.get(9)?)?,
            last_error: r.get(10)?,
            delivered_at: opt_time(r.get(11)?)?,
            decision: r.get(12)?,
        }
        .into_notice()
    }

    /// Writes the batch's notices; an id already stored is skipped.
    pub(crate) fn insert(tx: &Transaction<'_>, notices: &[Notice]) -> Result<()> {
        if notices.is_empty() {
            return Ok(());
        }
        let new = to_insert(notices);
        insert_rows(
            tx,
            "INSERT INTO notices (id, recipient, audience, kind, subject, created_at, body, next_attempt_at)",
            8,
            "ON CONFLICT (id) DO NOTHING",
            &new,
            |b, (n, body)| {
                b.bind(&n.id)?;
                b.bind(&n.recipient)?;
                b.bind(n.audience.as_str())?;
                b.bind(n.kind.as_str())?;
                b.bind(&n.subject)?;
                b.bind(micros(n.created_at))?;
                b.bind(body)?;
                b.bind(micros(n.created_at))
            },
        )?;
        Ok(())
    }

    pub(crate) fn notices_for(conn: &Connection, recipient: &str, n: usize) -> Result<Vec<StoredNotice>> {
        let sql = format!("SELECT {COLUMNS}{DECISION} FROM notices WHERE recipient = ?1 ORDER BY seq DESC LIMIT ?2");
        collect(conn, &sql, params![recipient, limit(n)], row)
    }

    pub(crate) fn due(
        conn: &Connection,
        now: DateTime<Utc>,
        audiences: &[Audience],
        n: usize,
    ) -> Result<Vec<StoredNotice>> {
        let mut heads = Vec::new();
        for a in audiences {
            heads.extend(collect(
                conn,
                due_sql!("?1", "?2", "?3", decision_body!("d.body")),
                params![micros(now), a.as_str(), limit(n)],
                row,
            )?);
        }
        Ok(merge_due(heads, n))
    }

    pub(crate) fn dead(conn: &Connection, n: usize) -> Result<Vec<StoredNotice>> {
        let sql = format!("SELECT {COLUMNS}{DECISION} FROM notices WHERE state = 'dead' ORDER BY seq DESC LIMIT ?1");
        collect(conn, &sql, [limit(n)], row)
    }

    pub(crate) fn backlog(conn: &Connection) -> Result<u64> {
        let n: i64 =
            conn.prepare_cached("SELECT count(*) FROM notices WHERE state = 'pending'")?.query_row([], |r| r.get(0))?;
        u64_from_db(n, "notice backlog")
    }

    pub(crate) fn delivered(conn: &Connection, id: &str, at: DateTime<Utc>) -> Result<()> {
        conn.prepare_cached(
            "UPDATE notices SET state = 'delivered', attempts = attempts + 1, delivered_at = ?2, last_error = NULL
             WHERE id = ?1 AND state = 'pending'",
        )?
        .execute(params![id, micros(at)])?;
        Ok(())
    }

    pub(crate) fn failed(
        conn: &Connection,
        id: &str,
        attempts: u32,
        next: DateTime<Utc>,
        error: &str,
        dead: bool,
    ) -> Result<()> {
        conn.prepare_cached(
            "UPDATE notices SET attempts = ?2, next_attempt_at = ?3, last_error = ?4,
                 state = CASE WHEN ?5 THEN 'dead' ELSE 'pending' END
             WHERE id = ?1 AND state = 'pending'",
        )?
        .execute(params![id, attempts, micros(next), error, dead])?;
        Ok(())
    }

    pub(crate) fn replay(conn: &Connection, id: &str, now: DateTime<Utc>) -> Result<Option<(bool, StoredNotice)>> {
        let replayed = conn
            .prepare_cached(
                "UPDATE notices SET state = 'pending', attempts = 0, next_attempt_at = ?2 WHERE id = ?1 AND state = 'dead'",
            )?
            .execute(params![id, micros(now)])?;
        let notice = collect(conn, &format!("SELECT {COLUMNS}{DECISION} FROM notices WHERE id = ?1"), [id], row)?.pop();
        Ok(notice.map(|n| (replayed == 1, n)))
    }
}

/// The PostgreSQL side.
pub(crate) mod postgres {
    use ::postgres::{GenericClient, Row, Transaction};

    use super::*;

    const DECISION: &str = decision_body!("d.body::text");

    fn row(r: &Row) -> Result<StoredNotice> {
        NoticeRow {
            id: r.get(0),
            recipient: r.get(1),
            audience: r.get(2),
            kind: r.get(3),
            subject: r.get(4),
            created_at: r.get(5),
            body: r.get(6),
            state: r.get(7),
            attempts: r.get(8),
            next_attempt_at: r.get(9),
            last_error: r.get(10),
            delivered_at: r.get(11),
            decision: r.get(12),
        }
        .into_notice()
    }

    fn rows(rows: Vec<Row>) -> Result<Vec<StoredNotice>> {
        rows.iter().map(row).collect()
    }

    fn limit(n: usize) -> i64 {
        i64::try_from(n).unwrap_or(i64::MAX)
    }

    /// Writes the batch's notices, in order; an id already stored is skipped.
    pub(crate) fn insert(tx: &mut Transaction<'_>, notices: &[Notice]) -> Result<()> {
        if notices.is_empty() {
            return Ok(());
        }
        let new = to_insert(notices);
        let ids: Vec<&str> = new.iter().map(|(n, _)| n.id.as_str()).collect();
        let recipients: Vec<&str> = new.iter().map(|(n, _)| n.recipient.as_str()).collect();
        let audiences: Vec<&str> = new.iter().map(|(n, _)| n.audience.as_str()).collect();
        let kinds: Vec<&str> = new.iter().map(|(n, _)| n.kind.as_str()).collect();
        let subjects: Vec<&str> = new.iter().map(|(n, _)| n.subject.as_str()).collect();
        let ats: Vec<DateTime<Utc>> = new.iter().map(|(n, _)| crate::postgres_store::stored(n.created_at)).collect();
        let bodies: Vec<&str> = new.iter().map(|(_, b)| b.as_str()).collect();
        tx.execute(
            "INSERT INTO notices (id, recipient, audience, kind, subject, created_at, body, next_attempt_at)
             SELECT id, recipient, audience, kind, subject, created_at, body, created_at
             FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::text[])
                 WITH ORDINALITY AS u(id, recipient, audience, kind, subject, created_at, body, n)
             ORDER BY n
             ON CONFLICT (id) DO NOTHING",
            &[&ids, &recipients, &audiences, &kinds, &subjects, &ats, &bodies],
        )?;
        Ok(())
    }

    pub(crate) fn notices_for(c: &mut impl GenericClient, recipient: &str, n: usize) -> Result<Vec<StoredNotice>> {
        let sql = format!("SELECT {COLUMNS}{DECISION} FROM notices WHERE recipient = $1 ORDER BY seq DESC LIMIT $2");
        rows(c.query(&sql, &[&recipient, &limit(n)])?)
    }

    pub(crate) fn due(
        c: &mut impl GenericClient,
        now: DateTime<Utc>,
        audiences: &[Audience],
        n: usize,
    ) -> Result<Vec<StoredNotice>> {
        let mut heads = Vec::new();
        for a in audiences {
            heads.extend(rows(c.query(
                due_sql!("$1", "$2", "$3", decision_body!("d.body::text")),
                &[&now, &a.as_str(), &limit(n)],
            )?)?);
        }
        Ok(merge_due(heads, n))
    }

    pub(crate) fn dead(c: &mut impl GenericClient, n: usize) -> Result<Vec<StoredNotice>> {
        let sql = format!("SELECT {COLUMNS}{DECISION} FROM notices WHERE state = 'dead' ORDER BY seq DESC LIMIT $1");
        rows(c.query(&sql, &[&limit(n)])?)
    }

    pub(crate) fn backlog(c: &mut impl GenericClient) -> Result<u64> {
        let n: i64 = c.query_one("SELECT count(*) FROM notices WHERE state = 'pending'", &[])?.get(0);
        u64_from_db(n, "notice backlog")
    }

    pub(crate) fn delivered(c: &mut impl GenericClient, id: &str, at: DateTime<Utc>) -> Result<()> {
        c.execute(
            "UPDATE notices SET state = 'delivered', attempts = attempts + 1, delivered_at = $2, last_error = NULL
             WHERE id = $1 AND state = 'pending'",
            &[&id, &at],
        )?;
        Ok(())
    }

    pub(crate) fn failed(
        c: &mut impl GenericClient,
        id: &str,
        attempts: u32,
        next: DateTime<Utc>,
        error: &str,
        dead: bool,
    ) -> Result<()> {
        c.execute(
            "UPDATE notices SET attempts = $2, next_attempt_at = $3, last_error = $4,
                 state = CASE WHEN $5 THEN 'dead' ELSE 'pending' END
             WHERE id = $1 AND state = 'pending'",
            &[&id, &i64::from(attempts), &next, &error, &dead],
        )?;
        Ok(())
    }

    pub(crate) fn replay(
        c: &mut impl GenericClient,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<(bool, StoredNotice)>> {
        let replayed = c.execute(
            "UPDATE notices SET state = 'pending', attempts = 0, next_attempt_at = $2 WHERE id = $1 AND state = 'dead'",
            &[&id, &now],
        )?;
        let notice = c.query_opt(&format!("SELECT {COLUMNS}{DECISION} FROM notices WHERE id = $1"), &[&id])?;
        Ok(notice.as_ref().map(row).transpose()?.map(|n| (replayed == 1, n)))
    }
}
