//! Checks the `agents:` section into an [`AgentsSpec`]: the population, its
//! behaviour, breaks, ids, rooms and the reply text's placeholders.

use serde_json::Value;

use crate::api::events;
use serde_saphyr::{Location, Spanned};

use super::{Validator, validate_think};
use crate::scenario::agents::{AgentBreaks, AgentsSpec, MAX_AGENTS, REPLY_PLACEHOLDERS};
use crate::scenario::raw::{RawAgents, RawBreaks};

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

/// The rest of the scenario must carry the actors: webhooks to drive them.
/// (A flow step named after one of their metrics is refused at the step:
/// `validate/steps.rs`.)
fn check_fits_scenario(v: &mut Validator<'_>, at: &Location, has_webhooks: bool) {
    if !has_webhooks {
        v.problem(
            at,
            "agents",
            "agent actors need a `webhooks:` section: invitations and messages reach them as webhook events",
        );
        return;
    }
    // The actors act on these two only: without them they sit idle while
    // the mock's own agents are switched off, and nothing says why.
    let Some(hooks) = &v.webhooks else { return };
    let missing: Vec<&str> = [events::INVITATIONS_NEW, events::MESSAGES_NEW]
        .into_iter()
        .filter(|e| !hooks.subscribes(e))
        .collect();
    if !missing.is_empty() {
        let list = missing
            .iter()
            .map(|e| format!("`{e}`"))
            .collect::<Vec<_>>()
            .join(" and ");
        v.problem(
            at,
            "agents",
            format!(
                "agent actors are driven by `invitations:new` and `messages:new`, but webhooks.events \
                 leaves out {list}: add them (or leave `events` out to subscribe to the defaults)"
            ),
        );
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

#[cfg(test)]
mod tests;
