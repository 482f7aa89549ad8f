//! Request handlers. Each: the caller's role, a validated request, one engine or store call,
//! a typed response.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use steward_engine::input::BodyFormat;
use steward_model::{Decision, Role, Standing};

use crate::auth::Caller;
use crate::extract::{Body, Path, Query};
use crate::ingest::IngestFailure;
use crate::review::{DecisionView, decision_view};
use crate::{ApiError, AppState, ErrorBody, IngestAnswer};

/// Ingest events: a JSON array, or NDJSON with `Content-Type: application/x-ndjson`.
/// Answers 200 when anything was accepted or was a replay, 400 when every record was
/// rejected. The answer is bounded whatever the body holds: the first rejections in full
/// and the rest counted by field and reason, the first decisions in full and every
/// decision's id. A large body is processed a slice at a time, in turn with other requests.
#[utoipa::path(post, path = "/v1/events", tag = "events",
    request_body(content = Vec<Object>, description = "Events", content_type = "application/json"),
    responses(
        (status = 200, description = "Stored; valid records kept", body = IngestAnswer),
        (status = 400, description = "Malformed body, or every record rejected", body = IngestAnswer),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 413, description = "Body over the size limit", body = ErrorBody),
        (status = 503, description = "Too much waiting (retry after the Retry-After seconds), or storage failed", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn post_events(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Response, ApiError> {
    caller.require(Role::can_ingest, "send events")?;
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let format = if content_type.starts_with("application/x-ndjson") || content_type.starts_with("application/jsonl") {
        BodyFormat::Ndjson
    } else {
        BodyFormat::JsonArray
    };
    let answer = state.engine.ingest(body, format).await.map_err(|e| ingest_error(&state, e))?;
    let status = if answer.accepted + answer.duplicates == 0 && answer.rejected_total > 0 {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    Ok((status, Json(answer)).into_response())
}

/// What an ingest failure is answered with.
pub(crate) fn ingest_error(state: &AppState, e: IngestFailure) -> ApiError {
    match e {
        IngestFailure::BadBody(m) => ApiError::bad_request(format!(
            "{m}; send a JSON array of events, or NDJSON with Content-Type: application/x-ndjson"
        )),
        IngestFailure::Engine { error, stored: 0 } => {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, format!("{error}; nothing of this request was stored"))
        }
        IngestFailure::Engine { error, stored } => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "{error}; the first {stored} records of this request were stored and the rest were not: \
                 send it again, and the stored ones count as duplicates"
            ),
        ),
        IngestFailure::Busy => {
            state.metrics.ingest_refused();
            ApiError::busy("too many requests are waiting for the engine; retry shortly")
        }
        IngestFailure::Stopped => ApiError::internal("the engine has stopped"),
        IngestFailure::Publish { error, acked, not_acked } => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "the event stream did not acknowledge {not_acked} valid events of this request ({error}); \
                 they are not accepted. {acked} events of it were acknowledged; the others were not, or were not sent: \
                 send the request again, and the acknowledged ones count as duplicates"
            ),
        )
        .retry_after(5),
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct DecisionsQuery {
    /// Account or post id (required unless `shadow=true`).
    subject: Option<String>,
    /// `true`: the would-be decisions of rules in shadow, which enforce nothing.
    #[serde(default)]
    shadow: bool,
    /// With `shadow=true`: only this rule's.
    rule: Option<String>,
    /// At most this many, newest first (default 100, at most 1000).
    limit: Option<usize>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct DecisionList {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    pub shadow: bool,
    pub decisions: Vec<Decision>,
}

/// Decisions about an account or a post, each with its statement of reasons; with
/// `shadow=true`, the would-be decisions of rules in shadow (of a subject, a rule, or all).
#[utoipa::path(get, path = "/v1/decisions", tag = "decisions", params(DecisionsQuery),
    responses((status = 200, body = DecisionList), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_decisions(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<DecisionsQuery>,
) -> Result<Json<DecisionList>, ApiError> {
    caller.require(Role::can_read, "read decisions")?;
    let subject = q.subject.filter(|s| !s.is_empty());
    if subject.is_none() && !q.shadow {
        return Err(ApiError::bad_request(
            "query parameter `subject` (an account or post id) is required, unless `shadow=true`",
        ));
    }
    if q.rule.is_some() && !q.shadow {
        return Err(ApiError::bad_request("`rule` filters shadow decisions: add `shadow=true`"));
    }
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let store = state.store.clone();
    let (s, shadow, rule) = (subject.clone(), q.shadow, q.rule);
    let decisions = blocking(move || match s {
        Some(s) => store.decisions_for(&s, shadow, limit),
        None => store.shadow_decisions(rule.as_deref(), limit),
    })
    .await??;
    Ok(Json(DecisionList { subject, shadow: q.shadow, decisions }))
}

/// One decision by id, with its appeals and their outcomes, and its reversal when a
/// person overturned it.
#[utoipa::path(get, path = "/v1/decisions/{id}", tag = "decisions",
    responses((status = 200, body = DecisionView), (status = 404, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_decision(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<DecisionView>, ApiError> {
    caller.require(Role::can_read, "read decisions")?;
    let store = state.store.clone();
    let lookup = id.clone();
    let view =
        blocking(move || store.decision(&lookup)?.map(|d| decision_view(store.as_ref(), d)).transpose()).await??;
    view.map(Json).ok_or_else(|| ApiError::not_found(format!("no decision {id:?}")))
}

/// An account's standing now: credit and the restrictions in force. Restrictions lapse by
/// time alone; this is computed at read time.
#[utoipa::path(get, path = "/v1/accounts/{id}/standing", tag = "accounts",
    responses((status = 200, body = Standing), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_standing(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Standing>, ApiError> {
    caller.require(Role::can_read, "read standing")?;
    let store = state.store.clone();
    let policy = state.policy();
    let standing =
        blocking(move || steward_engine::standing(store.as_ref(), &policy, &id, chrono::Utc::now())).await??;
    Ok(Json(standing))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Health {
    pub status: &'static str,
    pub backend: &'static str,
    pub policy_version: String,
}

/// Liveness; needs no key.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = Health)))]
pub async fn healthz(State(state): State<AppState>) -> Json<Health> {
    Json(Health { status: "ok", backend: state.store.backend(), policy_version: state.policy().version.clone() })
}

/// Prometheus metrics; needs no key.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, content_type = "text/plain")))]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let body = state.metrics.render(&state.rule_stats);
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], body)
}

/// Runs store work off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| ApiError::internal(e.to_string()))
}
