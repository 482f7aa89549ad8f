//! The event envelope and its validation.
//!
//! An event is `{"id", "type", "at", "<entity>": {...}}`. [`parse_event`] turns one raw record
//! into an [`Event`] or a [`RecordError`] that names the field and the reason; it never
//! panics, whatever the bytes.

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

use crate::entity::*;

/// Size limits applied to every record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted record (one JSON object), in bytes.
    pub max_record_bytes: usize,
    /// Largest accepted text field (post text, bio, claim, ...), in bytes.
    pub max_text_bytes: usize,
    /// Largest accepted identifier, in bytes.
    pub max_id_bytes: usize,
    /// Most items in any list of a record (an account's monetization features, a post's
    /// media, an identity's aliases, ...). Policies iterate such lists, so their cost is
    /// bounded by it.
    pub max_list_items: usize,
    /// How far in the future an event or post time may lie (clock skew).
    pub max_future_skew: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_record_bytes: 256 * 1024,
            max_text_bytes: 64 * 1024,
            max_id_bytes: 256,
            max_list_items: 100,
            max_future_skew: Duration::hours(24),
        }
    }
}

/// The earliest time steward accepts: nothing it governs predates 2000.
pub fn earliest_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).unwrap()
}

/// A validated event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: String,
    pub at: DateTime<Utc>,
    pub payload: Payload,
}

/// What an event carries; the variant fixes the event type.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    AccountUpserted(Account),
    PostCreated(Post),
    PostDeleted(PostRef),
    ReportCreated(Report),
    FactCheckUpserted(FactCheck),
    IdentityUpserted(Identity),
    CredentialVerified(Credential),
    FollowerSnapshot(FollowerSnapshot),
}

impl Payload {
    /// The upsert payload for a stored entity's current state (`kind` as in [`EVENT_TYPES`]),
    /// for rebuilding in-memory knowledge at start. `None` for kinds that have no upsert.
    pub fn from_entity(kind: &str, body: &str) -> Option<Result<Payload, serde_json::Error>> {
        fn parse<T: DeserializeOwned>(body: &str, wrap: fn(T) -> Payload) -> Result<Payload, serde_json::Error> {
            serde_json::from_str(body).map(wrap)
        }
        Some(match kind {
            "account" => parse(body, Payload::AccountUpserted),
            "factcheck" => parse(body, Payload::FactCheckUpserted),
            "identity" => parse(body, Payload::IdentityUpserted),
            "credential" => parse(body, Payload::CredentialVerified),
            "snapshot" => parse(body, Payload::FollowerSnapshot),
            _ => return None,
        })
    }
}

/// Every event type with the name of the field that holds its payload.
pub const EVENT_TYPES: &[(&str, &str)] = &[
    ("account.upserted", "account"),
    ("post.created", "post"),
    ("post.deleted", "post"),
    ("report.created", "report"),
    ("factcheck.upserted", "factcheck"),
    ("identity.upserted", "identity"),
    ("credential.verified", "credential"),
    ("follower.snapshot", "snapshot"),
];

impl Payload {
    /// The event type string, e.g. `post.created`.
    pub fn event_type(&self) -> &'static str {
        match self {
            Payload::AccountUpserted(_) => "account.upserted",
            Payload::PostCreated(_) => "post.created",
            Payload::PostDeleted(_) => "post.deleted",
            Payload::ReportCreated(_) => "report.created",
            Payload::FactCheckUpserted(_) => "factcheck.upserted",
            Payload::IdentityUpserted(_) => "identity.upserted",
            Payload::CredentialVerified(_) => "credential.verified",
            Payload::FollowerSnapshot(_) => "follower.snapshot",
        }
    }

    /// The account the event concerns, if any.
    pub fn account_id(&self) -> Option<&str> {
        match self {
            Payload::AccountUpserted(a) => Some(&a.id),
            Payload::PostCreated(p) => Some(&p.account_id),
            Payload::PostDeleted(p) => p.account_id.as_deref(),
            Payload::ReportCreated(r) => r.account_id.as_deref(),
            Payload::CredentialVerified(c) => Some(&c.account_id),
            Payload::FollowerSnapshot(s) => Some(&s.account_id),
            Payload::FactCheckUpserted(_) | Payload::IdentityUpserted(_) => None,
        }
    }
}

/// The field of a rejection that is about the record as a whole (not UTF-8, too large, not
/// a JSON object, malformed JSON outside any field).
pub const RECORD: &str = "(record)";

/// Why a record was rejected: the field (a dotted path such as `post.account_id`, or
/// [`RECORD`] for the record itself) and the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{reason}", if field == RECORD { String::new() } else { format!("field `{field}`: ") })]
pub struct RecordError {
    pub field: String,
    pub reason: String,
}

impl RecordError {
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        RecordError { field: field.into(), reason: reason.into() }
    }

    /// A rejection of the record as a whole.
    pub fn record(reason: impl Into<String>) -> Self {
        Self::new(RECORD, reason)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope<'a> {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    at: String,
    #[serde(borrow, default)]
    account: Option<&'a RawValue>,
    #[serde(borrow, default)]
    post: Option<&'a RawValue>,
    #[serde(borrow, default)]
    report: Option<&'a RawValue>,
    #[serde(borrow, default)]
    factcheck: Option<&'a RawValue>,
    #[serde(borrow, default)]
    identity: Option<&'a RawValue>,
    #[serde(borrow, default)]
    credential: Option<&'a RawValue>,
    #[serde(borrow, default)]
    snapshot: Option<&'a RawValue>,
}

impl<'a> Envelope<'a> {
    fn payloads(&self) -> [(&'static str, Option<&'a RawValue>); 7] {
        [
            ("account", self.account),
            ("post", self.post),
            ("report", self.report),
            ("factcheck", self.factcheck),
            ("identity", self.identity),
            ("credential", self.credential),
            ("snapshot", self.snapshot),
        ]
    }
}

/// Parses and validates one record. `now` bounds how far in the future times may lie.
pub fn parse_event(bytes: &[u8], limits: &Limits, now: DateTime<Utc>) -> Result<Event, RecordError> {
    if bytes.len() > limits.max_record_bytes {
        return Err(RecordError::record(format!(
            "record is {} bytes, over the limit of {} bytes",
            bytes.len(),
            limits.max_record_bytes
        )));
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|e| RecordError::record(format!("invalid UTF-8 at byte {}", e.valid_up_to())))?;
    let envelope: Envelope = deserialize(text, "")?;
    check_id("id", &envelope.id, limits)?;
    let at = check_time("at", &envelope.at, limits, now)?;

    let Some(&(_, entity)) = EVENT_TYPES.iter().find(|(t, _)| *t == envelope.kind) else {
        let known: Vec<&str> = EVENT_TYPES.iter().map(|(t, _)| *t).collect();
        return Err(RecordError::new(
            "type",
            format!("unknown event type {:?}; known types: {}", envelope.kind, known.join(", ")),
        ));
    };
    let mut raw = None;
    for (name, value) in envelope.payloads() {
        match value {
            Some(v) if name == entity => raw = Some(v),
            Some(_) => {
                return Err(RecordError::new(
                    name,
                    format!("a {} event carries its payload under `{entity}`, not `{name}`", envelope.kind),
                ));
            }
            None => {}
        }
    }
    let raw = raw.ok_or_else(|| {
        RecordError::new(entity, format!("missing: a {} event needs a `{entity}` object", envelope.kind))
    })?;
    let raw = raw.get();
    let payload = match envelope.kind.as_str() {
        "account.upserted" => Payload::AccountUpserted(deserialize(raw, entity)?),
        "post.created" => Payload::PostCreated(deserialize(raw, entity)?),
        "post.deleted" => Payload::PostDeleted(deserialize(raw, entity)?),
        "report.created" => Payload::ReportCreated(deserialize(raw, entity)?),
        "factcheck.upserted" => Payload::FactCheckUpserted(deserialize(raw, entity)?),
        "identity.upserted" => Payload::IdentityUpserted(deserialize(raw, entity)?),
        "credential.verified" => Payload::CredentialVerified(deserialize(raw, entity)?),
        "follower.snapshot" => Payload::FollowerSnapshot(deserialize(raw, entity)?),
        _ => unreachable!("event types are checked above"),
    };
    let event = Event { id: envelope.id, at, payload };
    validate_payload(&event.payload, limits, now)?;
    Ok(event)
}

fn deserialize<'de, T: Deserialize<'de>>(text: &'de str, prefix: &str) -> Result<T, RecordError> {
    // Valid records, nearly all of them, are read without tracking the path; a record that
    // fails is read again with it, for an error that names the field.
    let de = &mut serde_json::Deserializer::from_str(text);
    if let Ok(value) = T::deserialize(&mut *de)
        && de.end().is_ok()
    {
        return Ok(value);
    }
    let de = &mut serde_json::Deserializer::from_str(text);
    let value = serde_path_to_error::deserialize(&mut *de).map_err(|e| {
        let reason = e.inner().to_string();
        RecordError::new(field_path(&[prefix, &error_path(e.path(), &reason)]), reason)
    })?;
    de.end().map_err(|e| RecordError::new(field_path(&[prefix]), e.to_string()))?;
    Ok(value)
}

/// The field a deserialization error is about, as `post.media[1].kind`: the path the tracker
/// reached, and the field serde names in `reason` when it is missing or repeated. Empty when
/// the error is about the value as a whole.
pub fn error_path(path: &serde_path_to_error::Path, reason: &str) -> String {
    use serde_path_to_error::Segment;
    let mut parts: Vec<String> = path
        .iter()
        .filter_map(|segment| match segment {
            Segment::Seq { index } => Some(format!("[{index}]")),
            Segment::Map { key } | Segment::Enum { variant: key } => Some(key.clone()),
            // A key not read yet (a record cut short): the object that holds it.
            Segment::Unknown => None,
        })
        .collect();
    parts.push(named_field(reason).to_string());
    join_path(&parts)
}

/// The path of the non-empty parts (`post`, `media`, `[1]`, `kind`: `post.media[1].kind`),
/// or [`RECORD`] if there are none.
fn field_path(parts: &[&str]) -> String {
    let path = join_path(parts);
    if path.is_empty() { RECORD.to_string() } else { path }
}

fn join_path(parts: &[impl AsRef<str>]) -> String {
    let mut out = String::new();
    for part in parts.iter().map(AsRef::as_ref).filter(|p| !p.is_empty()) {
        if !out.is_empty() && !part.starts_with('[') {
            out.push('.');
        }
        out.push_str(part);
    }
    out
}

/// The field a serde error names but the path tracker does not reach: a missing or repeated
/// field is found while reading the object that holds it (whose path is tracked), before any
/// value of its own; serde names it only in its message (``missing field `at` ``). Empty
/// for any other error (an unknown field is in the path already).
fn named_field(reason: &str) -> &str {
    ["missing field `", "duplicate field `"]
        .iter()
        .find_map(|opening| reason.strip_prefix(opening)?.split_once('`').map(|(name, _)| name))
        .unwrap_or("")
}

/// Deserializes an owned value from JSON with the same field-precise errors as events.
pub fn from_json<T: DeserializeOwned>(text: &str) -> Result<T, RecordError> {
    deserialize(text, "")
}

/// The one validator of identifiers (event, account, post, group, report, fact-check and
/// identity ids): not empty nor only whitespace, within the length limit, and nothing that
/// renders as something else or as nothing. Ids are compared byte for byte and shown to
/// moderators, in statements of reasons and in logs: a control character or line break
/// forges log lines, a direction override or isolate (U+202A–U+202E, U+2066–U+2069) shows
/// an id in another order (`a1\u{202E}2b` reads as `a1b2`), and a zero-width or other
/// invisible character (U+200B, U+FEFF, a Hangul filler, …) makes two different ids look
/// alike. Format characters have no place in an identifier, so all of them are refused
/// (see [`is_invisible`](crate::chars::is_invisible)).
fn check_id(field: &str, id: &str, limits: &Limits) -> Result<(), RecordError> {
    if id.is_empty() {
        return Err(RecordError::new(field, "must not be empty"));
    }
    if id.len() > limits.max_id_bytes {
        return Err(RecordError::new(
            field,
            format!("is {} bytes, over the limit of {} bytes", id.len(), limits.max_id_bytes),
        ));
    }
    if id.trim().is_empty() {
        return Err(RecordError::new(field, "must not be whitespace only"));
    }
    let invisible = crate::chars::is_invisible;
    if let Some(c) = id.chars().find(|&c| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') || invisible(c)) {
        let what = if invisible(c) {
            "invisible or direction-changing characters"
        } else {
            "control characters or line breaks"
        };
        return Err(RecordError::new(field, format!("must not contain {what} (U+{:04X})", c as u32)));
    }
    Ok(())
}

fn check_text(field: &str, text: &str, limits: &Limits) -> Result<(), RecordError> {
    if text.len() > limits.max_text_bytes {
        return Err(RecordError::new(
            field,
            format!("is {} bytes, over the limit of {} bytes", text.len(), limits.max_text_bytes),
        ));
    }
    Ok(())
}

fn check_list(field: &str, items: usize, limits: &Limits) -> Result<(), RecordError> {
    if items > limits.max_list_items {
        return Err(RecordError::new(field, format!("has {items} items, over the limit of {}", limits.max_list_items)));
    }
    Ok(())
}

fn check_time(field: &str, text: &str, limits: &Limits, now: DateTime<Utc>) -> Result<DateTime<Utc>, RecordError> {
    let t = DateTime::parse_from_rfc3339(text)
        .map_err(|e| RecordError::new(field, format!("{text:?} is not an RFC 3339 time ({e})")))?
        .with_timezone(&Utc);
    check_range(field, t, limits, now)
}

fn check_range(
    field: &str,
    t: DateTime<Utc>,
    limits: &Limits,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, RecordError> {
    if t < earliest_time() {
        return Err(RecordError::new(field, format!("{} is before 2000-01-01", t.to_rfc3339())));
    }
    if t > now + limits.max_future_skew {
        return Err(RecordError::new(
            field,
            format!("{} is more than {} hours in the future", t.to_rfc3339(), limits.max_future_skew.num_hours()),
        ));
    }
    Ok(t)
}

fn validate_payload(payload: &Payload, limits: &Limits, now: DateTime<Utc>) -> Result<(), RecordError> {
    match payload {
        Payload::AccountUpserted(a) => {
            check_id("account.id", &a.id, limits)?;
            check_text("account.handle", &a.handle, limits)?;
            check_text("account.display_name", &a.display_name, limits)?;
            check_text("account.bio", &a.bio, limits)?;
            check_list("account.monetization", a.monetization.len(), limits)?;
            for (i, feature) in a.monetization.iter().enumerate() {
                check_id(&format!("account.monetization[{i}]"), feature, limits)?;
            }
        }
        Payload::PostCreated(p) => {
            check_id("post.id", &p.id, limits)?;
            check_id("post.account_id", &p.account_id, limits)?;
            check_text("post.text", &p.text, limits)?;
            if let Some(title) = &p.title {
                check_text("post.title", title, limits)?;
            }
            if let Some(g) = &p.group_id {
                check_id("post.group_id", g, limits)?;
            }
            if let Some(r) = &p.reposted_from {
                check_id("post.reposted_from", r, limits)?;
            }
            check_range("post.created_at", p.created_at, limits, now)?;
            check_list("post.media", p.media.len(), limits)?;
        }
        Payload::PostDeleted(p) => {
            check_id("post.id", &p.id, limits)?;
            if let Some(a) = &p.account_id {
                check_id("post.account_id", a, limits)?;
            }
        }
        Payload::ReportCreated(r) => {
            check_id("report.id", &r.id, limits)?;
            check_id("report.reporter_id", &r.reporter_id, limits)?;
            if let Some(p) = &r.post_id {
                check_id("report.post_id", p, limits)?;
            }
            if let Some(a) = &r.account_id {
                check_id("report.account_id", a, limits)?;
            }
            if r.post_id.is_none() && r.account_id.is_none() {
                return Err(RecordError::new("report", "needs `post_id` or `account_id`"));
            }
            check_text("report.text", &r.text, limits)?;
        }
        Payload::FactCheckUpserted(f) => {
            check_id("factcheck.id", &f.id, limits)?;
            if f.claim.trim().is_empty() {
                return Err(RecordError::new("factcheck.claim", "must not be empty"));
            }
            check_text("factcheck.claim", &f.claim, limits)?;
            check_text("factcheck.explanation", &f.explanation, limits)?;
            if let Some(at) = f.published_at {
                check_range("factcheck.published_at", at, limits, now)?;
            }
        }
        Payload::IdentityUpserted(i) => {
            check_id("identity.id", &i.id, limits)?;
            for (n, owner) in i.owner_account_ids.iter().enumerate() {
                check_id(&format!("identity.owner_account_ids[{n}]"), owner, limits)?;
            }
            if i.name.trim().is_empty() {
                return Err(RecordError::new("identity.name", "must not be empty"));
            }
            check_text("identity.name", &i.name, limits)?;
            check_list("identity.aliases", i.aliases.len(), limits)?;
            check_list("identity.owner_account_ids", i.owner_account_ids.len(), limits)?;
            check_list("identity.avatar_hashes", i.avatar_hashes.len(), limits)?;
        }
        Payload::CredentialVerified(c) => check_id("credential.account_id", &c.account_id, limits)?,
        Payload::FollowerSnapshot(s) => check_id("snapshot.account_id", &s.account_id, limits)?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap()
    }

    fn parse(s: &str) -> Result<Event, RecordError> {
        parse_event(s.as_bytes(), &Limits::default(), now())
    }

    const POST: &str = r#"{"id":"e1","type":"post.created","at":"2026-11-22T08:00:00Z","post":{"id":"p1","account_id":"a1","kind":"short_post","text":"你好","created_at":"2026-11-22T08:00:00Z","ai_generated":{"declared":true,"implicit_label":false},"explicit_label":false}}"#;

    #[test]
    fn parses_the_contract_example() {
        let e = parse(POST).unwrap();
        assert_eq!(e.id, "e1");
        let Payload::PostCreated(p) = e.payload else { panic!("not a post") };
        assert_eq!(p.text, "你好");
        assert_eq!(p.ai_generated, Some(AiGenerated { declared: true, implicit_label: false }));
    }

    #[test]
    fn malformed_json_names_the_position() {
        let err = parse(r#"{"id":"e1","type":"#).unwrap_err();
        assert!(err.reason.contains("EOF"), "{err}");
    }

    #[test]
    fn wrong_type_names_the_field() {
        let err = parse(&POST.replace(r#""declared":true"#, r#""declared":"yes""#)).unwrap_err();
        assert_eq!(err.field, "post.ai_generated.declared");
        assert!(err.reason.contains("expected a boolean"), "{err}");
    }

    #[test]
    fn misspelt_field_is_rejected() {
        let err = parse(&POST.replace("explicit_label", "explicit_lable")).unwrap_err();
        assert!(err.reason.contains("unknown field `explicit_lable`"), "{err}");
    }

    #[test]
    fn unknown_event_type_lists_known_ones() {
        let err = parse(&POST.replace("post.created", "post.liked")).unwrap_err();
        assert_eq!(err.field, "type");
        assert!(err.reason.contains("post.created"), "{err}");
    }

    #[test]
    fn payload_under_the_wrong_name_is_rejected() {
        let err = parse(&POST.replace("post.created", "account.upserted")).unwrap_err();
        assert_eq!(err.field, "post");
    }

    #[test]
    fn oversized_text_is_rejected() {
        let big = "字".repeat(30_000);
        let err = parse(&POST.replace("你好", &big)).unwrap_err();
        assert_eq!(err.field, "post.text");
        assert!(err.reason.contains("over the limit"), "{err}");
    }

    #[test]
    fn long_lists_are_rejected() {
        let account = |features: usize| {
            let list: Vec<String> = (0..features).map(|i| format!("\"f{i}\"")).collect();
            format!(
                r#"{{"id":"e1","type":"account.upserted","at":"2026-11-22T08:00:00Z","account":{{"id":"a1","handle":"h","display_name":"d","bio":"","monetization":[{}]}}}}"#,
                list.join(",")
            )
        };
        assert!(parse(&account(100)).is_ok());
        let err = parse(&account(101)).unwrap_err();
        assert_eq!(err.field, "account.monetization");
        assert!(err.reason.contains("101 items, over the limit of 100"), "{err}");
        // A feature is a name, held to the limit of ids.
        let long = account(1).replace("\"f0\"", &format!("\"{}\"", "f".repeat(300)));
        assert_eq!(parse(&long).unwrap_err().field, "account.monetization[0]");
    }

    #[test]
    fn oversized_record_is_rejected_before_parsing() {
        let big = "x".repeat(300_000);
        let err = parse(&POST.replace("你好", &big)).unwrap_err();
        assert_eq!(err.field, RECORD);
        assert!(err.reason.contains("record is"), "{err}");
        assert_eq!(err.to_string(), err.reason, "the record is not named as a field");
    }

    #[test]
    fn invalid_utf8_is_rejected() {
        let mut bytes = POST.as_bytes().to_vec();
        let i = POST.find("你好").unwrap();
        bytes[i] = 0xff;
        let err = parse_event(&bytes, &Limits::default(), now()).unwrap_err();
        assert!(err.reason.contains("invalid UTF-8"), "{err}");
        assert_eq!(err.field, RECORD);
    }

    #[test]
    fn missing_field_is_named_with_its_path() {
        let err = parse(&POST.replace(r#""at":"2026-11-22T08:00:00Z","#, "")).unwrap_err();
        assert_eq!((err.field.as_str(), err.to_string().starts_with("field `at`: missing field `at`")), ("at", true));
        let err = parse(&POST.replace(r#""account_id":"a1","#, "")).unwrap_err();
        assert_eq!(err.field, "post.account_id", "{err}");
        let mut event: serde_json::Value = serde_json::from_str(POST).unwrap();
        event["post"]["media"] = serde_json::json!([{"kind": "image"}, {"hash": "h"}]);
        let err = parse(&event.to_string()).unwrap_err();
        assert_eq!(err.field, "post.media[1].kind", "{err}");
    }

    #[test]
    fn duplicate_key_is_named_with_its_path() {
        let err = parse(&POST.replacen(r#""id":"e1","#, r#""id":"e1","id":"e2","#, 1)).unwrap_err();
        assert_eq!(err.field, "id", "{err}");
        assert!(err.reason.contains("duplicate field `id`"), "{err}");
        let err = parse(&POST.replace(r#""text":"你好","#, r#""text":"你好","text":"再见","#)).unwrap_err();
        assert_eq!(err.field, "post.text", "{err}");
        let err = parse(&POST.replace(r#","explicit_label":false}}"#, r#"},"post":{}}"#)).unwrap_err();
        assert_eq!(err.field, "post", "{err}");
    }

    #[test]
    fn unknown_field_is_named_with_its_path() {
        let err = parse(&POST.replace("explicit_label", "explicit_lable")).unwrap_err();
        assert_eq!(err.field, "post.explicit_lable", "{err}");
        let err = parse(&POST.replacen(r#""id":"e1","#, r#""id":"e1","i`d, expected":1,"#, 1)).unwrap_err();
        assert_eq!(err.field, "i`d, expected", "{err}");
    }

    #[test]
    fn a_record_that_is_not_an_object_is_rejected_whole() {
        for record in ["3", "[]", r#""e1""#, "null", "{", "", &format!("{POST} {{}}")] {
            let err = parse(record).unwrap_err();
            assert_eq!(err.field, RECORD, "{record}: {err}");
            assert!(!err.to_string().starts_with("field"), "{err}");
        }
        let err = parse(&POST.replace(r#""post":{"#, r#""post":[{"#).replace("}}", "}]}")).unwrap_err();
        assert_eq!(err.field, "post[0]", "{err}");
    }

    #[test]
    fn absurd_timestamps_are_rejected() {
        for (at, what) in [("9999-01-01T00:00:00Z", "future"), ("1970-01-01T00:00:00Z", "before 2000")] {
            let err = parse(&POST.replace(r#""at":"2026-11-22T08:00:00Z""#, &format!(r#""at":"{at}""#))).unwrap_err();
            assert_eq!(err.field, "at");
            assert!(err.reason.contains(what), "{err}");
        }
        let err = parse(&POST.replace(r#""at":"2026-11-22T08:00:00Z""#, r#""at":"yesterday""#)).unwrap_err();
        assert!(err.reason.contains("RFC 3339"), "{err}");
        let err =
            parse(&POST.replace(r#""created_at":"2026-11-22T08:00:00Z""#, r#""created_at":"3026-11-22T08:00:00Z""#))
                .unwrap_err();
        assert_eq!(err.field, "post.created_at");
    }

    #[test]
    fn empty_id_is_rejected() {
        let err = parse(&POST.replace(r#""id":"e1""#, r#""id":"""#)).unwrap_err();
        assert_eq!(err.field, "id");
    }

    /// One record of each type with every id field it has set to `ID` (and the field's path).
    const WITH_IDS: &[(&str, &[&str])] = &[
        (r#""type":"account.upserted","account":{"id":ID,"handle":"h","display_name":"d"}"#, &["account.id"]),
        (
            r#""type":"post.created","post":{"id":ID,"account_id":ID,"kind":"comment","text":"t","created_at":"2026-11-22T08:00:00Z","group_id":ID,"reposted_from":ID}"#,
            &["post.id", "post.account_id", "post.group_id", "post.reposted_from"],
        ),
        (r#""type":"post.deleted","post":{"id":ID,"account_id":ID}"#, &["post.id", "post.account_id"]),
        (
            r#""type":"report.created","report":{"id":ID,"reporter_id":ID,"post_id":ID,"account_id":ID,"reason":"spam"}"#,
            &["report.id", "report.reporter_id", "report.post_id", "report.account_id"],
        ),
        (
            r#""type":"factcheck.upserted","factcheck":{"id":ID,"claim":"c","verdict":"false","publisher":"p"}"#,
            &["factcheck.id"],
        ),
        (
            r#""type":"identity.upserted","identity":{"id":ID,"name":"n","kind":"police","owner_account_ids":["a1",ID]}"#,
            &["identity.id", "identity.owner_account_ids[1]"],
        ),
        (
            r#""type":"credential.verified","credential":{"account_id":ID,"field":"law","title":"lawyer"}"#,
            &["credential.account_id"],
        ),
        (r#""type":"follower.snapshot","snapshot":{"account_id":ID,"followers":3}"#, &["snapshot.account_id"]),
    ];

    #[test]
    fn every_id_field_refuses_blank_and_bidi_ids() {
        let bad = [
            ("   ", "whitespace only"),
            ("\u{3000}", "whitespace only"),
            ("a1\u{202e}2b", "direction-changing"),
            ("a\u{2067}b\u{2069}", "direction-changing"),
            ("a1\u{200b}", "invisible"),
            ("\u{feff}a1", "invisible"),
            ("a\u{2028}b", "line breaks"),
            ("a\u{0007}", "control characters"),
        ];
        for &(body, fields) in WITH_IDS {
            let record = |at: usize, id: &str| {
                let mut n = 0;
                let body = body
                    .split("ID")
                    .enumerate()
                    .map(|(i, part)| {
                        if i == 0 {
                            return part.to_string();
                        }
                        n += 1;
                        let id = if n - 1 == at { serde_json::to_string(id).unwrap() } else { format!("\"ok{n}\"") };
                        format!("{id}{part}")
                    })
                    .collect::<String>();
                format!(r#"{{"id":"e1","at":"2026-11-22T08:00:00Z",{body}}}"#)
            };
            parse(&record(usize::MAX, "")).unwrap_or_else(|e| panic!("{body}: {e}"));
            for (at, field) in fields.iter().enumerate() {
                for (id, why) in bad {
                    let err = parse(&record(at, id)).unwrap_err();
                    assert_eq!(err.field, *field, "{id:?} in {body}: {err}");
                    assert!(err.reason.contains(why), "{id:?}: {err}");
                }
            }
        }
        let err = parse(&POST.replace(r#""id":"e1""#, r#""id":"e\u202e1""#)).unwrap_err();
        assert_eq!(err.field, "id", "{err}");
        // Letters of any script, spaces inside and visible punctuation stay valid.
        for id in ["用户 42", "a-1_b.c:d/e@f", "ユーザー", "𝕏1"] {
            parse(&POST.replace(r#""id":"e1""#, &format!(r#""id":"{id}""#))).unwrap();
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut seed = 7u64;
        for len in 0..2000 {
            let mut bytes: Vec<u8> = POST.as_bytes().to_vec();
            for _ in 0..(len % 7 + 1) {
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let i = (seed >> 33) as usize % bytes.len();
                bytes[i] = (seed >> 13) as u8;
            }
            if let Err(e) = parse_event(&bytes, &Limits::default(), now()) {
                assert!(!e.field.is_empty(), "{e}");
            }
        }
    }
}
