//! Chat groups' own rules (`[[groups]]` in the policy): the group's language, its flood
//! limit and whether links are allowed. A message that breaks one raises a signal whose
//! evidence carries the breach's number within the group's escalation window and the mute
//! that number earns, so a rule can mute for as long as the group's rules say.
//!
//! The owner is never held to the rules, and admins only when the group says so. A language
//! rule is about script (see [`off_script_share`]): mentions and links are cut first, and
//! a message with fewer than [`MIN_LETTERS`] weighted letters (an "ok", an emoji, a number)
//! is left alone.
//!
//! Signals, all with evidence `group` (id), `group_name`, `offence` (this breach's number
//! within the group's `mute_window_hours`, 1 for the first), `mute_seconds` and `mute_for`
//! (the same in words, "10 minutes"):
//! - `group_language`, also `language` and `off_script_share`;
//! - `group_flood`, also `messages` and `seconds` (the limit broken);
//! - `group_link`.

use std::collections::{HashMap, VecDeque};

use chrono::{DateTime, Utc};
use steward_model::chat_group::{GroupRules, off_script_share};
use steward_model::{Payload, Post, Signal};
use steward_text::mentions::strip_mentions;

use crate::copy_campaign::{has_link, strip_links};
use crate::{About, Context, Detector, Findings, SignalSpec};

const NAME: &str = "group_rules";
const VERSION: u32 = 1;
const SPECS: &[SignalSpec] = &[
    SignalSpec {
        name: "group_language",
        evidence: &["group", "group_name", "offence", "mute_seconds", "mute_for", "language", "off_script_share"],
    },
    SignalSpec {
        name: "group_flood",
        evidence: &["group", "group_name", "offence", "mute_seconds", "mute_for", "messages", "seconds"],
    },
    SignalSpec { name: "group_link", evidence: &["group", "group_name", "offence", "mute_seconds", "mute_for"] },
];
const ABOUT: About = About { name: NAME, version: VERSION, signals: SPECS };

/// Weighted letters below which a message says too little to be in any language.
pub const MIN_LETTERS: u32 = 8;
/// A message breaks the language rule when more than this share of its letters is in
/// other scripts: a Latin brand name in Chinese text is fine.
const OFF_SCRIPT: f64 = 0.5;
/// Members' state is swept of the quiet every this many messages.
const SWEEP_EVERY: u32 = 4096;

/// One member's recent activity in one group.
#[derive(Debug, Default)]
struct Member {
    /// Times of messages within the flood window, since the last flood breach.
    recent: VecDeque<DateTime<Utc>>,
    /// Times of breaches within the escalation window.
    breaches: VecDeque<DateTime<Utc>>,
}

pub struct GroupRulesDetector {
    groups: HashMap<String, GroupRules>,
    /// By (group id, account id).
    members: HashMap<(String, String), Member>,
    since_sweep: u32,
    links: String,
    mentions: String,
}

impl GroupRulesDetector {
    pub fn new(groups: &[GroupRules]) -> Self {
        GroupRulesDetector {
            groups: groups.iter().map(|g| (g.id.clone(), g.clone())).collect(),
            members: HashMap::new(),
            since_sweep: 0,
            links: String::new(),
            mentions: String::new(),
        }
    }

    fn message(&mut self, post: &Post, group: &str, at: DateTime<Utc>, out: &mut Vec<Signal>) {
        let Some(rules) = self.groups.get(group) else { return };
        if !rules.binds(post.group_role) {
            return;
        }
        self.since_sweep += 1;
        if self.since_sweep >= SWEEP_EVERY {
            self.since_sweep = 0;
            let groups = &self.groups;
            self.members.retain(|(g, _), m| groups.get(g).is_some_and(|r| forget_old(m, r, at)));
        }
        let member = self.members.entry((group.to_string(), post.account_id.clone())).or_default();
        forget_old(member, rules, at);

        let mut found: Vec<Signal> = Vec::new();
        if let Some(flood) = rules.flood {
            member.recent.push_back(at);
            if member.recent.len() > flood.messages as usize {
                member.recent.clear();
                found.push(
                    Signal::new("group_flood", NAME, VERSION, 1.0)
                        .with("messages", flood.messages)
                        .with("seconds", flood.seconds),
                );
            }
        }
        if !rules.links && has_link(&post.text) {
            found.push(Signal::new("group_link", NAME, VERSION, 1.0));
        }
        if let Some(signal) = language_signal(rules, &post.text, &mut self.links, &mut self.mentions) {
            found.push(signal);
        }
        if found.is_empty() {
            return;
        }
        // One message is one breach, whatever number of rules it breaks.
        member.breaches.push_back(at);
        let offence = member.breaches.len() as u32;
        let mute = rules.mute_seconds(offence);
        for signal in found {
            out.push(
                signal
                    .with("group", rules.id.as_str())
                    .with("group_name", rules.name.as_str())
                    .with("offence", offence)
                    .with("mute_seconds", mute)
                    .with("mute_for", duration_words(mute)),
            );
        }
    }
}

/// The `group_language` signal (without the escalation evidence) when `text` breaks the
/// group's language rule; `links` and `mentions` are scratch buffers. The group bot's output
/// rails hold its own answers to the rule with this too.
pub fn language_signal(rules: &GroupRules, text: &str, links: &mut String, mentions: &mut String) -> Option<Signal> {
    let language = rules.language.as_deref()?;
    let text = strip_links(text, links);
    let text = strip_mentions(text, mentions);
    let (share, letters) = off_script_share(text, rules.scripts);
    if letters < MIN_LETTERS || share <= OFF_SCRIPT {
        return None;
    }
    let share = (share * 1000.0).round() / 1000.0;
    Some(Signal::new("group_language", NAME, VERSION, share).with("language", language).with("off_script_share", share))
}

/// A length in the largest whole unit that fits it: "90 seconds", "10 minutes", "1 day".
pub fn duration_words(seconds: u32) -> String {
    let (n, unit) = match seconds {
        s if s % 86_400 == 0 => (s / 86_400, "day"),
        s if s % 3600 == 0 => (s / 3600, "hour"),
        s if s % 60 == 0 => (s / 60, "minute"),
        s => (s, "second"),
    };
    if n == 1 { format!("1 {unit}") } else { format!("{n} {unit}s") }
}

/// Drops what is older than the group's windows; whether anything is left.
fn forget_old(m: &mut Member, rules: &GroupRules, now: DateTime<Utc>) -> bool {
    if let Some(flood) = rules.flood {
        while m.recent.front().is_some_and(|t| (now - *t).num_seconds() >= i64::from(flood.seconds)) {
            m.recent.pop_front();
        }
    }
    let window = i64::from(rules.mute_window_hours) * 3600;
    while m.breaches.front().is_some_and(|t| (now - *t).num_seconds() >= window) {
        m.breaches.pop_front();
    }
    !(m.recent.is_empty() && m.breaches.is_empty())
}

impl Detector for GroupRulesDetector {
    fn about(&self) -> &'static About {
        &ABOUT
    }

    fn window(&self) -> Option<i64> {
        self.groups
            .values()
            .map(|g| i64::from(g.mute_window_hours) * 3600)
            .chain(self.groups.values().filter_map(|g| g.flood.map(|f| i64::from(f.seconds))))
            .max()
    }

    fn inspect(&mut self, ctx: &Context, out: &mut Findings) {
        let Payload::PostCreated(post) = &ctx.event.payload else { return };
        let Some(group) = &post.group_id else { return };
        self.message(post, group, ctx.event.at, &mut out.signals);
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};
    use steward_model::chat_group::{Flood, GroupRole, language_scripts};
    use steward_model::{Event, PostKind};

    use super::*;
    use crate::testing::post_event;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 8, 0, 0).unwrap()
    }

    fn english() -> GroupRules {
        GroupRules {
            name: "Rust learners".into(),
            language: Some("en".into()),
            scripts: language_scripts("en").unwrap(),
            flood: Some(Flood { messages: 3, seconds: 10 }),
            links: false,
            ..GroupRules::new("g1")
        }
    }

    /// Feeds `(member, role, text, seconds after t0)` to group g1; the signals of each.
    fn run(d: &mut GroupRulesDetector, messages: &[(&str, GroupRole, &str, i64)]) -> Vec<Vec<Signal>> {
        messages
            .iter()
            .enumerate()
            .map(|(i, &(member, role, text, secs))| {
                let at = t0() + Duration::seconds(secs);
                let mut event: Event = post_event(&format!("m{i}"), member, None, text, at);
                if let Payload::PostCreated(p) = &mut event.payload {
                    p.kind = PostKind::GroupMessage;
                    p.group_id = Some("g1".into());
                    p.group_role = Some(role);
                }
                let mut out = Findings::default();
                d.inspect(&Context { event: &event, account: None }, &mut out);
                out.signals
            })
            .collect()
    }

    fn names(signals: &[Signal]) -> Vec<&str> {
        signals.iter().map(|s| s.name.as_str()).collect()
    }

    #[test]
    fn chinese_in_an_english_group_breaks_it_and_short_or_mixed_messages_do_not() {
        let mut d = GroupRulesDetector::new(&[english()]);
        let m = GroupRole::Member;
        let out = run(
            &mut d,
            &[
                ("a", m, "请用中文回答我的问题", 0),
                ("b", m, "好的", 100),
                ("b", m, "👍👍👍 123", 200),
                ("b", m, "I ate 饺子 at the new place downtown", 300),
                ("b", m, "@张三丰大师 thanks for the help", 400),
            ],
        );
        assert_eq!(names(&out[0]), ["group_language"]);
        let e = &out[0][0].evidence;
        assert_eq!((e["language"].as_str(), e["off_script_share"].as_f64()), (Some("en"), Some(1.0)));
        assert_eq!(
            (e["group"].as_str(), e["offence"].as_u64(), e["mute_seconds"].as_u64()),
            (Some("g1"), Some(1), Some(600))
        );
        assert!(out[1..].iter().all(Vec::is_empty), "{out:?}");
    }

    #[test]
    fn mute_lengths_in_words() {
        assert_eq!(duration_words(600), "10 minutes");
        assert_eq!(duration_words(3600), "1 hour");
        assert_eq!(duration_words(86_400 * 3), "3 days");
        assert_eq!(duration_words(90), "90 seconds");
    }

    #[test]
    fn floods_links_and_escalating_mutes() {
        let mut d = GroupRulesDetector::new(&[english()]);
        let m = GroupRole::Member;
        let out = run(
            &mut d,
            &[
                ("a", m, "one", 0),
                ("a", m, "two", 1),
                ("a", m, "three", 2),
                ("a", m, "four", 3),
                ("a", m, "five", 4),
                ("a", m, "see https://example.com/x", 60),
                ("a", m, "slow", 120),
            ],
        );
        assert_eq!(names(&out[3]), ["group_flood"]);
        assert!(out[4].is_empty(), "the count starts again after a breach");
        assert_eq!(names(&out[5]), ["group_link"]);
        let e = &out[5][0].evidence;
        assert_eq!((e["offence"].as_u64(), e["mute_seconds"].as_u64()), (Some(2), Some(3600)));
        assert!(out[6].is_empty());
    }

    #[test]
    fn the_owner_is_never_held_and_admins_as_the_group_says() {
        let text = "这里只能说中文吗我不太会英文";
        let mut d = GroupRulesDetector::new(&[english()]);
        let out = run(&mut d, &[("o", GroupRole::Owner, text, 0), ("ad", GroupRole::Admin, text, 1)]);
        assert!(out.iter().all(Vec::is_empty));
        let mut d = GroupRulesDetector::new(&[GroupRules { admins_exempt: false, ..english() }]);
        let out = run(&mut d, &[("o", GroupRole::Owner, text, 0), ("ad", GroupRole::Admin, text, 1)]);
        assert!(out[0].is_empty());
        assert_eq!(names(&out[1]), ["group_language"]);
    }

    #[test]
    fn breaches_are_forgotten_after_the_window_and_other_groups_are_untouched() {
        let mut d = GroupRulesDetector::new(&[english()]);
        let m = GroupRole::Member;
        let day = 24 * 3600;
        let out = run(&mut d, &[("a", m, "请用中文回答我的问题", 0), ("a", m, "请用中文回答我的问题", day + 1)]);
        assert_eq!(out[1][0].evidence["offence"].as_u64(), Some(1));
        assert_eq!(d.window(), Some(day));
        let mut other = GroupRulesDetector::new(&[GroupRules::new("g2")]);
        assert!(run(&mut other, &[("a", m, "请用中文回答我的问题 https://x.cn", 0)]).iter().all(Vec::is_empty));
    }
}
