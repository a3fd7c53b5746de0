//! One run's webhook session, started and finished once: bind the receiver,
//! register the webhook with the API (`POST /webhooks`, whose target the API
//! checks with the `X-Hook-Secret` handshake the receiver answers), learn its
//! secret so events verify, and at the end wait for stragglers, delete the
//! webhook the session registered (interrupted or not), stop the receiver
//! and hand back what the receiver and router counted.
//!
//! Transport only: observers that measure events (`crate::lifecycle`) are
//! handed in at start, before the first event can arrive; nothing here knows
//! of scenarios or metrics. Secrets (the webhook's and the app's) go into
//! headers and the receiver only; errors name the status and the API's
//! message, never a secret.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::receiver::{ReceiverSnapshot, RunningReceiver, WebhookReceiver};
use super::router::{EventObserver, EventRouter};
use crate::api::Operation;
use crate::client::{ApiClient, ApiRequest, ApiResponse};

/// How long registration and deletion may take.
pub const API_DEADLINE: Duration = Duration::from_secs(10);

/// What a session needs to know (the app builds it from `webhooks:`).
#[derive(Clone, Copy)]
pub struct SessionConfig<'a> {
    /// Where the receiver listens (port 0: any free port).
    pub bind: SocketAddr,
    /// URL to register instead of `http://<bound address>/hooks`.
    pub public_url: Option<&'a str>,
    /// Register at start and delete at the end (else: registered already).
    pub register: bool,
    /// The secret of a webhook registered already (never printed).
    pub secret: Option<&'a str>,
    /// Verify `X-Hook-Signature` on every event.
    pub verify: bool,
    /// The event names to subscribe to.
    pub events: &'a [String],
}

impl fmt::Debug for SessionConfig<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionConfig")
            .field("bind", &self.bind)
            .field("public_url", &self.public_url)
            .field("register", &self.register)
            .field("secret", &self.secret.map(|_| "(hidden)"))
            .field("verify", &self.verify)
            .field("events", &self.events)
            .finish()
    }
}

/// Why a session could not start.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("cannot start the webhook receiver on {bind}: {error}")]
    Bind {
        bind: SocketAddr,
        error: std::io::Error,
    },
    #[error("registering the webhook timed out")]
    RegisterTimedOut,
    #[error("registering the webhook failed: {0}")]
    RegisterFailed(crate::client::ClientError),
    #[error("registering the webhook for {target} failed with status {status}: {message}")]
    RegisterRefused {
        target: String,
        status: u16,
        message: String,
    },
    #[error("the webhook registration answer has no webhook.id and webhook.secret")]
    RegisterAnswer,
}

/// What the session counted, handed back by [`WebhookSession::finish`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionStats {
    /// Whether this session registered the webhook (and deleted it).
    pub registered: bool,
    /// What the receiver answered.
    pub receiver: ReceiverSnapshot,
    /// Events that found no subscriber when they arrived (router count).
    pub parked: u64,
    /// Why the registered webhook could not be deleted, if it could not.
    pub delete_warning: Option<String>,
}

/// A running receiver with its registration.
#[derive(Debug)]
pub struct WebhookSession {
    running: RunningReceiver,
    router: Arc<EventRouter>,
    /// The URL the API posts to (`public_url` or the bound address).
    url: String,
    /// The id of the webhook this session registered (deleted at the end).
    registered: Option<String>,
}

impl WebhookSession {
    /// Starts the receiver with `observers` on its router, and registers
    /// the webhook (unless `register` is off).
    ///
    /// # Errors
    /// The address cannot be bound, or the API refuses the registration (the
    /// receiver is stopped again).
    pub async fn start(
        config: &SessionConfig<'_>,
        client: &ApiClient,
        observers: Vec<Arc<dyn EventObserver>>,
    ) -> Result<WebhookSession, SessionError> {
        let router = EventRouter::new();
        for observer in observers {
            router.add_observer(observer);
        }
        let receiver = WebhookReceiver::new(Arc::clone(&router), config.verify);
        if let Some(secret) = config.secret {
            receiver.add_secret(secret);
        }
        if let Some(url) = config.public_url.and_then(|u| reqwest::Url::parse(u).ok()) {
            receiver.accept_path(url.path());
        }
        let running = receiver
            .start(config.bind)
            .await
            .map_err(|error| SessionError::Bind {
                bind: config.bind,
                error,
            })?;
        let url = config
            .public_url
            .map_or_else(|| running.local_url(), str::to_owned);
        let mut session = WebhookSession {
            running,
            router,
            url,
            registered: None,
        };
        if config.register {
            match register(client, config.events, &session.url).await {
                Ok((id, secret)) => {
                    session.running.receiver.add_secret(&secret);
                    session.registered = Some(id);
                }
                Err(e) => {
                    session.running.stop().await;
                    return Err(e);
                }
            }
        }
        Ok(session)
    }

    /// The router events go through (virtual users and agent actors
    /// subscribe their inboxes to it).
    pub fn router(&self) -> &Arc<EventRouter> {
        &self.router
    }

    /// The receiver (agent actors answer `chats:assign` through it).
    pub fn receiver(&self) -> &WebhookReceiver {
        &self.running.receiver
    }

    /// The URL the API posts events to (`{{ webhook_url }}`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Waits `settle` for the last events, deletes the webhook this session
    /// registered, stops the receiver and returns what it counted. A failed
    /// deletion is a warning, not an error: the run's figures stand.
    pub async fn finish(self, client: &ApiClient, settle: Duration) -> SessionStats {
        if !settle.is_zero() {
            tokio::time::sleep(settle).await;
        }
        let delete_warning = match &self.registered {
            Some(id) => delete(client, id)
                .await
                .err()
                .map(|e| format!("could not delete webhook {id}: {e}")),
            None => None,
        };
        let receiver = self.running.receiver.counters();
        let parked = self.router.unrouted();
        self.running.stop().await;
        SessionStats {
            registered: self.registered.is_some(),
            receiver,
            parked,
            delete_warning,
        }
    }
}

/// Sends `op` (at its path with `params`) with the app secret, bounded by
/// [`API_DEADLINE`].
async fn send(
    client: &ApiClient,
    op: Operation,
    params: &[&str],
    body: Option<Vec<u8>>,
) -> Result<Result<ApiResponse, crate::client::ClientError>, tokio::time::error::Elapsed> {
    let path = op.path_with(params);
    let request = ApiRequest::secret(op, &path, body);
    tokio::time::timeout(API_DEADLINE, client.send(request)).await
}

/// `POST /webhooks {events, target}` → (id, secret).
async fn register(
    client: &ApiClient,
    events: &[String],
    target: &str,
) -> Result<(String, String), SessionError> {
    let body = json!({"events": events, "target": target}).to_string();
    let response = send(
        client,
        Operation::CreateWebhook,
        &[],
        Some(body.into_bytes()),
    )
    .await
    .map_err(|_| SessionError::RegisterTimedOut)?
    .map_err(SessionError::RegisterFailed)?;
    let parsed: Option<Value> = serde_json::from_slice(&response.body).ok();
    let text = |p: &str| {
        parsed
            .as_ref()
            .and_then(|b| b.pointer(p))
            .and_then(Value::as_str)
    };
    if !(200..300).contains(&response.status) {
        return Err(SessionError::RegisterRefused {
            target: target.to_owned(),
            status: response.status,
            message: text("/error/message")
                .unwrap_or("no error message")
                .to_owned(),
        });
    }
    match (text("/webhook/id"), text("/webhook/secret")) {
        (Some(id), Some(secret)) => Ok((id.to_owned(), secret.to_owned())),
        _ => Err(SessionError::RegisterAnswer),
    }
}

/// `DELETE /webhooks/{id}`; a 404 means it is gone already.
async fn delete(client: &ApiClient, id: &str) -> Result<(), String> {
    match send(client, Operation::DeleteWebhook, &[id], None).await {
        Ok(Ok(r)) if (200..300).contains(&r.status) || r.status == 404 => Ok(()),
        Ok(Ok(r)) => Err(format!("status {}", r.status)),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("timed out".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{ClientConfig, Credentials};
    use crate::webhook::router::tests::Count;
    use crate::webhook::{Inbox, signature};
    use chatload_mock::testing::{Cred, DEMO_APP, DEMO_KEY, DEMO_SECRET, Mock, start_mock};
    use std::sync::atomic::Ordering;

    /// The bundled mock (webhook delivery and handshake on) and the run's
    /// client with its demo credentials.
    async fn mock_and_client() -> (Mock, ApiClient) {
        let mock = start_mock().await;
        let client = ApiClient::new(&ClientConfig {
            base_url: mock.base_url(),
            credentials: Credentials {
                app_id: Some(DEMO_APP.to_owned()),
                secret: Some(DEMO_SECRET.to_owned()),
                domain_key: Some(DEMO_KEY.to_owned()),
            },
            extra_headers: Vec::new(),
            timeout: Duration::from_secs(5),
            pool_size: 1,
            policy: Default::default(),
            max_body: crate::client::DEFAULT_MAX_BODY,
        })
        .expect("client");
        (mock, client)
    }

    fn config(events: &[String]) -> SessionConfig<'_> {
        SessionConfig {
            bind: "127.0.0.1:0".parse().expect("addr"),
            public_url: None,
            register: true,
            secret: None,
            verify: true,
            events,
        }
    }

    /// The targets of the webhooks the demo app has registered.
    async fn targets(mock: &Mock) -> Vec<String> {
        let list = mock.demo().get("/webhooks").await.success();
        list["webhooks"]
            .as_array()
            .expect("webhooks")
            .iter()
            .map(|w| w["target"].as_str().expect("target").to_owned())
            .collect()
    }

    #[tokio::test]
    async fn start_registers_through_the_handshake_and_finish_deletes_the_webhook() {
        let (mock, client) = mock_and_client().await;
        let events = vec!["chats:create".to_owned()];
        let seen = Arc::new(Count::default());
        let session = WebhookSession::start(&config(&events), &client, vec![seen.clone()])
            .await
            .expect("starts");
        assert!(session.url().ends_with("/hooks"), "{}", session.url());
        assert_eq!(targets(&mock).await, vec![session.url().to_owned()]);

        // An event the API posts verifies with the secret the registration returned.
        let user = mock
            .client(DEMO_APP, Cred::AppIdOnly)
            .post(
                "/users",
                json!({"name": "Session", "externalId": "session-1"}),
            )
            .await
            .success();
        let chat = mock
            .demo()
            .post(
                "/chats",
                json!({"room": 1, "creator": user["user"]["id"], "source": 3, "lang": "en"}),
            )
            .await
            .success();
        let inbox = Inbox::new();
        let chat = chat["chat"]["id"].as_str().expect("chat id");
        session.router().subscribe_chat(chat, &inbox);
        let created = inbox
            .wait_for(|e| e.trigger == "chats:create", Duration::from_secs(30))
            .await;
        assert!(created.is_some(), "chats:create delivered and verified");

        let stats = session.finish(&client, Duration::ZERO).await;
        assert!(stats.registered);
        assert_eq!(stats.delete_warning, None);
        assert_eq!(stats.receiver.handshakes, 1);
        assert_eq!(stats.receiver.invalid_signatures, 0);
        assert!(stats.receiver.events >= 1, "{stats:?}");
        assert_eq!(seen.0.load(Ordering::Relaxed), stats.receiver.events);
        assert!(targets(&mock).await.is_empty(), "deleted at the end");
    }

    #[tokio::test]
    async fn a_refused_registration_names_the_status_and_no_secret() {
        let (mock, client) = mock_and_client().await;
        let events = vec!["chats:create".to_owned()];
        let config = SessionConfig {
            // Nothing answers the handshake there.
            public_url: Some("http://127.0.0.1:9/hooks"),
            ..config(&events)
        };
        let err = WebhookSession::start(&config, &client, Vec::new())
            .await
            .expect_err("the handshake fails");
        let text = err.to_string();
        assert!(
            matches!(err, SessionError::RegisterRefused { status: 400, .. }),
            "{text}"
        );
        assert!(text.contains("http://127.0.0.1:9/hooks"), "{text}");
        assert!(!text.contains(DEMO_SECRET), "{text}");
        assert!(targets(&mock).await.is_empty());
    }

    #[tokio::test]
    async fn a_registered_webhook_is_verified_with_the_given_secret_and_left_alone() {
        let (mock, client) = mock_and_client().await;
        let events = vec!["chats:create".to_owned()];
        let config = SessionConfig {
            register: false,
            secret: Some("s3cret"),
            ..config(&events)
        };
        assert!(!format!("{config:?}").contains("s3cret"), "{config:?}");
        let session = WebhookSession::start(&config, &client, Vec::new())
            .await
            .expect("starts");
        assert!(targets(&mock).await.is_empty(), "nothing registered");
        let body = r#"{"trigger":"chats:create","appId":"demo-app","data":{"chatId":"c-1"},"created_at":1}"#;
        for key in [&b"s3cret"[..], b"forged"] {
            let answer = mock
                .http
                .post(session.url())
                .header("x-hook-signature", signature::sign(key, body.as_bytes()))
                .body(body)
                .send()
                .await
                .expect("receiver answers");
            assert_eq!(answer.status() == 200, key == b"s3cret");
        }
        let stats = session.finish(&client, Duration::ZERO).await;
        assert!(!stats.registered);
        assert_eq!(stats.delete_warning, None);
        assert_eq!(
            (stats.receiver.events, stats.receiver.invalid_signatures),
            (1, 1)
        );
        assert_eq!(stats.parked, 1, "no inbox took c-1");
    }
}
