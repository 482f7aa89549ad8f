//! API keys: creation (the secret is shown once and stored as its SHA-256) and the
//! extractor that resolves a bearer key to its role.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use sha2::{Digest, Sha256};
use steward_model::Role;
use steward_store::{ApiKey, Store, StoreError};

use crate::{ApiError, AppState};

/// Creates a key with `role`, stores its hash, and returns the secret (shown once).
pub fn create_key(store: &dyn Store, role: Role) -> Result<String, StoreError> {
    let id: [u8; 6] = rand::random();
    let secret: [u8; 24] = rand::random();
    let id = hex::encode(id);
    let key = format!("stw_{id}_{}", hex::encode(secret));
    let created_at = chrono::Utc::now();
    store.insert_key(&ApiKey { id: format!("k_{id}"), hash: hash_key(&key), role, created_at, revoked_at: None })?;
    Ok(key)
}

/// Keys are long random secrets, so one round of SHA-256 is enough to store them safely.
pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// How long a key seen in the store is trusted without reading it again: a key revoked
/// (by `steward keys revoke`, perhaps on another host) stops working within this time.
pub const KEY_RECHECK: Duration = Duration::from_secs(30);

/// Roles of keys seen lately, so most requests cost one hash and no store read. Keys
/// created while the server runs are found in the store on first use.
#[derive(Clone)]
pub struct KeyCache {
    seen: Arc<RwLock<HashMap<String, (Caller, Instant)>>>,
    recheck: Duration,
}

impl Default for KeyCache {
    fn default() -> Self {
        Self::with_recheck(KEY_RECHECK)
    }
}

impl KeyCache {
    fn with_recheck(recheck: Duration) -> Self {
        KeyCache { seen: Arc::default(), recheck }
    }

    /// The key with `hash`, read from the store less than `recheck` ago.
    fn fresh(&self, hash: &str) -> Option<Caller> {
        let seen = self.seen.read().ok()?;
        seen.get(hash).filter(|(_, at)| at.elapsed() < self.recheck).map(|(caller, _)| caller.clone())
    }

    /// The key with `hash`, from the store: unknown and revoked keys are refused.
    pub fn look_up(&self, store: &dyn Store, hash: &str) -> Result<Caller, ApiError> {
        let found = store.key_by_hash(hash)?;
        let mut seen = self.seen.write().unwrap_or_else(|e| e.into_inner());
        match found {
            Some(ApiKey { id, role, revoked_at: None, .. }) => {
                let caller = Caller { role, key_id: id };
                seen.insert(hash.to_string(), (caller.clone(), Instant::now()));
                Ok(caller)
            }
            Some(ApiKey { id, revoked_at: Some(at), .. }) => {
                seen.remove(hash);
                Err(ApiError::unauthorized(format!("API key {id} was revoked at {}", at.to_rfc3339())))
            }
            None => Err(ApiError::unauthorized("unknown API key")),
        }
    }
}

/// The key a request carries: its role, and its id for the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub role: Role,
    pub key_id: String,
}

impl Caller {
    /// Refuses with 403 unless the role passes `allowed`.
    pub fn require(&self, allowed: fn(Role) -> bool, what: &str) -> Result<Role, ApiError> {
        if allowed(self.role) {
            Ok(self.role)
        } else {
            Err(ApiError::forbidden(format!("a key of role `{}` may not {what}", self.role.as_str())))
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or_else(|| ApiError::unauthorized("missing `Authorization: Bearer <key>` header"))?;
        let key = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .ok_or_else(|| ApiError::unauthorized("the Authorization header must be `Bearer <key>`"))?;
        let hash = hash_key(key);
        if let Some(caller) = state.keys.fresh(&hash) {
            return Ok(caller);
        }
        let (keys, store) = (state.keys.clone(), state.store.clone());
        crate::routes::blocking(move || keys.look_up(store.as_ref(), &hash)).await?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revoked_keys_are_refused_once_rechecked() {
        let dir = tempfile::tempdir().unwrap();
        let store = steward_store::open(dir.path(), None).unwrap();
        let key = create_key(store.as_ref(), Role::Moderator).unwrap();
        let hash = hash_key(&key);
        let (cache, eager) = (KeyCache::default(), KeyCache::with_recheck(Duration::ZERO));
        let id = store.keys().unwrap()[0].id.clone();
        for c in [&cache, &eager] {
            assert_eq!(c.look_up(store.as_ref(), &hash).unwrap(), Caller { role: Role::Moderator, key_id: id.clone() });
        }
        store.revoke_key(&id, chrono::Utc::now()).unwrap();
        // Trusted from memory until the recheck is due, then refused and forgotten.
        assert_eq!(cache.fresh(&hash).map(|c| c.role), Some(Role::Moderator));
        assert_eq!(eager.fresh(&hash), None);
        let refused = eager.look_up(store.as_ref(), &hash).unwrap_err();
        assert!(refused.message.contains(&format!("API key {id} was revoked")), "{}", refused.message);
        assert!(eager.seen.read().unwrap().is_empty());
        assert!(cache.look_up(store.as_ref(), &"0".repeat(64)).unwrap_err().message.contains("unknown API key"));
    }
}
