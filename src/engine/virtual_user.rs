//! One iteration of one virtual user: pick a flow, run its steps in order,
//! render each request from the session, check and capture what comes back,
//! and record every request, step and the whole iteration.
//!
//! Failures are data (a [`FailureKind`]), never errors that stop the run.

use std::collections::BTreeMap;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::Poll;
use std::time::Duration;

use tokio::time::Instant;

use bytes::Bytes;
use rand::Rng;
use reqwest::header::HeaderValue;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::explain::Response;
use super::in_flight::InFlight;
use super::mask::Masker;
use super::session::Session;
use super::throttle::is_throttled;
use super::verbose::FailureLog;
use super::webhook::EventHub;
use crate::client::{ApiClient, ApiRequest, AuthHeaders, ClientError, ConnPolicy};
use crate::metrics::{
    FailureKind, FlowId, MetricsHub, RequestSample, RouteId, StepId, StepSample, TickSnapshot,
};
use crate::scenario::matcher::pointer;
use crate::scenario::media::MultipartSpec;
use crate::scenario::template::{UnsetVariable, ValueTemplate};
use crate::scenario::{
    Auth, ChatEffect, Expectation, Flow, OnError, RequestSpec, Scenario, Step, StepAction,
};
use crate::schema::{
    OperationSchemas, RouteViolations, SchemaError, SchemaMode, SchemaRegistry, Violation,
    ViolationLog,
};

mod throttle;
mod wait_event;
use wait_event::WaitResult;

/// Everything a virtual user needs, shared by all of them.
#[derive(Debug)]
pub struct Runner {
    pub(super) scenario: Arc<Scenario>,
    pub(super) client: Arc<ApiClient>,
    pub(super) hub: Arc<MetricsHub>,
    /// Hard stop: in-flight requests and pauses end at once.
    pub(super) abort: CancellationToken,
    /// Chats iterations left open; handed over in [`super::RunOutcome`] for
    /// the clean-up. Touched only when an iteration ends with a chat still
    /// open, never per request.
    leftovers: Mutex<Vec<String>>,
    /// Response schemas by route id, and the share of responses to check.
    schemas: Vec<Option<OperationSchemas>>,
    schema_ratio: f64,
    /// Schema violations, locked only when one happens.
    violations: ViolationLog,
    flow_weights: Vec<u32>,
    /// By step id: the step's request has no template anywhere, so each VU
    /// builds it once (see `ApiClient::prepare`) instead of on every send.
    fixed_requests: Vec<bool>,
    /// Webhook routing and tracking; `None` without a `webhooks:` section,
    /// which keeps the request loop to one branch on it.
    hooks: Option<Arc<EventHub>>,
    /// Every VU's request in flight, for progress and cut-off counts.
    pub(super) in_flight: InFlight,
    /// Some request got a response (written once, read on connect errors only).
    ever_connected: AtomicBool,
    /// Nothing ever connected and a VU gave up after [`GIVE_UP_AFTER`]
    /// connection errors in a row: the target is unreachable.
    unreachable: AtomicBool,
    /// Keeps credentials and tokens out of failure samples and logs.
    pub(super) masker: Masker,
    /// Where `--verbose` writes failing exchanges; `None` without it.
    pub(super) failure_log: Option<FailureLog>,
}

/// How long closing an aborted iteration's chat may take.
const CLOSE_DEADLINE: Duration = Duration::from_secs(5);

/// First wait after a connection error; doubles with each one in a row.
const BACKOFF_FIRST: Duration = Duration::from_millis(10);
/// Longest wait between two connection attempts of one VU.
const BACKOFF_MAX: Duration = Duration::from_secs(1);
/// Connection errors in a row (on one VU, with no request ever answered)
/// after which the target counts as unreachable: about 1.3 s of trying.
pub const GIVE_UP_AFTER: u32 = 8;

/// How a request ended at the transport level, for the back-off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    Answered,
    /// No connection could be made.
    NoConnection,
    /// Connected, but the connection ended before an answer.
    Dropped,
    TimedOut,
}

/// How long a VU waits before its next request after `errors` connection
/// errors in a row: 10 ms, doubling, at most 1 s.
pub fn connect_backoff(errors: u32) -> Duration {
    if errors == 0 {
        return Duration::ZERO;
    }
    let factor = 1u32 << errors.saturating_sub(1).min(16);
    BACKOFF_FIRST.saturating_mul(factor).min(BACKOFF_MAX)
}

/// How long a `wait_until` waits before its next poll at `now`, or `None`
/// when `deadline` has passed: the last poll happens at the deadline, never
/// a whole interval before it.
pub fn next_poll(now: Instant, deadline: Instant, interval: Duration) -> Option<Duration> {
    (now < deadline).then(|| interval.min(deadline - now))
}

/// How one step went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StepResult {
    Ok,
    Failed,
    /// The run was aborted while the step waited for an event.
    Aborted,
    /// The user gave up (`wait_event` with `on_timeout: abandon`): the
    /// iteration ends, without error.
    Abandoned,
}

/// One request's outcome, before step bookkeeping.
pub(super) struct Exchange {
    failure: Option<FailureKind>,
    /// The response broke its schema (counted after status and checks).
    schema_failed: bool,
    pub(super) status: Option<u16>,
    body: Option<Value>,
    latency: Duration,
    /// Request-level times read the wall clock the client measures with;
    /// iteration and step times read tokio's (pausable in tests).
    sent: std::time::Instant,
    /// The response body as received (moved, not copied), to explain a failure.
    pub(super) raw: Bytes,
    /// The response's `Content-Type`, for a download's checks.
    content_type: Option<HeaderValue>,
    /// Request body bytes sent.
    sent_bytes: u64,
    /// The rendered path (empty for a prepared, template-free request).
    pub(super) path: String,
    /// The schema violation, kept only when there is one.
    violation: Option<Violation>,
    /// The target throttled the request (429, or 503 with `Retry-After`).
    throttled: bool,
    /// The throttled response's `Retry-After`, as a wait.
    retry_after: Option<Duration>,
}

impl Exchange {
    /// A request that was never sent (a template read an unset variable).
    fn unsent() -> Exchange {
        Exchange {
            failure: Some(FailureKind::Capture),
            schema_failed: false,
            status: None,
            body: None,
            latency: Duration::ZERO,
            sent: std::time::Instant::now(),
            raw: Bytes::new(),
            content_type: None,
            sent_bytes: 0,
            path: String::new(),
            violation: None,
            throttled: false,
            retry_after: None,
        }
    }

    /// What came back, for explaining a failure.
    pub(super) fn response(&self) -> Response<'_> {
        Response {
            status: self.status,
            body: self.body.as_ref(),
            raw: &self.raw,
            content_type: self.content_type.as_ref().and_then(|t| t.to_str().ok()),
            violation: self.violation.as_ref(),
        }
    }
}

impl Runner {
    /// Prepares the shared state for a run.
    pub fn new(
        scenario: Arc<Scenario>,
        client: Arc<ApiClient>,
        hub: Arc<MetricsHub>,
        abort: CancellationToken,
    ) -> Runner {
        let flow_weights = scenario.flows.iter().map(|f| f.weight.max(1)).collect();
        let mut secrets = client.secret_values();
        if let Some(secret) = scenario.webhooks.as_ref().and_then(|w| w.secret.as_ref()) {
            secrets.push(secret.expose().to_owned());
        }
        let masker = Masker::new(secrets, &scenario);
        let mut fixed_requests = Vec::new();
        if client.uses_slots() {
            for step in scenario.flows.iter().flat_map(|f| &f.steps) {
                let spec = match &step.action {
                    StepAction::Request(spec) => spec,
                    StepAction::WaitUntil(wait) => &wait.request,
                    StepAction::Pause | StepAction::WaitEvent(_) => continue,
                };
                let id = step.id as usize;
                if fixed_requests.len() <= id {
                    fixed_requests.resize(id + 1, false);
                }
                fixed_requests[id] = is_fixed(spec);
            }
        }
        Runner {
            scenario,
            client,
            hub,
            abort,
            leftovers: Mutex::new(Vec::new()),
            schemas: Vec::new(),
            schema_ratio: 0.0,
            violations: ViolationLog::default(),
            flow_weights,
            fixed_requests,
            hooks: None,
            in_flight: InFlight::default(),
            ever_connected: AtomicBool::new(false),
            unreachable: AtomicBool::new(false),
            masker,
            failure_log: None,
        }
    }

    /// Logs every failing exchange to `log` as it happens (`--verbose`).
    pub fn with_failure_log(mut self, log: FailureLog) -> Runner {
        self.failure_log = Some(log);
        self
    }

    /// Routes webhook events to the VUs and reports lifecycle operations.
    pub fn with_event_hub(mut self, hooks: Arc<EventHub>) -> Runner {
        self.hooks = Some(hooks);
        self
    }

    /// Checks responses against the API's schemas for each route's operation:
    /// all of them, a random share, or none (`--schema`).
    ///
    /// # Errors
    /// The embedded API description does not compile to schemas.
    pub fn with_schema_checks(mut self, mode: SchemaMode) -> Result<Runner, SchemaError> {
        let ratio = match mode {
            SchemaMode::All => 1.0,
            SchemaMode::Sample(r) => r,
            SchemaMode::Off => 0.0,
        };
        if ratio > 0.0 {
            let route_ops: Vec<Option<&str>> = self
                .scenario
                .routes
                .iter()
                .map(|r| Some(r.operation.id()))
                .collect();
            let ids: Vec<&str> = route_ops.iter().flatten().copied().collect();
            let registry = SchemaRegistry::load(Some(&ids))?;
            self.schemas = registry.into_routes(&route_ops);
            self.schema_ratio = ratio;
        }
        Ok(self)
    }

    /// The run's metrics hub.
    pub fn hub(&self) -> &Arc<MetricsHub> {
        &self.hub
    }

    /// The live figures for progress: the metrics since the last tick and the
    /// requests in flight now. `elapsed` is the time since the run started.
    pub fn tick(&self, elapsed: Duration) -> TickSnapshot {
        let mut snap = self.hub.tick(elapsed);
        let in_flight = self.in_flight.snapshot(std::time::Instant::now());
        snap.in_flight = in_flight.requests;
        snap.oldest_in_flight = in_flight.oldest;
        snap
    }

    /// Schema violations so far (for `abort_on_fail` thresholds).
    pub fn schema_violations(&self) -> u64 {
        self.violations.total()
    }

    /// The chats iterations left open, handed over once the run has ended.
    pub(super) fn take_leftovers(&self) -> Vec<String> {
        std::mem::take(
            &mut *self
                .leftovers
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }

    /// Every schema violation recorded, by route.
    pub(super) fn violations_by_route(&self) -> BTreeMap<String, RouteViolations> {
        self.violations.snapshot()
    }

    /// Picks a flow by weight; its index is its [`FlowId`] in the metrics.
    fn pick_flow(&self, rng: &mut impl Rng) -> (FlowId, &Flow) {
        let total: u32 = self.flow_weights.iter().sum();
        let mut x = rng.random_range(0..total.max(1));
        for (i, (flow, w)) in self
            .scenario
            .flows
            .iter()
            .zip(&self.flow_weights)
            .enumerate()
        {
            if x < *w {
                return (FlowId(i as u32), flow);
            }
            x -= w;
        }
        (FlowId(0), &self.scenario.flows[0])
    }

    /// A virtual user's session, its abort signal a child of the run's.
    pub fn session(&self, vu: u64, seed: u64) -> Session {
        Session::new(
            &self.scenario,
            vu,
            seed,
            self.abort.child_token(),
            self.in_flight.register(),
        )
    }

    /// True when nothing ever connected and a VU gave up trying.
    pub fn is_unreachable(&self) -> bool {
        self.unreachable.load(Relaxed)
    }

    /// Runs one iteration. `intended_start` is when the open model meant it
    /// to begin; latency is also measured from there (coordinated omission).
    ///
    /// An abort ends requests and pauses in flight at once: the iteration, its
    /// unfinished step and the request in flight are then counted as cut off,
    /// not recorded as finished or failed. The
    /// abort is watched once per iteration, through the session's own child
    /// token: a future per request (or per pause) on the run's one shared
    /// token cost a lock and a waiter-list update on a cache line that every
    /// worker thread wrote to.
    pub async fn run_iteration(&self, session: &mut Session, intended_start: Option<Instant>) {
        let abort = session
            .abort
            .take()
            .unwrap_or_else(|| self.abort.child_token());
        self.hub.record_iteration_started();
        let completed = {
            // Pinned where it is built: select! would move the iteration's
            // future (about 2 KB) into its own state first.
            let mut iteration = pin!(self.iteration(session, intended_start));
            let mut aborted = pin!(abort.cancelled());
            std::future::poll_fn(|cx| {
                if iteration.as_mut().poll(cx).is_ready() {
                    Poll::Ready(true)
                } else {
                    aborted.as_mut().poll(cx).map(|()| false)
                }
            })
            .await
        };
        session.abort = Some(abort);
        if !completed {
            self.hub.record_cut_off(session.in_flight.take());
            session.iteration += 1;
            self.end_iteration(session);
        }
    }

    /// True once the run is aborted (checked on the session's own token).
    pub fn is_aborted(&self, session: &Session) -> bool {
        session.abort.as_ref().map_or_else(
            || self.abort.is_cancelled(),
            CancellationToken::is_cancelled,
        )
    }

    async fn iteration(&self, session: &mut Session, intended_start: Option<Instant>) {
        let started = Instant::now();
        let lag = intended_start.map_or(Duration::ZERO, |i| started.saturating_duration_since(i));
        let has_row = session.begin_iteration(&self.scenario);
        if self.client.policy() == ConnPolicy::NewPerIteration {
            // A user who comes back: the last visit's connection is gone.
            session.conn.drop_connection();
        }
        let mut ok = has_row;
        let mut aborted = false;
        let mut gave_up = false;
        if let Some(hooks) = &self.hooks {
            hooks.begin_iteration(session);
        }
        // The clock is read once between two steps: the end of one is the
        // start of the next (and the first starts with the iteration).
        let mut now = started;
        let mut picked = None;
        if has_row {
            let (id, flow) = self.pick_flow(&mut session.rng);
            picked = Some(id);
            'steps: for step in &flow.steps {
                for _ in 0..step.repeat {
                    let (result, end) = self.run_step(step, session, lag, now).await;
                    now = end;
                    match result {
                        StepResult::Ok => {}
                        StepResult::Failed => {
                            ok = false;
                            if step.on_error == OnError::AbortIteration {
                                gave_up = true;
                                break 'steps;
                            }
                        }
                        StepResult::Aborted => {
                            aborted = true;
                            break 'steps;
                        }
                        StepResult::Abandoned => break 'steps,
                    }
                    if let Some(think) = &step.think {
                        let pause = think.sample(&mut session.rng);
                        tokio::time::sleep(pause).await;
                        now = Instant::now();
                    }
                }
            }
        }
        if gave_up && !session.open_chats.is_empty() {
            self.close_own_chats(session).await;
        }
        session.iteration += 1;
        self.end_iteration(session);
        if aborted {
            self.hub.record_cut_off(false);
            return;
        }
        let took = micros(now - started);
        let corrected = if lag.is_zero() {
            took
        } else {
            micros(now - started + lag)
        };
        self.hub.record_flow_iteration(picked, ok, took, corrected);
    }

    /// Closes the chats of an iteration that gave up on a failed step, at
    /// once: left open until the end of the run, each would hold an agent
    /// slot and push later iterations into unrelated timeouts. Outside the
    /// metrics, like the end-of-run clean-up (and not done with
    /// `--no-cleanup`); a chat that cannot be closed is left to that one.
    async fn close_own_chats(&self, session: &mut Session) {
        if !self.scenario.cleanup {
            return;
        }
        for chat in session.open_chats.clone() {
            if let Some(hooks) = &self.hooks {
                hooks.tracker.cleaning_up(&chat);
            }
            let closed = super::cleanup::close_chat(&self.client, &chat, CLOSE_DEADLINE).await;
            if closed {
                session.open_chats.retain(|c| c != &chat);
            }
        }
    }

    /// Ends the iteration's webhook subscriptions, then hands chats it left
    /// open to the end-of-run cleanup.
    fn end_iteration(&self, session: &mut Session) {
        if std::mem::take(&mut session.throttled) {
            self.hub.record_throttled_iteration();
        }
        if let Some(hooks) = &self.hooks {
            hooks.end_iteration(session);
        }
        if !session.open_chats.is_empty() {
            if let Some(hooks) = &self.hooks {
                for chat in &session.open_chats {
                    hooks.tracker.cleaning_up(chat);
                }
            }
            let mut leftovers = self
                .leftovers
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            leftovers.append(&mut session.open_chats);
        }
    }

    /// Runs one step that begins at `begun`; how it went and when it ended.
    async fn run_step(
        &self,
        step: &Step,
        session: &mut Session,
        lag: Duration,
        begun: Instant,
    ) -> (StepResult, Instant) {
        let failure = match &step.action {
            StepAction::Pause => return (StepResult::Ok, begun),
            StepAction::Request(spec) => {
                let needs_body = !spec.expect.body.is_empty()
                    || !spec.captures.is_empty()
                    || spec.chat_effect != ChatEffect::None
                    || self
                        .hooks
                        .as_ref()
                        .is_some_and(|h| h.needs_body(spec.route));
                let ex = self
                    .exchange_throttled(step.id, spec, session, needs_body, lag)
                    .await;
                let failure = ex
                    .failure
                    .or_else(|| self.conclude(spec, &spec.expect, session, &ex))
                    .or(ex.schema_failed.then_some(FailureKind::Schema));
                self.record_request(spec, &ex, failure, lag);
                if let Some(kind) = failure {
                    self.request_failed(step, spec, kind, session, &ex);
                }
                if let Some(hooks) = &self.hooks {
                    hooks.on_response(spec.route, ex.status, ex.body.as_ref(), ex.sent, session);
                }
                failure
            }
            StepAction::WaitEvent(wait) => match self.wait_event(wait, session).await {
                WaitResult::Done(failure) => {
                    if let Some(kind) = failure {
                        self.step_failed(step, kind, session, None, |x| x.wait_event(wait, kind));
                    }
                    failure
                }
                WaitResult::Aborted => return (StepResult::Aborted, Instant::now()),
                WaitResult::Abandoned => {
                    let end = Instant::now();
                    let waited = micros(end - begun);
                    self.hub.record_step(&StepSample {
                        step: StepId(step.id),
                        ok: true,
                        failure: None,
                        duration_us: waited,
                        corrected_us: waited + micros(lag),
                    });
                    return (StepResult::Abandoned, end);
                }
            },
            StepAction::WaitUntil(wait) => {
                let deadline = begun + wait.timeout;
                loop {
                    let ex = self
                        .exchange_throttled(step.id, &wait.request, session, true, lag)
                        .await;
                    let failure = ex
                        .failure
                        .or_else(|| status_failure(&wait.request.expect, ex.status))
                        .or(ex.schema_failed.then_some(FailureKind::Schema));
                    self.record_request(&wait.request, &ex, failure, lag);
                    if failure.is_none() {
                        let until_ok = ex.status.is_some_and(|s| {
                            wait.until.statuses.is_empty() || wait.until.statuses.contains(&s)
                        }) && ex.body.as_ref().is_some_and(|b| {
                            wait.until.body.iter().all(|c| c.holds(b, &mut *session))
                        });
                        if until_ok {
                            let failure =
                                self.conclude(&wait.request, &wait.request.expect, session, &ex);
                            if let Some(kind) = failure {
                                self.request_failed(step, &wait.request, kind, session, &ex);
                            }
                            break failure;
                        }
                    }
                    let next = next_poll(Instant::now(), deadline, wait.interval);
                    let at_deadline = next.is_none();
                    self.poll_failed(step, wait, failure, at_deadline, session, &ex);
                    let Some(pause) = next else {
                        break Some(failure.unwrap_or(FailureKind::Expectation));
                    };
                    tokio::time::sleep(pause).await;
                }
            }
        };
        let end = Instant::now();
        let duration = micros(end - begun);
        self.hub.record_step(&StepSample {
            step: StepId(step.id),
            ok: failure.is_none(),
            failure,
            duration_us: duration,
            corrected_us: duration + micros(lag),
        });
        let result = if failure.is_none() {
            StepResult::Ok
        } else {
            StepResult::Failed
        };
        (result, end)
    }

    fn record_request(
        &self,
        spec: &RequestSpec,
        ex: &Exchange,
        failure: Option<FailureKind>,
        lag: Duration,
    ) {
        if ex.status.is_none() && ex.failure == Some(FailureKind::Capture) {
            return; // nothing was sent
        }
        let latency_us = micros(ex.latency);
        self.hub.record_request(&RequestSample {
            route: RouteId(spec.route),
            status: ex.status,
            failure,
            latency_us,
            corrected_us: latency_us + micros(lag),
            bytes_sent: ex.sent_bytes,
            bytes_received: ex.raw.len() as u64,
            throttled: ex.throttled,
        });
    }

    /// Sends the request of step `step` (rendered from the session, or built
    /// once per VU when it has no template) and checks what comes back.
    async fn exchange(
        &self,
        step: u32,
        spec: &RequestSpec,
        session: &mut Session,
        needs_body: bool,
    ) -> Exchange {
        let sent;
        if session.connect_errors > 0 {
            tokio::time::sleep(connect_backoff(session.connect_errors)).await;
        }
        let mut path = String::new();
        let sent_bytes;
        self.prepare(step, spec, session);
        let response =
            if let Some(prepared) = session.prepared.get(step as usize).and_then(Option::as_ref) {
                sent_bytes = prepared.body_len() as u64;
                sent = std::time::Instant::now();
                self.in_flight.begin(&session.in_flight, sent);
                self.client
                    .send_prepared(&mut session.conn, prepared, sent)
                    .await
            } else {
                let Ok(mut rendered) = render(spec, session) else {
                    return Exchange::unsent();
                };
                sent = std::time::Instant::now();
                if let Some(hooks) = &self.hooks {
                    hooks.on_send(spec.route, &rendered.path, session, sent);
                }
                let request = rendered.request(spec);
                sent_bytes = request.body.as_ref().map_or(0, |b| b.len() as u64);
                self.in_flight.begin(&session.in_flight, sent);
                let response = self.client.send_on(&mut session.conn, request, sent).await;
                path = std::mem::take(&mut rendered.path);
                response
            };
        let latency = sent.elapsed();
        session.in_flight.clear();
        let outcome = match &response {
            Ok(_) => Transport::Answered,
            Err(ClientError::Connect) => Transport::NoConnection,
            Err(ClientError::Other) => Transport::Dropped,
            Err(ClientError::Timeout) => Transport::TimedOut,
        };
        self.note_connection(session, outcome);
        match response {
            Ok(resp) => {
                let schema = self
                    .schemas
                    .get(spec.route as usize)
                    .and_then(Option::as_ref)
                    .filter(|_| {
                        self.schema_ratio >= 1.0
                            || (self.schema_ratio > 0.0
                                && session.rng.random_bool(self.schema_ratio))
                    });
                // A body byte-identical to the last one that passed on this
                // route and status passes again (see ValidBodyMemo).
                let schema = schema.filter(|_| {
                    !session
                        .valid_body
                        .holds(spec.route, resp.status, &resp.body)
                });
                let body: Option<Value> =
                    if (needs_body || schema.is_some()) && !resp.body.is_empty() {
                        serde_json::from_slice(&resp.body).ok()
                    } else {
                        None
                    };
                let violation = schema.and_then(|s| s.check(resp.status, body.as_ref()));
                if schema.is_some() && violation.is_none() {
                    session
                        .valid_body
                        .remember(spec.route, resp.status, &resp.body);
                }
                // Cloned only when the response broke its schema (a failure).
                let kept = violation.clone();
                let schema_failed = violation.is_some_and(|v| {
                    self.violations
                        .record(&self.scenario.routes[spec.route as usize].key, v);
                    true
                });
                Exchange {
                    failure: None,
                    schema_failed,
                    status: Some(resp.status),
                    body,
                    latency,
                    sent,
                    raw: resp.body,
                    content_type: resp.content_type,
                    sent_bytes,
                    path,
                    violation: kept,
                    throttled: is_throttled(resp.status, resp.retry_after),
                    retry_after: resp.retry_after,
                }
            }
            Err(e) => Exchange {
                schema_failed: false,
                failure: Some(match e {
                    ClientError::Connect => FailureKind::Connect,
                    ClientError::Timeout => FailureKind::Timeout,
                    ClientError::Other => FailureKind::Other,
                }),
                status: None,
                body: None,
                latency,
                sent,
                raw: Bytes::new(),
                content_type: None,
                sent_bytes,
                path,
                violation: None,
                throttled: false,
                retry_after: None,
            },
        }
    }

    /// Keeps the VU's run of transport errors for its back-off (reset by an
    /// answer or a timeout, which waited already), and flags the target
    /// unreachable when nothing ever connected and this VU gave up. A
    /// connection dropped before the answer (a target that accepts and
    /// closes) backs off too, but counts as connected.
    fn note_connection(&self, session: &mut Session, outcome: Transport) {
        if outcome != Transport::NoConnection {
            session.connect_errors = if outcome == Transport::Dropped {
                session.connect_errors.saturating_add(1)
            } else {
                0
            };
            if !self.ever_connected.load(Relaxed) {
                self.ever_connected.store(true, Relaxed);
            }
            return;
        }
        session.connect_errors = session.connect_errors.saturating_add(1);
        if session.connect_errors >= GIVE_UP_AFTER && !self.ever_connected.load(Relaxed) {
            self.unreachable.store(true, Relaxed);
        }
    }

    /// Builds the request of a template-free step on this VU's first use of
    /// it, into `session.prepared`. Nothing for a step with templates, or a
    /// request that cannot be prepared (it then goes the rendered way, which
    /// reports the error).
    fn prepare(&self, step: u32, spec: &RequestSpec, session: &mut Session) {
        let id = step as usize;
        if !self.fixed_requests.get(id).copied().unwrap_or(false)
            || session.prepared.get(id).is_some_and(Option::is_some)
            // Lifecycle requests are reported to the webhook tracker with
            // their rendered path, so they always take the rendered way.
            || self.hooks.as_ref().is_some_and(|h| h.tracks(spec.route))
        {
            return;
        }
        if session.prepared.len() <= id {
            session.prepared.resize_with(id + 1, || None);
        }
        session.prepared[id] = render(spec, session)
            .ok()
            .and_then(|mut rendered| self.client.prepare(rendered.request(spec)));
    }

    /// Status, body checks, captures and chat bookkeeping of a response that arrived.
    fn conclude(
        &self,
        spec: &RequestSpec,
        expect: &Expectation,
        session: &mut Session,
        ex: &Exchange,
    ) -> Option<FailureKind> {
        if let Some(f) = status_failure(expect, ex.status) {
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
                Some(v) if !v.is_null() => session.set(capture.var, v.clone()),
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

fn status_failure(expect: &Expectation, status: Option<u16>) -> Option<FailureKind> {
    match status {
        Some(s) if expect.status_ok(s) => None,
        Some(_) => Some(FailureKind::Status),
        None => Some(FailureKind::Other),
    }
}

/// True when no part of the request depends on the session: it renders the
/// same every time.
fn is_fixed(spec: &RequestSpec) -> bool {
    spec.path.is_literal()
        && spec.query.iter().all(|(_, t)| t.is_literal())
        && spec.headers.iter().all(|(_, t)| t.is_literal())
        && spec.body.as_ref().is_none_or(ValueTemplate::is_literal)
        && spec
            .multipart
            .as_ref()
            .is_none_or(MultipartSpec::is_literal)
        && match &spec.auth {
            Auth::Token(t) => t.is_literal(),
            _ => true,
        }
}

struct Rendered {
    path: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Option<Bytes>,
    /// The rendered token of `Auth::Token`.
    token: String,
}

impl Rendered {
    /// The request to send (moves the body out).
    fn request(&mut self, spec: &RequestSpec) -> ApiRequest<'_> {
        ApiRequest {
            method: spec.op.method(),
            path: &self.path,
            query: &self.query,
            headers: &self.headers,
            body: self.body.take(),
            content_type: spec.multipart.as_ref().map(|m| m.content_type.clone()),
            auth: match &spec.auth {
                Auth::Secret => AuthHeaders::Secret,
                Auth::AppId => AuthHeaders::AppId,
                Auth::DomainKey => AuthHeaders::DomainKey,
                Auth::None => AuthHeaders::None,
                Auth::Token(_) => AuthHeaders::Token(&self.token),
            },
        }
    }
}

fn render(spec: &RequestSpec, session: &mut Session) -> Result<Rendered, UnsetVariable> {
    let raw_path = spec.path.render(session)?;
    let path = encode_path(&raw_path);
    let mut query = Vec::with_capacity(spec.query.len());
    for (k, t) in &spec.query {
        query.push((k.clone(), t.render(session)?));
    }
    let mut headers = Vec::with_capacity(spec.headers.len());
    for (k, t) in &spec.headers {
        headers.push((k.clone(), t.render(session)?));
    }
    let body = match (&spec.multipart, &spec.body) {
        (Some(form), _) => Some(form.render(session)?),
        (None, Some(b)) => Some(Bytes::from(
            serde_json::to_vec(&b.render(session)?).unwrap_or_default(),
        )),
        (None, None) => None,
    };
    // A token that cannot be rendered is sent empty (and is refused).
    let token = match &spec.auth {
        Auth::Token(t) => t.render(session).unwrap_or_default(),
        _ => String::new(),
    };
    Ok(Rendered {
        path,
        query,
        headers,
        body,
        token,
    })
}

/// Percent-encodes characters that cannot appear in a path segment, keeping `/`.
fn encode_path(path: &str) -> String {
    if path
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/-._~:@!$&'()*+,;=%".contains(&b))
    {
        return path.to_owned();
    }
    crate::client::percent_encode(path, b"/-._~:@!$&'()*+,;=")
}

/// Whole microseconds, saturating.
pub fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::{Duration, Instant, connect_backoff, encode_path, next_poll};

    /// When a `wait_until` polls, with requests that take no time.
    fn poll_times(timeout: Duration, interval: Duration) -> Vec<Duration> {
        let begun = Instant::now();
        let deadline = begun + timeout;
        let mut now = begun;
        let mut polls = Vec::new();
        loop {
            polls.push(now - begun);
            let Some(pause) = next_poll(now, deadline, interval) else {
                return polls;
            };
            now += pause;
        }
    }

    // See: issue 10 point 6 — `wait_until` gave up when the next interval
    // would pass the deadline, so a condition met in the last interval was missed.
    #[test]
    fn wait_until_makes_its_last_check_at_the_deadline() {
        let ms = Duration::from_millis;
        assert_eq!(
            poll_times(ms(1000), ms(600)),
            vec![ms(0), ms(600), ms(1000)]
        );
        assert_eq!(
            poll_times(ms(900), ms(300)),
            vec![ms(0), ms(300), ms(600), ms(900)]
        );
        assert_eq!(poll_times(ms(100), ms(250)), vec![ms(0), ms(100)]);
    }

    #[test]
    fn connection_errors_back_off_from_10ms_doubling_to_1s() {
        let waits: Vec<u64> = (0..10)
            .map(|n| connect_backoff(n).as_millis() as u64)
            .collect();
        assert_eq!(waits, vec![0, 10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
        assert_eq!(connect_backoff(u32::MAX), Duration::from_secs(1));
    }

    #[test]
    fn paths_are_encoded_only_where_needed() {
        assert_eq!(encode_path("/chats/c-1/messages"), "/chats/c-1/messages");
        assert_eq!(encode_path("/users/a b?"), "/users/a%20b%3F");
    }
}
