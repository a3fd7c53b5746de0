//! The HTTP server the API posts webhooks to.
//!
//! A request carrying `X-Hook-Secret`, whatever its method and path, is the
//! handshake (answered `200` with the same header echoed, whatever the body,
//! as the real clients do). An event is a `POST` to a hook path (`/hooks`,
//! and the path of the URL registered instead, [`WebhookReceiver::accept_path`]);
//! its `X-Hook-Signature` must verify against one of the known secrets
//! (unless verification is off). Events are answered at once, before
//! anything else is done with them, as receivers in the wild do; forged or
//! unsigned ones get `401`, bodies that are not an envelope `400`, and both
//! are counted, never routed. Any other request is no event: another path
//! gets `404`, another method on a hook path `405` (with `Allow: POST`),
//! counted as `stray` only.

use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::router::EventRouter;
use super::{WebhookEvent, signature};
use crate::api::events;
use crate::api::headers::lower::{HOOK_SECRET, HOOK_SIGNATURE};

/// The path the receiver's own URL ([`RunningReceiver::local_url`]) names.
pub const HOOK_PATH: &str = "/hooks";

/// Answers the synchronous `chats:assign` webhook: the agent id to assign,
/// or `None` to let the API use its own algorithm.
pub trait AssignResponder: Send + Sync + fmt::Debug {
    fn choose(&self, event: &WebhookEvent) -> Option<String>;
}

/// What the receiver has seen so far.
#[derive(Debug, Default)]
pub struct ReceiverCounters {
    handshakes: AtomicU64,
    events: AtomicU64,
    invalid_signatures: AtomicU64,
    malformed: AtomicU64,
    stray: AtomicU64,
}

/// A copy of [`ReceiverCounters`] for reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ReceiverSnapshot {
    /// `X-Hook-Secret` handshakes answered.
    pub handshakes: u64,
    /// Events with a valid signature (or any, with verification off).
    pub events: u64,
    /// Events whose signature was missing or wrong (not routed).
    pub invalid_signatures: u64,
    /// Signed bodies that were not an event envelope (not routed).
    pub malformed: u64,
    /// Requests that were neither a handshake nor a `POST` to a hook path
    /// (answered 404 or 405; no event, not in any event counter).
    pub stray: u64,
}

impl ReceiverCounters {
    pub fn snapshot(&self) -> ReceiverSnapshot {
        ReceiverSnapshot {
            handshakes: self.handshakes.load(Ordering::Relaxed),
            events: self.events.load(Ordering::Relaxed),
            invalid_signatures: self.invalid_signatures.load(Ordering::Relaxed),
            malformed: self.malformed.load(Ordering::Relaxed),
            stray: self.stray.load(Ordering::Relaxed),
        }
    }
}

/// The receiver's shared state; cheap to clone.
#[derive(Clone)]
pub struct WebhookReceiver {
    shared: Arc<Shared>,
}

struct Shared {
    router: Arc<EventRouter>,
    verify: bool,
    /// Webhook secrets: never printed (see the `Debug` impl).
    secrets: RwLock<Vec<Vec<u8>>>,
    /// The paths events are posted to.
    paths: RwLock<Vec<String>>,
    counters: ReceiverCounters,
    assign: RwLock<Option<Arc<dyn AssignResponder>>>,
}

impl fmt::Debug for WebhookReceiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secrets = self
            .shared
            .secrets
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len();
        f.debug_struct("WebhookReceiver")
            .field("verify", &self.shared.verify)
            .field("secrets", &format_args!("{secrets} (hidden)"))
            .field("counters", &self.shared.counters)
            .finish_non_exhaustive()
    }
}

impl WebhookReceiver {
    /// A receiver routing to `router`; `verify: false` accepts unsigned events.
    pub fn new(router: Arc<EventRouter>, verify: bool) -> WebhookReceiver {
        WebhookReceiver {
            shared: Arc::new(Shared {
                router,
                verify,
                secrets: RwLock::new(Vec::new()),
                paths: RwLock::new(vec![HOOK_PATH.to_owned()]),
                counters: ReceiverCounters::default(),
                assign: RwLock::new(None),
            }),
        }
    }

    /// Accepts signatures made with `secret` from now on.
    pub fn add_secret(&self, secret: &str) {
        crate::redact::register(secret);
        self.shared
            .secrets
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .push(secret.as_bytes().to_vec());
    }

    /// Takes events posted to `path` too (the path of a `public_url` that a
    /// proxy forwards as it is).
    pub fn accept_path(&self, path: &str) {
        let mut paths = self
            .shared
            .paths
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if !paths.iter().any(|p| p == path) {
            paths.push(path.to_owned());
        }
    }

    /// Lets `responder` answer `chats:assign`.
    pub fn set_assign_responder(&self, responder: Arc<dyn AssignResponder>) {
        *self
            .shared
            .assign
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Some(responder);
    }

    pub fn router(&self) -> &Arc<EventRouter> {
        &self.shared.router
    }

    pub fn counters(&self) -> ReceiverSnapshot {
        self.shared.counters.snapshot()
    }

    /// The axum app (every method and path goes to one handler).
    pub fn app(&self) -> Router {
        Router::new().fallback(receive).with_state(self.clone())
    }

    /// Binds `bind` (port 0 picks a free port) and serves until stopped.
    ///
    /// # Errors
    /// The address cannot be bound.
    pub async fn start(&self, bind: SocketAddr) -> std::io::Result<RunningReceiver> {
        let listener = TcpListener::bind(bind).await?;
        let addr = listener.local_addr()?;
        let cancel = CancellationToken::new();
        let stop = cancel.clone();
        let app = self.app();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .await;
        });
        Ok(RunningReceiver {
            addr,
            receiver: self.clone(),
            cancel,
            task,
        })
    }
}

/// A started receiver.
#[derive(Debug)]
pub struct RunningReceiver {
    /// The bound address.
    pub addr: SocketAddr,
    pub receiver: WebhookReceiver,
    cancel: CancellationToken,
    task: JoinHandle<()>,
}

impl RunningReceiver {
    /// `http://ADDR/hooks`: what to register when the API can reach this
    /// machine directly (the bundled mock, a test instance on the LAN).
    pub fn local_url(&self) -> String {
        format!("http://{}{HOOK_PATH}", self.addr)
    }

    /// Stops accepting and waits for the server task.
    pub async fn stop(self) {
        self.cancel.cancel();
        let _ = self.task.await;
    }
}

async fn receive(
    State(receiver): State<WebhookReceiver>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let arrived = Instant::now();
    let shared = &receiver.shared;
    if let Some(secret) = headers.get(HOOK_SECRET) {
        shared.counters.handshakes.fetch_add(1, Ordering::Relaxed);
        let mut response = (StatusCode::OK, "{}").into_response();
        response.headers_mut().insert(HOOK_SECRET, secret.clone());
        response.headers_mut().insert(
            axum::http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        return response;
    }
    if let Some(refused) = not_an_event(shared, &method, uri.path()) {
        shared.counters.stray.fetch_add(1, Ordering::Relaxed);
        return refused;
    }
    if shared.verify && !signed(shared, &headers, &body) {
        shared
            .counters
            .invalid_signatures
            .fetch_add(1, Ordering::Relaxed);
        return error(StatusCode::UNAUTHORIZED, "invalid X-Hook-Signature");
    }
    let Some(event) = WebhookEvent::parse(&body, arrived) else {
        shared.counters.malformed.fetch_add(1, Ordering::Relaxed);
        return error(StatusCode::BAD_REQUEST, "not a webhook envelope");
    };
    shared.counters.events.fetch_add(1, Ordering::Relaxed);
    let answer = if event.trigger == events::CHATS_ASSIGN {
        let responder = shared
            .assign
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        responder
            .and_then(|r| r.choose(&event))
            .map(|agent| serde_json::json!({ "agentId": agent }).to_string())
    } else {
        None
    };
    shared.router.dispatch(event);
    json(StatusCode::OK, answer.unwrap_or_else(|| "{}".to_owned()))
}

/// `404` for a path that is not a hook path, `405` for another method than
/// `POST` on one; `None` for an event's request.
fn not_an_event(shared: &Shared, method: &Method, path: &str) -> Option<Response> {
    let hook = shared
        .paths
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .any(|p| p == path);
    if !hook {
        return Some(error(StatusCode::NOT_FOUND, "not a webhook path"));
    }
    if method != Method::POST {
        let mut refused = error(StatusCode::METHOD_NOT_ALLOWED, "webhooks are POSTed");
        let allow = HeaderValue::from_static("POST");
        refused
            .headers_mut()
            .insert(axum::http::header::ALLOW, allow);
        return Some(refused);
    }
    None
}

fn signed(shared: &Shared, headers: &HeaderMap, body: &[u8]) -> bool {
    let Some(sig) = headers.get(HOOK_SIGNATURE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    shared
        .secrets
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .any(|secret| signature::verify(secret, body, sig))
}

fn error(status: StatusCode, message: &str) -> Response {
    let body = serde_json::json!({"error": {"code": status.as_u16(), "message": message}});
    json(status, body.to_string())
}

fn json(status: StatusCode, body: String) -> Response {
    (
        status,
        [(
            axum::http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhook::Inbox;
    use std::time::Duration;

    async fn post(url: &str, headers: &[(&str, &str)], body: &str) -> reqwest::Response {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::new();
        let mut request = client.post(url).body(body.to_owned());
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        request.send().await.expect("receiver answers")
    }

    async fn serve(receiver: &WebhookReceiver) -> RunningReceiver {
        receiver
            .start("127.0.0.1:0".parse().expect("addr"))
            .await
            .expect("bind")
    }

    #[tokio::test]
    async fn handshake_echo_signed_events_routed_forgeries_counted() {
        let router = EventRouter::new();
        let receiver = WebhookReceiver::new(Arc::clone(&router), true);
        receiver.add_secret("s3cret");
        let running = serve(&receiver).await;
        let url = running.local_url();

        let shake = post(&url, &[("X-Hook-Secret", "abc123")], "{}").await;
        assert_eq!(shake.status(), 200);
        assert_eq!(
            shake.headers().get("x-hook-secret").map(|v| v.as_bytes()),
            Some(&b"abc123"[..])
        );

        let inbox = Inbox::new();
        router.subscribe_chat("c-1", &inbox);
        let body = r#"{"trigger":"chats:join","appId":"demo-app","data":{"chatId":"c-1","userId":"a-1"},"created_at":1700000000}"#;
        let good = signature::sign(b"s3cret", body.as_bytes());
        let ok = post(&url, &[("X-Hook-Signature", &good)], body).await;
        assert_eq!(ok.status(), 200);
        let forged = signature::sign(b"guess", body.as_bytes());
        let bad = post(&url, &[("X-Hook-Signature", &forged)], body).await;
        assert_eq!(bad.status(), 401);
        let unsigned = post(&url, &[], body).await;
        assert_eq!(unsigned.status(), 401);
        let junk_sig = signature::sign(b"s3cret", b"[1]");
        let junk = post(&url, &[("X-Hook-Signature", &junk_sig)], "[1]").await;
        assert_eq!(junk.status(), 400);

        let got = inbox
            .wait_for(|e| e.trigger == "chats:join", Duration::from_secs(1))
            .await
            .expect("routed");
        assert_eq!(got.user_id.as_deref(), Some("a-1"));
        assert!(inbox.is_empty(), "forged copies were not routed");
        assert_eq!(
            receiver.counters(),
            ReceiverSnapshot {
                handshakes: 1,
                events: 1,
                invalid_signatures: 2,
                malformed: 1,
                stray: 0,
            }
        );
        assert!(!format!("{receiver:?}").contains("s3cret"));
        running.stop().await;
    }

    /// What `chatload conform` relies on: without verification (it never
    /// learns the secret) the handshake is echoed and envelopes are
    /// answered 200 without a secret header, signed or not.
    #[tokio::test]
    async fn unverified_receiver_echoes_the_handshake_and_accepts_unsigned_events() {
        let receiver = WebhookReceiver::new(EventRouter::new(), false);
        let running = serve(&receiver).await;
        let url = running.local_url();
        let shake = post(&url, &[("X-Hook-Secret", "abc")], "{}").await;
        assert_eq!(shake.status(), 200);
        assert_eq!(shake.headers()["x-hook-secret"], "abc");
        let body =
            r#"{"trigger":"chats:close","appId":"a","data":{"chatId":"c-1"},"created_at":1}"#;
        let event = post(&url, &[], body).await;
        assert_eq!(event.status(), 200);
        assert!(event.headers().get("x-hook-secret").is_none());
        assert_eq!(
            (receiver.counters().handshakes, receiver.counters().events),
            (1, 1)
        );
        running.stop().await;
    }

    #[derive(Debug)]
    struct Always(&'static str);
    impl AssignResponder for Always {
        fn choose(&self, _: &WebhookEvent) -> Option<String> {
            Some(self.0.to_owned())
        }
    }

    #[tokio::test]
    async fn chats_assign_is_answered_by_the_responder() {
        let receiver = WebhookReceiver::new(EventRouter::new(), false);
        let running = serve(&receiver).await;
        let body = r#"{"trigger":"chats:assign","appId":"a","data":{"agents":[{"id":"a-3"}],"chat":{"id":"c-1"}},"created_at":1}"#;
        let none = post(&running.local_url(), &[], body).await;
        assert_eq!(none.text().await.expect("body"), "{}");
        receiver.set_assign_responder(Arc::new(Always("a-3")));
        let chosen = post(&running.local_url(), &[], body).await;
        let answer: serde_json::Value = chosen.json().await.expect("json");
        assert_eq!(answer["agentId"], "a-3");
        running.stop().await;
    }

    // See: audit item 3 — a GET /hooks or POST /other was answered 401 and
    // counted as an invalid signature.
    #[tokio::test]
    async fn only_a_post_to_a_hook_path_is_an_event() {
        let receiver = WebhookReceiver::new(EventRouter::new(), true);
        receiver.add_secret("s3cret");
        receiver.accept_path("/chatload");
        let running = serve(&receiver).await;
        let base = format!("http://{}", running.addr);
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::new();
        let get = client
            .get(running.local_url())
            .send()
            .await
            .expect("answer");
        assert_eq!(get.status(), 405);
        assert_eq!(get.headers()["allow"], "POST");
        let other = post(&format!("{base}/other"), &[], "{}").await;
        assert_eq!(other.status(), 404);
        let body: serde_json::Value = other.json().await.expect("JSON envelope");
        assert_eq!(body["error"]["code"], 404);
        let unsigned = post(&format!("{base}/chatload"), &[], "{}").await;
        assert_eq!(unsigned.status(), 401, "the accepted path takes events");
        let counters = receiver.counters();
        assert_eq!((counters.stray, counters.invalid_signatures), (2, 1));
        running.stop().await;
    }
}
