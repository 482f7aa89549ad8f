//! The decision for one account: does its name, avatar or bio pose as a protected identity,
//! or its name as an official body of a place?
//!
//! In order of strength:
//! 1. the name aligns with a registered name or alias within that name's [`budget`], once
//!    padding words are stripped from its ends ([`cores`]);
//! 2. the avatar's perceptual hash is within tolerance of a registered avatar;
//! 3. the bio claims to be an identity's official account (`某某日报官方微博`);
//! 4. the name joins a place to an official word ([`Places::find_official`]).

use steward_model::Account;

use super::align::{Aligner, Alignment, EDIT, budget};
use super::names::{Canonical, Core, canonical, canonical_text, cores, swapped_synonym};
use super::places::Places;
use super::registry::Registry;

/// Words by which a bio claims an account is some body's own (`官方`, `官微`, `官博`).
const BIO_CLAIMS: &[&str] = &["官方", "官微", "官博"];
/// What may stand before the claimed name for the bio to speak of the account itself
/// (`这里是某某日报官方微博`), rather than cite the body (`转载自某某日报官方微博`).
const BIO_SELF: &[&str] = &["", "这里是", "我是", "本号是", "本号为", "本号系", "本账号是", "本账号为", "此号为"];
/// How far into a bio a claim word is looked for.
const BIO_WINDOW: usize = 32;

/// What an account was found to pose as.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// Registry slot of the identity; `None` for a place posed as.
    pub identity: Option<u32>,
    /// The place's code and name, for a place joined to an official word.
    pub place: Option<(String, String)>,
    /// In `[0, 1]`.
    pub score: f64,
    /// The part of the name (or bio) that matched, in matching form.
    pub matched: String,
    /// How it matched: `exact`, `exact-after-normalization`, `added-words`, `synonym`,
    /// `edit`, `pinyin`, `avatar`, `bio`, `place-official`.
    pub how: Vec<&'static str>,
    pub avatar_distance: Option<u32>,
}

/// The registry, the places and the buffers of a check.
pub struct Matcher {
    pub registry: Registry,
    places: Option<&'static Places>,
    aligner: Aligner,
    scratch: String,
    cores: Vec<Core>,
    folded_cores: Vec<Core>,
    candidates: Vec<u32>,
}

struct NameMatch {
    form: u32,
    /// The core, of the plain or the folded name.
    core: Core,
    folded: bool,
    alignment: Alignment,
    len: usize,
}

impl Matcher {
    pub fn new(places: Option<&'static Places>) -> Self {
        Matcher {
            registry: Registry::default(),
            places,
            aligner: Aligner::default(),
            scratch: String::new(),
            cores: Vec::new(),
            folded_cores: Vec::new(),
            candidates: Vec::new(),
        }
    }

    /// Checks an account. Accounts that own a registered identity are never flagged, nor is
    /// an organisation the platform verified when it looks like itself: like the identity its
    /// verified name is, or like an official body of a place.
    pub fn check(&mut self, account: &Account) -> Option<Finding> {
        if self.registry.is_owner(&account.id) {
            return None;
        }
        let finding = self.find(account)?;
        let verified = account.identity.as_ref().filter(|v| account.verified && v.kind == "organization");
        if let Some(v) = verified {
            let own = match finding.identity {
                Some(slot) => self.registry.is_named(slot, &canonical(&v.name, &mut self.scratch).chars),
                None => true,
            };
            if own {
                return None;
            }
        }
        Some(finding)
    }

    fn find(&mut self, account: &Account) -> Option<Finding> {
        let name = canonical(&account.display_name, &mut self.scratch);
        let by_name = self.match_name(&name).and_then(|m| self.name_finding(&account.display_name, &name, m));
        let by_avatar = account.avatar_hash.as_deref().and_then(|h| self.registry.avatars.nearest(h));
        match (by_name, by_avatar) {
            (Some(mut f), Some((slot, d))) if f.identity == Some(slot) => {
                f.how.push("avatar");
                f.avatar_distance = Some(d);
                f.score = (f.score + 0.05).min(1.0);
                Some(f)
            }
            (Some(f), _) => Some(f),
            (None, Some((slot, d))) => Some(Finding {
                identity: Some(slot),
                place: None,
                score: 0.9 - 0.2 * f64::from(d) / 64.0,
                matched: String::new(),
                how: vec!["avatar"],
                avatar_distance: Some(d),
            }),
            (None, None) => self.match_bio(&account.bio).or_else(|| self.match_place(&name)),
        }
    }

    /// The best alignment of the name's cores with a candidate form within its budget.
    fn match_name(&mut self, name: &Canonical) -> Option<NameMatch> {
        if name.plain.len() < 2 {
            return None;
        }
        cores(&name.plain, &mut self.cores);
        cores(&name.chars, &mut self.folded_cores);
        self.registry.candidates(&[&name.plain, &name.chars], &mut self.candidates);
        let mut best: Option<(f64, NameMatch)> = None;
        for &f in &self.candidates {
            let Some(form) = self.registry.form(f) else { continue };
            let len = form.text.len();
            let limit = budget(len);
            for folded in [false, true] {
                let (text, cores) = match (folded, form.plain, form.folded) {
                    (false, true, _) => (&name.plain, &self.cores),
                    (true, _, true) => (&name.chars, &self.folded_cores),
                    _ => continue,
                };
                for &core in cores {
                    let Some(alignment) = self.aligner.align(&text[core.start..core.end], &form.text, limit) else {
                        continue;
                    };
                    let closeness = closeness(alignment.cost, len);
                    let better = match &best {
                        None => true,
                        Some((c, m)) => {
                            (closeness, std::cmp::Reverse(core.words)) > (*c, std::cmp::Reverse(m.core.words))
                        }
                    };
                    if better {
                        best = Some((closeness, NameMatch { form: f, core, folded, alignment, len }));
                    }
                }
            }
            // The whole name is a registered name: nothing can match better.
            if best.as_ref().is_some_and(|(_, m)| m.alignment.cost == 0 && m.core.words == 0) {
                break;
            }
        }
        best.map(|(_, m)| m)
    }

    fn name_finding(&self, raw: &str, name: &Canonical, m: NameMatch) -> Option<Finding> {
        let form = self.registry.form(m.form)?;
        let mut how = Vec::new();
        let exact = raw.trim() == form.raw.trim();
        if exact {
            how.push("exact");
        } else {
            if m.core.words > 0 {
                how.push("added-words");
            }
            if m.folded && swapped_synonym(&name.folds, &form.folds) {
                how.push("synonym");
            }
            if m.alignment.pinyin > 0 {
                how.push("pinyin");
            }
            if m.alignment.edits > 0 {
                how.push("edit");
            }
            if how.is_empty() {
                how.push("exact-after-normalization");
            }
        }
        Some(Finding {
            identity: Some(form.identity),
            place: None,
            score: if exact { 1.0 } else { 0.95 * closeness(m.alignment.cost, m.len) },
            matched: if m.folded { &name.chars } else { &name.plain }[m.core.start..m.core.end].iter().collect(),
            how,
            avatar_distance: None,
        })
    }

    /// A bio that opens by claiming to be a registered identity's own account: a registered
    /// name directly before `官方` (or `官微`, `官博`), with at most a self-reference
    /// ([`BIO_SELF`]) before it.
    fn match_bio(&mut self, bio: &str) -> Option<Finding> {
        if !BIO_CLAIMS.iter().any(|w| bio.contains(w)) {
            return None;
        }
        let bio = canonical_text(bio, &mut self.scratch, BIO_WINDOW).chars;
        for claim in BIO_CLAIMS {
            let claim: Vec<char> = claim.chars().collect();
            for at in (0..bio.len()).filter(|&i| bio[i..].starts_with(&claim)) {
                let window = &bio[..at];
                self.registry.candidates(&[window], &mut self.candidates);
                for &f in &self.candidates {
                    let Some(form) = self.registry.form(f) else { continue };
                    let before = window.len().saturating_sub(form.text.len());
                    let own = BIO_SELF.iter().any(|w| window[..before].iter().copied().eq(w.chars()));
                    if form.folded && form.text.len() >= 3 && window.ends_with(&form.text) && own {
                        return Some(Finding {
                            identity: Some(form.identity),
                            place: None,
                            score: 0.8,
                            matched: form.text.iter().chain(&claim).collect(),
                            how: vec!["bio"],
                            avatar_distance: None,
                        });
                    }
                }
            }
        }
        None
    }

    fn match_place(&self, name: &Canonical) -> Option<Finding> {
        let found = self.places?.find_official(&name.chars)?;
        Some(Finding {
            identity: None,
            place: Some((found.place.code.clone(), found.place.name.clone())),
            score: 0.6,
            matched: found.matched,
            how: vec!["place-official"],
            avatar_distance: None,
        })
    }
}

/// 1 for an exact match, falling with the cost relative to the name's length.
fn closeness(cost: u16, len: usize) -> f64 {
    1.0 - f64::from(cost) / (f64::from(EDIT) * (len as f64 + 1.0))
}
