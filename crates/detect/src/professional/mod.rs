//! Unqualified professionals: accounts that call themselves doctor, pharmacist, lawyer,
//! professor, teacher, counsellor, dietitian, financial planner or accountant (医生, 药师,
//! 律师, 教授, 教师, 心理咨询师, 营养师, 理财师, 注册会计师…) and give advice in that field
//! without a verified credential for it.
//!
//! Texts are read in matching form (`steward_text::normalize`: traditional, full-width and
//! zero-width characters do not hide a title) and scanned for [`lexicon::TITLES`] in one
//! pass ([`scan`]). A title is a claim anywhere in the display name or bio (王医生谈健康,
//! `Dr. Chen`) unless it names someone else or is denied (看医生, 本人非医生, ask your
//! doctor); in a post only after first-person words (我是, 作为一名, 身为, I'm a, as a), so a
//! post that mentions a doctor claims nothing. Advice in the field is one of its topic words
//! ([`lexicon::CUES`]) together with an advice marker (建议, 千万不要, should, DM me), titles
//! themselves left out (心理咨询师 is not advice about 心理 with a 咨询).
//!
//! `credential.verified` events, and at start every stored credential (the detector's
//! [`knowledge`](Detector::knowledge) is `credential`), record the fields each account is
//! verified in. A credential clears its own field only: a verified lawyer who gives medical
//! advice as 医生 is flagged.
//!
//! Signal `unqualified_professional_claim` (score 1), raised on `post.created` when the
//! author's name or bio, or the post in the first person, claims a title, the post gives
//! advice in the title's field and the author holds no credential for it; and on
//! `account.upserted`, when the account is new or changed its name or bio, when the name or
//! bio claims a title and the bio gives such advice. Evidence: `field`, `title` (in matching
//! form), `where` (`name`, `bio` or `post`) and `advice` (the topic and marker words found).

pub mod credentials;
pub mod field;
pub mod lexicon;
pub mod scan;

use steward_model::{Account, Credential, Payload, Post, Signal};

pub use credentials::Credentials;
pub use field::{Field, FieldSet};
pub use scan::{TitleMatch, Titles};

use crate::profile::name_or_bio_new;
use crate::{About, Context, Detector, Findings, SignalSpec};
use lexicon::{ADVICE_MARKERS, CUES, FIRST_PERSON, MENTIONS, NOT_FIRST_PERSON, TITLES};
use scan::{contains_word, ends_with_any, lead_in, names_someone_else};

const NAME: &str = "unqualified_professional_claim";
const VERSION: u32 = 1;
const SPECS: &[SignalSpec] = &[SignalSpec { name: NAME, evidence: &["field", "title", "where", "advice"] }];
const ABOUT: About = About { name: NAME, version: VERSION, signals: SPECS };

/// Topic and marker words reported as evidence, at most.
const MAX_CUES: usize = 4;
const MAX_MARKERS: usize = 2;

/// Where a title was claimed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    Name,
    Bio,
    Post,
}

impl Place {
    pub fn as_str(self) -> &'static str {
        match self {
            Place::Name => "name",
            Place::Bio => "bio",
            Place::Post => "post",
        }
    }
}

/// A title an account claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claim {
    pub field: Field,
    pub title: &'static str,
    pub place: Place,
}

/// Whether a title found in a text is a claim by its author.
fn claims(place: Place, text: &str, m: &TitleMatch) -> bool {
    if names_someone_else(&text[m.end..]) {
        return false;
    }
    let before = lead_in(&text[..m.start]);
    match place {
        Place::Name | Place::Bio => !ends_with_any(before, MENTIONS),
        Place::Post => ends_with_any(before, FIRST_PERSON) && !ends_with_any(before, NOT_FIRST_PERSON),
    }
}

/// The topic and marker words of advice in `field` that a text gives, joined by `, `.
pub fn advice(text: &str, field: Field) -> Option<String> {
    let cues = CUES.iter().filter(|(f, _)| *f == field).flat_map(|(_, words)| words.iter());
    let mut found: Vec<&str> = cues.filter(|w| contains_word(text, w)).take(MAX_CUES).copied().collect();
    if found.is_empty() {
        return None;
    }
    let cue_count = found.len();
    found.extend(ADVICE_MARKERS.iter().filter(|w| contains_word(text, w)).take(MAX_MARKERS));
    (found.len() > cue_count).then(|| found.join(", "))
}

/// One text as the detector reads it: normalized, with its titles blanked out (same byte
/// length) so that a title is not read as advice, and the titles found.
#[derive(Default)]
struct Reading {
    text: String,
    titles: Vec<TitleMatch>,
}

impl Reading {
    fn read(&mut self, raw: &str, titles: &Titles) {
        steward_text::normalize_into(raw, &mut self.text);
        titles.find_into(&self.text, &mut self.titles);
        for m in &self.titles {
            self.text.replace_range(m.start..m.end, &" ".repeat(m.end - m.start));
        }
    }

    fn claims_into(&self, place: Place, out: &mut Vec<Claim>) {
        let found = self.titles.iter().filter(|m| claims(place, &self.text, m));
        out.extend(found.map(|m| Claim { field: m.field, title: m.title, place }));
    }
}

/// The detector: credentials by account, and reusable buffers.
pub struct Professionals {
    titles: Titles,
    credentials: Credentials,
    name: Reading,
    bio: Reading,
    post: Reading,
    claims: Vec<Claim>,
}

impl Default for Professionals {
    fn default() -> Self {
        Professionals {
            titles: Titles::new(TITLES),
            credentials: Credentials::default(),
            name: Reading::default(),
            bio: Reading::default(),
            post: Reading::default(),
            claims: Vec::new(),
        }
    }
}

impl Professionals {
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// Records a verified credential. Its field is read from `field`, or from its title when
    /// the field is not one steward knows (`healthcare`, 主任医师 → medicine).
    pub fn verify(&mut self, credential: &Credential) {
        let field = Field::from_name(&credential.field)
            .or_else(|| self.titles.first_field(&steward_text::normalize(&credential.title)));
        if let Some(field) = field {
            self.credentials.add(&credential.account_id, field);
        }
    }

    /// Reads an account's name and bio and collects their claims.
    fn read_profile(&mut self, account: &Account) {
        self.name.read(&account.display_name, &self.titles);
        self.bio.read(&account.bio, &self.titles);
        self.name.claims_into(Place::Name, &mut self.claims);
        self.bio.claims_into(Place::Bio, &mut self.claims);
    }

    /// A post whose author (by profile or in the post) claims a title and gives advice in its
    /// field without a credential for it.
    pub fn check_post(&mut self, author: Option<&Account>, post: &Post) -> Option<Signal> {
        self.post.read(&post.full_text(), &self.titles);
        // Advice needs an advice word in the post: without one, no claim can matter, and the
        // author's profile is not read (most posts stop here).
        if !ADVICE_MARKERS.iter().any(|w| contains_word(&self.post.text, w)) {
            return None;
        }
        self.claims.clear();
        if let Some(author) = author {
            self.read_profile(author);
        }
        self.post.claims_into(Place::Post, &mut self.claims);
        self.unqualified_advice(&post.account_id, &self.post)
    }

    /// An account whose name or bio claims a title and whose bio gives advice in its field
    /// without a credential for it.
    pub fn check_profile(&mut self, account: &Account) -> Option<Signal> {
        self.claims.clear();
        self.read_profile(account);
        self.unqualified_advice(&account.id, &self.bio)
    }

    /// The first claim in a field the account is not verified in whose advice `reading` gives.
    fn unqualified_advice(&self, account_id: &str, reading: &Reading) -> Option<Signal> {
        if self.claims.is_empty() {
            return None;
        }
        let held = self.credentials.of(account_id);
        self.claims.iter().filter(|c| !held.contains(c.field)).find_map(|c| {
            let advice = advice(&reading.text, c.field)?;
            Some(
                Signal::new(NAME, NAME, VERSION, 1.0)
                    .with("field", c.field.as_str())
                    .with("title", c.title)
                    .with("where", c.place.as_str())
                    .with("advice", advice),
            )
        })
    }
}

impl Detector for Professionals {
    fn about(&self) -> &'static About {
        &ABOUT
    }

    fn knowledge(&self) -> &'static [&'static str] {
        &["credential"]
    }

    fn inspect(&mut self, ctx: &Context, out: &mut Findings) {
        let signal = match &ctx.event.payload {
            Payload::CredentialVerified(credential) => {
                self.verify(credential);
                None
            }
            Payload::PostCreated(post) => self.check_post(ctx.account, post),
            Payload::AccountUpserted(account) if name_or_bio_new(ctx.account, account) => self.check_profile(account),
            _ => None,
        };
        out.signals.extend(signal);
    }
}

#[cfg(test)]
mod tests;
