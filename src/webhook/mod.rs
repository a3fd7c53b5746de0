//! Receiving the API's webhooks (reference §5): an HTTP receiver that answers
//! the `X-Hook-Secret` handshake, verifies `X-Hook-Signature` on every event,
//! and hands each event to whoever waits for it.
//!
//! - [`signature`]: the HMAC scheme, in one place.
//! - [`receiver`]: the axum server; counts what it receives (handshakes,
//!   events, invalid signatures, malformed bodies).
//! - [`session`]: one run's receiver and registration, started and
//!   finished once (register with the handshake, delete at the end).
//! - [`router`]: routes each event to the inboxes subscribed to its chat or
//!   user (a virtual user's chat, an agent actor's agent id) and to the
//!   observers that measure it (`crate::lifecycle`'s tracker).
//!
//! Transport only: nothing here knows of scenarios or metrics; the engine
//! subscribes inboxes and `crate::lifecycle` registers the observer that
//! measures.

pub mod receiver;
pub mod router;
pub mod session;
pub mod signature;

use std::time::Instant;

use serde_json::Value;

pub use receiver::{ReceiverCounters, ReceiverSnapshot, RunningReceiver, WebhookReceiver};
pub use router::{EventObserver, EventRouter, Inbox};
pub use session::{SessionConfig, SessionError, SessionStats, WebhookSession};

/// One verified event as received.
#[derive(Debug, Clone)]
pub struct WebhookEvent {
    /// Event name, e.g. `chats:join` (the names a registration may list
    /// are the spec's webhook events).
    pub trigger: String,
    /// `appId` of the envelope.
    pub app_id: String,
    /// The event's `data` object, whose shape depends on `trigger`
    /// (`wait_event` filters and captures read it).
    pub data: Value,
    /// `created_at` of the envelope (Unix seconds, as the API sends it).
    pub created_at: u64,
    /// When the receiver read the event: every delay `crate::lifecycle`
    /// measures ends here.
    pub arrived: Instant,
    /// The chat the event is about, when it names one (see `chat_of` for
    /// where each event shape keeps it).
    pub chat_id: Option<String>,
    /// The user (end user or agent) the event names, when it names one.
    pub user_id: Option<String>,
}

impl WebhookEvent {
    /// Reads an envelope `{trigger, appId, data, created_at}`. `None` when the
    /// body is not such an object.
    pub fn parse(body: &[u8], arrived: Instant) -> Option<WebhookEvent> {
        let envelope: Value = serde_json::from_slice(body).ok()?;
        let trigger = envelope.get("trigger")?.as_str()?.to_owned();
        let data = envelope.get("data").cloned().unwrap_or(Value::Null);
        let chat_id = chat_of(&data);
        let user_id = user_of(&data);
        Some(WebhookEvent {
            trigger,
            app_id: envelope
                .get("appId")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            created_at: envelope
                .get("created_at")
                .and_then(Value::as_u64)
                .unwrap_or(0),
            data,
            arrived,
            chat_id,
            user_id,
        })
    }
}

/// The chat an event's `data` names: `chatId` for most events,
/// `message.chat` for `messages:new`, `chat.id` for `chats:assign`.
fn chat_of(data: &Value) -> Option<String> {
    data.get("chatId")
        .or_else(|| data.pointer("/message/chat"))
        .or_else(|| data.pointer("/chat/id"))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// The user an event's `data` names: `userId` for most events,
/// `message.sender` for `messages:new`.
fn user_of(data: &Value) -> Option<String> {
    data.get("userId")
        .or_else(|| data.pointer("/message/sender"))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_names_chat_and_user_per_event_shape() {
        let now = Instant::now();
        let join = WebhookEvent::parse(
            br#"{"trigger":"chats:join","appId":"a","data":{"chatId":"c-1","userId":"a-2"},"created_at":5}"#,
            now,
        )
        .expect("envelope");
        assert_eq!(join.trigger, "chats:join");
        assert_eq!(join.chat_id.as_deref(), Some("c-1"));
        assert_eq!(join.user_id.as_deref(), Some("a-2"));
        assert_eq!(join.created_at, 5);

        let message = WebhookEvent::parse(
            br#"{"trigger":"messages:new","appId":"a","data":{"message":{"id":"m-1","chat":"c-9","sender":"u-3","type":"text","message":"hi"}},"created_at":5}"#,
            now,
        )
        .expect("envelope");
        assert_eq!(message.chat_id.as_deref(), Some("c-9"));
        assert_eq!(message.user_id.as_deref(), Some("u-3"));

        let assign = WebhookEvent::parse(
            br#"{"trigger":"chats:assign","appId":"a","data":{"agents":[],"chat":{"id":"c-4"}},"created_at":5}"#,
            now,
        )
        .expect("envelope");
        assert_eq!(assign.chat_id.as_deref(), Some("c-4"));
    }

    /// The slice boundary: transport code (every file under `src/webhook/`)
    /// uses no scenario, metrics, measurement, engine or report module.
    #[test]
    fn transport_uses_no_scenario_metrics_or_measurement() {
        let mut files = Vec::new();
        crate::tests::rust_files(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/webhook"),
            &mut files,
        );
        assert!(files.len() >= 5, "{files:?}");
        for file in files {
            let text = std::fs::read_to_string(&file).expect("readable");
            let code = text.lines().filter(|l| !l.trim_start().starts_with("//"));
            for line in code {
                for layer in ["scenario", "metrics", "lifecycle", "engine", "report"] {
                    assert!(
                        !line.contains(&format!("crate::{layer}")),
                        "{}: {line}",
                        file.display()
                    );
                }
            }
        }
    }

    #[test]
    fn rejects_bodies_that_are_not_envelopes() {
        let now = Instant::now();
        assert!(WebhookEvent::parse(b"not json", now).is_none());
        assert!(WebhookEvent::parse(br#"{"data":{}}"#, now).is_none());
        assert!(WebhookEvent::parse(br#"{"trigger":3}"#, now).is_none());
    }
}
