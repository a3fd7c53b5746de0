//! Simulated agents' timers: accept/reject after a delay, invitation
//! expiry, and think-time replies.
//!
//! Store rules decide *what* happens and draw the delay from the seeded RNG
//! (`store::Timer`); this module only waits. Each timer is a tokio task that
//! sleeps, then takes the app lock briefly to run the action. Actions
//! tolerate a changed world (chat closed, invitation gone). Timers stop when
//! the server's cancellation token fires.

use crate::store::{AppHandle, Timer};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Spawns one task per timer. Must be called inside a tokio runtime and
/// never with the app lock held.
pub fn schedule(cancel: &CancellationToken, app: &Arc<AppHandle>, timers: Vec<Timer>) {
    for timer in timers {
        let app = Arc::clone(app);
        let cancel = cancel.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = tokio::time::sleep(timer.delay) => {}
                () = cancel.cancelled() => return,
            }
            let next = {
                let mut store = app.lock();
                store.run_timer(&timer.action);
                store.take_timers()
            };
            if !next.is_empty() {
                schedule(&cancel, &app, next);
            }
        });
    }
}
