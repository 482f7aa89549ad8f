//! Detectors: they look at each event and raise [`Signal`]s for the policy to weigh.
//!
//! A detector implements [`Detector`]: its [`About`] (a name, a version recorded with every
//! signal so a decision can be traced to the code that made it, and the signals it may
//! raise with their evidence keys, so policies are checked against them before anything
//! runs), and [`Detector::inspect`]. Detectors never decide anything; the policy does.
//!
//! [`registry`] is the one explicit list of detectors; [`Detectors`] runs them all.
//!
//! ```
//! use steward_detect::{Context, Detectors, Findings};
//! use steward_model::{parse_event, Limits};
//! let record = r#"{"id":"e1","type":"post.created","at":"2026-11-22T08:00:00Z",
//!   "post":{"id":"p1","account_id":"a1","kind":"video","text":"sunset",
//!   "created_at":"2026-11-22T08:00:00Z","ai_generated":{"declared":true}}}"#;
//! let event = parse_event(record.as_bytes(), &Limits::default(), chrono::Utc::now()).unwrap();
//! let mut detectors = Detectors::default();
//! let mut findings = Findings::default();
//! detectors.inspect(&Context { event: &event, account: None }, &mut findings);
//! assert_eq!(findings.signals[0].name, "unlabelled_ai");
//! ```

use steward_model::{Account, Event, GroupChange, GroupRules, Signal};

pub mod claims;
pub mod clickbait;
pub mod copy_campaign;
pub mod follower_purge;
pub mod group_rules;
pub mod impersonation;
pub mod professional;
pub mod profile;
pub mod u64_map;
pub mod unlabelled_ai;

/// What a detector sees of one event.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub event: &'a Event,
    /// The account the event concerns, as known before the event: for `account.upserted`,
    /// its state before this upsert (`None` for a new account), so a detector can tell what
    /// changed.
    pub account: Option<&'a Account>,
}

/// What a detector is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct About {
    /// Stable name, e.g. `unlabelled_ai`.
    pub name: &'static str,
    /// Bumped whenever what the detector flags changes.
    pub version: u32,
    /// Signals this detector may raise.
    pub signals: &'static [SignalSpec],
}

/// A signal a detector may raise, with the evidence keys it fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignalSpec {
    pub name: &'static str,
    pub evidence: &'static [&'static str],
}

/// A signal about a post published before the event being inspected: a cluster that has
/// just become a campaign makes its earlier posts campaign posts.
#[derive(Debug, Clone, PartialEq)]
pub struct EarlierSignal {
    /// The event that created the post.
    pub event_id: String,
    pub post_id: String,
    pub account_id: String,
    pub signal: Signal,
}

/// Everything detectors report about one event.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Findings {
    /// Signals about the event itself.
    pub signals: Vec<Signal>,
    /// Signals about earlier posts.
    pub earlier: Vec<EarlierSignal>,
    /// Groups of posts (campaigns) the event changed, for the store.
    pub groups: Vec<GroupChange>,
}

impl Findings {
    pub fn clear(&mut self) {
        self.signals.clear();
        self.earlier.clear();
        self.groups.clear();
    }
}

/// A detector. Stateful detectors (indexes over recent posts) update their state in
/// `inspect`; the engine calls it once per new event, in event order, and at start replays
/// the stored events of the detector's [`window`](Detector::window) through it.
pub trait Detector: Send {
    /// Its name, version and signals.
    fn about(&self) -> &'static About;
    /// Looks at one event and adds what it finds to `out`.
    fn inspect(&mut self, ctx: &Context, out: &mut Findings);
    /// For a detector with state over recent events: how far back (seconds before the latest
    /// stored event) its state reaches, so that it can be rebuilt at start.
    fn window(&self) -> Option<i64> {
        None
    }
    /// Rebuilds state from a stored event of the window at start, where findings are
    /// discarded: a detector may skip work that only serves findings.
    fn replay(&mut self, ctx: &Context, scratch: &mut Findings) {
        self.inspect(ctx, scratch);
    }
    /// Entity kinds whose stored state the detector learns from (`factcheck` for a knowledge
    /// base, `identity` for a registry). At start the engine feeds the current state of every
    /// stored entity of these kinds through `inspect` as an upsert event, before replaying
    /// the window.
    fn knowledge(&self) -> &'static [&'static str] {
        &[]
    }
    /// True for a detector that must see every account's posts to find anything (copy
    /// campaigns). Where the engine sees only some accounts (a worker owning some partitions
    /// in distributed mode), such a detector runs once, in the campaign stage, instead.
    fn needs_every_account(&self) -> bool {
        false
    }
}

/// What detectors take from the policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Followers from which an account must disclose its identity (`[disclosure] followers`).
    pub disclosure_followers: u64,
    /// Chat groups' rules (`[[groups]]`).
    pub groups: Vec<GroupRules>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { disclosure_followers: 1_000_000, groups: Vec::new() }
    }
}

/// The registry: every detector steward ships, by name. A plain list serves a dozen
/// detectors better than any registration machinery.
pub fn registry(settings: &Settings) -> Vec<Box<dyn Detector>> {
    vec![
        Box::new(unlabelled_ai::UnlabelledAi),
        Box::new(copy_campaign::CopyCampaign::default()),
        Box::new(clickbait::ClickbaitDetector::default()),
        Box::new(claims::ClaimMatcher::default()),
        Box::new(impersonation::Impersonation::default()),
        Box::new(follower_purge::FollowerPurge::new(settings.disclosure_followers)),
        Box::new(professional::Professionals::default()),
        Box::new(group_rules::GroupRulesDetector::new(&settings.groups)),
    ]
}

/// All detectors, run in registry order.
pub struct Detectors {
    detectors: Vec<Box<dyn Detector>>,
}

impl Default for Detectors {
    fn default() -> Self {
        Detectors::with(&Settings::default())
    }
}

impl Detectors {
    /// Every detector of the registry, set up for the policy's settings.
    pub fn with(settings: &Settings) -> Self {
        Detectors { detectors: registry(settings) }
    }

    pub fn new(detectors: Vec<Box<dyn Detector>>) -> Self {
        Detectors { detectors }
    }

    /// Keeps the detectors for which `keep` is true.
    pub fn retain(mut self, keep: impl Fn(&dyn Detector) -> bool) -> Self {
        self.detectors.retain(|d| keep(d.as_ref()));
        self
    }

    /// Every signal any detector may raise.
    pub fn signal_specs(&self) -> Vec<SignalSpec> {
        self.detectors.iter().flat_map(|d| d.about().signals.iter().copied()).collect()
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.detectors.iter().map(|d| d.about().name).collect()
    }

    /// Runs every detector on the event.
    pub fn inspect(&mut self, ctx: &Context, out: &mut Findings) {
        for d in &mut self.detectors {
            d.inspect(ctx, out);
        }
    }

    /// The longest state window of any detector: how far back stored events must be replayed
    /// at start.
    pub fn window(&self) -> Option<i64> {
        self.detectors.iter().filter_map(|d| d.window()).max()
    }

    /// Every entity kind some detector learns from.
    pub fn knowledge(&self) -> Vec<&'static str> {
        let mut kinds: Vec<&'static str> = self.detectors.iter().flat_map(|d| d.knowledge().iter().copied()).collect();
        kinds.sort_unstable();
        kinds.dedup();
        kinds
    }

    /// Feeds a stored entity's state (as an upsert event of entity kind `kind`) to the
    /// detectors that learn from that kind, discarding what they find.
    pub fn learn(&mut self, kind: &str, ctx: &Context, scratch: &mut Findings) {
        for d in self.detectors.iter_mut().filter(|d| d.knowledge().contains(&kind)) {
            scratch.clear();
            d.inspect(ctx, scratch);
        }
    }

    /// Replays a stored event through the detectors with state, discarding what they find: a
    /// detector's window after a restart is what it was before.
    pub fn replay(&mut self, ctx: &Context, scratch: &mut Findings) {
        for d in self.detectors.iter_mut().filter(|d| d.window().is_some()) {
            scratch.clear();
            d.replay(ctx, scratch);
        }
    }
}

#[cfg(test)]
mod compliance;
#[cfg(test)]
mod testing;
