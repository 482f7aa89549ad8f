//! The counts a transparency report is made of, aggregated in the database: every query
//! is a `GROUP BY` over the rows of a period, so a report over millions of decisions reads
//! them once in SQL and brings back a few hundred rows. Shaping them into a report is for
//! the caller (`steward-report`).
//!
//! Periods are `[from, to)`: decisions by when they were made, restrictions by when they
//! started, reports and appeals by when they were filed, moderators' actions by when they
//! were taken. Only live decisions count; shadow rules' would-be decisions enforce nothing.
//! The indexes the queries range over are migrations 10 and 11's.

use chrono::{DateTime, NaiveDate, Utc};

use crate::{Result, StoreError};

/// What a person's replacement of a decision (a case's `modify`) counts under, in place
/// of its one-off rule id `review.<case>.<version>`.
pub const REVIEW_RULE: &str = "review";

/// Case actions that decide: the first of them after a report is when it was acted on.
const DECIDING: &str = "('upheld', 'overturned', 'modified', 'reports_dismissed')";

/// Case actions counted as moderators' decisions on cases.
pub const REVIEW_ACTIONS: [&str; 5] = ["upheld", "overturned", "modified", "reports_dismissed", "escalated"];

/// Live decisions alike in everything the report breaks them down by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionGroup {
    pub category: String,
    pub ground: String,
    /// The rule, or [`REVIEW_RULE`] for a moderator's replacement decision.
    pub rule: String,
    /// The kind of the post decided on (`short_post`, `group_message`, ...), or `account`
    /// for a decision about an account alone.
    pub content: String,
    pub automated_detection: bool,
    pub automated_decision: bool,
    pub decisions: u64,
    /// Of those, how many a person has since overturned.
    pub reversed: u64,
}

/// A count under one key (and, for two-way tables, a second).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tally {
    pub key: String,
    pub by: String,
    pub count: u64,
}

/// Decisions whose facts hold a signal of one detector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetectorTally {
    pub detector: String,
    pub decisions: u64,
    pub reversed: u64,
}

/// How long a restriction was set for when it started (a reversal ending it early is not
/// counted here).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Length {
    UpToDay,
    UpToWeek,
    UpToMonth,
    Longer,
    /// No end: a post's label or removal, a closed account.
    Permanent,
}

impl Length {
    pub const ALL: [Length; 5] =
        [Length::UpToDay, Length::UpToWeek, Length::UpToMonth, Length::Longer, Length::Permanent];

    pub fn as_str(self) -> &'static str {
        match self {
            Length::UpToDay => "up_to_1_day",
            Length::UpToWeek => "up_to_7_days",
            Length::UpToMonth => "up_to_30_days",
            Length::Longer => "over_30_days",
            Length::Permanent => "permanent",
        }
    }

    fn parse(s: &str) -> Result<Length> {
        Length::ALL
            .into_iter()
            .find(|l| l.as_str() == s)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown restriction length {s:?}")))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LengthTally {
    /// The restriction kind (`posting`, `suspended`, ...).
    pub kind: String,
    pub length: Length,
    pub count: u64,
}

/// The middle of the waits from reports to the first moderator decision on their case.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Waits {
    /// Reports of the period that were decided (upheld or dismissed) with a moderator's
    /// action on their case.
    pub reports: u64,
    pub median_seconds: f64,
}

/// Everything a transparency report counts over one period.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TransparencyCounts {
    pub decisions: Vec<DecisionGroup>,
    /// Live decisions per UTC day, days with none left out, in order.
    pub decisions_by_day: Vec<(NaiveDate, u64)>,
    /// Actions of the decisions, by type (a decision counts once per action it holds).
    pub actions: Vec<Tally>,
    pub detectors: Vec<DetectorTally>,
    pub restrictions: Vec<LengthTally>,
    /// Moderators' decisions on cases, by action ([`REVIEW_ACTIONS`]).
    pub reviews: Vec<Tally>,
    /// Reports by source (`key`: `api` when filed through `POST /v1/reports`, `event` when
    /// sent as a `report.created` event) and state (`by`).
    pub reports: Vec<Tally>,
    pub waits: Option<Waits>,
    /// Appeals filed, by the rule of the decision appealed (`key`) and state (`by`).
    pub appeals_by_rule: Vec<Tally>,
    /// Appeals filed, by each detector whose signal the decision appealed relied on.
    pub appeals_by_detector: Vec<Tally>,
}

/// Live decisions alike in everything the report counts, with the types of their actions
/// and the detectors of their signals, each list joined by [`SEP`]: one scan of the
/// decisions gives every breakdown, [`fold`] sums them out.
struct Scanned {
    group: DecisionGroup,
    actions: Option<String>,
    detectors: Option<String>,
}

/// Joins the items of a list in one column; no action type or detector name holds it.
const SEP: char = '\u{1f}';

/// The decision groups, actions by type and decisions by detector of scanned rows.
fn fold(rows: Vec<Scanned>) -> (Vec<DecisionGroup>, Vec<Tally>, Vec<DetectorTally>) {
    use std::collections::BTreeMap;
    let mut groups: Vec<DecisionGroup> = Vec::new();
    let mut actions: BTreeMap<String, u64> = BTreeMap::new();
    let mut detectors: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for Scanned { group, actions: types, detectors: names } in rows {
        for t in types.iter().flat_map(|t| t.split(SEP)).filter(|t| !t.is_empty()) {
            *actions.entry(t.to_string()).or_default() += group.decisions;
        }
        let mut names: Vec<&str> = names.iter().flat_map(|n| n.split(SEP)).filter(|n| !n.is_empty()).collect();
        names.sort_unstable();
        names.dedup();
        for n in names {
            let e = detectors.entry(n.to_string()).or_default();
            e.0 += group.decisions;
            e.1 += group.reversed;
        }
        let same = |g: &&mut DecisionGroup| {
            (&g.category, &g.ground, &g.rule, &g.content, g.automated_detection, g.automated_decision)
                == (
                    &group.category,
                    &group.ground,
                    &group.rule,
                    &group.content,
                    group.automated_detection,
                    group.automated_decision,
                )
        };
        match groups.iter_mut().find(same) {
            Some(g) => {
                g.decisions += group.decisions;
                g.reversed += group.reversed;
            }
            None => groups.push(group),
        }
    }
    let actions = actions.into_iter().map(|(key, count)| Tally { key, by: String::new(), count }).collect();
    let detectors = detectors
        .into_iter()
        .map(|(detector, (decisions, reversed))| DetectorTally { detector, decisions, reversed })
        .collect();
    (groups, actions, detectors)
}

fn count(v: i64) -> Result<u64> {
    crate::rows::u64_from_db(v, "count")
}

fn day(days_since_epoch: i64) -> Result<NaiveDate> {
    DateTime::from_timestamp(days_since_epoch.saturating_mul(86_400), 0)
        .map(|t| t.date_naive())
        .ok_or_else(|| StoreError::Corrupt(format!("day out of range: {days_since_epoch}")))
}

pub(crate) mod sqlite {
    use rusqlite::{Connection, Row, params};
    use steward_model::Case;

    use super::*;
    use crate::sqlite_store::{collect, limit, micros};

    const DAY: i64 = 86_400_000_000;

    /// The rule a decision counts under.
    const RULE: &str = "CASE WHEN d.rule_id LIKE 'review.%' AND NOT json_extract(d.body, '$.automated_decision')
        THEN 'review' ELSE d.rule_id END";

    /// The detector of a signal `s` (an element of a decision's `facts.signals`).
    const DETECTOR: &str = "CASE WHEN s.type = 'object' THEN json_extract(s.value, '$.detector') END";

    fn tally(r: &Row<'_>) -> Result<Tally> {
        Ok(Tally { key: r.get(0)?, by: r.get(1)?, count: count(r.get(2)?)? })
    }

    /// All the counts, from one snapshot.
    pub(crate) fn counts(conn: &mut Connection, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<TransparencyCounts> {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Deferred)?;
        let span = params![micros(from), micros(to)];
        let live = "d.shadow = 0 AND d.decided_at >= ?1 AND d.decided_at < ?2";
        // SQLite parses a body once for all the json_extract calls of a row; json_each then
        // reads only the list extracted.
        let scanned = collect(
            &tx,
            &format!(
                "SELECT json_extract(d.body, '$.category'), json_extract(d.body, '$.ground'), {RULE},
                    CASE WHEN d.post_id IS NULL THEN 'account' ELSE coalesce(json_extract(p.body, '$.kind'), 'post') END,
                    json_extract(d.body, '$.automated_detection'), json_extract(d.body, '$.automated_decision'),
                    (SELECT group_concat(json_extract(a.value, '$.type'), char(31)) FROM json_each(json_extract(d.body, '$.actions')) a
                        WHERE a.type = 'object'),
                    (SELECT group_concat({DETECTOR}, char(31))
                        FROM json_each(json_extract(d.body, '$.facts.signals')) s),
                    count(*), count(v.decision_id)
                 FROM decisions d
                 LEFT JOIN entities p ON p.kind = 'post' AND p.id = d.post_id
                 LEFT JOIN reversals v ON v.decision_id = d.id
                 WHERE {live}
                 GROUP BY 1, 2, 3, 4, 5, 6, 7, 8"
            ),
            span,
            |r| {
                Ok(Scanned {
                    group: DecisionGroup {
                        category: r.get::<_, Option<String>>(0)?.unwrap_or_default(),
                        ground: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                        rule: r.get(2)?,
                        content: r.get(3)?,
                        automated_detection: r.get::<_, Option<bool>>(4)?.unwrap_or(false),
                        automated_decision: r.get::<_, Option<bool>>(5)?.unwrap_or(false),
                        decisions: count(r.get(8)?)?,
                        reversed: count(r.get(9)?)?,
                    },
                    actions: r.get(6)?,
                    detectors: r.get(7)?,
                })
            },
        )?;
        let (decisions, actions, detectors) = fold(scanned);
        let decisions_by_day = collect(
            &tx,
            &format!("SELECT d.decided_at / {DAY}, count(*) FROM decisions d WHERE {live} GROUP BY 1 ORDER BY 1"),
            span,
            |r| Ok((day(r.get(0)?)?, count(r.get(1)?)?)),
        )?;
        let restrictions = collect(
            &tx,
            &format!(
                "SELECT kind, CASE WHEN end_at IS NULL THEN 'permanent'
                    WHEN end_at - start_at <= {DAY} THEN 'up_to_1_day'
                    WHEN end_at - start_at <= 7 * {DAY} THEN 'up_to_7_days'
                    WHEN end_at - start_at <= 30 * {DAY} THEN 'up_to_30_days'
                    ELSE 'over_30_days' END, count(*)
                 FROM restrictions WHERE start_at >= ?1 AND start_at < ?2 GROUP BY 1, 2"
            ),
            span,
            |r| {
                Ok(LengthTally {
                    kind: r.get(0)?,
                    length: Length::parse(&r.get::<_, String>(1)?)?,
                    count: count(r.get(2)?)?,
                })
            },
        )?;
        let reviews = collect(
            &tx,
            &format!(
                "SELECT json_extract(body, '$.action'), '', count(*) FROM case_log
                 WHERE at >= ?1 AND at < ?2 AND actor <> 'steward' AND json_extract(body, '$.action') IN {}
                 GROUP BY 1",
                sql_list(&REVIEW_ACTIONS)
            ),
            span,
            tally,
        )?;
        let reports = collect(
            &tx,
            "SELECT CASE WHEN e.id IS NULL THEN 'event' ELSE 'api' END, r.state, count(*)
             FROM case_reports r LEFT JOIN events e ON e.id = 'report.' || r.id
             WHERE r.at >= ?1 AND r.at < ?2 GROUP BY 1, 2",
            span,
            tally,
        )?;
        let waits = collect(
            &tx,
            &format!(
                "WITH waits AS (
                    SELECT (SELECT min(l.at) FROM case_log l WHERE l.case_id = r.case_id AND l.at >= r.at
                              AND l.actor <> 'steward' AND json_extract(l.body, '$.action') IN {DECIDING}) - r.at AS wait
                    FROM case_reports r
                    WHERE r.at >= ?1 AND r.at < ?2 AND r.state IN ('upheld', 'dismissed')
                 ), ranked AS (
                    SELECT wait, row_number() OVER (ORDER BY wait) AS i, count(*) OVER () AS n
                    FROM waits WHERE wait IS NOT NULL
                 )
                 SELECT max(n), avg(wait) FROM ranked WHERE i IN ((n + 1) / 2, n / 2 + 1)"
            ),
            span,
            |r| {
                let n: Option<i64> = r.get(0)?;
                let median: Option<f64> = r.get(1)?;
                Ok(n.zip(median))
            },
        )?;
        let waits = match waits.into_iter().flatten().next() {
            Some((n, micros)) => Some(Waits { reports: count(n)?, median_seconds: micros / 1e6 }),
            None => None,
        };
        let appeals_by_rule = collect(
            &tx,
            &format!(
                "SELECT {RULE}, a.state, count(*) FROM appeals a JOIN decisions d ON d.id = a.decision_id
                 WHERE a.filed_at >= ?1 AND a.filed_at < ?2 GROUP BY 1, 2"
            ),
            span,
            tally,
        )?;
        let appeals_by_detector = collect(
            &tx,
            &format!(
                "SELECT {DETECTOR}, a.state, count(DISTINCT a.id)
                 FROM appeals a JOIN decisions d ON d.id = a.decision_id JOIN json_each(d.body, '$.facts.signals') s
                 WHERE a.filed_at >= ?1 AND a.filed_at < ?2 AND {DETECTOR} IS NOT NULL
                 GROUP BY 1, 2"
            ),
            span,
            tally,
        )?;
        tx.commit()?;
        Ok(TransparencyCounts {
            decisions,
            decisions_by_day,
            actions,
            detectors,
            restrictions,
            reviews,
            reports,
            waits,
            appeals_by_rule,
            appeals_by_detector,
        })
    }

    pub(crate) fn resolved_cases(
        conn: &Connection,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        n: usize,
    ) -> Result<Vec<Case>> {
        collect(
            conn,
            "SELECT body FROM cases WHERE state = 'resolved' AND opened_at >= ?1 AND opened_at < ?2
             ORDER BY opened_at DESC, id LIMIT ?3",
            params![micros(from), micros(to), limit(n)],
            |r| crate::review::parse("case", &r.get::<_, String>(0)?),
        )
    }
}

pub(crate) mod postgres {
    use ::postgres::{Client, IsolationLevel, Row};
    use steward_model::Case;

    use super::*;

    /// The rule a decision counts under.
    const RULE: &str = "CASE WHEN d.rule_id LIKE 'review.%' AND NOT (d.body->>'automated_decision')::boolean
        THEN 'review' ELSE d.rule_id END";

    /// A decision's signals, or nothing when its facts hold no list of them.
    const SIGNALS: &str = "CASE WHEN json_typeof(d.body->'facts'->'signals') = 'array'
        THEN d.body->'facts'->'signals' END";

    fn tally(r: &Row) -> Result<Tally> {
        Ok(Tally { key: r.get(0), by: r.get(1), count: count(r.get(2))? })
    }

    fn all<T>(rows: Vec<Row>, f: impl Fn(&Row) -> Result<T>) -> Result<Vec<T>> {
        rows.iter().map(f).collect()
    }

    /// All the counts, from one snapshot (a read-only repeatable-read transaction).
    pub(crate) fn counts(client: &mut Client, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<TransparencyCounts> {
        let mut tx =
            client.build_transaction().isolation_level(IsolationLevel::RepeatableRead).read_only(true).start()?;
        let span: [&(dyn ::postgres::types::ToSql + Sync); 2] = [&from, &to];
        let live = "NOT d.shadow AND d.decided_at >= $1 AND d.decided_at < $2";
        // json_to_record reads each body once for all its fields; the actions and the facts
        // are read again, each alone.
        let scanned = tx.query(
            &format!(
                "SELECT b.category, b.ground, {RULE},
                    CASE WHEN d.post_id IS NULL THEN 'account' ELSE coalesce(p.body::json->>'kind', 'post') END,
                    coalesce(b.automated_detection, false), coalesce(b.automated_decision, false),
                    (SELECT string_agg(a->>'type', chr(31)) FROM json_array_elements(
                        CASE WHEN json_typeof(b.actions) = 'array' THEN b.actions END) a),
                    (SELECT string_agg(s->>'detector', chr(31)) FROM json_array_elements(
                        CASE WHEN json_typeof(b.facts->'signals') = 'array' THEN b.facts->'signals' END) s),
                    count(*), count(v.decision_id)
                 FROM decisions d
                 CROSS JOIN LATERAL json_to_record(d.body) AS b(category text, ground text,
                    automated_detection boolean, automated_decision boolean, actions json, facts json)
                 LEFT JOIN entities p ON p.kind = 'post' AND p.id = d.post_id
                 LEFT JOIN reversals v ON v.decision_id = d.id
                 WHERE {live}
                 GROUP BY 1, 2, 3, 4, 5, 6, 7, 8"
            ),
            &span,
        )?;
        let scanned = all(scanned, |r| {
            Ok(Scanned {
                group: DecisionGroup {
                    category: r.get::<_, Option<String>>(0).unwrap_or_default(),
                    ground: r.get::<_, Option<String>>(1).unwrap_or_default(),
                    rule: r.get(2),
                    content: r.get(3),
                    automated_detection: r.get(4),
                    automated_decision: r.get(5),
                    decisions: count(r.get(8))?,
                    reversed: count(r.get(9))?,
                },
                actions: r.get(6),
                detectors: r.get(7),
            })
        })?;
        let (decisions, actions, detectors) = fold(scanned);
        let by_day = tx.query(
            &format!(
                "SELECT floor(extract(epoch FROM d.decided_at) / 86400)::bigint, count(*)
                 FROM decisions d WHERE {live} GROUP BY 1 ORDER BY 1"
            ),
            &span,
        )?;
        let decisions_by_day = all(by_day, |r| Ok((day(r.get(0))?, count(r.get(1))?)))?;
        let restrictions = tx.query(
            "SELECT kind, CASE WHEN end_at IS NULL THEN 'permanent'
                WHEN end_at - start_at <= interval '1 day' THEN 'up_to_1_day'
                WHEN end_at - start_at <= interval '7 days' THEN 'up_to_7_days'
                WHEN end_at - start_at <= interval '30 days' THEN 'up_to_30_days'
                ELSE 'over_30_days' END, count(*)
             FROM restrictions WHERE start_at >= $1 AND start_at < $2 GROUP BY 1, 2",
            &span,
        )?;
        let reviews = tx.query(
            &format!(
                "SELECT body::json->>'action', '', count(*) FROM case_log
                 WHERE at >= $1 AND at < $2 AND actor <> 'steward' AND body::json->>'action' IN {}
                 GROUP BY 1",
                sql_list(&REVIEW_ACTIONS)
            ),
            &span,
        )?;
        let reports = tx.query(
            "SELECT CASE WHEN e.id IS NULL THEN 'event' ELSE 'api' END, r.state, count(*)
             FROM case_reports r LEFT JOIN events e ON e.id = 'report.' || r.id
             WHERE r.at >= $1 AND r.at < $2 GROUP BY 1, 2",
            &span,
        )?;
        let waits = tx.query_one(
            &format!(
                "SELECT count(wait), percentile_cont(0.5) WITHIN GROUP (ORDER BY wait) FROM (
                    SELECT extract(epoch FROM (
                        SELECT min(l.at) FROM case_log l WHERE l.case_id = r.case_id AND l.at >= r.at
                          AND l.actor <> 'steward' AND l.body::json->>'action' IN {DECIDING}) - r.at)::float8 AS wait
                    FROM case_reports r
                    WHERE r.at >= $1 AND r.at < $2 AND r.state IN ('upheld', 'dismissed')
                 ) w WHERE wait IS NOT NULL"
            ),
            &span,
        )?;
        let waits = match (waits.get::<_, i64>(0), waits.get::<_, Option<f64>>(1)) {
            (n, Some(median)) if n > 0 => Some(Waits { reports: count(n)?, median_seconds: median }),
            _ => None,
        };
        let appeals_by_rule = tx.query(
            &format!(
                "SELECT {RULE}, a.state, count(*) FROM appeals a JOIN decisions d ON d.id = a.decision_id
                 WHERE a.filed_at >= $1 AND a.filed_at < $2 GROUP BY 1, 2"
            ),
            &span,
        )?;
        let appeals_by_detector = tx.query(
            &format!(
                "SELECT s->>'detector', a.state, count(DISTINCT a.id)
                 FROM appeals a JOIN decisions d ON d.id = a.decision_id
                 CROSS JOIN LATERAL json_array_elements({SIGNALS}) s
                 WHERE a.filed_at >= $1 AND a.filed_at < $2 AND s->>'detector' IS NOT NULL
                 GROUP BY 1, 2"
            ),
            &span,
        )?;
        tx.commit()?;
        Ok(TransparencyCounts {
            decisions,
            decisions_by_day,
            actions,
            detectors,
            restrictions: all(restrictions, |r| {
                Ok(LengthTally { kind: r.get(0), length: Length::parse(r.get(1))?, count: count(r.get(2))? })
            })?,
            reviews: all(reviews, tally)?,
            reports: all(reports, tally)?,
            waits,
            appeals_by_rule: all(appeals_by_rule, tally)?,
            appeals_by_detector: all(appeals_by_detector, tally)?,
        })
    }

    pub(crate) fn resolved_cases(
        client: &mut Client,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        n: usize,
    ) -> Result<Vec<Case>> {
        let n = i64::try_from(n).unwrap_or(i64::MAX);
        client
            .query(
                "SELECT body FROM cases WHERE state = 'resolved' AND opened_at >= $1 AND opened_at < $2
                 ORDER BY opened_at DESC, id LIMIT $3",
                &[&from, &to, &n],
            )?
            .iter()
            .map(|r| crate::review::parse("case", r.get::<_, &str>(0)))
            .collect()
    }
}

/// `('a', 'b')` for SQL, from names that hold no quote.
fn sql_list(names: &[&str]) -> String {
    format!("({})", names.iter().map(|n| format!("'{n}'")).collect::<Vec<_>>().join(", "))
}
