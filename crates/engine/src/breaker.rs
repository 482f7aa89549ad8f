//! A circuit breaker per rule, tripped by either of two causes and re-armed by an admin:
//!
//! - its quota: a rule with a `quota` counts its live decisions, and all posts, over a
//!   sliding hour of traffic; when it passes its ceiling it trips, and the rule runs in
//!   shadow;
//! - its budget: an evaluation that goes over the rule's budget of steps trips it, and the
//!   rule is not evaluated at all (it runs as a draft would): in shadow it would keep
//!   stalling every event it is evaluated on.
//!
//! Traffic time is the latest event time seen, so a replay trips a breaker where live traffic
//! would have, however fast it runs. The hour is 60 one-minute buckets: memory per rule is
//! fixed whatever the volume.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde::Serialize;
use steward_policy::Quota;
use steward_store::TrippedBreaker;

/// A share ceiling trips only on at least this many decisions in the hour: a quiet hour's
/// first decisions say nothing about the rule's share.
pub const MIN_DECISIONS: u32 = 5;

/// Standard deviations in the lower confidence bound of a rule's share (Wilson score): the
/// share must be above the ceiling with about 99.9% confidence, so a rule running near its
/// ceiling is not tripped by chance on one of the many checks an hour makes.
const Z: f64 = 3.0;

/// Counts over the sliding hour, a bucket a minute.
#[derive(Debug, Clone)]
struct Hour {
    minutes: [i64; 60],
    counts: [u32; 60],
}

impl Default for Hour {
    fn default() -> Self {
        Hour { minutes: [i64::MIN; 60], counts: [0; 60] }
    }
}

impl Hour {
    fn add(&mut self, minute: i64) {
        let i = minute.rem_euclid(60) as usize;
        if self.minutes[i] != minute {
            self.minutes[i] = minute;
            self.counts[i] = 0;
        }
        self.counts[i] += 1;
    }

    fn total(&self, minute: i64) -> u32 {
        self.minutes.iter().zip(&self.counts).filter(|(m, _)| **m > minute - 60 && **m <= minute).map(|(_, c)| c).sum()
    }
}

/// `cause` in the detail of a breaker tripped by its quota.
pub const QUOTA: &str = "quota";
/// `cause` in the detail of a breaker tripped by an evaluation over its budget.
pub const EVALUATION_BUDGET: &str = "evaluation_budget";

/// Whether a tripped breaker stops its rule from being evaluated: tripped by an evaluation
/// over its budget (a breaker tripped by its quota leaves the rule running in shadow).
pub fn halts(b: &TrippedBreaker) -> bool {
    b.detail_json().get("cause").and_then(|c| c.as_str()) == Some(EVALUATION_BUDGET)
}

/// Why a breaker tripped.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trip {
    pub rule_id: String,
    /// Traffic time when it tripped.
    pub at: DateTime<Utc>,
    /// Decisions of the rule in the hour before, this one included.
    pub decisions: u32,
    /// Posts in that hour.
    pub posts: u32,
    pub quota: Quota,
    /// The ceiling passed, in words.
    pub reason: String,
}

/// The breakers of a policy's rules.
#[derive(Debug, Default)]
pub(crate) struct Breakers {
    /// Rules whose breaker has tripped: they run in shadow until re-armed, or not at all
    /// when they are also in `halted`.
    pub tripped: HashMap<String, TrippedBreaker>,
    /// Rules tripped by an evaluation over their budget.
    halted: HashSet<String>,
    posts: Hour,
    rules: HashMap<String, Hour>,
    /// Traffic time, in minutes since the epoch.
    minute: i64,
    now: Option<DateTime<Utc>>,
}

/// The lower bound of the Wilson score interval for `k` successes in `n` trials.
fn wilson_lower(k: u32, n: u32) -> f64 {
    if n == 0 {
        return 0.0;
    }
    let (k, n) = (f64::from(k), f64::from(n));
    let p = k / n;
    let z2 = Z * Z;
    (p + z2 / (2.0 * n) - Z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt()) / (1.0 + z2 / n)
}

impl Breakers {
    /// Breakers with the trips stored.
    pub fn with_tripped(tripped: Vec<TrippedBreaker>) -> Breakers {
        let mut breakers = Breakers::default();
        for b in tripped {
            breakers.insert(b);
        }
        breakers
    }

    /// Records a trip.
    pub fn insert(&mut self, b: TrippedBreaker) {
        if halts(&b) {
            self.halted.insert(b.rule_id.clone());
        }
        self.tripped.insert(b.rule_id.clone(), b);
    }

    /// Whether the rule is not to be evaluated: tripped by an evaluation over its budget.
    pub fn halted(&self, rule_id: &str) -> bool {
        !self.halted.is_empty() && self.halted.contains(rule_id)
    }

    /// Traffic time: the latest event time seen.
    pub fn now(&self) -> Option<DateTime<Utc>> {
        self.now
    }

    /// Moves traffic time to the event's, when later.
    pub fn tick(&mut self, at: DateTime<Utc>) {
        if self.now.is_none_or(|now| at > now) {
            self.now = Some(at);
            self.minute = at.timestamp().div_euclid(60);
        }
    }

    /// Counts a post of live traffic.
    pub fn post(&mut self) {
        self.posts.add(self.minute);
    }

    /// Counts a live decision of a rule with a quota; returns the trip when the rule has now
    /// passed its ceiling.
    pub fn decision(&mut self, rule_id: &str, quota: &Quota) -> Option<Trip> {
        let hour = match self.rules.get_mut(rule_id) {
            Some(h) => h,
            None => self.rules.entry(rule_id.to_string()).or_default(),
        };
        hour.add(self.minute);
        let decisions = hour.total(self.minute);
        let posts = self.posts.total(self.minute);
        let reason = if let Some(max) = quota.max_per_hour.filter(|max| decisions > *max) {
            format!("{decisions} decisions in the last hour of traffic, over its ceiling of {max} an hour")
        } else if let Some(max) = quota
            .max_share
            .filter(|max| decisions >= MIN_DECISIONS && wilson_lower(decisions, posts.max(decisions)) > *max)
        {
            format!(
                "{decisions} decisions on {posts} posts in the last hour of traffic ({:.1}%), over its ceiling of {:.1}% of posts",
                100.0 * f64::from(decisions) / f64::from(posts.max(1)),
                100.0 * max
            )
        } else {
            return None;
        };
        self.rules.remove(rule_id);
        Some(Trip {
            rule_id: rule_id.to_string(),
            at: self.now.unwrap_or_else(Utc::now),
            decisions,
            posts,
            quota: *quota,
            reason,
        })
    }

    /// Re-arms a rule: no longer tripped, and its count starts afresh.
    pub fn rearm(&mut self, rule_id: &str) -> Option<TrippedBreaker> {
        self.rules.remove(rule_id);
        self.halted.remove(rule_id);
        self.tripped.remove(rule_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minute: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + minute * 60, 0).unwrap()
    }

    #[test]
    fn wilson_bound_is_below_the_share_and_tightens_with_volume() {
        assert!(wilson_lower(10, 100) < 0.1);
        assert!(wilson_lower(100, 1000) > wilson_lower(10, 100));
        assert_eq!(wilson_lower(0, 0), 0.0);
        assert!(wilson_lower(0, 50) <= 0.0 + 1e-12);
    }

    #[test]
    fn a_rule_within_its_share_never_trips() {
        let quota = Quota { max_share: Some(0.02), max_per_hour: None };
        let mut b = Breakers::default();
        // 1% of posts for ten hours: 6,000 posts an hour, one decision in a hundred.
        for i in 0..60_000 {
            b.tick(at(i / 100));
            b.post();
            if i % 100 == 0 {
                assert_eq!(b.decision("r", &quota), None, "post {i}");
            }
        }
    }

    #[test]
    fn a_flood_trips_the_share_ceiling_early() {
        let quota = Quota { max_share: Some(0.02), max_per_hour: None };
        let mut b = Breakers::default();
        let mut tripped = None;
        for i in 0..100 {
            b.tick(at(i));
            b.post();
            if i % 3 != 0
                && let Some(t) = b.decision("r", &quota)
            {
                tripped = Some((i, t));
                break;
            }
        }
        let (i, trip) = tripped.expect("a rule on two posts in three trips");
        assert!(i < 10, "tripped after {i} posts");
        assert_eq!(trip.decisions, MIN_DECISIONS);
        assert!(trip.reason.contains("ceiling of 2.0% of posts"), "{}", trip.reason);
    }

    #[test]
    fn the_hourly_ceiling_counts_a_sliding_hour() {
        let quota = Quota { max_share: None, max_per_hour: Some(10) };
        let mut b = Breakers::default();
        // Ten an hour, spread out, for three hours: never over.
        for i in 0..30 {
            b.tick(at(i * 6));
            assert_eq!(b.decision("r", &quota), None);
        }
        // Then eleven within the hour.
        let mut trips = 0;
        for i in 0..11 {
            b.tick(at(200 + i));
            trips += usize::from(b.decision("r", &quota).is_some());
        }
        assert_eq!(trips, 1);
    }

    #[test]
    fn old_events_count_at_traffic_time() {
        let quota = Quota { max_share: None, max_per_hour: Some(3) };
        let mut b = Breakers::default();
        b.tick(at(100));
        b.tick(at(0)); // late: counted now, not an hour and a half ago
        for _ in 0..3 {
            assert_eq!(b.decision("r", &quota), None);
        }
        assert!(b.decision("r", &quota).is_some());
    }
}
