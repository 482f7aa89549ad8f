//! Clickbait (标题党): titles and short posts that withhold or oversell their news to harvest
//! clicks — "震惊！这种水果竟然……", "你绝对想不到……", "21 Things You Won't Believe".
//!
//! [`Clickbait`] scores a title (or a short post's text) with a logistic regression over
//! style cues and hashed character/word n-grams ([`features`]), one model per language,
//! the language taken from the script. The weights are the project's own, trained by
//! `steward train clickbait` ([`train`]) and committed as `models/clickbait.json`; the
//! training data is not part of the repository. The operating cut, chosen by
//! cross-validation, is folded into the weights, so [`THRESHOLD`] is 0.5.
//!
//! [`ClickbaitDetector`] raises the `clickbait` signal on `post.created` when the post's
//! title — or, for a post without a title, its text if it is at most [`MAX_TEXT_CHARS`]
//! characters — is flagged ([`Clickbait::decide`]: a score of at least [`THRESHOLD`] and,
//! for Chinese, at least one strong bait cue). Evidence: `language`, `score`, `cues` (the
//! bait cues found, those that raise the score most first), `threshold`.

pub mod features;
pub mod model;
pub mod train;

use std::cell::RefCell;
use std::sync::OnceLock;

use serde_json::Value;
use steward_model::{Payload, Signal};

pub use features::{EN_CUES, Language, Layout, Lexicon, NEUTRAL_CUES, Scratch, ZH_CUES};
pub use model::{LangModel, ModelFile};

use crate::{About, Context, Detector, Findings, SignalSpec};

/// Scores at or above this are clickbait (the cross-validated cut is in the weights).
pub const THRESHOLD: f64 = 0.5;

/// A post without a title is scored on its text only when the text is at most this many
/// characters: longer posts are articles, not headlines.
pub const MAX_TEXT_CHARS: usize = 140;

/// The committed weights.
pub const SHIPPED_MODEL: &str = include_str!("../../../../models/clickbait.json");

/// What a title scored.
#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    /// In `[0, 1]`; clickbait candidates from [`THRESHOLD`] on.
    pub score: f64,
    pub language: Language,
    /// The bait cues found in the title, those that raise the score most first.
    pub cues: Vec<&'static str>,
    /// Whether the title is clickbait: see [`Clickbait::decide`].
    pub flagged: bool,
}

/// The decision on a title, without the cue list (the fast path).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decision {
    pub score: f64,
    pub language: Language,
    pub flagged: bool,
}

/// The clickbait model: both languages' weights and the word lists.
pub struct Clickbait {
    lexicon: Lexicon,
    zh: LangModel,
    en: LangModel,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

fn with_scratch<R>(f: impl FnOnce(&mut Scratch) -> R) -> R {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut s) => f(&mut s),
        Err(_) => f(&mut Scratch::default()),
    })
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

impl Clickbait {
    pub fn new(zh: LangModel, en: LangModel) -> Result<Self, String> {
        if zh.layout.lang != Language::Zh || en.layout.lang != Language::En {
            return Err("models given for the wrong languages".into());
        }
        Ok(Clickbait { lexicon: Lexicon::new(), zh, en })
    }

    /// Reads a weights file (see [`model`]).
    pub fn from_json(json: &str) -> Result<Self, String> {
        let file: ModelFile = serde_json::from_str(json).map_err(|e| format!("clickbait weights: {e}"))?;
        Clickbait::from_file(&file)
    }

    pub fn from_file(file: &ModelFile) -> Result<Self, String> {
        if file.format != model::FORMAT {
            return Err(format!("clickbait weights: format {:?}, expected {:?}", file.format, model::FORMAT));
        }
        let lang = |l: Language| {
            let f =
                file.languages.get(l.as_str()).ok_or_else(|| format!("clickbait weights: no {} model", l.as_str()))?;
            LangModel::from_file(l, f).map_err(|e| format!("clickbait weights: {e}"))
        };
        Clickbait::new(lang(Language::Zh)?, lang(Language::En)?)
    }

    /// The committed model, loaded once.
    pub fn shipped() -> Result<&'static Clickbait, &'static str> {
        static SHIPPED: OnceLock<Result<Clickbait, String>> = OnceLock::new();
        SHIPPED.get_or_init(|| Clickbait::from_json(SHIPPED_MODEL)).as_ref().map_err(|e| e.as_str())
    }

    pub fn model(&self, lang: Language) -> &LangModel {
        match lang {
            Language::Zh => &self.zh,
            Language::En => &self.en,
        }
    }

    pub fn lexicon(&self) -> &Lexicon {
        &self.lexicon
    }

    /// Scores a title or short text: the score, the language, the cues behind it and the
    /// decision.
    pub fn score(&self, text: &str) -> Score {
        let language = Language::detect(text);
        with_scratch(|s| {
            let z = self.logit_in(language, text, s);
            let flagged = self.flag(language, sigmoid(z), s);
            let m = self.model(language);
            let names = features::cue_names(language);
            let mut fired: Vec<(f32, &'static str)> = s
                .features
                .iter()
                .filter(|&&(i, v)| v != 0.0 && features::is_bait_cue(language, i as usize, m.weights[i as usize] * v))
                .map(|&(i, v)| (m.weights[i as usize] * v, names[i as usize]))
                .collect();
            fired.sort_by(|a, b| b.0.total_cmp(&a.0));
            Score { score: sigmoid(z), language, cues: fired.into_iter().map(|(_, n)| n).collect(), flagged }
        })
    }

    /// The decision alone: clickbait when the score reaches [`THRESHOLD`] and, for a
    /// language whose model requires it (Chinese), the title holds a bait cue (a strong one,
    /// [`features::ZH_STRONG_CUES`], or another that raises the score). A title with no
    /// sign of bait is not flagged on its vocabulary alone: plain headlines of an
    /// unfamiliar outlet or topic stay unflagged, and every flag has a reason to show.
    pub fn decide(&self, text: &str) -> Decision {
        let language = Language::detect(text);
        with_scratch(|s| {
            let score = sigmoid(self.logit_in(language, text, s));
            Decision { score, language, flagged: self.flag(language, score, s) }
        })
    }

    fn flag(&self, lang: Language, score: f64, scratch: &Scratch) -> bool {
        let m = self.model(lang);
        score >= THRESHOLD && (!m.require_cue || features::has_bait_cue(lang, &scratch.features, &m.weights))
    }

    /// The score alone (no cue list): the fast path for bulk scoring.
    pub fn probability(&self, text: &str) -> (f64, Language) {
        let language = Language::detect(text);
        (with_scratch(|s| sigmoid(self.logit_in(language, text, s))), language)
    }

    /// The linear score of `text` as `lang`, leaving its features in `scratch`.
    pub fn logit_in(&self, lang: Language, text: &str, scratch: &mut Scratch) -> f64 {
        let m = self.model(lang);
        features::extract(&self.lexicon, &m.layout, text, scratch);
        let mut z = 0f32;
        for &(i, v) in &scratch.features {
            z += m.weights.get(i as usize).copied().unwrap_or(0.0) * v;
        }
        m.bias + f64::from(z)
    }
}

const NAME: &str = "clickbait";
const VERSION: u32 = 1;
const SPECS: &[SignalSpec] = &[SignalSpec { name: "clickbait", evidence: &["language", "score", "cues", "threshold"] }];
const ABOUT: About = About { name: NAME, version: VERSION, signals: SPECS };

/// The detector: scores each new post's title, or its text when it is short and untitled.
pub struct ClickbaitDetector {
    model: Option<&'static Clickbait>,
}

impl Default for ClickbaitDetector {
    /// With the committed model. Should it fail to load (a unit test makes sure it does
    /// not), the detector raises nothing.
    fn default() -> Self {
        ClickbaitDetector { model: Clickbait::shipped().ok() }
    }
}

impl ClickbaitDetector {
    pub fn new(model: &'static Clickbait) -> Self {
        ClickbaitDetector { model: Some(model) }
    }
}

/// What of a post is scored: its title, else its text when short.
pub fn scored_text<'a>(title: Option<&'a str>, text: &'a str) -> Option<&'a str> {
    if let Some(t) = title.map(str::trim).filter(|t| !t.is_empty()) {
        return Some(t);
    }
    let t = text.trim();
    (!t.is_empty() && t.chars().count() <= MAX_TEXT_CHARS).then_some(t)
}

impl Detector for ClickbaitDetector {
    fn about(&self) -> &'static About {
        &ABOUT
    }

    fn inspect(&mut self, ctx: &Context, out: &mut Findings) {
        let Payload::PostCreated(post) = &ctx.event.payload else { return };
        let Some(model) = self.model else { return };
        let Some(text) = scored_text(post.title.as_deref(), &post.text) else { return };
        let s = model.score(text);
        if !s.flagged {
            return;
        }
        let score = (s.score * 1000.0).round() / 1000.0;
        out.signals.push(
            Signal::new(NAME, NAME, VERSION, score)
                .with("language", s.language.as_str())
                .with("score", score)
                .with("cues", Value::from(s.cues))
                .with("threshold", THRESHOLD),
        );
    }
}

#[cfg(test)]
mod tests;
