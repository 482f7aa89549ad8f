//! Training and cross-validation of both languages, and the weights file.
//!
//! Chinese ([`train_zh`]): the features of [`super::zh`] (title against content) feed a
//! logistic regression whose regularization `C` (from [`C_GRID`]) and operating cut are
//! chosen by cross-validation with whole topics held out ([`choose`]). The figures reported
//! are *nested* ([`nested`]): in each outer fold, `C` and the cut are chosen again on the
//! training part alone, so the held-out part never informs the choice. Two outer schemes:
//! topic-held-out (spherical k-means clusters of title and content held out whole, a proxy
//! for a change of outlet) and stratified. Beside them, the plain baseline under the same
//! folds: a character 1–3-gram logistic regression on the title, at `C` = 1 and cut 0.5.
//!
//! English ([`train_en`]): style cues and hashed n-grams of the title (no content in its
//! training data), stratified cross-validation, the cut that does best on the out-of-fold
//! scores.
//!
//! Deterministic: a fixed seed gives the same folds, the same weights and the same figures.

use serde::Serialize;
use serde_json::{Value, json};

use super::features::{EN_CUES, Layout, Lexicon, Scratch, char_ngrams, extract};
use super::learn::{
    Matrix, Metrics, best_cut, fit, metrics, metrics_of, out_of_fold, probability, stratified_folds, topic_folds,
};
use super::model::{FORMAT, LangModel, Languages, ModelFile, ZhModel};
use super::zh;

/// One labelled item.
#[derive(Debug, Clone)]
pub struct Example {
    pub label: bool,
    pub title: String,
    /// What the title heads; may be empty.
    pub content: String,
}

/// The values of the Chinese regularization `C` that cross-validation chooses among, in
/// half decades (beyond 10 the six features are all but unregularized).
pub const C_GRID: &[f64] = &[0.1, 0.3, 1.0, 3.0, 10.0];
/// Folds of the inner cross-validation that chooses `C` and the cut.
pub const INNER_FOLDS: usize = 5;
/// The English layout: 2^18 hashed n-gram buckets at full value.
pub const EN_LAYOUT: Layout = Layout { hash_bits: 18, ngram_value: 1.0 };
/// The English regularization.
pub const EN_C: f64 = 1.0;
/// Buckets of the Chinese character n-gram baseline.
pub const BASELINE_BITS: u32 = 16;

/// A cross-validation's figures.
#[derive(Debug, Clone, Serialize)]
pub struct CvReport {
    pub language: &'static str,
    pub cv: &'static str,
    pub folds: usize,
    pub seed: u64,
    #[serde(flatten)]
    pub metrics: Metrics,
    pub note: &'static str,
}

fn check(examples: &[Example], folds: usize, lang: &str) -> Result<Vec<bool>, String> {
    if folds < 2 {
        return Err("at least 2 folds are needed".into());
    }
    let y: Vec<bool> = examples.iter().map(|e| e.label).collect();
    let positives = y.iter().filter(|l| **l).count();
    if positives < folds || y.len() - positives < folds {
        return Err(format!("{lang}: {} items ({positives} clickbait) are too few for {folds} folds", y.len()));
    }
    Ok(y)
}

fn logit(p: f64) -> f64 {
    (p / (1.0 - p)).ln()
}

// ---- English ------------------------------------------------------------------------------

/// The English features of every title.
pub fn en_matrix(lex: &Lexicon, layout: &Layout, titles: &[&str]) -> Matrix {
    let mut m = Matrix::new(layout.dim());
    let mut s = Scratch::default();
    for t in titles {
        extract(lex, layout, t, &mut s);
        m.push_row(s.features.iter().copied());
    }
    m
}

/// The English model, with its cross-validation.
#[derive(Debug)]
pub struct EnTrained {
    /// The cut is folded into the bias (a score of 0.5 is the cut).
    pub model: LangModel,
    pub threshold: f64,
    pub report: CvReport,
}

/// Stratified `folds`-fold cross-validation, the cut that does best on its out-of-fold
/// scores, then the weights for all items.
pub fn train_en(examples: &[Example], folds: usize, seed: u64) -> Result<EnTrained, String> {
    let y = check(examples, folds, "en")?;
    let titles: Vec<&str> = examples.iter().map(|e| e.title.as_str()).collect();
    let m = en_matrix(&Lexicon::new(), &EN_LAYOUT, &titles);
    let all: Vec<usize> = (0..y.len()).collect();
    let p = out_of_fold(&m, &y, &all, &stratified_folds(&y, folds, seed), folds, EN_C);
    let (threshold, _) = best_cut(&p, &y);
    let report = CvReport {
        language: "en",
        cv: "stratified",
        folds,
        seed,
        metrics: metrics(&p, &y, threshold),
        note: "items shuffled within each class; the cut chosen on these out-of-fold scores",
    };
    let w = fit(&m, &y, &all, EN_C);
    let model = LangModel {
        layout: EN_LAYOUT,
        bias: w[0] - logit(threshold),
        weights: w[1..].iter().map(|x| *x as f32).collect(),
    };
    debug_assert_eq!(model.weights.len(), EN_LAYOUT.cues() + (1 << EN_LAYOUT.hash_bits));
    debug_assert_eq!(EN_LAYOUT.cues(), EN_CUES.len());
    Ok(EnTrained { model, threshold, report })
}

// ---- Chinese ------------------------------------------------------------------------------

/// The Chinese features of every item (title against content).
pub fn zh_matrix(examples: &[Example]) -> Matrix {
    let lex = zh::Lexicon::new();
    let mut s = zh::Scratch::default();
    let mut m = Matrix::new(zh::FEATURES.len());
    for e in examples {
        let (v, _) = zh::extract(&lex, &e.title, &e.content, &mut s);
        m.push_row(v.iter().enumerate().filter(|(_, x)| **x != 0.0).map(|(i, x)| (i as u32, *x)));
    }
    m
}

/// The baseline's features: hashed character 1–3-grams of each normalized title, present
/// or not.
pub fn baseline_matrix(examples: &[Example]) -> Matrix {
    let mut m = Matrix::new(1 << BASELINE_BITS);
    let mut buckets = Vec::new();
    for e in examples {
        let chars: Vec<char> = steward_text::normalize(&e.title).chars().filter(|c| !c.is_whitespace()).collect();
        char_ngrams(&chars, BASELINE_BITS, &mut buckets);
        buckets.sort_unstable();
        buckets.dedup();
        m.push_row(buckets.iter().map(|b| (*b, 1.0)));
    }
    m
}

/// A choice of regularization and cut, and the cross-validated value it was chosen by.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Choice {
    pub c: f64,
    pub threshold: f64,
    /// The mean of F1 and accuracy it reached (see [`super::learn::cut_value`]), to four
    /// places.
    pub value: f64,
}

/// Chooses `C` (from [`C_GRID`]) and the cut by [`INNER_FOLDS`]-fold topic-held-out
/// cross-validation over `rows` only: the pair with the best mean of F1 and accuracy on the
/// out-of-fold scores (ties: the smaller `C`, the stronger regularization).
pub fn choose(m: &Matrix, y: &[bool], rows: &[usize], texts: &[&str], seed: u64) -> Choice {
    let sub: Vec<&str> = rows.iter().map(|&r| texts[r]).collect();
    let mut fold = vec![usize::MAX; y.len()];
    for (f, &r) in topic_folds(&sub, INNER_FOLDS, seed).into_iter().zip(rows) {
        fold[r] = f;
    }
    let labels: Vec<bool> = rows.iter().map(|&r| y[r]).collect();
    let tried: Vec<Choice> = C_GRID
        .iter()
        .map(|&c| {
            let p = out_of_fold(m, y, rows, &fold, INNER_FOLDS, c);
            let scores: Vec<f64> = rows.iter().map(|&r| p[r]).collect();
            let (threshold, value) = best_cut(&scores, &labels);
            Choice { c, threshold, value: (value * 1e4).round() / 1e4 }
        })
        .collect();
    // The first best: the smallest C among equals.
    tried.into_iter().fold(Choice { c: C_GRID[0], threshold: 0.5, value: f64::MIN }, |best, t| {
        if t.value > best.value + 1e-12 { t } else { best }
    })
}

/// Nested cross-validation over `outer` folds (`k` of them): in each, `C` and the cut are
/// chosen on the other folds ([`choose`]), fitted there, and the fold is decided at that
/// cut. Returns the decisions, in item order, and each fold's choice.
pub fn nested(
    m: &Matrix,
    y: &[bool],
    texts: &[&str],
    outer: &[usize],
    k: usize,
    seed: u64,
) -> (Vec<bool>, Vec<Choice>) {
    let mut flags = vec![false; y.len()];
    let mut choices = Vec::with_capacity(k);
    for f in 0..k {
        let train: Vec<usize> = (0..y.len()).filter(|&r| outer[r] != f).collect();
        let test: Vec<usize> = (0..y.len()).filter(|&r| outer[r] == f).collect();
        if train.is_empty() || test.is_empty() {
            continue;
        }
        let choice = choose(m, y, &train, texts, seed.wrapping_add(f as u64 + 1));
        let w = fit(m, y, &train, choice.c);
        for r in test {
            flags[r] = probability(m, r, &w) >= choice.threshold;
        }
        choices.push(choice);
    }
    (flags, choices)
}

/// The Chinese cross-validation: nested figures under both schemes, and the baseline's.
#[derive(Debug, Clone, Serialize)]
pub struct ZhCv {
    /// Topic-held-out, then stratified.
    pub reports: Vec<CvReport>,
    /// The character n-gram baseline under the same folds, in the same order.
    pub baseline: Vec<CvReport>,
    /// Each outer fold's choice of `C` and cut, per scheme.
    pub choices: Vec<(&'static str, Vec<Choice>)>,
}

/// Cross-validates the Chinese model as [`train_zh`] makes it (see the module docs).
pub fn cross_validate_zh(examples: &[Example], folds: usize, seed: u64) -> Result<ZhCv, String> {
    let y = check(examples, folds, "zh")?;
    let m = zh_matrix(examples);
    let mb = baseline_matrix(examples);
    let texts: Vec<String> = examples.iter().map(|e| format!("{} {}", e.title, e.content)).collect();
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    let all: Vec<usize> = (0..y.len()).collect();
    let schemes: [(&'static str, &'static str, Vec<usize>); 2] = [
        (
            "topic_held_out",
            "whole topic clusters (k-means on title+content character pairs) held out; C and the cut chosen \
             again inside each outer fold (nested)",
            topic_folds(&texts, folds, seed),
        ),
        (
            "stratified",
            "items shuffled within each class; C and the cut chosen again inside each outer fold (nested)",
            stratified_folds(&y, folds, seed),
        ),
    ];
    let mut cv = ZhCv { reports: Vec::new(), baseline: Vec::new(), choices: Vec::new() };
    for (name, note, outer) in schemes {
        let (flags, choices) = nested(&m, &y, &texts, &outer, folds, seed);
        cv.reports.push(CvReport { language: "zh", cv: name, folds, seed, metrics: metrics_of(&flags, &y), note });
        let p = out_of_fold(&mb, &y, &all, &outer, folds, 1.0);
        cv.baseline.push(CvReport {
            language: "zh",
            cv: name,
            folds,
            seed,
            metrics: metrics(&p, &y, 0.5),
            note: "baseline: logistic regression on the title's character 1-3-grams, C = 1, cut 0.5",
        });
        cv.choices.push((name, choices));
    }
    Ok(cv)
}

/// The Chinese model, with its cross-validation.
#[derive(Debug)]
pub struct ZhTrained {
    /// The cut is folded into the bias (a score of 0.5 is the cut).
    pub model: ZhModel,
    pub choice: Choice,
    pub cv: ZhCv,
}

/// Cross-validates ([`cross_validate_zh`]), chooses `C` and the cut on all items
/// ([`choose`]), then fits on all items.
pub fn train_zh(examples: &[Example], folds: usize, seed: u64) -> Result<ZhTrained, String> {
    let cv = cross_validate_zh(examples, folds, seed)?;
    let y: Vec<bool> = examples.iter().map(|e| e.label).collect();
    let m = zh_matrix(examples);
    let texts: Vec<String> = examples.iter().map(|e| format!("{} {}", e.title, e.content)).collect();
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    let all: Vec<usize> = (0..y.len()).collect();
    let choice = choose(&m, &y, &all, &texts, seed);
    let w = fit(&m, &y, &all, choice.c);
    let model = ZhModel { bias: w[0] - logit(choice.threshold), weights: w[1..].to_vec() };
    Ok(ZhTrained { model, choice, cv })
}

// ---- The weights file -----------------------------------------------------------------------

/// The weights file, with its provenance.
pub fn model_file(zh: &ZhTrained, en: &EnTrained, provenance: Value) -> ModelFile {
    ModelFile {
        format: FORMAT.to_string(),
        provenance,
        languages: Languages {
            zh: zh.model.to_file(zh.choice.c, zh.choice.threshold),
            en: en.model.to_file(en.threshold),
        },
    }
}

fn figures(r: &CvReport) -> Value {
    json!({
        "language": r.language, "cv": r.cv, "precision": r.metrics.precision, "recall": r.metrics.recall,
        "f1": r.metrics.f1, "accuracy": r.metrics.accuracy,
    })
}

/// The provenance block: what made the weights, and how they cross-validated.
pub fn provenance(
    command: &str,
    rows: &[(&str, usize)],
    folds: usize,
    seed: u64,
    zh: &ZhTrained,
    en: &EnTrained,
) -> Value {
    json!({
        "command": command,
        "rows": rows.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
        "folds": folds,
        "seed": seed,
        "zh": {"c": zh.choice.c, "threshold": zh.choice.threshold},
        "en": {"c": EN_C, "threshold": en.threshold},
        "cross_validation": zh.cv.reports.iter().chain([&en.report]).map(figures).collect::<Vec<_>>(),
        "baseline_char_ngram": zh.cv.baseline.iter().map(figures).collect::<Vec<_>>(),
    })
}

/// Parses a small `label,title` file with a header line (the hand-written checks): the
/// title is everything after the first comma.
pub fn parse_label_title(text: &str) -> Result<Vec<(bool, String)>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let (label, title) = line.split_once(',').ok_or_else(|| format!("line {}: no comma", i + 1))?;
        let label = match label.trim() {
            "0" => false,
            "1" => true,
            other => return Err(format!("line {}: label {other:?} is not 0 or 1", i + 1)),
        };
        out.push((label, title.trim().to_string()));
    }
    Ok(out)
}

/// Hand-written Chinese headlines (the project's own), a check from outside the training
/// outlet: never trained on. Titles alone, so the content's support is not measured.
pub const HANDWRITTEN_ZH: &str = include_str!("handwritten_zh.csv");
/// Hand-written English headlines (the project's own).
pub const HANDWRITTEN_EN: &str = include_str!("handwritten_en.csv");

#[cfg(test)]
mod tests {
    use super::*;

    /// A small Chinese set written here: bait titles over content that does not restate them,
    /// plain titles over content that does, in a few topics.
    fn toy_zh() -> Vec<Example> {
        let filler = "本报讯据了解相关部门表示将继续做好各项工作确保群众生活不受影响".repeat(8);
        let topics = ["长江大桥", "高铁新线", "冬季供暖", "考古发掘", "芯片产业", "油价调整"];
        let mut out = Vec::new();
        for (i, t) in topics.iter().enumerate() {
            for j in 0..4 {
                out.push(Example {
                    label: false,
                    title: format!("{t}项目第{j}期工程今日通过验收"),
                    content: format!("{t}项目第{j}期工程今日通过验收。{filler}"),
                });
                let bait =
                    ["震惊！{t}竟然是这样", "{t}背后的真相，看完沉默了", "为什么{t}突然火了？", "千万别再忽视{t}了"]
                        [(i + j) % 4]
                        .replace("{t}", t);
                out.push(Example {
                    label: true, title: bait, content: format!("记者走访了多个地方。{filler}")
                });
            }
        }
        out
    }

    #[test]
    fn chinese_training_separates_and_is_deterministic() {
        let ex = toy_zh();
        let a = train_zh(&ex, 3, 7).unwrap();
        assert!(a.cv.reports.iter().all(|r| r.metrics.f1 > 0.9), "{:?}", a.cv.reports);
        assert_eq!(a.cv.reports.len(), 2);
        assert_eq!(a.cv.baseline.len(), 2);
        assert!(C_GRID.contains(&a.choice.c) && (0.2..=0.8).contains(&a.choice.threshold));
        let b = train_zh(&ex, 3, 7).unwrap();
        assert_eq!(a.model, b.model);
        assert!(train_zh(&ex[..3], 3, 7).unwrap_err().contains("too few"));
        assert!(train_zh(&ex, 1, 7).is_err());
    }

    #[test]
    fn english_training_runs() {
        let mut ex = Vec::new();
        for i in 0..12 {
            ex.push(Example {
                label: true,
                title: format!("You Won't Believe What {i} Cats Did Next"),
                content: String::new(),
            });
            ex.push(Example {
                label: false,
                title: format!("Council approves budget for line {i}"),
                content: String::new(),
            });
        }
        let t = train_en(&ex, 3, 1).unwrap();
        assert!(t.report.metrics.f1 > 0.9, "{:?}", t.report);
        assert_eq!(t.model.weights.len(), EN_LAYOUT.dim());
    }

    #[test]
    fn hand_written_checks_parse() {
        let zh = parse_label_title(HANDWRITTEN_ZH).unwrap();
        let en = parse_label_title(HANDWRITTEN_EN).unwrap();
        assert!(zh.len() >= 80 && en.len() >= 30);
        assert!(parse_label_title("label,title\n2,x").unwrap_err().contains("line 2"));
    }
}
