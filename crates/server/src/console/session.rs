//! Console sign-in: a key (moderator, auditor or admin) is exchanged for a session whose id
//! travels in an HttpOnly, SameSite=Strict cookie. The key itself never reaches the browser
//! again. Every change a page sends carries the session's CSRF token, and the key behind a
//! session is looked up again on each request, so revoking it ends the session too.
//!
//! Sessions live in the server's memory: a restart signs everyone out, and behind a load
//! balancer a console needs sticky sessions.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};

use crate::AppState;
use crate::auth::{Caller, hash_key};

pub const COOKIE: &str = "steward_console";

/// A session ends after this long without a request.
pub const IDLE: Duration = Duration::from_secs(30 * 60);
/// And after this long in any case.
pub const LIFETIME: Duration = Duration::from_secs(12 * 3600);

/// Bounds the table against a flood of sign-ins: the oldest sessions go first.
const MAX_SESSIONS: usize = 10_000;

#[derive(Clone)]
struct Session {
    key_hash: String,
    csrf: String,
    started: Instant,
    seen: Instant,
}

#[derive(Clone, Default)]
pub struct Sessions {
    by_id: Arc<Mutex<HashMap<String, Session>>>,
}

fn token() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

impl Sessions {
    /// Opens a session for the key with `key_hash`; returns its id and CSRF token.
    pub fn open(&self, key_hash: String) -> (String, String) {
        let (id, csrf, now) = (token(), token(), Instant::now());
        let mut by_id = self.by_id.lock().unwrap_or_else(|e| e.into_inner());
        by_id.retain(|_, s| live(s, now));
        if by_id.len() >= MAX_SESSIONS
            && let Some(oldest) = by_id.iter().min_by_key(|(_, s)| s.seen).map(|(k, _)| k.clone())
        {
            by_id.remove(&oldest);
        }
        by_id.insert(id.clone(), Session { key_hash, csrf: csrf.clone(), started: now, seen: now });
        (id, csrf)
    }

    /// The key hash and CSRF token of a live session, which counts as a use of it.
    fn touch(&self, id: &str) -> Option<(String, String)> {
        let now = Instant::now();
        let mut by_id = self.by_id.lock().unwrap_or_else(|e| e.into_inner());
        let session = by_id.get_mut(id)?;
        if !live(session, now) {
            by_id.remove(id);
            return None;
        }
        session.seen = now;
        Some((session.key_hash.clone(), session.csrf.clone()))
    }

    pub fn close(&self, id: &str) {
        self.by_id.lock().unwrap_or_else(|e| e.into_inner()).remove(id);
    }
}

fn live(s: &Session, now: Instant) -> bool {
    now.duration_since(s.seen) < IDLE && now.duration_since(s.started) < LIFETIME
}

/// The cookie that carries a new session.
pub fn set_cookie(id: &str) -> String {
    format!("{COOKIE}={id}; Path=/console; HttpOnly; SameSite=Strict; Max-Age={}", LIFETIME.as_secs())
}

/// The cookie that ends one in the browser.
pub fn clear_cookie() -> String {
    format!("{COOKIE}=; Path=/console; HttpOnly; SameSite=Strict; Max-Age=0")
}

/// The session id the request's cookie names.
pub fn cookie_session(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_string())
        .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Who is signed in: the key's role and id, the session id and its CSRF token.
#[derive(Clone)]
pub struct Signed {
    pub caller: Caller,
    pub session: String,
    pub csrf: String,
}

impl Signed {
    /// Whether `sent` is this session's CSRF token (compared in constant time).
    pub fn csrf_ok(&self, sent: &str) -> bool {
        let (a, b) = (self.csrf.as_bytes(), sent.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

/// Why a request has no session: the page sends the browser to sign in.
pub struct NotSignedIn(pub String);

impl FromRequestParts<AppState> for Signed {
    type Rejection = NotSignedIn;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let why = |m: &str| NotSignedIn(m.to_string());
        let session = cookie_session(&parts.headers).ok_or_else(|| why(""))?;
        let (key_hash, csrf) = state.sessions.touch(&session).ok_or_else(|| why("Your session has ended."))?;
        let caller = crate::auth::resolve(state, key_hash).await.map_err(|e| {
            state.sessions.close(&session);
            NotSignedIn(format!("Signed out: {}.", e.message))
        })?;
        Ok(Signed { caller, session, csrf })
    }
}

/// Resolves a key typed on the sign-in page: its caller, or why it is refused.
pub async fn check_key(state: &AppState, key: &str) -> Result<(Caller, String), String> {
    let hash = hash_key(key.trim());
    let caller = crate::auth::resolve(state, hash.clone()).await.map_err(|e| e.message)?;
    if !caller.role.can_read() {
        return Err(format!("a key of role `{}` cannot use the console", caller.role.as_str()));
    }
    Ok((caller, hash))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_read_strictly() {
        let mut h = HeaderMap::new();
        let id = "a".repeat(64);
        h.insert(header::COOKIE, format!("other=1; {COOKIE}={id}").parse().unwrap());
        assert_eq!(cookie_session(&h), Some(id));
        h.insert(header::COOKIE, format!("{COOKIE}=not-hex").parse().unwrap());
        assert_eq!(cookie_session(&h), None);
    }

    #[test]
    fn sessions_end_when_closed() {
        let sessions = Sessions::default();
        let (id, csrf) = sessions.open("h".into());
        assert_eq!(sessions.touch(&id), Some(("h".into(), csrf)));
        sessions.close(&id);
        assert_eq!(sessions.touch(&id), None);
    }
}
