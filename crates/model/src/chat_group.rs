//! Chat groups: the rules a group's admins set (`[[groups]]` in the policy) and the roles
//! its members hold. Detectors read the rules; the policy decides what breaking them costs.

use serde::{Deserialize, Serialize};

/// A member's role in a chat group, as the chat platform reports it with each message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GroupRole {
    Owner,
    Admin,
    Member,
}

impl GroupRole {
    pub fn as_str(self) -> &'static str {
        match self {
            GroupRole::Owner => "owner",
            GroupRole::Admin => "admin",
            GroupRole::Member => "member",
        }
    }
}

/// The writing systems a group's language rule tells apart. A language rule is about
/// script, not vocabulary: "English only" is kept by any Latin-script text and broken by
/// text mostly in Han, Cyrillic, and so on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Script {
    Latin,
    Han,
    Kana,
    Hangul,
    Cyrillic,
    Arabic,
    Greek,
    Thai,
    Devanagari,
    Hebrew,
}

impl Script {
    /// The script of a letter; `None` for anything that is not a letter of these scripts
    /// (digits, punctuation, emoji, symbols).
    pub fn of(c: char) -> Option<Script> {
        let u = c as u32;
        let script = match u {
            0x41..=0x5A | 0x61..=0x7A | 0xC0..=0x24F | 0x1E00..=0x1EFF | 0xFF21..=0xFF3A | 0xFF41..=0xFF5A => {
                if matches!(u, 0xD7 | 0xF7) {
                    return None;
                }
                Script::Latin
            }
            0x370..=0x3FF | 0x1F00..=0x1FFF => Script::Greek,
            0x400..=0x52F => Script::Cyrillic,
            0x590..=0x5FF => Script::Hebrew,
            0x600..=0x6FF | 0x750..=0x77F => Script::Arabic,
            0x900..=0x97F => Script::Devanagari,
            0xE00..=0xE7F => Script::Thai,
            0x1100..=0x11FF | 0x3130..=0x318F | 0xAC00..=0xD7AF => Script::Hangul,
            0x3040..=0x30FF | 0x31F0..=0x31FF | 0xFF66..=0xFF9F => Script::Kana,
            0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x3134F => Script::Han,
            _ => return None,
        };
        Some(script)
    }

    /// How much of a message one letter of the script is: a Han, Kana or Hangul character
    /// carries about what a short Latin word does, so "short" means the same in each.
    pub fn weight(self) -> u32 {
        match self {
            Script::Han | Script::Kana | Script::Hangul => 3,
            _ => 1,
        }
    }
}

/// Languages a group's rule may name, with the scripts their text is written in.
pub const LANGUAGES: &[(&str, &[Script])] = &[
    ("en", &[Script::Latin]),
    ("de", &[Script::Latin]),
    ("es", &[Script::Latin]),
    ("fr", &[Script::Latin]),
    ("id", &[Script::Latin]),
    ("it", &[Script::Latin]),
    ("ms", &[Script::Latin]),
    ("nl", &[Script::Latin]),
    ("pl", &[Script::Latin]),
    ("pt", &[Script::Latin]),
    ("tr", &[Script::Latin]),
    ("vi", &[Script::Latin]),
    ("zh", &[Script::Han]),
    ("ja", &[Script::Han, Script::Kana]),
    ("ko", &[Script::Hangul, Script::Han]),
    ("ru", &[Script::Cyrillic]),
    ("uk", &[Script::Cyrillic]),
    ("ar", &[Script::Arabic]),
    ("fa", &[Script::Arabic]),
    ("el", &[Script::Greek]),
    ("he", &[Script::Hebrew]),
    ("hi", &[Script::Devanagari]),
    ("th", &[Script::Thai]),
];

/// The scripts of a language code of [`LANGUAGES`].
pub fn language_scripts(code: &str) -> Option<&'static [Script]> {
    LANGUAGES.iter().find(|(c, _)| *c == code).map(|(_, s)| *s)
}

/// What share of a text's letters (weighted by [`Script::weight`]) is outside the
/// expected scripts, and the weighted count of letters. Mentions and links are the
/// caller's to cut first.
pub fn off_script_share(text: &str, expected: &[Script]) -> (f64, u32) {
    let (mut total, mut off) = (0u32, 0u32);
    for script in text.chars().filter_map(Script::of) {
        let w = script.weight();
        total += w;
        if !expected.contains(&script) {
            off += w;
        }
    }
    if total == 0 { (0.0, 0) } else { (f64::from(off) / f64::from(total), total) }
}

/// Flood limit: more than `messages` messages within `seconds` breaks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flood {
    pub messages: u32,
    pub seconds: u32,
}

/// One group's rules, from `[[groups]]` in the policy.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupRules {
    /// The group's id on its platform (a QQ group number, say), as messages carry it.
    pub id: String,
    /// What admins call it, for notices and the console.
    pub name: String,
    /// The language code members must write in (`en`), if the group has one.
    pub language: Option<String>,
    /// The scripts of that language.
    pub scripts: &'static [Script],
    pub flood: Option<Flood>,
    /// Whether members may post links.
    pub links: bool,
    /// Whether the group's admins are outside its rules (the owner always is).
    pub admins_exempt: bool,
    /// Mute lengths in seconds: the first breach within `mute_window_hours` gets the first,
    /// the next the second, and so on, the last repeating.
    pub mutes: Vec<u32>,
    pub mute_window_hours: u32,
    /// Members (ids) told the details of each action taken in the group.
    pub admins: Vec<String>,
}

impl GroupRules {
    /// The rules of a group with nothing set: links allowed, no language, no flood limit.
    pub fn new(id: &str) -> Self {
        GroupRules {
            id: id.to_string(),
            name: id.to_string(),
            language: None,
            scripts: &[],
            flood: None,
            links: true,
            admins_exempt: true,
            mutes: DEFAULT_MUTES.to_vec(),
            mute_window_hours: 24,
            admins: Vec::new(),
        }
    }

    /// The mute length for the `n`th breach (1-based) within the window.
    pub fn mute_seconds(&self, n: u32) -> u32 {
        let i = (n.max(1) - 1) as usize;
        self.mutes.get(i).or(self.mutes.last()).copied().unwrap_or(DEFAULT_MUTES[0])
    }

    /// Whether a member of this role is held to the group's rules.
    pub fn binds(&self, role: Option<GroupRole>) -> bool {
        match role {
            Some(GroupRole::Owner) => false,
            Some(GroupRole::Admin) => !self.admins_exempt,
            _ => true,
        }
    }
}

/// Ten minutes, an hour, a day.
pub const DEFAULT_MUTES: [u32; 3] = [600, 3600, 86_400];

/// The longest mute a group platform takes (QQ: 30 days).
pub const MAX_MUTE_SECONDS: u32 = 30 * 86_400;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_of_letters_and_not_of_the_rest() {
        assert_eq!(Script::of('a'), Some(Script::Latin));
        assert_eq!(Script::of('é'), Some(Script::Latin));
        assert_eq!(Script::of('中'), Some(Script::Han));
        assert_eq!(Script::of('の'), Some(Script::Kana));
        assert_eq!(Script::of('한'), Some(Script::Hangul));
        assert_eq!(Script::of('Ж'), Some(Script::Cyrillic));
        for c in ['1', '!', '。', '😀', ' ', '×'] {
            assert_eq!(Script::of(c), None, "{c}");
        }
    }

    #[test]
    fn the_off_script_share_weighs_cjk_characters_as_words() {
        let en = language_scripts("en").unwrap();
        assert_eq!(off_script_share("hello there", en), (0.0, 10));
        let (share, letters) = off_script_share("请用中文回答 ok", en);
        assert_eq!(letters, 6 * 3 + 2);
        assert!((share - 18.0 / 20.0).abs() < 1e-9);
        assert_eq!(off_script_share("😀😀 123 !!", en), (0.0, 0));
    }

    #[test]
    fn mutes_escalate_and_the_last_repeats() {
        let g = GroupRules { mutes: vec![60, 600], ..GroupRules::new("g") };
        assert_eq!([g.mute_seconds(1), g.mute_seconds(2), g.mute_seconds(5)], [60, 600, 600]);
    }

    #[test]
    fn the_owner_is_never_bound_and_admins_as_the_group_says() {
        let mut g = GroupRules::new("g");
        assert!(!g.binds(Some(GroupRole::Owner)));
        assert!(!g.binds(Some(GroupRole::Admin)));
        assert!(g.binds(Some(GroupRole::Member)) && g.binds(None));
        g.admins_exempt = false;
        assert!(g.binds(Some(GroupRole::Admin)) && !g.binds(Some(GroupRole::Owner)));
    }
}
