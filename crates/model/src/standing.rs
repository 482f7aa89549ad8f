//! An account's standing, computed at read time from its restrictions and credit entries:
//! nothing has to run for a restriction to lapse or for credit to come back.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::decision::{CreditEntry, Restriction, RestrictionKind};

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
        }
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
}
