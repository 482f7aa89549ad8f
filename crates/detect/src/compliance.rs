//! The compliance test every registered detector passes: unique names, a version, and only
//! declared signals with declared evidence and scores in [0, 1], on every kind of event.

use std::collections::HashSet;

use steward_model::chat_group::{Flood, language_scripts};
use steward_model::{GroupRules, Limits, parse_event};

use crate::{Context, Findings, Settings, registry};

const EVENTS: &[&str] = &[
    r#"{"id":"1","type":"account.upserted","at":"2026-11-22T08:00:00Z","account":{"id":"a1","handle":"h","display_name":"","followers":0}}"#,
    r#"{"id":"2","type":"post.created","at":"2026-11-22T08:00:00Z","post":{"id":"p1","account_id":"a1","kind":"short_post","text":"","created_at":"2026-11-22T08:00:00Z"}}"#,
    r#"{"id":"3","type":"post.created","at":"2026-11-22T08:00:00Z","post":{"id":"p2","account_id":"a1","kind":"video","title":"震惊！这段视频竟然是真的","text":"AI 生成的视频 [吃惊]","created_at":"2026-11-22T08:00:00Z","ai_generated":{"declared":true,"implicit_label":true},"media":[{"kind":"video","ai_marker":true}]}}"#,
    r#"{"id":"4","type":"post.deleted","at":"2026-11-22T08:00:00Z","post":{"id":"p1"}}"#,
    r#"{"id":"5","type":"report.created","at":"2026-11-22T08:00:00Z","report":{"id":"r1","reporter_id":"a2","post_id":"p2","reason":"rumour"}}"#,
    r#"{"id":"6","type":"factcheck.upserted","at":"2026-11-22T08:00:00Z","factcheck":{"id":"f1","claim":"本市明天全天停水，水里检测出有毒物质","verdict":"false","publisher":"p","published_at":"2026-11-22T08:00:00Z"}}"#,
    r#"{"id":"7","type":"identity.upserted","at":"2026-11-22T08:00:00Z","identity":{"id":"i1","name":"某某市公安局","kind":"police"}}"#,
    r#"{"id":"7b","type":"account.upserted","at":"2026-11-22T08:00:00Z","account":{"id":"a3","handle":"h3","display_name":"某某市警方官方","followers":0}}"#,
    r#"{"id":"8","type":"credential.verified","at":"2026-11-22T08:00:00Z","credential":{"account_id":"a1","field":"medicine","title":"主任医师"}}"#,
    r#"{"id":"8b","type":"post.created","at":"2026-11-22T08:00:00Z","post":{"id":"p3","account_id":"a2","kind":"short_post","text":"我是一名医生，建议高血压患者停药，改吃偏方","created_at":"2026-11-22T08:00:00Z"}}"#,
    r#"{"id":"9","type":"follower.snapshot","at":"2026-11-22T08:00:00Z","snapshot":{"account_id":"a1","followers":2500000}}"#,
    r#"{"id":"9b","type":"follower.snapshot","at":"2026-11-23T08:00:00Z","snapshot":{"account_id":"a1","followers":999999}}"#,
    // In group g1 of `settings()`: Chinese with a link in an English group, then a flood.
    r#"{"id":"10","type":"post.created","at":"2026-11-23T08:00:00Z","post":{"id":"m1","account_id":"a4","kind":"group_message","group_id":"g1","group_role":"member","text":"请大家看看这个链接 https://example.com","created_at":"2026-11-23T08:00:00Z"}}"#,
    r#"{"id":"10b","type":"post.created","at":"2026-11-23T08:00:01Z","post":{"id":"m2","account_id":"a4","kind":"group_message","group_id":"g1","text":"hello","created_at":"2026-11-23T08:00:01Z"}}"#,
    r#"{"id":"10c","type":"post.created","at":"2026-11-23T08:00:02Z","post":{"id":"m3","account_id":"a4","kind":"group_message","group_id":"g1","text":"hello again","created_at":"2026-11-23T08:00:02Z"}}"#,
];

/// Settings under which every detector has something to look at.
fn settings() -> Settings {
    let group = GroupRules {
        language: Some("en".into()),
        scripts: language_scripts("en").unwrap_or_default(),
        flood: Some(Flood { messages: 2, seconds: 60 }),
        links: false,
        ..GroupRules::new("g1")
    };
    Settings { groups: vec![group], ..Settings::default() }
}

#[test]
fn every_detector_complies() {
    let now = chrono::Utc::now();
    // Five accounts posting one text, refuted before: a copy-paste campaign of a debunked claim.
    let campaign = (0..5).map(|i| {
        format!(
            r#"{{"id":"c{i}","type":"post.created","at":"2026-11-22T08:0{i}:00Z","post":{{"id":"cp{i}","account_id":"ca{i}","kind":"short_post","text":"紧急扩散：本市明天全天停水，水里检测出有毒物质，请马上囤水并转告亲友","created_at":"2026-11-22T08:0{i}:00Z"}}}}"#
        )
    });
    let events: Vec<_> = EVENTS
        .iter()
        .map(|e| e.to_string())
        .chain(campaign)
        .map(|e| parse_event(e.as_bytes(), &Limits::default(), now).expect("fixture parses"))
        .collect();
    let mut names = HashSet::new();
    let mut raised = HashSet::new();
    for mut detector in registry(&settings()) {
        let name = detector.about().name;
        assert!(!name.is_empty());
        assert!(names.insert(name), "two detectors are named {name}");
        assert!(detector.about().version >= 1, "{name} has no version");
        let specs = detector.about().signals;
        assert!(!specs.is_empty(), "{name} declares no signals");
        for event in &events {
            let mut out = Findings::default();
            detector.inspect(&Context { event, account: None }, &mut out);
            let earlier = out.earlier.into_iter().map(|e| e.signal);
            for s in out.signals.into_iter().chain(earlier) {
                let spec = specs.iter().find(|spec| spec.name == s.name);
                let spec = spec.unwrap_or_else(|| panic!("{name} raised undeclared signal {}", s.name));
                assert_eq!(s.detector, name);
                assert_eq!(s.version, detector.about().version);
                assert!((0.0..=1.0).contains(&s.score), "{name}: score {}", s.score);
                for key in s.evidence.keys() {
                    assert!(spec.evidence.contains(&key.as_str()), "{name}: undeclared evidence {key}");
                }
                raised.insert(s.name);
            }
        }
    }
    // The fixtures exercise every detector at least once.
    for detector in registry(&settings()) {
        for spec in detector.about().signals {
            assert!(raised.contains(spec.name), "no fixture raises {}", spec.name);
        }
    }
}
