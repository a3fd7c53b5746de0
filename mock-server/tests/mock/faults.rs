//! Fault injection and the admin API over HTTP, plus the example config.

use crate::common::{spec, start_mock, start_mock_with};
use chatload_mock::MockConfig;
use chatload_mock::testing::{Cred, DEMO_APP, Mock};
use reqwest::Method;
use serde_json::json;
use std::path::Path;
use std::time::{Duration, Instant};

#[tokio::test]
async fn latency_fault_is_visible_and_scoped_to_its_route() {
    let mock = start_mock().await;
    let demo = mock.demo();
    mock.admin_send(
        Method::PUT,
        "/faults",
        Some(json!({"routes": {"getId": {"latency": {"dist": "fixed", "ms": 300}}}})),
    )
    .await
    .expect(200);
    const HALF_FAULT: Duration = Duration::from_millis(150);
    // The fastest of three too: the client's first request pays set-up
    // costs (measured once: ~600 ms against a 300 ms fault).
    let slow = fastest_of_three(|| async { demo.get("/id").await.expect(200) }).await;
    assert!(slow >= Duration::from_millis(300), "{slow:?}");
    // Other routes (and the route once the fault is gone) answer at least
    // half the injected 300 ms faster than the faulted request: a relation
    // between the test's own timings, not a wall-clock bound a loaded CI could
    // break. The fastest of three, so one stalled request cannot fail it; a
    // fault that leaked would hold all three.
    let other = fastest_of_three(|| async { demo.get("/settings").await.expect(200) }).await;
    assert!(
        other + HALF_FAULT < slow,
        "/settings {other:?} vs faulted /id {slow:?}"
    );
    let faults = mock.admin_get("/faults").await;
    assert_eq!(faults["routes"]["getId"]["latency"]["ms"], 300.0);
    mock.admin_send(Method::DELETE, "/faults", None)
        .await
        .expect(200);
    let cleared = fastest_of_three(|| async { demo.get("/id").await.expect(200) }).await;
    assert!(
        cleared + HALF_FAULT < slow,
        "/id {cleared:?} after DELETE vs {slow:?}"
    );
}

/// The shortest time of three sequential calls of `call`.
async fn fastest_of_three<F, Fut>(call: F) -> Duration
where
    F: Fn() -> Fut,
    Fut: std::future::Future,
{
    let mut fastest = Duration::MAX;
    for _ in 0..3 {
        let start = Instant::now();
        call().await;
        fastest = fastest.min(start.elapsed());
    }
    fastest
}

#[tokio::test]
async fn error_rate_answers_429_with_retry_after_and_skips_the_handler() {
    let mock = start_mock().await;
    let demo = mock.demo();
    mock.admin_send(
        Method::PUT,
        "/faults",
        Some(json!({"routes": {"createChat": {"error_rate": 1.0, "status": 429, "retry_after_s": 3}}})),
    )
    .await
    .expect(200);
    let (user, _) = demo.create_user("x").await;
    let reply = demo
        .post("/chats", json!({"creator": user, "room": 1}))
        .await;
    reply.assert_error(429);
    assert_eq!(reply.headers["retry-after"], "3");
    assert_eq!(mock.app_state(DEMO_APP).await["chats"]["waiting"], 0);
    mock.admin_send(
        Method::PUT,
        "/faults",
        Some(json!({"routes": {"*": {"error_rate": 1.0}}})),
    )
    .await
    .expect(200);
    demo.get("/settings").await.assert_error(503);
    mock.admin_get("/health").await;
    mock.admin_send(Method::POST, "/health", None)
        .await
        .assert_error(405);
    mock.admin_send(
        Method::PUT,
        "/faults",
        Some(json!({"routes": {"noSuchOp": {}}})),
    )
    .await
    .assert_error(400);
    mock.admin_send(Method::PUT, "/faults", Some(json!({"stal_ms": 1})))
        .await
        .assert_error(400);
}

#[tokio::test]
async fn break_schema_returns_a_body_with_wrong_types() {
    let mock = start_mock().await;
    let demo = mock.demo();
    mock.admin_send(
        Method::PUT,
        "/faults",
        Some(json!({"routes": {
            "createUser": {"break_schema": true},
            "getAgentsOnline": {"break_schema": true},
        }})),
    )
    .await
    .expect(200);
    // The broken bodies would fail the spec check, which is the point:
    // send unchecked and assert that the spec validator catches them.
    let raw = demo.unchecked();
    let spec = spec::SpecValidator::get();
    let user = raw.post("/users", json!({"name": "b"})).await.expect(201);
    assert_eq!(user["user"]["id"], 0);
    assert!(spec.validate("createUser", 201, &user).is_err(), "{user}");
    let online = raw.get("/agents/online?roomId=1").await.expect(200);
    assert_eq!(online["agentsOnline"], "broken-schema");
    assert!(spec.validate("getAgentsOnline", 200, &online).is_err());
    // Routes without the fault still answer valid bodies (checked client).
    demo.get("/agents/available?roomIds=1").await.expect(200);
}

#[tokio::test]
async fn stall_holds_every_api_response_but_not_admin() {
    let mut config = MockConfig::default();
    config.faults.stall_ms = 250;
    let mock = start_mock_with(config).await;
    // The fastest of three: the client's first request pays set-up costs.
    let demo = mock.demo();
    let stalled = fastest_of_three(|| async { demo.get("/settings").await.expect(200) }).await;
    assert!(stalled >= Duration::from_millis(250), "{stalled:?}");
    // The admin API answers at least half the 250 ms stall faster than the
    // stalled request (the fastest of three: a relation between the test's
    // own timings, not a wall-clock bound; a stall that held admin too would
    // hold all three).
    let admin = fastest_of_three(|| mock.admin_get("/health")).await;
    assert!(
        admin + Duration::from_millis(125) < stalled,
        "admin {admin:?} vs stalled {stalled:?}"
    );
}

#[tokio::test]
async fn stats_count_each_operation_and_reset() {
    let mock = start_mock().await;
    let demo = mock.demo();
    demo.create_user("a").await;
    demo.create_user("b").await;
    demo.get("/settings").await.expect(200);
    demo.get("/no/such/route").await.assert_error(404);
    demo.send(Method::PATCH, "/settings", None)
        .await
        .assert_error(405);
    let stats = mock.admin_get("/stats").await;
    assert_eq!(stats["routes"]["createUser"], 2);
    assert_eq!(stats["routes"]["getSettings"], 1);
    assert_eq!(stats["routes"]["unmatched"], 2);
    assert_eq!(stats["total"], 5);
    assert_eq!(stats["routes"].as_object().map(|r| r.len()), Some(51));
    mock.admin_send(Method::POST, "/stats/reset", None)
        .await
        .expect(200);
    assert_eq!(mock.admin_get("/stats").await["total"], 0);
}

#[tokio::test]
async fn faults_replay_with_the_same_seed() {
    let mut outcomes = Vec::new();
    for _ in 0..2 {
        let mut config = MockConfig {
            seed: 1234,
            ..MockConfig::default()
        };
        config.faults.routes.insert(
            "getSettings".to_owned(),
            chatload_mock::RouteFault {
                error_rate: 0.5,
                ..Default::default()
            },
        );
        let mock = start_mock_with(config).await;
        let demo = mock.demo();
        let mut statuses = Vec::new();
        for _ in 0..20 {
            statuses.push(demo.get("/settings").await.status.as_u16());
        }
        assert!(statuses.contains(&200) && statuses.contains(&503));
        outcomes.push(statuses);
    }
    assert_eq!(outcomes[0], outcomes[1]);
}

#[tokio::test]
async fn example_config_loads_and_serves_its_world() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("mock.example.yaml");
    let config = MockConfig::from_yaml_file(&path).expect("example config is valid");
    assert_eq!(config.seed, 7);
    // The example spells out every webhooks and connections key with its default value.
    assert_eq!(config.webhooks, chatload_mock::WebhooksConfig::default());
    assert_eq!(
        config.connections,
        chatload_mock::ConnectionsConfig::default()
    );
    let mock = start_mock_with(config).await;
    let shop = mock.client("shop-app", Cred::Secret("shop-secret".into()));
    let agents = shop.get("/agents").await.expect(200);
    assert_eq!(agents["agents"].as_array().map(Vec::len), Some(5));
    let maria = shop
        .with(Cred::AppIdOnly)
        .post(
            "/agents/login",
            json!({"email": "maria@shop.example", "password": "maria-password"}),
        )
        .await
        .expect(200);
    assert_eq!(maria["agent"]["nickname"], "Mari");
    let queue = mock.client("shop-queue-app", Cred::Secret("shop-queue-secret".into()));
    let (user, _) = queue.create_user("q").await;
    let chat = queue.create_chat(&user, 1).await;
    let id = chat["id"].as_str().expect("id");
    // simulate: false — the invitation waits for an external agent.
    assert_eq!(
        queue.get(&format!("/chats/{id}")).await.expect(200)["chat"]["status"],
        "waiting"
    );
    queue
        .post(
            "/invitations/accept",
            json!({"chatId": id, "userId": "a-1"}),
        )
        .await
        .expect(200);
    assert_eq!(
        queue.get(&format!("/chats/{id}")).await.expect(200)["chat"]["status"],
        "active"
    );
}

#[tokio::test]
async fn invalid_yaml_reports_file_line_and_column() {
    let err = MockConfig::from_yaml_str("seed: 1\napps:\n  - id: x\n    secert: y\n", "bad.yaml")
        .expect_err("unknown key");
    let text = err.to_string();
    assert!(text.starts_with("bad.yaml:4:"), "{text}");
}

#[tokio::test]
async fn shutdown_stops_the_server() {
    let mock = start_mock().await;
    let url = format!("{}/health", mock.server.admin_url());
    assert!(mock.http.get(&url).send().await.is_ok());
    let Mock { server, http, .. } = mock;
    server.shutdown().await;
    let fresh = reqwest::Client::new();
    assert!(fresh.get(&url).send().await.is_err());
    drop(http);
}

#[tokio::test]
async fn serve_runs_until_its_shutdown_future_completes() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(chatload_mock::serve(
        listener,
        MockConfig::default(),
        async move {
            let _ = stopped.await;
        },
    ));
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let health = http
        .get(format!("http://{addr}/__mock/health"))
        .send()
        .await
        .expect("health");
    assert_eq!(health.status(), 200);
    drop(http);
    stop.send(()).expect("server still running");
    let result = tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("stops in time")
        .expect("task");
    assert!(result.is_ok());
}

#[tokio::test]
async fn router_serves_in_process_without_a_socket() {
    use tower::ServiceExt;
    let app = chatload_mock::router(chatload_mock::AppState::new(MockConfig::default()));
    let request = axum::http::Request::builder()
        .uri("/v1/agents/online/?roomId=2")
        .header("X-Hyper-AppId", "demo-app")
        .body(axum::body::Body::empty())
        .expect("request");
    let response = app.oneshot(request).await.expect("infallible");
    assert_eq!(response.status(), 200);
    let body = http_body_util::BodyExt::collect(response.into_body())
        .await
        .expect("body")
        .to_bytes();
    assert_eq!(&body[..], br#"{"agentsOnline":true}"#);
}

#[derive(Debug, Default)]
struct Recorder(std::sync::Mutex<Vec<String>>);

impl chatload_mock::EventHook for Recorder {
    fn on_event(&self, event: &chatload_mock::MockEvent) {
        if let Ok(mut seen) = self.0.lock() {
            seen.push(format!("{}:{}", event.app_id, event.trigger));
        }
    }
}

#[tokio::test]
async fn event_hook_receives_every_event() {
    let recorder = std::sync::Arc::new(Recorder::default());
    let server = chatload_mock::spawn_with_hook(MockConfig::default(), recorder.clone())
        .await
        .expect("spawn");
    let mock = Mock::new(server).checked_by(spec::check);
    let demo = mock.demo();
    let (user, _) = demo.create_user("hooked").await;
    demo.create_chat(&user, 2).await;
    let seen = recorder.0.lock().expect("lock").clone();
    assert_eq!(seen, ["demo-app:chats:create"]);
}

/// The documented order: rate limit (only for a known app id) → injected
/// fault → authentication. A fault stands for the infrastructure in front of
/// the API failing, so it answers whatever credentials a request carries: no
/// credentials with a fault on gets the injected status, not 401; with the
/// fault off, 401. The rate limit lets a request without a known app id
/// through to authentication. See: audit 2 of the mock, finding 7.
#[tokio::test]
async fn injected_faults_answer_before_authentication_and_the_rate_limit_does_not() {
    let mock = start_mock().await;
    let nobody = mock.client(DEMO_APP, Cred::Nothing);
    let fault = json!({"routes": {"listWebhooks": {"error_rate": 1.0, "status": 503}}});
    mock.admin_send(Method::PUT, "/faults", Some(fault))
        .await
        .expect(200);
    nobody.get("/webhooks").await.assert_error(503);
    mock.admin_send(Method::DELETE, "/faults", None)
        .await
        .expect(200);
    nobody.get("/webhooks").await.assert_error(401);
    let limit = json!({"rps": 1.0, "burst": 1});
    mock.admin_send(Method::PUT, "/rate-limit", Some(limit))
        .await
        .expect(200);
    for _ in 0..3 {
        nobody.get("/webhooks").await.assert_error(401);
    }
}
