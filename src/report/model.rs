//! Wire types of the JSON run report (`schema_version` 2), published as `report.schema.json`.
//!
//! These types are written at the end of a run and read back later (merge, compare, HTML), so they
//! are `Serialize + Deserialize`, keys are snake_case, and additions for later features go into
//! new typed `#[serde(default)]` fields or sections ([`super::sections`]) rather than changing
//! existing ones. Version-1 reports are upgraded on read ([`super::upgrade`]).
//! Every histogram is carried exactly (HdrHistogram V2, deflate-compressed, base64), so reports
//! can be merged into exact percentiles; the percentile fields are there for people and charts.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::ReportError;
use super::sections::{
    AgentSummary, CleanupReport, LoadProfile, SchemaReport, ThresholdDef, Verdict,
};
use crate::metrics::FailureSample;

/// Version of the report format written by this build; readers upgrade version 1 and reject
/// others.
pub const SCHEMA_VERSION: u32 = 2;

/// One run (or several merged runs): metadata, totals, per-step, per-route and per-iteration
/// statistics, and the per-second timeline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    /// Always [`SCHEMA_VERSION`] when written by this build.
    pub schema_version: u32,
    /// What ran, where and when.
    pub meta: RunMeta,
    /// Whole-run counts and rates.
    pub totals: Totals,
    /// One entry per scenario step, in scenario order.
    pub steps: Vec<StatsReport>,
    /// One entry per route (method + path template), in first-use order.
    pub routes: Vec<StatsReport>,
    /// Whole iterations (the lifecycle latency).
    pub iteration: StatsReport,
    /// Iterations per flow, in scenario order (`name` and `flow` are the flow's name); each is
    /// also counted in `iteration`. Thresholds: `iteration[FLOW].p95`. Empty in reports written
    /// before it existed.
    #[serde(default)]
    pub flow_iterations: Vec<StatsReport>,
    /// One entry per second of the run.
    pub timeline: Vec<TimelineReport>,
    /// Responses per HTTP status code over all requests (keys are the codes as strings).
    pub status_codes: BTreeMap<String, u64>,
    /// Failed steps per failure kind (`connect`, `timeout`, `expectation`, ...): every failed
    /// step counts once, `wait_until` and `wait_event` timeouts included. The sum over steps of
    /// their `failures`.
    pub errors_by_kind: BTreeMap<String, u64>,
    /// Failed requests per failure kind (the sum over routes of their `failures`). Differs from
    /// `errors_by_kind` where a step is not one request: each poll of a `wait_until`, no request
    /// for a `wait_event`.
    #[serde(default)]
    pub request_errors_by_kind: BTreeMap<String, u64>,
    /// Why steps failed: per step and failure kind, the first few failures explained, in step
    /// then kind order. Values that could be secrets are `MASKED`.
    #[serde(default)]
    pub failure_samples: Vec<FailureSamples>,
    /// The thresholds as written (scenario and `--threshold`), so `merge` and `report` judge
    /// the same way the run did.
    #[serde(default)]
    pub thresholds: Vec<ThresholdDef>,
    /// The verdict (`verdict::judge`); `None` only in reports upgraded from version 1 until
    /// they are judged again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Verdict>,
    /// Response-schema checking (absent when nothing was checked and nothing recorded).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema: Option<SchemaReport>,
    /// The end-of-run clean-up of chats left open: present whenever it ran
    /// (all zeros when the load left no chat open), and when it was off
    /// (`stopped: disabled`) with chats left open; absent only when it was
    /// off and the load left no chat open.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cleanup: Option<CleanupReport>,
    /// Agent actors (runs with an `agents:` section only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agents: Option<AgentSummary>,
    /// Whether in-flight iterations were aborted at the end of `graceful_stop`.
    #[serde(default)]
    pub aborted_in_flight: bool,
    /// Webhook events and the chat lifecycle's service levels (runs with a
    /// `webhooks:` section only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhooks: Option<super::webhook::WebhookReport>,
    /// Throttled responses (429, or 503 with `Retry-After`) and what the
    /// `rate_limit` policy did about them; absent only in reports written
    /// before it existed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub throttle: Option<super::throttle::ThrottleReport>,
}

/// An HTTP version spoken with the target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum HttpProtocol {
    #[serde(rename = "HTTP/1.1")]
    Http1,
    #[serde(rename = "HTTP/2")]
    Http2,
}

impl HttpProtocol {
    /// As written in the report and the terminal.
    pub fn as_str(self) -> &'static str {
        match self {
            HttpProtocol::Http1 => "HTTP/1.1",
            HttpProtocol::Http2 => "HTTP/2",
        }
    }
}

/// Run metadata. Never contains credentials.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunMeta {
    /// Scenario `name`.
    pub scenario: String,
    /// Path of the scenario file, if it came from one.
    pub scenario_file: Option<String>,
    /// Base URL of the target, without credentials.
    pub target: String,
    /// `"bundled-mock"` or `"remote"`.
    pub target_kind: String,
    /// The HTTP versions the target's responses actually came over (over
    /// TLS, what ALPN chose; `--http auto` may give both), in order. Empty
    /// when no response arrived, and in reports written before it existed.
    #[serde(default)]
    pub http_versions: Vec<HttpProtocol>,
    /// How virtual users held their connections (`target.connection`);
    /// absent in reports written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<super::connection::ConnectionMeta>,
    /// Version of chatload that wrote the report; of a merged report, its first part's (when
    /// the parts' differ, each is in `chatload_versions` and `merged_runs`).
    pub chatload_version: String,
    /// Of a merged report whose parts were written by different chatload versions: each
    /// version, in order of first appearance (a step's latency may not mean the same in
    /// each). Absent otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chatload_versions: Vec<String>,
    /// Start of the run, RFC 3339; of a merged run, its earliest part's.
    pub started_at: String,
    /// End of the run, RFC 3339; of a merged run, its latest part's.
    pub ended_at: String,
    /// Wall-clock duration of the run in seconds, from the first iteration
    /// to the end of the drain (`graceful_stop`); the clean-up, webhook
    /// settle and agent logout afterwards are not in it.
    pub duration_secs: f64,
    /// Length of the load phase in seconds: from the first iteration until the
    /// plan stopped starting new ones (its duration ended, its iterations were
    /// all done, or it was stopped). Every rate (`requests_per_sec`, `rps`) is
    /// over this time. 0 in reports written before it existed (rates were
    /// then over `duration_secs`).
    #[serde(default)]
    pub load_secs: f64,
    /// Load profile as run (closed or open model, stages, request timeout), without secrets.
    pub load: LoadProfile,
    /// Seed of the run's random choices; `null` for runs merged side by side that had
    /// different seeds (each run's is in `seeds`).
    pub seed: Option<u64>,
    /// Each run's seed, in `merged_from` order, when runs were merged side by side
    /// (`load.runs_side_by_side`); empty otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub seeds: Vec<u64>,
    /// Whether the run was stopped early (Ctrl-C, SIGTERM, `abort_on_fail`, an unreachable
    /// target) and is partial.
    pub interrupted: bool,
    /// Whether a signal (SIGINT, SIGTERM) stopped it (its verdict exits 130).
    #[serde(default)]
    pub stopped_by_signal: bool,
    /// Name of this shard when the run was split across machines.
    pub shard: Option<String>,
    /// Reports merged into this one (empty for a single run).
    #[serde(default)]
    pub merged_from: Vec<String>,
    /// Each merged report's own target and how its run ended, in `merged_from` order (absent
    /// for a single run and in merged reports written before it existed): the verdict names a
    /// shard that never reached its target, and the summary lists targets that differ.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merged_runs: Vec<MergedRun>,
    /// A merged report whose parts did not run at the same time (some part started more than
    /// 2 s, the clock skew tolerated, after another had ended): `duration_secs` and
    /// `load_secs` are the whole span from `started_at` to `ended_at`, and every rate is
    /// averaged over it, not a load the target saw at once. Absent otherwise.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ran_apart: bool,
}

impl RunMeta {
    /// Whether the reports merged into this one ran against different targets (a bundled
    /// mock and a remote one, or remote URLs that differ). Each bundled mock listens on a port
    /// of its own, so bundled-mock runs differ only there and count as one target.
    pub fn targets_differ(&self) -> bool {
        let runs = &self.merged_runs;
        let bundled = |r: &MergedRun| r.target_kind == "bundled-mock";
        !runs.iter().all(bundled)
            && !runs
                .iter()
                .all(|r| r.target == self.target && r.target_kind == self.target_kind)
    }
}

/// One report merged into another, as the merged verdict and summary need it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MergedRun {
    /// The file it was read from.
    pub file: String,
    /// Its shard (`"2/3"`), `None` for a whole run merged side by side.
    pub shard: Option<String>,
    /// Its target's base URL.
    pub target: String,
    /// `"bundled-mock"` or `"remote"`.
    pub target_kind: String,
    /// The version of chatload that wrote it (empty in merged reports written before it was
    /// recorded).
    pub chatload_version: String,
    /// Requests it sent.
    pub requests: u64,
    /// Every request it sent failed to connect (its run exited 3).
    pub target_unreachable: bool,
    /// It stopped early (a signal, `abort_on_fail`, an unreachable target).
    pub interrupted: bool,
    /// A signal stopped it.
    pub stopped_by_signal: bool,
    /// Iterations and requests it cut off when it stopped.
    pub cut_off_iterations: u64,
    pub cut_off_requests: u64,
}

impl MergedRun {
    /// How messages name it: `shard 2/3 (b.json)`, or the file of a whole run.
    pub fn name(&self) -> String {
        match &self.shard {
            Some(shard) => format!("shard {shard} ({})", self.file),
            None => self.file.clone(),
        }
    }
}

/// Whole-run counts and rates.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    /// Requests sent.
    pub requests: u64,
    /// Failed requests.
    pub errors: u64,
    /// `errors / requests` (0 when no request was sent).
    pub error_rate: f64,
    /// Requests sent during the load phase per second of it (`meta.load_secs`):
    /// one answered in the drain after it (`graceful_stop`) counts, one the
    /// drain sent does not.
    pub requests_per_sec: f64,
    /// Finished iterations.
    pub iterations: u64,
    /// Failed iterations.
    pub iteration_errors: u64,
    /// Open-model arrivals that never ran: no free virtual user and a full
    /// backlog, or still waiting in the backlog when the run ended.
    pub dropped_iterations: u64,
    /// Iterations started. Each ends completed (`iterations - iteration_errors`),
    /// failed (`iteration_errors`) or cut off (`cut_off_iterations`).
    #[serde(default)]
    pub iterations_started: u64,
    /// Iterations still running when the run was aborted (`graceful_stop`
    /// over, or a second interrupt); counted neither as finished nor failed.
    #[serde(default)]
    pub cut_off_iterations: u64,
    /// Requests sent and still unanswered when the run was aborted; not in `requests`.
    #[serde(default)]
    pub cut_off_requests: u64,
    /// Iterations the plan asked for, when it fixes a number (closed model
    /// with `iterations`, open model: its arrivals); `None` otherwise.
    pub planned_iterations: Option<u64>,
    /// Planned iterations that never started and were not dropped (the
    /// duration ran out before `iterations` did, or the run was stopped).
    #[serde(default)]
    pub unstarted_iterations: u64,
    /// Open model: how late the arrival generator itself got to each
    /// arrival (timer and scheduler delay on the load machine), µs. The
    /// corrected latency's excess over the raw one is this plus the time
    /// arrivals waited in the backlog for a free virtual user; a large value
    /// here means the load machine, not the target, delayed the load.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduling_lag: Option<Percentiles>,
    /// The scheduling lag's histogram (encoded like `StatsReport::histogram`), so that
    /// `merge` adds the shards' lags exactly; absent in reports written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduling_lag_histogram: Option<String>,
}

impl Totals {
    /// Iterations started (also for reports written before the field existed).
    pub fn started(&self) -> u64 {
        self.iterations_started
            .max(self.iterations + self.cut_off_iterations)
    }

    /// Iterations that ran to their end without a failure.
    pub fn completed(&self) -> u64 {
        self.iterations.saturating_sub(self.iteration_errors)
    }
}

/// Statistics of one step, route or the whole iteration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StatsReport {
    /// Step name, route ("POST /chats") or "iteration".
    pub name: String,
    /// Flow of a step; `None` for routes and the iteration.
    pub flow: Option<String>,
    /// Route (method + path template) of a route entry; `None` for steps and the iteration.
    pub route: Option<String>,
    /// Samples recorded.
    pub count: u64,
    /// Failed samples.
    pub errors: u64,
    /// `errors / count`; 0 when nothing was recorded (`count` 0), which is no
    /// data, not a clean 0%: the CSV leaves the cell empty then, the HTML
    /// counts such a step as never ran.
    pub error_rate: f64,
    /// Samples started (requests sent) during the load phase per second of it
    /// (`meta.load_secs`), wherever they finished; untimed ones sent nothing
    /// and add nothing, so a never-sent step's rate is 0.
    pub rps: f64,
    /// Responses per HTTP status code (keys are the codes as strings); empty for steps.
    pub statuses: BTreeMap<String, u64>,
    /// Failures per kind; only kinds that occurred.
    pub failures: BTreeMap<String, u64>,
    /// Samples above the histogram range (one hour) that were clamped to it.
    #[serde(default)]
    pub saturated: u64,
    /// Request body bytes sent by a route's or a step's requests (a step's:
    /// every request it sent, throttled re-sends and `wait_until` polls too;
    /// HTTP heads and framing not counted); an iteration's or a flow's: its
    /// steps' sums. 0 for steps and iterations in reports written before
    /// they counted them.
    #[serde(default)]
    pub bytes_sent: u64,
    /// Response body bytes received, counted like `bytes_sent`.
    #[serde(default)]
    pub bytes_received: u64,
    /// Routes: throttled responses, re-sends and time waited (absent when
    /// none; always absent for steps and iterations).
    #[serde(
        default,
        skip_serializing_if = "super::throttle::ThrottleStats::is_empty"
    )]
    pub throttle: super::throttle::ThrottleStats,
    /// Routes: how their requests' connections were set up (new or reused,
    /// TCP connect, TLS handshake, time to first byte); absent for steps,
    /// iterations, and routes of reports written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<super::connection::ConnectionReport>,
    /// Steps: how many of `count` have no latency, because their request was never sent (a
    /// template read a variable an earlier failed capture left unset). They count and fail;
    /// the percentiles are of the other `count - untimed` (absent when 0).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub untimed: u64,
    /// Latency from the actual send; all 0 in memory and `null` in the JSON when no sample
    /// was timed (a route never requested, a step never sent), never a 0 ms latency.
    #[serde(with = "no_sample_as_null")]
    pub latency: Percentiles,
    /// Latency from the intended start (coordinated-omission corrected; equals `latency` in the
    /// closed model, see README "Coordinated omission"); `null` like `latency`.
    #[serde(with = "no_sample_as_null")]
    pub corrected: Percentiles,
    /// The raw latency histogram: HdrHistogram V2, deflate-compressed, base64 (standard).
    pub histogram: String,
    /// The corrected latency histogram, encoded like `histogram`.
    pub corrected_histogram: String,
}

/// Percentiles of a latency histogram, in microseconds (all 0 when empty).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    /// Smallest value.
    pub min_us: u64,
    /// Arithmetic mean.
    pub mean_us: f64,
    /// Median.
    pub p50_us: u64,
    /// 90th percentile.
    pub p90_us: u64,
    /// 95th percentile.
    pub p95_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// 99.9th percentile.
    pub p99_9_us: u64,
    /// 99.99th percentile.
    pub p99_99_us: u64,
    /// Largest value.
    pub max_us: u64,
}

/// Requests, errors and latency of one second of the run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimelineReport {
    /// Whole seconds since run start at the end of this interval (the first second is 1).
    pub second: u64,
    /// Requests finished in this second.
    pub requests: u64,
    /// Failed requests finished in this second.
    pub errors: u64,
    /// Median raw latency, µs (0 without requests).
    pub p50_us: u64,
    /// 90th percentile raw latency, µs.
    pub p90_us: u64,
    /// 99th percentile raw latency, µs.
    pub p99_us: u64,
    /// Largest raw latency, µs.
    pub max_us: u64,
    /// This second's raw latency histogram (2 significant digits), encoded like
    /// [`StatsReport::histogram`].
    pub histogram: String,
}

/// The first failures of one step and failure kind, explained.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FailureSamples {
    /// Step name.
    pub step: String,
    /// The step's flow.
    pub flow: Option<String>,
    /// Failure kind (`status`, `expectation`, `capture`, ...).
    pub kind: String,
    /// Failures of this kind on this step.
    pub count: u64,
    /// Failures not sampled: `count` minus the number of `samples`.
    pub more: u64,
    /// The first failures (at most 5 per step and kind), in the order they happened.
    pub samples: Vec<FailureSample>,
}

/// Just enough of a report to check its version before parsing the rest.
#[derive(Deserialize)]
struct VersionProbe {
    schema_version: u32,
}

/// Why a run stopped early (`meta.interrupted`): the one cause every
/// output names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopCause {
    /// SIGINT or SIGTERM (`meta.stopped_by_signal`, `verdict.interrupted`; exit 130).
    Signal,
    /// Every request failed to connect (`verdict.target_unreachable`; exit 3).
    Unreachable,
    /// An `abort_on_fail` threshold failed during the load.
    AbortOnFail,
}

impl StopCause {
    /// "the run …", as a sentence's end: why it stopped early.
    pub fn sentence(self) -> &'static str {
        match self {
            StopCause::Signal => "was interrupted by a signal (Ctrl-C or SIGTERM)",
            StopCause::Unreachable => "stopped early because the target was unreachable",
            StopCause::AbortOnFail => "stopped early because an abort_on_fail threshold failed",
        }
    }
}

impl RunReport {
    /// Whether its target was unreachable: it sent requests and every one failed to connect.
    /// (A merged report also asks this of each run merged into it: `meta.merged_runs`.)
    pub fn target_unreachable(&self) -> bool {
        let connect = self
            .request_errors_by_kind
            .get(crate::metrics::FailureKind::Connect.as_str())
            .copied()
            .unwrap_or(0);
        self.totals.requests > 0 && connect == self.totals.requests
    }

    /// Why the run stopped early, `None` when it ran to its end: a signal
    /// when one did it, an unreachable target when every request failed
    /// to connect (the verdict's `target_unreachable`), else an `abort_on_fail`
    /// threshold (the only other way a run stops early).
    pub fn stop_cause(&self) -> Option<StopCause> {
        let t = &self.totals;
        // Per request; per step in reports written before requests were
        // counted apart (a refused connect fails its step as much).
        let connect = (self.request_errors_by_kind.get("connect"))
            .or_else(|| self.errors_by_kind.get("connect"))
            .copied()
            .unwrap_or(0);
        if self.meta.stopped_by_signal {
            Some(StopCause::Signal)
        } else if !self.meta.interrupted {
            None
        } else if t.requests > 0 && connect == t.requests {
            Some(StopCause::Unreachable)
        } else {
            Some(StopCause::AbortOnFail)
        }
    }

    /// Parses a JSON report written by this or an earlier compatible build,
    /// and decodes every histogram in it once, so a corrupt one is refused
    /// on reading rather than met halfway through a command.
    ///
    /// # Errors
    ///
    /// [`ReportError::NotAnObject`] if the JSON is not an object,
    /// [`ReportError::Parse`] if the bytes are not a report (with line and column),
    /// [`ReportError::UnsupportedSchemaVersion`] if it was written in another format version,
    /// and [`ReportError::Histogram`] (naming the entry) if a histogram does not decode.
    pub fn from_json(bytes: &[u8]) -> Result<RunReport, ReportError> {
        if let Some(found) = not_an_object(bytes) {
            return Err(ReportError::NotAnObject { found });
        }
        let probe: VersionProbe =
            serde_json::from_slice(bytes).map_err(|cause| ReportError::Parse { cause })?;
        let report = match probe.schema_version {
            SCHEMA_VERSION => {
                serde_json::from_slice(bytes).map_err(|cause| ReportError::Parse { cause })?
            }
            1 => super::upgrade::from_v1(bytes)?,
            found => {
                return Err(ReportError::UnsupportedSchemaVersion {
                    found,
                    supported: SCHEMA_VERSION,
                });
            }
        };
        report.check_histograms()?;
        Ok(report)
    }

    /// Decodes every histogram: steps, routes (and their connection phases),
    /// the iteration, flows, the timeline and the webhook section.
    fn check_histograms(&self) -> Result<(), ReportError> {
        let entries = (self.steps.iter().enumerate().map(|(i, s)| ("steps", i, s)))
            .chain(
                self.routes
                    .iter()
                    .enumerate()
                    .map(|(i, s)| ("routes", i, s)),
            )
            .chain(
                (self.flow_iterations.iter().enumerate()).map(|(i, s)| ("flow_iterations", i, s)),
            );
        for (list, i, stats) in entries {
            check_stats(&format!("{list}[{i}] ({})", stats.name), stats)?;
        }
        check_stats("iteration", &self.iteration)?;
        if let Some(lag) = &self.totals.scheduling_lag_histogram {
            check_histogram("totals", "scheduling_lag_histogram", lag)?;
        }
        for (i, t) in self.timeline.iter().enumerate() {
            let entry = format!("timeline[{i}] (second {})", t.second);
            check_histogram(&entry, "histogram", &t.histogram)?;
        }
        match &self.webhooks {
            Some(w) => check_webhooks(w),
            None => Ok(()),
        }
    }
}

/// What the bytes are when they are not a JSON object (`an array`, ...);
/// `None` for an object, or for text that is no JSON value at all (the
/// parser says where it goes wrong).
fn not_an_object(bytes: &[u8]) -> Option<&'static str> {
    let text = bytes.trim_ascii();
    let starts = |word: &[u8]| text.starts_with(word);
    match text.first() {
        None => Some("an empty file"),
        Some(b'[') => Some("an array"),
        Some(b'"') => Some("a string"),
        Some(b'-' | b'0'..=b'9') => Some("a number"),
        Some(_) if starts(b"true") || starts(b"false") => Some("a boolean"),
        Some(_) if starts(b"null") => Some("null"),
        _ => None,
    }
}

/// The histograms of one step, route, flow or the iteration.
fn check_stats(entry: &str, s: &StatsReport) -> Result<(), ReportError> {
    check_histogram(entry, "histogram", &s.histogram)?;
    check_histogram(entry, "corrected_histogram", &s.corrected_histogram)?;
    let Some(c) = &s.connection else {
        return Ok(());
    };
    let phases = [
        ("connection.connect", &c.connect),
        ("connection.tls_handshake", &c.tls_handshake),
        ("connection.first_byte", &c.first_byte),
    ];
    for (field, phase) in phases {
        if let Some(p) = phase {
            check_histogram(entry, field, &p.histogram)?;
        }
    }
    Ok(())
}

/// The webhook section's histograms: event delays, service levels, queue.
fn check_webhooks(w: &super::webhook::WebhookReport) -> Result<(), ReportError> {
    for (i, e) in w.events.iter().enumerate() {
        let entry = format!("webhooks.events[{i}] ({})", e.event);
        check_histogram(&entry, "delay.histogram", &e.delay.histogram)?;
    }
    let levels = [
        (
            "webhooks.lifecycle.time_to_assign",
            &w.lifecycle.time_to_assign,
        ),
        (
            "webhooks.lifecycle.time_to_first_agent_reply",
            &w.lifecycle.time_to_first_agent_reply,
        ),
        (
            "webhooks.lifecycle.chat_duration",
            &w.lifecycle.chat_duration,
        ),
        ("webhooks.queue.time_in_queue", &w.queue.time_in_queue),
    ];
    for (entry, level) in levels {
        check_histogram(entry, "histogram", &level.histogram)?;
    }
    check_histogram(
        "webhooks.queue.positions",
        "histogram",
        &w.queue.positions.histogram,
    )
}

/// Decodes one histogram; the error names the entry and, when it is not
/// the entry's `histogram`, the field.
fn check_histogram(entry: &str, field: &str, encoded: &str) -> Result<(), ReportError> {
    match super::codec::decode_histogram(encoded) {
        Ok(_) => Ok(()),
        Err(cause) => Err(ReportError::Histogram {
            at: if field == "histogram" {
                entry.to_owned()
            } else {
                format!("{entry}: {field}")
            },
            cause: Box::new(cause),
        }),
    }
}

/// A [`Percentiles`] with no sample behind it (all 0: a recorded sample is at least 1 µs)
/// written as `null`, so a dashboard never plots it as a 0 ms latency; `null` (and the
/// all-0 object of reports written before) read back as all 0.
mod no_sample_as_null {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::Percentiles;

    pub(super) fn serialize<S: Serializer>(p: &Percentiles, s: S) -> Result<S::Ok, S::Error> {
        (*p != Percentiles::default()).then_some(p).serialize(s)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Percentiles, D::Error> {
        Ok(Option::<Percentiles>::deserialize(d)?.unwrap_or_default())
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl StatsReport {
    /// How many of `count` were timed: the samples behind the percentiles.
    pub fn timed(&self) -> u64 {
        self.count.saturating_sub(self.untimed)
    }
}
