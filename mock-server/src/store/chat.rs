//! Chat lifecycle rules: create, join/leave, update, close (with its
//! `system:info` ticket), and the bounded retention of closed chats. A chat's
//! messages and history are in `message`.

use super::message::normalize_history;
use super::{AppStore, Chat, ChatStatus, now_ms, now_s};
use crate::config::Algorithm;
use crate::error::ApiError;
use crate::event::{EventData, trigger};

/// Fields of `PUT /chats/{chatId}`.
#[derive(Debug, Default)]
pub struct ChatUpdate {
    /// New room.
    pub room: Option<u32>,
    /// New language.
    pub lang: Option<String>,
    /// New external id.
    pub external_id: Option<String>,
    /// New source.
    pub source: Option<u32>,
}

/// The body fields `PUT /chats/{chatId}` takes (the spec's
/// `UpdateChatRequest`, `additionalProperties: false`).
pub const CHAT_UPDATE_FIELDS: &[&str] = &["room", "lang", "externalId", "source"];

impl AppStore {
    /// `POST /chats`: a waiting chat; queued at once in queue mode.
    ///
    /// # Errors
    ///
    /// 404 unknown creator or room, 409 `User already has a chat`.
    pub fn create_chat(
        &mut self,
        creator: &str,
        room: u32,
        source: u32,
        lang: Option<String>,
        external_id: Option<String>,
        history: Vec<serde_json::Value>,
    ) -> Result<String, ApiError> {
        let user = self.user(creator)?;
        if !self.has_room(room) {
            return Err(ApiError::not_found("Room not found"));
        }
        if user.agent.is_none() && !user.chats.is_empty() {
            return Err(ApiError::conflict("User already has a chat"));
        }
        if self.queue_is_full(room) {
            return Err(ApiError::conflict("Queue is full"));
        }
        let id = self.next_id("c");
        let chat = Chat {
            id: id.clone(),
            seq: self.counter,
            creator: creator.to_owned(),
            room,
            status: ChatStatus::Waiting,
            in_queue: false,
            source,
            lang,
            external_id,
            users: vec![creator.to_owned()],
            agent: None,
            created_at: now_s(),
            closed_at: None,
            closed_by: None,
            activated_at_ms: None,
            messages: Vec::new(),
            history: normalize_history(history),
            rejected_by: Vec::new(),
            algorithm: self.settings.assign_algorithm,
            media: Vec::new(),
            deciding: None,
            last_activity_ms: 0,
            indexed_at_ms: 0,
        };
        self.chats.insert(id.clone(), chat);
        self.file_open_chat(&id, now_ms());
        if let Some(user) = self.users.get_mut(creator) {
            user.chats.push(id.clone());
        }
        self.emit(
            trigger::CHATS_CREATE,
            EventData::ChatCreated {
                chat_id: id.clone(),
                creator: creator.to_owned(),
                room,
            },
        );
        if self.settings.queue_active {
            self.enqueue(&id, false);
            self.dispatch_room(room);
        }
        Ok(id)
    }

    /// Whether a new chat of `room` would queue behind a full queue: queue
    /// mode, a `queue.maxSize` set and that many chats already queued (a
    /// non-empty queue means no agent is free for a newcomer: FIFO). Chats
    /// requeued after a leave, a decline or `toinbox` are not refused.
    fn queue_is_full(&self, room: u32) -> bool {
        let max = self.settings.queue_max_size as usize;
        self.settings.queue_active
            && max > 0
            && self.rooms.get(&room).is_some_and(|r| r.queue.len() >= max)
    }

    /// Adds a participant (after an accepted invitation or a join). An
    /// agent takes a slot; the first agent of a waiting chat activates it.
    ///
    /// # Errors
    ///
    /// 404 unknown chat/user, 409 closed chat.
    pub(super) fn add_participant(&mut self, chat_id: &str, user_id: &str) -> Result<(), ApiError> {
        let is_agent = self.user(user_id)?.agent.is_some();
        let chat = self.chat(chat_id)?;
        if chat.status == ChatStatus::Closed {
            return Err(ApiError::conflict("Chat is closed"));
        }
        if chat.users.iter().any(|u| u == user_id) {
            return Ok(());
        }
        self.chat_mut(chat_id)?.users.push(user_id.to_owned());
        self.touch(chat_id);
        if let Some(user) = self.users.get_mut(user_id) {
            user.chats.push(chat_id.to_owned());
            if let Some(agent) = user.agent.as_deref_mut() {
                agent.active += 1;
            }
        }
        if is_agent {
            self.remove_from_queue(chat_id);
            self.activate(chat_id, user_id);
        }
        self.emit(
            trigger::CHATS_JOIN,
            EventData::ChatUser {
                chat_id: chat_id.to_owned(),
                user_id: user_id.to_owned(),
            },
        );
        Ok(())
    }

    /// `POST /chats/{chatId}/join`.
    ///
    /// # Errors
    ///
    /// As [`Self::add_participant`].
    pub fn join_chat(&mut self, chat_id: &str, user_id: &str) -> Result<(), ApiError> {
        self.add_participant(chat_id, user_id)
    }

    /// Removes a participant; frees an agent's slot. If the chat's agent
    /// leaves an active chat, it goes back to `waiting` (and, in queue mode,
    /// to the head of its queue).
    fn remove_participant(&mut self, chat_id: &str, user_id: &str) -> Vec<u32> {
        self.touch(chat_id);
        let mut rooms = Vec::new();
        if let Some(user) = self.users.get_mut(user_id) {
            user.chats.retain(|c| c != chat_id);
            if let Some(agent) = user.agent.as_deref_mut() {
                agent.active = agent.active.saturating_sub(1);
                rooms = agent.rooms.clone();
            }
        }
        if let Some(chat) = self.chats.get_mut(chat_id) {
            chat.users.retain(|u| u != user_id);
            if chat.agent.as_deref() == Some(user_id) && chat.status == ChatStatus::Active {
                chat.agent = None;
                chat.status = ChatStatus::Waiting;
                chat.activated_at_ms = None;
            }
        }
        rooms
    }

    /// `PUT /chats/{chatId}/leave`.
    ///
    /// # Errors
    ///
    /// 404 unknown chat/user, 409 closed, 403 not a participant.
    pub fn leave_chat(&mut self, chat_id: &str, user_id: &str) -> Result<(), ApiError> {
        self.user(user_id)?;
        let chat = self.chat(chat_id)?;
        if chat.status == ChatStatus::Closed {
            return Err(ApiError::conflict("Chat is closed"));
        }
        if !chat.users.iter().any(|u| u == user_id) {
            return Err(ApiError::forbidden("User is not in the chat"));
        }
        let was_agent = chat.agent.as_deref() == Some(user_id);
        let rooms = self.remove_participant(chat_id, user_id);
        if was_agent {
            // An agent who walked out is not offered the chat again.
            self.chat_mut(chat_id)?.rejected_by.push(user_id.to_owned());
        }
        self.emit(
            trigger::CHATS_LEAVE,
            EventData::ChatUser {
                chat_id: chat_id.to_owned(),
                user_id: user_id.to_owned(),
            },
        );
        if was_agent && self.settings.queue_active {
            self.enqueue(chat_id, true);
        }
        self.dispatch_rooms(&rooms);
        Ok(())
    }

    /// `POST /chats/{chatId}/toinbox`: the current agent is released and
    /// another one is looked for (never the previous one).
    ///
    /// # Errors
    ///
    /// 404 unknown chat, 409 closed.
    pub fn chat_to_inbox(&mut self, chat_id: &str) -> Result<Option<String>, ApiError> {
        let chat = self.chat(chat_id)?;
        if chat.status == ChatStatus::Closed {
            return Err(ApiError::conflict("Chat is closed"));
        }
        if let Some(agent) = chat.agent.clone() {
            let rooms = self.remove_participant(chat_id, &agent);
            self.chat_mut(chat_id)?.rejected_by.push(agent.clone());
            self.emit(
                trigger::CHATS_LEAVE,
                EventData::ChatUser {
                    chat_id: chat_id.to_owned(),
                    user_id: agent,
                },
            );
            let found = self.assign(chat_id, None)?;
            self.dispatch_rooms(&rooms);
            return Ok(found);
        }
        self.assign(chat_id, None)
    }

    /// `PUT /chats/{chatId}`; a queued chat moved to another room joins
    /// the tail of that room's queue. Closed chats may be updated too (the
    /// spec declares no conflict for this route).
    ///
    /// An active chat moves only to a room its agent works in (409
    /// otherwise): the agent would serve a room it is not in. A waiting
    /// chat's invitation to an agent who does not work in the new room is
    /// withdrawn, and the chat seeks an agent there.
    ///
    /// # Errors
    ///
    /// 404 unknown chat or room, 409 an active chat's agent not in the room.
    pub fn update_chat(&mut self, chat_id: &str, update: ChatUpdate) -> Result<(), ApiError> {
        let chat = self.chat(chat_id)?;
        if let Some(room) = update.room {
            if !self.has_room(room) {
                return Err(ApiError::not_found("Room not found"));
            }
            let agent = chat
                .agent
                .as_deref()
                .filter(|_| chat.status == ChatStatus::Active);
            if room != chat.room && agent.is_some_and(|a| !self.works_in(a, room)) {
                return Err(ApiError::conflict(format!(
                    "The chat's agent does not work in room {room}"
                )));
            }
        }
        let old_room = self.chat(chat_id)?.room;
        let requeue = update.room.is_some() && self.chat(chat_id)?.in_queue;
        if requeue {
            self.remove_from_queue(chat_id);
        }
        let chat = self.chat_mut(chat_id)?;
        // A pending `chats:assign` decision was about the old room.
        let dropped_decision = update.room.is_some() && chat.deciding.take().is_some();
        if let Some(room) = update.room {
            chat.room = room;
        }
        if update.lang.is_some() {
            chat.lang = update.lang;
        }
        if update.external_id.is_some() {
            chat.external_id = update.external_id;
        }
        if let Some(source) = update.source {
            chat.source = source;
        }
        if requeue {
            self.enqueue(chat_id, false);
            if let Some(room) = update.room {
                self.dispatch_room(room);
            }
        }
        if dropped_decision {
            self.dispatch_room(old_room);
        }
        if update.room.is_some_and(|room| room != old_room) {
            self.withdraw_invitation_outside_room(chat_id);
        }
        Ok(())
    }

    /// `DELETE /chats/{chatId}`: closes by `user_id` or by the system.
    /// Cancels pending invitations (freeing reserved slots), leaves the
    /// queue, frees every agent's slot, then lets queues take the freed
    /// slots.
    ///
    /// # Errors
    ///
    /// 404 unknown chat/user, 409 already closed, 403 user not in the chat.
    pub fn close_chat(&mut self, chat_id: &str, user_id: Option<&str>) -> Result<(), ApiError> {
        self.close_with_reason(chat_id, user_id, None)
    }

    /// The system closes an idle chat: `chats:close` with `userId`
    /// `system` and reason `inactivity` (see `inactivity`).
    ///
    /// # Errors
    ///
    /// As [`Self::close_chat`].
    pub(super) fn close_for_inactivity(&mut self, chat_id: &str) -> Result<(), ApiError> {
        self.close_with_reason(chat_id, None, Some("inactivity"))
    }

    /// [`Self::close_chat`], with the `chats:close` reason given (else
    /// derived from the closer).
    fn close_with_reason(
        &mut self,
        chat_id: &str,
        user_id: Option<&str>,
        reason: Option<&'static str>,
    ) -> Result<(), ApiError> {
        if let Some(user) = user_id {
            self.user(user)?;
        }
        let chat = self.chat(chat_id)?;
        if chat.status == ChatStatus::Closed {
            return Err(ApiError::conflict("Chat is already closed"));
        }
        if let Some(user) = user_id
            && !self.is_participant(chat_id, user)
        {
            return Err(ApiError::forbidden("User is not in the chat"));
        }
        let participants = chat.users.clone();
        let was_queued = chat.in_queue;
        let mut rooms = self.cancel_invitations(chat_id);
        self.remove_from_queue(chat_id);
        self.record_duration(chat_id);
        rooms.extend(self.release_participants(chat_id, &participants));
        self.unfile_chat(chat_id);
        let closer = user_id.unwrap_or("system").to_owned();
        let reason = reason.unwrap_or_else(|| match user_id {
            None => "system",
            Some(user) if self.users.get(user).is_some_and(|u| u.agent.is_some()) => "agent",
            Some(_) if was_queued => "queue-exit",
            Some(_) => "user",
        });
        let chat = self.chat_mut(chat_id)?;
        chat.status = ChatStatus::Closed;
        chat.closed_at = Some(now_s());
        chat.closed_by = Some(closer.clone());
        chat.deciding = None;
        self.emit_closed(chat_id, closer, reason);
        rooms.sort_unstable();
        rooms.dedup();
        self.dispatch_rooms(&rooms);
        self.media_of_closed_chat(chat_id);
        self.closed_order.push_back(chat_id.to_owned());
        self.evict_closed();
        Ok(())
    }

    /// Cancels the chat's pending invitations; returns the rooms of the agents whose
    /// reserved slot that freed.
    fn cancel_invitations(&mut self, chat_id: &str) -> Vec<u32> {
        let mut rooms = Vec::new();
        let pending: Vec<String> = self
            .invitations
            .values()
            .filter(|i| i.chat_id == chat_id)
            .map(|i| i.id.clone())
            .collect();
        for id in pending {
            if let Some(inv) = self.invitations.remove(&id)
                && let Some(agent) = self.agent_mut(&inv.user_id)
                && inv.reserved
            {
                agent.reserved = agent.reserved.saturating_sub(1);
                rooms.extend(agent.rooms.iter().copied());
            }
        }
        rooms
    }

    /// Takes the chat off its participants' and creator's lists and frees each agent's
    /// slot; returns the rooms of those agents.
    fn release_participants(&mut self, chat_id: &str, participants: &[String]) -> Vec<u32> {
        let mut rooms = Vec::new();
        for user in participants {
            if let Some(u) = self.users.get_mut(user) {
                u.chats.retain(|c| c != chat_id);
                if let Some(agent) = u.agent.as_deref_mut() {
                    agent.active = agent.active.saturating_sub(1);
                    rooms.extend(agent.rooms.iter().copied());
                }
            }
        }
        if let Some(creator) = self.chats.get(chat_id).map(|c| c.creator.clone())
            && let Some(u) = self.users.get_mut(&creator)
        {
            u.chats.retain(|c| c != chat_id);
        }
        rooms
    }

    /// Emits `chats.close`, then the ticket every closed chat becomes.
    fn emit_closed(&mut self, chat_id: &str, closer: String, reason: &'static str) {
        self.emit(
            trigger::CHATS_CLOSE,
            EventData::ChatClosed {
                chat_id: chat_id.to_owned(),
                user_id: closer,
                reason,
            },
        );
        // Every closed chat becomes a ticket; its id is also a valid
        // `GET /surveys/{surveyId}` (any positive integer is).
        self.tickets += 1;
        self.emit(
            trigger::SYSTEM_INFO,
            EventData::Ticket {
                chat_id: chat_id.to_owned(),
                ticket_id: self.tickets,
            },
        );
    }

    /// Drops the oldest closed chats (and their messages and media) beyond
    /// the configured cap.
    fn evict_closed(&mut self) {
        while self.closed_order.len() > self.closed_chat_cap {
            let Some(id) = self.closed_order.pop_front() else {
                return;
            };
            if let Some(chat) = self.chats.remove(&id) {
                for message in &chat.messages {
                    self.message_chat.remove(&message.id);
                }
                for media in &chat.media {
                    self.forget_media(media);
                }
            }
        }
    }

    /// Chats matching the filters, in creation order.
    pub fn list_chats(
        &self,
        status: Option<&str>,
        room: Option<u32>,
        creator: Option<&str>,
        external_id: Option<&str>,
    ) -> Vec<&Chat> {
        let mut chats: Vec<&Chat> = self
            .chats
            .values()
            .filter(|c| status.is_none_or(|s| c.status.as_str() == s))
            .filter(|c| room.is_none_or(|r| c.room == r))
            .filter(|c| creator.is_none_or(|u| c.creator == u))
            .filter(|c| external_id.is_none_or(|e| c.external_id.as_deref() == Some(e)))
            .collect();
        chats.sort_unstable_by_key(|c| c.seq);
        chats
    }

    /// Default algorithm for new assignments.
    pub fn default_algorithm(&self) -> Algorithm {
        self.settings.assign_algorithm
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{store, user_and_chat};
    use super::*;

    #[test]
    fn second_open_chat_is_a_conflict() {
        let mut s = store(false);
        let (user, _) = user_and_chat(&mut s, "bob", 1);
        let err = s
            .create_chat(&user, 1, 3, None, None, Vec::new())
            .expect_err("second");
        assert_eq!(err, ApiError::conflict("User already has a chat"));
    }

    #[test]
    fn message_to_closed_chat_is_a_conflict() {
        let mut s = store(false);
        let (user, chat) = user_and_chat(&mut s, "bob", 1);
        s.close_chat(&chat, Some(&user)).expect("close");
        let err = s
            .send_message(&chat, &user, "text", "hi".into())
            .expect_err("closed");
        assert_eq!(err.status(), axum::http::StatusCode::CONFLICT);
        assert!(s.user(&user).expect("u").chats.is_empty());
    }

    #[test]
    fn closed_chats_beyond_cap_are_evicted() {
        let mut s = store(false);
        s.closed_chat_cap = 2;
        let mut ids = Vec::new();
        for n in 0..3 {
            let (user, chat) = user_and_chat(&mut s, &format!("u{n}"), 1);
            s.send_message(&chat, &user, "text", "x".into()).expect("m");
            s.close_chat(&chat, None).expect("close");
            ids.push(chat);
        }
        assert!(s.chat(&ids[0]).is_err());
        assert!(s.chat(&ids[2]).is_ok());
        assert_eq!(s.message_chat.len(), 2);
    }

    /// A chat of room 1 invited to an agent of room 1, then updated:
    /// `(store, chat, the invited agent)`.
    fn invited_then_updated(update: ChatUpdate) -> (AppStore, String, String) {
        let mut s = store(false);
        let (_, chat) = user_and_chat(&mut s, "bob", 1);
        let first = s.assign(&chat, None).expect("ok").expect("agent");
        s.update_chat(&chat, update).expect("updated");
        (s, chat, first)
    }

    /// A waiting chat invited to an agent of room 1 and moved to room 2
    /// kept the invitation (the agent could accept a chat of a room they
    /// do not work in, and their slot stayed reserved). The invitation is
    /// withdrawn, the slot freed, and an agent of room 2 is invited.
    #[test]
    fn a_waiting_chat_moved_to_another_room_is_invited_there() {
        let room_2 = ChatUpdate {
            room: Some(2),
            ..ChatUpdate::default()
        };
        let (mut s, chat, first) = invited_then_updated(room_2);
        let next = s.pending_agent_invitation(&chat).expect("invited again");
        let next = s.user(&next.user_id.clone()).expect("agent");
        assert!(next.agent.as_ref().expect("info").rooms.contains(&2));
        let old = s.user(&first).expect("agent").agent.clone().expect("info");
        assert_eq!(old.used_slots(), 0, "the old agent's slot is freed");
        let err = s.accept_invitation(&chat, &first).expect_err("withdrawn");
        assert_eq!(err.status(), axum::http::StatusCode::CONFLICT);
    }

    /// Moving within the invited agent's rooms keeps the invitation.
    #[test]
    fn an_invitation_to_an_agent_of_the_new_room_stays() {
        let same_room = ChatUpdate {
            lang: Some("en".to_owned()),
            room: Some(1),
            ..ChatUpdate::default()
        };
        let (s, chat, first) = invited_then_updated(same_room);
        let pending = s.pending_agent_invitation(&chat).expect("kept");
        assert_eq!(pending.user_id, first);
    }
}
