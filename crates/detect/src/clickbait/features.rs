//! Features of a title: hand-designed style cues (one value each) and hashed n-grams.
//!
//! One feature vector is `[cues of the language] ++ [2^bits hashed n-gram buckets]`; the same
//! code produces it for training and for scoring, so the two never drift apart.
//!
//! Chinese cues look for the marks of a headline that withholds or oversells its news
//! (questions, exclamations, ellipses, vague pronouns, "you", suspense and urgency words,
//! listicle numbers) and for the marks of a plain report (dates, counts with units, official
//! verbs), and one cue, `no_bait_cue`, says that none of the strong bait cues fired:
//! absence of evidence, made explicit, so that a plain title of an unfamiliar outlet does not
//! sit at the bias. Word lists are matched on the normalized text (simplified characters,
//! no punctuation) outside a few masked words (最高人民法院 is no superlative); punctuation
//! cues are read from the raw text. n-grams are characters 1–3 of the normalized text with
//! start and end marks.
//!
//! English cues are similar; its n-grams are words and word pairs (as written and lower
//! case) and lower-case character 2–5-grams within words.

use std::collections::HashMap;

use steward_text::steps::is_han;

/// The language a title is scored as, from its script.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Language {
    Zh,
    En,
}

impl Language {
    pub const ALL: [Language; 2] = [Language::Zh, Language::En];

    pub fn as_str(self) -> &'static str {
        match self {
            Language::Zh => "zh",
            Language::En => "en",
        }
    }

    /// Chinese when Han characters make up a fair share of the letters (a Latin brand name
    /// in a Chinese title does not make it English); English otherwise. Text without any
    /// letters counts as Chinese, the platforms' language.
    pub fn detect(text: &str) -> Language {
        let (mut han, mut latin) = (0usize, 0usize);
        for c in text.chars() {
            if is_han(c) {
                han += 1;
            } else if c.is_alphabetic() {
                latin += 1;
            }
        }
        if han * 3 >= latin { Language::Zh } else { Language::En }
    }
}

// Declares a cue list and a module of its indices (`zh::question` is the index of
// "question" in `ZH_CUES`).
macro_rules! cues {
    ($(#[$doc:meta])* $list:ident, $module:ident: $($name:ident),* $(,)?) => {
        $(#[$doc])*
        pub const $list: &[&str] = &[$(stringify!($name)),*];
        #[allow(non_upper_case_globals, dead_code)]
        mod $module {
            cues!(@index 0usize; $($name),*);
        }
    };
    (@index $i:expr; $name:ident $(, $rest:ident)*) => {
        pub const $name: usize = $i;
        cues!(@index $i + 1usize; $($rest),*);
    };
    (@index $i:expr;) => {};
}

cues!(
    /// Names of the Chinese cues, in feature order.
    ZH_CUES, zh:
    question, question_ending, exclamation, exclamation_teaser, repeated_marks, ellipsis, quotes,
    bracket_tag, attribution_colon, second_person, first_person, demonstrative, leading_demonstrative,
    vague_subject, wh_word, suspense, urgency, warning, emotion, colloquial, hype, superlative,
    analysis_tease, listicle_number, explainer, netizens, emoji, two_clauses, date, count_with_unit,
    official_verb, digit_share, no_bait_cue
);

cues!(
    /// Names of the English cues, in feature order.
    EN_CUES, en:
    question, question_opening, exclamation, ellipsis, number_opening, second_person, first_person,
    demonstrative, suspense, emotion, superlative, quiz, capitalized_small_words, colon, quotes, digit_share,
    short, long
);

/// The Chinese cues that are evidence of bait on their own; when none fires, the
/// `no_bait_cue` cue does. Weaker or ambiguous cues (quotes, superlatives, "we", numbers)
/// are left out, so that one incidental match does not count as evidence; so are question
/// words (如何, 什么, 哪): service and explainer titles ask them as often as bait does.
pub const ZH_STRONG_CUES: &[usize] = &[
    zh::question,
    zh::exclamation,
    zh::ellipsis,
    zh::repeated_marks,
    zh::second_person,
    zh::demonstrative,
    zh::vague_subject,
    zh::suspense,
    zh::urgency,
    zh::warning,
    zh::emotion,
    zh::hype,
    zh::analysis_tease,
];

/// The English cues that are evidence of bait on their own.
pub const EN_STRONG_CUES: &[usize] = &[
    en::question,
    en::question_opening,
    en::exclamation,
    en::ellipsis,
    en::number_opening,
    en::second_person,
    en::demonstrative,
    en::suspense,
    en::emotion,
    en::superlative,
    en::quiz,
];

/// Cues that describe a plain report rather than bait: never listed as reasons.
pub const NEUTRAL_CUES: &[&str] = &[
    "attribution_colon",
    "two_clauses",
    "date",
    "count_with_unit",
    "official_verb",
    "digit_share",
    "no_bait_cue",
    "short",
    "long",
    "colon",
];

/// Chinese cues that raise the score but are no evidence of bait on their own.
const ZH_WEAK_CUES: &[usize] = &[zh::wh_word];

/// Whether cue `i` of `lang`, fired with `contribution` (weight × value) to the score, is
/// a bait cue: a strong one (see [`ZH_STRONG_CUES`], [`EN_STRONG_CUES`]), or another
/// non-neutral, non-weak cue that raises the score.
pub fn is_bait_cue(lang: Language, i: usize, contribution: f32) -> bool {
    let (strong, weak, names) = match lang {
        Language::Zh => (ZH_STRONG_CUES, ZH_WEAK_CUES, ZH_CUES),
        Language::En => (EN_STRONG_CUES, &[][..], EN_CUES),
    };
    i < names.len()
        && (strong.contains(&i) || (contribution > 0.0 && !weak.contains(&i) && !NEUTRAL_CUES.contains(&names[i])))
}

/// Whether the features hold a bait cue under `weights` (the model's, cues first).
pub fn has_bait_cue(lang: Language, features: &[(u32, f32)], weights: &[f32]) -> bool {
    features
        .iter()
        .any(|&(i, v)| v != 0.0 && is_bait_cue(lang, i as usize, weights.get(i as usize).copied().unwrap_or(0.0) * v))
}

pub fn cue_names(lang: Language) -> &'static [&'static str] {
    match lang {
        Language::Zh => ZH_CUES,
        Language::En => EN_CUES,
    }
}

// Chinese word lists, matched on normalized text. Each list feeds the cue of that name.
#[rustfmt::skip]
const ZH_WORDS: &[(&str, &[&str])] = &[
    ("second_person", &[
        "你", "您",
    ]),
    ("first_person", &[
        "我们", "咱", "我",
    ]),
    ("demonstrative", &[
        "这个", "这位", "这些", "这种", "这部", "这款", "这类", "这座", "这场", "这样", "这么", "这才", "这就",
        "这是", "这里", "这次", "这项", "这家", "这条", "这件", "这届", "这波", "这张", "那个", "那些", "那位",
        "那么", "那种", "此事",
    ]),
    ("vague_subject", &[
        "有人", "某", "一男子", "一女子", "一男孩", "一女孩", "一老人", "这件事", "这一幕", "这一切", "这句话",
        "神秘", "的他", "的她", "的一幕",
    ]),
    ("wh_word", &[
        "为何", "为什么", "为啥", "怎么", "怎样", "如何", "什么", "啥", "哪", "多少", "吗", "呢", "是否", "能否",
        "何以", "何在", "何时", "谁", "咋", "凭什么", "难道", "究竟", "到底", "有何", "何处", "何种", "几何",
    ]),
    ("suspense", &[
        "竟", "居然", "原来", "没想到", "想不到", "真相", "背后", "揭秘", "内幕", "秘密", "不为人知", "万万",
        "出乎意料", "意想不到", "结局", "答案", "终于", "悄悄", "突然", "意外", "真的", "其实", "曝光", "玄机",
        "猫腻", "实情", "真实原因", "原因竟",
    ]),
    ("urgency", &[
        "刚刚", "突发", "紧急扩散", "紧急提醒", "速看", "必看", "快看", "赶紧", "马上", "重磅", "别错过", "速速",
        "警惕", "小心", "当心", "注意了", "扩散", "转发", "来了", "官宣", "定了", "抓紧", "火速", "赶快", "最新",
    ]),
    ("warning", &[
        "千万", "一定要", "务必", "不要再", "别再", "切记", "绝不能", "别让", "千万别", "不能再",
    ]),
    ("emotion", &[
        "泪目", "哭", "崩溃", "扎心", "心疼", "震撼", "震惊", "吓", "怒", "炸锅", "炸了", "疯", "绝了", "感动",
        "暖心", "愤怒", "惊呆", "傻眼", "可怕", "恐怖", "气愤", "笑喷", "尴尬", "霸气", "太牛", "厉害", "惨",
        "痛心", "心酸", "无奈", "后悔", "羡慕", "沉默", "破防", "心寒", "好消息", "坏消息", "吃惊", "惊人", "惊喜", "让人", "后背发凉", "细思极恐", "看哭", "愣住", "懵",
    ]),
    ("colloquial", &[
        "啊", "吧", "呀", "啦", "哇", "嘛", "哦", "咯", "呗", "太",
    ]),
    ("hype", &[
        "史上", "罕见", "前所未有", "全网", "刷屏", "火了", "爆火", "走红", "出圈", "霸屏", "热搜", "疯传", "逆袭",
        "神操作", "爆了", "火爆", "大招", "豪华", "巨变", "狂", "暴涨", "暴跌", "一夜", "炸裂", "王炸", "硬核",
        "卖爆", "大变", "变天", "出手", "放大招", "发声", "亮剑", "出招", "坐不住",
    ]),
    ("superlative", &[
        "最", "第一", "首个", "唯一", "顶级", "极致",
    ]),
    ("analysis_tease", &[
        "什么信号", "哪些信号", "意味", "深意", "看点", "亮点", "启示", "释放", "说明了", "怎么看", "何去何从",
        "走向何方", "解读", "揭示", "看懂", "读懂", "有何影响", "意味着",
    ]),
    ("explainer", &[
        "一文", "一图", "一张图", "盘点", "汇总", "科普", "详解", "带你", "教你", "攻略", "指南", "秘诀", "干货",
        "清单",
    ]),
    ("netizens", &[
        "网友", "网民", "评论区", "围观", "吃瓜",
    ]),
    ("official_verb", &[
        "召开", "举行", "印发", "部署", "会见", "会谈", "通报", "公布", "开幕", "闭幕", "签署", "启动", "实施",
        "会议", "同比", "环比", "主持", "出席", "批准", "审议", "任命", "逮捕", "审查", "调查", "表彰", "揭晓",
        "开通", "通车", "发射", "新增", "发布会", "答记者问", "例行", "举办", "颁奖", "公告", "通知", "办法",
        "规定", "措施", "发布", "暂停", "恢复", "划定", "调整", "逝世", "享年", "记者会", "落实", "推进", "开展",
        "建设", "竣工", "签约",
    ]),
];

// Words whose characters must not count for the lists above: a plain word that contains a
// cue word (最高人民法院 is no superlative, 太空 no exclamation of degree, 我国 no "I").
#[rustfmt::skip]
const ZH_MASKED: &[&str] = &[
    "最高人民", "最高法", "最高检", "最高气温", "最低气温", "最终", "最近", "最后一", "太空", "太原", "太阳",
    "太平", "太湖", "太极", "太行", "太子", "太太", "我国", "我省", "我市", "我区", "我县", "我校", "我院", "我军",
    "我部", "我方", "我驻", "我局", "哪吒", "吗啡", "呢子", "吧台", "酒吧", "网吧", "哈哈", "呀诺达", "沉默权",
    "惨案", "怒江", "哭泣",
];

// Chinese numerals that can open a listicle count.
const ZH_NUMERALS: &str = "二三四五六七八九十两几数百千万0123456789";
// Measure words after a listicle count.
const ZH_LIST_MEASURES: &str = "个大条种件点招类组张款部样句";
// Units after a reported figure.
const ZH_REPORT_UNITS: &str = "例人名万亿元吨次级岁年座所家项台架米度日月时号";

#[rustfmt::skip]
const EN_WORDS: &[(&str, &[&str])] = &[
    ("second_person", &[
        "you", "your", "youre", "yourself", "yours", "ya", "u",
    ]),
    ("first_person", &[
        "i", "me", "my", "we", "our", "us", "im", "ive",
    ]),
    ("demonstrative", &[
        "this", "these", "that", "those", "here", "heres",
    ]),
    ("suspense", &[
        "believe", "secret", "secrets", "truth", "actually", "finally", "reason", "reasons", "revealed", "reveals",
        "happened", "happens", "surprising", "shocking", "unexpected", "mind", "blow", "really", "literally",
        "guess", "why", "things", "everything", "nobody", "everyone",
    ]),
    ("emotion", &[
        "amazing", "incredible", "unbelievable", "omg", "wtf", "lol", "epic", "perfect", "adorable", "cute",
        "hilarious", "genius", "awesome", "insane", "crazy", "weird", "totally", "super", "cutest", "beautiful",
        "heartbreaking", "heartwarming", "tears", "cry", "fucking", "damn", "wow", "omfg", "awkward", "struggles",
    ]),
    ("superlative", &[
        "best", "worst", "most", "ever", "greatest", "all-time", "biggest", "cutest", "funniest",
    ]),
    ("quiz", &[
        "quiz", "which", "should", "can", "guess", "test", "pick", "tell", "answer",
    ]),
];

const EN_QUESTION_OPENERS: &[&str] = &[
    "what", "why", "how", "who", "which", "where", "when", "can", "do", "does", "is", "are", "should", "would", "will",
    "did", "could", "have", "has",
];

const EN_SMALL_WORDS: &[&str] = &[
    "to", "a", "an", "the", "of", "in", "on", "for", "and", "with", "is", "at", "by", "from", "or", "as", "are", "be",
];

fn cue_index(names: &[&str], name: &str) -> usize {
    names.iter().position(|n| *n == name).unwrap_or_else(|| unreachable_cue(name))
}

#[cold]
fn unreachable_cue(name: &str) -> usize {
    // The word lists above only name cues of the lists; a test checks it.
    debug_assert!(false, "unknown cue {name}");
    0
}

/// The word lists as lookup tables.
pub struct Lexicon {
    /// Chinese: first character → (word, cue index).
    zh: HashMap<char, Vec<(&'static str, u16)>>,
    /// Chinese: first character → masked words.
    zh_masked: HashMap<char, Vec<&'static str>>,
    /// English: lower-case word → cue indices.
    en: HashMap<&'static str, Vec<u16>>,
    en_question_openers: Vec<&'static str>,
}

impl Default for Lexicon {
    fn default() -> Self {
        Lexicon::new()
    }
}

impl Lexicon {
    pub fn new() -> Self {
        let mut zh: HashMap<char, Vec<(&'static str, u16)>> = HashMap::new();
        for (cue, words) in ZH_WORDS {
            let idx = cue_index(ZH_CUES, cue) as u16;
            for w in *words {
                if let Some(first) = w.chars().next() {
                    zh.entry(first).or_default().push((w, idx));
                }
            }
        }
        let mut zh_masked: HashMap<char, Vec<&'static str>> = HashMap::new();
        for w in ZH_MASKED {
            if let Some(first) = w.chars().next() {
                zh_masked.entry(first).or_default().push(w);
            }
        }
        let mut en: HashMap<&'static str, Vec<u16>> = HashMap::new();
        for (cue, words) in EN_WORDS {
            let idx = cue_index(EN_CUES, cue) as u16;
            for w in *words {
                let e = en.entry(*w).or_default();
                if !e.contains(&idx) {
                    e.push(idx);
                }
            }
        }
        Lexicon { zh, zh_masked, en, en_question_openers: EN_QUESTION_OPENERS.to_vec() }
    }
}

/// Reusable buffers, so that scoring allocates nothing once warm.
#[derive(Default)]
pub struct Scratch {
    normalized: String,
    chars: Vec<char>,
    words: Vec<(usize, usize)>,
    lower: String,
    lower_bounds: Vec<(usize, usize)>,
    cased_bounds: Vec<(usize, usize)>,
    padded: Vec<u64>,
    /// The features of the last title: (index, value), hashed indices may repeat.
    pub features: Vec<(u32, f32)>,
}

/// The feature layout of one language: cue count and hashed bucket bits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Layout {
    pub lang: Language,
    pub hash_bits: u32,
    /// Value of one n-gram occurrence (the cues' scale is 1); a smaller value regularizes
    /// n-grams more than cues.
    pub ngram_value: f32,
}

impl Layout {
    pub fn cues(&self) -> usize {
        cue_names(self.lang).len()
    }

    pub fn dim(&self) -> usize {
        self.cues() + (1usize << self.hash_bits)
    }
}

/// Fills `scratch.features` with the features of `text` under `layout`.
pub fn extract(lex: &Lexicon, layout: &Layout, text: &str, scratch: &mut Scratch) {
    scratch.features.clear();
    match layout.lang {
        Language::Zh => extract_zh(lex, layout, text, scratch),
        Language::En => extract_en(lex, layout, text, scratch),
    }
}

fn is_question(c: char) -> bool {
    matches!(c, '?' | '？' | '¿')
}

fn is_exclamation(c: char) -> bool {
    matches!(c, '!' | '！' | '¡')
}

fn is_open_quote(c: char) -> bool {
    matches!(c, '“' | '「' | '『' | '《' | '"' | '‘')
}

fn is_emoji(c: char) -> bool {
    matches!(c as u32, 0x1F300..=0x1FAFF | 0x2600..=0x27BF | 0x1F000..=0x1F2FF)
}

/// Punctuation cues shared by both languages, from the raw text.
struct Marks {
    question: bool,
    question_ending: bool,
    exclamation: bool,
    exclamation_teaser: bool,
    repeated: bool,
    ellipsis: bool,
    quotes: usize,
    bracket_tag: bool,
    colon_lead: bool,
    colon: bool,
    emoji: bool,
    space_between_han: bool,
}

fn marks(text: &str) -> Marks {
    let t = text.trim();
    let mut m = Marks {
        question: false,
        question_ending: false,
        exclamation: false,
        exclamation_teaser: false,
        repeated: false,
        ellipsis: t.contains('…') || t.contains('⋯') || t.contains("...") || t.contains("。。"),
        quotes: 0,
        bracket_tag: t.starts_with('【') || t.starts_with('['),
        colon_lead: false,
        colon: false,
        emoji: false,
        space_between_han: false,
    };
    let mut ascii_quotes = 0usize;
    let mut prev: Option<char> = None;
    let mut prev_han = false;
    let mut pending_space = false;
    let total = t.chars().count();
    for (i, c) in t.chars().enumerate() {
        if is_question(c) {
            m.question = true;
        }
        if is_exclamation(c) {
            m.exclamation = true;
            if i < 10 && i + 3 < total {
                m.exclamation_teaser = true;
            }
        }
        if let Some(p) = prev
            && (is_question(c) || is_exclamation(c))
            && (is_question(p) || is_exclamation(p))
        {
            m.repeated = true;
        }
        if c == '"' {
            ascii_quotes += 1;
        } else if is_open_quote(c) {
            m.quotes += 1;
        }
        if matches!(c, ':' | '：') {
            m.colon = true;
            if i <= 10 {
                m.colon_lead = true;
            }
        }
        if is_emoji(c) {
            m.emoji = true;
        }
        if c.is_whitespace() {
            pending_space = true;
        } else {
            let han = is_han(c);
            if han && prev_han && pending_space {
                m.space_between_han = true;
            }
            prev_han = han;
            pending_space = false;
        }
        prev = Some(c);
    }
    m.quotes += ascii_quotes.div_ceil(2);
    let last = t.chars().rev().find(|c| !matches!(c, '!' | '！' | '。' | '.' | ' ' | '…'));
    m.question_ending = last.is_some_and(is_question) || t.chars().last().is_some_and(is_question);
    m
}

// n-gram hashing: a word-at-a-time mix seeded by the n-gram's kind.
const MUL: u64 = 0x9E37_79B9_7F4A_7C15;

#[inline]
fn mix(h: u64, x: u64) -> u64 {
    (h.rotate_left(26) ^ x).wrapping_mul(MUL)
}

#[inline]
fn finish(h: u64, bits: u32) -> u32 {
    let h = (h ^ (h >> 31)).wrapping_mul(0xD6E8_FEB8_6659_FD93);
    let h = h ^ (h >> 32);
    (h >> (64 - bits)) as u32
}

#[inline]
fn push_hashed(scratch_features: &mut Vec<(u32, f32)>, layout: &Layout, cues: usize, h: u64) {
    let bucket = finish(h, layout.hash_bits);
    scratch_features.push((cues as u32 + bucket, layout.ngram_value));
}

fn set(features: &mut Vec<(u32, f32)>, idx: usize, value: f32) {
    if value != 0.0 {
        features.push((idx as u32, value));
    }
}

fn extract_zh(lex: &Lexicon, layout: &Layout, text: &str, s: &mut Scratch) {
    let m = marks(text);
    steward_text::normalize_into(text, &mut s.normalized);
    s.chars.clear();
    s.chars.extend(s.normalized.chars());
    let n = s.chars.len();

    let mut flags = [0f32; ZH_CUES.len()];
    flags[zh::question] = m.question as u8 as f32;
    flags[zh::question_ending] = m.question_ending as u8 as f32;
    flags[zh::exclamation] = m.exclamation as u8 as f32;
    flags[zh::exclamation_teaser] = m.exclamation_teaser as u8 as f32;
    flags[zh::repeated_marks] = m.repeated as u8 as f32;
    flags[zh::ellipsis] = m.ellipsis as u8 as f32;
    flags[zh::quotes] = m.quotes.min(3) as f32 / 3.0;
    flags[zh::bracket_tag] = m.bracket_tag as u8 as f32;
    flags[zh::attribution_colon] = m.colon_lead as u8 as f32;
    flags[zh::leading_demonstrative] = s.chars.first().is_some_and(|c| matches!(c, '这' | '那')) as u8 as f32;
    flags[zh::emoji] = m.emoji as u8 as f32;
    flags[zh::two_clauses] = m.space_between_han as u8 as f32;

    // Word lists, at every position of the normalized text outside masked words.
    let norm = s.normalized.as_str();
    let mut masked_until = 0;
    for (pos, c) in norm.char_indices() {
        if let Some(masks) = lex.zh_masked.get(&c)
            && let Some(m) = masks.iter().filter(|m| norm[pos..].starts_with(**m)).map(|m| m.len()).max()
        {
            masked_until = masked_until.max(pos + m);
        }
        if pos < masked_until {
            continue;
        }
        if let Some(cands) = lex.zh.get(&c) {
            for (w, idx) in cands {
                if norm[pos..].starts_with(w) {
                    flags[*idx as usize] = 1.0;
                }
            }
        }
    }
    // "他/她" opening a title stands for a person the title will not name.
    if s.chars.first().is_some_and(|c| matches!(c, '他' | '她' | '它')) {
        flags[zh::vague_subject] = 1.0;
    }

    // Numbers: listicles, dates, counts with units, digit share.
    let mut digits = 0usize;
    // Length of the run of ASCII digits ending at the current character.
    let mut run = 0usize;
    for i in 0..n {
        let c = s.chars[i];
        if c.is_ascii_digit() {
            digits += 1;
            run += 1;
        } else {
            run = 0;
        }
        let next = s.chars.get(i + 1).copied();
        if ZH_NUMERALS.contains(c)
            && let Some(nx) = next
        {
            // A listicle count is small: a Chinese numeral or at most three digits (long
            // runs are figures, or several figures joined once punctuation is gone).
            // An ordinal (第五个交易日) is no list.
            let start = if run > 0 { i + 1 - run } else { i };
            let ordinal = start >= 1 && s.chars[start - 1] == '第';
            if ZH_LIST_MEASURES.contains(nx) && run <= 3 && !ordinal {
                flags[zh::listicle_number] = 1.0;
            }
            if c.is_ascii_digit() && ZH_REPORT_UNITS.contains(nx) {
                flags[zh::count_with_unit] = 1.0;
            }
            if c.is_ascii_digit() && nx == '月' && s.chars.get(i + 2).is_some_and(|d| d.is_ascii_digit()) {
                flags[zh::date] = 1.0;
            }
        }
    }
    if text.contains('%') || text.contains('％') {
        flags[zh::count_with_unit] = 1.0;
    }
    flags[zh::digit_share] = if n == 0 { 0.0 } else { digits as f32 / n as f32 };
    // Absence of evidence, made explicit: without it, a plain title of an unfamiliar outlet
    // (none of the report cues of the training outlet either) would sit at the bias.
    let bait = ZH_STRONG_CUES.iter().any(|&i| flags[i] != 0.0);
    flags[zh::no_bait_cue] = (!bait) as u8 as f32;
    for (i, v) in flags.iter().enumerate() {
        set(&mut s.features, i, *v);
    }

    // Character 1–3-grams; bigrams and trigrams see start (^) and end ($) marks.
    let cues = ZH_CUES.len();
    s.padded.clear();
    s.padded.push(u64::from('^'));
    s.padded.extend(s.chars.iter().map(|c| u64::from(*c)));
    s.padded.push(u64::from('$'));
    for &c in &s.padded[1..s.padded.len() - 1] {
        push_hashed(&mut s.features, layout, cues, mix(mix(0x5A41, 0), c));
    }
    for len in 2..=3usize {
        for w in s.padded.windows(len) {
            let h = w.iter().fold(mix(0x5A40 + len as u64, 0), |h, c| mix(h, *c));
            push_hashed(&mut s.features, layout, cues, h);
        }
    }
}

fn extract_en(lex: &Lexicon, layout: &Layout, text: &str, s: &mut Scratch) {
    let m = marks(text);
    let t = text.trim();
    // Words: runs of letters and digits (an apostrophe inside a word is dropped, so
    // "What's" is "Whats").
    s.words.clear();
    s.lower.clear();
    s.normalized.clear();
    let mut start: Option<usize> = None;
    for (i, c) in t.char_indices() {
        let word_char = c.is_alphanumeric();
        let inner_apostrophe = matches!(c, '\'' | '’') && start.is_some();
        if word_char || inner_apostrophe {
            if start.is_none() {
                start = Some(i);
            }
        } else if let Some(b) = start.take() {
            s.words.push((b, i));
        }
    }
    if let Some(b) = start {
        s.words.push((b, t.len()));
    }
    // Lower-case word forms, without apostrophes, joined by spaces in `lower`; the word
    // boundaries in `lower` are recomputed below.
    s.lower_bounds.clear();
    s.cased_bounds.clear();
    for &(b, e) in &s.words {
        let lb = s.lower.len();
        let cb = s.normalized.len();
        for c in t[b..e].chars() {
            if matches!(c, '\'' | '’') {
                continue;
            }
            s.normalized.push(c);
            for lc in c.to_lowercase() {
                s.lower.push(lc);
            }
        }
        s.lower_bounds.push((lb, s.lower.len()));
        s.cased_bounds.push((cb, s.normalized.len()));
        s.lower.push(' ');
        s.normalized.push(' ');
    }

    let mut flags = [0f32; EN_CUES.len()];
    flags[en::question] = m.question as u8 as f32;
    flags[en::exclamation] = m.exclamation as u8 as f32;
    flags[en::ellipsis] = m.ellipsis as u8 as f32;
    flags[en::colon] = m.colon as u8 as f32;
    flags[en::quotes] = m.quotes.min(2) as f32 / 2.0;
    let words = s.lower_bounds.len();
    if let Some(&(b, e)) = s.lower_bounds.first() {
        let first = &s.lower[b..e];
        flags[en::question_opening] = lex.en_question_openers.contains(&first) as u8 as f32;
        flags[en::number_opening] = first.chars().all(|c| c.is_ascii_digit()) as u8 as f32;
    }
    let mut digits = 0usize;
    let mut chars = 0usize;
    for (k, &(b, e)) in s.lower_bounds.iter().enumerate() {
        let w = &s.lower[b..e];
        if let Some(idxs) = lex.en.get(w) {
            for idx in idxs {
                flags[*idx as usize] = 1.0;
            }
        }
        if k > 0 && EN_SMALL_WORDS.contains(&w) {
            let (cb, _) = s.cased_bounds[k];
            if s.normalized[cb..].starts_with(|c: char| c.is_uppercase()) {
                flags[en::capitalized_small_words] = 1.0;
            }
        }
        for c in w.chars() {
            chars += 1;
            if c.is_ascii_digit() {
                digits += 1;
            }
        }
    }
    if s.lower.contains("you won") || s.lower.contains("what happens") || s.lower.contains("will make you") {
        flags[en::suspense] = 1.0;
    }
    flags[en::digit_share] = if chars == 0 { 0.0 } else { digits as f32 / chars as f32 };
    flags[en::short] = (words < 6) as u8 as f32;
    flags[en::long] = (words > 12) as u8 as f32;
    for (i, v) in flags.iter().enumerate() {
        set(&mut s.features, i, *v);
    }

    let cues = EN_CUES.len();
    // Words and word pairs, as written and in lower case.
    for (kind, text, bounds) in [(1u64, &s.normalized, &s.cased_bounds), (2u64, &s.lower, &s.lower_bounds)] {
        let mut prev: Option<u64> = None;
        for &(b, e) in bounds.iter() {
            let wh = text[b..e]
                .bytes()
                .fold(0xCBF2_9CE4_8422_2325u64, |h, x| (h ^ u64::from(x)).wrapping_mul(0x100_0000_01B3));
            push_hashed(&mut s.features, layout, cues, mix(mix(0xE0 + kind, 0), wh));
            if let Some(p) = prev {
                push_hashed(&mut s.features, layout, cues, mix(mix(mix(0xE8 + kind, 0), p), wh));
            }
            prev = Some(wh);
        }
    }
    // Lower-case character 2–5-grams of each whitespace-separated token (punctuation
    // included), padded with a space on each side.
    s.chars.clear();
    for token in t.split_whitespace() {
        s.chars.clear();
        s.chars.push(' ');
        for c in token.chars() {
            s.chars.extend(c.to_lowercase());
        }
        s.chars.push(' ');
        let n = s.chars.len();
        for len in 2..=5usize {
            if len > n {
                break;
            }
            for i in 0..=(n - len) {
                let mut h = mix(0xC0 + len as u64, 0);
                for c in &s.chars[i..i + len] {
                    h = mix(h, u64::from(*c));
                }
                push_hashed(&mut s.features, layout, cues, h);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_lists_name_known_cues() {
        for (cue, _) in ZH_WORDS {
            assert!(ZH_CUES.contains(cue), "{cue}");
        }
        for (cue, _) in EN_WORDS {
            assert!(EN_CUES.contains(cue), "{cue}");
        }
        for cue in NEUTRAL_CUES {
            assert!(ZH_CUES.contains(cue) || EN_CUES.contains(cue), "{cue}");
        }
    }

    #[test]
    fn language_from_script() {
        assert_eq!(Language::detect("iPhone 15发布会来了"), Language::Zh);
        assert_eq!(Language::detect("You Won't Believe What Happened Next"), Language::En);
        assert_eq!(Language::detect("Why Beijing 北京 matters to the world economy now"), Language::En);
        assert_eq!(Language::detect("🔥🔥"), Language::Zh);
    }

    fn cues_of(lang: Language, text: &str) -> Vec<&'static str> {
        let lex = Lexicon::new();
        let layout = Layout { lang, hash_bits: 10, ngram_value: 1.0 };
        let mut s = Scratch::default();
        extract(&lex, &layout, text, &mut s);
        let names = cue_names(lang);
        let mut out: Vec<_> =
            s.features.iter().filter(|(i, _)| (*i as usize) < names.len()).map(|(i, _)| names[*i as usize]).collect();
        out.dedup();
        assert!(s.features.iter().all(|(i, _)| (*i as usize) < layout.dim()));
        out
    }

    #[test]
    fn chinese_cues() {
        let c = cues_of(Language::Zh, "震惊！这种水果竟然有毒，你还在吃吗？");
        for want in ["question", "question_ending", "exclamation", "exclamation_teaser", "second_person", "suspense"] {
            assert!(c.contains(&want), "{want} missing from {c:?}");
        }
        assert!(c.contains(&"demonstrative") && c.contains(&"emotion") && c.contains(&"wh_word"), "{c:?}");
        let c = cues_of(Language::Zh, "国务院常务会议11月8日召开 部署稳经济措施");
        assert!(c.contains(&"date") && c.contains(&"official_verb") && c.contains(&"two_clauses"), "{c:?}");
        assert!(!c.contains(&"question") && !c.contains(&"suspense"), "{c:?}");
        let c = cues_of(Language::Zh, "他走了……留下这5句话");
        assert!(c.contains(&"vague_subject") && c.contains(&"ellipsis") && c.contains(&"listicle_number"), "{c:?}");
    }

    #[test]
    fn english_cues() {
        let c = cues_of(Language::En, "21 Things You Won't Believe Happened To The Cutest Dogs Ever");
        for want in ["number_opening", "second_person", "suspense", "superlative", "capitalized_small_words"] {
            assert!(c.contains(&want), "{want} missing from {c:?}");
        }
        let c = cues_of(Language::En, "Senate passes budget bill after late-night vote");
        assert!(c.is_empty(), "{c:?}");
    }

    #[test]
    fn odd_input_does_not_panic() {
        for t in ["", " ", "？", "!!!", "\u{200b}", "【", "a", "1", "这", "…", "''", "’s", "\"", "👍👍👍", "x\u{0301}"]
        {
            for lang in Language::ALL {
                cues_of(lang, t);
            }
        }
    }
}
