//! `agents:` validation: accepted forms, defaults, metrics registration, and
//! that every problem is located.

use std::path::Path;
use std::time::Duration;

use super::*;
use crate::scenario::load_str;
use crate::scenario::raw::RawScenario;

const HEAD: &str = "name: a\nload: {vus: 1, duration: 1s}\nsteps:\n  - get_settings:\n";

/// Problems of a whole file, as `load_str` reports them (on this branch
/// always including the missing `webhooks:` section).
fn problems(agents: &str) -> Vec<String> {
    let yaml = format!("{HEAD}{agents}");
    match load_str(&yaml, "s.yaml", Path::new(".")) {
        Ok(_) => Vec::new(),
        Err(e) => e.problems().iter().map(ToString::to_string).collect(),
    }
}

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
    for action in AgentAction::ALL {
        let op = action.operation();
        assert!(
            crate::api::operation(op.id).is_some() && op.id != crate::api::OPERATIONS[0].id,
            "{action:?}"
        );
    }
    assert_eq!(
        AgentAction::Leave.operation().route_key(),
        "PUT /chats/{chatId}/leave"
    );
}

#[test]
fn agents_without_webhooks_is_a_located_problem() {
    let found = problems("agents:\n  count: 2\n");
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].starts_with("s.yaml:6:3: agents: agent actors need a `webhooks:` section"),
        "{found:?}"
    );
}

#[test]
fn bad_values_are_each_reported_at_their_line() {
    let err = with_webhooks(
        r#"agents:
  count: 0
  ids: [a-1, a-1, ""]
  capacity: 0
  rooms: [x]
  accept_delay: soon
  reject_probability: 1.5
  reply: "hi {{name}}"
  leave_after: 0
  breaks: {every: 0s, duration: 5s}
"#,
    )
    .expect_err("invalid");
    let expect = [
        "s.yaml:6:10: agents.count: count must be between 1 and 10000",
        "s.yaml:7:8: agents.ids: 3 ids for 0 agents",
        "s.yaml:7:8: agents.ids: agent ids must not be empty",
        "s.yaml:7:8: agents.ids: agent id `a-1` appears twice",
        "s.yaml:9:10: agents.rooms: room `\"x\"` is not a room id",
        "s.yaml:8:13: agents.capacity: capacity must be at least 1",
        "s.yaml:10:17: agents.accept_delay: `soon` is not a duration",
        "s.yaml:11:23: agents.reject_probability: reject_probability must be between 0 and 1",
        "s.yaml:12:10: agents.reply: unknown placeholder `{{name}}` in reply",
        "s.yaml:13:16: agents.leave_after: leave_after must be at least 1",
        "s.yaml:14:11: agents.breaks: `every` and `duration` must both be longer than zero",
    ];
    for e in expect {
        assert!(
            err.iter().any(|p| p.starts_with(e)),
            "missing {e:?} in {err:#?}"
        );
    }
    assert_eq!(err.len(), expect.len(), "{err:#?}");
}

#[test]
fn ids_must_match_count_and_count_is_required() {
    let err = with_webhooks("agents:\n  count: 3\n  ids: [a-1, a-2]\n").expect_err("invalid");
    assert_eq!(err.len(), 1);
    assert!(
        err[0].starts_with("s.yaml:7:8: agents.ids: 2 ids for 3 agents"),
        "{err:?}"
    );
    let err = with_webhooks("agents:\n  rooms: [1]\n").expect_err("invalid");
    assert!(
        err[0].starts_with("s.yaml:6:3: agents.count: `count` is required"),
        "{err:?}"
    );
}

#[test]
fn unknown_fields_and_bad_switches_are_syntax_errors_with_positions() {
    let found = problems("agents:\n  count: 1\n  capacty: 3\n");
    assert!(
        found
            .iter()
            .any(|p| p.starts_with("s.yaml:7:3") && p.contains("capacty")),
        "{found:?}"
    );
    let found = problems("agents:\n  count: 1\n  mock_agents: sometimes\n");
    assert!(
        found
            .iter()
            .any(|p| p.starts_with("s.yaml:7:") && p.contains("expected on or off")),
        "{found:?}"
    );
    let found = problems("agents:\n  count: 1\n  breaks: {every: 1m}\n");
    assert!(
        found
            .iter()
            .any(|p| p.starts_with("s.yaml:7:") && p.contains("duration")),
        "{found:?}"
    );
}

#[test]
fn agent_step_names_are_reserved() {
    let yaml = "name: a\nload: {vus: 1, duration: 1s}\nsteps:\n  - get_settings:\n    name: agent:login\nagents:\n  count: 1\n";
    let raw: RawScenario = serde_saphyr::from_str(yaml).expect("yaml parses");
    let env = |_: &str| None;
    let mut v = Validator::new("s.yaml", &env);
    v.used_names.insert("agent:login".to_owned());
    assert!(validate_agents(&mut v, raw.agents.as_ref(), true).is_none());
    assert!(
        v.problems[0]
            .to_string()
            .contains("a flow step is named `agent:login`"),
        "{:?}",
        v.problems
    );
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
