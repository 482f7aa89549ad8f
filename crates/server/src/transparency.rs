//! The transparency report over HTTP: `GET /v1/transparency` for auditors and admins, and
//! `GET /transparency`, the HTML page for anyone, when the operator opts in
//! (`steward serve --public-transparency`; off by default).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::Deserialize;
use steward_model::Role;
use steward_report::{Format, Period, Transparency, render};

use crate::auth::Caller;
use crate::extract::Query;
use crate::routes::blocking;
use crate::{ApiError, AppState, ErrorBody};

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PeriodQuery {
    /// The first day counted (`2026-11-01`, UTC), or the first moment (RFC 3339).
    from: Option<String>,
    /// The last day counted (`2026-11-30`), or the first moment not counted (RFC 3339).
    to: Option<String>,
    /// `json` (the default), `csv` (long format: section,key,field,value) or `html`.
    format: Option<String>,
}

/// The period asked for; the last 30 days, today's so far included, when neither end is
/// given and `default`.
fn period(q: &PeriodQuery, default: bool) -> Result<Period, ApiError> {
    match (&q.from, &q.to) {
        (Some(from), Some(to)) => {
            Period::parse(("`from`", from), ("`to`", to)).map_err(|e| ApiError::bad_request(e.to_string()))
        }
        (None, None) if default => Ok(Period::last_days(Utc::now(), 30)),
        _ => Err(ApiError::bad_request(
            "query parameters `from` and `to` are both needed: days (2026-11-01) or RFC 3339 times",
        )),
    }
}

/// No script may run in a report page, whatever it holds: it has none, and loads nothing.
const PAGE_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'";

fn page(format: Format, body: String) -> Response {
    ([(header::CONTENT_TYPE, format.content_type()), (header::CONTENT_SECURITY_POLICY, PAGE_POLICY)], body)
        .into_response()
}

async fn build(state: &AppState, period: Period) -> Result<Transparency, ApiError> {
    let store = state.store.clone();
    Ok(blocking(move || Transparency::build(store.as_ref(), period, Utc::now())).await??)
}

/// The transparency report of a period: decisions by category, ground, action and content;
/// automated against human; user reports by source and outcome with the median time to
/// action; appeals and the overturn rate per rule and per detector; restrictions by
/// length; example cases told without personal data. Counted in the database.
#[utoipa::path(get, path = "/v1/transparency", tag = "reports", params(PeriodQuery),
    responses((status = 200, description = "The report (as JSON; CSV or HTML with `format`)", body = Transparency),
        (status = 400, description = "A period that cannot be read, or is empty", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<PeriodQuery>,
) -> Result<Response, ApiError> {
    caller.require(Role::can_audit, "read the transparency report")?;
    let format = match q.format.as_deref() {
        None => Format::Json,
        Some(f) => Format::parse(f).ok_or_else(|| {
            ApiError::bad_request(format!("query parameter `format`: {f:?} is not json, csv or html"))
        })?,
    };
    let report = build(&state, period(&q, false)?).await?;
    Ok(match format {
        Format::Json => Json(report).into_response(),
        other => page(other, render(&report, other)),
    })
}

/// The report of the period asked for (the last 30 days when none is) as a page, for a
/// signed-in auditor or admin in the console.
pub(crate) async fn console_page(state: &AppState, caller: &Caller, q: &PeriodQuery) -> Result<Response, ApiError> {
    caller.require(Role::can_audit, "read the transparency report")?;
    let report = build(state, period(q, true)?).await?;
    Ok(page(Format::Html, render(&report, Format::Html)))
}

/// The last page made, kept a minute, and made by one request at a time: however many ask,
/// the store counts a period at most once a minute, and one period at a time.
#[derive(Default)]
pub struct PublicPage {
    last: tokio::sync::Mutex<Option<(Period, Instant, Arc<String>)>>,
}

const FRESH: Duration = Duration::from_secs(60);

/// The public transparency page (HTML, no key), when the server was started with
/// `--public-transparency`; 404 otherwise. The last 30 days (today's so far included) unless
/// `from` and `to` say otherwise.
#[utoipa::path(get, path = "/transparency", tag = "reports", params(PeriodQuery),
    responses((status = 200, description = "The report as a page", content_type = "text/html"),
        (status = 400, description = "A period that cannot be read, or is empty", body = ErrorBody),
        (status = 404, description = "The public page is not enabled", body = ErrorBody)))]
pub async fn public(State(state): State<AppState>, Query(q): Query<PeriodQuery>) -> Result<Response, ApiError> {
    let Some(cache) = state.public_transparency.clone() else {
        return Err(ApiError::not_found("the public transparency page is not enabled on this server"));
    };
    if q.format.as_deref().is_some_and(|f| f != "html") {
        return Err(ApiError::bad_request("query parameter `format`: the public page is html only"));
    }
    let period = period(&q, true)?;
    let mut last = cache.last.lock().await;
    let html = match last.as_ref() {
        Some((p, at, html)) if *p == period && at.elapsed() < FRESH => html.clone(),
        _ => {
            let html = Arc::new(render(&build(&state, period).await?, Format::Html));
            *last = Some((period, Instant::now(), html.clone()));
            html
        }
    };
    drop(last);
    let mut response = page(Format::Html, html.as_str().to_string());
    response.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("public, max-age=60"));
    Ok(response)
}
