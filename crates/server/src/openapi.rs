//! The OpenAPI document, generated from the handlers and types.

use axum::Json;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::{campaigns, notices, policy, review, routes, transparency};

#[derive(OpenApi)]
#[openapi(
    info(title = "steward", description = "Governance engine for self-media platforms and group chats. \
        Every error is answered as `{\"error\": \"...\"}`: a query parameter, path parameter or body \
        field that cannot be read is 400 naming it (query parameter `limit`: invalid digit found in \
        string). A rejected event names its field (`post.account_id`), or `(record)` when the \
        record as a whole is at fault."),
    paths(routes::post_events, routes::get_decisions, routes::get_decision, routes::get_standing,
        campaigns::list, campaigns::get,
        policy::get, policy::post, policy::test, policy::rearm,
        review::post_report, review::get_report, review::get_reporter, review::mute_reporter,
        review::get_queues, review::next_case, review::list_cases, review::get_case, review::act,
        review::post_appeal, review::get_appeal,
        notices::list, notices::dead, notices::replay,
        transparency::get, transparency::public,
        routes::healthz, routes::metrics),
    modifiers(&BearerAuth),
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
    }
}

pub async fn serve() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
