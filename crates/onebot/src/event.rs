//! Events an implementation pushes, and telling them from action responses on a shared
//! connection. Ids arrive as numbers or strings and leave as decimal strings.

use serde_json::{Map, Value};

use crate::action::Response;
use crate::message::{Segment, parse_array, parse_cq};

/// A frame that could not be read: where (a JSON path from `$`) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct ParseError {
    /// JSON path of the offending value, `$` for the frame itself.
    pub path: String,
    /// What was wrong with it.
    pub reason: String,
}

impl ParseError {
    pub(crate) fn new(path: impl Into<String>, reason: impl Into<String>) -> ParseError {
        ParseError { path: path.into(), reason: reason.into() }
    }
}

/// A member's role in a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Owner,
    Admin,
    Member,
    /// Missing or not one of the three.
    Unknown,
}

impl Role {
    /// From the protocol's `owner`, `admin`, `member`.
    pub fn parse(s: &str) -> Role {
        match s {
            "owner" => Role::Owner,
            "admin" => Role::Admin,
            "member" => Role::Member,
            _ => Role::Unknown,
        }
    }

    /// The protocol's name (`unknown` for [`Role::Unknown`]).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Member => "member",
            Role::Unknown => "unknown",
        }
    }
}

/// Who sent a message, as far as the implementation knows (best effort).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Sender {
    pub nickname: String,
    /// Group card (the name shown in the group); empty when none.
    pub card: String,
    pub role: Option<Role>,
}

impl Sender {
    /// The role, [`Role::Unknown`] when not given.
    pub fn role(&self) -> Role {
        self.role.unwrap_or(Role::Unknown)
    }
}

/// A message in a group.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupMessage {
    pub self_id: String,
    pub message_id: String,
    pub group_id: String,
    pub user_id: String,
    /// Unix seconds.
    pub time: i64,
    /// `normal`, `anonymous` or `notice`.
    pub sub_type: String,
    pub sender: Sender,
    pub message: Vec<Segment>,
    pub raw_message: String,
}

/// A private (one-to-one) message.
#[derive(Debug, Clone, PartialEq)]
pub struct PrivateMessage {
    pub self_id: String,
    pub message_id: String,
    pub user_id: String,
    pub time: i64,
    pub sub_type: String,
    pub sender: Sender,
    pub message: Vec<Segment>,
    pub raw_message: String,
}

/// A notice (member joined or left, recall, ban, ...), reduced to who and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub self_id: String,
    pub time: i64,
    pub notice_type: String,
    pub sub_type: Option<String>,
    pub group_id: Option<String>,
    pub user_id: Option<String>,
    pub operator_id: Option<String>,
}

/// A meta event about the implementation itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Meta {
    /// Alive; the next one is due in `interval_ms`.
    Heartbeat { self_id: String, interval_ms: Option<i64> },
    /// `enable`, `disable` or `connect`.
    Lifecycle { self_id: String, sub_type: String },
    /// Another meta event type.
    Other { self_id: String, meta_event_type: String },
}

/// One event.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    GroupMessage(GroupMessage),
    PrivateMessage(PrivateMessage),
    Notice(Notice),
    Meta(Meta),
    /// Requests, the bot's own sent messages and anything else, by `post_type`.
    Other {
        post_type: String,
        self_id: Option<String>,
    },
}

impl Event {
    /// The bot account the event is for, when the event names it.
    pub fn self_id(&self) -> Option<&str> {
        match self {
            Event::GroupMessage(m) => Some(&m.self_id),
            Event::PrivateMessage(m) => Some(&m.self_id),
            Event::Notice(n) => Some(&n.self_id),
            Event::Meta(
                Meta::Heartbeat { self_id, .. } | Meta::Lifecycle { self_id, .. } | Meta::Other { self_id, .. },
            ) => Some(self_id),
            Event::Other { self_id, .. } => self_id.as_deref(),
        }
    }
}

/// What arrives on a connection: an event, or the answer to an action.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    Event(Event),
    Response(Response),
}

/// Parses one frame: an object with `post_type` is an event; one with `echo`, `status` or
/// `retcode` and no `post_type` is an action response.
pub fn parse_frame(bytes: &[u8]) -> Result<Frame, ParseError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| ParseError::new("$", format!("not JSON: {e}")))?;
    let Value::Object(obj) = value else { return Err(ParseError::new("$", "expected a JSON object")) };
    if obj.contains_key("post_type") {
        return event_from(&obj).map(Frame::Event);
    }
    if ["echo", "status", "retcode"].iter().any(|k| obj.contains_key(*k)) {
        return Response::from_object(obj).map(Frame::Response);
    }
    Err(ParseError::new("$", "neither an event (no post_type) nor an action response (no status, retcode or echo)"))
}

/// Parses one event; an action response is an error here.
pub fn parse_event(bytes: &[u8]) -> Result<Event, ParseError> {
    match parse_frame(bytes)? {
        Frame::Event(e) => Ok(e),
        Frame::Response(_) => Err(ParseError::new("$.post_type", "missing: this is an action response")),
    }
}

fn event_from(obj: &Map<String, Value>) -> Result<Event, ParseError> {
    let post_type = string(obj, "post_type")?;
    match post_type.as_str() {
        "message" => message_event(obj),
        "notice" => Ok(Event::Notice(Notice {
            self_id: id(obj, "self_id")?,
            time: time(obj)?,
            notice_type: string(obj, "notice_type")?,
            sub_type: opt_string(obj, "sub_type")?,
            group_id: opt_id(obj, "group_id")?,
            user_id: opt_id(obj, "user_id")?,
            operator_id: opt_id(obj, "operator_id")?,
        })),
        "meta_event" => {
            let self_id = id(obj, "self_id")?;
            let meta_event_type = string(obj, "meta_event_type")?;
            Ok(Event::Meta(match meta_event_type.as_str() {
                "heartbeat" => Meta::Heartbeat { self_id, interval_ms: opt_int(obj, "interval")? },
                "lifecycle" => Meta::Lifecycle { self_id, sub_type: opt_string(obj, "sub_type")?.unwrap_or_default() },
                _ => Meta::Other { self_id, meta_event_type },
            }))
        }
        _ => Ok(Event::Other { self_id: opt_id(obj, "self_id")?, post_type }),
    }
}

fn message_event(obj: &Map<String, Value>) -> Result<Event, ParseError> {
    let message_type = string(obj, "message_type")?;
    if message_type != "group" && message_type != "private" {
        return Ok(Event::Other { self_id: opt_id(obj, "self_id")?, post_type: "message".into() });
    }
    let message = match obj.get("message") {
        Some(Value::Array(items)) => {
            parse_array(items).map_err(|e| ParseError::new(format!("$.message{}", e.path), e.reason))?
        }
        Some(Value::String(s)) => parse_cq(s),
        Some(_) => return Err(ParseError::new("$.message", "must be an array of segments or a CQ-code string")),
        None => return Err(ParseError::new("$.message", "missing")),
    };
    let raw_message = opt_string(obj, "raw_message")?.unwrap_or_else(|| crate::message::to_cq(&message));
    let sender = sender(obj)?;
    let (self_id, message_id, user_id, time) =
        (id(obj, "self_id")?, id(obj, "message_id")?, id(obj, "user_id")?, time(obj)?);
    let sub_type = opt_string(obj, "sub_type")?.unwrap_or_default();
    Ok(if message_type == "group" {
        Event::GroupMessage(GroupMessage {
            group_id: id(obj, "group_id")?,
            self_id,
            message_id,
            user_id,
            time,
            sub_type,
            sender,
            message,
            raw_message,
        })
    } else {
        Event::PrivateMessage(PrivateMessage {
            self_id,
            message_id,
            user_id,
            time,
            sub_type,
            sender,
            message,
            raw_message,
        })
    })
}

fn sender(obj: &Map<String, Value>) -> Result<Sender, ParseError> {
    let s = match obj.get("sender") {
        None | Some(Value::Null) => return Ok(Sender::default()),
        Some(Value::Object(s)) => s,
        Some(_) => return Err(ParseError::new("$.sender", "must be an object")),
    };
    let text = |k: &str| match s.get(k) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(v)) => Ok(v.clone()),
        Some(_) => Err(ParseError::new(format!("$.sender.{k}"), "must be a string")),
    };
    let role = match s.get("role") {
        None | Some(Value::Null) => None,
        Some(Value::String(r)) => Some(Role::parse(r)),
        Some(_) => return Err(ParseError::new("$.sender.role", "must be a string")),
    };
    Ok(Sender { nickname: text("nickname")?, card: text("card")?, role })
}

fn string(obj: &Map<String, Value>, key: &str) -> Result<String, ParseError> {
    opt_string(obj, key)?.ok_or_else(|| ParseError::new(format!("$.{key}"), "missing"))
}

fn opt_string(obj: &Map<String, Value>, key: &str) -> Result<Option<String>, ParseError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ParseError::new(format!("$.{key}"), "must be a string")),
    }
}

pub(crate) fn id(obj: &Map<String, Value>, key: &str) -> Result<String, ParseError> {
    opt_id(obj, key)?.ok_or_else(|| ParseError::new(format!("$.{key}"), "missing"))
}

/// An id given as an integer or a string of one, as a canonical decimal string.
pub(crate) fn opt_id(obj: &Map<String, Value>, key: &str) -> Result<Option<String>, ParseError> {
    let bad = || ParseError::new(format!("$.{key}"), "must be an integer id (a number or a decimal string)");
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => {
            n.as_i64().map(|v| v.to_string()).or_else(|| n.as_u64().map(|v| v.to_string())).map(Some).ok_or_else(bad)
        }
        Some(Value::String(s)) => {
            let s = s.trim();
            s.parse::<i64>()
                .map(|v| v.to_string())
                .or_else(|_| s.parse::<u64>().map(|v| v.to_string()))
                .map(Some)
                .map_err(|_| bad())
        }
        Some(_) => Err(bad()),
    }
}

fn opt_int(obj: &Map<String, Value>, key: &str) -> Result<Option<i64>, ParseError> {
    opt_id(obj, key)?
        .map(|s| s.parse::<i64>().map_err(|_| ParseError::new(format!("$.{key}"), "out of range")))
        .transpose()
}

fn time(obj: &Map<String, Value>) -> Result<i64, ParseError> {
    Ok(opt_int(obj, "time")?.unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn group(message: Value, ids_as_strings: bool) -> Vec<u8> {
        let id = |n: i64| if ids_as_strings { json!(n.to_string()) } else { json!(n) };
        serde_json::to_vec(&json!({
            "self_id": id(10001), "user_id": id(20002), "time": 1764800000, "message_id": id(-77),
            "message_seq": 5, "real_id": 5, "message_type": "group", "group_id": id(30003),
            "sender": {"user_id": 20002, "nickname": "n", "card": "c", "role": "admin", "level": "3"},
            "raw_message": "[CQ:at,qq=10001] ai hi", "font": 14, "sub_type": "normal",
            "message": message, "message_format": "array", "post_type": "message", "group_name": "g"
        }))
        .unwrap()
    }

    #[test]
    fn group_message_in_both_formats_and_id_styles() {
        let array = json!([{"type": "at", "data": {"qq": "10001"}}, {"type": "text", "data": {"text": " ai hi"}}]);
        let string = json!("[CQ:at,qq=10001] ai hi");
        for (msg, strings) in [(array.clone(), false), (array, true), (string.clone(), false), (string, true)] {
            let Event::GroupMessage(m) = parse_event(&group(msg, strings)).unwrap() else { panic!() };
            assert_eq!((m.self_id.as_str(), m.group_id.as_str(), m.user_id.as_str()), ("10001", "30003", "20002"));
            assert_eq!(m.message_id, "-77");
            assert_eq!(m.time, 1764800000);
            assert_eq!(m.sender.role(), Role::Admin);
            assert_eq!(m.sender.card, "c");
            assert_eq!(m.message, vec![Segment::at("10001"), Segment::text(" ai hi")]);
        }
    }

    #[test]
    fn errors_name_the_path() {
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"{not json".to_vec(), "$"),
            (b"[1]".to_vec(), "$"),
            (b"{}".to_vec(), "$"),
            (group(json!([{"type": "text", "data": {"text": "x"}}, {"data": {}}]), false), "$.message[1].type"),
            (group(json!(42), false), "$.message"),
            (br#"{"post_type":"message","message_type":"group","message":"x","self_id":"12a"}"#.to_vec(), "$.self_id"),
            (
                br#"{"post_type":"message","message_type":"group","message":"x","sender":{"role":1}}"#.to_vec(),
                "$.sender.role",
            ),
            (br#"{"post_type":"notice","self_id":1}"#.to_vec(), "$.notice_type"),
            (br#"{"post_type":7}"#.to_vec(), "$.post_type"),
            (br#"{"status":"ok","retcode":0,"echo":"1"}"#.to_vec(), "$.post_type"),
        ];
        for (bytes, path) in cases {
            let e = parse_event(&bytes).unwrap_err();
            assert_eq!(e.path, path, "{e} for {}", String::from_utf8_lossy(&bytes));
            assert!(!e.reason.is_empty());
        }
    }

    #[test]
    fn notices_meta_and_others() {
        let n = parse_event(br#"{"post_type":"notice","notice_type":"group_decrease","sub_type":"kick","group_id":"5","user_id":6,"operator_id":7,"self_id":1,"time":2}"#).unwrap();
        assert_eq!(
            n,
            Event::Notice(Notice {
                self_id: "1".into(),
                time: 2,
                notice_type: "group_decrease".into(),
                sub_type: Some("kick".into()),
                group_id: Some("5".into()),
                user_id: Some("6".into()),
                operator_id: Some("7".into()),
            })
        );
        let h = parse_event(br#"{"post_type":"meta_event","meta_event_type":"heartbeat","self_id":1,"interval":30000,"status":{"online":true}}"#).unwrap();
        assert_eq!(h, Event::Meta(Meta::Heartbeat { self_id: "1".into(), interval_ms: Some(30000) }));
        let s = parse_event(br#"{"post_type":"message_sent","self_id":1}"#).unwrap();
        assert_eq!(s, Event::Other { post_type: "message_sent".into(), self_id: Some("1".into()) });
        let p = parse_event(br#"{"post_type":"message","message_type":"private","self_id":1,"user_id":2,"message_id":3,"message":"hi"}"#).unwrap();
        let Event::PrivateMessage(p) = p else { panic!() };
        assert_eq!((p.user_id.as_str(), p.raw_message.as_str()), ("2", "hi"));
    }

    #[test]
    fn responses_are_told_from_events() {
        let Frame::Response(r) =
            parse_frame(br#"{"status":"failed","retcode":1404,"data":null,"echo":"e9","message":"no"}"#).unwrap()
        else {
            panic!()
        };
        assert_eq!(r.echo.as_deref(), Some("e9"));
        assert_eq!(r.retcode, 1404);
    }
}
