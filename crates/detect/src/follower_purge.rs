//! Follower purges that dodge identity disclosure (粉丝清洗规避身份公示): an account at or
//! above the policy's disclosure threshold that sheds most of its followers within a week
//! and lands just under the line, where it would no longer have to show who it is.
//!
//! Follower counts come from `follower.snapshot` events and the `followers` of
//! `account.upserted`. Only accounts that have been at or above the threshold are
//! remembered (their highest count of the last week), so memory grows with the number of
//! large accounts, not of all accounts; the week is rebuilt at start by replay.
//!
//! Signal `threshold_evasion`, evidence: `from` (the week's highest count), `to`,
//! `threshold`, `lost_share` (of `from`), `hours` (since the highest count).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use steward_model::{Payload, Signal};

use crate::{About, Context, Detector, Findings, SignalSpec};

const NAME: &str = "threshold_evasion";
const VERSION: u32 = 1;
const SPECS: &[SignalSpec] =
    &[SignalSpec { name: NAME, evidence: &["from", "to", "threshold", "lost_share", "hours"] }];
const ABOUT: About = About { name: NAME, version: VERSION, signals: SPECS };

/// How far back the highest count reaches: a purge is a matter of days.
const WINDOW_SECS: i64 = 7 * 24 * 3600;
/// "Most followers": at least this share of the highest count lost.
const MOST: f64 = 0.5;
/// "Just under the threshold": within this share of it below.
const JUST_UNDER: f64 = 0.1;

/// An account's highest follower count of the window, and when it was seen.
#[derive(Debug, Clone, Copy)]
struct Peak {
    followers: u64,
    at: DateTime<Utc>,
}

pub struct FollowerPurge {
    threshold: u64,
    peaks: HashMap<String, Peak>,
}

impl FollowerPurge {
    /// For the policy's disclosure threshold.
    pub fn new(threshold: u64) -> Self {
        FollowerPurge { threshold, peaks: HashMap::new() }
    }

    /// Takes a follower count; the signal when it completes a purge to just under the line.
    fn count(&mut self, account_id: &str, followers: u64, at: DateTime<Utc>) -> Option<Signal> {
        if followers >= self.threshold {
            let peak = self.peaks.entry(account_id.to_string()).or_insert(Peak { followers, at });
            if followers >= peak.followers || (at - peak.at).num_seconds() > WINDOW_SECS {
                *peak = Peak { followers, at };
            }
            return None;
        }
        // Below the line: the account is forgotten whatever happens, so one purge is
        // signalled once.
        let peak = self.peaks.remove(account_id)?;
        let seconds = (at - peak.at).num_seconds();
        let lost = (peak.followers - followers) as f64 / peak.followers as f64;
        let just_under = followers as f64 >= self.threshold as f64 * (1.0 - JUST_UNDER);
        if !(0..=WINDOW_SECS).contains(&seconds) || lost < MOST || !just_under {
            return None;
        }
        let lost = (lost * 1000.0).round() / 1000.0;
        Some(
            Signal::new(NAME, NAME, VERSION, lost)
                .with("from", peak.followers)
                .with("to", followers)
                .with("threshold", self.threshold)
                .with("lost_share", lost)
                .with("hours", (seconds as f64 / 3600.0 * 10.0).round() / 10.0),
        )
    }
}

impl Detector for FollowerPurge {
    fn about(&self) -> &'static About {
        &ABOUT
    }

    fn window(&self) -> Option<i64> {
        Some(WINDOW_SECS)
    }

    fn inspect(&mut self, ctx: &Context, out: &mut Findings) {
        let (account_id, followers) = match &ctx.event.payload {
            Payload::FollowerSnapshot(s) => (&s.account_id, s.followers),
            Payload::AccountUpserted(a) => (&a.id, a.followers),
            _ => return,
        };
        if let Some(signal) = self.count(account_id, followers, ctx.event.at) {
            out.signals.push(signal);
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};
    use steward_model::{Event, FollowerSnapshot};

    use super::*;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 1, 8, 0, 0).unwrap()
    }

    /// Feeds snapshots `(account, followers, hours after t0)`; the signals raised.
    fn run(d: &mut FollowerPurge, snapshots: &[(&str, u64, i64)]) -> Vec<Signal> {
        let mut out = Findings::default();
        for &(account_id, followers, hours) in snapshots {
            let payload = Payload::FollowerSnapshot(FollowerSnapshot { account_id: account_id.into(), followers });
            let event = Event { id: format!("{account_id}-{hours}"), at: t0() + Duration::hours(hours), payload };
            d.inspect(&Context { event: &event, account: None }, &mut out);
        }
        out.signals
    }

    #[test]
    fn a_purge_of_most_followers_to_just_under_the_line_is_signalled_once() {
        let mut d = FollowerPurge::new(1_000_000);
        let s = run(&mut d, &[("a", 2_400_000, 0), ("a", 2_500_000, 24), ("a", 980_000, 72), ("a", 970_000, 80)]);
        assert_eq!(s.len(), 1);
        let e = &s[0].evidence;
        assert_eq!(
            (e["from"].as_u64(), e["to"].as_u64(), e["threshold"].as_u64()),
            (Some(2_500_000), Some(980_000), Some(1_000_000))
        );
        assert_eq!(e["lost_share"], 0.608);
        assert_eq!(e["hours"], 48.0);
    }

    #[test]
    fn churn_slow_declines_and_deep_falls_are_not_evasion() {
        let mut d = FollowerPurge::new(1_000_000);
        // Churn around the line: few followers lost.
        assert!(run(&mut d, &[("churn", 1_020_000, 0), ("churn", 990_000, 24)]).is_empty());
        // The same loss as a purge, but spread over weeks.
        let slow: Vec<(&str, u64, i64)> =
            (0..=30).map(|day| ("slow", 2_000_000 - day as u64 * 34_000, day * 24)).collect();
        assert!(run(&mut d, &slow).is_empty());
        // Far under the line: a platform clean-up of bought followers, not a dodge.
        assert!(run(&mut d, &[("deep", 2_000_000, 0), ("deep", 300_000, 24)]).is_empty());
        // Never at the line: nothing remembered.
        assert!(run(&mut d, &[("small", 900_000, 0), ("small", 950_000, 24)]).is_empty());
        assert!(d.peaks.is_empty());
    }

    #[test]
    fn the_threshold_is_the_policys() {
        let mut d = FollowerPurge::new(100_000);
        assert_eq!(run(&mut d, &[("a", 300_000, 0), ("a", 95_000, 12)]).len(), 1);
    }
}
