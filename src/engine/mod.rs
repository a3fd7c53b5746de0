//! Runs a load plan: starts virtual users (closed model) or schedules
//! arrivals (open model), stops them on time or on interrupt, and gives
//! in-flight iterations a grace period before aborting them.
//!
//! Shutdown: `interrupt` (Ctrl-C, SIGTERM) and the plan's end stop new
//! iterations; `Runner::abort` (grace period over, second Ctrl-C) ends
//! requests and pauses in flight at once.

mod cleanup;
mod closed;
mod open;
mod session;
mod virtual_user;

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use cleanup::{CleanupSummary, close_chats};
pub use session::Session;
pub use virtual_user::{Runner, micros};

use crate::plan::LoadPlan;

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunOutcome {
    /// Stopped early by an interrupt.
    pub interrupted: bool,
    /// In-flight iterations were cut off (grace period over, or a second interrupt).
    pub aborted: bool,
    pub elapsed: Duration,
}

/// Drives `plan` to completion.
pub async fn run(
    runner: Arc<Runner>,
    plan: &LoadPlan,
    graceful_stop: Duration,
    seed: u64,
    interrupt: CancellationToken,
) -> RunOutcome {
    let started = Instant::now();
    let stop = interrupt.child_token();
    let tracker = TaskTracker::new();
    match plan {
        LoadPlan::Closed(p) => {
            closed::run(
                runner.clone(),
                p.clone(),
                seed,
                p.vu_offset,
                stop.clone(),
                tracker.clone(),
            )
            .await
        }
        LoadPlan::Open(p) => {
            open::run(
                runner.clone(),
                p.clone(),
                seed,
                p.vu_offset,
                stop.clone(),
                tracker.clone(),
            )
            .await
        }
    }
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
    RunOutcome {
        interrupted: interrupt.is_cancelled(),
        aborted,
        elapsed: started.elapsed(),
    }
}
