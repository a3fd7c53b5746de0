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

    /// The level's name in thresholds and reports.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(m, _)| *m == self)
            .map_or("", |(_, name)| name)
    }

    /// The webhook events that can end the level's interval (any one of
    /// them, subscribed, makes it measurable; `chats:join` stands for its
    /// alias `users:join` too); empty when it needs none (`chat_duration`
    /// falls back on the close call's answer). `time_in_queue` also ends at
    /// an abandonment (`wait_event` with `on_timeout: abandon`).
    pub fn ends_at(self) -> &'static [&'static str] {
        use crate::api::events;
        match self {
            LifecycleMetric::TimeToAssign => &[events::CHATS_JOIN],
            LifecycleMetric::TimeInQueue => &[events::INVITATIONS_NEW, events::CHATS_JOIN],
            LifecycleMetric::TimeToFirstAgentReply => &[events::MESSAGES_NEW],
            LifecycleMetric::ChatDuration => &[],
        }
    }

    /// [`ends_at`](Self::ends_at) as text: `` `invitations:new` or
    /// `chats:join` (or `users:join`) ``.
    pub fn ends_at_text(self) -> String {
        let names: Vec<String> = self
            .ends_at()
            .iter()
            .map(|e| {
                if *e == crate::api::events::CHATS_JOIN {
                    format!("`{e}` (or `users:join`)")
                } else {
                    format!("`{e}`")
                }
            })
            .collect();
        names.join(" or ")
    }
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
    /// The metric a threshold names (`errors.rate`, `events.late`, …).
    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "errors.rate" => RunMetric::ErrorRate,
            "errors.count" | "errors" => RunMetric::ErrorCount,
            "requests.count" | "requests" => RunMetric::RequestCount,
            "requests.rate" => RunMetric::RequestRate,
            "iterations.count" | "iterations" => RunMetric::IterationCount,
            "iterations.error_rate" => RunMetric::IterationErrorRate,
            "dropped_iterations" => RunMetric::DroppedIterations,
            "cut_off_iterations" => RunMetric::CutOffIterations,
            "cut_off_requests" => RunMetric::CutOffRequests,
            "unstarted_iterations" => RunMetric::UnstartedIterations,
            "schema_violations" => RunMetric::SchemaViolations,
            "checks.rate" => RunMetric::CheckRate,
            "checks.failed" => RunMetric::ChecksFailed,
            "throttled.rate" => RunMetric::ThrottledRate,
            "throttled.count" | "throttled" => RunMetric::ThrottledCount,
            "events.received" => RunMetric::EventsReceived,
            "events.missing" => RunMetric::EventsMissing,
            "events.duplicate" => RunMetric::EventsDuplicate,
            "events.late" => RunMetric::EventsLate,
            "events.out_of_order" => RunMetric::EventsOutOfOrder,
            "events.invalid_signatures" => RunMetric::EventsInvalidSignatures,
            "events.malformed" => RunMetric::EventsMalformed,
            "events.unrouted" => RunMetric::EventsUnrouted,
            "events.schema_violations" => RunMetric::EventsSchemaViolations,
            "queue.queued" => RunMetric::QueueQueued,
            "queue.abandoned" => RunMetric::QueueAbandoned,
            _ => return None,
        })
    }

    /// Rates are ratios; everything else is a plain number.
    fn unit(self) -> Unit {
        if matches!(
            self,
            RunMetric::ErrorRate
                | RunMetric::IterationErrorRate
                | RunMetric::CheckRate
                | RunMetric::ThrottledRate
        ) {
            Unit::Ratio
        } else {
            Unit::Plain
        }
    }

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

impl StatMetric {
    /// Whether it is read from the latency histogram (and so needs timed samples).
    pub fn is_latency(self) -> bool {
        self.unit() == Unit::Micros
    }

    /// Counts and requests per second are plain numbers, the error rate a
    /// ratio, the rest latencies.
    fn unit(self) -> Unit {
        match self {
            StatMetric::Count | StatMetric::Errors | StatMetric::Rps => Unit::Plain,
            StatMetric::ErrorRate => Unit::Ratio,
            _ => Unit::Micros,
        }
    }
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

impl Threshold {
    /// `Some(true)` when every value the metric can take meets the limit
    /// (`errors.rate <= 100%`, `errors.count >= 0`), `Some(false)` when none
    /// does (`errors.count < 0`): such a threshold judges nothing. Every
    /// metric is 0 or more, and a rate at most 1.
    pub fn foregone(&self) -> Option<bool> {
        let max = if self.unit == Unit::Ratio {
            1.0
        } else {
            f64::INFINITY
        };
        match self.op {
            Op::Le if self.limit >= max => Some(true),
            Op::Ge if self.limit <= 0.0 => Some(true),
            Op::Lt if self.limit <= 0.0 => Some(false),
            Op::Gt if self.limit >= max => Some(false),
            _ => None,
        }
    }
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
pub const METRIC_HELP: &str = "expected STEP.METRIC, iteration.METRIC, iteration[FLOW].METRIC or route(METHOD /path).METRIC (also \"METHOD /path\".METRIC) with METRIC one of \
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
    let (lhs, op, rhs) = split_comparison(text)?;
    if let Some(at) = rhs.find(['<', '>', '=', '!']) {
        let second: String = rhs[at..]
            .chars()
            .take_while(|c| ['<', '>', '=', '!'].contains(c))
            .collect();
        return Err(format!(
            "`{text}`: one comparison per threshold, found a second `{second}` in `{rhs}`; write each limit as a threshold of its own"
        ));
    }
    let (subject, stat, unit) = parse_metric(lhs, steps)?;
    let limit = parse_value(rhs, unit).map_err(|e| format!("`{text}`: {e}"))?;
    // A bare 1 on a rate is 100%: with <, <= or > that is a typo for 1% (or
    // a limit that judges nothing); == 1 and >= 1 mean "every one". Fresh
    // thresholds only: a report stored before this rule still reads.
    if steps.is_some()
        && unit == Unit::Ratio
        && limit >= 1.0
        && !rhs.ends_with('%')
        && matches!(op, Op::Lt | Op::Le | Op::Gt)
    {
        return Err(format!(
            "`{text}`: a bare number on a rate is a fraction (0.01 is 1%), so `{rhs}` is 100% and this reads as `{} 100%`; write `1%` for one percent, or `100%` if you mean every one",
            op.as_str()
        ));
    }
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

/// `LHS OP RHS`: the operator is the first run of `<`, `>`, `=` and `!`,
/// which must be one of [`OPS`] (`=<` is not read as `<`).
fn split_comparison(text: &str) -> Result<(&str, Op, &str), String> {
    const OP_CHARS: [char; 4] = ['<', '>', '=', '!'];
    let start = text.find(OP_CHARS).ok_or_else(|| {
        format!("`{text}`: expected a comparison such as `create_chat.p99 < 300ms` (operators <, <=, >, >=, == and !=)")
    })?;
    let len = text[start..]
        .find(|c| !OP_CHARS.contains(&c))
        .unwrap_or(text.len() - start);
    let written = &text[start..start + len];
    let op = OPS
        .iter()
        .find_map(|(sym, op)| (*sym == written).then_some(*op))
        .ok_or_else(|| {
            format!("`{text}`: operator `{written}` is not understood: use <, <=, >, >=, == or !=")
        })?;
    Ok((text[..start].trim(), op, text[start + len..].trim()))
}

/// The subject, statistic and unit of a threshold's left-hand side: a
/// whole-run metric, a webhook latency, or a statistic of a route, a flow's
/// iterations, all iterations or a step (one of `steps` where they are known).
fn parse_metric(
    lhs: &str,
    steps: Option<&[&str]>,
) -> Result<(Subject, Option<StatMetric>, Unit), String> {
    if let Some(metric) = RunMetric::parse(lhs) {
        return Ok((Subject::Run(metric), None, metric.unit()));
    }
    if let Some(found) = webhook_latency(lhs)? {
        return Ok(found);
    }
    let (subject, metric) = stat_subject(lhs, steps)?;
    let stat =
        parse_stat(metric).ok_or_else(|| format!("unknown metric `{lhs}`: {METRIC_HELP}"))?;
    Ok((subject, Some(stat), stat.unit()))
}

/// `route(METHOD /path).METRIC` (or `"METHOD /path".METRIC`), `iteration[FLOW].METRIC`,
/// `iteration.METRIC` or `STEP.METRIC`: the subject and the metric's text.
fn stat_subject<'a>(lhs: &'a str, steps: Option<&[&str]>) -> Result<(Subject, &'a str), String> {
    // `route(POST /chats).p99` or, as `compare` also writes it, `"POST /chats".p99`.
    let route = match (lhs.strip_prefix("route("), lhs.strip_prefix('"')) {
        (Some(rest), _) => Some(rest.split_once(").")),
        (_, Some(rest)) => Some(rest.split_once("\".")),
        _ => None,
    };
    if let Some(route) = route {
        let (route, metric) =
            route.ok_or_else(|| format!("unknown metric `{lhs}`: {METRIC_HELP}"))?;
        return Ok((Subject::Route(route.trim().to_owned()), metric));
    }
    if let Some(rest) = lhs.strip_prefix("iteration[") {
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
        return Ok((Subject::FlowIteration(flow.to_owned()), metric));
    }
    // Step names may contain dots: the metric is what follows the last one that
    // parses as a metric ("p99.9" itself contains a dot).
    let (name, metric) = lhs
        .char_indices()
        .filter(|(_, c)| *c == '.')
        .map(|(i, _)| (&lhs[..i], &lhs[i + 1..]))
        .find(|(_, m)| parse_stat(m).is_some())
        .ok_or_else(|| format!("unknown metric `{lhs}`: {METRIC_HELP}"))?;
    let subject = match name {
        "iteration" => Subject::Iteration,
        name if steps.is_none_or(|s| s.contains(&name)) => Subject::Step(name.to_owned()),
        name => {
            return Err(format!(
                "unknown step `{name}` in `{lhs}`: steps are {}",
                steps.unwrap_or_default().join(", ")
            ));
        }
    };
    Ok((subject, metric))
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
mod tests;
