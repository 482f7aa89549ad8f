//! The extractors every handler takes: a request that cannot be read is answered like every
//! other error, a status and `{"error": ...}` naming the parameter or body field at fault,
//! never axum's plain-text rejections. Query strings and JSON bodies are read with the same
//! field paths as event records ([`steward_model::error_path`]).

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;

use crate::{ApiError, AppState};

/// The query string read into `T`; 400 naming the parameter (`query parameter `limit`:
/// invalid digit found in string`).
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or_default();
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(Query)
            .map_err(|e| unreadable("query parameter", "the query string", e.path(), e.inner()))
    }
}

/// The path parameters read into `T`; 400 naming the parameter (axum's own message, which
/// does).
pub struct Path<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Path(p.0))
            .map_err(|e: PathRejection| ApiError::new(client_status(e.status()), e.body_text()))
    }
}

/// The request body; over the size limit, 413 saying the limit.
pub struct Body(pub Bytes);

impl FromRequest<AppState> for Body {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        Bytes::from_request(req, state).await.map(Body).map_err(|e: BytesRejection| match e.status() {
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "request body is over the limit of {} bytes; split it into smaller batches",
                    state.limits.max_body_bytes
                ),
            ),
            status => ApiError::new(client_status(status), format!("cannot read the request body: {}", e.body_text())),
        })
    }
}

/// A JSON body (`Content-Type: application/json`) read into `T`; 400 naming the body field
/// (`body field `signals[0].kind`: missing field `kind``).
pub struct Json<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        let mime = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        if mime != "application/json" && !(mime.starts_with("application/") && mime.ends_with("+json")) {
            return Err(ApiError::bad_request(format!(
                "the body must be JSON, sent with `Content-Type: application/json` (not {content_type:?})"
            )));
        }
        let Body(bytes) = Body::from_request(req, state).await?;
        let de = &mut serde_json::Deserializer::from_slice(&bytes);
        let value = serde_path_to_error::deserialize(&mut *de)
            .map_err(|e| unreadable("body field", "the body", e.path(), e.inner()))?;
        de.end().map_err(|e| ApiError::bad_request(format!("the body: {e}")))?;
        Ok(Json(value))
    }
}

/// 400 naming where `reason` arose: `{what} `{path}`: {reason}`, or `{whole}: {reason}`.
fn unreadable(what: &str, whole: &str, path: &serde_path_to_error::Path, reason: &impl ToString) -> ApiError {
    let reason = reason.to_string();
    match steward_model::error_path(path, &reason) {
        p if p.is_empty() => ApiError::bad_request(format!("{whole}: {reason}")),
        p => ApiError::bad_request(format!("{what} `{p}`: {reason}")),
    }
}

/// The client's fault is 400, whatever axum would say (415, 422); 413 and server errors
/// stay.
fn client_status(status: StatusCode) -> StatusCode {
    if status == StatusCode::PAYLOAD_TOO_LARGE || status.is_server_error() { status } else { StatusCode::BAD_REQUEST }
}
