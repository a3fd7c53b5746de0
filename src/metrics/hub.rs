//! [`MetricsHub`]: the recorder shared by every virtual user, sharded per worker thread.
//!
//! Virtual users call `record_*` after each request, step and iteration; one ticker task calls
//! [`MetricsHub::tick`] about once per second and [`MetricsHub::finish`] once at the end. Live
//! counters for the progress display are plain relaxed atomics ([`LiveCounters`]).
//!
//! Why shards and not one recorder per virtual user: 10,000 virtual users with their own
//! histogram sets would need gigabytes; one set per worker thread costs a few MB each and keeps
//! the hot path free of shared locks, because each thread sticks to its own shard.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;

use hdrhistogram::Histogram;

use super::timeline::{compact_histogram, second_label};
use super::{
    FailureKind, FailureSample, FlowId, LatencyStats, MetricsLayout, RequestSample, RouteId,
    RunMetrics, SampleStore, StepId, StepSample, TimelinePoint, new_latency_histogram,
};

/// Source of unique hub ids, so a thread's cached shard slot is never reused for another hub
/// (tests run several hubs in one process). Holds ids only, no run state.
static NEXT_HUB_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// `(hub id, slot)` of the shard this thread last recorded into.
    static SHARD_SLOT: Cell<(u64, usize)> = const { Cell::new((0, 0)) };
}

/// Counters read by the progress display; relaxed atomics, updated on every record.
#[derive(Debug, Default)]
pub struct LiveCounters {
    /// Finished requests.
    pub requests: AtomicU64,
    /// Failed requests.
    pub errors: AtomicU64,
    /// Finished iterations.
    pub iterations: AtomicU64,
    /// Failed iterations.
    pub iteration_errors: AtomicU64,
    /// Open-model arrivals dropped because no virtual user was free.
    pub dropped: AtomicU64,
    /// Iterations started (each ends completed, failed or cut off).
    pub iterations_started: AtomicU64,
    /// Iterations still running when the run was aborted (grace period over, second signal).
    pub cut_off_iterations: AtomicU64,
    /// Requests in flight when the run was aborted: sent, never answered.
    pub cut_off_requests: AtomicU64,
    /// Virtual users currently running (a gauge: see [`LiveCounters::vu_started`]).
    pub active_vus: AtomicU64,
    /// Throttled responses (429, or 503 with `Retry-After`).
    pub throttled: AtomicU64,
    /// Iterations that met throttling.
    pub throttled_iterations: AtomicU64,
}

impl LiveCounters {
    /// Counts a virtual user that started.
    pub fn vu_started(&self) {
        self.active_vus.fetch_add(1, Relaxed);
    }

    /// Counts a virtual user that stopped (never goes below zero).
    pub fn vu_stopped(&self) {
        // fetch_update instead of fetch_sub: an unbalanced call must not wrap to u64::MAX.
        let _ = self
            .active_vus
            .fetch_update(Relaxed, Relaxed, |active| active.checked_sub(1));
    }
}

/// What the progress display shows after a tick.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TickSnapshot {
    /// Time since run start.
    pub elapsed: Duration,
    /// Requests finished so far.
    pub requests_total: u64,
    /// Failed requests so far.
    pub errors_total: u64,
    /// Requests finished since the previous tick.
    pub interval_requests: u64,
    /// `interval_requests` per second of the interval.
    pub interval_rps: f64,
    /// p99 raw latency of the interval's requests, if there were any.
    pub interval_p99_us: Option<u64>,
    /// Iterations finished so far.
    pub iterations_total: u64,
    /// Dropped arrivals so far.
    pub dropped_total: u64,
    /// Throttled responses so far.
    pub throttled_total: u64,
    /// Virtual users running now.
    pub active_vus: u64,
    /// Requests sent and not answered yet (filled in by the engine, see `InFlight`).
    pub in_flight: u64,
    /// How long the oldest request in flight has waited so far.
    pub oldest_in_flight: Option<Duration>,
    /// The load phase is over: the run waits for iterations still running
    /// (`graceful_stop`).
    pub draining: bool,
}

/// Shared by all virtual users (`Arc<MetricsHub>`); see the module docs for the sharding scheme.
#[derive(Debug)]
pub struct MetricsHub {
    layout: Arc<MetricsLayout>,
    /// One per worker thread; locked by its thread on every record and by the ticker once a second.
    shards: Box<[CachePadded<Mutex<Shard>>]>,
    /// Identifies this hub in the threads' cached shard slots.
    hub_id: u64,
    /// Next slot handed to a thread that records into this hub for the first time.
    next_slot: AtomicUsize,
    live: LiveCounters,
    /// Explained step failures; touched only when a step fails.
    samples: SampleStore,
    /// Only the ticker and `finish` lock this; recording never touches it.
    ticker: Mutex<Ticker>,
    /// When the load phase ended (see [`MetricsHub::mark_load_end`]); unset while it runs.
    /// tokio's clock, the engine's: std's outside paused-time tests.
    load_end: OnceLock<tokio::time::Instant>,
    /// The open-model generator's own lag, µs, handed over once at its end.
    scheduling_lag: Mutex<Option<Histogram<u64>>>,
}

/// Keeps each shard's mutex on its own cache lines, so threads on neighbouring shards do not
/// bounce one line between cores.
#[derive(Debug)]
#[repr(align(128))]
struct CachePadded<T>(T);

#[derive(Debug)]
struct Shard {
    steps: Vec<LatencyStats>,
    routes: Vec<LatencyStats>,
    iteration: LatencyStats,
    flows: Vec<LatencyStats>,
    interval: Interval,
}

/// Requests finished since the last tick.
#[derive(Debug)]
struct Interval {
    requests: u64,
    errors: u64,
    latency_us: Histogram<u64>,
}

#[derive(Debug)]
struct Ticker {
    timeline: Vec<TimelinePoint>,
    last_elapsed: Duration,
    last_second: Option<u64>,
    /// Reused to sum the shards' interval histograms, so a tick allocates only the compact point.
    scratch: Histogram<u64>,
}

impl Shard {
    fn new(layout: &MetricsLayout) -> Self {
        Self {
            steps: (0..layout.steps.len())
                .map(|_| LatencyStats::new())
                .collect(),
            routes: (0..layout.routes.len())
                .map(|_| LatencyStats::new())
                .collect(),
            iteration: LatencyStats::new(),
            flows: (0..layout.flows.len())
                .map(|_| LatencyStats::new())
                .collect(),
            interval: Interval {
                requests: 0,
                errors: 0,
                latency_us: new_latency_histogram(),
            },
        }
    }
}

/// Locks `mutex`, ignoring poisoning: a panic while recording leaves at worst one sample
/// half-counted, which is better than losing the whole run's metrics.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl MetricsHub {
    /// A hub for the steps and routes of `layout`, with `shards` shards (use the number of worker
    /// threads; 0 is treated as 1).
    pub fn new(layout: Arc<MetricsLayout>, shards: usize) -> Self {
        let shards = (0..shards.max(1))
            .map(|_| CachePadded(Mutex::new(Shard::new(&layout))))
            .collect();
        let samples = SampleStore::new(layout.steps.len());
        Self {
            layout,
            shards,
            hub_id: NEXT_HUB_ID.fetch_add(1, Relaxed),
            next_slot: AtomicUsize::new(0),
            live: LiveCounters::default(),
            samples,
            ticker: Mutex::new(Ticker {
                timeline: Vec::new(),
                last_elapsed: Duration::ZERO,
                last_second: None,
                scratch: new_latency_histogram(),
            }),
            load_end: OnceLock::new(),
            scheduling_lag: Mutex::new(None),
        }
    }

    /// The open-model generator's own lag per arrival, µs (set once, at the
    /// end of the arrivals).
    pub fn set_scheduling_lag(&self, lag_us: Histogram<u64>) {
        *lock(&self.scheduling_lag) = Some(lag_us);
    }

    /// Notes the end of the load phase (once; later calls are ignored).
    /// From then on a sample counts towards the rates only when it started
    /// before that end, so rates are of what the load phase sent: neither
    /// the requests still in flight at its end are lost (they finish in the
    /// drain) nor what the drain sends added.
    pub fn mark_load_end(&self) {
        let _ = self.load_end.set(tokio::time::Instant::now());
    }

    /// Whether a sample that took `took_us` and is recorded now started during the load phase.
    /// While the load runs, one atomic load; only in the drain does it read the clock.
    fn started_in_load(&self, took_us: u64) -> u64 {
        let Some(end) = self.load_end.get() else {
            return 1;
        };
        let started = tokio::time::Instant::now().checked_sub(Duration::from_micros(took_us));
        u64::from(started.is_none_or(|started| started < *end))
    }

    /// The layout the hub was built for.
    pub fn layout(&self) -> &Arc<MetricsLayout> {
        &self.layout
    }

    /// Live counters for progress and for the engine's active-VU gauge.
    pub fn live(&self) -> &LiveCounters {
        &self.live
    }

    /// Records one finished request: per-route stats, the current interval and live counters.
    pub fn record_request(&self, sample: &RequestSample) {
        let is_error = sample.failure.is_some();
        let in_load = self.started_in_load(sample.latency_us);
        {
            let mut shard = self.shard();
            let route = sample.route.0 as usize;
            debug_assert!(route < shard.routes.len(), "RouteId {route} not in layout");
            if let Some(stats) = shard.routes.get_mut(route) {
                stats.record(
                    sample.status,
                    sample.failure,
                    false,
                    sample.latency_us,
                    sample.corrected_us,
                );
                stats.in_load += in_load;
                stats.record_bytes(sample.bytes_sent, sample.bytes_received);
                stats.throttle.throttled += u64::from(sample.throttled);
                stats.schema_checked += u64::from(sample.schema_checked);
                if let Some(conn) = &sample.connection {
                    stats.record_connection(conn);
                }
            }
            // The step's body bytes: every request it sent (throttled
            // re-sends and `wait_until` polls too), under the same lock.
            if let Some(stats) = sample
                .step
                .and_then(|step| shard.steps.get_mut(step.0 as usize))
            {
                stats.record_bytes(sample.bytes_sent, sample.bytes_received);
            }
            let interval = &mut shard.interval;
            interval.requests += 1;
            interval.errors += u64::from(is_error);
            interval
                .latency_us
                .saturating_record(sample.latency_us.min(super::LATENCY_MAX_US));
        }
        self.live.requests.fetch_add(1, Relaxed);
        if is_error {
            self.live.errors.fetch_add(1, Relaxed);
        }
        if sample.throttled {
            self.live.throttled.fetch_add(1, Relaxed);
        }
    }

    /// Records a wait of `wait_us` before re-sending a throttled request
    /// on `route` (only ever on the throttled path).
    pub fn record_throttle_wait(&self, route: RouteId, wait_us: u64) {
        let mut shard = self.shard();
        if let Some(stats) = shard.routes.get_mut(route.0 as usize) {
            stats.throttle.add_wait(wait_us);
        }
    }

    /// Counts an iteration that met throttling.
    pub fn record_throttled_iteration(&self) {
        self.live.throttled_iterations.fetch_add(1, Relaxed);
    }

    /// Records one finished step into its per-step stats.
    pub fn record_step(&self, sample: &StepSample) {
        let in_load = self.started_in_load(sample.duration_us);
        let mut shard = self.shard();
        let step = sample.step.0 as usize;
        debug_assert!(step < shard.steps.len(), "StepId {step} not in layout");
        if let Some(stats) = shard.steps.get_mut(step) {
            stats.record(
                None,
                sample.failure,
                !sample.ok,
                sample.duration_us,
                sample.corrected_us,
            );
            stats.in_load += in_load;
        }
    }

    /// Records one step that failed before it sent its request (a template
    /// read an unset variable): counted and failed, with no latency sample.
    pub fn record_untimed_step(&self, step: StepId, failure: FailureKind) {
        let mut shard = self.shard();
        if let Some(stats) = shard.steps.get_mut(step.0 as usize) {
            stats.record_untimed(failure);
        }
    }

    /// Explains a failed step (recorded with [`MetricsHub::record_step`]) of `kind`: `explain`
    /// runs only while that step and kind have fewer than [`super::SAMPLES_PER_KIND`] samples,
    /// so later failures cost one atomic add.
    pub fn record_step_failure(
        &self,
        step: StepId,
        kind: FailureKind,
        explain: impl FnOnce() -> FailureSample,
    ) {
        self.samples.record(step, kind, explain);
    }

    /// Records one finished iteration (the whole lifecycle).
    pub fn record_iteration(&self, ok: bool, latency_us: u64, corrected_us: u64) {
        self.record_flow_iteration(None, ok, latency_us, corrected_us);
    }

    /// Records one finished iteration of `flow` (`None`: no flow was picked, e.g. no feed row):
    /// into the whole-iteration stats and the flow's own, under one shard lock.
    pub fn record_flow_iteration(
        &self,
        flow: Option<FlowId>,
        ok: bool,
        latency_us: u64,
        corrected_us: u64,
    ) {
        let in_load = self.started_in_load(latency_us);
        {
            let mut shard = self.shard();
            shard
                .iteration
                .record(None, None, !ok, latency_us, corrected_us);
            shard.iteration.in_load += in_load;
            if let Some(stats) = flow.and_then(|f| shard.flows.get_mut(f.0 as usize)) {
                stats.record(None, None, !ok, latency_us, corrected_us);
                stats.in_load += in_load;
            }
        }
        self.live.iterations.fetch_add(1, Relaxed);
        if !ok {
            self.live.iteration_errors.fetch_add(1, Relaxed);
        }
    }

    /// Counts an open-model arrival that found no free virtual user.
    pub fn record_dropped(&self) {
        self.live.dropped.fetch_add(1, Relaxed);
    }

    /// Counts an iteration that starts (once per iteration, never per request).
    pub fn record_iteration_started(&self) {
        self.live.iterations_started.fetch_add(1, Relaxed);
    }

    /// Counts an iteration cut off by the run's abort, and its request in
    /// flight if it had one. Happens only when a run is aborted.
    pub fn record_cut_off(&self, request_in_flight: bool) {
        self.live.cut_off_iterations.fetch_add(1, Relaxed);
        if request_in_flight {
            self.live.cut_off_requests.fetch_add(1, Relaxed);
        }
    }

    /// Called by one ticker task about once per second (`elapsed` = time since run start): moves
    /// every shard's interval data into a new [`TimelinePoint`] and returns a snapshot for the
    /// progress display.
    pub fn tick(&self, elapsed: Duration) -> TickSnapshot {
        let mut ticker = lock(&self.ticker);
        let (requests, p99) = self.drain_interval(&mut ticker, elapsed);
        let seconds = elapsed.saturating_sub(ticker.last_elapsed).as_secs_f64();
        ticker.last_elapsed = elapsed;
        TickSnapshot {
            elapsed,
            requests_total: self.live.requests.load(Relaxed),
            errors_total: self.live.errors.load(Relaxed),
            interval_requests: requests,
            interval_rps: if seconds > 0.0 {
                requests as f64 / seconds
            } else {
                0.0
            },
            interval_p99_us: p99,
            iterations_total: self.live.iterations.load(Relaxed),
            dropped_total: self.live.dropped.load(Relaxed),
            throttled_total: self.live.throttled.load(Relaxed),
            active_vus: self.live.active_vus.load(Relaxed),
            in_flight: 0,
            oldest_in_flight: None,
            draining: self.load_end.get().is_some(),
        }
    }

    /// Final merge across shards; call once, after all virtual users finished. Flushes the last
    /// partial interval into the timeline (unless it saw no requests) and hands the timeline over,
    /// so a second call returns an empty timeline.
    pub fn finish(&self, elapsed: Duration) -> RunMetrics {
        let mut ticker = lock(&self.ticker);
        let has_partial_interval = self
            .shards
            .iter()
            .any(|shard| lock(&shard.0).interval.requests > 0);
        if has_partial_interval {
            self.drain_interval(&mut ticker, elapsed);
        }
        ticker.last_elapsed = elapsed;

        let mut steps: Vec<LatencyStats> = (0..self.layout.steps.len())
            .map(|_| LatencyStats::new())
            .collect();
        let mut routes: Vec<LatencyStats> = (0..self.layout.routes.len())
            .map(|_| LatencyStats::new())
            .collect();
        let mut iteration = LatencyStats::new();
        let mut flows: Vec<LatencyStats> = (0..self.layout.flows.len())
            .map(|_| LatencyStats::new())
            .collect();
        for shard in self.shards.iter() {
            let shard = lock(&shard.0);
            for (total, part) in steps.iter_mut().zip(&shard.steps) {
                total.merge(part);
            }
            for (total, part) in routes.iter_mut().zip(&shard.routes) {
                total.merge(part);
            }
            iteration.merge(&shard.iteration);
            for (total, part) in flows.iter_mut().zip(&shard.flows) {
                total.merge(part);
            }
        }
        RunMetrics {
            layout: Arc::clone(&self.layout),
            steps,
            routes,
            iteration,
            flows,
            timeline: std::mem::take(&mut ticker.timeline),
            dropped: self.live.dropped.load(Relaxed),
            iterations_started: self.live.iterations_started.load(Relaxed),
            cut_off_iterations: self.live.cut_off_iterations.load(Relaxed),
            cut_off_requests: self.live.cut_off_requests.load(Relaxed),
            throttled_iterations: self.live.throttled_iterations.load(Relaxed),
            failure_samples: self.samples.snapshot(),
            scheduling_lag_us: lock(&self.scheduling_lag).clone(),
            elapsed,
        }
    }

    /// Moves every shard's interval into a timeline point; returns (requests, p99 latency).
    fn drain_interval(&self, ticker: &mut Ticker, elapsed: Duration) -> (u64, Option<u64>) {
        let (mut requests, mut errors) = (0, 0);
        for shard in self.shards.iter() {
            let mut shard = lock(&shard.0);
            let interval = &mut shard.interval;
            requests += interval.requests;
            errors += interval.errors;
            ticker
                .scratch
                .add(&interval.latency_us)
                .expect("shard and scratch histograms share one configuration");
            interval.requests = 0;
            interval.errors = 0;
            interval.latency_us.reset();
        }
        let p99 = (!ticker.scratch.is_empty()).then(|| ticker.scratch.value_at_quantile(0.99));
        let second = second_label(elapsed, ticker.last_second);
        ticker.last_second = Some(second);
        let latency_us = compact_histogram(&ticker.scratch);
        ticker.scratch.reset();
        ticker.timeline.push(TimelinePoint {
            second,
            requests,
            errors,
            latency_us,
        });
        (requests, p99)
    }

    /// The shard of the calling thread: assigned round-robin on the thread's first record into
    /// this hub, then reused.
    fn shard(&self) -> MutexGuard<'_, Shard> {
        let slot = SHARD_SLOT.with(|cached| {
            let (hub_id, slot) = cached.get();
            if hub_id == self.hub_id {
                slot
            } else {
                let slot = self.next_slot.fetch_add(1, Relaxed);
                cached.set((self.hub_id, slot));
                slot
            }
        });
        lock(&self.shards[slot % self.shards.len()].0)
    }

    /// Number of shards.
    pub fn shard_count(&self) -> usize {
        self.shards.len()
    }
}

#[cfg(test)]
mod tests;
