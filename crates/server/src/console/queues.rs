//! Queues with their counts, lists of cases, the appeals queue, and taking the next case.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use chrono::Utc;
use maud::{Markup, html};
use serde::Deserialize;
use steward_model::{Case, CaseState, Role};

use super::session::Signed;
use super::{Answer, ago, csrf, form, render, see, seg};
use crate::extract::{Path, Query};
use crate::review::on_engine;
use crate::routes::blocking;
use crate::{ApiError, AppState};

pub async fn list(State(state): State<AppState>, who: Signed) -> Answer {
    let store = state.store.clone();
    let counts = blocking(move || store.queue_counts()).await??;
    let policy = state.policy();
    let now = Utc::now();
    let moderator = who.caller.role.can_moderate();
    let body = html! {
        h1 { "Queues" }
        table {
            caption { "Cases waiting, by queue. The next case is the one of highest priority, which grows with waiting." }
            thead { tr { th scope="col" { "Queue" } th scope="col" { "Open" } th scope="col" { "Claimed" }
                th scope="col" { "Escalated" } th scope="col" { "Oldest" } th scope="col" { span.sr { "Actions" } } } }
            tbody {
                @for q in policy.queues() {
                    @let c = counts.iter().find(|c| c.queue == q.id);
                    tr data-queue=(q.id) {
                        th scope="row" { a href={ "/console/cases?queue=" (seg(&q.id)) } { (q.id) }
                            @if !q.description.is_empty() { br; small { (q.description) } } }
                        td.num { (c.map_or(0, |c| c.open)) }
                        td.num { (c.map_or(0, |c| c.assigned)) }
                        td.num { (c.map_or(0, |c| c.escalated)) }
                        td { @match c.and_then(|c| c.oldest_opened_at) { Some(at) => (ago(at, now)), None => "—" } }
                        td { @if moderator && c.is_some_and(|c| c.open + c.escalated > 0) {
                            form.inline method="post" action={ "/console/queues/" (seg(&q.id)) "/next" } {
                                (csrf(&who))
                                button type="submit" { "Next case" }
                            }
                        } }
                    }
                }
                // Queues no longer in the policy that still hold cases.
                @for c in counts.iter().filter(|c| policy.queue(&c.queue).is_none()) {
                    tr data-queue=(c.queue) {
                        th scope="row" { a href={ "/console/cases?queue=" (seg(&c.queue)) } { (c.queue) } br; small { "not in the policy in force" } }
                        td.num { (c.open) } td.num { (c.assigned) } td.num { (c.escalated) }
                        td { @match c.oldest_opened_at { Some(at) => (ago(at, now)), None => "—" } }
                        td {}
                    }
                }
            }
        }
        p.hint { "Keys: " kbd { "n" } " takes the next case of the first queue with one waiting." }
    };
    render("Queues", &who, body)
}

/// Claims the next case of the queue and opens it.
pub async fn next(
    State(state): State<AppState>,
    who: Signed,
    Path(queue): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let _: super::signin::Empty = form(&who, &headers, &body)?;
    claim_next(&state, &who, queue).await
}

/// Claims the next case of `queue` and opens it; back to the queues when none waits.
pub async fn claim_next(state: &AppState, who: &Signed, queue: String) -> Answer {
    who.caller.require(Role::can_moderate, "work queues")?;
    let by = who.caller.key_id.clone();
    let q = queue.clone();
    match on_engine(state, move |e| e.claim_next(&q, &by)).await? {
        Some(case) => see(&format!("/console/cases/{}", seg(&case.id))),
        None => Err(ApiError::not_found(format!("no case waits in queue {queue:?} for you")).into()),
    }
}

#[derive(Deserialize)]
pub struct CasesQuery {
    queue: Option<String>,
    state: Option<String>,
}

pub async fn cases(State(state): State<AppState>, who: Signed, Query(q): Query<CasesQuery>) -> Answer {
    let case_state = match q.state.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(CaseState::parse(s).ok_or_else(|| {
            ApiError::bad_request(format!("`state`: {s:?} is not open, assigned, escalated or resolved"))
        })?),
    };
    let store = state.store.clone();
    let queue = q.queue.clone().filter(|q| !q.is_empty());
    let lookup = queue.clone();
    let list = blocking(move || store.cases(lookup.as_deref(), case_state, 200)).await??;
    let title = match (&queue, case_state) {
        (Some(q), _) => format!("Queue {q}"),
        (None, Some(s)) => format!("Cases {}", s.as_str()),
        (None, None) => "Cases".to_string(),
    };
    let body = html! {
        h1 { (title) }
        (case_table(&list, "Highest priority first; at most 200."))
    };
    render(&title, &who, body)
}

pub fn case_table(list: &[Case], caption: &str) -> Markup {
    let now = Utc::now();
    html! {
        @if list.is_empty() { p { "No cases." } } @else {
            table.cases {
                caption { (caption) }
                thead { tr { th scope="col" { "Case" } th scope="col" { "Subject" } th scope="col" { "Category" }
                    th scope="col" { "State" } th scope="col" { "Reporters" } th scope="col" { "Reach" }
                    th scope="col" { "Opened" } } }
                tbody {
                    @for c in list {
                        tr data-case=(c.id) {
                            td { a href={ "/console/cases/" (seg(&c.id)) } { (c.id) } }
                            td { (c.subject.kind.as_str()) " " code { (c.subject.id) } }
                            td { (c.category) }
                            td { (c.state.as_str())
                                @if let Some(claim) = c.claimed_at(now) { " by " code { (claim.by) } }
                                @if let Some(o) = &c.outcome { " (" (o) ")" } }
                            td.num { (c.reporters) }
                            td.num { (c.reach) }
                            td { (ago(c.opened_at, now)) }
                        }
                    }
                }
            }
        }
    }
}

/// The appeals queue: each pending appeal with the decision, its text, and who may decide.
pub async fn appeals(State(state): State<AppState>, who: Signed) -> Answer {
    let store = state.store.clone();
    let rows = blocking(move || -> Result<_, steward_store::StoreError> {
        let mut rows = Vec::new();
        for state in [CaseState::Open, CaseState::Assigned, CaseState::Escalated] {
            for case in store.cases(Some(steward_policy::QUEUE_APPEALS), Some(state), 200)? {
                let people = steward_engine::review::participants(store.as_ref(), &case)?;
                for id in &case.appeals {
                    if let Some(a) = store.appeal(id)?
                        && a.state == steward_model::AppealState::Pending
                    {
                        let decision = store.decision(&a.decision_id)?;
                        rows.push((case.clone(), a, decision, people.clone()));
                    }
                }
            }
        }
        Ok(rows)
    })
    .await??;
    let now = Utc::now();
    let body = html! {
        h1 { "Appeals" }
        p { "An appeal is decided by a moderator who took no part in the decision appealed." }
        @if who.caller.role.can_moderate() {
            form.inline method="post" action="/console/queues/appeals/next" {
                (csrf(&who)) button type="submit" { "Next appeal" }
            }
        }
        @if rows.is_empty() { p { "No appeal waits." } } @else {
            table.appeals {
                caption { "Pending appeals, highest priority first" }
                thead { tr { th scope="col" { "Case" } th scope="col" { "Decision" } th scope="col" { "Appeal" }
                    th scope="col" { "Filed" } th scope="col" { "Who may decide" } } }
                tbody {
                    @for (case, a, d, people) in &rows {
                        tr data-case=(case.id) {
                            td { a href={ "/console/cases/" (seg(&case.id)) } { (case.id) } br; (case.state.as_str()) }
                            td { @match d { Some(d) => { code { (d.rule_id) } br; (d.category) ": " (actions_text(&d.actions)) }, None => { code { (a.decision_id) } } } }
                            td { blockquote { (a.text) } "by " code { (a.account_id) } }
                            td { (ago(a.filed_at, now)) }
                            td { @if people.is_empty() { "any moderator" } @else {
                                "any moderator but "
                                @for (i, p) in people.iter().enumerate() { @if i > 0 { ", " } code { (p) } }
                                @if people.contains(&who.caller.key_id) { " — " strong { "not you" } }
                            } }
                        }
                    }
                }
            }
        }
    };
    render("Appeals", &who, body)
}

/// "remove, restrict posting 15 d": what a decision does, in a few words.
pub fn actions_text(actions: &[steward_model::Action]) -> String {
    use steward_model::Action as A;
    let words: Vec<String> = actions
        .iter()
        .map(|a| match a {
            A::Label { label } => format!("label \u{201c}{label}\u{201d}"),
            A::RestrictPosting { days }
            | A::RestrictNewFollowers { days }
            | A::Suspend { days }
            | A::RequireDisclosure { days }
            | A::Demonetize { days, .. } => format!("{} {days} d", a.name().replace('_', " ")),
            A::DeductCredit { points } => format!("deduct {points} credit"),
            A::QueueReview { queue } => format!("review in {queue}"),
            _ => a.name().replace('_', " "),
        })
        .collect();
    words.join(", ")
}
