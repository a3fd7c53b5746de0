//! The store's data types: users and agents, chats and messages,
//! invitations, media, webhooks, rooms, settings, timers and pending
//! `chats:assign` decisions.
//!
//! Plain data with a few derived helpers; the rules that change them live
//! in the sibling modules.

use crate::config::{AgentStatus, Algorithm};
use crate::webhook::Endpoint;
use rand::rngs::StdRng;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

/// Chat status (reference §8.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatStatus {
    /// Created, not yet taken by an agent (possibly queued).
    Waiting,
    /// An agent accepted.
    Active,
    /// Final.
    Closed,
}

impl ChatStatus {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ChatStatus::Waiting => "waiting",
            ChatStatus::Active => "active",
            ChatStatus::Closed => "closed",
        }
    }
}

/// Agent-only part of a user.
#[derive(Debug, Clone)]
pub struct AgentInfo {
    /// Non-empty for agents; how clients tell agents from end users.
    pub provider_id: String,
    /// Login e-mail.
    pub email: String,
    /// Login password.
    pub password: String,
    /// Availability.
    pub status: AgentStatus,
    /// Rooms the agent currently works in.
    pub rooms: Vec<u32>,
    /// Rooms restored at login.
    pub home_rooms: Vec<u32>,
    /// Languages spoken.
    pub langs: Vec<String>,
    /// Capacity slots.
    pub capacity: u32,
    /// Chats the agent is in (each holds a slot).
    pub active: u32,
    /// Slots reserved by pending invitations.
    pub reserved: u32,
    /// Tick of the last invitation; lower = idle for longer.
    pub idle_since: u64,
    /// A configured agent, driven by the simulation (not one created
    /// through `POST /agents`).
    pub simulated: bool,
    /// The status to restore when simulated agents are switched back on
    /// (`PUT /__mock/simulation`); set while they are switched off.
    pub paused_status: Option<AgentStatus>,
}

impl AgentInfo {
    /// Slots in use (active chats + reserved).
    pub fn used_slots(&self) -> u32 {
        self.active + self.reserved
    }

    /// Free slots.
    pub fn free_slots(&self) -> u32 {
        self.capacity.saturating_sub(self.used_slots())
    }

    /// Online in `room` and speaking `lang` (if given).
    pub fn serves(&self, room: u32, lang: Option<&str>) -> bool {
        self.rooms.contains(&room) && lang.is_none_or(|l| self.langs.iter().any(|x| x == l))
    }
}

/// An end user or an agent.
#[derive(Debug, Clone)]
pub struct User {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Integrator's key, unique per app.
    pub external_id: Option<String>,
    /// Contact.
    pub contact: Option<String>,
    /// Free key/values.
    pub extra_info: Option<serde_json::Value>,
    /// Nickname.
    pub nickname: Option<String>,
    /// Unix seconds.
    pub created_at: u64,
    /// Open chats.
    pub chats: Vec<String>,
    /// Present for agents (boxed: users are mostly end users, kept for
    /// the server's lifetime, and the map of them stays half as large).
    pub agent: Option<Box<AgentInfo>>,
    /// Creation order.
    pub seq: u64,
}

/// A chat message.
#[derive(Debug, Clone)]
pub struct Message {
    /// Id.
    pub id: String,
    /// Chat id.
    pub chat: String,
    /// Sender user id.
    pub sender: String,
    /// `text`, `media`, `object`, `system`.
    pub kind: String,
    /// Text, or a MediaRef object.
    pub message: serde_json::Value,
    /// Unix seconds.
    pub created: u64,
    /// Readers.
    pub read_by: Vec<String>,
}

/// A chat.
#[derive(Debug, Clone)]
pub struct Chat {
    /// Id.
    pub id: String,
    /// Creation order.
    pub seq: u64,
    /// Creator user id.
    pub creator: String,
    /// Room id.
    pub room: u32,
    /// Status.
    pub status: ChatStatus,
    /// In its room's queue.
    pub in_queue: bool,
    /// Source (3 = chat).
    pub source: u32,
    /// Language.
    pub lang: Option<String>,
    /// Integrator's key.
    pub external_id: Option<String>,
    /// Participants.
    pub users: Vec<String>,
    /// Assigned agent.
    pub agent: Option<String>,
    /// Unix seconds.
    pub created_at: u64,
    /// Unix seconds.
    pub closed_at: Option<u64>,
    /// Closer user id or `system`.
    pub closed_by: Option<String>,
    /// Unix ms when it became active (for wait estimates).
    pub activated_at_ms: Option<u64>,
    /// Messages, oldest first.
    pub messages: Vec<Message>,
    /// Imported history entries.
    pub history: Vec<serde_json::Value>,
    /// Agents who rejected (or let expire) an invitation for this chat.
    pub rejected_by: Vec<String>,
    /// Algorithm used to find its agent.
    pub algorithm: Algorithm,
    /// Media uploaded into it.
    pub media: Vec<String>,
    /// The `chats:assign` decision this chat waits for, if any; nothing
    /// else assigns it meanwhile.
    pub deciding: Option<u64>,
    /// Unix ms of its last activity (creation, a message, a read receipt,
    /// a `users:activity` report, a participant joining or leaving): the
    /// inactivity close counts from here.
    pub last_activity_ms: u64,
    /// The activity time under which the open chat is filed in the store's
    /// inactivity index (at most `last_activity_ms`; refreshed lazily by
    /// the sweep, so recording activity costs no index update).
    pub indexed_at_ms: u64,
}

/// Invitation status (only pending ones are stored).
#[derive(Debug, Clone)]
pub struct Invitation {
    /// Id.
    pub id: String,
    /// Chat id.
    pub chat_id: String,
    /// Invited user or agent.
    pub user_id: String,
    /// Unix seconds.
    pub created_at: u64,
    /// Whether it reserves one of the agent's slots.
    pub reserved: bool,
}

/// A stored file.
#[derive(Debug, Clone)]
pub struct Media {
    /// Id.
    pub id: String,
    /// MIME type.
    pub content_type: String,
    /// File name.
    pub name: String,
    /// Bytes.
    pub bytes: bytes::Bytes,
    /// Chat id.
    pub chat_id: String,
    /// Sender id.
    pub sender_id: String,
}

/// A webhook registration. Target and secret live in its [`Endpoint`],
/// which deliveries share after the store is unlocked.
#[derive(Debug)]
pub struct Webhook {
    /// Id.
    pub id: String,
    /// Event names.
    pub events: Vec<String>,
    /// Target, secret and counters.
    pub endpoint: Arc<Endpoint>,
    /// Draws this webhook's delivery faults (seeded per webhook, so its
    /// faults depend only on its own sequence of events).
    pub rng: StdRng,
}

impl Webhook {
    /// Whether it lists `trigger`.
    pub fn subscribes(&self, trigger: &str) -> bool {
        self.events.iter().any(|e| e == trigger)
    }
}

/// Where a chat's agent search started; decides what happens when the
/// decision finds nobody.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeekOrigin {
    /// `GET /chats/{id}/assign` or `toinbox`: `forever:alone`.
    Assign,
    /// An invitation was declined or expired: requeue or `forever:alone`.
    MoveOn,
    /// The head of a room queue: stays queued while someone could take it.
    Dispatch,
}

/// A `chats:assign` question to ask a webhook once the store is unlocked.
#[derive(Debug)]
pub struct AssignDecision {
    /// Matches the chat's `deciding`.
    pub id: u64,
    /// The chat looking for an agent.
    pub chat_id: String,
    /// Where it started.
    pub origin: SeekOrigin,
    /// The webhook asked.
    pub endpoint: Arc<Endpoint>,
    /// The envelope (serialized under the lock: it holds the Chat view).
    pub body: bytes::Bytes,
}

/// A room and its FIFO queue.
#[derive(Debug, Clone, Default)]
pub struct Room {
    /// Queued chat ids, head first.
    pub queue: VecDeque<String>,
    /// Index (in agent order) of the last agent picked by round-robin.
    pub rr_cursor: Option<usize>,
}

/// App settings (`GET/PUT /settings`).
#[derive(Debug, Clone)]
pub struct Settings {
    /// Queue mode.
    pub queue_active: bool,
    /// Most chats a room's queue holds (`queue.maxSize`); a new chat that
    /// would queue behind a full queue is refused with 409. 0 = no limit.
    pub queue_max_size: u32,
    /// Languages.
    pub languages: Vec<String>,
    /// Upload allow-list (extensions or MIME subtypes, lower case).
    pub allowed_file_types: Vec<String>,
    /// Largest upload in bytes.
    pub max_file_size: usize,
    /// Default assignment algorithm.
    pub assign_algorithm: Algorithm,
    /// Seconds without activity after which an open chat is closed by the
    /// system with reason `inactivity`; 0 = never.
    pub inactivity_timeout: u64,
}

/// A deferred action of a simulated agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimerAction {
    /// The invited agent accepts.
    Accept(String),
    /// The invited agent rejects.
    Reject(String),
    /// The invitation expires.
    Expire(String),
    /// The chat's agent replies to a message.
    Reply {
        /// Chat id.
        chat_id: String,
        /// Replying agent.
        agent_id: String,
        /// Message replied to.
        message_id: String,
    },
}

/// An action to run after a delay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timer {
    /// Delay from now.
    pub delay: Duration,
    /// What happens then.
    pub action: TimerAction,
}
