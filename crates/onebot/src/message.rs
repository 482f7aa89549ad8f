//! Message segments in both OneBot v11 forms: the array of `{type, data}` objects and the
//! CQ-code string (`text[CQ:at,qq=123]more`).
//!
//! Escaping in the string form: plain text escapes `&`, `[` and `]` (`&amp;`, `&#91;`,
//! `&#93;`); a CQ-code parameter value also escapes `,` (`&#44;`). Decoding is one pass, so
//! `&amp;#91;` stays the literal text `&#91;`.

use serde_json::{Map, Value};

/// One part of a message.
#[derive(Debug, Clone, PartialEq)]
pub enum Segment {
    /// Plain text, unescaped.
    Text { text: String },
    /// A mention: a user's id as a decimal string, or `all`.
    At { qq: String },
    /// A quote of an earlier message.
    Reply { id: String },
    /// A QQ face (emoji) by its id.
    Face { id: String },
    /// An image; `url` when the implementation gives one.
    Image { file: String, url: Option<String> },
    /// Any other segment, kept whole.
    Other { kind: String, data: Map<String, Value> },
}

impl Segment {
    /// A text segment.
    pub fn text(text: impl Into<String>) -> Segment {
        Segment::Text { text: text.into() }
    }

    /// A mention of `qq` (a user id or `all`).
    pub fn at(qq: impl Into<String>) -> Segment {
        Segment::At { qq: qq.into() }
    }

    /// The segment type, as in `type` of the array form.
    pub fn kind(&self) -> &str {
        match self {
            Segment::Text { .. } => "text",
            Segment::At { .. } => "at",
            Segment::Reply { .. } => "reply",
            Segment::Face { .. } => "face",
            Segment::Image { .. } => "image",
            Segment::Other { kind, .. } => kind,
        }
    }

    /// The segment's `data` object.
    pub fn data(&self) -> Map<String, Value> {
        let mut data = Map::new();
        let mut put = |k: &str, v: &str| data.insert(k.to_string(), Value::String(v.to_string()));
        match self {
            Segment::Text { text } => put("text", text),
            Segment::At { qq } => put("qq", qq),
            Segment::Reply { id } | Segment::Face { id } => put("id", id),
            Segment::Image { file, url } => {
                if let Some(url) = url {
                    put("url", url);
                }
                put("file", file)
            }
            Segment::Other { data, .. } => return data.clone(),
        };
        data
    }

    /// The array-form object `{"type": ..., "data": {...}}`.
    pub fn to_json(&self) -> Value {
        let mut obj = Map::new();
        obj.insert("type".into(), Value::String(self.kind().to_string()));
        obj.insert("data".into(), Value::Object(self.data()));
        Value::Object(obj)
    }

    /// A segment from its type and data; the known types become typed variants when their
    /// fields are scalars, anything else is kept as [`Segment::Other`].
    pub fn from_parts(kind: &str, data: Map<String, Value>) -> Segment {
        let field = |name: &str| data.get(name).and_then(scalar);
        let typed = match kind {
            "text" => field("text").map(|text| Segment::Text { text }),
            "at" => field("qq").map(|qq| Segment::At { qq }),
            "reply" => field("id").map(|id| Segment::Reply { id }),
            "face" => field("id").map(|id| Segment::Face { id }),
            "image" => field("file").map(|file| Segment::Image { file, url: field("url") }),
            _ => None,
        };
        typed.unwrap_or_else(|| Segment::Other { kind: kind.to_string(), data })
    }
}

/// A scalar JSON value as text (strings as they are, numbers and booleans written out).
pub(crate) fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Why an array-form message was refused, and where (a path below the message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentError {
    /// Path below the message, e.g. `[2].type`.
    pub path: String,
    /// What was wrong.
    pub reason: String,
}

/// Parses the array form.
pub fn parse_array(items: &[Value]) -> Result<Vec<Segment>, SegmentError> {
    let err =
        |i: usize, field: &str, reason: &str| SegmentError { path: format!("[{i}]{field}"), reason: reason.into() };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let obj = item.as_object().ok_or_else(|| err(i, "", "a segment must be an object"))?;
        let kind = match obj.get("type") {
            Some(Value::String(t)) if !t.is_empty() => t,
            Some(_) => return Err(err(i, ".type", "must be a non-empty string")),
            None => return Err(err(i, ".type", "missing")),
        };
        let data = match obj.get("data") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(m)) => m.clone(),
            Some(_) => return Err(err(i, ".data", "must be an object or null")),
        };
        out.push(Segment::from_parts(kind, data));
    }
    Ok(out)
}

/// Renders the array form.
pub fn to_array(segments: &[Segment]) -> Value {
    Value::Array(segments.iter().map(Segment::to_json).collect())
}

/// Parses the CQ-code string form. Never fails: anything that is not a well-formed CQ code
/// (`[CQ:` + a name of letters, digits, `_`, `.` or `-` + parameters + `]`) is text.
pub fn parse_cq(source: &str) -> Vec<Segment> {
    let mut out = Vec::new();
    let mut text = String::new();
    let mut rest = source;
    while let Some(start) = rest.find("[CQ:") {
        let after = &rest[start + 4..];
        let Some(end) = after.find(']') else { break };
        let body = &after[..end];
        let (kind, params) = body.split_once(',').unwrap_or((body, ""));
        let valid = !kind.is_empty() && kind.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
        if !valid {
            // Not a code: keep `[CQ:` as text and look further on.
            text.push_str(&unescape(&rest[..start + 4]));
            rest = after;
            continue;
        }
        text.push_str(&unescape(&rest[..start]));
        rest = &after[end + 1..];
        let mut data = Map::new();
        for part in params.split(',').filter(|p| !p.is_empty()) {
            let (key, value) = part.split_once('=').unwrap_or((part, ""));
            data.insert(key.to_string(), Value::String(unescape(value)));
        }
        match Segment::from_parts(kind, data) {
            // A `[CQ:text,...]` code is text like any other, joined to its neighbours.
            Segment::Text { text: t } => text.push_str(&t),
            segment => {
                if !text.is_empty() {
                    out.push(Segment::Text { text: std::mem::take(&mut text) });
                }
                out.push(segment);
            }
        }
    }
    text.push_str(&unescape(rest));
    if !text.is_empty() {
        out.push(Segment::Text { text });
    }
    out
}

/// Renders the CQ-code string form.
pub fn to_cq(segments: &[Segment]) -> String {
    let mut out = String::new();
    for seg in segments {
        if let Segment::Text { text } = seg {
            escape_into(&mut out, text, false);
            continue;
        }
        out.push_str("[CQ:");
        out.push_str(seg.kind());
        for (key, value) in seg.data() {
            out.push(',');
            out.push_str(&key);
            out.push('=');
            match &value {
                Value::String(s) => escape_into(&mut out, s, true),
                Value::Null => {}
                other => escape_into(&mut out, &other.to_string(), true),
            }
        }
        out.push(']');
    }
    out
}

fn escape_into(out: &mut String, s: &str, in_param: bool) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '[' => out.push_str("&#91;"),
            ']' => out.push_str("&#93;"),
            ',' if in_param => out.push_str("&#44;"),
            c => out.push(c),
        }
    }
}

/// Decodes `&amp; &#91; &#93; &#44;` in one pass; any other `&` is kept.
fn unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let (c, len) = [("&amp;", '&'), ("&#91;", '['), ("&#93;", ']'), ("&#44;", ',')]
            .iter()
            .find(|(e, _)| tail.starts_with(e))
            .map_or(('&', 1), |(e, c)| (*c, e.len()));
        out.push(c);
        rest = &tail[len..];
    }
    out.push_str(rest);
    out
}

/// The text of a message, segments other than text left out.
pub fn plain_text(segments: &[Segment]) -> String {
    segments.iter().filter_map(|s| if let Segment::Text { text } = s { Some(text.as_str()) } else { None }).collect()
}

/// Whether the message mentions `self_id` by name (`@all` does not count).
pub fn mentions(segments: &[Segment], self_id: &str) -> bool {
    segments.iter().any(|s| matches!(s, Segment::At { qq } if qq == self_id))
}

/// The id of the message this one quotes, if it quotes one.
pub fn reply_to(segments: &[Segment]) -> Option<String> {
    segments.iter().find_map(|s| if let Segment::Reply { id } = s { Some(id.clone()) } else { None })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cq_string_with_escapes_parses_and_round_trips() {
        let s = "&#91;1&#93; a&amp;b[CQ:at,qq=123][CQ:share,title=x&#44;y&#91;z&#93;,url=http://a/?a=1&amp;b=2] done";
        let segs = parse_cq(s);
        assert_eq!(segs[0], Segment::text("[1] a&b"));
        assert_eq!(segs[1], Segment::at("123"));
        let Segment::Other { kind, data } = &segs[2] else { panic!("{:?}", segs[2]) };
        assert_eq!(kind, "share");
        assert_eq!(data["title"], "x,y[z]");
        assert_eq!(data["url"], "http://a/?a=1&b=2");
        assert_eq!(segs[3], Segment::text(" done"));
        assert_eq!(parse_cq(&to_cq(&segs)), segs);
    }

    #[test]
    fn value_with_equals_and_bare_key() {
        let segs = parse_cq("[CQ:share,title=a=b,flag][CQ:shake]");
        let Segment::Other { data, .. } = &segs[0] else { panic!() };
        assert_eq!(data["title"], "a=b");
        assert_eq!(data["flag"], "");
        assert_eq!(segs[1], Segment::Other { kind: "shake".into(), data: Map::new() });
    }

    #[test]
    fn broken_codes_are_text() {
        assert_eq!(parse_cq("[CQ:at,qq=1"), vec![Segment::text("[CQ:at,qq=1")]);
        assert_eq!(parse_cq("a[CQ:]b"), vec![Segment::text("a[CQ:]b")]);
        assert_eq!(parse_cq("&amp;#91; &x"), vec![Segment::text("&#91; &x")]);
        assert_eq!(parse_cq(""), vec![]);
        assert_eq!(parse_cq("a[CQ:text,text=b]c[CQ:text,text=]"), vec![Segment::text("abc")]);
    }

    #[test]
    fn array_form_with_numbers_and_unknown_types() {
        let v = json!([
            {"type": "reply", "data": {"id": -12345}},
            {"type": "at", "data": {"qq": 10001, "name": "bot"}},
            {"type": "text", "data": {"text": " hi [x]"}},
            {"type": "image", "data": {"file": "a.jpg", "url": "http://i/a.jpg", "summary": ""}},
            {"type": "face", "data": {"id": "178"}},
            {"type": "markdown", "data": {"content": {"nested": true}}},
            {"type": "shake", "data": null}
        ]);
        let segs = parse_array(v.as_array().unwrap()).unwrap();
        assert_eq!(segs[0], Segment::Reply { id: "-12345".into() });
        assert_eq!(segs[1], Segment::at("10001"));
        assert_eq!(segs[3], Segment::Image { file: "a.jpg".into(), url: Some("http://i/a.jpg".into()) });
        assert_eq!(segs[4], Segment::Face { id: "178".into() });
        assert_eq!(segs[5].kind(), "markdown");
        assert_eq!(segs[5].data()["content"], json!({"nested": true}));
        assert_eq!(plain_text(&segs), " hi [x]");
        assert!(mentions(&segs, "10001"));
        assert!(!mentions(&segs, "10002"));
        assert!(!mentions(&[Segment::at("all")], "10001"));
        assert_eq!(reply_to(&segs).as_deref(), Some("-12345"));
        let back = parse_array(to_array(&segs).as_array().unwrap()).unwrap();
        assert_eq!(back, segs);
        assert_eq!(to_cq(&segs[2..3]), " hi &#91;x&#93;");
    }

    #[test]
    fn array_errors_name_the_segment() {
        let e = parse_array(json!([{"type": "text", "data": {}}, {"data": {}}]).as_array().unwrap()).unwrap_err();
        assert_eq!(e.path, "[1].type");
        let e = parse_array(json!([{"type": "x", "data": 3}]).as_array().unwrap()).unwrap_err();
        assert_eq!(e.path, "[0].data");
        // A known type whose field is missing is kept whole, not dropped.
        let segs = parse_array(json!([{"type": "at", "data": {}}]).as_array().unwrap()).unwrap();
        assert_eq!(segs[0], Segment::Other { kind: "at".into(), data: Map::new() });
    }
}
