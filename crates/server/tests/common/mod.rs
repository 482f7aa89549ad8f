//! A server on a real socket over a real SQLite store, with a key of every role.
#![allow(dead_code)] // Each test binary uses a part.

use std::sync::Arc;

use reqwest::StatusCode;
use reqwest::blocking::Client;
use serde_json::{Value, json};
use steward_model::Role;

pub struct Server {
    pub base: String,
    pub keys: std::collections::HashMap<Role, String>,
    /// An admin key revoked before the server started.
    pub revoked: String,
    /// A second moderator's key.
    pub moderator2: String,
    pub client: Client,
    _dir: tempfile::TempDir,
    _runtime: tokio::runtime::Runtime,
}

pub fn start(limits: steward_server::Limits) -> Server {
    start_with(limits, Arc::new(steward_engine::default_policy().unwrap()))
}

pub fn start_with(limits: steward_server::Limits, policy: Arc<steward_policy::Policy>) -> Server {
    start_configured(limits, policy, |state| state)
}

/// A server whose state `configure` finishes (to turn on what is off by default).
pub fn start_configured(
    limits: steward_server::Limits,
    policy: Arc<steward_policy::Policy>,
    configure: impl FnOnce(steward_server::AppState) -> steward_server::AppState,
) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let store = steward_store::open(dir.path(), None).unwrap();
    let keys =
        Role::ALL.into_iter().map(|r| (r, steward_server::auth::create_key(store.as_ref(), r).unwrap())).collect();
    let revoked = steward_server::auth::create_key(store.as_ref(), Role::Admin).unwrap();
    let revoked_id = store.key_by_hash(&steward_server::auth::hash_key(&revoked)).unwrap().unwrap().id;
    store.revoke_key(&revoked_id, chrono::Utc::now()).unwrap();
    let moderator2 = steward_server::auth::create_key(store.as_ref(), Role::Moderator).unwrap();
    let engine = steward_engine::Engine::open(store, policy, Default::default()).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let state = configure(steward_server::AppState::new(engine, limits));
    runtime.spawn(steward_server::serve(listener, state, std::future::pending()));
    Server { base, keys, revoked, moderator2, client: Client::new(), _dir: dir, _runtime: runtime }
}

impl Server {
    pub fn post(
        &self,
        role: Role,
        content_type: &str,
        body: impl Into<reqwest::blocking::Body>,
    ) -> (StatusCode, Value) {
        self.send(role, "/v1/events", content_type, body)
    }

    pub fn get(&self, role: Option<Role>, path: &str) -> (StatusCode, Value) {
        let mut req = self.client.get(format!("{}{path}", self.base));
        if let Some(role) = role {
            req = req.bearer_auth(&self.keys[&role]);
        }
        let r = req.send().unwrap();
        let status = r.status();
        (status, r.json().unwrap_or(Value::Null))
    }

    pub fn send(
        &self,
        role: Role,
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::blocking::Body>,
    ) -> (StatusCode, Value) {
        self.send_with(&self.keys[&role], path, content_type, body)
    }

    /// POSTs `body` with the key `key`.
    pub fn send_with(
        &self,
        key: &str,
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::blocking::Body>,
    ) -> (StatusCode, Value) {
        let r = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(key)
            .header("content-type", content_type)
            .body(body)
            .send()
            .unwrap();
        let status = r.status();
        (status, r.json().unwrap_or(Value::Null))
    }
}

pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

pub fn ai_post(id: &str, account: &str) -> Value {
    json!({"id": id, "type": "post.created", "at": now(), "post": {"id": format!("p-{id}"), "account_id": account,
        "kind": "video", "text": "AI 生成的熊猫视频", "created_at": now(),
        "ai_generated": {"declared": true, "implicit_label": true}, "explicit_label": false}})
}

/// The default policy with the AI rule also restricting posting and asking for review.
pub fn start_ai_review() -> Server {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../policies/default.toml")).unwrap();
    let text = text.replacen(
        "  { type = \"deduct_credit\", points = 1 },\n]",
        "  { type = \"deduct_credit\", points = 1 },\n  { type = \"restrict_posting\", days = 7 },\n  { type = \"queue_review\", queue = \"ai\" },\n]",
        1,
    );
    let text = format!("{text}\n[[queues]]\nid = \"ai\"\ndescription = \"AI posts without the label\"\n");
    let policy = steward_policy::Policy::parse(&text, "test.toml", &steward_engine::schema()).unwrap();
    start_with(steward_server::Limits::default(), Arc::new(policy))
}

/// `STEWARD_TEST_NATS_URL`, set by `source scripts/nats.sh && start_nats_cluster`. Unset: the
/// test is skipped with a message, or fails when `STEWARD_REQUIRE_NATS=1`.
pub fn nats_url(test: &str) -> Option<String> {
    match std::env::var("STEWARD_TEST_NATS_URL") {
        Ok(u) if !u.trim().is_empty() => Some(u),
        _ => {
            assert!(
                std::env::var("STEWARD_REQUIRE_NATS").as_deref() != Ok("1"),
                "{test}: STEWARD_REQUIRE_NATS=1 but STEWARD_TEST_NATS_URL is not set \
                 (source scripts/nats.sh && start_nats_cluster)"
            );
            eprintln!(
                "{test}: skipped, STEWARD_TEST_NATS_URL is not set (source scripts/nats.sh && start_nats_cluster)"
            );
            None
        }
    }
}
