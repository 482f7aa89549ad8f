//! Events for detector tests.

use chrono::{DateTime, Utc};
use steward_model::{Event, FactCheck, Payload, Post, PostKind, Verdict};

/// A `post.created` event `e-{post_id}` at `at`.
pub fn post_event(post_id: &str, account_id: &str, title: Option<&str>, text: &str, at: DateTime<Utc>) -> Event {
    Event {
        id: format!("e-{post_id}"),
        at,
        payload: Payload::PostCreated(Post {
            id: post_id.into(),
            account_id: account_id.into(),
            kind: PostKind::ShortPost,
            title: title.map(str::to_string),
            text: text.into(),
            created_at: at,
            group_id: None,
            group_role: None,
            reposted_from: None,
            ai_generated: None,
            explicit_label: false,
            media: vec![],
        }),
    }
}

/// A fact-check of `claim`.
pub fn fact_check(id: &str, claim: &str, verdict: Verdict, published_at: Option<DateTime<Utc>>) -> FactCheck {
    FactCheck {
        id: id.into(),
        claim: claim.into(),
        verdict,
        explanation: String::new(),
        publisher: "测试辟谣平台".into(),
        published_at,
        url: Some(format!("https://factcheck.example/{id}")),
        language: None,
    }
}

/// A `factcheck.upserted` event `e-{id}` at `at`.
pub fn fact_check_event(fact_check: FactCheck, at: DateTime<Utc>) -> Event {
    Event { id: format!("e-{}", fact_check.id), at, payload: Payload::FactCheckUpserted(fact_check) }
}
