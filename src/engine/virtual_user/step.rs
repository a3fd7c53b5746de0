//! One step of a virtual user: a request, a `wait_event` or a `wait_until`
//! poll loop; then the response's status, body checks, captures and chat
//! bookkeeping, and the step's record in the metrics.

use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use super::exchange::{Exchange, handled};
use super::wait_event::WaitResult;
use super::{Runner, StepResult, micros, next_poll};
use crate::engine::session::Session;
use crate::metrics::{FailureKind, StepId, StepSample};
use crate::scenario::matcher::pointer;
use crate::scenario::{ChatEffect, Expectation, RequestSpec, Step, StepAction, WaitSpec};

/// How a step's action ended.
enum Ended {
    /// It ran, and took the time it took; `Some` is why it failed.
    Timed(Option<FailureKind>),
    /// Its request was never sent (a template read an unset variable): a
    /// failure with no time to record, so no latency is made up for it.
    Unsent,
}

impl Runner {
    /// Runs one step that begins at `begun`; how it went and when it ended.
    pub(super) async fn run_step(
        &self,
        step: &Step,
        session: &mut Session,
        lag: Duration,
        begun: Instant,
    ) -> (StepResult, Instant) {
        // chatload's own time in this step (back-off, handling answers) is
        // taken out of its time.
        let own_before = session.own_time;
        let ended = match &step.action {
            StepAction::Pause => return (StepResult::Ok, begun),
            StepAction::Request(spec) => self.request_step(step, spec, session, lag).await,
            // Boxed, like `poll_until` below: inline, these rarer steps' futures
            // would make every VU's task larger than a request step needs.
            StepAction::WaitEvent(wait) => match Box::pin(self.wait_event(wait, session)).await {
                WaitResult::Done(failure) => {
                    if let Some(kind) = failure {
                        self.step_failed(step, kind, session, None, |x| x.wait_event(wait, kind));
                    }
                    Ended::Timed(failure)
                }
                WaitResult::Aborted => return (StepResult::Aborted, Instant::now()),
                WaitResult::Abandoned => {
                    // A user giving up is no failure of the step.
                    let end = Instant::now();
                    let took = timed(end - begun, session.own_time - own_before);
                    self.record_step(step, None, took, lag);
                    return (StepResult::Abandoned, end);
                }
            },
            StepAction::WaitUntil(wait) => {
                Box::pin(self.poll_until(step, wait, session, lag, begun + wait.timeout)).await
            }
        };
        let end = Instant::now();
        let failure = match ended {
            Ended::Timed(failure) => {
                let took = timed(end - begun, session.own_time - own_before);
                self.record_step(step, failure, took, lag);
                failure
            }
            Ended::Unsent => {
                self.hub
                    .record_untimed_step(StepId(step.id), FailureKind::Capture);
                Some(FailureKind::Capture)
            }
        };
        let result = if failure.is_none() {
            StepResult::Ok
        } else {
            StepResult::Failed
        };
        (result, end)
    }

    /// A step's sample: how long it took and, with the schedule `lag`, how
    /// long it would have taken had it started on time.
    fn record_step(
        &self,
        step: &Step,
        failure: Option<FailureKind>,
        took: Duration,
        lag: Duration,
    ) {
        let duration = micros(took);
        self.hub.record_step(&StepSample {
            step: StepId(step.id),
            ok: failure.is_none(),
            failure,
            duration_us: duration,
            corrected_us: duration + micros(lag),
        });
    }

    /// A request step: send it (reading the body only when something needs
    /// it), conclude, record, and tell the webhook tracker what happened.
    async fn request_step(
        &self,
        step: &Step,
        spec: &RequestSpec,
        session: &mut Session,
        lag: Duration,
    ) -> Ended {
        let needs_body = !spec.expect.body.is_empty()
            || !spec.captures.is_empty()
            || spec.chat_effect != ChatEffect::None
            || self
                .hooks
                .as_ref()
                .is_some_and(|h| h.needs_body(spec.route));
        let ex = self.exchange(step.id, spec, session, needs_body, lag).await;
        let failure = ex
            .failure
            .or_else(|| self.conclude(spec, &spec.expect, session, &ex))
            .or(ex.schema_failed.then_some(FailureKind::Schema));
        self.record_request(step.id, spec, &ex, failure, lag);
        if let Some(kind) = failure {
            self.request_failed(step, spec, kind, session, &ex);
        }
        let ended = if ex.was_sent() {
            if let Some(hooks) = &self.hooks {
                hooks.on_response(spec.route, ex.status, ex.body.as_ref(), ex.sent, session);
            }
            Ended::Timed(failure)
        } else {
            Ended::Unsent
        };
        // Handling the answer, up to dropping its parsed body, was
        // chatload's time, not the target's.
        handled(session, ex);
        ended
    }

    /// A `wait_until` step: poll its request every `interval` until the
    /// response matches `until` (then conclude it like a request step) or
    /// `deadline` passes.
    async fn poll_until(
        &self,
        step: &Step,
        wait: &WaitSpec,
        session: &mut Session,
        lag: Duration,
        deadline: Instant,
    ) -> Ended {
        loop {
            let ex = self
                .exchange(step.id, &wait.request, session, true, lag)
                .await;
            if !ex.was_sent() {
                // Polling again cannot set the variable it lacks.
                self.request_failed(step, &wait.request, FailureKind::Capture, session, &ex);
                handled(session, ex);
                return Ended::Unsent;
            }
            let failure = ex
                .failure
                .or_else(|| answer_failure(&wait.request.expect, &ex))
                .or(ex.schema_failed.then_some(FailureKind::Schema));
            self.record_request(step.id, &wait.request, &ex, failure, lag);
            if failure.is_none() && until_holds(wait, &ex, session) {
                let failure = self.conclude(&wait.request, &wait.request.expect, session, &ex);
                if let Some(kind) = failure {
                    self.request_failed(step, &wait.request, kind, session, &ex);
                }
                handled(session, ex);
                return Ended::Timed(failure);
            }
            let next = next_poll(Instant::now(), deadline, wait.interval);
            let at_deadline = next.is_none();
            self.poll_failed(step, wait, failure, at_deadline, session, &ex);
            // The poll's handling is chatload's time; the interval is the step's.
            handled(session, ex);
            let Some(pause) = next else {
                return Ended::Timed(Some(failure.unwrap_or(FailureKind::Expectation)));
            };
            tokio::time::sleep(pause).await;
        }
    }

    /// Status, body checks, captures and chat bookkeeping of a response that arrived.
    pub(super) fn conclude(
        &self,
        spec: &RequestSpec,
        expect: &Expectation,
        session: &mut Session,
        ex: &Exchange,
    ) -> Option<FailureKind> {
        if let Some(f) = answer_failure(expect, ex) {
            return Some(f);
        }
        if let Some(check) = &expect.media {
            let content_type = ex.content_type.as_ref().and_then(|t| t.to_str().ok());
            if check.mismatch(ex.raw.len(), content_type).is_some() {
                return Some(FailureKind::Expectation);
            }
        }
        let needs_json = !expect.body.is_empty() || !spec.captures.is_empty();
        let Some(body) = &ex.body else {
            return needs_json.then_some(FailureKind::Decode);
        };
        if !expect.body.iter().all(|c| c.holds(body, &mut *session)) {
            return Some(FailureKind::Expectation);
        }
        for capture in &spec.captures {
            match pointer(body, &capture.pointer) {
                Some(v) if !v.is_null() => {
                    self.masker.captured(capture.var, v);
                    session.set(capture.var, v.clone());
                }
                _ if capture.optional => session.set(capture.var, Value::Null),
                _ => return Some(FailureKind::Capture),
            }
        }
        match spec.chat_effect {
            ChatEffect::Opens => {
                if let Some(id) = pointer(body, "/chat/id").and_then(Value::as_str) {
                    session.open_chats.push(id.to_owned());
                }
            }
            ChatEffect::Closes => {
                if let Some(id) = pointer(body, "/chat/id").and_then(Value::as_str) {
                    session.open_chats.retain(|c| c != id);
                }
            }
            ChatEffect::None => {}
        }
        None
    }
}

/// A step's or iteration's time: the `wall` time it took less chatload's
/// `own` time in it (the back-off after connection errors, building
/// requests and handling answers: not the target's time). What is left is
/// the time its requests took plus the waits the step is defined to hold
/// (throttle waits, `wait_until` intervals, a `wait_event`'s wait, and for
/// an iteration the think times).
pub(super) fn timed(wall: Duration, own: Duration) -> Duration {
    wall.saturating_sub(own)
}

/// What is wrong with an answer before its body is read: an unexpected
/// status, else a `Content-Type` the spec does not declare for it (a body
/// that should be JSON is not, whether the schema check ran or not).
fn answer_failure(expect: &Expectation, ex: &Exchange) -> Option<FailureKind> {
    status_failure(expect, ex.status).or(ex.wrong_type.then_some(FailureKind::Decode))
}

fn status_failure(expect: &Expectation, status: Option<u16>) -> Option<FailureKind> {
    match status {
        Some(s) if expect.status_ok(s) => None,
        Some(_) => Some(FailureKind::Status),
        None => Some(FailureKind::Other),
    }
}

/// Whether a poll's response is the one `wait_until` waits for: an awaited
/// status (any, when none is listed) and a body meeting every check.
fn until_holds(wait: &WaitSpec, ex: &Exchange, session: &mut Session) -> bool {
    ex.status
        .is_some_and(|s| wait.until.statuses.is_empty() || wait.until.statuses.contains(&s))
        && ex
            .body
            .as_ref()
            .is_some_and(|b| wait.until.body.iter().all(|c| c.holds(b, &mut *session)))
}
