//! Throttling as its own fact in the report: how many responses the target
//! throttled (429, or 503 with `Retry-After`), per route and in total, and
//! what the scenario's `rate_limit` policy did about them (re-sends, time
//! waited, requests given up on). Never folded into errors: a run that
//! hammers through 429s measures the limiter, and the report says so.
//!
//! Built from the metrics once ([`build`]), merged exactly across shards
//! ([`merge`]: sums, the longest wait, the rate recomputed).

use serde::{Deserialize, Serialize};

use super::RunReport;
use super::rates::ratio;
use crate::metrics::{FailureKind, RunMetrics, ThrottleCounts};

/// Throttling of one route (`routes[].throttle`); absent when it never was.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThrottleStats {
    /// Throttled responses.
    pub throttled: u64,
    /// Requests sent again after a throttled response.
    pub retries: u64,
    /// Time waited before those re-sends, µs.
    pub wait_us: u64,
    /// Longest single wait, µs.
    pub max_wait_us: u64,
}

impl ThrottleStats {
    /// Nothing was throttled and nothing waited (skipped when written).
    pub fn is_empty(&self) -> bool {
        *self == ThrottleStats::default()
    }

    /// Adds `other`.
    pub fn add(&mut self, other: &ThrottleStats) {
        self.throttled += other.throttled;
        self.retries += other.retries;
        self.wait_us += other.wait_us;
        self.max_wait_us = self.max_wait_us.max(other.max_wait_us);
    }
}

impl From<&ThrottleCounts> for ThrottleStats {
    fn from(c: &ThrottleCounts) -> Self {
        ThrottleStats {
            throttled: c.throttled,
            retries: c.retries,
            wait_us: c.wait_us,
            max_wait_us: c.max_wait_us,
        }
    }
}

/// The run's throttling (`throttle` section; absent only in reports written
/// before it existed, where thresholds on it have no data).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ThrottleReport {
    /// The scenario's `rate_limit` policy: `fail`, `respect` or `retry`
    /// (`mixed` when merged runs differ).
    pub policy: String,
    /// Throttled responses over all routes (each also in `totals.requests`).
    pub throttled: u64,
    /// `throttled / totals.requests` (0 when no request was sent).
    pub rate: f64,
    /// Throttled requests the policy gave up on: counted as failures of
    /// kind `throttled` (with `fail`, every throttled response).
    pub gave_up: u64,
    /// Requests sent again after a throttled response.
    pub retries: u64,
    /// Time virtual users waited before those re-sends, µs (not in any
    /// request's latency; in the step's and iteration's).
    pub wait_us: u64,
    /// Longest single wait, µs.
    pub max_wait_us: u64,
    /// Iterations that met throttling. In the open model, compare with
    /// `totals.planned_iterations` and `dropped_iterations`: waits hold a
    /// virtual user, so throttling delays or drops later arrivals.
    pub iterations: u64,
}

/// The throttle section of a run's metrics (policy `fail` until the caller
/// says otherwise).
pub fn build(metrics: &RunMetrics, requests: u64) -> ThrottleReport {
    let mut sum = ThrottleStats::default();
    let mut gave_up = 0;
    for route in &metrics.routes {
        sum.add(&ThrottleStats::from(&route.throttle));
        gave_up += route.failure_count(FailureKind::Throttled);
    }
    ThrottleReport {
        policy: "fail".to_owned(),
        throttled: sum.throttled,
        rate: ratio(sum.throttled, requests),
        gave_up,
        retries: sum.retries,
        wait_us: sum.wait_us,
        max_wait_us: sum.max_wait_us,
        iterations: metrics.throttled_iterations,
    }
}

/// The merged throttle section of `reports` (`requests`: the merged total);
/// `None` when none of them has one.
pub fn merge(reports: &[RunReport], requests: u64) -> Option<ThrottleReport> {
    let mut parts = reports
        .iter()
        .filter_map(|r| r.throttle.as_ref())
        .peekable();
    let policy = parts.peek()?.policy.clone();
    let mut out = ThrottleReport {
        policy,
        ..ThrottleReport::default()
    };
    for part in parts {
        if part.policy != out.policy {
            "mixed".clone_into(&mut out.policy);
        }
        out.throttled += part.throttled;
        out.gave_up += part.gave_up;
        out.retries += part.retries;
        out.wait_us += part.wait_us;
        out.max_wait_us = out.max_wait_us.max(part.max_wait_us);
        out.iterations += part.iterations;
    }
    out.rate = ratio(out.throttled, requests);
    Some(out)
}

/// `"GET /settings × 20 (waited 3.00 s)"` per throttled route, in report order.
pub fn by_route(report: &RunReport) -> Vec<String> {
    report
        .routes
        .iter()
        .filter(|r| !r.throttle.is_empty())
        .map(|r| {
            let t = &r.throttle;
            let waited = if t.retries > 0 {
                format!(
                    " ({} re-sent, waited {})",
                    t.retries,
                    super::format::format_us(t.wait_us)
                )
            } else {
                String::new()
            };
            format!("{} × {}{waited}", r.name, t.throttled)
        })
        .collect()
}

/// A `compare` warning when either run was throttled: latencies measured
/// through a limiter (or its waits) are not like for like with a run that
/// was not throttled, or was throttled differently.
pub fn compare_warning(base: &RunReport, new: &RunReport) -> Option<String> {
    let (b, n) = (base.throttle.as_ref(), new.throttle.as_ref());
    let count = |t: Option<&ThrottleReport>| t.map_or(0, |t| t.throttled);
    if count(b) == 0 && count(n) == 0 {
        return None;
    }
    let describe = |t: Option<&ThrottleReport>| match t {
        Some(t) => format!(
            "{} throttled ({:.2}%, policy {})",
            t.throttled,
            t.rate * 100.0,
            t.policy
        ),
        None => "throttling not recorded".to_owned(),
    };
    Some(format!(
        "the target throttled the runs (base {}, new {}): latencies measured through a rate limiter are not like for like",
        describe(b),
        describe(n)
    ))
}

/// One line for people: `None` when nothing was throttled. When the plan
/// fixed a number of iterations (the open model's arrivals), the affected
/// iterations are shown against it, with the arrivals dropped.
pub fn summary(report: &RunReport) -> Option<String> {
    let t = report.throttle.as_ref()?;
    if t.throttled == 0 && t.retries == 0 {
        return None;
    }
    let affected = match report.totals.planned_iterations {
        Some(planned) => format!(
            "{} of {planned} planned iterations affected ({} dropped)",
            t.iterations, report.totals.dropped_iterations
        ),
        None => format!("{} iterations affected", t.iterations),
    };
    Some(format!(
        "throttled  {} ({:.2}% of requests, policy {}): {} re-sent after waiting {} in total (longest {}), {} given up as failures, {affected}",
        t.throttled,
        t.rate * 100.0,
        t.policy,
        t.retries,
        super::format::format_us(t.wait_us),
        super::format::format_us(t.max_wait_us),
        t.gave_up,
    ))
}

/// Marks `report` (the renderers' sample) as throttled `throttled` times
/// (at least 1) on its first route: one given up, the rest re-sent after
/// waiting 1 s each.
#[cfg(test)]
pub(crate) fn throttle_sample(report: &mut RunReport, policy: &str, throttled: u64) {
    let route = ThrottleStats {
        throttled,
        retries: throttled - 1,
        wait_us: (throttled - 1) * 1_000_000,
        max_wait_us: 1_000_000,
    };
    report.routes[0].throttle = route;
    report.throttle = Some(ThrottleReport {
        policy: policy.to_owned(),
        throttled,
        rate: ratio(throttled, report.totals.requests),
        gave_up: 1,
        retries: route.retries,
        wait_us: route.wait_us,
        max_wait_us: route.max_wait_us,
        iterations: throttled,
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::build::sample_report;

    fn throttled(report: &mut RunReport, policy: &str, throttled: u64, requests: u64) {
        report.totals.requests = requests;
        report.throttle = Some(ThrottleReport {
            policy: policy.to_owned(),
            throttled,
            rate: ratio(throttled, requests),
            gave_up: throttled / 2,
            retries: throttled - throttled / 2,
            wait_us: 1_000 * throttled,
            max_wait_us: throttled,
            iterations: throttled,
        });
    }

    #[test]
    fn merging_sums_counts_keeps_the_longest_wait_and_recomputes_the_rate() {
        let (mut a, mut b) = (sample_report(), sample_report());
        throttled(&mut a, "respect", 10, 100);
        throttled(&mut b, "respect", 30, 300);
        let merged = merge(&[a.clone(), b.clone()], 400).expect("both have one");
        assert_eq!(merged.policy, "respect");
        assert_eq!(
            (
                merged.throttled,
                merged.gave_up,
                merged.retries,
                merged.wait_us
            ),
            (40, 20, 20, 40_000)
        );
        assert_eq!(merged.max_wait_us, 30);
        assert!((merged.rate - 0.1).abs() < 1e-12);
        throttled(&mut b, "fail", 30, 300);
        assert_eq!(merge(&[a, b], 400).expect("merged").policy, "mixed");
        let mut old = sample_report();
        old.throttle = None;
        assert_eq!(merge(&[old], 1), None);
    }

    #[test]
    fn compare_warns_only_when_a_run_was_throttled() {
        let (mut base, mut new) = (sample_report(), sample_report());
        throttled(&mut base, "fail", 0, 100);
        throttled(&mut new, "fail", 0, 100);
        assert_eq!(compare_warning(&base, &new), None);
        throttled(&mut new, "fail", 25, 100);
        let warning = compare_warning(&base, &new).expect("new was throttled");
        assert!(
            warning.contains(
                "base 0 throttled (0.00%, policy fail), new 25 throttled (25.00%, policy fail)"
            ),
            "{warning}"
        );
    }
}
