//! Places: China's administrative divisions at county level and above, and the check for a
//! name that joins one to an official word (`青川公安`, `某某县发布`) — an account that is
//! no registered body but reads as one.
//!
//! The divisions are `models/places.tsv` (built by `scripts/places.sh` from public GB/T 2260
//! data), compiled in. Both the full name (`青川县`) and the short one (`青川`) are
//! recognised; short names of one character are not names, two-character district names
//! (`城区`, `郊区`) are ordinary words, and a short name that is an official word (`公安`,
//! of 公安县) is taken as the word.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use super::lexicon::{OFFICIAL_WORDS, SYNONYMS};

/// The committed division list.
pub const SHIPPED_PLACES: &str = include_str!("../../../../models/places.tsv");

/// One division.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub code: String,
    pub name: String,
}

/// A place joined to an official word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaceOfficial<'a> {
    pub place: &'a Place,
    /// The place name and the official word as written (matching form).
    pub matched: String,
}

/// The divisions, by every name they go by.
#[derive(Debug, Default)]
pub struct Places {
    places: Vec<Place>,
    by_name: HashMap<String, u32>,
    /// First characters of the names, to skip positions no name starts at.
    firsts: HashSet<char>,
    longest: usize,
    official: HashSet<String>,
    longest_official: usize,
}

impl Places {
    /// Reads the TSV format of `models/places.tsv`: `code, name, short name, level`, `#`
    /// comments. A malformed line is an error naming it.
    pub fn parse(text: &str) -> Result<Places, String> {
        let mut p = Places::default();
        for (n, line) in text.lines().enumerate() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let f: Vec<&str> = line.split('\t').collect();
            let (Some(code), Some(name), Some(short)) = (f.first(), f.get(1), f.get(2)) else {
                return Err(format!("places line {}: expected code, name, short name", n + 1));
            };
            if code.is_empty() || name.is_empty() {
                return Err(format!("places line {}: empty code or name", n + 1));
            }
            let index = p.places.len() as u32;
            p.places.push(Place { code: code.to_string(), name: name.to_string() });
            let generic = name.chars().count() == 2 && name.ends_with('区');
            for key in [*name, *short] {
                // 公安县 is 公安 for short, which is no place in a name.
                let official = key == *short && (OFFICIAL_WORDS.contains(&key) || SYNONYMS.iter().any(|s| s.0 == key));
                if key.chars().count() >= 2 && !generic && !official {
                    p.longest = p.longest.max(key.chars().count());
                    p.firsts.extend(key.chars().next());
                    // The first division of a name stands for all that share it (朝阳).
                    p.by_name.entry(key.to_string()).or_insert(index);
                }
            }
        }
        for w in OFFICIAL_WORDS {
            p.longest_official = p.longest_official.max(w.chars().count());
            p.official.insert(w.to_string());
        }
        Ok(p)
    }

    /// The committed list, parsed once.
    pub fn shipped() -> Result<&'static Places, &'static str> {
        static SHIPPED: OnceLock<Result<Places, String>> = OnceLock::new();
        SHIPPED.get_or_init(|| Places::parse(SHIPPED_PLACES)).as_ref().map_err(|e| e.as_str())
    }

    pub fn len(&self) -> usize {
        self.places.len()
    }

    pub fn is_empty(&self) -> bool {
        self.places.is_empty()
    }

    /// Every division.
    pub fn all(&self) -> &[Place] {
        &self.places
    }

    /// The length of the longest place name `name` starts with.
    pub fn leading(&self, name: &[char]) -> Option<usize> {
        let mut key = String::new();
        (2..=self.longest.min(name.len())).rev().find(|&len| {
            key.clear();
            key.extend(&name[..len]);
            self.by_name.contains_key(&key)
        })
    }

    /// The first place in `name` (matching form) directly followed by an official word,
    /// longest place name first.
    pub fn find_official(&self, name: &[char]) -> Option<PlaceOfficial<'_>> {
        let mut key = String::new();
        for i in (0..name.len()).filter(|&i| self.firsts.contains(&name[i])) {
            for len in (2..=self.longest.min(name.len() - i)).rev() {
                key.clear();
                key.extend(&name[i..i + len]);
                let Some(&place) = self.by_name.get(&key) else { continue };
                let rest = &name[i + len..];
                for olen in (1..=self.longest_official.min(rest.len())).rev() {
                    key.clear();
                    key.extend(&rest[..olen]);
                    if self.official.contains(&key) {
                        return Some(PlaceOfficial {
                            place: &self.places[place as usize],
                            matched: name[i..i + len + olen].iter().collect(),
                        });
                    }
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(places: &Places, name: &str) -> Option<String> {
        let chars: Vec<char> = name.chars().collect();
        places.find_official(&chars).map(|m| format!("{} {}", m.place.name, m.matched))
    }

    #[test]
    fn shipped_list_loads() {
        let p = Places::shipped().unwrap();
        assert!(p.len() > 3000, "{}", p.len());
        assert_eq!(find(p, "青川公安").as_deref(), Some("青川县 青川公安"));
        assert_eq!(find(p, "最新青川县消防").as_deref(), Some("青川县 青川县消防"));
        assert_eq!(find(p, "北京发布").as_deref(), Some("北京市 北京发布"));
        assert_eq!(find(p, "北京烤鸭"), None);
        assert_eq!(find(p, "城区公安"), None);
        assert_eq!(find(p, "小明"), None);
        assert_eq!(find(p, "公安交警"), None);
        assert_eq!(find(p, ""), None);
        let name: Vec<char> = "青川县公安局".chars().collect();
        assert_eq!(p.leading(&name), Some(3));
        assert_eq!(p.leading(&name[3..]), None);
    }

    #[test]
    fn bad_lines_are_named() {
        assert!(Places::parse("# c\n110000\n").unwrap_err().contains("line 2"));
        assert!(Places::parse("\t某县\t\n").unwrap_err().contains("line 1"));
        let p = Places::parse("1\t某县\t\tcounty\n").unwrap();
        assert_eq!(find(&p, "某县公安").as_deref(), Some("某县 某县公安"));
    }
}
