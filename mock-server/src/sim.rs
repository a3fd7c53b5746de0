//! Simulated agents' timers: accept/reject after a delay, invitation
//! expiry, and think-time replies.
//!
//! Store rules decide *what* happens and draw the delay from the seeded RNG
//! (`store::Timer`); this module only waits. Each timer is a tokio task that
//! sleeps, then takes the app lock briefly to run the action. Actions
//! tolerate a changed world (chat closed, invitation gone). Timers stop when
//! the server's cancellation token fires.
//!
//! What an action leaves to do (new timers, `chats:assign` decisions) goes
//! to the caller's follow-up, with the lock released: this module knows
//! the store, not the server's state (`AppState::hand_over` passes a
//! follow-up that hands the work over in turn).

use crate::store::{AppHandle, AssignDecision, Timer};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Spawns one task per timer; a task stops early when `cancel` fires, and
/// after its action runs `follow_up` with the timers and decisions the
/// action left. Must be called inside a tokio runtime and never with the
/// app lock held.
pub fn schedule<F>(
    cancel: &CancellationToken,
    app: &Arc<AppHandle>,
    timers: Vec<Timer>,
    follow_up: F,
) where
    F: Fn(&Arc<AppHandle>, Vec<Timer>, Vec<AssignDecision>) + Clone + Send + 'static,
{
    for timer in timers {
        let app = Arc::clone(app);
        let cancel = cancel.clone();
        let follow_up = follow_up.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = tokio::time::sleep(timer.delay) => {}
                () = cancel.cancelled() => return,
            }
            let (timers, decisions) = {
                let mut store = app.lock();
                store.run_timer(&timer.action);
                (store.take_timers(), store.take_decisions())
            };
            // A declined invitation may have moved on to a `chats:assign`
            // decision; it is asked like any other.
            follow_up(&app, timers, decisions);
        });
    }
}
