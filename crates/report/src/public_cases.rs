//! Decided cases written up for the public, as regulators ask platforms to publish example
//! cases.
//!
//! The write-up is conservative: it is made only of the policy's words and steward's own
//! (category, ground, labels; the kind of subject and content; the detectors; what was
//! done and what review decided; the month; whole days to resolve) and holds nothing a
//! user or moderator wrote: no text of a post or profile, no report reason or text, no
//! moderator's reason, no explanation (its template may name a post), no id of any kind,
//! no exact time. The policy's words go through [`mask`] as well, in case an operator wrote
//! an address or number into a ground or label. A case opened by reports alone shows no
//! category, since the reporter's reason is the reporter's own words.

use std::sync::LazyLock;

use chrono::Duration;
use regex::Regex;
use serde::{Deserialize, Serialize};
use steward_model::{Action, Case, Decision};
use steward_store::{Store, StoreError};

/// One decided case, with nothing that identifies anyone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PublicCase {
    /// `post`, `account`, `campaign` (copies of one text across accounts) or `group`.
    pub subject: String,
    /// The kind of post (`short_post`, `group_message`, ...) when the decisions were on posts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// The harm category of the decisions; none for a case opened by reports alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ground: Option<String>,
    /// The month the case opened (`2026-11`).
    pub month: String,
    /// How it reached a person: `detection`, `reports`, `appeal`.
    pub came_by: Vec<String>,
    /// People who reported it.
    pub reporters: u32,
    /// Decisions the case was about (a moderator's replacement not counted).
    pub decisions: usize,
    pub detectors: Vec<String>,
    /// Whether the first decision was made with no person.
    pub automated_decision: bool,
    /// What the decisions did, in words.
    pub actions: Vec<String>,
    /// `upheld`, `overturned`, `modified` or `dismissed`.
    pub outcome: String,
    /// What a moderator put in place of the decisions, when the outcome is `modified`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replaced_by: Vec<String>,
    /// Whole days from opening to resolution, rounded up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days_to_resolve: Option<i64>,
    /// The above as a paragraph.
    pub summary: String,
}

/// Decisions of a case read to write it up: a campaign's case may hold hundreds, alike.
const DECISIONS_READ: usize = 20;

/// Writes up at most `n` of `cases` (resolved, newest first): first one of each outcome,
/// then of each category, then the newest of the rest.
pub fn write_up(store: &dyn Store, cases: &[Case], n: usize) -> Result<Vec<PublicCase>, StoreError> {
    let mut chosen: Vec<&Case> = Vec::new();
    let mut pick = |new: &dyn Fn(&Case, &[&Case]) -> bool| {
        for c in cases {
            if chosen.len() < n && !chosen.iter().any(|p| p.id == c.id) && new(c, &chosen) {
                chosen.push(c);
            }
        }
    };
    pick(&|c, chosen| !chosen.iter().any(|p| p.outcome == c.outcome));
    pick(&|c, chosen| !chosen.iter().any(|p| p.category == c.category));
    pick(&|_, _| true);
    chosen.into_iter().map(|c| one(store, c)).collect()
}

fn one(store: &dyn Store, case: &Case) -> Result<PublicCase, StoreError> {
    let mut decisions: Vec<Decision> = Vec::new();
    for id in case.decisions.iter().take(DECISIONS_READ) {
        decisions.extend(store.decision(id)?);
    }
    // The decisions the case was about, not a moderator's replacement made in it.
    let original: Vec<&Decision> = decisions.iter().filter(|d| d.facts.get("replaces").is_none()).collect();
    let first = original.first().copied();
    let content = match first.and_then(|d| d.post_id.as_deref()) {
        Some(post) => store.entity("post", post)?.and_then(|e| {
            let body: serde_json::Value = serde_json::from_str(&e.body).ok()?;
            body["kind"].as_str().map(mask)
        }),
        None => None,
    };
    let mut detectors: Vec<String> = original
        .iter()
        .flat_map(|d| d.facts["signals"].as_array().into_iter().flatten())
        .filter_map(|s| s["detector"].as_str().map(mask))
        .collect();
    detectors.sort();
    detectors.dedup();
    let mut actions: Vec<String> = original.iter().flat_map(|d| d.actions.iter().filter_map(describe)).collect();
    dedup_in_order(&mut actions);
    let mut replaced_by: Vec<String> = decisions
        .iter()
        .filter(|d| d.facts.get("replaces").is_some())
        .flat_map(|d| d.actions.iter().filter_map(describe))
        .collect();
    dedup_in_order(&mut replaced_by);
    let mut came_by = Vec::new();
    if original.iter().any(|d| d.automated_detection) {
        came_by.push("detection".to_string());
    }
    if case.reporters > 0 {
        came_by.push("reports".to_string());
    }
    if !case.appeals.is_empty() {
        came_by.push("appeal".to_string());
    }
    let days_to_resolve = case.resolved_at.map(|at| {
        let waited = (at - case.opened_at).max(Duration::zero());
        (waited.num_seconds() + 86_399) / 86_400
    });
    let mut out = PublicCase {
        subject: case.subject.kind.as_str().to_string(),
        content,
        category: first.map(|d| mask(&d.category)),
        ground: first.map(|d| mask(&d.ground)),
        month: case.opened_at.format("%Y-%m").to_string(),
        came_by,
        reporters: case.reporters,
        decisions: case.decisions.len().saturating_sub(decisions.len() - original.len()),
        detectors,
        automated_decision: first.is_some_and(|d| d.automated_decision),
        actions,
        outcome: case.outcome.clone().map_or_else(|| "resolved".to_string(), |o| mask(&o)),
        replaced_by,
        days_to_resolve,
        summary: String::new(),
    };
    out.summary = summary(&out);
    Ok(out)
}

fn dedup_in_order(items: &mut Vec<String>) {
    let mut seen = std::collections::HashSet::new();
    items.retain(|a| seen.insert(a.clone()));
}

/// An action in words; none for routing to review, which is not an outcome.
fn describe(a: &Action) -> Option<String> {
    let days = |n: &u32| if *n == 1 { "1 day".to_string() } else { format!("{n} days") };
    Some(match a {
        Action::Label { label } => format!("labelled “{}”", mask(label)),
        Action::LimitReach {} => "reach limited".into(),
        Action::Remove {} => "removed".into(),
        Action::RestrictPosting { days: n } => format!("no posting for {}", days(n)),
        Action::RestrictNewFollowers { days: n } => format!("no new followers for {}", days(n)),
        Action::Demonetize { days: n, .. } => format!("monetization off for {}", days(n)),
        Action::Suspend { days: n } => format!("suspended for {}", days(n)),
        Action::Close {} => "account closed".into(),
        Action::Mute {} => "muted in the group".into(),
        Action::RequireDisclosure { days: n } => format!("identity disclosure required for {}", days(n)),
        Action::DeductCredit { points: 1 } => "1 credit point deducted".into(),
        Action::DeductCredit { points } => format!("{points} credit points deducted"),
        Action::QueueReview { .. } => return None,
    })
}

fn summary(c: &PublicCase) -> String {
    let what = match (c.subject.as_str(), &c.content) {
        ("campaign", _) => format!("A campaign of copied posts ({} decisions)", c.decisions),
        ("account", _) => "An account".to_string(),
        (_, Some(kind)) => format!("A post ({})", kind.replace('_', " ")),
        (subject, None) => format!("A {subject}"),
    };
    let mut s = match &c.category {
        Some(category) => format!("{what} in the category “{category}”"),
        None => format!("{what}, reported by users"),
    };
    if !c.detectors.is_empty() {
        s += &format!(
            ", flagged by the {} detector{}",
            c.detectors.join(", "),
            if c.detectors.len() > 1 { "s" } else { "" }
        );
    }
    if !c.actions.is_empty() {
        let by = if c.automated_decision { "automatically" } else { "by a moderator" };
        s += &format!(", was decided {by}: {}", c.actions.join(", "));
    }
    s.push('.');
    if let Some(ground) = &c.ground {
        s += &format!(" Ground: {ground}.");
    }
    match c.reporters {
        0 => {}
        1 => s += " One person reported it.",
        n => s += &format!(" {n} people reported it."),
    }
    if c.came_by.iter().any(|b| b == "appeal") {
        s += " The account appealed.";
    }
    let (the, was) = if c.decisions > 1 { ("the decisions", "were") } else { ("the decision", "was") };
    s += &match c.outcome.as_str() {
        "upheld" => format!(" On review {the} {was} upheld"),
        "overturned" => format!(" On review {the} {was} overturned and the restrictions lifted"),
        "modified" => format!(" On review a moderator replaced {the} with: {}", c.replaced_by.join(", ")),
        "dismissed" => " On review the reports were dismissed".to_string(),
        other => format!(" Review outcome: {other}"),
    };
    if let Some(days) = c.days_to_resolve {
        s += &format!(" (resolved within {} day{}).", days.max(1), if days > 1 { "s" } else { "" });
    } else {
        s.push('.');
    }
    s
}

static PERSONAL: LazyLock<[(Regex, &str); 4]> = LazyLock::new(|| {
    let re = |p: &str| Regex::new(p).expect("a valid pattern");
    [
        (re(r"[\w.+-]+@[\w-]+(\.[\w-]+)+"), "[email]"),
        (re(r"(?i)\b(https?://|www\.)\S+|\b[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}/\S*"), "[link]"),
        (re(r"@[\w.-]+"), "[account]"),
        // Phone, id and account numbers: five digits or more, maybe spaced or dashed.
        (re(r"\+?\d(?:[\s-]?\d){4,}"), "[number]"),
    ]
});

/// `text` with email addresses, links, @handles and runs of five or more digits (phone,
/// identity and account numbers) replaced by `[email]`, `[link]`, `[account]`, `[number]`.
pub fn mask(text: &str) -> String {
    let mut out = text.to_string();
    for (pattern, with) in PERSONAL.iter() {
        out = pattern.replace_all(&out, *with).into_owned();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mask_hides_contacts_links_handles_and_numbers() {
        assert_eq!(mask("write to li.wei+x@example.com.cn now"), "write to [email] now");
        assert_eq!(mask("see https://t.cn/A6x?z=1 or www.x.org/a"), "see [link] or [link]");
        assert_eq!(mask("转发 t.cn/R2Wx 看看"), "转发 [link] 看看");
        assert_eq!(mask("ask @chen_doctor"), "ask [account]");
        assert_eq!(mask("call 138 0013 8000 or +86-10-6552-9988"), "call [number] or [number]");
        assert_eq!(mask("身份证 110101199003077777"), "身份证 [number]");
        // The policy's ordinary words pass.
        let ground =
            "Measures for Labelling AI-Generated Synthetic Content (2025), art. 4; 《网络信息内容生态治理规定》第十条";
        assert_eq!(mask(ground), ground);
    }
}
