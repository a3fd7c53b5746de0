//! The verdict of a run: thresholds evaluated against the report, and the
//! rule that turns them into an exit code.
//!
//! Works on a [`RunReport`], so a merged report from several shards is
//! judged exactly like a single run.

use crate::report::webhooks::{LatencySummary, WebhookReport};
use crate::report::{Percentiles, RunReport, StatsReport, ThresholdResult};
use crate::scenario::threshold::{
    LifecycleMetric, RunMetric, StatMetric, Subject, Threshold, Unit,
};
use crate::scenario::webhooks::same_event;

/// Evaluates every threshold, then the accounting rules (see [`accounting`]).
pub fn evaluate(thresholds: &[Threshold], report: &RunReport) -> Vec<ThresholdResult> {
    let mut results: Vec<ThresholdResult> =
        thresholds.iter().map(|t| evaluate_one(t, report)).collect();
    results.extend(accounting(thresholds, report));
    results
}

/// Load the plan asked for and did not deliver, each a rule that fails the
/// run unless a threshold on its metric says how much is tolerated: cut-off
/// iterations and requests, dropped arrivals, planned iterations that never
/// started. One result per rule that applies (none on a clean run).
pub fn accounting(thresholds: &[Threshold], report: &RunReport) -> Vec<ThresholdResult> {
    let t = &report.totals;
    let rules = [
        (
            RunMetric::CutOffIterations,
            "cut_off_iterations",
            t.cut_off_iterations,
            "iterations were still running when the run was aborted (graceful_stop over, or a second interrupt)",
        ),
        (
            RunMetric::CutOffRequests,
            "cut_off_requests",
            t.cut_off_requests,
            "requests were sent and never answered before the run was aborted",
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
        .map(|(_, name, count, why)| ThresholdResult {
            threshold: format!("{name} == 0"),
            passed: false,
            actual: Some(count as f64),
            message: format!(
                "{count} {why}; a threshold such as `{name} < {}` tolerates them",
                count + 1
            ),
        })
        .collect()
}

/// The measured value a threshold compares, if the report has it.
pub fn measure(t: &Threshold, report: &RunReport) -> Option<f64> {
    let stats = |s: &StatsReport| t.stat.map(|m| stat_value(s, m));
    match &t.subject {
        Subject::Step(name) => report
            .steps
            .iter()
            .find(|s| &s.name == name)
            .and_then(stats),
        Subject::Route(route) => report
            .routes
            .iter()
            .find(|s| &s.name == route || s.route.as_ref() == Some(route))
            .and_then(stats),
        Subject::Iteration => stats(&report.iteration),
        Subject::Run(m) if m.is_webhook() => report.webhooks.as_ref().map(|w| webhook_count(*m, w)),
        Subject::Run(m) => Some(run_value(*m, report)),
        Subject::Lifecycle(m) => {
            let w = report.webhooks.as_ref()?;
            let summary = match m {
                LifecycleMetric::TimeToAssign => &w.lifecycle.time_to_assign,
                LifecycleMetric::TimeInQueue => &w.queue.time_in_queue,
                LifecycleMetric::TimeToFirstAgentReply => &w.lifecycle.time_to_first_agent_reply,
                LifecycleMetric::ChatDuration => &w.lifecycle.chat_duration,
            };
            t.stat.and_then(|s| latency_value(summary, s))
        }
        Subject::Event(name) => {
            let w = report.webhooks.as_ref()?;
            let event = w.events.iter().find(|e| same_event(&e.event, name))?;
            match t.stat? {
                StatMetric::Count => Some(event.count as f64),
                s => latency_value(&event.delay, s),
            }
        }
    }
}

/// A webhook latency's value; `None` when nothing was measured (so a
/// threshold on it fails with "no data" instead of passing on zeros).
fn latency_value(s: &LatencySummary, m: StatMetric) -> Option<f64> {
    let p = &s.latency;
    match m {
        StatMetric::Count => Some(s.count as f64),
        _ if s.count == 0 => None,
        StatMetric::Quantile { q, .. } => Some(quantile(p, q)),
        StatMetric::Min => Some(p.min_us as f64),
        StatMetric::Max => Some(p.max_us as f64),
        StatMetric::Mean => Some(p.mean_us),
        StatMetric::Errors | StatMetric::ErrorRate | StatMetric::Rps => None,
    }
}

fn webhook_count(m: RunMetric, w: &WebhookReport) -> f64 {
    let c = &w.counts;
    let n = match m {
        RunMetric::EventsReceived => c.received,
        RunMetric::EventsMissing => c.missing,
        RunMetric::EventsDuplicate => c.duplicate,
        RunMetric::EventsLate => c.late,
        RunMetric::EventsOutOfOrder => c.out_of_order,
        RunMetric::EventsInvalidSignatures => c.invalid_signatures,
        RunMetric::EventsMalformed => c.malformed,
        RunMetric::EventsUnrouted => c.unrouted,
        RunMetric::QueueQueued => w.queue.queued,
        RunMetric::QueueAbandoned => w.queue.abandoned,
        _ => 0,
    };
    n as f64
}

fn evaluate_one(t: &Threshold, report: &RunReport) -> ThresholdResult {
    let actual = measure(t, report);
    let passed = actual.is_some_and(|a| t.op.holds(a, t.limit));
    let message = match actual {
        Some(a) => format!(
            "measured {}, required {} {}",
            show(a, t.unit),
            t.op.as_str(),
            show(t.limit, t.unit)
        ),
        None if t.subject.needs_webhooks() => "no data: no webhook event measured this".to_owned(),
        None => "no data: the step or route never ran".to_owned(),
    };
    ThresholdResult {
        threshold: t.expr.clone(),
        passed,
        actual,
        message,
    }
}

fn show(value: f64, unit: Unit) -> String {
    match unit {
        Unit::Micros => crate::report::terminal::format_us(value.round().max(0.0) as u64),
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

fn stat_value(s: &StatsReport, m: StatMetric) -> f64 {
    match m {
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
    }
}

/// Schema violations recorded in the report's `extra.schema` section.
pub fn schema_violations(report: &RunReport) -> u64 {
    report
        .extra
        .get("schema")
        .and_then(|s| s.get("violations"))
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(0)
}

fn run_value(m: RunMetric, r: &RunReport) -> f64 {
    let steps: u64 = r.steps.iter().map(|s| s.count).sum();
    let failed: u64 = r.steps.iter().map(|s| s.errors).sum();
    match m {
        RunMetric::ErrorRate => r.totals.error_rate,
        RunMetric::ErrorCount => r.totals.errors as f64,
        RunMetric::RequestCount => r.totals.requests as f64,
        RunMetric::RequestRate => r.totals.requests_per_sec,
        RunMetric::IterationCount => r.totals.iterations as f64,
        RunMetric::IterationErrorRate if r.totals.iterations == 0 => 0.0,
        RunMetric::IterationErrorRate => {
            r.totals.iteration_errors as f64 / r.totals.iterations as f64
        }
        RunMetric::DroppedIterations => r.totals.dropped_iterations as f64,
        RunMetric::CutOffIterations => r.totals.cut_off_iterations as f64,
        RunMetric::CutOffRequests => r.totals.cut_off_requests as f64,
        RunMetric::UnstartedIterations => r.totals.unstarted_iterations as f64,
        RunMetric::SchemaViolations => schema_violations(r) as f64,
        RunMetric::CheckRate if steps == 0 => 1.0,
        RunMetric::CheckRate => 1.0 - failed as f64 / steps as f64,
        RunMetric::ChecksFailed => failed as f64,
        // Webhook counters are read from the webhooks section (`measure`).
        _ => 0.0,
    }
}

/// Live whole-run figures, for `abort_on_fail` while the run goes on.
#[derive(Debug, Clone, Copy, Default)]
pub struct LiveFigures {
    pub requests: u64,
    pub errors: u64,
    pub dropped: u64,
    pub schema_violations: u64,
}

/// The first `abort_on_fail` threshold that already fails, if any.
pub fn live_failure<'a>(thresholds: &'a [Threshold], live: &LiveFigures) -> Option<&'a Threshold> {
    thresholds.iter().filter(|t| t.abort_on_fail).find(|t| {
        let value = match t.subject {
            Subject::Run(RunMetric::ErrorRate) if live.requests == 0 => return false,
            Subject::Run(RunMetric::ErrorRate) => live.errors as f64 / live.requests as f64,
            Subject::Run(RunMetric::ErrorCount) => live.errors as f64,
            Subject::Run(RunMetric::DroppedIterations) => live.dropped as f64,
            Subject::Run(RunMetric::SchemaViolations) => live.schema_violations as f64,
            _ => return false,
        };
        !t.op.holds(value, t.limit)
    })
}

/// Whether the run passed: every result of [`evaluate`] (thresholds and
/// accounting rules) passed and, without thresholds, every step passed too.
pub fn passed(report: &RunReport, results: &[ThresholdResult], has_thresholds: bool) -> bool {
    results.iter().all(|r| r.passed)
        && (has_thresholds
            || (report.steps.iter().all(|s| s.errors == 0) && report.totals.iteration_errors == 0))
}
