//! Simulated agents' timers: accept/reject after a delay, invitation
//! expiry, and think-time replies.
//!
//! Store rules decide *what* happens and draw the delay from the seeded RNG
//! (`store::Timer`); this module only waits. Each timer is a tokio task that
//! sleeps, then takes the app lock briefly to run the action. Actions
//! tolerate a changed world (chat closed, invitation gone). Timers stop when
//! the server's cancellation token fires.

use crate::state::AppState;
use crate::store::{AppHandle, Timer};
use std::sync::Arc;

/// Spawns one task per timer. Must be called inside a tokio runtime and
/// never with the app lock held.
pub fn schedule(state: &AppState, app: &Arc<AppHandle>, timers: Vec<Timer>) {
    for timer in timers {
        let app = Arc::clone(app);
        let state = state.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = tokio::time::sleep(timer.delay) => {}
                () = state.cancel_token().cancelled() => return,
            }
            let (timers, decisions) = {
                let mut store = app.lock();
                store.run_timer(&timer.action);
                (store.take_timers(), store.take_decisions())
            };
            // A declined invitation may have moved on to a `chats:assign`
            // decision; it is asked like any other.
            state.hand_over(&app, timers, decisions);
        });
    }
}
