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
    assert_eq!(s.evidence["burst_accounts"], 5);
    assert_eq!(s.evidence["burst_minutes"], 4.0);
    assert_eq!(s.evidence["new_account_share"], 1.0);
    assert_eq!(s.evidence["copying_account_share"], 1.0);
    assert_eq!(s.evidence["posts_per_account"], 1.0);
    let spec = CopyCampaign::default().about().signals[0];
    let mut keys: Vec<&str> = s.evidence.keys().map(String::as_str).collect();
    let mut listed = spec.evidence.to_vec();
    keys.sort_unstable();
    listed.sort_unstable();
    assert_eq!(keys, listed, "the evidence is what the spec lists");
    let earlier: Vec<(&str, &str)> = last.earlier.iter().map(|e| (e.event_id.as_str(), e.post_id.as_str())).collect();
    assert_eq!(earlier, [("e-p0", "p0"), ("e-p1", "p1"), ("e-p2", "p2"), ("e-p3", "p3")]);
    assert_eq!(last.groups.len(), 1);
    assert_eq!(last.groups[0].joined.len(), 5);
    assert_eq!(last.groups[0].summary["id"], "campaign-p4");
    assert_eq!(last.groups[0].summary["last_seen"], "2027-01-15T08:04:00Z");
}

/// A saying people pass on: each copy as someone might retype it.
const SAYING: &str = "慢慢来，日子是自己的，别急着和别人比较，每一步都算数，走得慢也是在往前走";

fn retyped(i: usize) -> String {
    match i % 4 {
        0 => SAYING.to_string(),
        1 => format!("{SAYING}。晚安[月亮]"),
        2 => format!("说得真好：{SAYING}"),
        _ => SAYING.replace('，', " "),
    }
}

#[test]
fn a_saying_passed_on_over_a_day_by_a_dozen_accounts_is_not_a_campaign() {
    let mut t = Tracker::new(CampaignConfig::default()).unwrap();
    let t0 = 1_800_000_000;
    // Twelve accounts over 24 hours, never five of them within two hours.
    let minutes = [0, 95, 200, 290, 430, 540, 700, 810, 960, 1100, 1260, 1440];
    for (i, m) in minutes.iter().enumerate() {
        assert_eq!(post(&mut t, i, &format!("a{i}"), t0 + m * 60, &retyped(i)), None, "copy {i}");
    }
    assert_eq!(t.len(), 12, "the copies are kept, and linked, but they are no campaign");
}

#[test]
fn repost_boilerplate_with_different_links_is_not_a_campaign() {
    let mut t = Tracker::new(CampaignConfig::default()).unwrap();
    let t0 = 1_800_000_000;
    let templates = [
        "转发微博 http://t.cn/",
        "#热门微博# http://t.cn/",
        "分享图片 https://t.cn/",
        "转发微博 //@某人: http://t.cn/",
    ];
    let mut n = 0;
    for template in templates {
        // Forty accounts in ten minutes, each with its own short link.
        for a in 0..40 {
            let link: String = format!("{:07x}", (n as u64).wrapping_mul(0x9E37_79B9)).chars().take(7).collect();
            let text = format!("{template}R{link}");
            assert_eq!(post(&mut t, n, &format!("a{a}"), t0 + n as i64 * 4, &text), None, "{text}");
            n += 1;
        }
    }
    assert!(t.is_empty(), "nothing is left to compare once the links are cut");
}

#[test]
fn a_burst_of_fresh_accounts_within_an_hour_is_a_campaign() {
    let mut t = Tracker::new(CampaignConfig::default()).unwrap();
    let t0 = 1_800_000_000;
    for i in 0..4 {
        assert_eq!(post(&mut t, i, &format!("new{i}"), t0 + i as i64 * 900, &disguise(i)), None);
    }
    let u = post(&mut t, 4, "new4", t0 + 3300, &disguise(4)).expect("five accounts in 55 minutes");
    assert_eq!((u.campaign.accounts, u.joined.len()), (5, 5));
    assert_eq!(u.campaign.burst_secs, 3300);
    assert_eq!((u.campaign.new_accounts, u.campaign.copying_accounts), (5, 5));
    assert_eq!(u.campaign.new_account_share(), 1.0);
    // A sixth copy a day later still joins the campaign.
    let u = post(&mut t, 5, "new5", t0 + 86_400, &disguise(5)).expect("joins");
    assert_eq!((u.campaign.accounts, u.joined.len()), (6, 1));
}

#[test]
fn a_text_spreading_slowly_becomes_a_campaign_when_accounts_burst_in() {
    let mut t = Tracker::new(CampaignConfig::default()).unwrap();
    let t0 = 1_800_000_000;
    // Three accounts over a day...
    for i in 0..3 {
        assert_eq!(post(&mut t, i, &format!("a{i}"), t0 + i as i64 * 36_000, &disguise(i)), None);
    }
    // ...then five more within twenty minutes.
    let t1 = t0 + 86_400;
    for i in 3..7 {
        assert_eq!(post(&mut t, i, &format!("a{i}"), t1 + i as i64 * 240, &disguise(i)), None, "copy {i}");
    }
    let u = post(&mut t, 7, "a7", t1 + 7 * 240, &disguise(7)).expect("five accounts in 16 minutes");
    assert_eq!(u.campaign.burst_secs, 16 * 60);
    assert_eq!(u.joined.len(), 8, "the earlier copies are the campaign's too");
    assert_eq!(u.campaign.first_seen, t0);
}

#[test]
fn accounts_with_posts_of_their_own_are_told_from_new_and_copying_ones() {
    let mut t = Tracker::new(CampaignConfig::default()).unwrap();
    let t0 = 1_800_000_000;
    let own = [
        "今天去公园散步，看到湖边的荷花全开了，拍了好多照片，周末再带孩子来一次",
        "新买的咖啡机终于到了，研究了一晚上怎么打奶泡，明天早上试试做拿铁",
        "加班到九点，地铁上人很少，听完了一整张专辑，回家煮碗面就睡",
    ];
    // Three accounts with posts of their own, one that only ever copied, one new.
    for (i, text) in own.iter().enumerate() {
        post(&mut t, 100 + i, &format!("own{i}"), t0 + i as i64, text);
    }
    let other_text = "周末市图书馆举办亲子阅读活动，现场有绘本故事会和手工课，欢迎家长带孩子参加，名额有限请提前报名";
    post(&mut t, 200, "elsewhere", t0 + 10, other_text);
    post(&mut t, 201, "copier", t0 + 20, other_text);
    let accounts = ["own0", "own1", "own2", "copier", "fresh"];
    let mut last = None;
    for (i, a) in accounts.iter().enumerate() {
        last = post(&mut t, i, a, t0 + 3600 + i as i64 * 60, &disguise(i));
    }
    let c = last.expect("a campaign").campaign;
    assert_eq!((c.accounts, c.new_accounts, c.copying_accounts), (5, 1, 2));
    assert!((c.copying_account_share() - 0.4).abs() < 1e-9);
}

#[test]
fn accounts_are_new_again_once_their_posts_leave_the_window() {
    let config = CampaignConfig { window_secs: 3600, burst_secs: 3600, ..CampaignConfig::default() };
    let mut t = Tracker::new(config).unwrap();
    let t0 = 1_800_000_000;
    let own = "今天去公园散步，看到湖边的荷花全开了，拍了好多照片，周末再带孩子来一次";
    for i in 0..5 {
        post(&mut t, 100 + i, &format!("a{i}"), t0 + i as i64, own);
    }
    // Two hours later those posts have left the window: the accounts are new in it again.
    let mut last = None;
    for i in 0..5 {
        last = post(&mut t, i, &format!("a{i}"), t0 + 7200 + i as i64 * 60, &disguise(i));
    }
    let c = last.expect("a campaign").campaign;
    assert_eq!((c.new_accounts, c.copying_accounts), (5, 5));
}
