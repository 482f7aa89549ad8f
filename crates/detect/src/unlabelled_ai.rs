//! Unlabelled AI content: a post its author declared as AI-generated, or whose content or
//! media carries an implicit (metadata) AI label, but which shows readers no explicit label.
//! China's labelling measures (2025) require both the implicit and the explicit label.

use steward_model::{Payload, Signal};

use crate::{About, Context, Detector, Findings, SignalSpec};

pub struct UnlabelledAi;

const SPECS: &[SignalSpec] = &[SignalSpec { name: "unlabelled_ai", evidence: &["source", "basis", "kind"] }];
const ABOUT: About = About { name: "unlabelled_ai", version: 1, signals: SPECS };

impl Detector for UnlabelledAi {
    fn about(&self) -> &'static About {
        &ABOUT
    }

    fn inspect(&mut self, ctx: &Context, out: &mut Findings) {
        let Payload::PostCreated(post) = &ctx.event.payload else { return };
        if post.explicit_label {
            return;
        }
        let ai = post.ai_generated.unwrap_or_default();
        // The strongest evidence first: the author's own declaration, then the embedded
        // label, then a marker found only in attached media.
        let (source, basis, score) = if ai.declared {
            ("declared", "the author declared it AI-generated", 1.0)
        } else if ai.implicit_label {
            ("implicit_label", "its file carries an AI-generation label in its metadata (隐式标识)", 0.95)
        } else if post.media.iter().any(|m| m.ai_marker) {
            ("media_marker", "its attached media carry an AI-generation marker", 0.9)
        } else {
            return;
        };
        out.signals.push(
            Signal::new("unlabelled_ai", ABOUT.name, ABOUT.version, score)
                .with("source", source)
                .with("basis", basis)
                .with("kind", post.kind.as_str()),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use steward_model::{AiGenerated, Event, Media, Post, PostKind};

    fn post(ai: Option<AiGenerated>, explicit_label: bool, media: Vec<Media>) -> Event {
        let at = chrono::Utc::now();
        Event {
            id: "e".into(),
            at,
            payload: Payload::PostCreated(Post {
                id: "p".into(),
                account_id: "a".into(),
                kind: PostKind::Video,
                title: None,
                text: "t".into(),
                created_at: at,
                group_id: None,
                group_role: None,
                reposted_from: None,
                ai_generated: ai,
                explicit_label,
                media,
            }),
        }
    }

    fn run(e: &Event) -> Vec<Signal> {
        let mut out = Findings::default();
        UnlabelledAi.inspect(&Context { event: e, account: None }, &mut out);
        out.signals
    }

    #[test]
    fn declared_without_label_is_flagged() {
        let s = run(&post(Some(AiGenerated { declared: true, implicit_label: false }), false, vec![]));
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].evidence["source"], "declared");
        assert_eq!(s[0].score, 1.0);
    }

    #[test]
    fn implicit_label_without_explicit_label_is_flagged() {
        let s = run(&post(Some(AiGenerated { declared: false, implicit_label: true }), false, vec![]));
        assert_eq!(s[0].evidence["source"], "implicit_label");
    }

    #[test]
    fn media_marker_is_flagged() {
        let media = Media { kind: "image".into(), hash: None, url: None, ai_marker: true };
        let s = run(&post(None, false, vec![media]));
        assert_eq!(s[0].evidence["source"], "media_marker");
    }

    #[test]
    fn labelled_or_human_content_is_not_flagged() {
        assert!(run(&post(Some(AiGenerated { declared: true, implicit_label: true }), true, vec![])).is_empty());
        assert!(run(&post(None, false, vec![])).is_empty());
        assert!(run(&post(Some(AiGenerated::default()), false, vec![])).is_empty());
    }
}
