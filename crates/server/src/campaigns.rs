//! Copy-paste campaigns: the groups of posts the campaign detector found, with their posts.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use steward_model::{GroupMember, Role};

use crate::auth::Caller;
use crate::extract::{Path, Query};
use crate::routes::blocking;
use crate::{ApiError, AppState, ErrorBody};

const KIND: &str = "campaign";

#[derive(Deserialize, utoipa::IntoParams)]
pub struct ListQuery {
    /// At most this many (default 100, at most 1000).
    limit: Option<usize>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CampaignList {
    /// Campaign summaries, most recently active first: id, accounts, posts, first_seen,
    /// last_seen, span_minutes, posts_per_hour, detector.
    #[schema(value_type = Vec<Object>)]
    pub campaigns: Vec<Value>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CampaignDetail {
    /// The summary; a campaign merged into another has only `id` and `merged_into`.
    #[schema(value_type = Object)]
    pub campaign: Value,
    /// Its posts, oldest first.
    pub posts: Vec<GroupMember>,
}

fn summary(body: &str) -> Result<Value, ApiError> {
    serde_json::from_str(body).map_err(|e| ApiError::internal(format!("stored campaign is not valid JSON: {e}")))
}

/// Campaigns found, most recently active first. Campaigns merged into others are left out.
#[utoipa::path(get, path = "/v1/campaigns", tag = "campaigns", params(ListQuery),
    responses((status = 200, body = CampaignList), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<ListQuery>,
) -> Result<Json<CampaignList>, ApiError> {
    caller.require(Role::can_read, "read campaigns")?;
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let store = state.store.clone();
    let rows = blocking(move || store.recent_entities(KIND, limit)).await??;
    let campaigns = rows.iter().map(|r| summary(&r.body)).collect::<Result<_, _>>()?;
    Ok(Json(CampaignList { campaigns }))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct PostsQuery {
    /// At most this many posts (default 1000, at most 10000).
    limit: Option<usize>,
}

/// One campaign with its posts.
#[utoipa::path(get, path = "/v1/campaigns/{id}", tag = "campaigns", params(PostsQuery),
    responses((status = 200, body = CampaignDetail), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<PostsQuery>,
) -> Result<Json<CampaignDetail>, ApiError> {
    caller.require(Role::can_read, "read campaigns")?;
    let limit = q.limit.unwrap_or(1000).clamp(1, 10_000);
    let store = state.store.clone();
    let lookup = id.clone();
    let (row, posts) = blocking(move || {
        let row = store.entity(KIND, &lookup)?;
        let posts = store.group_members(KIND, &lookup, limit)?;
        Ok::<_, steward_store::StoreError>((row, posts))
    })
    .await??;
    let row = row.ok_or_else(|| ApiError::not_found(format!("no campaign {id:?}")))?;
    Ok(Json(CampaignDetail { campaign: summary(&row.body)?, posts }))
}
