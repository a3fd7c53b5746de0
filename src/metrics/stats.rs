//! [`LatencyStats`]: the mutable accumulator behind every step, route and whole-iteration figure.
//!
//! One `LatencyStats` holds two HDR histograms (raw and coordinated-omission corrected latency),
//! counts, status codes and failure kinds. The hub keeps one per step/route per shard and merges
//! them at the end; reports decoded later can be merged the same way (exact, never averaged).
//! Recording allocates nothing as long as a stats object has seen at most
//! [`STATUS_CAPACITY`] distinct status codes.

use hdrhistogram::Histogram;

use super::{ConnSample, ConnectionStats, FailureKind, LATENCY_MAX_US, new_latency_histogram};

/// Distinct status codes a fresh [`LatencyStats`] holds without allocating.
pub const STATUS_CAPACITY: usize = 16;

/// Latency histograms and counters for one step, route or the whole iteration.
#[derive(Clone, Debug)]
pub struct LatencyStats {
    /// Latency measured from the actual send, in microseconds.
    pub latency_us: Histogram<u64>,
    /// Latency measured from the intended start (coordinated-omission corrected), in microseconds.
    /// Equal to `latency_us` in the closed model.
    pub corrected_us: Histogram<u64>,
    /// Samples recorded.
    pub count: u64,
    /// Samples that failed.
    pub errors: u64,
    /// Timed samples that started (the request was sent) during the load
    /// phase: the numerator of the rate, whose denominator is the load
    /// phase's length. A sample that finished in the drain after it still
    /// counts; one started in the drain does not, nor does an untimed one
    /// (nothing was sent).
    pub in_load: u64,
    /// `(status code, count)` pairs in first-seen order (sorted by code after a merge).
    pub statuses: Vec<(u16, u64)>,
    /// Failures per [`FailureKind::index`].
    pub failures: [u64; FailureKind::COUNT],
    /// Samples whose raw or corrected latency exceeded [`LATENCY_MAX_US`] and were clamped to it.
    pub saturated: u64,
    /// Request body bytes sent (routes and steps; 0 for iterations, whose report sums their steps').
    pub bytes_sent: u64,
    /// Response body bytes received (routes and steps; 0 for iterations, whose report sums their steps').
    pub bytes_received: u64,
    /// Throttled responses and what the `rate_limit` policy did about them.
    pub throttle: ThrottleCounts,
    /// Responses checked against the API's schemas (routes only).
    pub schema_checked: u64,
    /// Routes only: connection set-up, allocated at the route's first
    /// request over a VU's connection (once, not per request).
    pub connection: Option<Box<ConnectionStats>>,
}

/// Throttling of one route (or all of them): counted apart from errors.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ThrottleCounts {
    /// Responses that were throttled (429, or 503 with `Retry-After`),
    /// whether or not the policy then failed the step.
    pub throttled: u64,
    /// Requests sent again after a throttled response (`respect`, `retry`).
    pub retries: u64,
    /// Time spent waiting before those re-sends, µs.
    pub wait_us: u64,
    /// Longest single wait, µs.
    pub max_wait_us: u64,
}

impl ThrottleCounts {
    /// Adds `other` (sums; the longest wait of both).
    pub fn merge(&mut self, other: &ThrottleCounts) {
        self.throttled += other.throttled;
        self.retries += other.retries;
        self.wait_us += other.wait_us;
        self.max_wait_us = self.max_wait_us.max(other.max_wait_us);
    }

    /// Counts one wait of `wait_us` before a re-send.
    pub fn add_wait(&mut self, wait_us: u64) {
        self.retries += 1;
        self.wait_us = self.wait_us.saturating_add(wait_us);
        self.max_wait_us = self.max_wait_us.max(wait_us);
    }
}

impl Default for LatencyStats {
    fn default() -> Self {
        Self::new()
    }
}

impl LatencyStats {
    /// Empty stats with histograms from [`new_latency_histogram`] and room for
    /// [`STATUS_CAPACITY`] status codes.
    pub fn new() -> Self {
        Self {
            latency_us: new_latency_histogram(),
            corrected_us: new_latency_histogram(),
            count: 0,
            errors: 0,
            in_load: 0,
            statuses: Vec::with_capacity(STATUS_CAPACITY),
            failures: [0; FailureKind::COUNT],
            saturated: 0,
            bytes_sent: 0,
            bytes_received: 0,
            throttle: ThrottleCounts::default(),
            schema_checked: 0,
            connection: None,
        }
    }

    /// Records how one request's connection was set up.
    pub fn record_connection(&mut self, sample: &ConnSample) {
        self.connection
            .get_or_insert_with(Box::default)
            .record(sample);
    }

    /// Counts one failure that has no time to record: a step whose request
    /// was never sent. It counts and fails like any other, but adds no latency,
    /// so percentiles stay those of what was measured.
    pub fn record_untimed(&mut self, failure: FailureKind) {
        self.count += 1;
        self.errors += 1;
        self.failures[failure.index()] += 1;
    }

    /// Records one sample. `failure` marks it as an error even when `is_error` is false.
    pub fn record(
        &mut self,
        status: Option<u16>,
        failure: Option<FailureKind>,
        is_error: bool,
        latency_us: u64,
        corrected_us: u64,
    ) {
        self.count += 1;
        if is_error || failure.is_some() {
            self.errors += 1;
        }
        if let Some(kind) = failure {
            self.failures[kind.index()] += 1;
        }
        if let Some(code) = status {
            self.add_status(code, 1);
        }
        if latency_us > LATENCY_MAX_US || corrected_us > LATENCY_MAX_US {
            self.saturated += 1;
        }
        // Values are clamped first, so neither call can resize a histogram (no allocation).
        // The floor of 1 µs (the histogram's lowest discernible value) keeps a sample from
        // reading as "no latency": the report shows percentiles of all 0 as none measured.
        self.latency_us
            .saturating_record(latency_us.clamp(1, LATENCY_MAX_US));
        self.corrected_us
            .saturating_record(corrected_us.clamp(1, LATENCY_MAX_US));
    }

    /// Adds everything in `other` to `self`. Histograms of any bounds and precision merge exactly
    /// into `self` (growing it when `other` reaches higher values).
    pub fn merge(&mut self, other: &Self) {
        merge_histogram(&mut self.latency_us, &other.latency_us);
        merge_histogram(&mut self.corrected_us, &other.corrected_us);
        self.count += other.count;
        self.errors += other.errors;
        self.in_load += other.in_load;
        for &(code, count) in &other.statuses {
            self.add_status(code, count);
        }
        self.statuses.sort_unstable();
        for (mine, theirs) in self.failures.iter_mut().zip(other.failures) {
            *mine += theirs;
        }
        self.saturated += other.saturated;
        self.bytes_sent += other.bytes_sent;
        self.bytes_received += other.bytes_received;
        self.throttle.merge(&other.throttle);
        self.schema_checked += other.schema_checked;
        if let Some(theirs) = &other.connection {
            match &mut self.connection {
                Some(mine) => mine.merge(theirs),
                None => self.connection = Some(theirs.clone()),
            }
        }
    }

    /// Counts the body bytes of one request: two additions, nothing allocated.
    pub fn record_bytes(&mut self, sent: u64, received: u64) {
        self.bytes_sent = self.bytes_sent.saturating_add(sent);
        self.bytes_received = self.bytes_received.saturating_add(received);
    }

    /// Count recorded for status `code`.
    pub fn status_count(&self, code: u16) -> u64 {
        self.statuses
            .iter()
            .find(|(seen, _)| *seen == code)
            .map_or(0, |(_, count)| *count)
    }

    /// Count recorded for failure `kind`.
    pub fn failure_count(&self, kind: FailureKind) -> u64 {
        self.failures[kind.index()]
    }

    /// Errors divided by count (0 when nothing was recorded).
    pub fn error_rate(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.errors as f64 / self.count as f64
        }
    }

    /// Clears every counter and histogram, keeping the allocations.
    pub fn reset(&mut self) {
        self.latency_us.reset();
        self.corrected_us.reset();
        self.count = 0;
        self.errors = 0;
        self.in_load = 0;
        self.statuses.clear();
        self.failures = [0; FailureKind::COUNT];
        self.saturated = 0;
        self.throttle = ThrottleCounts::default();
        self.connection = None;
    }

    fn add_status(&mut self, code: u16, count: u64) {
        // A handful of distinct codes per route: a linear scan beats hashing and never allocates.
        match self.statuses.iter_mut().find(|(seen, _)| *seen == code) {
            Some((_, seen_count)) => *seen_count += count,
            None => self.statuses.push((code, count)),
        }
    }
}

/// Adds `source` into `target` exactly, growing `target` if `source` holds larger values.
pub fn merge_histogram(target: &mut Histogram<u64>, source: &Histogram<u64>) {
    if source.is_empty() {
        return;
    }
    // Auto-resize only matters off the hot path (merging reports with other bounds); recording
    // clamps values, so it never triggers a resize there.
    target.auto(true);
    target
        .add(source)
        .expect("an auto-resizing u64 histogram accepts any other histogram");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_counts_statuses_failures_and_saturation() {
        let mut stats = LatencyStats::new();
        stats.record(Some(200), None, false, 1_000, 1_000);
        stats.record(Some(200), None, false, 2_000, 5_000);
        stats.record(Some(503), Some(FailureKind::Status), false, 3_000, 3_000);
        stats.record(
            None,
            Some(FailureKind::Timeout),
            false,
            LATENCY_MAX_US + 7,
            1,
        );
        stats.record(None, None, true, 10, 10);

        assert_eq!(stats.count, 5);
        assert_eq!(stats.errors, 3);
        assert_eq!(stats.status_count(200), 2);
        assert_eq!(stats.status_count(503), 1);
        assert_eq!(stats.status_count(404), 0);
        assert_eq!(stats.failure_count(FailureKind::Status), 1);
        assert_eq!(stats.failure_count(FailureKind::Timeout), 1);
        assert_eq!(stats.failure_count(FailureKind::Connect), 0);
        assert_eq!(stats.saturated, 1);
        assert_eq!(stats.latency_us.len(), 5);
        assert!(stats.latency_us.max() >= LATENCY_MAX_US);
        assert_eq!(stats.corrected_us.len(), 5);
        assert!((stats.error_rate() - 0.6).abs() < 1e-12);
    }

    #[test]
    fn recording_many_distinct_statuses_stays_within_capacity_until_it_must_grow() {
        let mut stats = LatencyStats::new();
        let before = stats.statuses.capacity();
        for code in 200..200 + STATUS_CAPACITY as u16 {
            stats.record(Some(code), None, false, 5, 5);
        }
        assert_eq!(stats.statuses.capacity(), before);
        assert_eq!(stats.statuses.len(), STATUS_CAPACITY);
    }

    #[test]
    fn merge_adds_counts_statuses_failures_and_histograms() {
        let mut left = LatencyStats::new();
        let mut right = LatencyStats::new();
        let mut both = LatencyStats::new();
        for value in 1..=500u64 {
            let (target, status) = if value % 3 == 0 {
                (&mut left, 201)
            } else {
                (&mut right, 200)
            };
            let failure = (value % 50 == 0).then_some(FailureKind::Decode);
            target.record(Some(status), failure, false, value * 7, value * 11);
            both.record(Some(status), failure, false, value * 7, value * 11);
        }
        let mut merged = LatencyStats::new();
        merged.merge(&left);
        merged.merge(&right);

        assert_eq!(merged.count, both.count);
        assert_eq!(merged.errors, both.errors);
        assert_eq!(merged.failures, both.failures);
        assert_eq!(merged.statuses, vec![(200, 334), (201, 166)]);
        assert_eq!(merged.latency_us, both.latency_us);
        assert_eq!(merged.corrected_us, both.corrected_us);
        for quantile in [0.5, 0.9, 0.99, 0.999, 1.0] {
            assert_eq!(
                merged.latency_us.value_at_quantile(quantile),
                both.latency_us.value_at_quantile(quantile)
            );
        }
    }

    #[test]
    fn merge_adds_throttle_counts_and_keeps_the_longest_wait() {
        let mut left = LatencyStats::new();
        left.throttle.throttled = 3;
        left.throttle.add_wait(1_000);
        let mut right = LatencyStats::new();
        right.throttle.throttled = 2;
        right.throttle.add_wait(5_000);
        right.throttle.add_wait(2_000);
        left.merge(&right);
        assert_eq!(
            left.throttle,
            ThrottleCounts {
                throttled: 5,
                retries: 3,
                wait_us: 8_000,
                max_wait_us: 5_000,
            }
        );
    }

    #[test]
    fn merge_accepts_histograms_with_a_wider_range() {
        let mut narrow = LatencyStats::new();
        narrow.latency_us = Histogram::new_with_bounds(1, 1_000, 3).expect("valid bounds");
        narrow.latency_us.saturating_record(10);
        let mut wide = LatencyStats::new();
        wide.record(None, None, false, 5_000_000, 5_000_000);
        narrow.merge(&wide);
        assert_eq!(narrow.latency_us.len(), 2);
        assert!(narrow.latency_us.max() >= 5_000_000);
    }

    #[test]
    fn reset_clears_everything() {
        let mut stats = LatencyStats::new();
        stats.record(Some(500), Some(FailureKind::Other), false, 9, 9);
        stats.reset();
        assert_eq!(stats.count, 0);
        assert_eq!(stats.errors, 0);
        assert!(stats.statuses.is_empty());
        assert_eq!(stats.failures, [0; FailureKind::COUNT]);
        assert!(stats.latency_us.is_empty());
    }
}
