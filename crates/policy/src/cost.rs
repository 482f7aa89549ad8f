//! What a condition may cost: a static estimate, in steps, of the most work one evaluation
//! can do, from the sizes the input can have ([`Limits`]) and what each operation does with
//! them.
//!
//! A step is about one node of the expression evaluated by the interpreter (0.1 µs or so).
//! Every value is bounded by a [`Shape`]: the most bytes it has if it is a string, the most
//! items if it is a list or a map, and the shape of its items. A loop (`all`, `exists`,
//! `exists_one`, `map`, `filter`, ...) costs its body times the most items its range can
//! have, so nested loops multiply; string functions cost by the bytes they go through, list
//! functions by the items (`distinct` by their pairs), `matches` by its pattern and text.
//! The estimate is an upper bound: a condition accepted under a budget cannot do more work
//! than that on any input the limits allow.
//!
//! It also gives each loop its weight, the steps one of its iterations costs outside the
//! loops nested in it: evaluation charges that per iteration (see [`crate::budget`]), so the
//! steps counted while a rule runs never exceed its estimate.

use std::collections::HashMap;

use cel::common::ast::{CallExpr, ComprehensionExpr, EntryExpr, Expr, IdedExpr, LiteralValue, operators};
use steward_model::Limits;

use crate::Schema;
use crate::vars::{ACCOUNT_FIELDS, ALL_ROOTS, CASE_FIELDS, EVENT_FIELDS, Field, POST_FIELDS, STANDING_FIELDS, Ty};

/// Bytes of string work (scanning, copying, comparing, counting characters) in a step.
const BYTES_PER_STEP: f64 = 64.0;
/// Steps per list item made, copied or compared, and per map entry.
const ITEM: f64 = 1.0;
/// Steps of a loop iteration besides its body (binding the item, a scope, the meter).
const ITERATION: f64 = 4.0;
/// Largest compiled pattern `matches` may use: a pattern is compiled with this limit when
/// the policy loads, which bounds the time compiling it takes each evaluation.
pub(crate) const REGEX_SIZE_LIMIT: usize = 64 * 1024;
/// Steps to compile a pattern within [`REGEX_SIZE_LIMIT`] (`matches` compiles it each time).
const REGEX_COMPILE: f64 = 2_000.0;
/// Bytes of text a regular expression searches in a step, at worst.
const REGEX_BYTES_PER_STEP: f64 = 4.0;
/// Steps charged for `matches` with a pattern computed at run time: its size, and so the
/// time to compile it, is unknown.
const REGEX_UNKNOWN: f64 = 1e9;
/// The largest list `lists.range` makes (the interpreter's own limit).
const MAX_RANGE: f64 = 1_000_000.0;
/// How deep signal evidence is taken to nest (detectors write strings, numbers and lists).
const EVIDENCE_DEPTH: usize = 3;
/// Estimates are capped here, far above any budget, so sums and products stay finite.
const CAP: f64 = 1e30;

/// An upper bound on a value's size.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Shape {
    /// Most bytes, when it is a string or bytes (0 when it cannot be one).
    bytes: f64,
    /// Most items, when it is a list, or entries, when a map (0 when it cannot be either).
    items: f64,
    /// Every item, key and value; `None` when it has no items.
    item: Option<Box<Shape>>,
}

impl Shape {
    fn scalar() -> Shape {
        Shape::default()
    }

    fn string(bytes: f64) -> Shape {
        Shape { bytes: cap(bytes), ..Shape::default() }
    }

    fn list(items: f64, item: Shape) -> Shape {
        Shape { bytes: 0.0, items: cap(items), item: Some(Box::new(item)) }
    }

    /// The shape of an item (or key, or value).
    fn item(&self) -> Shape {
        self.item.as_deref().cloned().unwrap_or_default()
    }

    /// The smallest shape that bounds both.
    fn join(&self, other: &Shape) -> Shape {
        let item = match (&self.item, &other.item) {
            (Some(a), Some(b)) => Some(Box::new(a.join(b))),
            (a, b) => a.clone().or_else(|| b.clone()),
        };
        Shape { bytes: self.bytes.max(other.bytes), items: self.items.max(other.items), item }
    }

    /// Steps to walk the whole value: compare, copy or format it.
    fn deep(&self) -> f64 {
        let items = match &self.item {
            Some(item) => self.items * (ITEM + item.deep()),
            None => self.items * ITEM,
        };
        cap(self.bytes / BYTES_PER_STEP + items)
    }

    /// Most bytes the value takes written out as text (`format`, `string`).
    fn text(&self) -> f64 {
        let items = self.item.as_deref().map_or(0.0, Shape::text);
        cap(self.bytes + self.items * (items + 2.0) + 32.0)
    }

    fn strings(&self) -> f64 {
        self.bytes / BYTES_PER_STEP
    }
}

fn cap(x: f64) -> f64 {
    if x.is_nan() { CAP } else { x.clamp(0.0, CAP) }
}

/// What a subexpression costs.
#[derive(Debug, Clone)]
struct Cost {
    /// Steps, at most, loops included.
    total: f64,
    /// Steps outside the loops nested in it: what it costs each time it is evaluated, when
    /// the loops charge their iterations themselves.
    local: f64,
    shape: Shape,
    /// The smallest part of it over the budget, to point at.
    culprit: Option<Culprit>,
}

impl Cost {
    fn leaf(shape: Shape) -> Cost {
        Cost { total: 1.0, local: 1.0, shape, culprit: None }
    }
}

/// The part of a condition that puts it over the budget, and why.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Culprit {
    /// Id of the expression node, for its position.
    pub id: u64,
    pub total: f64,
    pub why: Why,
}

/// Why a part of a condition costs what it does.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Why {
    /// A loop: its body runs once per item of a range of up to `items` items.
    Loop { items: f64, body: f64 },
    /// A function or operator: `name`, on a value of up to `bytes` bytes or `items` items.
    Call { name: String, bytes: f64, items: f64 },
    /// The parts add up.
    Sum,
}

/// The estimate of a whole condition.
#[derive(Debug, Clone)]
pub(crate) struct Estimate {
    /// Steps one evaluation costs at most.
    pub total: f64,
    /// Steps outside every loop.
    pub local: f64,
    /// The steps each iteration of a loop costs outside the loops nested in it, by the
    /// loop's node id.
    pub weights: HashMap<u64, u64>,
    /// The smallest part over `budget`, when the whole is.
    pub culprit: Option<Culprit>,
}

/// Estimates what `expr` (a checked condition, before rewriting) may cost; parts over
/// `budget` steps are named in the culprit.
pub(crate) fn estimate(expr: &IdedExpr, schema: &Schema, budget: f64) -> Estimate {
    let mut e = Estimator { limits: &schema.limits, schema, budget, scope: Vec::new(), weights: HashMap::new() };
    let cost = e.expr(expr);
    Estimate { total: cost.total, local: cost.local, weights: e.weights, culprit: cost.culprit }
}

struct Estimator<'a> {
    limits: &'a Limits,
    schema: &'a Schema,
    budget: f64,
    /// Variables bound by the loops around the node being estimated, innermost last.
    scope: Vec<(String, Shape)>,
    weights: HashMap<u64, u64>,
}

impl Estimator<'_> {
    fn text(&self) -> Shape {
        Shape::string(self.limits.max_text_bytes as f64)
    }

    fn input_list(&self, item: Shape) -> Shape {
        Shape::list(self.limits.max_list_items as f64, item)
    }

    fn ty(&self, ty: Ty) -> Shape {
        match ty {
            Ty::Str | Ty::OptStr => self.text(),
            Ty::Int | Ty::Bool | Ty::Double => Shape::scalar(),
            // Monetization features and restriction kinds: names, validated as ids.
            Ty::StrList => self.input_list(Shape::string(self.limits.max_id_bytes as f64)),
            Ty::Evidence => self.evidence(),
        }
    }

    /// A record variable: a map of its fields (joined: any field may be read).
    fn record<T>(&self, fields: &[Field<T>]) -> Shape {
        let item = fields.iter().fold(self.text(), |s, f| s.join(&self.ty(f.ty)));
        Shape::list(fields.len() as f64, item)
    }

    /// A value of signal evidence, as detectors write it: a string, a number, or a list or
    /// map of such, nested a few levels.
    fn json(&self, depth: usize) -> Shape {
        let mut shape = self.text();
        if depth > 0 {
            shape = shape.join(&self.input_list(self.json(depth - 1)));
        }
        shape
    }

    fn evidence(&self) -> Shape {
        let keys = self.schema.signals.iter().map(|s| s.evidence.len()).max().unwrap_or(0);
        Shape::list(keys.max(1) as f64, self.json(EVIDENCE_DEPTH))
    }

    fn root(&self, name: &str) -> Option<Shape> {
        Some(match name {
            "event" => self.record(EVENT_FIELDS),
            "account" => self.record(ACCOUNT_FIELDS),
            "post" => self.record(POST_FIELDS),
            "standing" => self.record(STANDING_FIELDS),
            // The case of a route: its strings (a category, a queue) are taken to be as long
            // as a text, its signals a list of names as long as any list of the input.
            "case" => {
                let item = CASE_FIELDS.iter().fold(self.text(), |s, (_, ty)| s.join(&self.ty(*ty)));
                Shape::list(CASE_FIELDS.len() as f64, item)
            }
            "signals" => {
                // One entry per signal raised, at most one per registered name.
                let signal = Shape::list(4.0, self.text().join(&self.evidence()));
                Shape::list(self.schema.signals.len().max(1) as f64, signal.join(&self.text()))
            }
            _ => return None,
        })
    }

    fn lookup(&self, name: &str) -> Option<Shape> {
        self.scope.iter().rev().find(|(n, _)| n == name).map(|(_, s)| s.clone())
    }

    /// Combines the costs of the parts of a node that does `own` steps itself.
    fn node(&self, id: u64, own: f64, parts: &[&Cost], shape: Shape, why: impl FnOnce() -> Why) -> Cost {
        let total = cap(own + parts.iter().map(|c| c.total).sum::<f64>());
        let local = cap(own + parts.iter().map(|c| c.local).sum::<f64>());
        let worst_part = parts.iter().filter_map(|c| c.culprit.as_ref()).max_by(|a, b| a.total.total_cmp(&b.total));
        let culprit = match worst_part {
            Some(c) => Some(c.clone()),
            None if total > self.budget => {
                let why = if own > self.budget || parts.iter().all(|c| c.total <= 1.0) { why() } else { Why::Sum };
                Some(Culprit { id, total, why })
            }
            None => None,
        };
        Cost { total, local, shape, culprit }
    }

    fn expr(&mut self, e: &IdedExpr) -> Cost {
        match &e.expr {
            Expr::Literal(l) => Cost::leaf(match l {
                LiteralValue::String(s) => Shape::string(s.inner().len() as f64),
                LiteralValue::Bytes(b) => Shape::string(b.len() as f64),
                _ => Shape::scalar(),
            }),
            Expr::Ident(name) => {
                let shape = self.lookup(name).or_else(|| self.root(name)).unwrap_or_default();
                Cost::leaf(shape)
            }
            Expr::Select(s) => {
                let operand = self.expr(&s.operand);
                let shape = if s.test { Shape::scalar() } else { operand.shape.item() };
                self.node(e.id, 1.0, &[&operand], shape, || Why::Sum)
            }
            Expr::Call(c) => self.call(e.id, c),
            Expr::List(l) => {
                let parts: Vec<Cost> = l.elements.iter().map(|x| self.expr(x)).collect();
                let item = parts.iter().fold(Shape::scalar(), |s, c| s.join(&c.shape));
                let n = parts.len() as f64;
                let refs: Vec<&Cost> = parts.iter().collect();
                self.node(e.id, 1.0 + n * ITEM, &refs, Shape::list(n, item), || Why::Sum)
            }
            Expr::Map(m) => {
                let mut parts = Vec::new();
                for entry in &m.entries {
                    if let EntryExpr::MapEntry(me) = &entry.expr {
                        parts.push(self.expr(&me.key));
                        parts.push(self.expr(&me.value));
                    }
                }
                let item = parts.iter().fold(Shape::scalar(), |s, c| s.join(&c.shape));
                let n = m.entries.len() as f64;
                let refs: Vec<&Cost> = parts.iter().collect();
                self.node(e.id, 1.0 + n * ITEM, &refs, Shape::list(n, item), || Why::Sum)
            }
            Expr::Comprehension(c) => self.comprehension(e.id, c),
            Expr::Struct(_) | Expr::Unspecified => Cost::leaf(Shape::scalar()),
        }
    }

    /// A loop: its range, its accumulator's start, then its condition and step once per
    /// item, then its result.
    fn comprehension(&mut self, id: u64, c: &ComprehensionExpr) -> Cost {
        let range = self.expr(&c.iter_range);
        let init = self.expr(&c.accu_init);
        let n = range.shape.items;
        let item = range.shape.item();
        let before = self.scope.len();
        match &c.iter_var2 {
            // Two variables: index or key, and value.
            Some(v2) => {
                self.scope.push((c.iter_var.clone(), item.join(&Shape::scalar())));
                self.scope.push((v2.clone(), item));
            }
            None => self.scope.push((c.iter_var.clone(), item)),
        }
        let (cond, step) = match append_step(c) {
            // `map` and `filter` append to a list the interpreter grows in place: an
            // iteration costs what it appends, not a copy of the list so far.
            Some(append) => {
                let guard = append.guard.map(|g| self.expr(g));
                let items: Vec<Cost> = append.items.iter().map(|x| self.expr(x)).collect();
                let added = items.iter().fold(Shape::scalar(), |s, c| s.join(&c.shape));
                let k = items.len() as f64;
                let accu = Shape::list(init.shape.items + n * k, init.shape.item().join(&added));
                let mut parts: Vec<&Cost> = items.iter().collect();
                parts.extend(guard.as_ref());
                // the conditional, the addition and the list: three nodes
                let step = self.node(c.loop_step.id, 3.0 + k * ITEM, &parts, accu.clone(), || Why::Sum);
                self.scope.push((c.accu_var.clone(), accu));
                let cond = self.expr(&c.loop_cond);
                (cond, step)
            }
            None => {
                // `all`, `exists` and `exists_one` keep a bool or a count; `sortBy` and the
                // optional macros bind a value over no items.
                self.scope.push((c.accu_var.clone(), init.shape.clone()));
                let cond = self.expr(&c.loop_cond);
                let step = self.expr(&c.loop_step);
                (cond, step)
            }
        };
        let result = self.expr(&c.result);
        self.scope.truncate(before);

        // An iteration is charged in whole steps: the estimate counts it so too.
        let body_local = cap(ITERATION + cond.local + step.local).ceil();
        let body_total = cap(ITERATION + cond.total + step.total).ceil().max(body_local);
        self.weights.insert(id, body_local as u64);
        // The range is copied once for metering (see `budget`), then iterated.
        let own = n * ITEM;
        let total = cap(range.total + init.total + result.total + own + n * body_total);
        let local = cap(range.local + init.local + result.local + own);
        let culprit = [&range, &init, &cond, &step, &result]
            .into_iter()
            .filter_map(|c| c.culprit.clone())
            .max_by(|a, b| a.total.total_cmp(&b.total))
            .or_else(|| {
                (total > self.budget).then_some(Culprit { id, total, why: Why::Loop { items: n, body: body_total } })
            });
        Cost { total, local, shape: result.shape, culprit }
    }

    fn call(&mut self, id: u64, c: &CallExpr) -> Cost {
        // `math.greatest(...)`, `lists.range(...)`: a function in a namespace, not a method
        let namespace = match c.target.as_deref().map(|t| &t.expr) {
            Some(Expr::Ident(ns)) if self.lookup(ns).is_none() && !ALL_ROOTS.contains(&ns.as_str()) => {
                Some(ns.as_str())
            }
            _ => None,
        };
        let name = match namespace {
            Some(ns) => format!("{ns}.{}", c.func_name),
            None => c.func_name.clone(),
        };
        let target = match (namespace, &c.target) {
            (None, Some(t)) => Some(self.expr(t)),
            _ => None,
        };
        let args: Vec<Cost> = c.args.iter().map(|a| self.expr(a)).collect();
        // The receiver of a method is its first operand.
        let operands: Vec<&Shape> = target.iter().chain(args.iter()).map(|c| &c.shape).collect();
        let literal_int = |i: usize| match c.args.get(i).map(|a| &a.expr) {
            Some(Expr::Literal(LiteralValue::Int(n))) => Some(*n.inner() as f64),
            _ => None,
        };
        let literal_pattern = c.args.last().is_some_and(|a| matches!(a.expr, Expr::Literal(LiteralValue::String(_))));
        let (work, shape) = work(&name, &operands, literal_int, literal_pattern);
        let mut parts: Vec<&Cost> = target.iter().collect();
        parts.extend(args.iter());
        let first = operands.first().copied().cloned().unwrap_or_default();
        self.node(id, 1.0 + work, &parts, shape, || Why::Call {
            name: display_name(&name).to_string(),
            bytes: first.bytes,
            items: first.items,
        })
    }
}

/// An operator as written: `_+_` is `+`.
fn display_name(name: &str) -> &str {
    match name {
        operators::IN => "in",
        operators::INDEX | operators::OPT_INDEX => "[]",
        n => n.trim_matches(|c| c == '_' || c == '@' || c == '?' || c == ':').trim_end_matches('_'),
    }
}

/// The work a function or operator does beyond evaluating its operands (the receiver of a
/// method first), and the shape of what it returns.
fn work(
    name: &str,
    operands: &[&Shape],
    literal_int: impl Fn(usize) -> Option<f64>,
    literal_pattern: bool,
) -> (f64, Shape) {
    let scalar = Shape::scalar();
    let a = operands.first().copied().unwrap_or(&scalar);
    let b = operands.get(1).copied().unwrap_or(&scalar);
    let all = operands.iter().fold(Shape::scalar(), |s, o| s.join(o));
    let strings: f64 = operands.iter().map(|o| o.strings()).sum();
    let r = match name {
        // Logic, arithmetic on numbers, indexing: constant work.
        operators::LOGICAL_AND
        | operators::LOGICAL_OR
        | operators::LOGICAL_NOT
        | operators::NOT_STRICTLY_FALSE
        | operators::SUBSTRACT
        | operators::MULTIPLY
        | operators::DIVIDE
        | operators::MODULO
        | operators::NEGATE => (0.0, Shape::scalar()),
        operators::CONDITIONAL => (0.0, b.join(operands.get(2).copied().unwrap_or(&scalar))),
        operators::INDEX | operators::OPT_INDEX => (0.0, a.item()),
        operators::ADD => {
            let shape =
                Shape { bytes: cap(a.bytes + b.bytes), items: cap(a.items + b.items), item: a.join(b).item.clone() };
            (strings + (a.items + b.items) * ITEM, shape)
        }
        operators::EQUALS | operators::NOT_EQUALS => (a.deep().min(b.deep()), Shape::scalar()),
        operators::LESS | operators::LESS_EQUALS | operators::GREATER | operators::GREATER_EQUALS => {
            (a.strings().min(b.strings()), Shape::scalar())
        }
        // `x in list` compares x with every item; a map is looked up.
        operators::IN => (b.items * (ITEM + a.deep().min(b.item().deep())), Shape::scalar()),

        // Strings: the bytes gone through.
        // A prefix or suffix is compared, not the whole string.
        "startsWith" | "endsWith" => (b.strings(), Shape::scalar()),
        // Found by comparing at every character, counted in characters.
        "indexOf" | "lastIndexOf" => (a.strings() * (1.0 + b.bytes / 8.0) + b.strings(), Shape::scalar()),
        "size" | "contains" | "charAt" => {
            let shape = if name == "charAt" { Shape::string(4.0) } else { Shape::scalar() };
            (strings, shape)
        }
        "lowerAscii" | "upperAscii" | "trim" | "substring" => (strings, Shape::string(a.bytes)),
        "strings.quote" => (strings, Shape::string(6.0 * a.bytes + 2.0)),
        "replace" => {
            // Worst case: an empty pattern, so the replacement goes between every byte.
            let with = operands.get(2).map_or(0.0, |s| s.bytes);
            let out = a.bytes + (a.bytes + 1.0) * with;
            (strings + out / BYTES_PER_STEP, Shape::string(out))
        }
        "split" => {
            let pieces = a.bytes + 1.0;
            (strings + pieces * ITEM, Shape::list(pieces, Shape::string(a.bytes)))
        }
        "join" => {
            let out = a.items * (a.item().bytes + b.bytes);
            (a.items * ITEM + out / BYTES_PER_STEP, Shape::string(out))
        }
        "format" => {
            let out = a.bytes + b.items * b.item().text();
            (b.items * ITEM + out / BYTES_PER_STEP, Shape::string(out))
        }
        "matches" => {
            // Compiled on every call, then run over the text.
            let compile = if literal_pattern { REGEX_COMPILE } else { REGEX_UNKNOWN };
            (compile + b.strings() + a.bytes / REGEX_BYTES_PER_STEP, Shape::scalar())
        }
        // `reverse` is both a string and a list method.
        "reverse" | "slice" => (strings + a.items * ITEM, a.clone()),

        // Lists: the items made or compared.
        "lists.range" => {
            let n = literal_int(0).map_or(MAX_RANGE, |n| n.clamp(0.0, MAX_RANGE));
            (n * ITEM, Shape::list(n, Shape::scalar()))
        }
        "distinct" => (a.items * a.items * (ITEM + a.item().deep()), a.clone()),
        "sort" | "@sortByAssociatedKeys" => {
            let n = a.items;
            let keys = if operands.len() == 2 { b.item() } else { a.item() };
            (n * (n + 1.0).log2().max(1.0) * (ITEM + keys.deep()) + n * ITEM, a.clone())
        }
        "flatten" => {
            // One level unless a depth is given; a depth not written out flattens them all.
            let depth = match operands.len() {
                1 => 1.0,
                _ => literal_int(0).unwrap_or(f64::INFINITY),
            };
            let (mut items, mut shape, mut level) = (a.items, a.item(), 0.0);
            while level < depth && shape.items > 0.0 {
                items = cap(items * shape.items.max(1.0));
                shape = shape.item();
                level += 1.0;
            }
            (items * ITEM, Shape::list(items, shape.join(&a.item())))
        }
        "math.greatest" | "math.least" | "max" | "min" => {
            (operands.iter().map(|o| o.items * ITEM).sum::<f64>() + operands.len() as f64, Shape::scalar())
        }

        // Conversions: they read a string, or write one.
        "string" => (strings, Shape::string(a.text())),
        "bytes" => (strings, Shape::string(a.bytes)),
        "int" | "uint" | "double" | "bool" | "timestamp" | "duration" => (strings, Shape::scalar()),
        "dyn" | "optional.of" | "optional.ofNonZeroValue" | "value" | "or" | "orValue" => (0.0, all),
        "type" | "hasValue" | "optional.none" => (0.0, Shape::scalar()),
        n if n.starts_with("math.") || n.starts_with("get") => (strings, Shape::scalar()),

        // Anything else: linear in all it is given, returning anything of that size.
        _ => (operands.iter().map(|o| o.deep()).sum::<f64>(), all),
    };
    (cap(r.0), r.1)
}

/// The step of a `map` or `filter`: `@result + [x]`, or `cond ? @result + [x] : @result`,
/// with `@result` as the result and a literal condition (what the interpreter appends to
/// in place).
struct Append<'e> {
    guard: Option<&'e IdedExpr>,
    items: &'e [IdedExpr],
}

fn append_step(c: &ComprehensionExpr) -> Option<Append<'_>> {
    let accu = c.accu_var.as_str();
    if !is_ident(&c.result, accu) || !matches!(c.loop_cond.expr, Expr::Literal(_)) {
        return None;
    }
    match &c.loop_step.expr {
        Expr::Call(call) if call.func_name == operators::CONDITIONAL && call.target.is_none() => {
            match call.args.as_slice() {
                [guard, step, otherwise] if is_ident(otherwise, accu) => {
                    Some(Append { guard: Some(guard), items: appended(step, accu)? })
                }
                _ => None,
            }
        }
        _ => Some(Append { guard: None, items: appended(&c.loop_step, accu)? }),
    }
}

fn is_ident(e: &IdedExpr, name: &str) -> bool {
    matches!(&e.expr, Expr::Ident(n) if n == name)
}

/// The items `accu + [items]` appends.
fn appended<'e>(e: &'e IdedExpr, accu: &str) -> Option<&'e [IdedExpr]> {
    let Expr::Call(call) = &e.expr else { return None };
    if call.func_name != operators::ADD || call.target.is_some() {
        return None;
    }
    match call.args.as_slice() {
        [lhs, rhs] if is_ident(lhs, accu) => match &rhs.expr {
            Expr::List(l) => Some(&l.elements),
            _ => None,
        },
        _ => None,
    }
}

/// A count of steps for messages: `1,030,301`, or `1.2e18` when huge.
pub(crate) fn steps(x: f64) -> String {
    if x >= 1e15 {
        return format!("{x:.1e}");
    }
    let digits = format!("{:.0}", x.ceil());
    let mut out = String::new();
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(d);
    }
    out
}

impl Why {
    /// Why, in words, for a part named `what` (e.g. "this `all`").
    pub(crate) fn describe(&self, what: &str, total: f64) -> String {
        match self {
            Why::Loop { items, body } => format!(
                "{what} runs its body once per item of a list of up to {} items, and the body costs up to {} steps ({} in all; nested loops multiply)",
                steps(*items),
                steps(*body),
                steps(total)
            ),
            Why::Call { name, bytes, items } => {
                let on = match (*bytes > 0.0, *items > 0.0) {
                    (true, true) => format!(" on a value of up to {} bytes or {} items", steps(*bytes), steps(*items)),
                    (true, false) => format!(" on a string of up to {} bytes", steps(*bytes)),
                    (false, true) => format!(" on a list of up to {} items", steps(*items)),
                    (false, false) => String::new(),
                };
                let hint = match name.as_str() {
                    "matches" => {
                        "; write the pattern as a string literal, so that its size is known and it is checked here"
                    }
                    "lists.range" => "; give it a small literal size",
                    "distinct" => "; it compares every pair of items",
                    _ => "",
                };
                format!("`{name}`{on} costs up to {} steps{hint}", steps(total))
            }
            Why::Sum => format!("{what} adds up to {} steps", steps(total)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::cel_env;

    fn schema() -> Schema {
        Schema::new().with_signal("clickbait", &["cues", "score"])
    }

    fn cost(source: &str) -> Estimate {
        let program = cel_env().compile(source).unwrap();
        estimate(program.expression(), &schema(), 50_000.0)
    }

    #[test]
    fn steps_read_well() {
        assert_eq!(steps(0.0), "0");
        assert_eq!(steps(999.0), "999");
        assert_eq!(steps(1000.0), "1,000");
        assert_eq!(steps(1_030_301.0), "1,030,301");
        assert_eq!(steps(2.5e18), "2.5e18");
    }

    #[test]
    fn simple_conditions_cost_a_few_steps() {
        for source in [
            "has(signals.clickbait) && signals.clickbait.score >= 0.5",
            "post != null && post.kind == 'video'",
            "standing != null && standing.credit < 60",
        ] {
            let e = cost(source);
            assert!(e.total < 50.0, "{source}: {}", e.total);
            assert!(e.weights.is_empty());
        }
    }

    #[test]
    fn loops_multiply() {
        let one = cost("lists.range(100).all(a, a >= 0)").total;
        let two = cost("lists.range(100).all(a, lists.range(100).all(b, a + b >= 0))").total;
        let three = cost("lists.range(100).all(a, lists.range(100).all(b, lists.range(100).all(c, a + b + c >= 0)))");
        assert!(two > 50.0 * one, "{one} {two}");
        assert!(three.total > 50.0 * two, "{two} {}", three.total);
        assert_eq!(three.weights.len(), 3);
        // The culprit is the smallest loop over the budget: the middle one.
        let culprit = three.culprit.unwrap();
        assert!(matches!(culprit.why, Why::Loop { items, .. } if items == 100.0), "{culprit:?}");
        assert!(culprit.total > 50_000.0 && culprit.total < 1e6, "{culprit:?}");
    }

    #[test]
    fn lists_from_the_input_are_bounded_by_the_limits() {
        let e = cost("account.monetization.exists(m, m == 'tips')");
        assert!(e.total > 100.0 && e.total < 2_000.0, "{}", e.total);
        // Splitting a text gives up to one piece per byte.
        let e = cost("post.text.split('').exists(w, w == 'x')");
        assert!(e.total > 65_536.0, "{}", e.total);
    }

    #[test]
    fn map_and_filter_append_in_place() {
        let e = cost("account.monetization.map(m, m + 'x').filter(m, m.size() > 3).size() > 1");
        assert!(e.total < 5_000.0, "{}", e.total);
    }

    #[test]
    fn a_pattern_computed_at_run_time_is_over_any_budget() {
        let e = cost("post.text.matches(post.title)");
        assert!(e.total >= REGEX_UNKNOWN, "{}", e.total);
        assert!(matches!(e.culprit.unwrap().why, Why::Call { ref name, .. } if name == "matches"));
        let e = cost("post.text.matches('^点击')");
        assert!(e.total < 50_000.0, "{}", e.total);
    }

    #[test]
    fn huge_products_stay_finite() {
        let mut source = "true".to_string();
        for i in 0..40 {
            source = format!("lists.range(1000000).all(x{i}, {source})");
        }
        let e = cost(&source);
        assert!(e.total.is_finite() && e.total >= 1e29, "{}", e.total);
    }
}
