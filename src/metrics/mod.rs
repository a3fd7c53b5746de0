//! Latency and error metrics of a run: HDR histograms per step, per route and per whole iteration,
//! status-code and failure-kind counts, a per-second timeline, and the first few explained
//! failures per step and failure kind ([`SampleStore`]).
//!
//! The engine records finished requests, steps and iterations into one shared
//! [`MetricsHub`]; a ticker task calls [`MetricsHub::tick`] about once per second for the progress
//! display, and [`MetricsHub::finish`] merges everything into [`RunMetrics`] for
//! `report::build`. This module knows nothing of rendering, HTTP or scenarios: steps and routes
//! are plain indices ([`StepId`], [`RouteId`]) into a [`MetricsLayout`] the engine builds from the
//! validated scenario.
//!
//! # Hot-path design (benchmark notes)
//!
//! - No lock shared by all workers: the hub holds one `Mutex<Shard>` per worker thread; a thread
//!   sticks to its shard, so the mutex is uncontended except during the once-per-second tick.
//! - `record_*` allocates nothing: every histogram is created up front with a fixed range
//!   (1 µs .. [`LATENCY_MAX_US`], 3 significant digits); values above the range are clamped and
//!   counted in [`LatencyStats::saturated`]; status codes live in a pre-reserved small vector
//!   scanned linearly; failure kinds index a fixed array.
//! - Memory is per shard, never per virtual user: a histogram of this range is about 188 KB, so a
//!   shard costs about `(2 × (steps + routes + flows + 1) + 1) × 188 KB` (≈ 10 MB for 12 steps,
//!   12 routes and one flow), whatever the number of virtual users. A route that gets a response
//!   over a VU's own connection adds its connection figures ([`ConnectionStats`]: three more
//!   histograms, about 560 KB) once per shard, at its first such response.
//! - Timeline points keep a compact 2-significant-digit histogram sized to that second's largest
//!   value (typically 5–15 KB), so an hour of timeline costs tens of MB, not hundreds.

mod connection;
mod failure;
mod hub;
mod samples;
mod stats;
mod timeline;

use std::sync::Arc;
use std::time::Duration;

use hdrhistogram::Histogram;

pub use connection::{ConnSample, ConnectionStats};
pub use failure::FailureKind;
pub use hub::{LiveCounters, MetricsHub, TickSnapshot};
pub use samples::{FailureSample, KindSamples, SAMPLES_PER_KIND, SampleStore};
pub use stats::{LatencyStats, STATUS_CAPACITY, ThrottleCounts, merge_histogram};
pub use timeline::{TIMELINE_SIGNIFICANT_DIGITS, TimelinePoint};

/// Highest latency a histogram tracks, in microseconds (one hour). Larger values are clamped to it
/// and counted as saturated.
pub const LATENCY_MAX_US: u64 = 3_600_000_000;

/// Significant decimal digits of every step, route and iteration histogram.
pub const LATENCY_SIGNIFICANT_DIGITS: u8 = 3;

/// A histogram for latencies in microseconds: 1 µs .. [`LATENCY_MAX_US`], 3 significant digits.
pub fn new_latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, LATENCY_MAX_US, LATENCY_SIGNIFICANT_DIGITS)
        .expect("constant bounds: low 1, high far above 2, 3 significant digits")
}

/// A latency histogram holding `values` (test data).
#[cfg(test)]
pub(crate) fn histogram_of(values: impl IntoIterator<Item = u64>) -> Histogram<u64> {
    let mut histogram = new_latency_histogram();
    for value in values {
        histogram.saturating_record(value);
    }
    histogram
}

/// Index of a step in [`MetricsLayout::steps`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StepId(pub u32);

/// Index of a flow in [`MetricsLayout::flows`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FlowId(pub u32);

/// Index of a route in [`MetricsLayout::routes`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RouteId(pub u32);

/// Human names of one step, carried into the report.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StepInfo {
    /// The step's `name` from the scenario.
    pub name: String,
    /// The flow the step belongs to.
    pub flow: String,
    /// A pause-only step (`- think: 2s`): it sends nothing, records nothing, and is left out of
    /// the report's step tables (a count of 0 would read as a step that never ran).
    pub pause: bool,
}

/// What the metrics are keyed by: every step and every route of the run, indexed by
/// [`StepId`] and [`RouteId`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MetricsLayout {
    /// Steps in `StepId` order.
    pub steps: Vec<StepInfo>,
    /// Routes as "METHOD /path/{template}" (e.g. "GET /chats/{chatId}") in `RouteId` order.
    pub routes: Vec<String>,
    /// Flow names in `FlowId` order (each flow's iterations get their own histogram).
    pub flows: Vec<String>,
}

/// One finished HTTP request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestSample {
    /// Route (method + path template) of the request.
    pub route: RouteId,
    /// The step that sent it, whose body byte counts it adds to too;
    /// `None` for a request of no step.
    pub step: Option<StepId>,
    /// HTTP status, if a response arrived.
    pub status: Option<u16>,
    /// Why the request failed, if it did.
    pub failure: Option<FailureKind>,
    /// Latency from the actual send, in microseconds.
    pub latency_us: u64,
    /// Latency from the intended start (coordinated-omission corrected), in microseconds.
    pub corrected_us: u64,
    /// Request body bytes sent (HTTP head and framing not counted).
    pub bytes_sent: u64,
    /// Response body bytes received (HTTP head and framing not counted).
    pub bytes_received: u64,
    /// The target throttled it (429, or 503 with `Retry-After`); counted
    /// apart whatever `failure` says.
    pub throttled: bool,
    /// Its response was checked against the API's schema (`--schema`).
    pub schema_checked: bool,
    /// How its connection was set up; `None` when it did not connect over a
    /// VU's own connection (a connect failure, or the shared pool).
    pub connection: Option<ConnSample>,
}

/// One finished step (for a plain request step: that request; for a `wait_until` step: the whole
/// wait).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StepSample {
    /// The step.
    pub step: StepId,
    /// Whether the step succeeded.
    pub ok: bool,
    /// Why the step failed, if it did.
    pub failure: Option<FailureKind>,
    /// Duration from the actual start, in microseconds.
    pub duration_us: u64,
    /// Duration from the intended start (coordinated-omission corrected), in microseconds.
    pub corrected_us: u64,
}

/// Everything measured in a run, merged across shards; the input of `report::build`.
#[derive(Clone, Debug)]
pub struct RunMetrics {
    /// Names of steps and routes, indexing `steps` and `routes`.
    pub layout: Arc<MetricsLayout>,
    /// Per step, in `StepId` order.
    pub steps: Vec<LatencyStats>,
    /// Per route, in `RouteId` order.
    pub routes: Vec<LatencyStats>,
    /// Whole iterations (the lifecycle latency).
    pub iteration: LatencyStats,
    /// Iterations per flow, in `FlowId` order (each also counted in `iteration`).
    pub flows: Vec<LatencyStats>,
    /// One point per tick, in time order.
    pub timeline: Vec<TimelinePoint>,
    /// Open-model arrivals that found no free virtual user.
    pub dropped: u64,
    /// Iterations started: each is finished (in `iteration`) or cut off.
    pub iterations_started: u64,
    /// Iterations still running when the run was aborted.
    pub cut_off_iterations: u64,
    /// Requests in flight when the run was aborted.
    pub cut_off_requests: u64,
    /// Iterations that met throttling (a throttled response in any step).
    pub throttled_iterations: u64,
    /// Why steps failed: the first samples per step and failure kind, with their counts.
    pub failure_samples: Vec<KindSamples>,
    /// Open model: how late the generator itself got to each arrival, µs.
    pub scheduling_lag_us: Option<Histogram<u64>>,
    /// Time from run start to `finish`.
    pub elapsed: Duration,
}

impl RunMetrics {
    /// Requests over all routes.
    pub fn total_requests(&self) -> u64 {
        self.routes.iter().map(|stats| stats.count).sum()
    }

    /// Failed requests over all routes.
    pub fn total_errors(&self) -> u64 {
        self.routes.iter().map(|stats| stats.errors).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_histogram_covers_one_microsecond_to_one_hour_at_three_digits() {
        let mut histogram = new_latency_histogram();
        assert!(histogram.record(LATENCY_MAX_US).is_ok());
        assert!(histogram.record(1).is_ok());
        assert_eq!(histogram.sigfig(), 3);
        // The whole point of a fixed range: a value beyond it is refused, not a resize.
        assert!(histogram.record(LATENCY_MAX_US * 2).is_err());
    }

    #[test]
    fn percentiles_of_a_known_uniform_distribution_are_within_hdr_precision() {
        let mut stats = LatencyStats::new();
        for value in 1..=10_000u64 {
            stats.record(Some(200), None, false, value, value);
        }
        for (quantile, expected) in [(0.5, 5_000.0), (0.9, 9_000.0), (0.99, 9_900.0)] {
            let got = stats.latency_us.value_at_quantile(quantile) as f64;
            // 3 significant digits: relative error at most 1/1024 of the value's magnitude.
            assert!(
                (got - expected).abs() / expected < 0.002,
                "p{quantile}: got {got}, expected {expected}"
            );
        }
        assert_eq!(stats.latency_us.min(), 1);
        let max = stats.latency_us.max() as f64;
        assert!((max - 10_000.0).abs() / 10_000.0 < 0.002, "max {max}");
        assert!((stats.latency_us.mean() - 5_000.5).abs() < 5.0);
    }
}
