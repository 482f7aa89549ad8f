use super::*;

const BASE: &str =
    "紧急通知：本市自来水厂今晚检修，明天全天停水，据说水里已经检测出有毒物质，请大家马上囤水并转告亲朋好友";

/// Disguises a copy the ways campaigns do; `i` picks the disguise.
fn disguise(i: usize) -> String {
    match i % 6 {
        0 => BASE.to_string(),
        1 => format!("转发：{BASE}[怒][怒]"),
        2 => BASE.replace("通知", "通\u{200B}知").replace("自来水", "自來水").replace('，', ","),
        3 => format!("紧急扩散！！{} @好友 #停水#", BASE),
        4 => BASE.replace("检修", "检-修").replace("明天", "明 天").replace('：', "!!!"),
        _ => BASE.chars().take(BASE.chars().count() * 9 / 10).collect(),
    }
}

fn post(tracker: &mut Tracker, n: usize, account: &str, time: i64, text: &str) -> Option<Update> {
    let event = format!("e{n}");
    let post = format!("p{n}");
    tracker.add(&PostRef { event_id: &event, post_id: &post, account_id: account, time, text })
}

#[test]
fn disguised_copies_from_five_accounts_make_a_campaign() {
    let mut t = Tracker::new(CampaignConfig::default()).unwrap();
    let t0 = 1_800_000_000;
    for i in 0..4 {
        assert_eq!(post(&mut t, i, &format!("a{i}"), t0 + i as i64 * 60, &disguise(i)), None, "copy {i}");
    }
    // The fifth account makes it a campaign: all five posts join at once.
    let u = post(&mut t, 4, "a4", t0 + 240, &disguise(4)).expect("a campaign");
    assert_eq!(u.campaign.id, "campaign-p4");
    assert_eq!((u.campaign.accounts, u.campaign.posts), (5, 5));
    assert_eq!((u.campaign.first_seen, u.campaign.last_seen), (t0, t0 + 240));
    let joined: Vec<&str> = u.joined.iter().map(|m| m.post_id.as_str()).collect();
    assert_eq!(joined, ["p0", "p1", "p2", "p3", "p4"]);
    assert!(u.joined.iter().all(|m| m.similarity >= 0.5));
    // The sixth copy (truncated) joins alone.
    let u = post(&mut t, 5, "a5", t0 + 300, &disguise(5)).expect("joins");
    assert_eq!(u.campaign.id, "campaign-p4");
    assert_eq!(u.joined.len(), 1);
    assert_eq!(u.joined[0].post_id, "p5");
    assert_eq!(u.campaign.posts, 6);
    assert!((u.campaign.posts_per_hour() - 72.0).abs() < 1e-9);
}

#[test]
fn one_account_repeating_itself_is_not_a_campaign() {
    let mut t = Tracker::new(CampaignConfig::default()).unwrap();
    for i in 0..20 {
        assert_eq!(post(&mut t, i, "a1", 1_800_000_000 + i as i64, BASE), None);
    }
}

#[test]
fn trivial_texts_never_form_campaigns() {
    let mut t = Tracker::new(CampaignConfig::default()).unwrap();
    let trivial = [
        "转发微博",
        "Repost",
        "[哈哈][哈哈][哈哈]",
        "😂😂😂👍",
        "转发微博 转发微博 转发微博",
        "好",
        "//转发微博。。。",
    ];
    let mut n = 0;
    for text in trivial {
        for a in 0..30 {
            assert_eq!(post(&mut t, n, &format!("a{a}"), 1_800_000_000 + n as i64, text), None, "{text}");
            n += 1;
        }
    }
    assert!(t.is_empty(), "trivial texts are not even indexed");
    assert!(is_trivial("转发微博转发微博repost", 10));
    assert!(!is_trivial("转发微博：本市明天全天停水请大家囤水", 10));
}

#[test]
fn different_texts_stay_apart() {
    let mut t = Tracker::new(CampaignConfig::default()).unwrap();
    let other = "周末市图书馆举办亲子阅读活动，现场有绘本故事会和手工课，欢迎家长带孩子参加，名额有限请提前报名";
    let mut campaigns = Vec::new();
    for i in 0..10 {
        let text = if i % 2 == 0 { BASE } else { other };
        if let Some(u) = post(&mut t, i, &format!("a{i}"), 1_800_000_000 + i as i64, text) {
            campaigns.push(u);
        }
    }
    // Posts 8 and 9 each bring a fifth account to their text.
    assert_eq!(campaigns.len(), 2);
    for (u, parity) in campaigns.iter().zip([0, 1]) {
        let posts: Vec<usize> = u.joined.iter().map(|m| m.post_id[1..].parse().unwrap()).collect();
        assert_eq!(posts.len(), 5);
        assert!(posts.iter().all(|p| p % 2 == parity), "{posts:?}");
    }
}

#[test]
fn copies_outside_the_window_are_not_linked() {
    let config = CampaignConfig { window_secs: 3600, ..CampaignConfig::default() };
    let mut t = Tracker::new(config).unwrap();
    for i in 0..10 {
        // Two hours apart: each copy is alone in its window.
        assert_eq!(post(&mut t, i, &format!("a{i}"), 1_800_000_000 + i as i64 * 7200, BASE), None);
    }
    assert_eq!(t.len(), 1, "older posts left the window");
}

#[test]
fn merged_campaigns_keep_the_older_id() {
    let config = CampaignConfig { min_accounts: 2, ..CampaignConfig::default() };
    let mut t = Tracker::new(config).unwrap();
    let t0 = 1_800_000_000;
    let head: String = BASE.chars().take(30).collect();
    let tail: String = BASE.chars().skip(22).collect();
    // Two campaigns on two halves of the text...
    post(&mut t, 0, "a0", t0, &head);
    let first = post(&mut t, 1, "a1", t0 + 1, &head).expect("campaign of the head");
    post(&mut t, 2, "a2", t0 + 2, &tail);
    let second = post(&mut t, 3, "a3", t0 + 3, &tail).expect("campaign of the tail");
    assert_ne!(first.campaign.id, second.campaign.id);
    // ...joined by the whole text, which is a copy of both.
    let u = post(&mut t, 4, "a4", t0 + 4, BASE).expect("joins");
    if u.absorbed.is_empty() {
        // The whole text was not similar enough to both halves to merge them.
        return;
    }
    assert_eq!(u.campaign.id, first.campaign.id);
    assert_eq!(u.absorbed, [second.campaign.id]);
    assert_eq!(u.campaign.posts, 5);
    assert_eq!(u.joined.len(), 1, "only the new post joins; the absorbed campaign's posts had their signals");
}

#[test]
fn the_detector_signals_earlier_posts_and_reports_the_campaign() {
    let mut d = CopyCampaign::default();
    let t0 = DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap();
    let mut last = Findings::default();
    for i in 0..5 {
        let at = t0 + chrono::Duration::minutes(i);
        let event = crate::testing::post_event(&format!("p{i}"), &format!("a{i}"), None, &disguise(i as usize), at);
        last = Findings::default();
        d.inspect(&Context { event: &event, account: None }, &mut last);
    }
    assert_eq!(last.signals.len(), 1);
    let s = &last.signals[0];
    assert_eq!(s.evidence["campaign"], "campaign-p4");
    assert_eq!(s.evidence["accounts"], 5);
    assert_eq!(s.evidence["first_seen"], "2027-01-15T08:00:00Z");
    assert_eq!(s.evidence["span_minutes"], 4.0);
    let earlier: Vec<(&str, &str)> = last.earlier.iter().map(|e| (e.event_id.as_str(), e.post_id.as_str())).collect();
    assert_eq!(earlier, [("e-p0", "p0"), ("e-p1", "p1"), ("e-p2", "p2"), ("e-p3", "p3")]);
    assert_eq!(last.groups.len(), 1);
    assert_eq!(last.groups[0].joined.len(), 5);
    assert_eq!(last.groups[0].summary["id"], "campaign-p4");
    assert_eq!(last.groups[0].summary["last_seen"], "2027-01-15T08:04:00Z");
}
