//! The engine's writer thread. The engine owns the write path, so it runs on one thread of
//! its own and handlers send it whole request bodies; reads go to the store directly.

use axum::body::Bytes;
use steward_engine::input::{split_json_array, split_ndjson};
use steward_engine::{Engine, IngestOutcome};
use tokio::sync::{mpsc, oneshot};

/// How a request body holds its records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFormat {
    JsonArray,
    Ndjson,
}

/// Why a body could not be ingested at all.
#[derive(Debug)]
pub enum IngestFailure {
    /// The body itself is malformed (not a JSON array); nothing in it was looked at.
    BadBody(String),
    /// Storage failed; nothing of the body was stored.
    Engine(String),
    /// The engine thread is gone.
    Stopped,
}

struct Job {
    body: Bytes,
    format: BodyFormat,
    reply: oneshot::Sender<Result<IngestOutcome, IngestFailure>>,
}

/// A cheap, cloneable handle to the engine thread.
#[derive(Clone)]
pub struct EngineHandle {
    jobs: mpsc::Sender<Job>,
}

impl EngineHandle {
    /// Starts the engine thread. It stops when the last handle is dropped.
    pub fn spawn(mut engine: Engine) -> EngineHandle {
        let (tx, mut rx) = mpsc::channel::<Job>(1024);
        std::thread::Builder::new()
            .name("steward-engine".into())
            .spawn(move || {
                while let Some(job) = rx.blocking_recv() {
                    let result = match job.format {
                        BodyFormat::Ndjson => Ok(split_ndjson(&job.body, 1)),
                        BodyFormat::JsonArray => split_json_array(&job.body).map_err(IngestFailure::BadBody),
                    }
                    .and_then(|records| engine.ingest(&records).map_err(|e| IngestFailure::Engine(e.to_string())));
                    let _ = job.reply.send(result);
                }
            })
            .expect("spawning the engine thread");
        EngineHandle { jobs: tx }
    }

    /// Ingests one request body; answers once it is committed.
    pub async fn ingest(&self, body: Bytes, format: BodyFormat) -> Result<IngestOutcome, IngestFailure> {
        let (reply, answer) = oneshot::channel();
        self.jobs.send(Job { body, format, reply }).await.map_err(|_| IngestFailure::Stopped)?;
        answer.await.map_err(|_| IngestFailure::Stopped)?
    }
}
