//! The `chats:assign` webhook's say in assignment (reference §5.1, §5.4).
//!
//! When an app has a webhook subscribed to `chats:assign` and a chat that
//! looks for an agent (assign, an invitation moving on, queue dispatch) has
//! eligible agents, the rule does not pick one itself: it marks the chat as
//! deciding and pushes an [`AssignDecision`] (the signed envelope lists the
//! eligible agents and the chat). The caller asks the webhook with the store
//! unlocked, re-locks and calls [`AppStore::resolve_decision`], which
//! re-validates everything: the answer is honoured only if it names an agent
//! that is still eligible; otherwise the built-in algorithm picks. Without
//! such a webhook none of this runs and assignment stays synchronous.

use super::view::{ChatView, UserView};
use super::{AppStore, AssignDecision, ChatStatus, SeekOrigin, now_s};
use crate::event::{EventData, trigger};
use crate::webhook::sign;
use serde_json::json;
use std::sync::Arc;

impl AppStore {
    /// Whether `chat_id` waits for a `chats:assign` decision.
    pub fn is_deciding(&self, chat_id: &str) -> bool {
        self.chats
            .get(chat_id)
            .is_some_and(|c| c.deciding.is_some())
    }

    /// The agent of an active chat, else the agent its pending invitation
    /// went to.
    pub fn assigned_agent(&self, chat_id: &str) -> Option<String> {
        let chat = self.chats.get(chat_id)?;
        if chat.status == ChatStatus::Active {
            return chat.agent.clone();
        }
        self.pending_agent_invitation(chat_id)
            .map(|i| i.user_id.clone())
    }

    /// Defers the agent search of `chat_id` to the `chats:assign` webhook.
    /// True when the chat now waits for a decision (or already did); false
    /// when the caller must decide itself: no such webhook, or no eligible
    /// agent to offer.
    pub(super) fn ask_assign_webhook(&mut self, chat_id: &str, origin: SeekOrigin) -> bool {
        let Some(endpoint) = self.assign_webhook().map(|w| Arc::clone(&w.endpoint)) else {
            return false;
        };
        let Some(chat) = self.chats.get(chat_id) else {
            return false;
        };
        if chat.deciding.is_some() {
            return true;
        }
        let candidates = self.candidates(chat_id);
        if candidates.is_empty() {
            return false;
        }
        let agents: Vec<UserView<'_>> = candidates
            .iter()
            .filter_map(|i| self.users.get(&self.agent_order[*i]))
            .map(UserView::from)
            .collect();
        let data = json!({"agents": agents, "chat": ChatView::new(self, chat)});
        let now = now_s();
        let body = sign::envelope(trigger::CHATS_ASSIGN, &self.app_id, &data, now);
        self.decision_seq += 1;
        let id = self.decision_seq;
        if let Some(chat) = self.chats.get_mut(chat_id) {
            chat.deciding = Some(id);
        }
        // Recorded for `GET /__mock/events`, never queued: the question is
        // asked synchronously by the caller.
        self.events
            .emit(trigger::CHATS_ASSIGN, EventData::Json(data), now);
        self.decisions.push(AssignDecision {
            id,
            chat_id: chat_id.to_owned(),
            origin,
            endpoint,
            body,
        });
        true
    }

    /// Applies the webhook's `answer` (an agent id, or `None` after a
    /// timeout or an unusable reply) to a decision. Returns true when the
    /// answer named an eligible agent who got the invitation. A stale
    /// decision (chat closed, moved or assigned meanwhile) does nothing but
    /// let its room's queue move on.
    pub fn resolve_decision(&mut self, decision: &AssignDecision, answer: Option<&str>) -> bool {
        let chat_id = decision.chat_id.as_str();
        let Some(chat) = self.chats.get_mut(chat_id) else {
            return false;
        };
        let room = chat.room;
        if chat.deciding != Some(decision.id) {
            if decision.origin == SeekOrigin::Dispatch {
                self.dispatch_room(room);
            }
            return false;
        }
        chat.deciding = None;
        let (algorithm, waiting) = (chat.algorithm, chat.status == ChatStatus::Waiting);
        let mut honoured = false;
        if waiting && self.pending_agent_invitation(chat_id).is_none() {
            let candidates = self.candidates(chat_id);
            let chosen = answer
                .filter(|id| candidates.iter().any(|i| self.agent_order[*i] == *id))
                .map(str::to_owned);
            honoured = chosen.is_some();
            match chosen.or_else(|| self.pick_agent(chat_id, algorithm)) {
                Some(agent) => {
                    self.remove_from_queue(chat_id);
                    self.invite(chat_id, &agent);
                }
                None => self.nobody_found(chat_id, decision.origin),
            }
        }
        if decision.origin == SeekOrigin::Dispatch {
            self.dispatch_room(room);
        }
        honoured
    }

    /// What happens when a search found no agent, by where it started.
    fn nobody_found(&mut self, chat_id: &str, origin: SeekOrigin) {
        match origin {
            SeekOrigin::Assign => self.no_agent_now(chat_id),
            SeekOrigin::MoveOn => {
                if self.settings.queue_active && self.anyone_could_take(chat_id) {
                    self.enqueue(chat_id, true);
                } else {
                    self.forever_alone(chat_id);
                }
            }
            SeekOrigin::Dispatch => {
                if !self.anyone_could_take(chat_id) {
                    self.remove_from_queue(chat_id);
                    self.forever_alone(chat_id);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{store, user_chat};
    use super::*;

    fn with_assign_hook(queue: bool) -> AppStore {
        let mut s = store(queue);
        s.create_webhook(
            vec!["chats:assign".to_owned()],
            "http://127.0.0.1:9/".to_owned(),
        )
        .expect("webhook");
        s
    }

    /// A chat of room 1 whose assignment waits for the `chats:assign`
    /// webhook: the store, the chat and the decision to resolve.
    fn deciding_chat() -> (AppStore, String, AssignDecision) {
        let mut s = with_assign_hook(false);
        let chat = user_chat(&mut s, "u", 1);
        assert_eq!(s.assign(&chat, None).expect("ok"), None);
        assert!(s.is_deciding(&chat));
        let decision = s.take_decisions().pop().expect("a decision");
        (s, chat, decision)
    }

    #[test]
    fn an_eligible_answer_is_honoured() {
        let (mut s, chat, decision) = deciding_chat();
        let body: serde_json::Value = serde_json::from_slice(&decision.body).expect("json");
        assert_eq!(body["trigger"], "chats:assign");
        assert_eq!(body["data"]["agents"].as_array().map(Vec::len), Some(4));
        assert!(s.resolve_decision(&decision, Some("a-3")));
        assert_eq!(s.assigned_agent(&chat).as_deref(), Some("a-3"));
    }

    #[test]
    fn an_ineligible_answer_falls_back_to_the_algorithm() {
        let (mut s, chat, decision) = deciding_chat();
        // a-5 works in room 2 only.
        assert!(!s.resolve_decision(&decision, Some("a-5")));
        assert_eq!(s.assigned_agent(&chat).as_deref(), Some("a-1"));
    }

    #[test]
    fn a_chat_closed_while_deciding_is_left_alone() {
        let (mut s, chat, decision) = deciding_chat();
        s.close_chat(&chat, None).expect("close");
        assert!(!s.resolve_decision(&decision, Some("a-1")));
        assert!(s.invitations.is_empty());
    }

    #[test]
    fn queue_dispatch_waits_for_the_head_decision() {
        let mut s = with_assign_hook(true);
        let first = user_chat(&mut s, "u1", 1);
        let second = user_chat(&mut s, "u2", 1);
        let decisions = s.take_decisions();
        assert_eq!(decisions.len(), 1, "only the head is being decided");
        assert!(s.is_deciding(&first) && !s.is_deciding(&second));
        s.resolve_decision(&decisions[0], None);
        assert!(s.assigned_agent(&first).is_some());
        // Resolving the head moved the queue on: the next head is asked.
        assert!(s.is_deciding(&second));
    }
}
