//! HTTP POST mode over real sockets: signed events in, and actions on an HTTP API.

use std::time::Duration;

use axum::Json;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::{Value, json};
use steward_onebot::http_post::signature;
use steward_onebot::{Action, ActionClient, ActionError, ActionReply, Event, Hub, HubConfig};

async fn bind() -> (tokio::net::TcpListener, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    (listener, base)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_events_are_delivered_and_others_refused() {
    let (hub, mut events) = Hub::new(HubConfig { secret: Some("k3y".into()), ..HubConfig::default() });
    let (listener, base) = bind().await;
    tokio::spawn(axum::serve(listener, steward_onebot::router(hub)).into_future());
    let url = format!("{base}/onebot/v11/http");
    let body = json!({"time": 1, "self_id": 10001, "post_type": "message", "message_type": "group", "sub_type": "normal",
        "message_id": 7, "group_id": "30003", "user_id": 20002, "message": "hi &#91;x&#93;", "raw_message": "hi &#91;x&#93;",
        "font": 0, "sender": {"nickname": "n", "role": "member"}})
    .to_string();
    let http = reqwest::Client::new();
    let post = |sig: Option<String>, body: String| {
        let mut r = http.post(&url).header("content-type", "application/json").header("x-self-id", "10001").body(body);
        if let Some(s) = sig {
            r = r.header("x-signature", s);
        }
        r.send()
    };
    assert_eq!(post(None, body.clone()).await.unwrap().status(), 401);
    assert_eq!(post(Some(signature("wrong", body.as_bytes())), body.clone()).await.unwrap().status(), 401);
    assert_eq!(post(Some("sha1=zz".into()), body.clone()).await.unwrap().status(), 401);
    assert!(events.try_recv().is_err(), "a refused post delivered an event");

    assert_eq!(post(Some(signature("k3y", body.as_bytes())), body.clone()).await.unwrap().status(), 204);
    let incoming = tokio::time::timeout(Duration::from_secs(5), events.recv()).await.unwrap().unwrap();
    assert_eq!(incoming.self_id, "10001");
    let Event::GroupMessage(m) = incoming.event else { panic!() };
    assert_eq!((m.group_id.as_str(), m.message_id.as_str()), ("30003", "7"));
    assert_eq!(steward_onebot::message::plain_text(&m.message), "hi [x]");

    let bad = r#"{"post_type":"message","message_type":"group","message":"x","self_id":"x1"}"#.to_string();
    let refused = post(Some(signature("k3y", bad.as_bytes())), bad).await.unwrap();
    assert_eq!(refused.status(), 400);
    assert!(refused.text().await.unwrap().contains("$.self_id"));
}

/// A stand-in for the implementation's HTTP API: checks the token and answers by action.
async fn api(
    headers: HeaderMap,
    action: axum::extract::Path<String>,
    Json(params): Json<Value>,
) -> (StatusCode, Json<Value>) {
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer t0k") {
        return (StatusCode::UNAUTHORIZED, Json(Value::Null));
    }
    let answer = match action.0.as_str() {
        "send_group_msg" => {
            json!({"status": "ok", "retcode": 0, "data": {"message_id": params["group_id"]}, "message": "", "wording": ""})
        }
        "set_group_ban" => {
            json!({"status": "failed", "retcode": 100, "data": null, "message": "bad", "wording": "not admin"})
        }
        "delete_msg" => json!({"status": "async", "retcode": 1, "data": null}),
        _ => return (StatusCode::NOT_FOUND, Json(Value::Null)),
    };
    (StatusCode::OK, Json(answer))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_action_client() {
    let (listener, base) = bind().await;
    tokio::spawn(axum::serve(listener, axum::Router::new().route("/{action}", post(api))).into_future());
    let client = ActionClient::http(&format!("{base}/"), Some("t0k"));
    let send = Action::SendGroupMsg { group_id: "30003".into(), message: vec![] };
    assert_eq!(client.call(&send).await.unwrap().message_id().as_deref(), Some("30003"));
    let ban = Action::SetGroupBan { group_id: "1".into(), user_id: "2".into(), duration: 0 };
    assert_eq!(client.call(&ban).await, Err(ActionError::Failed { retcode: 100, message: "bad".into() }));
    assert_eq!(client.call(&Action::DeleteMsg { message_id: "3".into() }).await, Ok(ActionReply::Accepted));
    let kick = Action::SetGroupKick { group_id: "1".into(), user_id: "2".into(), reject_add_request: false };
    assert!(matches!(client.call(&kick).await, Err(ActionError::Failed { retcode: 1404, .. })));
    let unauthorised = ActionClient::http(&base, Some("nope"));
    assert!(matches!(unauthorised.call(&send).await, Err(ActionError::Failed { retcode: 1401, .. })));
    let nowhere = ActionClient::http("http://127.0.0.1:9", None);
    assert!(matches!(nowhere.call(&send).await, Err(ActionError::Transport(_))));
}
