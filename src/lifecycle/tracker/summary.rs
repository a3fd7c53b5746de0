//! What the tracker counts as it goes ([`Measures`], behind one mutex) and
//! what it hands over at the end of the run ([`EventSummary`]).

use std::collections::BTreeMap;

use hdrhistogram::Histogram;

use super::{EventLatency, EventTracker, lock};
use crate::lifecycle::schema::UNDECLARED;
use crate::metrics::new_latency_histogram;

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

#[derive(Debug)]
pub(super) struct Measures {
    pub(super) events: Vec<(String, EventLatency)>,
    pub(super) duplicate: u64,
    pub(super) late: u64,
    pub(super) direct: u64,
    pub(super) out_of_order: u64,
    pub(super) out_of_order_pairs: BTreeMap<(&'static str, &'static str), u64>,
    pub(super) unattributed: u64,
    pub(super) time_to_assign: EventLatency,
    pub(super) time_in_queue: EventLatency,
    pub(super) time_to_first_agent_reply: EventLatency,
    pub(super) chat_duration: EventLatency,
    pub(super) positions: Histogram<u64>,
    pub(super) queued: u64,
    pub(super) abandoned: u64,
    /// Chats retired (folded into these counters) and the events they were
    /// expected to produce (all received).
    pub(super) retired_chats: u64,
    pub(super) retired_expected: u64,
    /// Expected events of retired chats that never came, per event name.
    pub(super) retired_missing: BTreeMap<&'static str, u64>,
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
            retired_missing: BTreeMap::new(),
        }
    }
}

/// Distinct event names measured apart: the spec declares 14, so a server
/// sending ever new names (each would hold a histogram) cannot grow the
/// list; names beyond it are counted together under [`UNDECLARED`].
pub(super) const MAX_EVENT_NAMES: usize = 64;

impl Measures {
    /// The measures of event `name` (or of [`UNDECLARED`] once
    /// [`MAX_EVENT_NAMES`] names are known).
    pub(super) fn event(&mut self, name: &str) -> &mut EventLatency {
        let index = match self.events.iter().position(|(n, _)| n == name) {
            Some(i) => i,
            None if self.events.len() + 1 >= MAX_EVENT_NAMES => {
                match self.events.iter().position(|(n, _)| n == UNDECLARED) {
                    Some(i) => i,
                    None => self.push_event(UNDECLARED),
                }
            }
            None => self.push_event(name),
        };
        &mut self.events[index].1
    }

    fn push_event(&mut self, name: &str) -> usize {
        self.events.push((name.to_owned(), EventLatency::default()));
        self.events.len() - 1
    }
}

impl Measures {
    /// One out-of-order arrival: `then` arrived after `first`, although
    /// the API emits it before.
    pub(super) fn out_of_order(&mut self, first: &'static str, then: &'static str) {
        self.out_of_order += 1;
        *self.out_of_order_pairs.entry((first, then)).or_insert(0) += 1;
    }
}

impl EventTracker {
    /// Everything measured; expected events not received by now are missing.
    pub fn finish(&self) -> EventSummary {
        let mut missing: BTreeMap<String, u64> = lock(&self.measures)
            .retired_missing
            .iter()
            .map(|(name, n)| ((*name).to_owned(), *n))
            .collect();
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
