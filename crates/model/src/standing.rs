//! An account's standing, computed at read time from its restrictions and credit entries:
//! nothing has to run for a restriction to lapse or for credit to come back.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::decision::{CreditEntry, Restriction, RestrictionKind};
use crate::entity::{Account, VerifiedIdentity};

/// Where an account stands at one moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Standing {
    pub account_id: String,
    pub at: DateTime<Utc>,
    /// Current credit score (starts at the policy's initial score).
    pub credit: i64,
    pub credit_initial: i64,
    /// Account-level restrictions in force at `at`.
    pub restrictions: Vec<Restriction>,
    /// Decisions against the account counted in the policy's lookback window.
    pub recent_violations: u32,
    /// What the account must show of itself, when it must (large accounts, or kept on by a
    /// decision after a follower purge).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disclosure: Option<Disclosure>,
}

/// Identity disclosure: an account at or above the policy's follower threshold, or one a
/// decision keeps under it, must show who it is and where it posts from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Disclosure {
    /// `followers` (at or above the threshold) or `decision` (a decision keeps it on).
    pub because: String,
    pub followers: u64,
    pub threshold: u64,
    /// When the decisions keeping disclosure on lapse (null when the followers require it
    /// or a decision keeps it on for good).
    pub until: Option<DateTime<Utc>>,
    /// The verified name or organisation and its type, to be shown.
    pub identity: Option<VerifiedIdentity>,
    /// The IP region, to be shown.
    pub ip_region: Option<String>,
    /// What must be shown but the platform has not told steward: `identity`, `ip_region`.
    pub missing: Vec<String>,
}

impl Standing {
    /// Computes standing at `at`. Post-level enforcement (labels, reach, removal) is not
    /// part of an account's standing.
    pub fn compute(
        account_id: &str,
        restrictions: &[Restriction],
        credits: &[CreditEntry],
        credit_initial: i64,
        at: DateTime<Utc>,
    ) -> Standing {
        let deducted: i64 = credits.iter().filter(|c| c.active_at(at)).map(|c| c.points as i64).sum();
        let recent_violations = credits.iter().filter(|c| c.active_at(at)).count() as u32;
        let restrictions = restrictions.iter().filter(|r| r.post_id.is_none() && r.active_at(at)).cloned().collect();
        Standing {
            account_id: account_id.to_string(),
            at,
            credit: credit_initial - deducted,
            credit_initial,
            restrictions,
            recent_violations,
            disclosure: None,
        }
    }

    /// Adds what the account must disclose, given its current state and the follower
    /// threshold. Call after [`Standing::compute`]: a `disclosure` restriction in force keeps
    /// disclosure on below the threshold.
    pub fn with_disclosure(mut self, account: Option<&Account>, threshold: u64) -> Standing {
        let followers = account.map_or(0, |a| a.followers);
        let kept: Vec<&Restriction> =
            self.restrictions.iter().filter(|r| r.kind == RestrictionKind::Disclosure).collect();
        let (because, until) = if followers >= threshold {
            ("followers", None)
        } else if kept.is_empty() {
            return self;
        } else if kept.iter().any(|r| r.end.is_none()) {
            ("decision", None)
        } else {
            ("decision", kept.iter().filter_map(|r| r.end).max())
        };
        let identity = account.and_then(|a| a.identity.clone());
        let ip_region = account.and_then(|a| a.ip_region.clone());
        let mut missing = Vec::new();
        if identity.is_none() {
            missing.push("identity".to_string());
        }
        if ip_region.is_none() {
            missing.push("ip_region".to_string());
        }
        self.disclosure = Some(Disclosure {
            because: because.to_string(),
            followers,
            threshold,
            until,
            identity,
            ip_region,
            missing,
        });
        self
    }

    /// Whether a restriction of this kind is in force.
    pub fn is(&self, kind: RestrictionKind) -> bool {
        self.restrictions.iter().any(|r| r.kind == kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    #[test]
    fn restrictions_and_credit_lapse_on_their_own() {
        let t0 = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
        let r = Restriction {
            decision_id: "d".into(),
            account_id: "a".into(),
            post_id: None,
            kind: RestrictionKind::Posting,
            detail: String::new(),
            start: t0,
            end: Some(t0 + Duration::days(15)),
        };
        let c = CreditEntry {
            decision_id: "d".into(),
            account_id: "a".into(),
            at: t0,
            points: 2,
            restores_at: Some(t0 + Duration::days(30)),
        };
        let during =
            Standing::compute("a", std::slice::from_ref(&r), std::slice::from_ref(&c), 100, t0 + Duration::days(1));
        assert!(during.is(RestrictionKind::Posting));
        assert_eq!(during.credit, 98);
        let later =
            Standing::compute("a", std::slice::from_ref(&r), std::slice::from_ref(&c), 100, t0 + Duration::days(16));
        assert!(!later.is(RestrictionKind::Posting));
        assert_eq!(later.credit, 98);
        let restored = Standing::compute("a", &[r], &[c], 100, t0 + Duration::days(31));
        assert_eq!(restored.credit, 100);
        assert_eq!(restored.recent_violations, 0);
    }

    #[test]
    fn large_accounts_and_accounts_a_decision_keeps_on_must_disclose() {
        let t0 = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
        let account = |followers| Account {
            id: "a".into(),
            handle: "a".into(),
            display_name: "A".into(),
            bio: String::new(),
            avatar_hash: None,
            followers,
            verified: true,
            identity: Some(VerifiedIdentity {
                name: "某某文化传媒有限公司".into(), kind: "organization".into()
            }),
            ip_region: None,
            monetization: vec![],
        };
        let standing = |restrictions: &[Restriction], a: &Account, at| {
            Standing::compute("a", restrictions, &[], 100, at).with_disclosure(Some(a), 1_000_000)
        };
        let large = standing(&[], &account(1_000_000), t0).disclosure.expect("at the threshold");
        assert_eq!((large.because.as_str(), large.until), ("followers", None));
        assert_eq!(large.identity.unwrap().name, "某某文化传媒有限公司");
        assert_eq!(large.missing, ["ip_region"]);
        assert_eq!(standing(&[], &account(999_999), t0).disclosure, None);
        let kept = Restriction {
            decision_id: "d".into(),
            account_id: "a".into(),
            post_id: None,
            kind: RestrictionKind::Disclosure,
            detail: String::new(),
            start: t0,
            end: Some(t0 + Duration::days(180)),
        };
        let under = standing(std::slice::from_ref(&kept), &account(950_000), t0 + Duration::days(1));
        let d = under.disclosure.expect("kept on by the decision");
        assert_eq!((d.because.as_str(), d.until), ("decision", kept.end));
        let lapsed = standing(std::slice::from_ref(&kept), &account(950_000), t0 + Duration::days(181));
        assert_eq!(lapsed.disclosure, None);
        assert_eq!(Standing::compute("a", &[], &[], 100, t0).with_disclosure(None, 1_000_000).disclosure, None);
    }
}
