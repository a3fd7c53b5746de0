//! Webhook registrations (reference §4.11). `POST` and a `PUT` that changes
//! the target run the `X-Hook-Secret` handshake (§5.3) with the store
//! unlocked: validate and draw the secret under the lock, unlock, call the
//! target, lock again to activate. A failed handshake answers 400 and
//! registers nothing. Delivery itself is `crate::webhook`.

use super::{Reply, created, list, ok, success};
use crate::auth::{Api, SecretApi};
use crate::error::ApiError;
use crate::extract::{Params, PathId};
use crate::store::view::{WebhookView, Wrap};

pub(super) async fn webhooks_list(SecretApi(api): SecretApi, params: Params) -> Reply {
    let page = params.page()?;
    let store = api.app.lock();
    let hooks = store.list_webhooks();
    Ok(list("webhooks", hooks, page, |w| {
        WebhookView::new(w, false)
    }))
}

pub(super) async fn webhooks_get(
    SecretApi(api): SecretApi,
    PathId(id): PathId,
    _params: Params,
) -> Reply {
    let store = api.app.lock();
    let hook = store.webhook(&id)?;
    Ok(ok(&Wrap("webhook", WebhookView::new(hook, false))))
}

pub(super) async fn webhooks_create(SecretApi(api): SecretApi, params: Params) -> Reply {
    let events = params
        .str_list("events")?
        .ok_or_else(|| ApiError::bad_request("`events` is required"))?;
    let target = params.required_str("target")?;
    let pending = api.with_store(|s| s.prepare_webhook(events, target))?;
    handshake(&api, &pending.target, pending.secret.expose()).await?;
    api.with_store(|s| {
        let hook = s.insert_webhook(pending);
        Ok(created(&Wrap("webhook", WebhookView::new(hook, true))))
    })
}

/// The handshake, unless switched off (`webhooks.handshake: false`).
async fn handshake(api: &Api, target: &str, secret: &str) -> Result<(), ApiError> {
    let hub = api.state.webhooks();
    if !hub.config().handshake {
        return Ok(());
    }
    hub.handshake(&api.app.id, target, secret)
        .await
        .map_err(|why| ApiError::bad_request(format!("Webhook handshake failed: {why}")))
}

pub(super) async fn webhooks_update(
    SecretApi(api): SecretApi,
    PathId(id): PathId,
    params: Params,
) -> Reply {
    let events = params.str_list("events")?;
    let target = params.str("target")?;
    let retarget =
        api.with_store(|s| s.check_webhook_update(&id, events.as_deref(), target.as_deref()))?;
    if let Some((new_target, secret)) = retarget {
        handshake(&api, &new_target, &secret).await?;
    }
    api.with_store(|s| {
        let hook = s.update_webhook(&id, events, target)?;
        Ok(ok(&Wrap("webhook", WebhookView::new(hook, false))))
    })
}

pub(super) async fn webhooks_delete(
    SecretApi(api): SecretApi,
    PathId(id): PathId,
    _params: Params,
) -> Reply {
    api.with_store(|s| s.delete_webhook(&id))?;
    Ok(success())
}
