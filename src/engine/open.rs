//! Open workload: iterations start at the plan's arrival times whatever the
//! target's response times, as wrk2 and k6's arrival-rate executors do.
//!
//! At most `max_vus` iterations run at once. An arrival that finds every VU
//! busy waits in a bounded backlog and is measured from its intended start
//! (coordinated-omission correction); one that finds the backlog full is
//! counted as dropped.
//!
//! A waiting arrival is only its intended start, 8 bytes in the generator's
//! own queue (no lock: only the generator touches it); its iteration's task
//! and state are made when a VU takes it, so the backlog's memory is about
//! 8-16 bytes per waiting arrival (the queue grows by doubling), not a task
//! per arrival. The generator hands freed VUs to the oldest waiting arrival
//! first, so the backlog is served in arrival order.
//!
//! The load phase lasts the plan's whole length, not until its last arrival
//! (rates are over it, and a shard with few arrivals must not look like a
//! short, fast run). When it ends, every arrival still in the backlog is
//! dropped: none starts during the drain (`graceful_stop`), which only lets
//! the iterations already running finish.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::session::Session;
use super::virtual_user::{Runner, micros};
use crate::metrics::{LATENCY_MAX_US, new_latency_histogram};
use crate::plan::OpenPlan;

/// Schedules arrivals until the plan ends or `stop` is cancelled, then
/// cancels `stop` and drops the arrivals still waiting for a VU; returns
/// the number of arrivals the plan has (all of them, also those a stop left
/// unscheduled).
pub async fn run(
    runner: Arc<Runner>,
    plan: OpenPlan,
    seed: u64,
    stop: CancellationToken,
    tracker: TaskTracker,
) -> Option<u64> {
    let mut generator = Generator {
        arrivals: Arc::new(Arrivals {
            runner: Arc::clone(&runner),
            idle: Mutex::new(Vec::new()),
            created: AtomicU64::new(0),
            vu_offset: plan.vu_offset,
            seed,
        }),
        vus: Arc::new(Semaphore::new(plan.max_vus as usize)),
        backlog: Backlog::new(plan.backlog),
        tracker,
        start: Instant::now(),
    };
    let end = plan.ramp.total().map(|total| generator.start + total);
    // The generator's own lag: when it got to an arrival minus when the
    // arrival was due (timer and scheduler delay, not the backlog).
    let mut lag_us = new_latency_histogram();
    let mut n = 0;
    let mut next = plan.arrival(0);
    // The next arrival, else the end of the load phase (the plan's length,
    // however early its last arrival). `biased`: a stop first, then a due
    // arrival or the end (which takes freed VUs itself, oldest waiting
    // arrival first), and only then a freed VU for the backlog, so at the
    // end a VU freed at the same moment starts nothing.
    while let Some(due) = next.map(|offset| generator.start + offset).or(end) {
        tokio::select! {
            biased;
            () = stop.cancelled() => break,
            () = runner.abort.cancelled() => break,
            () = tokio::time::sleep_until(due) => {}
            vu = Arc::clone(&generator.vus).acquire_owned(), if !generator.backlog.is_empty() => {
                if let Ok(vu) = vu {
                    generator.start_oldest(vu);
                }
                continue;
            }
        }
        let Some(offset) = next else { break };
        let lag = micros(Instant::now().saturating_duration_since(due));
        lag_us.saturating_record(lag.clamp(1, LATENCY_MAX_US));
        n += 1;
        next = plan.arrival(n);
        generator.arrive(offset);
    }
    stop.cancel();
    generator.drop_waiting();
    runner.hub.set_scheduling_lag(lag_us);
    // Arrivals a stop left unscheduled still belong to the plan.
    while plan.arrival(n).is_some() {
        n += 1;
    }
    Some(n)
}

/// The arrival generator's state: the VUs, the backlog (its alone), and
/// where iterations are spawned.
struct Generator {
    arrivals: Arc<Arrivals>,
    /// One permit per VU: at most `max_vus` iterations run at once.
    vus: Arc<Semaphore>,
    backlog: Backlog,
    tracker: TaskTracker,
    /// The plan's time 0: an arrival's intended start is `start + offset`.
    start: Instant,
}

impl Generator {
    /// An arrival due `offset` after the start: VUs freed since the last
    /// event go to the waiting arrivals first; then it runs on a free VU if
    /// no arrival waits before it, else waits, else (backlog full) is
    /// dropped.
    fn arrive(&mut self, offset: Duration) {
        while !self.backlog.is_empty() {
            let Ok(vu) = Arc::clone(&self.vus).try_acquire_owned() else {
                break;
            };
            self.start_oldest(vu);
        }
        if self.backlog.is_empty()
            && let Ok(vu) = Arc::clone(&self.vus).try_acquire_owned()
        {
            self.spawn(vu, offset);
        } else if !self.backlog.push(offset) {
            self.arrivals.runner.hub.record_dropped();
        }
    }

    /// Starts the oldest waiting arrival on `vu`.
    fn start_oldest(&mut self, vu: OwnedSemaphorePermit) {
        if let Some(offset) = self.backlog.pop() {
            self.spawn(vu, offset);
        }
    }

    fn spawn(&self, vu: OwnedSemaphorePermit, offset: Duration) {
        let intended = self.start + offset;
        let arrivals = Arc::clone(&self.arrivals);
        self.tracker.spawn(arrivals.serve(vu, intended));
    }

    /// The load phase is over: every arrival still waiting is dropped.
    fn drop_waiting(&mut self) {
        while self.backlog.pop().is_some() {
            self.arrivals.runner.hub.record_dropped();
        }
    }
}

/// Arrivals waiting for a VU, oldest first, each only its intended start
/// (nanoseconds after the plan's start: exact up to 584 years).
struct Backlog {
    waiting: VecDeque<u64>,
    cap: usize,
}

impl Backlog {
    fn new(cap: u32) -> Backlog {
        Backlog {
            waiting: VecDeque::new(),
            cap: cap as usize,
        }
    }

    fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    /// Queues an arrival due `offset` after the start; `false` when the
    /// backlog is full.
    fn push(&mut self, offset: Duration) -> bool {
        if self.waiting.len() >= self.cap {
            return false;
        }
        let nanos = u64::try_from(offset.as_nanos()).unwrap_or(u64::MAX);
        self.waiting.push_back(nanos);
        true
    }

    /// The oldest waiting arrival's offset from the start.
    fn pop(&mut self) -> Option<Duration> {
        self.waiting.pop_front().map(Duration::from_nanos)
    }
}

/// What every running arrival shares: the sessions of finished iterations
/// for the next arrivals to reuse.
struct Arrivals {
    runner: Arc<Runner>,
    /// Sessions no iteration is using.
    idle: Mutex<Vec<Session>>,
    /// Sessions made so far (a new one gets the next VU number).
    created: AtomicU64,
    vu_offset: u64,
    seed: u64,
}

impl Arrivals {
    /// Runs the iteration of an arrival due at `intended` on `_vu`, which
    /// it frees when done.
    async fn serve(self: Arc<Self>, _vu: OwnedSemaphorePermit, intended: Instant) {
        let mut session = self.session();
        let live = self.runner.hub.live();
        live.vu_started();
        self.runner
            .run_iteration(&mut session, Some(intended))
            .await;
        live.vu_stopped();
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(session);
    }

    /// An idle session, else a new one for the next VU number.
    fn session(&self) -> Session {
        let pooled = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        pooled.unwrap_or_else(|| {
            let vu = self.vu_offset + self.created.fetch_add(1, Ordering::Relaxed) + 1;
            self.runner.session(vu, self.seed)
        })
    }
}

#[cfg(test)]
mod tests;
