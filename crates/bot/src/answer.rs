//! `ai <question>`: the answer streams from the model, is cut into sentences, and each
//! sentence passes the [rails](crate::rails) before it is sent, labelled `[AI]`.
//!
//! A chunk the rails block has the chunks already sent recalled (`delete_msg`) and one
//! neutral line said in their place; a chunk that repeats a refuted claim is replaced by the
//! fact-check and ends the answer. A slow, failing or cut-off model gives one short error
//! line: every wait of the stream is bounded (see `steward_llm::Timeouts`).

use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::Utc;
use steward_llm::{ChatClient, LlmError, Message, SentenceChunker};
use steward_model::GroupRules;
use steward_onebot::message::Segment;
use steward_onebot::{Action, ActionClient};
use steward_policy::Policy;

use crate::rails::{Rails, Verdict};
use crate::stats::Stats;

/// The label every message of an answer starts with.
pub const LABEL: &str = "[AI]";

/// Where an answer goes and what holds it.
pub struct Answering<'a> {
    pub client: &'a ActionClient,
    pub bot_id: &'a str,
    pub group_id: &'a str,
    /// The question's message, which the first chunk quotes.
    pub question_id: &'a str,
    pub rules: Option<&'a GroupRules>,
    pub policy: Arc<Policy>,
    pub rails: &'a Mutex<Rails>,
    pub stats: &'a Stats,
    /// The longest chunk, in characters.
    pub chunk_chars: usize,
}

/// How an answer ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Every chunk was sent.
    Complete { chunks: usize },
    /// A chunk repeated a refuted claim; the fact-check was sent in its place.
    Corrected { chunks: usize },
    /// A chunk was blocked; `recalled` chunks were taken back.
    Withdrawn { recalled: usize, why: String },
    /// The model failed; `chunks` were sent before.
    Failed { chunks: usize, error: String },
    /// Sending to the group failed.
    Undelivered,
}

/// The system prompt: brevity, care with claims, and the group's language rule.
pub fn system_prompt(rules: Option<&GroupRules>) -> String {
    let mut prompt = String::from(
        "You answer questions in a group chat. Answer briefly, in a few plain sentences. \
         Do not present rumours or unverified claims as facts; when you are not sure, say so.",
    );
    if let Some(r) = rules {
        prompt.push_str(&format!(" The group is called \u{201c}{}\u{201d}.", r.name));
        if let Some(code) = &r.language {
            let name = language_name(code);
            prompt.push_str(&format!(
                " The group's rule is that everyone writes in {name} only. Always answer in {name}, \
                 even when you are asked to use another language; if asked, say politely that the group's rule is {name} only."
            ));
        }
    }
    prompt
}

/// Streams the answer to `question` into the group.
pub async fn answer(llm: &ChatClient, to: &Answering<'_>, question: &str) -> Outcome {
    let mut stream = llm.stream(vec![Message::system(system_prompt(to.rules)), Message::user(question)]);
    let mut chunker = SentenceChunker::new(to.chunk_chars);
    let mut sent: Vec<String> = Vec::new();
    loop {
        let (chunks, end) = match stream.next().await {
            Some(Ok(delta)) => (chunker.push(&delta), None),
            Some(Err(e)) => (Vec::new(), Some(Err(e))),
            None => (chunker.finish(), Some(Ok(()))),
        };
        for chunk in chunks {
            if let Some(outcome) = release(to, &chunk, &mut sent).await {
                return outcome;
            }
        }
        match end {
            None => {}
            Some(Ok(())) => return Outcome::Complete { chunks: sent.len() },
            Some(Err(e)) => {
                tracing::warn!(group = to.group_id, "AI answer failed: {e}");
                let _ = send(to, format!("{LABEL} {}", error_line(&e)), None).await;
                return Outcome::Failed { chunks: sent.len(), error: e.to_string() };
            }
        }
    }
}

/// Checks one chunk and sends, replaces or withdraws; `Some` when the answer ends here.
async fn release(to: &Answering<'_>, chunk: &str, sent: &mut Vec<String>) -> Option<Outcome> {
    let ready = Instant::now();
    let verdict = {
        let mut rails = to.rails.lock().unwrap_or_else(|p| p.into_inner());
        rails.check(&to.policy, to.rules, to.bot_id, to.group_id, chunk, Utc::now())
    };
    to.stats.rails.record(ready.elapsed());
    let quote = sent.is_empty().then_some(to.question_id);
    match verdict {
        Verdict::Pass => match send(to, format!("{LABEL} {chunk}"), quote).await {
            Some(id) => {
                to.stats.release.record(ready.elapsed());
                sent.push(id);
                None
            }
            None => Some(Outcome::Undelivered),
        },
        Verdict::Replace { note } => {
            let _ = send(to, format!("{LABEL} {note}"), quote).await;
            Some(Outcome::Corrected { chunks: sent.len() })
        }
        Verdict::Block { why } => {
            for id in sent.iter() {
                if let Err(e) = to.client.call(&Action::DeleteMsg { message_id: id.clone() }).await {
                    tracing::warn!(group = to.group_id, "recalling an answer's chunk failed: {e}");
                }
            }
            let line = format!("{LABEL} I withdrew my answer because {why}.");
            let _ = send(to, line, Some(to.question_id)).await;
            Some(Outcome::Withdrawn { recalled: sent.len(), why })
        }
    }
}

/// Sends a line to the group, quoting `quote`; the sent message's id.
async fn send(to: &Answering<'_>, text: String, quote: Option<&str>) -> Option<String> {
    let mut message = Vec::with_capacity(2);
    if let Some(id) = quote {
        message.push(Segment::Reply { id: id.to_string() });
    }
    message.push(Segment::text(text));
    match to.client.call(&Action::SendGroupMsg { group_id: to.group_id.to_string(), message }).await {
        // An `async` answer carries no id: the message went out, but cannot be recalled.
        Ok(reply) => Some(reply.message_id().unwrap_or_default()),
        Err(e) => {
            tracing::warn!(group = to.group_id, "sending an answer failed: {e}");
            None
        }
    }
}

/// The short line a failed answer gets.
fn error_line(e: &LlmError) -> &'static str {
    match e {
        LlmError::Timeout { .. } => "No answer: the AI service took too long. Please try again later.",
        LlmError::Cut => "The answer was cut off, so it may be incomplete.",
        _ => "No answer: the AI service is unavailable right now.",
    }
}

/// The English name of a language code of the group rules.
fn language_name(code: &str) -> &str {
    match code {
        "en" => "English",
        "de" => "German",
        "es" => "Spanish",
        "fr" => "French",
        "id" => "Indonesian",
        "it" => "Italian",
        "ms" => "Malay",
        "nl" => "Dutch",
        "pl" => "Polish",
        "pt" => "Portuguese",
        "tr" => "Turkish",
        "vi" => "Vietnamese",
        "zh" => "Chinese",
        "ja" => "Japanese",
        "ko" => "Korean",
        "ru" => "Russian",
        "uk" => "Ukrainian",
        "ar" => "Arabic",
        "fa" => "Persian",
        "el" => "Greek",
        "he" => "Hebrew",
        "hi" => "Hindi",
        "th" => "Thai",
        other => other,
    }
}
