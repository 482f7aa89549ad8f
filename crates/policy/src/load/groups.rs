//! `[[groups]]`: each chat group's rules, checked like the rest of the policy.

use std::ops::Range;

use steward_model::chat_group::{Flood, GroupRules, LANGUAGES, MAX_MUTE_SECONDS, language_scripts};
use toml::de::{DeTable, DeValue};

use super::{Loader, Value, article};
use crate::check::suggest;

const GROUP_KEYS: &[&str] =
    &["id", "name", "language", "flood", "links", "admins_exempt", "mutes", "mute_window_hours", "admins"];
const FLOOD_KEYS: &[&str] = &["messages", "seconds"];
/// Longest flood window and escalation window: a detector's state is rebuilt from a week.
const MAX_FLOOD_SECONDS: u32 = 3600;
const MAX_MUTE_WINDOW_HOURS: u32 = 7 * 24;

impl Loader<'_> {
    /// Every `[[groups]]` entry that is valid; problems are reported.
    pub(super) fn groups(&mut self, v: Option<&Value<'_>>) -> Vec<GroupRules> {
        let mut groups = Vec::new();
        let mut ids = Vec::new();
        for (t, span) in self.array_of_tables(v, "groups") {
            if let Some(g) = self.group(t, &span, &mut ids) {
                groups.push(g);
            }
        }
        self.duplicates(ids, "group", "declared");
        groups
    }

    fn group(&mut self, t: &DeTable<'_>, span: &Range<usize>, ids: &mut Vec<(String, usize)>) -> Option<GroupRules> {
        self.unknown_keys(t, GROUP_KEYS, "in [[groups]]");
        let (line, _) = self.position(span.start);
        // Chat platforms number their groups, so an id may be written as an integer.
        let id = self.required(t, span, "id", &format!("the group on line {line}")).and_then(|v| {
            let id = self.member_id(v, "id")?;
            ids.push((id.clone(), v.span().start));
            Some(id)
        });
        let what = match &id {
            Some(id) => format!("group `{id}`"),
            None => format!("the group on line {line}"),
        };
        let mut g = GroupRules::new(id.as_deref().unwrap_or(""));
        let mut ok = id.is_some();
        if let Some(v) = t.get("name") {
            match self.nonempty_string(v, "name") {
                Some(name) => g.name = name,
                None => ok = false,
            }
        }
        if let Some(v) = t.get("language") {
            match self.language(v, &what) {
                Some((code, scripts)) => (g.language, g.scripts) = (Some(code), scripts),
                None => ok = false,
            }
        }
        if let Some(v) = t.get("flood") {
            match self.flood(v, &what) {
                Some(flood) => g.flood = Some(flood),
                None => ok = false,
            }
        }
        for (key, slot) in [("links", &mut g.links), ("admins_exempt", &mut g.admins_exempt)] {
            if let Some(v) = t.get(key) {
                match v.get_ref() {
                    DeValue::Boolean(b) => *slot = *b,
                    other => {
                        self.error(
                            v.span().start,
                            format!("{what}: `{key}` must be true or false, not {}", article(other.type_str())),
                        );
                        ok = false;
                    }
                }
            }
        }
        if let Some(v) = t.get("mutes") {
            match self.mutes(v, &what) {
                Some(mutes) => g.mutes = mutes,
                None => ok = false,
            }
        }
        if let Some(v) = t.get("mute_window_hours") {
            match self.count(v, "mute_window_hours", 1) {
                Some(h) if h <= MAX_MUTE_WINDOW_HOURS => g.mute_window_hours = h,
                Some(h) => {
                    self.error(
                        v.span().start,
                        format!("{what}: `mute_window_hours` is at most {MAX_MUTE_WINDOW_HOURS} (a week), not {h}"),
                    );
                    ok = false;
                }
                None => ok = false,
            }
        }
        if let Some(v) = t.get("admins") {
            match self.admins(v, &what) {
                Some(admins) => g.admins = admins,
                None => ok = false,
            }
        }
        ok.then_some(g)
    }

    /// A group or member id: a non-empty string or a non-negative integer.
    fn member_id(&mut self, v: &Value<'_>, what: &str) -> Option<String> {
        match v.get_ref() {
            DeValue::Integer(_) => match self.integer(v, what)? {
                n if n >= 0 => Some(n.to_string()),
                n => {
                    self.error(v.span().start, format!("`{what}` must not be negative, not {n}"));
                    None
                }
            },
            _ => self.nonempty_string(v, what).map(|s| s.trim().to_string()),
        }
    }

    fn language(
        &mut self,
        v: &Value<'_>,
        what: &str,
    ) -> Option<(String, &'static [steward_model::chat_group::Script])> {
        let code = self.nonempty_string(v, "language")?.trim().to_ascii_lowercase();
        match language_scripts(&code) {
            Some(scripts) => Some((code, scripts)),
            None => {
                let known: Vec<&str> = LANGUAGES.iter().map(|(c, _)| *c).collect();
                let msg = suggest(
                    format!("{what}: unknown language `{code}`"),
                    &code,
                    &known,
                    "the languages are (ISO 639-1)",
                );
                self.error(v.span().start, msg);
                None
            }
        }
    }

    fn flood(&mut self, v: &Value<'_>, what: &str) -> Option<Flood> {
        let t = self.table(v, "flood")?;
        self.unknown_keys(t, FLOOD_KEYS, "in `flood`");
        let span = v.span();
        let messages = self
            .required(t, &span, "messages", &format!("{what}: `flood`"))
            .and_then(|v| self.count(v, "flood.messages", 2));
        let seconds = self.required(t, &span, "seconds", &format!("{what}: `flood`")).and_then(|v| {
            let s = self.count(v, "flood.seconds", 1)?;
            if s > MAX_FLOOD_SECONDS {
                self.error(
                    v.span().start,
                    format!("{what}: `flood.seconds` is at most {MAX_FLOOD_SECONDS} (an hour), not {s}"),
                );
                return None;
            }
            Some(s)
        });
        Some(Flood { messages: messages?, seconds: seconds? })
    }

    fn mutes(&mut self, v: &Value<'_>, what: &str) -> Option<Vec<u32>> {
        let DeValue::Array(items) = v.get_ref() else {
            self.error(
                v.span().start,
                format!("{what}: `mutes` must be an array of seconds, e.g. `[600, 3600, 86400]`"),
            );
            return None;
        };
        if items.is_empty() {
            self.error(v.span().start, format!("{what}: `mutes` must give at least one length"));
            return None;
        }
        let mut mutes = Vec::new();
        for item in items.iter() {
            let s = self.count(item, "mutes", 1)?;
            if s > MAX_MUTE_SECONDS {
                self.error(
                    item.span().start,
                    format!("{what}: a mute is at most {MAX_MUTE_SECONDS} seconds (30 days, what QQ takes), not {s}"),
                );
                return None;
            }
            mutes.push(s);
        }
        Some(mutes)
    }

    fn admins(&mut self, v: &Value<'_>, what: &str) -> Option<Vec<String>> {
        let DeValue::Array(items) = v.get_ref() else {
            self.error(v.span().start, format!("{what}: `admins` must be an array of member ids"));
            return None;
        };
        let mut admins = Vec::new();
        for item in items.iter() {
            admins.push(self.member_id(item, "admins")?);
        }
        Some(admins)
    }
}
