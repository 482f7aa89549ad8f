//! A streaming client for OpenAI-compatible chat endpoints, for the group-chat bot that
//! answers "ai <question>" and releases the answer a sentence at a time through the output
//! checks.
//!
//! # Main items
//!
//! * [`ChatClient`] / [`ChatStream`]: `POST {base_url}/chat/completions` with
//!   `"stream": true`; the answer comes back as pieces of text. Every wait is bounded
//!   ([`Timeouts`]: connect, first token, idle, total) and every failure is one short
//!   [`LlmError`]: an error status, no connection, a timeout, a cut answer, or something
//!   that is not a chat stream.
//! * [`SentenceChunker`]: turns the pieces into sentences (English and Chinese) so that each
//!   can be checked and released as soon as it is complete.
//! * [`sse`]: the incremental Server-Sent Events reader underneath.
//! * [`testing`]: a scripted chat server for tests.
//!
//! # Example
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use steward_llm::{ChatClient, Message, SentenceChunker};
//! # let server = steward_llm::testing::ScriptedServer::start(vec![
//! #     steward_llm::testing::Script::deltas(&["Paris is the capital", " of France. It is", " on the Seine."]),
//! # ]).await;
//! # let config = server.config("a-model");
//! let client = ChatClient::new(config)?;
//! let mut answer = client.stream(vec![
//!     Message::system("Answer in one or two sentences."),
//!     Message::user("What is the capital of France?"),
//! ]);
//! let mut chunker = SentenceChunker::default();
//! let mut sentences = Vec::new();
//! while let Some(delta) = answer.next().await {
//!     sentences.extend(chunker.push(&delta?));
//! }
//! sentences.extend(chunker.finish());
//! assert_eq!(sentences, ["Paris is the capital of France.", "It is on the Seine."]);
//! # Ok::<(), steward_llm::LlmError>(())
//! # }).unwrap();
//! ```
#![deny(missing_docs)]

pub mod chat;
pub mod chunker;
mod error;
pub mod sse;
pub mod testing;

pub use chat::{ChatClient, ChatConfig, ChatStream, Delta, Message, Role, Timeouts, api_key_from_env, parse_delta};
pub use chunker::SentenceChunker;
pub use error::{LlmError, TimeoutKind};
pub use sse::{SseEvent, SseReader, SseTooLarge};
