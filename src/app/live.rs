//! The live side of a run: the once-a-second progress tick (which also stops a
//! run whose target is unreachable), the ten-times-a-second `abort_on_fail`
//! check and the Ctrl-C/SIGTERM watch (first signal: stop starting iterations;
//! second: abort the ones in flight; once the load is over: end the clean-up,
//! the figures and the verdict untouched; during the settle wait: end it).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::Signals;
use crate::engine::{self, Runner};
use crate::progress::Progress;
use crate::report::ThresholdStop;
use crate::scenario::Scenario;
use crate::verdict::{self, LiveFigures};

/// How often `abort_on_fail` thresholds are checked.
const ABORT_CHECK_EVERY: Duration = Duration::from_millis(100);

/// The progress tick, running until [`Ticker::stop`].
pub(super) struct Ticker {
    done: CancellationToken,
    task: JoinHandle<()>,
    stopped_by: Arc<OnceLock<(usize, ThresholdStop)>>,
}

impl Ticker {
    /// Starts ticking once a second from now. Cancels `interrupt` (and `abort`,
    /// when the target is unreachable) to stop the run early.
    pub(super) fn start(
        runner: Arc<Runner>,
        scenario: Arc<Scenario>,
        progress: Arc<Progress>,
        abort: CancellationToken,
        interrupt: &CancellationToken,
    ) -> Ticker {
        let done = CancellationToken::new();
        let stopped_by = Arc::new(OnceLock::new());
        let tick = Tick {
            stopped_by: stopped_by.clone(),
            runner,
            scenario,
            progress,
            abort,
            interrupt: interrupt.clone(),
            start: Instant::now(),
        };
        let task = tokio::spawn(tick.run(done.clone()));
        Ticker {
            done,
            task,
            stopped_by,
        }
    }

    /// Stops ticking and waits for the last tick to end. Returns the
    /// `abort_on_fail` threshold that stopped the run, if one did: its index
    /// in the scenario's thresholds, when and on what value.
    pub(super) async fn stop(self) -> Option<(usize, ThresholdStop)> {
        self.done.cancel();
        let _ = self.task.await;
        self.stopped_by.get().copied()
    }
}

/// What each tick reads and may stop.
struct Tick {
    runner: Arc<Runner>,
    scenario: Arc<Scenario>,
    progress: Arc<Progress>,
    abort: CancellationToken,
    interrupt: CancellationToken,
    start: Instant,
    /// Set by the `abort_on_fail` threshold that stopped the run.
    stopped_by: Arc<OnceLock<(usize, ThresholdStop)>>,
}

impl Tick {
    async fn run(self, done: CancellationToken) {
        let mut tick = tokio::time::interval_at(
            tokio::time::Instant::now() + Duration::from_secs(1),
            Duration::from_secs(1),
        );
        // `abort_on_fail` thresholds are checked ten times a second (reading
        // counters the run keeps anyway), so a run stops within ~100 ms of
        // failing one, not up to a second of full-speed failing load later.
        let watching = self.scenario.thresholds.iter().any(|t| t.abort_on_fail);
        let mut watch = tokio::time::interval(ABORT_CHECK_EVERY);
        watch.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                _ = tick.tick() => self.once(),
                _ = watch.tick(), if watching => self.check_thresholds(),
                () = done.cancelled() => return,
            }
        }
    }

    /// One tick: show the figures, stop the run when it cannot go on.
    ///
    /// Never inlined, so `bench/instructions.sh` can count it apart in a
    /// release build (LTO would fold it into the ticker task): its cost
    /// follows wall time, not requests.
    #[inline(never)]
    fn once(&self) {
        let snap = self.runner.tick(self.start.elapsed());
        self.progress.update(&snap);
        if self.runner.is_unreachable() && !self.abort.is_cancelled() {
            self.progress.println(&format!(
                "no connection to the target after {} attempts in a row: stopping the run",
                engine::GIVE_UP_AFTER
            ));
            self.interrupt.cancel();
            self.abort.cancel();
        }
        self.check_thresholds();
    }

    /// Stops the run when an `abort_on_fail` threshold fails on the
    /// whole-run counters so far.
    fn check_thresholds(&self) {
        let counters = self.runner.hub().live();
        let live = LiveFigures {
            requests: counters.requests.load(Ordering::Relaxed),
            errors: counters.errors.load(Ordering::Relaxed),
            dropped: counters.dropped.load(Ordering::Relaxed),
            throttled: counters.throttled.load(Ordering::Relaxed),
            schema_violations: self.runner.schema_violations(),
        };
        if let Some((index, measured)) = verdict::live_failure(&self.scenario.thresholds, &live)
            && !self.interrupt.is_cancelled()
        {
            let t = &self.scenario.thresholds[index];
            self.progress.println(&format!(
                "threshold `{t}` failed: stopping the run (abort_on_fail)"
            ));
            let at_secs = self.start.elapsed().as_secs_f64();
            let _ = self
                .stopped_by
                .set((index, ThresholdStop { at_secs, measured }));
            self.interrupt.cancel();
        }
    }
}

/// The Ctrl-C/SIGTERM watch, from the start of the run until [`SignalWatch::stop`].
///
/// During the load and its drain, the first signal stops starting
/// iterations and the second aborts the ones in flight: the figures are
/// partial, the run interrupted. Once the load and its drain are over
/// ([`SignalWatch::load_over`]) the figures are complete: a signal then only
/// ends the clean-up early, and changes neither them nor the verdict. During
/// the `webhooks.settle` wait ([`SignalWatch::settling`]) a signal ends the
/// wait, and the events not arrived count as missing: those figures are cut
/// short, so the run is interrupted.
pub(super) struct SignalWatch {
    state: Arc<WatchState>,
    task: JoinHandle<()>,
}

/// What the watch task and the stages share.
#[derive(Default)]
struct WatchState {
    /// Set when a signal cut the measurement short (the load, its drain or
    /// the settle wait): the run is interrupted.
    signalled: AtomicBool,
    /// Set at the second signal during the load: in-flight work was
    /// aborted, skip what can wait.
    hard: AtomicBool,
    /// Set once the load and its drain are over.
    load_over: AtomicBool,
    /// Set while the end-of-run settle wait runs.
    settling: AtomicBool,
    /// Cancelled by a signal after the load, or a second one: ends the clean-up.
    cleanup_stop: CancellationToken,
    /// Cancelled by a signal during the settle wait: ends it.
    settle_stop: CancellationToken,
}

/// The tokens a signal during the load cancels: `interrupt` at the first
/// (no new iterations), `abort` at the second (in-flight ones end at once).
struct LoadTokens {
    interrupt: CancellationToken,
    abort: CancellationToken,
}

impl SignalWatch {
    /// Watches from now on; see [`SignalWatch`] for what a signal does when.
    pub(super) fn start(
        signals: Signals,
        interrupt: &CancellationToken,
        abort: &CancellationToken,
        progress: &Arc<Progress>,
    ) -> SignalWatch {
        let state = Arc::new(WatchState::default());
        let load = LoadTokens {
            interrupt: interrupt.clone(),
            abort: abort.clone(),
        };
        let task = tokio::spawn(watch_signals(
            signals,
            load,
            state.clone(),
            progress.clone(),
        ));
        SignalWatch { state, task }
    }

    /// The load and its drain are over: from now on a signal ends the
    /// clean-up, no more.
    pub(super) fn load_over(&self) {
        self.state.load_over.store(true, Ordering::SeqCst);
    }

    /// Cancelled when a signal ends the clean-up.
    pub(super) fn cleanup_stop(&self) -> &CancellationToken {
        &self.state.cleanup_stop
    }

    /// What ends the settle wait (a signal during it); `None` after a second
    /// signal during the load (nothing is to be waited for). Marks the wait
    /// as begun: from now on a signal ends it, and the wait's end says so.
    pub(super) fn settling(&self) -> Option<CancellationToken> {
        if self.is_hard_abort() {
            return None;
        }
        self.state.settling.store(true, Ordering::SeqCst);
        Some(self.state.settle_stop.clone())
    }

    /// The settle wait is over: a signal from now on ends the clean-up's
    /// rest only.
    pub(super) fn settled(&self) {
        self.state.settling.store(false, Ordering::SeqCst);
    }

    /// A second signal came during the load: abort, and skip the clean-up's waits.
    pub(super) fn is_hard_abort(&self) -> bool {
        self.state.hard.load(Ordering::SeqCst)
    }

    /// Stops watching; true when a signal cut the measurement short.
    pub(super) fn stop(self) -> bool {
        self.task.abort();
        self.state.signalled.load(Ordering::SeqCst)
    }
}

/// What a signal during the clean-up says: the results stand complete only
/// when no earlier signal cut the load short (then they are partial, and
/// the report says so).
fn cleanup_signal_message(load_was_interrupted: bool) -> &'static str {
    if load_was_interrupted {
        "ending the clean-up now (what it has not closed is listed as left open); the load \
         was interrupted, so its results are partial"
    } else {
        "interrupted after the load: its results are complete and the verdict stands; ending \
         the clean-up now (what it has not closed is listed as left open)"
    }
}

/// Reacts to each Ctrl-C/SIGTERM by the phase it comes in (see [`SignalWatch`]).
async fn watch_signals(
    mut signals: Signals,
    load: LoadTokens,
    state: Arc<WatchState>,
    progress: Arc<Progress>,
) {
    loop {
        signals.recv().await;
        if state.settling.load(Ordering::SeqCst) {
            // The wait's end says what that did.
            state.signalled.store(true, Ordering::SeqCst);
            state.settle_stop.cancel();
        } else if state.load_over.load(Ordering::SeqCst) {
            if !state.cleanup_stop.is_cancelled() {
                progress.println(cleanup_signal_message(
                    state.signalled.load(Ordering::SeqCst),
                ));
            }
            state.cleanup_stop.cancel();
        } else if !state.signalled.swap(true, Ordering::SeqCst) {
            load.interrupt.cancel();
            progress.println(
                "interrupted: finishing in-flight iterations (press Ctrl-C again to abort them)",
            );
        } else {
            state.hard.store(true, Ordering::SeqCst);
            load.abort.cancel();
            state.cleanup_stop.cancel();
            progress.println("aborting in-flight iterations; writing the report");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::cleanup_signal_message;

    /// See: re-verification of audit 8, R1 (after a signal that cut the
    /// load, a second one said "its results are complete", in a line with
    /// runs of stray spaces).
    #[test]
    fn a_signal_in_the_clean_up_says_complete_only_after_an_uninterrupted_load() {
        let after_interrupt = cleanup_signal_message(true);
        assert!(
            after_interrupt.contains("results are partial"),
            "{after_interrupt}"
        );
        assert!(!after_interrupt.contains("complete"), "{after_interrupt}");
        let after_load = cleanup_signal_message(false);
        assert!(
            after_load.contains("complete and the verdict stands"),
            "{after_load}"
        );
        for text in [after_interrupt, after_load] {
            assert!(!text.contains("  "), "stray spaces: {text:?}");
        }
    }
}
