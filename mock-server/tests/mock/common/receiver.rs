//! A webhook receiver for the tests: axum on 127.0.0.1:0 that records every
//! request (headers and raw body) and answers as the test told it to —
//! echo the handshake or not, fail the next event POSTs, hold event POSTs
//! until released, answer `chats:assign` with an agent, late, or badly.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Semaphore;

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Bytes,
    /// The body as JSON (`Null` when it is not JSON).
    pub json: Value,
}

impl Received {
    pub fn trigger(&self) -> &str {
        self.json["trigger"].as_str().unwrap_or_default()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// How `chats:assign` questions are answered.
#[derive(Debug, Clone)]
pub enum AssignReply {
    /// `200 {}`: no choice.
    Nothing,
    /// `200 {"agentId": id}`.
    Agent(String),
    /// `200 {"agentId": id}` after a pause.
    Late(Duration, String),
    /// This status with `{"agentId": id}`.
    Status(u16, String),
}

#[derive(Debug)]
struct Behaviour {
    echo_handshake: bool,
    /// Event POSTs still to answer 500.
    fail_next: usize,
    assign: AssignReply,
}

#[derive(Debug)]
struct Shared {
    handshakes: Mutex<Vec<Received>>,
    events: Mutex<Vec<Received>>,
    assigns: Mutex<Vec<Received>>,
    behaviour: Mutex<Behaviour>,
    /// When set, each event POST waits for one permit before answering.
    gate: Mutex<Option<Arc<Semaphore>>>,
}

/// A running receiver; stops when dropped.
pub struct Receiver {
    pub url: String,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Receiver {
    /// Starts one that echoes the handshake and answers 200 to everything.
    pub async fn start() -> Receiver {
        let shared = Arc::new(Shared {
            handshakes: Mutex::default(),
            events: Mutex::default(),
            assigns: Mutex::default(),
            behaviour: Mutex::new(Behaviour {
                echo_handshake: true,
                fail_next: 0,
                assign: AssignReply::Nothing,
            }),
            gate: Mutex::new(None),
        });
        let app = Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&shared));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind receiver");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver { url, shared, task }
    }

    /// Answer the handshake without echoing the secret.
    pub fn refuse_handshake(&self) {
        lock(&self.shared.behaviour).echo_handshake = false;
    }

    /// Answer the next `n` event POSTs with 500.
    pub fn fail_next(&self, n: usize) {
        lock(&self.shared.behaviour).fail_next = n;
    }

    pub fn answer_assign(&self, reply: AssignReply) {
        lock(&self.shared.behaviour).assign = reply;
    }

    /// Hold every event POST until [`Self::release`] gives it a permit.
    pub fn hold_events(&self) -> Arc<Semaphore> {
        let gate = Arc::new(Semaphore::new(0));
        *lock(&self.shared.gate) = Some(Arc::clone(&gate));
        gate
    }

    pub fn handshakes(&self) -> Vec<Received> {
        lock(&self.shared.handshakes).clone()
    }

    pub fn events(&self) -> Vec<Received> {
        lock(&self.shared.events).clone()
    }

    pub fn assigns(&self) -> Vec<Received> {
        lock(&self.shared.assigns).clone()
    }

    /// Triggers of the events received so far, in arrival order.
    pub fn triggers(&self) -> Vec<String> {
        self.events()
            .iter()
            .map(|e| e.trigger().to_owned())
            .collect()
    }

    /// Polls until `check` holds for the received events (5 s limit).
    pub async fn wait_events(
        &self,
        what: &str,
        check: impl Fn(&[Received]) -> bool,
    ) -> Vec<Received> {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            let events = self.events();
            if check(&events) {
                return events;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "receiver never got {what}; got {:?}",
                self.triggers()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

async fn handle(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let received = Received {
        json: serde_json::from_slice(&body).unwrap_or(Value::Null),
        headers,
        body,
    };
    if let Some(secret) = received.headers.get("x-hook-secret").cloned() {
        let echo = lock(&shared.behaviour).echo_handshake;
        lock(&shared.handshakes).push(received);
        let mut response = StatusCode::OK.into_response();
        if echo {
            response.headers_mut().insert("x-hook-secret", secret);
        }
        return response;
    }
    if received.trigger() == "chats:assign" {
        let reply = lock(&shared.behaviour).assign.clone();
        lock(&shared.assigns).push(received);
        return match reply {
            AssignReply::Nothing => json_reply(StatusCode::OK, &json!({})),
            AssignReply::Agent(id) => json_reply(StatusCode::OK, &json!({"agentId": id})),
            AssignReply::Late(pause, id) => {
                tokio::time::sleep(pause).await;
                json_reply(StatusCode::OK, &json!({"agentId": id}))
            }
            AssignReply::Status(status, id) => json_reply(
                StatusCode::from_u16(status).expect("status"),
                &json!({"agentId": id}),
            ),
        };
    }
    lock(&shared.events).push(received);
    let gate = lock(&shared.gate).clone();
    if let Some(gate) = gate
        && let Ok(permit) = gate.acquire().await
    {
        permit.forget();
    }
    let fail = {
        let mut behaviour = lock(&shared.behaviour);
        let fail = behaviour.fail_next > 0;
        behaviour.fail_next = behaviour.fail_next.saturating_sub(1);
        fail
    };
    if fail {
        StatusCode::INTERNAL_SERVER_ERROR.into_response()
    } else {
        StatusCode::OK.into_response()
    }
}

fn json_reply(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
