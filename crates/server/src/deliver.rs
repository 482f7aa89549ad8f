//! The deliverer: a task that reads the outbox and POSTs each notice to its audience's
//! webhook endpoint, signed.
//!
//! Each request carries the notice as JSON and three headers:
//! - `Steward-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`, signed
//!   afresh on every attempt;
//! - `Idempotency-Key: <notice id>`, the same on every attempt, for the receiver to drop
//!   duplicates (delivery is at least once);
//! - `Steward-Attempt: <n>`, counting from 1.
//!
//! A 2xx answer delivers the notice. Any other status, a timeout or a connection error is a
//! failed attempt: the notice is tried again after `base·2^(k-1)` (at most the cap), ±20%,
//! and after the last attempt it is dead, listed for admins to replay. Only the oldest
//! pending notice of a recipient is ever sent, so a recipient's notices arrive in order;
//! different recipients' go at once, up to the configured concurrency. Killed at any point,
//! a restarted server sends again whatever was not recorded as delivered.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use steward_model::{Audience, StoredNotice};
use steward_store::Store;
use tokio::task::JoinSet;

use crate::Metrics;
use crate::webhooks::{Endpoint, Settings, WebhookConfig};

/// The hex HMAC-SHA256 of `"<t>.<body>"` under `secret`.
pub fn signature(secret: &[u8], t: i64, body: &[u8]) -> String {
    // HMAC takes a key of any length.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap_or_else(|_| unreachable!());
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// The `Steward-Signature` header value for `body` sent at unix time `t`.
pub fn signature_header(secret: &[u8], t: i64, body: &[u8]) -> String {
    format!("t={t},v1={}", signature(secret, t, body))
}

/// The wait before attempt `failed + 1`, after `failed` failures (≥ 1): the base doubled
/// each time, at most the cap, times `jitter` (0.8 to 1.2).
pub fn backoff(settings: &Settings, failed: u32, jitter: f64) -> Duration {
    let doubled = settings.backoff_base.saturating_mul(2u32.saturating_pow(failed.saturating_sub(1).min(31)));
    doubled.min(settings.backoff_cap).mul_f64(jitter.clamp(0.8, 1.2))
}

/// Starts delivering in the background, on the current Tokio runtime; the task runs until
/// the runtime stops.
pub fn spawn(store: Arc<dyn Store>, metrics: Arc<Metrics>, config: WebhookConfig) -> tokio::task::JoinHandle<()> {
    tokio::spawn(Deliverer::new(store, metrics, config).run())
}

struct Deliverer {
    store: Arc<dyn Store>,
    metrics: Arc<Metrics>,
    endpoints: Arc<HashMap<Audience, Endpoint>>,
    settings: Settings,
    client: reqwest::Client,
}

/// Heads read from the outbox at once, per place of concurrency.
const READ_AHEAD: usize = 8;

/// The delivery order key: a recipient of an audience.
type Queue = (Audience, String);

impl Deliverer {
    fn new(store: Arc<dyn Store>, metrics: Arc<Metrics>, config: WebhookConfig) -> Deliverer {
        let client = reqwest::Client::builder()
            .timeout(config.settings.timeout)
            .pool_max_idle_per_host(config.settings.concurrency)
            .user_agent(concat!("steward/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        Deliverer { store, metrics, endpoints: Arc::new(config.endpoints), settings: config.settings, client }
    }

    async fn run(self) {
        let audiences: Vec<Audience> = self.endpoints.keys().copied().collect();
        let concurrency = self.settings.concurrency;
        let mut busy: HashSet<Queue> = HashSet::new();
        let mut tasks: JoinSet<Queue> = JoinSet::new();
        // Heads read from the outbox and not yet sent. Only this task sends or records
        // them, so they stay heads while they wait.
        let mut ready: VecDeque<StoredNotice> = VecDeque::new();
        let mut backlog_at = Instant::now() - Duration::from_secs(1);
        loop {
            // Read more once the last read is used up and half the places are free: one
            // read serves many sends.
            if ready.is_empty() && tasks.len() <= concurrency / 2 {
                if backlog_at.elapsed() >= Duration::from_secs(1) {
                    backlog_at = Instant::now();
                    if let Ok(Ok(n)) = self.blocking(|s| s.notice_backlog()).await {
                        self.metrics.notice_backlog(n);
                    }
                }
                let want = READ_AHEAD * concurrency + busy.len();
                let audiences = audiences.clone();
                match self.blocking(move |s| s.due_notices(Utc::now(), &audiences, want)).await {
                    Ok(Ok(due)) => ready.extend(
                        due.into_iter().filter(|n| !busy.contains(&(n.notice.audience, n.notice.recipient.clone()))),
                    ),
                    Ok(Err(e)) => tracing::warn!("reading the outbox: {e}"),
                    Err(e) => tracing::warn!("reading the outbox: {e}"),
                }
            }
            while tasks.len() < concurrency
                && let Some(n) = ready.pop_front()
            {
                let queue = (n.notice.audience, n.notice.recipient.clone());
                if busy.insert(queue.clone()) {
                    tasks.spawn(self.attempt(n, queue));
                }
            }
            let idle = ready.is_empty() && tasks.len() <= concurrency / 2;
            tokio::select! {
                Some(done) = tasks.join_next() => {
                    match done {
                        Ok(queue) => { busy.remove(&queue); }
                        // An attempt's task cannot panic short of a bug; its queue stays
                        // busy until restart rather than risk sending out of order.
                        Err(e) => tracing::error!("a delivery task failed: {e}"),
                    }
                    // Collect whatever else has finished before going on.
                    while let Some(Some(done)) = tasks.join_next().now_or_never() {
                        if let Ok(queue) = done { busy.remove(&queue); }
                    }
                }
                _ = tokio::time::sleep(self.settings.poll), if idle => {}
            }
        }
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn Store) -> T + Send + 'static,
    ) -> Result<T, tokio::task::JoinError> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || f(store.as_ref())).await
    }

    /// One attempt at `n`, recorded in the store before the queue is free again.
    fn attempt(&self, n: StoredNotice, queue: Queue) -> impl Future<Output = Queue> + Send + 'static {
        let (store, metrics, endpoints, client) =
            (self.store.clone(), self.metrics.clone(), self.endpoints.clone(), self.client.clone());
        let settings = self.settings;
        async move {
            let Some(endpoint) = endpoints.get(&n.notice.audience) else { return queue };
            let result = send(&client, endpoint, &n).await;
            let id = n.notice.id.clone();
            let recorded = match result {
                Ok(()) => {
                    metrics.notice_delivered();
                    tokio::task::spawn_blocking(move || store.notice_delivered(&id, Utc::now())).await
                }
                Err(error) => {
                    let attempts = n.delivery.attempts.saturating_add(1);
                    let dead = attempts >= settings.attempts;
                    metrics.notice_failed(dead);
                    let wait = backoff(&settings, attempts, rand::random_range(0.8..=1.2));
                    let next = Utc::now() + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::hours(6));
                    if dead {
                        tracing::warn!(notice = %id, attempts, "notice dead: {error}");
                    }
                    tokio::task::spawn_blocking(move || store.notice_failed(&id, attempts, next, &error, dead)).await
                }
            };
            match recorded {
                Ok(Ok(())) => {}
                // Not recorded: the notice is still pending and goes again (at least once).
                Ok(Err(e)) => tracing::warn!(notice = %n.notice.id, "recording a delivery: {e}"),
                Err(e) => tracing::warn!(notice = %n.notice.id, "recording a delivery: {e}"),
            }
            queue
        }
    }
}

/// Errors kept with a notice are cut to this many bytes.
const ERROR_BYTES: usize = 500;

/// POSTs the notice; `Err` says why the attempt failed.
async fn send(client: &reqwest::Client, endpoint: &Endpoint, n: &StoredNotice) -> Result<(), String> {
    let body = serde_json::to_vec(&n.notice).map_err(|e| e.to_string())?;
    let t = Utc::now().timestamp();
    let sent = client
        .post(endpoint.url.clone())
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("Steward-Signature", signature_header(&endpoint.secret, t, &body))
        .header("Idempotency-Key", &n.notice.id)
        .header("Steward-Attempt", n.delivery.attempts.saturating_add(1).to_string())
        .body(body)
        .send()
        .await;
    let outcome = match sent {
        Ok(r) => {
            let status = r.status();
            // Read the answer so the connection is kept for the next request.
            let _ = r.bytes().await;
            if status.is_success() { Ok(()) } else { Err(format!("HTTP {status}")) }
        }
        Err(e) => Err(describe(&e)),
    };
    outcome.map_err(|mut e| {
        if e.len() > ERROR_BYTES {
            let cut = (0..=ERROR_BYTES).rev().find(|i| e.is_char_boundary(*i)).unwrap_or(0);
            e.truncate(cut);
        }
        e
    })
}

/// A request error with its causes (reqwest's own message alone says little).
fn describe(e: &reqwest::Error) -> String {
    let mut out = if e.is_timeout() { "timed out".to_string() } else { e.to_string() };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// `FutureExt::now_or_never`, without the dependency.
trait NowOrNever: Future + Sized {
    fn now_or_never(self) -> Option<Self::Output> {
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        let mut this = std::pin::pin!(self);
        match this.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(v) => Some(v),
            std::task::Poll::Pending => None,
        }
    }
}

impl<F: Future> NowOrNever for F {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_the_cap_with_jitter() {
        let s = Settings::default();
        let secs = |k, j| backoff(&s, k, j).as_secs_f64();
        assert_eq!((secs(1, 1.0), secs(2, 1.0), secs(3, 1.0)), (10.0, 20.0, 40.0));
        assert_eq!((secs(12, 1.0), secs(13, 1.0)), (20_480.0, 6.0 * 3600.0));
        assert_eq!(secs(1000, 1.0), 6.0 * 3600.0);
        assert_eq!((secs(1, 0.8), secs(1, 1.2), secs(1, 5.0)), (8.0, 12.0, 12.0));
    }

    #[test]
    fn the_signature_is_hmac_sha256_of_time_dot_body() {
        let mut mac = Hmac::<Sha256>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"1700000000.what do ya want for nothing?");
        let whole = hex::encode(mac.finalize().into_bytes());
        assert_eq!(signature(b"Jefe", 1_700_000_000, b"what do ya want for nothing?"), whole);
        assert_eq!(
            signature_header(b"Jefe", 1_700_000_000, b"what do ya want for nothing?"),
            format!("t=1700000000,v1={whole}")
        );
    }
}
