//! Thresholds: service levels a run must meet, such as
//! `create_chat.p99 < 300ms`, `iteration.p95 < 2s`, `errors.rate < 1%`,
//! `schema_violations == 0`.
//!
//! Parsed and checked against the scenario's step names when the scenario is
//! validated, so an unknown metric is an error before anything runs, never a
//! silent pass. Evaluation against a report lives in `verdict`.

use std::fmt;

/// What a threshold measures.
#[derive(Debug, Clone, PartialEq)]
pub enum Subject {
    /// A step by name.
    Step(String),
    /// A route (`"POST /chats"`).
    Route(String),
    /// The whole iteration (lifecycle).
    Iteration,
    /// The iterations of one flow (`iteration[chat]`).
    FlowIteration(String),
    /// Whole-run figures.
    Run(RunMetric),
    /// A chat lifecycle service level measured from webhook events.
    Lifecycle(LifecycleMetric),
    /// One webhook event's delay from its cause (`event(chats:join)`).
    Event(String),
}

impl Subject {
    /// Whether the metric is measured from webhook events (needs `webhooks:`).
    pub fn needs_webhooks(&self) -> bool {
        matches!(self, Subject::Lifecycle(_) | Subject::Event(_))
            || matches!(self, Subject::Run(m) if m.is_webhook())
    }
}

/// The chat lifecycle's service levels (docs/webhooks.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LifecycleMetric {
    TimeToAssign,
    TimeInQueue,
    TimeToFirstAgentReply,
    ChatDuration,
}

impl LifecycleMetric {
    /// Every lifecycle metric with its name in thresholds and reports.
    pub const ALL: [(LifecycleMetric, &'static str); 4] = [
        (LifecycleMetric::TimeToAssign, "time_to_assign"),
        (LifecycleMetric::TimeInQueue, "time_in_queue"),
        (
            LifecycleMetric::TimeToFirstAgentReply,
            "time_to_first_agent_reply",
        ),
        (LifecycleMetric::ChatDuration, "chat_duration"),
    ];
}

/// Whole-run metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunMetric {
    ErrorRate,
    ErrorCount,
    RequestCount,
    RequestRate,
    IterationCount,
    IterationErrorRate,
    DroppedIterations,
    CutOffIterations,
    CutOffRequests,
    UnstartedIterations,
    SchemaViolations,
    CheckRate,
    ChecksFailed,
    EventsReceived,
    EventsMissing,
    EventsDuplicate,
    EventsLate,
    EventsOutOfOrder,
    EventsInvalidSignatures,
    EventsMalformed,
    EventsUnrouted,
    EventsSchemaViolations,
    QueueQueued,
    QueueAbandoned,
    /// Throttled responses / requests (`throttled.rate`).
    ThrottledRate,
    /// Throttled responses (`throttled.count`).
    ThrottledCount,
}

impl RunMetric {
    /// Counted from webhook events (needs `webhooks:`).
    pub fn is_webhook(self) -> bool {
        matches!(
            self,
            RunMetric::EventsReceived
                | RunMetric::EventsMissing
                | RunMetric::EventsDuplicate
                | RunMetric::EventsLate
                | RunMetric::EventsOutOfOrder
                | RunMetric::EventsInvalidSignatures
                | RunMetric::EventsMalformed
                | RunMetric::EventsUnrouted
                | RunMetric::EventsSchemaViolations
                | RunMetric::QueueQueued
                | RunMetric::QueueAbandoned
        )
    }
}

/// Per-step, per-route and per-iteration metrics.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StatMetric {
    /// A latency quantile (0..=1), raw or corrected.
    Quantile {
        q: f64,
        corrected: bool,
    },
    Min,
    Max,
    Mean,
    Count,
    Errors,
    ErrorRate,
    Rps,
}

/// A comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl Op {
    /// Whether `actual OP limit` holds.
    pub fn holds(self, actual: f64, limit: f64) -> bool {
        match self {
            Op::Lt => actual < limit,
            Op::Le => actual <= limit,
            Op::Gt => actual > limit,
            Op::Ge => actual >= limit,
            Op::Eq => (actual - limit).abs() < 1e-9,
            Op::Ne => (actual - limit).abs() >= 1e-9,
        }
    }

    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Eq => "==",
            Op::Ne => "!=",
        }
    }
}

/// The unit a value is compared in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Latencies, compared in microseconds.
    Micros,
    /// Fractions (rates), written as `1%` or `0.01`.
    Ratio,
    /// Counts and requests per second.
    Plain,
}

/// One parsed threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    /// The text as written (for reports and JUnit).
    pub expr: String,
    pub subject: Subject,
    pub stat: Option<StatMetric>,
    pub op: Op,
    /// The limit in the metric's unit (µs for latencies, a fraction for rates).
    pub limit: f64,
    pub unit: Unit,
    /// Stop the run as soon as this fails (whole-run counters only).
    pub abort_on_fail: bool,
    /// Pass (rather than fail) when the metric has no data.
    pub allow_empty: bool,
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.expr)
    }
}

const OPS: [(&str, Op); 6] = [
    ("<=", Op::Le),
    (">=", Op::Ge),
    ("==", Op::Eq),
    ("!=", Op::Ne),
    ("<", Op::Lt),
    (">", Op::Gt),
];

/// Every metric name, for messages.
pub const METRIC_HELP: &str = "expected STEP.METRIC, iteration.METRIC, iteration[FLOW].METRIC or route(METHOD /path).METRIC with METRIC one of \
p50, p90, p95, p99, p99.9, p99.99 (add _corrected for coordinated-omission corrected), min, max, mean, count, errors, \
error_rate, rps; or errors.rate, errors.count, requests.count, requests.rate, iterations.count, iterations.error_rate, \
dropped_iterations, cut_off_iterations, cut_off_requests, unstarted_iterations, schema_violations, checks.rate, checks.failed, throttled.rate, throttled.count; with webhooks: time_to_assign.METRIC, time_in_queue.METRIC, \
time_to_first_agent_reply.METRIC, chat_duration.METRIC, event(NAME).METRIC, events.received, events.missing, events.duplicate, \
events.late, events.out_of_order, events.invalid_signatures, events.malformed, events.unrouted, events.schema_violations, queue.queued, queue.abandoned";

/// Parses `SUBJECT.METRIC OP VALUE`; `steps` are the scenario's step names.
///
/// # Errors
/// Unknown metrics, steps or operators, or a value in the wrong unit, with what was expected.
pub fn parse(expr: &str, steps: &[&str], abort_on_fail: bool) -> Result<Threshold, String> {
    parse_with(expr, Some(steps), abort_on_fail)
}

/// Parses a threshold stored in a report (`merge`, `report`): any name is a
/// step, since the scenario that checked it is not at hand.
///
/// # Errors
/// An expression that does not parse.
pub fn parse_recorded(
    expr: &str,
    abort_on_fail: bool,
    allow_empty: bool,
) -> Result<Threshold, String> {
    let mut t = parse_with(expr, None, false)?;
    t.abort_on_fail = abort_on_fail;
    t.allow_empty = allow_empty;
    Ok(t)
}

fn parse_with(
    expr: &str,
    steps: Option<&[&str]>,
    abort_on_fail: bool,
) -> Result<Threshold, String> {
    let text = expr.trim();
    let (lhs, op, rhs) = OPS
        .iter()
        .find_map(|(sym, op)| text.split_once(sym).map(|(l, r)| (l.trim(), *op, r.trim())))
        .ok_or_else(|| format!("`{text}`: expected a comparison such as `create_chat.p99 < 300ms` (operators < <= > >= == !=)"))?;
    let (subject, stat, unit) = parse_metric(lhs, steps)?;
    let limit = parse_value(rhs, unit).map_err(|e| format!("`{text}`: {e}"))?;
    if abort_on_fail && !matches!(subject, Subject::Run(_)) {
        return Err(format!(
            "`{text}`: abort_on_fail works on whole-run metrics (errors.rate, schema_violations, ...), which are known while the run goes on"
        ));
    }
    Ok(Threshold {
        expr: text.to_owned(),
        subject,
        stat,
        op,
        limit,
        unit,
        abort_on_fail,
        allow_empty: false,
    })
}

fn parse_metric(
    lhs: &str,
    steps: Option<&[&str]>,
) -> Result<(Subject, Option<StatMetric>, Unit), String> {
    let run = |m| {
        Ok((
            Subject::Run(m),
            None,
            if matches!(
                m,
                RunMetric::ErrorRate
                    | RunMetric::IterationErrorRate
                    | RunMetric::CheckRate
                    | RunMetric::ThrottledRate
            ) {
                Unit::Ratio
            } else {
                Unit::Plain
            },
        ))
    };
    match lhs {
        "errors.rate" => return run(RunMetric::ErrorRate),
        "errors.count" | "errors" => return run(RunMetric::ErrorCount),
        "requests.count" | "requests" => return run(RunMetric::RequestCount),
        "requests.rate" => return run(RunMetric::RequestRate),
        "iterations.count" | "iterations" => return run(RunMetric::IterationCount),
        "iterations.error_rate" => return run(RunMetric::IterationErrorRate),
        "dropped_iterations" => return run(RunMetric::DroppedIterations),
        "cut_off_iterations" => return run(RunMetric::CutOffIterations),
        "cut_off_requests" => return run(RunMetric::CutOffRequests),
        "unstarted_iterations" => return run(RunMetric::UnstartedIterations),
        "schema_violations" => return run(RunMetric::SchemaViolations),
        "checks.rate" => return run(RunMetric::CheckRate),
        "checks.failed" => return run(RunMetric::ChecksFailed),
        "throttled.rate" => return run(RunMetric::ThrottledRate),
        "throttled.count" | "throttled" => return run(RunMetric::ThrottledCount),
        "events.received" => return run(RunMetric::EventsReceived),
        "events.missing" => return run(RunMetric::EventsMissing),
        "events.duplicate" => return run(RunMetric::EventsDuplicate),
        "events.late" => return run(RunMetric::EventsLate),
        "events.out_of_order" => return run(RunMetric::EventsOutOfOrder),
        "events.invalid_signatures" => return run(RunMetric::EventsInvalidSignatures),
        "events.malformed" => return run(RunMetric::EventsMalformed),
        "events.unrouted" => return run(RunMetric::EventsUnrouted),
        "events.schema_violations" => return run(RunMetric::EventsSchemaViolations),
        "queue.queued" => return run(RunMetric::QueueQueued),
        "queue.abandoned" => return run(RunMetric::QueueAbandoned),
        _ => {}
    }
    if let Some(found) = webhook_latency(lhs)? {
        return Ok(found);
    }
    let (subject, metric) = if let Some(rest) = lhs.strip_prefix("route(") {
        let (route, metric) = rest
            .split_once(").")
            .ok_or_else(|| format!("unknown metric `{lhs}`: {METRIC_HELP}"))?;
        (Subject::Route(route.trim().to_owned()), metric)
    } else if let Some(rest) = lhs.strip_prefix("iteration[") {
        // The flow is checked against the scenario's flows where they are known.
        let (flow, metric) = rest
            .split_once("].")
            .ok_or_else(|| format!("unknown metric `{lhs}`: {METRIC_HELP}"))?;
        let flow = flow.trim();
        if flow.is_empty() {
            return Err(format!(
                "`{lhs}` names no flow: write iteration[FLOW].METRIC with a flow's name"
            ));
        }
        (Subject::FlowIteration(flow.to_owned()), metric)
    } else {
        // Step names may contain dots: the metric is what follows the last one that
        // parses as a metric ("p99.9" itself contains a dot).
        let split = lhs
            .char_indices()
            .filter(|(_, c)| *c == '.')
            .map(|(i, _)| (&lhs[..i], &lhs[i + 1..]))
            .find(|(_, m)| parse_stat(m).is_some())
            .ok_or_else(|| format!("unknown metric `{lhs}`: {METRIC_HELP}"))?;
        let subject = match split.0 {
            "iteration" => Subject::Iteration,
            name if steps.is_none_or(|s| s.contains(&name)) => Subject::Step(name.to_owned()),
            name => {
                return Err(format!(
                    "unknown step `{name}` in `{lhs}`: steps are {}",
                    steps.unwrap_or_default().join(", ")
                ));
            }
        };
        (subject, split.1)
    };
    let stat =
        parse_stat(metric).ok_or_else(|| format!("unknown metric `{lhs}`: {METRIC_HELP}"))?;
    let unit = match stat {
        StatMetric::Count | StatMetric::Errors | StatMetric::Rps => Unit::Plain,
        StatMetric::ErrorRate => Unit::Ratio,
        _ => Unit::Micros,
    };
    Ok((subject, Some(stat), unit))
}

/// `time_to_assign.p95`, `event(chats:join).p99`: latencies measured from
/// webhook events, which have no errors or rates (nor a corrected variant).
fn webhook_latency(lhs: &str) -> Result<Option<(Subject, Option<StatMetric>, Unit)>, String> {
    let (subject, metric) = if let Some(rest) = lhs.strip_prefix("event(") {
        let (event, metric) = rest
            .split_once(").")
            .ok_or_else(|| format!("unknown metric `{lhs}`: {METRIC_HELP}"))?;
        (Subject::Event(event.trim().to_owned()), metric)
    } else {
        let Some((subject, metric)) = LifecycleMetric::ALL.iter().find_map(|(m, name)| {
            lhs.strip_prefix(name)
                .and_then(|r| r.strip_prefix('.'))
                .map(|metric| (Subject::Lifecycle(*m), metric))
        }) else {
            return Ok(None);
        };
        (subject, metric)
    };
    let stat = match parse_stat(metric) {
        Some(StatMetric::Quantile {
            corrected: true, ..
        })
        | Some(StatMetric::Errors | StatMetric::ErrorRate | StatMetric::Rps)
        | None => {
            return Err(format!(
                "unknown metric `{lhs}`: webhook latencies take p50, p90, p95, p99, p99.9, p99.99, min, max, mean or count"
            ));
        }
        Some(stat) => stat,
    };
    let unit = if stat == StatMetric::Count {
        Unit::Plain
    } else {
        Unit::Micros
    };
    Ok(Some((subject, Some(stat), unit)))
}

fn parse_stat(name: &str) -> Option<StatMetric> {
    let (base, corrected) = match name.strip_suffix("_corrected") {
        Some(b) => (b, true),
        None => (name, false),
    };
    let q = match base {
        "p50" | "median" => 0.5,
        "p90" => 0.9,
        "p95" => 0.95,
        "p99" => 0.99,
        "p99.9" => 0.999,
        "p99.99" => 0.9999,
        _ if corrected => return None,
        "min" => return Some(StatMetric::Min),
        "max" => return Some(StatMetric::Max),
        "mean" | "avg" => return Some(StatMetric::Mean),
        "count" => return Some(StatMetric::Count),
        "errors" => return Some(StatMetric::Errors),
        "error_rate" => return Some(StatMetric::ErrorRate),
        "rps" => return Some(StatMetric::Rps),
        _ => return None,
    };
    Some(StatMetric::Quantile { q, corrected })
}

fn parse_value(text: &str, unit: Unit) -> Result<f64, String> {
    let number_end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+'))
        .unwrap_or(text.len());
    let (num, suffix) = text.split_at(number_end);
    let value: f64 = num
        .parse()
        .map_err(|_| format!("`{text}` is not a number"))?;
    let suffix = suffix.trim();
    if !value.is_finite() || value < 0.0 {
        return Err(match unit {
            Unit::Micros => format!("a latency cannot be negative: `{text}`"),
            Unit::Ratio => format!("a rate is from 0% to 100%, not `{text}`"),
            Unit::Plain => format!("a count or rate cannot be negative: `{text}`"),
        });
    }
    match (unit, suffix) {
        (Unit::Micros, "us" | "µs") => Ok(value),
        (Unit::Micros, "ms") => Ok(value * 1e3),
        (Unit::Micros, "s") => Ok(value * 1e6),
        (Unit::Micros, "m" | "min") => Ok(value * 60e6),
        (Unit::Micros, _) => Err(format!(
            "a latency needs a unit: `{text}` should be like 300ms, 2s, 500us"
        )),
        (Unit::Ratio, "%") if value <= 100.0 => Ok(value / 100.0),
        (Unit::Ratio, "%") => Err(format!("a rate is from 0% to 100%, not `{text}`")),
        (Unit::Ratio, "") if (0.0..=1.0).contains(&value) => Ok(value),
        (Unit::Ratio, _) => Err(format!(
            "a rate is a percentage (1%) or a fraction (0.01), not `{text}`"
        )),
        (Unit::Plain, "") => Ok(value),
        (Unit::Plain, _) => Err(format!("a count takes no unit, not `{text}`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STEPS: &[&str] = &["create_chat", "wait.active"];

    #[test]
    fn rates_outside_0_to_100_percent_and_negative_bounds_are_refused() {
        let err = |e: &str| parse(e, STEPS, false).unwrap_err();
        assert_eq!(
            err("errors.rate < 150%"),
            "`errors.rate < 150%`: a rate is from 0% to 100%, not `150%`"
        );
        assert!(err("errors.rate < 1.5").contains("a rate is a percentage"));
        assert!(err("create_chat.error_rate < -1%").contains("from 0% to 100%"));
        assert_eq!(
            err("create_chat.p99 < -5ms"),
            "`create_chat.p99 < -5ms`: a latency cannot be negative: `-5ms`"
        );
        assert!(err("errors.count < -1").contains("cannot be negative"));
        assert!(parse("errors.rate <= 100%", STEPS, false).is_ok());
    }

    #[test]
    fn parses_steps_routes_iteration_and_run_metrics() {
        let quantile = |q, corrected| Some(StatMetric::Quantile { q, corrected });
        for (text, subject, stat, limit) in [
            (
                "create_chat.p99 < 300ms",
                Subject::Step("create_chat".into()),
                quantile(0.99, false),
                300_000.0,
            ),
            (
                "iteration.p95_corrected <= 2s",
                Subject::Iteration,
                quantile(0.95, true),
                2_000_000.0,
            ),
            (
                "iteration[chat].p95 < 500ms",
                Subject::FlowIteration("chat".into()),
                quantile(0.95, false),
                500_000.0,
            ),
            (
                "route(POST /chats).p99.9 < 1s",
                Subject::Route("POST /chats".into()),
                quantile(0.999, false),
                1_000_000.0,
            ),
        ] {
            let t = parse(text, STEPS, false).unwrap();
            assert_eq!(
                (t.subject, t.stat, t.limit),
                (subject, stat, limit),
                "{text}"
            );
        }
        let t = parse("create_chat.p99 < 300ms", STEPS, false).unwrap();
        assert_eq!(t.op, Op::Lt);
        assert!(parse("iteration[].p95 < 1s", STEPS, false).is_err());
        assert!(parse("iteration[chat.p95 < 1s", STEPS, false).is_err());
        assert!(parse("iteration[chat].p98 < 1s", STEPS, false).is_err());
        assert_eq!(parse("errors.rate < 1%", STEPS, true).unwrap().limit, 0.01);
        assert_eq!(
            parse("schema_violations == 0", STEPS, false)
                .unwrap()
                .subject,
            Subject::Run(RunMetric::SchemaViolations)
        );
        assert_eq!(
            parse("wait.active.max < 5s", STEPS, false).unwrap().subject,
            Subject::Step("wait.active".into())
        );
    }

    #[test]
    fn webhook_metrics_parse_with_their_units() {
        let t = parse("time_to_assign.p95 < 5s", STEPS, false).unwrap();
        assert_eq!(t.subject, Subject::Lifecycle(LifecycleMetric::TimeToAssign));
        assert_eq!((t.limit, t.unit), (5e6, Unit::Micros));
        assert!(t.subject.needs_webhooks());
        for (expr, metric) in [
            ("time_in_queue.mean < 2s", LifecycleMetric::TimeInQueue),
            (
                "time_to_first_agent_reply.p99.9 <= 10s",
                LifecycleMetric::TimeToFirstAgentReply,
            ),
            ("chat_duration.max < 5m", LifecycleMetric::ChatDuration),
        ] {
            assert_eq!(
                parse(expr, STEPS, false).unwrap().subject,
                Subject::Lifecycle(metric)
            );
        }
        let t = parse("event(chats:join).p99 < 500ms", STEPS, false).unwrap();
        assert_eq!(t.subject, Subject::Event("chats:join".into()));
        assert_eq!(t.limit, 500_000.0);
        let t = parse("event(messages:new).count >= 10", STEPS, false).unwrap();
        assert_eq!((t.stat, t.unit), (Some(StatMetric::Count), Unit::Plain));
        for (expr, metric) in [
            ("events.missing == 0", RunMetric::EventsMissing),
            ("events.duplicate == 0", RunMetric::EventsDuplicate),
            ("events.late < 5", RunMetric::EventsLate),
            ("events.out_of_order == 0", RunMetric::EventsOutOfOrder),
            (
                "events.invalid_signatures == 0",
                RunMetric::EventsInvalidSignatures,
            ),
            ("queue.abandoned <= 3", RunMetric::QueueAbandoned),
            (
                "events.schema_violations == 0",
                RunMetric::EventsSchemaViolations,
            ),
        ] {
            let t = parse(expr, STEPS, false).unwrap();
            assert_eq!(
                (t.subject.clone(), t.unit),
                (Subject::Run(metric), Unit::Plain)
            );
            assert!(t.subject.needs_webhooks());
        }
        assert!(
            !parse("errors.rate < 1%", STEPS, false)
                .unwrap()
                .subject
                .needs_webhooks()
        );
        for bad in [
            "time_to_assign.error_rate < 1%",
            "time_to_assign.p99_corrected < 1s",
            "time_to_assign.p98 < 1s",
            "event(chats:join.p99 < 1s",
            "time_to_assign.p95 < 5",
        ] {
            assert!(parse(bad, STEPS, false).is_err(), "{bad}");
        }
    }

    #[test]
    fn unknown_names_and_units_are_errors_that_say_what_was_expected() {
        let e = parse("create_chat.p98 < 1s", STEPS, false).unwrap_err();
        assert!(e.contains("unknown metric") && e.contains("p99"), "{e}");
        let e = parse("create_caht.p99 < 1s", STEPS, false).unwrap_err();
        assert!(
            e.contains("unknown step `create_caht`") && e.contains("create_chat"),
            "{e}"
        );
        assert!(parse("errs.rate < 1%", STEPS, false).is_err());
        assert!(
            parse("create_chat.p99 < 300", STEPS, false)
                .unwrap_err()
                .contains("needs a unit")
        );
        assert!(parse("errors.rate < 5", STEPS, false).is_err());
        assert!(
            parse("create_chat.p99 300ms", STEPS, false)
                .unwrap_err()
                .contains("comparison")
        );
        assert!(
            parse("create_chat.p99 < 1s", STEPS, true)
                .unwrap_err()
                .contains("abort_on_fail")
        );
    }
}
