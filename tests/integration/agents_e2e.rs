//! Agent actors end to end: the mock's default world (simulated agents on),
//! switched off through `prepare_target`, real signed webhooks delivered to
//! the harness's `WebhookReceiver`, the pool answering `chats:assign`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chatload::agents::{AgentPool, MockSwitch, prepare_target};
use chatload::client::{ApiClient, ClientConfig, Credentials};
use chatload::scenario::{AgentsSpec, Think};
use chatload::webhook::{EventRouter, WebhookReceiver};
use chatload_mock::MockConfig;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

const APP: &str = "demo-app";
const SECRET: &str = "demo-secret";

async fn call(base: &str, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
    let mut req = reqwest::Client::new()
        .request(method.clone(), format!("{base}{path}"))
        .header("x-hyper-appId", APP)
        .header("x-hyper-secret", SECRET);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("mock reachable");
    let status = resp.status();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{method} {path}: {status} {body}");
    body
}

/// Polls `probe` every 10 ms until it returns `Some`, for at most 10 s.
async fn until<T, F: std::future::Future<Output = Option<T>>>(
    what: &str,
    mut probe: impl FnMut() -> F,
) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "timed out: {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn actors_work_a_chat_over_real_webhooks_with_the_mock_agents_off() {
    // reqwest is built without a default TLS provider (run alone, nothing
    // else in this process has installed one yet).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mock = chatload_mock::spawn(MockConfig::default())
        .await
        .expect("mock starts");
    let base = mock.base_url();
    let router = EventRouter::new();
    let receiver = WebhookReceiver::new(Arc::clone(&router), true);
    let running = receiver
        .start("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("receiver starts");
    let events = [
        "invitations:new",
        "messages:new",
        "chats:close",
        "chats:leave",
        "chats:assign",
    ];
    let hook = call(
        &base,
        reqwest::Method::POST,
        "/webhooks",
        Some(json!({"events": events, "target": running.local_url()})),
    )
    .await;
    receiver.add_secret(hook["webhook"]["secret"].as_str().expect("secret"));

    let spec = AgentsSpec {
        count: 2,
        capacity: 2,
        accept_delay: Think::Fixed(Duration::from_millis(100)),
        reply_think: Think::Fixed(Duration::from_millis(100)),
        reply: "agent {{agent_id}} here".to_owned(),
        ..AgentsSpec::default()
    };
    assert_eq!(
        prepare_target(&spec, &base, APP).await.expect("switch"),
        MockSwitch::SwitchedOff
    );
    let simulated = call(&base, reqwest::Method::GET, "/agents/a-1", None).await;
    assert_eq!(simulated["agent"]["status"], "offline", "{simulated}");
    let client = ApiClient::new(&ClientConfig {
        base_url: base.clone(),
        credentials: Credentials {
            app_id: Some(APP.to_owned()),
            secret: Some(SECRET.to_owned()),
            domain_key: None,
        },
        extra_headers: Vec::new(),
        timeout: Duration::from_secs(10),
        pool_size: 4,
    })
    .expect("client");
    let pool = AgentPool::start(
        &spec,
        Arc::new(client),
        Arc::clone(&router),
        None,
        3,
        &CancellationToken::new(),
    )
    .await
    .expect("agents log in");
    receiver.set_assign_responder(pool.assign_responder());
    let ids = pool.agent_ids();

    let user = call(
        &base,
        reqwest::Method::POST,
        "/users",
        Some(json!({"name": "Fay"})),
    )
    .await;
    let user = user["user"]["id"].as_str().expect("user").to_owned();
    let chat = call(
        &base,
        reqwest::Method::POST,
        "/chats",
        Some(json!({"room": 1, "creator": user})),
    )
    .await;
    let chat = chat["chat"]["id"].as_str().expect("chat").to_owned();
    call(
        &base,
        reqwest::Method::GET,
        &format!("/chats/{chat}/assign"),
        None,
    )
    .await;
    let agent = until("chat active", || async {
        let c = call(&base, reqwest::Method::GET, &format!("/chats/{chat}"), None).await;
        (c["chat"]["status"] == "active").then(|| c["chat"]["agent"].as_str().map(str::to_owned))
    })
    .await
    .expect("an agent");
    // The simulated agents a-1…a-4 of room 1 are off: an actor took it.
    assert!(ids.contains(&agent), "{agent} is not one of {ids:?}");

    call(
        &base,
        reqwest::Method::POST,
        &format!("/chats/{chat}/messages"),
        Some(json!({"sender": user, "message": "anyone?"})),
    )
    .await;
    let reply = until("agent reply", || async {
        let m = call(
            &base,
            reqwest::Method::GET,
            &format!("/chats/{chat}/messages"),
            None,
        )
        .await;
        m["messages"]
            .as_array()?
            .iter()
            .find(|m| m["sender"] == agent.as_str())
            .map(|m| m["message"].clone())
    })
    .await;
    assert_eq!(reply, format!("agent {agent} here").as_str());

    call(
        &base,
        reqwest::Method::DELETE,
        &format!("/chats/{chat}"),
        Some(json!({"userId": user})),
    )
    .await;
    until("slot freed", || async {
        pool.loads().iter().all(|l| *l == 0).then_some(())
    })
    .await;

    let summary = pool.stop().await;
    assert_eq!(summary.totals.accepted, 1, "{summary:?}");
    assert_eq!(summary.totals.replies, 1);
    assert_eq!(summary.totals.chats_handled, 1);
    assert_eq!(
        summary.totals.assigned, 1,
        "chats:assign answered by the pool"
    );
    assert_eq!(summary.totals.errors, 0);
    assert!(summary.actors.iter().all(|a| a.logged_out));
    let seen = receiver.counters();
    assert_eq!(seen.invalid_signatures, 0);
    assert!(seen.events >= 4, "{seen:?}");
    running.stop().await;
}

/// A scenario run with actors whose replies are overtaken by the user
/// closing the chat: the `409`s are counted as overtaken, not as failures,
/// so the run passes without thresholds (a reply that fails otherwise is a
/// failure: see `calls::overtaken`'s unit test).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_overtaken_by_a_close_are_counted_not_failed() {
    let mock = crate::common::start_mock(None).await;
    let dir = tempfile::tempdir().expect("tempdir");
    // Without `chats:close` the actors never hear of the close, so every
    // reply (400 ms after the message, while the user pauses 800 ms after
    // closing) lands on a closed chat: the race, made deterministic.
    let body = r#"webhooks:
  settle: 1s
  events: [chats:create, invitations:new, invitations:accept, chats:join, messages:new]
agents:
  count: 2
  ids: [a-1, a-2]
  reply_think: 400ms
load: {vus: 1, iterations: 3}
steps:
  - create_user:
  - create_chat:
  - assign:
  - wait_event: {event: chats:join, timeout: 5s}
  - send_message: {message: hi}
  - close_chat:
    think: 800ms
"#;
    let yaml = format!(
        "name: overtaken\n{target}  room: 1\n{body}",
        target = crate::common::target_block(&mock),
    );
    let path = crate::common::write_scenario(dir.path(), "overtaken.yaml", &yaml);
    let (exit, report) = crate::common::run_scenario(dir.path(), &path, &[]).await;
    let json = serde_json::to_value(&report).unwrap();
    let totals = &json["agents"]["totals"];
    assert_eq!(totals["accepted"], 3, "{totals}");
    assert_eq!(totals["errors"], 0, "{totals}");
    assert_eq!(
        totals["overtaken"], 3,
        "each reply met a closed chat: {totals}"
    );
    assert_eq!(report.totals.errors, 0, "{:?}", report.errors_by_kind);
    assert_eq!(exit, chatload::app::Exit::Passed);
}
