//! Flat memory for long runs (issue 13 point 1): the tracker keeps a chat's
//! facts only while the chat can still receive an event that measures
//! something, that is while it is open or closed for less than the grace
//! window ([`grace_after`]: `max(60 s, 2 × late_after)`, from the close
//! call's answer or the `chats:close` event, whichever came first).
//!
//! - A closed chat whose `chats:close` (when subscribed) and every other
//!   event the run expects of it arrived is **retired** at once: its
//!   expected events are folded into counters, its facts and `once_key`s
//!   dropped, and only a hash of its id stays, for one grace window, so a
//!   late copy of one of its events is still recognised (a second
//!   `chats:create`, `chats:close` or `messages:new` is a duplicate, any
//!   other event, such as the `system:info` that follows a close, is
//!   counted as received and measured from the chat's latest lifecycle
//!   request, never late; nothing is measured for a chat handed to the
//!   clean-up).
//! - A closed chat still waiting for an expected event when its grace
//!   window ends is **folded** the same way, its events not arrived by then
//!   counted as missing.
//! - An event about a chat forgotten like this (more than one grace window
//!   after its retirement, or after the fold) cannot be told from one about
//!   a chat the run never created: it waits among the early events and is
//!   counted as `unrouted`.
//!
//! So what stays per completed lifecycle is nothing; what is held at any
//! moment is bounded by the chats open plus those closed in the last grace
//! window. Expiry is driven by the instants the tracker is given (event
//! arrivals, request instants), checked on each call about a shard.

use std::time::{Duration, Instant};

use super::{ChatFacts, EventTracker, Measures, Shard, lock};
use crate::webhook::WebhookEvent;
use chatload_api::events;
use std::hash::BuildHasher;

/// The shortest grace window.
pub const GRACE_MIN: Duration = Duration::from_secs(60);

/// How long a closed chat is kept for its late events: `max(60 s, 2 ×
/// late_after)`, so an event that is late by the run's own measure still
/// finds its chat.
pub fn grace_after(late_after: Duration) -> Duration {
    GRACE_MIN.max(late_after.saturating_mul(2))
}

/// What the tracker holds (for tests).
#[cfg(test)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Held {
    /// Chats whose facts are kept.
    pub chats: usize,
    /// `once_key`s of kept chats.
    pub once: usize,
    /// Hashes of retired chats, and their expiry queue.
    pub retired: usize,
    pub retired_order: usize,
    /// Closed chats queued for their grace window to end.
    pub closing: usize,
    /// Events waiting for their chat to be known.
    pub early: usize,
}

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

    /// Queues a newly closed `chat` for its grace window, and retires it when
    /// its `chats:close` (if subscribed) and every expected event arrived.
    pub(super) fn retire_if_done(&self, shard: &mut Shard, chat: &str, m: &mut Measures) {
        let Some(facts) = shard.chats.get_mut(chat) else {
            return;
        };
        let Some(closed_at) = facts.closed_at else {
            return;
        };
        if !facts.in_closing {
            facts.in_closing = true;
            shard.closing.push_back((closed_at, chat.to_owned()));
        }
        if !facts.got_close && self.subscribes(events::CHATS_CLOSE) {
            return;
        }
        if self.expected_of(facts).1.iter().any(|(_, n)| *n > 0) {
            return;
        }
        if let Some(facts) = shard.chats.remove(chat) {
            self.fold(shard, &facts, m);
            let hash = self.hasher.hash_one(chat);
            let cause = (!facts.cleanup).then_some(facts.last_request);
            shard.retired.insert(hash, cause);
            shard.retired_order.push_back((closed_at, hash));
        }
    }

    /// Folds a chat's expected and missing events into the counters and
    /// drops its `once_key`s.
    fn fold(&self, shard: &mut Shard, facts: &ChatFacts, m: &mut Measures) {
        let (expected, missing) = self.expected_of(facts);
        for (name, n) in missing {
            if n > 0 {
                *m.retired_missing.entry(name).or_insert(0) += n;
            }
        }
        for key in &facts.once_keys {
            shard.once.remove(key);
        }
        m.retired_chats += 1;
        m.retired_expected += expected;
    }

    /// Whether something in `shard` is older than the grace window at `now`.
    pub(super) fn expired(&self, shard: &Shard, now: Instant) -> bool {
        let old = |at: Instant| now.saturating_duration_since(at) > self.grace;
        shard.closing.front().is_some_and(|(at, _)| old(*at))
            || shard.retired_order.front().is_some_and(|(at, _)| old(*at))
    }

    /// Folds the closed chats whose grace window ended by `now` (their
    /// events not arrived yet are missing) and forgets the retired chats
    /// whose window ended.
    pub(super) fn sweep(&self, shard: &mut Shard, now: Instant, m: &mut Measures) {
        let old = |at: Instant| now.saturating_duration_since(at) > self.grace;
        while let Some((at, _)) = shard.closing.front()
            && old(*at)
        {
            let Some((_, chat)) = shard.closing.pop_front() else {
                break;
            };
            // Absent when it was retired within its window.
            if let Some(facts) = shard.chats.remove(&chat) {
                self.fold(shard, &facts, m);
            }
        }
        while let Some((at, hash)) = shard.retired_order.front()
            && old(*at)
        {
            shard.retired.remove(hash);
            shard.retired_order.pop_front();
        }
    }

    /// Counts an event about a retired chat; `false` when `chat` is not one.
    /// An event that can follow a close (`system:info`, a queue update, a
    /// late join...) is measured from the chat's latest lifecycle request,
    /// unless the chat was handed to the clean-up; it is never late.
    pub(super) fn after_retirement(&self, shard: &Shard, chat: &str, event: &WebhookEvent) -> bool {
        let Some(cause) = shard.retired.get(&self.hasher.hash_one(chat)) else {
            return false;
        };
        let mut m = lock(&self.measures);
        if self.once_key(event, chat).is_some() {
            m.duplicate += 1;
        } else {
            m.event(&event.trigger).count += 1;
            self.latency(&mut m, &event.trigger, event.arrived, *cause, false);
        }
        true
    }

    /// What the tracker holds (for tests).
    #[cfg(test)]
    pub(super) fn held(&self) -> Held {
        self.shards.iter().fold(Held::default(), |h, shard| {
            let shard = lock(shard);
            Held {
                chats: h.chats + shard.chats.len(),
                once: h.once + shard.once.len(),
                retired: h.retired + shard.retired.len(),
                retired_order: h.retired_order + shard.retired_order.len(),
                closing: h.closing + shard.closing.len(),
                early: h.early + shard.early_len,
            }
        })
    }
}
