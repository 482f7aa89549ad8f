//! Accepting and keeping connections, within bounds. `axum::serve` keeps every socket for
//! as long as the client likes: idle sockets, headers sent a byte at a time and bodies that
//! never end would hold file descriptors until none is left and `/healthz` stops answering.
//! Here:
//! - a request's headers must arrive within [`Limits::header_timeout`] of the connection's
//!   opening or of the previous answer (which also ends idle connections), and its body
//!   within [`Limits::body_timeout`];
//! - at most [`Limits::max_connections`] are held. When a new one comes and all places are
//!   taken, the connection that has waited longest without a request in progress gives up
//!   its place (or, when every one has a request in progress, the one busy longest). A
//!   slow-loris client then only displaces its own sockets: a real request sends its
//!   headers at once and is served before its turn to be displaced comes.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tower::ServiceExt;

use crate::{AppState, Limits, Metrics, router};

/// Serves `state`'s API on `listener` until `shutdown` completes, then lets requests in
/// progress finish (for up to the body timeout) and returns.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let limits = state.limits;
    let metrics = state.metrics.clone();
    let app = router(state);
    let places = Arc::new(Places::new(limits.max_connections));
    let (stop, stopping) = watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    let mut last_accept_error: Option<Instant> = None;
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of descriptors (EMFILE) and the like: say so now and then, and let
                // connections close before trying again.
                if last_accept_error.is_none_or(|at| at.elapsed() > Duration::from_secs(5)) {
                    tracing::error!("accepting a connection: {e}");
                    last_accept_error = Some(Instant::now());
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        if let Some(displaced) = places.make_room() {
            metrics.connection_displaced();
            displaced.displaced.notify_one();
        }
        let place = places.take();
        let (app, stopping, metrics) = (app.clone(), stopping.clone(), metrics.clone());
        tokio::spawn(connection(stream, app, place, limits, stopping, metrics));
    }
    let _ = stop.send(true);
    // Requests in progress finish; idle connections close at once.
    let deadline = Instant::now() + limits.body_timeout;
    while places.open() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(())
}

/// One connection, from accept to close.
async fn connection(
    stream: tokio::net::TcpStream,
    app: Router,
    place: Arc<Place>,
    limits: Limits,
    mut stopping: watch::Receiver<bool>,
    metrics: Arc<Metrics>,
) {
    metrics.connection_opened();
    let in_service = place.clone();
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let busy = Busy::begin(in_service.clone());
        let app = app.clone();
        async move {
            let response = app.oneshot(request.map(axum::body::Body::new)).await;
            drop(busy);
            response
        }
    });
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout).keep_alive(true);
    let conn = http.serve_connection(TokioIo::new(stream), service);
    let mut conn = std::pin::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        () = place.displaced.notified() => {}
        () = async { drop(stopping.wait_for(|stop| *stop).await) } => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(limits.body_timeout, conn).await;
        }
    }
    place.close();
    metrics.connection_closed();
}

/// The connections held, for finding the one to displace.
struct Places {
    max: usize,
    open: AtomicUsize,
    next_id: AtomicU64,
    held: Mutex<HashMap<u64, Arc<Place>>>,
    epoch: Instant,
}

/// One connection's place.
struct Place {
    id: u64,
    places: std::sync::Weak<Places>,
    /// Requests in progress.
    busy: AtomicUsize,
    /// When it was opened, or its last request began or was answered, in ms since the
    /// places' epoch.
    since: AtomicU64,
    displaced: Notify,
}

impl Places {
    fn new(max: usize) -> Self {
        Places {
            max: max.max(1),
            open: AtomicUsize::new(0),
            next_id: AtomicU64::new(0),
            held: Mutex::default(),
            epoch: Instant::now(),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn open(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// When every place is taken: the connection to go (its place is freed when it closes),
    /// the idle one that has waited longest, or when all are busy, the one busy longest
    /// (slow bodies hold a request open). `None` when there is room.
    fn make_room(&self) -> Option<Arc<Place>> {
        if self.open() < self.max {
            return None;
        }
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        let oldest =
            held.values().min_by_key(|p| (p.busy.load(Ordering::Relaxed) > 0, p.since.load(Ordering::Relaxed)))?.id;
        // Out of the running at once, so the next newcomer displaces another.
        held.remove(&oldest)
    }

    fn take(self: &Arc<Self>) -> Arc<Place> {
        let place = Arc::new(Place {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            places: Arc::downgrade(self),
            busy: AtomicUsize::new(0),
            since: AtomicU64::new(self.now_ms()),
            displaced: Notify::new(),
        });
        self.open.fetch_add(1, Ordering::Relaxed);
        self.held.lock().unwrap_or_else(|e| e.into_inner()).insert(place.id, place.clone());
        place
    }
}

impl Place {
    fn touch(&self) {
        if let Some(places) = self.places.upgrade() {
            self.since.store(places.now_ms(), Ordering::Relaxed);
        }
    }

    fn close(&self) {
        if let Some(places) = self.places.upgrade() {
            places.held.lock().unwrap_or_else(|e| e.into_inner()).remove(&self.id);
            places.open.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// A request in progress on a connection: it is not displaced meanwhile.
struct Busy(Arc<Place>);

impl Busy {
    fn begin(place: Arc<Place>) -> Busy {
        place.busy.fetch_add(1, Ordering::Relaxed);
        place.touch();
        Busy(place)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.touch();
        self.0.busy.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_idle_connection_makes_room_and_a_busy_one_last() {
        let places = Arc::new(Places::new(3));
        let held: Vec<Arc<Place>> = (0..3).map(|_| places.take()).collect();
        let busy = Busy::begin(held[2].clone());
        for (p, since) in held.iter().zip([5, 1, 0]) {
            p.since.store(since, Ordering::Relaxed);
        }
        assert_eq!(places.make_room().map(|p| p.id), Some(held[1].id));
        // Still full until it closes; the next newcomer displaces the next one.
        assert_eq!(places.make_room().map(|p| p.id), Some(held[0].id));
        assert_eq!(places.make_room().map(|p| p.id), Some(held[2].id), "only a busy one is left");
        assert_eq!(places.make_room().map(|p| p.id), None, "none left to displace");
        held[1].close();
        assert_eq!(places.open(), 2);
        assert!(places.make_room().is_none(), "there is room now");
        drop(busy);
    }
}
