//! What changed in how an account presents itself: detectors that read a profile check it on
//! `account.upserted` only when it is new or changed, so an account flagged once is not
//! flagged again on every follower update, even after a restart (the engine gives detectors
//! the state before each upsert as [`Context::account`](crate::Context::account)).

use steward_model::Account;

/// Whether the account is new or changed its display name or bio.
pub fn name_or_bio_new(before: Option<&Account>, now: &Account) -> bool {
    before.is_none_or(|b| b.display_name != now.display_name || b.bio != now.bio)
}

/// Whether the account is new or changed its display name, bio or avatar.
pub fn presents_anew(before: Option<&Account>, now: &Account) -> bool {
    name_or_bio_new(before, now) || before.is_some_and(|b| b.avatar_hash != now.avatar_hash)
}
