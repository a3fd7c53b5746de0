//! Wire shapes of the reference §7 objects, borrowed from the store.
//!
//! Views serialize straight from the store's data (no intermediate
//! `serde_json::Value`); [`Wrap`] puts one under its wrapper key, e.g.
//! `{"chat": Chat}`.

use super::{AppStore, Chat, Media, Message, User, Webhook};
use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

/// `{"<key>": value}`.
#[derive(Debug)]
pub struct Wrap<T>(pub &'static str, pub T);

impl<T: Serialize> Serialize for Wrap<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry(self.0, &self.1)?;
        map.end()
    }
}

/// Chat (§7): every field always present.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatView<'a> {
    id: &'a str,
    creator: &'a str,
    room: u32,
    status: &'static str,
    in_queue: bool,
    source: u32,
    lang: Option<&'a str>,
    external_id: Option<&'a str>,
    users: &'a [String],
    agent: Option<&'a str>,
    created_at: u64,
    closed_at: Option<u64>,
    closed_by: Option<&'a str>,
    queue_position: Option<u64>,
}

impl<'a> ChatView<'a> {
    /// The view of `chat`, with its current queue position.
    pub fn new(store: &AppStore, chat: &'a Chat) -> ChatView<'a> {
        let position = store.queue_position(chat);
        ChatView {
            id: &chat.id,
            creator: &chat.creator,
            room: chat.room,
            status: chat.status.as_str(),
            in_queue: chat.in_queue,
            source: chat.source,
            lang: chat.lang.as_deref(),
            external_id: chat.external_id.as_deref(),
            users: &chat.users,
            agent: chat.agent.as_deref(),
            created_at: chat.created_at,
            closed_at: chat.closed_at,
            closed_by: chat.closed_by.as_deref(),
            queue_position: (position > 0).then_some(position),
        }
    }
}

/// Agent-only fields of a user.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct AgentPart<'a> {
    provider_id: &'a str,
    nickname: &'a str,
    status: &'static str,
    rooms: &'a [u32],
    langs: &'a [String],
    capacity: u32,
    active_chats: u32,
    free_slots: u32,
}

/// User (§7); agents add `providerId`, `nickname`, `status`, `rooms`,
/// `langs`, `capacity`, `activeChats`, `freeSlots`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserView<'a> {
    id: &'a str,
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    external_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    contact: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    extra_info: Option<&'a serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    nickname: Option<&'a str>,
    chats: &'a [String],
    created_at: u64,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    agent: Option<AgentPart<'a>>,
}

impl<'a> From<&'a User> for UserView<'a> {
    fn from(user: &'a User) -> Self {
        let agent = user.agent.as_deref().map(|a| AgentPart {
            provider_id: &a.provider_id,
            nickname: user.nickname.as_deref().unwrap_or(&user.name),
            status: a.status.as_str(),
            rooms: &a.rooms,
            langs: &a.langs,
            capacity: a.capacity,
            active_chats: a.active,
            free_slots: a.free_slots(),
        });
        UserView {
            id: &user.id,
            name: &user.name,
            external_id: user.external_id.as_deref(),
            contact: user.contact.as_deref(),
            extra_info: user.extra_info.as_ref(),
            nickname: if agent.is_some() {
                None
            } else {
                user.nickname.as_deref()
            },
            chats: &user.chats,
            created_at: user.created_at,
            agent,
        }
    }
}

/// Message (§7).
#[derive(Debug, Serialize)]
pub struct MessageView<'a> {
    id: &'a str,
    chat: &'a str,
    sender: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    message: &'a serde_json::Value,
    created: u64,
    read: bool,
    #[serde(rename = "readBy")]
    read_by: &'a [String],
}

impl<'a> From<&'a Message> for MessageView<'a> {
    fn from(m: &'a Message) -> Self {
        MessageView {
            id: &m.id,
            chat: &m.chat,
            sender: &m.sender,
            kind: &m.kind,
            message: &m.message,
            created: m.created,
            read: !m.read_by.is_empty(),
            read_by: &m.read_by,
        }
    }
}

/// Media metadata (§7).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MediaView<'a> {
    id: &'a str,
    url: String,
    #[serde(rename = "type")]
    content_type: &'a str,
    name: &'a str,
    size: usize,
    chat_id: &'a str,
    sender_id: &'a str,
}

impl<'a> From<&'a Media> for MediaView<'a> {
    fn from(m: &'a Media) -> Self {
        MediaView {
            id: &m.id,
            url: format!("/media/{}", m.id),
            content_type: &m.content_type,
            name: &m.name,
            size: m.bytes.len(),
            chat_id: &m.chat_id,
            sender_id: &m.sender_id,
        }
    }
}

/// Webhook; the secret only when `with_secret` (creation).
#[derive(Debug, Serialize)]
pub struct WebhookView<'a> {
    id: &'a str,
    events: &'a [String],
    target: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<&'a str>,
}

impl<'a> WebhookView<'a> {
    /// The view; `with_secret` only in the creation answer.
    pub fn new(w: &'a Webhook, with_secret: bool) -> Self {
        WebhookView {
            id: &w.id,
            events: &w.events,
            target: &w.endpoint.target,
            secret: with_secret.then_some(w.endpoint.secret()),
        }
    }
}
