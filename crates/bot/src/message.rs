//! A group message as steward sees it: a `post.created` of kind `group_message`, so that it
//! goes through the detectors and the policy like any post.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::json;
use steward_model::GroupRole;
use steward_onebot::GroupMessage;
use steward_onebot::event::Role;
use steward_onebot::message::plain_text;

/// The event id of a message: the bot's id and the message's, so that a message delivered
/// twice (a reconnect) is stored once.
pub fn event_id(m: &GroupMessage) -> String {
    format!("onebot:{}:{}", m.self_id, m.message_id)
}

/// The post id of a message; unique within one bot account.
pub fn post_id(m: &GroupMessage) -> String {
    format!("qq:{}:{}", m.self_id, m.message_id)
}

/// The bot and message ids of a post made by [`post_id`].
pub fn ids_of_post(post_id: &str) -> Option<(&str, &str)> {
    post_id.strip_prefix("qq:")?.split_once(':')
}

/// The member's role as the policy knows it; `None` when the implementation did not say.
pub fn role(m: &GroupMessage) -> Option<GroupRole> {
    match m.sender.role() {
        Role::Owner => Some(GroupRole::Owner),
        Role::Admin => Some(GroupRole::Admin),
        Role::Member => Some(GroupRole::Member),
        Role::Unknown => None,
    }
}

/// The message's text: its text segments (mentions, faces and images left out).
pub fn text(m: &GroupMessage) -> String {
    plain_text(&m.message).trim().to_string()
}

/// The `post.created` record of a message received at `at`. The receipt time, not the
/// message's own (whole seconds, and the sender's clock), is what flood limits count.
pub fn record(m: &GroupMessage, at: DateTime<Utc>) -> String {
    let at = at.to_rfc3339_opts(SecondsFormat::Millis, true);
    let mut post = json!({
        "id": post_id(m),
        "account_id": m.user_id,
        "kind": "group_message",
        "text": text(m),
        "created_at": at,
        "group_id": m.group_id,
    });
    if let Some(role) = role(m) {
        post["group_role"] = json!(role.as_str());
    }
    json!({"id": event_id(m), "type": "post.created", "at": at, "post": post}).to_string()
}

#[cfg(test)]
mod tests {
    use steward_model::{Limits, Payload, parse_event};
    use steward_onebot::event::Sender;
    use steward_onebot::message::Segment;

    use super::*;

    #[test]
    fn a_group_message_becomes_a_group_post_the_engine_accepts() {
        let m = GroupMessage {
            self_id: "10".into(),
            message_id: "-77".into(),
            group_id: "123456".into(),
            user_id: "42".into(),
            time: 0,
            sub_type: "normal".into(),
            sender: Sender { nickname: "n".into(), card: String::new(), role: Some(Role::Admin) },
            message: vec![Segment::at("10"), Segment::text(" hello "), Segment::text("\"there\"")],
            raw_message: String::new(),
        };
        let now = Utc::now();
        let event = parse_event(record(&m, now).as_bytes(), &Limits::default(), now).unwrap();
        assert_eq!(event.id, "onebot:10:-77");
        let Payload::PostCreated(p) = event.payload else { panic!() };
        assert_eq!((p.id.as_str(), p.account_id.as_str(), p.text.as_str()), ("qq:10:-77", "42", "hello \"there\""));
        assert_eq!(ids_of_post(&p.id), Some(("10", "-77")));
        assert_eq!((p.group_id.as_deref(), p.group_role), (Some("123456"), Some(GroupRole::Admin)));
    }
}
