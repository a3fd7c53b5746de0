//! `agents:` validation: accepted forms, defaults, metrics registration, and
//! that every problem is located.

use std::time::Duration;

use super::*;
use crate::scenario::agents::{AGENTS_FLOW, DEFAULT_REPLY, render_reply};
use crate::scenario::raw::RawScenario;
use crate::scenario::{AgentAction, Think};

const HEAD: &str = "name: a\nload: {vus: 1, duration: 1s}\nsteps:\n  - get_settings:\n";

/// A spec and the step table (name, flow) it registered.
type Validated = (AgentsSpec, Vec<(String, String)>);

/// Validates the `agents:` section of `yaml` as if `webhooks:` were declared.
fn with_webhooks(agents: &str) -> Result<Validated, Vec<String>> {
    let yaml = format!("{HEAD}{agents}");
    let raw: RawScenario = serde_saphyr::from_str(&yaml).expect("yaml parses");
    let env = |_: &str| None;
    let mut v = Validator::new("s.yaml", &env);
    let spec = validate_agents(&mut v, raw.agents.as_ref(), true);
    if !v.problems.is_empty() {
        return Err(v.problems.iter().map(ToString::to_string).collect());
    }
    let mut spec = spec.expect("a spec when there is no problem");
    let mut routes = Vec::new();
    spec.register_metrics(&mut v.step_names, &mut routes);
    Ok((spec, v.step_names))
}

#[test]
fn full_section_validates_with_every_field() {
    let (spec, steps) = with_webhooks(
        r#"agents:
  count: 2
  ids: [a-1, a-2]
  rooms: [1, "2"]
  capacity: 4
  langs: [en, es]
  accept_delay: {dist: uniform, min: 100ms, max: 200ms}
  reject_probability: 0.25
  reply_think: 1s
  reply: "Hi from {{agent_id}} in {{ chat_id }} #{{reply_number}}"
  leave_after: 3
  breaks: {every: 60s, duration: 10s}
  mock_agents: off
"#,
    )
    .expect("valid");
    assert_eq!(spec.count, 2);
    assert_eq!(spec.ids, ["a-1", "a-2"]);
    assert_eq!(spec.rooms, [1, 2]);
    assert_eq!(spec.capacity, 4);
    assert_eq!(spec.langs, ["en", "es"]);
    assert!(matches!(spec.accept_delay, Think::Uniform { .. }));
    assert_eq!(spec.reply_think, Think::Fixed(Duration::from_secs(1)));
    assert_eq!(spec.reject_probability, 0.25);
    assert_eq!(spec.leave_after, Some(3));
    assert_eq!(
        spec.breaks,
        Some(AgentBreaks {
            every: Duration::from_secs(60),
            duration: Duration::from_secs(10)
        })
    );
    assert!(!spec.mock_agents);
    // ids given: no registration step; leave and breaks: their steps exist.
    let names: Vec<&str> = steps.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "agent:login",
            "agent:accept",
            "agent:reject",
            "agent:reply",
            "agent:leave",
            "agent:status",
            "agent:logout",
            "agent:check"
        ]
    );
    assert!(steps.iter().all(|(_, flow)| flow == AGENTS_FLOW));
    assert!(spec.metrics[AgentAction::Register as usize].is_none());
    assert_eq!(
        spec.metrics[AgentAction::Login as usize].map(|m| m.step),
        Some(0)
    );
}

#[test]
fn minimal_section_takes_the_defaults_and_registers_agents() {
    let (spec, steps) = with_webhooks("agents:\n  count: 3\n").expect("valid");
    let defaults = AgentsSpec::default();
    assert_eq!(spec.count, 3);
    assert!(spec.ids.is_empty());
    assert_eq!(spec.rooms, defaults.rooms);
    assert_eq!(spec.capacity, 3);
    assert_eq!(spec.reply, DEFAULT_REPLY);
    assert!(!spec.mock_agents, "mock agents default to off");
    let names: Vec<&str> = steps.iter().map(|(n, _)| n.as_str()).collect();
    assert!(names.contains(&"agent:register"));
    assert!(!names.contains(&"agent:leave") && !names.contains(&"agent:status"));
    let (on, _) = with_webhooks("agents:\n  count: 1\n  mock_agents: on\n").expect("valid");
    assert!(on.mock_agents);
}

#[test]
fn every_agent_action_names_a_catalogue_operation() {
    // Each action names an `api::Operation` (the compiler checks it exists).
    for action in AgentAction::ALL {
        assert!(!action.operation().id().is_empty(), "{action:?}");
    }
    assert_eq!(
        AgentAction::Leave.operation().route_key(),
        "PUT /chats/{chatId}/leave"
    );
}

#[test]
fn agent_step_names_are_reserved_at_the_name() {
    let yaml = "name: a\nload: {vus: 1, duration: 1s}\nwebhooks:\nsteps:\n  - get_settings:\n    name: agent:login\nagents:\n  count: 1\n";
    let err = crate::scenario::load_str(yaml, "s.yaml", std::path::Path::new("."))
        .expect_err("reserved name");
    let problems: Vec<String> = err.problems().iter().map(ToString::to_string).collect();
    assert_eq!(
        problems,
        [
            "s.yaml:6:11: steps[0].name: a flow step is named `agent:login`: `agent:` names are the agent actors' metrics"
        ],
    );
    // Without agent actors too (docs/scenario-format.md: a flow step may not
    // use these names), so reports, `compare` and `merge` never mix a flow
    // step with the actors' metric of the same name.
    let alone = yaml.replace("agents:\n  count: 1\n", "");
    let err = crate::scenario::load_str(&alone, "s.yaml", std::path::Path::new("."))
        .expect_err("reserved without agents too");
    assert_eq!(err.problems().len(), 1, "{err}");
    assert_eq!(err.problems()[0].path, "steps[0].name");
}

#[test]
fn replies_render_their_placeholders() {
    assert_eq!(
        render_reply(
            "{{agent_id}} in {{ chat_id }}: #{{reply_number}}",
            "a-1",
            "c-2",
            3
        ),
        "a-1 in c-2: #3"
    );
    assert_eq!(render_reply("plain", "a", "c", 1), "plain");
    assert_eq!(render_reply("open {{", "a", "c", 1), "open {{");
}

/// Actors are driven by `invitations:new` and `messages:new`: a section
/// whose webhook events leave them out is refused, naming what is missing
/// (the actors used to sit idle with the mock's agents switched off).
#[test]
fn webhook_events_without_the_actors_events_are_refused_by_name() {
    let yaml = |events: &str| {
        format!(
            "name: a\nwebhooks: {{events: [{events}]}}\nagents: {{count: 1, ids: [a-1]}}\nload: {{vus: 1, iterations: 1}}\nsteps:\n  - get_settings:\n"
        )
    };
    let problems =
        crate::scenario::testing::problems(&yaml("chats:create, chats:join, chats:close"));
    assert_eq!(problems.len(), 1, "{problems:?}");
    let p = &problems[0];
    assert!(p.contains("agents"), "{p}");
    assert!(
        p.contains("`invitations:new` and `messages:new`: add them"),
        "{p}"
    );
    assert!(p.contains(":3:"), "located at the agents section: {p}");
    let problems = crate::scenario::testing::problems(&yaml("invitations:new, chats:close"));
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].contains("leaves out `messages:new`: add"),
        "{problems:?}"
    );
    assert!(crate::scenario::testing::problems(&yaml("invitations:new, messages:new")).is_empty());
}
