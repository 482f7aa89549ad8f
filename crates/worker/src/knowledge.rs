//! The knowledge base and the registry on every worker.
//!
//! A fact-check or an identity has no account, so it lands in some partition and only that
//! partition's owner stores it. Every worker's detectors need it, though: each worker follows
//! the stream's knowledge events (`<prefix>.factcheck_upserted.*` and the like, every
//! partition) with ordered consumers of its own, and teaches them to its engine between
//! batches ([`Engine::learn`]). It reads them from the start of the stream (knowledge events
//! are few; the stream keeps 8 days) and catches up before its first batch, so an event
//! accepted before the worker started but not yet stored by its owner is known too. Upserts
//! are learnt in stream order: the last state of each entity wins, and one learnt twice (in
//! the store and in the stream) changes nothing.
//!
//! A fact-check learnt this way is also checked against the posts the worker judged lately,
//! as a single box checks it against its own: the posts it matches in partitions the worker
//! still owns are judged again in its next batch, under those partitions' fences.

use std::time::Duration;

use async_nats::jetstream::consumer::{DeliverPolicy, pull};
use async_nats::jetstream::{self};
use futures_util::StreamExt;
use steward_detect::EarlierSignal;
use steward_engine::Engine;
use steward_stream::{StreamConfig, subject_token};
use tokio::sync::mpsc;

/// Knowledge events as published, in each type's stream order.
pub(crate) struct Feed {
    rx: mpsc::UnboundedReceiver<bytes::Bytes>,
    tasks: Vec<tokio::task::AbortHandle>,
}

impl Drop for Feed {
    fn drop(&mut self) {
        self.tasks.iter().for_each(|t| t.abort());
    }
}

/// How long a worker waits at start for the knowledge in the stream before it goes on.
const CATCH_UP: Duration = Duration::from_secs(60);

/// Follows the event types from the start of the stream (consumers are re-created after an
/// error, from a minute before), and returns once what the stream held is in the feed.
pub(crate) fn follow(
    runtime: &tokio::runtime::Runtime,
    js: &jetstream::Context,
    config: &StreamConfig,
    event_types: &[&str],
) -> Feed {
    // Unbounded: the catch-up must not wait for the engine, which waits for it; what it holds
    // is bounded by the stream's knowledge events.
    let (tx, rx) = mpsc::unbounded_channel();
    let mut caught_up = Vec::new();
    let tasks = event_types
        .iter()
        .map(|t| {
            let filter = format!("{}.{}.*", config.subject_prefix, subject_token(t));
            let (js, stream, tx) = (js.clone(), config.name.clone(), tx.clone());
            let (done, waiting) = tokio::sync::oneshot::channel();
            caught_up.push(waiting);
            runtime
                .spawn(async move {
                    let mut from = DeliverPolicy::All;
                    let mut done = Some(done);
                    loop {
                        match follow_one(&js, &stream, &filter, from, &tx, &mut done).await {
                            Ok(()) => return,
                            Err(e) => tracing::warn!(filter, "following knowledge events: {e:#}"),
                        }
                        // Again from a little before now: what came meanwhile is learnt twice.
                        let start_time = time::OffsetDateTime::now_utc() - time::Duration::seconds(60);
                        from = DeliverPolicy::ByStartTime { start_time };
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                })
                .abort_handle()
        })
        .collect();
    let all = futures_util::future::join_all(caught_up);
    if runtime.block_on(async { tokio::time::timeout(CATCH_UP, all).await }).is_err() {
        tracing::warn!("the stream's knowledge events not all read within {CATCH_UP:?}; going on, they follow");
    }
    Feed { rx, tasks }
}

/// Ok when the worker is gone (the channel closed). Fires `done` once nothing is pending.
async fn follow_one(
    js: &jetstream::Context,
    stream: &str,
    filter: &str,
    from: DeliverPolicy,
    tx: &mpsc::UnboundedSender<bytes::Bytes>,
    done: &mut Option<tokio::sync::oneshot::Sender<()>>,
) -> anyhow::Result<()> {
    let mut consumer = js
        .get_stream(stream)
        .await?
        .create_consumer(pull::OrderedConfig {
            filter_subject: filter.to_string(),
            deliver_policy: from,
            ..Default::default()
        })
        .await?;
    if consumer.info().await?.num_pending == 0
        && let Some(done) = done.take()
    {
        let _ = done.send(());
    }
    let mut messages = consumer.messages().await?;
    while let Some(m) = messages.next().await {
        let m = m?;
        let pending = m.info().map(|i| i.pending).unwrap_or(0);
        if tx.send(m.payload.clone()).is_err() {
            return Ok(());
        }
        if pending == 0
            && let Some(done) = done.take()
        {
            let _ = done.send(());
        }
    }
    anyhow::bail!("the consumer ended")
}

impl Feed {
    /// Teaches the engine whatever has arrived. Returns what it raised about posts the engine
    /// judged before (a fact-check matching them: [`Engine::learn`]).
    pub(crate) fn teach(&mut self, engine: &mut Engine) -> Vec<EarlierSignal> {
        let mut earlier = Vec::new();
        while let Ok(payload) = self.rx.try_recv() {
            match steward_model::parse_event(&payload, &engine.options().limits, chrono::Utc::now()) {
                Ok(event) => earlier.extend(engine.learn(&event)),
                Err(e) => tracing::warn!("a knowledge event that does not parse: {e}"),
            }
        }
        earlier
    }
}
