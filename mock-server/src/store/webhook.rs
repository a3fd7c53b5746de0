//! Webhook registrations: CRUD state only. Delivery of events to the
//! targets is a later issue (see `event::EventHook`).

use super::{AppStore, Webhook};
use crate::error::ApiError;

/// Webhook event names a registration may list (reference §5.1 plus the
/// `invitations:new` and `users:join` aliases).
pub const WEBHOOK_EVENTS: &[&str] = &[
    "chats:create",
    "chats:join",
    "chats:leave",
    "chats:close",
    "chats:assign",
    "forever:alone",
    "invitations:accept",
    "invitations:new",
    "messages:new",
    "messages:read",
    "queues:update",
    "system:info",
    "users:activity",
    "users:join",
];

impl AppStore {
    /// `POST /webhooks`.
    ///
    /// # Errors
    ///
    /// 400 empty or unknown event names, or a target that is not an
    /// http(s) URL.
    pub fn create_webhook(
        &mut self,
        events: Vec<String>,
        target: String,
    ) -> Result<&Webhook, ApiError> {
        validate_webhook(&events, &target)?;
        let id = self.next_id("w");
        let secret = self.random_hex(16);
        let key = id_number(&id);
        self.webhooks.insert(
            key,
            Webhook {
                id,
                events,
                target,
                secret,
            },
        );
        self.webhooks
            .get(&key)
            .ok_or_else(|| ApiError::not_found("Webhook not found"))
    }

    /// A webhook.
    ///
    /// # Errors
    ///
    /// 404 when unknown.
    pub fn webhook(&self, id: &str) -> Result<&Webhook, ApiError> {
        self.webhooks
            .get(&id_number(id))
            .filter(|w| w.id == id)
            .ok_or_else(|| ApiError::not_found("Webhook not found"))
    }

    /// All webhooks, in creation order.
    pub fn list_webhooks(&self) -> Vec<&Webhook> {
        self.webhooks.values().collect()
    }

    /// `PUT /webhooks/{webhookId}`.
    ///
    /// # Errors
    ///
    /// 404 unknown, 400 invalid values.
    pub fn update_webhook(
        &mut self,
        id: &str,
        events: Option<Vec<String>>,
        target: Option<String>,
    ) -> Result<&Webhook, ApiError> {
        let current = self.webhook(id)?;
        let events = events.unwrap_or_else(|| current.events.clone());
        let target = target.unwrap_or_else(|| current.target.clone());
        validate_webhook(&events, &target)?;
        let hook = self
            .webhooks
            .get_mut(&id_number(id))
            .ok_or_else(|| ApiError::not_found("Webhook not found"))?;
        hook.events = events;
        hook.target = target;
        Ok(hook)
    }

    /// `DELETE /webhooks/{webhookId}`.
    ///
    /// # Errors
    ///
    /// 404 when unknown.
    pub fn delete_webhook(&mut self, id: &str) -> Result<(), ApiError> {
        self.webhook(id)?;
        self.webhooks.remove(&id_number(id));
        Ok(())
    }
}

/// The numeric part of an id like `w-12` (0 when absent).
pub(super) fn id_number(id: &str) -> u64 {
    id.rsplit_once('-')
        .and_then(|(_, n)| n.parse().ok())
        .unwrap_or(0)
}

fn validate_webhook(events: &[String], target: &str) -> Result<(), ApiError> {
    if events.is_empty() {
        return Err(ApiError::bad_request("`events` must not be empty"));
    }
    if let Some(bad) = events
        .iter()
        .find(|e| !WEBHOOK_EVENTS.contains(&e.as_str()))
    {
        return Err(ApiError::bad_request(format!("Unknown event {bad:?}")));
    }
    if !(target.starts_with("http://") || target.starts_with("https://")) {
        return Err(ApiError::bad_request("`target` must be an http(s) URL"));
    }
    Ok(())
}
