//! The reverse WebSocket endpoint against the simulator, over real sockets.

use std::time::{Duration, Instant};

use steward_onebot::event::Meta;
use steward_onebot::message::{Segment, plain_text};
use steward_onebot::simulator::{Behaviour, Format, SimError, Simulator};
use steward_onebot::{Action, ActionError, ActionReply, Event, Hub, HubConfig, Incoming, MemberInfo, Role};
use tokio::sync::mpsc::Receiver;

const BOT: &str = "10001";
const WAIT: Duration = Duration::from_secs(5);

async fn serve(config: HubConfig) -> (Hub, Receiver<Incoming>, String) {
    let (hub, events) = Hub::new(config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/onebot/v11/ws", listener.local_addr().unwrap());
    tokio::spawn(axum::serve(listener, steward_onebot::router(hub.clone())).into_future());
    (hub, events, url)
}

fn with_token() -> HubConfig {
    HubConfig { access_token: Some("s3cret".into()), ..HubConfig::default() }
}

async fn next(events: &mut Receiver<Incoming>) -> Incoming {
    tokio::time::timeout(WAIT, events.recv()).await.expect("an event in time").expect("the hub is alive")
}

/// The next event that is not a meta event.
async fn next_message(events: &mut Receiver<Incoming>) -> Incoming {
    loop {
        let i = next(events).await;
        if !matches!(i.event, Event::Meta(_)) {
            return i;
        }
    }
}

async fn wait_until(mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < WAIT, "condition not met in time");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_is_checked_and_the_lifecycle_event_arrives() {
    let (hub, mut events, url) = serve(with_token()).await;
    assert!(matches!(Simulator::connect(&url, None, BOT).await, Err(SimError::Refused(401))));
    assert!(matches!(Simulator::connect(&url, Some("wrong"), BOT).await, Err(SimError::Refused(401))));
    let sim = Simulator::connect(&url, Some("s3cret"), BOT).await.unwrap();
    let first = next(&mut events).await;
    assert_eq!(first.self_id, BOT);
    assert_eq!(first.event, Event::Meta(Meta::Lifecycle { self_id: BOT.into(), sub_type: "connect".into() }));
    assert_eq!(hub.bots(), vec![BOT.to_string()]);
    // The query parameter works too.
    let query = format!("{url}/?access_token=s3cret");
    let other = Simulator::connect(&query, None, "10002").await.unwrap();
    wait_until(|| hub.bots().len() == 2).await;
    drop((sim, other));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_cap_get_503() {
    let (hub, _events, url) = serve(HubConfig { max_connections: 2, ..HubConfig::default() }).await;
    let a = Simulator::connect(&url, None, "1").await.unwrap();
    let _b = Simulator::connect(&url, None, "2").await.unwrap();
    wait_until(|| hub.connections() == 2).await;
    assert!(matches!(Simulator::connect(&url, None, "3").await, Err(SimError::Refused(503))));
    a.disconnect().await;
    wait_until(|| hub.connections() == 1).await;
    Simulator::connect(&url, None, "3").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_messages_arrive_in_every_format_and_bad_frames_are_skipped() {
    let (_hub, mut events, url) = serve(with_token()).await;
    let sim = Simulator::connect(&url, Some("s3cret"), BOT).await.unwrap();
    let message = [Segment::at(BOT), Segment::text(" ai is [this] true, & why?")];
    let formats = [Format::ARRAY, Format::CQ, Format::ARRAY.with_string_ids(), Format::CQ.with_string_ids()];
    for format in formats {
        let id = sim.send_group_message("30003", "20002", Role::Admin, &message, format).await.unwrap();
        sim.send_raw("{\"post_type\": \"message\", \"message_type\": \"group\", \"message\": 5}").await.unwrap();
        sim.send_raw("not json").await.unwrap();
        let Event::GroupMessage(m) = next_message(&mut events).await.event else { panic!("not a group message") };
        assert_eq!(m.message_id, id, "{format:?}");
        assert_eq!((m.group_id.as_str(), m.user_id.as_str(), m.self_id.as_str()), ("30003", "20002", BOT));
        assert_eq!(m.sender.role(), Role::Admin);
        assert_eq!(m.message, message, "{format:?}");
        assert_eq!(plain_text(&m.message), " ai is [this] true, & why?");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actions_round_trip_by_echo_with_ok_failed_and_async() {
    let (hub, _events, url) = serve(with_token()).await;
    let sim = Simulator::connect(&url, Some("s3cret"), BOT).await.unwrap();
    wait_until(|| !hub.bots().is_empty()).await;
    let client = hub.client(BOT);

    let send = Action::SendGroupMsg { group_id: "30003".into(), message: vec![Segment::text("hello")] };
    let reply = client.call(&send).await.unwrap();
    assert!(reply.message_id().is_some());
    let got = sim.next_action(WAIT).await.unwrap();
    assert_eq!(got.action, "send_group_msg");
    assert_eq!(got.params["group_id"], 30003);
    assert_eq!(got.params["message"][0]["data"]["text"], "hello");

    sim.set_member("30003", "20002", Role::Owner);
    let info = Action::GetGroupMemberInfo { group_id: "30003".into(), user_id: "20002".into(), no_cache: true };
    let ActionReply::Done(data) = client.call(&info).await.unwrap() else { panic!("not done") };
    assert_eq!(MemberInfo::from_data(&data).unwrap().role, Role::Owner);

    sim.set_behaviour("set_group_ban", Behaviour::Fail { retcode: 102, message: "no permission".into() });
    let ban = Action::SetGroupBan { group_id: "30003".into(), user_id: "20002".into(), duration: 600 };
    assert_eq!(client.call(&ban).await, Err(ActionError::Failed { retcode: 102, message: "no permission".into() }));

    sim.set_behaviour("delete_msg", Behaviour::Async);
    assert_eq!(client.call(&Action::DeleteMsg { message_id: "-5".into() }).await, Ok(ActionReply::Accepted));

    // Many calls at once each get their own answer.
    let calls = (0..20).map(|_| {
        let c = client.clone();
        let a = send.clone();
        tokio::spawn(async move { c.call(&a).await.unwrap().message_id().unwrap() })
    });
    let mut ids = Vec::new();
    for call in calls {
        ids.push(call.await.unwrap());
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 20);
    let echoes: std::collections::HashSet<String> = sim.actions().iter().map(|a| a.echo.to_string()).collect();
    assert_eq!(echoes.len(), sim.actions().len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silence_times_out() {
    let (hub, _events, url) =
        serve(HubConfig { action_timeout: Duration::from_millis(200), ..HubConfig::default() }).await;
    let sim = Simulator::connect(&url, None, BOT).await.unwrap();
    wait_until(|| !hub.bots().is_empty()).await;
    sim.set_behaviour("set_group_kick", Behaviour::Silent);
    let kick = Action::SetGroupKick { group_id: "1".into(), user_id: "2".into(), reject_add_request: false };
    let start = Instant::now();
    assert_eq!(hub.client(BOT).call(&kick).await, Err(ActionError::Timeout));
    assert!(start.elapsed() >= Duration::from_millis(200));
    assert_eq!(sim.actions().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnect_fails_pending_and_a_reconnect_is_picked_up() {
    let (hub, mut events, url) = serve(HubConfig::default()).await;
    let sim = Simulator::connect(&url, None, BOT).await.unwrap();
    wait_until(|| !hub.bots().is_empty()).await;
    let client = hub.client(BOT);
    sim.set_behaviour("delete_msg", Behaviour::Silent);
    let pending = {
        let c = client.clone();
        tokio::spawn(async move { c.call(&Action::DeleteMsg { message_id: "1".into() }).await })
    };
    sim.next_action(WAIT).await.unwrap();
    sim.drop_connection().await;
    assert_eq!(tokio::time::timeout(WAIT, pending).await.unwrap().unwrap(), Err(ActionError::Disconnected));
    wait_until(|| hub.bots().is_empty()).await;
    assert_eq!(client.call(&Action::DeleteMsg { message_id: "1".into() }).await, Err(ActionError::Disconnected));

    sim.reconnect().await.unwrap();
    wait_until(|| !hub.bots().is_empty()).await;
    sim.set_behaviour("delete_msg", Behaviour::Ok);
    assert_eq!(
        client.call(&Action::DeleteMsg { message_id: "1".into() }).await,
        Ok(ActionReply::Done(serde_json::Value::Null))
    );
    sim.send_group_text("5", "6", Role::Member, "after", Format::ARRAY).await.unwrap();
    let Event::GroupMessage(m) = next_message(&mut events).await.event else { panic!() };
    assert_eq!(plain_text(&m.message), "after");

    // A clean close too.
    sim.disconnect().await;
    wait_until(|| hub.bots().is_empty()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_get_through_while_events_wait_for_a_busy_consumer() {
    let (hub, mut events, url) = serve(HubConfig { event_buffer: 4, ..HubConfig::default() }).await;
    let sim = Simulator::connect(&url, None, BOT).await.unwrap();
    wait_until(|| !hub.bots().is_empty()).await;
    // The consumer reads nothing while 500 events arrive, then makes a call.
    for _ in 0..500 {
        sim.send_group_text("1", "2", Role::Member, "flood", Format::ARRAY).await.unwrap();
    }
    let delete = Action::DeleteMsg { message_id: "1".into() };
    assert_eq!(hub.client(BOT).call(&delete).await, Ok(ActionReply::Done(serde_json::Value::Null)));
    // None of the events was lost.
    let mut messages = 0;
    while messages < 500 {
        if matches!(next(&mut events).await.event, Event::GroupMessage(_)) {
            messages += 1;
        }
    }
}

/// Not a gate: how many events a second one connection carries from the simulator's
/// socket to the hub's channel, parsed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throughput_of_one_connection() {
    const N: usize = 50_000;
    let (_hub, mut events, url) = serve(HubConfig::default()).await;
    let sim = Simulator::connect(&url, None, BOT).await.unwrap();
    next(&mut events).await; // lifecycle
    let message = [Segment::at(BOT), Segment::text(" ai 这条消息是真的吗？ [link] & more text here")];
    let start = Instant::now();
    let consumer = tokio::spawn(async move {
        let mut n = 0;
        while n < N {
            let i = next(&mut events).await;
            assert!(matches!(i.event, Event::GroupMessage(_)));
            n += 1;
        }
        n
    });
    for i in 0..N {
        let format = if i % 2 == 0 { Format::ARRAY } else { Format::CQ.with_string_ids() };
        sim.send_group_message("30003", "20002", Role::Member, &message, format).await.unwrap();
    }
    assert_eq!(consumer.await.unwrap(), N);
    let secs = start.elapsed().as_secs_f64();
    println!(
        "onebot throughput: {N} group messages over one reverse WebSocket in {secs:.3} s = {:.0} events/s",
        N as f64 / secs
    );
}
