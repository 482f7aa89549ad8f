use super::train::{HANDWRITTEN_EN, HANDWRITTEN_ZH, metrics_of, parse_label_title};
use super::*;
use steward_model::Event;

fn shipped() -> &'static Clickbait {
    match Clickbait::shipped() {
        Ok(m) => m,
        Err(e) => panic!("the committed weights do not load: {e}"),
    }
}

fn post(title: Option<&str>, text: &str) -> Event {
    crate::testing::post_event("p", "a", title, text, chrono::Utc::now())
}

fn run(e: &Event) -> Vec<Signal> {
    let mut out = Findings::default();
    ClickbaitDetector::default().inspect(&Context { event: e, account: None }, &mut out);
    out.signals
}

#[test]
fn committed_weights_load() {
    let m = shipped();
    assert_eq!(m.model(Language::Zh).layout.lang, Language::Zh);
    assert!(SHIPPED_MODEL.len() < 2 << 20, "models/clickbait.json must stay under 2 MB");
}

#[test]
fn bait_titles_are_flagged_with_their_cues() {
    let e = post(Some("震惊！这种水果竟然有毒，很多人还在天天吃……"), "正文");
    let s = run(&e);
    assert_eq!(s.len(), 1, "{s:?}");
    assert_eq!(s[0].name, "clickbait");
    assert_eq!(s[0].evidence["language"], "zh");
    assert_eq!(s[0].evidence["threshold"], THRESHOLD);
    let cues = s[0].evidence["cues"].as_array().unwrap();
    assert!(cues.iter().any(|c| c == "suspense" || c == "exclamation"), "{cues:?}");
    assert!(s[0].score >= THRESHOLD && s[0].score <= 1.0);

    let s = run(&post(Some("You Won't Believe What This Cat Did Next"), ""));
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].evidence["language"], "en");
}

#[test]
fn plain_reports_are_not_flagged() {
    for t in [
        "国务院常务会议部署进一步稳定外贸措施",
        "南京长江五桥正式通车 全长约10.3公里",
        "Central bank holds interest rates steady for third straight meeting",
    ] {
        assert!(run(&post(Some(t), "")).is_empty(), "{t}");
    }
}

#[test]
fn untitled_short_text_is_scored_long_text_is_not() {
    let bait = "千万别再这样洗碗了！90%的家庭都做错了，赶紧告诉家人";
    assert_eq!(run(&post(None, bait)).len(), 1);
    assert_eq!(run(&post(Some("  "), bait)).len(), 1);
    let long = format!("{bait}{}", "今天的天气很好，我们去公园散步。".repeat(12));
    assert!(long.chars().count() > MAX_TEXT_CHARS);
    assert!(run(&post(None, &long)).is_empty());
    // The title wins over the text.
    assert!(run(&post(Some("国家统计局发布10月份居民消费价格指数"), bait)).is_empty());
    assert!(run(&post(None, "")).is_empty());
}

#[test]
fn scores_are_in_range_for_odd_input() {
    let m = shipped();
    for t in ["", "？？？", "!!!", "\u{200b}", "【", "😀", "a", "這個真的太誇張了吧！", &"啊".repeat(5000)]
    {
        let s = m.score(t);
        assert!((0.0..=1.0).contains(&s.score), "{t}: {}", s.score);
        assert_eq!(m.probability(t).0, s.score);
        assert_eq!(m.decide(t).flagged, s.flagged);
    }
}

#[test]
fn traditional_characters_score_like_simplified() {
    let m = shipped();
    let a = m.score("這種水果竟然有毒，你還在吃嗎？").score;
    let b = m.score("这种水果竟然有毒，你还在吃吗？").score;
    assert!((a - b).abs() < 1e-6, "{a} vs {b}");
}

/// The hand-written headlines are the project's own and were never trained on: a floor
/// against regressions, not a measure of quality (see `steward train clickbait`).
#[test]
fn hand_written_checks() {
    let m = shipped();
    for (file, floor) in [(HANDWRITTEN_ZH, 0.85), (HANDWRITTEN_EN, 0.85)] {
        let rows = parse_label_title(file).unwrap();
        let flags: Vec<bool> = rows.iter().map(|(_, t)| m.decide(t).flagged).collect();
        let labels: Vec<bool> = rows.iter().map(|(l, _)| *l).collect();
        let got = metrics_of(&flags, &labels);
        assert!(got.accuracy >= floor && got.f1 >= floor, "{got:?}");
    }
}

#[test]
fn chinese_flags_need_a_bait_cue() {
    // A model that scores everything high: without a bait cue, a Chinese title is not
    // flagged; an English one (no cue rule) is.
    let mut zh = LangModel::zero(Layout { lang: Language::Zh, hash_bits: 4, ngram_value: 1.0 });
    zh.bias = 5.0;
    zh.require_cue = true;
    let mut en = LangModel::zero(Layout { lang: Language::En, hash_bits: 4, ngram_value: 1.0 });
    en.bias = 5.0;
    let m = Clickbait::new(zh, en).unwrap();
    let plain = m.decide("国务院常务会议部署稳外贸措施");
    assert!(plain.score > 0.99 && !plain.flagged);
    assert!(m.decide("你绝对想不到的真相").flagged);
    assert!(m.decide("Markets close higher").flagged);
    assert!(
        Clickbait::new(LangModel::zero(Layout { lang: Language::En, hash_bits: 4, ngram_value: 1.0 }), m.en.clone())
            .is_err()
    );
}
