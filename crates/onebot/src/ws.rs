//! The reverse WebSocket endpoint: the implementation (NapCat, ...) connects to us at
//! `GET /onebot/v11/ws` with `X-Self-ID`, `X-Client-Role` and its access token, then pushes
//! events and answers the actions we send on the same connection.

use std::collections::{HashMap, VecDeque};

use axum::Router;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;

use crate::client::Link;
use crate::event::{Frame, parse_frame};
use crate::hub::{Hub, Incoming, Slot};

/// Events read from one connection and not yet taken by the consumer, at most.
const BACKLOG: usize = 4096;

/// Path of the reverse WebSocket endpoint.
pub const PATH: &str = "/onebot/v11/ws";

/// Routes for the reverse WebSocket endpoint (`/onebot/v11/ws`, with or without the
/// trailing slash).
pub fn router(hub: Hub) -> Router {
    Router::new().route(PATH, get(upgrade)).route("/onebot/v11/ws/", get(upgrade)).with_state(hub)
}

/// What a connection serves, from `X-Client-Role`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClientRole {
    /// Events and actions on one connection (NapCat's choice, and ours when none is said).
    Universal,
    Api,
    Event,
}

fn client_role(headers: &HeaderMap) -> Option<ClientRole> {
    let Some(role) = headers.get("x-client-role") else { return Some(ClientRole::Universal) };
    match role.to_str().ok()?.to_ascii_lowercase().as_str() {
        "universal" | "" => Some(ClientRole::Universal),
        "api" => Some(ClientRole::Api),
        "event" => Some(ClientRole::Event),
        _ => None,
    }
}

/// The token presented in `Authorization` (`Bearer` or `Token`) or `?access_token=`.
fn presented_token<'a>(headers: &'a HeaderMap, query: &'a HashMap<String, String>) -> Option<&'a str> {
    let header = headers.get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| {
        let (scheme, token) = v.trim().split_once(' ')?;
        (scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token")).then(|| token.trim())
    });
    header.or_else(|| query.get("access_token").map(String::as_str))
}

/// Equal in time independent of where the first difference is.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn refuse(status: StatusCode, why: &'static str) -> Response {
    (status, why).into_response()
}

async fn upgrade(
    State(hub): State<Hub>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
    ws: WebSocketUpgrade,
) -> Response {
    if let Some(expected) = &hub.config().access_token {
        let ok = presented_token(&headers, &query).is_some_and(|t| constant_time_eq(t.as_bytes(), expected.as_bytes()));
        if !ok {
            tracing::warn!("onebot: reverse WebSocket refused: missing or wrong access token");
            return refuse(StatusCode::UNAUTHORIZED, "missing or wrong access token");
        }
    }
    let self_id = headers.get("x-self-id").and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u64>().ok());
    let Some(self_id) = self_id.map(|v| v.to_string()) else {
        return refuse(StatusCode::BAD_REQUEST, "X-Self-ID must be the bot's account id");
    };
    let Some(role) = client_role(&headers) else {
        return refuse(StatusCode::BAD_REQUEST, "X-Client-Role must be Universal, API or Event");
    };
    let Some(slot) = hub.take_slot() else {
        tracing::warn!(self_id, "onebot: reverse WebSocket refused: connection limit reached");
        return refuse(StatusCode::SERVICE_UNAVAILABLE, "too many connections");
    };
    ws.on_upgrade(move |socket| serve(hub, socket, self_id, role, slot))
}

async fn serve(hub: Hub, socket: WebSocket, self_id: String, role: ClientRole, slot: Slot) {
    let (mut sink, mut stream) = socket.split();
    let (tx, mut rx) = mpsc::channel::<String>(256);
    let link = Link::new(tx);
    if role != ClientRole::Event {
        hub.attach(&self_id, link.clone());
    }
    tracing::info!(self_id, ?role, "onebot: implementation connected");
    let writer = tokio::spawn(async move {
        while let Some(frame) = rx.recv().await {
            if sink.send(Message::Text(frame.into())).await.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    });
    // Events wait in a backlog while the consumer is busy, so answers to actions are still
    // read: a consumer that awaits an action while events pile up gets its answer. Past
    // BACKLOG events, reading pauses (backpressure on the implementation).
    let mut backlog: VecDeque<Incoming> = VecDeque::new();
    let mut lost = None;
    loop {
        tokio::select! {
            permit = hub.reserve(), if !backlog.is_empty() => match permit {
                Some(permit) => permit.send(backlog.pop_front().expect("the backlog is not empty")),
                None => backlog.clear(),
            },
            message = stream.next(), if backlog.len() < BACKLOG => {
                let bytes = match &message {
                    Some(Ok(Message::Text(t))) => t.as_bytes(),
                    Some(Ok(Message::Binary(b))) => b.as_ref(),
                    Some(Ok(Message::Close(_))) | None => break,
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => {
                        lost = Some(e.to_string());
                        break;
                    }
                };
                match parse_frame(bytes) {
                    Ok(Frame::Event(event)) => backlog.push_back(Incoming { self_id: self_id.clone(), event }),
                    Ok(Frame::Response(response)) => {
                        if !link.resolve(response) {
                            tracing::debug!(self_id, "onebot: an answer no call waits for (late or unknown echo)");
                        }
                    }
                    Err(error) => tracing::warn!(self_id, %error, "onebot: bad frame skipped"),
                }
            }
        }
    }
    // What was read before the connection went is still delivered.
    for incoming in backlog {
        hub.deliver(incoming).await;
    }
    hub.detach(&self_id, &link);
    writer.abort();
    drop(slot);
    tracing::warn!(
        self_id,
        error = lost.as_deref().unwrap_or("closed"),
        "onebot: connection lost; waiting for the implementation to reconnect"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_from_header_or_query() {
        let mut h = HeaderMap::new();
        let q = HashMap::from([("access_token".to_string(), "q".to_string())]);
        assert_eq!(presented_token(&h, &q), Some("q"));
        h.insert("authorization", "Bearer abc".parse().unwrap());
        assert_eq!(presented_token(&h, &HashMap::new()), Some("abc"));
        h.insert("authorization", "Token xyz".parse().unwrap());
        assert_eq!(presented_token(&h, &HashMap::new()), Some("xyz"));
        h.insert("authorization", "Basic xyz".parse().unwrap());
        assert_eq!(presented_token(&h, &HashMap::new()), None);
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
