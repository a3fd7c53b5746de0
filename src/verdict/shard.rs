//! A shard's thresholds on figures of the whole run (`chatload run --shard K/N`).
//!
//! A shard runs a part of the load, so its counts (`iterations.count`,
//! `requests.count`, a step's `count` or `errors`, `events.received`, ...)
//! are a part of the merged run's, which adds every shard's, and its rates
//! (`requests.rate`, a step's `rps`) are over a part of the load and over its
//! own load phase (the merged rate is over the longest shard's). Judged on the
//! shard alone, `iterations.count >= 60` fails a shard that ran exactly its 20.
//! Ratios, latencies and their percentiles do not scale with the load: they
//! are judged on the shard like on any run.
//!
//! A count threshold is decided on a shard only where the shard's own data
//! decides it for the merged run too, since the merged count is this shard's
//! plus the others' (never less):
//! - a limit only zero meets (`dropped_iterations == 0`, `errors.count < 1`)
//!   is judged as on any run: a shard that counts none adds none, and when
//!   every shard passes the merged run does (unlike `< 3`, met by every shard
//!   with 2 and broken by their sum);
//! - an upper limit the shard alone already breaks (`cut_off_iterations < 3`
//!   with 5 on this shard) fails: the merged run cannot meet it;
//! - a lower limit the shard alone already meets (`iterations.count >= 10`
//!   with 20 on this shard) passes: the merged run meets it too.
//!
//! Everything else (every rate, and a count the other shards could still
//! change either way) is [`ThresholdStatus::Deferred`]: "judged on the merged
//! run (chatload merge)", neither a pass nor a failure of the shard.
//!
//! Judging a count against the shard's share of the limit (`>= 20` of 60)
//! was not chosen: it is not exact (a limit below the planned total, such
//! as `>= 50` of 60 tolerating some loss, has no share that every shard must
//! meet: 20 + 10 + 20 meets it), and a share that fails a shard whose merged
//! run passes is the false red this replaces.

use super::show_pair;
use crate::report::{ThresholdResult, ThresholdStatus};
use crate::scenario::threshold::{Op, RunMetric, StatMetric, Subject, Threshold};

/// How a threshold's figure grows with the load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scales {
    /// A ratio or a latency: the same for a part of the load.
    No,
    /// A count the merged run adds up over the shards.
    Count,
    /// Per second of the load: the merged one is over every shard and the longest load phase.
    Rate,
}

fn scales(t: &Threshold) -> Scales {
    use RunMetric as M;
    match (&t.subject, t.stat) {
        (Subject::Run(m), _) => match m {
            M::RequestRate => Scales::Rate,
            M::ErrorRate | M::IterationErrorRate | M::CheckRate | M::ThrottledRate => Scales::No,
            M::ErrorCount
            | M::RequestCount
            | M::IterationCount
            | M::DroppedIterations
            | M::CutOffIterations
            | M::CutOffRequests
            | M::UnstartedIterations
            | M::SchemaViolations
            | M::ChecksFailed
            | M::ThrottledCount
            | M::EventsReceived
            | M::EventsMissing
            | M::EventsDuplicate
            | M::EventsLate
            | M::EventsOutOfOrder
            | M::EventsInvalidSignatures
            | M::EventsMalformed
            | M::EventsUnrouted
            | M::EventsSchemaViolations
            | M::QueueQueued
            | M::QueueAbandoned => Scales::Count,
        },
        (_, Some(StatMetric::Rps)) => Scales::Rate,
        (_, Some(StatMetric::Count | StatMetric::Errors)) => Scales::Count,
        _ => Scales::No,
    }
}

/// Whether a count (a whole number, never negative) meets `op limit` at 0 and at no larger value.
fn only_zero_meets(op: Op, limit: f64) -> bool {
    matches!(op, Op::Lt | Op::Le | Op::Eq) && op.holds(0.0, limit) && !op.holds(1.0, limit)
}

/// A shard's outcome of `t`, whose value on this shard is `measured`, when it differs from
/// any run's (module docs); `None` when `t` is judged as on any run.
pub(super) fn on_shard(t: &Threshold, measured: &Result<f64, String>) -> Option<ThresholdResult> {
    let what = match scales(t) {
        Scales::No => return None,
        Scales::Count if only_zero_meets(t.op, t.limit) => return None,
        Scales::Count => "a count of the whole run",
        Scales::Rate => "a rate of the whole run",
    };
    let result = |status, message| ThresholdResult {
        threshold: t.expr.clone(),
        status,
        passed: status == ThresholdStatus::Pass,
        actual: measured.as_ref().ok().copied(),
        message,
    };
    let deferred = |part: String| {
        result(
            ThresholdStatus::Deferred,
            format!("judged on the merged run (chatload merge): {what}; {part}"),
        )
    };
    let v = match measured {
        Ok(v) => *v,
        Err(why) => return Some(deferred(format!("no data on this shard: {why}"))),
    };
    let (shown, limit) = show_pair(v, t.limit, t.unit);
    let required = format!("required {} {limit}", t.op.as_str());
    // The merged value is `v` plus the other shards' counts: any value from `v` up.
    let holds = t.op.holds(v, t.limit);
    let always_fails = match t.op {
        Op::Lt | Op::Le => !holds,
        Op::Eq => v > t.limit,
        Op::Gt | Op::Ge | Op::Ne => false,
    };
    let always_holds = match t.op {
        Op::Gt | Op::Ge => holds,
        Op::Ne => v > t.limit,
        Op::Lt | Op::Le | Op::Eq => false,
    };
    Some(match (scales(t), always_fails, always_holds) {
        (Scales::Count, true, _) => result(
            ThresholdStatus::Fail,
            format!(
                "measured {shown} on this shard alone, {required}: the merged run, which adds \
                 the other shards' counts, cannot meet it"
            ),
        ),
        (Scales::Count, _, true) => result(
            ThresholdStatus::Pass,
            format!(
                "measured {shown} on this shard alone, {required}: the merged run, which adds \
                 the other shards' counts, meets it too"
            ),
        ),
        _ => deferred(format!(
            "this shard measured {shown}, {required} of the whole run"
        )),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::threshold;

    fn judged(expr: &str, value: Result<f64, String>) -> Option<(ThresholdStatus, bool, String)> {
        let t = threshold::parse(expr, &["create_chat"], false).expect("parses");
        on_shard(&t, &value).map(|r| (r.status, r.passed, r.message))
    }

    fn status(expr: &str, value: f64) -> Option<ThresholdStatus> {
        judged(expr, Ok(value)).map(|(s, _, _)| s)
    }

    #[test]
    fn ratios_latencies_and_limits_only_zero_meets_are_judged_as_on_any_run() {
        for expr in [
            "errors.rate < 1%",
            "iterations.error_rate < 5%",
            "checks.rate > 99%",
            "throttled.rate < 10%",
            "create_chat.p99 < 300ms",
            "create_chat.error_rate < 1%",
            "iteration.mean < 2s",
            "time_to_assign.p95 < 5s",
            "dropped_iterations == 0",
            "errors.count < 1",
            "schema_violations <= 0",
            "cut_off_iterations == 0",
            "events.missing == 0",
            "create_chat.errors == 0",
        ] {
            assert_eq!(status(expr, 7.0), None, "{expr}");
        }
    }

    #[test]
    fn whole_run_counts_the_shard_cannot_decide_and_every_rate_wait_for_merge() {
        for (expr, value) in [
            ("iterations.count >= 60", 20.0),
            ("requests.count > 100", 100.0),
            ("create_chat.count >= 10", 3.0),
            ("iteration.count >= 10", 3.0),
            ("cut_off_iterations < 3", 2.0),
            ("errors.count <= 5", 5.0),
            ("events.received == 40", 20.0),
            ("queue.queued != 4", 4.0),
            ("requests.rate > 70", 26.65),
            ("requests.rate > 70", 700.0),
            ("requests.rate < 70", 700.0),
            ("create_chat.rps >= 5", 9.0),
        ] {
            let (status, passed, message) = judged(expr, Ok(value)).expect("not as on any run");
            assert_eq!(status, ThresholdStatus::Deferred, "{expr} at {value}");
            assert!(!passed, "never a pass: {expr}");
            assert!(
                message.starts_with("judged on the merged run (chatload merge): a "),
                "{message}"
            );
        }
        // No data on this shard: the other shards may have some.
        let (status, _, message) = judged(
            "create_chat.count >= 4",
            Err("step `create_chat` never ran".into()),
        )
        .unwrap();
        assert_eq!(status, ThresholdStatus::Deferred);
        assert!(
            message.ends_with("no data on this shard: step `create_chat` never ran"),
            "{message}"
        );
    }

    #[test]
    fn a_count_the_shard_alone_decides_for_the_merged_run_is_judged_with_why() {
        let (status, passed, message) = judged("cut_off_iterations < 3", Ok(5.0)).unwrap();
        assert_eq!((status, passed), (ThresholdStatus::Fail, false));
        assert_eq!(
            message,
            "measured 5 on this shard alone, required < 3: the merged run, which adds the other \
             shards' counts, cannot meet it"
        );
        assert_eq!(status_of("errors.count <= 5", 6.0), ThresholdStatus::Fail);
        assert_eq!(
            status_of("events.received == 40", 41.0),
            ThresholdStatus::Fail
        );
        let (status, passed, message) = judged("iterations.count >= 10", Ok(20.0)).unwrap();
        assert_eq!((status, passed), (ThresholdStatus::Pass, true));
        assert!(message.ends_with("meets it too"), "{message}");
        assert_eq!(status_of("requests.count > 5", 6.0), ThresholdStatus::Pass);
        assert_eq!(status_of("queue.queued != 4", 5.0), ThresholdStatus::Pass);
    }

    fn status_of(expr: &str, value: f64) -> ThresholdStatus {
        status(expr, value).expect("not as on any run")
    }
}
