//! Invitations and queues (reference §4.7, §4.9).

use super::{Reply, ok, success};
use crate::auth::SecretApi;
use crate::error::ApiError;
use crate::extract::{Params, PathId};
use axum::response::Response;
use serde_json::json;

fn ids(params: &Params) -> Result<(String, String), ApiError> {
    Ok((
        params.required_str("chatId")?,
        params.required_str("userId")?,
    ))
}

pub(super) async fn invitations_create(SecretApi(api): SecretApi, params: Params) -> Reply {
    let (chat, user) = ids(&params)?;
    api.with_store(|s| {
        let id = s.create_invitation(&chat, &user)?;
        Ok(ok(&json!({"success": true, "invitation": {
            "id": id, "chatId": chat, "userId": user, "status": "pending",
            "createdAt": crate::store::now_s(),
        }})))
    })
}

pub(super) async fn invitations_accept(SecretApi(api): SecretApi, params: Params) -> Reply {
    let (chat, user) = ids(&params)?;
    api.with_store(|s| s.accept_invitation(&chat, &user))?;
    Ok(success())
}

pub(super) async fn invitations_reject(SecretApi(api): SecretApi, params: Params) -> Reply {
    let (chat, user) = ids(&params)?;
    api.with_store(|s| s.reject_invitation(&chat, &user))?;
    Ok(success())
}

pub(super) async fn queues_status(SecretApi(api): SecretApi, _params: Params) -> Response {
    let queues = api.app.lock().queues_status();
    ok(&json!({ "queues": queues }))
}

pub(super) async fn queues_update(
    SecretApi(api): SecretApi,
    PathId(id): PathId,
    _params: Params,
) -> Reply {
    let store = api.app.lock();
    let chat = store.chat(&id)?;
    let position = store.queue_position(chat);
    let wait = store.estimated_wait_s(chat.room, position);
    Ok(ok(&json!({
        "chatId": chat.id,
        "userId": chat.creator,
        "data": {"queuePosition": position, "estimatedWaitTime": wait},
    })))
}
