//! Shared helpers for the mock's HTTP tests: start a mock on port 0, talk
//! to it as one app with a chosen credential, poll until a condition holds.
//!
//! Each test binary includes this with `mod common;`; not every binary uses
//! every helper.
#![allow(dead_code)]

pub mod receiver;
pub mod spec;

use chatload_mock::{MockConfig, MockServer, spawn};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::future::Future;
use std::time::{Duration, Instant};

/// Default-world credentials.
pub const DEMO_APP: &str = "demo-app";
pub const DEMO_SECRET: &str = "demo-secret";
pub const DEMO_KEY: &str = "demo-domain-key";
pub const QUEUE_APP: &str = "demo-queue-app";
pub const QUEUE_SECRET: &str = "demo-queue-secret";

/// A running mock plus an HTTP client.
pub struct Mock {
    pub server: MockServer,
    pub http: reqwest::Client,
}

/// Starts the default world.
pub async fn start_mock() -> Mock {
    start_mock_with(MockConfig::default()).await
}

/// Starts a mock with `config`.
pub async fn start_mock_with(config: MockConfig) -> Mock {
    // reqwest is built without a default TLS provider; plain HTTP still
    // needs one installed to build a client. Already installed → Err, fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let server = spawn(config).await.expect("mock starts");
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(200)
        .build()
        .expect("client");
    Mock { server, http }
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

/// Talks to one app of the mock. Every response it gets is checked against
/// the OpenAPI document (status declared, body valid for the operation the
/// request maps to) and its operation recorded as exercised, unless the
/// client was made with [`AppClient::unchecked`].
#[derive(Clone)]
pub struct AppClient {
    pub http: reqwest::Client,
    pub base: String,
    pub app_id: String,
    pub cred: Cred,
    pub checked: bool,
}

/// A response: status, headers, JSON body (`Null` when not JSON) and the
/// raw bytes (for CSV and media downloads).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub raw: bytes::Bytes,
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
}

impl Mock {
    pub fn client(&self, app_id: &str, cred: Cred) -> AppClient {
        AppClient {
            http: self.http.clone(),
            base: self.server.base_url(),
            app_id: app_id.to_owned(),
            cred,
            checked: true,
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

    /// GET an admin path (`/__mock/...`).
    pub async fn admin_get(&self, path: &str) -> Value {
        let url = format!("{}{path}", self.server.admin_url());
        let resp = self.http.get(url).send().await.expect("admin request");
        assert!(resp.status().is_success());
        resp.json().await.expect("admin json")
    }

    /// Sends an admin request with a JSON body.
    pub async fn admin_send(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        let url = format!("{}{path}", self.server.admin_url());
        let mut req = self.http.request(method, url);
        if let Some(body) = body {
            req = req.json(&body);
        }
        reply(req.send().await.expect("admin request")).await
    }

    /// Per-app `/__mock/state`.
    pub async fn app_state(&self, app_id: &str) -> Value {
        self.admin_get("/state").await["apps"][app_id].clone()
    }
}

/// Reads a response without checking it against the spec (admin routes).
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

/// Sends `req` and checks the response against the spec for the operation
/// that its method and URL (under `/v1`) map to; panics on a violation.
pub async fn exec_checked(http: &reqwest::Client, req: reqwest::RequestBuilder) -> Reply {
    let req = req.build().expect("request builds");
    let method = req.method().as_str().to_owned();
    let path = req
        .url()
        .path()
        .strip_prefix("/v1")
        .unwrap_or(req.url().path())
        .to_owned();
    let reply = reply(http.execute(req).await.expect("request")).await;
    let content_type = reply
        .headers
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    spec::check(
        &method,
        &path,
        reply.status.as_u16(),
        content_type,
        &reply.raw,
    );
    reply
}

impl AppClient {
    pub fn with(&self, cred: Cred) -> AppClient {
        AppClient {
            cred,
            ..self.clone()
        }
    }

    /// The same client without spec checks, for responses a test breaks
    /// on purpose (`break_schema` faults).
    pub fn unchecked(&self) -> AppClient {
        AppClient {
            checked: false,
            ..self.clone()
        }
    }

    /// Sends a request built with [`AppClient::request`] (multipart, raw
    /// bodies, odd headers), checked against the spec like [`AppClient::send`].
    pub async fn exec(&self, req: reqwest::RequestBuilder) -> Reply {
        if self.checked {
            exec_checked(&self.http, req).await
        } else {
            reply(req.send().await.expect("request")).await
        }
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

    /// Polls `GET /chats/{id}` until its status is `status` (5 s limit).
    pub async fn wait_chat_status(&self, chat_id: &str, status: &str) -> Value {
        let path = format!("/chats/{chat_id}");
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let chat = self.get(&path).await.expect(200)["chat"].clone();
            if chat["status"] == status {
                return chat;
            }
            assert!(
                Instant::now() < deadline,
                "chat {chat_id} never became {status}: {chat}"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// Registers a webhook; returns `(id, secret)`.
pub async fn register_webhook(
    client: &AppClient,
    events: &[&str],
    target: &str,
) -> (String, String) {
    let body = client
        .post("/webhooks", json!({"events": events, "target": target}))
        .await
        .expect(201);
    let hook = &body["webhook"];
    (
        hook["id"].as_str().expect("id").to_owned(),
        hook["secret"].as_str().expect("secret").to_owned(),
    )
}

/// Lower-case hex HMAC-SHA256 of `body` keyed with `secret`, computed here
/// with the `hmac` crate, independently of the mock's own code.
pub fn hmac_hex(secret: &str, body: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `GET /__mock/webhooks` counters of one webhook.
pub async fn hook_stats(mock: &Mock, app_id: &str, webhook_id: &str) -> Value {
    mock.admin_get("/webhooks").await["apps"][app_id]["webhooks"][webhook_id].clone()
}

/// Polls `check` every 5 ms until it returns true or `timeout` passes.
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
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Whether every agent of an app's `/__mock/state` has 0 used slots, no
/// invitation is pending and every queue is empty.
pub fn is_idle(app_state: &Value) -> bool {
    let agents_idle = app_state["agents"]
        .as_array()
        .is_some_and(|a| a.iter().all(|agent| agent["usedSlots"] == 0));
    let queues_empty = app_state["queues"]
        .as_object()
        .is_some_and(|q| q.values().all(|n| *n == 0));
    agents_idle && queues_empty && app_state["invitationsPending"] == 0
}
