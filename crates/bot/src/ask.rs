//! What members ask the bot: `ai <question>` (or `AI`, or anything after an @mention of the
//! bot), and "is this true?" in reply to a message; and how often they may.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use steward_onebot::GroupMessage;
use steward_onebot::message::{mentions, plain_text, reply_to};

/// What a message asks of the bot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ask {
    /// A question for the AI.
    Question(String),
    /// Whether the message `reply_to` quotes is true.
    IsItTrue { reply_to: String },
}

/// The phrases that ask whether a quoted message is true, compared without spaces,
/// punctuation or case.
const IS_IT_TRUE: &[&str] =
    &["真的吗", "是真的吗", "真的假的", "辟谣", "isthistrue", "isittrue", "trueornot", "factcheck"];

/// What `m` asks of the bot `self_id`, if anything.
pub fn parse(m: &GroupMessage, self_id: &str) -> Option<Ask> {
    let text = plain_text(&m.message);
    let text = text.trim();
    if let Some(quoted) = reply_to(&m.message) {
        let bare: String = text.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect();
        if IS_IT_TRUE.contains(&bare.as_str()) {
            return Some(Ask::IsItTrue { reply_to: quoted });
        }
    }
    let question = match strip_ai(text) {
        Some(rest) => rest,
        None if mentions(&m.message, self_id) => text,
        None => return None,
    };
    let question = question.trim();
    (!question.is_empty()).then(|| Ask::Question(question.to_string()))
}

/// `text` after a leading `ai` (any case) and the space or colon after it.
fn strip_ai(text: &str) -> Option<&str> {
    let head = text.get(..2)?;
    if !head.eq_ignore_ascii_case("ai") {
        return None;
    }
    let rest = &text[2..];
    let next = rest.chars().next()?;
    (next.is_whitespace() || matches!(next, ':' | '：' | ',' | '，')).then(|| &rest[next.len_utf8()..])
}

/// A limit: at most `max` within `per`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub max: usize,
    pub per: Duration,
}

/// The AI's rate limits, per member and per group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AskLimits {
    pub member: Limit,
    pub group: Limit,
}

impl Default for AskLimits {
    /// 3 questions a minute from one member, 10 a minute in one group.
    fn default() -> Self {
        AskLimits {
            member: Limit { max: 3, per: Duration::from_secs(60) },
            group: Limit { max: 10, per: Duration::from_secs(60) },
        }
    }
}

/// Which limit a question hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    Member,
    Group,
}

/// Sliding windows of recent questions.
#[derive(Debug, Default)]
pub struct RateLimiter {
    limits: AskLimits,
    members: HashMap<(String, String), VecDeque<Instant>>,
    groups: HashMap<String, VecDeque<Instant>>,
}

impl RateLimiter {
    pub fn new(limits: AskLimits) -> Self {
        RateLimiter { limits, ..Default::default() }
    }

    /// Counts a question of `member` in `group` at `now`, unless a limit refuses it.
    pub fn admit(&mut self, group: &str, member: &str, now: Instant) -> Result<(), Refused> {
        if self.members.len() > 10_000 {
            let per = self.limits.member.per;
            self.members.retain(|_, q| q.back().is_some_and(|t| now.duration_since(*t) < per));
        }
        let g = self.groups.entry(group.to_string()).or_default();
        trim(g, self.limits.group.per, now);
        let m = self.members.entry((group.to_string(), member.to_string())).or_default();
        trim(m, self.limits.member.per, now);
        if m.len() >= self.limits.member.max {
            return Err(Refused::Member);
        }
        if g.len() >= self.limits.group.max {
            return Err(Refused::Group);
        }
        m.push_back(now);
        g.push_back(now);
        Ok(())
    }
}

fn trim(q: &mut VecDeque<Instant>, per: Duration, now: Instant) {
    while q.front().is_some_and(|t| now.duration_since(*t) >= per) {
        q.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use steward_onebot::event::Sender;
    use steward_onebot::message::Segment;

    use super::*;

    fn msg(segments: Vec<Segment>) -> GroupMessage {
        GroupMessage {
            self_id: "10".into(),
            message_id: "1".into(),
            group_id: "g".into(),
            user_id: "u".into(),
            time: 0,
            sub_type: "normal".into(),
            sender: Sender::default(),
            message: segments,
            raw_message: String::new(),
        }
    }

    #[test]
    fn questions_are_asked_with_ai_or_a_mention() {
        let q = |s: &str| parse(&msg(vec![Segment::text(s)]), "10");
        assert_eq!(q("ai what is Rust?"), Some(Ask::Question("what is Rust?".into())));
        assert_eq!(q("AI: 为什么天是蓝的"), Some(Ask::Question("为什么天是蓝的".into())));
        assert_eq!(q("AI，hi"), Some(Ask::Question("hi".into())));
        for s in ["air is thin", "ai", "ai   ", "said ai hello", "hello"] {
            assert_eq!(q(s), None, "{s}");
        }
        let mention = msg(vec![Segment::at("10"), Segment::text(" how do lifetimes work?")]);
        assert_eq!(parse(&mention, "10"), Some(Ask::Question("how do lifetimes work?".into())));
        assert_eq!(parse(&mention, "11"), None);
    }

    #[test]
    fn is_it_true_is_a_reply_with_one_of_the_phrases() {
        let reply = |s: &str| parse(&msg(vec![Segment::Reply { id: "99".into() }, Segment::text(s)]), "10");
        for s in ["真的吗？", "Is this true?", "辟谣!", "  is it TRUE "] {
            assert_eq!(reply(s), Some(Ask::IsItTrue { reply_to: "99".into() }), "{s}");
        }
        assert_eq!(reply("I agree"), None);
        assert_eq!(parse(&msg(vec![Segment::text("真的吗")]), "10"), None, "not a reply");
    }

    #[test]
    fn limits_refuse_per_member_then_per_group_and_forget_with_time() {
        let mut r = RateLimiter::new(AskLimits {
            member: Limit { max: 2, per: Duration::from_secs(60) },
            group: Limit { max: 3, per: Duration::from_secs(60) },
        });
        let t = Instant::now();
        assert_eq!(r.admit("g", "a", t), Ok(()));
        assert_eq!(r.admit("g", "a", t), Ok(()));
        assert_eq!(r.admit("g", "a", t), Err(Refused::Member));
        assert_eq!(r.admit("g", "b", t), Ok(()));
        assert_eq!(r.admit("g", "c", t), Err(Refused::Group));
        assert_eq!(r.admit("h", "c", t), Ok(()));
        assert_eq!(r.admit("g", "a", t + Duration::from_secs(61)), Ok(()));
    }
}
