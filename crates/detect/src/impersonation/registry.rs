//! The registry of protected identities, indexed for lookup by name.
//!
//! Each identity's name and aliases are kept in matching form ([`Form`]s). Candidates for a
//! name come from an inverted index of character pairs: adjacent pairs (`青川`) and pairs
//! one apart (`青_公`), so that one changed character still leaves pairs in common. A query
//! counts, per form, the pairs it shares; forms that share at least a quarter of theirs are
//! verified by alignment, best first. A lookup walks the lists of its rarest pairs first
//! (the name's own pairs before those guessed for a dropped, added or pinyin character),
//! and stops walking once lists grow long (`大学` in a registry of universities) or enough
//! entries were walked; the forms found so far are then checked for the remaining pairs in
//! a 64-bit sketch of each form's pairs (one bit a pair: a collision may overcount a pair,
//! which only lets one more form through to verification).

use std::collections::HashMap;

use steward_model::{Identity, IdentityKind};

use super::avatar::AvatarIndex;
use super::names::{Fold, canonical};
use crate::u64_map::U64Map;

/// Pair lists longer than this are not walked, but for the rarest pairs of the name.
const LONG_LIST: usize = 256;
/// Entries walked per lookup at most, but for the rarest pairs of the name.
const WALK_BUDGET: usize = 4096;
/// The rarest pairs of a name whose lists are walked however long (up to
/// [`MAX_ALWAYS_WALKED`]): a name made of common pairs only still finds its candidates.
const ALWAYS_WALKED: usize = 3;
const MAX_ALWAYS_WALKED: usize = 16_384;
/// Forms verified per lookup at most.
pub const MAX_CANDIDATES: usize = 12;

/// One protected identity.
#[derive(Debug)]
pub struct Protected {
    pub id: String,
    pub name: String,
    pub kind: IdentityKind,
    forms: Vec<u32>,
    owners: Vec<String>,
    avatars: Vec<u32>,
}

/// A name or alias of an identity in matching form: plain, with synonyms folded, or both
/// when folding changes nothing. A plain form is compared with the plain form of a name, a
/// folded one with the folded form.
#[derive(Debug)]
pub struct Form {
    pub identity: u32,
    pub text: Vec<char>,
    /// The synonym words of the name.
    pub folds: Vec<Fold>,
    pub plain: bool,
    pub folded: bool,
    /// The name as registered.
    pub raw: String,
}

/// What a lookup needs of a form, kept densely.
#[derive(Debug, Clone, Copy, Default)]
struct Meta {
    /// Distinct pairs of the form; 0 for a removed form.
    pairs: u16,
    /// One bit for each of them.
    sketch: u64,
}

type Pairs = U64Map<Vec<u32>>;

fn pair(a: char, b: char, gap: u64) -> u64 {
    gap << 42 | (a as u64) << 21 | b as u64
}

/// Adds the pairs of `chars` to `out`: adjacent characters, and characters one apart.
pub fn pairs(chars: &[char], out: &mut Vec<u64>) {
    for w in chars.windows(2) {
        out.push(pair(w[0], w[1], 0));
    }
    for w in chars.windows(3) {
        out.push(pair(w[0], w[2], 1));
    }
}

/// Adds the pairs a name would share with a protected name it imitates with a character
/// dropped, added or written in pinyin: each adjacent pair as a pair one apart and the
/// other way round, and the characters on either side of a run of letters or digits
/// (`玄武ti育` gives `武_育`).
pub fn guessed_pairs(chars: &[char], out: &mut Vec<u64>) {
    for w in chars.windows(2) {
        out.push(pair(w[0], w[1], 1));
    }
    for w in chars.windows(3) {
        out.push(pair(w[0], w[2], 0));
    }
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_alphanumeric() {
            let start = i;
            while i < chars.len() && chars[i].is_ascii_alphanumeric() {
                i += 1;
            }
            if start > 0 && i < chars.len() {
                out.push(pair(chars[start - 1], chars[i], 1));
            }
        } else {
            i += 1;
        }
    }
}

/// One bit for each pair.
fn sketch(pairs: &[u64]) -> u64 {
    pairs.iter().fold(0, |s, &p| s | 1 << (p.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 58))
}

fn distinct_pairs(texts: &[&[char]], out: &mut Vec<u64>) {
    out.clear();
    for t in texts {
        pairs(t, out);
    }
    out.sort_unstable();
    out.dedup();
}

/// The registry and its indexes.
#[derive(Default)]
pub struct Registry {
    identities: Vec<Option<Protected>>,
    by_id: HashMap<String, u32>,
    free_identities: Vec<u32>,
    forms: Vec<Option<Form>>,
    meta: Vec<Meta>,
    free_forms: Vec<u32>,
    index: Pairs,
    owners: HashMap<String, u32>,
    pub avatars: AvatarIndex,
    // Lookup buffers.
    counts: Vec<u16>,
    touched: Vec<u32>,
    query: Vec<u64>,
    guessed: Vec<u64>,
    /// (guessed, length, pair) of the query's lists.
    lists: Vec<(bool, usize, u64)>,
    /// (shared / pairs, in 1/65536, shared, form) of the forms found.
    ranked: Vec<(u32, u16, u32)>,
    scratch: String,
}

impl Registry {
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    pub fn identity(&self, slot: u32) -> Option<&Protected> {
        self.identities.get(slot as usize).and_then(Option::as_ref)
    }

    pub fn form(&self, slot: u32) -> Option<&Form> {
        self.forms.get(slot as usize).and_then(Option::as_ref)
    }

    /// Whether the account owns a registered identity: its own accounts are never flagged.
    pub fn is_owner(&self, account_id: &str) -> bool {
        self.owners.contains_key(account_id)
    }

    /// Whether `name` (matching form, folded) is one of the identity's names.
    pub fn is_named(&self, slot: u32, name: &[char]) -> bool {
        let Some(identity) = self.identity(slot) else { return false };
        identity.forms.iter().filter_map(|&f| self.form(f)).any(|f| f.folded && f.text == name)
    }

    /// Adds or replaces an identity.
    pub fn upsert(&mut self, identity: &Identity) {
        if let Some(&slot) = self.by_id.get(&identity.id) {
            self.remove(slot);
        }
        let slot = self.free_identities.pop().unwrap_or(self.identities.len() as u32);
        let mut forms: Vec<u32> = Vec::new();
        let mut seen: Vec<(Vec<char>, bool, bool)> = Vec::new();
        for raw in std::iter::once(&identity.name).chain(&identity.aliases) {
            let name = canonical(raw, &mut self.scratch);
            let same = name.chars == name.plain;
            let sides = if same {
                vec![(name.plain, true, true)]
            } else {
                vec![(name.plain, true, false), (name.chars, false, true)]
            };
            for (text, plain, folded) in sides {
                let key = (text, plain, folded);
                if key.0.len() < 2 || seen.contains(&key) {
                    continue;
                }
                let form = Form {
                    identity: slot,
                    text: key.0.clone(),
                    folds: name.folds.clone(),
                    plain,
                    folded,
                    raw: raw.clone(),
                };
                seen.push(key);
                forms.push(self.add_form(form));
            }
        }
        for owner in &identity.owner_account_ids {
            *self.owners.entry(owner.clone()).or_default() += 1;
        }
        let avatars = self.avatars.add(slot, &identity.avatar_hashes);
        let protected = Protected {
            id: identity.id.clone(),
            name: identity.name.clone(),
            kind: identity.kind,
            forms,
            owners: identity.owner_account_ids.clone(),
            avatars,
        };
        if slot as usize == self.identities.len() {
            self.identities.push(Some(protected));
        } else {
            self.identities[slot as usize] = Some(protected);
        }
        self.by_id.insert(identity.id.clone(), slot);
    }

    fn add_form(&mut self, form: Form) -> u32 {
        let slot = self.free_forms.pop().unwrap_or(self.forms.len() as u32);
        distinct_pairs(&[&form.text], &mut self.query);
        let meta = Meta { pairs: self.query.len().min(usize::from(u16::MAX)) as u16, sketch: sketch(&self.query) };
        for &p in &self.query {
            self.index.entry(p).or_default().push(slot);
        }
        if slot as usize == self.forms.len() {
            self.forms.push(Some(form));
            self.meta.push(meta);
            self.counts.push(0);
        } else {
            self.forms[slot as usize] = Some(form);
            self.meta[slot as usize] = meta;
        }
        slot
    }

    fn remove(&mut self, slot: u32) {
        let Some(old) = self.identities[slot as usize].take() else { return };
        self.by_id.remove(&old.id);
        for f in old.forms {
            let Some(form) = self.forms[f as usize].take() else { continue };
            self.meta[f as usize] = Meta::default();
            distinct_pairs(&[&form.text], &mut self.query);
            for p in &self.query {
                if let Some(list) = self.index.get_mut(p) {
                    list.retain(|&x| x != f);
                    if list.is_empty() {
                        self.index.remove(p);
                    }
                }
            }
            self.free_forms.push(f);
        }
        for owner in &old.owners {
            if let Some(n) = self.owners.get_mut(owner) {
                *n -= 1;
                if *n == 0 {
                    self.owners.remove(owner);
                }
            }
        }
        self.avatars.remove(&old.avatars);
        self.free_identities.push(slot);
    }

    /// The forms worth verifying against a name (its matching forms), most promising first.
    pub fn candidates(&mut self, name: &[&[char]], out: &mut Vec<u32>) {
        out.clear();
        distinct_pairs(name, &mut self.query);
        self.guessed.clear();
        for t in name {
            guessed_pairs(t, &mut self.guessed);
        }
        self.guessed.sort_unstable();
        self.guessed.dedup();
        // The query's pair lists: its own pairs before guessed ones, rarest first.
        self.lists.clear();
        for (guessed, pairs) in [(false, &self.query), (true, &self.guessed)] {
            for p in pairs {
                if guessed && self.query.binary_search(p).is_ok() {
                    continue;
                }
                if let Some(list) = self.index.get(p) {
                    self.lists.push((guessed, list.len(), *p));
                }
            }
        }
        self.lists.sort_unstable();
        let rest = self.walk();
        // (shared / pairs of the form, shared, form), for forms sharing at least a quarter.
        self.ranked.clear();
        for &f in &self.touched {
            let meta = self.meta[f as usize];
            let shared = std::mem::take(&mut self.counts[f as usize]);
            let shared = shared.saturating_add((meta.sketch & rest).count_ones() as u16).min(meta.pairs);
            if meta.pairs > 0 && shared * 4 >= meta.pairs {
                self.ranked.push(((u32::from(shared) << 16) / u32::from(meta.pairs), shared, f));
            }
        }
        self.touched.clear();
        let order = |a: &(u32, u16, u32), b: &(u32, u16, u32)| (b.0, b.1).cmp(&(a.0, a.1)).then(a.2.cmp(&b.2));
        if self.ranked.len() > MAX_CANDIDATES {
            self.ranked.select_nth_unstable_by(MAX_CANDIDATES, order);
            self.ranked.truncate(MAX_CANDIDATES);
        }
        self.ranked.sort_unstable_by(order);
        out.extend(self.ranked.iter().map(|r| r.2));
    }

    /// Counts, per form, the pairs it shares with the query in the lists walked (into
    /// `counts`, the forms met into `touched`); returns the sketch of the pairs not walked.
    fn walk(&mut self) -> u64 {
        let mut walked = 0;
        let mut rest = 0u64;
        for (i, &(_, len, p)) in self.lists.iter().enumerate() {
            let always = i < ALWAYS_WALKED && len <= MAX_ALWAYS_WALKED;
            if !always && (len > LONG_LIST || walked + len > WALK_BUDGET) {
                rest |= sketch(&[p]);
                continue;
            }
            if !always {
                walked += len;
            }
            for &f in self.index.get(&p).map(Vec::as_slice).unwrap_or_default() {
                let c = &mut self.counts[f as usize];
                if *c == 0 {
                    self.touched.push(f);
                }
                *c = c.saturating_add(1);
            }
        }
        rest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(id: &str, name: &str, aliases: &[&str], owners: &[&str]) -> Identity {
        Identity {
            id: id.into(),
            name: name.into(),
            aliases: aliases.iter().map(|s| s.to_string()).collect(),
            kind: IdentityKind::Police,
            owner_account_ids: owners.iter().map(|s| s.to_string()).collect(),
            avatar_hashes: vec![],
        }
    }

    fn names(r: &mut Registry, q: &str) -> Vec<String> {
        let q: Vec<char> = q.chars().collect();
        let mut out = Vec::new();
        r.candidates(&[&q], &mut out);
        out.iter().map(|&f| r.form(f).unwrap().raw.clone()).collect()
    }

    #[test]
    fn candidates_survive_one_changed_character() {
        let mut r = Registry::default();
        r.upsert(&identity("i1", "青川公安", &["青川县公安局"], &["a1"]));
        r.upsert(&identity("i2", "某某日报", &[], &[]));
        assert_eq!(names(&mut r, "青州公安")[0], "青川公安");
        assert_eq!(names(&mut r, "某某晚报")[0], "某某日报");
        assert_eq!(names(&mut r, "青chuan公安")[0], "青川公安");
        assert!(names(&mut r, "小明的日常").is_empty());
        assert!(r.is_owner("a1"));
    }

    #[test]
    fn upsert_replaces_and_forgets_the_old_names_and_owners() {
        let mut r = Registry::default();
        r.upsert(&identity("i1", "青川公安", &[], &["a1"]));
        r.upsert(&identity("i1", "某某日报", &[], &["a2"]));
        assert_eq!(r.len(), 1);
        assert!(names(&mut r, "青川公安").is_empty());
        assert_eq!(names(&mut r, "某某日报"), ["某某日报"]);
        assert!(!r.is_owner("a1"));
        assert!(r.is_owner("a2"));
        // Names without two characters to match are kept, but never looked up.
        r.upsert(&identity("i3", "@", &[], &[]));
        assert_eq!(r.len(), 2);
    }
}
