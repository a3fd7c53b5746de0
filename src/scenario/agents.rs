//! The `agents:` section: a population of agent actors that log in and work
//! chats through the API's agent-side routes (the actors themselves are in
//! `crate::agents`).
//!
//! This file holds the validated model ([`AgentsSpec`]) and its validation.
//! Every action an actor takes is a metrics step (`agent:accept`, …) with
//! the route it calls, appended to the scenario's step and route tables so
//! the report, thresholds and the HTML charts treat them like flow steps.

use std::time::Duration;

use serde_json::Value;
use serde_saphyr::{Location, Spanned};

use super::raw::{RawAgents, RawBreaks};
use super::validate::{Validator, validate_think};
use super::{RouteInfo, Think};
use crate::api;

/// Default text of an agent's reply.
pub const DEFAULT_REPLY: &str = "Hello, how can I help?";
/// Placeholders a reply may contain.
pub const REPLY_PLACEHOLDERS: [&str; 3] = ["agent_id", "chat_id", "reply_number"];
/// At most this many actors: each is a task with its own inbox, and a pool
/// this large already means hundreds of logins before the run starts.
pub const MAX_AGENTS: u32 = 10_000;

/// A validated `agents:` section.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentsSpec {
    /// Number of actors.
    pub count: u32,
    /// Existing agents to log in as (one per actor); empty: register new
    /// agents through `POST /agents` first.
    pub ids: Vec<String>,
    /// Rooms of registered agents (ignored for `ids`: their rooms are the
    /// instance's).
    pub rooms: Vec<u32>,
    /// Chats an actor works at once; invitations beyond it are rejected.
    pub capacity: u32,
    /// Languages of registered agents; empty: the API's default.
    pub langs: Vec<String>,
    /// Pause between an invitation and its answer.
    pub accept_delay: Think,
    /// Share of invitations rejected (drawn per invitation).
    pub reject_probability: f64,
    /// Pause before answering each user message.
    pub reply_think: Think,
    /// Reply text; may contain `{{agent_id}}`, `{{chat_id}}`, `{{reply_number}}`.
    pub reply: String,
    /// Leave a chat after this many replies.
    pub leave_after: Option<u32>,
    /// Periodic breaks (status `away`, then `online`).
    pub breaks: Option<AgentBreaks>,
    /// Keep the bundled mock's simulated agents working (`mock_agents: on`).
    /// Default off: the actors are the only agents.
    pub mock_agents: bool,
    /// Metrics step and route of each action, indexed by [`AgentAction`].
    pub metrics: [Option<AgentMetric>; AgentAction::COUNT],
}

impl Default for AgentsSpec {
    /// One actor registered in room 1 with 3 slots, answering at once and
    /// replying after a second; no metrics registered.
    fn default() -> Self {
        AgentsSpec {
            count: 1,
            ids: Vec::new(),
            rooms: vec![1],
            capacity: 3,
            langs: Vec::new(),
            accept_delay: Think::Fixed(Duration::ZERO),
            reject_probability: 0.0,
            reply_think: Think::Fixed(Duration::from_secs(1)),
            reply: DEFAULT_REPLY.to_owned(),
            leave_after: None,
            breaks: None,
            mock_agents: false,
            metrics: [None; AgentAction::COUNT],
        }
    }
}

impl AgentsSpec {
    /// Adds a step (flow `agents`) and a route for every action this
    /// population can take, reusing routes the flows already call.
    pub fn register_metrics(
        &mut self,
        step_names: &mut Vec<(String, String)>,
        routes: &mut Vec<RouteInfo>,
    ) {
        for action in AgentAction::ALL {
            let used = match action {
                AgentAction::Register => self.ids.is_empty(),
                AgentAction::Leave => self.leave_after.is_some(),
                AgentAction::Status => self.breaks.is_some(),
                _ => true,
            };
            if !used {
                continue;
            }
            let op = action.operation();
            let key = op.route_key().to_owned();
            let route = match routes.iter().position(|r| r.key == key) {
                Some(i) => i,
                None => {
                    routes.push(RouteInfo { key, operation: op });
                    routes.len() - 1
                }
            };
            step_names.push((action.step_name().to_owned(), AGENTS_FLOW.to_owned()));
            self.metrics[action as usize] = Some(AgentMetric {
                step: (step_names.len() - 1) as u32,
                route: route as u32,
            });
        }
    }
}

/// The flow name agent steps are reported under.
pub const AGENTS_FLOW: &str = "agents";

/// Periodic breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgentBreaks {
    /// Work this long between breaks.
    pub every: Duration,
    /// Each break lasts this long.
    pub duration: Duration,
}

/// Indices into the metrics' step and route tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgentMetric {
    pub step: u32,
    pub route: u32,
}

/// Everything an actor does through the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AgentAction {
    Register,
    Login,
    Accept,
    Reject,
    Reply,
    Leave,
    Status,
    Logout,
    /// `GET /chats/{chatId}`: asks the API whether a held chat has ended.
    Check,
}

impl AgentAction {
    pub const ALL: [AgentAction; 9] = [
        AgentAction::Register,
        AgentAction::Login,
        AgentAction::Accept,
        AgentAction::Reject,
        AgentAction::Reply,
        AgentAction::Leave,
        AgentAction::Status,
        AgentAction::Logout,
        AgentAction::Check,
    ];
    pub const COUNT: usize = Self::ALL.len();

    /// The metrics step name, e.g. `agent:accept`.
    pub const fn step_name(self) -> &'static str {
        match self {
            AgentAction::Register => "agent:register",
            AgentAction::Login => "agent:login",
            AgentAction::Accept => "agent:accept",
            AgentAction::Reject => "agent:reject",
            AgentAction::Reply => "agent:reply",
            AgentAction::Leave => "agent:leave",
            AgentAction::Status => "agent:status",
            AgentAction::Logout => "agent:logout",
            AgentAction::Check => "agent:check",
        }
    }

    /// The operation the action calls.
    pub fn operation(self) -> api::Operation {
        use api::Operation as Op;
        match self {
            AgentAction::Register => Op::CreateAgent,
            AgentAction::Login => Op::AgentLogin,
            AgentAction::Accept => Op::AcceptInvitation,
            AgentAction::Reject => Op::RejectInvitation,
            AgentAction::Reply => Op::SendChatMessage,
            AgentAction::Leave => Op::LeaveChat,
            AgentAction::Status => Op::UpdateAgent,
            AgentAction::Logout => Op::AgentLogout,
            AgentAction::Check => Op::GetChat,
        }
    }
}

/// Validates `agents:`; `has_webhooks` says whether the scenario receives
/// webhooks (the actors are driven by `invitations:new` and `messages:new`).
pub(super) fn validate_agents(
    v: &mut Validator<'_>,
    raw: Option<&Spanned<RawAgents>>,
    has_webhooks: bool,
) -> Option<AgentsSpec> {
    let raw = raw?;
    let problems_before = v.problems.len();
    check_fits_scenario(v, &raw.referenced, has_webhooks);
    let mut spec = AgentsSpec::default();
    validate_population(v, &raw.value, &raw.referenced, &mut spec);
    validate_behaviour(v, &raw.value, &mut spec);
    spec.mock_agents = raw.value.mock_agents.as_ref().is_some_and(|m| m.value.0);
    (v.problems.len() == problems_before).then_some(spec)
}

/// The rest of the scenario must carry the actors: webhooks to drive them,
/// and no flow step under one of their `agent:` metric names.
fn check_fits_scenario(v: &mut Validator<'_>, at: &Location, has_webhooks: bool) {
    if !has_webhooks {
        v.problem(
            at,
            "agents",
            "agent actors need a `webhooks:` section: invitations and messages reach them as webhook events",
        );
    }
    for action in AgentAction::ALL {
        if v.used_names.contains(action.step_name()) {
            v.problem(
                at,
                "agents",
                format!(
                    "a flow step is named `{}`: `agent:` names are the agent actors' metrics",
                    action.step_name()
                ),
            );
        }
    }
}

/// Who the actors are: `count`, `ids`, `rooms`, `capacity` and `langs`.
fn validate_population(v: &mut Validator<'_>, a: &RawAgents, at: &Location, spec: &mut AgentsSpec) {
    match &a.count {
        None => v.problem(
            at,
            "agents.count",
            "`count` is required (number of agent actors)",
        ),
        Some(c) if c.value < 1 || c.value > i64::from(MAX_AGENTS) => v.problem(
            &c.referenced,
            "agents.count",
            format!("count must be between 1 and {MAX_AGENTS}"),
        ),
        Some(c) => spec.count = c.value as u32,
    }
    if let Some(ids) = &a.ids {
        check_ids(v, ids, a.count.as_ref().map(|c| c.value));
        spec.ids.clone_from(&ids.value);
    }
    if let Some(rooms) = &a.rooms {
        spec.rooms = check_rooms(v, rooms);
    }
    if let Some(c) = &a.capacity {
        match u32::try_from(c.value) {
            Ok(n) if n >= 1 => spec.capacity = n,
            _ => v.problem(
                &c.referenced,
                "agents.capacity",
                "capacity must be at least 1 (concurrent chats per agent)",
            ),
        }
    }
    if let Some(langs) = &a.langs {
        if langs.value.iter().any(|l| l.trim().is_empty()) {
            v.problem(
                &langs.referenced,
                "agents.langs",
                "languages are non-empty codes, e.g. en",
            );
        }
        spec.langs.clone_from(&langs.value);
    }
}

/// How the actors work chats: pauses, rejections, the reply, leaving and
/// breaks.
fn validate_behaviour(v: &mut Validator<'_>, a: &RawAgents, spec: &mut AgentsSpec) {
    if let Some(think) = a
        .accept_delay
        .as_ref()
        .and_then(|t| validate_think(v, t, "agents.accept_delay"))
    {
        spec.accept_delay = think;
    }
    if let Some(think) = a
        .reply_think
        .as_ref()
        .and_then(|t| validate_think(v, t, "agents.reply_think"))
    {
        spec.reply_think = think;
    }
    if let Some(p) = &a.reject_probability {
        if (0.0..=1.0).contains(&p.value) {
            spec.reject_probability = p.value;
        } else {
            v.problem(
                &p.referenced,
                "agents.reject_probability",
                "reject_probability must be between 0 and 1",
            );
        }
    }
    if let Some(r) = &a.reply {
        check_reply(v, &r.value, &r.referenced);
        spec.reply.clone_from(&r.value);
    }
    if let Some(n) = &a.leave_after {
        match u32::try_from(n.value) {
            Ok(n) if n >= 1 => spec.leave_after = Some(n),
            _ => v.problem(
                &n.referenced,
                "agents.leave_after",
                "leave_after must be at least 1 (replies before leaving the chat)",
            ),
        }
    }
    if let Some(b) = &a.breaks {
        spec.breaks = validate_breaks(v, b);
    }
}

/// `breaks:`: both durations readable (and longer than zero).
fn validate_breaks(v: &mut Validator<'_>, b: &Spanned<RawBreaks>) -> Option<AgentBreaks> {
    let every = v.duration(&b.value.every, &b.referenced, "agents.breaks.every");
    let duration = v.duration(&b.value.duration, &b.referenced, "agents.breaks.duration");
    let (every, duration) = (every?, duration?);
    if every.is_zero() || duration.is_zero() {
        v.problem(
            &b.referenced,
            "agents.breaks",
            "`every` and `duration` must both be longer than zero",
        );
    }
    Some(AgentBreaks { every, duration })
}

fn check_ids(v: &mut Validator<'_>, ids: &Spanned<Vec<String>>, count: Option<i64>) {
    let at = ids.referenced;
    if let Some(count) = count
        && ids.value.len() as i64 != count
    {
        v.problem(
            &at,
            "agents.ids",
            format!(
                "{} ids for {count} agents: give one id per agent (or leave `ids` out to register new agents)",
                ids.value.len()
            ),
        );
    }
    if ids.value.iter().any(|id| id.trim().is_empty()) {
        v.problem(&at, "agents.ids", "agent ids must not be empty");
    }
    let mut seen = std::collections::HashSet::new();
    for id in &ids.value {
        if !seen.insert(id) {
            v.problem(
                &at,
                "agents.ids",
                format!("agent id `{id}` appears twice: each actor needs its own agent"),
            );
        }
    }
}

fn check_rooms(v: &mut Validator<'_>, rooms: &Spanned<Vec<Value>>) -> Vec<u32> {
    let mut out = Vec::new();
    for room in &rooms.value {
        let id = match room {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        };
        match id.and_then(|n| u32::try_from(n).ok()) {
            Some(n) if n > 0 => out.push(n),
            _ => v.problem(
                &rooms.referenced,
                "agents.rooms",
                format!("room `{room}` is not a room id (a positive number)"),
            ),
        }
    }
    if rooms.value.is_empty() {
        v.problem(
            &rooms.referenced,
            "agents.rooms",
            "rooms must list at least one room",
        );
    }
    out
}

fn check_reply(v: &mut Validator<'_>, text: &str, at: &Location) {
    if text.trim().is_empty() {
        v.problem(at, "agents.reply", "reply must not be empty");
        return;
    }
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            v.problem(at, "agents.reply", "unclosed `{{` in reply");
            return;
        };
        let name = after[..end].trim();
        if !REPLY_PLACEHOLDERS.contains(&name) {
            v.problem(
                at,
                "agents.reply",
                format!(
                    "unknown placeholder `{{{{{name}}}}}` in reply: expected one of {}",
                    REPLY_PLACEHOLDERS.join(", ")
                ),
            );
        }
        rest = &after[end + 2..];
    }
}

/// Fills the placeholders of a reply.
pub fn render_reply(text: &str, agent_id: &str, chat_id: &str, reply_number: u32) -> String {
    if !text.contains("{{") {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len() + 16);
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            return out;
        };
        match after[..end].trim() {
            "agent_id" => out.push_str(agent_id),
            "chat_id" => out.push_str(chat_id),
            "reply_number" => out.push_str(&reply_number.to_string()),
            _ => out.push_str(&rest[start..start + 2 + end + 2]),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests;
