//! Open workload: iterations start at the plan's arrival times whatever the
//! target's response times, as wrk2 and k6's arrival-rate executors do.
//!
//! At most `max_vus` iterations run at once. An arrival that finds every VU
//! busy waits in a bounded backlog and is measured from its intended start
//! (coordinated-omission correction); one that finds the backlog full is
//! counted as dropped.
//!
//! The load phase lasts the plan's whole length, not until its last arrival
//! (rates are over it, and a shard with few arrivals must not look like a
//! short, fast run). When it ends, every arrival still in the backlog is
//! dropped: none starts during the drain (`graceful_stop`), which only lets
//! the iterations already running finish.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::session::Session;
use super::virtual_user::{Runner, micros};
use crate::metrics::{LATENCY_MAX_US, new_latency_histogram};
use crate::plan::OpenPlan;

/// Schedules arrivals until the plan ends or `stop` is cancelled, then
/// cancels `stop`, which drops the arrivals still waiting for a VU; returns
/// the number of arrivals the plan has (all of them, also those a stop left
/// unscheduled).
pub async fn run(
    runner: Arc<Runner>,
    plan: OpenPlan,
    seed: u64,
    stop: CancellationToken,
    tracker: TaskTracker,
) -> Option<u64> {
    let arrivals = Arc::new(Arrivals {
        runner: Arc::clone(&runner),
        vus: Arc::new(Semaphore::new(plan.max_vus as usize)),
        idle: Mutex::new(Vec::new()),
        created: AtomicU64::new(0),
        vu_offset: plan.vu_offset,
        seed,
        load_over: stop.clone(),
    });
    let in_system = Arc::new(Semaphore::new((plan.max_vus + plan.backlog) as usize));
    let start = Instant::now();
    // The generator's own lag: when it got to an arrival minus when the
    // arrival was due (timer and scheduler delay, not the backlog).
    let mut lag_us = new_latency_histogram();
    let mut n = 0;
    while let Some(offset) = plan.arrival(n) {
        let intended = start + offset;
        tokio::select! {
            () = tokio::time::sleep_until(intended) => {}
            () = stop.cancelled() => break,
        }
        let lag = micros(Instant::now().saturating_duration_since(intended));
        lag_us.saturating_record(lag.clamp(1, LATENCY_MAX_US));
        n += 1;
        let Ok(slot) = in_system.clone().try_acquire_owned() else {
            runner.hub.record_dropped();
            continue;
        };
        // A free VU takes the arrival now; else it waits in the backlog.
        let vu = Arc::clone(&arrivals.vus).try_acquire_owned().ok();
        tracker.spawn(Arc::clone(&arrivals).serve(slot, vu, intended));
    }
    // The load phase is the plan's length, however early its last arrival.
    if let Some(total) = plan.ramp.total() {
        tokio::select! {
            () = tokio::time::sleep_until(start + total) => {}
            () = stop.cancelled() => {}
        }
    }
    stop.cancel();
    runner.hub.set_scheduling_lag(lag_us);
    // Arrivals a stop left unscheduled still belong to the plan.
    while plan.arrival(n).is_some() {
        n += 1;
    }
    Some(n)
}

/// What every arrival shares: the VUs, and the sessions of finished
/// iterations for the next arrivals to reuse.
struct Arrivals {
    runner: Arc<Runner>,
    /// One permit per VU: at most `max_vus` iterations run at once.
    vus: Arc<Semaphore>,
    /// Sessions no iteration is using.
    idle: Mutex<Vec<Session>>,
    /// Sessions made so far (a new one gets the next VU number).
    created: AtomicU64,
    vu_offset: u64,
    seed: u64,
    /// Cancelled when the load phase ends: an arrival still waiting is dropped.
    load_over: CancellationToken,
}

impl Arrivals {
    /// Runs the iteration of an arrival due at `intended` on the VU it took
    /// when it arrived (`vu`), else once one is free, holding its place in
    /// the system (`slot`) meanwhile; counted as dropped when the load phase
    /// ends first. `biased`: once it has ended, a VU freed at the same moment
    /// starts nothing.
    async fn serve(
        self: Arc<Self>,
        slot: OwnedSemaphorePermit,
        vu: Option<OwnedSemaphorePermit>,
        intended: Instant,
    ) {
        let _slot = slot;
        let permit = match vu {
            Some(permit) => Some(permit),
            None => tokio::select! {
                biased;
                () = self.load_over.cancelled() => None,
                () = self.runner.abort.cancelled() => None,
                p = Arc::clone(&self.vus).acquire_owned() => p.ok(),
            },
        };
        let Some(_permit) = permit else {
            // Still in the backlog when the load phase ended: it never runs.
            self.runner.hub.record_dropped();
            return;
        };
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
