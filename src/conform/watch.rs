//! The suite as it runs, seen from outside the task that drives it: how many
//! checks are done and failed (the app prints them once a second), and
//! whether the suite gave up on a target that does not answer.
//!
//! Every request's outcome is counted: one that got a whole response (any
//! status, or a body cut off by a connection that ended) proves the target
//! answers; one that got none (a timeout, a refused or failed connection,
//! or headers and then a body that did not complete in time: a stall or a
//! drip) adds to a run of silent requests. The suite gives up after [`GIVE_UP_SILENT`] of them in a row
//! when nothing ever answered, or [`GIVE_UP_STOPPED`] in a row when the
//! target answered before, and sends nothing more.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};

use tokio_util::sync::CancellationToken;

/// Requests in a row without a response, none ever answered, after which
/// the suite stops: at most 45 s of 15 s timeouts.
pub const GIVE_UP_SILENT: usize = 3;
/// Requests in a row without a response, after the target answered before,
/// after which the suite stops: at most 150 s of 15 s timeouts.
pub const GIVE_UP_STOPPED: usize = 10;

/// Counts shared between the checker and whoever watches it.
#[derive(Debug, Default)]
pub struct Watch {
    checks: AtomicUsize,
    failed: AtomicUsize,
    answered: AtomicBool,
    silent: AtomicUsize,
    last: Mutex<String>,
    gave_up: Mutex<Option<String>>,
    stop: CancellationToken,
}

impl Watch {
    /// A request got a response (`Ok`), or none (`Err`, why): may give up.
    pub(super) fn exchanged(&self, outcome: Result<(), &str>) {
        let Err(why) = outcome else {
            self.answered.store(true, Relaxed);
            self.silent.store(0, Relaxed);
            return;
        };
        let silent = self.silent.fetch_add(1, Relaxed) + 1;
        let answered = self.answered.load(Relaxed);
        let reason = if !answered && silent >= GIVE_UP_SILENT {
            format!(
                "the target does not answer: {silent} requests in a row got no HTTP response \
                 (the last: {why}) and none ever did"
            )
        } else if answered && silent >= GIVE_UP_STOPPED {
            format!(
                "the target stopped answering: {silent} requests in a row got no HTTP response \
                 (the last: {why})"
            )
        } else {
            return;
        };
        if let Ok(mut gave_up) = self.gave_up.lock() {
            gave_up.get_or_insert(reason);
        }
        self.stop.cancel();
    }

    /// A check was recorded (`operation name`, whether it passed).
    pub(super) fn checked(&self, what: String, passed: bool) {
        self.checks.fetch_add(1, Relaxed);
        if !passed {
            self.failed.fetch_add(1, Relaxed);
        }
        if let Ok(mut last) = self.last.lock() {
            *last = what;
        }
    }

    /// A check recorded as passed was failed afterwards.
    pub(super) fn failed_later(&self) {
        self.failed.fetch_add(1, Relaxed);
    }

    /// A check recorded was taken back (made a skipped one).
    pub(super) fn unchecked(&self, failed: bool) {
        self.checks.fetch_sub(1, Relaxed);
        if failed {
            self.failed.fetch_sub(1, Relaxed);
        }
    }

    /// One progress line: checks done and failed, and the last one.
    pub fn line(&self) -> String {
        let last = self.last.lock().map(|l| l.clone()).unwrap_or_default();
        let last = if last.is_empty() {
            "waiting for the first answer".to_owned()
        } else {
            format!("last: {last}")
        };
        format!(
            "{} checks, {} failed; {last}",
            self.checks.load(Relaxed),
            self.failed.load(Relaxed)
        )
    }

    /// Resolves when the suite gives up on the target.
    pub async fn gave_up(&self) {
        self.stop.cancelled().await;
    }

    /// Why the suite gave up, if it did.
    pub fn gave_up_reason(&self) -> Option<String> {
        self.gave_up.lock().ok().and_then(|g| g.clone())
    }

    /// Whether the suite gave up (nothing more is sent).
    pub(super) fn stopped(&self) -> bool {
        self.stop.is_cancelled()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gives_up_after_three_silent_requests_when_nothing_ever_answered() {
        let w = Watch::default();
        w.exchanged(Err("timed out"));
        w.exchanged(Err("timed out"));
        assert!(!w.stopped());
        w.exchanged(Err("cannot connect"));
        assert!(w.stopped());
        assert_eq!(
            w.gave_up_reason().as_deref(),
            Some(
                "the target does not answer: 3 requests in a row got no HTTP response \
                 (the last: cannot connect) and none ever did"
            )
        );
    }

    #[test]
    fn a_target_that_answered_once_gets_ten_silent_requests() {
        let w = Watch::default();
        w.exchanged(Ok(()));
        for _ in 1..GIVE_UP_STOPPED {
            w.exchanged(Err("timed out"));
        }
        assert!(!w.stopped());
        w.exchanged(Ok(()));
        for _ in 1..GIVE_UP_STOPPED {
            w.exchanged(Err("timed out"));
        }
        assert!(!w.stopped(), "an answer restarts the count");
        w.exchanged(Err("timed out"));
        assert!(w.stopped());
        let why = w.gave_up_reason().unwrap();
        assert!(
            why.starts_with("the target stopped answering: 10 requests"),
            "{why}"
        );
    }

    #[test]
    fn the_progress_line_counts_checks_and_failures() {
        let w = Watch::default();
        assert_eq!(w.line(), "0 checks, 0 failed; waiting for the first answer");
        w.checked("getApp get app".to_owned(), true);
        w.checked("getMedia download media".to_owned(), false);
        assert_eq!(
            w.line(),
            "2 checks, 1 failed; last: getMedia download media"
        );
    }
}
