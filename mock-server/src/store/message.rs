//! A chat's messages and history: sending (user or agent), agent replies, read
//! receipts, and importing and exporting the history.

use serde_json::json;

use super::{AppStore, ChatStatus, Message, Timer, TimerAction, now_s};
use crate::error::ApiError;
use crate::event::{EventData, NewMessage, trigger};

impl AppStore {
    /// Appends a message and emits `messages:new`; returns its index.
    pub(super) fn push_message(
        &mut self,
        chat_id: &str,
        sender: &str,
        kind: &str,
        message: serde_json::Value,
    ) -> Result<usize, ApiError> {
        self.touch(chat_id);
        let id = self.next_id("m");
        let message = Message {
            id: id.clone(),
            chat: chat_id.to_owned(),
            sender: sender.to_owned(),
            kind: kind.to_owned(),
            message,
            created: now_s(),
            read_by: Vec::new(),
        };
        let data = EventData::Message(Box::new(NewMessage {
            id: message.id.clone(),
            chat: message.chat.clone(),
            sender: message.sender.clone(),
            kind: message.kind.clone(),
            message: message.message.clone(),
            created: message.created,
        }));
        let chat = self.chat_mut(chat_id)?;
        chat.messages.push(message);
        let index = chat.messages.len() - 1;
        self.message_chat.insert(id, chat_id.to_owned());
        self.emit(trigger::MESSAGES_NEW, data);
        Ok(index)
    }

    /// `POST /chats/{chatId}/messages`. A user's message in an active chat
    /// schedules the simulated agent's reply when replies are on.
    ///
    /// # Errors
    ///
    /// 404 unknown chat/sender, 409 closed, 403 sender not in the chat.
    pub fn send_message(
        &mut self,
        chat_id: &str,
        sender: &str,
        kind: &str,
        message: serde_json::Value,
    ) -> Result<&Message, ApiError> {
        let chat = self.chat(chat_id)?;
        if chat.status == ChatStatus::Closed {
            return Err(ApiError::conflict("Chat is closed"));
        }
        let is_agent = self.user(sender)?.agent.is_some();
        if !self.is_participant(chat_id, sender) {
            return Err(ApiError::forbidden("Sender is not in the chat"));
        }
        let index = self.push_message(chat_id, sender, kind, message)?;
        let chat = self.chat(chat_id)?;
        if !is_agent
            && self.sim.simulate
            && self.sim.replies
            && chat.status == ChatStatus::Active
            && let Some(agent) = chat.agent.clone()
        {
            let message_id = chat.messages[index].id.clone();
            let delay = self.sim.reply_delay.sample(&mut self.rng);
            self.timers.push(Timer {
                delay,
                action: TimerAction::Reply {
                    chat_id: chat_id.to_owned(),
                    agent_id: agent,
                    message_id,
                },
            });
        }
        Ok(&self.chat(chat_id)?.messages[index])
    }

    /// The simulated agent's reply, if the chat is still active with it.
    pub(super) fn agent_reply(&mut self, chat_id: &str, agent_id: &str, message_id: &str) {
        let still_there = self.chats.get(chat_id).is_some_and(|c| {
            c.status == ChatStatus::Active && c.agent.as_deref() == Some(agent_id)
        });
        if still_there {
            let text = format!("Agent reply to {message_id}");
            let _ = self.push_message(chat_id, agent_id, "text", text.into());
        }
    }

    /// `PUT /messages/{messageId}/read`; returns the chat id and index.
    ///
    /// # Errors
    ///
    /// 404 unknown message/user, 403 reader not in the chat.
    pub fn mark_read(
        &mut self,
        message_id: &str,
        user_id: &str,
    ) -> Result<(String, usize), ApiError> {
        self.user(user_id)?;
        let chat_id = self
            .message_chat
            .get(message_id)
            .cloned()
            .ok_or_else(|| ApiError::not_found("Message not found"))?;
        if !self.is_participant(&chat_id, user_id) {
            return Err(ApiError::forbidden("User is not in the chat"));
        }
        let chat = self.chat_mut(&chat_id)?;
        let index = chat
            .messages
            .iter()
            .position(|m| m.id == message_id)
            .ok_or_else(|| ApiError::not_found("Message not found"))?;
        let message = &mut chat.messages[index];
        if !message.read_by.iter().any(|u| u == user_id) {
            message.read_by.push(user_id.to_owned());
        }
        self.touch(&chat_id);
        self.emit(
            trigger::MESSAGES_READ,
            EventData::MessageRead {
                chat_id: chat_id.clone(),
                message_id: message_id.to_owned(),
                user_id: user_id.to_owned(),
            },
        );
        Ok((chat_id, index))
    }

    /// `POST /chats/{chatId}/history`: appends imported entries.
    ///
    /// # Errors
    ///
    /// 404 unknown chat.
    pub fn import_history(
        &mut self,
        chat_id: &str,
        entries: Vec<serde_json::Value>,
    ) -> Result<(), ApiError> {
        let entries = normalize_history(entries);
        self.chat_mut(chat_id)?.history.extend(entries);
        Ok(())
    }

    /// The chat's history: imported entries, then its messages, as
    /// `{sender, message, created, type}` objects.
    ///
    /// # Errors
    ///
    /// 404 unknown chat.
    pub fn history(&self, chat_id: &str) -> Result<Vec<serde_json::Value>, ApiError> {
        let chat = self.chat(chat_id)?;
        let mut out = chat.history.clone();
        out.extend(chat.messages.iter().map(|m| {
            json!({"sender": m.sender, "message": m.message, "created": m.created, "type": m.kind})
        }));
        Ok(out)
    }
}

/// Gives every imported history entry a `type` (default `text`) and a
/// `created` time (default now), so exported history is uniform.
pub(super) fn normalize_history(entries: Vec<serde_json::Value>) -> Vec<serde_json::Value> {
    let now = now_s();
    entries
        .into_iter()
        .map(|mut entry| {
            if let Some(obj) = entry.as_object_mut() {
                obj.entry("type").or_insert_with(|| "text".into());
                obj.entry("created").or_insert_with(|| now.into());
            }
            entry
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{store, user_and_chat};
    use super::*;

    /// `messages:new` carries the message exactly as its view serialized
    /// into a JSON value (sorted keys), for text and object messages.
    #[test]
    fn messages_new_data_is_the_message_view_as_json() {
        let mut s = store(false);
        let (user, chat) = user_and_chat(&mut s, "bob", 1);
        for body in [
            json!("hi \"there\""),
            json!({"url": "/media/f-1", "type": "a/b"}),
        ] {
            let kind = if body.is_string() { "text" } else { "media" };
            let message = s.send_message(&chat, &user, kind, body).expect("sent");
            let expected = json!({"message": super::super::view::MessageView::from(message)});
            let event = s.events().last(1).pop().expect("event");
            assert_eq!(event.trigger, trigger::MESSAGES_NEW);
            assert_eq!(
                serde_json::to_string(&event.data).expect("typed"),
                serde_json::to_string(&expected).expect("value")
            );
        }
    }
}
