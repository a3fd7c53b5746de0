//! Internal events (`chats:create`, `invitations:new`, `queues:update`, …):
//! what the webhooks deliver.
//!
//! Store rules record a [`MockEvent`] into their app's [`EventLog`] (a ring
//! buffer inside the app store, so recording takes no extra lock) and hand
//! it to an optional [`EventHook`]. The store also fans each event out to
//! the app's webhooks (`store::webhook`, `webhook`) before recording it.
//! `GET /__mock/events` reads the ring buffers so tests can assert what was
//! emitted. Recording never blocks: the buffer drops its oldest entry when
//! full.

use serde::Serialize;
use std::collections::VecDeque;
use std::fmt::Debug;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Event names, as in the reference §5.1.
pub mod trigger {
    /// A chat was created.
    pub const CHATS_CREATE: &str = "chats:create";
    /// An invitation was sent to an agent or user.
    pub const INVITATIONS_NEW: &str = "invitations:new";
    /// An invitation was accepted.
    pub const INVITATIONS_ACCEPT: &str = "invitations:accept";
    /// A user or agent joined a chat.
    pub const CHATS_JOIN: &str = "chats:join";
    /// A user or agent left a chat.
    pub const CHATS_LEAVE: &str = "chats:leave";
    /// A message was sent.
    pub const MESSAGES_NEW: &str = "messages:new";
    /// A message was read.
    pub const MESSAGES_READ: &str = "messages:read";
    /// A chat was closed.
    pub const CHATS_CLOSE: &str = "chats:close";
    /// A queued chat's position changed.
    pub const QUEUES_UPDATE: &str = "queues:update";
    /// No agent is left to invite.
    pub const FOREVER_ALONE: &str = "forever:alone";
    /// A user is writing / stopped writing / dropped out.
    pub const USERS_ACTIVITY: &str = "users:activity";
    /// A system event: a ticket was created when a chat closed.
    pub const SYSTEM_INFO: &str = "system:info";
    /// A chat looks for an agent (a synchronous webhook, recorded when asked).
    pub const CHATS_ASSIGN: &str = "chats:assign";
    /// Alias of `chats:join`, delivered alongside it to webhooks that list it.
    pub const USERS_JOIN: &str = "users:join";
}

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
    pub data: serde_json::Value,
    /// Unix seconds.
    pub at: u64,
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
    pub fn emit(&mut self, trigger: &'static str, data: serde_json::Value, now: u64) {
        let event = self.make(trigger, data, now);
        self.push(event);
    }

    /// Builds the next event (numbered) without recording it.
    pub fn make(&self, trigger: &'static str, data: serde_json::Value, now: u64) -> MockEvent {
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
            log.emit(trigger::CHATS_CREATE, serde_json::Value::Null, 0);
        }
        let last = log.last(10);
        assert_eq!(last.len(), 2);
        assert_eq!(last[0].seq, 1);
        assert_eq!(log.total(), 3);
    }
}
