//! Webhook registrations (reference §4.11). `POST` and a `PUT` that changes
//! the target run the `X-Hook-Secret` handshake (§5.3) with the store
//! unlocked: validate and draw the secret under the lock, unlock, call the
//! target, lock again to activate. A failed handshake answers 400 and
//! registers nothing. Delivery itself is `crate::webhook`.

use super::{json, ok, success};
use crate::auth::SecretApi;
use crate::error::ApiError;
use crate::extract::{Params, PathId};
use crate::state::AppState;
use crate::store::view::{WebhookView, Wrap};
use axum::http::StatusCode;
use axum::response::Response;

pub(super) async fn webhooks_list(
    SecretApi(api): SecretApi,
    params: Params,
) -> Result<Response, ApiError> {
    let page = params.page()?;
    let store = api.app.lock();
    let hooks: Vec<WebhookView<'_>> = super::page(store.list_webhooks(), page)
        .into_iter()
        .map(|w| WebhookView::new(w, false))
        .collect();
    Ok(ok(&Wrap("webhooks", hooks)))
}

pub(super) async fn webhooks_get(
    SecretApi(api): SecretApi,
    PathId(id): PathId,
    _params: Params,
) -> Result<Response, ApiError> {
    let store = api.app.lock();
    Ok(ok(&Wrap(
        "webhook",
        WebhookView::new(store.webhook(&id)?, false),
    )))
}

pub(super) async fn webhooks_create(
    SecretApi(api): SecretApi,
    params: Params,
) -> Result<Response, ApiError> {
    let events = params
        .str_list("events")?
        .ok_or_else(|| ApiError::bad_request("`events` is required"))?;
    let target = params.required_str("target")?;
    let pending = api
        .state
        .with_store(&api.app, |s| s.prepare_webhook(events, target))?;
    handshake(&api.state, &api.app.id, &pending.target, &pending.secret).await?;
    api.state.with_store(&api.app, |s| {
        let hook = s.insert_webhook(pending);
        Ok(json(
            StatusCode::CREATED,
            &Wrap("webhook", WebhookView::new(hook, true)),
        ))
    })
}

/// The handshake, unless switched off (`webhooks.handshake: false`).
async fn handshake(
    state: &AppState,
    app_id: &str,
    target: &str,
    secret: &str,
) -> Result<(), ApiError> {
    let hub = state.webhooks();
    if !hub.config().handshake {
        return Ok(());
    }
    hub.handshake(app_id, target, secret)
        .await
        .map_err(|why| ApiError::bad_request(format!("Webhook handshake failed: {why}")))
}

pub(super) async fn webhooks_update(
    SecretApi(api): SecretApi,
    PathId(id): PathId,
    params: Params,
) -> Result<Response, ApiError> {
    let events = params.str_list("events")?;
    let target = params.str("target")?;
    let retarget = api.state.with_store(&api.app, |s| {
        s.check_webhook_update(&id, events.as_deref(), target.as_deref())
    })?;
    if let Some((new_target, secret)) = retarget {
        handshake(&api.state, &api.app.id, &new_target, &secret).await?;
    }
    api.state.with_store(&api.app, |s| {
        let hook = s.update_webhook(&id, events, target)?;
        Ok(ok(&Wrap("webhook", WebhookView::new(hook, false))))
    })
}

pub(super) async fn webhooks_delete(
    SecretApi(api): SecretApi,
    PathId(id): PathId,
    _params: Params,
) -> Result<Response, ApiError> {
    api.state.with_store(&api.app, |s| s.delete_webhook(&id))?;
    Ok(success())
}
