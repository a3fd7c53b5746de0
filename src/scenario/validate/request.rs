//! A step's request: a typed Agent Chat step or the generic `request` step
//! becomes a [`RequestSpec`] of one spec operation, with its defaults,
//! captures and expectations.

use std::collections::HashSet;

use serde_json::Value;
use serde_saphyr::Location;

use super::Validator;
use super::media::{multipart_spec, parse_size};
use super::typed_steps::typed_draft;
use crate::api::{AuthClass, Method, Operation, PathSegment};
use crate::scenario::media::MediaCheck;
use crate::scenario::raw::RawDownloadMedia;
use crate::scenario::raw::{RawExpect, RawRequest, RawStep};
use crate::scenario::template::Template;
use crate::scenario::{Auth, Capture, ChatEffect, Expectation, RequestSpec, RouteInfo};

/// Where a step sits, for messages and names.
pub(super) struct StepCx<'a> {
    pub(super) at: Location,
    pub(super) path: String,
    pub(super) flow: &'a str,
}

pub(super) fn build_request(
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

/// The generic `request` step: method, path (resolved to a spec operation
/// where one matches), auth, query, headers and a JSON or form body.
fn generic_request(
    v: &mut Validator<'_>,
    r: &RawRequest,
    cx: &StepCx<'_>,
    defined: &HashSet<String>,
) -> Option<RequestSpec> {
    let method = request_method(v, &r.method, cx)?;
    let r_path = request_path(v, &r.path, cx)?;
    let op = resolve_operation(v, method, &r_path, cx);
    let auth = request_auth(v, r.auth.as_deref(), op, cx)?;
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
        &r_path,
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

/// `method`: GET, POST, PUT or DELETE.
fn request_method(v: &mut Validator<'_>, text: &str, cx: &StepCx<'_>) -> Option<Method> {
    let method = Method::parse(text);
    if method.is_none() {
        v.problem(
            &cx.at,
            &format!("{}.request.method", cx.path),
            format!("unknown method `{text}`: expected GET, POST, PUT or DELETE"),
        );
    }
    method
}

/// `path` with `${VAR}`s expanded; it must start with `/`.
fn request_path(v: &mut Validator<'_>, text: &str, cx: &StepCx<'_>) -> Option<String> {
    let expanded = v.expand_env(text, &cx.at, &format!("{}.request.path", cx.path));
    if !expanded.starts_with('/') {
        v.problem(
            &cx.at,
            &format!("{}.request.path", cx.path),
            "path must start with `/` (it is relative to the base URL, e.g. /chats/{{ chat_id }})",
        );
        return None;
    }
    Some(expanded)
}

/// `auth`; by default what the operation needs (the app id for public
/// routes, else the secret).
fn request_auth(
    v: &mut Validator<'_>,
    text: Option<&str>,
    op: Option<Operation>,
    cx: &StepCx<'_>,
) -> Option<Auth> {
    Some(match text {
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
    })
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
pub(super) fn expectation(
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
