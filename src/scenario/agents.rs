//! The `agents:` section: a population of agent actors that log in and work
//! chats through the API's agent-side routes (the actors themselves are in
//! `crate::agents`).
//!
//! This file holds the validated model ([`AgentsSpec`]); `validate::agents`
//! checks the section into it.
//! Every action an actor takes is a metrics step (`agent:accept`, …) with
//! the route it calls, appended to the scenario's step and route tables so
//! the report, thresholds and the HTML charts treat them like flow steps.

use std::time::Duration;

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
