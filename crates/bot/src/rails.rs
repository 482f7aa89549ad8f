//! Output rails: every chunk of an AI answer is checked before it reaches the group.
//!
//! In order:
//! 1. the debunked-claim matcher: a chunk that repeats a refuted claim is replaced by a note
//!    that links the fact-check, and the answer ends there;
//! 2. the group's language rule, as members are held to it (`group_rules`);
//! 3. the operator's rules: the policy is evaluated on the chunk as a group message of the
//!    bot's, with the chunk's signals; a live rule that matches blocks it.
//!
//! The rails keep their own copy of the knowledge base (fact-checks), read from the store
//! and read again by [`Rails::load`] when the bot refreshes it.

use chrono::{DateTime, Utc};
use steward_detect::claims::ClaimMatcher;
use steward_detect::group_rules::language_signal;
use steward_model::{AiGenerated, Event, FactCheck, GroupRules, Payload, Post, PostKind, Signal};
use steward_policy::{Input, Mode, Policy};
use steward_store::{Store, StoreError};

/// What the rails make of a chunk.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Send it.
    Pass,
    /// Send this note instead, and end the answer.
    Replace { note: String },
    /// Recall what was sent and say why, in a neutral line.
    Block { why: String },
}

/// The chunk checks, with the knowledge base they match claims against.
pub struct Rails {
    matcher: ClaimMatcher,
    fact_checks: usize,
    links: String,
    mentions: String,
}

impl Rails {
    /// Rails with the fact-checks stored now.
    pub fn load(store: &dyn Store) -> Result<Rails, StoreError> {
        let mut matcher = ClaimMatcher::default();
        let mut fact_checks = 0;
        for row in store.entities("factcheck")? {
            if row.deleted {
                continue;
            }
            match Payload::from_entity("factcheck", &row.body) {
                Some(Ok(Payload::FactCheckUpserted(fc))) => {
                    matcher.add_fact_check(fc);
                    fact_checks += 1;
                }
                Some(Err(e)) => tracing::warn!(id = %row.id, "stored fact-check left out of the rails: {e}"),
                _ => {}
            }
        }
        Ok(Rails { matcher, fact_checks, links: String::new(), mentions: String::new() })
    }

    /// Fact-checks the rails know.
    pub fn fact_checks(&self) -> usize {
        self.fact_checks
    }

    /// Checks one chunk of an answer the bot (`bot_id`) is giving in `group_id`.
    pub fn check(
        &mut self,
        policy: &Policy,
        rules: Option<&GroupRules>,
        bot_id: &str,
        group_id: &str,
        chunk: &str,
        at: DateTime<Utc>,
    ) -> Verdict {
        let mut signals: Vec<Signal> = Vec::new();
        if let Some(m) = self.matcher.check(chunk) {
            let fc = &self.matcher.knowledge_base().entry(m.entry).fact_check;
            return Verdict::Replace { note: fact_check_note(fc) };
        }
        let off_language = rules.and_then(|r| language_signal(r, chunk, &mut self.links, &mut self.mentions));
        if let Some(s) = &off_language {
            signals.push(s.clone());
        }
        let post = Post {
            id: format!("answer:{bot_id}:{}", at.timestamp_micros()),
            account_id: bot_id.to_string(),
            kind: PostKind::GroupMessage,
            title: None,
            text: chunk.to_string(),
            created_at: at,
            group_id: Some(group_id.to_string()),
            group_role: None,
            reposted_from: None,
            ai_generated: Some(AiGenerated { declared: true, implicit_label: true }),
            explicit_label: true,
            media: Vec::new(),
        };
        let event = Event { id: post.id.clone(), at, payload: Payload::PostCreated(post) };
        let Payload::PostCreated(post) = &event.payload else { unreachable!("built as a post") };
        let input = Input { event: &event, account: None, post: Some(post), signals: &signals, standing: None };
        let live = policy.evaluate_all(&input).matches.into_iter().find(|m| m.rule.mode == Mode::Live);
        match (off_language, live) {
            (Some(_), _) => Verdict::Block {
                why: format!(
                    "it was not in this group's language ({})",
                    rules.and_then(|r| r.language.as_deref()).unwrap_or("?")
                ),
            },
            (None, Some(m)) => Verdict::Block { why: format!("it broke the rule {}", m.rule.id) },
            (None, None) => Verdict::Pass,
        }
    }

    /// The fact-check a text confidently matches, whatever its verdict: what "is this true?"
    /// answers with.
    pub fn fact_check(&mut self, text: &str) -> Option<FactCheck> {
        let threshold = self.matcher.config().threshold;
        let top_k = self.matcher.config().top_k;
        let best = *self.matcher.search(text, top_k).first()?;
        (best.score >= threshold).then(|| self.matcher.knowledge_base().entry(best.entry).fact_check.clone())
    }
}

/// A fact-check in one line: the claim, the verdict, who says so and where.
pub fn fact_check_note(fc: &FactCheck) -> String {
    let verdict =
        serde_json::to_value(fc.verdict).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
    let mut note = format!("Fact-check: \u{201c}{}\u{201d} is rated {verdict} by {}.", fc.claim, fc.publisher);
    if let Some(url) = &fc.url {
        note.push(' ');
        note.push_str(url);
    }
    note
}
