//! Measures the events a run receives against what the run did: how long
//! after its cause each event arrived, which expected events never came,
//! which came twice, late or out of order, and the chat lifecycle's service
//! levels (time to assign, time in queue, time to the first agent reply, chat
//! duration).
//!
//! The engine tells the tracker about the lifecycle operations only (a chat
//! created, an assign, a message, a read, a leave or close) — never about
//! other requests — and the tracker sees every verified event as an
//! [`EventObserver`]. Per-chat facts live in a few mutex-guarded shards picked
//! by chat id, so virtual users working on different chats rarely meet on a
//! lock; histograms and counters sit behind one more mutex, always taken after
//! a shard's. Events usually arrive before the response that tells the engine
//! the chat's id (`chats:create` before `POST /chats` answers), so events
//! about a chat the tracker does not know yet wait until it does.
//!
//! Causes (documented in `docs/webhooks.md`): see [`EventTracker::cause`].

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use chatload_api::events;
use hdrhistogram::Histogram;

use crate::api::same_event;
use crate::metrics::{LATENCY_MAX_US, new_latency_histogram};
use crate::webhook::{EventObserver, WebhookEvent};

/// Chat fact shards: enough that a few hundred VUs seldom share one.
const SHARDS: usize = 16;
/// Events about chats the tracker does not know yet, kept at most (per shard).
const EARLY_CAPACITY: usize = 4_096;

/// The lifecycle operations the engine reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifecycle {
    CreateChat,
    Assign,
    SendMessage,
    MarkRead,
    Leave,
    Close,
}

impl Lifecycle {
    /// The lifecycle operation an API operation id stands for, if any.
    pub fn of_operation(id: &str) -> Option<Lifecycle> {
        Some(match id {
            "createChat" => Lifecycle::CreateChat,
            "assignChat" => Lifecycle::Assign,
            "sendChatMessage" => Lifecycle::SendMessage,
            "markMessageRead" => Lifecycle::MarkRead,
            "leaveChat" => Lifecycle::Leave,
            "closeChat" => Lifecycle::Close,
            _ => return None,
        })
    }
}

/// One latency histogram with the number of events behind it.
#[derive(Debug, Clone)]
pub struct EventLatency {
    /// Events of this kind received (first copies only).
    pub count: u64,
    /// Arrival − cause, µs, for the events whose cause was known.
    pub histogram: Histogram<u64>,
}

impl Default for EventLatency {
    fn default() -> Self {
        EventLatency {
            count: 0,
            histogram: new_latency_histogram(),
        }
    }
}

impl EventLatency {
    fn record(&mut self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        self.histogram
            .saturating_record(us.clamp(1, LATENCY_MAX_US));
    }
}

/// What the tracker measured, at the end of the run.
#[derive(Debug, Clone)]
pub struct EventSummary {
    /// Per event name, in first-seen order.
    pub events: Vec<(String, EventLatency)>,
    /// Expected events that never arrived, per event name.
    pub missing: BTreeMap<String, u64>,
    /// A second copy of an event that cannot repeat (see
    /// `EventTracker::once_key`).
    pub duplicate: u64,
    /// Events later than `late_after` after their cause.
    pub late: u64,
    /// Events a VU's own call caused directly, with a measured delay: the
    /// ones that can be `late` (its denominator).
    pub direct: u64,
    /// Events the run expected (`chats:create` per chat, `chats:close` per
    /// chat the VU closed, `messages:new` per message sent; subscribed ones
    /// only): the denominator of `missing`.
    pub expected: u64,
    /// Events of an earlier lifecycle stage after a later one, or a queue
    /// position larger than one already seen.
    pub out_of_order: u64,
    /// `out_of_order` by pair: (the later-stage event that arrived first,
    /// the earlier-stage event that arrived after it) → count.
    pub out_of_order_pairs: BTreeMap<(&'static str, &'static str), u64>,
    /// Events about no chat this run created.
    pub unrouted: u64,
    /// Chats created by the run.
    pub chats: u64,
    /// POST /chats sent → the agent's `chats:join`.
    pub time_to_assign: EventLatency,
    /// Entering the queue → first `invitations:new`/`chats:join`, or abandonment.
    pub time_in_queue: EventLatency,
    /// POST /chats sent → first `messages:new` not from the creator.
    pub time_to_first_agent_reply: EventLatency,
    /// POST /chats sent → `chats:close` (or the close call's response).
    pub chat_duration: EventLatency,
    /// Queue positions seen in `queues:update` (position ≥ 1).
    pub positions: Histogram<u64>,
    /// Chats that entered a queue.
    pub queued: u64,
    /// Users who gave up waiting (`wait_event` with `on_timeout: abandon`).
    pub abandoned: u64,
}

/// The tracker: an [`EventObserver`] fed lifecycle facts by the engine.
#[derive(Debug)]
pub struct EventTracker {
    subscribed: Vec<String>,
    late_after: Duration,
    hasher: RandomState,
    shards: Vec<Mutex<Shard>>,
    measures: Mutex<Measures>,
}

#[derive(Debug, Default)]
struct Shard {
    chats: HashMap<String, ChatFacts>,
    /// Events about chats not known yet, by chat id.
    early: HashMap<String, Vec<Arc<WebhookEvent>>>,
    early_len: usize,
    /// [`EventTracker::once_key`]s of the events seen that cannot repeat
    /// (of chats not retired yet).
    once: HashSet<u64>,
    /// Hashes of the ids of retired chats (see `retire`).
    retired: HashSet<u64>,
}

#[derive(Debug)]
struct ChatFacts {
    creator: String,
    created: Instant,
    assign_sent: Option<Instant>,
    last_message_sent: Option<Instant>,
    read_sent: Option<Instant>,
    close_sent: Option<Instant>,
    /// The VU closed (or left) the chat: its `chats:close` is expected.
    closed_by_vu: bool,
    close_answered: Option<Instant>,
    last_request: Instant,
    /// Messages the VU sent: (id, send instant, seen as an event).
    sent_messages: Vec<(String, Instant, bool)>,
    /// The creator's `messages:new` that arrived before the send's response
    /// told its id: (id, arrival).
    own_unmatched: Vec<(String, Instant)>,
    got_create: bool,
    got_close: bool,
    stage: u8,
    /// The event that reached `stage`.
    stage_event: &'static str,
    min_position: Option<u64>,
    queue_entered: Option<Instant>,
    queue_done: bool,
    joined: bool,
    replied: bool,
    duration_done: bool,
    /// Handed to a clean-up (its iteration aborted, or the end of the run):
    /// its events are counted but measure nothing.
    cleanup: bool,
    /// The `once_key`s of its events, dropped from the shard on retirement.
    once_keys: Vec<u64>,
}

#[derive(Debug)]
struct Measures {
    events: Vec<(String, EventLatency)>,
    duplicate: u64,
    late: u64,
    direct: u64,
    out_of_order: u64,
    out_of_order_pairs: BTreeMap<(&'static str, &'static str), u64>,
    unattributed: u64,
    time_to_assign: EventLatency,
    time_in_queue: EventLatency,
    time_to_first_agent_reply: EventLatency,
    chat_duration: EventLatency,
    positions: Histogram<u64>,
    queued: u64,
    abandoned: u64,
    /// Chats retired (folded into these counters) and the events they were
    /// expected to produce (all received).
    retired_chats: u64,
    retired_expected: u64,
}

impl Default for Measures {
    fn default() -> Self {
        Measures {
            events: Vec::new(),
            duplicate: 0,
            late: 0,
            direct: 0,
            out_of_order: 0,
            out_of_order_pairs: BTreeMap::new(),
            unattributed: 0,
            time_to_assign: EventLatency::default(),
            time_in_queue: EventLatency::default(),
            time_to_first_agent_reply: EventLatency::default(),
            chat_duration: EventLatency::default(),
            positions: new_latency_histogram(),
            queued: 0,
            abandoned: 0,
            retired_chats: 0,
            retired_expected: 0,
        }
    }
}

impl Measures {
    fn event(&mut self, name: &str) -> &mut EventLatency {
        let index = match self.events.iter().position(|(n, _)| n == name) {
            Some(i) => i,
            None => {
                self.events.push((name.to_owned(), EventLatency::default()));
                self.events.len() - 1
            }
        };
        &mut self.events[index].1
    }
}

/// Lifecycle stage of an event, for the out-of-order check, with the
/// event's name as a `'static` (so naming a pair never allocates).
fn stage(trigger: &str) -> Option<(u8, &'static str)> {
    const STAGES: [(&str, u8); 10] = [
        (events::CHATS_CREATE, 1),
        (events::INVITATIONS_NEW, 2),
        (events::CHATS_ASSIGN, 2),
        (events::INVITATIONS_ACCEPT, 3),
        (events::CHATS_JOIN, 3),
        (events::USERS_JOIN, 3),
        (events::MESSAGES_NEW, 4),
        (events::MESSAGES_READ, 4),
        (events::CHATS_LEAVE, 5),
        (events::CHATS_CLOSE, 5),
    ];
    STAGES
        .iter()
        .find(|(name, _)| *name == trigger)
        .map(|&(name, stage)| (stage, name))
}

impl Measures {
    /// One out-of-order arrival: `then` arrived after `first`, although
    /// the API emits it before.
    fn out_of_order(&mut self, first: &'static str, then: &'static str) {
        self.out_of_order += 1;
        *self.out_of_order_pairs.entry((first, then)).or_insert(0) += 1;
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl EventTracker {
    /// A tracker expecting the `subscribed` events; later than `late_after` is late.
    pub fn new(subscribed: &[String], late_after: Duration) -> Arc<EventTracker> {
        Arc::new(EventTracker {
            subscribed: subscribed.to_vec(),
            late_after,
            hasher: RandomState::new(),
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            measures: Mutex::new(Measures::default()),
        })
    }

    fn shard(&self, chat: &str) -> &Mutex<Shard> {
        let index = (self.hasher.hash_one(chat) as usize) % SHARDS;
        &self.shards[index]
    }

    fn subscribes(&self, event: &str) -> bool {
        self.subscribed.iter().any(|e| same_event(e, event))
    }

    /// `POST /chats` answered: the chat `chat` by `creator`, sent at `sent`.
    /// Events that arrived before are measured now.
    pub fn chat_created(&self, chat: &str, creator: &str, in_queue: bool, sent: Instant) {
        let mut shard = lock(self.shard(chat));
        let facts = ChatFacts {
            creator: creator.to_owned(),
            created: sent,
            assign_sent: None,
            last_message_sent: None,
            read_sent: None,
            close_sent: None,
            closed_by_vu: false,
            close_answered: None,
            last_request: sent,
            sent_messages: Vec::new(),
            own_unmatched: Vec::new(),
            got_create: false,
            got_close: false,
            stage: 0,
            stage_event: "",
            min_position: None,
            queue_entered: in_queue.then_some(sent),
            queue_done: false,
            joined: false,
            replied: false,
            duration_done: false,
            cleanup: false,
            once_keys: Vec::new(),
        };
        let early = shard.early.remove(chat).unwrap_or_default();
        shard.early_len -= early.len();
        let facts = shard.chats.entry(chat.to_owned()).or_insert(facts);
        let mut m = lock(&self.measures);
        if in_queue {
            m.queued += 1;
        }
        for event in early {
            self.process(facts, &event, &mut m);
        }
        self.retire_if_done(&mut shard, chat, &mut m);
    }

    /// A lifecycle request about `chat` is being sent at `sent`.
    pub fn request_sent(&self, op: Lifecycle, chat: &str, sent: Instant) {
        let mut shard = lock(self.shard(chat));
        let Some(facts) = shard.chats.get_mut(chat) else {
            return;
        };
        facts.last_request = sent;
        match op {
            Lifecycle::CreateChat => {}
            Lifecycle::Assign => facts.assign_sent = Some(sent),
            Lifecycle::SendMessage => facts.last_message_sent = Some(sent),
            Lifecycle::MarkRead => facts.read_sent = Some(sent),
            Lifecycle::Leave | Lifecycle::Close => {
                facts.close_sent = Some(sent);
                facts.closed_by_vu = true;
            }
        }
    }

    /// `POST /chats/{chat}/messages` answered with message `id`, sent at `sent`.
    pub fn message_sent(&self, chat: &str, id: &str, sent: Instant) {
        let mut shard = lock(self.shard(chat));
        let Some(facts) = shard.chats.get_mut(chat) else {
            return;
        };
        let early = facts
            .own_unmatched
            .iter()
            .position(|(m, _)| m == id)
            .map(|i| facts.own_unmatched.swap_remove(i));
        facts
            .sent_messages
            .push((id.to_owned(), sent, early.is_some()));
        if let Some((_, arrived)) = early {
            let mut m = lock(&self.measures);
            self.latency(&mut m, events::MESSAGES_NEW, arrived, Some(sent), true);
        }
    }

    /// `chat` is handed to a clean-up that closes it (its iteration aborted,
    /// or the run ended with it open): from now on its events are counted
    /// but measured in no delay and no service level, so a close the flow
    /// never asked for does not stretch `chat_duration`.
    pub fn cleaning_up(&self, chat: &str) {
        if let Some(facts) = lock(self.shard(chat)).chats.get_mut(chat) {
            facts.cleanup = true;
        }
    }

    /// The close call about `chat` was answered at `at`.
    pub fn close_answered(&self, chat: &str, at: Instant) {
        let mut shard = lock(self.shard(chat));
        if let Some(facts) = shard.chats.get_mut(chat) {
            facts.close_answered.get_or_insert(at);
            if !self.subscribes(events::CHATS_CLOSE) && !facts.duration_done && !facts.cleanup {
                facts.duration_done = true;
                let created = facts.created;
                lock(&self.measures)
                    .chat_duration
                    .record(at.saturating_duration_since(created));
            }
        }
    }

    /// The user gave up waiting at `at` (the chat is being closed).
    pub fn abandoned(&self, chat: &str, at: Instant) {
        let mut shard = lock(self.shard(chat));
        let mut m = lock(&self.measures);
        m.abandoned += 1;
        if let Some(facts) = shard.chats.get_mut(chat)
            && let Some(entered) = facts.queue_entered
            && !facts.queue_done
        {
            facts.queue_done = true;
            m.time_in_queue
                .record(at.saturating_duration_since(entered));
        }
    }

    /// Records `arrived − cause` for `trigger` (when the cause is known).
    /// Only a `direct` event (its cause is the VU's own call, nothing waits
    /// in between) can be late: a join that waited for an agent or the queue
    /// is slow by nature, not late in delivery.
    fn latency(
        &self,
        m: &mut Measures,
        trigger: &str,
        arrived: Instant,
        cause: Option<Instant>,
        direct: bool,
    ) {
        let Some(cause) = cause else { return };
        let d = arrived.saturating_duration_since(cause);
        if direct {
            m.direct += 1;
            if d > self.late_after {
                m.late += 1;
            }
        }
        m.event(trigger).record(d);
    }

    /// Whether `event` follows the VU's own call directly: `chats:create`;
    /// an invitation or `chats:assign` right after an assign call on a chat
    /// that never queued; the VU's own `messages:new`; `messages:read`,
    /// `chats:leave` and `chats:close` after the VU's call. Everything else
    /// waits on an agent, the queue or the server's timing.
    fn direct(facts: &ChatFacts, event: &WebhookEvent) -> bool {
        match event.trigger.as_str() {
            events::CHATS_CREATE => true,
            events::INVITATIONS_NEW | events::CHATS_ASSIGN => {
                facts.assign_sent.is_some() && facts.queue_entered.is_none()
            }
            events::MESSAGES_NEW => event.user_id.as_deref() == Some(facts.creator.as_str()),
            events::MESSAGES_READ => facts.read_sent.is_some(),
            events::CHATS_LEAVE | events::CHATS_CLOSE => facts.close_sent.is_some(),
            _ => false,
        }
    }

    /// The instant an event is measured from (reference §5.1 causes):
    /// `chats:create` ← POST /chats sent; invitations, assign, accept and
    /// join ← the latest of POST /chats and the assign call; `messages:new` ←
    /// the send of that message (by id) or, for another sender's message, the
    /// VU's latest message in the chat; `messages:read` ← the read call;
    /// `chats:leave`/`chats:close` ← the close or leave call; any other event ←
    /// the chat's latest lifecycle request. `None`: not known (yet).
    fn cause(facts: &ChatFacts, event: &WebhookEvent) -> Option<Instant> {
        let latest_of = |a: Instant, b: Option<Instant>| b.map_or(a, |b| a.max(b));
        match event.trigger.as_str() {
            events::CHATS_CREATE => Some(facts.created),
            events::INVITATIONS_NEW
            | events::CHATS_ASSIGN
            | events::INVITATIONS_ACCEPT
            | events::CHATS_JOIN
            | events::USERS_JOIN => Some(latest_of(facts.created, facts.assign_sent)),
            events::MESSAGES_NEW => {
                if event.user_id.as_deref() == Some(facts.creator.as_str()) {
                    let id = event.data.pointer("/message/id")?.as_str()?;
                    facts
                        .sent_messages
                        .iter()
                        .find(|(m, _, _)| m == id)
                        .map(|(_, sent, _)| *sent)
                } else {
                    Some(facts.last_message_sent.unwrap_or(facts.last_request))
                }
            }
            events::MESSAGES_READ => facts.read_sent.or(Some(facts.last_request)),
            events::CHATS_LEAVE | events::CHATS_CLOSE => {
                facts.close_sent.or(Some(facts.last_request))
            }
            _ => Some(facts.last_request),
        }
    }

    /// Measures one first-seen event about a known chat.
    fn process(&self, facts: &mut ChatFacts, event: &WebhookEvent, m: &mut Measures) {
        let trigger = event.trigger.as_str();
        let arrived = event.arrived;
        m.event(trigger).count += 1;
        if let Some(chat) = event.chat_id.as_deref()
            && let Some(key) = self.once_key(event, chat)
        {
            facts.once_keys.push(key);
        }
        if facts.cleanup {
            facts.got_create |= trigger == events::CHATS_CREATE;
            facts.got_close |= trigger == events::CHATS_CLOSE;
            return;
        }
        let cause = Self::cause(facts, event);
        if trigger == events::MESSAGES_NEW && cause.is_none() {
            // The creator's own message, before the send's response named it.
            if let Some(id) = event.data.pointer("/message/id").and_then(|v| v.as_str()) {
                facts.own_unmatched.push((id.to_owned(), arrived));
            }
        }
        let direct = Self::direct(facts, event);
        self.latency(m, trigger, arrived, cause, direct);
        if let Some((s, name)) = stage(trigger) {
            if s < facts.stage {
                m.out_of_order(facts.stage_event, name);
            } else {
                facts.stage = s;
                facts.stage_event = name;
            }
        }
        let from_creator = event.user_id.as_deref() == Some(facts.creator.as_str());
        let since_created = arrived.saturating_duration_since(facts.created);
        match trigger {
            events::CHATS_CREATE => facts.got_create = true,
            events::CHATS_CLOSE => {
                facts.got_close = true;
                if !facts.duration_done {
                    facts.duration_done = true;
                    m.chat_duration.record(since_created);
                }
            }
            events::QUEUES_UPDATE => {
                let position = event
                    .data
                    .pointer("/data/queuePosition")
                    .and_then(serde_json::Value::as_u64)
                    .unwrap_or(0);
                if position > 0 {
                    if facts.min_position.is_some_and(|min| position > min) {
                        m.out_of_order(events::QUEUES_UPDATE, events::QUEUES_UPDATE);
                    }
                    facts.min_position =
                        Some(facts.min_position.map_or(position, |p| p.min(position)));
                    m.positions.saturating_record(position.min(LATENCY_MAX_US));
                    if facts.queue_entered.is_none() && !facts.queue_done {
                        facts.queue_entered = Some(arrived);
                        m.queued += 1;
                    }
                }
            }
            events::MESSAGES_NEW if !from_creator && !facts.replied => {
                facts.replied = true;
                m.time_to_first_agent_reply.record(since_created);
            }
            events::MESSAGES_NEW => {
                if let Some(id) = event.data.pointer("/message/id").and_then(|v| v.as_str())
                    && let Some(sent) = facts.sent_messages.iter_mut().find(|(m, _, _)| m == id)
                {
                    sent.2 = true;
                }
            }
            _ => {}
        }
        let leaves_queue = matches!(trigger, events::INVITATIONS_NEW)
            || (matches!(trigger, events::CHATS_JOIN | events::USERS_JOIN) && !from_creator);
        if leaves_queue
            && !facts.queue_done
            && let Some(entered) = facts.queue_entered
        {
            facts.queue_done = true;
            m.time_in_queue
                .record(arrived.saturating_duration_since(entered));
        }
        if matches!(trigger, events::CHATS_JOIN | events::USERS_JOIN)
            && !from_creator
            && !facts.joined
        {
            facts.joined = true;
            m.time_to_assign.record(since_created);
        }
    }

    /// The identity of an event that cannot legitimately repeat, so a second
    /// one is a duplicate (documented in `docs/webhooks.md`): `chats:create`
    /// and `chats:close` happen once per chat, a `messages:new` names its
    /// message by id. `None` for every other event: an identical
    /// `queues:update` (the position did not change), a rejoin, a second
    /// invitation, read or activity in the same second are legitimate.
    fn once_key(&self, event: &WebhookEvent, chat: &str) -> Option<u64> {
        let trigger = event.trigger.as_str();
        match trigger {
            events::CHATS_CREATE | events::CHATS_CLOSE => {
                Some(self.hasher.hash_one((trigger, chat)))
            }
            events::MESSAGES_NEW => {
                let id = event.data.pointer("/message/id")?.as_str()?;
                Some(self.hasher.hash_one((trigger, chat, id)))
            }
            _ => None,
        }
    }

    /// Everything measured; expected events not received by now are missing.
    pub fn finish(&self) -> EventSummary {
        let mut missing: BTreeMap<String, u64> = BTreeMap::new();
        let mut unrouted = 0;
        let mut chats = 0;
        let mut expected = 0;
        let mut add = |name: &str, n: u64| {
            if n > 0 {
                *missing.entry(name.to_owned()).or_insert(0) += n;
            }
        };
        for shard in &self.shards {
            let shard = lock(shard);
            unrouted += shard.early_len as u64;
            for facts in shard.chats.values() {
                chats += 1;
                let (n, unseen) = self.expected_of(facts);
                expected += n;
                for (name, n) in unseen {
                    add(name, n);
                }
            }
        }
        let m = lock(&self.measures);
        chats += m.retired_chats;
        expected += m.retired_expected;
        EventSummary {
            events: m.events.clone(),
            missing,
            duplicate: m.duplicate,
            late: m.late,
            direct: m.direct,
            expected,
            out_of_order: m.out_of_order,
            out_of_order_pairs: m.out_of_order_pairs.clone(),
            unrouted: unrouted + m.unattributed,
            chats,
            time_to_assign: m.time_to_assign.clone(),
            time_in_queue: m.time_in_queue.clone(),
            time_to_first_agent_reply: m.time_to_first_agent_reply.clone(),
            chat_duration: m.chat_duration.clone(),
            positions: m.positions.clone(),
            queued: m.queued,
            abandoned: m.abandoned,
        }
    }
}

impl EventObserver for EventTracker {
    fn on_event(&self, event: &Arc<WebhookEvent>) {
        let Some(chat) = event.chat_id.as_deref() else {
            let mut m = lock(&self.measures);
            m.event(&event.trigger).count += 1;
            m.unattributed += 1;
            return;
        };
        let mut shard = lock(self.shard(chat));
        if self.after_retirement(&shard, chat, event) {
            return;
        }
        if let Some(key) = self.once_key(event, chat)
            && !shard.once.insert(key)
        {
            lock(&self.measures).duplicate += 1;
            return;
        }
        let shard = &mut *shard;
        match shard.chats.get_mut(chat) {
            Some(facts) => {
                let mut m = lock(&self.measures);
                self.process(facts, event, &mut m);
                self.retire_if_done(shard, chat, &mut m);
            }
            None => {
                if shard.early_len >= EARLY_CAPACITY {
                    // Events about chats of other clients would grow this without
                    // bound; the oldest chat's events go (counted as unrouted).
                    if let Some(key) = shard.early.keys().next().cloned()
                        && let Some(dropped) = shard.early.remove(&key)
                    {
                        shard.early_len -= dropped.len();
                        lock(&self.measures).unattributed += dropped.len() as u64;
                    }
                }
                shard
                    .early
                    .entry(chat.to_owned())
                    .or_default()
                    .push(Arc::clone(event));
                shard.early_len += 1;
            }
        }
    }
}

mod retire;

#[cfg(test)]
mod tests;
