//! Assignment, invitations and the room queues.
//!
//! Picking an agent ([`AppStore::assign`]) sends an invitation that
//! reserves one slot of that agent; accepting turns the reservation into the
//! chat's slot, rejecting/expiring frees it and moves the invitation on to
//! the next agent (never one who already declined this chat). In queue mode
//! a freed slot dispatches the head of the room's FIFO
//! ([`AppStore::dispatch_room`]). Each of the three searches first offers
//! the choice to a `chats:assign` webhook when there is one (`decision`).

use super::{AppStore, ChatStatus, Invitation, SeekOrigin, Timer, TimerAction, now_ms, now_s};
use crate::config::{AgentStatus, Algorithm};
use crate::error::ApiError;
use crate::event::{EventData, trigger};
use rand::Rng;
use serde_json::json;
use std::cmp::Reverse;

/// `queues:update` events are emitted for at most this many chats behind a
/// change (their positions stay current on pull either way).
pub const QUEUE_EVENT_WINDOW: usize = 100;

impl AppStore {
    /// Eligible agents for a chat, in agent order: online, in the chat's
    /// room, speaking its language, with a free slot, not already declined
    /// and not already in the chat.
    pub(super) fn candidates(&self, chat_id: &str) -> Vec<usize> {
        let Some(chat) = self.chats.get(chat_id) else {
            return Vec::new();
        };
        self.agent_order
            .iter()
            .enumerate()
            .filter(|(_, id)| !chat.rejected_by.contains(id) && !chat.users.contains(id))
            .filter(|(_, id)| {
                self.users
                    .get(*id)
                    .and_then(|u| u.agent.as_deref())
                    .is_some_and(|a| {
                        a.status == AgentStatus::Online
                            && a.serves(chat.room, chat.lang.as_deref())
                            && a.free_slots() > 0
                    })
            })
            .map(|(i, _)| i)
            .collect()
    }

    /// Whether any agent of the chat's room who speaks its language could
    /// ever take it (ignoring status and slots): false means waiting is
    /// pointless.
    pub(super) fn anyone_could_take(&self, chat_id: &str) -> bool {
        let Some(chat) = self.chats.get(chat_id) else {
            return false;
        };
        let lang = chat.lang.as_deref();
        self.agent_order.iter().any(|id| {
            !chat.rejected_by.contains(id)
                && self
                    .users
                    .get(id)
                    .and_then(|u| u.agent.as_deref())
                    .is_some_and(|a| {
                        (a.home_rooms.contains(&chat.room) || a.rooms.contains(&chat.room))
                            && lang.is_none_or(|l| a.langs.iter().any(|x| x == l))
                    })
        })
    }

    pub(super) fn pick_agent(&mut self, chat_id: &str, algorithm: Algorithm) -> Option<String> {
        let candidates = self.candidates(chat_id);
        if candidates.is_empty() {
            return None;
        }
        let room = self.chats.get(chat_id)?.room;
        let index = match algorithm {
            Algorithm::MostFreeSlots => *candidates.iter().max_by_key(|i| {
                let agent = self
                    .users
                    .get(&self.agent_order[**i])
                    .and_then(|u| u.agent.as_deref());
                (
                    agent.map_or(0, |a| a.free_slots()),
                    Reverse(agent.map_or(0, |a| a.idle_since)),
                    Reverse(**i),
                )
            })?,
            Algorithm::RoundRobin => {
                let cursor = self.rooms.get(&room).and_then(|r| r.rr_cursor);
                *candidates
                    .iter()
                    .find(|i| cursor.is_none_or(|c| **i > c))
                    .unwrap_or(&candidates[0])
            }
            Algorithm::Random => candidates[self.rng.random_range(0..candidates.len())],
        };
        let id = self.agent_order[index].clone();
        if let Some(r) = self.rooms.get_mut(&room) {
            r.rr_cursor = Some(index);
        }
        Some(id)
    }

    /// Sends an invitation for `chat_id` to `user_id`; an agent's slot is
    /// reserved. Schedules the simulated answer (or the expiry).
    pub(super) fn invite(&mut self, chat_id: &str, user_id: &str) -> String {
        let id = self.next_id("i");
        let tick = self.next_tick();
        let reserved = if let Some(agent) = self.agent_mut(user_id) {
            agent.reserved += 1;
            agent.idle_since = tick;
            true
        } else {
            false
        };
        self.invitations.insert(
            id.clone(),
            Invitation {
                id: id.clone(),
                chat_id: chat_id.to_owned(),
                user_id: user_id.to_owned(),
                created_at: now_s(),
                reserved,
            },
        );
        self.emit(
            trigger::INVITATIONS_NEW,
            EventData::ChatUser {
                chat_id: chat_id.to_owned(),
                user_id: user_id.to_owned(),
            },
        );
        if reserved && self.sim.simulate {
            let delay = self.sim.accept_delay.sample(&mut self.rng);
            let p = self.sim.reject_probability;
            let action = if p > 0.0 && self.rng.random_bool(p) {
                TimerAction::Reject(id.clone())
            } else {
                TimerAction::Accept(id.clone())
            };
            self.timers.push(Timer { delay, action });
        } else if self.sim.invitation_timeout_ms > 0 {
            self.timers.push(Timer {
                delay: std::time::Duration::from_millis(self.sim.invitation_timeout_ms),
                action: TimerAction::Expire(id.clone()),
            });
        }
        id
    }

    /// The pending invitation of `chat_id` that reserves an agent's slot.
    pub fn pending_agent_invitation(&self, chat_id: &str) -> Option<&Invitation> {
        self.invitations
            .values()
            .find(|i| i.chat_id == chat_id && i.reserved)
    }

    /// `GET /chats/{chatId}/assign`: invites an agent picked by `algorithm`
    /// (the app setting when `None`). Returns the invited (or already
    /// assigned) agent's id, or `None` when nobody is free (see
    /// [`Self::no_agent_now`]), or
    /// `None` while a `chats:assign` webhook decides (see
    /// [`Self::is_deciding`]; the answer is then [`Self::assigned_agent`]).
    ///
    /// # Errors
    ///
    /// 404 unknown chat, 409 closed chat.
    pub fn assign(
        &mut self,
        chat_id: &str,
        algorithm: Option<Algorithm>,
    ) -> Result<Option<String>, ApiError> {
        let chat = self.chat(chat_id)?;
        match chat.status {
            ChatStatus::Closed => return Err(ApiError::conflict("Chat is closed")),
            ChatStatus::Active => return Ok(chat.agent.clone()),
            ChatStatus::Waiting => {}
        }
        if let Some(invitation) = self.pending_agent_invitation(chat_id) {
            return Ok(Some(invitation.user_id.clone()));
        }
        if chat.deciding.is_some() {
            return Ok(None);
        }
        let algorithm = algorithm.unwrap_or(self.settings.assign_algorithm);
        self.chat_mut(chat_id)?.algorithm = algorithm;
        if self.ask_assign_webhook(chat_id, SeekOrigin::Assign) {
            return Ok(None);
        }
        match self.pick_agent(chat_id, algorithm) {
            Some(agent) => {
                self.remove_from_queue(chat_id);
                self.invite(chat_id, &agent);
                Ok(Some(agent))
            }
            None => {
                self.no_agent_now(chat_id);
                Ok(None)
            }
        }
    }

    /// Assign (or `toinbox`) found no agent for `chat_id`. In queue mode,
    /// while an agent of its room could still take it, the chat waits in
    /// its queue (a queued chat keeps its place, another goes to the head)
    /// and no `forever:alone` is sent: that event tells a client that no
    /// agent can be invited any more, and the PHP client then closes the
    /// chat (reference §8.1). Otherwise `forever:alone`, and a queued
    /// chat leaves its queue. Outside queue mode a waiting chat stays
    /// waiting after its `forever:alone` (reference §4.5, §8.1).
    pub(super) fn no_agent_now(&mut self, chat_id: &str) {
        if self.settings.queue_active && self.anyone_could_take(chat_id) {
            self.enqueue(chat_id, true);
        } else {
            self.remove_from_queue(chat_id);
            self.forever_alone(chat_id);
        }
    }

    /// Finds the pending invitation of `user_id` for `chat_id`.
    fn find_invitation(&self, chat_id: &str, user_id: &str) -> Result<String, ApiError> {
        self.chat(chat_id)?;
        self.user(user_id)?;
        self.invitations
            .values()
            .find(|i| i.chat_id == chat_id && i.user_id == user_id)
            .map(|i| i.id.clone())
            .ok_or_else(|| ApiError::conflict("No pending invitation for this user and chat"))
    }

    /// `POST /invitations/accept`: the user joins; an agent's reservation
    /// becomes the chat's slot and a waiting chat becomes active.
    ///
    /// # Errors
    ///
    /// 404 unknown chat/user, 409 when no invitation is pending.
    pub fn accept_invitation(&mut self, chat_id: &str, user_id: &str) -> Result<(), ApiError> {
        let id = self.find_invitation(chat_id, user_id)?;
        let Some(invitation) = self.invitations.remove(&id) else {
            return Ok(());
        };
        if let Some(agent) = self.agent_mut(user_id)
            && invitation.reserved
        {
            agent.reserved = agent.reserved.saturating_sub(1);
        }
        self.emit(
            trigger::INVITATIONS_ACCEPT,
            EventData::ChatUser {
                chat_id: chat_id.to_owned(),
                user_id: user_id.to_owned(),
            },
        );
        self.add_participant(chat_id, user_id)
    }

    /// `POST /invitations/reject`: frees the reservation and moves on.
    ///
    /// # Errors
    ///
    /// 404 unknown chat/user, 409 when no invitation is pending.
    pub fn reject_invitation(&mut self, chat_id: &str, user_id: &str) -> Result<(), ApiError> {
        let id = self.find_invitation(chat_id, user_id)?;
        self.drop_invitation(&id);
        Ok(())
    }

    /// Runs a simulated agent's or expiry timer. Stale timers (invitation
    /// gone, chat closed) do nothing, and so do simulated answers and
    /// replies once simulated agents were switched off.
    pub fn run_timer(&mut self, action: &TimerAction) {
        let simulating = self.sim.simulate;
        match action {
            TimerAction::Accept(_) | TimerAction::Reject(_) | TimerAction::Reply { .. }
                if !simulating => {}
            TimerAction::Accept(id) => {
                if let Some(inv) = self.invitations.get(id) {
                    let (chat, user) = (inv.chat_id.clone(), inv.user_id.clone());
                    // Cannot fail: the invitation is pending, so chat and user exist.
                    let _ = self.accept_invitation(&chat, &user);
                }
            }
            TimerAction::Reject(id) | TimerAction::Expire(id) => self.drop_invitation(id),
            TimerAction::Reply {
                chat_id,
                agent_id,
                message_id,
            } => self.agent_reply(chat_id, agent_id, message_id),
        }
    }

    /// Removes a pending invitation as declined: frees the slot, marks the
    /// agent as declined for the chat, then moves on to the next agent.
    fn drop_invitation(&mut self, id: &str) {
        self.end_invitation(id, true);
    }

    /// A waiting chat's pending invitation to an agent who does not work in
    /// its room (it was moved) is withdrawn, not declined: the slot is freed
    /// and the chat seeks an agent in its new room.
    pub(super) fn withdraw_invitation_outside_room(&mut self, chat_id: &str) {
        let Some(room) = self.chats.get(chat_id).map(|c| c.room) else {
            return;
        };
        let Some(invitation) = self.pending_agent_invitation(chat_id) else {
            return;
        };
        if !self.works_in(&invitation.user_id, room) {
            let id = invitation.id.clone();
            self.end_invitation(&id, false);
        }
    }

    /// Whether agent `id` works in `room` (online there, or one of their
    /// home rooms).
    pub(super) fn works_in(&self, id: &str, room: u32) -> bool {
        self.users
            .get(id)
            .and_then(|u| u.agent.as_deref())
            .is_some_and(|a| a.rooms.contains(&room) || a.home_rooms.contains(&room))
    }

    /// Removes a pending invitation, frees its slot and moves on to the next
    /// agent; a `declined` one also keeps that agent from being invited to
    /// the chat again.
    pub(super) fn end_invitation(&mut self, id: &str, declined: bool) {
        let Some(invitation) = self.invitations.remove(id) else {
            return;
        };
        let mut rooms = Vec::new();
        if let Some(agent) = self.agent_mut(&invitation.user_id)
            && invitation.reserved
        {
            agent.reserved = agent.reserved.saturating_sub(1);
            rooms = agent.rooms.clone();
        }
        let chat_id = invitation.chat_id;
        let Some(chat) = self.chats.get_mut(&chat_id) else {
            return;
        };
        if declined {
            chat.rejected_by.push(invitation.user_id);
        }
        if chat.status == ChatStatus::Waiting && invitation.reserved {
            self.move_on(&chat_id);
        }
        self.dispatch_rooms(&rooms);
    }

    /// After a declined invitation: invite the next agent, else requeue (in
    /// queue mode, at the head, while someone could still take it), else
    /// `forever:alone`.
    pub(super) fn move_on(&mut self, chat_id: &str) {
        if self.ask_assign_webhook(chat_id, SeekOrigin::MoveOn) {
            return;
        }
        let algorithm = self
            .chats
            .get(chat_id)
            .map_or(Algorithm::MostFreeSlots, |c| c.algorithm);
        if let Some(agent) = self.pick_agent(chat_id, algorithm) {
            self.invite(chat_id, &agent);
        } else if self.settings.queue_active && self.anyone_could_take(chat_id) {
            self.enqueue(chat_id, true);
        } else {
            self.forever_alone(chat_id);
        }
    }

    /// Puts a chat into its room's queue (tail, or head when `front`).
    pub(super) fn enqueue(&mut self, chat_id: &str, front: bool) {
        let Some(chat) = self.chats.get_mut(chat_id) else {
            return;
        };
        if chat.in_queue {
            return;
        }
        chat.in_queue = true;
        let room = chat.room;
        let Some(r) = self.rooms.get_mut(&room) else {
            return;
        };
        if front {
            r.queue.push_front(chat_id.to_owned());
            self.emit_positions(room, 0);
        } else {
            r.queue.push_back(chat_id.to_owned());
            let from = r.queue.len() - 1;
            self.emit_positions(room, from);
        }
    }

    /// Takes a chat out of its queue; positions behind it move up.
    pub(super) fn remove_from_queue(&mut self, chat_id: &str) {
        let Some(chat) = self.chats.get_mut(chat_id) else {
            return;
        };
        if !chat.in_queue {
            return;
        }
        chat.in_queue = false;
        let room = chat.room;
        let Some(r) = self.rooms.get_mut(&room) else {
            return;
        };
        if let Some(index) = r.queue.iter().position(|id| id == chat_id) {
            r.queue.remove(index);
            let user = self.chats.get(chat_id).map(|c| c.creator.clone());
            self.emit(
                trigger::QUEUES_UPDATE,
                EventData::QueuePosition {
                    chat_id: chat_id.to_owned(),
                    user_id: user,
                    position: 0,
                    wait: 0,
                },
            );
            self.emit_positions(room, index);
        }
    }

    /// `queues:update` for the chats at `from..` (bounded by the window).
    fn emit_positions(&mut self, room: u32, from: usize) {
        let Some(r) = self.rooms.get(&room) else {
            return;
        };
        let changed: Vec<(String, u64)> = r
            .queue
            .iter()
            .enumerate()
            .skip(from)
            .take(QUEUE_EVENT_WINDOW)
            .map(|(i, id)| (id.clone(), i as u64 + 1))
            .collect();
        for (chat_id, position) in changed {
            let wait = self.estimated_wait_s(room, position);
            let user = self.chats.get(&chat_id).map(|c| c.creator.clone());
            self.emit(
                trigger::QUEUES_UPDATE,
                EventData::QueuePosition {
                    chat_id,
                    user_id: user,
                    position,
                    wait,
                },
            );
        }
    }

    /// Dispatches every room in `rooms`.
    pub(super) fn dispatch_rooms(&mut self, rooms: &[u32]) {
        for room in rooms {
            self.dispatch_room(*room);
        }
    }

    /// While the head of `room`'s queue can be given to an agent, invite
    /// one and dequeue it. A head nobody in the room could ever take leaves
    /// the queue with `forever:alone`.
    pub fn dispatch_room(&mut self, room: u32) {
        loop {
            let Some(head) = self.rooms.get(&room).and_then(|r| r.queue.front()).cloned() else {
                return;
            };
            // FIFO: nobody overtakes a head whose decision is pending.
            if self.is_deciding(&head) || self.ask_assign_webhook(&head, SeekOrigin::Dispatch) {
                return;
            }
            let algorithm = self
                .chats
                .get(&head)
                .map_or(self.settings.assign_algorithm, |c| c.algorithm);
            if let Some(agent) = self.pick_agent(&head, algorithm) {
                self.remove_from_queue(&head);
                self.invite(&head, &agent);
            } else if !self.anyone_could_take(&head) {
                self.remove_from_queue(&head);
                self.emit(trigger::FOREVER_ALONE, EventData::Chat { chat_id: head });
            } else {
                return;
            }
        }
    }

    /// `POST /invitations`: invites a user or agent into a chat.
    ///
    /// # Errors
    ///
    /// 404 unknown chat/user, 409 closed chat, already a participant, or
    /// already invited.
    pub fn create_invitation(&mut self, chat_id: &str, user_id: &str) -> Result<String, ApiError> {
        self.user(user_id)?;
        let chat = self.chat(chat_id)?;
        if chat.status == ChatStatus::Closed {
            return Err(ApiError::conflict("Chat is closed"));
        }
        if chat.users.iter().any(|u| u == user_id) {
            return Err(ApiError::conflict("User is already in the chat"));
        }
        if self
            .invitations
            .values()
            .any(|i| i.chat_id == chat_id && i.user_id == user_id)
        {
            return Err(ApiError::conflict("User is already invited"));
        }
        Ok(self.invite(chat_id, user_id))
    }

    /// `GET /queues/status`: one entry per room.
    pub fn queues_status(&self) -> Vec<serde_json::Value> {
        self.rooms
            .iter()
            .map(|(id, room)| {
                let size = room.queue.len() as u64;
                json!({"room": id, "size": size,
                       "agentsOnline": self.online_agents(*id, None).count(),
                       "estimatedWaitTime": self.estimated_wait_s(*id, size)})
            })
            .collect()
    }

    /// Marks a chat active with `agent_id` as its agent.
    pub(super) fn activate(&mut self, chat_id: &str, agent_id: &str) {
        if let Some(chat) = self.chats.get_mut(chat_id)
            && chat.status == ChatStatus::Waiting
            && chat.agent.is_none()
        {
            chat.status = ChatStatus::Active;
            chat.agent = Some(agent_id.to_owned());
            chat.activated_at_ms = Some(now_ms());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{store, user_chat};
    use super::*;

    #[test]
    fn most_free_slots_spreads_over_agents() {
        let mut s = store(false);
        let mut picked = Vec::new();
        for n in 0..4 {
            let chat = user_chat(&mut s, &format!("u{n}"), 1);
            picked.push(s.assign(&chat, None).expect("assign").expect("agent"));
        }
        picked.sort();
        assert_eq!(picked, ["a-1", "a-2", "a-3", "a-4"]);
    }

    #[test]
    fn random_assignment_replays_with_the_same_seed() {
        let picks = || {
            let mut s = store(false);
            (0..6)
                .map(|n| {
                    let chat = user_chat(&mut s, &format!("u{n}"), 1);
                    s.assign(&chat, Some(Algorithm::Random))
                        .expect("ok")
                        .expect("agent")
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(picks(), picks());
    }

    #[test]
    fn round_robin_cycles_through_the_room() {
        let mut s = store(false);
        let picked: Vec<String> = (0..5)
            .map(|n| {
                let chat = user_chat(&mut s, &format!("u{n}"), 1);
                s.assign(&chat, Some(Algorithm::RoundRobin))
                    .expect("ok")
                    .expect("agent")
            })
            .collect();
        assert_eq!(picked, ["a-1", "a-2", "a-3", "a-4", "a-1"]);
    }

    #[test]
    fn reject_moves_on_and_never_reinvites() {
        let mut s = store(false);
        let chat = user_chat(&mut s, "u", 1);
        let first = s.assign(&chat, None).expect("ok").expect("agent");
        s.reject_invitation(&chat, &first).expect("reject");
        let next = s.pending_agent_invitation(&chat).expect("moved on");
        assert_ne!(next.user_id, first);
        let agent = s.user(&first).expect("agent").agent.clone().expect("info");
        assert_eq!(agent.used_slots(), 0);
    }

    #[test]
    fn queue_is_fifo_and_dispatches_on_close() {
        let mut s = store(true);
        // 4 agents × 3 slots in room 1: the 13th chat waits in the queue.
        let chats: Vec<String> = (0..14)
            .map(|n| user_chat(&mut s, &format!("u{n}"), 1))
            .collect();
        for timer in s.take_timers() {
            s.run_timer(&timer.action);
        }
        assert_eq!(s.queue_position(s.chat(&chats[12]).expect("c")), 1);
        assert_eq!(s.queue_position(s.chat(&chats[13]).expect("c")), 2);
        s.close_chat(&chats[0], None).expect("close");
        assert!(!s.chat(&chats[12]).expect("c").in_queue);
        assert_eq!(s.queue_position(s.chat(&chats[13]).expect("c")), 1);
    }

    #[test]
    fn closing_waiting_chat_frees_reserved_slot() {
        let mut s = store(false);
        let chat = user_chat(&mut s, "u", 1);
        let agent = s.assign(&chat, None).expect("ok").expect("agent");
        s.close_chat(&chat, None).expect("close");
        let info = s.user(&agent).expect("a").agent.clone().expect("info");
        assert_eq!(info.used_slots(), 0);
        assert!(s.invitations.is_empty());
        assert!(s.take_timers().iter().all(|t| {
            s.run_timer(&t.action);
            true
        }));
    }
}
