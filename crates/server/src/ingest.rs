//! The engine's writer thread. The engine owns the write path, so it runs on one thread of
//! its own; handlers send it work (a request body to ingest, a policy to put in force) and
//! await the answer. Reads go to the store directly.

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

/// The engine thread is gone.
#[derive(Debug, Clone, Copy)]
pub struct Stopped;

type Job = Box<dyn FnOnce(&mut Engine) + Send>;

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
                    job(&mut engine);
                }
            })
            .expect("spawning the engine thread");
        EngineHandle { jobs: tx }
    }

    /// Runs `f` on the engine thread, in turn with everything else sent to it.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Engine) -> T + Send + 'static,
    ) -> Result<T, Stopped> {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |engine| {
            let _ = reply.send(f(engine));
        });
        self.jobs.send(job).await.map_err(|_| Stopped)?;
        answer.await.map_err(|_| Stopped)
    }

    /// Ingests one request body; answers once it is committed.
    pub async fn ingest(&self, body: Bytes, format: BodyFormat) -> Result<IngestOutcome, IngestFailure> {
        self.run(move |engine| {
            let records = match format {
                BodyFormat::Ndjson => split_ndjson(&body, 1),
                BodyFormat::JsonArray => split_json_array(&body).map_err(IngestFailure::BadBody)?,
            };
            engine.ingest(&records).map_err(|e| IngestFailure::Engine(e.to_string()))
        })
        .await
        .map_err(|Stopped| IngestFailure::Stopped)?
    }
}
