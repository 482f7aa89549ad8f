//! An account: its profile, its standing now, the decisions about it and the cases on it.

use axum::extract::State;
use chrono::Utc;
use maud::html;
use serde_json::Value;
use steward_model::{Subject, SubjectKind};

use super::case::{evidence, standing};
use super::queues::{actions_text, case_table};
use super::session::Signed;
use super::{Answer, render, time};
use crate::AppState;
use crate::extract::Path;
use crate::routes::blocking;

pub async fn page(State(state): State<AppState>, who: Signed, Path(id): Path<String>) -> Answer {
    let (store, policy) = (state.store.clone(), state.policy());
    let lookup = id.clone();
    let (profile, now_standing, decisions, cases) = blocking(move || {
        let profile = store.entity("account", &lookup)?;
        let s = steward_engine::standing(store.as_ref(), &policy, &lookup, Utc::now())?;
        let mut decisions = Vec::new();
        for d in store.decisions_for(&lookup, false, 50)? {
            decisions.push(crate::review::decision_view(store.as_ref(), d)?);
        }
        let cases = store.subject_cases(&Subject::new(SubjectKind::Account, lookup.clone()), 50)?;
        Ok::<_, steward_store::StoreError>((profile, s, decisions, cases))
    })
    .await??;
    let profile: Option<Value> = profile.and_then(|p| serde_json::from_str(&p.body).ok());
    let title = format!("Account {id}");
    let body = html! {
        h1 { (title) }
        section aria-labelledby="profile" { h2 id="profile" { "Profile" }
            @match &profile { Some(p) => (evidence(p)), None => p { "No profile is stored." } } }
        section aria-labelledby="standing" { h2 id="standing" { "Standing now" } (standing(&now_standing)) }
        section aria-labelledby="decisions" { h2 id="decisions" { "Decisions (" (decisions.len()) ")" }
            @if decisions.is_empty() { p { "None." } } @else {
                table { caption { "Newest first" }
                    thead { tr { th scope="col" { "Decided" } th scope="col" { "Rule" } th scope="col" { "Category" }
                        th scope="col" { "Actions" } th scope="col" { "Review" } } }
                    tbody { @for v in &decisions { tr data-decision=(v.decision.id) {
                        td { (time(v.decision.decided_at)) } td { code { (v.decision.rule_id) } } td { (v.decision.category) }
                        td { (actions_text(&v.decision.actions)) }
                        td { @match &v.reversal { Some(r) => { "overturned by " code { (r.by) } }, None => { @if v.appeals.is_empty() { "—" } @else { (v.appeals.len()) " appeal(s)" } } } }
                    } } }
                }
            } }
        section aria-labelledby="cases" { h2 id="cases" { "Cases on the account" } (case_table(&cases, "Newest first")) }
    };
    render(&title, &who, body)
}
