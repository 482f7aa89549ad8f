//! The entities events carry: accounts, posts, reports, fact-checks, protected identities,
//! verified credentials and follower snapshots.
//!
//! Every entity denies unknown fields, so a misspelt field is a clear rejection rather than
//! a silently ignored flag.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::chat_group::GroupRole;

/// A self-media account or group member.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Account {
    pub id: String,
    pub handle: String,
    pub display_name: String,
    #[serde(default)]
    pub bio: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar_hash: Option<String>,
    #[serde(default)]
    pub followers: u64,
    #[serde(default)]
    pub verified: bool,
    /// The verified real-world identity behind the account, when the platform has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<VerifiedIdentity>,
    /// Region of the account's last IP address, as platforms must show for large accounts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_region: Option<String>,
    /// Monetization features the account has switched on (ads, tips, shop, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub monetization: Vec<String>,
}

/// Who stands behind a verified account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifiedIdentity {
    /// Person's or organisation's name.
    pub name: String,
    /// `person` or `organization`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// The kinds of post steward knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PostKind {
    ShortPost,
    Article,
    Video,
    Image,
    Comment,
    Repost,
    Live,
    GroupMessage,
}

impl PostKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PostKind::ShortPost => "short_post",
            PostKind::Article => "article",
            PostKind::Video => "video",
            PostKind::Image => "image",
            PostKind::Comment => "comment",
            PostKind::Repost => "repost",
            PostKind::Live => "live",
            PostKind::GroupMessage => "group_message",
        }
    }
}

/// What the author (declared) and the content's embedded metadata (implicit label) say
/// about AI generation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AiGenerated {
    #[serde(default)]
    pub declared: bool,
    #[serde(default)]
    pub implicit_label: bool,
}

/// An attached image, video or audio item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Media {
    /// `image`, `video` or `audio`.
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Whether the media file carries an embedded AI-generation marker.
    #[serde(default)]
    pub ai_marker: bool,
}

/// A post, article, video, comment or group message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Post {
    pub id: String,
    pub account_id: String,
    pub kind: PostKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub text: String,
    pub created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
    /// For a group message: the author's role in the group, as the chat platform reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_role: Option<GroupRole>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reposted_from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ai_generated: Option<AiGenerated>,
    /// Whether the post shows a visible "AI-generated" label to readers.
    #[serde(default)]
    pub explicit_label: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub media: Vec<Media>,
}

impl Post {
    /// The title and the text, one line apart: what text matchers read.
    pub fn full_text(&self) -> std::borrow::Cow<'_, str> {
        match &self.title {
            Some(title) if !title.is_empty() => format!("{title}\n{}", self.text).into(),
            _ => self.text.as_str().into(),
        }
    }
}

/// A reference to a post, as carried by `post.deleted`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostRef {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
}

/// A user's report about a post or an account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Report {
    pub id: String,
    pub reporter_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// Short reason code chosen by the reporter (rumour, impersonation, spam, ...).
    pub reason: String,
    #[serde(default)]
    pub text: String,
}

/// A fact-checker's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    False,
    Misleading,
    True,
    Unproven,
    Opinion,
}

/// A fact-check of one claim.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FactCheck {
    pub id: String,
    pub claim: String,
    pub verdict: Verdict,
    #[serde(default)]
    pub explanation: String,
    pub publisher: String,
    /// When the fact-check was published, if the source says (posts after it spread a claim
    /// already refuted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
}

/// Kinds of protected identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentityKind {
    Government,
    Military,
    Police,
    Court,
    Media,
    PublicInstitution,
    Campus,
    Person,
    Brand,
}

impl IdentityKind {
    /// As written in events.
    pub fn as_str(self) -> &'static str {
        match self {
            IdentityKind::Government => "government",
            IdentityKind::Military => "military",
            IdentityKind::Police => "police",
            IdentityKind::Court => "court",
            IdentityKind::Media => "media",
            IdentityKind::PublicInstitution => "public_institution",
            IdentityKind::Campus => "campus",
            IdentityKind::Person => "person",
            IdentityKind::Brand => "brand",
        }
    }
}

/// A protected identity others must not pose as.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Identity {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    pub kind: IdentityKind,
    #[serde(default)]
    pub owner_account_ids: Vec<String>,
    #[serde(default)]
    pub avatar_hashes: Vec<String>,
}

/// A professional qualification the platform has verified for an account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credential {
    pub account_id: String,
    /// medicine, law, education, psychology, nutrition, finance, accounting, ...
    pub field: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
}

/// An account's follower count at a point in time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FollowerSnapshot {
    pub account_id: String,
    pub followers: u64,
}
