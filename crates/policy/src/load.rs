//! Reading a policy file: TOML with spans, every section checked and every problem
//! collected with its line and column before the policy is returned or rejected.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use cel::common::types::{DYN_TYPE, INT_TYPE};
use cel::{Env, IdedExpr};
use serde::de::DeserializeOwned;
use steward_model::{ACTION_TYPES, Action};
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use crate::budget::{METER, meter, meter_loops};
use crate::check::{Checker, optimize, suggest};
use crate::cost::{self, steps};
use crate::template::Template;
use crate::vars::{ROOTS, ROUTE_ROOTS};
use crate::{
    AppealConfig, BUILT_IN_QUEUES, Condition, CreditConfig, DEFAULT_BULK_CAP, DEFAULT_CLAIM_MINUTES, DisclosureConfig,
    LadderStep, MAX_CLAIM_MINUTES, Mode, Policy, PolicyError, PolicyErrors, QueueSpec, Quota, Route, Rule, Schema,
    default_bulk_cap,
};

type Value<'i> = Spanned<DeValue<'i>>;

/// Rule, ladder, route and queue ids: lower-case letters, digits, `_`, `.` and `-`,
/// starting with a letter or digit. Decision ids are `rule@event`, so `@` must never occur.
pub(crate) fn valid_id(id: &str) -> bool {
    let mut chars = id.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '.' | '-'))
}

mod groups;

const TOP_KEYS: &[&str] =
    &["version", "credit", "appeal", "disclosure", "queues", "ladder", "rules", "routes", "groups"];
const CREDIT_KEYS: &[&str] = &["initial", "restore_days"];
const APPEAL_KEYS: &[&str] = &["days", "how"];
const DISCLOSURE_KEYS: &[&str] = &["followers"];
const RULE_KEYS: &[&str] = &["id", "ground", "category", "when", "actions", "reason", "automated", "mode", "quota"];
const QUOTA_KEYS: &[&str] = &["max_share", "max_per_hour"];
const LADDER_KEYS: &[&str] = &["id", "below", "ground", "category", "actions", "reason"];
const QUEUE_KEYS: &[&str] = &["id", "description", "claim_minutes", "bulk_cap"];
const ROUTE_KEYS: &[&str] = &["id", "when", "queue"];

/// What a condition belongs to: what it may see, and what its budget is called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    /// A rule: evaluated on an event.
    Rule,
    /// A route: evaluated on a case.
    Route,
}

impl Owner {
    fn roots(self) -> &'static [&'static str] {
        match self {
            Owner::Rule => ROOTS,
            Owner::Route => ROUTE_ROOTS,
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Owner::Rule => "rule",
            Owner::Route => "route",
        }
    }
}

/// The cel environment every condition is compiled and evaluated in: the standard library
/// with the strings, math and lists extensions, and the meter of loops (see `budget`).
pub(crate) fn cel_env() -> Arc<Env> {
    let mut env = Env::stdlib();
    // The extensions only fail on a name clash, which these standard ones do not have.
    let _ = env.add_extension(cel::extensions::strings);
    let _ = env.add_extension(cel::extensions::math);
    let _ = env.add_extension(cel::extensions::lists);
    // Nor does this name, which CEL source cannot spell.
    let _ = env.add_overload(METER, "@steward_meter_dyn_int", vec![DYN_TYPE, INT_TYPE], meter);
    Arc::new(env)
}

pub(crate) struct Loader<'t> {
    text: &'t str,
    source: &'t str,
    schema: &'t Schema,
    env: Arc<Env>,
    errors: Vec<PolicyError>,
    /// Start of every line, for byte offset to line and column.
    line_starts: Vec<usize>,
    /// Ids of the queues actions and routes may name: the built-in ones and every one
    /// declared (even with a problem of its own, which is reported there).
    queue_ids: Vec<String>,
}

impl<'t> Loader<'t> {
    pub(crate) fn new(text: &'t str, source: &'t str, schema: &'t Schema) -> Self {
        let line_starts = std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect();
        let queue_ids = BUILT_IN_QUEUES.iter().map(|(id, _)| id.to_string()).collect();
        Loader { text, source, schema, env: cel_env(), errors: Vec::new(), line_starts, queue_ids }
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub(crate) fn position(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&s| s <= offset);
        let start = self.line_starts[line - 1];
        let column = self.text.get(start..offset).map_or(offset - start, |s| s.chars().count()) + 1;
        (line, column)
    }

    fn error(&mut self, offset: usize, message: impl Into<String>) {
        let (line, column) = self.position(offset);
        self.errors.push(PolicyError { source: self.source.to_string(), line, column, message: message.into() });
    }

    /// Parses and checks the whole file.
    pub(crate) fn load(mut self) -> Result<Policy, PolicyErrors> {
        let (root, syntax) = DeTable::parse_recoverable(self.text);
        if !syntax.is_empty() {
            for e in syntax {
                let at = e.span().map_or(0, |s| s.start);
                self.error(at, format!("TOML syntax: {}", e.message()));
            }
            return Err(self.finish());
        }
        let root_span = root.span();
        let table = root.get_ref();
        self.unknown_keys(table, TOP_KEYS, "at the top level");

        let version = match table.get("version") {
            Some(v) => self.nonempty_string(v, "version"),
            None => {
                self.error(
                    root_span.start,
                    "missing `version`: name this policy's version, e.g. `version = \"default-2026.11\"`",
                );
                None
            }
        };
        let credit = self.credit(table.get("credit"));
        let appeal = self.appeal(table.get("appeal"));
        let disclosure = self.disclosure(table.get("disclosure"));
        let queues = self.queues(table.get("queues"));
        let groups = self.groups(table.get("groups"));

        let mut ids: Vec<(String, usize)> = Vec::new();
        let mut ladder = Vec::new();
        for entry in self.array_of_tables(table.get("ladder"), "ladder") {
            if let Some(step) = self.ladder_step(entry, &credit, &mut ids) {
                ladder.push(step);
            }
        }
        let mut seen_below: HashMap<i64, String> = HashMap::new();
        for step in &ladder {
            if let Some(other) = seen_below.insert(step.below, step.id.clone()) {
                let at = self.line_start(step.line);
                self.error(
                    at,
                    format!(
                        "ladder step `{}`: `below = {}` is also the threshold of step `{other}`",
                        step.id, step.below
                    ),
                );
            }
        }
        let mut rules = Vec::new();
        for entry in self.array_of_tables(table.get("rules"), "rules") {
            if let Some(rule) = self.rule(entry, &mut ids) {
                rules.push(rule);
            }
        }
        let mut routes = Vec::new();
        for entry in self.array_of_tables(table.get("routes"), "routes") {
            if let Some(route) = self.route(entry, &mut ids) {
                routes.push(route);
            }
        }
        // ids are unique across rules, ladder steps and routes
        self.duplicates(ids, "id", "used");
        if !self.errors.is_empty() {
            return Err(self.finish());
        }
        Ok(Policy {
            version: version.unwrap_or_default(),
            credit,
            appeal,
            disclosure,
            ladder,
            rules,
            routes,
            groups,
            queues,
            env: self.env,
            budget: self.schema.budget,
            source: self.source.to_string(),
            text: self.text.to_string(),
            runtime_errors: Default::default(),
        })
    }

    /// Reports every id of `ids` (with where each is written) used before; the later one is
    /// the duplicate.
    fn duplicates(&mut self, mut ids: Vec<(String, usize)>, what: &str, used: &str) {
        ids.sort_by_key(|(_, at)| *at);
        let mut first: HashMap<&str, usize> = HashMap::new();
        for (id, at) in &ids {
            match first.get(id.as_str()) {
                Some(&line) => self.error(*at, format!("duplicate {what} `{id}`: already {used} on line {line}")),
                None => {
                    first.insert(id, self.position(*at).0);
                }
            }
        }
    }

    /// The queues: the built-in ones, then those `[[queues]]` declares. A declared built-in
    /// queue keeps its place and takes the declared description and claim time.
    fn queues(&mut self, v: Option<&Value<'_>>) -> Vec<QueueSpec> {
        let mut queues: Vec<QueueSpec> = BUILT_IN_QUEUES
            .iter()
            .map(|(id, description)| QueueSpec {
                id: id.to_string(),
                description: description.to_string(),
                claim_minutes: DEFAULT_CLAIM_MINUTES,
                bulk_cap: default_bulk_cap(id),
                built_in: true,
                line: 0,
            })
            .collect();
        let mut ids = Vec::new();
        for (t, span) in self.array_of_tables(v, "queues") {
            let (line, id, what) = self.entry((t, &span), QUEUE_KEYS, "queues", "queue", &mut ids);
            if let Some(id) = &id
                && !self.queue_ids.contains(id)
            {
                self.queue_ids.push(id.clone());
            }
            let description =
                self.required(t, &span, "description", &what).and_then(|v| self.nonempty_string(v, "description"));
            let claim_minutes = match t.get("claim_minutes") {
                None => Some(DEFAULT_CLAIM_MINUTES),
                Some(v) => self.count(v, "claim_minutes", 1).and_then(|n| {
                    if n > MAX_CLAIM_MINUTES {
                        self.error(
                            v.span().start,
                            format!("{what}: `claim_minutes` is at most {MAX_CLAIM_MINUTES} (4 hours), not {n}: a claim is renewed, not held for a shift"),
                        );
                        return None;
                    }
                    Some(n)
                }),
            };
            let bulk_cap = match t.get("bulk_cap") {
                None => Some(id.as_deref().map_or(DEFAULT_BULK_CAP, default_bulk_cap)),
                Some(v) => self.count(v, "bulk_cap", 1),
            };
            let (Some(id), Some(description), Some(claim_minutes), Some(bulk_cap)) =
                (id, description, claim_minutes, bulk_cap)
            else {
                continue;
            };
            let spec = QueueSpec { built_in: false, id, description, claim_minutes, bulk_cap, line };
            match queues.iter_mut().find(|q| q.built_in && q.id == spec.id && q.line == 0) {
                Some(built_in) => *built_in = QueueSpec { built_in: true, ..spec },
                None => queues.push(spec),
            }
        }
        self.duplicates(ids, "queue", "declared");
        queues
    }

    /// Reports `name` (written at `at`) unless it is a queue of the policy.
    fn known_queue(&mut self, at: usize, name: &str) -> bool {
        if self.queue_ids.iter().any(|q| q == name) {
            return true;
        }
        let known: Vec<&str> = self.queue_ids.iter().map(String::as_str).collect();
        let mut msg = suggest(format!("unknown queue `{name}`"), name, &known, "the queues are");
        msg.push_str("; declare it with `[[queues]]` (an `id` and a `description`)");
        self.error(at, msg);
        false
    }

    fn finish(mut self) -> PolicyErrors {
        self.errors.sort_by_key(|e| (e.line, e.column));
        self.errors.dedup();
        PolicyErrors(self.errors)
    }

    fn line_start(&self, line: usize) -> usize {
        self.line_starts.get(line.saturating_sub(1)).copied().unwrap_or(0)
    }

    /// Reports keys of `table` that are not `known`; `place` says where, e.g. "in [credit]".
    fn unknown_keys(&mut self, table: &DeTable<'_>, known: &[&str], place: &str) {
        for key in table.keys() {
            let name = key.get_ref().as_ref();
            if !known.contains(&name) {
                let msg = suggest(format!("unknown key `{name}` {place}"), name, known, "the keys are");
                self.error(key.span().start, msg);
            }
        }
    }

    /// Deserializes a value with serde, reporting an error at its span.
    fn de<T: DeserializeOwned>(&mut self, v: &Value<'_>, what: &str) -> Option<T> {
        match T::deserialize(ValueDeserializer::from(v.clone())) {
            Ok(t) => Some(t),
            Err(e) => {
                let at = e.span().map_or(v.span().start, |s| s.start);
                self.error(at, format!("{what}: {}", e.message()));
                None
            }
        }
    }

    fn string(&mut self, v: &Value<'_>, what: &str) -> Option<String> {
        match v.get_ref() {
            DeValue::String(s) => Some(s.to_string()),
            other => {
                self.error(v.span().start, format!("`{what}` must be a string, not {}", article(other.type_str())));
                None
            }
        }
    }

    fn nonempty_string(&mut self, v: &Value<'_>, what: &str) -> Option<String> {
        let s = self.string(v, what)?;
        if s.trim().is_empty() {
            self.error(v.span().start, format!("`{what}` must not be empty"));
            return None;
        }
        Some(s)
    }

    fn integer(&mut self, v: &Value<'_>, what: &str) -> Option<i64> {
        match v.get_ref() {
            DeValue::Integer(_) => self.de::<i64>(v, what),
            other => {
                self.error(v.span().start, format!("`{what}` must be an integer, not {}", article(other.type_str())));
                None
            }
        }
    }

    /// An integer of at least `min` that fits a u32.
    fn count(&mut self, v: &Value<'_>, what: &str, min: i64) -> Option<u32> {
        let n = self.integer(v, what)?;
        if n < min || n > i64::from(u32::MAX) {
            self.error(v.span().start, format!("`{what}` must be at least {min} (and at most {}), not {n}", u32::MAX));
            return None;
        }
        u32::try_from(n).ok()
    }

    fn table<'a, 'i>(&mut self, v: &'a Value<'i>, what: &str) -> Option<&'a DeTable<'i>> {
        match v.get_ref() {
            DeValue::Table(t) => Some(t),
            other => {
                self.error(v.span().start, format!("`{what}` must be a table, not {}", article(other.type_str())));
                None
            }
        }
    }

    fn array_of_tables<'a, 'i>(
        &mut self,
        v: Option<&'a Value<'i>>,
        what: &str,
    ) -> Vec<(&'a DeTable<'i>, Range<usize>)> {
        let Some(v) = v else { return Vec::new() };
        let DeValue::Array(items) = v.get_ref() else {
            self.error(v.span().start, format!("`{what}` must be an array of tables, written `[[{what}]]`"));
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in items.iter() {
            if let Some(t) = self.table(item, what) {
                out.push((t, item.span()));
            }
        }
        out
    }

    fn credit(&mut self, v: Option<&Value<'_>>) -> CreditConfig {
        let mut credit = CreditConfig::default();
        let Some(t) = v.and_then(|v| self.table(v, "credit")) else { return credit };
        self.unknown_keys(t, CREDIT_KEYS, "in [credit]");
        if let Some(v) = t.get("initial")
            && let Some(n) = self.integer(v, "credit.initial")
        {
            if n < 1 {
                self.error(v.span().start, format!("`credit.initial` must be at least 1, not {n}"));
            } else {
                credit.initial = n;
            }
        }
        if let Some(v) = t.get("restore_days")
            && let Some(n) = self.count(v, "credit.restore_days", 1)
        {
            credit.restore_days = n;
        }
        credit
    }

    fn appeal(&mut self, v: Option<&Value<'_>>) -> AppealConfig {
        let mut appeal = AppealConfig::default();
        let Some(t) = v.and_then(|v| self.table(v, "appeal")) else { return appeal };
        self.unknown_keys(t, APPEAL_KEYS, "in [appeal]");
        if let Some(v) = t.get("days")
            && let Some(n) = self.count(v, "appeal.days", 1)
        {
            appeal.days = n;
        }
        if let Some(v) = t.get("how")
            && let Some(s) = self.nonempty_string(v, "appeal.how")
        {
            appeal.how = s;
        }
        appeal
    }

    fn disclosure(&mut self, v: Option<&Value<'_>>) -> DisclosureConfig {
        let mut disclosure = DisclosureConfig::default();
        let Some(t) = v.and_then(|v| self.table(v, "disclosure")) else { return disclosure };
        self.unknown_keys(t, DISCLOSURE_KEYS, "in [disclosure]");
        if let Some(v) = t.get("followers")
            && let Some(n) = self.integer(v, "disclosure.followers")
        {
            match u64::try_from(n) {
                Ok(n) if n >= 1 => disclosure.followers = n,
                _ => self.error(v.span().start, format!("`disclosure.followers` must be at least 1, not {n}")),
            }
        }
        disclosure
    }

    /// A required key of a rule or ladder step.
    fn required<'a, 'i>(
        &mut self,
        t: &'a DeTable<'i>,
        span: &Range<usize>,
        key: &str,
        what: &str,
    ) -> Option<&'a Value<'i>> {
        let v = t.get(key);
        if v.is_none() {
            self.error(span.start, format!("{what} is missing `{key}`"));
        }
        v
    }

    fn id(
        &mut self,
        t: &DeTable<'_>,
        span: &Range<usize>,
        what: &str,
        ids: &mut Vec<(String, usize)>,
    ) -> Option<String> {
        let v = self.required(t, span, "id", what)?;
        let id = self.nonempty_string(v, "id")?;
        if !valid_id(&id) {
            self.error(
                v.span().start,
                format!("{what} id `{id}` is not valid: use lower-case letters, digits, `_`, `.` and `-`, starting with a letter or digit (no `@`)"),
            );
            return None;
        }
        ids.push((id.clone(), v.span().start));
        Some(id)
    }

    fn actions(&mut self, t: &DeTable<'_>, span: &Range<usize>, what: &str, ladder: bool) -> Option<Vec<Action>> {
        let v = self.required(t, span, "actions", what)?;
        let DeValue::Array(items) = v.get_ref() else {
            self.error(
                v.span().start,
                "`actions` must be an array of actions, e.g. `[{ type = \"label\", label = \"ai-generated\" }]`",
            );
            return None;
        };
        if items.is_empty() {
            self.error(v.span().start, format!("{what} has no actions: give at least one"));
            return None;
        }
        let mut actions = Vec::new();
        let mut ok = true;
        for item in items.iter() {
            match self.action(item, ladder) {
                Some(a) => actions.push(a),
                None => ok = false,
            }
        }
        ok.then_some(actions)
    }

    fn action(&mut self, v: &Value<'_>, ladder: bool) -> Option<Action> {
        let known = ACTION_TYPES.join(", ");
        let DeValue::Table(t) = v.get_ref() else {
            self.error(
                v.span().start,
                format!(
                    "an action must be a table such as `{{ type = \"remove\" }}`, not {}",
                    article(v.get_ref().type_str())
                ),
            );
            return None;
        };
        let Some(kind) = t.get("type") else {
            self.error(v.span().start, format!("action is missing `type`; the action types are: {known}"));
            return None;
        };
        let kind_name = self.string(kind, "type")?;
        if !ACTION_TYPES.contains(&kind_name.as_str()) {
            let msg =
                suggest(format!("unknown action type `{kind_name}`"), &kind_name, ACTION_TYPES, "the action types are");
            self.error(kind.span().start, msg);
            return None;
        }
        let action: Action = self.de(v, &format!("action `{kind_name}`"))?;
        let at = |key: &str| t.get(key).map_or(v.span().start, |x| x.span().start);
        let problem = match &action {
            Action::Label { label } if label.trim().is_empty() => Some(("label", "`label` must not be empty".to_string())),
            Action::RestrictPosting { days: 0 }
            | Action::RestrictNewFollowers { days: 0 }
            | Action::Demonetize { days: 0, .. }
            | Action::Suspend { days: 0 }
            | Action::RequireDisclosure { days: 0 } => {
                Some(("days", format!("action `{kind_name}`: `days` must be at least 1 (use `close` for a permanent measure)")))
            }
            Action::Demonetize { features, .. } if features.iter().any(|f| f.trim().is_empty()) => {
                Some(("features", "action `demonetize`: `features` must not contain empty names".to_string()))
            }
            Action::QueueReview { queue } if queue.trim().is_empty() => Some(("queue", "`queue` must not be empty".to_string())),
            Action::DeductCredit { points: 0 } => Some(("points", "action `deduct_credit`: `points` must be at least 1".to_string())),
            Action::DeductCredit { .. } if ladder => Some((
                "type",
                "a ladder step may not deduct credit: ladder steps fire because credit fell, so deducting again would cascade".to_string(),
            )),
            _ => None,
        };
        if let Some((key, msg)) = problem {
            let offset = at(key);
            self.error(offset, msg);
            return None;
        }
        if let Action::QueueReview { queue } = &action
            && !self.known_queue(at("queue"), queue)
        {
            return None;
        }
        Some(action)
    }

    /// Where the decoded content of a string value starts in the file, and whether offsets
    /// into the decoded text map one-to-one onto the file (no escapes).
    fn string_start(&self, span: &Range<usize>, value: &str) -> (usize, bool) {
        let raw = &self.text[span.clone()];
        let mut start = span.start;
        if raw.starts_with("\"\"\"") || raw.starts_with("'''") {
            start += 3;
            if self.text[start..].starts_with("\r\n") {
                start += 2;
            } else if self.text[start..].starts_with('\n') {
                start += 1;
            }
        } else if raw.starts_with('"') || raw.starts_with('\'') {
            start += 1;
        }
        (start, self.text[start..].starts_with(value))
    }

    /// The file offset of byte `offset` into the decoded string `value` at `span`.
    fn offset_in(&self, span: &Range<usize>, value: &str, offset: usize) -> usize {
        let (start, exact) = self.string_start(span, value);
        if exact { start + offset.min(value.len()) } else { start }
    }

    fn condition(&mut self, v: &Value<'_>, owner: Owner) -> Option<Condition> {
        let source = self.nonempty_string(v, "when")?;
        let span = v.span();
        let (line, _) = self.position(span.start);
        let char_to_byte = |c: usize| source.char_indices().nth(c).map_or(source.len(), |(b, _)| b);
        let program = match self.env.compile(&source) {
            Ok(p) => p,
            Err(errors) => {
                for e in errors.errors {
                    // 1-based line and column within the expression
                    let (l, c) = (e.pos.0.max(1) as usize, e.pos.1.max(1) as usize);
                    let line_start: usize = source.split_inclusive('\n').take(l - 1).map(str::len).sum();
                    let rest = &source[line_start.min(source.len())..];
                    let rest = rest.split('\n').next().unwrap_or("");
                    let in_line = rest.char_indices().nth(c - 1).map_or(rest.len(), |(b, _)| b);
                    let at = self.offset_in(&span, &source, line_start + in_line);
                    self.error(at, format!("invalid `when`: {}", e.msg));
                }
                return None;
            }
        };
        let env = Arc::clone(&self.env);
        let mut checker = Checker::new(self.schema, &env, &program, owner.roots());
        checker.condition(program.expression());
        let problems = std::mem::take(&mut checker.problems);
        if !problems.is_empty() {
            for (char_offset, msg) in problems {
                let at = self.offset_in(&span, &source, char_to_byte(char_offset));
                self.error(at, format!("in `when`: {msg}"));
            }
            return None;
        }
        let budget = self.schema.budget.rule_cost;
        let estimate = cost::estimate(program.expression(), self.schema, budget as f64);
        if estimate.total > budget as f64 {
            let (at, why) = match &estimate.culprit {
                Some(c) => {
                    let at = program.source_info().offset_for(c.id).map_or(0, |(start, _)| start as usize);
                    let what = match word_before(&source, at) {
                        Some(name) => format!("this `{name}`"),
                        None => "this part".to_string(),
                    };
                    (at, c.why.describe(&what, c.total))
                }
                None => (0, String::new()),
            };
            let at = self.offset_in(&span, &source, char_to_byte(at));
            self.error(
                at,
                format!(
                    "in `when`: may cost up to {} steps an evaluation, over the budget of {} steps a {} (a step is about 0.1 µs): {why}",
                    steps(estimate.total),
                    steps(budget as f64),
                    owner.noun(),
                ),
            );
            return None;
        }
        let mut expr: IdedExpr = program.expression().clone();
        optimize(&mut expr, &mut Vec::new());
        meter_loops(&mut expr, &estimate.weights);
        let cost = |x: f64| x.ceil() as u64;
        Some(Condition {
            source,
            expr,
            line,
            cost: cost(estimate.total),
            local: cost(estimate.local),
            loops: !estimate.weights.is_empty(),
        })
    }

    fn template(&mut self, v: &Value<'_>) -> Option<Template> {
        let source = self.nonempty_string(v, "reason")?;
        match Template::compile(&source, self.schema) {
            Ok(t) => Some(t),
            Err(problems) => {
                let span = v.span();
                for (offset, msg) in problems {
                    let at = self.offset_in(&span, &source, offset);
                    self.error(at, format!("in `reason`: {msg}"));
                }
                None
            }
        }
    }

    /// The head of an entry of an array of tables: unknown keys reported, its line, its id
    /// (recorded in `ids`) and how messages name it (`rule \`x\``, or `the rule on line 7`
    /// when it has no valid id).
    fn entry(
        &mut self,
        (t, span): (&DeTable<'_>, &Range<usize>),
        keys: &[&str],
        section: &str,
        noun: &str,
        ids: &mut Vec<(String, usize)>,
    ) -> (usize, Option<String>, String) {
        self.unknown_keys(t, keys, &format!("in [[{section}]]"));
        let (line, _) = self.position(span.start);
        let id = self.id(t, span, noun, ids);
        let what = match &id {
            Some(id) => format!("{noun} `{id}`"),
            None => format!("the {noun} on line {line}"),
        };
        (line, id, what)
    }

    fn rule(&mut self, (t, span): (&DeTable<'_>, Range<usize>), ids: &mut Vec<(String, usize)>) -> Option<Rule> {
        let (line, id, what) = self.entry((t, &span), RULE_KEYS, "rules", "rule", ids);
        let ground = self.required(t, &span, "ground", &what).and_then(|v| self.nonempty_string(v, "ground"));
        let category = self.required(t, &span, "category", &what).and_then(|v| self.nonempty_string(v, "category"));
        let when = self.required(t, &span, "when", &what).and_then(|v| self.condition(v, Owner::Rule));
        let actions = self.actions(t, &span, &what, false);
        let reason = self.required(t, &span, "reason", &what).and_then(|v| self.template(v));
        let automated = match t.get("automated") {
            Some(v) => match v.get_ref() {
                DeValue::Boolean(b) => Some(*b),
                other => {
                    self.error(
                        v.span().start,
                        format!("`automated` must be true or false, not {}", article(other.type_str())),
                    );
                    None
                }
            },
            None => Some(true),
        };
        let mode = match t.get("mode") {
            Some(v) => self.mode(v),
            None => Some(Mode::Live),
        };
        let quota = match t.get("quota") {
            Some(v) => self.quota(v).map(Some),
            None => Some(None),
        };
        Some(Rule {
            id: id?,
            ground: ground?,
            category: category?,
            actions: actions?,
            automated: automated?,
            mode: mode?,
            quota: quota?,
            when: when?,
            reason: reason?,
            line,
        })
    }

    fn route(&mut self, (t, span): (&DeTable<'_>, Range<usize>), ids: &mut Vec<(String, usize)>) -> Option<Route> {
        let (line, id, what) = self.entry((t, &span), ROUTE_KEYS, "routes", "route", ids);
        let when = self.required(t, &span, "when", &what).and_then(|v| self.condition(v, Owner::Route));
        let queue = self.required(t, &span, "queue", &what).and_then(|v| {
            let queue = self.nonempty_string(v, "queue")?;
            self.known_queue(v.span().start, &queue).then_some(queue)
        });
        Some(Route { id: id?, queue: queue?, when: when?, line })
    }

    fn mode(&mut self, v: &Value<'_>) -> Option<Mode> {
        let name = self.string(v, "mode")?;
        let mode = Mode::parse(&name);
        if mode.is_none() {
            self.error(
                v.span().start,
                format!("unknown mode `{name}`: a rule is \"live\" (enforced), \"shadow\" (recorded, not enforced) or \"draft\" (backtests and spot tests only)"),
            );
        }
        mode
    }

    fn quota(&mut self, v: &Value<'_>) -> Option<Quota> {
        let t = self.table(v, "quota")?;
        self.unknown_keys(t, QUOTA_KEYS, "in `quota`");
        let mut quota = Quota { max_share: None, max_per_hour: None };
        let mut ok = true;
        if let Some(v) = t.get("max_share") {
            let share = match v.get_ref() {
                DeValue::Float(_) | DeValue::Integer(_) => self.de::<f64>(v, "quota.max_share"),
                other => {
                    self.error(
                        v.span().start,
                        format!("`quota.max_share` must be a number, not {}", article(other.type_str())),
                    );
                    None
                }
            };
            match share {
                Some(s) if s > 0.0 && s <= 1.0 => quota.max_share = Some(s),
                Some(s) => {
                    self.error(
                        v.span().start,
                        format!("`quota.max_share` is a share of posts: above 0 and at most 1, not {s}"),
                    );
                    ok = false;
                }
                None => ok = false,
            }
        }
        if let Some(v) = t.get("max_per_hour") {
            match self.count(v, "quota.max_per_hour", 1) {
                Some(n) => quota.max_per_hour = Some(n),
                None => ok = false,
            }
        }
        if ok && quota.max_share.is_none() && quota.max_per_hour.is_none() {
            self.error(v.span().start, "`quota` sets no ceiling: give `max_share`, `max_per_hour` or both");
            return None;
        }
        ok.then_some(quota)
    }

    fn ladder_step(
        &mut self,
        (t, span): (&DeTable<'_>, Range<usize>),
        credit: &CreditConfig,
        ids: &mut Vec<(String, usize)>,
    ) -> Option<LadderStep> {
        let (line, id, what) = self.entry((t, &span), LADDER_KEYS, "ladder", "ladder step", ids);
        let below = self.required(t, &span, "below", &what).and_then(|v| {
            let n = self.integer(v, "below")?;
            if n >= credit.initial {
                self.error(
                    v.span().start,
                    format!("{what}: `below = {n}` is not below `credit.initial = {}`, so every account would start past it", credit.initial),
                );
                return None;
            }
            Some(n)
        });
        let ground = self.required(t, &span, "ground", &what).and_then(|v| self.nonempty_string(v, "ground"));
        let category = self.required(t, &span, "category", &what).and_then(|v| self.nonempty_string(v, "category"));
        let actions = self.actions(t, &span, &what, true);
        let reason = self.required(t, &span, "reason", &what).and_then(|v| self.template(v));
        Some(LadderStep {
            id: id?,
            below: below?,
            ground: ground?,
            category: category?,
            actions: actions?,
            reason: reason?,
            line,
        })
    }
}

/// The name written just before character `at` of `source` (a macro or function before its
/// `(`), if any.
fn word_before(source: &str, at: usize) -> Option<&str> {
    let byte = source.char_indices().nth(at).map_or(source.len(), |(b, _)| b);
    let head = source.get(..byte)?.trim_end();
    let start = head.rfind(|c: char| !(c.is_alphanumeric() || c == '_')).map_or(0, |i| i + 1);
    let name = &head[start..];
    (!name.is_empty() && source[byte..].starts_with('(')).then_some(name)
}

fn article(type_name: &str) -> String {
    match type_name {
        "integer" | "array" => format!("an {type_name}"),
        other => format!("a {other}"),
    }
}
