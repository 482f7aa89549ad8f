//! Clickbait (标题党): titles that oversell or misrepresent what follows them —
//! "震惊！这种水果竟然……", "你绝对想不到……", "21 Things You Won't Believe".
//!
//! Only titles are scored ([`title_of`]): a post's `title`, or a headline that opens it (a
//! leading 【…】, as Weibo news posts write them), over the content that follows. A post
//! with neither is never scored, and costs a trim and a look at its first character.
//!
//! [`Clickbait`] holds one logistic regression per language, the language taken from the
//! title's script. Chinese ([`zh`]) reads a few sturdy features of the title *against its
//! content* — a question left to the content, withheld or oversold words, and how much of
//! the title the content's lead supports — because how a title relates to its content
//! carries from one outlet to another where one outlet's vocabulary does not. English
//! ([`features`]) scores the title alone, on style cues and hashed n-grams (its training data
//! has no content). The weights are the project's own, trained by `steward train clickbait`
//! ([`train`]) and committed as `models/clickbait.json`; the training data is not part of the
//! repository. The operating cut, chosen by cross-validation, is folded into the weights, so
//! [`THRESHOLD`] is 0.5.
//!
//! [`ClickbaitDetector`] raises the `clickbait` signal on `post.created` when the post's
//! title is flagged. Evidence: `language`, `score`, `cues` (what the title does that raises
//! the score, strongest first: for Chinese `question`, `withheld`, `oversell`,
//! `exclamation`, `quotes`, `unsupported`), `threshold`.
//!
//! ```
//! use steward_detect::clickbait::{Clickbait, title_of};
//! let model = Clickbait::shipped().unwrap();
//! let titled = title_of(None, "【他走了，留下一句话让无数人泪目……】一位老人在医院去世，生前捐出全部积蓄。").unwrap();
//! assert!(model.decide(titled.title, titled.content).flagged);
//! // An ordinary post has no title to score.
//! assert!(title_of(None, "偶是一只nice puppy，求包养，求关注，求粉丝！[可怜]").is_none());
//! ```

pub mod features;
pub mod learn;
pub mod model;
pub mod train;
pub mod zh;

use std::cell::RefCell;
use std::sync::OnceLock;

use serde_json::Value;
use steward_model::{Payload, Signal};

pub use features::{EN_CUES, Language, Layout, Lexicon, NEUTRAL_CUES, Scratch};
pub use model::{LangModel, ModelFile, ZhModel};

use crate::{About, Context, Detector, Findings, SignalSpec};

/// Scores at or above this are clickbait (the cross-validated cut is in the weights).
pub const THRESHOLD: f64 = 0.5;

/// A leading 【…】 is a headline when it holds at least this many letters, digits or Han
/// characters (shorter ones are tags: 【扩】, 【转发赠书】)…
pub const MIN_HEADLINE_CHARS: usize = 5;
/// …and heads a body of at least this many (links aside): a post that is nothing but a
/// bracketed line heads nothing.
pub const MIN_BODY_CHARS: usize = 10;

/// The committed weights.
pub const SHIPPED_MODEL: &str = include_str!("../../../../models/clickbait.json");

/// A title and the content it heads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Titled<'a> {
    pub title: &'a str,
    /// The post's text under a `title`, or the body after a headline; may be empty.
    pub content: &'a str,
    /// Whether the title is a 【headline】 opening the text rather than the post's `title`.
    pub headline: bool,
}

/// What of a post is a title: its `title` (over its text), else a leading Chinese
/// 【headline】 (over the rest of the text). `None` for a post with neither: it is not scored.
pub fn title_of<'a>(title: Option<&'a str>, text: &'a str) -> Option<Titled<'a>> {
    if let Some(t) = title.map(str::trim).filter(|t| !t.is_empty()) {
        return Some(Titled { title: t, content: text.trim(), headline: false });
    }
    let rest = text.trim_start().strip_prefix('【')?;
    let end = rest.find('】')?;
    let (head, body) = (rest[..end].trim(), rest[end + '】'.len_utf8()..].trim());
    // 【】 headlines are a Chinese convention: an English line in them is a lyric or a tag.
    (substantive_chars(head) >= MIN_HEADLINE_CHARS
        && substantive_chars(body) >= MIN_BODY_CHARS
        && Language::detect(head) == Language::Zh)
        .then_some(Titled { title: head, content: body, headline: true })
}

/// Letters, digits and Han characters of `s`, links left out.
fn substantive_chars(s: &str) -> usize {
    s.split_whitespace()
        .filter(|w| !w.starts_with("http"))
        .map(|w| w.chars().filter(|c| c.is_alphanumeric()).count())
        .sum()
}

/// What a title scored.
#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    /// In `[0, 1]`; clickbait from [`THRESHOLD`] on.
    pub score: f64,
    pub language: Language,
    /// What the title does that raises the score, strongest first.
    pub cues: Vec<&'static str>,
    pub flagged: bool,
}

/// The decision on a title, without the cue list (the fast path).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decision {
    pub score: f64,
    pub language: Language,
    pub flagged: bool,
}

/// The clickbait model: both languages' weights and word lists.
pub struct Clickbait {
    en_lexicon: Lexicon,
    zh_lexicon: zh::Lexicon,
    zh: ZhModel,
    en: LangModel,
}

#[derive(Default)]
struct Scratches {
    en: Scratch,
    zh: zh::Scratch,
}

thread_local! {
    static SCRATCH: RefCell<Scratches> = RefCell::new(Scratches::default());
}

fn with_scratch<R>(f: impl FnOnce(&mut Scratches) -> R) -> R {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut s) => f(&mut s),
        Err(_) => f(&mut Scratches::default()),
    })
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// What scoring one title leaves behind for the cue list.
enum Scored {
    Zh(zh::Values, zh::Cues),
    En,
}

impl Clickbait {
    pub fn new(zh: ZhModel, en: LangModel) -> Result<Self, String> {
        if zh.weights.len() != zh::FEATURES.len() {
            return Err(format!("zh: {} weights for {} features", zh.weights.len(), zh::FEATURES.len()));
        }
        if en.weights.len() != en.layout.dim() {
            return Err(format!("en: {} weights for {} features", en.weights.len(), en.layout.dim()));
        }
        Ok(Clickbait { en_lexicon: Lexicon::new(), zh_lexicon: zh::Lexicon::new(), zh, en })
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
        let zh = ZhModel::from_file(&file.languages.zh).map_err(|e| format!("clickbait weights: {e}"))?;
        let en = LangModel::from_file(&file.languages.en).map_err(|e| format!("clickbait weights: {e}"))?;
        Clickbait::new(zh, en).map_err(|e| format!("clickbait weights: {e}"))
    }

    /// The committed model, loaded once.
    pub fn shipped() -> Result<&'static Clickbait, &'static str> {
        static SHIPPED: OnceLock<Result<Clickbait, String>> = OnceLock::new();
        SHIPPED.get_or_init(|| Clickbait::from_json(SHIPPED_MODEL)).as_ref().map_err(|e| e.as_str())
    }

    pub fn zh_model(&self) -> &ZhModel {
        &self.zh
    }

    pub fn en_model(&self) -> &LangModel {
        &self.en
    }

    /// Scores `title` over `content` (empty when there is none): the score, the language,
    /// the cues behind it and the decision.
    pub fn score(&self, title: &str, content: &str) -> Score {
        let language = Language::detect(title);
        with_scratch(|s| {
            let (z, scored) = self.logit(language, title, content, s);
            let score = sigmoid(z);
            let cues = match scored {
                Scored::Zh(values, cues) => zh::cue_names(&values, &cues, &self.zh.weights),
                Scored::En => self.en_cues(&s.en),
            };
            Score { score, language, cues, flagged: score >= THRESHOLD }
        })
    }

    /// The decision alone.
    pub fn decide(&self, title: &str, content: &str) -> Decision {
        let language = Language::detect(title);
        let score = with_scratch(|s| sigmoid(self.logit(language, title, content, s).0));
        Decision { score, language, flagged: score >= THRESHOLD }
    }

    fn logit(&self, language: Language, title: &str, content: &str, s: &mut Scratches) -> (f64, Scored) {
        match language {
            Language::Zh => {
                let (values, cues) = zh::extract(&self.zh_lexicon, title, content, &mut s.zh);
                let z = self.zh.bias + values.iter().zip(&self.zh.weights).map(|(v, w)| f64::from(*v) * w).sum::<f64>();
                (z, Scored::Zh(values, cues))
            }
            Language::En => {
                features::extract(&self.en_lexicon, &self.en.layout, title, &mut s.en);
                let mut z = 0f32;
                for &(i, v) in &s.en.features {
                    z += self.en.weights.get(i as usize).copied().unwrap_or(0.0) * v;
                }
                (self.en.bias + f64::from(z), Scored::En)
            }
        }
    }

    /// The English bait cues in `scratch`'s features, those that raise the score most first.
    fn en_cues(&self, scratch: &Scratch) -> Vec<&'static str> {
        let w = &self.en.weights;
        let mut fired: Vec<(f32, &'static str)> = scratch
            .features
            .iter()
            .filter(|&&(i, v)| v != 0.0 && features::is_bait_cue(i as usize, w[i as usize] * v))
            .map(|&(i, v)| (w[i as usize] * v, EN_CUES[i as usize]))
            .collect();
        fired.sort_by(|a, b| b.0.total_cmp(&a.0));
        fired.dedup_by_key(|f| f.1);
        fired.into_iter().map(|(_, n)| n).collect()
    }
}

const NAME: &str = "clickbait";
const VERSION: u32 = 2;
const SPECS: &[SignalSpec] = &[SignalSpec { name: "clickbait", evidence: &["language", "score", "cues", "threshold"] }];
const ABOUT: About = About { name: NAME, version: VERSION, signals: SPECS };

/// The detector: scores each new post's title or headline against what follows it.
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

impl Detector for ClickbaitDetector {
    fn about(&self) -> &'static About {
        &ABOUT
    }

    fn inspect(&mut self, ctx: &Context, out: &mut Findings) {
        let Payload::PostCreated(post) = &ctx.event.payload else { return };
        let Some(model) = self.model else { return };
        let Some(t) = title_of(post.title.as_deref(), &post.text) else { return };
        if !model.decide(t.title, t.content).flagged {
            return;
        }
        let s = model.score(t.title, t.content);
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
