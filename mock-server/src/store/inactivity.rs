//! The inactivity close (reference §8.1: the system closes a chat for
//! inactivity; its `chats:close` carries `extraData.reason = "inactivity"`,
//! the one close reason seen in real client code, §5.4).
//!
//! An open chat (waiting, queued or active) with no activity for the app's
//! `inactivityTimeout` seconds is closed by the system. Activity is what a
//! participant does in the chat: the chat's creation, a message (user,
//! agent, simulated reply, media upload), a read receipt, a
//! `users:activity` report naming the chat, and a participant joining or
//! leaving. Invitations, queue moves and assignment are not activity.
//!
//! Cost: recording activity writes one number into the chat ([`touch`]),
//! no index update. Open chats are filed in `inactive_index` under the
//! activity time known when they were filed, oldest first. The sweep
//! ([`AppStore::close_inactive`], run by one server task once a second for
//! every app) looks at the front only: a chat whose deadline has not come
//! is not visited; one whose filed time is old but which had activity
//! since is filed again under its latest activity (at most once per
//! timeout period), and only one that really was idle is closed. Closing a
//! chat unfiles it, so the index holds the open chats only.
//!
//! [`touch`]: AppStore::touch

use super::{AppStore, ChatStatus, now_ms};

/// Index entries the sweep looks at per call (so the app's lock is held
/// briefly; the caller calls again while [`AppStore::close_inactive`]
/// says more are due).
pub const SWEEP_BATCH: usize = 512;

impl AppStore {
    /// Files a new chat in the inactivity index at `at_ms`.
    pub(super) fn file_open_chat(&mut self, chat_id: &str, at_ms: u64) {
        if let Some(chat) = self.chats.get_mut(chat_id) {
            chat.last_activity_ms = at_ms;
            chat.indexed_at_ms = at_ms;
            self.inactive_index.insert((at_ms, chat_id.to_owned()));
        }
    }

    /// Takes a chat out of the inactivity index (it closed).
    pub(super) fn unfile_chat(&mut self, chat_id: &str) {
        if let Some(chat) = self.chats.get(chat_id) {
            let key = (chat.indexed_at_ms, chat_id.to_owned());
            self.inactive_index.remove(&key);
        }
    }

    /// Records activity in an open chat: its inactivity deadline restarts.
    pub(super) fn touch(&mut self, chat_id: &str) {
        if let Some(chat) = self.chats.get_mut(chat_id)
            && chat.status != ChatStatus::Closed
        {
            chat.last_activity_ms = chat.last_activity_ms.max(now_ms());
        }
    }

    /// Closes (reason `inactivity`, closer `system`) the open chats whose
    /// last activity is at least `inactivityTimeout` seconds before
    /// `now_ms`, looking at no more than `batch` index entries. Returns
    /// the number closed and whether more entries are due (call again).
    /// A timeout of 0 closes nothing.
    pub fn close_inactive(&mut self, now_ms: u64, batch: usize) -> (usize, bool) {
        let timeout_ms = self.settings.inactivity_timeout.saturating_mul(1000);
        if timeout_ms == 0 {
            return (0, false);
        }
        let due = |at: u64| at.saturating_add(timeout_ms) <= now_ms;
        let mut closed = 0;
        for _ in 0..batch {
            let Some(first) = self.inactive_index.first() else {
                return (closed, false);
            };
            if !due(first.0) {
                return (closed, false);
            }
            let Some((_, chat_id)) = self.inactive_index.pop_first() else {
                return (closed, false);
            };
            let Some(chat) = self.chats.get_mut(&chat_id) else {
                continue;
            };
            if chat.status == ChatStatus::Closed {
                continue;
            }
            if !due(chat.last_activity_ms) {
                // Active since it was filed: file it under its latest activity.
                chat.indexed_at_ms = chat.last_activity_ms;
                let key = (chat.last_activity_ms, chat_id);
                self.inactive_index.insert(key);
                continue;
            }
            if self.close_for_inactivity(&chat_id).is_ok() {
                closed += 1;
            }
        }
        let more = self.inactive_index.first().is_some_and(|f| due(f.0));
        (closed, more)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{store, user_and_chat};
    use super::*;
    use crate::event::trigger;

    const SECOND: u64 = 1000;

    fn timeout(s: &mut AppStore, seconds: u64) {
        s.update_settings(super::super::SettingsUpdate {
            inactivity_timeout: Some(seconds),
            ..Default::default()
        });
    }

    fn events_of(s: &AppStore, name: &str) -> Vec<serde_json::Value> {
        s.events()
            .last(1000)
            .into_iter()
            .filter(|e| e.trigger == name)
            .map(|e| e.data.to_value())
            .collect()
    }

    #[test]
    fn an_idle_chat_is_closed_by_the_system_for_inactivity() {
        let mut s = store(false);
        timeout(&mut s, 30);
        let (_, chat) = user_and_chat(&mut s, "idle", 1);
        let now = now_ms();
        assert_eq!(s.close_inactive(now + 29 * SECOND, SWEEP_BATCH), (0, false));
        assert_eq!(s.chat(&chat).expect("chat").status, ChatStatus::Waiting);
        assert_eq!(s.close_inactive(now + 31 * SECOND, SWEEP_BATCH), (1, false));
        let closed = s.chat(&chat).expect("chat");
        assert_eq!(closed.status, ChatStatus::Closed);
        assert_eq!(closed.closed_by.as_deref(), Some("system"));
        let data = events_of(&s, trigger::CHATS_CLOSE);
        assert_eq!(data.len(), 1);
        assert_eq!(data[0]["userId"], "system");
        assert_eq!(data[0]["extraData"]["reason"], "inactivity");
        // The ticket every closed chat becomes follows.
        assert_eq!(events_of(&s, trigger::SYSTEM_INFO).len(), 1);
        assert!(s.inactive_index.is_empty(), "a closed chat is unfiled");
    }

    #[test]
    fn activity_restarts_the_deadline_and_active_or_queued_chats_close_too() {
        let mut s = store(true);
        timeout(&mut s, 30);
        let (_, talking) = user_and_chat(&mut s, "talker", 1);
        let (_, silent) = user_and_chat(&mut s, "silent", 2);
        for timer in s.take_timers() {
            s.run_timer(&timer.action);
        }
        assert_eq!(s.chat(&talking).expect("c").status, ChatStatus::Active);
        let now = now_ms();
        // A message 20 s later (as if): the chat's activity moves on.
        s.chats.get_mut(&talking).expect("c").last_activity_ms = now + 20 * SECOND;
        assert_eq!(s.close_inactive(now + 31 * SECOND, SWEEP_BATCH), (1, false));
        assert_eq!(s.chat(&silent).expect("c").status, ChatStatus::Closed);
        assert_eq!(s.chat(&talking).expect("c").status, ChatStatus::Active);
        assert_eq!(s.close_inactive(now + 51 * SECOND, SWEEP_BATCH), (1, false));
        assert_eq!(s.chat(&talking).expect("c").status, ChatStatus::Closed);
    }

    #[test]
    fn a_message_is_activity_and_zero_disables_the_close() {
        let mut s = store(false);
        timeout(&mut s, 0);
        let (user, chat) = user_and_chat(&mut s, "u", 1);
        assert_eq!(s.close_inactive(u64::MAX, SWEEP_BATCH), (0, false));
        timeout(&mut s, 30);
        s.chats.get_mut(&chat).expect("c").last_activity_ms = 0;
        s.send_message(&chat, &user, "text", "hi".into())
            .expect("message");
        assert!(s.chat(&chat).expect("c").last_activity_ms > 0);
        assert_eq!(s.close_inactive(now_ms() + 10 * SECOND, SWEEP_BATCH).0, 0);
    }

    #[test]
    fn the_sweep_works_in_batches() {
        let mut s = store(false);
        timeout(&mut s, 1);
        for n in 0..5 {
            user_and_chat(&mut s, &format!("u{n}"), 1);
        }
        let later = now_ms() + 2 * SECOND;
        assert_eq!(s.close_inactive(later, 2), (2, true));
        assert_eq!(s.close_inactive(later, 2), (2, true));
        assert_eq!(s.close_inactive(later, 2), (1, false));
    }
}
