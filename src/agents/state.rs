//! What the pool knows about its agents' chats: which actor holds which
//! chat, each actor's load (held chats plus `chats:assign` promises) and
//! whether it takes new chats. One mutex for all of it: it is taken a few
//! times per chat (invitation, each message, close), never per request of
//! the virtual users, and every critical section is a few map operations.
//!
//! Also the two hooks the webhook side calls: the [`EventObserver`] that
//! hands chat events (`messages:new`, `chats:close`) to the actor holding
//! the chat, and the [`AssignResponder`] that answers `chats:assign`.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::lifecycle::{EventTracker, Lifecycle};
use crate::report::AgentCounts;
use crate::webhook::receiver::AssignResponder;
use crate::webhook::{EventObserver, Inbox, WebhookEvent};

/// A `chats:assign` answer reserves a slot until the invitation it should
/// cause arrives, or this long (the API may have picked someone else).
pub const PROMISE_TTL: Duration = Duration::from_secs(10);

/// Where a held chat stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// The invitation is being answered (accept delay, then the call).
    Accepting,
    /// Accepted: the actor replies to its messages.
    Active,
}

#[derive(Debug)]
struct Held {
    actor: usize,
    phase: Phase,
    /// Replies scheduled so far (numbers the replies, bounds `leave_after`).
    scheduled: u32,
    /// User messages that arrived while accepting, answered once active.
    pending: u32,
    /// The ids of the latest user messages handled (at most
    /// [`SEEN_MESSAGES`]): a redelivered `messages:new` is answered once.
    seen: VecDeque<String>,
}

/// Message ids remembered per held chat to drop redeliveries: a copy comes
/// within a few deliveries of the first, and the chat's entry (and so this)
/// goes when the chat ends, so memory is bounded by chats held.
const SEEN_MESSAGES: usize = 32;

/// What to do with an invitation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Invitation {
    /// Already held or being answered (a redelivered event).
    Ignore,
    Accept,
    /// Reject: drawn by `reject_probability`.
    RejectChosen,
    /// Reject: every slot is taken.
    RejectFull,
    /// Reject: the agent is on a break.
    RejectAway,
}

/// What to do with a user message in a chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Message {
    /// Not this actor's chat, or it is about to leave.
    Ignore,
    /// Answered once the invitation is accepted.
    Deferred,
    /// Reply number `n` (1-based).
    Reply(u32),
}

#[derive(Debug)]
struct PoolState {
    chats: HashMap<String, Held>,
    load: Vec<u32>,
    available: Vec<bool>,
    promised: HashMap<String, (usize, Instant)>,
}

/// One logged-in actor as the pool sees it.
#[derive(Debug)]
pub(crate) struct Member {
    pub(crate) agent_id: String,
    pub(crate) inbox: Arc<Inbox>,
    pub(crate) counters: Counters,
}

/// Per-actor counters (relaxed atomics: read once at the end).
pub(crate) type Counters = AgentCounts<AtomicU64>;

impl Counters {
    /// Counts one more of `counter`.
    pub(crate) fn add(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// The pool's shared state.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) members: Vec<Member>,
    pub(crate) capacity: u32,
    state: Mutex<PoolState>,
    /// The run's lifecycle tracker, told of the actors' accept, reply and
    /// leave calls so the events they cause are timed from them (set once,
    /// before the load: [`AgentPool::measure_with`](super::AgentPool::measure_with)).
    pub(crate) tracker: OnceLock<Arc<EventTracker>>,
}

impl Shared {
    pub(crate) fn new(members: Vec<Member>, capacity: u32) -> Shared {
        let n = members.len();
        Shared {
            members,
            capacity,
            state: Mutex::new(PoolState {
                chats: HashMap::new(),
                load: vec![0; n],
                available: vec![true; n],
                promised: HashMap::new(),
            }),
            tracker: OnceLock::new(),
        }
    }

    /// An actor is about to send `op` about `chat` (accept, reply, leave).
    pub(crate) fn caused(&self, op: Lifecycle, chat: &str) {
        if let Some(tracker) = self.tracker.get() {
            tracker.agent_request_sent(op, chat, Instant::now());
        }
    }

    fn lock(&self) -> MutexGuard<'_, PoolState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Decides on an invitation of `chat` to `actor`; an accepted one holds
    /// a slot from now on (so a burst of invitations cannot overbook).
    pub(crate) fn on_invitation(&self, actor: usize, chat: &str, reject: bool) -> Invitation {
        let mut st = self.lock();
        if st.chats.contains_key(chat) {
            return Invitation::Ignore;
        }
        // The promise made for this chat (to whichever actor) is now
        // replaced by the invitation itself.
        if let Some((promised_to, _)) = st.promised.remove(chat) {
            st.load[promised_to] = st.load[promised_to].saturating_sub(1);
        }
        st.expire_promises(Instant::now());
        if !st.available[actor] {
            return Invitation::RejectAway;
        }
        if st.load[actor] >= self.capacity {
            return Invitation::RejectFull;
        }
        if reject {
            return Invitation::RejectChosen;
        }
        st.load[actor] += 1;
        st.chats.insert(
            chat.to_owned(),
            Held {
                actor,
                phase: Phase::Accepting,
                scheduled: 0,
                pending: 0,
                seen: VecDeque::new(),
            },
        );
        Invitation::Accept
    }

    /// The accept call succeeded: the chat is active. Returns the user
    /// messages that arrived meanwhile; `None` when the chat is gone (it
    /// ended while the accept was under way: accepted and handled at once).
    pub(crate) fn activate(&self, actor: usize, chat: &str) -> Option<u32> {
        let mut st = self.lock();
        let Some(held) = st.chats.get_mut(chat).filter(|h| h.actor == actor) else {
            Counters::add(&self.members[actor].counters.chats_handled);
            return None;
        };
        held.phase = Phase::Active;
        Some(std::mem::take(&mut held.pending))
    }

    /// Whether `actor` still holds `chat` in `phase`.
    pub(crate) fn holds(&self, actor: usize, chat: &str, phase: Phase) -> bool {
        self.lock()
            .chats
            .get(chat)
            .is_some_and(|h| h.actor == actor && h.phase == phase)
    }

    /// Frees `actor`'s slot for `chat`; the phase it was in, if it held it.
    /// An active chat that ends is one more `chats_handled`, counted here
    /// and only here, so `accepted == chats_handled + active` holds
    /// whichever way the chat ended ([`Shared::active`]).
    pub(crate) fn release(&self, actor: usize, chat: &str) -> Option<Phase> {
        let mut st = self.lock();
        if st.chats.get(chat).is_none_or(|h| h.actor != actor) {
            return None;
        }
        let held = st.chats.remove(chat)?;
        st.load[actor] = st.load[actor].saturating_sub(1);
        if held.phase == Phase::Active {
            Counters::add(&self.members[actor].counters.chats_handled);
        }
        Some(held.phase)
    }

    /// Active chats (accepted, not ended) per actor, in actor order.
    pub(crate) fn active(&self) -> Vec<u32> {
        let st = self.lock();
        let mut active = vec![0; self.members.len()];
        for held in st.chats.values().filter(|h| h.phase == Phase::Active) {
            active[held.actor] += 1;
        }
        active
    }

    /// The chats `actor` holds (accepting or active).
    pub(crate) fn held_by(&self, actor: usize) -> Vec<String> {
        self.lock()
            .chats
            .iter()
            .filter(|(_, h)| h.actor == actor)
            .map(|(chat, _)| chat.clone())
            .collect()
    }

    /// A user message `id` (when the event names one) in `chat`: reply
    /// (numbered), defer, or ignore (also a redelivery of a message handled).
    pub(crate) fn on_message(
        &self,
        actor: usize,
        chat: &str,
        id: Option<&str>,
        leave_after: Option<u32>,
    ) -> Message {
        let mut st = self.lock();
        let Some(held) = st.chats.get_mut(chat).filter(|h| h.actor == actor) else {
            return Message::Ignore;
        };
        if let Some(id) = id {
            if held.seen.iter().any(|m| m == id) {
                return Message::Ignore;
            }
            if held.seen.len() == SEEN_MESSAGES {
                held.seen.pop_front();
            }
            held.seen.push_back(id.to_owned());
        }
        if leave_after.is_some_and(|n| held.scheduled >= n) {
            return Message::Ignore;
        }
        if held.phase == Phase::Accepting {
            held.pending += 1;
            return Message::Deferred;
        }
        held.scheduled += 1;
        Message::Reply(held.scheduled)
    }

    /// Breaks: an unavailable actor rejects invitations and is never chosen.
    pub(crate) fn set_available(&self, actor: usize, available: bool) {
        self.lock().available[actor] = available;
    }

    /// Chats each actor holds or was promised, in actor order.
    pub(crate) fn loads(&self) -> Vec<u32> {
        self.lock().load.clone()
    }

    /// The actor holding `chat`.
    fn holder(&self, chat: &str) -> Option<usize> {
        self.lock().chats.get(chat).map(|h| h.actor)
    }

    /// The least loaded available actor with a free slot, among `candidates`
    /// (agent ids the API offered; empty: any). Reserves its slot for
    /// `chat` until the invitation arrives or [`PROMISE_TTL`] passes.
    pub(crate) fn choose(&self, candidates: &[&str], chat: Option<&str>) -> Option<usize> {
        let mut st = self.lock();
        st.expire_promises(Instant::now());
        let chosen = (0..self.members.len())
            .filter(|&i| st.available[i] && st.load[i] < self.capacity)
            .filter(|&i| {
                candidates.is_empty() || candidates.contains(&self.members[i].agent_id.as_str())
            })
            .min_by_key(|&i| (st.load[i], i))?;
        if let Some(chat) = chat
            && !st.chats.contains_key(chat)
        {
            if let Some((before, _)) = st
                .promised
                .insert(chat.to_owned(), (chosen, Instant::now()))
            {
                st.load[before] = st.load[before].saturating_sub(1);
            }
            st.load[chosen] += 1;
        }
        Some(chosen)
    }
}

impl PoolState {
    fn expire_promises(&mut self, now: Instant) {
        let load = &mut self.load;
        self.promised.retain(|_, (actor, at)| {
            let keep = now.saturating_duration_since(*at) < PROMISE_TTL;
            if !keep {
                load[*actor] = load[*actor].saturating_sub(1);
            }
            keep
        });
    }
}

/// Hands chat events to the actor holding the chat. Events naming the
/// actor's own agent id already reach it through its user subscription,
/// so they are skipped here (no double delivery). The end of a held chat
/// (`chats:close`, or the holder's own `chats:leave`) frees its slot here,
/// as it arrives: also after the actors stopped (during the settle wait),
/// so the pool's counts take every chat's end into account.
#[derive(Debug)]
pub(crate) struct ChatEvents(pub(crate) Arc<Shared>);

impl EventObserver for ChatEvents {
    fn on_event(&self, event: &Arc<WebhookEvent>) {
        let Some(chat) = event.chat_id.as_deref() else {
            return;
        };
        let Some(actor) = self.0.holder(chat) else {
            return;
        };
        let holder_left = event.trigger == crate::api::events::CHATS_LEAVE
            && event.user_id.as_deref() == Some(self.0.members[actor].agent_id.as_str());
        if event.trigger == crate::api::events::CHATS_CLOSE || holder_left {
            self.0.release(actor, chat);
            return;
        }
        let member = &self.0.members[actor];
        if event.user_id.as_deref() != Some(member.agent_id.as_str()) {
            member.inbox.push(Arc::clone(event));
        }
    }
}

/// Answers `chats:assign` with the least loaded actor that has a free slot
/// and is among the agents the event offers (all actors when it lists none).
#[derive(Debug)]
pub(crate) struct Assigner(pub(crate) Arc<Shared>);

impl AssignResponder for Assigner {
    fn choose(&self, event: &WebhookEvent) -> Option<String> {
        let offered: Vec<&str> = event
            .data
            .get("agents")
            .and_then(Value::as_array)
            .map(|agents| {
                agents
                    .iter()
                    .filter_map(|a| a.get("id").and_then(Value::as_str))
                    .collect()
            })
            .unwrap_or_default();
        let actor = self.0.choose(&offered, event.chat_id.as_deref())?;
        let member = &self.0.members[actor];
        Counters::add(&member.counters.assigned);
        Some(member.agent_id.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared(n: usize, capacity: u32) -> Shared {
        let members = (0..n)
            .map(|i| Member {
                agent_id: format!("a-{}", i + 1),
                inbox: Inbox::new(),
                counters: Counters::default(),
            })
            .collect();
        Shared::new(members, capacity)
    }

    #[test]
    fn capacity_counts_accepting_and_active_chats_and_frees_on_release() {
        let s = shared(1, 2);
        assert_eq!(s.on_invitation(0, "c-1", false), Invitation::Accept);
        assert_eq!(s.on_invitation(0, "c-1", false), Invitation::Ignore);
        assert_eq!(s.on_invitation(0, "c-2", false), Invitation::Accept);
        assert_eq!(s.on_invitation(0, "c-3", false), Invitation::RejectFull);
        assert_eq!(s.activate(0, "c-1"), Some(0));
        assert_eq!(s.release(0, "c-1"), Some(Phase::Active));
        assert_eq!(s.release(0, "c-1"), None);
        assert_eq!(s.on_invitation(0, "c-3", true), Invitation::RejectChosen);
        s.set_available(0, false);
        assert_eq!(s.on_invitation(0, "c-4", false), Invitation::RejectAway);
        assert_eq!(s.loads(), [1]);
    }

    #[test]
    fn messages_while_accepting_are_deferred_and_leave_after_bounds_replies() {
        let s = shared(1, 3);
        assert_eq!(s.on_message(0, "c-1", None, None), Message::Ignore);
        s.on_invitation(0, "c-1", false);
        assert_eq!(s.on_message(0, "c-1", None, Some(2)), Message::Deferred);
        assert_eq!(s.activate(0, "c-1"), Some(1));
        assert_eq!(s.on_message(0, "c-1", None, Some(2)), Message::Reply(1));
        assert_eq!(s.on_message(0, "c-1", None, Some(2)), Message::Reply(2));
        assert_eq!(s.on_message(0, "c-1", None, Some(2)), Message::Ignore);
    }

    #[test]
    fn every_accepted_chat_is_handled_or_active_whichever_way_it_ended() {
        let s = Arc::new(shared(1, 3));
        let observer = ChatEvents(Arc::clone(&s));
        let close = |chat: &str| {
            let body = format!(
                r#"{{"trigger":"chats:close","appId":"a","data":{{"chatId":"{chat}","userId":"u-1"}},"created_at":1}}"#
            );
            Arc::new(WebhookEvent::parse(body.as_bytes(), Instant::now()).expect("envelope"))
        };
        let handled = || s.members[0].counters.chats_handled.load(Ordering::Relaxed);
        // Accepted, then closed: its close frees it as it arrives.
        s.on_invitation(0, "c-1", false);
        assert_eq!(s.activate(0, "c-1"), Some(0));
        observer.on_event(&close("c-1"));
        assert_eq!((handled(), s.active()), (1, vec![0]));
        // Closed while the accept call was under way, which then succeeded:
        // accepted, and handled at once.
        s.on_invitation(0, "c-2", false);
        observer.on_event(&close("c-2"));
        assert_eq!(s.activate(0, "c-2"), None);
        assert_eq!((handled(), s.active()), (2, vec![0]));
        // Still open: active, not handled. Three accepted = 2 handled + 1 active.
        s.on_invitation(0, "c-3", false);
        s.activate(0, "c-3");
        assert_eq!((handled(), s.active()), (2, vec![1]));
        // A second copy of a close counts nothing.
        observer.on_event(&close("c-1"));
        assert_eq!(handled(), 2);
    }

    #[test]
    fn a_redelivered_message_is_answered_once() {
        let s = shared(1, 3);
        s.on_invitation(0, "c-1", false);
        assert_eq!(s.activate(0, "c-1"), Some(0));
        assert_eq!(s.on_message(0, "c-1", Some("m-1"), None), Message::Reply(1));
        assert_eq!(s.on_message(0, "c-1", Some("m-1"), None), Message::Ignore);
        assert_eq!(s.on_message(0, "c-1", Some("m-2"), None), Message::Reply(2));
        // While accepting, a copy is not deferred twice either.
        s.on_invitation(0, "c-2", false);
        assert_eq!(s.on_message(0, "c-2", Some("m-3"), None), Message::Deferred);
        assert_eq!(s.on_message(0, "c-2", Some("m-3"), None), Message::Ignore);
        assert_eq!(s.activate(0, "c-2"), Some(1));
        // Bounded: the oldest ids are forgotten.
        for i in 0..SEEN_MESSAGES + 5 {
            s.on_message(0, "c-1", Some(&format!("x-{i}")), None);
        }
        let held = s.lock().chats.get("c-1").map(|h| h.seen.len());
        assert_eq!(held, Some(SEEN_MESSAGES));
    }

    #[test]
    fn assign_picks_the_least_loaded_offered_agent_and_reserves_a_slot() {
        let s = shared(3, 1);
        s.on_invitation(0, "c-1", false);
        // a-2 and a-3 are free; the first of them wins the tie.
        assert_eq!(s.choose(&[], Some("c-2")), Some(1));
        // The promise holds a-2's only slot; only a-3 is left.
        assert_eq!(s.choose(&[], Some("c-3")), Some(2));
        assert_eq!(s.choose(&[], Some("c-4")), None);
        // The invitation replaces the promise instead of adding to it.
        assert_eq!(s.on_invitation(1, "c-2", false), Invitation::Accept);
        assert_eq!(s.loads(), [1, 1, 1]);
        // Only offered agents count.
        let s = shared(3, 1);
        assert_eq!(s.choose(&["a-3", "x-9"], None), Some(2));
        s.set_available(2, false);
        assert_eq!(s.choose(&["a-3"], None), None);
    }

    #[test]
    fn chat_events_reach_the_holder_once() {
        let s = Arc::new(shared(2, 3));
        s.on_invitation(1, "c-1", false);
        let observer = ChatEvents(Arc::clone(&s));
        let event = |body: &str| {
            Arc::new(WebhookEvent::parse(body.as_bytes(), Instant::now()).expect("envelope"))
        };
        observer.on_event(&event(
            r#"{"trigger":"messages:new","appId":"a","data":{"message":{"chat":"c-1","sender":"u-1"}},"created_at":1}"#,
        ));
        // Names a-2 itself: its user subscription delivers it, not this.
        observer.on_event(&event(
            r#"{"trigger":"chats:leave","appId":"a","data":{"chatId":"c-1","userId":"a-2"},"created_at":1}"#,
        ));
        observer.on_event(&event(
            r#"{"trigger":"chats:close","appId":"a","data":{"chatId":"c-9","userId":"u-1"},"created_at":1}"#,
        ));
        assert_eq!(s.members[1].inbox.len(), 1);
        assert!(s.members[0].inbox.is_empty());
    }
}
