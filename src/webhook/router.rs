//! Routes received events to the inboxes that wait for them.
//!
//! A virtual user subscribes an [`Inbox`] to each chat it creates, an agent
//! actor to its agent id; an event goes to the inbox of the chat it names and
//! to the inbox of the user it names. The API usually posts an event before
//! the response that caused it reaches the client (`chats:create` arrives
//! before `POST /chats` answers), so events for a chat nobody subscribed yet
//! are parked for a while and handed over on subscription.
//!
//! Events arrive at most a few per request, so one mutex per map is enough;
//! nothing here is on the request hot path.

use std::collections::{HashMap, VecDeque};
use std::fmt::Debug;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use super::WebhookEvent;

/// How long an event for an unknown chat or user waits for a subscriber.
pub const PARK_FOR: Duration = Duration::from_secs(30);
/// At most this many parked events (the oldest go first).
pub const PARK_CAPACITY: usize = 16_384;
/// An inbox keeps at most this many unconsumed events (the oldest go first).
pub const INBOX_CAPACITY: usize = 512;

/// Sees every verified event once, before it is routed (metrics).
pub trait EventObserver: Send + Sync + Debug {
    /// Called on the receiver's task: must not block.
    fn on_event(&self, event: &Arc<WebhookEvent>);
}

/// Events waiting to be consumed by one virtual user or agent actor.
#[derive(Debug, Default)]
pub struct Inbox {
    events: Mutex<VecDeque<Arc<WebhookEvent>>>,
    notify: Notify,
}

impl Inbox {
    pub fn new() -> Arc<Inbox> {
        Arc::new(Inbox::default())
    }

    /// Adds an event and wakes every waiter.
    pub fn push(&self, event: Arc<WebhookEvent>) {
        {
            let mut events = self.lock();
            if events.len() == INBOX_CAPACITY {
                events.pop_front();
            }
            events.push_back(event);
        }
        self.notify.notify_waiters();
    }

    /// Removes and returns the oldest event matching `pred`, if any.
    pub fn take(&self, pred: impl Fn(&WebhookEvent) -> bool) -> Option<Arc<WebhookEvent>> {
        let mut events = self.lock();
        let index = events.iter().position(|e| pred(e))?;
        events.remove(index)
    }

    /// Waits up to `timeout` for an event matching `pred` (one already
    /// received counts) and consumes it. `None` on timeout.
    pub async fn wait_for(
        &self,
        pred: impl Fn(&WebhookEvent) -> bool,
        timeout: Duration,
    ) -> Option<Arc<WebhookEvent>> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            // Registered before looking, so a push between the look and the
            // await still wakes us.
            notified.as_mut().enable();
            if let Some(event) = self.take(&pred) {
                return Some(event);
            }
            tokio::select! {
                () = &mut notified => {}
                () = tokio::time::sleep_until(deadline) => return self.take(&pred),
            }
        }
    }

    /// Drops every unconsumed event (a new iteration starts clean).
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// Unconsumed events.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Arc<WebhookEvent>>> {
        self.events.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Chat and user subscriptions, parked events and observers.
#[derive(Debug, Default)]
pub struct EventRouter {
    routes: Mutex<Routes>,
    observers: RwLock<Vec<Arc<dyn EventObserver>>>,
    unrouted: AtomicU64,
}

#[derive(Debug, Default)]
struct Routes {
    chats: HashMap<String, Arc<Inbox>>,
    users: HashMap<String, Arc<Inbox>>,
    parked: VecDeque<Arc<WebhookEvent>>,
}

impl EventRouter {
    pub fn new() -> Arc<EventRouter> {
        Arc::new(EventRouter::default())
    }

    /// Adds an observer that sees every event from now on.
    pub fn add_observer(&self, observer: Arc<dyn EventObserver>) {
        self.observers
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .push(observer);
    }

    /// Routes events about `chat_id` to `inbox` (and hands over the parked ones).
    pub fn subscribe_chat(&self, chat_id: &str, inbox: &Arc<Inbox>) {
        self.subscribe(Key::Chat, chat_id, inbox);
    }

    /// Stops routing events about `chat_id`.
    pub fn unsubscribe_chat(&self, chat_id: &str) {
        self.lock().map(Key::Chat).remove(chat_id);
    }

    /// Routes events naming `user_id` (e.g. an agent's invitations) to `inbox`.
    pub fn subscribe_user(&self, user_id: &str, inbox: &Arc<Inbox>) {
        self.subscribe(Key::User, user_id, inbox);
    }

    /// Routes events whose `key` is `id` to `inbox`, handing over the
    /// parked ones (outside the lock: pushing wakes waiters).
    fn subscribe(&self, key: Key, id: &str, inbox: &Arc<Inbox>) {
        let parked = {
            let mut routes = self.lock();
            routes.map(key).insert(id.to_owned(), Arc::clone(inbox));
            routes.unpark(|e| key.of(e) == Some(id))
        };
        for event in parked {
            inbox.push(event);
        }
    }

    /// Stops routing events naming `user_id`.
    pub fn unsubscribe_user(&self, user_id: &str) {
        self.lock().map(Key::User).remove(user_id);
    }

    /// Shows `event` to the observers, then delivers it to the chat's and the
    /// user's inboxes (once if they are the same), or parks it.
    pub fn dispatch(&self, event: WebhookEvent) {
        let event = Arc::new(event);
        for observer in self
            .observers
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
        {
            observer.on_event(&event);
        }
        let (chat_inbox, user_inbox) = {
            let mut routes = self.lock();
            let chat_inbox = event
                .chat_id
                .as_deref()
                .and_then(|c| routes.chats.get(c).cloned());
            let user_inbox = event
                .user_id
                .as_deref()
                .and_then(|u| routes.users.get(u).cloned());
            if chat_inbox.is_none() && user_inbox.is_none() {
                routes.park(Arc::clone(&event));
                self.unrouted.fetch_add(1, Ordering::Relaxed);
            }
            (chat_inbox, user_inbox)
        };
        match (chat_inbox, user_inbox) {
            (Some(chat), Some(user)) if Arc::ptr_eq(&chat, &user) => chat.push(event),
            (chat, user) => {
                if let Some(inbox) = user {
                    inbox.push(Arc::clone(&event));
                }
                if let Some(inbox) = chat {
                    inbox.push(event);
                }
            }
        }
    }

    /// Events that found no subscriber when they arrived.
    pub fn unrouted(&self) -> u64 {
        self.unrouted.load(Ordering::Relaxed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Routes> {
        self.routes.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What an event is routed by.
#[derive(Debug, Clone, Copy)]
enum Key {
    Chat,
    User,
}

impl Key {
    /// The chat or user `event` names, if it names one.
    fn of(self, event: &WebhookEvent) -> Option<&str> {
        match self {
            Key::Chat => event.chat_id.as_deref(),
            Key::User => event.user_id.as_deref(),
        }
    }
}

impl Routes {
    fn map(&mut self, key: Key) -> &mut HashMap<String, Arc<Inbox>> {
        match key {
            Key::Chat => &mut self.chats,
            Key::User => &mut self.users,
        }
    }

    fn park(&mut self, event: Arc<WebhookEvent>) {
        let now = event.arrived;
        while self
            .parked
            .front()
            .is_some_and(|e| now.saturating_duration_since(e.arrived) > PARK_FOR)
        {
            self.parked.pop_front();
        }
        if self.parked.len() == PARK_CAPACITY {
            self.parked.pop_front();
        }
        self.parked.push_back(event);
    }

    fn unpark(&mut self, matches: impl Fn(&WebhookEvent) -> bool) -> Vec<Arc<WebhookEvent>> {
        let now = Instant::now();
        let mut found = Vec::new();
        self.parked.retain(|e| {
            if now.saturating_duration_since(e.arrived) > PARK_FOR {
                return false;
            }
            if matches(e) {
                found.push(Arc::clone(e));
                return false;
            }
            true
        });
        found
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn event(trigger: &str, chat: &str, user: &str) -> WebhookEvent {
        let body = format!(
            r#"{{"trigger":"{trigger}","appId":"a","data":{{"chatId":"{chat}","userId":"{user}"}},"created_at":1}}"#
        );
        WebhookEvent::parse(body.as_bytes(), Instant::now()).expect("envelope")
    }

    /// An observer counting the events it sees.
    #[derive(Debug, Default)]
    pub(crate) struct Count(pub(crate) AtomicU64);
    impl EventObserver for Count {
        fn on_event(&self, _: &Arc<WebhookEvent>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[tokio::test]
    async fn events_reach_the_chat_and_the_user_inbox() {
        let router = EventRouter::new();
        let count = Arc::new(Count::default());
        router.add_observer(count.clone());
        let vu = Inbox::new();
        let agent = Inbox::new();
        router.subscribe_chat("c-1", &vu);
        router.subscribe_user("a-1", &agent);
        router.dispatch(event("chats:join", "c-1", "a-1"));
        router.dispatch(event("chats:join", "c-2", "a-2"));
        assert_eq!(vu.len(), 1);
        assert_eq!(agent.len(), 1);
        assert_eq!(count.0.load(Ordering::Relaxed), 2);
        assert_eq!(router.unrouted(), 1, "c-2/a-2 had no subscriber");
    }

    #[tokio::test]
    async fn early_events_are_parked_until_the_chat_is_subscribed() {
        let router = EventRouter::new();
        router.dispatch(event("chats:create", "c-7", "u-1"));
        let inbox = Inbox::new();
        router.subscribe_chat("c-7", &inbox);
        let got = inbox
            .wait_for(|e| e.trigger == "chats:create", Duration::from_millis(10))
            .await;
        assert!(got.is_some(), "the parked event was handed over");
        // Handed over once only.
        router.subscribe_chat("c-7", &inbox);
        assert!(inbox.is_empty());
    }

    #[tokio::test]
    async fn wait_for_wakes_on_a_later_event_and_times_out_otherwise() {
        let router = EventRouter::new();
        let inbox = Inbox::new();
        router.subscribe_chat("c-1", &inbox);
        let waiter = {
            let inbox = Arc::clone(&inbox);
            tokio::spawn(async move {
                inbox
                    .wait_for(|e| e.trigger == "chats:join", Duration::from_secs(5))
                    .await
            })
        };
        tokio::task::yield_now().await;
        router.dispatch(event("queues:update", "c-1", "u-1"));
        router.dispatch(event("chats:join", "c-1", "a-1"));
        let got = waiter.await.expect("task").expect("event");
        assert_eq!(got.user_id.as_deref(), Some("a-1"));
        // The queue update is still there; a join is not.
        assert_eq!(inbox.len(), 1);
        let none = inbox
            .wait_for(|e| e.trigger == "chats:join", Duration::from_millis(20))
            .await;
        assert!(none.is_none());
    }
}
