//! Chats: create, read, update, close, assign, participants (reference §4.5).

use super::{Reply, created, list, ok, success};
use crate::auth::{Api, SecretApi};
use crate::config::Algorithm;
use crate::error::ApiError;
use crate::extract::{Params, PathId};
use crate::store::view::{ChatView, UserView, Wrap};
use crate::store::{AppStore, CHAT_UPDATE_FIELDS, ChatUpdate};

/// Statuses accepted by the `status` filter of `GET /chats`.
const STATUSES: &[&str] = &["waiting", "active", "closed"];

/// `{"chat": ChatView}` of chat `id`.
fn chat_body<'s>(store: &'s AppStore, id: &str) -> Result<Wrap<ChatView<'s>>, ApiError> {
    Ok(Wrap("chat", ChatView::new(store, store.chat(id)?)))
}

pub(super) async fn chats_create(SecretApi(api): SecretApi, params: Params) -> Reply {
    let creator = params.required_str("creator")?;
    let room = params.required_u32("room")?;
    let source = params.u32("source")?.unwrap_or(3);
    let lang = params.str("lang")?;
    let external_id = params.str("externalId")?;
    let history = params.array("history")?.unwrap_or_default();
    super::messages::check_history(&history)?;
    api.with_store(|s| {
        let id = s.create_chat(&creator, room, source, lang, external_id, history)?;
        Ok(created(&chat_body(s, &id)?))
    })
}

pub(super) async fn chats_list(SecretApi(api): SecretApi, params: Params) -> Reply {
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
    Ok(list("chats", chats, page, |c| ChatView::new(&store, c)))
}

pub(super) async fn chats_get(
    SecretApi(api): SecretApi,
    PathId(id): PathId,
    _params: Params,
) -> Reply {
    Ok(ok(&chat_body(&api.app.lock(), &id)?))
}

pub(super) async fn chats_update(
    SecretApi(api): SecretApi,
    PathId(id): PathId,
    params: Params,
) -> Reply {
    params.only_body_fields(CHAT_UPDATE_FIELDS)?;
    let update = ChatUpdate {
        room: params.u32("room")?,
        lang: params.str("lang")?,
        external_id: params.str("externalId")?,
        source: params.u32("source")?,
    };
    api.with_store(|s| {
        s.update_chat(&id, update)?;
        Ok(ok(&chat_body(s, &id)?))
    })
}

/// `userId` may come in the body (seed) or the query (PHP client); the
/// body wins when both are given.
pub(super) async fn chats_close(
    SecretApi(api): SecretApi,
    PathId(id): PathId,
    params: Params,
) -> Reply {
    let user = params.str_body_first("userId")?;
    api.with_store(|s| {
        s.close_chat(&id, user.as_deref())?;
        Ok(ok(&chat_body(s, &id)?))
    })
}

pub(super) async fn chats_assign(
    SecretApi(api): SecretApi,
    PathId(id): PathId,
    params: Params,
) -> Reply {
    let algorithm = match params.str("algorithm")? {
        Some(name) => Some(Algorithm::parse(&name).ok_or_else(|| {
            ApiError::bad_request("`algorithm` must be most-free-slots, round-robin or random")
        })?),
        None => None,
    };
    agent_answer(&api, &id, |s| s.assign(&id, algorithm)).await
}

pub(super) async fn chats_to_inbox(
    SecretApi(api): SecretApi,
    PathId(id): PathId,
    _params: Params,
) -> Reply {
    agent_answer(&api, &id, |s| s.chat_to_inbox(&id)).await
}

/// The `{"agent"}` answer of assign and toinbox: the agent `rule` found
/// (answered under the same lock, the common case), or, while a
/// `chats:assign` webhook decides, the decision's outcome, waited for
/// unlocked.
async fn agent_answer(
    api: &Api,
    chat_id: &str,
    rule: impl FnOnce(&mut AppStore) -> Result<Option<String>, ApiError>,
) -> Reply {
    let answer = api.with_store(|s| {
        let agent = rule(s)?;
        if agent.is_none() && s.is_deciding(chat_id) {
            return Ok(None);
        }
        agent_response(s, agent.as_deref()).map(Some)
    })?;
    if let Some(response) = answer {
        return Ok(response);
    }
    api.state.wait_decided(&api.app, chat_id).await;
    let store = api.app.lock();
    agent_response(&store, store.assigned_agent(chat_id).as_deref())
}

fn agent_response(store: &AppStore, agent: Option<&str>) -> Reply {
    let view = agent
        .map(|id| store.user(id).map(UserView::from))
        .transpose()?;
    Ok(ok(&Wrap("agent", view)))
}

pub(super) async fn chats_users(
    SecretApi(api): SecretApi,
    PathId(id): PathId,
    _params: Params,
) -> Reply {
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
) -> Reply {
    let user = params.required_str("userId")?;
    api.with_store(|s| s.join_chat(&id, &user))?;
    Ok(success())
}

pub(super) async fn chats_leave(
    SecretApi(api): SecretApi,
    PathId(id): PathId,
    params: Params,
) -> Reply {
    let user = params.required_str("userId")?;
    api.with_store(|s| s.leave_chat(&id, &user))?;
    Ok(success())
}
