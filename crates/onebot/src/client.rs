//! Calling actions and awaiting their answers, whatever carries them.
//!
//! A [`Link`] is one connection's side of the calls: a map of pending calls keyed by a
//! unique `echo` and a channel of frames to write. The connection feeds responses in with
//! [`Link::resolve`]; when it ends, [`Link::close`] fails every pending call with
//! [`ActionError::Disconnected`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use crate::action::{Action, Response, Status};
use crate::http_post::HttpApi;
use crate::hub::Hub;

/// What a successful action gave back.
#[derive(Debug, Clone, PartialEq)]
pub enum ActionReply {
    /// Done; the response's `data` (null for actions without one).
    Done(Value),
    /// Accepted for later (`async`); whether it worked is not known.
    Accepted,
}

impl ActionReply {
    /// The `message_id` of a sent message, as a decimal string.
    pub fn message_id(&self) -> Option<String> {
        match self {
            ActionReply::Done(Value::Object(o)) => crate::event::opt_id(o, "message_id").ok().flatten(),
            _ => None,
        }
    }
}

/// Why an action did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActionError {
    /// The implementation refused or failed it.
    #[error("action failed with retcode {retcode}: {message}")]
    Failed { retcode: i64, message: String },
    /// No answer in time.
    #[error("no answer in time")]
    Timeout,
    /// The connection was gone, or went away before the answer.
    #[error("the bot is not connected")]
    Disconnected,
    /// The transport itself failed (HTTP errors, bad answers).
    #[error("transport: {0}")]
    Transport(String),
}

/// The outcome a response stands for.
pub fn outcome(response: Response) -> Result<ActionReply, ActionError> {
    match response.status {
        Status::Ok => Ok(ActionReply::Done(response.data)),
        Status::Async => Ok(ActionReply::Accepted),
        Status::Failed => Err(ActionError::Failed { retcode: response.retcode, message: response.message }),
    }
}

static NEXT_ECHO: AtomicU64 = AtomicU64::new(1);

fn next_echo() -> String {
    format!("steward-{}", NEXT_ECHO.fetch_add(1, Ordering::Relaxed))
}

#[derive(Default)]
struct PendingCalls {
    closed: bool,
    calls: HashMap<String, oneshot::Sender<Response>>,
}

/// One connection's pending calls and its outgoing frames.
pub struct Link {
    outgoing: mpsc::Sender<String>,
    pending: Mutex<PendingCalls>,
}

impl Link {
    /// A link writing frames into `outgoing` (the connection's writer reads the other end).
    pub fn new(outgoing: mpsc::Sender<String>) -> Arc<Link> {
        Arc::new(Link { outgoing, pending: Mutex::new(PendingCalls::default()) })
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, PendingCalls> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends `action` and waits up to `timeout` for the response with its echo.
    pub async fn call(&self, action: &Action, timeout: Duration) -> Result<ActionReply, ActionError> {
        let echo = next_echo();
        let (tx, rx) = oneshot::channel();
        {
            let mut p = self.pending();
            if p.closed {
                return Err(ActionError::Disconnected);
            }
            p.calls.insert(echo.clone(), tx);
        }
        let frame = action.to_frame(&echo).to_string();
        let failed = |error| {
            self.pending().calls.remove(&echo);
            Err(error)
        };
        match tokio::time::timeout(timeout, self.outgoing.send(frame)).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return failed(ActionError::Disconnected),
            Err(_) => return failed(ActionError::Timeout),
        }
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(response)) => outcome(response),
            Ok(Err(_)) => failed(ActionError::Disconnected),
            Err(_) => failed(ActionError::Timeout),
        }
    }

    /// Hands a response to the call that waits for it; false when none does (unknown or
    /// late echo).
    pub fn resolve(&self, response: Response) -> bool {
        let Some(echo) = response.echo.as_deref() else { return false };
        let waiter = self.pending().calls.remove(echo);
        waiter.is_some_and(|w| w.send(response).is_ok())
    }

    /// The connection is gone: every pending and later call fails with `Disconnected`.
    pub fn close(&self) {
        let mut p = self.pending();
        p.closed = true;
        p.calls.clear();
    }

    /// Whether [`Link::close`] was called.
    pub fn is_closed(&self) -> bool {
        self.pending().closed
    }
}

#[derive(Clone)]
enum Route {
    Link(Arc<Link>),
    Hub { hub: Hub, self_id: String },
    Http(Arc<HttpApi>),
}

/// A handle for calling actions; cheap to clone.
#[derive(Clone)]
pub struct ActionClient {
    route: Route,
    timeout: Duration,
}

/// How long a call waits for its answer unless told otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

impl ActionClient {
    /// Calls over one link.
    pub fn over_link(link: Arc<Link>) -> ActionClient {
        ActionClient { route: Route::Link(link), timeout: DEFAULT_TIMEOUT }
    }

    /// Calls over whichever connection of `self_id` the hub holds at the time of the call.
    pub(crate) fn over_hub(hub: Hub, self_id: String, timeout: Duration) -> ActionClient {
        ActionClient { route: Route::Hub { hub, self_id }, timeout }
    }

    /// Calls the implementation's HTTP API at `base` (e.g. `http://127.0.0.1:3000`), with
    /// `Authorization: Bearer <token>` when a token is given.
    pub fn http(base: &str, token: Option<&str>) -> ActionClient {
        ActionClient { route: Route::Http(Arc::new(HttpApi::new(base, token))), timeout: DEFAULT_TIMEOUT }
    }

    /// The same client with another answer timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> ActionClient {
        self.timeout = timeout;
        self
    }

    /// Calls `action` and waits for its outcome.
    pub async fn call(&self, action: &Action) -> Result<ActionReply, ActionError> {
        match &self.route {
            Route::Link(link) => link.call(action, self.timeout).await,
            Route::Hub { hub, self_id } => match hub.link(self_id) {
                Some(link) => link.call(action, self.timeout).await,
                None => Err(ActionError::Disconnected),
            },
            Route::Http(api) => api.call(action, self.timeout).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::Status;

    fn ok(echo: &str) -> Response {
        Response {
            status: Status::Ok,
            retcode: 0,
            data: serde_json::json!({"message_id": 9}),
            message: String::new(),
            echo: Some(echo.into()),
        }
    }

    #[tokio::test]
    async fn answers_go_to_their_call_and_close_fails_the_rest() {
        let (tx, mut rx) = mpsc::channel(8);
        let link = Link::new(tx);
        let client = ActionClient::over_link(link.clone()).with_timeout(Duration::from_secs(5));
        let a = Action::DeleteMsg { message_id: "1".into() };
        let (c1, c2) = (client.clone(), client.clone());
        let (a1, a2) = (a.clone(), a.clone());
        let t1 = tokio::spawn(async move { c1.call(&a1).await });
        let t2 = tokio::spawn(async move { c2.call(&a2).await });
        let mut echoes = Vec::new();
        for _ in 0..2 {
            let f: Value = serde_json::from_str(&rx.recv().await.unwrap()).unwrap();
            echoes.push(f["echo"].as_str().unwrap().to_string());
        }
        assert_ne!(echoes[0], echoes[1]);
        assert!(!link.resolve(ok("unknown")));
        assert!(link.resolve(ok(&echoes[1])));
        link.close();
        let (r1, r2) = (t1.await.unwrap(), t2.await.unwrap());
        let results = [r1, r2];
        assert_eq!(
            results.iter().filter(|r| r.as_ref().ok().and_then(|x| x.message_id()).as_deref() == Some("9")).count(),
            1
        );
        assert_eq!(results.iter().filter(|r| **r == Err(ActionError::Disconnected)).count(), 1);
        assert_eq!(client.call(&a).await, Err(ActionError::Disconnected));
    }

    #[tokio::test]
    async fn no_answer_times_out() {
        let (tx, _rx) = mpsc::channel(8);
        let client = ActionClient::over_link(Link::new(tx)).with_timeout(Duration::from_millis(50));
        assert_eq!(client.call(&Action::DeleteMsg { message_id: "1".into() }).await, Err(ActionError::Timeout));
    }
}
