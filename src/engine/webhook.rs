//! Webhooks in the engine: each virtual user's inbox is subscribed to every
//! chat it creates, and the lifecycle operations (create, assign, message,
//! read, leave, close) are reported to the [`EventTracker`].
//!
//! Only used when the scenario has a `webhooks:` section; without one the
//! runner holds `None` and the request loop pays a branch on it, nothing
//! more. With one, a request whose route is not a lifecycle operation costs a
//! table lookup by route id.

use std::sync::Arc;
use std::time::Instant;

use serde_json::Value;

use super::session::Session;
use crate::lifecycle::{EventTracker, Lifecycle};
use crate::scenario::Scenario;
use crate::scenario::template::VarId;
use crate::scenario::webhook::URL_VARIABLE;
use crate::webhook::{EventRouter, Inbox};

/// The run's webhook events as every virtual user sees them: the router
/// that hands them out, the lifecycle tracker, each route's lifecycle step.
#[derive(Debug)]
pub struct EventHub {
    pub router: Arc<EventRouter>,
    pub tracker: Arc<EventTracker>,
    /// The lifecycle operation of each route id, computed once.
    lifecycle: Vec<Option<Lifecycle>>,
    /// `{{ webhook_url }}` and the receiver's URL, known only once it is bound.
    url: Option<(VarId, Value)>,
}

/// One virtual user's webhook state.
#[derive(Debug)]
pub struct EventSession {
    /// Where the router puts events about this VU's chats.
    pub inbox: Arc<Inbox>,
    /// Chats subscribed in this iteration, with their creator.
    pub chats: Vec<(String, String)>,
}

impl EventSession {
    /// The chat this VU created (or waited on) last in this iteration.
    pub fn last_chat(&self) -> Option<&(String, String)> {
        self.chats.last()
    }

    /// Who created `chat`, when this VU knows (it created it here).
    pub fn creator_of(&self, chat: &str) -> Option<&str> {
        self.chats
            .iter()
            .find(|(c, _)| c == chat)
            .map(|(_, u)| u.as_str())
            .filter(|u| !u.is_empty())
    }
}

impl EventHub {
    /// Hooks for `scenario`'s routes, routing with `router` and measuring
    /// with `tracker`; `url` is what `{{ webhook_url }}` renders to.
    pub fn new(
        scenario: &Scenario,
        router: Arc<EventRouter>,
        tracker: Arc<EventTracker>,
        url: &str,
    ) -> EventHub {
        let lifecycle = scenario
            .routes
            .iter()
            .map(|r| Lifecycle::of_operation(r.operation.id()))
            .collect();
        EventHub {
            router,
            tracker,
            lifecycle,
            url: scenario
                .vars
                .get(URL_VARIABLE)
                .map(|id| (id, Value::String(url.to_owned()))),
        }
    }

    fn lifecycle(&self, route: u32) -> Option<Lifecycle> {
        self.lifecycle.get(route as usize).copied().flatten()
    }

    /// Whether requests of `route` are chat lifecycle operations the
    /// tracker hears of.
    pub(super) fn tracks(&self, route: u32) -> bool {
        self.lifecycle(route).is_some()
    }

    /// Whether responses of `route` must be parsed (chat and message ids).
    pub(super) fn needs_body(&self, route: u32) -> bool {
        matches!(
            self.lifecycle(route),
            Some(Lifecycle::CreateChat | Lifecycle::SendMessage | Lifecycle::Close)
        )
    }

    /// A request of `route` to `path` is sent at `sent`.
    pub(super) fn on_send(&self, route: u32, path: &str, session: &Session, sent: Instant) {
        let Some(op) = self.lifecycle(route) else {
            return;
        };
        let chat = match op {
            Lifecycle::CreateChat => return,
            // `/messages/{id}/read` names no chat: the VU reads in its own chat.
            Lifecycle::MarkRead => session
                .events
                .as_ref()
                .and_then(EventSession::last_chat)
                .map(|(c, _)| c.as_str()),
            // `/chats/{chatId}/…`
            _ => path.split('/').nth(2).filter(|c| !c.is_empty()),
        };
        if let Some(chat) = chat {
            self.tracker.request_sent(op, chat, sent);
        }
    }

    /// A response with a 2xx `status` arrived for a request of `route` sent at `sent`.
    pub(super) fn on_response(
        &self,
        route: u32,
        status: Option<u16>,
        body: Option<&Value>,
        sent: Instant,
        session: &mut Session,
    ) {
        let Some(op) = self.lifecycle(route) else {
            return;
        };
        if !status.is_some_and(|s| (200..300).contains(&s)) {
            return;
        }
        let text = |pointer: &str| {
            body.and_then(|b| b.pointer(pointer))
                .and_then(Value::as_str)
        };
        match op {
            Lifecycle::CreateChat => {
                let Some(chat) = text("/chat/id") else { return };
                let creator = text("/chat/creator").unwrap_or_default();
                let in_queue = body
                    .and_then(|b| b.pointer("/chat/inQueue"))
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                self.tracker.chat_created(chat, creator, in_queue, sent);
                if let Some(events) = &mut session.events {
                    self.router.subscribe_chat(chat, &events.inbox);
                    events.chats.push((chat.to_owned(), creator.to_owned()));
                }
            }
            Lifecycle::SendMessage => {
                let last = session
                    .events
                    .as_ref()
                    .and_then(EventSession::last_chat)
                    .map(|(c, _)| c.as_str());
                if let (Some(id), Some(chat)) =
                    (text("/message/id"), text("/message/chat").or(last))
                {
                    self.tracker.message_sent(chat, id, sent);
                }
            }
            Lifecycle::Close => {
                if let Some(chat) = text("/chat/id") {
                    self.tracker.close_answered(chat, Instant::now());
                }
            }
            _ => {}
        }
    }

    /// Gives the VU an inbox on its first iteration and empties it on the next ones.
    pub(super) fn begin_iteration(&self, session: &mut Session) {
        if let Some((id, url)) = &self.url {
            session.set(*id, url.clone());
        }
        match &session.events {
            Some(events) => events.inbox.clear(),
            None => {
                session.events = Some(EventSession {
                    inbox: Inbox::new(),
                    chats: Vec::new(),
                });
            }
        }
    }

    /// Stops routing the iteration's chats to the VU.
    pub(super) fn end_iteration(&self, session: &mut Session) {
        if let Some(events) = &mut session.events {
            for (chat, _) in events.chats.drain(..) {
                self.router.unsubscribe_chat(&chat);
            }
        }
    }
}
