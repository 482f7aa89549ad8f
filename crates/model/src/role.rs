//! API key roles.

use serde::{Deserialize, Serialize};

/// What an API key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// May only send events.
    Ingest,
    /// Reads, and acts on cases and appeals.
    Moderator,
    /// May do everything, including keys and policies.
    Admin,
    /// Reads everything, changes nothing.
    Auditor,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Ingest, Role::Moderator, Role::Admin, Role::Auditor];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Ingest => "ingest",
            Role::Moderator => "moderator",
            Role::Admin => "admin",
            Role::Auditor => "auditor",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// May send events.
    pub fn can_ingest(self) -> bool {
        matches!(self, Role::Ingest | Role::Admin)
    }

    /// May read decisions, standing, campaigns and the audit log.
    pub fn can_read(self) -> bool {
        matches!(self, Role::Moderator | Role::Admin | Role::Auditor)
    }

    /// May read the reports made for oversight (the transparency report).
    pub fn can_audit(self) -> bool {
        matches!(self, Role::Auditor | Role::Admin)
    }

    /// May work review queues: claim cases and act on them.
    pub fn can_moderate(self) -> bool {
        matches!(self, Role::Moderator | Role::Admin)
    }

    /// May change the policy, re-arm rules and manage keys.
    pub fn can_administer(self) -> bool {
        matches!(self, Role::Admin)
    }
}
