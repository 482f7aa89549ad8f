//! Inputs shared by the tests and the benchmark.
#![allow(dead_code)]

use chrono::{TimeZone, Utc};
use steward_model::{
    Account, Event, Limits, Payload, Post, Restriction, RestrictionKind, Signal, Standing, parse_event,
};
use steward_policy::Schema;

pub const DEFAULT_POLICY: &str = include_str!("../../../../policies/default.toml");

pub fn schema() -> Schema {
    Schema::new()
        .with_signal("unlabelled_ai", &["source", "basis", "kind"])
        .with_signal("rumour", &["claim", "factcheck"])
        .with_signal(
            "copy_campaign",
            &[
                "campaign",
                "accounts",
                "posts",
                "first_seen",
                "span_minutes",
                "posts_per_hour",
                "burst_accounts",
                "burst_minutes",
                "new_account_share",
                "copying_account_share",
                "posts_per_account",
                "similarity",
            ],
        )
        .with_signal("debunked_claim", &["factcheck", "verdict", "score", "publisher", "claim", "url"])
        .with_signal("spread_after_debunk", &["factcheck", "published_at", "hours_after"])
        .with_signal("clickbait", &["language", "score", "cues", "threshold"])
        .with_signal("threshold_evasion", &["from", "to", "threshold", "lost_share", "hours"])
        .with_signal(
            "impersonation",
            &["identity", "identity_name", "kind", "score", "matched", "how", "place", "avatar_distance"],
        )
        .with_signal("unqualified_professional_claim", &["field", "title", "where", "advice"])
        .with_signal(
            "group_language",
            &["group", "group_name", "offence", "mute_seconds", "mute_for", "language", "off_script_share"],
        )
        .with_signal(
            "group_flood",
            &["group", "group_name", "offence", "mute_seconds", "mute_for", "messages", "seconds"],
        )
        .with_signal("group_link", &["group", "group_name", "offence", "mute_seconds", "mute_for"])
}

pub fn now() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap()
}

pub fn event(json: &str) -> Event {
    parse_event(json.as_bytes(), &Limits::default(), now()).unwrap()
}

pub fn post_event() -> Event {
    event(
        r#"{"id":"e1","type":"post.created","at":"2026-11-22T08:00:00Z","post":{"id":"p1","account_id":"a1",
        "kind":"video","title":"落日","text":"sunset over the river","created_at":"2026-11-22T08:00:00Z",
        "ai_generated":{"declared":true,"implicit_label":false},"explicit_label":false,
        "media":[{"kind":"video","hash":"h1","ai_marker":true}]}}"#,
    )
}

pub fn account_event() -> Event {
    event(
        r#"{"id":"e0","type":"account.upserted","at":"2026-11-22T07:00:00Z","account":{"id":"a1","handle":"chen",
        "display_name":"陈医生","followers":120000,"verified":true,"ip_region":"广东","monetization":["ads","tips"]}}"#,
    )
}

pub fn post(e: &Event) -> &Post {
    match &e.payload {
        Payload::PostCreated(p) => p,
        _ => panic!("not a post event"),
    }
}

pub fn account(e: &Event) -> &Account {
    match &e.payload {
        Payload::AccountUpserted(a) => a,
        _ => panic!("not an account event"),
    }
}

pub fn unlabelled(score: f64) -> Signal {
    Signal::new("unlabelled_ai", "ai-label", 3, score)
        .with("source", "declared")
        .with("basis", "the author declared it AI-generated")
        .with("kind", "video")
}

pub fn standing(credit: i64) -> Standing {
    Standing {
        account_id: "a1".into(),
        at: now(),
        credit,
        credit_initial: 100,
        restrictions: vec![Restriction {
            decision_id: "d1".into(),
            account_id: "a1".into(),
            post_id: None,
            kind: RestrictionKind::Posting,
            detail: String::new(),
            start: now(),
            end: None,
        }],
        recent_violations: 3,
        disclosure: None,
    }
}
