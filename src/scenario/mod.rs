//! The validated scenario: what to send, in which order, under which load.
//!
//! Layout: `raw` mirrors the YAML, `load` reads and parses a file with
//! located errors ([`Problem`]s, from `problem`), `validate` turns the raw
//! form into the model below (collecting every problem), `template` parses
//! `{{ … }}` strings, `matcher` evaluates `expect`/`until`/`capture` paths.
//! The model's sections (`agents`, `webhook`, `media`, `rate_limit`) hold
//! types only; their checks live in `validate/`, so imports go one way:
//! `load` → `validate` → model and `raw`. Nothing here does HTTP; the
//! engine executes the model through the client.

pub mod agents;
pub mod limits;
pub mod load;
pub mod matcher;
pub mod media;
pub mod problem;
pub mod rate_limit;
pub mod raw;
pub mod template;
pub mod threshold;
pub mod validate;
pub mod webhook;

mod feed;
mod spans;
mod syntax;
#[cfg(test)]
pub(crate) mod testing;
mod think;

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use crate::api::Operation;
// The HTTP words a scenario holds (`target.http`, `target.connection`); the
// client owns their meaning.
pub use crate::client::{ConnPolicy, HttpVersion};
pub use agents::{AgentAction, AgentBreaks, AgentMetric, AgentsSpec};
pub use feed::{Feed, FeedMode};
pub use load::{ScenarioError, load_file, load_str};
pub use matcher::{BodyCheck, Matcher};
pub use problem::Problem;
use template::{Template, ValueTemplate, VarId};
pub use think::Think;

/// A credential or token value: printed as `***` by `Debug` and `Display` so it
/// cannot leak into logs, reports or error messages by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    /// The real value, for building request headers only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// A scenario ready to run.
#[derive(Debug)]
pub struct Scenario {
    pub name: String,
    pub description: Option<String>,
    pub file: Option<PathBuf>,
    pub seed: Option<u64>,
    pub target: TargetSpec,
    pub vars: VarTable,
    pub feeds: Vec<Feed>,
    pub load: Workload,
    pub flows: Vec<Flow>,
    /// Display names of all steps, indexed by `Step::id`.
    pub step_names: Vec<(String, String)>,
    /// Route keys (`"GET /chats/{chatId}"`), indexed by `RequestSpec::route`.
    pub routes: Vec<RouteInfo>,
    /// Close chats that iterations left open when the run ends.
    pub cleanup: bool,
    /// Time limit of that clean-up; `None`: the load's `graceful_stop`.
    pub cleanup_timeout: Option<Duration>,
    /// Service levels the run must meet.
    pub thresholds: Vec<threshold::Threshold>,
    /// Where each of the file's thresholds is written (line, column), in
    /// the order of `thresholds` (those given with `--threshold` come after
    /// them and have none).
    pub threshold_positions: Vec<(u64, u64)>,
    /// Agent actors, when the scenario declares them.
    pub agents: Option<AgentsSpec>,
    /// The run's webhook receiver, when the scenario has a `webhooks:` section.
    pub webhooks: Option<webhook::WebhookSpec>,
    /// What a virtual user does when the target throttles it (`rate_limit:`).
    pub rate_limit: rate_limit::RateLimitPolicy,
}

impl Scenario {
    /// Thresholds on a `_corrected` percentile in the closed model, with their index in
    /// `thresholds`. A closed-model VU sends each request when it is ready, so there is no
    /// schedule to be late against: the corrected latency equals the raw one and such a
    /// threshold can only restate the raw threshold (a request in flight during a stall shows
    /// its wait in both; the requests never sent during it are in neither).
    /// They stay valid (the same scenario may run in the open model with `--rate`), so the
    /// caller warns rather than refuses.
    pub fn corrected_in_closed_model(&self) -> Vec<(usize, &threshold::Threshold)> {
        if !matches!(self.load, Workload::Closed { .. }) {
            return Vec::new();
        }
        self.thresholds
            .iter()
            .enumerate()
            .filter(|(_, t)| {
                matches!(
                    t.stat,
                    Some(threshold::StatMetric::Quantile {
                        corrected: true,
                        ..
                    })
                )
            })
            .collect()
    }

    /// How long the end-of-run clean-up may take: `cleanup_timeout`, else the
    /// load's `graceful_stop`.
    pub fn cleanup_limit(&self) -> Duration {
        self.cleanup_timeout
            .unwrap_or_else(|| self.load.graceful_stop())
    }

    /// Whether step `id` is a pause (`- think: 2s` alone): it sends nothing and has no metrics.
    pub fn is_pause(&self, id: usize) -> bool {
        is_pause(&self.flows, id)
    }

    /// Parses a threshold written on the command line against this scenario.
    ///
    /// # Errors
    /// Unknown metrics, steps or routes.
    pub fn parse_threshold(
        &self,
        expr: &str,
        abort_on_fail: bool,
    ) -> Result<threshold::Threshold, String> {
        check_threshold(
            expr,
            abort_on_fail,
            &self.step_names,
            &self.routes,
            self.webhooks.as_ref(),
            &self.flows,
        )
    }
}

/// Parses a threshold against a scenario's steps, routes and webhooks.
///
/// # Errors
/// Unknown metrics, steps or routes; limits out of range.
pub(crate) fn check_threshold(
    expr: &str,
    abort_on_fail: bool,
    step_names: &[(String, String)],
    routes: &[RouteInfo],
    webhooks: Option<&webhook::WebhookSpec>,
    flows: &[Flow],
) -> Result<threshold::Threshold, String> {
    let steps: Vec<&str> = step_names.iter().map(|(n, _)| n.as_str()).collect();
    let t = threshold::parse(expr, &steps, abort_on_fail)?;
    if let threshold::Subject::Step(name) = &t.subject
        && let Some(id) = step_names.iter().position(|(n, _)| n == name)
        && is_pause(flows, id)
    {
        return Err(format!(
            "step `{name}` in `{expr}` is a pause (only `think`): it sends nothing and has no metrics to judge"
        ));
    }
    if t.subject.needs_webhooks() {
        let Some(hooks) = webhooks else {
            return Err(format!(
                "`{expr}` is measured from webhook events: add a `webhooks:` section"
            ));
        };
        if let threshold::Subject::Event(event) = &t.subject
            && !hooks.subscribes(event)
        {
            return Err(format!(
                "`{event}` in `{expr}` is not in webhooks.events ({})",
                hooks.events.join(", ")
            ));
        }
        if let threshold::Subject::Lifecycle(level) = t.subject {
            unmeasurable_level(level, expr, hooks, flows)?;
        }
    }
    match &t.subject {
        threshold::Subject::FlowIteration(flow) => {
            must_be_known("flow", flow, expr, flows.iter().map(|f| f.name.as_str()))?;
        }
        threshold::Subject::Route(route) => {
            must_be_known("route", route, expr, routes.iter().map(|r| r.key.as_str()))?;
        }
        _ => {}
    }
    Ok(t)
}

/// `Err` when lifecycle `level` can never be measured: none of the events
/// that end it is subscribed (and, for `time_in_queue`, no `wait_event`
/// abandons), so every run would judge it "no data".
fn unmeasurable_level(
    level: threshold::LifecycleMetric,
    expr: &str,
    hooks: &webhook::WebhookSpec,
    flows: &[Flow],
) -> Result<(), String> {
    let ends = level.ends_at();
    if ends.is_empty() || ends.iter().any(|e| hooks.subscribes(e)) {
        return Ok(());
    }
    let abandons = flows.iter().flat_map(|f| &f.steps).any(|s| {
        matches!(&s.action, StepAction::WaitEvent(w) if w.on_timeout == webhook::OnTimeout::Abandon)
    });
    if level == threshold::LifecycleMetric::TimeInQueue && abandons {
        return Ok(());
    }
    let abandon = if level == threshold::LifecycleMetric::TimeInQueue {
        " or an abandonment (`wait_event` with `on_timeout: abandon`, which no step has)"
    } else {
        ""
    };
    Err(format!(
        "`{}` in `{expr}` ends at {}{abandon}, which is not in webhooks.events ({}): it could never be measured",
        level.name(),
        level.ends_at_text(),
        hooks.events.join(", ")
    ))
}

/// Whether step `id` of `flows` is a pause (`- think: 2s` alone).
fn is_pause(flows: &[Flow], id: usize) -> bool {
    flows
        .iter()
        .flat_map(|f| &f.steps)
        .any(|s| s.id as usize == id && matches!(s.action, StepAction::Pause))
}

/// `Err` naming every known `kind` (flow, route) when `name` is not one of them.
fn must_be_known<'a>(
    kind: &str,
    name: &str,
    expr: &str,
    known: impl Iterator<Item = &'a str> + Clone,
) -> Result<(), String> {
    if known.clone().any(|k| k == name) {
        return Ok(());
    }
    let known: Vec<&str> = known.collect();
    Err(format!(
        "unknown {kind} `{name}` in `{expr}`: the scenario's {kind}s are {}",
        known.join(", ")
    ))
}

/// A route as metrics and schema checks see it: the operation every
/// request step resolves to at validation, and its key.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteInfo {
    pub key: String,
    pub operation: Operation,
}

/// Target settings from the file (the command line may override them).
#[derive(Debug, Clone, Default)]
pub struct TargetSpec {
    /// `None` means the bundled mock.
    pub base_url: Option<String>,
    pub app_id: Option<Secret>,
    pub secret: Option<Secret>,
    pub domain_key: Option<Secret>,
    pub headers: Vec<(String, String)>,
    pub timeout: Duration,
    /// Body bytes one response may hold (`target.max_body`, default
    /// [`crate::client::DEFAULT_MAX_BODY`]).
    pub max_body: u64,
    /// An extra CA certificate file (PEM) to trust for an https:// target,
    /// relative paths resolved against the scenario's directory.
    pub ca_cert: Option<PathBuf>,
    /// No certificate verification (only when the file says so; warned about).
    pub insecure: bool,
    /// The HTTP version over TLS.
    pub http: HttpVersion,
    /// How virtual users hold their connections (`target.connection`).
    pub connection: ConnPolicy,
}

/// Variable names and their starting values; slot `i` is `VarId(i)`.
#[derive(Debug, Clone, Default)]
pub struct VarTable {
    pub names: Vec<String>,
    /// Starting value of each slot; `None` for captured variables.
    pub initial: Vec<Option<Value>>,
    /// Slots that a feed fills at the start of each iteration: (slot, feed, column).
    pub feed_slots: Vec<(VarId, usize, usize)>,
}

impl VarTable {
    /// The slot of `name`, if declared.
    pub fn get(&self, name: &str) -> Option<VarId> {
        self.names
            .iter()
            .position(|n| n == name)
            .map(|i| VarId(i as u32))
    }

    /// The slot of `name`, declared on first use.
    pub fn intern(&mut self, name: &str, initial: Option<Value>) -> VarId {
        if let Some(id) = self.get(name) {
            return id;
        }
        self.names.push(name.to_owned());
        self.initial.push(initial);
        VarId((self.names.len() - 1) as u32)
    }

    /// The name of a slot.
    pub fn name(&self, id: VarId) -> &str {
        &self.names[id.0 as usize]
    }
}

/// The workload model.
#[derive(Debug, Clone, PartialEq)]
pub enum Workload {
    /// A fixed (or ramped) number of virtual users, each looping over iterations.
    Closed {
        vus: u32,
        duration: Option<Duration>,
        iterations: Option<u64>,
        stages: Vec<Stage>,
        graceful_stop: Duration,
    },
    /// Iterations started at a target rate, whatever the response times.
    Open {
        rate_per_sec: f64,
        duration: Option<Duration>,
        stages: Vec<Stage>,
        max_vus: u32,
        backlog: u32,
        graceful_stop: Duration,
    },
}

impl Workload {
    /// Planned run length, when known.
    pub fn planned_duration(&self) -> Option<Duration> {
        let (duration, stages) = match self {
            Workload::Closed {
                duration, stages, ..
            }
            | Workload::Open {
                duration, stages, ..
            } => (duration, stages),
        };
        if !stages.is_empty() {
            return Some(stages.iter().map(|s| s.duration).sum());
        }
        *duration
    }

    /// Time in-flight iterations get to finish once the run stops.
    pub fn graceful_stop(&self) -> Duration {
        match self {
            Workload::Closed { graceful_stop, .. } | Workload::Open { graceful_stop, .. } => {
                *graceful_stop
            }
        }
    }
}

/// Reach `target` VUs (closed) or arrivals/s (open) linearly over `duration`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stage {
    pub duration: Duration,
    pub target: f64,
}

/// A weighted list of steps; each iteration runs one flow.
#[derive(Debug)]
pub struct Flow {
    pub name: String,
    pub weight: u32,
    pub steps: Vec<Step>,
}

/// What to do when a step fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnError {
    /// Record the failure and go on with the next step.
    Continue,
    /// Record the failure and end this iteration (the default: later steps
    /// usually depend on what this one should have produced).
    AbortIteration,
}

/// One step of a flow.
#[derive(Debug)]
pub struct Step {
    /// Index into `Scenario::step_names` and the metrics' step table.
    pub id: u32,
    pub name: String,
    pub action: StepAction,
    pub think: Option<Think>,
    pub repeat: u32,
    pub on_error: OnError,
}

/// What a step does.
#[derive(Debug)]
pub enum StepAction {
    Request(Box<RequestSpec>),
    WaitUntil(Box<WaitSpec>),
    /// Wait for a webhook event about the VU's chat.
    WaitEvent(Box<webhook::WaitEventSpec>),
    /// Only a think time.
    Pause,
}

/// Which credentials a request carries.
#[derive(Debug, Clone, PartialEq)]
pub enum Auth {
    /// App ID + secret.
    Secret,
    /// App ID only (what real clients send on public routes).
    AppId,
    /// App ID + domain key.
    DomainKey,
    /// App ID + a user's session token.
    Token(Template),
    /// No credentials at all.
    None,
}

/// How a request affects the chats the run must clean up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatEffect {
    None,
    Opens,
    Closes,
}

/// A request with every part still a template.
#[derive(Debug)]
pub struct RequestSpec {
    pub route: u32,
    /// The operation, resolved once at validation (typed steps name it, a
    /// generic `request` is matched by method and path); the method comes
    /// from it.
    pub op: Operation,
    pub path: Template,
    pub query: Vec<(String, Template)>,
    pub headers: Vec<(String, Template)>,
    pub body: Option<ValueTemplate>,
    /// A `multipart/form-data` body instead of JSON (`multipart:`, `upload_media`).
    pub multipart: Option<media::MultipartSpec>,
    pub auth: Auth,
    pub expect: Expectation,
    pub captures: Vec<Capture>,
    pub chat_effect: ChatEffect,
}

/// Acceptable statuses (empty: any 2xx) and body checks.
#[derive(Debug, Clone, Default)]
pub struct Expectation {
    pub statuses: Vec<u16>,
    pub body: Vec<BodyCheck>,
    /// Size and type of a download (`download_media`).
    pub media: Option<media::MediaCheck>,
}

impl Expectation {
    /// Whether `status` is acceptable.
    pub fn status_ok(&self, status: u16) -> bool {
        if self.statuses.is_empty() {
            (200..300).contains(&status)
        } else {
            self.statuses.contains(&status)
        }
    }
}

/// Store the value at `pointer` of the response body into `var`.
#[derive(Debug, Clone)]
pub struct Capture {
    pub var: VarId,
    pub pointer: String,
    /// A missing value stores `null` instead of failing the step.
    pub optional: bool,
}

/// Repeat a request until `until` holds or `timeout` passes.
#[derive(Debug)]
pub struct WaitSpec {
    pub request: RequestSpec,
    pub until: Expectation,
    pub timeout: Duration,
    pub interval: Duration,
}
