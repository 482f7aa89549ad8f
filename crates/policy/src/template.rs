//! Reason templates: text with `{{path}}` placeholders, compiled at load into segments and
//! rendered straight from the input (no CEL involved).

use crate::check::check_path;
use crate::vars::{FixedField, ROOTS, find_signal, write_json};
use crate::{Input, Schema};

/// What a placeholder reads.
#[derive(Debug, Clone, PartialEq)]
enum Placeholder {
    Fixed(FixedField),
    Score(String),
    Detector(String),
    Version(String),
    /// Signal name, evidence key, then keys into structured evidence.
    Evidence(String, Vec<String>),
}

#[derive(Debug, Clone, PartialEq)]
enum Segment {
    Text(String),
    Value(Placeholder),
}

/// A compiled reason template.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Template {
    pub source: String,
    segments: Vec<Segment>,
}

/// A problem in a template: byte offset into the template text, and a message.
pub(crate) type TemplateProblem = (usize, String);

fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl Template {
    /// Compiles `source`, reporting every problem in it.
    pub(crate) fn compile(source: &str, schema: &Schema) -> Result<Template, Vec<TemplateProblem>> {
        let mut segments = Vec::new();
        let mut problems = Vec::new();
        let mut rest = source;
        let mut offset = 0;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                segments.push(Segment::Text(rest[..open].to_string()));
            }
            let inner_start = open + 2;
            let Some(close) = rest[inner_start..].find("}}") else {
                problems.push((offset + open, "`{{` is not closed by `}}`".to_string()));
                rest = "";
                break;
            };
            let raw = &rest[inner_start..inner_start + close];
            let lead = raw.len() - raw.trim_start().len();
            let at = offset + inner_start + lead;
            match Self::placeholder(raw.trim(), schema) {
                Ok(p) => segments.push(Segment::Value(p)),
                Err((seg_offset, msg)) => problems.push((at + seg_offset, msg)),
            }
            let consumed = inner_start + close + 2;
            offset += consumed;
            rest = &rest[consumed..];
        }
        if !rest.is_empty() {
            segments.push(Segment::Text(rest.to_string()));
        }
        if problems.is_empty() { Ok(Template { source: source.to_string(), segments }) } else { Err(problems) }
    }

    /// Parses and checks one placeholder's path. On error: byte offset within `path`.
    fn placeholder(path: &str, schema: &Schema) -> Result<Placeholder, (usize, String)> {
        if path.is_empty() {
            return Err((0, "empty placeholder `{{}}`: name a value, e.g. `{{post.id}}`".to_string()));
        }
        let parts: Vec<&str> = path.split('.').collect();
        let starts: Vec<usize> = parts
            .iter()
            .scan(0, |pos, p| {
                let start = *pos;
                *pos += p.len() + 1;
                Some(start)
            })
            .collect();
        if let Some(i) = parts.iter().position(|p| !is_ident(p)) {
            return Err((
                starts[i],
                format!(
                    "`{{{{{path}}}}}` is not a path: write names separated by dots, e.g. `{{{{signals.x.evidence.y}}}}`"
                ),
            ));
        }
        let (root, segs) = (parts[0], &parts[1..]);
        check_path(schema, ROOTS, root, segs).map_err(|(i, msg)| (starts[i], msg))?;
        let whole = |what: &str| Err((0, format!("`{{{{{path}}}}}` is {what}, not a value: name one of its fields")));
        if root == "signals" {
            let (Some(name), Some(field)) = (segs.first(), segs.get(1)) else {
                return whole(if segs.is_empty() { "the map of signals" } else { "a signal" });
            };
            let name = name.to_string();
            return Ok(match *field {
                "score" => Placeholder::Score(name),
                "detector" => Placeholder::Detector(name),
                "version" => Placeholder::Version(name),
                _ if segs.len() > 2 => Placeholder::Evidence(name, segs[2..].iter().map(|s| s.to_string()).collect()),
                _ => return whole("the evidence map"),
            });
        }
        match segs.first().and_then(|f| FixedField::find(root, f)) {
            Some(f) => Ok(Placeholder::Fixed(f)),
            None => whole("a variable"),
        }
    }

    /// Renders the template for `input`; values that are missing render as nothing.
    pub(crate) fn render(&self, input: &Input<'_>) -> String {
        let mut out = String::with_capacity(self.source.len() + 32);
        for seg in &self.segments {
            match seg {
                Segment::Text(t) => out.push_str(t),
                Segment::Value(Placeholder::Fixed(f)) => f.read(input).write_to(&mut out),
                Segment::Value(Placeholder::Score(name)) => {
                    if let Some(s) = find_signal(input.signals, name) {
                        out.push_str(&s.score.to_string());
                    }
                }
                Segment::Value(Placeholder::Detector(name)) => {
                    if let Some(s) = find_signal(input.signals, name) {
                        out.push_str(&s.detector);
                    }
                }
                Segment::Value(Placeholder::Version(name)) => {
                    if let Some(s) = find_signal(input.signals, name) {
                        out.push_str(&s.version.to_string());
                    }
                }
                Segment::Value(Placeholder::Evidence(name, keys)) => {
                    let Some(signal) = find_signal(input.signals, name) else { continue };
                    let mut value = signal.evidence.get(&keys[0]);
                    for key in &keys[1..] {
                        value = value.and_then(|v| v.get(key.as_str()));
                    }
                    if let Some(v) = value {
                        write_json(v, &mut out);
                    }
                }
            }
        }
        out
    }
}
