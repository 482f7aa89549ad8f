//! Errors: of loading a policy ([`PolicyErrors`]) and of evaluating one rule or route
//! ([`EvalError`]).

use std::fmt;

/// One problem found in a policy file, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    /// The file (or other source name) the policy came from.
    pub source: String,
    /// 1-based line in the file; 0 when the problem concerns the file as a whole (e.g. it
    /// could not be read).
    pub line: usize,
    /// 1-based column, in characters; 0 when `line` is 0.
    pub column: usize,
    /// What is wrong and, for unknown names, what is known.
    pub message: String,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.source, self.message)
        } else {
            write!(f, "{}:{}:{}: {}", self.source, self.line, self.column, self.message)
        }
    }
}

impl std::error::Error for PolicyError {}

/// Every problem found in a policy file, in file order. Displayed one per line as
/// `file:line:col: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyErrors(pub Vec<PolicyError>);

impl PolicyErrors {
    /// The errors, in file order.
    pub fn iter(&self) -> std::slice::Iter<'_, PolicyError> {
        self.0.iter()
    }

    /// How many errors there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none (never the case for a returned error).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for PolicyErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for PolicyErrors {}

impl<'a> IntoIterator for &'a PolicyErrors {
    type Item = &'a PolicyError;
    type IntoIter = std::slice::Iter<'a, PolicyError>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// A rule whose `when` failed at run time, e.g. `signals.x.score > 0.5` for an event
/// without signal `x` (guard it with `has(signals.x)`), or a condition that is not a bool;
/// or one stopped for going over its evaluation budget. The rule counts as not matching.
/// Routes fail the same way ([`EvalError::of`] is then [`Evaluated::Route`]) and then count
/// as not matching either.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} `{rule_id}` (line {line}): {message}", of.as_str())]
pub struct EvalError {
    /// The rule whose condition failed, or the route when [`EvalError::of`] says so.
    pub rule_id: String,
    /// Line of the rule's `when` in the policy file.
    pub line: usize,
    /// What went wrong, as CEL reports it, or how far over its budget it went.
    pub message: String,
    /// Which kind of failure it is.
    pub kind: EvalErrorKind,
    /// Whether a rule or a route failed.
    pub of: Evaluated,
}

/// What an [`EvalError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Evaluated {
    /// A rule (`[[rules]]`), evaluated on an event.
    #[default]
    Rule,
    /// A route (`[[routes]]`), evaluated on a case.
    Route,
}

impl Evaluated {
    /// `rule` or `route`, as in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Evaluated::Rule => "rule",
            Evaluated::Route => "route",
        }
    }
}

/// What made a rule fail at run time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EvalErrorKind {
    /// The condition failed (a missing field, a type error, ...).
    Failed,
    /// The evaluation was stopped at its budget of steps ([`crate::Budget::eval_steps`]).
    OverBudget,
}

impl EvalErrorKind {
    /// `failed` or `over_budget`, as in metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            EvalErrorKind::Failed => "failed",
            EvalErrorKind::OverBudget => "over_budget",
        }
    }
}
