//! A NapCat-like OneBot implementation for tests and demos: it connects to a reverse
//! WebSocket URL as a Universal client, pushes scripted group messages, answers the
//! actions it receives (or fails them, or answers `async`, or stays silent), records every
//! action, and can drop and redo its connection.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::event::Role;
use crate::message::{Segment, to_array, to_cq};

/// How the simulator answers an action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Behaviour {
    /// `status: ok` with data fitting the action.
    Ok,
    /// `status: async`, retcode 1, no data.
    Async,
    /// `status: failed` with this retcode and message.
    Fail { retcode: i64, message: String },
    /// No answer at all.
    Silent,
}

/// How a message event is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Format {
    /// The array form, or else the CQ-code string.
    pub array: bool,
    /// Ids as strings (`"10001"`) instead of numbers.
    pub string_ids: bool,
}

impl Format {
    /// Array of segments, numeric ids (NapCat's default).
    pub const ARRAY: Format = Format { array: true, string_ids: false };
    /// CQ-code string, numeric ids.
    pub const CQ: Format = Format { array: false, string_ids: false };

    /// The same format with ids written as strings.
    pub fn with_string_ids(self) -> Format {
        Format { string_ids: true, ..self }
    }
}

/// An action the simulator received.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedAction {
    pub action: String,
    pub params: Value,
    pub echo: Value,
}

/// Why the simulator could not connect.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The server answered the upgrade with this HTTP status.
    #[error("refused with HTTP {0}")]
    Refused(u16),
    /// Anything else (no server, bad URL, ...).
    #[error("connect: {0}")]
    Connect(String),
}

struct State {
    url: String,
    token: Option<String>,
    self_id: String,
    behaviours: Mutex<HashMap<String, Behaviour>>,
    members: Mutex<HashMap<(String, String), Role>>,
    actions: Mutex<Vec<ReceivedAction>>,
    arrived: Notify,
    next_message_id: AtomicI64,
}

struct Connection {
    out: mpsc::Sender<Message>,
    task: JoinHandle<()>,
}

/// A simulated implementation connected to one URL as one bot account.
pub struct Simulator {
    state: Arc<State>,
    conn: tokio::sync::Mutex<Option<Connection>>,
    read: Mutex<usize>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

impl Simulator {
    /// Connects to `url` (e.g. `ws://127.0.0.1:8080/onebot/v11/ws`) as bot `self_id`,
    /// sending `Authorization: Bearer <token>` when given, and sends the lifecycle
    /// `connect` event as NapCat does.
    pub async fn connect(url: &str, token: Option<&str>, self_id: &str) -> Result<Simulator, SimError> {
        let state = Arc::new(State {
            url: url.to_string(),
            token: token.map(str::to_string),
            self_id: self_id.to_string(),
            behaviours: Mutex::new(HashMap::new()),
            members: Mutex::new(HashMap::new()),
            actions: Mutex::new(Vec::new()),
            arrived: Notify::new(),
            next_message_id: AtomicI64::new(1000),
        });
        let conn = open(&state).await?;
        Ok(Simulator { state, conn: tokio::sync::Mutex::new(Some(conn)), read: Mutex::new(0) })
    }

    /// The bot account it connects as.
    pub fn self_id(&self) -> &str {
        &self.state.self_id
    }

    /// How to answer `action` (by protocol name) from now on; `Ok` unless told.
    pub fn set_behaviour(&self, action: &str, behaviour: Behaviour) {
        lock(&self.state.behaviours).insert(action.to_string(), behaviour);
    }

    /// The role `get_group_member_info` reports for a member (also set by
    /// [`Simulator::send_group_message`]).
    pub fn set_member(&self, group: &str, user: &str, role: Role) {
        lock(&self.state.members).insert((group.to_string(), user.to_string()), role);
    }

    /// Sends one frame as it is (for malformed input).
    pub async fn send_raw(&self, text: impl Into<String>) -> Result<(), SimError> {
        let conn = self.conn.lock().await;
        let conn = conn.as_ref().ok_or_else(|| SimError::Connect("disconnected".into()))?;
        conn.out.send(Message::text(text.into())).await.map_err(|_| SimError::Connect("connection closed".into()))
    }

    /// Pushes a group message from `user` (with `role`) in `format`; returns its message id.
    pub async fn send_group_message(
        &self,
        group: &str,
        user: &str,
        role: Role,
        message: &[Segment],
        format: Format,
    ) -> Result<String, SimError> {
        self.set_member(group, user, role);
        let message_id = self.state.next_message_id.fetch_add(1, Ordering::Relaxed);
        let id = |s: &str| match s.parse::<i64>() {
            Ok(n) if !format.string_ids => json!(n),
            _ => json!(s),
        };
        let raw = to_cq(message);
        let event = json!({
            "self_id": id(&self.state.self_id), "user_id": id(user), "time": now(),
            "message_id": id(&message_id.to_string()), "message_seq": message_id, "real_id": message_id,
            "real_seq": message_id.to_string(), "message_type": "group",
            "sender": {"user_id": id(user), "nickname": format!("user{user}"), "card": "", "role": role.as_str()},
            "raw_message": raw, "font": 14, "sub_type": "normal",
            "message": if format.array { to_array(message) } else { Value::String(raw.clone()) },
            "message_format": if format.array { "array" } else { "string" },
            "post_type": "message", "group_id": id(group), "group_name": format!("group {group}"),
        });
        self.send_raw(event.to_string()).await?;
        Ok(message_id.to_string())
    }

    /// [`Simulator::send_group_message`] with one text segment.
    pub async fn send_group_text(
        &self,
        group: &str,
        user: &str,
        role: Role,
        text: &str,
        format: Format,
    ) -> Result<String, SimError> {
        self.send_group_message(group, user, role, &[Segment::text(text)], format).await
    }

    /// Every action received so far, in order.
    pub fn actions(&self) -> Vec<ReceivedAction> {
        lock(&self.state.actions).clone()
    }

    /// The next action not yet returned by this method, waiting up to `timeout`.
    pub async fn next_action(&self, timeout: Duration) -> Option<ReceivedAction> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.state.arrived.notified();
            {
                let mut read = lock(&self.read);
                if let Some(a) = lock(&self.state.actions).get(*read).cloned() {
                    *read += 1;
                    return Some(a);
                }
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return None;
            }
        }
    }

    /// Closes the connection (a clean WebSocket close).
    pub async fn disconnect(&self) {
        if let Some(conn) = self.conn.lock().await.take() {
            let _ = conn.out.send(Message::Close(None)).await;
            let _ = tokio::time::timeout(Duration::from_secs(2), conn.task).await;
        }
    }

    /// Drops the connection without a close frame (as a crash or network loss would).
    pub async fn drop_connection(&self) {
        if let Some(conn) = self.conn.lock().await.take() {
            conn.task.abort();
            let _ = conn.task.await;
        }
    }

    /// Connects again with the same URL, token and account (closing any open connection).
    pub async fn reconnect(&self) -> Result<(), SimError> {
        self.disconnect().await;
        let conn = open(&self.state).await?;
        *self.conn.lock().await = Some(conn);
        Ok(())
    }
}

async fn open(state: &Arc<State>) -> Result<Connection, SimError> {
    let mut request = state.url.as_str().into_client_request().map_err(|e| SimError::Connect(e.to_string()))?;
    let headers = request.headers_mut();
    let header = |v: &str| v.parse().map_err(|_| SimError::Connect(format!("bad header value {v:?}")));
    headers.insert("x-self-id", header(&state.self_id)?);
    headers.insert("x-client-role", header("Universal")?);
    headers.insert("user-agent", header("OneBot/11")?);
    if let Some(token) = &state.token {
        headers.insert("authorization", header(&format!("Bearer {token}"))?);
    }
    let (ws, _) = tokio_tungstenite::connect_async(request).await.map_err(|e| match e {
        tokio_tungstenite::tungstenite::Error::Http(r) => SimError::Refused(r.status().as_u16()),
        e => SimError::Connect(e.to_string()),
    })?;
    let (out, rx) = mpsc::channel(1024);
    let lifecycle = json!({"time": now(), "self_id": state.self_id.parse::<i64>().map_or(json!(state.self_id), Value::from),
        "post_type": "meta_event", "meta_event_type": "lifecycle", "sub_type": "connect"});
    out.send(Message::text(lifecycle.to_string())).await.map_err(|e| SimError::Connect(e.to_string()))?;
    let task = tokio::spawn(run(state.clone(), ws, rx));
    Ok(Connection { out, task })
}

async fn run(
    state: Arc<State>,
    ws: tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    mut rx: mpsc::Receiver<Message>,
) {
    let (mut sink, mut stream) = ws.split();
    loop {
        tokio::select! {
            out = rx.recv() => match out {
                Some(Message::Close(_)) | None => {
                    let _ = sink.send(Message::Close(None)).await;
                    let _ = sink.close().await;
                    // Wait for the server's close so the disconnect is seen on both ends.
                    let _ = tokio::time::timeout(Duration::from_secs(2), async { while stream.next().await.is_some() {} }).await;
                    return;
                }
                Some(m) => if sink.send(m).await.is_err() { return },
            },
            incoming = stream.next() => match incoming {
                Some(Ok(Message::Text(t))) => {
                    let reply = answer(&state, t.as_str());
                    if let Some(reply) = reply && sink.send(Message::text(reply)).await.is_err() { return }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
        }
    }
}

/// Records an action frame and builds the answer, as NapCat shapes it.
fn answer(state: &State, text: &str) -> Option<String> {
    let Ok(Value::Object(frame)) = serde_json::from_str::<Value>(text) else {
        return Some(json!({"status": "failed", "retcode": 1400, "data": null, "message": "bad JSON", "wording": "bad JSON", "echo": null}).to_string());
    };
    let action = frame.get("action").and_then(Value::as_str).unwrap_or_default().to_string();
    let params = frame.get("params").cloned().unwrap_or(Value::Null);
    let echo = frame.get("echo").cloned().unwrap_or(Value::Null);
    let behaviour = lock(&state.behaviours).get(&action).cloned().unwrap_or(Behaviour::Ok);
    lock(&state.actions).push(ReceivedAction { action: action.clone(), params: params.clone(), echo: echo.clone() });
    state.arrived.notify_waiters();
    let reply = match behaviour {
        Behaviour::Silent => return None,
        Behaviour::Async => {
            json!({"status": "async", "retcode": 1, "data": null, "message": "", "wording": "", "echo": echo})
        }
        Behaviour::Fail { retcode, message } => {
            json!({"status": "failed", "retcode": retcode, "data": null, "message": message, "wording": message, "echo": echo})
        }
        Behaviour::Ok => {
            let data = match action.as_str() {
                "send_group_msg" | "send_private_msg" | "send_msg" => {
                    json!({"message_id": state.next_message_id.fetch_add(1, Ordering::Relaxed)})
                }
                "get_group_member_info" => {
                    let key = |k: &str| params.get(k).and_then(crate::message::scalar).unwrap_or_default();
                    let (group, user) = (key("group_id"), key("user_id"));
                    let role =
                        lock(&state.members).get(&(group.clone(), user.clone())).copied().unwrap_or(Role::Member);
                    let num = |s: &str| s.parse::<i64>().map_or(json!(s), Value::from);
                    json!({"group_id": num(&group), "user_id": num(&user), "nickname": format!("user{user}"),
                        "card": "", "sex": "unknown", "age": 0, "area": "", "level": "1", "role": role.as_str(),
                        "unfriendly": false, "title": "", "join_time": 0, "last_sent_time": 0, "card_changeable": true})
                }
                "get_login_info" => json!({"user_id": state.self_id, "nickname": "steward"}),
                "delete_msg" | "set_group_ban" | "set_group_kick" => Value::Null,
                _ => {
                    let m = format!("unsupported action {action}");
                    return Some(json!({"status": "failed", "retcode": 1404, "data": null, "message": m, "wording": m, "echo": echo}).to_string());
                }
            };
            json!({"status": "ok", "retcode": 0, "data": data, "message": "", "wording": "", "echo": echo, "stream": "normal-action"})
        }
    };
    Some(reply.to_string())
}
