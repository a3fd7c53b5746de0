//! Turns a failed step into a [`FailureSample`]: which check did not hold, at which JSON path,
//! what was expected and what came back, the status and the API's own error message.
//!
//! Runs only for failures the metrics hub still wants a sample of (the first few per step and
//! kind), and for `--verbose` log lines, so it may allocate and format freely. Everything that
//! leaves here went through the [`Masker`].

use crate::client::ClientError;
use std::fmt::Write as _;
#[cfg(test)]
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use super::mask::Masker;
use super::session::Session;
use super::verbose::Peek;
use crate::metrics::{FailureKind, FailureSample};
use crate::scenario::matcher::{BodyCheck, Matcher, pointer};
use crate::scenario::media::MediaMismatch;
use crate::scenario::template::{RenderContext, VarId};
use crate::scenario::webhook::WaitEventSpec;
use crate::scenario::{Auth, Expectation, RequestSpec, Scenario, WaitSpec};
use crate::schema::Violation;

/// What the failing exchange brought back.
#[derive(Clone, Copy, Debug)]
pub(super) struct Response<'a> {
    /// HTTP status, if a response arrived.
    pub status: Option<u16>,
    /// The body parsed as JSON, when the engine parsed it.
    pub body: Option<&'a Value>,
    /// The raw body bytes.
    pub raw: &'a [u8],
    /// The response's `Content-Type`, when it had a readable one.
    pub content_type: Option<&'a str>,
    /// The schema violation, for a `schema` failure.
    pub violation: Option<&'a Violation>,
    /// The `Content-Type`s the spec declares for the response, when its own
    /// was none of them (a `decode` failure before any body was read).
    pub declared_type: Option<&'a str>,
    /// Why no response arrived, when none did.
    pub cause: Option<ClientError>,
}

/// The scenario, masker and session a failure is explained in.
#[derive(Clone, Copy)]
pub(super) struct Explainer<'a> {
    pub scenario: &'a Scenario,
    pub masker: &'a Masker,
    pub session: &'a Session,
    /// The client's request timeout, for `timeout` failures.
    pub timeout: Duration,
}

impl Explainer<'_> {
    /// A sample with the session's VU, iteration and the request's route filled in.
    fn base(&self, route: Option<u32>, status: Option<u16>) -> FailureSample {
        FailureSample {
            route: route.and_then(|r| self.scenario.routes.get(r as usize).map(|r| r.key.clone())),
            status,
            iteration: self.session.iteration,
            vu: self.session.vu,
            ..FailureSample::default()
        }
    }

    fn mask(&self, name: Option<&str>, text: &str) -> String {
        self.masker.value(Some(self.session), name, text)
    }

    /// Why a request step (or the request of a `wait_until`) failed with `kind`.
    pub fn request(
        &self,
        spec: &RequestSpec,
        expect: &Expectation,
        kind: FailureKind,
        response: Response<'_>,
    ) -> FailureSample {
        let mut sample = self.base(Some(spec.route), response.status);
        let parsed;
        let body = match response.body {
            Some(body) => Some(body),
            None => {
                parsed = serde_json::from_slice::<Value>(response.raw).ok();
                parsed.as_ref()
            }
        };
        sample.api_message = body.and_then(api_message).map(|m| self.mask(None, m));
        match kind {
            FailureKind::Status => self.status(&mut sample, expect, response.status),
            FailureKind::Expectation if self.media(&mut sample, expect, response) => {}
            FailureKind::Expectation => match body {
                Some(body) => match expect
                    .body
                    .iter()
                    .find(|c| !c.holds(body, &mut self.peek()))
                {
                    Some(check) => self.body_check(&mut sample, check, body),
                    None => sample.check = "expect".to_owned(),
                },
                None => sample.check = "expect: response body is not JSON".to_owned(),
            },
            FailureKind::Capture => self.capture(&mut sample, spec, body),
            FailureKind::Schema => {
                sample.check = "schema".to_owned();
                if let Some(v) = response.violation {
                    sample.path = Some(if v.path.is_empty() {
                        "(body)".to_owned()
                    } else {
                        v.path.clone()
                    });
                    sample.expected = Some("matches the spec's response schema".to_owned());
                    sample.actual = Some(self.mask(Some(&v.path), &v.reason));
                }
            }
            FailureKind::Decode => match response.declared_type {
                Some(declared) => self.content_type(&mut sample, declared, response),
                None => {
                    sample.check = "response body is JSON".to_owned();
                    sample.actual = Some(self.masker.body(Some(self.session), response.raw));
                }
            },
            FailureKind::Timeout => {
                sample.check =
                    format!("timeout after {}", humantime::format_duration(self.timeout));
            }
            FailureKind::Connect => {
                sample.check = "connect to the target".to_owned();
                sample.actual = Some(match response.cause {
                    Some(ClientError::Connect(why)) => why.to_string(),
                    _ => "connection failed".to_owned(),
                });
            }
            FailureKind::Throttled => {
                sample.check = "rate_limit".to_owned();
                sample.expected =
                    Some("not throttled, or throttled within the policy's re-sends".to_owned());
                sample.actual = response
                    .status
                    .map(|s| format!("{s} throttled (policy gave up)"));
            }
            FailureKind::Other => {
                sample.check = "request".to_owned();
                sample.actual = Some(response.cause.map_or_else(
                    || "failed before a response arrived".to_owned(),
                    |c| c.to_string(),
                ));
            }
        }
        sample
    }

    /// Fills in a download's failed size or type check; false when that is not what failed.
    fn media(
        &self,
        sample: &mut FailureSample,
        expect: &Expectation,
        response: Response<'_>,
    ) -> bool {
        let Some(check) = &expect.media else {
            return false;
        };
        match check.mismatch(response.raw.len(), response.content_type) {
            Some(MediaMismatch::Size) => {
                sample.check = "download size".to_owned();
                sample.expected = check.size.map(|s| format!("{s} bytes"));
                sample.actual = Some(format!("{} bytes", response.raw.len()));
            }
            Some(MediaMismatch::Type) => {
                sample.check = "download content type".to_owned();
                sample.expected = check.content_type.clone();
                sample.actual = Some(response.content_type.unwrap_or("(none)").to_owned());
            }
            None => return false,
        }
        true
    }

    /// A response whose `Content-Type` is none of those the spec `declared`
    /// for its route and status: the check names both, and what came.
    fn content_type(&self, sample: &mut FailureSample, declared: &str, response: Response<'_>) {
        let route = sample.route.as_deref().unwrap_or("the route");
        let status = response
            .status
            .map_or_else(String::new, |s| format!(" {s}"));
        sample.check = format!("Content-Type the spec declares for {route}{status}");
        sample.expected = Some(declared.to_owned());
        sample.actual = Some(
            response
                .content_type
                .map_or_else(|| "(no Content-Type)".to_owned(), |t| self.mask(None, t)),
        );
    }

    fn status(&self, sample: &mut FailureSample, expect: &Expectation, status: Option<u16>) {
        sample.check = status_check(expect);
        sample.expected = Some(expected_statuses(expect));
        sample.actual = status.map(|s| s.to_string());
    }

    fn body_check(&self, sample: &mut FailureSample, check: &BodyCheck, body: &Value) {
        let path = check.pointer.as_str();
        let (op, expected) = self.operand(check);
        // The operand comes from the scenario: masked when it is (or renders to) a secret, not
        // for the path it is compared at (`exists: false` at /session/token hides nothing).
        let expected = self.mask(None, &expected);
        sample.check = format!("body {path} {op} {expected}");
        sample.path = Some(path.to_owned());
        sample.expected = Some(format!("{op} {expected}"));
        sample.actual = Some(match pointer(body, path) {
            Some(value) => self.mask(Some(path), &value.to_string()),
            None => "(absent)".to_owned(),
        });
    }

    fn capture(&self, sample: &mut FailureSample, spec: &RequestSpec, body: Option<&Value>) {
        if sample.status.is_none() {
            // Nothing was sent: a template of the request read a variable not set yet.
            let unset = request_vars(spec)
                .into_iter()
                .find(|id| self.session.var(*id).is_none());
            sample.check = match unset {
                Some(id) => format!(
                    "not sent: variable `{}` is not set (an earlier capture failed or was skipped)",
                    self.var_name(id)
                ),
                None => "not sent: a template could not be rendered".to_owned(),
            };
            return;
        }
        let missing = spec.captures.iter().find(|c| {
            !c.optional
                && body
                    .and_then(|b| pointer(b, &c.pointer))
                    .is_none_or(Value::is_null)
        });
        let Some(capture) = missing else {
            sample.check = "capture".to_owned();
            return;
        };
        sample.check = format!("capture {}", self.var_name(capture.var));
        sample.path = Some(capture.pointer.clone());
        sample.expected = Some("a value".to_owned());
        sample.actual = Some(match body.and_then(|b| pointer(b, &capture.pointer)) {
            Some(Value::Null) => "null".to_owned(),
            Some(value) => self.mask(Some(&capture.pointer), &value.to_string()),
            None if body.is_none() => "(no JSON body)".to_owned(),
            None => "(absent)".to_owned(),
        });
    }

    /// Why a `wait_until` whose every response passed its `expect` never saw `until` hold.
    pub fn wait_until(&self, wait: &WaitSpec, response: Response<'_>) -> FailureSample {
        let mut sample = self.base(Some(wait.request.route), response.status);
        sample.api_message = response
            .body
            .and_then(api_message)
            .map(|m| self.mask(None, m));
        let mut conditions = Vec::new();
        if !wait.until.statuses.is_empty() {
            conditions.push(status_check(&wait.until));
        }
        for check in &wait.until.body {
            let (op, expected) = self.operand(check);
            let expected = self.mask(None, &expected);
            conditions.push(format!("body {} {op} {expected}", check.pointer));
        }
        sample.check = format!(
            "wait_until {} not met by deadline ({})",
            conditions.join(", "),
            humantime::format_duration(wait.timeout)
        );
        let status_missed = response
            .status
            .is_some_and(|s| !wait.until.statuses.is_empty() && !wait.until.statuses.contains(&s));
        let failing = response.body.and_then(|b| {
            let failing = wait
                .until
                .body
                .iter()
                .find(|c| !c.holds(b, &mut self.peek()));
            failing.map(|c| (c, b))
        });
        if status_missed {
            sample.expected = Some(expected_statuses(&wait.until));
            sample.actual = response.status.map(|s| s.to_string());
        } else if let Some((check, body)) = failing {
            let mut detail = FailureSample::default();
            self.body_check(&mut detail, check, body);
            (sample.path, sample.expected, sample.actual) =
                (detail.path, detail.expected, detail.actual);
        } else if response.body.is_none() && !wait.until.body.is_empty() {
            sample.actual = Some("(no JSON body)".to_owned());
        }
        sample
    }

    /// Why a `wait_event` step failed with `kind`.
    pub fn wait_event(&self, spec: &WaitEventSpec, kind: FailureKind) -> FailureSample {
        let mut sample = self.base(None, None);
        let event = &spec.event;
        sample.check = match kind {
            FailureKind::Timeout => format!(
                "wait_event {event}{} not received in {}",
                self.where_text(spec),
                humantime::format_duration(spec.timeout)
            ),
            FailureKind::Capture => self.wait_event_capture(spec),
            FailureKind::Other => format!("wait_event {event}: the run has no webhooks"),
            other => format!("wait_event {event}: {other}"),
        };
        if kind == FailureKind::Timeout {
            sample.expected = Some(format!("a {event} event"));
            sample.actual = Some("none".to_owned());
        }
        sample
    }

    /// ` where data.userId ne "u-1"`: the `where` conditions the event had to meet, if any.
    fn where_text(&self, spec: &WaitEventSpec) -> String {
        let conditions: Vec<String> = spec
            .filter
            .iter()
            .map(|check| {
                let (op, expected) = self.operand(check);
                format!("{} {op} {}", check.pointer, self.mask(None, &expected))
            })
            .collect();
        if conditions.is_empty() {
            String::new()
        } else {
            format!(" where {}", conditions.join(", "))
        }
    }

    fn wait_event_capture(&self, spec: &WaitEventSpec) -> String {
        let event = &spec.event;
        let has_chat = self
            .session
            .events
            .as_ref()
            .is_some_and(|e| e.last_chat().is_some());
        if spec.chat.is_none() && !has_chat {
            return format!("wait_event {event}: no chat was created in this iteration to wait on");
        }
        let unset = spec
            .chat
            .iter()
            .flat_map(|t| t.vars())
            .chain(
                spec.filter
                    .iter()
                    .flat_map(|c| c.operand.iter().flat_map(|o| o.vars())),
            )
            .find(|id| self.session.var(*id).is_none());
        if let Some(id) = unset {
            return format!(
                "wait_event {event}: variable `{}` is not set (an earlier capture failed)",
                self.var_name(id)
            );
        }
        let names: Vec<String> = spec
            .captures
            .iter()
            .map(|c| format!("{} at {}", self.var_name(c.var), c.pointer))
            .collect();
        format!(
            "wait_event {event}: capture {} not in the event",
            names.join(", ")
        )
    }

    /// Renders templates from the session without advancing its random numbers.
    fn peek(&self) -> Peek<'_> {
        Peek::new(self.session)
    }

    /// The check's operator and operand as text; a templated operand rendered from the session
    /// as the check saw it.
    fn operand(&self, check: &BodyCheck) -> (&'static str, String) {
        let (op, literal) = matcher_parts(&check.matcher);
        match &check.operand {
            None => (op, literal),
            Some(template) => match template.render(&mut self.peek()) {
                Ok(value) => (op, value.to_string()),
                Err(unset) => (
                    op,
                    format!("{{{{ {} }}}} (not set)", self.var_name(unset.0)),
                ),
            },
        }
    }

    fn var_name(&self, id: VarId) -> &str {
        self.scenario
            .vars
            .names
            .get(id.0 as usize)
            .map_or("?", String::as_str)
    }
}

/// `status in [200, 201]`, or `status 2xx` when the step accepts any success.
fn status_check(expect: &Expectation) -> String {
    if expect.statuses.is_empty() {
        "status 2xx".to_owned()
    } else {
        format!("status in [{}]", expected_statuses_list(expect))
    }
}

fn expected_statuses(expect: &Expectation) -> String {
    if expect.statuses.is_empty() {
        "2xx".to_owned()
    } else {
        expected_statuses_list(expect)
    }
}

fn expected_statuses_list(expect: &Expectation) -> String {
    let mut out = String::new();
    for (index, status) in expect.statuses.iter().enumerate() {
        if index > 0 {
            out.push_str(", ");
        }
        let _ = write!(out, "{status}");
    }
    out
}

/// The operator's name and its operand as text (`("ne", "\"u-1\"")`).
pub(super) fn matcher_parts(matcher: &Matcher) -> (&'static str, String) {
    match matcher {
        Matcher::Eq(v) => ("eq", v.to_string()),
        Matcher::Ne(v) => ("ne", v.to_string()),
        Matcher::Gt(n) => ("gt", n.to_string()),
        Matcher::Gte(n) => ("gte", n.to_string()),
        Matcher::Lt(n) => ("lt", n.to_string()),
        Matcher::Lte(n) => ("lte", n.to_string()),
        Matcher::Exists(b) => ("exists", b.to_string()),
        Matcher::OneOf(list) => ("in", Value::Array(list.clone()).to_string()),
        Matcher::Contains(s) => ("contains", Value::String(s.clone()).to_string()),
    }
}

/// The API's own error message: `error.message` of its error envelope (or a top-level
/// `message`).
pub(super) fn api_message(body: &Value) -> Option<&str> {
    body.pointer("/error/message")
        .or_else(|| body.get("message"))
        .and_then(Value::as_str)
}

/// Every variable a request's templates read.
fn request_vars(spec: &RequestSpec) -> Vec<VarId> {
    let mut vars: Vec<VarId> = spec.path.vars().collect();
    vars.extend(spec.query.iter().flat_map(|(_, t)| t.vars()));
    vars.extend(spec.headers.iter().flat_map(|(_, t)| t.vars()));
    if let Some(body) = &spec.body {
        vars.extend(body.vars());
    }
    if let Some(form) = &spec.multipart {
        vars.extend(form.vars());
    }
    if let Auth::Token(t) = &spec.auth {
        vars.extend(t.vars());
    }
    vars
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use tokio_util::sync::CancellationToken;

    use crate::scenario::StepAction;

    const YAML: &str = "name: t\nload: {vus: 1, iterations: 1}\nsteps:\n  - create_user:\n  \
        - get_user:\n    expect: {body: {user.id: {ne: '{{ user_id }}'}, user.name: '{{ user_token }}'}}\n";

    fn set(scenario: &Scenario, session: &mut Session, name: &str, value: Value) {
        let index = scenario
            .vars
            .names
            .iter()
            .position(|n| n == name)
            .expect("known variable");
        session.set(VarId(index as u32), value);
    }

    fn get_user(scenario: &Scenario) -> &RequestSpec {
        match &scenario.flows[0].steps[1].action {
            StepAction::Request(spec) => spec,
            other => panic!("not a request: {other:?}"),
        }
    }

    #[test]
    fn a_templated_operand_is_shown_as_the_check_saw_it_and_a_token_is_masked() {
        let scenario = crate::scenario::load_str(YAML, "t.yaml", Path::new(".")).expect("valid");
        let mut session = Session::new(
            &scenario,
            3,
            42,
            CancellationToken::new(),
            Default::default(),
        );
        session.iteration = 7;
        set(&scenario, &mut session, "user_id", json!("u-1"));
        set(&scenario, &mut session, "user_token", json!("tok-5ecret"));
        let masker = Masker::new(Vec::new(), &scenario);
        let explainer = Explainer {
            scenario: &scenario,
            masker: &masker,
            session: &session,
            timeout: Duration::from_secs(30),
        };
        let spec = get_user(&scenario);
        let body = json!({"user": {"id": "u-1", "name": "Ada"}});
        let response = Response {
            status: Some(200),
            body: Some(&body),
            raw: b"",
            content_type: None,
            violation: None,
            declared_type: None,
            cause: None,
        };
        let sample = explainer.request(spec, &spec.expect, FailureKind::Expectation, response);
        assert_eq!(sample.check, "body /user/id ne \"u-1\"");
        assert_eq!(sample.expected.as_deref(), Some("ne \"u-1\""));
        assert_eq!(sample.actual.as_deref(), Some("\"u-1\""));
        assert_eq!(sample.route.as_deref(), Some("GET /users/{userId}"));
        assert_eq!(
            (sample.vu, sample.iteration, sample.status),
            (3, 7, Some(200))
        );

        let body = json!({"user": {"id": "u-2", "name": "Ada"}});
        let response = Response {
            body: Some(&body),
            ..response
        };
        let sample = explainer.request(spec, &spec.expect, FailureKind::Expectation, response);
        assert_eq!(
            sample.check, "body /user/name eq MASKED",
            "the operand is the token"
        );
        assert_eq!(sample.actual.as_deref(), Some("\"Ada\""));
    }

    #[test]
    fn a_status_failure_carries_the_api_message_from_the_raw_body() {
        let scenario = crate::scenario::load_str(YAML, "t.yaml", Path::new(".")).expect("valid");
        let session = Session::new(
            &scenario,
            1,
            42,
            CancellationToken::new(),
            Default::default(),
        );
        let masker = Masker::new(vec!["s3cret-value".to_owned()], &scenario);
        let explainer = Explainer {
            scenario: &scenario,
            masker: &masker,
            session: &session,
            timeout: Duration::from_secs(30),
        };
        let raw = br#"{"error":{"code":404,"message":"User not found"}}"#;
        let response = Response {
            status: Some(404),
            body: None,
            raw,
            content_type: None,
            violation: None,
            declared_type: None,
            cause: None,
        };
        let spec = get_user(&scenario);
        // No response: the transport's reason is what is shown, status and all.
        for (cause, says) in [
            (
                ClientError::Dropped,
                "closed or was reset before the response arrived",
            ),
            (ClientError::BodyCut(200), "the 200 response was cut off"),
        ] {
            let none = Response {
                status: None,
                raw: b"",
                cause: Some(cause),
                ..response
            };
            let sample = explainer.request(spec, &spec.expect, FailureKind::Other, none);
            let actual = sample.actual.unwrap_or_default();
            assert!(actual.contains(says), "{actual}");
        }
        let sample = explainer.request(spec, &spec.expect, FailureKind::Status, response);
        assert_eq!(sample.check, "status 2xx");
        assert_eq!(sample.actual.as_deref(), Some("404"));
        assert_eq!(sample.api_message.as_deref(), Some("User not found"));
        let raw = br#"{"error":{"message":"bad secret s3cret-value"}}"#;
        let sample = explainer.request(
            spec,
            &spec.expect,
            FailureKind::Status,
            Response { raw, ..response },
        );
        assert_eq!(sample.api_message.as_deref(), Some("MASKED"));
        let sample = explainer.request(spec, &spec.expect, FailureKind::Timeout, response);
        assert_eq!(sample.check, "timeout after 30s");
    }

    #[test]
    fn matcher_parts_name_the_operator_and_operand() {
        assert_eq!(
            matcher_parts(&Matcher::Ne(json!("u-1"))),
            ("ne", "\"u-1\"".to_owned())
        );
        assert_eq!(matcher_parts(&Matcher::Gte(1.0)), ("gte", "1".to_owned()));
        assert_eq!(
            matcher_parts(&Matcher::OneOf(vec![json!("a"), json!(2)])),
            ("in", "[\"a\",2]".to_owned())
        );
    }

    #[test]
    fn api_message_reads_the_error_envelope() {
        let body = json!({"error": {"code": 409, "message": "User already has a chat"}});
        assert_eq!(api_message(&body), Some("User already has a chat"));
        assert_eq!(api_message(&json!({"message": "nope"})), Some("nope"));
        assert_eq!(api_message(&json!({"chat": {}})), None);
    }

    #[test]
    fn status_checks_read_as_the_scenario_states_them() {
        let expect = Expectation {
            statuses: vec![200, 201],
            body: Vec::new(),
            media: None,
        };
        assert_eq!(status_check(&expect), "status in [200, 201]");
        assert_eq!(status_check(&Expectation::default()), "status 2xx");
    }
}
