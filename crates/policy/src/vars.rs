//! The variables rules and templates see: their fields (one table per variable, used for
//! validation, for reading CEL values and for rendering templates), and the CEL values
//! that read the input in place.

use cel::ExecutionError;
use cel::common::traits::{self, Container, Indexer, Iterable, Sizer};
use cel::common::types::{CelBool, CelDouble, CelInt, CelList, CelMap, CelMapKey, CelNull, CelString, MAP_TYPE, Type};
use cel::common::value::{CowVal, Val};
use cel::context::VariableResolver;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value as Json;
use std::borrow::Cow;
use std::collections::HashMap;
use steward_model::{Account, Event, Payload, Post, Signal, Standing};

use crate::{CaseInput, Input};

/// The variables of rules, ladder steps and their reasons, in the order messages list them.
pub(crate) const ROOTS: &[&str] = &["event", "account", "post", "signals", "standing"];

/// The variable of routes: the case being queued.
pub(crate) const ROUTE_ROOTS: &[&str] = &["case"];

/// Every variable of either kind: names that are never a namespace of functions.
pub(crate) const ALL_ROOTS: &[&str] = &["event", "account", "post", "signals", "standing", "case"];

/// The fields of `case`, as [`crate::CaseInput`] has them.
pub(crate) const CASE_FIELDS: &[(&str, Ty)] = &[
    ("subject", Ty::Str),
    ("category", Ty::Str),
    ("queue", Ty::Str),
    ("reporters", Ty::Int),
    ("reporter_weight", Ty::Double),
    ("reach", Ty::Int),
    ("decisions", Ty::Int),
    ("signals", Ty::StrList),
    ("appeal", Ty::Bool),
];

/// The fields of one signal.
pub(crate) const SIGNAL_FIELDS: &[(&str, Ty)] =
    &[("score", Ty::Double), ("detector", Ty::Str), ("version", Ty::Int), ("evidence", Ty::Evidence)];

/// CEL type of a field, for messages and checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ty {
    Str,
    /// A string, or null when unknown.
    OptStr,
    Int,
    Bool,
    Double,
    /// A list of strings.
    StrList,
    /// The evidence map of a signal.
    Evidence,
}

impl Ty {
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Ty::Str => "a string",
            Ty::OptStr => "a string (or null)",
            Ty::Int => "an int",
            Ty::Bool => "a bool",
            Ty::Double => "a double",
            Ty::StrList => "a list of strings",
            Ty::Evidence => "a map",
        }
    }
}

/// One field's value, borrowed from the input where it can be.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Scalar<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Double(f64),
    Str(Cow<'a, str>),
    List(Vec<&'a str>),
}

impl Scalar<'_> {
    /// As template text: null is empty, lists are joined with ", ".
    pub(crate) fn write_to(&self, out: &mut String) {
        use std::fmt::Write;
        match self {
            Scalar::Null => {}
            Scalar::Bool(b) => {
                let _ = write!(out, "{b}");
            }
            Scalar::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Scalar::Double(d) => {
                let _ = write!(out, "{d}");
            }
            Scalar::Str(s) => out.push_str(s),
            Scalar::List(items) => out.push_str(&items.join(", ")),
        }
    }

    fn into_val<'a>(self) -> Box<dyn Val + 'a>
    where
        Self: 'a,
    {
        match self {
            Scalar::Null => Box::new(CelNull),
            Scalar::Bool(b) => Box::new(CelBool::from(b)),
            Scalar::Int(i) => Box::new(CelInt::from(i)),
            Scalar::Double(d) => Box::new(CelDouble::from(d)),
            Scalar::Str(Cow::Borrowed(s)) => Box::new(CelString::from(s)),
            Scalar::Str(Cow::Owned(s)) => Box::new(CelString::from(s)),
            Scalar::List(items) => {
                let items: Vec<Box<dyn Val + 'a>> =
                    items.into_iter().map(|s| Box::new(CelString::from(s)) as Box<dyn Val + 'a>).collect();
                Box::new(CelList::from(items))
            }
        }
    }
}

/// A field of a variable: its name, type, a line of documentation and how to read it.
pub(crate) struct Field<T: ?Sized> {
    pub name: &'static str,
    pub ty: Ty,
    pub get: for<'a> fn(&'a T) -> Scalar<'a>,
}

fn s(v: &str) -> Scalar<'_> {
    Scalar::Str(Cow::Borrowed(v))
}

fn opt(v: &Option<String>) -> Scalar<'_> {
    v.as_deref().map_or(Scalar::Null, s)
}

fn time(t: &DateTime<Utc>) -> Scalar<'static> {
    Scalar::Str(Cow::Owned(t.to_rfc3339_opts(SecondsFormat::AutoSi, true)))
}

fn int(v: u64) -> Scalar<'static> {
    Scalar::Int(i64::try_from(v).unwrap_or(i64::MAX))
}

pub(crate) const EVENT_FIELDS: &[Field<Event>] = &[
    Field { name: "id", ty: Ty::Str, get: |e| s(&e.id) },
    Field { name: "type", ty: Ty::Str, get: |e| s(e.payload.event_type()) },
    Field { name: "at", ty: Ty::Str, get: |e| time(&e.at) },
];

pub(crate) const ACCOUNT_FIELDS: &[Field<Account>] = &[
    Field { name: "id", ty: Ty::Str, get: |a| s(&a.id) },
    Field { name: "handle", ty: Ty::Str, get: |a| s(&a.handle) },
    Field { name: "display_name", ty: Ty::Str, get: |a| s(&a.display_name) },
    Field { name: "bio", ty: Ty::Str, get: |a| s(&a.bio) },
    Field { name: "followers", ty: Ty::Int, get: |a| int(a.followers) },
    Field { name: "verified", ty: Ty::Bool, get: |a| Scalar::Bool(a.verified) },
    Field { name: "ip_region", ty: Ty::OptStr, get: |a| opt(&a.ip_region) },
    Field {
        name: "monetization",
        ty: Ty::StrList,
        get: |a| Scalar::List(a.monetization.iter().map(String::as_str).collect()),
    },
];

pub(crate) const POST_FIELDS: &[Field<Post>] = &[
    Field { name: "id", ty: Ty::Str, get: |p| s(&p.id) },
    Field { name: "account_id", ty: Ty::Str, get: |p| s(&p.account_id) },
    Field { name: "kind", ty: Ty::Str, get: |p| s(p.kind.as_str()) },
    Field { name: "title", ty: Ty::OptStr, get: |p| opt(&p.title) },
    Field { name: "text", ty: Ty::Str, get: |p| s(&p.text) },
    Field { name: "created_at", ty: Ty::Str, get: |p| time(&p.created_at) },
    Field { name: "group_id", ty: Ty::OptStr, get: |p| opt(&p.group_id) },
    Field { name: "group_role", ty: Ty::OptStr, get: |p| p.group_role.map_or(Scalar::Null, |r| s(r.as_str())) },
    Field { name: "reposted_from", ty: Ty::OptStr, get: |p| opt(&p.reposted_from) },
    Field { name: "explicit_label", ty: Ty::Bool, get: |p| Scalar::Bool(p.explicit_label) },
    Field { name: "ai_declared", ty: Ty::Bool, get: |p| Scalar::Bool(p.ai_generated.is_some_and(|a| a.declared)) },
    Field {
        name: "ai_implicit_label",
        ty: Ty::Bool,
        get: |p| Scalar::Bool(p.ai_generated.is_some_and(|a| a.implicit_label)),
    },
    Field { name: "has_media", ty: Ty::Bool, get: |p| Scalar::Bool(!p.media.is_empty()) },
    Field { name: "media_ai_marker", ty: Ty::Bool, get: |p| Scalar::Bool(p.media.iter().any(|m| m.ai_marker)) },
];

pub(crate) const STANDING_FIELDS: &[Field<Standing>] = &[
    Field { name: "credit", ty: Ty::Int, get: |s| Scalar::Int(s.credit) },
    Field { name: "credit_initial", ty: Ty::Int, get: |s| Scalar::Int(s.credit_initial) },
    Field { name: "restrictions", ty: Ty::StrList, get: |s| Scalar::List(restriction_kinds(s)) },
    Field { name: "recent_violations", ty: Ty::Int, get: |s| Scalar::Int(i64::from(s.recent_violations)) },
    Field { name: "disclosure", ty: Ty::Bool, get: |s| Scalar::Bool(s.disclosure.is_some()) },
];

/// The kinds of restriction in force, each once, in the order they first appear: an account
/// under many restrictions of one kind still has a short list.
fn restriction_kinds(s: &Standing) -> Vec<&'static str> {
    let mut kinds: Vec<&'static str> = Vec::new();
    for r in &s.restrictions {
        let kind = r.kind.as_str();
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    kinds
}

/// Names and types of a fixed variable's fields; `None` for `signals` and unknown names.
pub(crate) fn fields_of(root: &str) -> Option<Vec<(&'static str, Ty)>> {
    fn names<T>(fields: &[Field<T>]) -> Vec<(&'static str, Ty)> {
        fields.iter().map(|f| (f.name, f.ty)).collect()
    }
    match root {
        "event" => Some(names(EVENT_FIELDS)),
        "account" => Some(names(ACCOUNT_FIELDS)),
        "post" => Some(names(POST_FIELDS)),
        "standing" => Some(names(STANDING_FIELDS)),
        "case" => Some(CASE_FIELDS.to_vec()),
        _ => None,
    }
}

/// A field of a fixed variable, resolved at load to an index into its table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FixedField {
    Event(usize),
    Account(usize),
    Post(usize),
    Standing(usize),
}

impl FixedField {
    pub(crate) fn find(root: &str, name: &str) -> Option<FixedField> {
        fn pos<T>(fields: &[Field<T>], name: &str) -> Option<usize> {
            fields.iter().position(|f| f.name == name)
        }
        match root {
            "event" => pos(EVENT_FIELDS, name).map(FixedField::Event),
            "account" => pos(ACCOUNT_FIELDS, name).map(FixedField::Account),
            "post" => pos(POST_FIELDS, name).map(FixedField::Post),
            "standing" => pos(STANDING_FIELDS, name).map(FixedField::Standing),
            _ => None,
        }
    }

    pub(crate) fn read<'a>(self, input: &Input<'a>) -> Scalar<'a> {
        match self {
            FixedField::Event(i) => (EVENT_FIELDS[i].get)(input.event),
            FixedField::Account(i) => input.account.map_or(Scalar::Null, |a| (ACCOUNT_FIELDS[i].get)(a)),
            FixedField::Post(i) => input.post.map_or(Scalar::Null, |p| (POST_FIELDS[i].get)(p)),
            FixedField::Standing(i) => input.standing.map_or(Scalar::Null, |s| (STANDING_FIELDS[i].get)(s)),
        }
    }
}

/// The signal of this name the policy sees: the strongest when a detector raised it twice.
pub(crate) fn find_signal<'a>(signals: &'a [Signal], name: &str) -> Option<&'a Signal> {
    signals
        .iter()
        .filter(|s| s.name == name)
        .max_by(|a, b| a.score.partial_cmp(&b.score).unwrap_or(std::cmp::Ordering::Equal))
}

/// Evidence as template text: strings as they are, null as nothing, other values as JSON.
pub(crate) fn write_json(value: &Json, out: &mut String) {
    match value {
        Json::Null => {}
        Json::String(s) => out.push_str(s),
        other => out.push_str(&other.to_string()),
    }
}

fn json_val(value: &Json) -> Box<dyn Val + '_> {
    match value {
        Json::Null => Box::new(CelNull),
        Json::Bool(b) => Box::new(CelBool::from(*b)),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Box::new(CelInt::from(i)),
            None => Box::new(CelDouble::from(n.as_f64().unwrap_or(f64::NAN))),
        },
        Json::String(s) => Box::new(CelString::from(s.as_str())),
        Json::Array(items) => Box::new(CelList::from(items.iter().map(json_val).collect::<Vec<_>>())),
        Json::Object(map) => {
            let map: HashMap<CelMapKey<'_>, Box<dyn Val + '_>> =
                map.iter().map(|(k, v)| (CelMapKey::from(k.as_str()), json_val(v))).collect();
            Box::new(CelMap::from(map))
        }
    }
}

/// The string a key value holds, or the error for indexing a map with a non-string.
fn key_str(key: &dyn Val) -> Result<&str, ExecutionError> {
    key.downcast_ref::<CelString>().map(|s| s.inner()).ok_or_else(|| ExecutionError::UnexpectedType {
        got: key.get_type().name().to_owned(),
        want: "string".to_owned(),
    })
}

/// Whether `other` is this very value (maps of the input compare equal to themselves).
fn same<T>(this: &T, other: &dyn Val) -> bool {
    std::ptr::eq(this as *const T as *const (), other as *const dyn Val as *const ())
}

/// `Val` for a map of the input; extra methods (e.g. `as_iterable`) may follow a `;`.
macro_rules! map_val {
    ($ty:ty $(; $($extra:tt)*)?) => {
        impl<'a> Val for $ty {
            $($($extra)*)?

            fn get_type(&self) -> &Type {
                &MAP_TYPE
            }

            fn cel_type() -> &'static Type {
                &MAP_TYPE
            }

            fn as_container(&self) -> Option<&dyn Container> {
                Some(self)
            }

            fn as_indexer<'b, 'v>(&'b self) -> Option<&'b (dyn Indexer + 'v)>
            where
                Self: 'v,
            {
                Some(self)
            }

            fn as_sizer(&self) -> Option<&dyn Sizer> {
                Some(self)
            }

            fn equals(&self, other: &dyn Val) -> bool {
                same(self, other)
            }

            fn clone_as_boxed<'v>(&self) -> Box<dyn Val + 'v>
            where
                Self: 'v,
            {
                Box::new(self.clone())
            }
        }
    };
}

/// `event`, `account`, `post` or `standing`: a CEL map whose fields are read from the
/// model struct when a rule looks at them, so nothing is built or hashed per event.
pub(crate) struct Record<'a, T: 'static> {
    value: &'a T,
    fields: &'static [Field<T>],
}

impl<T> Clone for Record<'_, T> {
    fn clone(&self) -> Self {
        Record { value: self.value, fields: self.fields }
    }
}

impl<T> std::fmt::Debug for Record<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.fields.iter().map(|x| x.name).collect();
        write!(f, "Record{names:?}")
    }
}

impl<T: Sync> Indexer for Record<'_, T> {
    fn get<'b, 'v>(&'b self, idx: &dyn Val) -> Result<CowVal<'b, 'v>, ExecutionError>
    where
        Self: 'v,
    {
        let name = key_str(idx)?;
        match self.fields.iter().find(|f| f.name == name) {
            Some(f) => Ok(CowVal::Owned((f.get)(self.value).into_val())),
            None => Err(ExecutionError::no_such_key(name)),
        }
    }

    fn steal<'v>(self: Box<Self>, idx: &dyn Val) -> Result<Box<dyn Val + 'v>, ExecutionError>
    where
        Self: 'v,
    {
        self.get(idx).map(CowVal::into_owned)
    }
}

impl<T> Container for Record<'_, T> {
    fn contains(&self, key: &dyn Val) -> Result<bool, ExecutionError> {
        let name = key_str(key)?;
        Ok(self.fields.iter().any(|f| f.name == name))
    }
}

impl<T> Sizer for Record<'_, T> {
    fn size(&self) -> CelInt {
        CelInt::from(self.fields.len() as i64)
    }
}

map_val!(Record<'a, Event>);
map_val!(Record<'a, Account>);
map_val!(Record<'a, Post>);
map_val!(Record<'a, Standing>);

/// `signals`: the signals raised for the event, by name.
#[derive(Debug, Clone)]
pub(crate) struct Signals<'a> {
    names: Vec<CelString<'a>>,
    signals: Vec<&'a Signal>,
}

impl<'a> Signals<'a> {
    fn new(all: &'a [Signal]) -> Self {
        let mut names = Vec::new();
        let mut signals = Vec::new();
        for signal in all {
            if find_signal(all, &signal.name).is_some_and(|s| std::ptr::eq(s, signal)) {
                names.push(CelString::from(signal.name.as_str()));
                signals.push(signal);
            }
        }
        Signals { names, signals }
    }

    fn find(&self, name: &str) -> Option<&'a Signal> {
        self.names.iter().position(|n| n.inner() == name).map(|i| self.signals[i])
    }
}

impl Indexer for Signals<'_> {
    fn get<'b, 'v>(&'b self, idx: &dyn Val) -> Result<CowVal<'b, 'v>, ExecutionError>
    where
        Self: 'v,
    {
        let name = key_str(idx)?;
        match self.find(name) {
            Some(signal) => Ok(CowVal::Owned(Box::new(OneSignal(signal)))),
            None => Err(ExecutionError::no_such_key(name)),
        }
    }

    fn steal<'v>(self: Box<Self>, idx: &dyn Val) -> Result<Box<dyn Val + 'v>, ExecutionError>
    where
        Self: 'v,
    {
        self.get(idx).map(CowVal::into_owned)
    }
}

impl Container for Signals<'_> {
    fn contains(&self, key: &dyn Val) -> Result<bool, ExecutionError> {
        Ok(self.find(key_str(key)?).is_some())
    }
}

impl Sizer for Signals<'_> {
    fn size(&self) -> CelInt {
        CelInt::from(self.names.len() as i64)
    }
}

struct Keys<'b, 'a>(std::slice::Iter<'b, CelString<'a>>);

impl<'b, 'a: 'v, 'v> traits::Iterator<'b, 'v> for Keys<'b, 'a> {
    fn next(&mut self) -> Option<&'b (dyn Val + 'v)> {
        self.0.next().map(|s| s as &(dyn Val + 'v))
    }
}

impl Iterable for Signals<'_> {
    fn iter<'b, 'v>(&'b self) -> Box<dyn traits::Iterator<'b, 'v> + 'b>
    where
        Self: 'v,
    {
        Box::new(Keys(self.names.iter()))
    }
}

map_val!(Signals<'a>;
    fn as_iterable<'b, 'v>(&'b self) -> Option<&'b (dyn Iterable + 'v)>
    where
        Self: 'v,
    {
        Some(self)
    }
);

/// One signal: `{score, detector, version, evidence}`.
#[derive(Debug, Clone, Copy)]
struct OneSignal<'a>(&'a Signal);

impl Indexer for OneSignal<'_> {
    fn get<'b, 'v>(&'b self, idx: &dyn Val) -> Result<CowVal<'b, 'v>, ExecutionError>
    where
        Self: 'v,
    {
        let s = self.0;
        let v: Box<dyn Val + 'v> = match key_str(idx)? {
            "score" => Box::new(CelDouble::from(s.score)),
            "detector" => Box::new(CelString::from(s.detector.as_str())),
            "version" => Box::new(CelInt::from(i64::from(s.version))),
            "evidence" => Box::new(Evidence(&s.evidence)),
            other => return Err(ExecutionError::no_such_key(other)),
        };
        Ok(CowVal::Owned(v))
    }

    fn steal<'v>(self: Box<Self>, idx: &dyn Val) -> Result<Box<dyn Val + 'v>, ExecutionError>
    where
        Self: 'v,
    {
        self.get(idx).map(CowVal::into_owned)
    }
}

impl Container for OneSignal<'_> {
    fn contains(&self, key: &dyn Val) -> Result<bool, ExecutionError> {
        let name = key_str(key)?;
        Ok(SIGNAL_FIELDS.iter().any(|(f, _)| *f == name))
    }
}

impl Sizer for OneSignal<'_> {
    fn size(&self) -> CelInt {
        CelInt::from(SIGNAL_FIELDS.len() as i64)
    }
}

map_val!(OneSignal<'a>);

/// A signal's evidence.
#[derive(Debug, Clone, Copy)]
struct Evidence<'a>(&'a serde_json::Map<String, Json>);

impl Indexer for Evidence<'_> {
    fn get<'b, 'v>(&'b self, idx: &dyn Val) -> Result<CowVal<'b, 'v>, ExecutionError>
    where
        Self: 'v,
    {
        let key = key_str(idx)?;
        match self.0.get(key) {
            Some(v) => Ok(CowVal::Owned(json_val(v))),
            None => Err(ExecutionError::no_such_key(key)),
        }
    }

    fn steal<'v>(self: Box<Self>, idx: &dyn Val) -> Result<Box<dyn Val + 'v>, ExecutionError>
    where
        Self: 'v,
    {
        self.get(idx).map(CowVal::into_owned)
    }
}

impl Container for Evidence<'_> {
    fn contains(&self, key: &dyn Val) -> Result<bool, ExecutionError> {
        Ok(self.0.contains_key(key_str(key)?))
    }
}

impl Sizer for Evidence<'_> {
    fn size(&self) -> CelInt {
        CelInt::from(self.0.len() as i64)
    }
}

map_val!(Evidence<'a>);

static NULL: CelNull = CelNull;

/// The CEL variables of one event, built once and shared by every rule evaluated for it.
/// Building them copies nothing: fields are read from the input when a rule looks at them.
pub(crate) struct Vars<'a> {
    event: Record<'a, Event>,
    account: Option<Record<'a, Account>>,
    post: Option<Record<'a, Post>>,
    signals: Signals<'a>,
    standing: Option<Record<'a, Standing>>,
}

impl<'a> Vars<'a> {
    pub(crate) fn new(input: Input<'a>) -> Self {
        Vars {
            event: Record { value: input.event, fields: EVENT_FIELDS },
            account: input.account.map(|value| Record { value, fields: ACCOUNT_FIELDS }),
            post: input.post.map(|value| Record { value, fields: POST_FIELDS }),
            signals: Signals::new(input.signals),
            standing: input.standing.map(|value| Record { value, fields: STANDING_FIELDS }),
        }
    }
}

fn or_null<'b, V: Val + 'b>(value: &'b Option<V>) -> CowVal<'b, 'b> {
    match value {
        Some(v) => CowVal::Borrowed(v),
        None => CowVal::Borrowed(&NULL),
    }
}

impl VariableResolver for Vars<'_> {
    fn resolve<'b>(&'b self, variable: &str) -> Option<CowVal<'b, 'b>> {
        Some(match variable {
            "signals" => CowVal::Borrowed(&self.signals),
            "post" => or_null(&self.post),
            "event" => CowVal::Borrowed(&self.event),
            "account" => or_null(&self.account),
            "standing" => or_null(&self.standing),
            _ => return None,
        })
    }
}

/// A field of `case`, read from the input; `None` for a name that is not one.
pub(crate) fn case_field<'a>(case: &CaseInput<'a>, name: &str) -> Option<Scalar<'a>> {
    Some(match name {
        "subject" => s(case.subject),
        "category" => s(case.category),
        "queue" => s(case.queue),
        "reporters" => Scalar::Int(i64::from(case.reporters)),
        "reporter_weight" => Scalar::Double(case.reporter_weight),
        "reach" => int(case.reach),
        "decisions" => Scalar::Int(i64::from(case.decisions)),
        "signals" => Scalar::List(case.signals.iter().map(String::as_str).collect()),
        "appeal" => Scalar::Bool(case.appeal),
        _ => return None,
    })
}

/// `case`: a CEL map whose fields are read from the [`CaseInput`] when a route looks at them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CaseRecord<'a>(CaseInput<'a>);

impl Indexer for CaseRecord<'_> {
    fn get<'b, 'v>(&'b self, idx: &dyn Val) -> Result<CowVal<'b, 'v>, ExecutionError>
    where
        Self: 'v,
    {
        let name = key_str(idx)?;
        match case_field(&self.0, name) {
            Some(v) => Ok(CowVal::Owned(v.into_val())),
            None => Err(ExecutionError::no_such_key(name)),
        }
    }

    fn steal<'v>(self: Box<Self>, idx: &dyn Val) -> Result<Box<dyn Val + 'v>, ExecutionError>
    where
        Self: 'v,
    {
        self.get(idx).map(CowVal::into_owned)
    }
}

impl Container for CaseRecord<'_> {
    fn contains(&self, key: &dyn Val) -> Result<bool, ExecutionError> {
        let name = key_str(key)?;
        Ok(CASE_FIELDS.iter().any(|(f, _)| *f == name))
    }
}

impl Sizer for CaseRecord<'_> {
    fn size(&self) -> CelInt {
        CelInt::from(CASE_FIELDS.len() as i64)
    }
}

map_val!(CaseRecord<'a>);

/// The CEL variable of one case, shared by every route evaluated for it.
pub(crate) struct CaseVars<'a>(CaseRecord<'a>);

impl<'a> CaseVars<'a> {
    pub(crate) fn new(case: CaseInput<'a>) -> Self {
        CaseVars(CaseRecord(case))
    }
}

impl VariableResolver for CaseVars<'_> {
    fn resolve<'b>(&'b self, variable: &str) -> Option<CowVal<'b, 'b>> {
        (variable == "case").then_some(CowVal::Borrowed(&self.0))
    }
}

/// The post and account an event carries itself, for [`Input::new`].
pub(crate) fn from_payload(event: &Event) -> (Option<&Account>, Option<&Post>) {
    match &event.payload {
        Payload::AccountUpserted(a) => (Some(a), None),
        Payload::PostCreated(p) => (None, Some(p)),
        _ => (None, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every field the checker knows is one the case has, with the type it says.
    #[test]
    fn case_fields_are_all_read() {
        let signals = vec!["rumour_match".to_string()];
        let case = CaseInput {
            subject: "post",
            category: "c",
            queue: "q",
            reporters: 3,
            reporter_weight: 1.5,
            reach: u64::MAX,
            decisions: 1,
            signals: &signals,
            appeal: true,
        };
        for (name, ty) in CASE_FIELDS {
            let value = case_field(&case, name).unwrap_or_else(|| panic!("{name}"));
            let ok = matches!(
                (ty, &value),
                (Ty::Str, Scalar::Str(_))
                    | (Ty::Int, Scalar::Int(_))
                    | (Ty::Double, Scalar::Double(_))
                    | (Ty::Bool, Scalar::Bool(_))
                    | (Ty::StrList, Scalar::List(_))
            );
            assert!(ok, "{name}: {value:?} is not {}", ty.describe());
        }
        assert_eq!(case_field(&case, "reach"), Some(Scalar::Int(i64::MAX)));
        assert_eq!(case_field(&case, "nope"), None);
    }
}
