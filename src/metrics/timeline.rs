//! Per-second timeline: requests, errors and a latency histogram for each tick interval.
//!
//! A [`TimelinePoint`] is built once per second by the hub's ticker from the interval data of every
//! shard. Its histogram is compacted (2 significant digits, range fitted to the interval's largest
//! value) because a run keeps one point per second for its whole duration: a full-range
//! 3-digit histogram would cost ~188 KB per second (~680 MB per hour), the compact one a few KB.
//! Whole-run percentiles never come from the timeline; they use the full-precision step and route
//! histograms.

use hdrhistogram::Histogram;

/// Significant decimal digits of timeline histograms (about 0.8 % value resolution).
pub const TIMELINE_SIGNIFICANT_DIGITS: u8 = 2;

/// Requests, errors and latency of one tick interval (normally one second).
#[derive(Clone, Debug)]
pub struct TimelinePoint {
    /// Whole seconds since run start at the end of the interval (the first second is 1).
    pub second: u64,
    /// Requests that finished in the interval.
    pub requests: u64,
    /// Failed requests that finished in the interval.
    pub errors: u64,
    /// Raw latency (from the actual send) of the interval's requests, in microseconds, at
    /// [`TIMELINE_SIGNIFICANT_DIGITS`] digits.
    pub latency_us: Histogram<u64>,
}

/// Copies `interval` into a histogram of [`TIMELINE_SIGNIFICANT_DIGITS`] digits whose range ends at
/// the interval's largest value (auto-resizing, so later merges of points from other runs work).
pub(crate) fn compact_histogram(interval: &Histogram<u64>) -> Histogram<u64> {
    let high = if interval.is_empty() {
        2
    } else {
        interval.max().max(2)
    };
    let mut compact = Histogram::new_with_bounds(1, high, TIMELINE_SIGNIFICANT_DIGITS)
        .expect("low 1, high at least 2, 2 significant digits are valid bounds");
    compact.auto(true);
    compact
        .add(interval)
        .expect("an auto-resizing histogram accepts any other histogram");
    compact
}

/// Label of an interval ending at `elapsed`: the nearest whole second, but always after the
/// previous label, so a late or final partial tick never reuses a second.
pub(crate) fn second_label(elapsed: std::time::Duration, previous: Option<u64>) -> u64 {
    let rounded = (elapsed.as_millis() as u64 + 500) / 1000;
    match previous {
        Some(previous) => rounded.max(previous + 1),
        None => rounded.max(1),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::metrics::{histogram_of, new_latency_histogram};

    #[test]
    fn compact_histogram_keeps_count_and_percentiles_within_one_percent_and_is_small() {
        let full = histogram_of(100..=20_000);
        let compact = compact_histogram(&full);
        assert_eq!(compact.len(), full.len());
        for quantile in [0.5, 0.9, 0.99, 1.0] {
            let exact = full.value_at_quantile(quantile) as f64;
            let approx = compact.value_at_quantile(quantile) as f64;
            assert!(
                (approx - exact).abs() / exact < 0.01,
                "q{quantile}: {approx} vs {exact}"
            );
        }
        assert!(
            compact.distinct_values() * 8 < 16 * 1024,
            "compact form is a few KB"
        );
        assert!(full.distinct_values() > 10 * compact.distinct_values());
    }

    #[test]
    fn compact_histogram_of_an_empty_interval_is_empty() {
        let compact = compact_histogram(&new_latency_histogram());
        assert!(compact.is_empty());
    }

    #[test]
    fn second_labels_round_and_never_repeat() {
        assert_eq!(second_label(Duration::from_millis(1_003), None), 1);
        assert_eq!(second_label(Duration::from_millis(200), None), 1);
        assert_eq!(second_label(Duration::from_millis(1_998), Some(1)), 2);
        assert_eq!(second_label(Duration::from_millis(2_100), Some(2)), 3);
        assert_eq!(second_label(Duration::from_millis(5_000), Some(2)), 5);
    }
}
