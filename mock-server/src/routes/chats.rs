//! Chats: create, read, update, close, assign, participants (reference §4.5).

use super::{json, ok, success};
use crate::auth::SecretApi;
use crate::config::Algorithm;
use crate::error::ApiError;
use crate::extract::{Params, PathId};
use crate::store::view::{ChatView, UserView, Wrap};
use crate::store::{AppStore, ChatUpdate};
use axum::http::StatusCode;
use axum::response::Response;

/// Statuses accepted by the `status` filter of `GET /chats`.
const STATUSES: &[&str] = &["waiting", "active", "closed"];

fn chat_response(store: &AppStore, status: StatusCode, id: &str) -> Result<Response, ApiError> {
    let chat = store.chat(id)?;
    Ok(json(status, &Wrap("chat", ChatView::new(store, chat))))
}

fn agent_response(store: &AppStore, agent: Option<String>) -> Result<Response, ApiError> {
    let view = match &agent {
        Some(id) => Some(UserView::from(store.user(id)?)),
        None => None,
    };
    Ok(ok(&Wrap("agent", view)))
}

pub(super) async fn chats_create(
    SecretApi(api): SecretApi,
    params: Params,
) -> Result<Response, ApiError> {
    let creator = params.required_str("creator")?;
    let room = params.required_u32("room")?;
    let source = params.i64("source")?.unwrap_or(3);
    let lang = params.str("lang")?;
    let external_id = params.str("externalId")?;
    let history = params.array("history")?.unwrap_or_default();
    if history.iter().any(|e| !e.is_object()) {
        return Err(ApiError::bad_request("`history` entries must be objects"));
    }
    api.state.with_store(&api.app, |s| {
        let id = s.create_chat(&creator, room, source, lang, external_id, history)?;
        chat_response(s, StatusCode::CREATED, &id)
    })
}

pub(super) async fn chats_list(
    SecretApi(api): SecretApi,
    params: Params,
) -> Result<Response, ApiError> {
    let status = params.str("status")?;
    if status.as_deref().is_some_and(|s| !STATUSES.contains(&s)) {
        return Err(ApiError::bad_request(
            "`status` must be waiting, active or closed",
        ));
    }
    let room = params.u32("room")?;
    let creator = params.str("creator")?;
    let external_id = params.str("externalId")?;
    let page = params.page()?;
    let store = api.app.lock();
    let chats = store.list_chats(
        status.as_deref(),
        room,
        creator.as_deref(),
        external_id.as_deref(),
    );
    let views: Vec<ChatView<'_>> = super::page(chats, page)
        .into_iter()
        .map(|c| ChatView::new(&store, c))
        .collect();
    Ok(ok(&Wrap("chats", views)))
}

pub(super) async fn chats_get(
    SecretApi(api): SecretApi,
    PathId(id): PathId,
    _params: Params,
) -> Result<Response, ApiError> {
    chat_response(&api.app.lock(), StatusCode::OK, &id)
}

pub(super) async fn chats_update(
    SecretApi(api): SecretApi,
    PathId(id): PathId,
    params: Params,
) -> Result<Response, ApiError> {
    let update = ChatUpdate {
        room: params.u32("room")?,
        lang: params.str("lang")?,
        external_id: params.str("externalId")?,
        source: params.i64("source")?,
    };
    api.state.with_store(&api.app, |s| {
        s.update_chat(&id, update)?;
        chat_response(s, StatusCode::OK, &id)
    })
}

/// `userId` may come in the body (seed) or the query (PHP client); the
/// body wins when both are given.
pub(super) async fn chats_close(
    SecretApi(api): SecretApi,
    PathId(id): PathId,
    params: Params,
) -> Result<Response, ApiError> {
    let user = params.str_body_first("userId")?;
    api.state.with_store(&api.app, |s| {
        s.close_chat(&id, user.as_deref())?;
        chat_response(s, StatusCode::OK, &id)
    })
}

pub(super) async fn chats_assign(
    SecretApi(api): SecretApi,
    PathId(id): PathId,
    params: Params,
) -> Result<Response, ApiError> {
    let algorithm = match params.str("algorithm")? {
        Some(name) => Some(Algorithm::parse(&name).ok_or_else(|| {
            ApiError::bad_request("`algorithm` must be most-free-slots, round-robin or random")
        })?),
        None => None,
    };
    let answer = api.state.with_store(&api.app, |s| {
        let agent = s.assign(&id, algorithm)?;
        answer_unless_deciding(s, &id, agent)
    })?;
    decided(&api, &id, answer).await
}

/// The `{agent}` answer of assign and toinbox, or `None` while a
/// `chats:assign` webhook decides (the common case answers under the same
/// lock as the rule).
fn answer_unless_deciding(
    store: &AppStore,
    chat_id: &str,
    agent: Option<String>,
) -> Result<Option<Response>, ApiError> {
    if agent.is_none() && store.is_deciding(chat_id) {
        return Ok(None);
    }
    agent_response(store, agent).map(Some)
}

/// `answer`, or the outcome of the pending decision, waited for unlocked.
async fn decided(
    api: &crate::auth::Api,
    chat_id: &str,
    answer: Option<Response>,
) -> Result<Response, ApiError> {
    if let Some(response) = answer {
        return Ok(response);
    }
    api.state.wait_decided(&api.app, chat_id).await;
    let store = api.app.lock();
    let agent = store.assigned_agent(chat_id);
    agent_response(&store, agent)
}

pub(super) async fn chats_to_inbox(
    SecretApi(api): SecretApi,
    PathId(id): PathId,
    _params: Params,
) -> Result<Response, ApiError> {
    let answer = api.state.with_store(&api.app, |s| {
        let agent = s.chat_to_inbox(&id)?;
        answer_unless_deciding(s, &id, agent)
    })?;
    decided(&api, &id, answer).await
}

pub(super) async fn chats_users(
    SecretApi(api): SecretApi,
    PathId(id): PathId,
    _params: Params,
) -> Result<Response, ApiError> {
    let store = api.app.lock();
    let chat = store.chat(&id)?;
    let users: Vec<UserView<'_>> = chat
        .users
        .iter()
        .filter_map(|u| store.user(u).ok())
        .map(UserView::from)
        .collect();
    Ok(ok(&Wrap("users", users)))
}

pub(super) async fn chats_join(
    SecretApi(api): SecretApi,
    PathId(id): PathId,
    params: Params,
) -> Result<Response, ApiError> {
    let user = params.required_str("userId")?;
    api.state
        .with_store(&api.app, |s| s.join_chat(&id, &user))?;
    Ok(success())
}

pub(super) async fn chats_leave(
    SecretApi(api): SecretApi,
    PathId(id): PathId,
    params: Params,
) -> Result<Response, ApiError> {
    let user = params.required_str("userId")?;
    api.state
        .with_store(&api.app, |s| s.leave_chat(&id, &user))?;
    Ok(success())
}
