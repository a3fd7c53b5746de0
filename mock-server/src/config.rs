//! `MockConfig`: the mock's world (apps, rooms, agents), simulated agents,
//! faults, outgoing webhooks and limits, loaded from YAML or built from
//! `Default`.
//!
//! Pure data plus validation; no I/O besides reading the file in
//! [`MockConfig::from_yaml_file`]. `Default` is the documented default world
//! (see the README): apps `demo-app` and `demo-queue-app`. The store
//! (`store`) turns an [`AppConfig`] into live state.

use crate::connections::ConnectionsConfig;
use crate::dist::Dist;
use crate::fault::FaultsConfig;
use crate::tls::TlsConfig;
use crate::webhook::WebhooksConfig;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The YAML is malformed or does not match the format.
    #[error("{origin}:{line}:{column}: {message}")]
    Yaml {
        /// File name or other origin label.
        origin: String,
        /// 1-based line (0 when unknown).
        line: u64,
        /// 1-based column (0 when unknown).
        column: u64,
        /// What is wrong.
        message: String,
    },
    /// The values parse but are inconsistent.
    #[error("{origin}: {message}")]
    Invalid {
        /// File name or other origin label.
        origin: String,
        /// What is wrong and where.
        message: String,
    },
}

/// The whole mock configuration. Every field has a default.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MockConfig {
    /// Address to bind; `None` = `127.0.0.1:0` (any free port).
    pub bind: Option<SocketAddr>,
    /// The one seed every random choice derives from (ids of tokens,
    /// simulated delays, random assignment, fault sampling).
    pub seed: u64,
    /// Closed chats kept per app (with their messages and media); older
    /// ones are evicted first.
    pub closed_chat_cap: usize,
    /// Largest accepted media upload in bytes; larger → 413.
    pub max_media_bytes: usize,
    /// End users kept per app: beyond it the oldest user with no open chat
    /// is evicted, with its session token and external id (see
    /// `store::evict`). Agents are never evicted.
    pub max_users: usize,
    /// Stored media files kept per app: beyond it, or beyond
    /// `max_stored_media_bytes`, files of closed chats go first (oldest
    /// first), then the oldest of open chats; the upload just made stays.
    pub max_media: usize,
    /// Bytes of stored media kept per app (at least `max_media_bytes`).
    pub max_stored_media_bytes: usize,
    /// Internal events kept per app for `GET /__mock/events`.
    pub event_buffer: usize,
    /// Simulated agents, for apps that do not override it.
    pub simulation: SimulationConfig,
    /// Latency and fault injection, changeable at run time.
    pub faults: FaultsConfig,
    /// Outgoing webhooks: handshake, delivery queue, retries, faults.
    pub webhooks: WebhooksConfig,
    /// The apps; when given, they replace the default world's apps.
    pub apps: Vec<AppConfig>,
    /// HTTPS instead of HTTP when present (`tls: {}` generates a
    /// certificate for localhost); see [`TlsConfig`].
    pub tls: Option<TlsConfig>,
    /// Connection timeouts, limit and shutdown deadline; see
    /// [`ConnectionsConfig`].
    pub connections: ConnectionsConfig,
    /// A per-app request rate limit (token bucket) answering 429 with
    /// `Retry-After`; off when absent. See [`crate::limit`].
    pub rate_limit: Option<crate::limit::RateLimitConfig>,
}

impl Default for MockConfig {
    fn default() -> Self {
        MockConfig {
            bind: None,
            seed: 42,
            closed_chat_cap: 10_000,
            max_media_bytes: 10 * 1024 * 1024,
            max_users: 20_000,
            max_media: 1_000,
            max_stored_media_bytes: 256 * 1024 * 1024,
            event_buffer: 1_000,
            simulation: SimulationConfig::default(),
            faults: FaultsConfig::default(),
            webhooks: WebhooksConfig::default(),
            apps: vec![
                AppConfig::demo("demo-app", "demo-secret", "demo-domain-key", false),
                AppConfig::demo(
                    "demo-queue-app",
                    "demo-queue-secret",
                    "demo-queue-domain-key",
                    true,
                ),
            ],
            tls: None,
            connections: ConnectionsConfig::default(),
            rate_limit: None,
        }
    }
}

/// Assignment algorithm of `GET /chats/{chatId}/assign` and the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Algorithm {
    /// Most free capacity slots; ties → longest idle, then lowest id.
    #[default]
    MostFreeSlots,
    /// Next eligible agent after the last one picked in the room, by id.
    RoundRobin,
    /// Uniformly random eligible agent (seeded).
    Random,
}

impl Algorithm {
    /// Parses the `algorithm` query value; `default` means most-free-slots.
    pub fn parse(value: &str) -> Option<Algorithm> {
        match value {
            "most-free-slots" | "default" => Some(Algorithm::MostFreeSlots),
            "round-robin" => Some(Algorithm::RoundRobin),
            "random" => Some(Algorithm::Random),
            _ => None,
        }
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::MostFreeSlots => "most-free-slots",
            Algorithm::RoundRobin => "round-robin",
            Algorithm::Random => "random",
        }
    }
}

/// Agent availability status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AgentStatus {
    /// Logged in and taking chats.
    #[default]
    Online,
    /// Logged in, not taking new chats.
    Away,
    /// Logged out.
    Offline,
}

impl AgentStatus {
    /// Parses a wire value.
    pub fn parse(value: &str) -> Option<AgentStatus> {
        match value {
            "online" => Some(AgentStatus::Online),
            "away" => Some(AgentStatus::Away),
            "offline" => Some(AgentStatus::Offline),
            _ => None,
        }
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            AgentStatus::Online => "online",
            AgentStatus::Away => "away",
            AgentStatus::Offline => "offline",
        }
    }
}

/// One app and its world.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppConfig {
    /// App ID (`x-hyper-appId`).
    pub id: String,
    /// Secret (`x-hyper-secret`).
    pub secret: String,
    /// Domain key (`x-hyper-key`), if the app has one.
    #[serde(default)]
    pub domain_key: Option<String>,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Region, `eu` or `us`.
    #[serde(default = "default_region")]
    pub region: String,
    /// Queue mode (`settings.queue.active`).
    #[serde(default)]
    pub queue_mode: bool,
    /// Default assignment algorithm (`settings.assignAlgorithm`).
    #[serde(default)]
    pub assign_algorithm: Algorithm,
    /// Languages of the app (`settings.languages`).
    #[serde(default = "default_langs")]
    pub languages: Vec<String>,
    /// Upload allow-list: file extensions or MIME subtypes.
    #[serde(default = "default_file_types")]
    pub allowed_file_types: Vec<String>,
    /// Room ids.
    #[serde(default = "default_rooms")]
    pub rooms: Vec<u32>,
    /// Generated agents per room (`a-1`, `a-2`, … each in one room).
    #[serde(default = "default_agents_per_room")]
    pub agents_per_room: u32,
    /// Capacity slots of each generated agent.
    #[serde(default = "default_capacity")]
    pub capacity: u32,
    /// Languages of each generated agent.
    #[serde(default = "default_langs")]
    pub agent_langs: Vec<String>,
    /// Explicit agents, in addition to the generated ones.
    #[serde(default)]
    pub agents: Vec<AgentConfig>,
    /// Overrides the global simulated-agent settings for this app.
    #[serde(default)]
    pub simulation: Option<SimulationConfig>,
}

/// One explicitly configured agent.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// Agent (user) id.
    pub id: String,
    /// Display name (default: the id).
    #[serde(default)]
    pub name: Option<String>,
    /// Nickname.
    #[serde(default)]
    pub nickname: Option<String>,
    /// Login e-mail (default `<id>@<appId>.local`).
    #[serde(default)]
    pub email: Option<String>,
    /// Login password (default `agent-password`).
    #[serde(default)]
    pub password: Option<String>,
    /// Rooms the agent works in.
    pub rooms: Vec<u32>,
    /// Languages the agent speaks.
    #[serde(default = "default_langs")]
    pub langs: Vec<String>,
    /// Capacity slots.
    #[serde(default = "default_capacity")]
    pub capacity: u32,
    /// Initial status.
    #[serde(default)]
    pub status: AgentStatus,
}

/// How simulated agents behave.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimulationConfig {
    /// `false` switches simulated agents off: invitations stay pending until
    /// `POST /invitations/accept|reject` (or they expire).
    pub simulate: bool,
    /// Delay before an invited agent accepts.
    pub accept_delay: Dist,
    /// Probability (0..1) that an invited agent rejects (after the same
    /// delay); the invitation then moves on to the next agent.
    pub reject_probability: f64,
    /// Whether the chat's agent answers every user message.
    pub replies: bool,
    /// Think time before an agent's reply.
    pub reply_delay: Dist,
    /// With `simulate: false`, pending invitations expire after this long
    /// (ms) and move on; 0 = never.
    pub invitation_timeout_ms: u64,
}

impl Default for SimulationConfig {
    fn default() -> Self {
        SimulationConfig {
            simulate: true,
            accept_delay: Dist::Uniform {
                min_ms: 20.0,
                max_ms: 80.0,
            },
            reject_probability: 0.0,
            replies: true,
            reply_delay: Dist::Uniform {
                min_ms: 50.0,
                max_ms: 150.0,
            },
            invitation_timeout_ms: 60_000,
        }
    }
}

fn default_region() -> String {
    "eu".to_owned()
}
fn default_langs() -> Vec<String> {
    vec!["en".to_owned()]
}
fn default_rooms() -> Vec<u32> {
    vec![1, 2]
}
fn default_agents_per_room() -> u32 {
    4
}
fn default_capacity() -> u32 {
    3
}
fn default_file_types() -> Vec<String> {
    [
        "jpeg", "jpg", "png", "gif", "pdf", "txt", "xls", "xlsx", "doc", "docx", "mp4", "avi",
        "mp3", "aac", "wav", "wma", "ogg", "oga", "m4a",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect()
}

impl AppConfig {
    /// A default-world app: rooms 1 and 2, four agents per room with three
    /// slots, language `en`.
    pub fn demo(id: &str, secret: &str, domain_key: &str, queue_mode: bool) -> AppConfig {
        AppConfig {
            id: id.to_owned(),
            secret: secret.to_owned(),
            domain_key: Some(domain_key.to_owned()),
            name: Some(format!("Demo app {id}")),
            region: default_region(),
            queue_mode,
            assign_algorithm: Algorithm::MostFreeSlots,
            languages: default_langs(),
            allowed_file_types: default_file_types(),
            rooms: default_rooms(),
            agents_per_room: default_agents_per_room(),
            capacity: default_capacity(),
            agent_langs: default_langs(),
            agents: Vec::new(),
            simulation: None,
        }
    }

    /// Generated agents followed by the explicit ones. Generated agent `n`
    /// (1-based) has id `a-n` and works in room `rooms[(n-1) / agents_per_room]`.
    pub fn all_agents(&self) -> Vec<AgentConfig> {
        let mut agents = Vec::new();
        let mut n = 0;
        for room in &self.rooms {
            for _ in 0..self.agents_per_room {
                n += 1;
                agents.push(AgentConfig {
                    id: format!("a-{n}"),
                    name: Some(format!("Agent {n}")),
                    nickname: None,
                    email: None,
                    password: None,
                    rooms: vec![*room],
                    langs: self.agent_langs.clone(),
                    capacity: self.capacity,
                    status: AgentStatus::Online,
                });
            }
        }
        agents.extend(self.agents.iter().cloned());
        agents
    }
}

impl MockConfig {
    /// Parses and validates YAML; `origin` names the source in errors.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Yaml`] with line and column for syntax errors and
    /// unknown keys; [`ConfigError::Invalid`] for inconsistent values.
    pub fn from_yaml_str(yaml: &str, origin: &str) -> Result<MockConfig, ConfigError> {
        let config: MockConfig = serde_saphyr::from_str(yaml).map_err(|err| {
            let (line, column) = err
                .location()
                .map_or((0, 0), |loc| (loc.line(), loc.column()));
            ConfigError::Yaml {
                origin: origin.to_owned(),
                line,
                column,
                message: short_message(&err.to_string()),
            }
        })?;
        config.validate().map_err(|message| ConfigError::Invalid {
            origin: origin.to_owned(),
            message,
        })?;
        Ok(config)
    }

    /// Reads, parses and validates a YAML file. Relative `tls:` paths are
    /// relative to the file's directory.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Io`] when unreadable, else as [`Self::from_yaml_str`].
    pub fn from_yaml_file(path: &Path) -> Result<MockConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_owned(),
            source,
        })?;
        let origin = path.display().to_string();
        let mut config = Self::from_yaml_str(&text, &origin)?;
        if let Some(tls) = &mut config.tls {
            tls.at = tls_places(&text, &origin);
            if let Some(dir) = path.parent() {
                tls.resolve_paths(dir);
            }
        }
        Ok(config)
    }

    /// Checks cross-field rules; the message names the offending item.
    ///
    /// # Errors
    ///
    /// Returns the first inconsistency found.
    pub fn validate(&self) -> Result<(), String> {
        if self.apps.is_empty() {
            return Err("apps: at least one app is required".to_owned());
        }
        self.simulation.validate("simulation")?;
        self.faults.validate()?;
        self.webhooks.validate()?;
        self.connections.validate()?;
        if let Some(tls) = &self.tls {
            tls.validate()?;
        }
        if let Some(limit) = &self.rate_limit {
            limit.validate()?;
        }
        self.validate_caps()?;
        let mut app_ids = HashSet::new();
        for (i, app) in self.apps.iter().enumerate() {
            let at = format!("apps[{i}]");
            if app.id.is_empty() || app.secret.is_empty() {
                return Err(format!("{at}: id and secret must not be empty"));
            }
            if !app_ids.insert(app.id.as_str()) {
                return Err(format!("{at}: duplicate app id {:?}", app.id));
            }
            if app.rooms.is_empty() {
                return Err(format!("{at}.rooms: at least one room is required"));
            }
            if let Some(sim) = &app.simulation {
                sim.validate(&format!("{at}.simulation"))?;
            }
            let mut agent_ids = HashSet::new();
            for agent in app.all_agents() {
                if !agent_ids.insert(agent.id.clone()) {
                    return Err(format!("{at}.agents: duplicate agent id {:?}", agent.id));
                }
                if let Some(room) = agent.rooms.iter().find(|r| !app.rooms.contains(r)) {
                    return Err(format!(
                        "{at}.agents: agent {:?} is in room {room}, which is not in rooms",
                        agent.id
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Where the `tls:` paths of a configuration file are (`origin:line:column`
/// of each value), so an unreadable one is reported there.
fn tls_places(text: &str, origin: &str) -> crate::tls::TlsAt {
    type Place = Option<serde_saphyr::Spanned<serde::de::IgnoredAny>>;
    #[derive(Deserialize, Default)]
    #[serde(default)]
    struct Paths {
        cert: Place,
        key: Place,
        ca_out: Place,
    }
    #[derive(Deserialize, Default)]
    #[serde(default)]
    struct File {
        tls: Option<Paths>,
    }
    let paths = serde_saphyr::from_str::<File>(text)
        .ok()
        .and_then(|f| f.tls)
        .unwrap_or_default();
    let at = |place: Place| {
        place.map(|p| {
            let loc = p.referenced;
            format!("{origin}:{}:{}", loc.line(), loc.column())
        })
    };
    crate::tls::TlsAt {
        cert: at(paths.cert),
        key: at(paths.key),
        ca_out: at(paths.ca_out),
    }
}

/// The first line of a serde-saphyr message, without its own `error:` and
/// `line L column C:` prefixes (the location is reported separately).
fn short_message(full: &str) -> String {
    let first = full.lines().next().unwrap_or(full).trim();
    let first = first.strip_prefix("error:").unwrap_or(first).trim();
    match first
        .strip_prefix("line ")
        .and_then(|rest| rest.split_once(": "))
    {
        Some((location, message)) if location.contains("column") => message.to_owned(),
        _ => first.to_owned(),
    }
}

impl SimulationConfig {
    fn validate(&self, at: &str) -> Result<(), String> {
        self.accept_delay
            .validate()
            .map_err(|e| format!("{at}.accept_delay: {e}"))?;
        self.reply_delay
            .validate()
            .map_err(|e| format!("{at}.reply_delay: {e}"))?;
        if !(0.0..=1.0).contains(&self.reject_probability) {
            return Err(format!("{at}.reject_probability must be within 0..1"));
        }
        crate::dist::check_ms(
            &format!("{at}.invitation_timeout_ms"),
            self.invitation_timeout_ms,
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_world_has_two_apps_with_eight_agents() {
        let config = MockConfig::default();
        assert!(config.validate().is_ok());
        assert_eq!(config.apps.len(), 2);
        for app in &config.apps {
            let agents = app.all_agents();
            assert_eq!(agents.len(), 8);
            assert!(agents.iter().all(|a| a.capacity == 3 && a.rooms.len() == 1));
        }
    }

    #[test]
    fn unknown_key_reports_line_and_column() {
        let err = MockConfig::from_yaml_str("seed: 1\nsede: 2\n", "t.yaml")
            .expect_err("unknown key must fail");
        match err {
            ConfigError::Yaml { line, .. } => assert_eq!(line, 2),
            other => panic!("unexpected {other}"),
        }
    }

    #[test]
    fn agent_in_unknown_room_is_invalid() {
        let yaml = "apps:\n  - id: x\n    secret: s\n    rooms: [1]\n    agents:\n      - {id: z, rooms: [9]}\n";
        let err = MockConfig::from_yaml_str(yaml, "t.yaml").expect_err("invalid room");
        assert!(err.to_string().contains("room 9"), "{err}");
    }
}
