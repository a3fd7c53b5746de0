//! Agents: availability, login/logout and agent CRUD (reference §4.2).

use super::{Reply, list, ok, success};
use crate::auth::{PublicApi, SecretApi};
use crate::config::AgentStatus;
use crate::error::ApiError;
use crate::extract::{Params, PathId};
use crate::store::view::{UserView, Wrap};
use crate::store::{AgentUpdate, AppStore};
use serde_json::json;

pub(super) async fn agents_available(PublicApi(api): PublicApi, params: Params) -> Reply {
    let rooms = params
        .u32_list("roomIds")?
        .filter(|r| !r.is_empty())
        .ok_or_else(|| ApiError::bad_request("`roomIds` is required"))?;
    let langs = params.str_list("langs")?.unwrap_or_default();
    let store = api.app.lock();
    let counts: serde_json::Map<String, serde_json::Value> = rooms
        .iter()
        .map(|room| {
            let n = if store.has_room(*room) {
                store.available_agents(*room, &langs)
            } else {
                0
            };
            (room.to_string(), n.into())
        })
        .collect();
    drop(store);
    Ok(ok(&json!({ "agents": counts })))
}

pub(super) async fn agents_online(PublicApi(api): PublicApi, params: Params) -> Reply {
    let room = params.required_u32("roomId")?;
    let lang = params.str("lang")?;
    let online = api.app.lock().any_agent_online(room, lang.as_deref());
    Ok(ok(&json!({ "agentsOnline": online })))
}

pub(super) async fn agents_login(PublicApi(api): PublicApi, params: Params) -> Reply {
    let email = params.str("email")?;
    let password = params.str("password")?;
    let agent_id = params.str("agentId")?;
    api.with_store(|s| {
        let (id, token) =
            s.agent_login(email.as_deref(), password.as_deref(), agent_id.as_deref())?;
        let agent = UserView::from(s.agent(&id)?);
        Ok(ok(&json!({"agent": agent, "session": {"token": token}})))
    })
}

pub(super) async fn agents_logout(SecretApi(api): SecretApi, params: Params) -> Reply {
    let agent_id = params.required_str("agentId")?;
    let rooms = params.u32_list("rooms")?;
    api.with_store(|s| s.agent_logout(&agent_id, rooms))?;
    Ok(success())
}

fn status_param(params: &Params) -> Result<Option<AgentStatus>, ApiError> {
    match params.str("status")? {
        None => Ok(None),
        Some(s) => AgentStatus::parse(&s)
            .map(Some)
            .ok_or_else(|| ApiError::bad_request("`status` must be online, away or offline")),
    }
}

pub(super) async fn agents_list(SecretApi(api): SecretApi, params: Params) -> Reply {
    let status = status_param(&params)?;
    let room = params.u32("room")?;
    let lang = params.str("lang")?;
    let page = params.page()?;
    let store = api.app.lock();
    let mut agents = store.list_agents(status, room);
    if let Some(lang) = &lang {
        agents.retain(|a| a.agent.as_ref().is_some_and(|x| x.langs.contains(lang)));
    }
    Ok(list("agents", agents, page, UserView::from))
}

/// `{"agent": UserView}` of agent `id`.
fn agent_response(store: &AppStore, id: &str) -> Reply {
    Ok(ok(&Wrap("agent", UserView::from(store.agent(id)?))))
}

pub(super) async fn agents_get(
    SecretApi(api): SecretApi,
    PathId(id): PathId,
    _params: Params,
) -> Reply {
    agent_response(&api.app.lock(), &id)
}

fn agent_fields(params: &Params) -> Result<AgentUpdate, ApiError> {
    // Checked as the spec declares it (a non-empty string), not stored:
    // the mock's agents have no provider ID of their own.
    params.str("providerId")?;
    Ok(AgentUpdate {
        name: params.str("name")?,
        nickname: params.str("nickname")?,
        email: params.str("email")?,
        password: params.str("password")?,
        status: status_param(params)?,
        rooms: params.u32_list("rooms")?,
        langs: params.str_list("langs")?,
        capacity: params.u32("capacity")?,
    })
}

pub(super) async fn agents_create(SecretApi(api): SecretApi, params: Params) -> Reply {
    let fields = agent_fields(&params)?;
    if fields.name.is_none() {
        return Err(ApiError::bad_request("`name` is required"));
    }
    api.with_store(|s| {
        let id = s.create_agent(fields)?;
        agent_response(s, &id)
    })
}

pub(super) async fn agents_update(
    SecretApi(api): SecretApi,
    PathId(id): PathId,
    params: Params,
) -> Reply {
    let fields = agent_fields(&params)?;
    api.with_store(|s| {
        s.update_agent(&id, fields)?;
        agent_response(s, &id)
    })
}
