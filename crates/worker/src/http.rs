//! `--metrics-listen`: `/metrics` (Prometheus text) and `/healthz`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use anyhow::{Context, Result};
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

use crate::metrics::Metrics;

#[derive(Clone)]
struct Served {
    metrics: Arc<Metrics>,
    nats: async_nats::Client,
}

/// Binds `addr` now (so a bad address fails the start), then serves on the runtime.
pub(crate) fn serve(
    runtime: &tokio::runtime::Runtime,
    addr: SocketAddr,
    metrics: Arc<Metrics>,
    nats: async_nats::Client,
) -> Result<()> {
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind(addr))
        .with_context(|| format!("cannot listen on {addr} for --metrics-listen"))?;
    let app = Router::new()
        .route("/metrics", get(metrics_text))
        .route("/healthz", get(healthz))
        .with_state(Served { metrics, nats });
    runtime.spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!("metrics server on {addr}: {e}");
        }
    });
    tracing::info!(%addr, "serving /metrics and /healthz");
    Ok(())
}

async fn metrics_text(State(s): State<Served>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], s.metrics.render())
}

/// 200 while the worker runs, its NATS connection is up and its last contact with PostgreSQL
/// succeeded; 503 naming what is not, else.
async fn healthz(State(s): State<Served>) -> impl IntoResponse {
    let mut down = Vec::new();
    if !s.metrics.running.load(Ordering::Relaxed) {
        down.push("worker stopped");
    }
    if s.nats.connection_state() != async_nats::connection::State::Connected {
        down.push("NATS disconnected");
    }
    if !s.metrics.store_up.load(Ordering::Relaxed) {
        down.push("PostgreSQL unreachable");
    }
    if down.is_empty() {
        (StatusCode::OK, "ok\n".to_string())
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, down.join("; ") + "\n")
    }
}
