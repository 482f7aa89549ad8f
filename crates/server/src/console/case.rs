//! A case as a person reads it — the subject, the author's history, every signal with its
//! evidence, the statements of reasons, the reports with their reporters' standing, the
//! appeals and notes — and the form that acts on it.

use std::collections::{HashMap, HashSet};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use chrono::Utc;
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::Value;
use steward_model::{
    Action, CaseAction, CaseState, GroupMember, ReporterStanding, Role, Standing, SubjectKind, Visibility,
};
use steward_store::{EntityRow, Store, StoreError};

use super::queues::{actions_text, claim_next};
use super::session::Signed;
use super::{Answer, ago, csrf, form, render, see, seg, time};
use crate::extract::Path;
use crate::review::{CaseView, DecisionView, case_view, on_engine};
use crate::routes::blocking;
use crate::{ApiError, AppState};

/// Posts of a campaign shown on its timeline.
const TIMELINE_POSTS: usize = 50;

/// Everything the page shows, read in one go off the async threads.
struct Loaded {
    view: CaseView,
    subject: Option<EntityRow>,
    /// A campaign's posts, oldest first, with their text when stored.
    timeline: Vec<(GroupMember, Option<String>)>,
    campaign_size: usize,
    author: Option<Author>,
    reporters: HashMap<String, ReporterStanding>,
    participants: HashSet<String>,
    /// The most decisions one action on the case may reverse (its queue's bulk cap).
    bulk_cap: u32,
}

struct Author {
    profile: Option<EntityRow>,
    standing: Standing,
    earlier: Vec<steward_model::Decision>,
}

fn load(store: &dyn Store, policy: &steward_policy::Policy, id: &str) -> Result<Option<Loaded>, StoreError> {
    let Some(view) = case_view(store, id)? else { return Ok(None) };
    let s = &view.case.subject;
    let subject = store.entity(s.kind.as_str(), &s.id)?;
    let (mut timeline, mut campaign_size) = (Vec::new(), 0);
    if s.kind == SubjectKind::Campaign {
        let members = store.group_members("campaign", &s.id, 10_000)?;
        campaign_size = members.len();
        for m in members.into_iter().take(TIMELINE_POSTS) {
            let text = store.entity("post", &m.post_id)?.and_then(|p| field(&p.body, "text"));
            timeline.push((m, text));
        }
    }
    let author = match &view.case.account_id {
        Some(a) => Some(Author {
            profile: store.entity("account", a)?,
            standing: steward_engine::standing(store, policy, a, Utc::now())?,
            earlier: store.decisions_for(a, false, 20)?,
        }),
        None => None,
    };
    let mut reporters = HashMap::new();
    for r in &view.reports {
        if !reporters.contains_key(&r.reporter_id) {
            reporters.insert(r.reporter_id.clone(), store.reporter_standing(&r.reporter_id)?);
        }
    }
    let participants = if view.case.appeals.is_empty() {
        HashSet::new()
    } else {
        steward_engine::review::participants(store, &view.case)?
    };
    let queue = &view.case.queue;
    let bulk_cap = policy.queue(queue).map_or_else(|| steward_policy::default_bulk_cap(queue), |q| q.bulk_cap);
    Ok(Some(Loaded { view, subject, timeline, campaign_size, author, reporters, participants, bulk_cap }))
}

/// A string field of a stored entity's JSON body.
fn field(body: &str, name: &str) -> Option<String> {
    let v: Value = serde_json::from_str(body).ok()?;
    v.get(name)?.as_str().map(str::to_string)
}

pub async fn page(State(state): State<AppState>, who: Signed, Path(id): Path<String>) -> Answer {
    let (store, policy) = (state.store.clone(), state.policy());
    let lookup = id.clone();
    let loaded = blocking(move || load(store.as_ref(), &policy, &lookup)).await??;
    let l = loaded.ok_or_else(|| ApiError::not_found(format!("no case {id:?}")))?;
    let c = &l.view.case;
    let title = format!("Case {}", c.id);
    let body = html! {
        h1 { (title) }
        p.summary {
            (c.subject.kind.as_str()) " " code { (c.subject.id) } " · " (c.category) " · queue "
            a href={ "/console/cases?queue=" (seg(&c.queue)) } { (c.queue) } " · "
            strong data-state=(c.state.as_str()) { (c.state.as_str()) }
            @if let Some(o) = &c.outcome { " (" span data-outcome=(o) { (o) } ")" }
            @if let Some(claim) = c.claimed_at(Utc::now()) { " · claimed by " code { (claim.by) } " until " (time(claim.until)) }
            " · version " span data-version=(c.version) { (c.version) }
        }
        div.case {
        div.read {
        section aria-labelledby="subject" { h2 id="subject" { "Subject" } (subject(&l)) }
        @if let Some(a) = &l.author { section aria-labelledby="author" { h2 id="author" { "Author" } (author(a)) } }
        section aria-labelledby="decisions" {
            h2 id="decisions" { "Decisions (" (l.view.decisions.len()) ")" }
            @for d in l.view.decisions.iter().take(20) { (decision(d)) }
            @if l.view.decisions.len() > 20 { p { (l.view.decisions.len() - 20) " more, of the same campaign." } }
        }
        section aria-labelledby="reports" { h2 id="reports" { "Reports (" (l.view.reports.len()) ")" } (reports(&l)) }
        section aria-labelledby="appeals" { h2 id="appeals" { "Appeals (" (l.view.appeals.len()) ")" } (appeals(&l)) }
        section aria-labelledby="log" { h2 id="log" { "History and notes" } (log(&l)) }
        }
        aside { (actions(&l, &who)) }
        }
    };
    render(&title, &who, body)
}

fn subject(l: &Loaded) -> Markup {
    let c = &l.view.case;
    let body: Option<Value> = l.subject.as_ref().and_then(|e| serde_json::from_str(&e.body).ok());
    let text = |k: &str| body.as_ref().and_then(|b| b.get(k)).and_then(Value::as_str).unwrap_or("").to_string();
    html! {
        @match c.subject.kind {
            SubjectKind::Post => {
                @if body.is_none() { p { "The post is not stored." } } @else {
                    article.post {
                        @let title = text("title");
                        @if !title.is_empty() { h3 { (title) } }
                        p.text { (text("text")) }
                        p.meta { "by " @if let Some(a) = &c.account_id { a href={ "/console/accounts/" (seg(a)) } { (a) } }
                            @if l.subject.as_ref().is_some_and(|e| e.deleted) { " · " strong { "deleted" } } }
                    }
                }
            }
            SubjectKind::Campaign => {
                p { (l.campaign_size) " posts in the campaign; the first " (l.timeline.len()) " on its timeline:" }
                ol.timeline {
                    @for (m, text) in &l.timeline {
                        li { (time(m.at)) " " a href={ "/console/accounts/" (seg(&m.account_id)) } { (m.account_id) }
                            " " code { (m.post_id) } @if let Some(t) = text { p.text { (t) } } }
                    }
                }
            }
            _ => {
                @match &body { Some(b) => (evidence(b)), None => p { "Nothing more is stored about it." } }
            }
        }
    }
}

fn author(a: &Author) -> Markup {
    let profile: Option<Value> = a.profile.as_ref().and_then(|e| serde_json::from_str(&e.body).ok());
    let s = &a.standing;
    html! {
        p {
            a href={ "/console/accounts/" (seg(&s.account_id)) } { (s.account_id) }
            @if let Some(p) = &profile {
                " · " (p.get("display_name").and_then(Value::as_str).unwrap_or(""))
                " @" (p.get("handle").and_then(Value::as_str).unwrap_or(""))
                " · " (p.get("followers").and_then(Value::as_u64).unwrap_or(0)) " followers"
                @if p.get("verified").and_then(Value::as_bool) == Some(true) { " · verified" }
            }
        }
        (standing(s))
        @if !a.earlier.is_empty() {
            details { summary { "Earlier decisions (" (a.earlier.len()) ")" }
                ul { @for d in &a.earlier { li { (time(d.decided_at)) " " code { (d.rule_id) } " " (d.category) ": " (actions_text(&d.actions)) } } }
            }
        }
    }
}

pub fn standing(s: &Standing) -> Markup {
    html! {
        dl.standing {
            dt { "Credit" } dd data-credit=(s.credit) { (s.credit) " of " (s.credit_initial) }
            dt { "Restrictions in force" }
            dd data-restrictions=(s.restrictions.len()) {
                @if s.restrictions.is_empty() { "none" }
                @for r in &s.restrictions { (r.kind.as_str()) @if let Some(end) = r.end { " until " (time(end)) } @else { " for good" } br; }
            }
            dt { "Decisions in the look-back window" } dd { (s.recent_violations) }
        }
    }
}

fn decision(v: &DecisionView) -> Markup {
    let d = &v.decision;
    let empty = Vec::new();
    let signals = d.facts.get("signals").and_then(Value::as_array).unwrap_or(&empty);
    html! {
        article.decision data-decision=(d.id) {
            h3 { code { (d.rule_id) } " · " (d.category) }
            @if let Some(r) = &v.reversal { p.reversed { "Overturned by " code { (r.by) } " " (time(r.at)) ": " (r.reason) } }
            p.explanation { (d.explanation) }
            dl {
                dt { "Ground" } dd { (d.ground) }
                dt { "Actions" } dd { (actions_text(&d.actions)) }
                dt { "Decided" } dd { (time(d.decided_at)) " · " @if d.automated_decision { "automated" } @else { "by a person" } }
                @if d.credit_deducted > 0 { dt { "Credit deducted" } dd { (d.credit_deducted) } }
                dt { "Appeal" } dd { "until " (time(d.appeal.until)) }
            }
            @for s in signals {
                section.signal {
                    h4 { "Signal " (s.get("name").and_then(Value::as_str).unwrap_or("?"))
                        " from " (s.get("detector").and_then(Value::as_str).unwrap_or("?"))
                        " · score " (format!("{:.2}", s.get("score").and_then(Value::as_f64).unwrap_or(0.0))) }
                    @if let Some(e) = s.get("evidence") { (evidence(e)) }
                }
            }
        }
    }
}

/// Evidence written out: each fact by name, links as links, lists cut at 20.
pub fn evidence(v: &Value) -> Markup {
    html! {
        @match v {
            Value::Object(map) => dl.evidence {
                @for (k, v) in map { dt { (k.replace('_', " ")) } dd { (evidence(v)) } }
            },
            Value::Array(items) => {
                @if items.iter().all(|i| !i.is_object() && !i.is_array()) {
                    @for (n, i) in items.iter().take(20).enumerate() { @if n > 0 { ", " } (evidence(i)) }
                } @else {
                    ul { @for i in items.iter().take(20) { li { (evidence(i)) } } }
                }
                @if items.len() > 20 { " … and " (items.len() - 20) " more" }
            },
            Value::String(s) if s.starts_with("https://") || s.starts_with("http://") => {
                a href=(s) rel="noopener noreferrer nofollow" { (s) }
            },
            Value::String(s) => (s),
            Value::Number(n) => (n),
            Value::Bool(b) => (if *b { "yes" } else { "no" }),
            Value::Null => "—",
        }
    }
}

fn reports(l: &Loaded) -> Markup {
    html! {
        @if l.view.reports.is_empty() { p { "No reports." } } @else {
            table {
                caption { "Reports, with each reporter's record" }
                thead { tr { th scope="col" { "Report" } th scope="col" { "Reporter" } th scope="col" { "Standing" }
                    th scope="col" { "Reason" } th scope="col" { "State" } } }
                tbody { @for r in &l.view.reports {
                    @let s = &l.reporters[&r.reporter_id];
                    tr {
                        td { code { (r.id) } br; (ago(r.at, Utc::now())) }
                        td { code { (r.reporter_id) } }
                        td { @match s.standing { Some(x) => { (format!("{:.0}%", x * 100.0)) " upheld" }, None => "too few resolved" }
                            " (" (s.upheld) " upheld, " (s.dismissed) " dismissed; weight " (format!("{:.1}", s.weight)) ")"
                            @if s.muted_at(Utc::now()) { br; strong { "muted" } } }
                        td { (r.reason) @if !r.text.is_empty() { br; q { (r.text) } } }
                        td { (r.state.as_str()) }
                    }
                } }
            }
        }
    }
}

fn appeals(l: &Loaded) -> Markup {
    html! {
        @if l.view.appeals.is_empty() { p { "No appeals." } } @else {
            @if !l.participants.is_empty() {
                p { "Decided only by a moderator who took no part: not "
                    @for (i, p) in l.participants.iter().enumerate() { @if i > 0 { ", " } code { (p) } } "." }
            }
            @for a in &l.view.appeals {
                article.appeal data-appeal=(a.id) data-appeal-state=(a.state.as_str()) {
                    p { "Appeal " code { (a.id) } " of " code { (a.decision_id) } " by " code { (a.account_id) } ", " (time(a.filed_at)) ": " strong { (a.state.as_str()) }
                        @if let Some(by) = &a.decided_by { " by " code { (by) } } }
                    blockquote { (a.text) }
                    @if !a.reason.is_empty() { p { "Reason: " (a.reason) } }
                }
            }
        }
    }
}

fn log(l: &Loaded) -> Markup {
    html! {
        ol.log { @for e in &l.view.log {
            li { (time(e.at)) " " code { (e.actor) } " " strong { (e.action.replace('_', " ")) }
                @if !e.reason.is_empty() { ": " (e.reason) }
                @if let Some(t) = e.detail.get("text").and_then(Value::as_str) {
                    " — " q { (t) } " (" (e.detail.get("visibility").and_then(Value::as_str).unwrap_or("")) ")"
                } }
        } }
    }
}

/// The forms that act on the case: a claim, or (once claimed) one decision with its reason,
/// and a comment at any time.
fn actions(l: &Loaded, who: &Signed) -> Markup {
    let c = &l.view.case;
    let now = Utc::now();
    let mine = c.claimed_at(now).is_some_and(|claim| claim.by == who.caller.key_id);
    let open = c.state != CaseState::Resolved;
    let taking_part = l.participants.contains(&who.caller.key_id);
    let reach = if c.subject.kind == SubjectKind::Campaign {
        let accounts: HashSet<&str> =
            l.view.decisions.iter().filter_map(|d| d.decision.account_id.as_deref()).collect();
        Some((l.view.decisions.iter().filter(|d| d.reversal.is_none()).count(), accounts.len()))
    } else {
        None
    };
    html! {
        @if open && who.caller.role.can_moderate() {
            section.act aria-labelledby="act-heading" {
                h2 id="act-heading" { "Act" }
                @if !mine {
                    form method="post" action={ "/console/cases/" (seg(&c.id)) "/actions" } {
                        (csrf(who)) input type="hidden" name="version" value=(c.version);
                        input type="hidden" name="action" value="claim";
                        button type="submit" data-key="c" { "Claim this case" }
                    }
                } @else {
                    @if taking_part { p role="alert" { "You took part in the decision appealed: another moderator must decide." } }
                    @if let Some((decisions, accounts)) = reach {
                        p.bulk data-bulk-decisions=(decisions) { strong { "Bulk action: " } "uphold, overturn or modify acts on all "
                            (decisions) " decisions in force, about " (accounts) " accounts, of this campaign; a modification puts one decision in place of each post's."
                            @if decisions > l.bulk_cap as usize {
                                " " strong role="alert" { "That is over this queue's cap of " (l.bulk_cap) " for one action: overturn and modify are refused here; escalate the case." }
                            } @else if l.bulk_cap < u32::MAX { " The queue's cap for one action is " (l.bulk_cap) "." }
                        }
                    }
                    form #act method="post" action={ "/console/cases/" (seg(&c.id)) "/actions" } {
                        (csrf(who)) input type="hidden" name="version" value=(c.version);
                        input type="hidden" name="from_queue" value=(c.queue);
                        fieldset {
                            legend { "Decision" }
                            (choice("uphold", "Uphold", "u", "the decisions stand, the reports were right; an appeal is refused"))
                            (choice("overturn", "Overturn", "o", "end the restrictions, give back the credit, take off the labels; an appeal is granted"))
                            (choice("modify", "Modify", "m", "overturn and put these actions in place"))
                            (choice("escalate", "Escalate", "e", "hand on to a senior moderator"))
                            (choice("dismiss_reports", "Dismiss reports", "d", "the reports were wrong"))
                            (choice("release", "Release", "r", "let go of the claim"))
                        }
                        fieldset.modify {
                            legend { "Modify: the actions that replace the decisions'" }
                            div { label { input type="checkbox" name="limit_reach" value="1"; " limit reach" } }
                            div { label { input type="checkbox" name="remove" value="1"; " remove the post" } }
                            label for="label" { "Label" } input #label type="text" name="label" placeholder="e.g. disputed";
                            label for="restrict_days" { "Restrict posting, days" } input #restrict_days type="number" name="restrict_days" min="1" max="3650";
                            label for="deduct_points" { "Deduct credit, points" } input #deduct_points type="number" name="deduct_points" min="1" max="1000";
                        }
                        label for="reason" { "Reason (recorded, audited, and told to those concerned)" }
                        textarea #reason name="reason" rows="3" {}
                        div.buttons {
                            button type="submit" { "Submit" }
                            button type="submit" name="next" value="1" data-key="Enter" { "Submit & next" }
                        }
                        p.hint { "Keys: " kbd { "u" } " uphold, " kbd { "o" } " overturn, " kbd { "m" } " modify, " kbd { "e" } " escalate, "
                            kbd { "d" } " dismiss reports, " kbd { "r" } " release, then type the reason; " kbd { "Ctrl" } "+" kbd { "Enter" } " submit & next." }
                    }
                }
            }
        }
        @if open && who.caller.role.can_moderate() {
            details.comment {
                summary { "Comment" }
                form method="post" action={ "/console/cases/" (seg(&c.id)) "/actions" } {
                    (csrf(who)) input type="hidden" name="version" value=(c.version);
                    input type="hidden" name="action" value="comment";
                    label for="comment" { "Comment" } textarea #comment name="text" rows="2" required {}
                    label for="visibility" { "Who may read it" }
                    select #visibility name="visibility" {
                        option value="internal" { "moderators only" } option value="reporter" { "the reporters" }
                        option value="author" { "the author" } option value="both" { "the reporters and the author" }
                    }
                    button type="submit" { "Comment" }
                }
            }
        }
    }
}

fn choice(value: &str, label: &str, key: &str, hint: &str) -> Markup {
    let id = format!("action-{value}");
    html! {
        div.choice {
            input id=(id) type="radio" name="action" value=(value) data-key=(key);
            label for=(id) { (label) " " kbd { (key) } } small { " " (hint) }
        }
    }
}

#[derive(Deserialize)]
pub struct ActForm {
    version: u64,
    action: Option<String>,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    text: String,
    visibility: Option<Visibility>,
    #[serde(default)]
    label: String,
    limit_reach: Option<String>,
    remove: Option<String>,
    restrict_days: Option<String>,
    deduct_points: Option<String>,
    next: Option<String>,
    from_queue: Option<String>,
}

impl ActForm {
    /// The action, and the queue to take the next case from ("submit & next").
    fn action(self) -> Result<(CaseAction, Option<String>), ApiError> {
        let next = self.next.and(self.from_queue);
        let reason = self.reason;
        let action = match self.action.as_deref().unwrap_or("") {
            "claim" => CaseAction::Claim {},
            "release" => CaseAction::Release {},
            "uphold" => CaseAction::Uphold { reason },
            "overturn" => CaseAction::Overturn { reason },
            "escalate" => CaseAction::Escalate { reason, queue: None },
            "dismiss_reports" => CaseAction::DismissReports { reason, report_ids: Vec::new() },
            "comment" => {
                CaseAction::Comment { text: self.text, visibility: self.visibility.unwrap_or(Visibility::Internal) }
            }
            "modify" => {
                let mut actions = Vec::new();
                if !self.label.trim().is_empty() {
                    actions.push(Action::Label { label: self.label.trim().to_string() });
                }
                if self.limit_reach.is_some() {
                    actions.push(Action::LimitReach {});
                }
                if self.remove.is_some() {
                    actions.push(Action::Remove {});
                }
                if let Some(days) = number(&self.restrict_days, "restrict_days")? {
                    actions.push(Action::RestrictPosting { days });
                }
                if let Some(points) = number(&self.deduct_points, "deduct_points")? {
                    actions.push(Action::DeductCredit { points });
                }
                CaseAction::Modify { reason, actions }
            }
            "" => {
                return Err(ApiError::unprocessable(
                    "choose what to do: uphold, overturn, modify, escalate, dismiss reports or release",
                ));
            }
            other => return Err(ApiError::bad_request(format!("form field `action`: {other:?} is not an action"))),
        };
        Ok((action, next))
    }
}

/// An optional whole number from a form field: empty is none.
fn number(v: &Option<String>, name: &str) -> Result<Option<u32>, ApiError> {
    match v.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| ApiError::bad_request(format!("form field `{name}`: {v:?} is not a whole number"))),
    }
}

pub async fn act(
    State(state): State<AppState>,
    who: Signed,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let f: ActForm = form(&who, &headers, &body)?;
    who.caller.require(Role::can_moderate, "act on cases")?;
    let version = f.version;
    let (action, next) = f.action()?;
    let by = who.caller.key_id.clone();
    let case = on_engine(&state, move |e| e.act(&id, version, &by, action)).await?;
    if let Some(queue) = next {
        return match claim_next(&state, &who, queue).await {
            Err(super::Shown::Error(e)) if e.status == axum::http::StatusCode::NOT_FOUND => see("/console/queues"),
            other => other,
        };
    }
    see(&format!("/console/cases/{}", seg(&case.id)))
}
