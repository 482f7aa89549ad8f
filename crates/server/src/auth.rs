//! API keys: creation (the secret is shown once and stored as its SHA-256) and the
//! extractor that resolves a bearer key to its role.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
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

/// How long the hashes of every key in the store, read at once, are trusted to refuse a key
/// that is not among them (or is revoked) without a read: a key created since (by `steward
/// keys create`, perhaps in another process or on another host) works within this time. A
/// flood of made-up keys then costs one hash each and at most one read of the keys a second,
/// whether the keys repeat or not, instead of a read each (a cache of refused hashes would
/// not help against random ones). The set holds the store's keys and nothing a caller sends,
/// so it is as bounded as the keys table; one second keeps a new key's wait short and the
/// reads rare.
pub const UNKNOWN_RECHECK: Duration = Duration::from_secs(1);

/// Roles of keys seen lately, so most requests cost one hash and no store read, and the
/// hashes of every key in the store, so a key that is none of them (or revoked) costs no
/// read either.
#[derive(Clone)]
pub struct KeyCache {
    seen: Arc<RwLock<HashMap<String, (Caller, Instant)>>>,
    known: Arc<RwLock<Option<KnownKeys>>>,
    /// Held while the known keys are read again, so a flood reads them once.
    reading: Arc<Mutex<()>>,
    recheck: Duration,
    unknown_recheck: Duration,
    store_reads: Arc<AtomicU64>,
}

/// Every key in the store by its hash, with why it is refused if it was revoked (for good),
/// and when they were read.
struct KnownKeys {
    refusals: HashMap<String, Option<String>>,
    read_at: Instant,
}

impl Default for KeyCache {
    fn default() -> Self {
        Self::with_recheck(KEY_RECHECK, UNKNOWN_RECHECK)
    }
}

impl KeyCache {
    fn with_recheck(recheck: Duration, unknown_recheck: Duration) -> Self {
        KeyCache {
            seen: Arc::default(),
            known: Arc::default(),
            reading: Arc::default(),
            recheck,
            unknown_recheck,
            store_reads: Arc::default(),
        }
    }

    /// The key with `hash`, read from the store less than `recheck` ago.
    fn fresh(&self, hash: &str) -> Option<Caller> {
        let seen = self.seen.read().ok()?;
        seen.get(hash).filter(|(_, at)| at.elapsed() < self.recheck).map(|(caller, _)| caller.clone())
    }

    /// By the known keys read less than `unknown_recheck` ago (`None` if they are older):
    /// the refusal of a key the store does not have or has revoked, or `Ok` for one it has.
    fn known(&self, hash: &str) -> Option<Result<(), ApiError>> {
        let known = self.known.read().ok()?;
        let known = known.as_ref().filter(|k| k.read_at.elapsed() < self.unknown_recheck)?;
        Some(match known.refusals.get(hash) {
            None => Err(unknown_key()),
            Some(Some(revoked)) => Err(ApiError::unauthorized(revoked.clone())),
            Some(None) => Ok(()),
        })
    }

    /// The answer for `hash` without reading the store, if memory has it: a key read lately,
    /// or one the store does not have or has revoked.
    fn in_memory(&self, hash: &str) -> Option<Result<Caller, ApiError>> {
        match self.fresh(hash) {
            Some(caller) => Some(Ok(caller)),
            None => self.known(hash)?.err().map(Err),
        }
    }

    /// The refusal of a key the store does not have or has revoked, by the known keys, read
    /// again first if they are older than `unknown_recheck` (by one caller; the others wait
    /// for it).
    fn refusal(&self, store: &dyn Store, hash: &str) -> Result<Result<(), ApiError>, StoreError> {
        if let Some(known) = self.known(hash) {
            return Ok(known);
        }
        let _reading = self.reading.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(known) = self.known(hash) {
            return Ok(known);
        }
        self.store_reads.fetch_add(1, Ordering::Relaxed);
        let refusals = store.keys()?.into_iter().map(|k| (k.hash.clone(), revoked(&k))).collect();
        *self.known.write().unwrap_or_else(|e| e.into_inner()) = Some(KnownKeys { refusals, read_at: Instant::now() });
        Ok(self.known(hash).unwrap_or(Ok(())))
    }

    /// Reads of the store to resolve keys since start (of the key itself, or of every key's
    /// hash).
    pub fn store_reads(&self) -> u64 {
        self.store_reads.load(Ordering::Relaxed)
    }

    /// The key with `hash`, from the store: unknown and revoked keys are refused.
    pub fn look_up(&self, store: &dyn Store, hash: &str) -> Result<Caller, ApiError> {
        self.refusal(store, hash)??;
        self.store_reads.fetch_add(1, Ordering::Relaxed);
        let found = store.key_by_hash(hash)?;
        let mut seen = self.seen.write().unwrap_or_else(|e| e.into_inner());
        match found {
            Some(ApiKey { id, role, revoked_at: None, .. }) => {
                let caller = Caller { role, key_id: id };
                seen.insert(hash.to_string(), (caller.clone(), Instant::now()));
                Ok(caller)
            }
            Some(key) => {
                seen.remove(hash);
                Err(ApiError::unauthorized(revoked(&key).unwrap_or_default()))
            }
            None => Err(unknown_key()),
        }
    }
}

fn unknown_key() -> ApiError {
    ApiError::unauthorized("unknown API key")
}

/// Why a revoked key is refused; `None` for a key in force.
fn revoked(key: &ApiKey) -> Option<String> {
    key.revoked_at.map(|at| format!("API key {} was revoked at {}", key.id, at.to_rfc3339()))
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
        resolve(state, hash_key(key)).await
    }
}

/// The caller whose key has `hash`: from memory when it can, else from the store.
pub(crate) async fn resolve(state: &AppState, hash: String) -> Result<Caller, ApiError> {
    if let Some(answer) = state.keys.in_memory(&hash) {
        return answer;
    }
    let (keys, store) = (state.keys.clone(), state.store.clone());
    crate::routes::blocking(move || keys.look_up(store.as_ref(), &hash)).await?
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
        let (cache, eager) = (KeyCache::default(), KeyCache::with_recheck(Duration::ZERO, Duration::ZERO));
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

    /// A request's way through the cache: from memory, else from the store.
    fn resolve(cache: &KeyCache, store: &dyn Store, key: &str) -> Result<Caller, ApiError> {
        let hash = hash_key(key);
        cache.in_memory(&hash).unwrap_or_else(|| cache.look_up(store, &hash))
    }

    /// Issue 21: every request with a made-up key read the store.
    #[test]
    fn a_flood_of_made_up_keys_reads_the_store_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = steward_store::open(dir.path(), None).unwrap();
        let key = create_key(store.as_ref(), Role::Ingest).unwrap();
        let revoked = create_key(store.as_ref(), Role::Admin).unwrap();
        let revoked_id = store.key_by_hash(&hash_key(&revoked)).unwrap().unwrap().id;
        store.revoke_key(&revoked_id, chrono::Utc::now()).unwrap();
        // Long enough that the flood fits in one period however slow the machine.
        let cache = KeyCache::with_recheck(KEY_RECHECK, Duration::from_secs(3600));
        for n in 0..10_000 {
            let made_up = format!("stw_{n:012x}_{}", hex::encode(rand::random::<[u8; 24]>()));
            let refused = resolve(&cache, store.as_ref(), &made_up).unwrap_err();
            assert_eq!(refused.message, "unknown API key");
        }
        // One read of every key's hash for 10,000 made-up keys (was 10,000 reads); the real
        // key still works, read once and then from memory; a revoked key is refused from
        // memory too, with its reason.
        assert_eq!(cache.store_reads(), 1);
        for _ in 0..3 {
            assert_eq!(resolve(&cache, store.as_ref(), &key).unwrap().role, Role::Ingest);
            let refused = resolve(&cache, store.as_ref(), &revoked).unwrap_err();
            assert!(
                refused.message.starts_with(&format!("API key {revoked_id} was revoked at")),
                "{}",
                refused.message
            );
        }
        assert_eq!(cache.store_reads(), 2);
    }

    #[test]
    fn a_key_created_elsewhere_works_once_the_known_keys_are_read_again() {
        let dir = tempfile::tempdir().unwrap();
        let store = steward_store::open(dir.path(), None).unwrap();
        let cache = KeyCache::with_recheck(KEY_RECHECK, Duration::from_millis(500));
        assert!(resolve(&cache, store.as_ref(), "stw_none_yet").is_err());
        assert_eq!(cache.store_reads(), 1);
        // Created by another process: this cache learns of it only by reading the store.
        let key = create_key(store.as_ref(), Role::Auditor).unwrap();
        let refused = resolve(&cache, store.as_ref(), &key).unwrap_err();
        assert_eq!((refused.message.as_str(), cache.store_reads()), ("unknown API key", 1));
        std::thread::sleep(Duration::from_millis(600));
        assert_eq!(resolve(&cache, store.as_ref(), &key).unwrap().role, Role::Auditor);
        assert_eq!(cache.store_reads(), 3, "every key's hash, then the key");
    }
}
