//! The human loop's tables: cases, their log, reports as the loop keeps them, appeals,
//! reversals and reporter mutes. Each row keeps its whole record as JSON beside the few
//! columns that are looked up or ordered by; the engine, which owns the write path, works
//! out the new rows and the store writes them in the batch's transaction.
//!
//! The case log and the reversals are append-only; cases, reports and appeals are their
//! latest state, and every change to them is also an entry in the case log and the audit
//! log.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use steward_model::{AppealFiled, Case, CaseEntry, CaseReport, CaseState, QueueCount, ReporterMute, Reversal};

use crate::{Result, StoreError};

/// One write of the human loop, applied in order within a batch.
#[derive(Debug, Clone)]
pub enum ReviewWrite {
    /// Inserts the case, or replaces it as it now stands: only the version before it
    /// (`version - 1`), so that of two writers who read the same version, the second is
    /// refused ([`StoreError::Stale`]) rather than overwriting the first's change.
    Case(Case),
    /// Appends to the case's log.
    Entry(CaseEntry),
    /// Inserts the report, or replaces it as it now stands.
    Report(CaseReport),
    /// Inserts the appeal, or replaces it as it now stands.
    Appeal(AppealFiled),
    /// Overturns a decision; a decision already overturned keeps its first reversal.
    Reversal(Reversal),
    /// Mutes a reporter (replacing an earlier mute).
    Mute(ReporterMute),
}

fn json<T: Serialize>(what: &str, v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(format!("{what} cannot be serialized: {e}")))
}

/// The stored version a case write replaces.
fn previous_version(c: &Case) -> i64 {
    i64::try_from(c.version).unwrap_or(i64::MAX).saturating_sub(1)
}

/// A case write that changed no row found the case at another version than the one before it.
fn written(rows: usize, c: &Case) -> Result<()> {
    if rows == 0 {
        return Err(StoreError::Stale(format!("case {} (writing version {})", c.id, c.version)));
    }
    Ok(())
}

/// A new case on a subject that has another open one: another writer opened it since this
/// one looked. Like a case changed under its writer, [`StoreError::Stale`].
fn opened_elsewhere(c: &Case) -> StoreError {
    StoreError::Stale(format!("case {} ({} {} has another open case)", c.id, c.subject.kind.as_str(), c.subject.id))
}

pub(crate) fn parse<T: DeserializeOwned>(what: &str, text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("stored {what} does not read back: {e}")))
}

fn state_of(s: &str) -> Result<CaseState> {
    CaseState::parse(s).ok_or_else(|| StoreError::Corrupt(format!("unknown case state {s:?}")))
}

/// Adds up `(queue, state, count, oldest)` rows into one count per queue, by queue name.
fn count_queues(
    rows: impl IntoIterator<Item = Result<(String, String, i64, Option<DateTime<Utc>>)>>,
) -> Result<Vec<QueueCount>> {
    let mut out: Vec<QueueCount> = Vec::new();
    for row in rows {
        let (queue, state, n, oldest) = row?;
        let n = u64::try_from(n).unwrap_or(0);
        let i = match out.iter().position(|q| q.queue == queue) {
            Some(i) => i,
            None => {
                out.push(QueueCount { queue, open: 0, assigned: 0, escalated: 0, oldest_opened_at: None });
                out.len() - 1
            }
        };
        let q = &mut out[i];
        match state_of(&state)? {
            CaseState::Open => q.open += n,
            CaseState::Assigned => q.assigned += n,
            CaseState::Escalated => q.escalated += n,
            CaseState::Resolved => {}
        }
        q.oldest_opened_at = match (q.oldest_opened_at, oldest) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
    out.sort_by(|a, b| a.queue.cmp(&b.queue));
    Ok(out)
}

/// Free cases and cases whose claim has lapsed, highest rank first, at most `n`. Each
/// kind has an index of its own: claimed cases, at the top of a queue while they are
/// worked, are never scanned past to find a free one.
/// The cases of a queue, a state, both or neither, in rank order: one query for each, so
/// that each is a range of its own index (a filter written `? IS NULL OR ...` would use
/// none). `param(i)` writes the i-th parameter (`?1`, `$1`).
fn cases_query(queue: bool, state: bool, param: impl Fn(usize) -> String) -> String {
    let mut filters = Vec::new();
    if queue {
        filters.push(format!("queue = {}", param(filters.len() + 1)));
    }
    if state {
        filters.push(format!("state = {}", param(filters.len() + 1)));
    }
    let filter = if filters.is_empty() { String::new() } else { format!("WHERE {} ", filters.join(" AND ")) };
    format!("SELECT body FROM cases {filter}ORDER BY rank DESC, id LIMIT {}", param(filters.len() + 1))
}

fn by_rank(mut free: Vec<Case>, lapsed: Vec<Case>, n: usize) -> Vec<Case> {
    free.extend(lapsed);
    free.sort_by(|a, b| b.rank().cmp(&a.rank()).then_with(|| a.id.cmp(&b.id)));
    free.truncate(n);
    free
}

pub(crate) mod sqlite {
    use rusqlite::{Connection, OptionalExtension, Transaction, params};

    use super::*;

    fn micros(t: DateTime<Utc>) -> i64 {
        t.timestamp_micros()
    }

    fn time(v: i64) -> Result<DateTime<Utc>> {
        DateTime::from_timestamp_micros(v).ok_or_else(|| StoreError::Corrupt(format!("time out of range: {v}")))
    }

    fn limit(n: usize) -> i64 {
        i64::try_from(n).unwrap_or(i64::MAX)
    }

    pub(crate) fn write(tx: &Transaction<'_>, writes: &[ReviewWrite]) -> Result<()> {
        for w in writes {
            match w {
                ReviewWrite::Case(c) => {
                    let written_rows = tx.prepare_cached(
                        "INSERT INTO cases (id, subject_kind, subject_id, queue, state, rank, claim_until, opened_at, body)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                         ON CONFLICT (id) DO UPDATE SET queue = excluded.queue, state = excluded.state,
                           rank = excluded.rank, claim_until = excluded.claim_until, body = excluded.body
                         WHERE json_extract(cases.body, '$.version') = ?10",
                    )?
                    .execute(params![
                        c.id,
                        c.subject.kind.as_str(),
                        c.subject.id,
                        c.queue,
                        c.state.as_str(),
                        c.rank(),
                        c.claim.as_ref().map(|c| micros(c.until)),
                        micros(c.opened_at),
                        json("case", c)?,
                        previous_version(c)
                    ])
                    .map_err(|e| match &e {
                        rusqlite::Error::SqliteFailure(f, Some(m))
                            if f.code == rusqlite::ErrorCode::ConstraintViolation && m.contains("cases.subject_kind") =>
                        {
                            opened_elsewhere(c)
                        }
                        _ => e.into(),
                    })?;
                    written(written_rows, c)?;
                }
                ReviewWrite::Entry(e) => {
                    tx.prepare_cached("INSERT INTO case_log (case_id, at, actor, body) VALUES (?1, ?2, ?3, ?4)")?
                        .execute(params![e.case_id, micros(e.at), e.actor, json("case entry", e)?])?;
                }
                ReviewWrite::Report(r) => {
                    tx.prepare_cached(
                        "INSERT INTO case_reports (id, reporter_id, case_id, state, at, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                         ON CONFLICT (id) DO UPDATE SET case_id = excluded.case_id, state = excluded.state, body = excluded.body",
                    )?
                    .execute(params![r.id, r.reporter_id, r.case_id, r.state.as_str(), micros(r.at), json("report", r)?])?;
                }
                ReviewWrite::Appeal(a) => {
                    tx.prepare_cached(
                        "INSERT INTO appeals (id, decision_id, state, filed_at, body) VALUES (?1, ?2, ?3, ?4, ?5)
                         ON CONFLICT (id) DO UPDATE SET state = excluded.state, body = excluded.body",
                    )?
                    .execute(params![
                        a.id,
                        a.decision_id,
                        a.state.as_str(),
                        micros(a.filed_at),
                        json("appeal", a)?
                    ])?;
                }
                ReviewWrite::Reversal(r) => {
                    tx.prepare_cached(
                        "INSERT INTO reversals (decision_id, account_id, at, body) VALUES (?1, ?2, ?3, ?4)
                         ON CONFLICT (decision_id) DO NOTHING",
                    )?
                    .execute(params![
                        r.decision_id,
                        r.account_id,
                        micros(r.at),
                        json("reversal", r)?
                    ])?;
                }
                ReviewWrite::Mute(m) => {
                    tx.prepare_cached(
                        "INSERT INTO reporter_mutes (reporter_id, until, body) VALUES (?1, ?2, ?3)
                         ON CONFLICT (reporter_id) DO UPDATE SET until = excluded.until, body = excluded.body",
                    )?
                    .execute(params![m.reporter_id, micros(m.until), json("mute", m)?])?;
                }
            }
        }
        Ok(())
    }

    fn bodies<T: DeserializeOwned>(
        conn: &Connection,
        what: &str,
        sql: &str,
        params: impl rusqlite::Params,
    ) -> Result<Vec<T>> {
        let mut stmt = conn.prepare_cached(sql)?;
        let texts = stmt.query_map(params, |r| r.get::<_, String>(0))?;
        texts.map(|t| parse(what, &t?)).collect()
    }

    fn body<T: DeserializeOwned>(
        conn: &Connection,
        what: &str,
        sql: &str,
        params: impl rusqlite::Params,
    ) -> Result<Option<T>> {
        let text: Option<String> = conn.prepare_cached(sql)?.query_row(params, |r| r.get(0)).optional()?;
        text.map(|t| parse(what, &t)).transpose()
    }

    pub(crate) fn case(conn: &Connection, id: &str) -> Result<Option<Case>> {
        body(conn, "case", "SELECT body FROM cases WHERE id = ?1", [id])
    }

    pub(crate) fn open_case(conn: &Connection, kind: &str, id: &str) -> Result<Option<Case>> {
        body(
            conn,
            "case",
            "SELECT body FROM cases WHERE subject_kind = ?1 AND subject_id = ?2 AND state <> 'resolved'",
            [kind, id],
        )
    }

    pub(crate) fn subject_cases(conn: &Connection, kind: &str, id: &str, n: usize) -> Result<Vec<Case>> {
        bodies(
            conn,
            "case",
            "SELECT body FROM cases WHERE subject_kind = ?1 AND subject_id = ?2 ORDER BY opened_at, id LIMIT ?3",
            params![kind, id, limit(n)],
        )
    }

    pub(crate) fn claimable(conn: &Connection, queue: &str, at: DateTime<Utc>, n: usize) -> Result<Vec<Case>> {
        let free = bodies(
            conn,
            "case",
            // Named, so the planner cannot take `cases_by_queue`, whose order is the same but
            // which walks past every claimed case.
            "SELECT body FROM cases INDEXED BY cases_free WHERE queue = ?1 AND state IN ('open', 'escalated')
             ORDER BY rank DESC, id LIMIT ?2",
            params![queue, limit(n)],
        )?;
        let lapsed = bodies(
            conn,
            "case",
            "SELECT body FROM cases WHERE queue = ?1 AND state = 'assigned' AND claim_until <= ?2",
            params![queue, micros(at)],
        )?;
        Ok(by_rank(free, lapsed, n))
    }

    pub(crate) fn cases(
        conn: &Connection,
        queue: Option<&str>,
        state: Option<CaseState>,
        n: usize,
    ) -> Result<Vec<Case>> {
        let sql = cases_query(queue.is_some(), state.is_some(), |i| format!("?{i}"));
        let mut args: Vec<&dyn rusqlite::ToSql> = Vec::new();
        let (state, n) = (state.map(CaseState::as_str), limit(n));
        args.extend(queue.as_ref().map(|q| q as &dyn rusqlite::ToSql));
        args.extend(state.as_ref().map(|s| s as &dyn rusqlite::ToSql));
        args.push(&n);
        bodies(conn, "case", &sql, args.as_slice())
    }

    pub(crate) fn queue_counts(conn: &Connection) -> Result<Vec<QueueCount>> {
        let mut stmt = conn.prepare_cached(
            "SELECT queue, state, count(*), min(opened_at) FROM cases WHERE state <> 'resolved' GROUP BY queue, state",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?, r.get::<_, Option<i64>>(3)?))
            })?
            .map(|r| {
                let (q, s, n, oldest) = r?;
                Ok((q, s, n, oldest.map(time).transpose()?))
            })
            .collect::<Vec<_>>();
        count_queues(rows)
    }

    pub(crate) fn entries(conn: &Connection, case_id: &str) -> Result<Vec<CaseEntry>> {
        bodies(conn, "case entry", "SELECT body FROM case_log WHERE case_id = ?1 ORDER BY seq", [case_id])
    }

    pub(crate) fn reports(conn: &Connection, case_id: &str) -> Result<Vec<CaseReport>> {
        bodies(conn, "report", "SELECT body FROM case_reports WHERE case_id = ?1 ORDER BY at, id", [case_id])
    }

    pub(crate) fn report(conn: &Connection, id: &str) -> Result<Option<CaseReport>> {
        body(conn, "report", "SELECT body FROM case_reports WHERE id = ?1", [id])
    }

    /// Upheld and dismissed reports of a reporter, and their mute.
    pub(crate) fn reporter(conn: &Connection, reporter_id: &str) -> Result<(u32, u32, Option<ReporterMute>)> {
        let count = |state: &str| -> Result<u32> {
            let n: i64 = conn
                .prepare_cached("SELECT count(*) FROM case_reports WHERE reporter_id = ?1 AND state = ?2")?
                .query_row([reporter_id, state], |r| r.get(0))?;
            Ok(u32::try_from(n).unwrap_or(u32::MAX))
        };
        let mute = body(conn, "mute", "SELECT body FROM reporter_mutes WHERE reporter_id = ?1", [reporter_id])?;
        Ok((count("upheld")?, count("dismissed")?, mute))
    }

    pub(crate) fn appeal(conn: &Connection, id: &str) -> Result<Option<AppealFiled>> {
        body(conn, "appeal", "SELECT body FROM appeals WHERE id = ?1", [id])
    }

    pub(crate) fn appeals_for(conn: &Connection, decision_id: &str) -> Result<Vec<AppealFiled>> {
        bodies(conn, "appeal", "SELECT body FROM appeals WHERE decision_id = ?1 ORDER BY filed_at, id", [decision_id])
    }

    pub(crate) fn reversal(conn: &Connection, decision_id: &str) -> Result<Option<Reversal>> {
        body(conn, "reversal", "SELECT body FROM reversals WHERE decision_id = ?1", [decision_id])
    }

    pub(crate) fn reversals(conn: &Connection, account_id: Option<&str>) -> Result<Vec<Reversal>> {
        bodies(
            conn,
            "reversal",
            "SELECT body FROM reversals WHERE ?1 IS NULL OR account_id = ?1 ORDER BY seq",
            [account_id],
        )
    }

    pub(crate) fn reversals_since(conn: &Connection, at: i64) -> Result<Vec<Reversal>> {
        bodies(conn, "reversal", "SELECT body FROM reversals WHERE at >= ?1 ORDER BY seq", [at])
    }
}

pub(crate) mod postgres {
    use ::postgres::types::ToSql;
    use ::postgres::{GenericClient, Transaction};

    use super::*;

    fn limit(n: usize) -> i64 {
        i64::try_from(n).unwrap_or(i64::MAX)
    }

    pub(crate) fn write(tx: &mut Transaction<'_>, writes: &[ReviewWrite]) -> Result<()> {
        for w in writes {
            match w {
                ReviewWrite::Case(c) => {
                    let rank = c.rank();
                    let until = c.claim.as_ref().map(|c| c.until);
                    let rows = tx.execute(
                        "INSERT INTO cases (id, subject_kind, subject_id, queue, state, rank, claim_until, opened_at, body)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                         ON CONFLICT (id) DO UPDATE SET queue = excluded.queue, state = excluded.state,
                           rank = excluded.rank, claim_until = excluded.claim_until, body = excluded.body
                         WHERE (cases.body::jsonb ->> 'version')::bigint = $10",
                        &[
                            &c.id,
                            &c.subject.kind.as_str(),
                            &c.subject.id,
                            &c.queue,
                            &c.state.as_str(),
                            &rank,
                            &until,
                            &c.opened_at,
                            &json("case", c)?,
                            &previous_version(c),
                        ],
                    )
                    .map_err(|e| match e.as_db_error().and_then(|d| d.constraint()) {
                        Some("cases_open_subject") => opened_elsewhere(c),
                        _ => e.into(),
                    })?;
                    written(rows as usize, c)?;
                }
                ReviewWrite::Entry(e) => {
                    tx.execute(
                        "INSERT INTO case_log (case_id, at, actor, body) VALUES ($1, $2, $3, $4)",
                        &[&e.case_id, &e.at, &e.actor, &json("case entry", e)?],
                    )?;
                }
                ReviewWrite::Report(r) => {
                    tx.execute(
                        "INSERT INTO case_reports (id, reporter_id, case_id, state, at, body) VALUES ($1, $2, $3, $4, $5, $6)
                         ON CONFLICT (id) DO UPDATE SET case_id = excluded.case_id, state = excluded.state, body = excluded.body",
                        &[&r.id, &r.reporter_id, &r.case_id, &r.state.as_str(), &r.at, &json("report", r)?],
                    )?;
                }
                ReviewWrite::Appeal(a) => {
                    tx.execute(
                        "INSERT INTO appeals (id, decision_id, state, filed_at, body) VALUES ($1, $2, $3, $4, $5)
                         ON CONFLICT (id) DO UPDATE SET state = excluded.state, body = excluded.body",
                        &[&a.id, &a.decision_id, &a.state.as_str(), &a.filed_at, &json("appeal", a)?],
                    )?;
                }
                ReviewWrite::Reversal(r) => {
                    tx.execute(
                        "INSERT INTO reversals (decision_id, account_id, at, body) VALUES ($1, $2, $3, $4)
                         ON CONFLICT (decision_id) DO NOTHING",
                        &[&r.decision_id, &r.account_id, &r.at, &json("reversal", r)?],
                    )?;
                }
                ReviewWrite::Mute(m) => {
                    tx.execute(
                        "INSERT INTO reporter_mutes (reporter_id, until, body) VALUES ($1, $2, $3)
                         ON CONFLICT (reporter_id) DO UPDATE SET until = excluded.until, body = excluded.body",
                        &[&m.reporter_id, &m.until, &json("mute", m)?],
                    )?;
                }
            }
        }
        Ok(())
    }

    fn bodies<T: DeserializeOwned>(
        c: &mut impl GenericClient,
        what: &str,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<T>> {
        c.query(sql, params)?.iter().map(|r| parse(what, r.get::<_, &str>(0))).collect()
    }

    fn body<T: DeserializeOwned>(
        c: &mut impl GenericClient,
        what: &str,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<T>> {
        c.query_opt(sql, params)?.map(|r| parse(what, r.get::<_, &str>(0))).transpose()
    }

    pub(crate) fn case(c: &mut impl GenericClient, id: &str) -> Result<Option<Case>> {
        body(c, "case", "SELECT body FROM cases WHERE id = $1", &[&id])
    }

    pub(crate) fn open_case(c: &mut impl GenericClient, kind: &str, id: &str) -> Result<Option<Case>> {
        body(
            c,
            "case",
            "SELECT body FROM cases WHERE subject_kind = $1 AND subject_id = $2 AND state <> 'resolved'",
            &[&kind, &id],
        )
    }

    pub(crate) fn subject_cases(c: &mut impl GenericClient, kind: &str, id: &str, n: usize) -> Result<Vec<Case>> {
        bodies(
            c,
            "case",
            "SELECT body FROM cases WHERE subject_kind = $1 AND subject_id = $2 ORDER BY opened_at, id LIMIT $3",
            &[&kind, &id, &limit(n)],
        )
    }

    pub(crate) fn claimable(c: &mut impl GenericClient, queue: &str, at: DateTime<Utc>, n: usize) -> Result<Vec<Case>> {
        let free = bodies(
            c,
            "case",
            "SELECT body FROM cases WHERE queue = $1 AND state IN ('open', 'escalated') ORDER BY rank DESC, id LIMIT $2",
            &[&queue, &limit(n)],
        )?;
        let lapsed = bodies(
            c,
            "case",
            "SELECT body FROM cases WHERE queue = $1 AND state = 'assigned' AND claim_until <= $2",
            &[&queue, &at],
        )?;
        Ok(by_rank(free, lapsed, n))
    }

    pub(crate) fn cases(
        c: &mut impl GenericClient,
        queue: Option<&str>,
        state: Option<CaseState>,
        n: usize,
    ) -> Result<Vec<Case>> {
        let sql = cases_query(queue.is_some(), state.is_some(), |i| format!("${i}"));
        let (state, n) = (state.map(CaseState::as_str), limit(n));
        let mut args: Vec<&(dyn ToSql + Sync)> = Vec::new();
        args.extend(queue.as_ref().map(|q| q as &(dyn ToSql + Sync)));
        args.extend(state.as_ref().map(|s| s as &(dyn ToSql + Sync)));
        args.push(&n);
        bodies(c, "case", &sql, &args)
    }

    pub(crate) fn queue_counts(c: &mut impl GenericClient) -> Result<Vec<QueueCount>> {
        let rows = c.query(
            "SELECT queue, state, count(*), min(opened_at) FROM cases WHERE state <> 'resolved' GROUP BY queue, state",
            &[],
        )?;
        count_queues(rows.iter().map(|r| Ok((r.get(0), r.get(1), r.get(2), r.get(3)))))
    }

    pub(crate) fn entries(c: &mut impl GenericClient, case_id: &str) -> Result<Vec<CaseEntry>> {
        bodies(c, "case entry", "SELECT body FROM case_log WHERE case_id = $1 ORDER BY seq", &[&case_id])
    }

    pub(crate) fn reports(c: &mut impl GenericClient, case_id: &str) -> Result<Vec<CaseReport>> {
        bodies(c, "report", "SELECT body FROM case_reports WHERE case_id = $1 ORDER BY at, id", &[&case_id])
    }

    pub(crate) fn report(c: &mut impl GenericClient, id: &str) -> Result<Option<CaseReport>> {
        body(c, "report", "SELECT body FROM case_reports WHERE id = $1", &[&id])
    }

    pub(crate) fn reporter(c: &mut impl GenericClient, reporter_id: &str) -> Result<(u32, u32, Option<ReporterMute>)> {
        let row = c.query_one(
            "SELECT count(*) FILTER (WHERE state = 'upheld'), count(*) FILTER (WHERE state = 'dismissed')
             FROM case_reports WHERE reporter_id = $1",
            &[&reporter_id],
        )?;
        let n = |i: usize| u32::try_from(row.get::<_, i64>(i)).unwrap_or(u32::MAX);
        let (upheld, dismissed) = (n(0), n(1));
        let mute = body(c, "mute", "SELECT body FROM reporter_mutes WHERE reporter_id = $1", &[&reporter_id])?;
        Ok((upheld, dismissed, mute))
    }

    pub(crate) fn appeal(c: &mut impl GenericClient, id: &str) -> Result<Option<AppealFiled>> {
        body(c, "appeal", "SELECT body FROM appeals WHERE id = $1", &[&id])
    }

    pub(crate) fn appeals_for(c: &mut impl GenericClient, decision_id: &str) -> Result<Vec<AppealFiled>> {
        bodies(c, "appeal", "SELECT body FROM appeals WHERE decision_id = $1 ORDER BY filed_at, id", &[&decision_id])
    }

    pub(crate) fn reversal(c: &mut impl GenericClient, decision_id: &str) -> Result<Option<Reversal>> {
        body(c, "reversal", "SELECT body FROM reversals WHERE decision_id = $1", &[&decision_id])
    }

    pub(crate) fn reversals(c: &mut impl GenericClient, account_id: Option<&str>) -> Result<Vec<Reversal>> {
        bodies(
            c,
            "reversal",
            "SELECT body FROM reversals WHERE $1::text IS NULL OR account_id = $1 ORDER BY seq",
            &[&account_id],
        )
    }

    pub(crate) fn reversals_since(c: &mut impl GenericClient, at: DateTime<Utc>) -> Result<Vec<Reversal>> {
        bodies(c, "reversal", "SELECT body FROM reversals WHERE at >= $1 ORDER BY seq", &[&at])
    }

    pub(crate) fn reversals_of(c: &mut impl GenericClient, accounts: &[&str]) -> Result<Vec<Reversal>> {
        bodies(c, "reversal", "SELECT body FROM reversals WHERE account_id = ANY($1) ORDER BY seq", &[&accounts])
    }
}
