//! Notices delivered by signed webhook to real receivers on loopback (issue 17, part 6):
//! throughput, a receiver failing half its deliveries, order per recipient under retries,
//! the signature checked independently, dead letters replayed, and the notice routes' roles.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use chrono::{SubsecRound, Utc};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use steward_model::{Audience, DeliveryState, Notice, NoticeKind, Role};
use steward_server::webhooks::{Endpoint, Settings, WebhookConfig};
use steward_store::{Batch, Store};

const SECRET: &[u8] = b"a webhook secret of 32 bytes or more";

/// One request a receiver got.
#[derive(Debug, Clone)]
struct Hit {
    key: String,
    signature: String,
    content_type: String,
    body: Bytes,
    /// Whether it was answered 2xx.
    ok: bool,
}

/// A webhook receiver on loopback; with `fail_every_other`, every second request gets 500.
struct Receiver {
    url: String,
    hits: Arc<Mutex<Vec<Hit>>>,
    /// Distinct notice ids answered 2xx.
    delivered: Arc<Mutex<HashSet<String>>>,
    /// 0 answers 2xx; 1 fails every other request; 2 fails every request.
    mode: Arc<AtomicUsize>,
}

impl Receiver {
    fn start(runtime: &tokio::runtime::Runtime, mode: usize) -> Receiver {
        let hits = Arc::new(Mutex::new(Vec::new()));
        let delivered = Arc::new(Mutex::new(HashSet::new()));
        let mode = Arc::new(AtomicUsize::new(mode));
        let count = Arc::new(AtomicUsize::new(0));
        let (h, d, m) = (hits.clone(), delivered.clone(), mode.clone());
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let (hits, delivered, mode, count) = (h.clone(), d.clone(), m.clone(), count.clone());
                async move {
                    let n = count.fetch_add(1, Ordering::SeqCst);
                    let ok = match mode.load(Ordering::SeqCst) {
                        0 => true,
                        1 => n % 2 == 1,
                        _ => false,
                    };
                    let header =
                        |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
                    let key = header("idempotency-key");
                    if ok {
                        delivered.lock().unwrap().insert(key.clone());
                    }
                    hits.lock().unwrap().push(Hit {
                        key,
                        signature: header("steward-signature"),
                        content_type: header("content-type"),
                        body,
                        ok,
                    });
                    if ok { StatusCode::NO_CONTENT } else { StatusCode::INTERNAL_SERVER_ERROR }
                }
            }),
        );
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        runtime.spawn(async move { axum::serve(listener, app).await });
        Receiver { url, hits, delivered, mode }
    }

    fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }

    /// Distinct notice ids answered 2xx.
    fn delivered(&self) -> HashSet<String> {
        self.delivered.lock().unwrap().clone()
    }

    /// Waits until `n` distinct notices were answered 2xx.
    fn wait_for(&self, n: usize, within: Duration) {
        let deadline = Instant::now() + within;
        while self.delivered.lock().unwrap().len() < n {
            assert!(Instant::now() < deadline, "{} of {n} delivered in {within:?}", self.delivered().len());
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

fn config(url: &str, settings: Settings) -> WebhookConfig {
    let endpoint = Endpoint { url: url.parse().unwrap(), secret: SECRET.to_vec(), audience: Audience::Account };
    WebhookConfig { endpoints: HashMap::from([(Audience::Account, endpoint)]), settings }
}

/// Fast retries, for tests.
fn quick() -> Settings {
    Settings {
        backoff_base: Duration::from_millis(10),
        backoff_cap: Duration::from_millis(40),
        poll: Duration::from_millis(10),
        ..Settings::default()
    }
}

/// `per` notices to each of `recipients` accounts, committed in outbox order: the `k`th of
/// account `a<i>` is `n<i>-<k>`. Returns them in that order.
fn fill(store: &dyn Store, recipients: usize, per: usize) -> Vec<Notice> {
    let at = Utc::now().trunc_subsecs(6); // as stored
    let mut all = Vec::new();
    for k in 0..per {
        for i in 0..recipients {
            all.push(Notice {
                id: format!("n{i}-{k}"),
                recipient: format!("a{i}"),
                audience: Audience::Account,
                kind: NoticeKind::Decision,
                subject: format!("ai@e{i}-{k}"),
                created_at: at,
                body: json!({"explanation": "未标识的AI生成内容", "k": k}),
            });
        }
    }
    for chunk in all.chunks(1000) {
        store.commit(&Batch { notices: chunk.to_vec(), ..Batch::default() }).unwrap();
    }
    all
}

fn store() -> (tempfile::TempDir, Arc<dyn Store>) {
    let dir = tempfile::tempdir().unwrap();
    let store = steward_store::open(dir.path(), None).unwrap();
    (dir, store)
}

fn deliver(runtime: &tokio::runtime::Runtime, store: &Arc<dyn Store>, config: WebhookConfig) {
    let metrics = Arc::new(steward_server::Metrics::default());
    let _guard = runtime.enter();
    steward_server::deliver::spawn(store.clone(), metrics, config);
}

#[test]
fn delivers_at_least_2000_notices_a_second() {
    let runtime = runtime();
    let receiver = Receiver::start(&runtime, 0);
    let (_dir, store) = store();
    let notices = fill(store.as_ref(), 5_000, 4);
    let start = Instant::now();
    deliver(&runtime, &store, config(&receiver.url, Settings::default()));
    receiver.wait_for(notices.len(), Duration::from_secs(60));
    let secs = start.elapsed().as_secs_f64();
    let rate = notices.len() as f64 / secs;
    println!("{} notices to 5,000 recipients delivered in {secs:.2} s: {rate:.0} notices/s", notices.len());
    assert!(rate >= 2_000.0, "{rate:.0} notices/s");
    // Each once: the receiver never failed, so nothing was sent twice.
    assert_eq!(receiver.hits().len(), notices.len());
    let deadline = Instant::now() + Duration::from_secs(10);
    while store.notice_backlog().unwrap() > 0 {
        assert!(Instant::now() < deadline, "deliveries not all recorded");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_receiver_failing_half_its_deliveries_loses_nothing_and_keeps_each_recipients_order() {
    let runtime = runtime();
    let receiver = Receiver::start(&runtime, 1);
    let (_dir, store) = store();
    let notices = fill(store.as_ref(), 40, 10);
    deliver(&runtime, &store, config(&receiver.url, quick()));
    receiver.wait_for(notices.len(), Duration::from_secs(60));

    let hits = receiver.hits();
    assert!(hits.iter().filter(|h| !h.ok).count() >= notices.len() - 1, "half the requests failed");
    // Per recipient, no notice was sent before the one before it was delivered.
    let mut delivered: HashSet<String> = HashSet::new();
    for h in &hits {
        let (account, k) = h.key.trim_start_matches('n').split_once('-').unwrap();
        let k: usize = k.parse().unwrap();
        if k > 0 {
            let before = format!("n{account}-{}", k - 1);
            assert!(delivered.contains(&before), "{} sent before {before} was delivered", h.key);
        }
        assert!(!delivered.contains(&h.key), "{} sent again after it was delivered", h.key);
        if h.ok {
            delivered.insert(h.key.clone());
        }
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while store.notice_backlog().unwrap() > 0 {
        assert!(Instant::now() < deadline, "deliveries not all recorded");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(store.dead_notices(10).unwrap().is_empty());
    for n in store.notices_for("a7", 100).unwrap() {
        assert_eq!(n.delivery.state, DeliveryState::Delivered);
        assert!(n.delivery.attempts >= 1);
    }
}

/// HMAC-SHA256 as RFC 2104 defines it, over SHA-256 alone: the receiver's side, written
/// without the `hmac` crate the sender uses.
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.map(|b| b ^ byte);
    let inner = Sha256::new().chain_update(pad(0x36)).chain_update(message).finalize();
    Sha256::new().chain_update(pad(0x5c)).chain_update(inner).finalize().into()
}

#[test]
fn the_signature_verifies_as_a_receiver_checks_it() {
    let runtime = runtime();
    let receiver = Receiver::start(&runtime, 0);
    let (_dir, store) = store();
    let notices = fill(store.as_ref(), 3, 2);
    deliver(&runtime, &store, config(&receiver.url, quick()));
    receiver.wait_for(notices.len(), Duration::from_secs(20));
    for h in receiver.hits() {
        assert_eq!(h.content_type, "application/json");
        let (t, v1) = h.signature.split_once(',').unwrap();
        let t = t.strip_prefix("t=").unwrap();
        let v1 = v1.strip_prefix("v1=").unwrap();
        assert!((Utc::now().timestamp() - t.parse::<i64>().unwrap()).abs() <= 300, "signed now");
        let signed = [t.as_bytes(), b".", &h.body].concat();
        assert_eq!(v1, hex::encode(hmac_sha256(SECRET, &signed)), "{}", h.key);
        let wrong = [t.as_bytes(), b".", &h.body[1..]].concat();
        assert_ne!(v1, hex::encode(hmac_sha256(SECRET, &wrong)));
        // The body is the notice, and its id is the idempotency key.
        let notice: Notice = serde_json::from_slice(&h.body).unwrap();
        assert_eq!(notice.id, h.key);
        assert_eq!(&notice, notices.iter().find(|n| n.id == h.key).unwrap());
    }
    // RFC 4231, test case 2: the receiver's HMAC is the standard one.
    assert_eq!(
        hex::encode(hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
}

/// The API on loopback over `store`, with one key per role.
struct Api {
    base: String,
    keys: HashMap<Role, String>,
    client: reqwest::blocking::Client,
}

impl Api {
    fn start(runtime: &tokio::runtime::Runtime, store: &Arc<dyn Store>) -> Api {
        let keys =
            Role::ALL.into_iter().map(|r| (r, steward_server::auth::create_key(store.as_ref(), r).unwrap())).collect();
        let policy = Arc::new(steward_engine::default_policy().unwrap());
        let engine = steward_engine::Engine::open(store.clone(), policy, Default::default()).unwrap();
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state = steward_server::AppState::new(engine, steward_server::Limits::default());
        runtime.spawn(steward_server::serve(listener, state, std::future::pending()));
        Api { base, keys, client: reqwest::blocking::Client::new() }
    }

    fn call(&self, method: &str, role: Option<Role>, path: &str) -> (reqwest::StatusCode, Value) {
        let url = format!("{}{path}", self.base);
        let mut req = if method == "POST" { self.client.post(url) } else { self.client.get(url) };
        if let Some(role) = role {
            req = req.bearer_auth(&self.keys[&role]);
        }
        let r = req.send().unwrap();
        (r.status(), r.json().unwrap_or(Value::Null))
    }
}

#[test]
fn dead_notices_are_listed_for_admins_and_replayed() {
    let runtime = runtime();
    let receiver = Receiver::start(&runtime, 2);
    let (_dir, store) = store();
    let notices = fill(store.as_ref(), 2, 2);
    let api = Api::start(&runtime, &store);
    deliver(&runtime, &store, config(&receiver.url, Settings { attempts: 3, ..quick() }));
    // Each recipient's first notice dies after 3 attempts, then its second.
    let deadline = Instant::now() + Duration::from_secs(20);
    while store.dead_notices(10).unwrap().len() < notices.len() {
        assert!(Instant::now() < deadline, "notices not dead");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(receiver.hits().len(), 3 * notices.len());
    let (status, dead) = api.call("GET", Some(Role::Admin), "/v1/notices/dead");
    assert_eq!(status, reqwest::StatusCode::OK);
    let first = &dead["notices"][3];
    assert_eq!(first["id"], "n0-0");
    assert_eq!(first["delivery"]["state"], "dead");
    assert_eq!(first["delivery"]["attempts"], 3);
    assert_eq!(first["delivery"]["last_error"], "HTTP 500 Internal Server Error");

    // Mended, the receiver gets what an admin replays, and nothing else.
    receiver.mode.store(0, Ordering::SeqCst);
    let (status, replayed) = api.call("POST", Some(Role::Admin), "/v1/notices/n0-0/replay");
    assert_eq!(status, reqwest::StatusCode::OK, "{replayed}");
    assert_eq!(replayed["delivery"]["state"], "pending");
    receiver.wait_for(1, Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(receiver.delivered(), HashSet::from(["n0-0".to_string()]));
    let (status, body) = api.call("POST", Some(Role::Admin), "/v1/notices/n0-0/replay");
    assert_eq!(status, reqwest::StatusCode::CONFLICT, "{body}");
    let (status, _) = api.call("POST", Some(Role::Admin), "/v1/notices/nope/replay");
    assert_eq!(status, reqwest::StatusCode::NOT_FOUND);
    let (_, list) = api.call("GET", Some(Role::Ingest), "/v1/notices?account=a0");
    let states: Vec<&str> =
        list["notices"].as_array().unwrap().iter().map(|n| n["delivery"]["state"].as_str().unwrap()).collect();
    assert_eq!(states, vec!["dead", "delivered"], "newest first");
    let entries = store.audit_entries(0, 100).unwrap();
    assert!(entries.iter().any(|e| e.action == "notice.replayed" && e.subject == "n0-0"));
    assert!(steward_store::audit::verify(store.as_ref()).is_ok());
}

#[test]
fn notice_routes_need_a_key_of_an_allowed_role_and_are_documented() {
    let runtime = runtime();
    let (_dir, store) = store();
    fill(store.as_ref(), 1, 1);
    let api = Api::start(&runtime, &store);
    let routes: [(&str, &str, &str, &[Role]); 3] = [
        ("GET", "/v1/notices?account=a0", "/v1/notices", &[Role::Ingest, Role::Moderator, Role::Admin, Role::Auditor]),
        ("GET", "/v1/notices/dead", "/v1/notices/dead", &[Role::Admin]),
        ("POST", "/v1/notices/n0-0/replay", "/v1/notices/{id}/replay", &[Role::Admin]),
    ];
    let (_, doc) = api.call("GET", None, "/openapi.json");
    for (method, path, documented, allowed) in routes {
        assert_eq!(api.call(method, None, path).0, reqwest::StatusCode::UNAUTHORIZED, "{method} {path}");
        for role in Role::ALL {
            let (status, body) = api.call(method, Some(role), path);
            if allowed.contains(&role) {
                assert!(status.is_success(), "{role:?} {method} {path}: {status} {body}");
            } else {
                assert_eq!(status, reqwest::StatusCode::FORBIDDEN, "{role:?} {method} {path}");
            }
        }
        assert!(doc["paths"][documented][method.to_lowercase()].is_object(), "{method} {documented} not in OpenAPI");
    }
    assert!(doc["components"]["schemas"]["StoredNotice"].is_object());
    let (status, body) = api.call("GET", Some(Role::Auditor), "/v1/notices");
    assert_eq!(status, reqwest::StatusCode::BAD_REQUEST);
    assert!(body["error"].as_str().unwrap().contains("account"), "{body}");
}
