//! Static checks of variable paths (shared by CEL conditions and reason templates), the
//! check of a compiled CEL expression, and the rewrite that makes it cheaper to evaluate.

use std::sync::Arc;

use cel::common::ast::{CallExpr, Expr, LiteralValue, operators};
use cel::common::types::CelString;
use cel::{Context, Env, ExecutionError, IdedExpr, Program};

use crate::Schema;
use crate::cost::REGEX_SIZE_LIMIT;
use crate::vars::{ALL_ROOTS, ROOTS, ROUTE_ROOTS, SIGNAL_FIELDS, Ty, fields_of};

/// The closest of `known` to `name`, if close enough to be a likely typo.
pub(crate) fn closest<'k>(name: &str, known: impl IntoIterator<Item = &'k str>) -> Option<&'k str> {
    let len = name.chars().count();
    let limit = if len <= 4 { 1 } else { (len / 3).max(2) };
    known
        .into_iter()
        .map(|k| (levenshtein(name, k), k))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = if ca == *cb { prev } else { 1 + prev.min(cur).min(row[j]) };
            prev = cur;
        }
    }
    row[b.len()]
}

/// `head` followed by " (did you mean `x`?)" when `name` is close to one of `known`, and
/// "; {list}: a, b, c" (or "; there are none" when `known` is empty).
pub(crate) fn suggest(head: String, name: &str, known: &[&str], list: &str) -> String {
    let mut msg = head;
    if let Some(c) = closest(name, known.iter().copied()) {
        msg.push_str(&format!(" (did you mean `{c}`?)"));
    }
    if known.is_empty() {
        msg.push_str(&format!("; {list}: none"));
    } else {
        msg.push_str(&format!("; {list}: {}", known.join(", ")));
    }
    msg
}

/// Checks a variable path: `root` followed by `segs`, where the variables are `roots`
/// ([`ROOTS`] for rules and their reasons, [`ROUTE_ROOTS`] for routes). On error, the index
/// of the offending element (0 for the root, `i + 1` for `segs[i]`) and the message.
pub(crate) fn check_path(schema: &Schema, roots: &[&str], root: &str, segs: &[&str]) -> Result<(), (usize, String)> {
    if !roots.contains(&root) {
        let msg = if ROUTE_ROOTS.contains(&root) {
            format!(
                "`{root}` is the variable of routes ([[routes]]), not of rules: a rule sees {}",
                ROOTS.iter().map(|r| format!("`{r}`")).collect::<Vec<_>>().join(", ")
            )
        } else if ALL_ROOTS.contains(&root) {
            let fields: Vec<&str> = fields_of("case").unwrap_or_default().into_iter().map(|(f, _)| f).collect();
            format!(
                "`{root}` is a variable of rules, not of routes: a route sees only `case` (a route chooses the queue of a case, which has no single event); the fields of `case` are: {}",
                fields.join(", ")
            )
        } else {
            suggest(format!("unknown variable `{root}`"), root, roots, "the variables are")
        };
        return Err((0, msg));
    }
    if root == "signals" {
        let Some(name) = segs.first() else { return Ok(()) };
        let Some(spec) = schema.signals.iter().find(|s| s.name == *name) else {
            let known: Vec<&str> = schema.signals.iter().map(|s| s.name.as_str()).collect();
            return Err((1, suggest(format!("unknown signal `{name}`"), name, &known, "the registered signals are")));
        };
        let Some(field) = segs.get(1) else { return Ok(()) };
        let Some((_, ty)) = SIGNAL_FIELDS.iter().find(|(f, _)| f == field) else {
            let known: Vec<&str> = SIGNAL_FIELDS.iter().map(|(f, _)| *f).collect();
            return Err((
                2,
                suggest(format!("a signal has no field `{field}`"), field, &known, "the fields of a signal are"),
            ));
        };
        let Some(key) = segs.get(2) else { return Ok(()) };
        if *ty != Ty::Evidence {
            return Err((3, format!("`signals.{name}.{field}` is {} and has no field `{key}`", ty.describe())));
        }
        if !spec.evidence.iter().any(|k| k == key) {
            let known: Vec<&str> = spec.evidence.iter().map(String::as_str).collect();
            return Err((
                3,
                suggest(format!("signal `{name}` has no evidence key `{key}`"), key, &known, "its evidence keys are"),
            ));
        }
        // Evidence values may be structured: deeper keys are not checked.
        return Ok(());
    }
    let Some(fields) = fields_of(root) else {
        return Err((0, suggest(format!("unknown variable `{root}`"), root, roots, "the variables are")));
    };
    let Some(field) = segs.first() else { return Ok(()) };
    let Some((_, ty)) = fields.iter().find(|(f, _)| f == field) else {
        let known: Vec<&str> = fields.iter().map(|(f, _)| *f).collect();
        return Err((
            1,
            suggest(format!("`{root}` has no field `{field}`"), field, &known, &format!("the fields of `{root}` are")),
        ));
    };
    if let Some(next) = segs.get(1) {
        return Err((2, format!("`{root}.{field}` is {} and has no field `{next}`", ty.describe())));
    }
    Ok(())
}

/// The type of a checked path, when known: `post.id` is a string, `signals.x.score` a
/// double, `post` and `signals.x` maps.
fn path_type(path: &[&str]) -> Option<Ty> {
    match path {
        ["signals", ..] if path.len() <= 2 => Some(Ty::Evidence),
        ["signals", _, field] => SIGNAL_FIELDS.iter().find(|(f, _)| f == field).map(|(_, ty)| *ty),
        [root] if ALL_ROOTS.contains(root) => Some(Ty::Evidence),
        [root, field] => fields_of(root)?.into_iter().find(|(f, _)| f == field).map(|(_, ty)| ty),
        _ => None,
    }
}

/// Type names an expression may mention, as in `type(x) == string`.
const TYPE_NAMES: &[&str] = &["bool", "int", "uint", "double", "string", "bytes", "list", "map", "null_type", "type"];

/// Functions to suggest for a misspelt one; whether a function exists is asked of CEL.
const COMMON_FUNCTIONS: &[&str] = &[
    "contains",
    "startsWith",
    "endsWith",
    "matches",
    "size",
    "lowerAscii",
    "upperAscii",
    "trim",
    "split",
    "join",
    "replace",
    "indexOf",
    "lastIndexOf",
    "substring",
    "charAt",
    "int",
    "uint",
    "double",
    "string",
    "bool",
    "timestamp",
    "duration",
    "type",
    "exists",
    "exists_one",
    "all",
    "map",
    "filter",
];

/// A problem found in a CEL expression: a character offset into the expression and a message.
pub(crate) type CelProblem = (usize, String);

/// Checks what a compiled condition refers to: variables, their fields, signals and their
/// evidence keys, and function names.
pub(crate) struct Checker<'a> {
    pub schema: &'a Schema,
    pub env: &'a Arc<Env>,
    pub program: &'a Program,
    pub problems: Vec<CelProblem>,
    /// The variables the condition may use.
    roots: &'static [&'static str],
    scope: Vec<String>,
}

/// One element of a path: its name and the character offset to report it at.
struct Seg<'e> {
    name: &'e str,
    offset: usize,
}

impl<'a> Checker<'a> {
    /// A checker of a condition whose variables are `roots`.
    pub(crate) fn new(
        schema: &'a Schema,
        env: &'a Arc<Env>,
        program: &'a Program,
        roots: &'static [&'static str],
    ) -> Self {
        Checker { schema, env, program, problems: Vec::new(), roots, scope: Vec::new() }
    }

    fn offset(&self, e: &IdedExpr) -> usize {
        self.program.source_info().offset_for(e.id).map_or(0, |(start, _)| start as usize)
    }

    /// Where `name` is written near character offset `at` (where the parser put a node):
    /// ending right at `at` (a call's `(`), else the next occurrence from `at` on.
    fn name_near(&self, at: usize, name: &str) -> usize {
        let source = &self.program.source_info().source;
        let byte = source.char_indices().nth(at).map_or(source.len(), |(b, _)| b);
        let to_chars = |b: usize| source[..b].chars().count();
        if source[..byte].ends_with(name) {
            return to_chars(byte - name.len());
        }
        source[byte..].find(name).map_or(at, |i| to_chars(byte + i))
    }

    /// The path `e` spells: an identifier followed by field selections and indexes with
    /// string literals. Root first.
    fn path<'e>(&self, e: &'e IdedExpr, out: &mut Vec<Seg<'e>>) -> bool {
        match &e.expr {
            Expr::Ident(name) => {
                out.push(Seg { name, offset: self.offset(e) });
                true
            }
            Expr::Select(s) if !s.test => {
                if !self.path(&s.operand, out) {
                    return false;
                }
                // the node sits at the dot; report the field just after it
                out.push(Seg { name: &s.field, offset: self.offset(e) + 1 });
                true
            }
            Expr::Call(c) if c.func_name == operators::INDEX && c.target.is_none() && c.args.len() == 2 => {
                let Expr::Literal(LiteralValue::String(key)) = &c.args[1].expr else { return false };
                if !self.path(&c.args[0], out) {
                    return false;
                }
                out.push(Seg { name: key.inner(), offset: self.offset(&c.args[1]) });
                true
            }
            _ => false,
        }
    }

    fn check_segs(&mut self, segs: &[Seg<'_>]) {
        let root = segs[0].name;
        if self.scope.iter().any(|v| v == root) {
            return;
        }
        if segs.len() == 1 && TYPE_NAMES.contains(&root) {
            return;
        }
        let names: Vec<&str> = segs[1..].iter().map(|s| s.name).collect();
        if let Err((i, msg)) = check_path(self.schema, self.roots, root, &names) {
            self.problems.push((segs[i].offset, msg));
        }
    }

    /// Checks a whole condition: what it refers to, and that it is not plainly something
    /// other than a bool (a literal, a map, or a field that is not a bool).
    pub(crate) fn condition(&mut self, e: &IdedExpr) {
        self.visit(e);
        if !self.problems.is_empty() {
            return;
        }
        let what = match &e.expr {
            Expr::Literal(LiteralValue::Boolean(_)) => None,
            Expr::Literal(LiteralValue::String(_)) => Some("a string"),
            Expr::Literal(LiteralValue::Null) => Some("null"),
            Expr::Literal(LiteralValue::Bytes(_)) => Some("bytes"),
            Expr::Literal(_) => Some("a number"),
            Expr::List(_) => Some("a list"),
            Expr::Map(_) | Expr::Struct(_) => Some("a map"),
            _ => {
                let mut segs = Vec::new();
                if self.path(e, &mut segs) && !self.scope.iter().any(|v| v == segs[0].name) {
                    let names: Vec<&str> = segs.iter().map(|s| s.name).collect();
                    path_type(&names).filter(|ty| *ty != Ty::Bool).map(Ty::describe)
                } else {
                    None
                }
            }
        };
        if let Some(what) = what {
            self.problems.push((0, format!("must be a condition (true or false), but this is {what}")));
        }
    }

    /// Checks `e` and everything under it.
    pub(crate) fn visit(&mut self, e: &IdedExpr) {
        let mut segs = Vec::new();
        if self.path(e, &mut segs) {
            self.check_segs(&segs);
            return;
        }
        match &e.expr {
            Expr::Select(s) => {
                // `has(a.b)`, or a field of something that is not a path
                let mut segs = Vec::new();
                if s.test && self.path(&s.operand, &mut segs) {
                    let at = self.name_near(self.offset(e), &format!(".{}", s.field)) + 1;
                    segs.push(Seg { name: &s.field, offset: at });
                    self.check_segs(&segs);
                } else {
                    self.visit(&s.operand);
                }
            }
            Expr::Call(c) => self.visit_call(e, c),
            Expr::Comprehension(c) => {
                self.visit(&c.iter_range);
                self.visit(&c.accu_init);
                let before = self.scope.len();
                self.scope.push(c.iter_var.clone());
                if let Some(v) = &c.iter_var2 {
                    self.scope.push(v.clone());
                }
                self.scope.push(c.accu_var.clone());
                self.visit(&c.loop_cond);
                self.visit(&c.loop_step);
                self.visit(&c.result);
                self.scope.truncate(before);
            }
            Expr::List(l) => l.elements.iter().for_each(|x| self.visit(x)),
            Expr::Map(m) => {
                for entry in &m.entries {
                    if let cel::common::ast::EntryExpr::MapEntry(me) = &entry.expr {
                        self.visit(&me.key);
                        self.visit(&me.value);
                    }
                }
            }
            Expr::Struct(st) => self.problems.push((self.offset(e), format!("unknown type `{}`", st.type_name))),
            Expr::Ident(_) | Expr::Literal(_) | Expr::Unspecified => {}
        }
    }

    fn visit_call(&mut self, e: &IdedExpr, c: &CallExpr) {
        // `"x" in signals` names a signal, `"k" in signals.x.evidence` an evidence key
        if c.func_name == operators::IN
            && c.args.len() == 2
            && let Expr::Literal(LiteralValue::String(key)) = &c.args[0].expr
        {
            let mut segs = Vec::new();
            if self.path(&c.args[1], &mut segs)
                && !self.scope.iter().any(|v| v == segs[0].name)
                && segs[0].name == "signals"
                && (segs.len() == 1 || (segs.len() == 3 && segs[2].name == "evidence"))
            {
                segs.push(Seg { name: key.inner(), offset: self.offset(&c.args[0]) });
                self.check_segs(&segs);
            }
        }
        // A pattern written out is compiled now: a bad one, or one too large to compile
        // cheaply on every evaluation, is a problem of the policy.
        if c.func_name == "matches"
            && let Some(arg) = c.args.last()
            && let Expr::Literal(LiteralValue::String(pattern)) = &arg.expr
            && let Err(e) = regex::RegexBuilder::new(pattern.inner()).size_limit(REGEX_SIZE_LIMIT).build()
        {
            let msg = match e {
                regex::Error::CompiledTooBig(_) => format!(
                    "the pattern of `matches` compiles to more than {} KiB: `matches` compiles it on every evaluation, so keep it small",
                    REGEX_SIZE_LIMIT / 1024
                ),
                e => format!("invalid pattern for `matches`: {e}"),
            };
            self.problems.push((self.offset(arg), msg));
        }
        let is_operator = c.func_name.starts_with('_')
            || c.func_name.starts_with('@')
            || c.func_name == operators::LOGICAL_NOT
            || c.func_name == operators::NEGATE;
        let mut target_is_namespace = false;
        if !is_operator {
            // `math.greatest(...)`: a namespaced function rather than a call on a variable
            let mut segs = Vec::new();
            if let Some(t) = &c.target
                && self.path(t, &mut segs)
                && !ALL_ROOTS.contains(&segs[0].name)
                && !self.scope.iter().any(|v| v == segs[0].name)
            {
                let ns: Vec<&str> = segs.iter().map(|s| s.name).collect();
                target_is_namespace = self.function_exists(&format!("{}.{}()", ns.join("."), c.func_name));
            }
            let probe = match &c.target {
                _ if target_is_namespace => None,
                Some(_) => Some(format!("''.{}()", c.func_name)),
                None => Some(format!("{}()", c.func_name)),
            };
            if let Some(probe) = probe
                && !self.function_exists(&probe)
            {
                let mut msg = format!("unknown function `{}`", c.func_name);
                if let Some(f) = closest(&c.func_name, COMMON_FUNCTIONS.iter().copied()) {
                    msg.push_str(&format!(" (did you mean `{f}`?)"));
                }
                self.problems.push((self.name_near(self.offset(e), &c.func_name), msg));
            }
        }
        if let Some(t) = &c.target
            && !target_is_namespace
        {
            self.visit(t);
        }
        for a in &c.args {
            self.visit(a);
        }
    }

    /// Whether CEL knows the function the probe calls: a call without arguments fails
    /// with "undeclared reference" only when no function of that name exists at all.
    fn function_exists(&self, probe: &str) -> bool {
        let Ok(program) = self.env.compile(probe) else { return true };
        let ctx = Context::with_env(Arc::clone(self.env));
        !matches!(program.execute(&ctx), Err(ExecutionError::UndeclaredReference(_)))
    }
}

/// Rewrites field selections on the policy's variables (`signals.x.score`) into index
/// operations (`signals["x"]["score"]`) and presence tests on them (`has(signals.x)`) into
/// `"x" in signals`: the same meaning on maps, which every variable is, and the interpreter
/// evaluates them without building and looking up qualified names.
pub(crate) fn optimize(e: &mut IdedExpr, scope: &mut Vec<String>) {
    fn rooted(e: &IdedExpr, scope: &[String]) -> bool {
        match &e.expr {
            Expr::Ident(name) => ALL_ROOTS.contains(&name.as_str()) && !scope.iter().any(|v| v == name),
            Expr::Select(s) if !s.test => rooted(&s.operand, scope),
            Expr::Call(c) if c.func_name == operators::INDEX && c.target.is_none() && c.args.len() == 2 => {
                rooted(&c.args[0], scope)
            }
            _ => false,
        }
    }
    fn literal(id: u64, s: &str) -> IdedExpr {
        IdedExpr { id, expr: Expr::Literal(LiteralValue::String(CelString::from(s.to_string()))) }
    }
    let id = e.id;
    match &mut e.expr {
        Expr::Select(s) => {
            optimize(&mut s.operand, scope);
            if rooted(&s.operand, scope) {
                let operand = std::mem::take(&mut *s.operand);
                let field = literal(id, &s.field);
                let call = if s.test {
                    CallExpr { func_name: operators::IN.to_string(), target: None, args: vec![field, operand] }
                } else {
                    CallExpr { func_name: operators::INDEX.to_string(), target: None, args: vec![operand, field] }
                };
                e.expr = Expr::Call(call);
            }
        }
        Expr::Call(c) => {
            if let Some(t) = c.target.as_deref_mut() {
                optimize(t, scope);
            }
            c.args.iter_mut().for_each(|a| optimize(a, scope));
        }
        Expr::Comprehension(c) => {
            optimize(&mut c.iter_range, scope);
            optimize(&mut c.accu_init, scope);
            let before = scope.len();
            scope.push(c.iter_var.clone());
            if let Some(v) = &c.iter_var2 {
                scope.push(v.clone());
            }
            scope.push(c.accu_var.clone());
            optimize(&mut c.loop_cond, scope);
            optimize(&mut c.loop_step, scope);
            optimize(&mut c.result, scope);
            scope.truncate(before);
        }
        Expr::List(l) => l.elements.iter_mut().for_each(|x| optimize(x, scope)),
        Expr::Map(m) => {
            for entry in &mut m.entries {
                if let cel::common::ast::EntryExpr::MapEntry(me) = &mut entry.expr {
                    optimize(&mut me.key, scope);
                    optimize(&mut me.value, scope);
                }
            }
        }
        Expr::Struct(_) | Expr::Ident(_) | Expr::Literal(_) | Expr::Unspecified => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Input;
    use crate::load::cel_env;
    use crate::vars::Vars;
    use cel::Value;
    use steward_model::{Limits, Signal, parse_event};

    /// The rewrite must not change what any expression evaluates to, errors included.
    #[test]
    fn optimize_keeps_the_meaning() {
        let event = parse_event(
            br#"{"id":"e1","type":"post.created","at":"2026-11-22T08:00:00Z","post":{"id":"p1","account_id":"a1",
            "kind":"video","text":"hello","created_at":"2026-11-22T08:00:00Z"}}"#,
            &Limits::default(),
            chrono::Utc::now(),
        )
        .unwrap();
        let signals = [Signal::new("x", "d", 1, 0.7).with("k", "v").with("n", 3)];
        let env = cel_env();
        let exprs = [
            "has(signals.x)",
            "has(signals.y)",
            "has(signals.x.evidence.k)",
            "has(signals.y.evidence.k)",
            "signals.x.score >= 0.5",
            "signals.y.score >= 0.5",
            "signals.x.evidence.k == 'v' && signals.x.evidence.n == 3",
            "signals.x.evidence.missing",
            "post.text.size() + post.kind.size()",
            "post.title == null",
            "account.id",
            "has(account.id)",
            "standing == null",
            "event.type",
            "signals.exists(s, signals[s].score > 0.5 && has(signals[s].evidence.k))",
            "[post].exists(post, post.id == 'p1')",
            "{'post': {'id': 'shadow'}}.post.id",
            "post.id.x",
            "has(post.id.x)",
        ];
        for input in [Input::new(&event, &signals), Input::new(&event, &[])] {
            let vars = Vars::new(input);
            let mut ctx = Context::with_env(Arc::clone(&env));
            ctx.set_variable_resolver(&vars);
            for source in exprs {
                let program = env.compile(source).unwrap();
                let mut optimized = program.expression().clone();
                optimize(&mut optimized, &mut Vec::new());
                let before = Value::resolve(program.expression(), &ctx);
                let after = Value::resolve(&optimized, &ctx);
                assert_eq!(before.is_ok(), after.is_ok(), "{source}: {before:?} vs {after:?}");
                if let (Ok(b), Ok(a)) = (before, after) {
                    assert_eq!(b, a, "{source}");
                }
            }
        }
    }
}
