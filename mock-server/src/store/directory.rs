//! Directory-style rules: users, agents, settings, media, the app's own
//! description, and the `/__mock/state` summary.

use super::{AgentInfo, AppStore, ChatStatus, Media, User, now_s};
use crate::config::{AgentStatus, Algorithm};
use crate::error::ApiError;
use crate::event::{EventData, trigger};
use serde_json::json;

/// Agent fields of `POST /agents` and `PUT /agents/{agentId}`.
#[derive(Debug, Default)]
pub struct AgentUpdate {
    /// Name.
    pub name: Option<String>,
    /// Nickname.
    pub nickname: Option<String>,
    /// Login e-mail.
    pub email: Option<String>,
    /// Login password.
    pub password: Option<String>,
    /// Status.
    pub status: Option<AgentStatus>,
    /// Rooms.
    pub rooms: Option<Vec<u32>>,
    /// Languages.
    pub langs: Option<Vec<String>>,
    /// Capacity.
    pub capacity: Option<u32>,
}

/// Fields of `PUT /settings`.
#[derive(Debug, Default)]
pub struct SettingsUpdate {
    /// Queue mode.
    pub queue_active: Option<bool>,
    /// Queue bound per room (0 = none).
    pub queue_max_size: Option<u32>,
    /// Languages.
    pub languages: Option<Vec<String>>,
    /// Upload allow-list.
    pub allowed_file_types: Option<Vec<String>>,
    /// Default algorithm.
    pub assign_algorithm: Option<Algorithm>,
    /// Inactivity timeout (s).
    pub inactivity_timeout: Option<u64>,
}

impl AppStore {
    /// `POST /users`: returns the new id and its session token.
    ///
    /// # Errors
    ///
    /// 409 `User already exists` for a taken `externalId`.
    pub fn create_user(
        &mut self,
        name: &str,
        external_id: Option<String>,
        contact: Option<String>,
        extra_info: Option<serde_json::Value>,
    ) -> Result<(String, String), ApiError> {
        if let Some(ext) = &external_id
            && self.external_ids.contains_key(ext)
        {
            return Err(ApiError::conflict("User already exists"));
        }
        let id = self.next_id("u");
        let token = self.random_hex(16);
        if let Some(ext) = &external_id {
            self.external_ids.insert(ext.clone(), id.clone());
        }
        self.users.insert(
            id.clone(),
            User {
                id: id.clone(),
                name: name.to_owned(),
                external_id,
                contact,
                extra_info,
                nickname: None,
                created_at: now_s(),
                chats: Vec::new(),
                agent: None,
                seq: self.counter,
            },
        );
        self.tokens.insert(token.clone(), id.clone());
        self.user_added(&id, &token);
        Ok((id, token))
    }

    /// `PUT /users/{userId}`.
    ///
    /// # Errors
    ///
    /// 404 unknown user, 409 `externalId` taken by another user.
    pub fn update_user(
        &mut self,
        id: &str,
        name: Option<String>,
        external_id: Option<String>,
        contact: Option<String>,
        extra_info: Option<serde_json::Value>,
    ) -> Result<(), ApiError> {
        self.user(id)?;
        if let Some(ext) = &external_id
            && self.external_ids.get(ext).is_some_and(|owner| owner != id)
        {
            return Err(ApiError::conflict("User already exists"));
        }
        let Some(user) = self.users.get_mut(id) else {
            return Err(ApiError::not_found("User not found"));
        };
        if let Some(name) = name {
            user.name = name;
        }
        if contact.is_some() {
            user.contact = contact;
        }
        if extra_info.is_some() {
            user.extra_info = extra_info;
        }
        if let Some(ext) = external_id {
            if let Some(old) = user.external_id.replace(ext.clone()) {
                self.external_ids.remove(&old);
            }
            self.external_ids.insert(ext, id.to_owned());
        }
        Ok(())
    }

    /// Users matching `externalId` (all when `None`), in creation order.
    pub fn list_users(&self, external_id: Option<&str>) -> Vec<&User> {
        if let Some(ext) = external_id {
            return self
                .external_ids
                .get(ext)
                .and_then(|id| self.users.get(id))
                .into_iter()
                .collect();
        }
        let mut users: Vec<&User> = self.users.values().collect();
        users.sort_unstable_by_key(|u| u.seq);
        users
    }

    /// `POST /users/{userId}/activity`.
    ///
    /// # Errors
    ///
    /// 404 unknown user or chat.
    pub fn user_activity(
        &mut self,
        user_id: &str,
        chat_id: Option<&str>,
        kind: &str,
    ) -> Result<(), ApiError> {
        self.user(user_id)?;
        if let Some(chat) = chat_id {
            self.chat(chat)?;
            self.touch(chat);
        }
        self.emit(
            trigger::USERS_ACTIVITY,
            EventData::Activity {
                chat_id: chat_id.map(str::to_owned),
                kind: kind.to_owned(),
                user_id: user_id.to_owned(),
            },
        );
        Ok(())
    }

    /// Agents (users with `providerId`), in creation order, filtered.
    pub fn list_agents(&self, status: Option<AgentStatus>, room: Option<u32>) -> Vec<&User> {
        self.agent_order
            .iter()
            .filter_map(|id| self.users.get(id))
            .filter(|u| {
                u.agent.as_deref().is_some_and(|a| {
                    status.is_none_or(|s| a.status == s)
                        && room.is_none_or(|r| a.rooms.contains(&r))
                })
            })
            .collect()
    }

    /// An agent.
    ///
    /// # Errors
    ///
    /// 404 when unknown or not an agent.
    pub fn agent(&self, id: &str) -> Result<&User, ApiError> {
        self.users
            .get(id)
            .filter(|u| u.agent.is_some())
            .ok_or_else(|| ApiError::not_found("Agent not found"))
    }

    /// `GET /agents/available` for one room.
    pub fn available_agents(&self, room: u32, langs: &[String]) -> usize {
        self.online_agents(room, None)
            .filter(|a| a.free_slots() > 0)
            .filter(|a| langs.is_empty() || langs.iter().any(|l| a.langs.contains(l)))
            .count()
    }

    /// `GET /agents/online` for one room.
    pub fn any_agent_online(&self, room: u32, lang: Option<&str>) -> bool {
        self.online_agents(room, lang).next().is_some()
    }

    fn check_rooms(&self, rooms: &[u32]) -> Result<(), ApiError> {
        match rooms.iter().find(|r| !self.has_room(**r)) {
            Some(_) => Err(ApiError::not_found("Room not found")),
            None => Ok(()),
        }
    }

    /// `POST /agents`: returns the new agent's id.
    ///
    /// # Errors
    ///
    /// 400 without a name, 404 unknown room.
    pub fn create_agent(&mut self, fields: AgentUpdate) -> Result<String, ApiError> {
        let name = fields
            .name
            .ok_or_else(|| ApiError::bad_request("`name` is required"))?;
        let rooms = fields.rooms.unwrap_or_default();
        self.check_rooms(&rooms)?;
        let id = loop {
            let candidate = self.next_id("a");
            if !self.users.contains_key(&candidate) {
                break candidate;
            }
        };
        let email = fields
            .email
            .unwrap_or_else(|| format!("{id}@{}.local", self.app_id));
        self.insert_agent(
            id.clone(),
            name,
            fields.nickname,
            AgentInfo {
                provider_id: "mock".to_owned(),
                email,
                password: fields
                    .password
                    .unwrap_or_else(|| "agent-password".to_owned()),
                status: fields.status.unwrap_or(AgentStatus::Online),
                home_rooms: rooms.clone(),
                rooms: rooms.clone(),
                langs: fields.langs.unwrap_or_else(|| vec!["en".to_owned()]),
                capacity: fields.capacity.unwrap_or(3),
                active: 0,
                reserved: 0,
                idle_since: 0,
                simulated: false,
                paused_status: None,
            },
        );
        self.dispatch_rooms(&rooms);
        Ok(id)
    }

    /// `PUT /agents/{agentId}`; queues take any slot it frees.
    ///
    /// # Errors
    ///
    /// 404 unknown agent or room.
    pub fn update_agent(&mut self, id: &str, fields: AgentUpdate) -> Result<(), ApiError> {
        self.agent(id)?;
        if let Some(rooms) = &fields.rooms {
            self.check_rooms(rooms)?;
        }
        let Some(user) = self.users.get_mut(id) else {
            return Err(ApiError::not_found("Agent not found"));
        };
        set(&mut user.name, fields.name);
        if fields.nickname.is_some() {
            user.nickname = fields.nickname;
        }
        let Some(agent) = user.agent.as_deref_mut() else {
            return Err(ApiError::not_found("Agent not found"));
        };
        set(&mut agent.email, fields.email);
        set(&mut agent.password, fields.password);
        set(&mut agent.status, fields.status);
        if let Some(rooms) = fields.rooms {
            agent.home_rooms.clone_from(&rooms);
            agent.rooms = rooms;
        }
        set(&mut agent.langs, fields.langs);
        set(&mut agent.capacity, fields.capacity);
        let rooms = agent.rooms.clone();
        self.dispatch_rooms(&rooms);
        Ok(())
    }

    /// `POST /agents/login` by e-mail + password, or by agent id. Sets the
    /// agent online in its home rooms and returns a session token.
    ///
    /// # Errors
    ///
    /// 401 bad credentials.
    pub fn agent_login(
        &mut self,
        email: Option<&str>,
        password: Option<&str>,
        agent_id: Option<&str>,
    ) -> Result<(String, String), ApiError> {
        const BAD: ApiError = ApiError::Unauthorized("Invalid agent credentials");
        let id = match (agent_id, email) {
            (Some(id), _) => self.agent(id).map_err(|_| BAD)?.id.clone(),
            (None, Some(email)) => self
                .agent_order
                .iter()
                .filter_map(|id| self.users.get(id))
                .find(|u| u.agent.as_deref().is_some_and(|a| a.email == email))
                .filter(|u| {
                    u.agent
                        .as_ref()
                        .is_some_and(|a| Some(a.password.as_str()) == password)
                })
                .map(|u| u.id.clone())
                .ok_or(BAD)?,
            (None, None) => {
                return Err(ApiError::bad_request(
                    "`email` and `password`, or `agentId`, are required",
                ));
            }
        };
        let token = self.random_hex(16);
        self.tokens.insert(token.clone(), id.clone());
        let rooms = match self.agent_mut(&id) {
            Some(agent) => {
                agent.status = AgentStatus::Online;
                agent.rooms = agent.home_rooms.clone();
                agent.rooms.clone()
            }
            None => Vec::new(),
        };
        self.dispatch_rooms(&rooms);
        Ok((id, token))
    }

    /// `POST /agents/logout`: offline, or out of some rooms only.
    ///
    /// # Errors
    ///
    /// 404 unknown agent.
    pub fn agent_logout(&mut self, id: &str, rooms: Option<Vec<u32>>) -> Result<(), ApiError> {
        self.agent(id)?;
        if let Some(agent) = self.agent_mut(id) {
            match rooms {
                Some(rooms) => agent.rooms.retain(|r| !rooms.contains(r)),
                None => agent.status = AgentStatus::Offline,
            }
        }
        Ok(())
    }

    /// `PUT /settings`.
    pub fn update_settings(&mut self, update: SettingsUpdate) {
        let turned_on = update.queue_active == Some(true) && !self.settings.queue_active;
        let s = &mut self.settings;
        set(&mut s.queue_active, update.queue_active);
        set(&mut s.queue_max_size, update.queue_max_size);
        set(&mut s.languages, update.languages);
        if let Some(types) = update.allowed_file_types {
            s.allowed_file_types = types.iter().map(|t| t.to_ascii_lowercase()).collect();
        }
        set(&mut s.assign_algorithm, update.assign_algorithm);
        set(&mut s.inactivity_timeout, update.inactivity_timeout);
        if turned_on {
            let rooms: Vec<u32> = self.rooms.keys().copied().collect();
            self.dispatch_rooms(&rooms);
        }
    }

    /// Whether a file passes the allow-list: its extension or its MIME
    /// subtype (e.g. `png` of `image/png`) must be listed.
    pub fn is_file_type_allowed(&self, name: &str, content_type: &str) -> bool {
        let ext = name
            .rsplit_once('.')
            .map(|(_, e)| e.to_ascii_lowercase())
            .unwrap_or_default();
        let subtype = content_type
            .split(';')
            .next()
            .and_then(|t| t.split_once('/'))
            .map(|(_, s)| s.trim().to_ascii_lowercase())
            .unwrap_or_default();
        self.settings
            .allowed_file_types
            .iter()
            .any(|t| (!ext.is_empty() && *t == ext) || (!subtype.is_empty() && *t == subtype))
    }

    /// `POST /media`: stores the file and posts a `media` message.
    ///
    /// # Errors
    ///
    /// 404 unknown chat/sender, 409 closed chat, 403 sender not in the chat
    /// or `File type is not allowed`, 413 too large.
    pub fn upload_media(
        &mut self,
        chat_id: &str,
        sender_id: &str,
        name: String,
        content_type: String,
        bytes: bytes::Bytes,
    ) -> Result<&Media, ApiError> {
        let chat = self.chat(chat_id)?;
        if chat.status == ChatStatus::Closed {
            return Err(ApiError::conflict("Chat is closed"));
        }
        self.user(sender_id)?;
        if !self.is_participant(chat_id, sender_id) {
            return Err(ApiError::forbidden("Sender is not in the chat"));
        }
        if !self.is_file_type_allowed(&name, &content_type) {
            return Err(ApiError::forbidden("File type is not allowed"));
        }
        if bytes.len() > self.settings.max_file_size {
            return Err(ApiError::PayloadTooLarge("File is too large".into()));
        }
        let id = self.next_id("md");
        let size = bytes.len();
        let reference = json!({"url": format!("/media/{id}"), "type": content_type,
                               "name": name, "size": size});
        self.media.insert(
            id.clone(),
            Media {
                id: id.clone(),
                content_type,
                name,
                bytes,
                chat_id: chat_id.to_owned(),
                sender_id: sender_id.to_owned(),
            },
        );
        self.chat_mut(chat_id)?.media.push(id.clone());
        self.media_added(&id, size);
        self.push_message(chat_id, sender_id, "media", reference)?;
        self.media
            .get(&id)
            .ok_or_else(|| ApiError::not_found("Media not found"))
    }

    /// A stored file.
    ///
    /// # Errors
    ///
    /// 404 when unknown or evicted.
    pub fn media(&self, id: &str) -> Result<&Media, ApiError> {
        self.media
            .get(id)
            .ok_or_else(|| ApiError::not_found("Media not found"))
    }

    /// Media, optionally of one chat, by id order.
    pub fn list_media(&self, chat_id: Option<&str>) -> Vec<&Media> {
        let mut out: Vec<&Media> = self
            .media
            .values()
            .filter(|m| chat_id.is_none_or(|c| m.chat_id == c))
            .collect();
        out.sort_unstable_by_key(|m| super::webhook::id_number(&m.id));
        out
    }

    /// App name and region.
    pub fn app_info(&self) -> (&str, &str) {
        (&self.name, &self.region)
    }

    /// `PUT /apps/{appId}`.
    pub fn update_app(&mut self, name: Option<String>, region: Option<String>) {
        if let Some(name) = name {
            self.name = name;
        }
        if let Some(region) = region {
            self.region = region;
        }
    }

    /// The `/__mock/state` summary of this app.
    pub fn admin_state(&self) -> serde_json::Value {
        let agents: Vec<_> = self
            .agent_order
            .iter()
            .filter_map(|id| self.users.get(id).map(|u| (id, u.agent.as_deref())))
            .filter_map(|(id, a)| a.map(|a| (id, a)))
            .map(|(id, a)| {
                json!({"id": id, "status": a.status.as_str(), "rooms": a.rooms,
                       "capacity": a.capacity, "activeChats": a.active,
                       "reservedSlots": a.reserved, "usedSlots": a.used_slots()})
            })
            .collect();
        let queues: serde_json::Map<String, serde_json::Value> = self
            .rooms
            .iter()
            .map(|(id, r)| (id.to_string(), r.queue.len().into()))
            .collect();
        let mut counts = [0u64; 3];
        for chat in self.chats.values() {
            counts[chat.status as usize] += 1;
        }
        json!({
            "agents": agents,
            "queues": queues,
            "chats": {"waiting": counts[0], "active": counts[1], "closed": counts[2]},
            "invitationsPending": self.invitations.len(),
            "users": self.users.len() - self.agent_order.len(),
            "media": self.media.len(),
            "mediaBytes": self.media_bytes,
            "evicted": {"users": self.evicted.users, "media": self.evicted.media},
            "webhooks": self.webhooks.len(),
            "events": self.events.total(),
        })
    }
}

/// A field of a partial update: replaced when the request sent it.
fn set<T>(field: &mut T, sent: Option<T>) {
    if let Some(value) = sent {
        *field = value;
    }
}
