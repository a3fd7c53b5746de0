//! Closed workload: the plan's virtual users (this shard's part of the whole
//! run's VU schedule, [`crate::plan::VuSpan`]), each started at its time with
//! its whole-run number and looping over iterations until told to stop.
//!
//! Ramp-down stops the most recently started users after their current
//! iteration, as k6's ramping-vus does.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::session::Session;
use super::virtual_user::Runner;
use crate::plan::ClosedPlan;

/// How often the controller compares running VUs with the plan.
const CONTROL_TICK: Duration = Duration::from_millis(50);

/// Drives the closed model until the plan ends, the iteration budget is spent
/// or `stop` is cancelled. VU tasks are spawned on `tracker`. Returns the
/// planned number of iterations, when the plan fixes one.
pub async fn run(
    runner: Arc<Runner>,
    plan: ClosedPlan,
    seed: u64,
    stop: CancellationToken,
    tracker: TaskTracker,
    threads: &[tokio::runtime::Handle],
) -> Option<u64> {
    let budget = plan.iterations.map(|n| Arc::new(AtomicU64::new(n)));
    // This shard's VUs started so far (the next to start is `plan.vus[started]`), and the
    // stop time and token of each one still wanted.
    let mut started = 0;
    let mut running: Vec<(Option<Duration>, CancellationToken)> = Vec::new();
    // tokio's clock (the same as std's outside tests), so that paused
    // time drives the ramp in the engine's tests.
    let start = tokio::time::Instant::now();
    let mut tick = tokio::time::interval(CONTROL_TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = stop.cancelled() => break,
        }
        let elapsed = start.elapsed();
        if plan.ramp.total().is_some_and(|total| elapsed >= total) {
            break;
        }
        let spent = budget
            .as_ref()
            .is_some_and(|b| b.load(Ordering::Relaxed) == 0);
        if spent && tracker.is_empty() {
            break;
        }
        while let Some(span) = plan
            .vus
            .get(started)
            .filter(|s| !spent && s.start <= elapsed)
        {
            started += 1;
            if !span.runs_at(elapsed) {
                continue; // started and stopped again between two ticks
            }
            let vu_stop = stop.child_token();
            running.push((span.stop, vu_stop.clone()));
            let session = runner.session(span.vu, seed);
            let vu = vu_loop(runner.clone(), session, vu_stop, budget.clone());
            // Spread by the shard's own count: its VU numbers are every N-th of the run's.
            match threads.get(started % threads.len().max(1)) {
                Some(handle) => tracker.spawn_on(vu, handle),
                None => tracker.spawn(vu),
            };
        }
        // Ramp-down: the VUs whose stop has come finish their current iteration.
        running.retain(|(at, token)| {
            let keep = at.is_none_or(|at| elapsed < at);
            if !keep {
                token.cancel();
            }
            keep
        });
    }
    stop.cancel();
    plan.iterations
}

/// One virtual user's task: iterations until stopped or out of budget.
///
/// Not an `async fn`: that would keep the session (264 bytes) twice in the
/// task, as its argument and as the body's own binding; the `async move`
/// block holds it once.
#[allow(clippy::manual_async_fn)] // see above: the async fn form holds the session twice
pub(super) fn vu_loop(
    runner: Arc<Runner>,
    mut session: Session,
    stop: CancellationToken,
    budget: Option<Arc<AtomicU64>>,
) -> impl Future<Output = ()> {
    async move {
        let live = runner.hub.live();
        live.vu_started();
        while !stop.is_cancelled() && !runner.is_aborted(&session) {
            if let Some(b) = &budget
                && b.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                    .is_err()
            {
                break;
            }
            runner.run_iteration(&mut session, None).await;
        }
        live.vu_stopped();
    }
}
