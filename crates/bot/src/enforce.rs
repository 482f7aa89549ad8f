//! From a decision on a group message to what the bot does in the group: the OneBot
//! actions that enforce it, the line that tells the member why, and the details its admins
//! get.
//!
//! | restriction | action |
//! |---|---|
//! | `removed` (this message) | `delete_msg` |
//! | `muted` in this group, `posting`, `suspended` | `set_group_ban` for what is left of it (at most 30 days) |
//! | `closed` | `set_group_kick` |
//!
//! Labels and reach limits have no meaning in a group and do nothing there. The group's
//! owner is never actioned: the bot tells the admins instead. The plan is carried out by
//! the group deliverer ([`crate::deliver`]), from the outbox.

use chrono::{DateTime, Utc};
use steward_model::chat_group::MAX_MUTE_SECONDS;
use steward_model::{Decision, GroupRole, GroupRules, Post, RestrictionKind};
use steward_onebot::Action;
use steward_onebot::message::Segment;

use crate::message;

/// The message decisions are about, as the bot needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// The bot account that saw it.
    pub self_id: String,
    pub message_id: String,
    pub group_id: String,
    pub user_id: String,
    pub role: Option<GroupRole>,
    pub text: String,
    /// The post's id in steward.
    pub post_id: String,
}

impl Target {
    /// The target of a stored group message; `None` for a post that did not come through a
    /// OneBot bot.
    pub fn of_post(post: &Post) -> Option<Target> {
        let (self_id, message_id) = message::ids_of_post(&post.id)?;
        Some(Target {
            self_id: self_id.to_string(),
            message_id: message_id.to_string(),
            group_id: post.group_id.clone()?,
            user_id: post.account_id.clone(),
            role: post.group_role,
            text: post.text.clone(),
            post_id: post.id.clone(),
        })
    }
}

/// What the bot does about the decisions on one message.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plan {
    /// The enforcing actions, in order.
    pub actions: Vec<Action>,
    /// The member's notice, in the group.
    pub notice: Option<Action>,
    /// The admins' details, one private message each.
    pub admin_details: Vec<Action>,
    /// Whether the message itself is gone (the bot does not answer it).
    pub removed: bool,
}

/// Plans the enforcement of `decisions` (live ones, on message `m`).
pub fn plan(m: &Target, decisions: &[&Decision], rules: Option<&GroupRules>) -> Plan {
    let mut plan = Plan::default();
    if decisions.is_empty() {
        return plan;
    }
    let owner = m.role == Some(GroupRole::Owner);
    let post_id = m.post_id.as_str();
    let mut ban: Option<u64> = None;
    let mut kick = false;
    for d in decisions {
        for r in &d.restrictions {
            // The whole length: the mute starts when the group enforces it.
            let left = |end: Option<DateTime<Utc>>| {
                end.map_or(u64::from(MAX_MUTE_SECONDS), |end| (end - r.start).num_seconds().max(1) as u64)
                    .min(u64::from(MAX_MUTE_SECONDS))
            };
            match r.kind {
                RestrictionKind::Muted if r.detail == m.group_id => ban = ban.max(Some(left(r.end))),
                RestrictionKind::Posting | RestrictionKind::Suspended => ban = ban.max(Some(left(r.end))),
                RestrictionKind::Closed => kick = true,
                _ => {}
            }
        }
    }
    plan.removed = removes(decisions.iter().copied(), post_id);
    let acted = plan.removed || ban.is_some() || kick;
    if !owner {
        if plan.removed {
            plan.actions.push(Action::DeleteMsg { message_id: m.message_id.clone() });
        }
        if kick {
            plan.actions.push(Action::SetGroupKick {
                group_id: m.group_id.clone(),
                user_id: m.user_id.clone(),
                reject_add_request: false,
            });
        } else if let Some(duration) = ban {
            plan.actions.push(Action::SetGroupBan {
                group_id: m.group_id.clone(),
                user_id: m.user_id.clone(),
                duration,
            });
        }
    }
    if acted && !owner {
        let why: Vec<String> = decisions.iter().map(|d| without_quote(&d.explanation, m.text.trim())).collect();
        plan.notice = Some(Action::SendGroupMsg {
            group_id: m.group_id.clone(),
            message: vec![Segment::at(m.user_id.clone()), Segment::text(format!(" {}", why.join(" ")))],
        });
    }
    if let Some(rules) = rules {
        let mut details = format!("[steward] In {} ({}): member {}", rules.name, m.group_id, m.user_id);
        if owner {
            details.push_str(" is the group's owner, so nothing was done; the rules would have");
        }
        for d in decisions {
            let actions: Vec<&str> = d.actions.iter().map(|a| a.name()).collect();
            let why = d.explanation.trim_end_matches(['.', ' ']);
            details.push_str(&format!("\n- {} ({}): {why}. Decision {}.", d.rule_id, actions.join(", "), d.id));
        }
        details.push_str(&format!("\nThe message: \u{201c}{}\u{201d}", excerpt(&m.text, 200)));
        plan.admin_details = rules
            .admins
            .iter()
            .filter(|a| **a != m.user_id)
            .map(|a| Action::SendPrivateMsg { user_id: a.clone(), message: vec![Segment::text(details.clone())] })
            .collect();
    }
    plan
}

/// Whether the decisions remove post `post_id`.
pub fn removes<'a>(decisions: impl IntoIterator<Item = &'a Decision>, post_id: &str) -> bool {
    decisions
        .into_iter()
        .flat_map(|d| &d.restrictions)
        .any(|r| r.kind == RestrictionKind::Removed && r.post_id.as_deref() == Some(post_id))
}

/// A reason with the offending text taken out, should the policy's template quote it: the
/// group is told the rule, never what was said.
fn without_quote(reason: &str, said: &str) -> String {
    if said.chars().count() < 4 { reason.to_string() } else { reason.replace(said, "[the message]") }
}

fn excerpt(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}
