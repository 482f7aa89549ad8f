//! The moderator console at `/console`: pages rendered on the server over the same store
//! reads and engine calls as the API, with no governance logic of their own. Its style sheet
//! and script are embedded in the binary; nothing loads from elsewhere (the Content Security
//! Policy says so to the browser).
//!
//! Every page needs a signed-in session ([`session`]); every change is a form POST that
//! carries the session's CSRF token, is checked against the key's role by the engine call it
//! makes, and answers with a redirect (so a reload never sends it twice).

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use maud::{DOCTYPE, Markup, html};
use serde::de::DeserializeOwned;

use crate::{ApiError, AppState};

mod account;
mod case;
mod policy;
mod queues;
pub mod session;
mod signin;

pub use session::Sessions;
use session::{NotSignedIn, Signed};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console", get(|| async { Redirect::to("/console/queues") }))
        .route("/console/signin", get(signin::page).post(signin::sign_in))
        .route("/console/signout", post(signin::sign_out))
        .route("/console/queues", get(queues::list))
        .route("/console/queues/{queue}/next", post(queues::next))
        .route("/console/cases", get(queues::cases))
        .route("/console/appeals", get(queues::appeals))
        .route("/console/cases/{id}", get(case::page))
        .route("/console/cases/{id}/actions", post(case::act))
        .route("/console/accounts/{id}", get(account::page))
        .route("/console/policy", get(policy::page))
        .route("/console/transparency", get(transparency))
        .route("/console/policy/rules/{id}/rearm", post(policy::rearm))
        .route("/console/assets/console.css", get(|| asset("text/css", include_str!("assets/console.css"))))
        .route("/console/assets/console.js", get(|| asset("text/javascript", include_str!("assets/console.js"))))
}

/// The transparency report (the last 30 days unless `from` and `to` say), for auditors and
/// admins: the report's own page, which runs no script.
async fn transparency(
    axum::extract::State(state): axum::extract::State<AppState>,
    who: Signed,
    crate::extract::Query(q): crate::extract::Query<crate::transparency::PeriodQuery>,
) -> Answer {
    Ok(crate::transparency::console_page(&state, &who.caller, &q).await?)
}

async fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "max-age=3600")], body).into_response()
}

/// What a console handler answers: a page, a redirect, or an error shown as a page.
pub type Answer = Result<Response, Shown>;

/// An error shown to the person as a page (or, without a session, the sign-in page).
pub enum Shown {
    Error(ApiError),
    SignIn(String),
}

impl From<ApiError> for Shown {
    fn from(e: ApiError) -> Self {
        Shown::Error(e)
    }
}

impl From<steward_store::StoreError> for Shown {
    fn from(e: steward_store::StoreError) -> Self {
        Shown::Error(e.into())
    }
}

impl From<NotSignedIn> for Shown {
    fn from(e: NotSignedIn) -> Self {
        Shown::SignIn(e.0)
    }
}

impl IntoResponse for NotSignedIn {
    fn into_response(self) -> Response {
        Shown::SignIn(self.0).into_response()
    }
}

impl IntoResponse for Shown {
    fn into_response(self) -> Response {
        match self {
            Shown::SignIn(why) => {
                let to = if why.is_empty() {
                    "/console/signin".to_string()
                } else {
                    format!(
                        "/console/signin?why={}",
                        form_urlencoded::byte_serialize(why.as_bytes()).collect::<String>()
                    )
                };
                Redirect::to(&to).into_response()
            }
            Shown::Error(e) => {
                let title = e.status.canonical_reason().unwrap_or("Error");
                let body = html! {
                    h1 { (title) }
                    p role="alert" { (e.message) }
                    p { a href="/console/queues" { "Back to the queues" } }
                };
                with_headers(e.status, layout(title, None, body))
            }
        }
    }
}

/// A page: status 200 and the console's headers.
pub fn render(title: &str, who: &Signed, body: Markup) -> Answer {
    Ok(with_headers(StatusCode::OK, layout(title, Some(who), body)))
}

/// The headers every console answer has: nothing cached, nothing framed, no script or style
/// from anywhere but the console itself.
fn with_headers(status: StatusCode, markup: Markup) -> Response {
    let mut r = (status, markup.into_string()).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    r
}

fn layout(title: &str, who: Option<&Signed>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · steward" }
                link rel="stylesheet" href="/console/assets/console.css";
                script src="/console/assets/console.js" defer {}
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header {
                    nav aria-label="Console" {
                        strong { "steward" }
                        @if let Some(who) = who {
                            a href="/console/queues" { "Queues" }
                            a href="/console/appeals" { "Appeals" }
                            a href="/console/cases?state=resolved" { "Resolved" }
                            a href="/console/policy" { "Policy" }
                            @if who.caller.role.can_audit() { a href="/console/transparency" { "Transparency" } }
                            span.who { (who.caller.role.as_str()) " " code { (who.caller.key_id) } }
                            form.inline method="post" action="/console/signout" {
                                (csrf(who))
                                button type="submit" { "Sign out" }
                            }
                        }
                    }
                }
                main id="main" tabindex="-1" { (body) }
            }
        }
    }
}

/// The hidden field every form carries.
pub fn csrf(who: &Signed) -> Markup {
    html! { input type="hidden" name="csrf" value=(who.csrf); }
}

/// A form body read into `T`, after its CSRF token and origin are checked.
pub fn form<T: DeserializeOwned>(who: &Signed, headers: &HeaderMap, body: &Bytes) -> Result<T, Shown> {
    same_origin(headers)?;
    let token = form_urlencoded::parse(body).find(|(k, _)| k == "csrf").map(|(_, v)| v.into_owned());
    if !token.is_some_and(|t| who.csrf_ok(&t)) {
        return Err(ApiError::forbidden("this form's security token is missing or stale: reload the page").into());
    }
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(body));
    serde_path_to_error::deserialize(de)
        .map_err(|e| ApiError::bad_request(format!("form field `{}`: {}", e.path(), e.inner())).into())
}

/// Refuses a POST whose `Origin` is another site's (SameSite cookies already keep most
/// out; this covers old browsers and the sign-in form, which has no session yet).
pub fn same_origin(headers: &HeaderMap) -> Result<(), Shown> {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) else { return Ok(()) };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
    let origin_host = origin.split_once("://").map_or(origin, |(_, rest)| rest);
    if origin_host == host {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!("a form from {origin} may not change anything here")).into())
    }
}

/// "3 h ago", "2 d ago": how long since `at`.
pub fn ago(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let s = (now - at).num_seconds().max(0);
    match s {
        0..60 => format!("{s} s ago"),
        60..3600 => format!("{} min ago", s / 60),
        3600..86_400 => format!("{} h ago", s / 3600),
        _ => format!("{} d ago", s / 86_400),
    }
}

/// A time as people read it, with the exact value in the markup.
pub fn time(at: DateTime<Utc>) -> Markup {
    html! { time datetime=(at.to_rfc3339()) { (at.format("%Y-%m-%d %H:%M UTC")) } }
}

/// A redirect after a change (303, so the browser GETs the page).
pub fn see(to: &str) -> Answer {
    Ok(Redirect::to(to).into_response())
}

/// A path segment with anything but unreserved characters escaped.
pub fn seg(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>().replace('+', "%20")
}
