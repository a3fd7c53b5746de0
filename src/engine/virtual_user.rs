//! One iteration of one virtual user: pick a flow, run its steps in order,
//! render each request from the session, check and capture what comes back,
//! and record every request, step and the whole iteration.
//!
//! Files: this one holds the shared [`Runner`] and the iteration;
//! `step.rs` a step and its checks, `exchange.rs` one request and its
//! record, `render.rs` a request rendered from the session, `throttle.rs`
//! the rate-limit policy, `wait_event.rs` waiting for webhook events.
//!
//! Failures are data (a [`crate::metrics::FailureKind`]), never errors that stop the run.

use std::collections::BTreeMap;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::Poll;
use std::time::Duration;

use rand::Rng;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::in_flight::InFlight;
use super::mask::Masker;
use super::session::Session;
use super::verbose::FailureLog;
use super::webhook::EventHub;
use crate::client::{ApiClient, ConnPolicy};
use crate::media_type::DeclaredTypes;
use crate::metrics::{FlowId, MetricsHub, TickSnapshot};
use crate::scenario::{Flow, OnError, Scenario, StepAction};
use crate::schema::{
    OperationSchemas, RouteViolations, SchemaError, SchemaMode, SchemaRegistry, ViolationLog,
};

mod exchange;
mod render;
mod step;
mod throttle;
mod wait_event;

pub(in crate::engine) use exchange::Exchange;
use render::is_fixed;

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
    /// By route id: the `Content-Type`s its operation declares, checked on
    /// every response whatever `--schema` says.
    pub(super) types: Vec<DeclaredTypes>,
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

/// How the steps of an iteration's flow went.
#[derive(Debug, Clone, Copy)]
struct FlowRun {
    /// A step failed.
    failed: bool,
    /// A failed step ended the iteration (`on_error: abort_iteration`).
    gave_up: bool,
    /// The run was aborted during a step.
    aborted: bool,
    /// When the last step (or its think time) ended.
    end: Instant,
}

impl FlowRun {
    /// No step run yet, at `start`.
    fn new(start: Instant) -> FlowRun {
        FlowRun {
            failed: false,
            gave_up: false,
            aborted: false,
            end: start,
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
        let types = scenario
            .routes
            .iter()
            .map(|r| DeclaredTypes::of(r.operation))
            .collect();
        Runner {
            scenario,
            client,
            hub,
            abort,
            leftovers: Mutex::new(Vec::new()),
            schemas: Vec::new(),
            schema_ratio: 0.0,
            types,
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

    /// One iteration: pick a flow, run its steps, close the chats of an
    /// iteration that gave up, and record it (measured from
    /// `intended_start` too, when the open model scheduled it).
    async fn iteration(&self, session: &mut Session, intended_start: Option<Instant>) {
        let started = Instant::now();
        let lag = intended_start.map_or(Duration::ZERO, |i| started.saturating_duration_since(i));
        session.own_time = Duration::ZERO;
        let has_row = session.begin_iteration(&self.scenario);
        if self.client.policy() == ConnPolicy::NewPerIteration {
            // A user who comes back: the last visit's connection is gone.
            session.conn.drop_connection();
        }
        if let Some(hooks) = &self.hooks {
            hooks.begin_iteration(session);
        }
        let mut run = FlowRun::new(started);
        let mut picked = None;
        if has_row {
            let (id, flow) = self.pick_flow(&mut session.rng);
            picked = Some(id);
            run = self.run_flow(flow, session, lag, started).await;
        }
        if run.gave_up && !session.open_chats.is_empty() {
            self.close_own_chats(session).await;
        }
        session.iteration += 1;
        self.end_iteration(session);
        if run.aborted {
            self.hub.record_cut_off(false);
            return;
        }
        // chatload's own time (back-off, handling answers) is out of the
        // corrected time too: the intended start stays fixed, and a user
        // arriving then would not have waited it.
        let took = step::timed(run.end - started, session.own_time);
        let corrected = micros(took + lag);
        let took = micros(took);
        let ok = has_row && !run.failed;
        self.hub.record_flow_iteration(picked, ok, took, corrected);
    }

    /// Runs `flow`'s steps (each `repeat` times, with its think time after
    /// it) from `started`, until one fails with `abort_iteration`, the user
    /// gives up or the run is aborted.
    async fn run_flow(
        &self,
        flow: &Flow,
        session: &mut Session,
        lag: Duration,
        started: Instant,
    ) -> FlowRun {
        let mut run = FlowRun::new(started);
        // The clock is read once between two steps: the end of one is the
        // start of the next (and the first starts with the iteration).
        for step in &flow.steps {
            for _ in 0..step.repeat {
                let (result, end) = self.run_step(step, session, lag, run.end).await;
                run.end = end;
                match result {
                    StepResult::Ok => {}
                    StepResult::Failed => {
                        run.failed = true;
                        if step.on_error == OnError::AbortIteration {
                            run.gave_up = true;
                            return run;
                        }
                    }
                    StepResult::Aborted => {
                        run.aborted = true;
                        return run;
                    }
                    StepResult::Abandoned => return run,
                }
                if let Some(think) = &step.think {
                    let pause = think.sample(&mut session.rng);
                    tokio::time::sleep(pause).await;
                    run.end = Instant::now();
                }
            }
        }
        run
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
            // Boxed: a failed iteration's path, whose shared-pool request
            // future would otherwise sit in every iteration's future.
            let close = super::cleanup::close_chat(&self.client, &chat, CLOSE_DEADLINE);
            let closed = Box::pin(close).await;
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
}

/// Whole microseconds, saturating.
pub fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::{Duration, Instant, connect_backoff, next_poll};

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
}
