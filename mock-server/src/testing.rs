//! Test support shared by the mock's own tests (`mock-server/tests/mock`)
//! and the harness's end-to-end tests (`tests/integration`): start a mock
//! on port 0, talk to it as one app with a chosen credential (the demo
//! world's credentials are here), read and drive the admin API
//! (`/__mock/...`), relay its events in the webhook envelope, and poll
//! until a condition holds.
//!
//! Compiled only with the `testing` feature, which both test suites turn
//! on through their `[dev-dependencies]`; the mock binary never has it.
//!
//! Responses can be checked as they arrive: [`Mock::checked_by`] gives
//! every client of a mock a [`ResponseCheck`] (the mock's tests plug in
//! their OpenAPI oracle), and [`AppClient::unchecked`] turns it off for one
//! client.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

use crate::event::{EventHook, MockEvent};
use crate::{MockConfig, MockServer};

/// The default world's app, with its secret and domain key.
pub const DEMO_APP: &str = "demo-app";
pub const DEMO_SECRET: &str = "demo-secret";
pub const DEMO_KEY: &str = "demo-domain-key";
/// The default world's app in queue mode, with its secret.
pub const QUEUE_APP: &str = "demo-queue-app";
pub const QUEUE_SECRET: &str = "demo-queue-secret";

/// How long the polling helpers wait before they give up (a failure limit,
/// not a timing assertion: conditions normally hold within milliseconds).
pub const POLL_LIMIT: Duration = Duration::from_secs(10);
/// Pause between two polls.
const POLL_EVERY: Duration = Duration::from_millis(5);

/// Checks one response: method, path under `/v1`, status, content type,
/// body; panics on a violation.
pub type ResponseCheck = fn(&str, &str, u16, Option<&str>, &[u8]);

/// A running mock plus an HTTP client. Derefs to the [`MockServer`]
/// (`base_url()`, `admin_url()`, `state()`); dropping it stops the server.
#[derive(Debug)]
pub struct Mock {
    pub server: MockServer,
    pub http: reqwest::Client,
    /// Given to every client made by [`Mock::client`].
    check: Option<ResponseCheck>,
}

impl std::ops::Deref for Mock {
    type Target = MockServer;

    fn deref(&self) -> &MockServer {
        &self.server
    }
}

/// Starts the default (demo) world.
pub async fn start_mock() -> Mock {
    start_mock_with(MockConfig::default()).await
}

/// Starts a mock configured by a YAML document (the `chatload-mock
/// --config` format).
pub async fn start_mock_yaml(yaml: &str) -> Mock {
    let config = MockConfig::from_yaml_str(yaml, "test-mock.yaml").expect("valid mock config");
    start_mock_with(config).await
}

/// Starts a mock with `config`.
pub async fn start_mock_with(config: MockConfig) -> Mock {
    Mock::new(crate::spawn(config).await.expect("mock starts"))
}

/// Starts a mock that also hands every internal event to the returned
/// channel (see [`crate::spawn_with_hook`]); [`envelope`] turns one into
/// the body a webhook delivery carries.
pub async fn start_mock_relayed(config: MockConfig) -> (Mock, UnboundedReceiver<MockEvent>) {
    let (tx, rx) = unbounded_channel();
    let server = crate::spawn_with_hook(config, Arc::new(EventChannel(tx)))
        .await
        .expect("mock starts");
    (Mock::new(server), rx)
}

/// Installs ring as rustls' provider: reqwest is built without a default
/// one, and even a plain-HTTP client needs one to be built. Installing it
/// twice is harmless.
pub fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Forwards the mock's events to a channel. Called with an app's store
/// locked, so it only enqueues.
#[derive(Debug)]
struct EventChannel(UnboundedSender<MockEvent>);

impl EventHook for EventChannel {
    fn on_event(&self, event: &MockEvent) {
        let _ = self.0.send(event.clone());
    }
}

/// The body a webhook delivery of `event` carries (reference §5.2:
/// `{"trigger","appId","data","created_at"}`), built by the mock's own
/// delivery code.
pub fn envelope(event: &MockEvent) -> Bytes {
    envelope_of(event.trigger, &event.app_id, &event.data, event.at)
}

/// The body of a webhook delivery made up by a test (a redelivery, a
/// `chats:assign` question), in the same envelope as [`envelope`].
pub fn envelope_of<D: serde::Serialize + ?Sized>(
    trigger: &str,
    app_id: &str,
    data: &D,
    created_at: u64,
) -> Bytes {
    crate::webhook::sign::envelope(trigger, app_id, data, created_at)
}

/// The credential a client sends besides the App ID.
#[derive(Clone, Debug)]
pub enum Cred {
    /// No `x-hyper-appId` at all.
    Nothing,
    AppIdOnly,
    Secret(String),
    Key(String),
    Token(String),
}

/// Talks to one app of the mock with one credential. Each response goes
/// through the mock's [`ResponseCheck`], if it has one, unless the client
/// was made with [`AppClient::unchecked`].
#[derive(Clone, Debug)]
pub struct AppClient {
    pub http: reqwest::Client,
    pub base: String,
    pub app_id: String,
    pub cred: Cred,
    pub check: Option<ResponseCheck>,
}

/// A response: status, headers, JSON body (`Null` when not JSON) and the
/// raw bytes (for CSV and media downloads).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub raw: Bytes,
}

impl Reply {
    /// Asserts the error envelope with `code` = `status`.
    pub fn assert_error(&self, status: u16) {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.body);
        assert_eq!(
            self.body["error"]["code"],
            json!(status),
            "body: {}",
            self.body
        );
        assert!(
            self.body["error"]["message"].is_string(),
            "body: {}",
            self.body
        );
    }

    /// Asserts `status` and returns the body.
    pub fn expect(self, status: u16) -> Value {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.body);
        self.body
    }

    /// Asserts a 2xx status and returns the body.
    pub fn success(self) -> Value {
        assert!(self.status.is_success(), "{}: {}", self.status, self.body);
        self.body
    }
}

/// Reads a response without checking it.
pub async fn reply(resp: reqwest::Response) -> Reply {
    let status = resp.status();
    let headers = resp.headers().clone();
    let raw = resp.bytes().await.expect("body");
    let body = serde_json::from_slice(&raw).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        body,
        raw,
    }
}

impl Mock {
    /// Wraps a mock started some other way (e.g. with its own
    /// [`EventHook`]), with a fresh HTTP client and no response check.
    pub fn new(server: MockServer) -> Mock {
        install_crypto();
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(200)
            .build()
            .expect("client");
        Mock {
            server,
            http,
            check: None,
        }
    }

    /// Every client this mock makes from now on checks each response with
    /// `check`.
    pub fn checked_by(mut self, check: ResponseCheck) -> Mock {
        self.check = Some(check);
        self
    }

    pub fn client(&self, app_id: &str, cred: Cred) -> AppClient {
        AppClient {
            http: self.http.clone(),
            base: self.server.base_url(),
            app_id: app_id.to_owned(),
            cred,
            check: self.check,
        }
    }

    /// `demo-app` with its secret.
    pub fn demo(&self) -> AppClient {
        self.client(DEMO_APP, Cred::Secret(DEMO_SECRET.to_owned()))
    }

    /// `demo-queue-app` with its secret.
    pub fn queue_app(&self) -> AppClient {
        self.client(QUEUE_APP, Cred::Secret(QUEUE_SECRET.to_owned()))
    }

    /// GET an admin path (`/__mock/...`): asserts success, returns the JSON.
    pub async fn admin_get(&self, path: &str) -> Value {
        self.admin_send(Method::GET, path, None).await.success()
    }

    /// Sends an admin request with an optional JSON body.
    pub async fn admin_send(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        let url = format!("{}{path}", self.server.admin_url());
        let mut req = self.http.request(method, url);
        if let Some(body) = body {
            req = req.json(&body);
        }
        reply(req.send().await.expect("admin request")).await
    }

    /// One app's part of `/__mock/state`.
    pub async fn app_state(&self, app_id: &str) -> Value {
        self.admin_get("/state").await["apps"][app_id].clone()
    }

    /// One webhook's counters in `/__mock/webhooks`.
    pub async fn hook_stats(&self, app_id: &str, webhook_id: &str) -> Value {
        self.admin_get("/webhooks").await["apps"][app_id]["webhooks"][webhook_id].clone()
    }

    /// The events `/__mock/events` holds with this trigger.
    pub async fn events(&self, trigger: &str) -> Vec<Value> {
        let body = self.admin_get(&format!("/events?trigger={trigger}")).await;
        body["events"].as_array().cloned().expect("an events list")
    }
}

impl AppClient {
    pub fn with(&self, cred: Cred) -> AppClient {
        AppClient {
            cred,
            ..self.clone()
        }
    }

    /// The same client without response checks, for responses a test
    /// breaks on purpose (`break_schema` faults).
    pub fn unchecked(&self) -> AppClient {
        AppClient {
            check: None,
            ..self.clone()
        }
    }

    /// Sends a request built with [`AppClient::request`] (multipart, raw
    /// bodies, odd headers), checked like [`AppClient::send`].
    pub async fn exec(&self, req: reqwest::RequestBuilder) -> Reply {
        let req = req.build().expect("request builds");
        let method = req.method().as_str().to_owned();
        let path = req.url().path();
        let path = path.strip_prefix("/v1").unwrap_or(path).to_owned();
        let reply = reply(self.http.execute(req).await.expect("request")).await;
        if let Some(check) = self.check {
            let content_type = reply
                .headers
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok());
            check(
                &method,
                &path,
                reply.status.as_u16(),
                content_type,
                &reply.raw,
            );
        }
        reply
    }

    /// A request builder with this client's credentials.
    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if !matches!(self.cred, Cred::Nothing) {
            req = req.header("x-hyper-appId", &self.app_id);
        }
        match &self.cred {
            Cred::Secret(s) => req.header("x-hyper-secret", s),
            Cred::Key(k) => req.header("x-hyper-key", k),
            Cred::Token(t) => req.header("x-hyper-token", t),
            Cred::Nothing | Cred::AppIdOnly => req,
        }
    }

    pub async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        let mut req = self.request(method, path);
        if let Some(body) = body {
            req = req.json(&body);
        }
        self.exec(req).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.send(Method::POST, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Reply {
        self.send(Method::PUT, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str, body: Option<Value>) -> Reply {
        self.send(Method::DELETE, path, body).await
    }

    /// Creates a user; returns `(id, token)`.
    pub async fn create_user(&self, name: &str) -> (String, String) {
        let body = self.post("/users", json!({"name": name})).await.expect(201);
        (
            body["user"]["id"].as_str().expect("id").to_owned(),
            body["session"]["token"].as_str().expect("token").to_owned(),
        )
    }

    /// Creates a chat in `room` for `user`; returns the chat.
    pub async fn create_chat(&self, user: &str, room: u32) -> Value {
        self.post("/chats", json!({"creator": user, "room": room}))
            .await
            .expect(201)["chat"]
            .clone()
    }

    /// Registers a webhook for `events` at `target`; returns `(id, secret)`.
    pub async fn register_webhook(&self, events: &[&str], target: &str) -> (String, String) {
        let body = self
            .post("/webhooks", json!({"events": events, "target": target}))
            .await
            .expect(201);
        let hook = &body["webhook"];
        (
            hook["id"].as_str().expect("id").to_owned(),
            hook["secret"].as_str().expect("secret").to_owned(),
        )
    }

    /// Polls `GET /chats/{id}` until its status is `status`; returns the
    /// chat (panics after [`POLL_LIMIT`]).
    pub async fn wait_chat_status(&self, chat_id: &str, status: &str) -> Value {
        let path = format!("/chats/{chat_id}");
        poll(&format!("chat {chat_id} {status}"), || async {
            let chat = self.get(&path).await.expect(200)["chat"].clone();
            (chat["status"] == status).then_some(chat)
        })
        .await
    }
}

/// Polls `check` every 5 ms until it returns true (then true) or `timeout`
/// passes (then false).
pub async fn wait_until<F, Fut>(timeout: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
}

/// Polls `probe` every 5 ms until it returns `Some`, and returns that;
/// panics naming `what` after [`POLL_LIMIT`].
pub async fn poll<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + POLL_LIMIT;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(POLL_EVERY).await;
    }
}
