//! A streaming client for OpenAI-compatible chat endpoints (`POST {base}/chat/completions`
//! with `"stream": true`), as served by OpenAI, llama.cpp's server, vLLM, Ollama and others.

use std::collections::VecDeque;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::error::{LlmError, TimeoutKind, excerpt};
use crate::sse::SseReader;

/// The bounds on one request. Every wait of a [`ChatStream`] is bounded by one of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Opening the TCP (and TLS) connection.
    pub connect: Duration,
    /// From sending the request to the first piece of text of the answer.
    pub first_token: Duration,
    /// Between two reads once the answer has started.
    pub idle: Duration,
    /// The whole answer, from sending the request to its end.
    pub total: Duration,
}

impl Default for Timeouts {
    /// 5 s to connect, 30 s to the first token, 15 s idle, 120 s in all.
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(5),
            first_token: Duration::from_secs(30),
            idle: Duration::from_secs(15),
            total: Duration::from_secs(120),
        }
    }
}

/// Where and how to ask.
#[derive(Debug, Clone)]
pub struct ChatConfig {
    /// The API's base URL, such as `https://api.openai.com/v1` or `http://127.0.0.1:8080/v1`;
    /// `/chat/completions` is appended.
    pub base_url: String,
    /// The model's name as the server knows it.
    pub model: String,
    /// Sent as `Authorization: Bearer …` when given.
    pub api_key: Option<String>,
    /// The bounds on each request.
    pub timeouts: Timeouts,
    /// The most tokens an answer may have, when given.
    pub max_tokens: Option<u32>,
    /// The sampling temperature, when given.
    pub temperature: Option<f32>,
}

/// Who said a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Instructions to the model.
    System,
    /// The person asking.
    User,
    /// The model's earlier answers.
    Assistant,
}

/// One message of the conversation sent to the model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Who said it.
    pub role: Role,
    /// What was said.
    pub content: String,
}

impl Message {
    /// A system message.
    pub fn system(content: impl Into<String>) -> Self {
        Message { role: Role::System, content: content.into() }
    }

    /// A user message.
    pub fn user(content: impl Into<String>) -> Self {
        Message { role: Role::User, content: content.into() }
    }

    /// An assistant message.
    pub fn assistant(content: impl Into<String>) -> Self {
        Message { role: Role::Assistant, content: content.into() }
    }
}

/// The API key in the environment variable `var`: `None` when it is unset, an error naming
/// the variable when it is set but empty, not UTF-8 or holds whitespace.
pub fn api_key_from_env(var: &str) -> Result<Option<String>, LlmError> {
    let bad = |why: &str| LlmError::Config { what: format!("the API key in {var} {why}") };
    match std::env::var(var) {
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(bad("is not valid UTF-8")),
        Ok(key) if key.trim().is_empty() => {
            Err(bad("is empty: unset it for a server without keys, or set it to the key"))
        }
        Ok(key) if key.chars().any(|c| c.is_whitespace() || c.is_control()) => {
            Err(bad("holds spaces or control characters: is it quoted or pasted with a line break?"))
        }
        Ok(key) => Ok(Some(key)),
    }
}

/// A client for one chat endpoint and model; cheap to clone and share.
#[derive(Debug, Clone)]
pub struct ChatClient {
    http: reqwest::Client,
    url: String,
    config: ChatConfig,
}

/// The request body.
#[derive(Serialize)]
struct ChatRequest<'a> {
    model: &'a str,
    messages: &'a [Message],
    stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f32>,
}

impl ChatClient {
    /// A client for `config`: an error when the base URL is not http(s) or the key cannot be
    /// sent in a header.
    pub fn new(config: ChatConfig) -> Result<Self, LlmError> {
        let base = config.base_url.trim_end_matches('/');
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(LlmError::Config {
                what: format!("the model server's base URL {:?} does not start with http:// or https://", base),
            });
        }
        let url = format!("{base}/chat/completions");
        reqwest::Url::parse(&url).map_err(|e| LlmError::Config {
            what: format!("the model server's base URL {:?} is not a URL: {e}", config.base_url),
        })?;
        if let Some(key) = &config.api_key
            && reqwest::header::HeaderValue::from_str(&format!("Bearer {key}")).is_err()
        {
            return Err(LlmError::Config { what: "the API key holds characters a header cannot carry".into() });
        }
        let http = reqwest::Client::builder()
            .connect_timeout(config.timeouts.connect)
            .build()
            .map_err(|e| LlmError::Config { what: format!("cannot build the HTTP client: {e}") })?;
        Ok(ChatClient { http, url, config })
    }

    /// The configuration in use.
    pub fn config(&self) -> &ChatConfig {
        &self.config
    }

    /// Asks for an answer to `messages`. Nothing is sent until the stream is first read.
    pub fn stream(&self, messages: Vec<Message>) -> ChatStream {
        let body = ChatRequest {
            model: &self.config.model,
            messages: &messages,
            stream: true,
            max_tokens: self.config.max_tokens,
            temperature: self.config.temperature,
        };
        let mut request = self.http.post(&self.url).header("accept", "text/event-stream").json(&body);
        if let Some(key) = &self.config.api_key {
            request = request.bearer_auth(key);
        }
        ChatStream {
            state: State::Unsent(request),
            sse: SseReader::default(),
            ready: VecDeque::new(),
            timeouts: self.config.timeouts,
            started: None,
            last_read: None,
            got_text: false,
        }
    }
}

enum State {
    Unsent(reqwest::RequestBuilder),
    Reading(reqwest::Response),
    Done,
}

/// The answer as it arrives: pieces of text ("deltas") from [`ChatStream::next`], then
/// `None` at its end, or one error and then `None`.
pub struct ChatStream {
    state: State,
    sse: SseReader,
    ready: VecDeque<Result<String, LlmError>>,
    timeouts: Timeouts,
    started: Option<Instant>,
    last_read: Option<Instant>,
    got_text: bool,
}

impl std::fmt::Debug for ChatStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatStream").field("got_text", &self.got_text).finish_non_exhaustive()
    }
}

impl ChatStream {
    /// The next piece of text; `None` once the answer is complete or after an error.
    pub async fn next(&mut self) -> Option<Result<String, LlmError>> {
        loop {
            if let Some(item) = self.ready.pop_front() {
                return Some(item);
            }
            match std::mem::replace(&mut self.state, State::Done) {
                State::Done => return None,
                State::Unsent(request) => {
                    self.started = Some(Instant::now());
                    match self.bounded(request.send()).await {
                        Ok(Ok(response)) if response.status().is_success() => self.state = State::Reading(response),
                        Ok(Ok(response)) => return Some(Err(self.http_error(response).await)),
                        Ok(Err(e)) => return Some(Err(send_error(e, self.timeouts.connect))),
                        Err(timeout) => return Some(Err(timeout)),
                    }
                }
                State::Reading(mut response) => match self.bounded(response.chunk()).await {
                    Ok(Ok(Some(bytes))) => {
                        self.last_read = Some(Instant::now());
                        if !self.take(&bytes) {
                            self.state = State::Reading(response);
                        }
                    }
                    // The body ended, or the connection broke, before the answer's end.
                    Ok(Ok(None)) => return Some(Err(LlmError::Cut)),
                    Ok(Err(e)) => {
                        tracing::debug!(error = %e, "chat stream read failed");
                        return Some(Err(LlmError::Cut));
                    }
                    Err(timeout) => return Some(Err(timeout)),
                },
            }
        }
    }

    /// The whole answer's text.
    pub async fn text(mut self) -> Result<String, LlmError> {
        let mut text = String::new();
        while let Some(delta) = self.next().await {
            text.push_str(&delta?);
        }
        Ok(text)
    }

    /// Reads the events in `bytes` into `ready`; true when the answer ended (complete or
    /// not), so the response is dropped.
    fn take(&mut self, bytes: &[u8]) -> bool {
        for event in self.sse.push(bytes) {
            let event = match event {
                Ok(event) => event,
                Err(e) => {
                    self.ready.push_back(Err(LlmError::Malformed { what: e.to_string() }));
                    return true;
                }
            };
            if event.data.trim() == "[DONE]" {
                return true;
            }
            match parse_delta(&event.data) {
                Ok(delta) => {
                    if let Some(text) = delta.content.filter(|t| !t.is_empty()) {
                        self.got_text = true;
                        self.ready.push_back(Ok(text));
                    }
                    if delta.finish_reason.is_some() {
                        return true;
                    }
                }
                Err(e) => {
                    self.ready.push_back(Err(e));
                    return true;
                }
            }
        }
        false
    }

    /// The deadline of the next wait and the bound it stands for.
    fn deadline(&self) -> (Instant, TimeoutKind, Duration) {
        let started = self.started.unwrap_or_else(Instant::now);
        let t = self.timeouts;
        let phase = match self.last_read {
            Some(last) if self.got_text => (last + t.idle, TimeoutKind::Idle, t.idle),
            _ => (started + t.first_token, TimeoutKind::FirstToken, t.first_token),
        };
        let total = started + t.total;
        if total <= phase.0 { (total, TimeoutKind::Total, t.total) } else { phase }
    }

    /// Runs `wait` until the current deadline.
    async fn bounded<T>(&self, wait: impl Future<Output = T>) -> Result<T, LlmError> {
        let (at, which, after) = self.deadline();
        tokio::time::timeout_at(at, wait).await.map_err(|_| LlmError::Timeout { which, after })
    }

    /// The error for an answer with an error status, with the start of its body (read
    /// within the current deadline).
    async fn http_error(&self, response: reqwest::Response) -> LlmError {
        let status = response.status().as_u16();
        let body = match self.bounded(response.bytes()).await {
            Ok(Ok(bytes)) => excerpt(String::from_utf8_lossy(&bytes).trim(), 300),
            _ => String::new(),
        };
        LlmError::Http { status, body }
    }
}

/// Maps a failure to send the request or read its headers.
fn send_error(e: reqwest::Error, connect: Duration) -> LlmError {
    if e.is_connect() && e.is_timeout() {
        return LlmError::Timeout { which: TimeoutKind::Connect, after: connect };
    }
    let mut reason = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        reason = format!("{reason}: {s}");
        source = s.source();
    }
    if e.is_connect() { LlmError::Connect { reason } } else { LlmError::Malformed { what: reason } }
}

/// One event of a chat stream, as far as an answer's text goes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Delta {
    /// `choices[0].delta.content`: the next piece of text, if any.
    pub content: Option<String>,
    /// `choices[0].finish_reason`: why the answer ended, on its last event.
    pub finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct Chunk {
    #[serde(default)]
    choices: Option<Vec<Choice>>,
    #[serde(default)]
    error: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Choice {
    #[serde(default)]
    delta: Option<ChoiceDelta>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct ChoiceDelta {
    #[serde(default)]
    content: Option<String>,
}

/// Reads the `data` of one chat stream event (not `[DONE]`). Unknown fields are ignored;
/// an event without choices (a usage report) is an empty delta; an `error` object, or
/// anything that is not such a JSON object, is [`LlmError::Malformed`].
pub fn parse_delta(data: &str) -> Result<Delta, LlmError> {
    let chunk: Chunk = serde_json::from_str(data).map_err(|e| LlmError::Malformed {
        what: format!("an event that is not a chat chunk ({e}): {}", excerpt(data, 80)),
    })?;
    if let Some(error) = chunk.error.filter(|e| !e.is_null()) {
        let message = error.get("message").and_then(|m| m.as_str()).map_or_else(|| error.to_string(), str::to_owned);
        return Err(LlmError::Malformed { what: format!("an error in the stream: {}", excerpt(&message, 200)) });
    }
    let Some(first) = chunk.choices.and_then(|c| c.into_iter().next()) else {
        return Ok(Delta::default());
    };
    Ok(Delta { content: first.delta.and_then(|d| d.content), finish_reason: first.finish_reason })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_deltas_and_ignores_what_it_does_not_use() {
        let d = parse_delta(r#"{"id":"x","choices":[{"index":0,"delta":{"role":"assistant","content":null}}]}"#);
        assert_eq!(d.unwrap(), Delta::default());
        let d = parse_delta(r#"{"choices":[{"delta":{"content":"Hi"},"finish_reason":null,"logprobs":{}}],"x":1}"#);
        assert_eq!(d.unwrap().content.as_deref(), Some("Hi"));
        let d = parse_delta(r#"{"choices":[{"delta":{},"finish_reason":"stop"}]}"#).unwrap();
        assert_eq!((d.content, d.finish_reason.as_deref()), (None, Some("stop")));
        assert_eq!(parse_delta(r#"{"choices":[],"usage":{"total_tokens":3}}"#).unwrap(), Delta::default());
    }

    #[test]
    fn rejects_what_is_not_a_chunk() {
        for bad in ["", "not json", "[1]", r#"{"choices":[{"delta":{"content":7}}]}"#] {
            let e = parse_delta(bad).unwrap_err();
            assert!(matches!(e, LlmError::Malformed { .. }), "{bad}: {e}");
        }
        let e = parse_delta(r#"{"error":{"message":"model overloaded"}}"#).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the model server sent something unreadable: an error in the stream: model overloaded"
        );
    }

    #[test]
    fn api_key_from_env_names_the_variable() {
        // SAFETY: this test alone uses these variables; set_var is unsafe in edition 2024
        // because other threads may read the environment.
        unsafe {
            std::env::remove_var("STEWARD_LLM_TEST_KEY_UNSET");
            std::env::set_var("STEWARD_LLM_TEST_KEY_EMPTY", " ");
            std::env::set_var("STEWARD_LLM_TEST_KEY_NL", "sk-abc\n");
            std::env::set_var("STEWARD_LLM_TEST_KEY", "sk-abc");
        }
        assert_eq!(api_key_from_env("STEWARD_LLM_TEST_KEY_UNSET").unwrap(), None);
        assert_eq!(api_key_from_env("STEWARD_LLM_TEST_KEY").unwrap().as_deref(), Some("sk-abc"));
        for var in ["STEWARD_LLM_TEST_KEY_EMPTY", "STEWARD_LLM_TEST_KEY_NL"] {
            let e = api_key_from_env(var).unwrap_err().to_string();
            assert!(e.contains(var), "{e}");
        }
    }

    #[test]
    fn a_base_url_that_is_not_http_is_refused() {
        let config = |base_url: &str| ChatConfig {
            base_url: base_url.into(),
            model: "m".into(),
            api_key: None,
            timeouts: Timeouts::default(),
            max_tokens: None,
            temperature: None,
        };
        assert!(ChatClient::new(config("127.0.0.1:8080/v1")).is_err());
        assert!(ChatClient::new(config("http://")).is_err());
        let client = ChatClient::new(config("http://127.0.0.1:8080/v1/")).unwrap();
        assert_eq!(client.url, "http://127.0.0.1:8080/v1/chat/completions");
    }
}
