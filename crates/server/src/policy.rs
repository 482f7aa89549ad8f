//! The policy's lifecycle: the version in force with its rules' modes and hit counts, new
//! versions put in force without a restart, spot tests of a draft, and re-arming a rule
//! whose circuit breaker tripped.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use steward_engine::SpotTest;
use steward_model::{Role, Signal};
use steward_policy::{Mode, Policy, PolicyErrors, Quota};
use steward_store::{PolicyVersion, RuleHits, TrippedBreaker};

use crate::auth::Caller;
use crate::extract::{self, Body, Path};
use crate::routes::blocking;
use crate::{ApiError, AppState, ErrorBody};

/// A rule of the policy in force.
#[derive(Serialize, utoipa::ToSchema)]
pub struct RuleView {
    pub id: String,
    pub category: String,
    /// The mode the policy gives it: live, shadow or draft.
    pub mode: String,
    /// The mode it runs in now: shadow while its circuit breaker is tripped by its quota,
    /// draft (not evaluated) while tripped by an evaluation over its budget.
    pub running: String,
    pub automated: bool,
    #[schema(value_type = Option<Object>)]
    pub quota: Option<Quota>,
    /// Decisions the rule has made, live and in shadow (all versions of the policy).
    pub live_decisions: u64,
    pub shadow_decisions: u64,
    /// Set while the rule's breaker is tripped: when, and why (`cause`: `quota` or
    /// `evaluation_budget`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub breaker: Option<Value>,
}

/// A policy version, without its text.
#[derive(Serialize, utoipa::ToSchema)]
pub struct VersionView {
    pub version: String,
    pub source: String,
    pub activated_at: DateTime<Utc>,
    /// `start` (the file given at start), or the id of the API key that posted it.
    pub activated_by: String,
}

impl From<PolicyVersion> for VersionView {
    fn from(v: PolicyVersion) -> Self {
        VersionView { version: v.version, source: v.source, activated_at: v.activated_at, activated_by: v.activated_by }
    }
}

/// The policy in force.
#[derive(Serialize, utoipa::ToSchema)]
pub struct PolicyView {
    pub version: String,
    pub rules: Vec<RuleView>,
    /// Every version put in force, oldest first; the last is this one.
    pub versions: Vec<VersionView>,
}

/// A tripped breaker as answered: when, and what passed the ceiling.
fn trip_view(b: &TrippedBreaker) -> Value {
    serde_json::json!({ "tripped_at": b.tripped_at, "detail": b.detail_json() })
}

/// Runs `f` on the engine thread; a store failure there is 503.
async fn on_engine<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&mut steward_engine::Engine) -> Result<T, steward_engine::EngineError> + Send + 'static,
) -> Result<T, ApiError> {
    state
        .engine
        .run(f)
        .await
        .map_err(|_| ApiError::internal("the engine has stopped"))?
        .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))
}

fn view(
    policy: &Policy,
    hits: Vec<RuleHits>,
    tripped: Vec<TrippedBreaker>,
    versions: Vec<PolicyVersion>,
) -> PolicyView {
    let rules = policy
        .rules
        .iter()
        .map(|r| {
            let hit = hits.iter().find(|h| h.rule_id == r.id).cloned().unwrap_or_default();
            let trip = tripped.iter().find(|b| b.rule_id == r.id);
            let running = match (r.mode, trip) {
                // Over its budget, a rule is not evaluated at all, as a draft.
                (_, Some(b)) if steward_engine::breaker::halts(b) => Mode::Draft,
                (Mode::Live, Some(_)) => Mode::Shadow,
                (mode, _) => mode,
            };
            let breaker = trip.map(trip_view);
            RuleView {
                id: r.id.clone(),
                category: r.category.clone(),
                mode: r.mode.as_str().to_string(),
                running: running.as_str().to_string(),
                automated: r.automated,
                quota: r.quota,
                live_decisions: hit.live,
                shadow_decisions: hit.shadow,
                breaker,
            }
        })
        .collect();
    PolicyView {
        version: policy.version.clone(),
        rules,
        versions: versions.into_iter().map(VersionView::from).collect(),
    }
}

pub(crate) async fn current_view(state: &AppState) -> Result<PolicyView, ApiError> {
    let (store, policy) = (state.store.clone(), state.policy());
    blocking(move || {
        let hits = store.rule_hits()?;
        let tripped = store.tripped_breakers()?;
        let versions = store.policy_versions()?;
        Ok::<_, ApiError>(view(&policy, hits, tripped, versions))
    })
    .await?
}

/// The policy in force: its rules with their modes, hit counts and tripped breakers, and
/// the versions put in force so far.
#[utoipa::path(get, path = "/v1/policy", tag = "policy",
    responses((status = 200, body = PolicyView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(State(state): State<AppState>, caller: Caller) -> Result<Json<PolicyView>, ApiError> {
    caller.require(Role::can_read, "read the policy")?;
    Ok(Json(current_view(&state).await?))
}

/// One problem of a policy that does not check.
#[derive(Serialize, utoipa::ToSchema)]
pub struct PolicyProblem {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// A policy refused: every problem, with its line.
#[derive(Serialize, utoipa::ToSchema)]
pub struct PolicyRefused {
    pub error: String,
    pub problems: Vec<PolicyProblem>,
}

fn refused(errors: PolicyErrors, what: &str) -> Response {
    let problems: Vec<PolicyProblem> =
        errors.0.into_iter().map(|e| PolicyProblem { line: e.line, column: e.column, message: e.message }).collect();
    let error = format!("{what} has {} problem(s); nothing was changed", problems.len());
    (StatusCode::UNPROCESSABLE_ENTITY, Json(PolicyRefused { error, problems })).into_response()
}

/// Checks a policy text whole: the policy, or the answer that refuses it.
fn check(text: &str, source: &str, what: &str) -> Result<Policy, Box<Response>> {
    if text.trim().is_empty() {
        return Err(Box::new(
            ApiError::bad_request(format!("{what} is empty: send the policy file (TOML)")).into_response(),
        ));
    }
    Policy::parse(text, source, &steward_engine::schema()).map_err(|e| Box::new(refused(e, what)))
}

/// Puts a new policy version in force without a restart. The body is the policy file
/// (TOML). It is checked whole first: a policy with problems is refused with every problem
/// and its line, and the version in force stays. The activation and every rule whose mode
/// changes are audited.
#[utoipa::path(post, path = "/v1/policy", tag = "policy",
    request_body(content = String, description = "The policy file (TOML)", content_type = "application/toml"),
    responses((status = 200, body = PolicyView), (status = 400, body = ErrorBody),
        (status = 422, description = "The policy does not check", body = PolicyRefused),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn post(State(state): State<AppState>, caller: Caller, Body(body): Body) -> Result<Response, ApiError> {
    caller.require(Role::can_administer, "change the policy")?;
    let text =
        std::str::from_utf8(&body).map_err(|e| ApiError::bad_request(format!("the policy is not UTF-8: {e}")))?;
    let policy = match check(text, "api", "the policy") {
        Ok(p) => std::sync::Arc::new(p),
        Err(answer) => return Ok(*answer),
    };
    let by = caller.key_id.clone();
    let in_force = policy.clone();
    on_engine(&state, move |engine| engine.set_policy(in_force, &by)).await?;
    state.set_policy(policy);
    Ok(Json(current_view(&state).await?).into_response())
}

/// A spot test: an event, and optionally a draft policy and signals to add.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SpotTestRequest {
    /// The event, as sent to `POST /v1/events`.
    #[schema(value_type = Object)]
    pub event: Value,
    /// A policy file (TOML) to test instead of the one in force; its draft rules run too.
    pub policy: Option<String>,
    /// Signals to add to those the detectors raise (detectors over a window of recent
    /// posts, such as copy campaigns, start empty in a spot test).
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub signals: Vec<Signal>,
}

/// Evaluates one event against a policy (a draft, or the one in force) and answers the
/// decisions every matching rule would make, whatever its mode. Nothing is stored, enforced
/// or counted.
#[utoipa::path(post, path = "/v1/policy/test", tag = "policy", request_body = SpotTestRequest,
    responses((status = 200, body = SpotTest), (status = 400, body = ErrorBody),
        (status = 422, description = "The draft policy does not check", body = PolicyRefused),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn test(
    State(state): State<AppState>,
    caller: Caller,
    extract::Json(request): extract::Json<SpotTestRequest>,
) -> Result<Response, ApiError> {
    caller.require(Role::can_read, "test a policy")?;
    let policy = match &request.policy {
        Some(text) => match check(text, "draft", "the draft policy") {
            Ok(p) => std::sync::Arc::new(p),
            Err(answer) => return Ok(*answer),
        },
        None => state.policy(),
    };
    let record = serde_json::to_vec(&request.event).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let signals = request.signals;
    let result = state
        .engine
        .run(move |engine| {
            let event = steward_model::parse_event(&record, &engine.options().limits, (engine.options().clock)())
                .map_err(|e| ApiError::bad_request(format!("the event is not valid: {e}")))?;
            engine
                .spot_test(&policy, &event, signals)
                .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))
        })
        .await
        .map_err(|_| ApiError::internal("the engine has stopped"))??;
    Ok(Json(result).into_response())
}

/// A rule re-armed.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Rearmed {
    pub rule_id: String,
    /// When its breaker had tripped, and why.
    #[schema(value_type = Object)]
    pub was: Value,
}

/// Re-arms a rule whose circuit breaker tripped: it runs live again and its count starts
/// afresh. Audited with the key that did it.
#[utoipa::path(post, path = "/v1/policy/rules/{id}/rearm", tag = "policy",
    responses((status = 200, body = Rearmed), (status = 404, body = ErrorBody),
        (status = 409, description = "The rule's breaker has not tripped", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn rearm(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Rearmed>, ApiError> {
    caller.require(Role::can_administer, "re-arm a rule")?;
    Ok(Json(rearm_rule(&state, &caller, id).await?))
}

/// Re-arms rule `id` for `caller` (the API and the console).
pub(crate) async fn rearm_rule(state: &AppState, caller: &Caller, id: String) -> Result<Rearmed, ApiError> {
    if state.policy().rule(&id).is_none() {
        return Err(ApiError::not_found(format!("the policy in force has no rule {id:?}")));
    }
    let (rule, by) = (id.clone(), caller.key_id.clone());
    let trip = on_engine(state, move |engine| engine.rearm(&rule, &by)).await?.ok_or_else(|| {
        ApiError::new(StatusCode::CONFLICT, format!("rule {id:?}: its circuit breaker has not tripped"))
    })?;
    Ok(Rearmed { rule_id: id, was: trip_view(&trip) })
}
