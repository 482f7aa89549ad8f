//! Consuming an owned partition: its durable pull consumer (re-created at the ack floor when a
//! batch was left unacknowledged), the task pulling its events, and the acks after a commit.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Result;
use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, PullConsumer, pull};
use async_nats::jetstream::{self, Message};
use futures_util::StreamExt;
use steward_stream::StreamConfig;

use crate::Worker;

/// An owned partition: the task pulling its consumer's events into the worker's channel,
/// stopped when the partition is given up, and whether it stopped at a gap in the deliveries.
pub(crate) struct Owned {
    task: tokio::task::AbortHandle,
    gap: Arc<AtomicBool>,
}

impl Owned {
    /// The task found a delivery missing and stopped: the partition must start again at its ack
    /// floor ([`Worker::restart`]).
    pub(crate) fn at_gap(&self) -> bool {
        self.gap.load(Ordering::SeqCst)
    }
}

impl Drop for Owned {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Worker {
    /// Starts pulling partition `p`'s events into the channel: a continuous pull (requests of
    /// a batch's share, kept topped up by the client, idle heartbeats), bounded by the
    /// consumer's max ack pending. `next` is the consumer sequence of the first delivery due.
    ///
    /// Acks are cumulative, so a delivery that never reaches the engine would be acknowledged
    /// with the next batch: every delivery is checked to follow the one before it (the
    /// consumer numbers its deliveries 1, 2, ...). At a gap, a pull answered to an inbox no longer
    /// read, the task stops before the gap and the worker starts the partition again at its
    /// ack floor. After an error (a missed heartbeat: the pull request lost with a node), it
    /// pulls again at once rather than waiting for the request to expire.
    pub(crate) fn pull(&self, p: u32, consumer: PullConsumer, mut next: u64) -> Owned {
        let share = self.batch.div_ceil(self.max_owned).max(16);
        let tx = self.pulled_tx.clone();
        let gap = Arc::new(AtomicBool::new(false));
        let at_gap = gap.clone();
        let task = self.runtime.spawn(async move {
            loop {
                let stream = consumer
                    .stream()
                    .max_messages_per_batch(share)
                    .expires(Duration::from_secs(30))
                    .heartbeat(Duration::from_secs(5))
                    .messages()
                    .await;
                match stream {
                    Ok(mut messages) => {
                        while let Some(m) = messages.next().await {
                            let m = match m {
                                Ok(m) => m,
                                Err(e) => {
                                    tracing::warn!(partition = p, "pull: {e}; pulling again");
                                    break;
                                }
                            };
                            if let Err(delivery) = in_turn(&m, &mut next) {
                                tracing::warn!(
                                    partition = p,
                                    "delivery {delivery} came where {next} was due; starting again at the ack floor"
                                );
                                at_gap.store(true, Ordering::SeqCst);
                                return;
                            }
                            if tx.send((p, m)).await.is_err() {
                                return;
                            }
                        }
                    }
                    Err(e) => tracing::warn!(partition = p, "pull: {e}"),
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        });
        Owned { task: task.abort_handle(), gap }
    }

    /// After a batch that was not committed: every partition still held starts again at its ack
    /// floor, so its events come back first and in order. Only the partitions still held are
    /// rewound: a fenced batch means another worker owns some now, and their consumers are its.
    pub(crate) fn restart_held(&mut self) {
        let held = self.locks.held().unwrap_or_default();
        let owned: Vec<u32> = self.owned.keys().copied().filter(|p| held.contains(p)).collect();
        // Stop pulling, and drop what was pulled: it is delivered again from the floor.
        self.owned.clear();
        while self.pulled.try_recv().is_ok() {}
        self.restart(owned);
    }

    /// Starts `partitions` again at their ack floors. What their old consumers delivered and
    /// is still in the channel may go through the engine as well: it comes before any gap, and
    /// again from the floor as duplicates.
    pub(crate) fn restart(&mut self, partitions: Vec<u32>) {
        for p in &partitions {
            self.owned.remove(p);
        }
        let rewound = self.runtime.block_on(futures_util::future::join_all(partitions.iter().map(|&p| self.rewind(p))));
        for (p, consumer) in partitions.into_iter().zip(rewound) {
            match consumer {
                Ok(d) => {
                    let owned = self.pull(p, d.consumer, d.next_delivery);
                    self.owned.insert(p, owned);
                }
                Err(e) => tracing::warn!(partition = p, "cannot rewind: {e:#}"),
            }
        }
        self.metrics.owned(self.owned.keys().copied());
    }

    /// The partition's durable consumer, at its ack floor when events are pending ([`durable`]).
    pub(crate) async fn rewind(&self, p: u32) -> Result<Durable> {
        let name = partition_consumer(&self.config, p);
        let max_ack_pending = (self.batch * 2).max(1024) as i64;
        durable(&self.js, &self.config.name, &name, self.config.partition_filter(p), self.ack_wait, max_ack_pending)
            .await
    }
}

/// The durable consumer of partition `p`: `<stream>-p<p>`.
pub(crate) fn partition_consumer(config: &StreamConfig, p: u32) -> String {
    format!("{}-p{p}", config.name)
}

/// Whether `m` is the delivery due, `next` (a consumer numbers its deliveries 1, 2, ...);
/// `next` moves on when it is. Acks are cumulative, so a delivery missed on the way must not be
/// acknowledged with a later one: `Err` gives the delivery that came instead.
pub(crate) fn in_turn(m: &Message, next: &mut u64) -> Result<(), u64> {
    let delivery = m.info().map_or(0, |i| i.consumer_sequence);
    if delivery != *next {
        return Err(delivery);
    }
    *next += 1;
    Ok(())
}

/// A durable consumer as [`durable`] leaves it.
pub(crate) struct Durable {
    pub(crate) consumer: PullConsumer,
    /// The stream sequence up to which everything it was given is acknowledged (0 when new).
    pub(crate) floor: u64,
    /// The consumer sequence its next delivery will carry.
    pub(crate) next_delivery: u64,
}

/// A durable pull consumer and its ack floor ([`Durable`]). When it has events delivered and not acknowledged
/// (a dead owner's batch in hand, or a batch not committed), it is re-created at its ack floor
/// so they come back first, in stream order (see the crate docs); else it is used as is.
///
/// Acks are cumulative (`AckPolicy::All`): a consumer's events are committed in the order they
/// are delivered, so acking the last of a batch acknowledges the batch. On an R3 stream each
/// ack is a round of the consumer's consensus; one per partition per batch, rather than one per
/// event, took most of the nats-servers' CPU off each event. A consumer made with another ack
/// policy (an earlier release) is re-created at its ack floor.
pub(crate) async fn durable(
    js: &jetstream::Context,
    stream: &str,
    name: &str,
    filter: String,
    ack_wait: Duration,
    max_ack_pending: i64,
) -> Result<Durable> {
    let stream = js.get_stream(stream).await?;
    let floor = match stream.consumer_info(name).await {
        Ok(info) if info.num_ack_pending == 0 && info.config.ack_policy == AckPolicy::All => {
            let consumer = stream.get_consumer(name).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            return Ok(Durable {
                consumer,
                floor: info.ack_floor.stream_sequence,
                next_delivery: info.delivered.consumer_sequence + 1,
            });
        }
        Ok(info) => {
            stream.delete_consumer(name).await?;
            info.ack_floor.stream_sequence
        }
        Err(_) => 0,
    };
    let consumer = stream
        .create_consumer(pull::Config {
            durable_name: Some(name.to_string()),
            filter_subject: filter,
            deliver_policy: if floor == 0 {
                DeliverPolicy::All
            } else {
                DeliverPolicy::ByStartSequence { start_sequence: floor + 1 }
            },
            ack_policy: AckPolicy::All,
            ack_wait,
            max_ack_pending,
            ..Default::default()
        })
        .await?;
    Ok(Durable { consumer, floor, next_delivery: 1 })
}

/// Double-acks the last event of each partition's batch, which acknowledges the events before
/// it ([`durable`]), and waits for the server's answers. A failed ack only means the events
/// come again, as duplicates.
pub(crate) async fn ack(fetched: &[(u32, Vec<Message>)]) {
    let confirms = fetched.iter().filter_map(|(p, ms)| ms.last().map(|m| (p, m))).map(|(p, m)| async move {
        if let Err(e) = m.double_ack().await {
            tracing::warn!(partition = p, "double ack: {e}");
        }
    });
    futures_util::future::join_all(confirms).await;
}
