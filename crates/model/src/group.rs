//! Groups of posts a detector finds together, such as copy-paste campaigns, as they are
//! stored and served.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A post in a group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GroupMember {
    pub post_id: String,
    pub account_id: String,
    /// When the post was published.
    pub at: DateTime<Utc>,
}

/// What one event changed in a group: its summary now, the posts that joined it, and the
/// groups merged into it (whose members become its members).
#[derive(Debug, Clone, PartialEq)]
pub struct GroupChange {
    /// `campaign`; the summary is stored as an entity of this kind.
    pub kind: &'static str,
    pub id: String,
    pub summary: Value,
    pub joined: Vec<GroupMember>,
    pub absorbed: Vec<String>,
    pub at: DateTime<Utc>,
}
