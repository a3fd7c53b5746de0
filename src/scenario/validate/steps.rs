//! Flows and steps: names, weights, step types, `repeat`, `think`,
//! `on_error` and `wait_until`; variables are checked to be set before they
//! are used. Each step's request is built in `request.rs`.

use std::collections::HashSet;

use serde_saphyr::{Location, Spanned};

use super::Validator;
use super::request::{StepCx, build_request, expectation};
use crate::scenario::limits::{MAX_REPEAT, MAX_WEIGHT};
use crate::scenario::raw::{RawFlow, RawScenario, RawStep, RawWaitUntil};
use crate::scenario::{AgentAction, Flow, OnError, Step, StepAction, WaitSpec};

pub(super) fn validate_flows(v: &mut Validator<'_>, raw: &RawScenario) -> Vec<Flow> {
    // The document's own problems are at no node (the start of the file);
    // loading moves them to the key named when the file has it.
    let mut flows = Vec::new();
    if raw.flows.is_some() && raw.steps.is_some() {
        v.problem(
            &Location::UNKNOWN,
            "steps",
            "give either `flows` or `steps`, not both",
        );
    }
    match (&raw.flows, &raw.steps) {
        (None, None) => v.problem(
            &Location::UNKNOWN,
            "",
            "no steps: add `steps:` (one list of steps) or `flows:` (weighted lists)",
        ),
        (None, Some(steps)) => flows.push(validate_flow(v, &raw.name, 1, steps, "steps")),
        // With both, each is checked (a non-empty `steps` as a flow of its
        // own), so that the one mistake is not echoed as unknown flows or
        // steps in thresholds.
        (Some(list), steps) => {
            if let Some(steps) = steps.as_ref().filter(|s| !s.is_empty()) {
                flows.push(validate_flow(v, &raw.name, 1, steps, "steps"));
            }
            if list.is_empty() {
                v.problem(&Location::UNKNOWN, "flows", "`flows` is empty");
            }
            let mut seen = HashSet::new();
            for (i, f) in list.iter().enumerate() {
                let name = flow_name(v, f, i, &mut seen);
                let weight = v
                    .whole(
                        f.value.weight.as_ref(),
                        &format!("flows[{i}].weight"),
                        1,
                        MAX_WEIGHT,
                    )
                    .unwrap_or(1) as u32;
                flows.push(validate_flow(
                    v,
                    &name,
                    weight,
                    &f.value.steps,
                    &format!("flows[{i}].steps"),
                ));
            }
        }
    }
    flows
}

/// A flow's name (default `flowN`, N its place in `flows:` counting every
/// flow from 1); empty and repeated names are problems,
/// since names identify flows in reports and thresholds.
fn flow_name(
    v: &mut Validator<'_>,
    f: &Spanned<RawFlow>,
    i: usize,
    seen: &mut HashSet<String>,
) -> String {
    let name = f
        .value
        .name
        .clone()
        .unwrap_or_else(|| format!("flow{}", i + 1));
    let path = format!("flows[{i}].name");
    if name.trim().is_empty() {
        v.problem(
            &f.referenced,
            &path,
            "the flow name is empty: give it a name or leave `name` out",
        );
    } else if !seen.insert(name.clone()) {
        v.problem(
            &f.referenced,
            &path,
            format!("flow name `{name}` is used twice: each flow needs its own name"),
        );
    }
    name
}

fn validate_flow(
    v: &mut Validator<'_>,
    name: &str,
    weight: u32,
    raw: &[Spanned<RawStep>],
    path: &str,
) -> Flow {
    // Variables set before the first step: scenario variables and feed columns.
    let mut defined: HashSet<String> = v
        .vars
        .names
        .iter()
        .zip(&v.vars.initial)
        .filter(|(n, init)| init.is_some() || n.starts_with("feed."))
        .map(|(n, _)| n.clone())
        .collect();
    let mut steps = Vec::new();
    for (i, s) in raw.iter().enumerate() {
        let cx = StepCx {
            at: s.referenced,
            path: format!("{path}[{i}]"),
            flow: name,
        };
        if let Some(step) = validate_step(v, &s.value, &cx, &mut defined) {
            steps.push(step);
        }
    }
    if raw.is_empty() {
        v.problem(&Location::UNKNOWN, path, "a flow needs at least one step");
    }
    v.explain_early_uses(name);
    Flow {
        name: name.to_owned(),
        weight,
        steps,
    }
}

/// One step: exactly one step type, with its `think`, `repeat`,
/// `on_error` and name; its id is its place in the scenario's step table.
/// A step with a problem is checked through all the same and still takes
/// its name (by default its type), so threshold messages list every step.
fn validate_step(
    v: &mut Validator<'_>,
    raw: &RawStep,
    cx: &StepCx<'_>,
    defined: &mut HashSet<String>,
) -> Option<Step> {
    let kinds = step_kinds(raw);
    let (kind, action) = match kinds.as_slice() {
        [] if raw.think.is_some() => (Some("think"), Some(StepAction::Pause)),
        [] => {
            v.problem(
                &cx.at,
                &cx.path,
                format!("no step type: expected one of {}", STEP_TYPES.join(", ")),
            );
            (None, None)
        }
        [kind] => (Some(*kind), build_action(v, raw, kind, cx, defined)),
        many => {
            v.problem(
                &cx.at,
                &cx.path,
                format!("one step type per step, found {}", many.join(" and ")),
            );
            (None, None)
        }
    };
    let think = raw
        .think
        .as_ref()
        .and_then(|t| super::validate_think(v, t, &format!("{}.think", cx.path)));
    let repeat = v
        .whole(
            raw.repeat.as_ref(),
            &format!("{}.repeat", cx.path),
            1,
            MAX_REPEAT,
        )
        .unwrap_or(1) as u32;
    let on_error = on_error(v, raw.on_error.as_deref(), cx);
    let name = match (raw.name.as_deref(), kind) {
        (None, None) => return None,
        (given, kind) => step_name(v, given, kind.unwrap_or_default(), cx),
    };
    let id = v.step_names.len() as u32;
    v.step_names.push((name.clone(), cx.flow.to_owned()));
    Some(Step {
        id,
        name,
        action: action?,
        think,
        repeat,
        on_error,
    })
}

/// `on_error`: `abort_iteration` (the default) or `continue`.
fn on_error(v: &mut Validator<'_>, text: Option<&str>, cx: &StepCx<'_>) -> OnError {
    match text {
        None | Some("abort_iteration") => OnError::AbortIteration,
        Some("continue") => OnError::Continue,
        Some(other) => {
            v.problem(
                &cx.at,
                &format!("{}.on_error", cx.path),
                format!("unknown on_error `{other}`: expected continue or abort_iteration"),
            );
            OnError::AbortIteration
        }
    }
}

/// The step's `name`, unique among the scenario's steps; by default its
/// type, numbered from 2 when taken.
fn step_name(v: &mut Validator<'_>, given: Option<&str>, kind: &str, cx: &StepCx<'_>) -> String {
    if let Some(name) = given {
        if name.trim().is_empty() {
            v.problem(
                &cx.at,
                &format!("{}.name", cx.path),
                "the step name is empty: give it a name or leave `name` out",
            );
        } else if !v.used_names.insert(name.to_owned()) {
            v.problem(
                &cx.at,
                &format!("{}.name", cx.path),
                format!("step name `{name}` is used twice: names identify metrics and thresholds"),
            );
        } else if AgentAction::ALL.iter().any(|a| a.step_name() == name) {
            // Also without `agents:`: the names stay the actors' alone, so a
            // file keeps its meaning when the section is added.
            v.problem(
                &cx.at,
                &format!("{}.name", cx.path),
                format!(
                    "a flow step is named `{name}`: `agent:` names are the agent actors' metrics"
                ),
            );
        }
        return name.to_owned();
    }
    let mut name = kind.to_owned();
    let mut n = 2;
    while v.used_names.contains(&name) {
        name = format!("{kind}_{n}");
        n += 1;
    }
    v.used_names.insert(name.clone());
    name
}

/// Every step type, for messages.
pub const STEP_TYPES: &[&str] = &[
    "get_settings",
    "check_agents",
    "agents_online",
    "create_user",
    "get_user",
    "create_chat",
    "get_chat",
    "assign",
    "send_message",
    "get_messages",
    "queue_position",
    "queue_status",
    "close_chat",
    "mark_read",
    "upload_media",
    "download_media",
    "request",
    "wait_until",
    "wait_event",
];

fn step_kinds(raw: &RawStep) -> Vec<&'static str> {
    let flags = [
        raw.get_settings.is_some(),
        raw.check_agents.is_some(),
        raw.agents_online.is_some(),
        raw.create_user.is_some(),
        raw.get_user.is_some(),
        raw.create_chat.is_some(),
        raw.get_chat.is_some(),
        raw.assign.is_some(),
        raw.send_message.is_some(),
        raw.get_messages.is_some(),
        raw.queue_position.is_some(),
        raw.queue_status.is_some(),
        raw.close_chat.is_some(),
        raw.mark_read.is_some(),
        raw.upload_media.is_some(),
        raw.download_media.is_some(),
        raw.request.is_some(),
        raw.wait_until.is_some(),
        raw.wait_event.is_some(),
    ];
    STEP_TYPES
        .iter()
        .zip(flags)
        .filter(|(_, set)| *set)
        .map(|(k, _)| *k)
        .collect()
}

/// The step's action: a `wait_event`, a `wait_until` poll or a request.
fn build_action(
    v: &mut Validator<'_>,
    raw: &RawStep,
    kind: &str,
    cx: &StepCx<'_>,
    defined: &mut HashSet<String>,
) -> Option<StepAction> {
    if let Some(wait) = &raw.wait_event {
        return super::webhook::wait_event_action(v, raw, wait, &cx.at, &cx.path, defined);
    }
    if let Some(wait) = &raw.wait_until {
        return wait_until_action(v, raw, wait, cx, defined);
    }
    build_request(v, raw, kind, cx, defined).map(|r| StepAction::Request(Box::new(r)))
}

/// A `wait_until` step (`raw` is the whole step): the polled request, the
/// `until` it waits for, its timeout and polling interval.
fn wait_until_action(
    v: &mut Validator<'_>,
    raw: &RawStep,
    wait: &RawWaitUntil,
    cx: &StepCx<'_>,
    defined: &mut HashSet<String>,
) -> Option<StepAction> {
    let inner_cx = StepCx {
        at: wait.step.referenced,
        path: format!("{}.wait_until.step", cx.path),
        flow: cx.flow,
    };
    let inner = &wait.step.value;
    let inner_kind = polled_kind(v, inner, &inner_cx);
    // `until` is checked before the polled step's captures are stored.
    let until = expectation(
        v,
        Some(&wait.until),
        &cx.at,
        &format!("{}.wait_until.until", cx.path),
        defined,
    );
    let request = inner_kind.and_then(|kind| build_request(v, inner, kind, &inner_cx, defined));
    // Every part is checked, so that all of its problems are reported at once.
    let timeout = v.positive_duration(
        &wait.timeout.value,
        &wait.timeout.referenced,
        &format!("{}.wait_until.timeout", cx.path),
    );
    let interval = match &wait.interval {
        Some(i) => v.positive_duration(
            &i.value,
            &i.referenced,
            &format!("{}.wait_until.interval", cx.path),
        ),
        None => Some(std::time::Duration::from_millis(250)),
    };
    if raw.expect.is_some() || !raw.capture.is_empty() {
        v.problem(
            &cx.at,
            &cx.path,
            "put `expect` and `capture` on wait_until.step, not beside wait_until",
        );
    }
    Some(StepAction::WaitUntil(Box::new(WaitSpec {
        request: request?,
        until,
        timeout: timeout?,
        interval: interval?,
    })))
}

/// The type of the step `wait_until` polls: exactly one, and a request.
fn polled_kind(v: &mut Validator<'_>, inner: &RawStep, cx: &StepCx<'_>) -> Option<&'static str> {
    let kinds = step_kinds(inner);
    let [kind] = kinds.as_slice() else {
        v.problem(
            &cx.at,
            &cx.path,
            "wait_until.step needs exactly one request step type",
        );
        return None;
    };
    if matches!(*kind, "wait_until" | "wait_event") {
        v.problem(
            &cx.at,
            &cx.path,
            format!("wait_until polls a request step, not a {kind}"),
        );
        return None;
    }
    Some(kind)
}
