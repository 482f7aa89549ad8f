use chrono::{DateTime, Duration, TimeZone, Utc};
use steward_model::Verdict;

use super::*;
use crate::testing::{fact_check, fact_check_event, post_event};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 8, 0, 0).unwrap()
}

/// A small knowledge base of made-up rulings on made-up rumours, published at t0.
fn matcher() -> ClaimMatcher {
    let mut m = ClaimMatcher::default();
    let published = Some(t0());
    for (id, claim, verdict) in [
        ("fc-harbour", "海军的十艘医疗船已经全部驶入青岛港", Verdict::False),
        ("fc-garlic", "每天生吃三瓣大蒜可以预防流感病毒", Verdict::False),
        ("fc-tigers", "某国政府在街上放了五百只老虎防止居民外出", Verdict::Misleading),
        ("fc-masks", "口罩可以减少飞沫传播", Verdict::True),
        ("fc-exam", "今年高考推迟到八月举行", Verdict::Unproven),
        ("fc-water", "Drinking hot water every fifteen minutes kills the virus", Verdict::False),
        ("fc-bridge", "长江大桥因裂缝明天起封闭", Verdict::False),
    ] {
        m.add_fact_check(fact_check(id, claim, verdict, published));
    }
    m
}

fn inspect(m: &mut ClaimMatcher, event: &steward_model::Event) -> Findings {
    let mut out = Findings::default();
    m.inspect(&Context { event, account: None }, &mut out);
    out
}

fn names(f: &Findings) -> Vec<&str> {
    f.signals.iter().map(|s| s.name.as_str()).collect()
}

#[test]
fn a_disguised_repeat_of_a_false_claim_is_flagged_with_its_fact_check() {
    let mut m = matcher();
    let text = "转发！！據說海軍的十艘醫療船已經全部駛入青島港了😱 #热点# 大家怎么看";
    let f = inspect(&mut m, &post_event("p1", "a1", None, text, t0() + Duration::hours(5)));
    assert_eq!(names(&f), ["debunked_claim", "spread_after_debunk"]);
    let e = &f.signals[0].evidence;
    assert_eq!(e["factcheck"], "fc-harbour");
    assert_eq!(e["verdict"], "false");
    assert_eq!(e["url"], "https://factcheck.example/fc-harbour");
    assert!(f.signals[0].score >= f64::from(THRESHOLD), "{}", f.signals[0].score);
    assert_eq!(f.signals[1].evidence["hours_after"], 5.0);
}

#[test]
fn the_score_ranks_the_claim_the_post_carries_first() {
    let mut m = matcher();
    let hits = m.search("听说某国政府在街上放了五百只老虎，防止居民外出，真的假的", 3).to_vec();
    assert_eq!(m.knowledge_base().entry(hits[0].entry).fact_check.id, "fc-tigers");
    assert!(hits[0].score > THRESHOLD + 0.2, "{hits:?}");
    assert!(hits.get(1).is_none_or(|h| h.score < 0.3), "{hits:?}");
    let hits = m.search("Doctors say: drinking hot water every 15 minutes kills the virus!!", 1).to_vec();
    assert_eq!(m.knowledge_base().entry(hits[0].entry).fact_check.id, "fc-water");
}

#[test]
fn true_and_unproven_verdicts_and_unrelated_posts_raise_nothing() {
    let mut m = matcher();
    for text in [
        "医生提醒：口罩可以减少飞沫传播，出门记得戴",
        "今年高考推迟到八月举行？教育部门还没有通知",
        "今天去青岛港看了海军开放日，船真大",
        "大蒜炒肉真好吃",
        "",
    ] {
        let f = inspect(&mut m, &post_event("p", "a", None, text, t0()));
        assert!(f.signals.is_empty(), "{text}: {f:?}");
    }
}

#[test]
fn a_post_before_the_fact_check_is_flagged_when_the_fact_check_arrives() {
    let mut m = ClaimMatcher::default();
    let post_at = t0() - Duration::hours(30);
    let early =
        inspect(&mut m, &post_event("p1", "a1", Some("紧急通知"), "长江大桥因为裂缝明天起封闭，请绕行", post_at));
    assert!(early.signals.is_empty());
    inspect(&mut m, &post_event("p2", "a2", None, "长江边的晚霞", post_at));
    let fc = fact_check("fc-bridge", "长江大桥因裂缝明天起封闭", Verdict::False, Some(t0()));
    let f = inspect(&mut m, &fact_check_event(fc, t0()));
    assert!(f.signals.is_empty());
    let flagged: Vec<(&str, &str, &str)> =
        f.earlier.iter().map(|e| (e.event_id.as_str(), e.post_id.as_str(), e.signal.name.as_str())).collect();
    // Published before the fact-check: not spread after it.
    assert_eq!(flagged, [("e-p1", "p1", "debunked_claim")]);
    // A later copy is spread after the debunk.
    let f = inspect(&mut m, &post_event("p3", "a3", None, "长江大桥因裂缝明天起封闭", t0() + Duration::days(1)));
    assert_eq!(names(&f), ["debunked_claim", "spread_after_debunk"]);
}

#[test]
fn a_fact_check_update_replaces_its_claim() {
    let mut m = matcher();
    let fc = fact_check("fc-garlic", "板蓝根冲剂能治好新冠肺炎", Verdict::False, Some(t0()));
    inspect(&mut m, &fact_check_event(fc, t0()));
    assert_eq!(m.knowledge_base().len(), 7);
    let f = inspect(&mut m, &post_event("p1", "a1", None, "每天生吃三瓣大蒜可以预防流感病毒", t0()));
    assert!(f.signals.is_empty(), "{f:?}");
    let f = inspect(&mut m, &post_event("p2", "a1", None, "家人们，板蓝根冲剂能治好新冠肺炎", t0()));
    assert_eq!(f.signals[0].evidence["factcheck"], "fc-garlic");
}

#[test]
fn replayed_posts_are_remembered_without_findings() {
    let mut m = ClaimMatcher::default();
    let mut scratch = Findings::default();
    let event = post_event("p1", "a1", None, "长江大桥因裂缝明天起封闭", t0());
    m.replay(&Context { event: &event, account: None }, &mut scratch);
    assert_eq!(scratch, Findings::default());
    let fc = fact_check("fc-bridge", "长江大桥因裂缝明天起封闭", Verdict::False, None);
    let f = inspect(&mut m, &fact_check_event(fc, t0()));
    assert_eq!(f.earlier.len(), 1);
}

#[test]
fn the_knowledge_base_keeps_weights_right_as_it_grows() {
    // Many claims sharing common words: the common ones must not drown the rare ones, and
    // every claim must still find itself first.
    let mut m = ClaimMatcher::default();
    let claims: Vec<String> = (0..400).map(|i| format!("新冠疫情期间第{i}号小区出现{}例确诊", i * 7 + 3)).collect();
    for (i, c) in claims.iter().enumerate() {
        m.add_fact_check(fact_check(&format!("fc-{i}"), c, Verdict::False, None));
    }
    for (i, c) in claims.iter().enumerate().step_by(37) {
        let hits = m.search(c, 1).to_vec();
        assert_eq!(m.knowledge_base().entry(hits[0].entry).fact_check.id, format!("fc-{i}"), "{c}");
    }
}

/// Made-up rulings on a template ("<city> reported N new asymptomatic cases?"), as a rumour
/// refuting platform publishes them by the dozen, and one of another kind.
fn template_matcher() -> ClaimMatcher {
    let mut m = ClaimMatcher::default();
    let cities = ["青岛", "大连", "成都", "昆明", "兰州", "南宁", "合肥", "太原", "贵阳", "银川", "西宁", "海口"];
    for (i, city) in cities.iter().enumerate() {
        let claim = format!("{city}新增{}例无症状感染者？", i + 3);
        m.add_fact_check(fact_check(&format!("fc-{city}"), &claim, Verdict::False, Some(t0())));
    }
    for (i, claim) in
        ["喝白酒可以杀死体内的病毒", "某地超市将全部关门一个月", "快递包裹会传播新冠病毒"].iter().enumerate()
    {
        m.add_fact_check(fact_check(&format!("fc-other-{i}"), claim, Verdict::False, Some(t0())));
    }
    m
}

#[test]
fn template_words_scattered_over_a_news_report_do_not_match_but_a_repeat_does() {
    let mut m = template_matcher();
    let report = "【本省疫情通报】昨日0时至24时，全省新增确诊病例2例，均为境外输入；新增无症状感染者5例，\
        其中3例为入境人员集中隔离期间发现。截至昨日24时，累计报告确诊病例130例，现有无症状感染者12例，\
        均在定点医院接受医学观察。疾控部门提醒市民继续做好个人防护，出现发热等症状及时就医。";
    let f = inspect(&mut m, &post_event("p1", "a1", None, report, t0()));
    assert!(f.signals.is_empty(), "{f:?}");
    let f = inspect(&mut m, &post_event("p2", "a2", None, "听说青岛新增3例无症状感染者了，大家出门小心！", t0()));
    assert_eq!(names(&f), ["debunked_claim", "spread_after_debunk"]);
    assert_eq!(f.signals[0].evidence["factcheck"], "fc-青岛");
}

#[test]
fn a_repeat_inside_a_long_post_still_matches() {
    let mut m = template_matcher();
    let filler = "今天天气不错，早上去公园跑步，回来路上买了豆浆油条，然后在家里看书写字。".repeat(6);
    let text = format!("{filler}刚看到群里说喝白酒可以杀死体内的病毒，真的吗？{filler}");
    let hit = m.check(&text).expect("a match");
    assert_eq!(m.knowledge_base().entry(hit.entry).fact_check.id, "fc-other-0");
    // Shorter posts carrying the same claim score higher: less could be there by chance.
    let short = m.check("喝白酒可以杀死体内的病毒，真的吗？").expect("a match");
    assert!(short.score > hit.score, "{short:?} {hit:?}");
}

#[test]
fn recent_posts_score_as_a_search_would_score_them() {
    let mut m = template_matcher();
    let text = "紧急扩散：某地超市将在下周全部关门一个月，赶紧去囤货";
    let post_at = t0() - Duration::hours(2);
    inspect(&mut m, &post_event("p1", "a1", None, text, post_at));
    let fc = fact_check("fc-new", "某地超市下周起全部关门一个月", Verdict::False, Some(t0()));
    let f = inspect(&mut m, &fact_check_event(fc, t0()));
    assert_eq!(f.earlier.len(), 1, "{f:?}");
    let searched = m.search(text, 1)[0];
    assert_eq!(m.knowledge_base().entry(searched.entry).fact_check.id, "fc-new");
    assert!((f.earlier[0].signal.score - f64::from(searched.score)).abs() < 2e-3, "{f:?} {searched:?}");
}

#[test]
fn a_post_sharing_only_lone_characters_with_a_later_claim_is_not_flagged() {
    // Common characters in another order: no bigram or word of the claim, only characters.
    let claim = "常个活件动外统见社其象别起只者着解或它得资";
    let text = "自来任业工品解期学然第级工被及只以得它们天意都平间者放任品在月边变社先象资一而被";
    let mut m = template_matcher();
    inspect(&mut m, &post_event("p1", "a1", None, text, t0() - Duration::hours(1)));
    let f = inspect(&mut m, &fact_check_event(fact_check("fc-chars", claim, Verdict::False, Some(t0())), t0()));
    assert!(f.earlier.is_empty(), "{f:?}");
    // The same post after the fact-check: search does not propose it either.
    let after = inspect(&mut m, &post_event("p2", "a2", None, text, t0() + Duration::hours(1)));
    assert!(after.signals.is_empty(), "{after:?}");
}

/// [`matcher`] with made-up English rulings on made-up rumours, published at t0.
fn english_matcher() -> ClaimMatcher {
    let mut m = matcher();
    for (id, claim) in [
        ("fc-5g", "5G towers spread the coronavirus"),
        ("fc-5g-long", "5G mobile phone towers are spreading the coronavirus across the country"),
        ("fc-bleach", "Drinking bleach cures the coronavirus"),
        ("fc-chips", "The government is putting microchips in the vaccines"),
        ("fc-sharks", "A photo shows sharks swimming on a flooded highway in Houston"),
        ("fc-breath", "Holding your breath for ten seconds is a test for the virus"),
        ("fc-turbines", "Wind turbines cause cancer in people living near them"),
    ] {
        m.add_fact_check(fact_check(id, claim, Verdict::False, Some(t0())));
    }
    m
}

/// Regression: an English post repeating a refuted claim word for word scored below the
/// threshold (0.39 for "Warning: 5G towers spread the coronavirus!"), because every word
/// was a segment of its own, paying the chance of a post's length again and again, and that
/// length counted letters rather than words.
#[test]
fn an_english_repeat_with_extra_words_is_flagged() {
    let mut m = english_matcher();
    for (text, id) in [
        ("5G towers spread the coronavirus", "fc-5g"),
        ("Warning: 5G towers spread the coronavirus!", "fc-5g"),
        ("In fact, 5G towers spread the coronavirus in 2020. Share before they delete this", "fc-5g"),
        ("Warning: 5G mobile phone towers are spreading the coronavirus across the country!", "fc-5g-long"),
        ("BREAKING: a photo shows SHARKS swimming on a flooded highway in Houston 😱😱", "fc-sharks"),
    ] {
        let f = inspect(&mut m, &post_event("p", "a", None, text, t0() + Duration::hours(1)));
        assert_eq!(names(&f), ["debunked_claim", "spread_after_debunk"], "{text}");
        assert_eq!(f.signals[0].evidence["factcheck"], id, "{text}");
        assert!(f.signals[0].score > f64::from(THRESHOLD) + 0.1, "{text}: {}", f.signals[0].score);
    }
    // As high as a Chinese post carrying its claim whole with as many words around it.
    let en = m.check("Warning: 5G mobile phone towers are spreading the coronavirus across the country!").unwrap();
    let zh = m.check("听说某国政府在街上放了五百只老虎防止居民外出，真的假的").unwrap();
    assert!(en.score > zh.score - 0.1, "{en:?} {zh:?}");
}

#[test]
fn unrelated_english_and_a_few_shared_words_are_not_flagged() {
    let mut m = english_matcher();
    for text in [
        "Towers of pancakes and the best coffee in the country",
        "The government said the new towers will improve phone coverage across the country",
        "5G towers are being built in our town this year",
        "The coronavirus spread fast this winter, doctors say",
        "We went swimming in Houston, the weather was great",
        "Drinking water is good for you",
        "",
    ] {
        let f = inspect(&mut m, &post_event("p", "a", None, text, t0()));
        assert!(f.signals.is_empty(), "{text}: {f:?}");
    }
}

#[test]
fn an_english_post_before_the_fact_check_is_flagged_when_it_arrives() {
    let mut m = ClaimMatcher::default();
    let post_at = t0() - Duration::hours(3);
    let text = "Wake up people: wind turbines cause cancer in people living near them!!";
    inspect(&mut m, &post_event("p1", "a1", None, text, post_at));
    inspect(&mut m, &post_event("p2", "a2", None, "The new wind farm near us is huge", post_at));
    let fc = fact_check("fc-turbines", "Wind turbines cause cancer in people living near them", Verdict::False, None);
    let f = inspect(&mut m, &fact_check_event(fc, t0()));
    let flagged: Vec<&str> = f.earlier.iter().map(|e| e.post_id.as_str()).collect();
    assert_eq!(flagged, ["p1"]);
    let searched = m.search(text, 1)[0];
    assert!((f.earlier[0].signal.score - f64::from(searched.score)).abs() < 2e-3, "{f:?} {searched:?}");
}
