//! Signing in with a key, and out.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect};
use maud::html;
use serde::Deserialize;

use super::session::{Signed, check_key, clear_cookie, set_cookie};
use super::{Answer, Shown, form, same_origin, with_headers};
use crate::extract::Query;
use crate::{ApiError, AppState};

#[derive(Deserialize)]
pub struct Why {
    why: Option<String>,
}

pub async fn page(Query(q): Query<Why>) -> Answer {
    Ok(sign_in_page(StatusCode::OK, q.why.as_deref().unwrap_or("")))
}

fn sign_in_page(status: StatusCode, why: &str) -> axum::response::Response {
    let body = html! {
        h1 { "Sign in" }
        @if !why.is_empty() { p role="alert" { (why) } }
        form.signin method="post" action="/console/signin" {
            label for="key" { "API key (moderator, auditor or admin)" }
            input id="key" name="key" type="password" autocomplete="off" required autofocus;
            button type="submit" { "Sign in" }
        }
        p.hint { "Keys are made with " code { "steward keys create --role moderator" } ". The key is kept by the server for this session only; the browser holds a session cookie." }
    };
    with_headers(status, super::layout("Sign in", None, body))
}

#[derive(Deserialize)]
pub struct KeyForm {
    key: String,
}

pub async fn sign_in(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Answer {
    same_origin(&headers)?;
    let f: KeyForm = serde_urlencoded::from_bytes(&body)
        .map_err(|e| Shown::Error(ApiError::bad_request(format!("the sign-in form: {e}"))))?;
    let (_, hash) = match check_key(&state, &f.key).await {
        Ok(found) => found,
        Err(why) => return Ok(sign_in_page(StatusCode::UNAUTHORIZED, &format!("Not signed in: {why}."))),
    };
    let (id, _) = state.sessions.open(hash);
    let mut r = Redirect::to("/console/queues").into_response();
    r.headers_mut().insert(header::SET_COOKIE, HeaderValue::from_str(&set_cookie(&id)).expect("hex cookie"));
    Ok(r)
}

#[derive(Deserialize)]
pub struct Empty {}

pub async fn sign_out(State(state): State<AppState>, who: Signed, headers: HeaderMap, body: Bytes) -> Answer {
    let _: Empty = form(&who, &headers, &body)?;
    state.sessions.close(&who.session);
    let mut r = Redirect::to("/console/signin?why=Signed%20out.").into_response();
    r.headers_mut().insert(header::SET_COOKIE, HeaderValue::from_str(&clear_cookie()).expect("ascii cookie"));
    Ok(r)
}
