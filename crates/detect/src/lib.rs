//! Detectors: they look at each event and raise [`Signal`]s for the policy to weigh.
//!
//! A detector implements [`Detector`]: a name, a version (recorded with every signal so a
//! decision can be traced to the code that made it), the signals it may raise and their
//! evidence keys (so policies are checked against them before anything runs), and
//! [`Detector::inspect`]. Detectors never decide anything; the policy does.
//!
//! [`registry`] is the one explicit list of detectors; [`Detectors`] runs them all.
//!
//! ```
//! use steward_detect::{Context, Detectors};
//! use steward_model::{parse_event, Limits};
//! let record = r#"{"id":"e1","type":"post.created","at":"2026-11-22T08:00:00Z",
//!   "post":{"id":"p1","account_id":"a1","kind":"video","text":"sunset",
//!   "created_at":"2026-11-22T08:00:00Z","ai_generated":{"declared":true}}}"#;
//! let event = parse_event(record.as_bytes(), &Limits::default(), chrono::Utc::now()).unwrap();
//! let mut detectors = Detectors::default();
//! let mut signals = Vec::new();
//! detectors.inspect(&Context { event: &event, account: None }, &mut signals);
//! assert_eq!(signals[0].name, "unlabelled_ai");
//! ```

use steward_model::{Account, Event, Signal};

pub mod unlabelled_ai;

/// What a detector sees of one event.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub event: &'a Event,
    /// The account the event concerns, as known before the event (after it, for
    /// `account.upserted`).
    pub account: Option<&'a Account>,
}

/// A signal a detector may raise, with the evidence keys it fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignalSpec {
    pub name: &'static str,
    pub evidence: &'static [&'static str],
}

/// A detector. Stateful detectors (indexes over recent posts) update their state in
/// `inspect`; the engine calls it once per new event, in event order.
pub trait Detector: Send {
    /// Stable name, e.g. `unlabelled_ai`.
    fn name(&self) -> &'static str;
    /// Bumped whenever what the detector flags changes.
    fn version(&self) -> u32;
    /// Signals this detector may raise.
    fn signals(&self) -> &'static [SignalSpec];
    /// Looks at one event and pushes any signals onto `out`.
    fn inspect(&mut self, ctx: &Context, out: &mut Vec<Signal>);
}

/// The registry: every detector steward ships, by name. A plain list serves a dozen
/// detectors better than any registration machinery.
pub fn registry() -> Vec<Box<dyn Detector>> {
    vec![Box::new(unlabelled_ai::UnlabelledAi)]
}

/// All detectors, run in registry order.
pub struct Detectors {
    detectors: Vec<Box<dyn Detector>>,
}

impl Default for Detectors {
    fn default() -> Self {
        Detectors { detectors: registry() }
    }
}

impl Detectors {
    pub fn new(detectors: Vec<Box<dyn Detector>>) -> Self {
        Detectors { detectors }
    }

    /// Every signal any detector may raise.
    pub fn signal_specs(&self) -> Vec<SignalSpec> {
        self.detectors.iter().flat_map(|d| d.signals().iter().copied()).collect()
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.detectors.iter().map(|d| d.name()).collect()
    }

    /// Runs every detector on the event.
    pub fn inspect(&mut self, ctx: &Context, out: &mut Vec<Signal>) {
        for d in &mut self.detectors {
            d.inspect(ctx, out);
        }
    }
}

#[cfg(test)]
mod compliance;
