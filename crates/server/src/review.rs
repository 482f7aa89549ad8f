//! The human loop over HTTP: user reports, queues and cases, moderators' claims and
//! actions, appeals, reporter standing and mutes. Changes run on the engine thread, which
//! owns the write path; reads go to the store.
//!
//! Roles: a moderator works queues; an auditor reads everything (notes included) and
//! changes nothing; an admin does what a moderator does and mutes reporters; an ingest key
//! files reports and appeals on a user's behalf.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use steward_engine::input::BodyFormat;
use steward_engine::review::ReviewError;
use steward_model::{
    AppealFiled, Case, CaseAction, CaseEntry, CaseReport, CaseState, Decision, QueueCount, ReporterMute,
    ReporterStanding, Role,
};

use crate::auth::Caller;
use crate::extract::{self, Path, Query};
use crate::routes::{blocking, ingest_error};
use crate::{ApiError, AppState, ErrorBody};

/// Runs a review change on the engine thread.
pub(crate) async fn on_engine<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&mut steward_engine::Engine) -> Result<T, ReviewError> + Send + 'static,
) -> Result<T, ApiError> {
    let done = state.engine.run(f).await.map_err(|_| ApiError::internal("the engine has stopped"))?;
    done.map_err(|e| match e {
        ReviewError::NotFound(m) => ApiError::not_found(m),
        ReviewError::Conflict { message, .. } => ApiError::new(StatusCode::CONFLICT, message),
        ReviewError::Forbidden(m) => ApiError::forbidden(m),
        ReviewError::Unprocessable(m) => ApiError::unprocessable(m),
        ReviewError::Engine(e) => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    })
}

/// A user report, filed on the reporter's behalf.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportRequest {
    /// The platform's id for the report: sending it again is answered with the report as
    /// it stands, not filed twice.
    pub id: String,
    pub reporter_id: String,
    /// The post reported; or `account_id` alone for an account.
    #[serde(default)]
    pub post_id: Option<String>,
    #[serde(default)]
    pub account_id: Option<String>,
    /// A short reason code (rumour, impersonation, spam, ...).
    pub reason: String,
    #[serde(default)]
    pub text: String,
    /// When the user reported; now when left out.
    #[serde(default)]
    pub at: Option<DateTime<Utc>>,
}

/// Files a user report: the same as a `report.created` event. It joins the subject's open
/// case or opens one; a reporter's second report of a subject under review is recorded as
/// a duplicate, and a muted reporter's is recorded and not queued.
#[utoipa::path(post, path = "/v1/reports", tag = "review", request_body = ReportRequest,
    responses((status = 201, description = "Filed", body = CaseReport),
        (status = 200, description = "Filed before with this id", body = CaseReport),
        (status = 202, description = "Published to the event stream (`serve --nats`); a worker files it", body = crate::IngestAnswer),
        (status = 422, description = "Not a valid report, or its subject is unknown", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn post_report(
    State(state): State<AppState>,
    caller: Caller,
    extract::Json(r): extract::Json<ReportRequest>,
) -> Result<Response, ApiError> {
    caller.require(Role::can_ingest, "file reports")?;
    let at = r.at.unwrap_or_else(Utc::now);
    let report = json!({ "id": r.id, "reporter_id": r.reporter_id, "post_id": r.post_id,
        "account_id": r.account_id, "reason": r.reason, "text": r.text });
    let event = json!([{ "id": format!("report.{}", r.id), "type": "report.created", "at": at, "report": report }]);
    let answer = state
        .engine
        .ingest(event.to_string().into(), BodyFormat::JsonArray)
        .await
        .map_err(|e| ingest_error(&state, e))?;
    if let Some(rejected) = answer.rejected.first() {
        return Err(ApiError::unprocessable(rejected.error.clone()));
    }
    if matches!(state.engine.sink(), crate::Sink::Nats(_)) {
        // Distributed mode: the report is on the stream; a worker files it.
        return Ok((StatusCode::ACCEPTED, Json(answer)).into_response());
    }
    let store = state.store.clone();
    let id = r.id.clone();
    let filed = blocking(move || store.case_report(&id)).await??;
    let filed = filed.ok_or_else(|| ApiError::internal(format!("report {} was accepted and is not stored", r.id)))?;
    let status = if answer.accepted > 0 { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(filed)).into_response())
}

/// A report as the human loop keeps it.
#[utoipa::path(get, path = "/v1/reports/{id}", tag = "review",
    responses((status = 200, body = CaseReport), (status = 404, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_report(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<CaseReport>, ApiError> {
    caller.require(Role::can_read, "read reports")?;
    let store = state.store.clone();
    let lookup = id.clone();
    let report = blocking(move || store.case_report(&lookup)).await??;
    report.map(Json).ok_or_else(|| ApiError::not_found(format!("no report {id:?}")))
}

/// A reporter's standing: the share of their resolved reports that were upheld (shown
/// from five), the weight their reports carry in queue priority, and a mute.
#[utoipa::path(get, path = "/v1/reporters/{id}", tag = "review",
    responses((status = 200, body = ReporterStanding), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_reporter(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<ReporterStanding>, ApiError> {
    caller.require(Role::can_read, "read reporter standing")?;
    let store = state.store.clone();
    Ok(Json(blocking(move || store.reporter_standing(&id)).await??))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MuteRequest {
    pub until: DateTime<Utc>,
    pub reason: String,
}

/// Mutes a reporter until a date: their reports are recorded, not queued. Audited.
#[utoipa::path(post, path = "/v1/reporters/{id}/mute", tag = "review", request_body = MuteRequest,
    responses((status = 200, body = ReporterMute), (status = 422, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn mute_reporter(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    extract::Json(m): extract::Json<MuteRequest>,
) -> Result<Json<ReporterMute>, ApiError> {
    caller.require(Role::can_administer, "mute reporters")?;
    if m.until <= Utc::now() {
        return Err(ApiError::unprocessable("`until` is in the past: a mute ends at a date to come"));
    }
    let by = caller.key_id.clone();
    Ok(Json(on_engine(&state, move |e| e.mute_reporter(&id, m.until, &by, &m.reason)).await?))
}

/// Every queue with cases not resolved: how many are open, assigned and escalated, and
/// when the oldest was opened.
#[utoipa::path(get, path = "/v1/queues", tag = "review",
    responses((status = 200, body = Vec<QueueCount>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_queues(State(state): State<AppState>, caller: Caller) -> Result<Json<Vec<QueueCount>>, ApiError> {
    caller.require(Role::can_read, "read queues")?;
    let store = state.store.clone();
    Ok(Json(blocking(move || store.queue_counts()).await??))
}

/// Gives the moderator the next case of the queue and claims it for them (for 10 minutes,
/// renewed by a `claim` action): the highest in priority, which grows with waiting. In the
/// appeals queue, cases about decisions the moderator took part in are left to others.
/// 204 when there is none.
#[utoipa::path(post, path = "/v1/queues/{queue}/next", tag = "review",
    responses((status = 200, body = Case), (status = 204, description = "No case waits"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn next_case(
    State(state): State<AppState>,
    caller: Caller,
    Path(queue): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(Role::can_moderate, "work queues")?;
    let by = caller.key_id.clone();
    match on_engine(&state, move |e| e.claim_next(&queue, &by)).await? {
        Some(case) => Ok(Json(case).into_response()),
        None => Ok(StatusCode::NO_CONTENT.into_response()),
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct CasesQuery {
    queue: Option<String>,
    /// open, assigned, escalated or resolved.
    state: Option<String>,
    /// At most this many, highest priority first (default 100, at most 1000).
    limit: Option<usize>,
}

/// Cases of a queue or a state, highest priority first.
#[utoipa::path(get, path = "/v1/cases", tag = "review", params(CasesQuery),
    responses((status = 200, body = Vec<Case>), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_cases(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<CasesQuery>,
) -> Result<Json<Vec<Case>>, ApiError> {
    caller.require(Role::can_read, "read cases")?;
    let case_state = match q.state.as_deref() {
        None => None,
        Some(s) => Some(CaseState::parse(s).ok_or_else(|| {
            ApiError::bad_request(format!(
                "query parameter `state`: {s:?} is not open, assigned, escalated or resolved"
            ))
        })?),
    };
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let store = state.store.clone();
    Ok(Json(blocking(move || store.cases(q.queue.as_deref(), case_state, limit)).await??))
}

/// A case with everything about it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CaseView {
    pub case: Case,
    /// What happened to it, in order: who, when, why (notes included).
    pub log: Vec<CaseEntry>,
    pub reports: Vec<CaseReport>,
    pub appeals: Vec<AppealFiled>,
    pub decisions: Vec<DecisionView>,
}

/// A case: its subject, state and version, its log, reports, appeals and decisions.
#[utoipa::path(get, path = "/v1/cases/{id}", tag = "review",
    responses((status = 200, body = CaseView), (status = 404, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_case(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<CaseView>, ApiError> {
    caller.require(Role::can_read, "read cases")?;
    let store = state.store.clone();
    let view = blocking(move || case_view(store.as_ref(), &id)).await??;
    view.map(Json).ok_or_else(|| ApiError::not_found("no such case"))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionRequest {
    /// The case version the action was taken on: a stale one is refused with 409.
    pub version: u64,
    pub action: CaseAction,
}

/// A moderator's action on a case: claim (or renew), release, uphold, overturn, modify,
/// escalate, comment, dismiss reports. Each is recorded with its actor, reason and time,
/// and audited. An overturn ends the decisions' restrictions, gives back their credit and
/// takes off their labels at once. On a case with a pending appeal, uphold and overturn
/// decide the appeal, and only a moderator who took no part in the decision may.
#[utoipa::path(post, path = "/v1/cases/{id}/actions", tag = "review", request_body = ActionRequest,
    responses((status = 200, description = "The case as it now stands", body = Case),
        (status = 404, body = ErrorBody),
        (status = 409, description = "A stale version, a case claimed by another, or resolved", body = ErrorBody),
        (status = 403, description = "Not a moderator, or took part in the decision appealed", body = ErrorBody),
        (status = 422, description = "A reason missing, or nothing to overturn", body = ErrorBody),
        (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn act(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    extract::Json(request): extract::Json<ActionRequest>,
) -> Result<Json<Case>, ApiError> {
    caller.require(Role::can_moderate, "act on cases")?;
    let by = caller.key_id.clone();
    Ok(Json(on_engine(&state, move |e| e.act(&id, request.version, &by, request.action)).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppealRequest {
    pub decision_id: String,
    /// The account appealing: only the decision's own.
    pub account_id: String,
    /// Why the decision is wrong.
    pub text: String,
}

/// Files an appeal against a decision, on the account's behalf: only the account the
/// decision is about, within the window the decision states, one pending at a time. The
/// appeal waits in the `appeals` queue for a moderator who took no part in the decision.
#[utoipa::path(post, path = "/v1/appeals", tag = "review", request_body = AppealRequest,
    responses((status = 201, body = AppealFiled), (status = 404, description = "No such decision", body = ErrorBody),
        (status = 403, description = "Not the decision's account", body = ErrorBody),
        (status = 409, description = "An appeal is pending, or the decision was overturned", body = ErrorBody),
        (status = 422, description = "The window has closed, or no text", body = ErrorBody),
        (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn post_appeal(
    State(state): State<AppState>,
    caller: Caller,
    extract::Json(a): extract::Json<AppealRequest>,
) -> Result<Response, ApiError> {
    caller.require(Role::can_ingest, "file appeals")?;
    let filed = on_engine(&state, move |e| e.file_appeal(&a.decision_id, &a.account_id, &a.text)).await?;
    Ok((StatusCode::CREATED, Json(filed)).into_response())
}

/// An appeal and its outcome.
#[utoipa::path(get, path = "/v1/appeals/{id}", tag = "review",
    responses((status = 200, body = AppealFiled), (status = 404, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_appeal(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<AppealFiled>, ApiError> {
    caller.require(Role::can_read, "read appeals")?;
    let store = state.store.clone();
    let lookup = id.clone();
    let appeal = blocking(move || store.appeal(&lookup)).await??;
    appeal.map(Json).ok_or_else(|| ApiError::not_found(format!("no appeal {id:?}")))
}

/// Case `id` with everything about it, from the store.
pub(crate) fn case_view(
    store: &dyn steward_store::Store,
    id: &str,
) -> Result<Option<CaseView>, steward_store::StoreError> {
    let Some(case) = store.case(id)? else { return Ok(None) };
    let mut appeals = Vec::new();
    for a in &case.appeals {
        appeals.extend(store.appeal(a)?);
    }
    let mut decisions = Vec::new();
    for d in &case.decisions {
        if let Some(d) = store.decision(d)? {
            decisions.push(decision_view(store, d)?);
        }
    }
    let log = store.case_entries(&case.id)?;
    let reports = store.case_reports(&case.id)?;
    Ok(Some(CaseView { case, log, reports, appeals, decisions }))
}

/// A decision with what people made of it: its appeals and their outcomes, and its
/// reversal when it was overturned.
#[derive(Serialize, utoipa::ToSchema)]
pub struct DecisionView {
    #[serde(flatten)]
    pub decision: Decision,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub appeals: Vec<AppealFiled>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reversal: Option<steward_model::Reversal>,
}

pub(crate) fn decision_view(
    store: &dyn steward_store::Store,
    decision: Decision,
) -> Result<DecisionView, steward_store::StoreError> {
    let appeals = store.appeals_for(&decision.id)?;
    let reversal = store.reversal(&decision.id)?;
    Ok(DecisionView { decision, appeals, reversal })
}
