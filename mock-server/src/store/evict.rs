//! Bounded memory over long runs: end users and stored media are evicted by
//! caps per app, as closed chats are (`closed_chat_cap`, in `chat`).
//!
//! - **Users** (`max_users`): beyond the cap, the oldest end user with no
//!   open chat is evicted with its session token and external id. A user
//!   with an open chat (as creator or participant) is skipped and goes to
//!   the back of the order; at most [`EVICT_TRIES`] users are looked at per
//!   new user, so a store full of users with open chats can exceed the cap
//!   until their chats close. Agents are never evicted.
//! - **Media** (`max_media` files, `max_stored_media_bytes` bytes): beyond
//!   either cap, files of closed chats go first, oldest first, then the
//!   oldest files of open chats; the upload being answered always stays.
//!   A chat evicted by `closed_chat_cap` takes its files with it.
//!
//! An evicted object is gone: a request for it answers 404 JSON like an
//! unknown one (`User not found`, `Media not found`, 401 `Invalid token`
//! for its token); the `media` message pointing at an evicted file stays in
//! its chat. `/__mock/state` counts the evictions. Each step is O(log n)
//! under the app's own lock: no global lock, nothing per request beyond
//! the request that creates the object.

use super::{AppStore, webhook::id_number};

/// Users looked at per new user when the cap is exceeded.
pub const EVICT_TRIES: usize = 8;

/// Evictions so far (for `/__mock/state`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Evicted {
    /// End users evicted by `max_users`.
    pub users: u64,
    /// Files evicted by `max_media` / `max_stored_media_bytes` (not those
    /// that left with their chat).
    pub media: u64,
}

impl AppStore {
    /// End users held (agents excluded).
    pub(super) fn end_users(&self) -> usize {
        self.users.len().saturating_sub(self.agent_order.len())
    }

    /// A new end user `id` with session `token`: remembered in creation
    /// order, then users beyond `max_users` are evicted (never `id`).
    pub(super) fn user_added(&mut self, id: &str, token: &str) {
        self.user_order.push_back((id.to_owned(), token.to_owned()));
        let mut tries = EVICT_TRIES.min(self.user_order.len());
        while self.end_users() > self.max_users && tries > 0 {
            tries -= 1;
            let Some((user, token)) = self.user_order.pop_front() else {
                break;
            };
            let busy = match self.users.get(&user) {
                None => continue,
                Some(u) => u.id == id || !u.chats.is_empty(),
            };
            if busy {
                self.user_order.push_back((user, token));
                continue;
            }
            if let Some(u) = self.users.remove(&user)
                && let Some(ext) = &u.external_id
            {
                self.external_ids.remove(ext);
            }
            self.tokens.remove(&token);
            self.evicted.users += 1;
        }
    }

    /// A file `id` of `bytes` bytes was stored in an open chat: files beyond
    /// the caps are evicted (never `id`).
    pub(super) fn media_added(&mut self, id: &str, bytes: usize) {
        self.media_order
            .insert((true, id_number(id)), id.to_owned());
        self.media_bytes += bytes;
        while self.media.len() > self.max_media || self.media_bytes > self.max_stored_media_bytes {
            let Some(victim) = self
                .media_order
                .values()
                .find(|m| m.as_str() != id)
                .cloned()
            else {
                break;
            };
            self.forget_media(&victim);
            self.evicted.media += 1;
        }
    }

    /// `chat_id` closed: its files move ahead of every open chat's in the
    /// eviction order.
    pub(super) fn media_of_closed_chat(&mut self, chat_id: &str) {
        let Some(chat) = self.chats.get(chat_id) else {
            return;
        };
        for id in &chat.media {
            let n = id_number(id);
            if let Some(id) = self.media_order.remove(&(true, n)) {
                self.media_order.insert((false, n), id);
            }
        }
    }

    /// Drops a stored file (and its place in its chat's list).
    pub(super) fn forget_media(&mut self, id: &str) {
        let Some(media) = self.media.remove(id) else {
            return;
        };
        let n = id_number(id);
        self.media_order.remove(&(false, n));
        self.media_order.remove(&(true, n));
        self.media_bytes = self.media_bytes.saturating_sub(media.bytes.len());
        if let Some(chat) = self.chats.get_mut(&media.chat_id) {
            chat.media.retain(|m| m != id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{store, user_and_chat};
    use crate::error::ApiError;

    #[test]
    fn the_oldest_users_without_an_open_chat_are_evicted_beyond_the_cap() {
        let mut s = store(false);
        s.max_users = 3;
        // u-1 keeps an open chat; u-2 had one and closed it.
        let (busy, _) = user_and_chat(&mut s, "busy", 1);
        let (idle, chat) = user_and_chat(&mut s, "idle", 1);
        s.close_chat(&chat, None).expect("close");
        let (third, token) = s
            .create_user("third", Some("ext-3".into()), None, None)
            .expect("u");
        assert_eq!(s.end_users(), 3);
        let (fourth, _) = s.create_user("fourth", None, None, None).expect("u");
        assert_eq!(s.end_users(), 3);
        assert_eq!(
            s.user(&idle).expect_err("evicted"),
            ApiError::not_found("User not found")
        );
        assert!(s.user(&busy).is_ok(), "an open chat keeps its user");
        s.create_user("fifth", None, None, None).expect("u");
        assert!(s.user(&third).is_err(), "then the next oldest idle one");
        assert_eq!(
            s.user_of_token(&token),
            Err(ApiError::Unauthorized("Invalid token"))
        );
        assert!(s.external_ids.is_empty(), "its external id is free again");
        assert!(s.user(&fourth).is_ok());
        assert_eq!(s.evicted.users, 2);
    }

    #[test]
    fn closed_chats_media_go_first_then_the_oldest_and_bytes_count() {
        let mut s = store(false);
        s.max_media = 3;
        s.max_stored_media_bytes = 100;
        let (u1, open) = user_and_chat(&mut s, "a", 1);
        let (u2, closed) = user_and_chat(&mut s, "b", 1);
        let upload = |s: &mut super::AppStore, chat: &str, user: &str, size: usize| {
            let bytes = bytes::Bytes::from(vec![0u8; size]);
            let m = s.upload_media(chat, user, "f.png".into(), "image/png".into(), bytes);
            m.expect("upload").id.clone()
        };
        let old_open = upload(&mut s, &open, &u1, 10);
        let in_closed = upload(&mut s, &closed, &u2, 10);
        let newer_open = upload(&mut s, &open, &u1, 10);
        s.close_chat(&closed, None).expect("close");
        // A fourth file: the closed chat's goes, although it is newer.
        let fourth = upload(&mut s, &open, &u1, 10);
        assert!(s.media(&in_closed).is_err());
        assert!(s.media(&old_open).is_ok() && s.media(&newer_open).is_ok());
        // 91 bytes more: over 100 in all, the oldest open chat's files go.
        let big = upload(&mut s, &open, &u1, 91);
        assert!(s.media(&big).is_ok(), "the upload being answered stays");
        assert_eq!(
            s.media(&old_open).map(|m| m.id.clone()),
            Err(ApiError::not_found("Media not found"))
        );
        assert!(s.media(&newer_open).is_err() && s.media(&fourth).is_err());
        assert_eq!((s.media.len(), s.media_bytes), (1, 91));
        assert_eq!(s.chat(&open).expect("chat").media, [big]);
        assert_eq!(s.evicted.media, 4);
    }
}
