//! The chat client against the scripted server: answers as they come, split anywhere, cut,
//! refused or never finished; and, when one is installed, against a real local model.

use std::time::{Duration, Instant};

use steward_llm::testing::{DONE, Script, ScriptedServer, Step, delta_event, finish_event, split_writes};
use steward_llm::{ChatClient, ChatStream, LlmError, Message, SentenceChunker, TimeoutKind, Timeouts};

fn question() -> Vec<Message> {
    vec![Message::system("Answer briefly."), Message::user("What is the capital of France?")]
}

/// Every item of the stream: the deltas, then the error that ended it, if any.
async fn drain(mut stream: ChatStream) -> (Vec<String>, Option<LlmError>) {
    let mut deltas = Vec::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(d) => deltas.push(d),
            Err(e) => {
                assert!(stream.next().await.is_none(), "nothing after an error");
                return (deltas, Some(e));
            }
        }
    }
    (deltas, None)
}

async fn ask(script: Script) -> (Vec<String>, Option<LlmError>, ScriptedServer) {
    let server = ScriptedServer::start(vec![script]).await;
    let client = ChatClient::new(server.config("test-model")).unwrap();
    let (deltas, error) = drain(client.stream(question())).await;
    (deltas, error, server)
}

#[tokio::test]
async fn a_normal_stream_gives_its_deltas_and_the_request_carries_model_stream_and_messages() {
    let server = ScriptedServer::start(vec![Script::deltas(&["Paris", " is the capital", ".", ""])]).await;
    let mut config = server.config("smol");
    config.api_key = Some("sk-test".into());
    config.max_tokens = Some(64);
    config.temperature = Some(0.25);
    let client = ChatClient::new(config).unwrap();
    let (deltas, error) = drain(client.stream(question())).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(deltas, ["Paris", " is the capital", "."], "the empty delta is skipped");

    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(r.path, "/v1/chat/completions");
    assert_eq!(r.authorization.as_deref(), Some("Bearer sk-test"));
    assert_eq!(r.body["model"], "smol");
    assert_eq!(r.body["stream"], true);
    assert_eq!(r.body["max_tokens"], 64);
    assert_eq!(r.body["temperature"], 0.25);
    assert_eq!(
        r.body["messages"],
        serde_json::json!([
            {"role": "system", "content": "Answer briefly."},
            {"role": "user", "content": "What is the capital of France?"},
        ])
    );
}

#[tokio::test]
async fn without_a_key_no_authorization_and_no_optional_fields_are_sent() {
    let (_, error, server) = ask(Script::deltas(&["ok"])).await;
    assert!(error.is_none());
    let r = &server.requests()[0];
    assert_eq!(r.authorization, None);
    assert!(r.body.get("max_tokens").is_none() && r.body.get("temperature").is_none());
}

#[tokio::test]
async fn events_split_across_reads_anywhere_give_the_same_deltas() {
    let deltas = ["你好", "，世界", "! ünïcödé ", "end."];
    let whole: String = deltas.iter().map(|d| delta_event(d)).collect::<String>() + DONE;
    // Splits inside the "data:" prefix, inside JSON, inside a multi-byte character, and
    // between the two newlines that end an event.
    let first_end = delta_event(deltas[0]).len();
    let inside_char = whole.find("你").unwrap() + 1;
    let splits = [2, inside_char, first_end - 1, first_end + 3, whole.len() - 3];
    let (got, error, _) = ask(Script::deltas_split_at(&deltas, &splits)).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(got, deltas);
    // A byte per read.
    let every_byte: Vec<usize> = (1..whole.len()).collect();
    let mut steps = split_writes(whole.as_bytes(), &every_byte);
    steps.retain(|s| !matches!(s, Step::Sleep(_)));
    let (got, error, _) = ask(Script::Stream(steps)).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(got, deltas);
}

#[tokio::test]
async fn crlf_line_ends_comments_and_role_only_deltas_are_read() {
    let body = ": keep-alive\r\n\r\n\
        data: {\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":null}}]}\r\n\r\n\
        data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"},\"finish_reason\":null}],\"unknown\":[1]}\r\n\r\n\
        data: [DONE]\r\n\r\n";
    let (got, error, _) = ask(Script::Stream(vec![Step::Bytes(body.into())])).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(got, ["Hi"]);
}

#[tokio::test]
async fn done_ends_the_answer_and_what_follows_is_not_read() {
    let steps = vec![
        Step::Bytes(delta_event("one").into()),
        Step::Bytes(DONE.into()),
        Step::Bytes(delta_event("never").into()),
        Step::Hang,
    ];
    let (got, error, _) = ask(Script::Stream(steps)).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(got, ["one"]);
}

#[tokio::test]
async fn a_finish_reason_ends_the_answer_without_waiting_for_done() {
    let steps = vec![
        Step::Bytes(delta_event("Short").into()),
        Step::Bytes(finish_event("length").into()),
        Step::Hang, // a server that never sends [DONE]
    ];
    let started = Instant::now();
    let (got, error, _) = ask(Script::Stream(steps)).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(got, ["Short"]);
    assert!(started.elapsed() < Duration::from_millis(900), "no idle wait: {:?}", started.elapsed());
}

#[tokio::test]
async fn a_stream_that_ends_without_done_is_cut_after_the_deltas_received() {
    let clean_end =
        Script::Stream(vec![Step::Bytes(delta_event("Half an").into()), Step::Bytes(delta_event(" answer").into())]);
    let (got, error, _) = ask(clean_end).await;
    assert_eq!(got, ["Half an", " answer"]);
    assert!(matches!(error, Some(LlmError::Cut)), "{error:?}");

    let broken = Script::Stream(vec![
        Step::Bytes(delta_event("Half").into()),
        Step::Sleep(Duration::from_millis(20)),
        Step::Bytes(b"data: {\"choi".to_vec()),
        Step::Sleep(Duration::from_millis(20)),
        Step::Cut,
    ]);
    let (got, error, _) = ask(broken).await;
    assert_eq!(got, ["Half"]);
    assert!(matches!(error, Some(LlmError::Cut)), "{error:?}");
    assert_eq!(error.unwrap().to_string(), "the model's answer was cut off");
}

#[tokio::test]
async fn an_error_status_is_an_http_error_with_the_body() {
    let (got, error, _) = ask(Script::Status(500, "model not loaded\n".into())).await;
    assert!(got.is_empty());
    match error {
        Some(LlmError::Http { status: 500, ref body }) => assert_eq!(body, "model not loaded"),
        other => panic!("{other:?}"),
    }
    let (_, error, _) = ask(Script::Status(401, "x".repeat(5000))).await;
    let message = error.unwrap().to_string();
    assert!(message.starts_with("the model server answered HTTP 401: xxx") && message.len() < 400, "{message}");
}

#[tokio::test]
async fn an_event_that_is_not_json_is_malformed() {
    let steps = vec![Step::Bytes(delta_event("ok").into()), Step::Bytes(b"data: <html>\n\n".to_vec())];
    let (got, error, _) = ask(Script::Stream(steps)).await;
    assert_eq!(got, ["ok"]);
    assert!(matches!(error, Some(LlmError::Malformed { .. })), "{error:?}");
}

async fn timed(script: Script, timeouts: Timeouts) -> (Vec<String>, LlmError, Duration) {
    let server = ScriptedServer::start(vec![script]).await;
    let mut config = server.config("m");
    config.timeouts = timeouts;
    let client = ChatClient::new(config).unwrap();
    let started = Instant::now();
    let (got, error) = drain(client.stream(question())).await;
    (got, error.expect("a timeout"), started.elapsed())
}

const SHORT: Timeouts = Timeouts {
    connect: Duration::from_secs(1),
    first_token: Duration::from_millis(300),
    idle: Duration::from_millis(200),
    total: Duration::from_secs(5),
};

fn assert_timeout(error: &LlmError, want: TimeoutKind) {
    assert!(matches!(error, LlmError::Timeout { which, .. } if *which == want), "{error:?}");
}

#[tokio::test]
async fn a_server_that_hangs_times_out_at_the_first_token_or_idle_bound() {
    let (got, error, took) = timed(Script::HangBeforeHeaders, SHORT).await;
    assert!(got.is_empty());
    assert_timeout(&error, TimeoutKind::FirstToken);
    assert!(took >= Duration::from_millis(300) && took < Duration::from_millis(1500), "{took:?}");
    assert_eq!(error.to_string(), "the model server is too slow: no first token within 0.3s");

    // Headers and a role-only delta, then nothing: still no first token.
    let role_only = "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}\n\n";
    let (_, error, took) = timed(Script::Stream(vec![Step::Bytes(role_only.into()), Step::Hang]), SHORT).await;
    assert_timeout(&error, TimeoutKind::FirstToken);
    assert!(took < Duration::from_millis(1500), "{took:?}");

    let steps = vec![Step::Bytes(delta_event("Par").into()), Step::Hang];
    let (got, error, took) = timed(Script::Stream(steps), SHORT).await;
    assert_eq!(got, ["Par"]);
    assert_timeout(&error, TimeoutKind::Idle);
    assert!(took >= Duration::from_millis(200) && took < Duration::from_millis(1500), "{took:?}");
}

#[tokio::test]
async fn a_slow_trickle_is_stopped_by_the_total_bound() {
    let mut steps = Vec::new();
    for _ in 0..100 {
        steps.push(Step::Bytes(delta_event("a").into()));
        steps.push(Step::Sleep(Duration::from_millis(50)));
    }
    let timeouts = Timeouts { total: Duration::from_millis(400), ..SHORT };
    let (got, error, took) = timed(Script::Stream(steps), timeouts).await;
    assert!(!got.is_empty() && got.len() < 100);
    assert_timeout(&error, TimeoutKind::Total);
    assert!(took < Duration::from_millis(1000), "{took:?}");
}

#[tokio::test]
async fn a_closed_port_is_a_connect_error() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let config = steward_llm::ChatConfig {
        base_url: format!("http://127.0.0.1:{port}/v1"),
        model: "m".into(),
        api_key: None,
        timeouts: SHORT,
        max_tokens: None,
        temperature: None,
    };
    let (_, error) = drain(ChatClient::new(config).unwrap().stream(question())).await;
    let error = error.unwrap();
    assert!(matches!(error, LlmError::Connect { .. }), "{error:?}");
    assert!(error.to_string().starts_with("cannot reach the model server: "), "{error}");
}

#[tokio::test]
async fn the_scripts_serve_requests_in_order() {
    let server = ScriptedServer::start(vec![Script::deltas(&["first"])]).await;
    server.push(Script::deltas(&["second"]));
    let client = ChatClient::new(server.config("m")).unwrap();
    assert_eq!(client.stream(question()).text().await.unwrap(), "first");
    assert_eq!(client.stream(question()).text().await.unwrap(), "second");
    let error = client.stream(question()).text().await.unwrap_err();
    assert!(matches!(error, LlmError::Http { status: 500, .. }), "{error:?}");
    assert_eq!(server.requests().len(), 3);
}

/// Against a real model server (scripts/llm.sh starts one): a short answer streams, and the
/// time to the first token and the rate are printed.
#[tokio::test]
async fn real_llm_streams_an_answer() {
    let Ok(base_url) = std::env::var("STEWARD_TEST_LLM_URL") else {
        if std::env::var("STEWARD_REQUIRE_LLM").as_deref() == Ok("1") {
            panic!("STEWARD_REQUIRE_LLM=1 but STEWARD_TEST_LLM_URL is unset: source scripts/llm.sh and run start_llm");
        }
        println!("skipped: no local LLM (STEWARD_TEST_LLM_URL unset; scripts/llm.sh installs one)");
        return;
    };
    let model = std::env::var("STEWARD_TEST_LLM_MODEL").unwrap_or_else(|_| "local".into());
    let config = steward_llm::ChatConfig {
        base_url,
        model,
        api_key: None,
        timeouts: Timeouts {
            first_token: Duration::from_secs(60),
            total: Duration::from_secs(120),
            ..Timeouts::default()
        },
        max_tokens: Some(48),
        temperature: Some(0.0),
    };
    let client = ChatClient::new(config).unwrap();
    let started = Instant::now();
    let mut stream = client.stream(question());
    let mut first_token = None;
    let mut deltas = Vec::new();
    let mut chunker = SentenceChunker::default();
    let mut sentences = Vec::new();
    while let Some(delta) = stream.next().await {
        let delta = delta.expect("a delta from the local model");
        first_token.get_or_insert_with(|| started.elapsed());
        sentences.extend(chunker.push(&delta));
        deltas.push(delta);
    }
    sentences.extend(chunker.finish());
    let total = started.elapsed();
    let first_token = first_token.expect("at least one delta");
    let streaming = total.saturating_sub(first_token).as_secs_f64();
    let rate = if streaming > 0.0 { (deltas.len() - 1) as f64 / streaming } else { f64::INFINITY };
    println!(
        "real LLM: {} deltas, first token after {:?}, {:.1} deltas/s after it, {:?} in all; sentences: {sentences:?}",
        deltas.len(),
        first_token,
        rate,
        total
    );
    assert!(!deltas.is_empty());
    assert!(!sentences.is_empty());
}
