//! Actions the bot calls on the implementation, and the responses it gets back.

use serde_json::{Map, Value, json};

use crate::event::{ParseError, Role, opt_id};
use crate::message::{Segment, scalar, to_array};

/// An action (an API call) the bot can make.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    SendGroupMsg {
        group_id: String,
        message: Vec<Segment>,
    },
    SendPrivateMsg {
        user_id: String,
        message: Vec<Segment>,
    },
    /// Recall a message.
    DeleteMsg {
        message_id: String,
    },
    /// Mute a member for `duration` seconds; 0 lifts a mute.
    SetGroupBan {
        group_id: String,
        user_id: String,
        duration: u64,
    },
    SetGroupKick {
        group_id: String,
        user_id: String,
        reject_add_request: bool,
    },
    GetGroupMemberInfo {
        group_id: String,
        user_id: String,
        no_cache: bool,
    },
}

/// An id as a JSON number when it is an i64, else as the string it is.
fn id(s: &str) -> Value {
    s.parse::<i64>().map_or_else(|_| Value::String(s.to_string()), Value::from)
}

impl Action {
    /// The action's protocol name.
    pub fn name(&self) -> &'static str {
        match self {
            Action::SendGroupMsg { .. } => "send_group_msg",
            Action::SendPrivateMsg { .. } => "send_private_msg",
            Action::DeleteMsg { .. } => "delete_msg",
            Action::SetGroupBan { .. } => "set_group_ban",
            Action::SetGroupKick { .. } => "set_group_kick",
            Action::GetGroupMemberInfo { .. } => "get_group_member_info",
        }
    }

    /// The `params` object.
    pub fn params(&self) -> Value {
        match self {
            Action::SendGroupMsg { group_id, message } => {
                json!({"group_id": id(group_id), "message": to_array(message)})
            }
            Action::SendPrivateMsg { user_id, message } => {
                json!({"user_id": id(user_id), "message": to_array(message)})
            }
            Action::DeleteMsg { message_id } => json!({"message_id": id(message_id)}),
            Action::SetGroupBan { group_id, user_id, duration } => {
                json!({"group_id": id(group_id), "user_id": id(user_id), "duration": duration})
            }
            Action::SetGroupKick { group_id, user_id, reject_add_request } => {
                json!({"group_id": id(group_id), "user_id": id(user_id), "reject_add_request": reject_add_request})
            }
            Action::GetGroupMemberInfo { group_id, user_id, no_cache } => {
                json!({"group_id": id(group_id), "user_id": id(user_id), "no_cache": no_cache})
            }
        }
    }

    /// The WebSocket frame `{"action", "params", "echo"}`.
    pub fn to_frame(&self, echo: &str) -> Value {
        json!({"action": self.name(), "params": self.params(), "echo": echo})
    }
}

/// How an action went, as the implementation reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Done (`retcode` 0).
    Ok,
    /// Accepted for later (`retcode` 1); the outcome is not known.
    Async,
    Failed,
}

/// An action response envelope.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub status: Status,
    pub retcode: i64,
    pub data: Value,
    /// The implementation's explanation (`message`, `wording` or `msg`), empty when none.
    pub message: String,
    /// The echo of the call, as text.
    pub echo: Option<String>,
}

impl Response {
    /// Reads an envelope; `status` wins over `retcode` when both are given.
    pub fn from_object(mut obj: Map<String, Value>) -> Result<Response, ParseError> {
        let retcode = match obj.get("retcode") {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => {
                Some(n.as_i64().ok_or_else(|| ParseError::new("$.retcode", "must be an integer"))?)
            }
            Some(_) => return Err(ParseError::new("$.retcode", "must be an integer")),
        };
        let status = match obj.get("status") {
            Some(Value::String(s)) if s == "ok" => Some(Status::Ok),
            Some(Value::String(s)) if s == "async" => Some(Status::Async),
            Some(Value::String(s)) if s == "failed" => Some(Status::Failed),
            None | Some(Value::Null) => None,
            Some(_) => return Err(ParseError::new("$.status", "must be ok, async or failed")),
        };
        let (status, retcode) = match (status, retcode) {
            (Some(s), Some(r)) => (s, r),
            (Some(Status::Ok), None) => (Status::Ok, 0),
            (Some(Status::Async), None) => (Status::Async, 1),
            (Some(Status::Failed), None) => (Status::Failed, -1),
            (None, Some(0)) => (Status::Ok, 0),
            (None, Some(1)) => (Status::Async, 1),
            (None, Some(r)) => (Status::Failed, r),
            (None, None) => return Err(ParseError::new("$.status", "missing, and no retcode either")),
        };
        let message = ["message", "wording", "msg"]
            .iter()
            .filter_map(|k| obj.get(*k).and_then(Value::as_str))
            .find(|s| !s.is_empty())
            .unwrap_or_default()
            .to_string();
        let echo = match obj.get("echo") {
            None | Some(Value::Null) => None,
            Some(v) => Some(scalar(v).unwrap_or_else(|| v.to_string())),
        };
        let data = obj.remove("data").unwrap_or(Value::Null);
        Ok(Response { status, retcode, data, message, echo })
    }

    /// Reads an envelope from bytes (the HTTP API's answer body).
    pub fn parse(bytes: &[u8]) -> Result<Response, ParseError> {
        match serde_json::from_slice(bytes) {
            Ok(Value::Object(obj)) => Response::from_object(obj),
            Ok(_) => Err(ParseError::new("$", "expected a JSON object")),
            Err(e) => Err(ParseError::new("$", format!("not JSON: {e}"))),
        }
    }
}

/// The `data` of `get_group_member_info`, reduced to what moderation needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberInfo {
    pub group_id: String,
    pub user_id: String,
    pub nickname: String,
    pub card: String,
    pub role: Role,
}

impl MemberInfo {
    /// Reads a member-info object; paths in errors start at `$.data`.
    pub fn from_data(data: &Value) -> Result<MemberInfo, ParseError> {
        let obj = data.as_object().ok_or_else(|| ParseError::new("$.data", "expected an object"))?;
        let req = |k: &str| {
            opt_id(obj, k)
                .map_err(|e| ParseError::new(e.path.replacen('$', "$.data", 1), e.reason))?
                .ok_or_else(|| ParseError::new(format!("$.data.{k}"), "missing"))
        };
        let text = |k: &str| obj.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
        Ok(MemberInfo {
            group_id: req("group_id")?,
            user_id: req("user_id")?,
            nickname: text("nickname"),
            card: text("card"),
            role: Role::parse(&text("role")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_send_ids_as_numbers_when_they_fit() {
        let a = Action::SetGroupBan { group_id: "30003".into(), user_id: "99999999999999999999".into(), duration: 600 };
        let f = a.to_frame("e1");
        assert_eq!(
            f,
            json!({"action": "set_group_ban", "params": {"group_id": 30003, "user_id": "99999999999999999999", "duration": 600}, "echo": "e1"})
        );
        let m = Action::SendGroupMsg { group_id: "1".into(), message: vec![Segment::text("hi")] };
        assert_eq!(m.params()["message"], json!([{"type": "text", "data": {"text": "hi"}}]));
        let k = Action::SetGroupKick { group_id: "1".into(), user_id: "2".into(), reject_add_request: true };
        assert_eq!(k.params()["reject_add_request"], json!(true));
    }

    #[test]
    fn responses() {
        let r = Response::parse(
            br#"{"status":"ok","retcode":0,"data":{"message_id":5},"message":"","wording":"","echo":"x"}"#,
        )
        .unwrap();
        assert_eq!((r.status, r.retcode, r.echo.as_deref()), (Status::Ok, 0, Some("x")));
        assert_eq!(r.data["message_id"], 5);
        let r =
            Response::parse(br#"{"status":"failed","retcode":100,"data":null,"wording":"no right","echo":7}"#).unwrap();
        assert_eq!((r.status, r.message.as_str(), r.echo.as_deref()), (Status::Failed, "no right", Some("7")));
        let r = Response::parse(br#"{"retcode":1}"#).unwrap();
        assert_eq!(r.status, Status::Async);
        assert_eq!(Response::parse(br#"{"echo":"e"}"#).unwrap_err().path, "$.status");
        assert_eq!(Response::parse(br#"{"status":"ok","retcode":"0"}"#).unwrap_err().path, "$.retcode");
    }

    #[test]
    fn member_info() {
        let m =
            MemberInfo::from_data(&json!({"group_id": 1, "user_id": "2", "nickname": "n", "role": "owner"})).unwrap();
        assert_eq!((m.user_id.as_str(), m.role), ("2", Role::Owner));
        assert_eq!(MemberInfo::from_data(&json!({"group_id": 1})).unwrap_err().path, "$.data.user_id");
    }
}
