//! What one measured event tells about its chat's progress: the lifecycle
//! stage it reaches (for the out-of-order check) and the service levels it
//! completes (time to assign, time in queue, time to the first agent reply,
//! chat duration, queue positions).

use chatload_api::events;

use super::ChatFacts;
use super::summary::Measures;
use crate::metrics::LATENCY_MAX_US;
use crate::webhook::WebhookEvent;

/// Lifecycle stage of an event, for the out-of-order check, with the
/// event's name as a `'static` (so naming a pair never allocates).
///
/// `chats:assign` has none: the API delivers it synchronously (it waits for
/// the answer to pick an agent), outside the chat's queue of deliveries, so
/// it may overtake a queued `chats:create` on a healthy server (the bundled
/// mock does; so may the real API). Ranking it would count a healthy run
/// out of order; its delay and count are measured as for any event.
fn stage(trigger: &str) -> Option<(u8, &'static str)> {
    const STAGES: [(&str, u8); 9] = [
        (events::CHATS_CREATE, 1),
        (events::INVITATIONS_NEW, 2),
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

impl ChatFacts {
    /// Moves the chat on to `trigger`'s stage; an event of an earlier stage
    /// than one already seen is counted out of order (and moves nothing).
    pub(super) fn advance_stage(&mut self, trigger: &str, m: &mut Measures) {
        if let Some((s, name)) = stage(trigger) {
            if s < self.stage {
                m.out_of_order(self.stage_event, name);
            } else {
                self.stage = s;
                self.stage_event = name;
            }
        }
    }

    /// Records the service levels `event` completes, each once per chat;
    /// the agent's side is every user but the chat's creator.
    pub(super) fn record_service_levels(&mut self, event: &WebhookEvent, m: &mut Measures) {
        let trigger = event.trigger.as_str();
        let arrived = event.arrived;
        let from_creator = event.user_id.as_deref() == Some(self.creator.as_str());
        let since_created = arrived.saturating_duration_since(self.created);
        match trigger {
            events::CHATS_CREATE => self.got_create = true,
            events::CHATS_CLOSE => {
                self.got_close = true;
                self.closed_at.get_or_insert(arrived);
                if !self.duration_done {
                    self.duration_done = true;
                    m.chat_duration.record(since_created);
                }
            }
            events::QUEUES_UPDATE => self.queue_update(event, m),
            events::MESSAGES_NEW if !from_creator && !self.replied => {
                self.replied = true;
                m.time_to_first_agent_reply.record(since_created);
            }
            events::MESSAGES_NEW => {
                if let Some(id) = event.data.pointer("/message/id").and_then(|v| v.as_str())
                    && let Some(sent) = self.sent_messages.iter_mut().find(|(m, _, _)| m == id)
                {
                    sent.2 = true;
                }
            }
            _ => {}
        }
        let leaves_queue = matches!(trigger, events::INVITATIONS_NEW)
            || (matches!(trigger, events::CHATS_JOIN | events::USERS_JOIN) && !from_creator);
        if leaves_queue
            && !self.queue_done
            && let Some(entered) = self.queue_entered
        {
            self.queue_done = true;
            m.time_in_queue
                .record(arrived.saturating_duration_since(entered));
        }
        if matches!(trigger, events::CHATS_JOIN | events::USERS_JOIN)
            && !from_creator
            && !self.joined
        {
            self.joined = true;
            m.time_to_assign.record(since_created);
        }
    }

    /// A `queues:update`: its position (a rising one is out of order) and,
    /// the first time, the chat entering the queue.
    fn queue_update(&mut self, event: &WebhookEvent, m: &mut Measures) {
        let position = event
            .data
            .pointer("/data/queuePosition")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0);
        if position == 0 {
            return;
        }
        if self.min_position.is_some_and(|min| position > min) {
            m.out_of_order(events::QUEUES_UPDATE, events::QUEUES_UPDATE);
        }
        self.min_position = Some(self.min_position.map_or(position, |p| p.min(position)));
        m.positions.saturating_record(position.min(LATENCY_MAX_US));
        if self.queue_entered.is_none() && !self.queue_done {
            self.queue_entered = Some(event.arrived);
            m.queued += 1;
        }
    }
}
