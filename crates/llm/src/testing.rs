//! A scripted OpenAI-compatible chat server on `127.0.0.1` for tests, of this crate and of
//! the crates that use it.
//!
//! Each request to `POST /v1/chat/completions` (or `/chat/completions`) plays the next
//! [`Script`]: an error status, or a `text/event-stream` body written step by step, so a
//! test chooses where the reads split, where the server pauses, cuts the connection or
//! hangs. The request bodies are recorded.
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use steward_llm::testing::{Script, ScriptedServer};
//! let server = ScriptedServer::start(vec![Script::deltas(&["Hello", " world."])]).await;
//! let client = steward_llm::ChatClient::new(server.config("test-model")).unwrap();
//! let answer = client.stream(vec![steward_llm::Message::user("hi")]).text().await.unwrap();
//! assert_eq!(answer, "Hello world.");
//! assert_eq!(server.requests()[0].body["model"], "test-model");
//! # });
//! ```

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;

use crate::chat::{ChatConfig, Timeouts};

/// One step of a scripted answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Write these bytes (one write, flushed).
    Bytes(Vec<u8>),
    /// Wait before the next step.
    Sleep(Duration),
    /// Break the connection here, mid-body.
    Cut,
    /// Send nothing more, and keep the connection open, for ever.
    Hang,
}

/// What the server does with one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Script {
    /// Answer with this error status and body.
    Status(u16, String),
    /// Hang before sending any header.
    HangBeforeHeaders,
    /// Answer `200 text/event-stream` with a body made of these steps. The body ends
    /// cleanly after the last step (with or without a `[DONE]` among them).
    Stream(Vec<Step>),
}

impl Script {
    /// A normal answer: one event per delta, then `data: [DONE]`, each event one write.
    pub fn deltas(deltas: &[&str]) -> Script {
        let mut steps: Vec<Step> = deltas.iter().map(|d| Step::Bytes(delta_event(d).into_bytes())).collect();
        steps.push(Step::Bytes(DONE.as_bytes().to_vec()));
        Script::Stream(steps)
    }

    /// The events of [`Script::deltas`] as one byte string, written in pieces cut at
    /// `splits` (byte offsets, in increasing order), so events split across reads.
    pub fn deltas_split_at(deltas: &[&str], splits: &[usize]) -> Script {
        let mut all = String::new();
        for d in deltas {
            all.push_str(&delta_event(d));
        }
        all.push_str(DONE);
        Script::Stream(split_writes(all.as_bytes(), splits))
    }
}

/// The `[DONE]` event that ends an OpenAI stream.
pub const DONE: &str = "data: [DONE]\n\n";

/// The event carrying one piece of text, as OpenAI sends it.
pub fn delta_event(content: &str) -> String {
    let chunk = serde_json::json!({
        "id": "chatcmpl-test",
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": null}],
    });
    format!("data: {chunk}\n\n")
}

/// The event that ends an answer with a finish reason (before `[DONE]`).
pub fn finish_event(reason: &str) -> String {
    let chunk = serde_json::json!({"choices": [{"index": 0, "delta": {}, "finish_reason": reason}]});
    format!("data: {chunk}\n\n")
}

/// `bytes` as writes cut at the offsets `splits` (increasing; those past the end ignored),
/// with a short sleep after each so that the client reads them apart.
pub fn split_writes(bytes: &[u8], splits: &[usize]) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut from = 0;
    for &at in splits.iter().filter(|&&at| at > 0 && at < bytes.len()) {
        if at <= from {
            continue;
        }
        steps.push(Step::Bytes(bytes[from..at].to_vec()));
        steps.push(Step::Sleep(Duration::from_millis(5)));
        from = at;
    }
    steps.push(Step::Bytes(bytes[from..].to_vec()));
    steps
}

/// A request the server received.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// The path asked for.
    pub path: String,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
    /// The body as JSON (`Null` when it was not JSON).
    pub body: serde_json::Value,
}

#[derive(Default)]
struct Shared {
    scripts: Mutex<VecDeque<Script>>,
    requests: Mutex<Vec<RecordedRequest>>,
}

/// The running server; it stops when dropped.
pub struct ScriptedServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl ScriptedServer {
    /// Starts a server on a free loopback port that answers its requests with `scripts`, in
    /// order; a request past the last script gets `500 no script left`.
    pub async fn start(scripts: Vec<Script>) -> ScriptedServer {
        let shared = Arc::new(Shared { scripts: Mutex::new(scripts.into()), requests: Mutex::default() });
        let app = axum::Router::new()
            .route("/v1/chat/completions", post(answer))
            .route("/chat/completions", post(answer))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
        let addr = listener.local_addr().expect("the bound address");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        ScriptedServer { addr, shared, task }
    }

    /// The base URL to give a client: `http://127.0.0.1:PORT/v1`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// A client configuration for this server and `model`, with short timeouts (2 s to the
    /// first token, 1 s idle, 10 s in all).
    pub fn config(&self, model: &str) -> ChatConfig {
        ChatConfig {
            base_url: self.base_url(),
            model: model.into(),
            api_key: None,
            timeouts: Timeouts {
                connect: Duration::from_secs(2),
                first_token: Duration::from_secs(2),
                idle: Duration::from_secs(1),
                total: Duration::from_secs(10),
            },
            max_tokens: None,
            temperature: None,
        }
    }

    /// Adds scripts for later requests.
    pub fn push(&self, script: Script) {
        self.shared.scripts.lock().expect("scripts").push_back(script);
    }

    /// The requests received so far.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.requests.lock().expect("requests").clone()
    }
}

impl Drop for ScriptedServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn answer(State(shared): State<Arc<Shared>>, uri: axum::http::Uri, headers: HeaderMap, body: Bytes) -> Response {
    shared.requests.lock().expect("requests").push(RecordedRequest {
        path: uri.path().to_owned(),
        authorization: headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::to_owned),
        body: serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
    });
    let script = shared.scripts.lock().expect("scripts").pop_front();
    match script {
        None => (StatusCode::INTERNAL_SERVER_ERROR, "no script left").into_response(),
        Some(Script::Status(status, body)) => {
            (StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), body).into_response()
        }
        Some(Script::HangBeforeHeaders) => std::future::pending().await,
        Some(Script::Stream(steps)) => {
            let body = futures_util::stream::unfold(VecDeque::from(steps), |mut steps| async move {
                loop {
                    match steps.pop_front()? {
                        Step::Bytes(bytes) => return Some((Ok(Bytes::from(bytes)), steps)),
                        Step::Sleep(d) => tokio::time::sleep(d).await,
                        Step::Cut => {
                            let cut = std::io::Error::new(std::io::ErrorKind::ConnectionAborted, "scripted cut");
                            return Some((Err(cut), VecDeque::new()));
                        }
                        Step::Hang => std::future::pending::<()>().await,
                    }
                }
            });
            Response::builder()
                .header(header::CONTENT_TYPE, "text/event-stream")
                .header(header::CACHE_CONTROL, "no-cache")
                .body(Body::from_stream(body))
                .expect("a valid response")
        }
    }
}
