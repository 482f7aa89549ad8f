//! Chinese features: what a title does, and how much of it the content it heads supports.
//!
//! A handful of features, each a kind of evidence that carries from one outlet to another
//! rather than the vocabulary of one outlet's topics ([`FEATURES`]):
//!
//! - `question`: the title poses a question it leaves to the content (a question mark outside
//!   quotation marks, or 为什么, 谁, 到底…). A question put to the reader (你…吗？) asks for
//!   an opinion and withholds nothing, so a title that addresses the reader never counts here;
//!   nor do 如何/怎么 without a question mark (how-to titles: 如何办理居住证).
//! - `bait`: the title withholds what it is about (这位, 这些, 背后, 真相, a 他/她 that opens it,
//!   好消息…) or oversells it (竟, 震惊, 千万别, 史上, 你绝对想不到, 太…了…). A demonstrative
//!   whose referent the title spells out (这个号码12308) withholds nothing.
//! - `exclamation_unsupported`, `quotes_unsupported`: an exclamation mark or scare quotes on a
//!   title the content does not support (the mark times the share of the title's character
//!   pairs missing from the content's lead). Exclamations and quotes alone are everyday
//!   headline style; on a title that says something its content does not, they sell it.
//! - `support`: the share of the title's character pairs found in the first
//!   [`LEAD_CHARS`] characters of the content, and `weakest_clause`: the same for the title's
//!   least supported clause (a plain first half and a teaser second half: 某某访华，释放了
//!   什么信号). A plain report restates its title in its lead; bait keeps its promise for later,
//!   or never.
//!
//! Nothing else: not the title's length nor its words beyond these lists, which describe an
//! outlet's house style and topics more than its bait.
//!
//! The content is measured only when it holds at least [`MIN_CONTENT_CHARS`] characters:
//! a short body (a 140-character post under its 【headline】) cannot be expected to restate
//! its headline, so its silence is no evidence, and the title is judged as if supported.
//! Everything is read from the normalized text (simplified characters, no punctuation;
//! see `steward_text`), except the marks, read from the raw title.

use std::collections::HashMap;

use steward_text::normalize_chars_into;

/// Names of the features, in model order.
pub const FEATURES: &[&str] =
    &["question", "bait", "exclamation_unsupported", "quotes_unsupported", "support", "weakest_clause"];

/// Index of each feature in [`FEATURES`].
mod idx {
    pub const QUESTION: usize = 0;
    pub const BAIT: usize = 1;
    pub const EXCLAMATION: usize = 2;
    pub const QUOTES: usize = 3;
    pub const SUPPORT: usize = 4;
    pub const WEAKEST: usize = 5;
}

/// Indices of the features that measure the content's support of the title.
pub const SUPPORT_FEATURES: [usize; 2] = [idx::SUPPORT, idx::WEAKEST];

/// Content shorter than this (normalized characters) is not measured (see the module docs).
pub const MIN_CONTENT_CHARS: usize = 200;
/// How much of the content is the lead that a plain title restates.
pub const LEAD_CHARS: usize = 150;
/// At most this many characters of the content are read (enough to find its lead and to
/// know whether it is long enough to measure).
const CONTENT_READ_CHARS: usize = 1_000;

/// One title's feature values, in [`FEATURES`] order.
pub type Values = [f32; FEATURES.len()];

// Words that pose the title's question without a question mark. 如何/怎么/怎样 are left
// out: without a question mark they announce instructions (如何办理居住证).
#[rustfmt::skip]
const TEASER_QUESTION: &[&str] = &[
    "为何", "为什么", "为啥", "谁", "难道", "究竟", "到底", "有何", "何以", "凭什么",
];

// Withholding: the title points at something it does not name, or promises a payoff.
#[rustfmt::skip]
const WITHHELD: &[&str] = &[
    "这位", "这些", "这种", "这部", "这款", "这类", "这座", "这场", "这样", "这项", "这家", "这条", "这件",
    "这波", "这张", "这名", "这对", "这所", "这只", "这份", "这套", "这句", "这招", "这事", "这一", "这个",
    "这几", "这里", "这才是", "那个", "那些", "那位", "那种", "那件", "此人", "此事", "一幕", "的他", "的她",
    "真相", "内幕", "秘密", "答案", "真实原因", "真正原因", "好消息", "坏消息", "背后", "深意", "信号", "看点",
    "启示", "意味", "说法", "结局", "何去何从", "走向何方",
];

// Overselling: surprise, shock, hype and urgency.
#[rustfmt::skip]
const OVERSELL: &[&str] = &[
    "竟", "居然", "原来", "没想到", "想不到", "万万", "出乎意料", "意想不到", "不为人知", "震惊", "惊呆",
    "惊人", "惊现", "惊天", "可怕", "吓", "傻眼", "看哭", "泪目", "扎心", "细思极恐", "后背发凉", "疯传",
    "刷屏", "炸锅", "史上", "全网", "逆袭", "神操作", "绝了", "触目惊心", "卑鄙", "无耻", "奇葩", "劲爆",
    "雷人", "爆料", "网曝", "揭秘", "玄机", "猫腻", "重磅", "千万别", "千万不要", "千万注意", "千万要",
    "千万小心", "千万记住", "一定要", "务必", "切记", "别再", "不要再", "赶紧", "赶快", "速看", "必看",
    "扩散", "必须知道", "你所不知道", "你不知道", "你绝对想不到", "你还敢", "告诉你", "你一定", "你必须",
    "你敢", "快看", "警惕", "小心", "当心", "请注意", "注意了", "速速", "火速",
];

// Plain words that contain a word of the lists above (太空 is no "太…了", 预警信号 no
// teased signal, 原来的 no surprise).
#[rustfmt::skip]
const MASKED: &[&str] = &[
    "太空", "太原", "太阳", "太平", "太湖", "太极", "太行", "太子", "太太", "太后", "原来的", "预警信号",
    "信号灯", "信号塔", "信号弹", "手机信号",
];

/// What a title shows, for the evidence: the families of cues that fired.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cues {
    pub question: bool,
    pub withheld: bool,
    pub oversell: bool,
    pub exclamation: bool,
    pub quotes: bool,
    /// Whether the content was long enough to measure its support of the title.
    pub measured: bool,
}

#[derive(Clone, Copy)]
enum Kind {
    Withheld,
    Oversell,
    Teaser,
    Masked,
}

/// The word lists as lookup tables (first character → words).
pub struct Lexicon {
    words: HashMap<char, Vec<(Vec<char>, Kind)>>,
}

impl Default for Lexicon {
    fn default() -> Self {
        Lexicon::new()
    }
}

impl Lexicon {
    pub fn new() -> Self {
        let mut words: HashMap<char, Vec<(Vec<char>, Kind)>> = HashMap::new();
        for (list, kind) in [
            (WITHHELD, Kind::Withheld),
            (OVERSELL, Kind::Oversell),
            (TEASER_QUESTION, Kind::Teaser),
            (MASKED, Kind::Masked),
        ] {
            for w in list {
                let chars: Vec<char> = w.chars().collect();
                if let Some(&first) = chars.first() {
                    words.entry(first).or_default().push((chars, kind));
                }
            }
        }
        Lexicon { words }
    }
}

/// Reusable buffers.
#[derive(Default)]
pub struct Scratch {
    code_points: Vec<u32>,
    title: Vec<char>,
    lead: Vec<char>,
    lead_pairs: Vec<u64>,
    clause: Vec<char>,
    masked: Vec<bool>,
}

fn pair(a: char, b: char) -> u64 {
    (u64::from(a) << 32) | u64::from(b)
}

/// Normalized characters of `text`, spaces dropped, into `out`.
fn normalized(text: &str, code_points: &mut Vec<u32>, out: &mut Vec<char>) {
    normalize_chars_into(text, code_points);
    out.clear();
    out.extend(code_points.iter().filter_map(|&c| char::from_u32(c)).filter(|c| !c.is_whitespace()));
}

/// The share of `chars`' character pairs found in `pairs` (sorted); 1 when it has none.
fn support_of(chars: &[char], pairs: &[u64]) -> f32 {
    if chars.len() < 2 {
        return 1.0;
    }
    let found = chars.windows(2).filter(|w| pairs.binary_search(&pair(w[0], w[1])).is_ok()).count();
    found as f32 / (chars.len() - 1) as f32
}

fn is_question_mark(c: char) -> bool {
    matches!(c, '?' | '？')
}

fn is_open_quote(c: char) -> bool {
    matches!(c, '“' | '「' | '『' | '"')
}

fn is_close_quote(c: char) -> bool {
    matches!(c, '”' | '」' | '』' | '"')
}

/// A question mark outside quotation marks (a quoted question is someone else's).
fn has_own_question_mark(title: &str) -> bool {
    let mut quoted = false;
    for c in title.chars() {
        if quoted && is_close_quote(c) {
            quoted = false;
        } else if is_open_quote(c) {
            quoted = true;
        } else if !quoted && is_question_mark(c) {
            return true;
        }
    }
    false
}

fn is_clause_break(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '，' | ',' | '。' | '！' | '!' | '？' | '?' | '；' | ';' | '：' | ':' | '、' | '…' | '|' | '｜' | '—'
        )
}

/// The features of `title` over `content` (empty when there is none), and the cues behind
/// them.
pub fn extract(lex: &Lexicon, title: &str, content: &str, s: &mut Scratch) -> (Values, Cues) {
    let title = title.trim();
    normalized(title, &mut s.code_points, &mut s.title);
    let t = &s.title;
    let mut cues = Cues::default();

    // Word lists, outside masked words.
    s.masked.clear();
    s.masked.resize(t.len(), false);
    for i in 0..t.len() {
        for (w, kind) in lex.words.get(&t[i]).map(Vec::as_slice).unwrap_or(&[]) {
            if matches!(kind, Kind::Masked) && t[i..].starts_with(w) {
                s.masked[i..i + w.len()].iter_mut().for_each(|m| *m = true);
            }
        }
    }
    let mut teaser_word = false;
    for i in 0..t.len() {
        if s.masked[i] {
            continue;
        }
        for (w, kind) in lex.words.get(&t[i]).map(Vec::as_slice).unwrap_or(&[]) {
            if !t[i..].starts_with(w) {
                continue;
            }
            match kind {
                // A demonstrative whose referent follows as a figure (这个号码12308) withholds
                // nothing.
                Kind::Withheld
                    if matches!(w[0], '这' | '那') && t[i + w.len()..].iter().take(4).any(|c| c.is_ascii_digit()) => {
                }
                Kind::Withheld => cues.withheld = true,
                Kind::Oversell => cues.oversell = true,
                Kind::Teaser => teaser_word = true,
                Kind::Masked => {}
            }
        }
    }
    // 他/她/它 opening a title stands for someone it will not name; 这 before a figure is a
    // withheld list (这100个职业).
    if t.first().is_some_and(|c| matches!(c, '他' | '她' | '它')) {
        cues.withheld = true;
    }
    for (i, w) in t.windows(2).enumerate() {
        if w[0] == '这' && w[1].is_ascii_digit() && !s.masked[i] {
            cues.withheld = true;
        }
    }
    // 太…了: "too … !" within a few characters.
    for (i, c) in t.iter().enumerate() {
        if *c == '太' && !s.masked[i] && t[i + 1..].iter().take(5).skip(1).any(|c| matches!(c, '了' | '啦')) {
            cues.oversell = true;
        }
    }
    let to_reader = t.iter().any(|c| matches!(c, '你' | '您'));
    cues.question = (has_own_question_mark(title) || teaser_word) && !to_reader;
    cues.exclamation = title.chars().any(|c| matches!(c, '!' | '！'));
    cues.quotes = title.chars().any(is_open_quote);

    // The content's support of the title.
    let (mut support, mut weakest) = (1.0f32, 1.0f32);
    let read = content.char_indices().nth(CONTENT_READ_CHARS).map_or(content, |(i, _)| &content[..i]);
    normalized(read, &mut s.code_points, &mut s.lead);
    if s.lead.len() >= MIN_CONTENT_CHARS {
        cues.measured = true;
        s.lead.truncate(LEAD_CHARS);
        s.lead_pairs.clear();
        s.lead_pairs.extend(s.lead.windows(2).map(|w| pair(w[0], w[1])));
        s.lead_pairs.sort_unstable();
        support = support_of(&s.title, &s.lead_pairs);
        for clause in title.split(is_clause_break) {
            normalized(clause, &mut s.code_points, &mut s.clause);
            if s.clause.len() >= 2 {
                weakest = weakest.min(support_of(&s.clause, &s.lead_pairs));
            }
        }
    }

    let mut v = [0f32; FEATURES.len()];
    v[idx::QUESTION] = f32::from(u8::from(cues.question));
    v[idx::BAIT] = f32::from(u8::from(cues.withheld || cues.oversell));
    v[idx::EXCLAMATION] = f32::from(u8::from(cues.exclamation)) * (1.0 - support);
    v[idx::QUOTES] = f32::from(u8::from(cues.quotes)) * (1.0 - support);
    v[idx::SUPPORT] = support;
    v[idx::WEAKEST] = weakest;
    (v, cues)
}

/// The cues to show for a flagged title, strongest first: the families that fired and
/// raise the score under `weights`, and `unsupported` when the content's silence on the
/// title raises the logit by at least half a unit over a fully supported title.
pub fn cue_names(values: &Values, cues: &Cues, weights: &[f64]) -> Vec<&'static str> {
    let w = |i: usize| weights.get(i).copied().unwrap_or(0.0);
    let mut out: Vec<(f64, &'static str)> = Vec::new();
    let bait = w(idx::BAIT);
    for (fired, weight, name) in [
        (cues.question, w(idx::QUESTION), "question"),
        (cues.withheld, bait, "withheld"),
        (cues.oversell, bait, "oversell"),
        (values[idx::EXCLAMATION] > 0.0, w(idx::EXCLAMATION) * f64::from(values[idx::EXCLAMATION]), "exclamation"),
        (values[idx::QUOTES] > 0.0, w(idx::QUOTES) * f64::from(values[idx::QUOTES]), "quotes"),
    ] {
        if fired && weight > 0.0 {
            out.push((weight, name));
        }
    }
    let unsupported: f64 = SUPPORT_FEATURES.iter().map(|&i| w(i) * (f64::from(values[i]) - 1.0)).sum();
    if unsupported >= 0.5 {
        out.push((unsupported, "unsupported"));
    }
    out.sort_by(|a, b| b.0.total_cmp(&a.0));
    out.into_iter().map(|(_, n)| n).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(title: &str, content: &str) -> (Values, Cues) {
        extract(&Lexicon::new(), title, content, &mut Scratch::default())
    }

    fn long(text: &str) -> String {
        // A body long enough to be measured: the text, then filler that shares nothing with
        // the titles below.
        format!("{text}{}", "甲乙丙丁戊己庚辛壬癸".repeat(25))
    }

    #[test]
    fn cues_of_bait_titles() {
        let (v, c) = run("震惊！这种水果竟然有毒，很多人还在天天吃", "");
        assert!(c.withheld && c.oversell && c.exclamation && !c.question, "{c:?}");
        assert_eq!(v[idx::BAIT], 1.0);
        // Without content the title counts as supported: the exclamation weighs nothing.
        assert_eq!((v[idx::SUPPORT], v[idx::EXCLAMATION]), (1.0, 0.0));
        assert!(run("为什么越来越多的年轻人不结婚了", "").1.question);
        assert!(run("他走了，留下一句话让无数人泪目", "").1.withheld);
        assert!(run("这100个职业，最缺人", "").1.withheld);
        assert!(run("结局太意外了", "").1.oversell);
    }

    #[test]
    fn plain_titles_and_look_alikes() {
        for t in [
            "国务院常务会议部署进一步稳定外贸措施",
            "四川省气象台发布暴雨蓝色预警信号",
            "如何办理居住证",
            "太空授课在天宫空间站举行",
            "在国外一定记住这个号码12308",
        ] {
            let c = run(t, "").1;
            assert!(!c.question && !c.withheld && !c.oversell, "{t}: {c:?}");
        }
        // A question put to the reader, or quoted, is not the title's question.
        assert!(!run("今天世界问候日 你想问候谁？", "").1.question);
        assert!(!run("记者问“能否按时完工？”", "").1.question);
        assert!(run("自动驾驶出事故，谁来负责？", "").1.question);
    }

    #[test]
    fn support_is_measured_on_long_content_only() {
        let title = "南京长江五桥正式通车";
        let (v, c) = run(title, &long("12月24日，南京长江五桥正式通车，全长约10公里。"));
        assert!(c.measured && v[idx::SUPPORT] == 1.0 && v[idx::WEAKEST] == 1.0, "{v:?}");
        let (v, c) = run("外资开始抄底，释放什么信号？", &long("市场对房地产的预期在变化，外资开始加速进入。"));
        assert!(c.measured && v[idx::SUPPORT] < 0.5 && v[idx::WEAKEST] == 0.0, "{v:?}");
        // Short content is not measured.
        let (v, c) = run("外资开始抄底，释放什么信号？", "市场对房地产的预期在变化。");
        assert!(!c.measured && v[idx::SUPPORT] == 1.0, "{v:?}");
        // The exclamation weighs by how little of the title is supported.
        let (v, _) = run("祝贺！卫星发射成功", &long("无关内容"));
        assert!(v[idx::EXCLAMATION] > 0.9, "{v:?}");
    }

    #[test]
    fn odd_input_does_not_panic() {
        for t in ["", " ", "？", "!!!", "\u{200b}", "【", "太", "这", "这1", "他", "…", "“", "”？", "👍👍", "a"]
        {
            let (v, _) = run(t, t);
            assert!(v.iter().all(|x| x.is_finite() && (0.0..=1.0).contains(x)), "{t}: {v:?}");
            run(t, &"长".repeat(5000));
        }
    }

    #[test]
    fn evidence_names_the_cues_that_raise_the_score() {
        let weights = [3.0, 2.0, 3.0, 2.0, -1.0, -1.0];
        let (v, c) = run("这位女总统访华，传达的信息很不一般！", &long("坦桑尼亚总统访问中国。"));
        let names = cue_names(&v, &c, &weights);
        assert!(names.contains(&"withheld") && names.contains(&"exclamation"), "{names:?}");
        assert!(names.contains(&"unsupported"), "{names:?}");
        let (v, c) = run("南京长江五桥正式通车", &long("南京长江五桥正式通车"));
        assert!(cue_names(&v, &c, &weights).is_empty());
    }
}
