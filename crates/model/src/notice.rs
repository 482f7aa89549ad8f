//! Notices: what steward tells a person about a decision or an outcome that concerns them.
//!
//! A [`Notice`] is written to the outbox in the same commit as its cause and delivered later
//! (by signed webhook). Its id is derived from the cause, so a cause committed again makes
//! no second notice, and it is the idempotency key a receiver deduplicates on. How far its
//! delivery has got is a [`Delivery`], read with the notice as a [`StoredNotice`].

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Who a notice is for: the account a decision or outcome concerns, a person who reported
/// something, or the chat group a decided message was posted in (whose bot enforces the
/// decisions there). Each audience has its own deliverer: a webhook endpoint, or the bot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    Account,
    Reporter,
    /// A chat group, by its id.
    Group,
}

/// What a notice is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    /// A decision on the account or its post, with its statement of reasons.
    Decision,
    /// A case about the account was resolved.
    CaseOutcome,
    /// The account's appeal was decided.
    AppealOutcome,
    /// What came of a report the recipient filed.
    ReportOutcome,
    /// What a group's bot does about the live decisions on one message in the group:
    /// its body holds the post and the decisions.
    GroupActions,
}

/// How far a notice's delivery has got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Not delivered yet; tried again at `next_attempt_at`.
    Pending,
    /// A receiver answered 2xx.
    Delivered,
    /// Every attempt failed; listed for admins, who may replay it.
    Dead,
}

macro_rules! names {
    ($t:ty { $($v:ident => $s:literal),* $(,)? }) => {
        impl $t {
            pub const ALL: &'static [$t] = &[$(<$t>::$v),*];

            pub fn as_str(self) -> &'static str {
                match self { $(<$t>::$v => $s),* }
            }

            pub fn parse(s: &str) -> Option<$t> {
                Self::ALL.iter().copied().find(|v| v.as_str() == s)
            }
        }
    };
}

names!(Audience { Account => "account", Reporter => "reporter", Group => "group" });
names!(NoticeKind {
    Decision => "decision",
    CaseOutcome => "case_outcome",
    AppealOutcome => "appeal_outcome",
    ReportOutcome => "report_outcome",
    GroupActions => "group_actions",
});
names!(DeliveryState { Pending => "pending", Delivered => "delivered", Dead => "dead" });

/// A notice to one recipient. Serialized as it is, it is the body of the webhook request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Notice {
    /// Derived from the cause ([`Notice::decision_id`], [`Notice::outcome_id`]); also the
    /// idempotency key of its delivery.
    pub id: String,
    /// The account id of the person told.
    pub recipient: String,
    pub audience: Audience,
    pub kind: NoticeKind,
    /// The decision, case or appeal the notice is about.
    pub subject: String,
    pub created_at: DateTime<Utc>,
    /// What the person is told: for a decision, its statement of reasons.
    #[schema(value_type = Object)]
    pub body: Value,
}

impl Notice {
    /// The id of the notice of decision `decision_id` to its subject account.
    pub fn decision_id(decision_id: &str) -> String {
        format!("decision:{decision_id}")
    }

    /// The id of the group actions for the decisions on the message of event `event_id`.
    pub fn group_actions_id(event_id: &str) -> String {
        format!("group:{event_id}")
    }

    /// The id of the `n`th notice of its kind about `subject` (a case, appeal or report) to
    /// `recipient`: `case:<case id>:<n>` for the account concerned, with `:<recipient>`
    /// added for a reporter, as a case may have many.
    pub fn outcome_id(kind: NoticeKind, subject: &str, n: u32, audience: Audience, recipient: &str) -> String {
        let prefix = match kind {
            NoticeKind::Decision => "decision",
            NoticeKind::CaseOutcome => "case",
            NoticeKind::AppealOutcome => "appeal",
            NoticeKind::ReportOutcome => "report",
            NoticeKind::GroupActions => "group",
        };
        match audience {
            Audience::Account => format!("{prefix}:{subject}:{n}"),
            Audience::Reporter | Audience::Group => format!("{prefix}:{subject}:{n}:{recipient}"),
        }
    }
}

/// The delivery of one notice, as the store keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Delivery {
    pub state: DeliveryState,
    /// Attempts made so far.
    pub attempts: u32,
    /// When a pending notice is next tried.
    pub next_attempt_at: DateTime<Utc>,
    /// Why the last attempt failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered_at: Option<DateTime<Utc>>,
}

/// A notice with its delivery, as read back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StoredNotice {
    #[serde(flatten)]
    pub notice: Notice,
    pub delivery: Delivery,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_match_serde() {
        for a in Audience::ALL {
            assert_eq!(Audience::parse(a.as_str()), Some(*a));
            assert_eq!(serde_json::to_value(a).unwrap(), a.as_str());
        }
        for k in NoticeKind::ALL {
            assert_eq!(NoticeKind::parse(k.as_str()), Some(*k));
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
        for s in DeliveryState::ALL {
            assert_eq!(DeliveryState::parse(s.as_str()), Some(*s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
    }

    #[test]
    fn ids_come_from_the_cause() {
        assert_eq!(Notice::decision_id("ai@e1"), "decision:ai@e1");
        let account = Notice::outcome_id(NoticeKind::CaseOutcome, "c7", 2, Audience::Account, "a1");
        assert_eq!(account, "case:c7:2");
        let reporter = Notice::outcome_id(NoticeKind::ReportOutcome, "c7", 1, Audience::Reporter, "r9");
        assert_eq!(reporter, "report:c7:1:r9");
    }
}
