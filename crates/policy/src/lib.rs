//! Policies as operator data: TOML files of rules whose conditions are
//! [CEL](https://github.com/google/cel-spec) expressions, checked and compiled once at load
//! and evaluated for every event.
//!
//! A [`Policy`] holds the credit and appeal settings ([`CreditConfig`], [`AppealConfig`]), a
//! credit ladder ([`LadderStep`]s that fire when an account's credit falls below a
//! threshold), [`Rule`]s, review queues ([`QueueSpec`]) and the [`Route`]s that choose a
//! case's queue ([`Policy::route`]). [`Policy::parse`] and [`Policy::load`] check everything against
//! a [`Schema`] of the signals detectors can raise and return either the policy or every
//! problem found ([`PolicyErrors`], one `file:line:col: message` per line).
//! [`Policy::evaluate`] runs the rules on one event's [`Input`] and returns a [`Match`] with
//! the rendered statement of reasons for each rule whose condition holds.
//!
//! # Policy files
//!
//! ```toml
//! version = "default-2026.11"       # required; recorded on every decision
//!
//! [credit]                          # optional, these are the defaults
//! initial = 100                     # credit every account starts with
//! restore_days = 180                # deducted points come back after this many days
//!
//! [appeal]                          # optional
//! days = 30                         # appeal window
//! how = "..."                       # plain-language instructions
//!
//! [[queues]]                        # zero or more; reports, appeals and escalated are built in
//! id = "campaigns"                  # [a-z0-9][a-z0-9_.-]*, unique among queues
//! description = "..."               # what the queue holds, in a line
//! claim_minutes = 10                # optional, 1 to 240: how long a claim on a case lasts
//! bulk_cap = 500                    # optional: the most decisions one action on a case reverses
//!
//! [[ladder]]                        # zero or more
//! id = "credit-below-80"            # [a-z0-9][a-z0-9_.-]*, unique among rules, steps and routes
//! below = 80                        # fires when credit drops from >= 80 to < 80; < credit.initial
//! ground = "..."                    # the rule or law relied on
//! category = "repeat_violations"
//! actions = [{ type = "restrict_posting", days = 7 }]   # no deduct_credit here
//! reason = "Your credit score fell to {{standing.credit}} ..."
//!
//! [[rules]]                         # zero or more, evaluated in file order
//! id = "ai-unlabelled"
//! ground = "..."
//! category = "ai_unlabelled"
//! when = "has(signals.unlabelled_ai) && signals.unlabelled_ai.score >= 0.5"
//! actions = [{ type = "label", label = "ai-generated" }, { type = "deduct_credit", points = 1 }]
//! reason = "Post {{post.id}} is AI-generated ({{signals.unlabelled_ai.evidence.source}}) ..."
//! automated = true                  # optional: whether the decision is automated
//!
//! [[routes]]                        # zero or more, tried in file order; the first that holds chooses
//! id = "reported-high-reach"
//! when = "case.reporters >= 3 && case.reach >= 100000"   # CEL over `case` only
//! queue = "high-reach"              # a queue declared or built in
//! ```
//!
//! Actions are [`steward_model::Action`]s: `label{label}`, `limit_reach`, `remove`,
//! `restrict_posting{days}`, `restrict_new_followers{days}`,
//! `demonetize{features, days}`, `suspend{days}`, `close`, `queue_review{queue}`,
//! `deduct_credit{points}`; `days` and `points` must be at least 1. The queue of
//! `queue_review` must be declared in `[[queues]]` or built in ([`BUILT_IN_QUEUES`]).
//!
//! # Queues and routes
//!
//! Cases wait for a moderator in queues. Three are built in and exist whether the policy
//! declares them or not: [`QUEUE_REPORTS`] (cases opened by user reports alone),
//! [`QUEUE_APPEALS`] and [`QUEUE_ESCALATED`]. The policy declares the others; it may declare
//! a built-in one again to give it a description and claim time of its own (it stays built
//! in). A `queue_review` action or a route that names any other queue is refused at load,
//! at the queue's name, with the list of queues. [`Policy::queues`] lists them all with
//! their claim time ([`QueueSpec::claim_minutes`]).
//!
//! A case goes to the queue its decision names (or reports, or appeals) unless a route
//! says otherwise: [`Policy::route`] tries the routes in file order on a [`CaseInput`] and
//! the first whose condition holds chooses. A route's condition sees one variable, `case`,
//! and the variables of rules are refused in it, as `case` is in a rule:
//!
//! | variable | fields |
//! |---|---|
//! | `case` | `subject` (`post`, `account`, `campaign` or `group`), `category`, `queue` (the queue without routing), `reporters` (int: distinct reporters), `reporter_weight` (double: the sum of their weights), `reach` (int: followers of the account), `decisions` (int), `signals` (list of strings: the names of the signals behind its decisions), `appeal` (bool: an appeal is pending) |
//!
//! Route conditions are checked, estimated and held to the budget as rule conditions are
//! (see Cost); one that fails at run time counts as not holding, and is reported in
//! [`RouteResult::errors`].
//!
//! # Variables
//!
//! Conditions and `{{...}}` placeholders in reasons see five variables, all maps:
//!
//! | variable | fields |
//! |---|---|
//! | `event` | `id`, `type` (e.g. `"post.created"`), `at` (RFC 3339 string) |
//! | `account` | `id`, `handle`, `display_name`, `bio`, `followers` (int), `verified` (bool), `ip_region` (string or null), `monetization` (list of strings); `null` when the event concerns no known account |
//! | `post` | `id`, `account_id`, `kind` (`short_post`, `article`, `video`, ...), `title` (string or null), `text`, `created_at` (RFC 3339), `group_id` and `reposted_from` (string or null), `explicit_label`, `ai_declared`, `ai_implicit_label`, `has_media`, `media_ai_marker` (bools); `null` when the event concerns no post |
//! | `signals` | signal name → `{score: double, detector: string, version: int, evidence: map}`, holding **only** the signals raised for this event (the strongest one when a name was raised twice): guard with `has(signals.x)` or `"x" in signals` |
//! | `standing` | `credit`, `credit_initial`, `recent_violations` (ints), `restrictions` (list of kinds in force, each once: `posting`, `new_followers`, `monetization`, `suspended`, `closed`, `disclosure`), `disclosure` (bool: the account must show its verified identity and IP region); `null` when unknown |
//!
//! The checker rejects, with line and column: unknown variables, unknown fields of
//! `event`, `account`, `post`, `standing` and of a signal, signals the [`Schema`] does not
//! know, evidence keys the signal's [`SignalSpec`] does not list, and unknown functions.
//! CEL's standard library is there with the strings, math and lists extensions.
//!
//! A condition that fails at run time (say `signals.x.score > 0.5` without a `has()` guard
//! for an event without `x`, or `account.followers > 10` when `account` is null) counts
//! as false. [`Policy::evaluate`] then leaves the rule out; [`Policy::evaluate_all`] also
//! returns the [`EvalError`]s so they can be logged, and [`Policy::runtime_errors`] counts
//! them all.
//!
//! # Cost
//!
//! A rule may do only so much work per event (and a route per case) ([`Budget`], by default [`RULE_STEPS`] steps
//! of about 0.1 µs each). When the policy loads, each condition's worst case is estimated
//! from the [`Limits`] of the input (texts of at most `max_text_bytes`, lists of at most
//! `max_list_items` items, names of at most `max_id_bytes`): a loop (`all`, `exists`,
//! `exists_one`, `map`, `filter`) costs its body once per item its range can have, so
//! nested loops multiply; string functions cost by the bytes they go through, `distinct` by
//! pairs of items, `lists.range(n)` by `n`, and `matches` by its text, with a pattern that
//! must be a string literal (it is compiled at load, and refused when invalid or larger
//! than 64 KiB compiled). A rule over the budget is refused with the part that puts it
//! over, and [`Rule::cost`] gives every rule's estimate. While a rule runs, its loops
//! count the steps it spends; one that reaches [`Budget::eval_steps`] is stopped and
//! reported as an error of kind [`EvalErrorKind::OverBudget`] (it cannot happen to a rule
//! within its estimate).
//!
//! In templates a placeholder must name a value (not a whole map); values that are missing
//! at render time (no post, a signal not raised, an absent evidence key, null) render as
//! nothing. Lists render joined with `, `.
//!
//! # Example
//!
//! ```
//! use steward_model::{parse_event, Limits, Signal};
//! use steward_policy::{Input, Policy, Schema};
//!
//! let schema = Schema::new().with_signal("unlabelled_ai", &["source", "basis", "kind"]);
//! let policy = Policy::parse(
//!     r#"
//! version = "example-1"
//! [[rules]]
//! id = "ai-unlabelled"
//! ground = "Measures for Labelling AI-Generated Synthetic Content, art. 10"
//! category = "ai_unlabelled"
//! when = "has(signals.unlabelled_ai) && signals.unlabelled_ai.score >= 0.5"
//! actions = [{ type = "label", label = "ai-generated" }, { type = "deduct_credit", points = 1 }]
//! reason = "Post {{post.id}} is AI-generated ({{signals.unlabelled_ai.evidence.source}}) but unlabelled."
//! "#,
//!     "example.toml",
//!     &schema,
//! )
//! .unwrap();
//!
//! let record = r#"{"id":"e1","type":"post.created","at":"2026-11-22T08:00:00Z",
//!   "post":{"id":"p1","account_id":"a1","kind":"image","text":"sunset",
//!   "created_at":"2026-11-22T08:00:00Z"}}"#;
//! let event = parse_event(record.as_bytes(), &Limits::default(), chrono::Utc::now()).unwrap();
//! let signals = [Signal::new("unlabelled_ai", "ai-label", 1, 0.9).with("source", "media_marker")];
//!
//! let matches = policy.evaluate(&Input::new(&event, &signals)).unwrap();
//! assert_eq!(matches.len(), 1);
//! assert_eq!(matches[0].rule.id, "ai-unlabelled");
//! assert_eq!(matches[0].explanation, "Post p1 is AI-generated (media_marker) but unlabelled.");
//!
//! // Without the signal the rule does not match.
//! assert!(policy.evaluate(&Input::new(&event, &[])).unwrap().is_empty());
//! ```

#![deny(missing_docs)]

mod budget;
mod check;
mod cost;
mod error;
mod load;
mod template;
mod vars;

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use cel::common::types::CelBool;
use cel::{Context, Env, IdedExpr, Value};
use steward_model::{Account, Action, Event, GroupRules, Limits, Post, Signal, Standing};

pub use budget::{Budget, RULE_STEPS};
pub use error::{EvalError, EvalErrorKind, Evaluated, PolicyError, PolicyErrors};

use template::Template;
use vars::{CaseVars, Vars};

/// Credit settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreditConfig {
    /// Credit every account starts with. Default 100.
    pub initial: i64,
    /// Points deducted come back after this many days. Default 180.
    pub restore_days: u32,
}

impl Default for CreditConfig {
    fn default() -> Self {
        CreditConfig { initial: 100, restore_days: 180 }
    }
}

/// Identity disclosure (`[disclosure]`): accounts with at least `followers` followers must
/// show who they are (verified name or organisation, its type) and their IP region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisclosureConfig {
    /// Default 1,000,000.
    pub followers: u64,
}

impl Default for DisclosureConfig {
    fn default() -> Self {
        DisclosureConfig { followers: 1_000_000 }
    }
}

/// How decisions can be appealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppealConfig {
    /// Appeal window in days. Default 180 (the DSA's six months at least).
    pub days: u32,
    /// Plain-language instructions shown with every decision.
    pub how: String,
}

/// The appeal instructions used when a policy gives none.
pub const DEFAULT_APPEAL_HOW: &str = "If you think this decision is wrong, appeal within the appeal window \
     through the platform's support or complaint channel, quoting the decision id; the platform files it with \
     steward (POST /v1/appeals). A moderator who took no part in the decision reviews it, and you are told the \
     outcome and why.";

impl Default for AppealConfig {
    fn default() -> Self {
        AppealConfig { days: 180, how: DEFAULT_APPEAL_HOW.to_string() }
    }
}

/// Whether a rule's decisions take effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Decisions are enforced (the default).
    #[default]
    Live,
    /// The rule runs on live traffic, but its decisions are only recorded and counted:
    /// nothing is enforced and no one is told.
    Shadow,
    /// The rule runs only in backtests and spot tests.
    Draft,
}

impl Mode {
    /// The mode as written in policy files.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Live => "live",
            Mode::Shadow => "shadow",
            Mode::Draft => "draft",
        }
    }

    /// The mode of this name.
    pub fn parse(s: &str) -> Option<Mode> {
        [Mode::Live, Mode::Shadow, Mode::Draft].into_iter().find(|m| m.as_str() == s)
    }
}

/// A ceiling on how much a rule may do on its own (`quota = { max_share = 0.01,
/// max_per_hour = 500 }`): when live traffic passes it, the rule's circuit breaker trips and
/// the rule drops to shadow until an admin re-arms it.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Quota {
    /// Largest share of the posts of a sliding hour the rule may decide on, in (0, 1].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_share: Option<f64>,
    /// Most decisions the rule may make in a sliding hour.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_per_hour: Option<u32>,
}

/// A compiled `when`.
#[derive(Debug)]
struct Condition {
    source: String,
    /// The checked expression, rewritten for speed (see `check::optimize`) and with its
    /// loops metered (see `budget`).
    expr: IdedExpr,
    /// Line of `when` in the file.
    line: usize,
    /// Steps one evaluation may cost at most, as estimated at load.
    cost: u64,
    /// Of which outside every loop: charged when an evaluation starts.
    local: u64,
    /// Whether it has loops to meter; without, an evaluation costs `local` and no more.
    loops: bool,
}

impl Condition {
    /// Evaluates the condition in `ctx`, held to `budget`: whether it holds, or the kind of
    /// failure and what it was; and the steps it spent.
    #[inline]
    fn eval(&self, ctx: &Context, budget: Budget) -> (Result<bool, (EvalErrorKind, String)>, u64) {
        let (result, (spent, over)) = if self.loops {
            budget::start(self.local, budget.eval_steps);
            (Value::resolve_val(&self.expr, ctx), budget::finish())
        } else {
            (Value::resolve_val(&self.expr, ctx), (self.local, false))
        };
        if over {
            let message = format!(
                "stopped after {} steps, over its budget of {} steps an evaluation (its estimate at load was {})",
                cost::steps(spent as f64),
                cost::steps(budget.eval_steps as f64),
                cost::steps(self.cost as f64),
            );
            return (Err((EvalErrorKind::OverBudget, message)), spent);
        }
        let outcome = match result {
            Ok(v) => match v.downcast_ref::<CelBool>() {
                Some(b) => Ok(*b.inner()),
                None => Err((EvalErrorKind::Failed, format!("`when` is {}, not a bool", v.get_type().name()))),
            },
            Err(e) => Err((EvalErrorKind::Failed, e.to_string())),
        };
        (outcome, spent)
    }
}

/// One rule: when its condition holds for an event, the engine takes its actions.
#[derive(Debug)]
pub struct Rule {
    /// Unique id, `[a-z0-9][a-z0-9_.-]*`.
    pub id: String,
    /// The rule or law the content or conduct breaks.
    pub ground: String,
    /// Harm category, e.g. `ai_unlabelled`.
    pub category: String,
    /// What to do, in order.
    pub actions: Vec<Action>,
    /// Whether the decision is taken without a person (default true).
    pub automated: bool,
    /// Whether its decisions take effect (default live).
    pub mode: Mode,
    /// The rule's ceiling, if it has one.
    pub quota: Option<Quota>,
    when: Condition,
    reason: Template,
    line: usize,
}

impl Rule {
    /// The condition as written.
    pub fn when(&self) -> &str {
        &self.when.source
    }

    /// The reason template as written.
    pub fn reason(&self) -> &str {
        &self.reason.source
    }

    /// Line of the rule's `[[rules]]` entry in the policy file.
    pub fn line(&self) -> usize {
        self.line
    }

    /// Renders the reason for `input`.
    pub fn render(&self, input: &Input<'_>) -> String {
        self.reason.render(input)
    }

    /// The most steps its condition may cost on one event, as estimated at load: at most
    /// [`Budget::rule_cost`].
    pub fn cost(&self) -> u64 {
        self.when.cost
    }
}

/// A step of the credit ladder: fires when an account's credit drops from `>= below` to
/// `< below`.
#[derive(Debug)]
pub struct LadderStep {
    /// Unique id (shared namespace with rule ids).
    pub id: String,
    /// Threshold; always below [`CreditConfig::initial`].
    pub below: i64,
    /// The rule or law relied on.
    pub ground: String,
    /// Harm category, e.g. `repeat_violations`.
    pub category: String,
    /// What to do; never `deduct_credit`.
    pub actions: Vec<Action>,
    reason: Template,
    line: usize,
}

impl LadderStep {
    /// Whether a change of credit from `before` to `after` crosses this step.
    pub fn fires(&self, before: i64, after: i64) -> bool {
        before >= self.below && after < self.below
    }

    /// The reason template as written.
    pub fn reason(&self) -> &str {
        &self.reason.source
    }

    /// Line of the step's `[[ladder]]` entry in the policy file.
    pub fn line(&self) -> usize {
        self.line
    }
}

/// What policies are checked against: the signals detectors register (what conditions and
/// templates may name), the limits on the input (how large the values they read can be) and
/// the budget a rule must keep to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Schema {
    /// Every known signal.
    pub signals: Vec<SignalSpec>,
    /// The limits events are validated against. Lists of signal evidence are taken to keep
    /// to `max_list_items` too.
    pub limits: Limits,
    /// The budget of every rule.
    pub budget: Budget,
}

impl Schema {
    /// A schema without signals, with the default limits and budget.
    pub fn new() -> Self {
        Schema::default()
    }

    /// Sets the budget.
    pub fn with_budget(mut self, budget: Budget) -> Self {
        self.budget = budget;
        self
    }

    /// Adds a signal with its evidence keys.
    pub fn with_signal(mut self, name: &str, evidence: &[&str]) -> Self {
        self.signals
            .push(SignalSpec { name: name.to_string(), evidence: evidence.iter().map(|k| k.to_string()).collect() });
        self
    }

    /// The signal of this name.
    pub fn signal(&self, name: &str) -> Option<&SignalSpec> {
        self.signals.iter().find(|s| s.name == name)
    }
}

/// One signal a detector may raise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignalSpec {
    /// Name, as in `signals.<name>`.
    pub name: String,
    /// The evidence keys the detector fills in.
    pub evidence: Vec<String>,
}

/// What a policy is evaluated on: one event and what is known around it.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    /// The event.
    pub event: &'a Event,
    /// The account concerned, when known.
    pub account: Option<&'a Account>,
    /// The post concerned, when there is one.
    pub post: Option<&'a Post>,
    /// Signals detectors raised for this event.
    pub signals: &'a [Signal],
    /// The account's standing before this event, when known.
    pub standing: Option<&'a Standing>,
}

impl<'a> Input<'a> {
    /// An input with the account or post the event itself carries (`account.upserted`,
    /// `post.created`) and no standing.
    pub fn new(event: &'a Event, signals: &'a [Signal]) -> Self {
        let (account, post) = vars::from_payload(event);
        Input { event, account, post, signals, standing: None }
    }

    /// Sets the account.
    pub fn with_account(mut self, account: &'a Account) -> Self {
        self.account = Some(account);
        self
    }

    /// Sets the post.
    pub fn with_post(mut self, post: &'a Post) -> Self {
        self.post = Some(post);
        self
    }

    /// Sets the standing.
    pub fn with_standing(mut self, standing: &'a Standing) -> Self {
        self.standing = Some(standing);
        self
    }
}

/// A rule whose condition held, with its statement of reasons.
#[derive(Debug, Clone)]
pub struct Match<'a> {
    /// The rule.
    pub rule: &'a Rule,
    /// The rule's reason rendered for the input.
    pub explanation: String,
}

/// Everything one evaluation found: the matches, and the rules that failed at run time
/// (which count as not matching).
#[derive(Debug, Clone)]
pub struct Evaluation<'a> {
    /// Rules whose condition held, in file order.
    pub matches: Vec<Match<'a>>,
    /// Rules whose condition failed at run time, or went over their budget.
    pub errors: Vec<EvalError>,
    /// Steps the rules spent, by the count that enforces the budget.
    pub steps: u64,
}

/// The queue of cases opened by user reports alone (no decision queued them).
pub const QUEUE_REPORTS: &str = "reports";
/// The queue of appeals: each decided by a moderator who took no part in the decision.
pub const QUEUE_APPEALS: &str = "appeals";
/// The queue of escalated cases.
pub const QUEUE_ESCALATED: &str = "escalated";
/// The queues every policy has, declared or not, with the description they have when the
/// policy does not give one.
pub const BUILT_IN_QUEUES: [(&str, &str); 3] = [
    (QUEUE_REPORTS, "Cases opened by user reports alone"),
    (QUEUE_APPEALS, "Appeals of decisions, decided by a moderator who took no part in the decision"),
    (QUEUE_ESCALATED, "Cases a moderator escalated"),
];
/// How long a moderator's claim on a case lasts, in minutes, when the queue does not say.
pub const DEFAULT_CLAIM_MINUTES: u32 = 10;
/// The most decisions one moderator's action reverses, unless the queue says otherwise.
pub const DEFAULT_BULK_CAP: u32 = 500;

/// A queue's bulk cap when the policy sets none: escalated cases are for senior moderators,
/// whose actions are not capped.
pub fn default_bulk_cap(queue: &str) -> u32 {
    if queue == QUEUE_ESCALATED { u32::MAX } else { DEFAULT_BULK_CAP }
}

/// The longest claim a queue may set, in minutes.
pub const MAX_CLAIM_MINUTES: u32 = 240;

/// A review queue: declared by the policy (`[[queues]]`) or built in ([`BUILT_IN_QUEUES`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSpec {
    /// Unique id among queues, `[a-z0-9][a-z0-9_.-]*`.
    pub id: String,
    /// What the queue holds, in a line.
    pub description: String,
    /// How long a moderator's claim on one of its cases lasts before it frees the case,
    /// 1 to [`MAX_CLAIM_MINUTES`] (default [`DEFAULT_CLAIM_MINUTES`]).
    pub claim_minutes: u32,
    /// The most decisions one action on a case of this queue may reverse (a campaign's case
    /// holds one for each of its posts): more, and the case must be escalated. Default
    /// [`DEFAULT_BULK_CAP`], and none for [`QUEUE_ESCALATED`].
    pub bulk_cap: u32,
    /// Whether it is one of [`BUILT_IN_QUEUES`] (which a policy may declare again to give it
    /// a description and claim time of its own).
    pub built_in: bool,
    line: usize,
}

impl QueueSpec {
    /// Line of the queue's `[[queues]]` entry, when the policy declares it.
    pub fn line(&self) -> Option<usize> {
        (self.line > 0).then_some(self.line)
    }
}

/// A routing rule (`[[routes]]`): when its condition holds for a case, the case goes to its
/// queue. Routes are tried in file order and the first that holds chooses.
#[derive(Debug)]
pub struct Route {
    /// Unique id (shared namespace with rule and ladder ids).
    pub id: String,
    /// The queue it sends cases to: declared or built in.
    pub queue: String,
    when: Condition,
    line: usize,
}

impl Route {
    /// The condition as written.
    pub fn when(&self) -> &str {
        &self.when.source
    }

    /// Line of the route's `[[routes]]` entry in the policy file.
    pub fn line(&self) -> usize {
        self.line
    }

    /// The most steps its condition may cost on one case, as estimated at load: at most
    /// [`Budget::rule_cost`].
    pub fn cost(&self) -> u64 {
        self.when.cost
    }
}

/// What routes are evaluated on: one case, as the variable `case` shows it.
#[derive(Debug, Clone, Copy)]
pub struct CaseInput<'a> {
    /// What the case is about: `post`, `account`, `campaign` or `group`.
    pub subject: &'a str,
    /// The harm category (of the decision that opened it, or of the report).
    pub category: &'a str,
    /// The queue the case goes to without routing (the queue of its `queue_review`,
    /// [`QUEUE_REPORTS`], [`QUEUE_APPEALS`], ...).
    pub queue: &'a str,
    /// Distinct reporters.
    pub reporters: u32,
    /// The sum of the reporters' weights.
    pub reporter_weight: f64,
    /// Followers of the account concerned.
    pub reach: u64,
    /// Decisions behind the case.
    pub decisions: u32,
    /// Names of the signals behind its decisions, e.g. `rumour_match`, each once. The cost
    /// of a route is estimated for up to [`Limits::max_list_items`] of them; a route that
    /// goes further on a longer list is stopped at its budget.
    pub signals: &'a [String],
    /// Whether the case holds a pending appeal.
    pub appeal: bool,
}

/// The queue routing chose for a case, and the routes that failed on the way.
#[derive(Debug, Clone)]
pub struct RouteResult<'a> {
    /// The first route whose condition held; `None` when none did.
    pub route: Option<&'a Route>,
    /// Its queue; `None` when no route held (the case stays in [`CaseInput::queue`]).
    pub queue: Option<&'a QueueSpec>,
    /// Routes whose condition failed at run time or went over its budget, tried before the
    /// one that held (they count as not holding).
    pub errors: Vec<EvalError>,
    /// Steps the routes spent, by the count that enforces the budget.
    pub steps: u64,
}
/// A loaded, checked and compiled policy. Immutable and `Send + Sync`: share it with an
/// `Arc` and swap the `Arc` to reload.
pub struct Policy {
    /// Version string, recorded on decisions.
    pub version: String,
    /// Credit settings.
    pub credit: CreditConfig,
    /// Appeal settings.
    pub appeal: AppealConfig,
    /// Identity disclosure settings.
    pub disclosure: DisclosureConfig,
    /// The credit ladder, in file order.
    pub ladder: Vec<LadderStep>,
    /// The rules, in file order.
    pub rules: Vec<Rule>,
    /// The routes, in file order.
    pub routes: Vec<Route>,
    /// Chat groups' rules (`[[groups]]`), in file order.
    pub groups: Vec<GroupRules>,
    /// The built-in queues, then those the policy declares, in file order.
    queues: Vec<QueueSpec>,
    env: Arc<Env>,
    budget: Budget,
    source: String,
    text: String,
    runtime_errors: AtomicU64,
}

impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Policy")
            .field("version", &self.version)
            .field("source", &self.source)
            .field("credit", &self.credit)
            .field("appeal", &self.appeal)
            .field("disclosure", &self.disclosure)
            .field("ladder", &self.ladder)
            .field("rules", &self.rules)
            .field("queues", &self.queues)
            .field("routes", &self.routes)
            .field("groups", &self.groups)
            .finish_non_exhaustive()
    }
}

impl Policy {
    /// Parses and checks a policy. `source` names it in messages (usually the file name).
    /// Returns every problem found, in file order.
    pub fn parse(text: &str, source: &str, schema: &Schema) -> Result<Policy, PolicyErrors> {
        load::Loader::new(text, source, schema).load()
    }

    /// Reads, parses and checks a policy file.
    pub fn load(path: &Path, schema: &Schema) -> Result<Policy, PolicyErrors> {
        let source = path.display().to_string();
        match std::fs::read_to_string(path) {
            Ok(text) => Policy::parse(&text, &source, schema),
            Err(e) => Err(PolicyErrors(vec![PolicyError {
                source,
                line: 0,
                column: 0,
                message: format!("cannot read the policy: {e}"),
            }])),
        }
    }

    /// The name the policy was loaded under.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The policy file's text, as loaded.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The budget its rules were checked against and are held to.
    pub fn budget(&self) -> Budget {
        self.budget
    }

    /// The rule with this id.
    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id == id)
    }

    /// The rules whose condition holds for `input`, in file order, with their reasons.
    ///
    /// A rule whose condition fails at run time, or goes over its budget, counts as not
    /// matching: it is left out here and counted in [`Policy::runtime_errors`]; use
    /// [`Policy::evaluate_all`] to get the errors themselves. Evaluating a checked policy
    /// does not fail as a whole, so this returns `Ok` today.
    pub fn evaluate<'a>(&'a self, input: &Input<'_>) -> Result<Vec<Match<'a>>, EvalError> {
        Ok(self.evaluate_all(input).matches)
    }

    /// Evaluates every rule: the matches, in file order, and the rules that failed at run
    /// time. The variables read the input in place when a rule looks at a field: nothing is
    /// copied or serialized per event or per rule.
    pub fn evaluate_all<'a>(&'a self, input: &Input<'_>) -> Evaluation<'a> {
        self.evaluate_where(input, |_| true)
    }

    /// Evaluates the rules `run` picks, as [`Policy::evaluate_all`] does.
    ///
    /// Each evaluation is held to [`Budget::eval_steps`]: its loops are stopped once it has
    /// spent them, and it is reported as an error of kind [`EvalErrorKind::OverBudget`]. A
    /// rule within its estimate never gets there.
    pub fn evaluate_where<'a>(&'a self, input: &Input<'_>, run: impl Fn(&Rule) -> bool) -> Evaluation<'a> {
        let vars = Vars::new(*input);
        let mut ctx = Context::with_env(Arc::clone(&self.env));
        ctx.set_variable_resolver(&vars);
        let mut matches = Vec::new();
        let mut errors = Vec::new();
        let mut steps = 0u64;
        for rule in self.rules.iter().filter(|r| run(r)) {
            let (outcome, spent) = rule.when.eval(&ctx, self.budget);
            steps = steps.saturating_add(spent);
            match outcome {
                Ok(true) => matches.push(Match { rule, explanation: rule.reason.render(input) }),
                Ok(false) => {}
                Err((kind, message)) => errors.push(EvalError {
                    rule_id: rule.id.clone(),
                    line: rule.when.line,
                    message,
                    kind,
                    of: Evaluated::Rule,
                }),
            }
        }
        if !errors.is_empty() {
            self.runtime_errors.fetch_add(errors.len() as u64, Ordering::Relaxed);
        }
        Evaluation { matches, errors, steps }
    }

    /// The queue of this id, declared or built in.
    pub fn queue(&self, id: &str) -> Option<&QueueSpec> {
        self.queues.iter().find(|q| q.id == id)
    }

    /// Every queue: the built-in ones ([`BUILT_IN_QUEUES`], in that order), then those the
    /// policy declares, in file order.
    pub fn queues(&self) -> &[QueueSpec] {
        &self.queues
    }

    /// The queue for `case`: the routes are tried in file order and the first whose
    /// condition holds chooses. None holding, [`RouteResult::queue`] is `None` and the case
    /// stays in [`CaseInput::queue`].
    ///
    /// A route whose condition fails at run time, or goes over its budget
    /// ([`Budget::eval_steps`], as for rules), counts as not holding: it is reported in
    /// [`RouteResult::errors`] (as [`Evaluated::Route`]), counted in
    /// [`Policy::runtime_errors`], and the next route is tried.
    pub fn route<'a>(&'a self, case: &CaseInput<'_>) -> RouteResult<'a> {
        let mut result = RouteResult { route: None, queue: None, errors: Vec::new(), steps: 0 };
        if self.routes.is_empty() {
            return result;
        }
        let vars = CaseVars::new(*case);
        let mut ctx = Context::with_env(Arc::clone(&self.env));
        ctx.set_variable_resolver(&vars);
        for route in &self.routes {
            let (outcome, spent) = route.when.eval(&ctx, self.budget);
            result.steps = result.steps.saturating_add(spent);
            match outcome {
                Ok(true) => {
                    result.route = Some(route);
                    result.queue = self.queue(&route.queue);
                    break;
                }
                Ok(false) => {}
                Err((kind, message)) => result.errors.push(EvalError {
                    rule_id: route.id.clone(),
                    line: route.when.line,
                    message,
                    kind,
                    of: Evaluated::Route,
                }),
            }
        }
        if !result.errors.is_empty() {
            self.runtime_errors.fetch_add(result.errors.len() as u64, Ordering::Relaxed);
        }
        result
    }

    /// The route with this id.
    pub fn route_by_id(&self, id: &str) -> Option<&Route> {
        self.routes.iter().find(|r| r.id == id)
    }

    /// How many rule and route evaluations have failed at run time since the policy was
    /// loaded.
    pub fn runtime_errors(&self) -> u64 {
        self.runtime_errors.load(Ordering::Relaxed)
    }

    /// The steps crossed when an account's credit goes from `before` to `after`, in file
    /// order.
    pub fn ladder_crossed(&self, before: i64, after: i64) -> Vec<&LadderStep> {
        self.ladder.iter().filter(|s| s.fires(before, after)).collect()
    }

    /// Renders a ladder step's reason for `input` (whose standing should be the one after
    /// the deduction).
    pub fn render_ladder(&self, step: &LadderStep, input: &Input<'_>) -> String {
        step.reason.render(input)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_is_send_and_sync() {
        fn assert<T: Send + Sync>() {}
        assert::<Policy>();
    }

    #[test]
    fn ids() {
        for ok in ["a", "ai-unlabelled", "0x", "credit.below_80"] {
            assert!(load::valid_id(ok), "{ok}");
        }
        for bad in ["", "-a", "A", "a@b", "a b", "_a", "é"] {
            assert!(!load::valid_id(bad), "{bad}");
        }
    }
}
