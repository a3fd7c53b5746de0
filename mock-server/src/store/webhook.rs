//! Webhook registrations and the fan-out of events to them.
//!
//! Registration is split in two so that the handshake (an HTTP call to the
//! target) happens with the store unlocked: [`AppStore::prepare_webhook`]
//! validates and draws the id and secret, the route performs the handshake,
//! then [`AppStore::insert_webhook`] activates it. [`AppStore::fan_out`]
//! turns each event into one queued delivery per subscribed webhook (plus
//! the `users:join` alias of `chats:join`); the HTTP side is `webhook`.

use super::{AppStore, Webhook};
use crate::error::ApiError;
use crate::event::{MockEvent, trigger};
use crate::webhook::sign::Secret;
use crate::webhook::{Delivery, FaultPlan, WebhookSummary};
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::sync::Arc;

/// Webhook event names a registration may list: the spec's `webhooks:`
/// (reference §5.1 plus the `invitations:new` and `users:join` aliases),
/// from the generated vocabulary.
pub const WEBHOOK_EVENTS: &[&str] = chatload_api::events::ALL;

/// A validated registration waiting for its handshake.
#[derive(Debug)]
pub struct PendingWebhook {
    /// Id drawn for it.
    pub id: String,
    /// Event names.
    pub events: Vec<String>,
    /// Target URL.
    pub target: String,
    /// HMAC secret (also the handshake's `X-Hook-Secret`).
    pub secret: Secret,
}

impl AppStore {
    /// `POST /webhooks`, first half: validates and draws the id and secret.
    ///
    /// # Errors
    ///
    /// 400 empty or unknown event names, or a target that is not an
    /// http(s) URL.
    pub fn prepare_webhook(
        &mut self,
        events: Vec<String>,
        target: String,
    ) -> Result<PendingWebhook, ApiError> {
        validate_webhook(&events, &target)?;
        self.check_destination(&target)?;
        let id = self.next_id("w");
        let secret = Secret::new(self.random_hex(16));
        Ok(PendingWebhook {
            id,
            events,
            target,
            secret,
        })
    }

    /// `POST /webhooks`, second half: the webhook becomes active.
    pub fn insert_webhook(&mut self, pending: PendingWebhook) -> &Webhook {
        let key = id_number(&pending.id);
        let endpoint = self.hub.endpoint(
            &self.app_id,
            &pending.id,
            &pending.target,
            pending.secret.expose(),
        );
        let seed = self
            .hook_seed
            .wrapping_add(key.wrapping_mul(0x2545_f491_4f6c_dd1d));
        self.webhooks.entry(key).or_insert(Webhook {
            id: pending.id,
            events: pending.events,
            endpoint,
            rng: StdRng::seed_from_u64(seed),
        })
    }

    /// `POST /webhooks` without a handshake (both halves at once).
    ///
    /// # Errors
    ///
    /// As [`Self::prepare_webhook`].
    pub fn create_webhook(
        &mut self,
        events: Vec<String>,
        target: String,
    ) -> Result<&Webhook, ApiError> {
        let pending = self.prepare_webhook(events, target)?;
        Ok(self.insert_webhook(pending))
    }

    /// 400 unless `target`'s host is in `webhooks.allowed_hosts` (the
    /// mock never connects to any other host).
    fn check_destination(&self, target: &str) -> Result<(), ApiError> {
        if self.hub.config().allows(target) {
            return Ok(());
        }
        Err(ApiError::bad_request(
            "`target` is not an allowed webhook destination (the mock's webhooks.allowed_hosts; loopback only by default)",
        ))
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

    /// `PUT /webhooks/{webhookId}`, first half: validates the change and,
    /// when the target changes, returns `(new target, secret)` for the
    /// handshake.
    ///
    /// # Errors
    ///
    /// 404 unknown, 400 invalid values.
    pub fn check_webhook_update(
        &self,
        id: &str,
        events: Option<&[String]>,
        target: Option<&str>,
    ) -> Result<Option<(String, String)>, ApiError> {
        let current = self.webhook(id)?;
        let events = events.unwrap_or(&current.events);
        let new_target = target.unwrap_or(&current.endpoint.target);
        validate_webhook(events, new_target)?;
        self.check_destination(new_target)?;
        Ok((new_target != current.endpoint.target)
            .then(|| (new_target.to_owned(), current.endpoint.secret().to_owned())))
    }

    /// `PUT /webhooks/{webhookId}`. A new target gets a new endpoint
    /// (deliveries already queued still go to the old one).
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
        self.check_webhook_update(id, events.as_deref(), target.as_deref())?;
        let (hub, app_id) = (&self.hub, &self.app_id);
        let hook = self
            .webhooks
            .get_mut(&id_number(id))
            .ok_or_else(|| ApiError::not_found("Webhook not found"))?;
        if let Some(events) = events {
            hook.events = events;
        }
        if let Some(target) = target
            && target != hook.endpoint.target
        {
            let secret = hook.endpoint.secret().to_owned();
            hook.endpoint = hub.endpoint(app_id, &hook.id, &target, &secret);
        }
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

    /// Queues `event` for every webhook that lists its trigger, and a
    /// `users:join` copy of each `chats:join` for those that list the alias.
    /// Faults are drawn here, under the lock, from each webhook's own RNG.
    pub(super) fn fan_out(&mut self, event: &MockEvent) {
        let alias = (event.trigger == trigger::CHATS_JOIN).then_some(trigger::USERS_JOIN);
        let faults = self.hub.active_faults();
        let mut shared: Option<Arc<MockEvent>> = None;
        for hook in self.webhooks.values_mut() {
            for name in std::iter::once(event.trigger).chain(alias) {
                if !hook.subscribes(name) {
                    continue;
                }
                let plan = faults
                    .as_deref()
                    .map(|f| FaultPlan {
                        break_schema: f.breaks(name),
                        ..FaultPlan::draw(f, &mut hook.rng)
                    })
                    .unwrap_or_default();
                let event = shared.get_or_insert_with(|| Arc::new(event.clone()));
                self.hub.enqueue(Delivery {
                    endpoint: Arc::clone(&hook.endpoint),
                    event: Arc::clone(event),
                    trigger: name,
                    plan,
                });
            }
        }
    }

    /// The first webhook that decides `chats:assign`, if any.
    pub(super) fn assign_webhook(&self) -> Option<&Webhook> {
        if self.webhooks.is_empty() {
            return None;
        }
        self.webhooks
            .values()
            .find(|w| w.subscribes(trigger::CHATS_ASSIGN))
    }

    /// Every registration, for the admin stats.
    pub fn webhook_summaries(&self) -> Vec<WebhookSummary> {
        self.webhooks
            .values()
            .map(|w| WebhookSummary {
                id: w.id.clone(),
                target: w.endpoint.target.clone(),
                events: w.events.clone(),
            })
            .collect()
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

#[cfg(test)]
mod tests {
    use super::super::test_support::{store, user_chat};

    /// The registration, its endpoint and a pending registration can be
    /// debug-printed whole: none of them shows the secret.
    #[test]
    fn debug_output_never_shows_a_webhook_secret() {
        let mut s = store(false);
        let target = "http://127.0.0.1:9/".to_owned();
        let pending = s
            .prepare_webhook(vec!["chats:create".to_owned()], target)
            .expect("valid");
        let secret = pending.secret.expose().to_owned();
        assert!(!format!("{pending:?}").contains(&secret));
        let hook = s.insert_webhook(pending);
        assert_eq!(hook.endpoint.secret(), secret);
        assert!(!format!("{hook:?}").contains(&secret));
    }

    #[test]
    fn chats_join_reaches_users_join_subscribers_too() {
        let mut s = store(false);
        let hook = s
            .create_webhook(
                vec!["chats:join".to_owned(), "users:join".to_owned()],
                "http://127.0.0.1:9/".to_owned(),
            )
            .expect("webhook")
            .endpoint
            .clone();
        let chat = user_chat(&mut s, "u", 1);
        s.join_chat(&chat, "a-1").expect("join");
        // One chats:join event, delivered under both names.
        let enqueued = hook.counters.get(crate::webhook::stats::Counter::Enqueued);
        assert_eq!(enqueued, 2);
    }
}
