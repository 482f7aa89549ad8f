//! What each rule of the policy in force has done since start, for `/metrics`: decisions
//! live and in shadow, evaluations that failed or went over the budget, breaker trips, and
//! the mode each rule runs in. The engine writes it;
//! readers on other threads take a snapshot.

use std::collections::BTreeMap;
use std::sync::Mutex;

use steward_policy::{EvalErrorKind, Mode};

/// One rule's counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleCount {
    /// The mode it runs in now (shadow while its breaker is tripped; draft when it does not
    /// run).
    pub mode: Mode,
    /// The mode its policy gives it.
    pub declared: Mode,
    pub live: u64,
    pub shadow: u64,
    /// Evaluations that failed at run time (they count as not matching).
    pub failed: u64,
    /// Evaluations stopped at the rule's budget.
    pub over_budget: u64,
    /// Times its breaker tripped.
    pub trips: u64,
}

/// Counts per rule id. Rules of earlier policy versions keep their counts.
#[derive(Debug, Default)]
pub struct RuleStats {
    rules: Mutex<BTreeMap<String, RuleCount>>,
}

impl RuleStats {
    fn with<T>(&self, f: impl FnOnce(&mut BTreeMap<String, RuleCount>) -> T) -> T {
        f(&mut self.rules.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn entry<'a>(rules: &'a mut BTreeMap<String, RuleCount>, rule_id: &str) -> &'a mut RuleCount {
        if !rules.contains_key(rule_id) {
            let count = RuleCount {
                mode: Mode::Live,
                declared: Mode::Live,
                live: 0,
                shadow: 0,
                failed: 0,
                over_budget: 0,
                trips: 0,
            };
            rules.insert(rule_id.to_string(), count);
        }
        rules.get_mut(rule_id).expect("inserted above")
    }

    /// Sets the modes of the rules in force: (id, mode now, declared mode).
    pub(crate) fn set_rules<'a>(&self, rules: impl Iterator<Item = (&'a str, Mode, Mode)>) {
        self.with(|map| {
            for (id, mode, declared) in rules {
                let c = Self::entry(map, id);
                c.mode = mode;
                c.declared = declared;
            }
        })
    }

    pub(crate) fn count(&self, rule_id: &str, shadow: bool) {
        self.with(|map| {
            let c = Self::entry(map, rule_id);
            if shadow { c.shadow += 1 } else { c.live += 1 }
        })
    }

    pub(crate) fn error(&self, rule_id: &str, kind: EvalErrorKind) {
        self.with(|map| {
            let c = Self::entry(map, rule_id);
            match kind {
                EvalErrorKind::OverBudget => c.over_budget += 1,
                _ => c.failed += 1,
            }
        })
    }

    /// Counts a trip, after which the rule runs in `mode` (shadow, or draft when it is not
    /// evaluated at all).
    pub(crate) fn trip(&self, rule_id: &str, mode: Mode) {
        self.with(|map| {
            let c = Self::entry(map, rule_id);
            c.trips += 1;
            c.mode = mode;
        })
    }

    /// Every rule's counts, by id.
    pub fn snapshot(&self) -> Vec<(String, RuleCount)> {
        self.with(|map| map.iter().map(|(k, v)| (k.clone(), *v)).collect())
    }
}
