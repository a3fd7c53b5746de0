//! The verdict of a run, computed in one place: [`judge`] evaluates the
//! thresholds against the report and applies the run rules; the exit code,
//! the terminal summary, the JSON, the HTML and the JUnit file all show the
//! [`Verdict`] it returns, so they can never disagree.
//!
//! The rule (documented in `docs/scenario-format.md`, "thresholds"):
//! - a threshold passes when its metric has data and meets the limit, fails
//!   when it misses it, and is **no data** when nothing was measured (a step
//!   that never ran, a rate over zero requests): no data fails the run unless
//!   the threshold says `allow_empty: true`;
//! - with thresholds, they decide (failing steps are informational), except
//!   that a run in which every finished iteration failed fails unless a
//!   threshold on `iterations.error_rate` says how many may fail;
//! - without thresholds, every step must pass and no iteration may fail;
//! - either way a run that sent no request fails ("no request was sent"),
//!   a run whose every request failed to connect has an unreachable target
//!   (exit 3), a run stopped by a signal fails (exit 130), and load the plan
//!   asked for and did not deliver fails ([`accounting`]);
//! - a merged run that includes a shard (or a run side by side) whose target
//!   was unreachable fails naming it, and exits 3 like that shard did;
//! - a shard (`--shard K/N`) leaves the thresholds on counts and rates of
//!   the whole run that its own part cannot decide to the merged run
//!   (`shard`): they are [`ThresholdStatus::Deferred`], neither a pass nor a
//!   failure, and the rest decide the shard's verdict.
//!
//! Works on a [`RunReport`], so a merged report from several shards is
//! judged exactly like a single run, and a saved report exactly as it was.

use crate::api::same_event;
use crate::report::compare::{RunOutcome, RunState};
use crate::report::webhook::{LatencySummary, WebhookReport};
use crate::report::{
    DecidedBy, MergedRun, Percentiles, RunReport, SchemaReport, StatsReport, StopCause,
    ThresholdDef, ThresholdResult, ThresholdStatus, Verdict,
};
use crate::scenario::threshold::{
    self, LifecycleMetric, RunMetric, StatMetric, Subject, Threshold, Unit,
};
use crate::text::format_us;

/// Judges a run: every threshold, then the run rules (module docs).
pub fn judge(thresholds: &[Threshold], report: &RunReport) -> Verdict {
    let results = evaluate(thresholds, report);
    let mut reasons = Vec::new();
    let totals = &report.totals;
    // A merged run names each merged shard or run that never reached its target: its part
    // of the load was never delivered, whatever the others measured.
    let unreachable_parts = unreachable_parts(report);
    let target_unreachable = report.target_unreachable() || !unreachable_parts.is_empty();
    if totals.requests > 0 && !unreachable_parts.is_empty() {
        reasons.extend(unreachable_parts);
    } else {
        reasons.extend(nothing_measured(report));
    }
    if report.meta.stopped_by_signal {
        reasons.push(
            "the run was stopped by a signal (SIGINT or SIGTERM): results are partial".to_owned(),
        );
    }
    reasons.extend(accounting(thresholds, report));
    let decided_by = if thresholds.is_empty() {
        step_reasons(report, &mut reasons);
        DecidedBy::Steps
    } else {
        // A shard's deferred threshold is judged by `chatload merge`, not here.
        for r in results
            .iter()
            .filter(|r| !r.passed && r.status != ThresholdStatus::Deferred)
        {
            reasons.push(format!("threshold `{}`: {}", r.threshold, r.message));
        }
        let tolerated = thresholds
            .iter()
            .any(|t| t.subject == Subject::Run(RunMetric::IterationErrorRate));
        if !tolerated && totals.iterations > 0 && totals.iteration_errors == totals.iterations {
            reasons.push(format!(
                "every iteration failed ({} of {}); a threshold on iterations.error_rate \
                 would say how many may",
                totals.iteration_errors, totals.iterations
            ));
        }
        DecidedBy::Thresholds
    };
    Verdict {
        passed: reasons.is_empty(),
        decided_by,
        thresholds: results,
        reasons,
        target_unreachable,
        interrupted: report.meta.stopped_by_signal,
    }
}

/// One reason per run merged into `report` whose every request failed to connect.
fn unreachable_parts(report: &RunReport) -> Vec<String> {
    report
        .meta
        .merged_runs
        .iter()
        .filter(|r| r.target_unreachable)
        .map(|r| {
            format!(
                "{} could not reach its target {} ({}): all {} request(s) it sent failed to \
                 connect, so its part of the load was never delivered",
                r.name(),
                r.target,
                r.target_kind,
                r.requests
            )
        })
        .collect()
}

/// Why a run measured nothing of the target, if it did not: no request was
/// sent, none was answered, or every one failed to connect. Such a run
/// always fails; `compare` also refuses to judge by it, whatever its
/// thresholds (it needs no threshold to say so).
pub fn nothing_measured(report: &RunReport) -> Option<String> {
    let totals = &report.totals;
    if totals.requests == 0 && totals.cut_off_requests > 0 {
        Some("no request was answered".to_owned())
    } else if totals.requests == 0 {
        Some("no request was sent".to_owned())
    } else if report.target_unreachable() {
        Some(format!(
            "the target was unreachable: all {} request(s) failed to connect",
            totals.requests
        ))
    } else {
        None
    }
}

/// A compared run's own verdict (see `report::compare`): `report` judged
/// again; a verdict stored in it stands in when its thresholds no longer
/// parse, and without one the outcome is unknown.
pub fn run_outcome(report: &RunReport) -> RunOutcome {
    let nothing_measured = nothing_measured(report);
    let (passed, reasons) = match judge_report(report) {
        Ok(v) => (v.passed, v.reasons),
        Err(e) => match &report.verdict {
            Some(v) => (v.passed, v.reasons.clone()),
            None => {
                let why = format!(
                    "its thresholds do not parse with this build ({e}) and it stores no verdict"
                );
                return RunOutcome {
                    state: RunState::Unknown,
                    reasons: vec![why],
                    nothing_measured,
                };
            }
        },
    };
    RunOutcome {
        state: if passed {
            RunState::Passed
        } else {
            RunState::Failed
        },
        reasons,
        nothing_measured,
    }
}

/// Judges a saved or merged report by the thresholds stored in it.
///
/// # Errors
/// A stored threshold that does not parse (a report edited by hand, or
/// written by a build that knew a metric this one does not).
pub fn judge_report(report: &RunReport) -> Result<Verdict, String> {
    let thresholds = report
        .thresholds
        .iter()
        .map(|d| threshold::parse_recorded(&d.threshold, d.abort_on_fail, d.allow_empty))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(judge(&thresholds, report))
}

/// The definitions of `thresholds` as the report stores them.
pub fn definitions(thresholds: &[Threshold]) -> Vec<ThresholdDef> {
    thresholds
        .iter()
        .map(|t| ThresholdDef {
            threshold: t.expr.clone(),
            abort_on_fail: t.abort_on_fail,
            allow_empty: t.allow_empty,
            stopped_run: None,
        })
        .collect()
}

/// Without thresholds: every failing step, the failed iterations and the
/// webhook events that broke the spec's schema (the JUnit file fails their
/// `event schema:` cases in this mode, so the verdict must too).
fn step_reasons(report: &RunReport, reasons: &mut Vec<String>) {
    for s in report.steps.iter().filter(|s| s.errors > 0) {
        reasons.push(format!(
            "step `{}`: {} of {} failed",
            s.name, s.errors, s.count
        ));
    }
    let t = &report.totals;
    if t.iteration_errors > 0 {
        reasons.push(format!(
            "{} of {} iteration(s) failed",
            t.iteration_errors, t.iterations
        ));
    }
    // A webhook event is an answer of the API like a response: one that breaks
    // the spec's schema fails the run as a broken response fails its step.
    if let Some(w) = report
        .webhooks
        .as_ref()
        .filter(|w| w.counts.schema_violations > 0)
    {
        let names: Vec<String> = w
            .schema_violations
            .iter()
            .map(|(name, v)| format!("{name} × {}", v.count))
            .collect();
        reasons.push(format!(
            "{} of {} webhook event(s) broke the spec's schema ({})",
            w.counts.schema_violations,
            w.counts.schema_checked,
            names.join(", ")
        ));
    }
}

/// Evaluates every threshold.
pub fn evaluate(thresholds: &[Threshold], report: &RunReport) -> Vec<ThresholdResult> {
    thresholds.iter().map(|t| evaluate_one(t, report)).collect()
}

/// Load the plan asked for and did not deliver, each a rule that fails the
/// run unless a threshold on its metric says how much is tolerated: cut-off
/// iterations and requests, dropped arrivals, planned iterations that never
/// started. One reason per rule that fails (none on a clean run).
pub fn accounting(thresholds: &[Threshold], report: &RunReport) -> Vec<String> {
    let t = &report.totals;
    let cut_off_iterations = format!(
        "iterations were still running when {}",
        abort_cause(report, |r| r.cut_off_iterations)
    );
    let cut_off_requests = format!(
        "requests were sent and never answered when {}",
        abort_cause(report, |r| r.cut_off_requests)
    );
    let rules = [
        (
            RunMetric::CutOffIterations,
            "cut_off_iterations",
            t.cut_off_iterations,
            cut_off_iterations.as_str(),
        ),
        (
            RunMetric::CutOffRequests,
            "cut_off_requests",
            t.cut_off_requests,
            cut_off_requests.as_str(),
        ),
        (
            RunMetric::DroppedIterations,
            "dropped_iterations",
            t.dropped_iterations,
            "planned arrivals never ran: every virtual user was busy and the backlog was full, or the run ended first",
        ),
        (
            RunMetric::UnstartedIterations,
            "unstarted_iterations",
            t.unstarted_iterations,
            "planned iterations never started: the load ended short of its plan",
        ),
    ];
    rules
        .into_iter()
        .filter(|(metric, _, count, _)| {
            *count > 0
                && !thresholds
                    .iter()
                    .any(|t| t.subject == Subject::Run(*metric))
        })
        .map(|(_, name, count, why)| {
            format!(
                "{name} == 0 is required: {count} {why}; a threshold such as `{name} < {}` \
                 tolerates them",
                count + 1
            )
        })
        .collect()
}

/// Why in-flight work was cut off, as the report tells it: in a merged run, each merged
/// shard or run that cut off some (`cut_off` of it) with its own cause.
fn abort_cause(report: &RunReport, cut_off: fn(&MergedRun) -> u64) -> String {
    let parts: Vec<String> = report
        .meta
        .merged_runs
        .iter()
        .filter(|r| cut_off(r) > 0)
        .map(|r| {
            let why = if r.stopped_by_signal {
                "which a signal stopped"
            } else if r.target_unreachable {
                "which stopped early because its target was unreachable"
            } else if r.interrupted {
                "which stopped early (an abort_on_fail threshold failed)"
            } else {
                "whose graceful_stop ran out at the end of its load"
            };
            format!("{} in {}, {why}", cut_off(r), r.name())
        })
        .collect();
    if parts.is_empty() {
        single_abort_cause(report).to_owned()
    } else {
        format!("the merged runs stopped: {}", parts.join("; "))
    }
}

/// Why in-flight work was cut off in one run (or a merged one that does not say per run).
fn single_abort_cause(report: &RunReport) -> &'static str {
    match report.stop_cause() {
        Some(StopCause::Signal) => {
            "a signal stopped the run (after graceful_stop, or at a second signal)"
        }
        Some(StopCause::Unreachable) => "the run stopped early because the target was unreachable",
        Some(StopCause::AbortOnFail) => "the run stopped early (an abort_on_fail threshold failed)",
        None => "graceful_stop ran out at the end of the load",
    }
}

/// The measured value a threshold compares, or why there is none.
///
/// # Errors
/// "No data", saying what was missing.
pub fn measure(t: &Threshold, report: &RunReport) -> Result<f64, String> {
    let stats = |s: &StatsReport, what: String| match t.stat {
        Some(_) if s.count == 0 => Err(what),
        Some(m) if m.is_latency() && s.timed() == 0 => Err(format!(
            "`{}` has no latency: its request was never sent ({} time(s))",
            s.name, s.untimed
        )),
        // A rate of requests over none sent is no data, as `requests.rate` over zero requests.
        Some(StatMetric::Rps) if s.timed() == 0 => Err(format!(
            "`{}` sent no request: it was never sent ({} time(s))",
            s.name, s.untimed
        )),
        Some(m) => stat_value(s, m).ok_or(what),
        None => Err(what),
    };
    match &t.subject {
        Subject::Step(name) => {
            let never = format!("step `{name}` never ran");
            match report.steps.iter().find(|s| &s.name == name) {
                Some(s) => stats(s, never),
                None => Err(never),
            }
        }
        Subject::Route(route) => {
            let never = format!("route `{route}` was never requested");
            match report
                .routes
                .iter()
                .find(|s| &s.name == route || s.route.as_ref() == Some(route))
            {
                Some(s) => stats(s, never),
                None => Err(never),
            }
        }
        Subject::Iteration => stats(&report.iteration, "no iteration finished".to_owned()),
        Subject::FlowIteration(flow) => {
            let never = format!("no iteration of flow `{flow}` finished");
            match report.flow_iterations.iter().find(|s| &s.name == flow) {
                Some(s) => stats(s, never),
                None => Err(never),
            }
        }
        Subject::Run(m) if m.is_webhook() => {
            let w = report.webhooks.as_ref().ok_or_else(no_webhooks)?;
            webhook_count(*m, w)
        }
        Subject::Run(m) => run_value(*m, report),
        Subject::Lifecycle(m) => {
            let w = report.webhooks.as_ref().ok_or_else(no_webhooks)?;
            lifecycle_value(t.stat, *m, w)
        }
        Subject::Event(name) => {
            let w = report.webhooks.as_ref().ok_or_else(no_webhooks)?;
            event_value(t.stat, name, w)
        }
    }
}

/// A lifecycle service level's `stat`, or "no data" saying why nothing
/// measured it: the events that end it are not subscribed, the run made
/// no chat, or none of its chats got that far.
fn lifecycle_value(
    stat: Option<StatMetric>,
    m: LifecycleMetric,
    w: &WebhookReport,
) -> Result<f64, String> {
    let summary = match m {
        LifecycleMetric::TimeToAssign => &w.lifecycle.time_to_assign,
        LifecycleMetric::TimeInQueue => &w.queue.time_in_queue,
        LifecycleMetric::TimeToFirstAgentReply => &w.lifecycle.time_to_first_agent_reply,
        LifecycleMetric::ChatDuration => &w.lifecycle.chat_duration,
    };
    stat.and_then(|s| latency_value(summary, s))
        .ok_or_else(|| lifecycle_no_data(m, w))
}

/// Why lifecycle level `m` has no sample.
fn lifecycle_no_data(m: LifecycleMetric, w: &WebhookReport) -> String {
    let ends = m.ends_at();
    let subscribed = |e: &str| w.subscribed.iter().any(|s| same_event(s, e));
    if !ends.is_empty() && !ends.iter().any(|e| subscribed(e)) {
        let abandon = if m == LifecycleMetric::TimeInQueue {
            ", or at an abandonment (none happened)"
        } else {
            ""
        };
        return format!(
            "`{}` ends at {}{abandon}, which is not in webhooks.events ({}): the run could not measure it",
            m.name(),
            m.ends_at_text(),
            w.subscribed.join(", ")
        );
    }
    if w.lifecycle.chats == 0 {
        return "the run created no chat".to_owned();
    }
    match m {
        LifecycleMetric::TimeToAssign => "no agent joined a chat of the run: no `chats:join` \
             (or `users:join`) of anyone but the chat's creator arrived"
            .to_owned(),
        LifecycleMetric::TimeToFirstAgentReply => "no agent replied in a chat of the run: no \
             `messages:new` of anyone but the chat's creator arrived"
            .to_owned(),
        LifecycleMetric::TimeInQueue if w.queue.queued == 0 => "no chat of the run entered a \
             queue (none was `inQueue` when created, no `queues:update` gave it a position)"
            .to_owned(),
        LifecycleMetric::TimeInQueue => format!(
            "none of the {} queued chat(s) left the queue: no `invitations:new` or agent \
             `chats:join` arrived for them and none was abandoned",
            w.queue.queued
        ),
        LifecycleMetric::ChatDuration => "no chat of the run was closed by its flow (chats the \
             clean-up closed are not measured)"
            .to_owned(),
    }
}

/// An event's count or delay `stat`, or "no data" when the event never arrived.
fn event_value(stat: Option<StatMetric>, name: &str, w: &WebhookReport) -> Result<f64, String> {
    let missing = || format!("no `{name}` event was received");
    let event = w
        .events
        .iter()
        .find(|e| same_event(&e.event, name))
        .ok_or_else(missing)?;
    match stat {
        Some(StatMetric::Count) if event.count > 0 => Ok(event.count as f64),
        Some(s) => latency_value(&event.delay, s).ok_or_else(missing),
        None => Err(missing()),
    }
}

fn no_webhooks() -> String {
    "the report has no webhook section".to_owned()
}

/// A webhook latency's value; `None` when nothing was measured (so a
/// threshold on it fails with "no data" instead of passing on zeros).
fn latency_value(s: &LatencySummary, m: StatMetric) -> Option<f64> {
    let p = &s.latency;
    match m {
        _ if s.count == 0 => None,
        StatMetric::Count => Some(s.count as f64),
        StatMetric::Quantile { q, .. } => Some(quantile(p, q)),
        StatMetric::Min => Some(p.min_us as f64),
        StatMetric::Max => Some(p.max_us as f64),
        StatMetric::Mean => Some(p.mean_us),
        StatMetric::Errors | StatMetric::ErrorRate | StatMetric::Rps => None,
    }
}

/// A webhook counter, or "no data" when its population is empty:
/// - `received` is what the receiver heard, always measured (0 included);
/// - `missing` is counted among the events the run's own calls expect
///   (`expected`, known without any arrival), so it is measured whenever the
///   run expected one, also when none arrived;
/// - `queue.queued` and `queue.abandoned` count the run's own chats (the
///   create call's `inQueue`, the users who gave up), measured once it made one;
/// - `late` is counted among the events the run's calls caused directly;
/// - the others are counted among deliveries, so they need one: a receiver
///   that heard nothing has not shown that events were in order.
fn webhook_count(m: RunMetric, w: &WebhookReport) -> Result<f64, String> {
    let c = &w.counts;
    let delivered = c.received + c.invalid_signatures + c.malformed + c.unrouted > 0;
    let nothing_arrived = || {
        if c.expected > 0 {
            format!(
                "no webhook event was received (the run expected {})",
                c.expected
            )
        } else {
            "no webhook event was received".to_owned()
        }
    };
    // Reports written before `expected` and `direct` were counted have 0 in
    // both, though the run created chats and subscribed `chats:create` (so it
    // expected at least one event per chat): there, `missing` and `late` are
    // judged as they were then, measured once an event arrived.
    let unrecorded = c.expected == 0
        && w.lifecycle.chats > 0
        && w.subscribed
            .iter()
            .any(|e| same_event(e, crate::api::events::CHATS_CREATE));
    let n = match m {
        RunMetric::EventsReceived => c.received,
        RunMetric::EventsMissing | RunMetric::EventsLate if unrecorded && !delivered => {
            return Err(nothing_arrived());
        }
        RunMetric::EventsMissing if unrecorded => c.missing,
        RunMetric::EventsMissing if c.expected == 0 && c.missing == 0 => {
            return Err(
                "the run expected no webhook event (it created no chat, or subscribes to \
                 none of chats:create, chats:close, messages:new)"
                    .to_owned(),
            );
        }
        RunMetric::EventsMissing => c.missing,
        RunMetric::QueueQueued | RunMetric::QueueAbandoned
            if w.lifecycle.chats == 0 && !delivered =>
        {
            return Err("the run created no chat".to_owned());
        }
        RunMetric::QueueQueued => w.queue.queued,
        RunMetric::QueueAbandoned => w.queue.abandoned,
        _ if !delivered => return Err(nothing_arrived()),
        RunMetric::EventsLate if c.direct == 0 && c.late == 0 && !unrecorded => {
            return Err(
                "no event caused directly by a call of the run arrived (`late` is \
                 counted among those)"
                    .to_owned(),
            );
        }
        RunMetric::EventsSchemaViolations if c.schema_checked == 0 => {
            return Err("no webhook event was checked against the spec's schemas".to_owned());
        }
        // Zero forged signatures among none checked proves nothing, as zero
        // schema violations among no event checked.
        RunMetric::EventsInvalidSignatures if !w.verify => {
            return Err("signatures were not verified (webhooks.verify: false)".to_owned());
        }
        RunMetric::EventsDuplicate => c.duplicate,
        RunMetric::EventsLate => c.late,
        RunMetric::EventsOutOfOrder => c.out_of_order,
        RunMetric::EventsInvalidSignatures => c.invalid_signatures,
        RunMetric::EventsMalformed => c.malformed,
        RunMetric::EventsUnrouted => c.unrouted,
        RunMetric::EventsSchemaViolations => c.schema_violations,
        _ => 0,
    };
    Ok(n as f64)
}

fn evaluate_one(t: &Threshold, report: &RunReport) -> ThresholdResult {
    let measured = measure(t, report);
    // One that stopped the run fails it, whatever the drain did to its figure.
    if let Some(result) = stopped::stopped_run(t, report, &measured) {
        return result;
    }
    if report.meta.shard.is_some()
        && let Some(result) = shard::on_shard(t, &measured)
    {
        return result;
    }
    let (status, message) = match &measured {
        Ok(a) => {
            let status = if t.op.holds(*a, t.limit) {
                ThresholdStatus::Pass
            } else {
                ThresholdStatus::Fail
            };
            let (measured, required) = show_pair(*a, t.limit, t.unit);
            let mut message = format!("measured {measured}, required {} {required}", t.op.as_str());
            if let Some(note) = sampled_note(t, report) {
                message.push_str(&format!("; {note}"));
            }
            (status, message)
        }
        Err(why) if t.allow_empty => (
            ThresholdStatus::NoData,
            format!("no data: {why} (allowed by allow_empty)"),
        ),
        Err(why) => (ThresholdStatus::NoData, format!("no data: {why}")),
    };
    ThresholdResult {
        threshold: t.expr.clone(),
        status,
        passed: status == ThresholdStatus::Pass
            || (status == ThresholdStatus::NoData && t.allow_empty),
        actual: measured.ok(),
        message,
    }
}

/// On `schema_violations` under `--schema sample=R`: how many responses the
/// sampling checked, so a pass says it was earned on a sample.
fn sampled_note(t: &Threshold, report: &RunReport) -> Option<String> {
    if t.subject != Subject::Run(RunMetric::SchemaViolations) {
        return None;
    }
    let schema = report.schema.as_ref()?;
    let received: u64 = report
        .routes
        .iter()
        .map(|r| r.statuses.values().sum::<u64>())
        .sum();
    schema.sampled_note(schema.checked?, received)
}

/// The measured value and the limit, each as [`show`] writes it, unless that
/// rounds two different values to one text ("measured 24.3 ms, required <
/// 24.3 ms" under FAIL): then with as many more digits as tell them apart,
/// in µs for latencies, and at worst every digit the values have.
pub(super) fn show_pair(measured: f64, limit: f64, unit: Unit) -> (String, String) {
    let (a, b) = (show(measured, unit), show(limit, unit));
    if a != b || measured == limit {
        return (a, b);
    }
    let precise = |value: f64, decimals: usize| match unit {
        Unit::Micros => format!("{value:.decimals$} µs"),
        Unit::Ratio => format!("{:.*}%", decimals + 3, value * 100.0),
        Unit::Plain => format!("{:.*}", decimals + 2, value),
    };
    for decimals in 0..=6 {
        let (a, b) = (precise(measured, decimals), precise(limit, decimals));
        if a != b {
            return (a, b);
        }
    }
    let exact = |value: f64| match unit {
        Unit::Micros => format!("{value} µs"),
        Unit::Ratio => format!("{}%", value * 100.0),
        Unit::Plain => format!("{value}"),
    };
    (exact(measured), exact(limit))
}

fn show(value: f64, unit: Unit) -> String {
    match unit {
        Unit::Micros => format_us(value.round().max(0.0) as u64),
        Unit::Ratio => format!("{:.3}%", value * 100.0),
        Unit::Plain if value.fract() == 0.0 => format!("{value:.0}"),
        Unit::Plain => format!("{value:.2}"),
    }
}

fn quantile(p: &Percentiles, q: f64) -> f64 {
    let v = match q {
        x if x <= 0.5 => p.p50_us,
        x if x <= 0.9 => p.p90_us,
        x if x <= 0.95 => p.p95_us,
        x if x <= 0.99 => p.p99_us,
        x if x <= 0.999 => p.p99_9_us,
        _ => p.p99_99_us,
    };
    v as f64
}

/// A step's, route's or the iteration's value (called with `count > 0` only).
fn stat_value(s: &StatsReport, m: StatMetric) -> Option<f64> {
    Some(match m {
        StatMetric::Quantile { q, corrected } => {
            quantile(if corrected { &s.corrected } else { &s.latency }, q)
        }
        StatMetric::Min => s.latency.min_us as f64,
        StatMetric::Max => s.latency.max_us as f64,
        StatMetric::Mean => s.latency.mean_us,
        StatMetric::Count => s.count as f64,
        StatMetric::Errors => s.errors as f64,
        StatMetric::ErrorRate => s.error_rate,
        StatMetric::Rps => s.rps,
    })
}

/// Schema violations recorded in the report.
pub fn schema_violations(report: &RunReport) -> u64 {
    report.schema.as_ref().map_or(0, |s| s.violations)
}

/// Schema violations, or no data when the run checked no response at all
/// ([`SchemaReport::not_checked`]): zero violations among no checks is not
/// evidence that the responses matched.
fn checked_schema_violations(r: &RunReport) -> Result<f64, String> {
    match r.schema.as_ref().and_then(SchemaReport::not_checked) {
        Some(why) => Err(why),
        None => Ok(schema_violations(r) as f64),
    }
}

/// A whole-run figure; ratios over an empty population (and failure counts
/// of it) are no data, never 0 or 100%.
fn run_value(m: RunMetric, r: &RunReport) -> Result<f64, String> {
    let steps: u64 = r.steps.iter().map(|s| s.count).sum();
    let failed: u64 = r.steps.iter().map(|s| s.errors).sum();
    let t = &r.totals;
    let none = |why: &str| Err(why.to_owned());
    // Requests cut off unanswered were sent: say so, not that none was.
    let no_request = if t.cut_off_requests > 0 {
        "no request was answered"
    } else {
        "no request was sent"
    };
    match m {
        RunMetric::ErrorRate | RunMetric::ErrorCount if t.requests == 0 => none(no_request),
        RunMetric::ErrorRate => Ok(t.error_rate),
        RunMetric::ErrorCount => Ok(t.errors as f64),
        RunMetric::RequestCount => Ok(t.requests as f64),
        RunMetric::RequestRate if t.requests == 0 => none(no_request),
        RunMetric::RequestRate => Ok(t.requests_per_sec),
        RunMetric::IterationCount => Ok(t.iterations as f64),
        RunMetric::IterationErrorRate if t.iterations == 0 => none("no iteration finished"),
        RunMetric::IterationErrorRate => Ok(t.iteration_errors as f64 / t.iterations as f64),
        RunMetric::DroppedIterations => Ok(t.dropped_iterations as f64),
        RunMetric::CutOffIterations => Ok(t.cut_off_iterations as f64),
        RunMetric::CutOffRequests => Ok(t.cut_off_requests as f64),
        RunMetric::UnstartedIterations => Ok(t.unstarted_iterations as f64),
        RunMetric::SchemaViolations => checked_schema_violations(r),
        RunMetric::CheckRate | RunMetric::ChecksFailed if steps == 0 => none("no step ran"),
        RunMetric::CheckRate => Ok(1.0 - failed as f64 / steps as f64),
        RunMetric::ChecksFailed => Ok(failed as f64),
        RunMetric::ThrottledRate | RunMetric::ThrottledCount if t.requests == 0 => none(no_request),
        RunMetric::ThrottledRate | RunMetric::ThrottledCount => match &r.throttle {
            None => {
                none("the report has no throttle section (written before throttling was counted)")
            }
            Some(th) if m == RunMetric::ThrottledRate => Ok(th.rate),
            Some(th) => Ok(th.throttled as f64),
        },
        // Webhook counters are read from the webhooks section (`measure`).
        _ => none("not a whole-run figure"),
    }
}

/// Live whole-run figures, for `abort_on_fail` while the run goes on.
#[derive(Debug, Clone, Copy, Default)]
pub struct LiveFigures {
    pub requests: u64,
    pub errors: u64,
    pub dropped: u64,
    pub schema_violations: u64,
    pub throttled: u64,
}

/// The first `abort_on_fail` threshold that already fails, if any: its index
/// in `thresholds` and the value it failed on.
pub fn live_failure(thresholds: &[Threshold], live: &LiveFigures) -> Option<(usize, f64)> {
    thresholds.iter().enumerate().find_map(|(index, t)| {
        if !t.abort_on_fail {
            return None;
        }
        let value = match t.subject {
            Subject::Run(RunMetric::ErrorRate) if live.requests == 0 => return None,
            Subject::Run(RunMetric::ErrorRate) => live.errors as f64 / live.requests as f64,
            Subject::Run(RunMetric::ErrorCount) => live.errors as f64,
            Subject::Run(RunMetric::DroppedIterations) => live.dropped as f64,
            Subject::Run(RunMetric::SchemaViolations) => live.schema_violations as f64,
            Subject::Run(RunMetric::ThrottledRate) if live.requests == 0 => return None,
            Subject::Run(RunMetric::ThrottledRate) => live.throttled as f64 / live.requests as f64,
            Subject::Run(RunMetric::ThrottledCount) => live.throttled as f64,
            _ => return None,
        };
        (!t.op.holds(value, t.limit)).then_some((index, value))
    })
}

mod shard;
mod stopped;

#[cfg(test)]
mod tests;
