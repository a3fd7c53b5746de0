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
//! A chat's facts are kept while it is open and for a grace window after it
//! closed, then folded into the counters (`retire.rs`), so memory stays flat
//! over long runs; the counters and the summary live in `summary.rs`.
//!
//! Causes (documented in `docs/webhooks.md`): see [`EventTracker::cause`].

use std::collections::{HashMap, HashSet, VecDeque};
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
/// Events about chats the tracker does not know yet, kept at most (per
/// shard; 16,384 in all, the router's parking capacity).
const EARLY_CAPACITY: usize = 1_024;

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

/// The tracker: an [`EventObserver`] fed lifecycle facts by the engine.
#[derive(Debug)]
pub struct EventTracker {
    subscribed: Vec<String>,
    late_after: Duration,
    /// How long a closed chat's facts, then a retired chat's hash, are
    /// kept (see `retire.rs`).
    grace: Duration,
    hasher: RandomState,
    shards: Vec<Mutex<Shard>>,
    measures: Mutex<Measures>,
    /// Woken when an expected event (`chats:create`, `chats:close`,
    /// `messages:new`) arrives, so the settle wait can end as soon as
    /// nothing is outstanding ([`EventTracker::all_arrived`]). One atomic
    /// when nobody waits.
    arrivals: tokio::sync::Notify,
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
    /// Hashes of the ids of retired chats (see `retire`), forgotten
    /// `grace` after their retirement (`retired_order`), each with the
    /// chat's latest lifecycle request (`None` for a chat handed to the
    /// clean-up): the cause of the events that follow a close.
    retired: HashMap<u64, Option<Instant>>,
    retired_order: VecDeque<(Instant, u64)>,
    /// Closed chats in the order they closed: folded `grace` after closing
    /// when they are still held then.
    closing: VecDeque<(Instant, String)>,
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
    /// The run's own agent actors' calls about the chat (accept, reply,
    /// leave): the causes of the events they trigger.
    agent: AgentCalls,
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
    /// When the close call was answered or `chats:close` arrived, whichever
    /// came first: its grace window starts here.
    closed_at: Option<Instant>,
    /// In the shard's `closing` queue.
    in_closing: bool,
}

/// When the run's agent actors last called about a chat.
#[derive(Debug, Default, Clone, Copy)]
struct AgentCalls {
    accept: Option<Instant>,
    reply: Option<Instant>,
    leave: Option<Instant>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl EventTracker {
    /// A tracker expecting the `subscribed` events; later than `late_after`
    /// is late. Closed chats are kept for [`grace_after`]`(late_after)`.
    pub fn new(subscribed: &[String], late_after: Duration) -> Arc<EventTracker> {
        Arc::new(EventTracker {
            subscribed: subscribed.to_vec(),
            late_after,
            grace: grace_after(late_after),
            hasher: RandomState::new(),
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            measures: Mutex::new(Measures::default()),
            arrivals: tokio::sync::Notify::new(),
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
            agent: AgentCalls::default(),
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
            closed_at: None,
            in_closing: false,
        };
        let shard = &mut *shard;
        let early = shard.early.remove(chat).unwrap_or_default();
        shard.early_len -= early.len();
        let facts = shard.chats.entry(chat.to_owned()).or_insert(facts);
        let mut m = lock(&self.measures);
        if in_queue {
            m.queued += 1;
        }
        for event in early {
            // Repeats are told apart only now that the chat is the run's: a
            // repeated event about another client's chat is unrouted, not a
            // duplicate (`on_event`).
            if let Some(key) = self.once_key(&event, chat)
                && !shard.once.insert(key)
            {
                m.duplicate += 1;
                continue;
            }
            self.process(facts, &event, &mut m);
        }
        self.retire_if_done(shard, chat, &mut m);
        self.sweep(shard, sent, &mut m);
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

    /// One of the run's agent actors sends a call about `chat` at `sent`:
    /// accepting it (`Assign`), replying (`SendMessage`) or leaving
    /// (`Leave`). The events it causes (the agent's join, its
    /// `messages:new`, its `chats:leave`) are measured from this call, not
    /// from the user's last request; the actor's leave closes nothing, so
    /// no `chats:close` is expected of it.
    pub fn agent_request_sent(&self, op: Lifecycle, chat: &str, sent: Instant) {
        let mut shard = lock(self.shard(chat));
        let Some(facts) = shard.chats.get_mut(chat) else {
            return;
        };
        facts.last_request = facts.last_request.max(sent);
        match op {
            Lifecycle::Assign => facts.agent.accept = Some(sent),
            Lifecycle::SendMessage => facts.agent.reply = Some(sent),
            Lifecycle::Leave => facts.agent.leave = Some(sent),
            Lifecycle::CreateChat | Lifecycle::MarkRead | Lifecycle::Close => {}
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

    /// Expected events not arrived yet, over the chats the tracker holds:
    /// what would be counted `missing` if the run ended now (retired chats
    /// have nothing outstanding).
    pub fn outstanding(&self) -> u64 {
        self.shards
            .iter()
            .map(|shard| {
                lock(shard)
                    .chats
                    .values()
                    .map(|facts| {
                        self.expected_of(facts)
                            .1
                            .iter()
                            .map(|(_, n)| n)
                            .sum::<u64>()
                    })
                    .sum::<u64>()
            })
            .sum()
    }

    /// Resolves when every expected event has arrived ([`outstanding`] is
    /// 0), woken by each arrival of an expected kind, never by polling.
    ///
    /// [`outstanding`]: EventTracker::outstanding
    pub async fn all_arrived(&self) {
        while self.outstanding() > 0 {
            // A wake-up that came between the count and this wait is kept
            // (`notify_one` stores a permit), so none is lost.
            self.arrivals.notified().await;
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
        let mut m = lock(&self.measures);
        if let Some(facts) = shard.chats.get_mut(chat) {
            facts.close_answered.get_or_insert(at);
            facts.closed_at.get_or_insert(at);
            if !self.subscribes(events::CHATS_CLOSE) && !facts.duration_done && !facts.cleanup {
                facts.duration_done = true;
                m.chat_duration
                    .record(at.saturating_duration_since(facts.created));
            }
            self.retire_if_done(&mut shard, chat, &mut m);
        }
        self.sweep(&mut shard, at, &mut m);
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
    /// `chats:leave` and `chats:close` after the VU's call; an event of the
    /// agent's side that one of the run's agent actors caused by its call
    /// (see [`EventTracker::agent_request_sent`]). Everything else waits on
    /// an agent, the queue or the server's timing.
    fn direct(facts: &ChatFacts, event: &WebhookEvent) -> bool {
        let by_agent = event.user_id.as_deref() != Some(facts.creator.as_str());
        if by_agent && Self::agent_cause(facts, event).is_some() {
            return true;
        }
        match event.trigger.as_str() {
            events::CHATS_CREATE => true,
            events::INVITATIONS_NEW | events::CHATS_ASSIGN => {
                facts.assign_sent.is_some() && facts.queue_entered.is_none()
            }
            events::MESSAGES_NEW => !by_agent,
            events::MESSAGES_READ => facts.read_sent.is_some(),
            events::CHATS_LEAVE | events::CHATS_CLOSE => facts.close_sent.is_some(),
            _ => false,
        }
    }

    /// The run's own agent actor's call that caused an event of a user other
    /// than the creator: its accept for the agent's accept or join, its
    /// reply for its `messages:new`, its leave for its `chats:leave`.
    fn agent_cause(facts: &ChatFacts, event: &WebhookEvent) -> Option<Instant> {
        match event.trigger.as_str() {
            events::INVITATIONS_ACCEPT | events::CHATS_JOIN | events::USERS_JOIN => {
                facts.agent.accept
            }
            events::MESSAGES_NEW => facts.agent.reply,
            events::CHATS_LEAVE => facts.agent.leave,
            _ => None,
        }
    }

    /// The instant an event is measured from (reference §5.1 causes):
    /// `chats:create` ← POST /chats sent; invitations, assign, accept and
    /// join ← the latest of POST /chats and the assign call; `messages:new` ←
    /// the send of that message (by id) or, for another sender's message, the
    /// VU's latest message in the chat; `messages:read` ← the read call;
    /// `chats:leave`/`chats:close` ← the close or leave call; any other event ←
    /// the chat's latest lifecycle request. An event of the agent's side that
    /// one of the run's agent actors caused (its accept's join, its reply, its
    /// leave) ← that actor's call. `None`: not known (yet).
    fn cause(facts: &ChatFacts, event: &WebhookEvent) -> Option<Instant> {
        let latest_of = |a: Instant, b: Option<Instant>| b.map_or(a, |b| a.max(b));
        if event.user_id.as_deref() != Some(facts.creator.as_str())
            && let Some(call) = Self::agent_cause(facts, event)
        {
            return Some(call);
        }
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
            if trigger == events::CHATS_CLOSE {
                facts.got_close = true;
                facts.closed_at.get_or_insert(arrived);
            }
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
        facts.advance_stage(trigger, m);
        facts.record_service_levels(event, m);
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
        if self.expired(&shard, event.arrived) {
            self.sweep(&mut shard, event.arrived, &mut lock(&self.measures));
        }
        if self.after_retirement(&shard, chat, event) {
            return;
        }
        let shard = &mut *shard;
        match shard.chats.get_mut(chat) {
            Some(facts) => {
                let key = self.once_key(event, chat);
                if let Some(key) = key
                    && !shard.once.insert(key)
                {
                    lock(&self.measures).duplicate += 1;
                    return;
                }
                let mut m = lock(&self.measures);
                self.process(facts, event, &mut m);
                self.retire_if_done(shard, chat, &mut m);
                if key.is_some() {
                    // An expected kind of event: the settle wait looks again.
                    self.arrivals.notify_one();
                }
            }
            // Not (yet) a chat of this run: every copy waits here, and
            // copies of an event that cannot repeat are told apart only
            // once the chat is known (`chat_created`); a chat the run never
            // creates leaves them all `unrouted` (webhooks.md: "events about
            // no chat this run created"), never `duplicate`.
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

mod levels;
mod retire;
mod summary;
pub use retire::{GRACE_MIN, grace_after};
pub use summary::EventSummary;
use summary::Measures;

#[cfg(test)]
mod tests;
