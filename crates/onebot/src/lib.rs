//! The OneBot v11 adapter of steward's group bot: how a QQ group reaches steward through a
//! OneBot implementation such as NapCatQQ.
//!
//! - [`message`]: segments, in the array form and the CQ-code string form.
//! - [`event`]: [`parse_event`] turns a frame into an [`Event`]; errors name the JSON path.
//! - [`action`]: the [`Action`]s the bot calls and the [`Response`] envelopes it gets.
//! - [`client`]: [`ActionClient`] sends an action and awaits the answer with its echo.
//! - [`ws`]: the reverse WebSocket endpoint the implementation connects to.
//! - [`http_post`]: HTTP POST event mode (HMAC-SHA1 signed) and the HTTP action API.
//! - [`simulator`]: a NapCat-like implementation for tests and demos.
//!
//! ```no_run
//! use steward_onebot::{Action, Event, Hub, HubConfig, message::Segment};
//! # async fn run() {
//! let (hub, mut events) = Hub::new(HubConfig { access_token: Some("t".into()), ..HubConfig::default() });
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8081").await.unwrap();
//! tokio::spawn(axum::serve(listener, steward_onebot::router(hub.clone())).into_future());
//! while let Some(incoming) = events.recv().await {
//!     if let Event::GroupMessage(m) = incoming.event {
//!         let reply = Action::SendGroupMsg { group_id: m.group_id, message: vec![Segment::text("seen")] };
//!         let _ = hub.client(&incoming.self_id).call(&reply).await;
//!     }
//! }
//! # }
//! ```

pub mod action;
pub mod client;
pub mod event;
pub mod http_post;
mod hub;
pub mod message;
pub mod simulator;
pub mod ws;

pub use action::{Action, MemberInfo, Response, Status};
pub use client::{ActionClient, ActionError, ActionReply};
pub use event::{Event, Frame, GroupMessage, ParseError, Role, parse_event, parse_frame};
pub use hub::{Hub, HubConfig, Incoming};

/// Both event routes: the reverse WebSocket endpoint and the HTTP POST endpoint.
pub fn router(hub: Hub) -> axum::Router {
    ws::router(hub.clone()).merge(http_post::router(hub))
}
