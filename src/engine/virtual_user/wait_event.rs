//! The `wait_event` step: wait for a webhook event about the VU's chat,
//! check it, capture from it, and on timeout fail or give up (close the chat
//! as the user and count a queue abandonment).
//!
//! Events that arrived before the step started count: the inbox keeps them
//! until a wait consumes them (each event satisfies one wait).

use std::time::Instant;

use serde_json::{Value, json};

use super::Runner;
use crate::api::Operation;
use crate::api::same_event;
use crate::client::ApiRequest;
use crate::engine::mask::Masker;
use crate::engine::session::Session;
use crate::engine::webhook::EventHub;
use crate::lifecycle::Lifecycle;
use crate::metrics::FailureKind;
use crate::scenario::webhook::{OnTimeout, WaitEventSpec};
use crate::webhook::WebhookEvent;

/// How a `wait_event` ended.
pub(super) enum WaitResult {
    /// The event came (`None`) or the step failed.
    Done(Option<FailureKind>),
    /// The user gave up: the iteration ends without error.
    Abandoned,
    /// The run was aborted meanwhile.
    Aborted,
}

/// The envelope as `where` and `capture` see it.
fn envelope(e: &WebhookEvent) -> Value {
    json!({"trigger": e.trigger, "appId": e.app_id, "data": e.data, "created_at": e.created_at})
}

impl Runner {
    /// Waits (at most the step's timeout) for the awaited event about the
    /// step's chat that meets every `where` check and captures from it; on
    /// timeout fails or gives up as `on_timeout` says.
    pub(super) async fn wait_event(
        &self,
        spec: &WaitEventSpec,
        session: &mut Session,
    ) -> WaitResult {
        // Validation refuses wait_event without `webhooks:`, so both exist.
        let (Some(hooks), Some(_)) = (&self.hooks, &session.events) else {
            return WaitResult::Done(Some(FailureKind::Other));
        };
        let Some(chat) = awaited_chat(hooks, spec, session) else {
            return WaitResult::Done(Some(FailureKind::Capture));
        };
        let Some(operands) = rendered_operands(spec, session) else {
            return WaitResult::Done(Some(FailureKind::Capture));
        };
        let events = session.events.as_ref().expect("checked above");
        let inbox = events.inbox.clone();
        let matches = |e: &WebhookEvent| {
            e.chat_id.as_deref() == Some(chat.as_str())
                && same_event(&e.trigger, &spec.event)
                && (spec.filter.is_empty() || {
                    let body = envelope(e);
                    spec.filter
                        .iter()
                        .enumerate()
                        .all(|(i, c)| c.holds_with(&body, operands.get(i).and_then(Option::as_ref)))
                })
        };
        let got = tokio::select! {
            got = inbox.wait_for(matches, spec.timeout) => got,
            () = self.abort.cancelled() => return WaitResult::Aborted,
        };
        match (got, spec.on_timeout) {
            (Some(event), _) => WaitResult::Done(capture_from(spec, &event, session, &self.masker)),
            (None, OnTimeout::Fail) => WaitResult::Done(Some(FailureKind::Timeout)),
            (None, OnTimeout::Abandon) => {
                let creator = events.creator_of(&chat).map(str::to_owned);
                if self.abandon(&chat, creator.as_deref(), session).await {
                    WaitResult::Abandoned
                } else {
                    WaitResult::Aborted
                }
            }
        }
    }

    /// Closes `chat` on behalf of `creator` (as the system when unknown) and
    /// counts the abandonment. False when the run was aborted meanwhile.
    async fn abandon(&self, chat: &str, creator: Option<&str>, session: &mut Session) -> bool {
        let Some(hooks) = &self.hooks else {
            return true;
        };
        let now = Instant::now();
        hooks.tracker.abandoned(chat, now);
        hooks.tracker.request_sent(Lifecycle::Close, chat, now);
        let path = Operation::CloseChat.path_with(&[chat]);
        let body = creator.map(|u| json!({"userId": u}).to_string().into_bytes());
        let request = ApiRequest::secret(Operation::CloseChat, &path, body);
        let response = tokio::select! {
            r = self.client.send_on(&mut session.conn, request, Instant::now()) => r,
            () = self.abort.cancelled() => return false,
        };
        // Closed (or already closed): nothing is left for the clean-up.
        if let Ok(r) = response
            && ((200..300).contains(&r.status) || r.status == 409)
        {
            hooks.tracker.close_answered(chat, Instant::now());
            session.open_chats.retain(|c| c != chat);
        }
        true
    }
}

/// The chat a wait is about: the one named (subscribed to this VU's inbox
/// when it did not create it here) or the VU's latest. `None` when the name
/// does not render or there is no chat yet.
fn awaited_chat(hooks: &EventHub, spec: &WaitEventSpec, session: &mut Session) -> Option<String> {
    let Some(template) = &spec.chat else {
        let events = session.events.as_ref()?;
        return events.last_chat().map(|(chat, _)| chat.clone());
    };
    let chat = template.render(session).ok()?;
    let events = session.events.as_mut()?;
    if !events.chats.iter().any(|(c, _)| *c == chat) {
        // A chat this VU did not create here (another user's, an
        // earlier one): route it to this inbox until the iteration ends.
        hooks.router.subscribe_chat(&chat, &events.inbox);
        events.chats.insert(0, (chat.clone(), String::new()));
    }
    Some(chat)
}

/// The `where` checks' templated operands, rendered once when the wait
/// starts (empty when none has a template); `None` when one does not render.
fn rendered_operands(spec: &WaitEventSpec, session: &mut Session) -> Option<Vec<Option<Value>>> {
    if !spec.filter.iter().any(|c| c.operand.is_some()) {
        return Some(Vec::new());
    }
    spec.filter
        .iter()
        .map(|check| match &check.operand {
            Some(t) => t.render(session).ok().map(Some),
            None => Some(None),
        })
        .collect()
}

/// Stores the step's captures from the awaited event's envelope; a value
/// missing (or null) fails the step.
fn capture_from(
    spec: &WaitEventSpec,
    event: &WebhookEvent,
    session: &mut Session,
    masker: &Masker,
) -> Option<FailureKind> {
    let body = envelope(event);
    for capture in &spec.captures {
        match body.pointer(&capture.pointer) {
            Some(v) if !v.is_null() => {
                masker.captured(capture.var, v);
                session.set(capture.var, v.clone());
            }
            _ => return Some(FailureKind::Capture),
        }
    }
    None
}
