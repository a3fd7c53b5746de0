//! Webhook registrations (reference §4.11): state only; delivery is a
//! later issue (see `event`).

use super::{json, ok, success};
use crate::auth::SecretApi;
use crate::error::ApiError;
use crate::extract::{Params, PathId};
use crate::operation::Operation as Op;
use crate::state::AppState;
use crate::store::view::{WebhookView, Wrap};
use axum::Router;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(Op::ListWebhooks.path(), get(webhooks_list))
        .route(Op::CreateWebhook.path(), post(webhooks_create))
        .route(
            Op::GetWebhook.path(),
            get(webhooks_get)
                .put(webhooks_update)
                .delete(webhooks_delete),
        )
}

async fn webhooks_list(SecretApi(api): SecretApi, params: Params) -> Result<Response, ApiError> {
    let page = params.page()?;
    let store = api.app.lock();
    let hooks: Vec<WebhookView<'_>> = super::page(store.list_webhooks(), page)
        .into_iter()
        .map(|w| WebhookView::new(w, false))
        .collect();
    Ok(ok(&Wrap("webhooks", hooks)))
}

async fn webhooks_get(
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

async fn webhooks_create(SecretApi(api): SecretApi, params: Params) -> Result<Response, ApiError> {
    let events = params
        .str_list("events")?
        .ok_or_else(|| ApiError::bad_request("`events` is required"))?;
    let target = params.required_str("target")?;
    api.state.with_store(&api.app, |s| {
        let hook = s.create_webhook(events, target)?;
        Ok(json(
            StatusCode::CREATED,
            &Wrap("webhook", WebhookView::new(hook, true)),
        ))
    })
}

async fn webhooks_update(
    SecretApi(api): SecretApi,
    PathId(id): PathId,
    params: Params,
) -> Result<Response, ApiError> {
    let events = params.str_list("events")?;
    let target = params.str("target")?;
    api.state.with_store(&api.app, |s| {
        let hook = s.update_webhook(&id, events, target)?;
        Ok(ok(&Wrap("webhook", WebhookView::new(hook, false))))
    })
}

async fn webhooks_delete(
    SecretApi(api): SecretApi,
    PathId(id): PathId,
    _params: Params,
) -> Result<Response, ApiError> {
    api.state.with_store(&api.app, |s| s.delete_webhook(&id))?;
    Ok(success())
}
