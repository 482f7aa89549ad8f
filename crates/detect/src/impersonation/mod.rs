//! Account impersonation (冒充): accounts posing as a government body, police, a court, a
//! news outlet or a campus through their name, avatar or bio, or using a county-or-higher
//! place name with an official word to look official.
//!
//! The detector keeps a [`Registry`] of protected identities, learnt from
//! `identity.upserted` events (and, at start, from every stored identity: its
//! [`knowledge`](Detector::knowledge) is `identity`). On `account.upserted` it checks the
//! account when it is new or when its display name, bio or avatar changed — so an account
//! that renames itself to look official is flagged at the rename — with [`Matcher::check`]:
//! the name in matching form ([`names`]: traditional, look-alike, full-width, zero-width
//! characters, emoji, separators and synonyms dealt with) is aligned with registered names
//! found through a pair index ([`registry`]), padding words stripped, pinyin and small edits
//! tolerated ([`align`]); then the avatar hash ([`avatar`]), a bio claiming to be the
//! identity's own, and place names joined to official words ([`places`]). The owners of a
//! registered identity are never flagged, nor is an organisation the platform verified
//! (`verified` with an `identity` of type `organization`) for looking like itself.
//!
//! Signal `impersonation`, evidence: `identity` (registry id, null for a place),
//! `identity_name`, `kind`, `score`, `matched`, `how` (`exact`, `exact-after-normalization`,
//! `added-words`, `synonym`, `edit`, `pinyin`, `avatar`, `bio`, `place-official`, joined by
//! `+`), and `place` (division code) or `avatar_distance` (bits) when they apply.

pub mod align;
pub mod avatar;
pub mod lexicon;
pub mod matcher;
pub mod names;
pub mod places;
pub mod registry;

use serde_json::Value;
use steward_model::{Payload, Signal};

pub use matcher::{Finding, Matcher};
pub use places::Places;
pub use registry::Registry;

use crate::profile::presents_anew;
use crate::{About, Context, Detector, Findings, SignalSpec};

const NAME: &str = "impersonation";
const VERSION: u32 = 1;
const SPECS: &[SignalSpec] = &[SignalSpec {
    name: NAME,
    evidence: &["identity", "identity_name", "kind", "score", "matched", "how", "place", "avatar_distance"],
}];
const ABOUT: About = About { name: NAME, version: VERSION, signals: SPECS };

/// The detector: the registry and the matcher's buffers.
pub struct Impersonation {
    matcher: Matcher,
}

impl Default for Impersonation {
    /// With the shipped place list (a unit test makes sure it loads; without it only the
    /// place check is off).
    fn default() -> Self {
        Impersonation { matcher: Matcher::new(Places::shipped().ok()) }
    }
}

impl Impersonation {
    pub fn matcher(&mut self) -> &mut Matcher {
        &mut self.matcher
    }

    /// The signal for a finding.
    pub fn signal(&self, f: &Finding) -> Signal {
        let score = (f.score * 1000.0).round() / 1000.0;
        let identity = f.identity.and_then(|slot| self.matcher.registry.identity(slot));
        let (id, name, kind) = match (identity, &f.place) {
            (Some(p), _) => (Value::from(p.id.as_str()), p.name.clone(), p.kind.as_str()),
            (None, Some((_, place))) => (Value::Null, format!("an official body of {place}"), "government"),
            (None, None) => (Value::Null, String::new(), "government"),
        };
        let mut s = Signal::new(NAME, NAME, VERSION, score)
            .with("identity", id)
            .with("identity_name", name)
            .with("kind", kind)
            .with("score", score)
            .with("matched", f.matched.as_str())
            .with("how", f.how.join("+"));
        if let Some((code, _)) = &f.place {
            s = s.with("place", code.as_str());
        }
        if let Some(d) = f.avatar_distance {
            s = s.with("avatar_distance", d);
        }
        s
    }
}

impl Detector for Impersonation {
    fn about(&self) -> &'static About {
        &ABOUT
    }

    fn knowledge(&self) -> &'static [&'static str] {
        &["identity"]
    }

    fn inspect(&mut self, ctx: &Context, out: &mut Findings) {
        match &ctx.event.payload {
            Payload::IdentityUpserted(identity) => self.matcher.registry.upsert(identity),
            Payload::AccountUpserted(account) => {
                if !presents_anew(ctx.account, account) {
                    return;
                }
                if let Some(f) = self.matcher.check(account) {
                    out.signals.push(self.signal(&f));
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests;
