//! Flows and steps: typed Agent Chat steps and the generic `request` step
//! become [`RequestSpec`]s with their defaults, captures and expectations;
//! variables are checked to be set before they are used.

use std::collections::HashSet;

use serde_json::Value;
use serde_saphyr::{Location, Spanned};

use super::Validator;
use super::typed_steps::typed_draft;
use crate::api::{AuthClass, Method, Operation, PathSegment};
use crate::scenario::limits::{MAX_REPEAT, MAX_WEIGHT};
use crate::scenario::media::{MediaCheck, RawDownloadMedia, multipart_spec, parse_size};
use crate::scenario::raw::{RawExpect, RawFlow, RawRequest, RawScenario, RawStep};
use crate::scenario::template::Template;
use crate::scenario::{
    Auth, Capture, ChatEffect, Expectation, Flow, OnError, RequestSpec, RouteInfo, Step,
    StepAction, WaitSpec,
};

/// Where a step sits, for messages and names.
struct StepCx<'a> {
    at: Location,
    path: String,
    flow: &'a str,
}

pub(super) fn validate_flows(v: &mut Validator<'_>, raw: &RawScenario) -> Vec<Flow> {
    let mut flows = Vec::new();
    match (&raw.flows, &raw.steps) {
        (Some(_), Some(_)) => v.problem(
            &raw.load.referenced,
            "steps",
            "give either `flows` or `steps`, not both",
        ),
        (None, None) => v.problem(
            &raw.load.referenced,
            "flows",
            "no steps: add `steps:` or `flows:`",
        ),
        (None, Some(steps)) => flows.push(validate_flow(v, &raw.name, 1, steps, "steps")),
        (Some(list), None) => {
            if list.is_empty() {
                v.problem(&raw.load.referenced, "flows", "`flows` is empty");
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

/// A flow's name (default `flowN`); empty and repeated names are problems,
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

fn validate_step(
    v: &mut Validator<'_>,
    raw: &RawStep,
    cx: &StepCx<'_>,
    defined: &mut HashSet<String>,
) -> Option<Step> {
    let kinds = step_kinds(raw);
    let (kind, action) = match kinds.as_slice() {
        [] if raw.think.is_some() => ("think", StepAction::Pause),
        [] => {
            v.problem(
                &cx.at,
                &cx.path,
                format!("no step type: expected one of {}", STEP_TYPES.join(", ")),
            );
            return None;
        }
        [kind] => (*kind, build_action(v, raw, kind, cx, defined)?),
        many => {
            v.problem(
                &cx.at,
                &cx.path,
                format!("one step type per step, found {}", many.join(" and ")),
            );
            return None;
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
    let on_error = match raw.on_error.as_deref() {
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
    };
    let name = step_name(v, raw.name.as_deref(), kind, cx);
    let id = v.step_names.len() as u32;
    v.step_names.push((name.clone(), cx.flow.to_owned()));
    Some(Step {
        id,
        name,
        action,
        think,
        repeat,
        on_error,
    })
}

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

fn build_action(
    v: &mut Validator<'_>,
    raw: &RawStep,
    kind: &str,
    cx: &StepCx<'_>,
    defined: &mut HashSet<String>,
) -> Option<StepAction> {
    if let Some(wait) = &raw.wait_event {
        return crate::scenario::webhook::wait_event_action(
            v, raw, wait, &cx.at, &cx.path, defined,
        );
    }
    if let Some(wait) = &raw.wait_until {
        let inner_cx = StepCx {
            at: wait.step.referenced,
            path: format!("{}.wait_until.step", cx.path),
            flow: cx.flow,
        };
        let inner = &wait.step.value;
        let inner_kinds = step_kinds(inner);
        let [inner_kind] = inner_kinds.as_slice() else {
            v.problem(
                &inner_cx.at,
                &inner_cx.path,
                "wait_until.step needs exactly one request step type",
            );
            return None;
        };
        if matches!(*inner_kind, "wait_until" | "wait_event") {
            v.problem(
                &inner_cx.at,
                &inner_cx.path,
                format!("wait_until polls a request step, not a {inner_kind}"),
            );
            return None;
        }
        // `until` is checked before the polled step's captures are stored.
        let until = expectation(
            v,
            Some(&wait.until),
            &cx.at,
            &format!("{}.wait_until.until", cx.path),
            defined,
        );
        let request = build_request(v, inner, inner_kind, &inner_cx, defined)?;
        let timeout = v.positive_duration(
            &wait.timeout.value,
            &wait.timeout.referenced,
            &format!("{}.wait_until.timeout", cx.path),
        )?;
        let interval = match &wait.interval {
            Some(i) => v.positive_duration(
                &i.value,
                &i.referenced,
                &format!("{}.wait_until.interval", cx.path),
            )?,
            None => std::time::Duration::from_millis(250),
        };
        if raw.expect.is_some() || !raw.capture.is_empty() {
            v.problem(
                &cx.at,
                &cx.path,
                "put `expect` and `capture` on wait_until.step, not beside wait_until",
            );
        }
        return Some(StepAction::WaitUntil(Box::new(WaitSpec {
            request,
            until,
            timeout,
            interval,
        })));
    }
    build_request(v, raw, kind, cx, defined).map(|r| StepAction::Request(Box::new(r)))
}

fn build_request(
    v: &mut Validator<'_>,
    raw: &RawStep,
    kind: &str,
    cx: &StepCx<'_>,
    defined: &mut HashSet<String>,
) -> Option<RequestSpec> {
    let spec = match &raw.request {
        Some(request) => generic_request(v, request, cx, defined),
        None => typed_request(v, raw, kind, cx, defined),
    };
    // Checked even when the request is not, so every problem shows at once;
    // evaluated before the step's own captures are stored.
    let expect = expectation(
        v,
        raw.expect.as_ref(),
        &cx.at,
        &format!("{}.expect", cx.path),
        defined,
    );
    let captures = v.captures(&raw.capture, &cx.at, &format!("{}.capture", cx.path));
    // What the step captures counts as set afterwards even when the step is
    // invalid, so one mistake does not echo through every later step.
    let mut names: Vec<String> = captures
        .iter()
        .map(|c| v.vars.name(c.var).to_owned())
        .collect();
    if raw.request.is_none()
        && let Some(draft) = typed_draft(raw, kind)
    {
        names.extend(draft.auto_captures.iter().map(|(n, _, _)| (*n).to_owned()));
    }
    for name in names {
        v.vars.intern(&name, None);
        v.note_capture(&name, &cx.path);
        defined.insert(name);
    }
    let mut spec = spec?;
    // A typed step's own checks (a download's size and type) stay.
    let media = spec.expect.media.take();
    spec.expect = expect;
    spec.expect.media = media;
    spec.captures.extend(captures);
    Some(spec)
}

/// A typed step (`create_chat`, …) as a request with its automatic captures.
fn typed_request(
    v: &mut Validator<'_>,
    raw: &RawStep,
    kind: &str,
    cx: &StepCx<'_>,
    defined: &HashSet<String>,
) -> Option<RequestSpec> {
    let draft = typed_draft(raw, kind)?;
    let op = draft.op;
    let auth = if op.auth() == AuthClass::Public {
        Auth::AppId
    } else {
        Auth::Secret
    };
    let mut spec = finish_request(
        v,
        cx,
        defined,
        Some(op),
        &draft.path,
        draft.query,
        Vec::new(),
        draft.body,
        auth,
    )?;
    spec.route = route_id(v, op);
    spec.chat_effect = draft.chat_effect;
    if let Some(form) = &draft.multipart {
        // The typed step's keys: `chat`, `sender`, and the file's beside them.
        let path = format!("{}.{kind}", cx.path);
        let place = |field: &str| match field {
            "chatId" => format!("{path}.chat"),
            "senderId" => format!("{path}.sender"),
            _ => path.clone(),
        };
        spec.multipart = Some(multipart_spec(v, form, &cx.at, &path, &place, defined)?);
    }
    spec.expect.media = draft.download.map(|d| download_check(v, d, cx));
    for (var, pointer, optional) in draft.auto_captures {
        spec.captures.push(Capture {
            var: v.vars.intern(var, None),
            pointer: pointer.to_owned(),
            optional,
        });
    }
    Some(spec)
}

fn generic_request(
    v: &mut Validator<'_>,
    r: &RawRequest,
    cx: &StepCx<'_>,
    defined: &HashSet<String>,
) -> Option<RequestSpec> {
    let Some(method) = Method::parse(&r.method) else {
        v.problem(
            &cx.at,
            &format!("{}.request.method", cx.path),
            format!(
                "unknown method `{}`: expected GET, POST, PUT or DELETE",
                r.method
            ),
        );
        return None;
    };
    let expanded = v.expand_env(&r.path, &cx.at, &format!("{}.request.path", cx.path));
    let r_path = expanded.as_str();
    if !r_path.starts_with('/') {
        v.problem(
            &cx.at,
            &format!("{}.request.path", cx.path),
            "path must start with `/` (it is relative to the base URL, e.g. /chats/{{ chat_id }})",
        );
        return None;
    }
    let op = resolve_operation(v, method, r_path, cx);
    let auth = match r.auth.as_deref() {
        None => match op.map(Operation::auth) {
            Some(AuthClass::Public) => Auth::AppId,
            _ => Auth::Secret,
        },
        Some("secret") => Auth::Secret,
        Some("app_id") => Auth::AppId,
        Some("domain_key") => Auth::DomainKey,
        Some("none") => Auth::None,
        Some("token") => Auth::Token(Template::literal("")),
        Some(other) => {
            v.problem(
                &cx.at,
                &format!("{}.request.auth", cx.path),
                format!(
                    "unknown auth `{other}`: expected secret, app_id, domain_key, token or none"
                ),
            );
            return None;
        }
    };
    let query = r
        .query
        .iter()
        .map(|(k, val)| (k.clone(), val.clone()))
        .collect();
    let headers = r
        .headers
        .iter()
        .map(|(k, val)| (k.clone(), val.clone()))
        .collect();
    if r.body.is_some() && r.multipart.is_some() {
        v.problem(
            &cx.at,
            &format!("{}.request.multipart", cx.path),
            "give either `body` (JSON) or `multipart` (a form), not both",
        );
        return None;
    }
    // Checked before the rest, which is checked even when the form is not.
    let multipart = r.multipart.as_ref().map(|form| {
        let path = format!("{}.request.multipart", cx.path);
        let place = |field: &str| format!("{path}.{field}");
        multipart_spec(v, form, &cx.at, &path, &place, defined)
    });
    let mut spec = finish_request(
        v,
        cx,
        defined,
        op,
        r_path,
        query,
        headers,
        r.body.clone(),
        auth,
    )?;
    spec.multipart = match multipart {
        Some(form) => Some(form?),
        None => None,
    };
    spec.route = route_id(v, spec.op);
    spec.chat_effect = match spec.op {
        Operation::CreateChat => ChatEffect::Opens,
        Operation::CloseChat => ChatEffect::Closes,
        _ => ChatEffect::None,
    };
    Some(spec)
}

/// What `download_media` checks: its `size` and `type`, when given.
fn download_check(v: &mut Validator<'_>, raw: &RawDownloadMedia, cx: &StepCx<'_>) -> MediaCheck {
    let size = raw.size.as_ref().and_then(|s| {
        parse_size(s)
            .map_err(|e| {
                let place = format!("{}.download_media.size", cx.path);
                v.problem(&cx.at, &place, e);
            })
            .ok()
    });
    MediaCheck {
        size,
        content_type: raw.content_type.clone(),
    }
}

/// The operation a generic request goes to, from its method and its path
/// after `${VAR}` expansion (`{{ }}` segments stand for any value). `None`
/// after reporting the problem, with the closest operation, when it matches
/// none: every request is an operation of the spec (no free-form requests).
fn resolve_operation(
    v: &mut Validator<'_>,
    method: Method,
    path: &str,
    cx: &StepCx<'_>,
) -> Option<Operation> {
    let segments: Vec<PathSegment<'_>> = path
        .split('?')
        .next()
        .unwrap_or("")
        .trim_matches('/')
        .split('/')
        .map(|s| {
            if s.contains("{{") {
                PathSegment::Dynamic
            } else {
                PathSegment::Literal(s)
            }
        })
        .collect();
    let op = Operation::from_segments(method, &segments);
    if op.is_none() {
        let near = Operation::closest(method, &segments);
        v.problem(
            &cx.at,
            &format!("{}.request.path", cx.path),
            format!(
                "`{method} {}` matches no operation of the API spec; the closest is `{}` ({})",
                template_shape(path),
                near.route_key(),
                near.id()
            ),
        );
    }
    op
}

/// `/chats/{{ chat_id }}` → `/chats/{chat_id}`, a stable route key for unmatched paths.
fn template_shape(path: &str) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find("}}")
            .map_or(rest.len(), |e| start + e + 2);
        out.push('{');
        out.push_str(rest[start + 2..end.saturating_sub(2).max(start + 2)].trim());
        out.push('}');
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

fn route_id(v: &mut Validator<'_>, op: Operation) -> u32 {
    if let Some(i) = v.routes.iter().position(|r| r.operation == op) {
        return i as u32;
    }
    v.routes.push(RouteInfo {
        key: op.route_key().to_owned(),
        operation: op,
    });
    (v.routes.len() - 1) as u32
}

/// The validated request of `op` (`None`: a problem was reported, e.g. the
/// operation itself could not be resolved; the parts are still checked so
/// that every problem is reported at once).
#[allow(clippy::too_many_arguments)]
fn finish_request(
    v: &mut Validator<'_>,
    cx: &StepCx<'_>,
    defined: &HashSet<String>,
    op: Option<Operation>,
    path: &str,
    query: Vec<(String, Value)>,
    headers: Vec<(String, String)>,
    body: Option<Value>,
    auth: Auth,
) -> Option<RequestSpec> {
    let before = v.problems.len();
    let at = cx.at;
    let place = |field: &str| format!("{}.{field}", cx.path);
    let path_t = v.step_template(path, &at, &place("path"), defined);
    let mut query_t = Vec::with_capacity(query.len());
    for (k, val) in &query {
        let text = match val {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        if let Some(t) = v.step_template(&text, &at, &place(&format!("query.{k}")), defined) {
            query_t.push((k.clone(), t));
        }
    }
    let mut headers_t = Vec::with_capacity(headers.len());
    for (k, val) in &headers {
        if let Some(t) = v.step_template(val, &at, &place(&format!("headers.{k}")), defined) {
            headers_t.push((k.clone(), t));
        }
    }
    let body_t = body
        .as_ref()
        .and_then(|b| v.step_value_template(b, &at, &place("body"), defined));
    let auth = match auth {
        Auth::Token(_) => match v.step_template("{{ user_token }}", &at, &place("auth"), defined) {
            Some(t) => Auth::Token(t),
            None => Auth::Secret,
        },
        other => other,
    };
    if v.problems.len() > before {
        return None;
    }
    Some(RequestSpec {
        route: 0,
        op: op?,
        path: path_t?,
        query: query_t,
        headers: headers_t,
        body: body_t,
        multipart: None,
        auth,
        expect: Expectation::default(),
        captures: Vec::new(),
        chat_effect: ChatEffect::None,
    })
}

/// `expect` or `until`; `defined` holds the variables set before the step
/// (its own captures are stored only after these checks).
fn expectation(
    v: &mut Validator<'_>,
    raw: Option<&RawExpect>,
    at: &Location,
    path: &str,
    defined: &HashSet<String>,
) -> Expectation {
    let Some(raw) = raw else {
        return Expectation::default();
    };
    let mut body = Vec::new();
    let body_path = format!("{path}.body");
    for (p, spec) in &raw.body {
        let at = known_or(&spec.referenced, at);
        if let Some(check) = v.body_check(p, &spec.value, &at, &body_path, defined) {
            body.push(check);
        }
    }
    Expectation {
        statuses: raw.status.as_ref().map(|s| s.0.clone()).unwrap_or_default(),
        body,
        media: None,
    }
}

/// `at` unless it is unknown, else `fallback`.
pub(super) fn known_or(at: &Location, fallback: &Location) -> Location {
    if *at == Location::UNKNOWN {
        *fallback
    } else {
        *at
    }
}
