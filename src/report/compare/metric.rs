//! The metrics `compare` shows and its rules judge: the raw latency percentiles, the
//! coordinated-omission corrected ones of open-model runs (`p99_corrected`), and `errors`.

use super::super::{LoadModel, Percentiles, RunReport};

/// Percentiles compared (and usable in rules).
pub const METRICS: &[&str] = &["p50", "p90", "p95", "p99", "p99.9", "max"];

/// The coordinated-omission corrected percentiles, compared (and usable in rules) when a run
/// is of the open model: latency from each request's intended start, where a stalled target
/// shows (in the closed model they equal the raw ones, and a report has none of its own).
pub const CORRECTED_METRICS: &[&str] = &[
    "p50_corrected",
    "p90_corrected",
    "p95_corrected",
    "p99_corrected",
    "p99.9_corrected",
    "max_corrected",
];

/// The rule metric of error rates (`errors > +1%`).
pub const ERRORS: &str = "errors";

/// Whether `metric` is a corrected one (`p99_corrected`).
pub fn is_corrected(metric: &str) -> bool {
    metric.ends_with("_corrected")
}

/// Whether a report has corrected latencies of its own: an open-model run's (the closed
/// model's equal the raw ones).
pub(super) fn has_corrected(report: &RunReport) -> bool {
    report.meta.load.model == LoadModel::Open
}

/// `metric` of `p`; a corrected metric reads the same percentile of the corrected ones.
pub(super) fn value(p: &Percentiles, metric: &str) -> u64 {
    match metric.strip_suffix("_corrected").unwrap_or(metric) {
        "p50" => p.p50_us,
        "p90" => p.p90_us,
        "p95" => p.p95_us,
        "p99" => p.p99_us,
        "p99.9" => p.p99_9_us,
        _ => p.max_us,
    }
}
