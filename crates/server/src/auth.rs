//! API keys: creation (the secret is shown once and stored as its SHA-256) and the
//! extractor that resolves a bearer key to its role.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

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
    store.insert_key(&ApiKey { id: format!("k_{id}"), hash: hash_key(&key), role, created_at: chrono::Utc::now() })?;
    Ok(key)
}

/// Keys are long random secrets, so one round of SHA-256 is enough to store them safely.
pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// Roles of keys already seen, so a request costs one hash and no store read. Keys
/// created while the server runs are found in the store on first use.
#[derive(Default, Clone)]
pub struct KeyCache(Arc<RwLock<HashMap<String, Role>>>);

/// The role of the key a request carries.
#[derive(Debug, Clone, Copy)]
pub struct Caller(pub Role);

impl Caller {
    /// Refuses with 403 unless the role passes `allowed`.
    pub fn require(self, allowed: fn(Role) -> bool, what: &str) -> Result<Role, ApiError> {
        if allowed(self.0) {
            Ok(self.0)
        } else {
            Err(ApiError::forbidden(format!("a key of role `{}` may not {what}", self.0.as_str())))
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
        if let Some(role) = state.keys.0.read().ok().and_then(|m| m.get(&hash).copied()) {
            return Ok(Caller(role));
        }
        let store = state.store.clone();
        let lookup = hash.clone();
        let found = tokio::task::spawn_blocking(move || store.key_by_hash(&lookup))
            .await
            .map_err(|e| ApiError::internal(e.to_string()))??;
        let key = found.ok_or_else(|| ApiError::unauthorized("unknown API key"))?;
        if let Ok(mut m) = state.keys.0.write() {
            m.insert(hash, key.role);
        }
        Ok(Caller(key.role))
    }
}
