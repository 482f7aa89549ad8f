//! The hub: configuration, the bots connected now, and the channel events leave by.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;

use crate::client::{ActionClient, DEFAULT_TIMEOUT, Link};
use crate::event::Event;

/// How the adapter accepts implementations.
#[derive(Debug, Clone)]
pub struct HubConfig {
    /// Reverse WebSocket access token; `None` accepts any connection.
    pub access_token: Option<String>,
    /// HTTP POST signing secret; `None` accepts unsigned posts.
    pub secret: Option<String>,
    /// Most reverse WebSocket connections at once; more are answered 503.
    pub max_connections: usize,
    /// How long an action waits for its answer.
    pub action_timeout: Duration,
    /// Events buffered before connections wait for the consumer.
    pub event_buffer: usize,
}

impl Default for HubConfig {
    fn default() -> Self {
        HubConfig {
            access_token: None,
            secret: None,
            max_connections: 16,
            action_timeout: DEFAULT_TIMEOUT,
            event_buffer: 1024,
        }
    }
}

/// An event and the bot account it came to.
#[derive(Debug, Clone, PartialEq)]
pub struct Incoming {
    pub self_id: String,
    pub event: Event,
}

/// Shared state of the adapter's routes; cheap to clone.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

struct Inner {
    config: HubConfig,
    events: mpsc::Sender<Incoming>,
    links: Mutex<HashMap<String, Arc<Link>>>,
    connections: AtomicUsize,
}

impl Hub {
    /// A hub and the receiving end of its events.
    pub fn new(config: HubConfig) -> (Hub, mpsc::Receiver<Incoming>) {
        let (events, rx) = mpsc::channel(config.event_buffer.max(1));
        let inner = Inner { config, events, links: Mutex::new(HashMap::new()), connections: AtomicUsize::new(0) };
        (Hub { inner: Arc::new(inner) }, rx)
    }

    /// The configuration.
    pub fn config(&self) -> &HubConfig {
        &self.inner.config
    }

    /// A client for bot `self_id`: each call goes over that bot's connection at the time,
    /// so a reconnect is picked up; with none, calls fail with `Disconnected`.
    pub fn client(&self, self_id: &str) -> ActionClient {
        ActionClient::over_hub(self.clone(), self_id.to_string(), self.inner.config.action_timeout)
    }

    /// The bots with an action connection now, sorted.
    pub fn bots(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.links().keys().cloned().collect();
        ids.sort();
        ids
    }

    /// Reverse WebSocket connections open now.
    pub fn connections(&self) -> usize {
        self.inner.connections.load(Ordering::Relaxed)
    }

    /// Room for one event in the channel; `None` when no one receives events.
    pub(crate) async fn reserve(&self) -> Option<mpsc::Permit<'_, Incoming>> {
        self.inner.events.reserve().await.ok()
    }

    pub(crate) async fn deliver(&self, incoming: Incoming) {
        if self.inner.events.send(incoming).await.is_err() {
            tracing::debug!("onebot: no one receives events; one dropped");
        }
    }

    fn links(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Link>>> {
        self.inner.links.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn link(&self, self_id: &str) -> Option<Arc<Link>> {
        self.links().get(self_id).cloned()
    }

    /// Makes `link` the bot's action connection; an older one is closed.
    pub(crate) fn attach(&self, self_id: &str, link: Arc<Link>) {
        if let Some(old) = self.links().insert(self_id.to_string(), link) {
            old.close();
        }
    }

    /// Forgets `link` if it is still the bot's action connection.
    pub(crate) fn detach(&self, self_id: &str, link: &Arc<Link>) {
        let mut links = self.links();
        if links.get(self_id).is_some_and(|l| Arc::ptr_eq(l, link)) {
            links.remove(self_id);
        }
        link.close();
    }

    /// Takes a connection slot, or `None` when all are taken.
    pub(crate) fn take_slot(&self) -> Option<Slot> {
        let max = self.inner.config.max_connections;
        self.inner
            .connections
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < max).then_some(n + 1))
            .ok()
            .map(|_| Slot(self.clone()))
    }
}

/// A connection slot, given back when dropped.
pub(crate) struct Slot(Hub);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.inner.connections.fetch_sub(1, Ordering::AcqRel);
    }
}
