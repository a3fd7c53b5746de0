//! Runs a load plan: starts virtual users (closed model) or schedules
//! arrivals (open model), stops them on time or on interrupt, and gives
//! in-flight iterations a grace period before aborting them.
//!
//! Shutdown: `interrupt` (Ctrl-C, SIGTERM) and the plan's end stop new
//! iterations; `Runner::abort` (grace period over, second Ctrl-C) ends
//! requests and pauses in flight at once.

mod cleanup;
mod closed;
mod explain;
mod failed;
mod in_flight;
mod mask;
mod open;
mod session;
pub mod throttle;
mod verbose;
mod virtual_user;
mod webhook;

/// The run's metrics hub, laid out for `scenario`: one slot per step (pause
/// steps marked), route and flow, in the ids the validated scenario gave
/// them, sharded `shards` ways.
pub fn metrics_hub(scenario: &Scenario, shards: usize) -> Arc<MetricsHub> {
    Arc::new(MetricsHub::new(Arc::new(metrics_layout(scenario)), shards))
}

fn metrics_layout(scenario: &Scenario) -> MetricsLayout {
    MetricsLayout {
        steps: scenario
            .step_names
            .iter()
            .enumerate()
            .map(|(id, (name, flow))| StepInfo {
                name: name.clone(),
                flow: flow.clone(),
                pause: scenario.is_pause(id),
            })
            .collect(),
        routes: scenario.routes.iter().map(|r| r.key.clone()).collect(),
        flows: scenario.flows.iter().map(|f| f.name.clone()).collect(),
    }
}

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use cleanup::{CLEANUP_CONCURRENCY, CleanupStop, CleanupSummary, close_chats};
pub use in_flight::InFlightSnapshot;
pub use mask::{MASKED, is_sensitive_name};
pub use session::Session;
pub use verbose::FailureLog;
pub use virtual_user::{GIVE_UP_AFTER, Runner, connect_backoff, micros, next_poll};
pub use webhook::{EventHub, EventSession};

use crate::metrics::{MetricsHub, MetricsLayout, StepInfo};
use crate::plan::LoadPlan;
use crate::scenario::Scenario;
use crate::schema::RouteViolations;

/// How a run ended and what it leaves to the stages after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOutcome {
    /// Stopped early by an interrupt.
    pub interrupted: bool,
    /// In-flight iterations were cut off (grace period over, or a second interrupt).
    pub aborted: bool,
    /// From the start until the end of the drain (`graceful_stop`).
    pub elapsed: Duration,
    /// The load phase: from the start until the plan stopped starting
    /// iterations (its end, its iteration budget spent, or a stop).
    pub load_elapsed: Duration,
    /// Iterations the plan asked for, when it fixes a number: the closed
    /// model's `iterations`, the open model's arrivals.
    pub planned_iterations: Option<u64>,
    /// Chats that iterations left open, for the clean-up to close.
    pub open_chats: Vec<String>,
    /// Responses that broke the API's schema, by route.
    pub schema_violations: BTreeMap<String, RouteViolations>,
}

/// Drives `plan` to completion.
pub async fn run(
    runner: Arc<Runner>,
    plan: &LoadPlan,
    graceful_stop: Duration,
    seed: u64,
    interrupt: CancellationToken,
) -> RunOutcome {
    // tokio's clock (std's outside tests): paused time drives the run's
    // elapsed times in the engine's tests.
    let started = tokio::time::Instant::now();
    let stop = interrupt.child_token();
    let tracker = TaskTracker::new();
    let vu_threads = VuThreads::start(
        std::thread::available_parallelism()
            .map_or(2, |n| n.get())
            .max(1),
    );
    let threads = vu_threads
        .as_ref()
        .map_or(&[][..], |t| t.handles.as_slice());
    let (vus, stop_vus, tasks) = (runner.clone(), stop.clone(), tracker.clone());
    let planned_iterations = match plan {
        LoadPlan::Closed(p) => closed::run(vus, p.clone(), seed, stop_vus, tasks, threads).await,
        LoadPlan::Open(p) => open::run(vus, p.clone(), seed, stop_vus, tasks).await,
    };
    let load_elapsed = started.elapsed();
    runner.hub.mark_load_end();
    tracker.close();
    tokio::select! {
        () = tracker.wait() => {}
        () = tokio::time::sleep(graceful_stop) => runner.abort.cancel(),
        () = runner.abort.cancelled() => {}
    }
    let aborted = runner.abort.is_cancelled();
    if aborted {
        // Aborted tasks return at their next await; this only bounds a pathological one.
        let _ = tokio::time::timeout(Duration::from_secs(2), tracker.wait()).await;
    }
    drop(vu_threads);
    RunOutcome {
        interrupted: interrupt.is_cancelled(),
        aborted,
        elapsed: started.elapsed(),
        load_elapsed,
        planned_iterations,
        open_chats: runner.take_leftovers(),
        schema_violations: runner.violations_by_route(),
    }
}

/// The threads the closed model's virtual users run on: one current-thread
/// tokio runtime per core, as oha and wrk do. A virtual user, its connection's
/// driver task and its timers then live on one thread, so a response wakes a
/// task on the same thread instead of going through the multi-thread
/// scheduler's stealing and parking; on the 2-core box that was worth about
/// 8% more requests per second on a single route. The threads stop when this
/// is dropped (after the run's tasks have ended or been aborted).
struct VuThreads {
    handles: Vec<tokio::runtime::Handle>,
    stop: CancellationToken,
}

impl VuThreads {
    /// `None` when a thread or runtime cannot be created: the caller then
    /// spawns on the ambient runtime.
    fn start(count: usize) -> Option<VuThreads> {
        let stop = CancellationToken::new();
        let mut threads = VuThreads {
            handles: Vec::with_capacity(count),
            stop: stop.clone(),
        };
        for i in 0..count {
            let (tx, rx) = std::sync::mpsc::channel();
            let stop = stop.clone();
            std::thread::Builder::new()
                .name(format!("chatload-vu-{i}"))
                .spawn(move || {
                    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    else {
                        return;
                    };
                    if tx.send(rt.handle().clone()).is_ok() {
                        rt.block_on(stop.cancelled());
                    }
                })
                .ok()?;
            threads.handles.push(rx.recv().ok()?);
        }
        Some(threads)
    }
}

impl Drop for VuThreads {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}
