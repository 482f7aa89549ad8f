//! The policy in force: each rule's mode and hits, what rules in shadow would have done,
//! and tripped breakers, which an admin re-arms here.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use maud::html;
use steward_model::Role;

use super::queues::actions_text;
use super::session::Signed;
use super::{Answer, csrf, form, render, see, seg, time};
use crate::AppState;
use crate::extract::Path;
use crate::policy::{current_view, rearm_rule};
use crate::routes::blocking;

pub async fn page(State(state): State<AppState>, who: Signed) -> Answer {
    let view = current_view(&state).await?;
    let store = state.store.clone();
    let shadow = blocking(move || store.shadow_decisions(None, 30)).await??;
    let admin = who.caller.role.can_administer();
    let body = html! {
        h1 { "Policy " code { (view.version) } }
        table.rules {
            caption { "Rules, with their decisions so far (all versions)" }
            thead { tr { th scope="col" { "Rule" } th scope="col" { "Category" } th scope="col" { "Mode" }
                th scope="col" { "Running" } th scope="col" { "Live" } th scope="col" { "Shadow" } th scope="col" { "Breaker" } } }
            tbody { @for r in &view.rules { tr data-rule=(r.id) data-running=(r.running) {
                th scope="row" { code { (r.id) } } td { (r.category) } td { (r.mode) } td { (r.running) }
                td.num { (r.live_decisions) } td.num { (r.shadow_decisions) }
                td { @if let Some(b) = &r.breaker {
                    strong { "tripped" } " " (b.get("tripped_at").and_then(|v| v.as_str()).unwrap_or(""))
                    @let detail = b.get("detail");
                    br; small { (detail.and_then(|d| d.get("reason")).and_then(|r| r.as_str()).map_or_else(|| detail.map(|d| d.to_string()).unwrap_or_default(), str::to_string)) }
                    @if admin {
                        form.inline method="post" action={ "/console/policy/rules/" (seg(&r.id)) "/rearm" } {
                            (csrf(&who)) button type="submit" { "Re-arm " (r.id) }
                        }
                    }
                } @else { "—" } }
            } } }
        }
        h2 { "What rules in shadow would have done" }
        @if shadow.is_empty() { p { "Nothing yet." } } @else {
            table { caption { "The latest 30 would-be decisions; none was enforced or told" }
                thead { tr { th scope="col" { "When" } th scope="col" { "Rule" } th scope="col" { "Subject" } th scope="col" { "Would have" } } }
                tbody { @for d in &shadow { tr {
                    td { (time(d.decided_at)) } td { code { (d.rule_id) } }
                    td { @if let Some(a) = &d.account_id { a href={ "/console/accounts/" (seg(a)) } { (a) } } @if let Some(p) = &d.post_id { " post " code { (p) } } }
                    td { (actions_text(&d.actions)) }
                } } }
            }
        }
        h2 { "Versions" }
        ol { @for v in &view.versions { li { code { (v.version) } " from " (v.source) " · " (time(v.activated_at)) " by " code { (v.activated_by) } } } }
    };
    render("Policy", &who, body)
}

pub async fn rearm(
    State(state): State<AppState>,
    who: Signed,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let _: super::signin::Empty = form(&who, &headers, &body)?;
    who.caller.require(Role::can_administer, "re-arm a rule")?;
    rearm_rule(&state, &who.caller, id).await?;
    see("/console/policy")
}
