//! The `webhooks:` section and the `wait_event` step: the validated model
//! (`validate::webhook` checks the file's sections into it).
//!
//! `webhooks:` says where the run's webhook receiver listens, whether the run
//! registers the webhook itself (and removes it afterwards), which events it
//! subscribes to and how late an event may be. `wait_event` makes a virtual
//! user wait for one of those events about its chat. Nothing here receives
//! anything: `app` starts the receiver and `engine` waits on inboxes.

use std::net::SocketAddr;
use std::time::Duration;

use super::matcher::BodyCheck;
use super::template::Template;
use super::{Capture, Secret};
use crate::api::same_event;

/// Event names a registration may list: the spec's `webhooks:` (reference
/// §5.1, plus `invitations:new` and the `users:join` alias of `chats:join`),
/// from the generated vocabulary.
pub const EVENT_NAMES: &[&str] = chatload_api::events::ALL;

/// Subscribed when `events` is not given: every event except the synchronous
/// `chats:assign` (answering it would take the assignment away from the API)
/// and the `users:join` alias (it would double every `chats:join`); the spec
/// marks both `x-default-subscription: false`.
pub const DEFAULT_EVENTS: &[&str] = chatload_api::events::DEFAULT_SUBSCRIPTION;

/// The template variable holding the receiver's URL (`{{ webhook_url }}`).
pub const URL_VARIABLE: &str = "webhook_url";

/// Default receiver address: loopback, any free port.
pub const DEFAULT_BIND: &str = "127.0.0.1:0";
/// Default `late_after`.
pub const DEFAULT_LATE_AFTER: Duration = Duration::from_secs(2);
/// Default `settle`.
pub const DEFAULT_SETTLE: Duration = Duration::from_secs(2);

/// The validated `webhooks:` section.
#[derive(Debug, Clone)]
pub struct WebhookSpec {
    /// Where the receiver listens.
    pub bind: SocketAddr,
    /// URL to register instead of `http://<bound address>/hooks`, when the
    /// API reaches this machine through a tunnel or proxy.
    pub public_url: Option<String>,
    /// Register before the run and delete afterwards (else: already registered).
    pub register: bool,
    /// The webhook's secret when the run does not register it.
    pub secret: Option<Secret>,
    /// Verify `X-Hook-Signature` (unsigned or forged events are counted,
    /// not routed).
    pub verify: bool,
    /// Subscribed event names.
    pub events: Vec<String>,
    /// An event later than this after its cause is counted late.
    pub late_after: Duration,
    /// After the run, how long to wait for stragglers before counting
    /// missing events.
    pub settle: Duration,
    /// Sample `GET /queues/status` every second for the Little's law check.
    pub queue_sampling: bool,
}

impl WebhookSpec {
    /// Whether `event` is subscribed (`users:join` and `chats:join` stand for each other).
    pub fn subscribes(&self, event: &str) -> bool {
        self.events.iter().any(|e| same_event(e, event))
    }
}

/// What a `wait_event` step does when its timeout passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnTimeout {
    /// The step fails with kind `timeout`.
    Fail,
    /// The user gives up: close the chat, count an abandonment, end the
    /// iteration without error.
    Abandon,
}

/// A `wait_event` step.
#[derive(Debug)]
pub struct WaitEventSpec {
    /// The awaited event name.
    pub event: String,
    pub timeout: Duration,
    /// The chat; `None`: the chat this VU created last in this iteration.
    pub chat: Option<Template>,
    /// Checks over the envelope `{trigger, appId, data, created_at}`; an
    /// operand with a template (`{ne: "{{ user_id }}"}`) is rendered once
    /// when the wait starts.
    pub filter: Vec<BodyCheck>,
    /// Values of the envelope to store.
    pub captures: Vec<Capture>,
    pub on_timeout: OnTimeout,
}
