//! `AppStore`: one app's whole state and the lifecycle rules over it.
//!
//! One store per app, each behind its own `std::sync::Mutex` in an
//! [`AppHandle`]: an app is the natural sharding unit (no request touches
//! two apps), the critical sections are short and never span an `.await`,
//! so a std mutex beats an async one. Rules are methods returning
//! `Result<_, ApiError>` (unit-testable without HTTP), split by concern:
//! `chat` (chat lifecycle and messages), `assign` (assignment, invitations,
//! queue), `decision` (the `chats:assign` webhook's say in assignment),
//! `directory` (users, agents, settings, media), `evict` (the user and
//! media caps), `inactivity` (closing idle chats), `webhook` (registrations
//! and the fan-out of events to them), `simulation` (the run-time switch of
//! simulated agents), `view` (JSON shapes of §7). Rules never do I/O: one
//! that starts a timer (simulated agents) pushes a [`Timer`], one that needs
//! a webhook's answer pushes an [`AssignDecision`]; the caller hands both
//! over after unlocking (`AppState::with_store`).

mod assign;
mod chat;
mod decision;
mod directory;
mod evict;
mod inactivity;
mod message;
mod model;
mod simulation;
pub mod view;
mod webhook;

use crate::config::{AgentStatus, AppConfig, MockConfig, SimulationConfig};
use crate::error::ApiError;
use crate::event::{EventData, EventHook, EventLog};
use crate::webhook::WebhookHub;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

/// The store's hash maps: foldhash instead of SipHash, whose cost showed in
/// every rule (ids are short keys, hashed several times per request).
type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

pub use assign::QUEUE_EVENT_WINDOW;
pub use chat::{CHAT_UPDATE_FIELDS, ChatUpdate};
pub use directory::{AgentUpdate, SettingsUpdate};
pub use evict::{EVICT_TRIES, Evicted};
pub use inactivity::SWEEP_BATCH;
pub use model::*;
pub use webhook::{PendingWebhook, WEBHOOK_EVENTS};

/// Default mean chat duration for wait estimates before any chat closed.
const DEFAULT_CHAT_DURATION_MS: u64 = 60_000;
/// How many recent chat durations feed the wait estimate.
const RECENT_DURATIONS: usize = 20;

/// One app: immutable credentials (checked without the lock) and its store.
#[derive(Debug)]
pub struct AppHandle {
    /// App ID.
    pub id: Arc<str>,
    /// Secret.
    pub secret: String,
    /// Domain key, if any.
    pub domain_key: Option<String>,
    store: Mutex<AppStore>,
    /// Woken whenever a `chats:assign` decision of this app is resolved
    /// (requests that answer with its outcome wait on it, unlocked).
    decided: tokio::sync::Notify,
    /// This app's request rate limit (unlimited unless configured).
    pub limiter: crate::limit::TokenBucket,
    /// The app whose secret created this one through `POST /apps` (it may
    /// administer it too); `None` for configured apps.
    pub owner: Option<Arc<str>>,
}

impl AppHandle {
    /// Builds an app from its config.
    pub fn new(
        app: &AppConfig,
        global: &MockConfig,
        app_index: u64,
        seq: Arc<AtomicU64>,
        hook: Option<Arc<dyn EventHook>>,
        hub: &WebhookHub,
    ) -> AppHandle {
        let id: Arc<str> = Arc::from(app.id.as_str());
        let store = AppStore::new(app, global, app_index, Arc::clone(&id), seq, hook, hub);
        AppHandle {
            id,
            secret: app.secret.clone(),
            domain_key: app.domain_key.clone(),
            store: Mutex::new(store),
            decided: tokio::sync::Notify::new(),
            limiter: crate::limit::TokenBucket::new(global.rate_limit),
            owner: None,
        }
    }

    /// Whether the secret of app `caller` may administer this app
    /// (`GET`/`PUT /apps/{appId}`, `GET /apps`): its own app, or one it
    /// created.
    pub fn administered_by(&self, caller: &str) -> bool {
        *self.id == *caller || self.owner.as_deref() == Some(caller)
    }

    /// Notified after each resolved `chats:assign` decision.
    pub fn decided(&self) -> &tokio::sync::Notify {
        &self.decided
    }

    /// Locks the store. A poisoned lock (a panic elsewhere) is recovered:
    /// every rule leaves the store consistent before it can fail.
    pub fn lock(&self) -> MutexGuard<'_, AppStore> {
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One app's state.
#[derive(Debug)]
pub struct AppStore {
    app_id: Arc<str>,
    name: String,
    region: String,
    settings: Settings,
    sim: SimulationConfig,
    closed_chat_cap: usize,
    rooms: BTreeMap<u32, Room>,
    users: Map<String, User>,
    agent_order: Vec<String>,
    external_ids: Map<String, String>,
    tokens: Map<String, String>,
    chats: Map<String, Chat>,
    /// Open chats by the activity time they are filed under (see
    /// `inactivity`): the oldest first, so the sweep looks at the front only.
    inactive_index: BTreeSet<(u64, String)>,
    closed_order: VecDeque<String>,
    message_chat: Map<String, String>,
    invitations: Map<String, Invitation>,
    media: Map<String, Media>,
    /// Caps of `evict`: end users, stored files and their bytes.
    max_users: usize,
    max_media: usize,
    max_stored_media_bytes: usize,
    /// End users in creation order, with their session token.
    user_order: VecDeque<(String, String)>,
    /// Stored files in eviction order: (in an open chat, id number).
    media_order: BTreeMap<(bool, u64), String>,
    /// Bytes of the stored files.
    media_bytes: usize,
    evicted: Evicted,
    webhooks: BTreeMap<u64, Webhook>,
    recent_durations_ms: VecDeque<u64>,
    /// Creation order across every kind of object.
    counter: u64,
    /// Per-prefix id counters (`u`, `c`, `m`, …): ids are `u-1`, `c-1`, ….
    /// A handful of prefixes: a short list beats hashing the prefix.
    id_counters: Vec<(&'static str, u64)>,
    tick: u64,
    rng: StdRng,
    events: EventLog,
    timers: Vec<Timer>,
    /// Delivery queue, client and counters of every webhook.
    hub: WebhookHub,
    /// `chats:assign` questions for the caller to ask after unlocking.
    decisions: Vec<AssignDecision>,
    decision_seq: u64,
    /// Seeds each webhook's fault RNG (with its id number).
    hook_seed: u64,
    /// Ticket ids of `system:info` (also valid survey ids).
    tickets: u64,
    /// Whether simulated agents run (`PUT /__mock/simulation`); the
    /// configured `simulation.simulate` is restored when switched back on.
    configured_simulate: bool,
    agents_switched_off: bool,
}

/// Unix seconds now.
pub fn now_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Settings {
    /// The settings `app` configures; the file size limit is the mock's.
    fn configured(app: &AppConfig, global: &MockConfig) -> Self {
        Settings {
            queue_active: app.queue_mode,
            queue_max_size: 0,
            languages: app.languages.clone(),
            allowed_file_types: app
                .allowed_file_types
                .iter()
                .map(|t| t.to_ascii_lowercase())
                .collect(),
            max_file_size: global.max_media_bytes,
            assign_algorithm: app.assign_algorithm,
            inactivity_timeout: 600,
        }
    }
}

impl AppStore {
    /// Builds the store of one configured app.
    pub fn new(
        app: &AppConfig,
        global: &MockConfig,
        app_index: u64,
        app_id: Arc<str>,
        seq: Arc<AtomicU64>,
        hook: Option<Arc<dyn EventHook>>,
        hub: &WebhookHub,
    ) -> AppStore {
        let sim = app
            .simulation
            .clone()
            .unwrap_or_else(|| global.simulation.clone());
        let mut store = AppStore {
            app_id: Arc::clone(&app_id),
            name: app.name.clone().unwrap_or_else(|| app.id.clone()),
            region: app.region.clone(),
            settings: Settings::configured(app, global),
            configured_simulate: sim.simulate,
            agents_switched_off: false,
            sim,
            closed_chat_cap: global.closed_chat_cap,
            rooms: app.rooms.iter().map(|r| (*r, Room::default())).collect(),
            users: Map::default(),
            agent_order: Vec::new(),
            external_ids: Map::default(),
            tokens: Map::default(),
            chats: Map::default(),
            inactive_index: BTreeSet::new(),
            closed_order: VecDeque::new(),
            message_chat: Map::default(),
            invitations: Map::default(),
            media: Map::default(),
            max_users: global.max_users,
            max_media: global.max_media,
            max_stored_media_bytes: global.max_stored_media_bytes,
            user_order: VecDeque::new(),
            media_order: BTreeMap::new(),
            media_bytes: 0,
            evicted: Evicted::default(),
            webhooks: BTreeMap::new(),
            recent_durations_ms: VecDeque::new(),
            counter: 0,
            id_counters: Vec::new(),
            tick: 0,
            rng: StdRng::seed_from_u64(global.seed.wrapping_add(app_index.wrapping_mul(7919))),
            events: EventLog::new(app_id, global.event_buffer, seq, hook),
            timers: Vec::new(),
            hub: hub.clone(),
            decisions: Vec::new(),
            decision_seq: 0,
            hook_seed: global.seed ^ 0x9e37_79b9_7f4a_7c15 ^ app_index.wrapping_mul(7919),
            tickets: 0,
        };
        store.insert_configured_agents(app);
        store
    }

    /// Inserts each agent `app` configures, with the defaults for what it leaves out.
    fn insert_configured_agents(&mut self, app: &AppConfig) {
        for agent in app.all_agents() {
            let email = agent
                .email
                .clone()
                .unwrap_or_else(|| format!("{}@{}.local", agent.id, app.id));
            self.insert_agent(
                agent.id.clone(),
                agent.name.clone().unwrap_or_else(|| agent.id.clone()),
                agent.nickname.clone(),
                AgentInfo {
                    provider_id: "mock".to_owned(),
                    email,
                    password: agent
                        .password
                        .clone()
                        .unwrap_or_else(|| "agent-password".to_owned()),
                    status: agent.status,
                    rooms: agent.rooms.clone(),
                    home_rooms: agent.rooms.clone(),
                    langs: agent.langs.clone(),
                    capacity: agent.capacity,
                    active: 0,
                    reserved: 0,
                    idle_since: 0,
                    simulated: true,
                    paused_status: None,
                },
            );
        }
    }

    /// The app id.
    pub fn app_id(&self) -> &str {
        &self.app_id
    }

    /// Settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Simulated-agent settings.
    pub fn simulation(&self) -> &SimulationConfig {
        &self.sim
    }

    /// The event log.
    pub fn events(&self) -> &EventLog {
        &self.events
    }

    /// Timers created by the last rule calls; the caller schedules them.
    pub fn take_timers(&mut self) -> Vec<Timer> {
        std::mem::take(&mut self.timers)
    }

    /// `chats:assign` decisions created by the last rule calls; the caller
    /// asks the webhook after unlocking and resolves each one.
    pub fn take_decisions(&mut self) -> Vec<AssignDecision> {
        std::mem::take(&mut self.decisions)
    }

    /// The next id of a kind, e.g. `c-3`; also advances the creation order.
    fn next_id(&mut self, prefix: &'static str) -> String {
        self.counter += 1;
        let n = match self.id_counters.iter_mut().find(|(p, _)| *p == prefix) {
            Some((_, n)) => n,
            None => {
                self.id_counters.push((prefix, 0));
                let last = self.id_counters.len() - 1;
                &mut self.id_counters[last].1
            }
        };
        *n += 1;
        format!("{prefix}-{n}")
    }

    fn next_tick(&mut self) -> u64 {
        self.tick += 1;
        self.tick
    }

    /// A random lower-case hex string of `bytes` bytes from the seeded RNG.
    pub fn random_hex(&mut self, bytes: usize) -> String {
        use std::fmt::Write;
        let mut out = String::with_capacity(bytes * 2);
        for _ in 0..bytes {
            let b: u8 = self.rng.random();
            let _ = write!(out, "{b:02x}");
        }
        out
    }

    /// Records an event and, when the app has webhooks, queues it for
    /// them. An app without webhooks pays one `is_empty` check.
    fn emit(&mut self, trigger: &'static str, data: EventData) {
        let event = self.events.make(trigger, data, now_s());
        if !self.webhooks.is_empty() {
            self.fan_out(&event);
        }
        self.events.push(event);
    }

    /// `forever:alone` for a chat nobody can take.
    fn forever_alone(&mut self, chat_id: &str) {
        let data = EventData::Chat {
            chat_id: chat_id.to_owned(),
        };
        self.emit(crate::event::trigger::FOREVER_ALONE, data);
    }

    fn insert_agent(
        &mut self,
        id: String,
        name: String,
        nickname: Option<String>,
        info: AgentInfo,
    ) {
        self.counter += 1;
        // An agent without a nickname shows its name as one; it is fixed
        // now, so a later rename changes `name` only.
        let nickname = nickname.or_else(|| Some(name.clone()));
        let user = User {
            id: id.clone(),
            name,
            external_id: None,
            contact: Some(info.email.clone()),
            extra_info: None,
            nickname,
            created_at: now_s(),
            chats: Vec::new(),
            agent: Some(Box::new(info)),
            seq: self.counter,
        };
        self.agent_order.push(id.clone());
        self.users.insert(id, user);
    }

    /// The user a token belongs to.
    ///
    /// # Errors
    ///
    /// 401 for an unknown token.
    pub fn user_of_token(&self, token: &str) -> Result<&str, ApiError> {
        self.tokens
            .get(token)
            .map(String::as_str)
            .ok_or(ApiError::Unauthorized("Invalid token"))
    }

    /// A user.
    ///
    /// # Errors
    ///
    /// 404 when unknown.
    pub fn user(&self, id: &str) -> Result<&User, ApiError> {
        self.users
            .get(id)
            .ok_or_else(|| ApiError::not_found("User not found"))
    }

    /// A chat.
    ///
    /// # Errors
    ///
    /// 404 when unknown (or evicted).
    pub fn chat(&self, id: &str) -> Result<&Chat, ApiError> {
        self.chats
            .get(id)
            .ok_or_else(|| ApiError::not_found("Chat not found"))
    }

    fn chat_mut(&mut self, id: &str) -> Result<&mut Chat, ApiError> {
        self.chats
            .get_mut(id)
            .ok_or_else(|| ApiError::not_found("Chat not found"))
    }

    fn agent_mut(&mut self, id: &str) -> Option<&mut AgentInfo> {
        self.users.get_mut(id).and_then(|u| u.agent.as_deref_mut())
    }

    /// Whether `user_id` is a participant (or the creator) of `chat_id`.
    pub fn is_participant(&self, chat_id: &str, user_id: &str) -> bool {
        self.chats
            .get(chat_id)
            .is_some_and(|c| c.creator == user_id || c.users.iter().any(|u| u == user_id))
    }

    /// Whether `room` exists.
    pub fn has_room(&self, room: u32) -> bool {
        self.rooms.contains_key(&room)
    }

    fn record_duration(&mut self, chat_id: &str) {
        let Some(start) = self.chats.get(chat_id).and_then(|c| c.activated_at_ms) else {
            return;
        };
        if self.recent_durations_ms.len() == RECENT_DURATIONS {
            self.recent_durations_ms.pop_front();
        }
        self.recent_durations_ms
            .push_back(now_ms().saturating_sub(start));
    }

    /// Mean duration of recent chats in ms (60 000 before any closed).
    pub fn mean_chat_duration_ms(&self) -> u64 {
        if self.recent_durations_ms.is_empty() {
            return DEFAULT_CHAT_DURATION_MS;
        }
        self.recent_durations_ms.iter().sum::<u64>() / self.recent_durations_ms.len() as u64
    }

    /// Total capacity of the agents online in `room`.
    pub fn room_capacity(&self, room: u32) -> u64 {
        self.online_agents(room, None)
            .map(|a| u64::from(a.capacity))
            .sum()
    }

    fn online_agents<'a>(
        &'a self,
        room: u32,
        lang: Option<&'a str>,
    ) -> impl Iterator<Item = &'a AgentInfo> + 'a {
        self.agent_order
            .iter()
            .filter_map(|id| self.users.get(id).and_then(|u| u.agent.as_deref()))
            .filter(move |a| a.status == AgentStatus::Online && a.serves(room, lang))
    }

    /// Estimated wait in seconds at `position` of `room`'s queue:
    /// `ceil(position × mean chat duration / total online capacity)`, with
    /// the capacity taken as at least 1; 0 when not queued.
    pub fn estimated_wait_s(&self, room: u32, position: u64) -> u64 {
        if position == 0 {
            return 0;
        }
        let capacity = self.room_capacity(room).max(1);
        position
            .saturating_mul(self.mean_chat_duration_ms())
            .div_ceil(capacity.saturating_mul(1000))
    }

    /// 1-based queue position of a chat; 0 when not queued.
    pub fn queue_position(&self, chat: &Chat) -> u64 {
        if !chat.in_queue {
            return 0;
        }
        self.rooms
            .get(&chat.room)
            .and_then(|r| r.queue.iter().position(|id| *id == chat.id))
            .map_or(0, |i| i as u64 + 1)
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;

    /// The default world's `demo-app` (or `demo-queue-app` when `queue`).
    pub fn store(queue: bool) -> AppStore {
        let config = MockConfig::default();
        let app = &config.apps[usize::from(queue)];
        let hub = WebhookHub::new(&config.webhooks, tokio_util::sync::CancellationToken::new());
        AppStore::new(
            app,
            &config,
            0,
            app.id.as_str().into(),
            Arc::default(),
            None,
            &hub,
        )
    }

    /// A new end user `name` with an open chat in `room`: `(user, chat)`.
    pub fn user_and_chat(s: &mut AppStore, name: &str, room: u32) -> (String, String) {
        let (user, _) = s.create_user(name, None, None, None).expect("user");
        let chat = s
            .create_chat(&user, room, 3, None, None, Vec::new())
            .expect("chat");
        (user, chat)
    }

    /// The chat of a new end user `name` in `room`.
    pub fn user_chat(s: &mut AppStore, name: &str, room: u32) -> String {
        user_and_chat(s, name, room).1
    }
}
