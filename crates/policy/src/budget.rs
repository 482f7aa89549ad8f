//! How much work one rule may do, in steps (about one node of the condition evaluated, some
//! 0.1 µs): refused at load when its estimate ([`crate::cost`]) is over the budget, and
//! stopped at run time when it gets there.
//!
//! At load every loop's range is wrapped in a call to [`METER`] with the loop's weight (the
//! steps one of its iterations costs outside the loops nested in it). The call hands the
//! interpreter a range whose iterator charges that weight to the evaluation under way before
//! each item, and ends early once the evaluation is over its limit: every loop then stops
//! within one iteration, however deep, and the rule is reported as over its budget. Steps
//! are counted, not time: the same rule on the same event is stopped at the same point on a
//! busy machine and in a replay.

use std::cell::Cell;

use cel::ExecutionError;
use cel::common::ast::{CallExpr, Expr, IdedExpr, LiteralValue};
use cel::common::traits::{self, Iterable, Sizer};
use cel::common::types::{CelInt, LIST_TYPE, Type};
use cel::common::value::{CowVal, Val};

/// The most steps a rule may cost: its estimate at load, and what one evaluation may spend.
pub const RULE_STEPS: u64 = 50_000;

/// How much work a rule may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// The most steps a rule's condition may cost on the worst input the limits allow, as
    /// estimated when the policy loads; a rule over it is refused.
    pub rule_cost: u64,
    /// The most steps one evaluation of a rule may spend; a rule that gets there is stopped
    /// and reported ([`crate::EvalErrorKind::OverBudget`]).
    pub eval_steps: u64,
}

impl Default for Budget {
    fn default() -> Self {
        Budget { rule_cost: RULE_STEPS, eval_steps: RULE_STEPS }
    }
}

/// The function a loop's range goes through: `@steward_meter(range, weight)`.
pub(crate) const METER: &str = "@steward_meter";

/// Wraps the range of every loop of `e` in [`METER`] with the loop's weight.
pub(crate) fn meter_loops(e: &mut IdedExpr, weights: &std::collections::HashMap<u64, u64>) {
    match &mut e.expr {
        Expr::Comprehension(c) => {
            let weight = weights.get(&e.id).copied().unwrap_or(1);
            for part in [&mut c.iter_range, &mut c.accu_init, &mut c.loop_cond, &mut c.loop_step, &mut c.result] {
                meter_loops(part, weights);
            }
            // `sortBy` and the optional macros loop over nothing: leave them be.
            if !matches!(&c.iter_range.expr, Expr::List(l) if l.elements.is_empty()) {
                let range = std::mem::take(&mut c.iter_range);
                let id = range.id;
                let weight = IdedExpr {
                    id,
                    expr: Expr::Literal(LiteralValue::Int(i64::try_from(weight).unwrap_or(i64::MAX).into())),
                };
                let call = CallExpr { func_name: METER.to_string(), target: None, args: vec![range, weight] };
                c.iter_range = IdedExpr { id, expr: Expr::Call(call) };
            }
        }
        Expr::Call(c) => {
            if let Some(t) = c.target.as_deref_mut() {
                meter_loops(t, weights);
            }
            c.args.iter_mut().for_each(|a| meter_loops(a, weights));
        }
        Expr::Select(s) => meter_loops(&mut s.operand, weights),
        Expr::List(l) => l.elements.iter_mut().for_each(|x| meter_loops(x, weights)),
        Expr::Map(m) => {
            for entry in &mut m.entries {
                if let cel::common::ast::EntryExpr::MapEntry(me) = &mut entry.expr {
                    meter_loops(&mut me.key, weights);
                    meter_loops(&mut me.value, weights);
                }
            }
        }
        Expr::Struct(_) | Expr::Ident(_) | Expr::Literal(_) | Expr::Unspecified => {}
    }
}

/// The count of the evaluation under way on this thread.
#[derive(Debug, Clone, Copy)]
struct Meter {
    spent: u64,
    limit: u64,
    over: bool,
}

const IDLE: Meter = Meter { spent: 0, limit: u64::MAX, over: false };

thread_local! {
    static METERED: Cell<Meter> = const { Cell::new(IDLE) };
}

/// Counts one evaluation on this thread: `spent` steps to begin with (the condition's work
/// outside loops), loops stopped past `limit`. Ended by [`finish`].
pub(crate) fn start(spent: u64, limit: u64) {
    METERED.with(|m| m.set(Meter { spent, limit, over: spent > limit }));
}

/// Ends the count: the steps spent, and whether loops were stopped for the limit.
pub(crate) fn finish() -> (u64, bool) {
    METERED.with(|m| {
        let meter = m.replace(IDLE);
        (meter.spent, meter.over)
    })
}

/// Charges one iteration; false when the evaluation is over its limit and must stop.
fn charge(weight: u64) -> bool {
    METERED.with(|m| {
        let mut meter = m.get();
        if !meter.over {
            meter.spent = meter.spent.saturating_add(weight);
            meter.over = meter.spent > meter.limit;
            m.set(meter);
        }
        !meter.over
    })
}

/// [`METER`]: the range, whose iteration is charged.
pub(crate) fn meter<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let n = args.len();
    let mut args = args.into_iter();
    let (Some(range), Some(weight), None) = (args.next(), args.next(), args.next()) else {
        return Err(ExecutionError::invalid_argument_count(2, n));
    };
    let weight = weight.downcast_ref::<CelInt>().map_or(1, |w| u64::try_from(*w.inner()).unwrap_or(1).max(1));
    // A range the loop borrows (a variable) is copied: the copy is part of the estimate.
    Ok(CowVal::owned(Metered { range: range.into_owned(), weight }))
}

/// A loop's range whose iteration is charged to the evaluation.
#[derive(Debug)]
struct Metered<'v> {
    range: Box<dyn Val + 'v>,
    weight: u64,
}

impl Val for Metered<'_> {
    fn get_type(&self) -> &Type {
        self.range.get_type()
    }

    fn cel_type() -> &'static Type {
        &LIST_TYPE
    }

    fn as_iterable<'b, 'w>(&'b self) -> Option<&'b (dyn Iterable + 'w)>
    where
        Self: 'w,
    {
        // Not iterable when the range is not: the loop then fails as it would have.
        self.range.as_iterable()?;
        Some(self)
    }

    fn as_sizer(&self) -> Option<&dyn Sizer> {
        self.range.as_sizer()
    }

    fn clone_as_boxed<'w>(&self) -> Box<dyn Val + 'w>
    where
        Self: 'w,
    {
        Box::new(Metered { range: self.range.clone_as_boxed(), weight: self.weight })
    }
}

impl<'v> Iterable for Metered<'v> {
    fn iter<'b, 'w>(&'b self) -> Box<dyn traits::Iterator<'b, 'w> + 'b>
    where
        Self: 'w,
    {
        // Iterated for the range's own lifetime, which outlives the borrow: its items then
        // shorten to `'w`.
        let range: Option<&'b (dyn Iterable + 'v)> = self.range.as_iterable();
        match range {
            Some(range) => Box::new(Charged { items: range.iter(), weight: self.weight }),
            None => Box::new(Nothing),
        }
    }
}

/// The items of a range, each charged.
struct Charged<I> {
    items: I,
    weight: u64,
}

impl<'b, 'v: 'w, 'w> traits::Iterator<'b, 'w> for Charged<Box<dyn traits::Iterator<'b, 'v> + 'b>> {
    fn next(&mut self) -> Option<&'b (dyn Val + 'w)> {
        // Charged per item the loop gets, so a loop over n items costs n weights.
        let item = self.items.next()?;
        charge(self.weight).then_some(item)
    }
}

struct Nothing;

impl<'b, 'w> traits::Iterator<'b, 'w> for Nothing {
    fn next(&mut self) -> Option<&'b (dyn Val + 'w)> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_stop_past_the_limit_and_finish_resets() {
        start(10, 25);
        assert!(charge(10));
        assert!(!charge(10), "30 is over 25");
        assert!(!charge(1), "stays stopped");
        assert_eq!(finish(), (30, true));
        assert!(charge(1_000_000), "no limit outside an evaluation");
        assert_eq!(finish(), (1_000_000, false));
    }
}
