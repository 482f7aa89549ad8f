//! The HTTP API of steward: a thin adapter that turns requests into engine commands and
//! engine results into responses. No governance logic lives here.
//!
//! Every handler has the same shape: the [`auth::Caller`] extractor, a validated request, one
//! call into the engine or the store, a typed response. [`ApiError`] is the one place where
//! errors become HTTP statuses.
//!
//! ```no_run
//! # async fn run() -> anyhow::Result<()> {
//! use std::sync::Arc;
//! let store = steward_store::open(std::path::Path::new("steward-data"), None)?;
//! let policy = Arc::new(steward_engine::default_policy()?);
//! let engine = steward_engine::Engine::open(store.clone(), policy.clone(), Default::default())?;
//! let state = steward_server::AppState::new(engine, steward_server::Limits::default());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! steward_server::serve(listener, state, std::future::pending()).await?;
//! # Ok(()) }
//! ```

use std::sync::{Arc, RwLock};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;
use steward_engine::{Engine, RuleStats};
use steward_policy::Policy;
use steward_store::{Store, StoreError};

mod answer;
pub mod auth;
mod campaigns;
mod connections;
pub mod console;
pub mod deliver;
pub mod extract;
mod ingest;
mod limits;
mod metrics;
mod notices;
mod openapi;
mod policy;
pub mod publish;
mod review;
mod routes;
mod transparency;
pub mod webhooks;

pub use answer::IngestAnswer;
pub use connections::serve;
pub use ingest::{EngineHandle, Sink};
pub use limits::Limits;
pub use metrics::Metrics;

/// Shared state of all handlers.
#[derive(Clone)]
pub struct AppState {
    pub engine: EngineHandle,
    pub store: Arc<dyn Store>,
    /// The policy in force; replaced when a new version is activated.
    policy: Arc<RwLock<Arc<Policy>>>,
    pub rule_stats: Arc<RuleStats>,
    pub keys: auth::KeyCache,
    pub metrics: Arc<Metrics>,
    pub limits: Limits,
    /// Console sign-ins.
    pub sessions: console::Sessions,
    /// Set when `GET /transparency` serves the public page.
    public_transparency: Option<Arc<transparency::PublicPage>>,
}

impl AppState {
    /// Moves the engine onto its own writer thread and builds the state around it.
    pub fn new(engine: Engine, limits: Limits) -> AppState {
        let store = engine.store().clone();
        let policy = Arc::new(RwLock::new(engine.policy().clone()));
        let rule_stats = engine.stats().clone();
        let metrics = Arc::new(Metrics::default());
        AppState {
            engine: EngineHandle::spawn(engine, limits, metrics.clone()),
            store,
            policy,
            rule_stats,
            keys: auth::KeyCache::default(),
            metrics,
            limits,
            sessions: console::Sessions::default(),
            public_transparency: None,
        }
    }

    /// Ingest publishes accepted events to the NATS JetStream stream (distributed mode)
    /// instead of committing them to the local store; a request is answered `accepted` only
    /// for events JetStream acknowledged. Everything else is served as without it.
    pub fn with_publisher(mut self, publisher: steward_stream::Publisher) -> AppState {
        self.engine = self.engine.with_publisher(publisher);
        self
    }

    /// Serves the transparency report to anyone at `GET /transparency` (off by default).
    pub fn with_public_transparency(mut self) -> AppState {
        self.public_transparency = Some(Arc::default());
        self
    }

    /// The policy in force.
    pub fn policy(&self) -> Arc<Policy> {
        self.policy.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn set_policy(&self, policy: Arc<Policy>) {
        *self.policy.write().unwrap_or_else(|e| e.into_inner()) = policy;
    }
}

/// All routes.
pub fn router(state: AppState) -> Router {
    let (max_body, body_timeout) = (state.limits.max_body_bytes, state.limits.body_timeout);
    Router::new()
        .route("/v1/events", post(routes::post_events))
        .route("/v1/decisions", get(routes::get_decisions))
        .route("/v1/decisions/{id}", get(routes::get_decision))
        .route("/v1/accounts/{id}/standing", get(routes::get_standing))
        .route("/v1/campaigns", get(campaigns::list))
        .route("/v1/campaigns/{id}", get(campaigns::get))
        .route("/v1/policy", get(policy::get).post(policy::post))
        .route("/v1/policy/test", post(policy::test))
        .route("/v1/policy/rules/{id}/rearm", post(policy::rearm))
        .route("/v1/reports", post(review::post_report))
        .route("/v1/reports/{id}", get(review::get_report))
        .route("/v1/reporters/{id}", get(review::get_reporter))
        .route("/v1/reporters/{id}/mute", post(review::mute_reporter))
        .route("/v1/queues", get(review::get_queues))
        .route("/v1/queues/{queue}/next", post(review::next_case))
        .route("/v1/cases", get(review::list_cases))
        .route("/v1/cases/{id}", get(review::get_case))
        .route("/v1/cases/{id}/actions", post(review::act))
        .route("/v1/appeals", post(review::post_appeal))
        .route("/v1/appeals/{id}", get(review::get_appeal))
        .route("/v1/notices", get(notices::list))
        .route("/v1/notices/dead", get(notices::dead))
        .route("/v1/notices/{id}/replay", post(notices::replay))
        .route("/v1/transparency", get(transparency::get))
        .route("/transparency", get(transparency::public))
        .route("/healthz", get(routes::healthz))
        .route("/metrics", get(routes::metrics))
        .route("/openapi.json", get(openapi::serve))
        .merge(console::router())
        .fallback(no_route)
        .method_not_allowed_fallback(no_method)
        .layer(DefaultBodyLimit::max(max_body))
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(body_timeout))
        .with_state(state)
}

/// 404 for a path no route serves, answered like every other error.
async fn no_route(uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(format!("no route {}; the routes are listed at /openapi.json", uri.path()))
}

/// 405 for a method a route does not take.
async fn no_method(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, format!("{} does not take {method}", uri.path()))
}

/// An error answered to the client: a status and a message, as `{"error": "..."}`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    /// Seconds for a `Retry-After` header.
    pub retry_after: Option<u32>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError { status, message: message.into(), retry_after: None }
    }
    pub fn bad_request(m: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, m)
    }
    pub fn unauthorized(m: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, m)
    }
    pub fn forbidden(m: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, m)
    }
    pub fn not_found(m: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, m)
    }
    pub fn unprocessable(m: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, m)
    }
    /// 503 with `Retry-After`: the server is at a bound and the client should come back.
    pub fn busy(m: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, m).retry_after(1)
    }
    pub fn retry_after(mut self, seconds: u32) -> Self {
        self.retry_after = Some(seconds);
        self
    }
    pub fn internal(m: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, m)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        tracing::error!("store: {e}");
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, format!("storage unavailable: {e}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(ErrorBody { error: self.message })).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(axum::http::header::WWW_AUTHENTICATE, axum::http::HeaderValue::from_static("Bearer"));
        }
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, seconds.into());
        }
        response
    }
}
