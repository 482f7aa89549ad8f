use super::learn::metrics_of;
use super::train::{HANDWRITTEN_EN, HANDWRITTEN_ZH, parse_label_title};
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

/// A body long enough for its support of the title to be measured, that restates `lead`.
fn article(lead: &str) -> String {
    format!("{lead}。{}", "记者从有关部门获悉，相关工作正在有序推进，各项安排已经落实到位。".repeat(8))
}

#[test]
fn committed_weights_load() {
    shipped();
    assert!(SHIPPED_MODEL.len() < 2 << 20, "models/clickbait.json must stay under 2 MB");
}

#[test]
fn bait_titles_are_flagged_with_their_cues() {
    let s = run(&post(Some("震惊！这种水果竟然有毒，很多人还在天天吃……"), "正文"));
    assert_eq!(s.len(), 1, "{s:?}");
    assert_eq!(s[0].name, "clickbait");
    assert_eq!(s[0].evidence["language"], "zh");
    assert_eq!(s[0].evidence["threshold"], THRESHOLD);
    let cues = s[0].evidence["cues"].as_array().unwrap();
    assert!(cues.iter().any(|c| c == "withheld" || c == "oversell"), "{cues:?}");
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
        assert!(run(&post(Some(t), &article(t))).is_empty(), "{t}");
    }
}

/// Regression (issue 16): every short post was scored as if it were a title, and one
/// exclamation mark flagged it.
#[test]
fn posts_without_a_title_are_not_scored() {
    for text in [
        "偶是一只nice puppy，求包养，求关注，求粉丝！[可怜]",
        "千万别再这样洗碗了！90%的家庭都做错了，赶紧告诉家人",
        "紧急！！！大家注意……",
        "",
    ] {
        assert!(run(&post(None, text)).is_empty(), "{text}");
        assert!(run(&post(Some("  "), text)).is_empty(), "{text}");
    }
}

#[test]
fn a_leading_headline_is_a_title_over_its_body() {
    let t = title_of(None, "  【千万别再这样洗碗了！90%的家庭都做错了】 洗碗时先用热水冲去油污，再用洗洁精。").unwrap();
    assert_eq!(t.title, "千万别再这样洗碗了！90%的家庭都做错了");
    assert!(t.content.starts_with("洗碗时") && t.headline);
    assert_eq!(
        run(&post(None, "【千万别再这样洗碗了！90%的家庭都做错了】洗碗时先用热水冲去油污，再用洗洁精。")).len(),
        1
    );
    // Tags, a bracketed line with nothing under it, brackets later in the text, unclosed ones.
    for text in [
        "【扩】大家帮忙转发一下这条消息，谢谢各位朋友",
        "【千万别再这样洗碗了！90%的家庭都做错了】",
        "【千万别再这样洗碗了！90%的家庭都做错了】 http://t.cn/abcdefg",
        "今天看到【千万别再这样洗碗了】这篇文章，很有用",
        "【千万别再这样洗碗了！90%的家庭都做错了",
        "【Wherever you go, no one will ever know】 a song I cannot stop playing today",
    ] {
        assert!(title_of(None, text).is_none(), "{text}");
    }
    // A plain headline over its news is not flagged.
    assert!(run(&post(None, "【南京长江五桥正式通车】12月24日，南京长江五桥正式通车，全长约10.3公里。")).is_empty());
    // The post's title wins over a headline in its text.
    let t = title_of(Some("国家统计局发布10月份居民消费价格指数"), "【震惊！竟然这样】正文正文正文正文正文").unwrap();
    assert!(!t.headline && t.title.starts_with("国家统计局"));
}

#[test]
fn content_that_does_not_support_the_title_raises_the_score() {
    let m = shipped();
    let title = "外资开始抄底房地产，意味深长";
    let supported = m.decide(title, &article("外资开始抄底房地产，意味深长"));
    let unsupported = m.decide(title, &article("市场情绪低迷之际，多家机构加速进入"));
    assert!(unsupported.score > supported.score, "{unsupported:?} vs {supported:?}");
}

#[test]
fn scores_are_in_range_for_odd_input() {
    let m = shipped();
    let long = "啊".repeat(5000);
    for t in ["", "？？？", "!!!", "\u{200b}", "【", "😀", "a", "這個真的太誇張了吧！", &long] {
        for content in ["", t, &long] {
            let s = m.score(t, content);
            assert!((0.0..=1.0).contains(&s.score), "{t}: {}", s.score);
            assert_eq!(m.decide(t, content).score, s.score);
            assert_eq!(m.decide(t, content).flagged, s.flagged);
        }
    }
}

#[test]
fn traditional_characters_score_like_simplified() {
    let m = shipped();
    let a = m.score("這種水果竟然有毒，還有多少人不知道？", "").score;
    let b = m.score("这种水果竟然有毒，还有多少人不知道？", "").score;
    assert!((a - b).abs() < 1e-6, "{a} vs {b}");
}

/// The hand-written headlines are the project's own and were never trained on: a floor
/// against regressions, not a measure of quality (see `steward eval clickbait --cv`).
#[test]
fn hand_written_checks() {
    let m = shipped();
    for (file, floor) in [(HANDWRITTEN_ZH, 0.85), (HANDWRITTEN_EN, 0.85)] {
        let rows = parse_label_title(file).unwrap();
        let flags: Vec<bool> = rows.iter().map(|(_, t)| m.decide(t, "").flagged).collect();
        let labels: Vec<bool> = rows.iter().map(|(l, _)| *l).collect();
        let got = metrics_of(&flags, &labels);
        assert!(got.accuracy >= floor && got.f1 >= floor, "{got:?}");
    }
}

#[test]
fn weights_of_the_wrong_shape_are_refused() {
    let en = LangModel::zero(Layout { hash_bits: 4, ngram_value: 1.0 });
    assert!(Clickbait::new(ZhModel { bias: 0.0, weights: vec![0.0; 2] }, en.clone()).is_err());
    let zh = ZhModel { bias: 0.0, weights: vec![0.0; zh::FEATURES.len()] };
    assert!(Clickbait::new(zh.clone(), en).is_ok());
    let mut short = LangModel::zero(Layout { hash_bits: 4, ngram_value: 1.0 });
    short.weights.pop();
    assert!(Clickbait::new(zh, short).is_err());
    assert!(Clickbait::from_json("{}").is_err());
    assert!(Clickbait::from_json(&SHIPPED_MODEL.replace("steward-clickbait/2", "steward-clickbait/1")).is_err());
}
