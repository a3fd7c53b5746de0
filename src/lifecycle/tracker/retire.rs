//! Flat memory for long runs (issue 13 point 1): the tracker keeps a chat's
//! facts only while the chat can still produce an event that measures
//! something. Once its `chats:close` has arrived together with every event
//! the run expects of it (`chats:create`, the VU's own `messages:new`), the
//! chat is retired: its expected events are folded into counters, its facts
//! and `once_key`s are dropped, and only a hash of its id stays (8 bytes in a
//! set), so a late copy of one of its events is still recognised: a second
//! `chats:create`, `chats:close` or `messages:new` is a duplicate, any other
//! event is counted as received and measures nothing. A chat whose close
//! event is not subscribed, or never comes, is kept until the end (its
//! missing events are counted then).

use super::{ChatFacts, EventTracker, Measures, Shard, lock};
use crate::webhook::WebhookEvent;
use chatload_api::events;
use std::hash::BuildHasher;

impl EventTracker {
    /// The events the run expects of a chat, and per event name how many of
    /// them have not arrived.
    pub(super) fn expected_of(&self, facts: &ChatFacts) -> (u64, [(&'static str, u64); 3]) {
        let create = self.subscribes(events::CHATS_CREATE);
        let close = self.subscribes(events::CHATS_CLOSE) && facts.closed_by_vu;
        let message = self.subscribes(events::MESSAGES_NEW);
        let sent = if message {
            facts.sent_messages.len() as u64
        } else {
            0
        };
        let unseen = if message {
            facts.sent_messages.iter().filter(|m| !m.2).count() as u64
        } else {
            0
        };
        let expected = u64::from(create) + u64::from(close) + sent;
        let missing = [
            (events::CHATS_CREATE, u64::from(create && !facts.got_create)),
            (events::CHATS_CLOSE, u64::from(close && !facts.got_close)),
            (events::MESSAGES_NEW, unseen),
        ];
        (expected, missing)
    }

    /// Retires `chat` when its `chats:close` and every expected event arrived.
    pub(super) fn retire_if_done(&self, shard: &mut Shard, chat: &str, m: &mut Measures) {
        let Some(facts) = shard.chats.get(chat) else {
            return;
        };
        if !facts.got_close {
            return;
        }
        let (expected, missing) = self.expected_of(facts);
        if missing.iter().any(|(_, n)| *n > 0) {
            return;
        }
        if let Some(facts) = shard.chats.remove(chat) {
            for key in &facts.once_keys {
                shard.once.remove(key);
            }
        }
        shard.retired.insert(self.hasher.hash_one(chat));
        m.retired_chats += 1;
        m.retired_expected += expected;
    }

    /// Counts an event about a retired chat; `false` when `chat` is not one.
    pub(super) fn after_retirement(&self, shard: &Shard, chat: &str, event: &WebhookEvent) -> bool {
        if shard.retired.is_empty() || !shard.retired.contains(&self.hasher.hash_one(chat)) {
            return false;
        }
        let mut m = lock(&self.measures);
        if self.once_key(event, chat).is_some() {
            m.duplicate += 1;
        } else {
            m.event(&event.trigger).count += 1;
        }
        true
    }

    /// Chats whose facts are held, and `once_key`s held (for tests).
    #[cfg(test)]
    pub(super) fn held(&self) -> (usize, usize) {
        self.shards.iter().fold((0, 0), |(chats, keys), shard| {
            let shard = lock(shard);
            (chats + shard.chats.len(), keys + shard.once.len())
        })
    }
}
