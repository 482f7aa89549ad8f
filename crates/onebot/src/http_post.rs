//! HTTP POST mode: the implementation posts each event to us, signed with
//! `X-Signature: sha1=<hex HMAC-SHA1 of the body>`, and we call actions on its HTTP API
//! (`POST {base}/{action}` with the params as JSON).

use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response as HttpResponse};
use axum::routing::post;
use hmac::{Hmac, Mac};
use sha1::Sha1;

use crate::action::{Action, Response};
use crate::client::{ActionError, ActionReply, outcome};
use crate::event::parse_event;
use crate::hub::{Hub, Incoming};

/// Path events are posted to.
pub const PATH: &str = "/onebot/v11/http";

/// The event route (`POST /onebot/v11/http`, with or without the trailing slash).
pub fn router(hub: Hub) -> Router {
    Router::new().route(PATH, post(receive)).route("/onebot/v11/http/", post(receive)).with_state(hub)
}

/// The `X-Signature` value for `body` signed with `secret`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha1>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(body);
    format!("sha1={}", hex::encode(mac.finalize().into_bytes()))
}

/// Whether `header` is a valid signature of `body` (compared in constant time).
pub fn verify(secret: &str, body: &[u8], header: Option<&str>) -> bool {
    let Some(sig) = header.and_then(|h| h.trim().strip_prefix("sha1=")).and_then(|h| hex::decode(h).ok()) else {
        return false;
    };
    let mut mac = Hmac::<Sha1>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(body);
    mac.verify_slice(&sig).is_ok()
}

async fn receive(State(hub): State<Hub>, headers: HeaderMap, body: Bytes) -> HttpResponse {
    if let Some(secret) = &hub.config().secret {
        let header = headers.get("x-signature").and_then(|v| v.to_str().ok());
        if !verify(secret, &body, header) {
            tracing::warn!("onebot: posted event refused: missing or bad X-Signature");
            return (StatusCode::UNAUTHORIZED, "missing or bad X-Signature").into_response();
        }
    }
    let event = match parse_event(&body) {
        Ok(event) => event,
        Err(error) => {
            tracing::warn!(%error, "onebot: posted event refused");
            return (StatusCode::BAD_REQUEST, error.to_string()).into_response();
        }
    };
    let header_id = headers.get("x-self-id").and_then(|v| v.to_str().ok()).map(str::trim);
    let Some(self_id) = event.self_id().or(header_id).map(str::to_string) else {
        return (StatusCode::BAD_REQUEST, "no self_id in the event or X-Self-ID").into_response();
    };
    hub.deliver(Incoming { self_id, event }).await;
    StatusCode::NO_CONTENT.into_response()
}

/// The implementation's HTTP API.
pub(crate) struct HttpApi {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
}

impl HttpApi {
    pub(crate) fn new(base: &str, token: Option<&str>) -> HttpApi {
        HttpApi {
            base: base.trim_end_matches('/').to_string(),
            token: token.map(str::to_string),
            http: reqwest::Client::new(),
        }
    }

    pub(crate) async fn call(&self, action: &Action, timeout: Duration) -> Result<ActionReply, ActionError> {
        let mut request =
            self.http.post(format!("{}/{}", self.base, action.name())).json(&action.params()).timeout(timeout);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let answer = request.send().await.map_err(|e| transport(&e))?;
        let status = answer.status();
        let body = answer.bytes().await.map_err(|e| transport(&e))?;
        if !status.is_success() {
            // The HTTP API's statuses map to retcodes 1400, 1401, 1403, 1404 on WebSocket.
            let message = String::from_utf8_lossy(&body).chars().take(200).collect();
            return Err(ActionError::Failed { retcode: 1000 + i64::from(status.as_u16()), message });
        }
        let response = Response::parse(&body).map_err(|e| ActionError::Transport(format!("bad answer: {e}")))?;
        outcome(response)
    }
}

fn transport(e: &reqwest::Error) -> ActionError {
    if e.is_timeout() { ActionError::Timeout } else { ActionError::Transport(e.to_string()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures() {
        let body = br#"{"post_type":"meta_event"}"#;
        let sig = signature("s3cret", body);
        assert!(sig.starts_with("sha1=") && sig.len() == 45);
        assert!(verify("s3cret", body, Some(&sig)));
        assert!(!verify("other", body, Some(&sig)));
        assert!(!verify("s3cret", b"{}", Some(&sig)));
        assert!(!verify("s3cret", body, Some(sig.trim_start_matches("sha1="))));
        assert!(!verify("s3cret", body, None));
        // RFC 2202 test case 2.
        assert_eq!(signature("Jefe", b"what do ya want for nothing?"), "sha1=effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
    }
}
