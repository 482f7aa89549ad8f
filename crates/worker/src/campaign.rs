//! The campaign stage: the detectors that need every account's posts (copy campaigns), run
//! once for the whole cluster.
//!
//! A worker owns some partitions and sees only their accounts, so its engine leaves those
//! detectors out (`EngineOptions::partitioned`). One worker at a time, the one holding the
//! stage's advisory lock (objid [`STAGE_LOCK`] in the workers' lock class), runs them instead:
//!
//! 1. It reads every `post.created` event from the stream through its own durable consumer
//!    (`<stream>-campaigns`, filter `<prefix>.post_created.*`), in stream order: the order
//!    the events were accepted, across all partitions. The post events are the sketches: the
//!    detector needs the text, and reading it from the stream costs the cluster no second
//!    publish per post.
//! 2. Each post goes through the detectors. What they find is split:
//!    - each signal about a post becomes a [`Finding`], published to the stream on the
//!      subject of the post's account's partition, `<prefix>.x-campaign.<partition>`, with
//!      `Nats-Msg-Id` `copy_campaign/<event id>` (a detector signals a post once). The
//!      partition's owner judges it with the policy, in its own transaction, against the post
//!      it already stored: a campaign's decisions about an account are made by that account's
//!      owner. The finding comes after the post in the partition's order, so the post is
//!      always stored first.
//!    - the campaigns themselves (summary, members, merges) are written to the store by the
//!      stage, their only writer, in order.
//! 3. Then the posts are acknowledged. A stage that dies before the ack leaves them to the
//!    next one, whose findings are the same (same ids: deduplicated by the stream, and a
//!    decision is made once per post and rule).
//!
//! On election the stage rebuilds the detectors' window by replay: the posts of the stream
//! from (the time of the last acknowledged post − the window − an hour) up to that post go
//! through the detectors with their findings dropped, so the stage picks up where the last
//! one stopped. The stream keeps events longer than the window (`StreamConfig::max_age`).
//!
//! The stage is one consumer of the posts of the whole cluster, and its cost per post is the
//! detector's. If it becomes the bottleneck, band-partitioned candidates merged by union-find
//! are the next step (issue 20).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use async_nats::jetstream::consumer::{DeliverPolicy, pull};
use async_nats::jetstream::{self, Message};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use steward_detect::{Context, Detectors, EarlierSignal, Findings, Settings};
use steward_engine::input::RawRecord;
use steward_model::{Event, Payload, Signal};
use steward_store::{Batch, Store};
use steward_stream::{Publisher, StreamConfig};

use crate::consume::{ack, durable};
use crate::locks::Locks;

/// The stage's lock: objid -1 in the workers' lock class (partitions are 0 and up).
pub const STAGE_LOCK: i32 = -1;

/// The event type token of findings on the stream. Not an event type (those are checked
/// before publishing and have no `-`), so no client can publish one.
pub const FINDING_TYPE: &str = "x-campaign";

/// A signal about a stored post, found by the stage, for the post's partition owner to judge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub event_id: String,
    pub post_id: String,
    pub account_id: String,
    pub signal: Signal,
}

impl From<Finding> for EarlierSignal {
    fn from(f: Finding) -> EarlierSignal {
        EarlierSignal { event_id: f.event_id, post_id: f.post_id, account_id: f.account_id, signal: f.signal }
    }
}

impl From<EarlierSignal> for Finding {
    fn from(e: EarlierSignal) -> Finding {
        Finding { event_id: e.event_id, post_id: e.post_id, account_id: e.account_id, signal: e.signal }
    }
}

/// True for a message on a finding's subject (`<prefix>.x-campaign.<partition>`).
pub fn is_finding(subject: &str) -> bool {
    subject.rsplit('.').nth(1) == Some(FINDING_TYPE)
}

/// The stage's detectors: those of the registry that need every account's posts.
fn detectors() -> Detectors {
    Detectors::with(&Settings::default()).retain(|d| d.needs_every_account())
}

/// Post events seen lately, so that one published again after the stream's duplicate window
/// goes through the detectors once, as in single-box mode.
#[derive(Default)]
struct Seen {
    ids: HashMap<String, i64>,
    order: VecDeque<(i64, String)>,
}

impl Seen {
    /// False when `id` was seen within `window` seconds before `at`.
    fn first(&mut self, id: &str, at: i64, window: i64) -> bool {
        while self.order.front().is_some_and(|(t, _)| *t < at - window) {
            let (_, old) = self.order.pop_front().expect("front exists");
            self.ids.remove(&old);
        }
        if self.ids.contains_key(id) {
            return false;
        }
        self.ids.insert(id.to_string(), at);
        self.order.push_back((at, id.to_string()));
        true
    }
}

pub(crate) struct Stage {
    js: jetstream::Context,
    publisher: Publisher,
    config: StreamConfig,
    store: Arc<dyn Store>,
    locks: Locks,
    handle: tokio::runtime::Handle,
    ack_wait: Duration,
    batch: usize,
    metrics: Arc<crate::metrics::Metrics>,
}

/// The stage's durable consumer: `<stream>-campaigns`.
pub fn consumer_name(config: &StreamConfig) -> String {
    format!("{}-campaigns", config.name)
}

/// The stage while this worker leads: its consumer and the detectors' state.
struct Leading {
    consumer: pull::Stream,
    /// The consumer sequence the next delivery must carry ([`crate::consume::in_turn`]).
    next_delivery: u64,
    detectors: Detectors,
    seen: Seen,
    window: i64,
}

impl Stage {
    pub(crate) fn new(
        publisher: Publisher,
        store: Arc<dyn Store>,
        locks: Locks,
        handle: tokio::runtime::Handle,
        ack_wait: Duration,
        batch: usize,
        metrics: Arc<crate::metrics::Metrics>,
    ) -> Stage {
        Stage {
            js: publisher.jetstream().clone(),
            config: publisher.config().clone(),
            publisher,
            store,
            locks,
            handle,
            ack_wait,
            batch,
            metrics,
        }
    }

    fn consumer_name(&self) -> String {
        consumer_name(&self.config)
    }

    fn filter(&self) -> String {
        format!("{}.{}.*", self.config.subject_prefix, steward_stream::subject_token("post.created"))
    }

    /// Runs until `stop`: tries for the lock every `claim_every`, leads while it holds it.
    pub(crate) fn run(mut self, stop: &AtomicBool, claim_every: Duration) {
        let mut leading: Option<Leading> = None;
        let mut checked = Instant::now() - claim_every;
        while !stop.load(Ordering::SeqCst) {
            if checked.elapsed() >= claim_every {
                checked = Instant::now();
                leading = self.check_lead(leading);
                self.metrics.campaign_stage(leading.is_some());
            }
            let Some(lead) = leading.as_mut() else {
                std::thread::sleep(Duration::from_millis(100));
                continue;
            };
            if let Err(e) = self.step(lead) {
                // Nothing acked: the next leader, or this one after a rebuild, reads it again.
                tracing::error!("campaign stage: {e:#}; rebuilding");
                leading = None;
                self.metrics.campaign_stage(false);
                std::thread::sleep(Duration::from_secs(1));
            }
        }
        self.locks.release_all();
    }

    /// Keeps leading while the lock is held; takes the lock (and rebuilds) when free.
    fn check_lead(&mut self, leading: Option<Leading>) -> Option<Leading> {
        let held = self.locks.held_ids().map(|ids| ids.contains(&STAGE_LOCK)).unwrap_or(false);
        if leading.is_some() {
            if held {
                return leading;
            }
            tracing::warn!("campaign stage lock lost; standing down");
            self.locks.client = None;
            return None;
        }
        match self.locks.try_lock_id(STAGE_LOCK) {
            Ok(true) => match self.elected() {
                Ok(lead) => Some(lead),
                Err(e) => {
                    tracing::error!("campaign stage: cannot start: {e:#}");
                    self.locks.release_all();
                    None
                }
            },
            Ok(false) => None,
            Err(e) => {
                tracing::warn!("campaign stage: cannot take the lock: {e:#}");
                None
            }
        }
    }

    /// Elected: the durable consumer at its ack floor, and the window rebuilt up to it.
    fn elected(&self) -> Result<Leading> {
        let mut detectors = detectors();
        let window = detectors.window().unwrap_or(0);
        let mut seen = Seen::default();
        let started = Instant::now();
        let (consumer, replayed, next_delivery) = self.handle.block_on(async {
            let max_ack_pending = (self.batch * 2).max(1024) as i64;
            let crate::consume::Durable { consumer, floor, next_delivery } = durable(
                &self.js,
                &self.config.name,
                &self.consumer_name(),
                self.filter(),
                self.ack_wait,
                max_ack_pending,
            )
            .await?;
            let replayed = if floor > 0 { self.replay(floor, window, &mut detectors, &mut seen).await? } else { 0 };
            let messages = consumer
                .stream()
                .max_messages_per_batch(self.batch.min(1000))
                .expires(Duration::from_secs(30))
                .heartbeat(Duration::from_secs(5))
                .messages()
                .await
                .context("pulling posts")?;
            anyhow::Ok((messages, replayed, next_delivery))
        })?;
        tracing::info!(replayed, seconds = started.elapsed().as_secs_f64(), "campaign stage elected");
        Ok(Leading { consumer, next_delivery, detectors, seen, window })
    }

    /// Feeds the posts from (the floor's time − window − 1 h) through the floor to the
    /// detectors, findings dropped. Returns how many.
    async fn replay(&self, floor: u64, window: i64, detectors: &mut Detectors, seen: &mut Seen) -> Result<usize> {
        let stream = self.js.get_stream(&self.config.name).await?;
        let last = match stream.get_raw_message(floor).await {
            Ok(m) => m,
            Err(e) => {
                // Gone by age (kept longer than the window): nothing of the window is left.
                tracing::warn!(
                    floor,
                    "campaign stage: the last acknowledged post is not in the stream ({e}); no replay"
                );
                return Ok(0);
            }
        };
        let start_time = last.time - time::Duration::seconds(window + 3600);
        let replay = stream
            .create_consumer(pull::OrderedConfig {
                filter_subject: self.filter(),
                deliver_policy: DeliverPolicy::ByStartTime { start_time },
                ..Default::default()
            })
            .await?;
        let mut messages = replay.messages().await?;
        let mut scratch = Findings::default();
        let mut n = 0;
        // Every post up to the floor is in the stream: a pause means the stream lost some.
        while let Ok(Some(m)) = tokio::time::timeout(Duration::from_secs(10), messages.next()).await {
            let m = m.map_err(|e| anyhow::anyhow!("replay: {e}"))?;
            let info = m.info().map_err(|e| anyhow::anyhow!("replay: {e}"))?;
            let (sequence, last) = (info.stream_sequence, info.pending == 0);
            if sequence > floor {
                break;
            }
            if let Some(event) = post_event(&m.payload)
                && seen.first(&event.id, event.at.timestamp(), window)
            {
                scratch.clear();
                detectors.replay(&Context { event: &event, account: None }, &mut scratch);
                n += 1;
            }
            // A caught-up consumer's ack floor may be past its last post (the server moves it over
            // the messages its filter skips): the last post of the stream ends the replay too,
            // rather than a 10-s wait for a post that never comes.
            if sequence == floor || last {
                break;
            }
        }
        Ok(n)
    }

    /// One batch: what has arrived, through the detectors; findings published, campaigns
    /// stored, then the posts acknowledged.
    fn step(&self, lead: &mut Leading) -> Result<()> {
        let max = self.batch;
        let messages: Vec<Message> = self.handle.block_on(async {
            let mut got = Vec::new();
            let Ok(first) = tokio::time::timeout(Duration::from_millis(100), lead.consumer.next()).await else {
                return anyhow::Ok(got);
            };
            match first {
                Some(m) => got.push(m.map_err(|e| anyhow::anyhow!("pulling posts: {e}"))?),
                None => anyhow::bail!("the posts' consumer ended"),
            }
            let deadline = tokio::time::Instant::now() + Duration::from_millis(20);
            while got.len() < max {
                match tokio::time::timeout_at(deadline, lead.consumer.next()).await {
                    Ok(Some(Ok(m))) => got.push(m),
                    Ok(Some(Err(e))) => anyhow::bail!("pulling posts: {e}"),
                    _ => break,
                }
            }
            Ok(got)
        })?;
        if messages.is_empty() {
            return Ok(());
        }
        for m in &messages {
            if let Err(delivery) = crate::consume::in_turn(m, &mut lead.next_delivery) {
                anyhow::bail!(
                    "delivery {delivery} came where {} was due (one was lost on the way)",
                    lead.next_delivery
                );
            }
        }
        let mut findings = Findings::default();
        let mut out: Vec<Finding> = Vec::new();
        let mut batch = Batch::default();
        for m in &messages {
            let Some(event) = post_event(&m.payload) else { continue };
            if !lead.seen.first(&event.id, event.at.timestamp(), lead.window) {
                continue;
            }
            findings.clear();
            lead.detectors.inspect(&Context { event: &event, account: None }, &mut findings);
            if let Payload::PostCreated(post) = &event.payload {
                out.extend(findings.signals.drain(..).map(|signal| Finding {
                    event_id: event.id.clone(),
                    post_id: post.id.clone(),
                    account_id: post.account_id.clone(),
                    signal,
                }));
            }
            out.extend(findings.earlier.drain(..).map(Finding::from));
            batch.groups.append(&mut findings.groups);
        }
        self.publish(&out)?;
        if !batch.is_empty() {
            self.store.commit(&batch).context("storing campaigns")?;
        }
        let fetched = vec![(0, messages)];
        self.handle.block_on(ack(&fetched));
        Ok(())
    }

    /// Publishes findings and waits for every ack.
    fn publish(&self, findings: &[Finding]) -> Result<()> {
        if findings.is_empty() {
            return Ok(());
        }
        let events: Vec<steward_stream::Event> = findings
            .iter()
            .map(|f| {
                Ok(steward_stream::Event {
                    event_id: format!("{}/{}", f.signal.detector, f.event_id),
                    event_type: FINDING_TYPE.to_string(),
                    account_id: f.account_id.clone(),
                    payload: serde_json::to_vec(f)?.into(),
                })
            })
            .collect::<Result<_, serde_json::Error>>()?;
        let results = self.handle.block_on(self.publisher.publish_batch(&events));
        if let Some(e) = results.into_iter().find_map(Result::err) {
            anyhow::bail!("publishing campaign findings: {e}");
        }
        Ok(())
    }
}

/// A post event from the stream, or `None` for anything else (logged: publishers validate).
fn post_event(payload: &[u8]) -> Option<Event> {
    let now = chrono::Utc::now();
    let parsed = steward_engine::parse_records(&[RawRecord { bytes: payload, line: None }], &Default::default(), now);
    match parsed.into_iter().next().map(|p| p.result) {
        Some(Ok((event, _))) if matches!(event.payload, Payload::PostCreated(_)) => Some(event),
        Some(Ok(_)) => None,
        Some(Err(e)) => {
            tracing::warn!("campaign stage: a post event that does not parse: {e}");
            None
        }
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn findings_are_told_from_events_by_subject() {
        assert!(is_finding("ev.x-campaign.12"));
        assert!(!is_finding("ev.post_created.12"));
        assert!(!is_finding("x-campaign"));
    }

    #[test]
    fn a_post_seen_again_within_the_window_counts_once() {
        let mut seen = Seen::default();
        assert!(seen.first("a", 100, 50));
        assert!(!seen.first("a", 120, 50));
        assert!(seen.first("b", 200, 50));
        // "a" fell out of the window: seen again, it counts again.
        assert!(seen.first("a", 201, 50));
    }

    #[test]
    fn the_stage_runs_exactly_the_detectors_workers_leave_out() {
        let stage = detectors().names();
        assert_eq!(stage, vec!["copy_campaign"]);
        let partitioned = Detectors::with(&Settings::default()).retain(|d| !d.needs_every_account()).names();
        assert!(!partitioned.contains(&"copy_campaign"));
        assert_eq!(stage.len() + partitioned.len(), Detectors::with(&Settings::default()).names().len());
    }
}
