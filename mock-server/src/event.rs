//! Internal events (`chats:create`, `invitations:new`, `queues:update`, …):
//! what the webhooks deliver.
//!
//! Store rules record a [`MockEvent`] into their app's [`EventLog`] (a ring
//! buffer inside the app store, so recording takes no extra lock) and hand
//! it to an optional [`EventHook`]. The payload is typed ([`EventData`]):
//! it is turned into JSON only when someone reads it (`/__mock/events`, a
//! webhook delivery), not under the app lock for every event. The store also fans each event out to
//! the app's webhooks (`store::webhook`, `webhook`) before recording it.
//! `GET /__mock/events` reads the ring buffers so tests can assert what was
//! emitted. Recording never blocks: the buffer drops its oldest entry when
//! full.

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use std::collections::VecDeque;
use std::fmt::Debug;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Event names, as in the reference §5.1: the constants generated from the
/// spec's `webhooks` (`chatload_api::events`).
pub use chatload_api::events as trigger;

/// One internal event.
#[derive(Debug, Clone, Serialize)]
pub struct MockEvent {
    /// Global sequence number (orders events across apps).
    pub seq: u64,
    /// Event name, e.g. `chats:create`.
    pub trigger: &'static str,
    /// App the event belongs to.
    #[serde(rename = "appId", serialize_with = "serialize_arc_str")]
    pub app_id: Arc<str>,
    /// Event payload, as the reference's §5.4 `data`.
    pub data: EventData,
    /// Unix seconds.
    pub at: u64,
}

/// An event's `data`, kept typed until it is serialized. Every variant
/// serializes its keys in sorted order, exactly as the `serde_json::Value`
/// object the mock used to build for it (`serde_json` keeps object keys in
/// a `BTreeMap`), so the bytes of `/__mock/events` and of webhook bodies
/// are unchanged.
#[derive(Debug, Clone, PartialEq)]
pub enum EventData {
    /// `{"chatId"}` (`forever:alone`).
    Chat {
        /// Chat id.
        chat_id: String,
    },
    /// `{"chatId", "userId"}` (`invitations:new`, `invitations:accept`,
    /// `chats:join`, `chats:leave`).
    ChatUser {
        /// Chat id.
        chat_id: String,
        /// User or agent id.
        user_id: String,
    },
    /// `{"chatId", "creator", "room"}` (`chats:create`).
    ChatCreated {
        /// Chat id.
        chat_id: String,
        /// Creator's user id.
        creator: String,
        /// Room id.
        room: u32,
    },
    /// `{"chatId", "extraData": {"reason"}, "userId"}` (`chats:close`).
    ChatClosed {
        /// Chat id.
        chat_id: String,
        /// Who closed it (`system` for the system).
        user_id: String,
        /// `user`, `agent`, `queue-exit` or `system`.
        reason: &'static str,
    },
    /// `{"chatId", "data": {"ticketId": "<n>"}}` (`system:info`); the
    /// ticket id is a string on the wire.
    Ticket {
        /// Chat id.
        chat_id: String,
        /// Ticket number.
        ticket_id: u64,
    },
    /// `{"chatId", "data": {"estimatedWaitTime", "queuePosition"},
    /// "userId"}` (`queues:update`); `userId` is null when unknown.
    QueuePosition {
        /// Chat id.
        chat_id: String,
        /// The chat's creator.
        user_id: Option<String>,
        /// 1-based position, 0 when it left the queue.
        position: u64,
        /// Estimated wait in seconds.
        wait: u64,
    },
    /// `{"message": Message}` (`messages:new`), the message as created.
    Message(Box<NewMessage>),
    /// `{"chatId", "messageId", "userId"}` (`messages:read`).
    MessageRead {
        /// Chat id.
        chat_id: String,
        /// Message id.
        message_id: String,
        /// Reader.
        user_id: String,
    },
    /// `{"chatId", "type", "userId"}` (`users:activity`); `chatId` may be
    /// null.
    Activity {
        /// Chat id.
        chat_id: Option<String>,
        /// Activity type.
        kind: String,
        /// User id.
        user_id: String,
    },
    /// Any other payload, already JSON (`chats:assign`).
    Json(serde_json::Value),
}

/// A new message as `messages:new` carries it: unread, with no readers.
#[derive(Debug, Clone, PartialEq)]
pub struct NewMessage {
    /// Message id.
    pub id: String,
    /// Chat id.
    pub chat: String,
    /// Sender id.
    pub sender: String,
    /// `text`, `media`, `object` or `system`.
    pub kind: String,
    /// Text, or a MediaRef object.
    pub message: serde_json::Value,
    /// Unix seconds.
    pub created: u64,
}

impl EventData {
    /// The payload as a JSON value.
    pub fn to_value(&self) -> serde_json::Value {
        // Every variant serializes to an object with string keys.
        serde_json::to_value(self).unwrap_or_default()
    }

    /// The chat the event is about, if any (webhook delivery keeps the
    /// events of one chat in order).
    pub fn chat_id(&self) -> Option<&str> {
        match self {
            EventData::Chat { chat_id }
            | EventData::ChatUser { chat_id, .. }
            | EventData::ChatCreated { chat_id, .. }
            | EventData::ChatClosed { chat_id, .. }
            | EventData::Ticket { chat_id, .. }
            | EventData::QueuePosition { chat_id, .. }
            | EventData::MessageRead { chat_id, .. } => Some(chat_id),
            EventData::Message(message) => Some(&message.chat),
            EventData::Activity { chat_id, .. } => chat_id.as_deref(),
            EventData::Json(value) => value
                .get("chatId")
                .or_else(|| value.pointer("/chat/id"))
                .and_then(serde_json::Value::as_str),
        }
    }
}

/// Serializes `key => value` entries, in the order given, as one JSON
/// object: the keys are listed sorted (see [`EventData`]).
macro_rules! object {
    ($serializer:expr, $($key:literal => $value:expr),+ $(,)?) => {{
        let mut map = $serializer.serialize_map(Some([$($key),+].len()))?;
        $(map.serialize_entry($key, $value)?;)+
        map.end()
    }};
}

/// `{"<key>": value}` with one entry.
struct One<'a, T: ?Sized>(&'static str, &'a T);

impl<T: Serialize + ?Sized> Serialize for One<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry(self.0, self.1)?;
        map.end()
    }
}

/// A number serialized as a JSON string (`ticketId`).
struct AsString(u64);

impl Serialize for AsString {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0)
    }
}

/// `{"estimatedWaitTime", "queuePosition"}`.
struct QueueData {
    position: u64,
    wait: u64,
}

impl Serialize for QueueData {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        object!(serializer, "estimatedWaitTime" => &self.wait, "queuePosition" => &self.position)
    }
}

impl Serialize for NewMessage {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // Sorted keys, as the `Value` of a `MessageView` had them.
        object!(serializer,
            "chat" => &self.chat,
            "created" => &self.created,
            "id" => &self.id,
            "message" => &self.message,
            "read" => &false,
            "readBy" => &[] as &[&str],
            "sender" => &self.sender,
            "type" => &self.kind,
        )
    }
}

impl Serialize for EventData {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            EventData::Chat { chat_id } => object!(s, "chatId" => chat_id),
            EventData::ChatUser { chat_id, user_id } => {
                object!(s, "chatId" => chat_id, "userId" => user_id)
            }
            EventData::ChatCreated {
                chat_id,
                creator,
                room,
            } => object!(s, "chatId" => chat_id, "creator" => creator, "room" => room),
            EventData::ChatClosed {
                chat_id,
                user_id,
                reason,
            } => object!(s,
                "chatId" => chat_id,
                "extraData" => &One("reason", reason),
                "userId" => user_id,
            ),
            EventData::Ticket { chat_id, ticket_id } => object!(s,
                "chatId" => chat_id,
                "data" => &One("ticketId", &AsString(*ticket_id)),
            ),
            EventData::QueuePosition {
                chat_id,
                user_id,
                position,
                wait,
            } => object!(s,
                "chatId" => chat_id,
                "data" => &QueueData { position: *position, wait: *wait },
                "userId" => user_id,
            ),
            EventData::Message(message) => object!(s, "message" => &**message),
            EventData::MessageRead {
                chat_id,
                message_id,
                user_id,
            } => object!(s, "chatId" => chat_id, "messageId" => message_id, "userId" => user_id),
            EventData::Activity {
                chat_id,
                kind,
                user_id,
            } => object!(s, "chatId" => chat_id, "type" => kind, "userId" => user_id),
            EventData::Json(value) => value.serialize(s),
        }
    }
}

fn serialize_arc_str<S: serde::Serializer>(value: &Arc<str>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(value)
}

/// Receives every event as it is recorded (called with the app's store
/// lock held: implementations must only enqueue, e.g. `try_send`).
pub trait EventHook: Send + Sync + Debug {
    /// Called once per event.
    fn on_event(&self, event: &MockEvent);
}

/// One app's event ring buffer.
#[derive(Debug)]
pub struct EventLog {
    app_id: Arc<str>,
    capacity: usize,
    recent: VecDeque<MockEvent>,
    seq: Arc<AtomicU64>,
    hook: Option<Arc<dyn EventHook>>,
    total: u64,
}

impl EventLog {
    /// A log keeping the last `capacity` events; `seq` is shared by all apps.
    pub fn new(
        app_id: Arc<str>,
        capacity: usize,
        seq: Arc<AtomicU64>,
        hook: Option<Arc<dyn EventHook>>,
    ) -> EventLog {
        EventLog {
            app_id,
            capacity,
            recent: VecDeque::with_capacity(capacity.min(1024)),
            seq,
            hook,
            total: 0,
        }
    }

    /// Records one event.
    pub fn emit(&mut self, trigger: &'static str, data: EventData, now: u64) {
        let event = self.make(trigger, data, now);
        self.push(event);
    }

    /// Builds the next event (numbered) without recording it.
    pub fn make(&self, trigger: &'static str, data: EventData, now: u64) -> MockEvent {
        MockEvent {
            seq: self.seq.fetch_add(1, Ordering::Relaxed),
            trigger,
            app_id: Arc::clone(&self.app_id),
            data,
            at: now,
        }
    }

    /// Records an event built by [`Self::make`]: hook, then ring buffer.
    pub fn push(&mut self, event: MockEvent) {
        if let Some(hook) = &self.hook {
            hook.on_event(&event);
        }
        self.total += 1;
        if self.capacity == 0 {
            return;
        }
        if self.recent.len() == self.capacity {
            self.recent.pop_front();
        }
        self.recent.push_back(event);
    }

    /// The last `limit` events, oldest first.
    pub fn last(&self, limit: usize) -> Vec<MockEvent> {
        let skip = self.recent.len().saturating_sub(limit);
        self.recent.iter().skip(skip).cloned().collect()
    }

    /// Events recorded since start.
    pub fn total(&self) -> u64 {
        self.total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_keeps_the_last_events() {
        let mut log = EventLog::new("a".into(), 2, Arc::default(), None);
        for _ in 0..3 {
            log.emit(
                trigger::CHATS_CREATE,
                EventData::Json(serde_json::Value::Null),
                0,
            );
        }
        let last = log.last(10);
        assert_eq!(last.len(), 2);
        assert_eq!(last[0].seq, 1);
        assert_eq!(log.total(), 3);
    }

    fn same_bytes(data: EventData, value: serde_json::Value) {
        let typed = serde_json::to_string(&data).expect("typed");
        let built = serde_json::to_string(&value).expect("value");
        assert_eq!(typed, built);
        assert_eq!(data.to_value(), value);
    }

    /// Each variant serializes to the very bytes of the `json!` object the
    /// store used to build (keys sorted by `serde_json`'s `BTreeMap`).
    #[test]
    fn typed_data_serializes_like_the_json_objects_it_replaces() {
        use serde_json::json;
        let s = |v: &str| v.to_owned();
        same_bytes(
            EventData::Chat { chat_id: s("c-1") },
            json!({"chatId": "c-1"}),
        );
        same_bytes(
            EventData::ChatUser {
                chat_id: s("c-1"),
                user_id: s("a-\"quoted\""),
            },
            json!({"chatId": "c-1", "userId": "a-\"quoted\""}),
        );
        same_bytes(
            EventData::ChatCreated {
                chat_id: s("c-1"),
                creator: s("u-1"),
                room: 4_000_000_000,
            },
            json!({"chatId": "c-1", "creator": "u-1", "room": 4_000_000_000_u32}),
        );
        same_bytes(
            EventData::ChatClosed {
                chat_id: s("c-1"),
                user_id: s("system"),
                reason: "queue-exit",
            },
            json!({"chatId": "c-1", "userId": "system", "extraData": {"reason": "queue-exit"}}),
        );
        same_bytes(
            EventData::Ticket {
                chat_id: s("c-1"),
                ticket_id: 17,
            },
            json!({"chatId": "c-1", "data": {"ticketId": "17"}}),
        );
        for user in [Some(s("u-1")), None] {
            same_bytes(
                EventData::QueuePosition {
                    chat_id: s("c-1"),
                    user_id: user.clone(),
                    position: 3,
                    wait: 90,
                },
                json!({"chatId": "c-1", "userId": user,
                       "data": {"queuePosition": 3, "estimatedWaitTime": 90}}),
            );
        }
        for message in [
            json!("héllo\n"),
            json!({"url": "/media/f-1", "type": "image/png"}),
        ] {
            same_bytes(
                EventData::Message(Box::new(NewMessage {
                    id: s("m-1"),
                    chat: s("c-1"),
                    sender: s("u-1"),
                    kind: s("text"),
                    message: message.clone(),
                    created: 1_700_000_000,
                })),
                json!({"message": {"id": "m-1", "chat": "c-1", "sender": "u-1", "type": "text",
                                   "message": message, "created": 1_700_000_000_u64,
                                   "read": false, "readBy": []}}),
            );
        }
        same_bytes(
            EventData::MessageRead {
                chat_id: s("c-1"),
                message_id: s("m-1"),
                user_id: s("u-1"),
            },
            json!({"chatId": "c-1", "messageId": "m-1", "userId": "u-1"}),
        );
        for chat in [Some(s("c-1")), None] {
            same_bytes(
                EventData::Activity {
                    chat_id: chat.clone(),
                    kind: s("writing"),
                    user_id: s("u-1"),
                },
                json!({"chatId": chat, "userId": "u-1", "type": "writing"}),
            );
        }
        let assign = json!({"agents": [], "chat": {"id": "c-1"}});
        same_bytes(EventData::Json(assign.clone()), assign);
    }
}
