//! The period a report covers, read from what a person writes: a date (`2026-11-01`, a
//! whole UTC day) or an RFC 3339 time. A `to` date includes its day; a `to` time is the
//! first moment left out.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use serde::{Deserialize, Serialize};

/// `[from, to)` in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Period {
    /// The first moment counted.
    pub from: DateTime<Utc>,
    /// The first moment not counted.
    pub to: DateTime<Utc>,
}

/// Why a period cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    #[error("{name}: {value:?} is not a date (YYYY-MM-DD) or an RFC 3339 time (2026-11-22T08:00:00Z)")]
    Unreadable { name: String, value: String },
    #[error("the period is empty: {from_name} {from} is not before {to_name} {to}")]
    Empty { from_name: String, from: String, to_name: String, to: String },
}

/// Reads the start of a period: a date's first moment, or a time.
pub fn start(value: &str) -> Option<DateTime<Utc>> {
    bound(value, false)
}

/// Reads the end of a period: the moment after a date's last, or a time.
pub fn end(value: &str) -> Option<DateTime<Utc>> {
    bound(value, true)
}

fn bound(value: &str, end_of_day: bool) -> Option<DateTime<Utc>> {
    let value = value.trim();
    if let Ok(day) = NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        let day = if end_of_day { day.checked_add_signed(Duration::days(1))? } else { day };
        return Some(day.and_time(NaiveTime::MIN).and_utc());
    }
    DateTime::parse_from_rfc3339(value).ok().map(|t| t.with_timezone(&Utc))
}

impl Period {
    /// The period from `from` to `to` as written, each named as the caller calls it
    /// (`--from`, `from`) in errors.
    pub fn parse(from: (&str, &str), to: (&str, &str)) -> Result<Period, PeriodError> {
        let unreadable =
            |(name, value): (&str, &str)| PeriodError::Unreadable { name: name.into(), value: value.into() };
        let start = start(from.1).ok_or_else(|| unreadable(from))?;
        let end = end(to.1).ok_or_else(|| unreadable(to))?;
        Period::new(start, end).ok_or_else(|| PeriodError::Empty {
            from_name: from.0.into(),
            from: from.1.into(),
            to_name: to.0.into(),
            to: to.1.into(),
        })
    }

    /// `[from, to)`, if it holds a moment.
    pub fn new(from: DateTime<Utc>, to: DateTime<Utc>) -> Option<Period> {
        (from < to).then_some(Period { from, to })
    }

    /// The last `days` UTC days, the one `now` falls in included.
    pub fn last_days(now: DateTime<Utc>, days: u32) -> Period {
        let to = now.date_naive().and_time(NaiveTime::MIN).and_utc() + Duration::days(1);
        Period { from: to - Duration::days(i64::from(days.max(1))), to }
    }

    /// The first and last days it touches, as people write a period.
    pub fn days(&self) -> (NaiveDate, NaiveDate) {
        let last = self.to - Duration::microseconds(1);
        (self.from.date_naive(), last.date_naive().max(self.from.date_naive()))
    }

    /// How many days it touches.
    pub fn day_count(&self) -> i64 {
        let (first, last) = self.days();
        (last - first).num_days() + 1
    }
}

impl std::fmt::Display for Period {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (first, last) = self.days();
        let midnight = |t: DateTime<Utc>| t.time() == NaiveTime::MIN;
        if midnight(self.from) && midnight(self.to) {
            write!(f, "{first} to {last} (UTC)")
        } else {
            write!(f, "{} to {} (UTC, the end left out)", self.from.to_rfc3339(), self.to.to_rfc3339())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn dates_cover_whole_days_and_times_are_taken_as_they_are() {
        let p = Period::parse(("--from", "2026-11-01"), ("--to", "2026-11-30")).unwrap();
        assert_eq!((p.from, p.to), (t("2026-11-01T00:00:00Z"), t("2026-12-01T00:00:00Z")));
        assert_eq!(p.day_count(), 30);
        assert_eq!(p.to_string(), "2026-11-01 to 2026-11-30 (UTC)");
        let one_day = Period::parse(("from", "2026-11-01"), ("to", "2026-11-01")).unwrap();
        assert_eq!(one_day.day_count(), 1);
        let p = Period::parse(("from", "2026-11-01T08:00:00+08:00"), ("to", "2026-11-02T00:00:00Z")).unwrap();
        assert_eq!(p.from, t("2026-11-01T00:00:00Z"));
        assert_eq!(p.to, t("2026-11-02T00:00:00Z"));
    }

    #[test]
    fn a_bad_or_empty_period_is_named() {
        let e = Period::parse(("--from", "2026-13-01"), ("--to", "2026-11-30")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "--from: \"2026-13-01\" is not a date (YYYY-MM-DD) or an RFC 3339 time (2026-11-22T08:00:00Z)"
        );
        let e = Period::parse(("from", "2026-11-01"), ("to", "yesterday")).unwrap_err();
        assert!(e.to_string().starts_with("to: \"yesterday\""), "{e}");
        let e = Period::parse(("--from", "2026-12-01"), ("--to", "2026-11-30")).unwrap_err();
        assert_eq!(e.to_string(), "the period is empty: --from 2026-12-01 is not before --to 2026-11-30");
        assert!(Period::parse(("f", "2026-11-01T00:00:00Z"), ("t", "2026-11-01T00:00:00Z")).is_err());
    }

    #[test]
    fn the_last_days_end_with_today() {
        let p = Period::last_days(t("2026-11-22T15:30:00Z"), 30);
        assert_eq!((p.from, p.to), (t("2026-10-24T00:00:00Z"), t("2026-11-23T00:00:00Z")));
        assert_eq!(p.day_count(), 30);
    }
}
