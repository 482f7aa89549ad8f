//! A decision as a statement of reasons for the EU DSA Transparency Database (Art. 24(5)
//! DSA): the restrictions it imposed in the Database's four kinds, their end dates, the
//! ground, category, content, source and automation, each from the Database's allowed
//! values ([`rules`]).
//!
//! Choices the Database leaves to the platform:
//! - every decision is on the ground of the platform's terms (`incompatible_content_*`):
//!   steward's grounds are the platform's rules and the regulations they follow;
//! - the PUID is the decision id, with every byte other than `A-Z a-z 0-9 -` written `_XX`
//!   (hex), so it reads back to the id; an id that would then pass 500 characters is
//!   `sha256-` and the hex SHA-256 of the id;
//! - a decision a person overturned is exported with what it did: its restrictions end at
//!   the reversal, and the facts say so;
//! - no personal data: the facts name signals, rule and actions, not evidence, and the
//!   explanation has the account's and post's ids and names replaced.

pub mod rules;

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::{Account, Decision, Post, PostKind, Restriction, RestrictionKind, Reversal};

/// One statement of reasons, as the Database's API takes it. Fields left out are those
/// steward has nothing for (all optional).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Statement {
    pub puid: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub decision_visibility: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision_visibility_other: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_date_visibility_restriction: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision_monetary: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_date_monetary_restriction: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision_provision: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_date_service_restriction: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision_account: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_date_account_restriction: Option<String>,
    pub decision_ground: &'static str,
    pub incompatible_content_ground: String,
    pub incompatible_content_explanation: String,
    pub category: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub category_specification: Vec<&'static str>,
    pub content_type: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type_other: Option<&'static str>,
    pub content_date: String,
    pub application_date: String,
    pub territorial_scope: Vec<&'static str>,
    pub decision_facts: String,
    pub source_type: &'static str,
    pub automated_detection: &'static str,
    pub automated_decision: &'static str,
}

/// What the export knows of a decision's subject beyond the decision, from the store.
#[derive(Debug, Clone, Default)]
pub struct Subject {
    /// The post the decision is about, if it is about one.
    pub post: Option<Post>,
    /// The account, whose names are kept out of the explanation.
    pub account: Option<Account>,
}

/// steward's harm categories: those of the shipped policy and detectors, and other names
/// for the same harms, with the Database's category and, where one fits, its keyword.
pub const CATEGORIES: &[(&str, &str, Option<&str>)] = &[
    ("false_information", CIVIC, Some("KEYWORD_MISINFORMATION_DISINFORMATION")),
    ("rumour", CIVIC, Some("KEYWORD_MISINFORMATION_DISINFORMATION")),
    ("debunked_claim", CIVIC, Some("KEYWORD_MISINFORMATION_DISINFORMATION")),
    ("coordinated_campaign", CIVIC, None),
    ("copy_campaign", CIVIC, None),
    ("impersonation", SCAMS, Some("KEYWORD_IMPERSONATION_ACCOUNT_HIJACKING")),
    ("unqualified_professional", SCAMS, None),
    ("professional_qualification", SCAMS, None),
    ("ai_unlabelled", TERMS, None),
    ("clickbait", TERMS, None),
    ("disclosure_evasion", TERMS, None),
    ("follower_purge", TERMS, None),
    ("threshold_evasion", TERMS, None),
    ("repeat_violations", TERMS, None),
    ("spam", TERMS, None),
];
const CIVIC: &str = "STATEMENT_CATEGORY_NEGATIVE_EFFECTS_ON_CIVIC_DISCOURSE_OR_ELECTIONS";
const SCAMS: &str = "STATEMENT_CATEGORY_SCAMS_AND_FRAUD";
const TERMS: &str = "STATEMENT_CATEGORY_OTHER_VIOLATION_TC";

/// How steward's categories become the Database's: [`CATEGORIES`], with the operator's own
/// on top. A category in neither is exported as a violation of the terms.
#[derive(Debug, Clone, Default)]
pub struct Categories {
    own: BTreeMap<String, &'static str>,
}

impl Categories {
    /// Maps steward category `name` to `category`, one of [`rules::CATEGORIES`].
    pub fn set(&mut self, name: &str, category: &str) -> Result<(), String> {
        let Some(allowed) = rules::CATEGORIES.iter().find(|c| **c == category) else {
            return Err(format!("{category:?} is not a category of the Database (STATEMENT_CATEGORY_...)"));
        };
        self.own.insert(name.to_string(), allowed);
        Ok(())
    }

    /// The Database's category and keyword for `name`, or `None` when it has no mapping.
    pub fn get(&self, name: &str) -> Option<(&'static str, Option<&'static str>)> {
        if let Some(own) = self.own.get(name) {
            return Some((own, None));
        }
        CATEGORIES.iter().find(|(n, ..)| *n == name).map(|(_, c, k)| (*c, *k))
    }
}

/// The Database's kinds of restriction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Visibility,
    Monetary,
    Provision,
    Account,
}

/// Where a restriction goes and its value. Values of the one-valued kinds are compared by
/// their place in [`rules`]' lists, which run from the mildest to the strongest.
fn restriction_value(r: &Restriction) -> (Kind, &'static str) {
    match r.kind {
        RestrictionKind::Label => (Kind::Visibility, "DECISION_VISIBILITY_CONTENT_LABELLED"),
        RestrictionKind::LimitReach => (Kind::Visibility, "DECISION_VISIBILITY_CONTENT_DEMOTED"),
        RestrictionKind::Removed => (Kind::Visibility, "DECISION_VISIBILITY_CONTENT_REMOVED"),
        RestrictionKind::Disclosure => (Kind::Visibility, "DECISION_VISIBILITY_OTHER"),
        RestrictionKind::Posting | RestrictionKind::NewFollowers | RestrictionKind::Muted => {
            (Kind::Provision, "DECISION_PROVISION_PARTIAL_SUSPENSION")
        }
        RestrictionKind::Monetization if r.end.is_some() => (Kind::Monetary, "DECISION_MONETARY_SUSPENSION"),
        RestrictionKind::Monetization => (Kind::Monetary, "DECISION_MONETARY_TERMINATION"),
        RestrictionKind::Suspended => (Kind::Account, "DECISION_ACCOUNT_SUSPENDED"),
        RestrictionKind::Closed => (Kind::Account, "DECISION_ACCOUNT_TERMINATED"),
    }
}

/// What `decision_visibility_other` says of an identity disclosure kept on.
pub const DISCLOSURE: &str = "The account must show its verified identity and IP region whatever its follower count";
/// What `content_type_other` says of a decision on an account.
pub const ACCOUNT_CONTENT: &str = "Account (name, avatar and profile)";

/// The statement of reasons for live decision `d`, reversed by `reversal` if a person
/// overturned it; or why it cannot be one.
pub fn statement(
    d: &Decision,
    subject: &Subject,
    reversal: Option<&Reversal>,
    categories: &Categories,
) -> Result<Statement, String> {
    let mut restrictions = d.restrictions.clone();
    if let Some(r) = reversal {
        Reversal::apply(std::slice::from_ref(r), &mut restrictions, &mut []);
    }
    if restrictions.is_empty() {
        let actions: Vec<&str> = d.actions.iter().map(|a| a.name()).collect();
        return Err(format!("it restricts nothing the Database records (actions: {})", actions.join(", ")));
    }
    let applied = d.decided_at.date_naive();
    let mut s = Statement {
        puid: puid(&d.id),
        decision_visibility: Vec::new(),
        decision_visibility_other: None,
        end_date_visibility_restriction: None,
        decision_monetary: None,
        end_date_monetary_restriction: None,
        decision_provision: None,
        end_date_service_restriction: None,
        decision_account: None,
        end_date_account_restriction: None,
        decision_ground: "DECISION_GROUND_INCOMPATIBLE_CONTENT",
        incompatible_content_ground: shorten(&non_empty(&d.ground, || format!("Rule {}", d.rule_id)), 500),
        incompatible_content_explanation: shorten(&explanation(d, subject), 2000),
        category: TERMS,
        category_specification: Vec::new(),
        content_type: Vec::new(),
        content_type_other: None,
        content_date: String::new(),
        application_date: date("application date", applied, "2020-01-01")?,
        territorial_scope: rules::EEA_COUNTRIES.to_vec(),
        decision_facts: shorten(&facts(d, reversal), 5000),
        source_type: source(d),
        automated_detection: if d.automated_detection { "Yes" } else { "No" },
        automated_decision: if d.automated_decision {
            "AUTOMATED_DECISION_FULLY"
        } else {
            "AUTOMATED_DECISION_NOT_AUTOMATED"
        },
    };
    if let Some((category, keyword)) = categories.get(&d.category) {
        s.category = category;
        s.category_specification.extend(keyword);
    }
    for kind in [Kind::Visibility, Kind::Monetary, Kind::Provision, Kind::Account] {
        // The value from the restriction as decided, the end as it came to be.
        let of_kind: Vec<(&Restriction, &'static str)> = restrictions
            .iter()
            .zip(&d.restrictions)
            .map(|(r, decided)| (r, restriction_value(decided)))
            .filter(|(_, (k, _))| *k == kind)
            .map(|(r, (_, v))| (r, v))
            .collect();
        if of_kind.is_empty() {
            continue;
        }
        // One end for the kind: the latest, none when one of them has none.
        let end = match of_kind.iter().map(|(r, _)| r.end).collect::<Option<Vec<_>>>() {
            Some(ends) => Some(end_date(kind, ends.into_iter().max(), applied)?),
            None => None,
        };
        let strongest =
            |allowed: &[&str]| of_kind.iter().map(|(_, v)| *v).max_by_key(|v| allowed.iter().position(|a| a == v));
        match kind {
            Kind::Visibility => {
                for (_, v) in &of_kind {
                    push_new(&mut s.decision_visibility, v);
                }
                if s.decision_visibility.contains(&"DECISION_VISIBILITY_OTHER") {
                    s.decision_visibility_other = Some(DISCLOSURE);
                }
                s.end_date_visibility_restriction = end;
            }
            Kind::Monetary => {
                s.decision_monetary = strongest(rules::DECISION_MONETARIES);
                s.end_date_monetary_restriction = end;
            }
            Kind::Provision => {
                s.decision_provision = strongest(rules::DECISION_PROVISIONS);
                s.end_date_service_restriction = end;
            }
            Kind::Account => {
                s.decision_account = strongest(rules::DECISION_ACCOUNTS);
                s.end_date_account_restriction = end;
            }
        }
    }
    let (types, other) = content_types(d, subject)?;
    s.content_type = types;
    s.content_type_other = other;
    let posted = match &subject.post {
        Some(p) => p.created_at,
        None => event_time(d).unwrap_or(d.decided_at),
    };
    s.content_date = date("content date", posted.date_naive(), "2000-01-01")?;
    Ok(s)
}

/// The PUID of a decision id (see the module's docs).
pub fn puid(decision_id: &str) -> String {
    let mut out = String::with_capacity(decision_id.len() + 8);
    for b in decision_id.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' {
            out.push(b as char);
        } else {
            out.push_str(&format!("_{b:02X}"));
        }
    }
    if out.len() <= 500 {
        return out;
    }
    let hash = Sha256::digest(decision_id.as_bytes());
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256-{hex}")
}

/// `day` written as the Database takes it, if it lies from `first` to 2038-01-01.
fn date(what: &str, day: NaiveDate, first: &str) -> Result<String, String> {
    let text = day.format("%Y-%m-%d").to_string();
    if text.as_str() < first || text.as_str() > "2038-01-01" {
        return Err(format!("its {what} {text} is outside what the Database takes ({first} to 2038-01-01)"));
    }
    Ok(text)
}

fn end_date(kind: Kind, end: Option<DateTime<Utc>>, applied: NaiveDate) -> Result<String, String> {
    let what = format!("{kind:?} restriction's end").to_lowercase();
    let day = end.map_or(applied, |e| e.date_naive().max(applied));
    date(&what, day, "2020-01-01")
}

fn event_time(d: &Decision) -> Option<DateTime<Utc>> {
    let at = d.facts.get("event")?.get("at")?.as_str()?;
    DateTime::parse_from_rfc3339(at).ok().map(|t| t.with_timezone(&Utc))
}

/// A decision on a user's report is on a notification; any other on steward's own
/// detection.
fn source(d: &Decision) -> &'static str {
    let event_type = d.facts.get("event").and_then(|e| e.get("type")).and_then(|t| t.as_str());
    if event_type == Some("report.created") { "SOURCE_TYPE_OTHER_NOTIFICATION" } else { "SOURCE_VOLUNTARY" }
}

fn content_types(d: &Decision, subject: &Subject) -> Result<(Vec<&'static str>, Option<&'static str>), String> {
    let Some(post_id) = &d.post_id else {
        return Ok((vec!["CONTENT_TYPE_OTHER"], Some(ACCOUNT_CONTENT)));
    };
    let Some(post) = &subject.post else {
        return Err(format!("its post {post_id} is not stored"));
    };
    let mut types = Vec::new();
    let mut add = |t: &'static str| push_new(&mut types, t);
    match post.kind {
        PostKind::Video | PostKind::Live => add("CONTENT_TYPE_VIDEO"),
        PostKind::Image => add("CONTENT_TYPE_IMAGE"),
        _ => {}
    }
    if !post.text.trim().is_empty() || post.title.as_deref().is_some_and(|t| !t.trim().is_empty()) {
        add("CONTENT_TYPE_TEXT");
    }
    for m in &post.media {
        match m.kind.as_str() {
            "image" => add("CONTENT_TYPE_IMAGE"),
            "video" => add("CONTENT_TYPE_VIDEO"),
            "audio" => add("CONTENT_TYPE_AUDIO"),
            _ => {}
        }
    }
    let ai = post.ai_generated.is_some_and(|a| a.declared || a.implicit_label)
        || post.media.iter().any(|m| m.ai_marker)
        || signal_names(d).any(|n| n == "unlabelled_ai");
    if ai {
        add("CONTENT_TYPE_SYNTHETIC_MEDIA");
    }
    if types.is_empty() {
        types.push("CONTENT_TYPE_TEXT");
    }
    Ok((types, None))
}

fn push_new(list: &mut Vec<&'static str>, value: &'static str) {
    if !list.contains(&value) {
        list.push(value);
    }
}

fn signal_names(d: &Decision) -> impl Iterator<Item = &str> {
    let signals = d.facts.get("signals").and_then(|s| s.as_array()).map(Vec::as_slice).unwrap_or(&[]);
    signals.iter().filter_map(|s| s.get("name")?.as_str())
}

/// The facts relied on, without personal data: signals by name, detector and score, the
/// rule and the event type, the actions, and a replacement or reversal.
fn facts(d: &Decision, reversal: Option<&Reversal>) -> String {
    let signals = d.facts.get("signals").and_then(|s| s.as_array()).map(Vec::as_slice).unwrap_or(&[]);
    let mut out = String::new();
    if signals.is_empty() {
        out.push_str("No automated signal. ");
    } else {
        let described: Vec<String> = signals
            .iter()
            .map(|s| {
                let text = |k: &str| s.get(k).and_then(|v| v.as_str()).unwrap_or("?").to_string();
                let score = s.get("score").and_then(|v| v.as_f64()).unwrap_or(0.0);
                format!("{} (detector {}, score {score:.2})", text("name"), text("detector"))
            })
            .collect();
        out.push_str(&format!("Signals: {}. ", described.join("; ")));
    }
    let event = d.facts.get("event").and_then(|e| e.get("type")).and_then(|t| t.as_str()).unwrap_or("an event");
    out.push_str(&format!("Rule {} of policy {} on {event}. ", d.rule_id, d.policy_version));
    let actions: Vec<String> = d
        .actions
        .iter()
        .map(|a| match a {
            crate::Action::Label { label } => format!("label {label:?}"),
            crate::Action::DeductCredit { points: 1 } => "deduct 1 credit point".to_string(),
            crate::Action::DeductCredit { points } => format!("deduct {points} credit points"),
            other => match serde_json::to_value(other).ok().and_then(|v| v.get("days").and_then(|d| d.as_u64())) {
                Some(days) => format!("{} for {days} days", other.name()),
                None => other.name().to_string(),
            },
        })
        .collect();
    out.push_str(&format!("Actions: {}.", actions.join(", ")));
    if let Some(replaced) = d.facts.get("replaces").and_then(|r| r.as_str()) {
        out.push_str(&format!(" Decided by a moderator on review, in place of statement {}.", puid(replaced)));
    }
    if let Some(r) = reversal {
        out.push_str(&format!(
            " Overturned on review on {}: its restrictions ended then.",
            r.at.date_naive().format("%Y-%m-%d")
        ));
    }
    out
}

/// The explanation given to the account, its ids and names replaced.
fn explanation(d: &Decision, subject: &Subject) -> String {
    let mut text =
        non_empty(&d.explanation, || format!("Decided under rule {} of policy {}.", d.rule_id, d.policy_version))
            .to_string();
    let mut names: Vec<(&str, &str)> = Vec::new();
    if let Some(post) = &d.post_id {
        names.push((post, "[post]"));
    }
    if let Some(account) = &d.account_id {
        names.push((account, "[account]"));
    }
    if let Some(a) = &subject.account {
        names.push((&a.display_name, "[name]"));
        names.push((&a.handle, "[handle]"));
    }
    // Longest first, so a name inside another is not replaced in part; one-character
    // names would hit ordinary words.
    names.sort_by_key(|(n, _)| std::cmp::Reverse(n.chars().count()));
    for (name, placeholder) in names {
        if name.chars().count() >= 2 {
            text = text.replace(name, placeholder);
        }
    }
    text
}

fn non_empty<'a>(text: &'a str, fallback: impl FnOnce() -> String) -> std::borrow::Cow<'a, str> {
    if text.trim().is_empty() { fallback().into() } else { text.into() }
}

/// `text` cut to at most `max` characters, an ellipsis marking the cut.
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max - 1).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_puid_reads_back_to_its_decision_id_and_stays_within_500_characters() {
        assert_eq!(puid("ai-unlabelled@demo-0016"), "ai-unlabelled_40demo-0016");
        assert_eq!(puid("review.c_1.2@e 1"), "review_2Ec_5F1_2E2_40e_201");
        assert_eq!(puid("r@谣"), "r_40_E8_B0_A3");
        // `_` is written too, so two ids never meet in one PUID.
        assert_ne!(puid("a_40b"), puid("a@b"));
        let long = format!("r@{}", "谣".repeat(60));
        let p = puid(&long);
        assert!(p.starts_with("sha256-") && p.len() == 71, "{p}");
        assert_ne!(p, puid(&format!("r@{}", "言".repeat(60))));
    }

    #[test]
    fn shorten_keeps_whole_characters() {
        assert_eq!(shorten("abc", 3), "abc");
        assert_eq!(shorten("谣言止于智者", 4), "谣言止…");
    }
}
