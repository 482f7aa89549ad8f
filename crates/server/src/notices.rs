//! Notices: an account's notices with their delivery, the dead ones for admins, and their
//! replay.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;
use steward_model::{DeliveryState, Role, StoredNotice};
use steward_store::{AuditRecord, Batch};

use crate::auth::Caller;
use crate::extract::{Path, Query};
use crate::routes::blocking;
use crate::{ApiError, AppState, ErrorBody};

/// The roles that read notices: those that read, and ingest, which files on a user's
/// behalf and may show them what they were told.
fn reads_notices(role: Role) -> bool {
    role.can_read() || role == Role::Ingest
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct NoticesQuery {
    /// The account the notices were sent to.
    account: String,
    /// At most this many, newest first (default 100, at most 1000).
    limit: Option<usize>,
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct DeadQuery {
    /// At most this many, newest first (default 100, at most 1000).
    limit: Option<usize>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct NoticeList {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    pub notices: Vec<StoredNotice>,
}

fn limit(n: Option<usize>) -> usize {
    n.unwrap_or(100).clamp(1, 1000)
}

/// The notices sent to an account (decisions, case, appeal and report outcomes), newest
/// first, each with its body and its delivery: pending, delivered or dead, attempts, the
/// next attempt and the last error.
#[utoipa::path(get, path = "/v1/notices", tag = "notices", params(NoticesQuery),
    responses((status = 200, body = NoticeList), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<NoticesQuery>,
) -> Result<Json<NoticeList>, ApiError> {
    caller.require(reads_notices, "read notices")?;
    if q.account.is_empty() {
        return Err(ApiError::bad_request("query parameter `account` must not be empty"));
    }
    let (store, account, n) = (state.store.clone(), q.account.clone(), limit(q.limit));
    let notices = blocking(move || store.notices_for(&account, n)).await??;
    Ok(Json(NoticeList { account: Some(q.account), notices }))
}

/// Dead notices (every delivery attempt failed), newest first: for an admin to see why
/// (`delivery.last_error`) and replay them once the receiver is mended.
#[utoipa::path(get, path = "/v1/notices/dead", tag = "notices", params(DeadQuery),
    responses((status = 200, body = NoticeList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn dead(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<DeadQuery>,
) -> Result<Json<NoticeList>, ApiError> {
    caller.require(Role::can_administer, "list dead notices")?;
    let (store, n) = (state.store.clone(), limit(q.limit));
    let notices = blocking(move || store.dead_notices(n)).await??;
    Ok(Json(NoticeList { account: None, notices }))
}

/// Sends a dead notice again: it is pending, due now, with its attempts counted from zero,
/// and goes before its recipient's later notices. The replay is audited. A pending notice
/// is answered as it is; a delivered one is 409.
#[utoipa::path(post, path = "/v1/notices/{id}/replay", tag = "notices",
    responses((status = 200, body = StoredNotice), (status = 404, body = ErrorBody),
        (status = 409, description = "Already delivered", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn replay(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<StoredNotice>, ApiError> {
    caller.require(Role::can_administer, "replay notices")?;
    let (store, lookup) = (state.store.clone(), id.clone());
    let by = caller.key_id.clone();
    let notice = blocking(move || {
        let now = chrono::Utc::now();
        let replayed = store.replay_notice(&lookup, now)?;
        if let Some((true, _)) = &replayed {
            let record = AuditRecord {
                at: now,
                action: "notice.replayed".into(),
                subject: lookup.clone(),
                body: json!({ "by": by }).into(),
            };
            store.commit(&Batch { audit: vec![record], ..Batch::default() })?;
        }
        Ok::<_, steward_store::StoreError>(replayed.map(|(_, n)| n))
    })
    .await??;
    match notice {
        None => Err(ApiError::not_found(format!("no notice {id:?}"))),
        Some(n) if n.delivery.state == DeliveryState::Delivered => {
            Err(ApiError::new(StatusCode::CONFLICT, format!("notice {id:?} was delivered; there is nothing to replay")))
        }
        Some(n) => Ok(Json(n)),
    }
}
