//! The transparency report: what the platform decided in a period, how much of it a
//! person decided or reviewed, and how often review found it wrong. Built in one place,
//! [`Transparency::from_counts`], from the counts the store aggregates.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use steward_store::transparency::{Length, REVIEW_RULE};
use steward_store::{Store, StoreError, TransparencyCounts};

use crate::Period;
use crate::public_cases::{self, PublicCase};

/// The transparency report of one period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Transparency {
    pub period: Period,
    pub generated_at: DateTime<Utc>,
    pub decisions: Decisions,
    /// Moderators' decisions on cases.
    pub reviews: Reviews,
    pub reports: Reports,
    pub appeals: Appeals,
    /// Restrictions that started in the period, by kind and the length they were set for.
    pub restrictions: Vec<RestrictionLengths>,
    /// A few cases decided in the period, written up for the public (see [`PublicCase`]).
    pub cases: Vec<PublicCase>,
}

/// A count under a name, largest first in every list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Count {
    pub key: String,
    pub count: u64,
}

/// Live decisions made in the period (shadow rules' would-be decisions are left out).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Decisions {
    pub total: u64,
    /// Decided by steward with no person (the decision's `automated_decision`).
    pub automated: u64,
    /// Decided by a person: a moderator's replacement (`modify`), or a rule marked not automated.
    pub by_a_person: u64,
    /// Found by a detector (the decision's `automated_detection`).
    pub automated_detection: u64,
    /// Since overturned by a person.
    pub reversed: u64,
    pub by_category: Vec<Count>,
    pub by_ground: Vec<Count>,
    /// Actions by type; a decision counts once for each action it holds.
    pub by_action: Vec<Count>,
    /// By what was decided on: the kind of post (`short_post`, `group_message`, ...), or
    /// `account`.
    pub by_content: Vec<Count>,
    pub over_time: Series,
}

/// Counts per step of time, every step of the period listed (none left out for being zero).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Series {
    pub step: Step,
    pub points: Vec<Point>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    Day,
    /// Weeks from Monday.
    Week,
    Month,
    Year,
}

impl Step {
    /// Days for periods of up to 92 days, weeks up to two years, months up to 25 years.
    pub fn for_days(days: i64) -> Step {
        match days {
            ..=92 => Step::Day,
            93..=731 => Step::Week,
            732..=9131 => Step::Month,
            _ => Step::Year,
        }
    }

    /// The first day of the step `day` falls in.
    pub fn start(self, day: NaiveDate) -> NaiveDate {
        let first = |y, m| NaiveDate::from_ymd_opt(y, m, 1).unwrap_or(day);
        match self {
            Step::Day => day,
            Step::Week => day - Duration::days(i64::from(day.weekday().num_days_from_monday())),
            Step::Month => first(day.year(), day.month()),
            Step::Year => first(day.year(), 1),
        }
    }

    fn next(self, start: NaiveDate) -> Option<NaiveDate> {
        match self {
            Step::Day => start.succ_opt(),
            Step::Week => start.checked_add_signed(Duration::days(7)),
            Step::Month => start.checked_add_months(chrono::Months::new(1)),
            Step::Year => start.checked_add_months(chrono::Months::new(12)),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Step::Day => "day",
            Step::Week => "week",
            Step::Month => "month",
            Step::Year => "year",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Point {
    /// The step's first day (for the first step, the period's may be later).
    pub start: NaiveDate,
    pub count: u64,
}

/// Moderators' decisions on cases taken in the period, by action: `upheld`, `overturned`,
/// `modified`, `reports_dismissed`, `escalated`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Reviews {
    pub total: u64,
    pub by_action: Vec<Count>,
}

/// User reports filed in the period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Reports {
    pub total: u64,
    /// `api` (filed through `POST /v1/reports`) or `event` (a `report.created` event).
    pub by_source: Vec<Count>,
    /// `upheld`, `dismissed`, `pending` (its case not decided yet), `duplicate` (the
    /// reporter had reported the subject already), `muted` (the reporter was muted).
    pub by_outcome: Vec<Count>,
    pub by_source_and_outcome: Vec<SourceOutcome>,
    /// Reports decided with a moderator's action on their case, and the median hours from
    /// the report to the first such action (uphold, overturn, modify, dismissal).
    pub acted_on: u64,
    pub median_hours_to_action: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SourceOutcome {
    pub source: String,
    pub outcome: String,
    pub count: u64,
}

/// Appeals filed in the period, with what has become of them so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Appeals {
    pub received: u64,
    pub decided: u64,
    /// Granted: the decision was overturned or replaced.
    pub overturned: u64,
    pub pending: u64,
    /// `overturned / decided`.
    pub overturn_rate: Option<f64>,
    /// Per rule (`review` for moderators' replacement decisions): the precision review
    /// reports back.
    pub by_rule: Vec<Precision>,
    /// Per detector whose signal the decisions relied on.
    pub by_detector: Vec<Precision>,
}

/// How a rule's or detector's decisions of the period fared with people.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Precision {
    pub key: String,
    pub decisions: u64,
    /// Decisions since overturned, on appeal or on review.
    pub reversed: u64,
    /// Appeals filed in the period against its decisions (of any period), decided so far,
    /// and overturned.
    pub appeals: u64,
    pub appeals_decided: u64,
    pub appeals_overturned: u64,
    /// `appeals_overturned / appeals_decided`.
    pub overturn_rate: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RestrictionLengths {
    /// `posting`, `suspended`, `label`, ...
    pub kind: String,
    pub up_to_1_day: u64,
    pub up_to_7_days: u64,
    pub up_to_30_days: u64,
    pub over_30_days: u64,
    /// No end: a post's label or removal, a closed account.
    pub permanent: u64,
    pub total: u64,
}

impl RestrictionLengths {
    /// The count of one length.
    pub fn get(&self, length: Length) -> u64 {
        match length {
            Length::UpToDay => self.up_to_1_day,
            Length::UpToWeek => self.up_to_7_days,
            Length::UpToMonth => self.up_to_30_days,
            Length::Longer => self.over_30_days,
            Length::Permanent => self.permanent,
        }
    }

    fn add(&mut self, length: Length, n: u64) {
        let slot = match length {
            Length::UpToDay => &mut self.up_to_1_day,
            Length::UpToWeek => &mut self.up_to_7_days,
            Length::UpToMonth => &mut self.up_to_30_days,
            Length::Longer => &mut self.over_30_days,
            Length::Permanent => &mut self.permanent,
        };
        *slot += n;
        self.total += n;
    }
}

/// At most this many example cases.
pub const EXAMPLE_CASES: usize = 5;

/// Resolved cases read to choose the examples from.
const CASES_READ: usize = 200;

impl Transparency {
    /// Reads the period's counts and example cases from the store and builds the report.
    pub fn build(store: &dyn Store, period: Period, now: DateTime<Utc>) -> Result<Transparency, StoreError> {
        let counts = store.transparency_counts(period.from, period.to)?;
        let resolved = store.resolved_cases(period.from, period.to, CASES_READ)?;
        let cases = public_cases::write_up(store, &resolved, EXAMPLE_CASES)?;
        Ok(Transparency::from_counts(period, now, counts, cases))
    }

    /// Shapes the store's counts into the report.
    pub fn from_counts(
        period: Period,
        generated_at: DateTime<Utc>,
        c: TransparencyCounts,
        cases: Vec<PublicCase>,
    ) -> Transparency {
        Transparency {
            period,
            generated_at,
            decisions: decisions(period, &c),
            reviews: Reviews {
                total: c.reviews.iter().map(|t| t.count).sum(),
                by_action: counts(c.reviews.iter().map(|t| (t.key.as_str(), t.count))),
            },
            reports: reports(&c),
            appeals: appeals(&c),
            restrictions: restrictions(&c),
            cases,
        }
    }
}

/// Sums counts by key, largest first (then by key).
fn counts<'a>(items: impl IntoIterator<Item = (&'a str, u64)>) -> Vec<Count> {
    let mut sums: BTreeMap<&str, u64> = BTreeMap::new();
    for (key, n) in items {
        *sums.entry(key).or_default() += n;
    }
    let mut out: Vec<Count> = sums.into_iter().map(|(key, count)| Count { key: key.to_string(), count }).collect();
    out.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key)));
    out
}

fn rate(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

fn decisions(period: Period, c: &TransparencyCounts) -> Decisions {
    let sum = |f: &dyn Fn(&steward_store::transparency::DecisionGroup) -> u64| c.decisions.iter().map(f).sum();
    Decisions {
        total: sum(&|g| g.decisions),
        automated: sum(&|g| if g.automated_decision { g.decisions } else { 0 }),
        by_a_person: sum(&|g| if g.automated_decision { 0 } else { g.decisions }),
        automated_detection: sum(&|g| if g.automated_detection { g.decisions } else { 0 }),
        reversed: sum(&|g| g.reversed),
        by_category: counts(c.decisions.iter().map(|g| (g.category.as_str(), g.decisions))),
        by_ground: counts(c.decisions.iter().map(|g| (g.ground.as_str(), g.decisions))),
        by_action: counts(c.actions.iter().map(|t| (t.key.as_str(), t.count))),
        by_content: counts(c.decisions.iter().map(|g| (g.content.as_str(), g.decisions))),
        over_time: series(period, &c.decisions_by_day),
    }
}

fn series(period: Period, by_day: &[(NaiveDate, u64)]) -> Series {
    let step = Step::for_days(period.day_count());
    let (first, last) = period.days();
    let mut sums: BTreeMap<NaiveDate, u64> = BTreeMap::new();
    let mut start = step.start(first);
    while start <= last {
        sums.insert(start, 0);
        match step.next(start) {
            Some(next) => start = next,
            None => break,
        }
    }
    for (day, n) in by_day {
        *sums.entry(step.start(*day)).or_default() += n;
    }
    Series { step, points: sums.into_iter().map(|(start, count)| Point { start, count }).collect() }
}

/// What a report's stored state means to the public.
fn outcome(state: &str) -> &str {
    match state {
        "open" => "pending",
        other => other,
    }
}

fn reports(c: &TransparencyCounts) -> Reports {
    let mut both: Vec<SourceOutcome> = c
        .reports
        .iter()
        .map(|t| SourceOutcome { source: t.key.clone(), outcome: outcome(&t.by).to_string(), count: t.count })
        .collect();
    both.sort_by(|a, b| (&a.source, &a.outcome).cmp(&(&b.source, &b.outcome)));
    Reports {
        total: c.reports.iter().map(|t| t.count).sum(),
        by_source: counts(c.reports.iter().map(|t| (t.key.as_str(), t.count))),
        by_outcome: counts(c.reports.iter().map(|t| (outcome(&t.by), t.count))),
        by_source_and_outcome: both,
        acted_on: c.waits.map_or(0, |w| w.reports),
        median_hours_to_action: c.waits.map(|w| w.median_seconds / 3600.0),
    }
}

/// Appeals by state under one key: (received, decided, overturned).
fn appeal_states(tallies: &[steward_store::transparency::Tally]) -> BTreeMap<&str, (u64, u64, u64)> {
    let mut out: BTreeMap<&str, (u64, u64, u64)> = BTreeMap::new();
    for t in tallies {
        let e = out.entry(t.key.as_str()).or_default();
        e.0 += t.count;
        if t.by != "pending" {
            e.1 += t.count;
        }
        if t.by == "overturned" {
            e.2 += t.count;
        }
    }
    out
}

fn precision<'a>(
    decisions: impl IntoIterator<Item = (&'a str, u64, u64)>,
    appeals: &[steward_store::transparency::Tally],
) -> Vec<Precision> {
    let mut rows: BTreeMap<&str, Precision> = BTreeMap::new();
    let blank = |key: &str| Precision {
        key: key.to_string(),
        decisions: 0,
        reversed: 0,
        appeals: 0,
        appeals_decided: 0,
        appeals_overturned: 0,
        overturn_rate: None,
    };
    for (key, n, reversed) in decisions {
        let row = rows.entry(key).or_insert_with(|| blank(key));
        row.decisions += n;
        row.reversed += reversed;
    }
    for (key, (received, decided, overturned)) in appeal_states(appeals) {
        let row = rows.entry(key).or_insert_with(|| blank(key));
        row.appeals += received;
        row.appeals_decided += decided;
        row.appeals_overturned += overturned;
    }
    let mut out: Vec<Precision> = rows.into_values().collect();
    for row in &mut out {
        row.overturn_rate = rate(row.appeals_overturned, row.appeals_decided);
    }
    out.sort_by(|a, b| b.decisions.cmp(&a.decisions).then_with(|| a.key.cmp(&b.key)));
    out
}

fn appeals(c: &TransparencyCounts) -> Appeals {
    let all = appeal_states(&c.appeals_by_rule);
    let (received, decided, overturned) = all.values().fold((0, 0, 0), |(a, b, c), (x, y, z)| (a + x, b + y, c + z));
    Appeals {
        received,
        decided,
        overturned,
        pending: received - decided,
        overturn_rate: rate(overturned, decided),
        by_rule: precision(c.decisions.iter().map(|g| (g.rule.as_str(), g.decisions, g.reversed)), &c.appeals_by_rule),
        by_detector: precision(
            c.detectors.iter().map(|d| (d.detector.as_str(), d.decisions, d.reversed)),
            &c.appeals_by_detector,
        ),
    }
}

fn restrictions(c: &TransparencyCounts) -> Vec<RestrictionLengths> {
    let mut rows: BTreeMap<&str, RestrictionLengths> = BTreeMap::new();
    for t in &c.restrictions {
        rows.entry(t.kind.as_str())
            .or_insert_with(|| RestrictionLengths {
                kind: t.kind.clone(),
                up_to_1_day: 0,
                up_to_7_days: 0,
                up_to_30_days: 0,
                over_30_days: 0,
                permanent: 0,
                total: 0,
            })
            .add(t.length, t.count);
    }
    let mut out: Vec<RestrictionLengths> = rows.into_values().collect();
    out.sort_by(|a, b| b.total.cmp(&a.total).then_with(|| a.kind.cmp(&b.kind)));
    out
}

/// How a rule key reads to the public.
pub fn rule_name(key: &str) -> &str {
    if key == REVIEW_RULE { "moderators' replacement decisions" } else { key }
}

#[cfg(test)]
mod tests {
    use super::*;
    use steward_store::transparency::{DecisionGroup, DetectorTally, LengthTally, Tally, Waits};

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn tally(key: &str, by: &str, count: u64) -> Tally {
        Tally { key: key.into(), by: by.into(), count }
    }

    fn group(category: &str, rule: &str, automated: bool, decisions: u64, reversed: u64) -> DecisionGroup {
        DecisionGroup {
            category: category.into(),
            ground: format!("ground of {rule}"),
            rule: rule.into(),
            content: "short_post".into(),
            automated_detection: true,
            automated_decision: automated,
            decisions,
            reversed,
        }
    }

    #[test]
    fn counts_become_the_report() {
        let period = Period::new(t("2026-11-01T00:00:00Z"), t("2026-11-08T00:00:00Z")).unwrap();
        let c = TransparencyCounts {
            decisions: vec![
                group("rumour", "refuted-claim", true, 6, 2),
                group("rumour", "copy", true, 3, 0),
                group("ai_unlabelled", "ai-unlabelled", true, 4, 1),
                group("rumour", REVIEW_RULE, false, 1, 0),
            ],
            decisions_by_day: vec![(day("2026-11-02"), 10), (day("2026-11-05"), 4)],
            actions: vec![tally("label", "", 10), tally("remove", "", 5)],
            detectors: vec![DetectorTally { detector: "claims".into(), decisions: 6, reversed: 2 }],
            restrictions: vec![
                LengthTally { kind: "posting".into(), length: Length::UpToWeek, count: 2 },
                LengthTally { kind: "posting".into(), length: Length::Longer, count: 1 },
                LengthTally { kind: "label".into(), length: Length::Permanent, count: 9 },
            ],
            reviews: vec![tally("upheld", "", 3), tally("overturned", "", 2)],
            reports: vec![tally("api", "upheld", 2), tally("api", "open", 1), tally("event", "dismissed", 3)],
            waits: Some(Waits { reports: 5, median_seconds: 5400.0 }),
            appeals_by_rule: vec![
                tally("refuted-claim", "overturned", 2),
                tally("refuted-claim", "upheld", 1),
                tally("copy", "pending", 1),
            ],
            appeals_by_detector: vec![tally("claims", "overturned", 2), tally("claims", "upheld", 1)],
        };
        let r = Transparency::from_counts(period, t("2026-11-09T00:00:00Z"), c, vec![]);
        let d = &r.decisions;
        assert_eq!((d.total, d.automated, d.by_a_person, d.automated_detection, d.reversed), (14, 13, 1, 14, 3));
        assert_eq!(d.by_category[0], Count { key: "rumour".into(), count: 10 });
        assert_eq!(d.by_content, vec![Count { key: "short_post".into(), count: 14 }]);
        assert_eq!(d.over_time.step, Step::Day);
        let counts: Vec<u64> = d.over_time.points.iter().map(|p| p.count).collect();
        assert_eq!(counts, [0, 10, 0, 0, 4, 0, 0], "every day of the period, empty ones too");
        assert_eq!((r.reviews.total, r.reviews.by_action[0].key.as_str()), (5, "upheld"));
        assert_eq!((r.reports.total, r.reports.acted_on, r.reports.median_hours_to_action), (6, 5, Some(1.5)));
        assert_eq!(r.reports.by_outcome[0], Count { key: "dismissed".into(), count: 3 });
        assert!(r.reports.by_outcome.iter().any(|c| c.key == "pending"), "an open report is pending");
        let a = &r.appeals;
        assert_eq!((a.received, a.decided, a.overturned, a.pending), (4, 3, 2, 1));
        assert_eq!(a.overturn_rate, Some(2.0 / 3.0));
        let rule = &a.by_rule[0];
        assert_eq!(
            (rule.key.as_str(), rule.decisions, rule.reversed, rule.appeals, rule.appeals_decided),
            ("refuted-claim", 6, 2, 3, 3)
        );
        assert_eq!(rule.overturn_rate, Some(2.0 / 3.0));
        let copy = a.by_rule.iter().find(|p| p.key == "copy").unwrap();
        assert_eq!((copy.appeals, copy.appeals_decided, copy.overturn_rate), (1, 0, None));
        assert_eq!(a.by_detector[0].overturn_rate, Some(2.0 / 3.0));
        assert_eq!(r.restrictions[0].kind, "label");
        let posting = &r.restrictions[1];
        assert_eq!((posting.up_to_7_days, posting.over_30_days, posting.total), (2, 1, 3));
    }

    #[test]
    fn long_periods_are_counted_by_week_month_or_year() {
        let p = |from: &str, to: &str| Period::new(t(from), t(to)).unwrap();
        let weeks = series(p("2026-01-01T00:00:00Z", "2026-07-01T00:00:00Z"), &[(day("2026-01-01"), 3)]);
        assert_eq!(weeks.step, Step::Week);
        assert_eq!(weeks.points[0], Point { start: day("2025-12-29"), count: 3 }, "weeks start on Monday");
        assert_eq!(weeks.points.len(), 27);
        let months = series(p("2020-01-01T00:00:00Z", "2026-01-01T00:00:00Z"), &[(day("2025-12-31"), 1)]);
        assert_eq!((months.step, months.points.len()), (Step::Month, 72));
        assert_eq!(months.points.last().unwrap().count, 1);
        let years = series(p("1990-01-01T00:00:00Z", "2026-01-01T00:00:00Z"), &[]);
        assert_eq!((years.step, years.points.len()), (Step::Year, 36));
    }
}
