//! Open workload: iterations start at the plan's arrival times whatever the
//! target's response times, as wrk2 and k6's arrival-rate executors do.
//!
//! At most `max_vus` iterations run at once. An arrival that finds every VU
//! busy waits in a bounded backlog and is measured from its intended start
//! (coordinated-omission correction); one that finds the backlog full is
//! counted as dropped.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::session::Session;
use super::virtual_user::{Runner, micros};
use crate::metrics::{LATENCY_MAX_US, new_latency_histogram};
use crate::plan::OpenPlan;

/// Schedules arrivals until the plan ends or `stop` is cancelled; returns
/// the number of arrivals the plan has (all of them, also those a stop left
/// unscheduled).
pub async fn run(
    runner: Arc<Runner>,
    plan: OpenPlan,
    seed: u64,
    stop: CancellationToken,
    tracker: TaskTracker,
) -> Option<u64> {
    let vu_offset = plan.vu_offset;
    let vus = Arc::new(Semaphore::new(plan.max_vus as usize));
    let in_system = Arc::new(Semaphore::new((plan.max_vus + plan.backlog) as usize));
    let idle: Arc<Mutex<Vec<Session>>> = Arc::new(Mutex::new(Vec::new()));
    let created = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let start = tokio::time::Instant::now();
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
        let lag = micros(tokio::time::Instant::now().saturating_duration_since(intended));
        lag_us.saturating_record(lag.clamp(1, LATENCY_MAX_US));
        n += 1;
        let Ok(slot) = in_system.clone().try_acquire_owned() else {
            runner.hub.record_dropped();
            continue;
        };
        let (runner, vus, idle, created) =
            (runner.clone(), vus.clone(), idle.clone(), created.clone());
        tracker.spawn(async move {
            let _slot = slot;
            let permit = tokio::select! {
                p = vus.acquire_owned() => p.ok(),
                () = runner.abort.cancelled() => None,
            };
            let Some(_permit) = permit else {
                // Still in the backlog when the run ended: it never ran.
                runner.hub.record_dropped();
                return;
            };
            let pooled = idle
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .pop();
            let mut session = pooled.unwrap_or_else(|| {
                let vu = vu_offset + created.fetch_add(1, Ordering::Relaxed) + 1;
                runner.session(vu, seed)
            });
            let live = runner.hub.live();
            live.vu_started();
            runner.run_iteration(&mut session, Some(intended)).await;
            live.vu_stopped();
            idle.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(session);
        });
    }
    stop.cancel();
    runner.hub.set_scheduling_lag(lag_us);
    // Arrivals a stop left unscheduled still belong to the plan.
    while plan.arrival(n).is_some() {
        n += 1;
    }
    Some(n)
}
