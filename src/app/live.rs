//! The live side of a run: the once-a-second progress tick (which also stops a
//! run whose target is unreachable), the ten-times-a-second `abort_on_fail`
//! check and the Ctrl-C/SIGTERM watch (first signal: stop starting iterations;
//! second: abort the ones in flight).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::Signals;
use crate::engine::{self, Runner};
use crate::progress::Progress;
use crate::scenario::Scenario;
use crate::verdict::{self, LiveFigures};

/// How often `abort_on_fail` thresholds are checked.
const ABORT_CHECK_EVERY: Duration = Duration::from_millis(100);

/// The progress tick, running until [`Ticker::stop`].
pub(super) struct Ticker {
    done: CancellationToken,
    task: JoinHandle<()>,
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
        let tick = Tick {
            runner,
            scenario,
            progress,
            abort,
            interrupt: interrupt.clone(),
            start: Instant::now(),
        };
        let task = tokio::spawn(tick.run(done.clone()));
        Ticker { done, task }
    }

    /// Stops ticking and waits for the last tick to end.
    pub(super) async fn stop(self) {
        self.done.cancel();
        let _ = self.task.await;
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
        if let Some(t) = verdict::live_failure(&self.scenario.thresholds, &live)
            && !self.interrupt.is_cancelled()
        {
            self.progress.println(&format!(
                "threshold `{t}` failed: stopping the run (abort_on_fail)"
            ));
            self.interrupt.cancel();
        }
    }
}

/// The Ctrl-C/SIGTERM watch, from the start of the run until [`SignalWatch::stop`].
pub(super) struct SignalWatch {
    /// Set at the first signal.
    signalled: Arc<AtomicBool>,
    /// Set at the second signal: in-flight work was aborted, skip what can wait.
    hard: Arc<AtomicBool>,
    /// Set when the end-of-run settle wait starts: nothing is in flight any
    /// more, so a signal only ends that wait (whoever waits says so).
    settling: Arc<AtomicBool>,
    /// Cancelled at the first signal (ends the settle wait).
    first: CancellationToken,
    /// Cancelled at the second signal (stops the clean-up).
    second: CancellationToken,
    task: JoinHandle<()>,
}

impl SignalWatch {
    /// First Ctrl-C/SIGTERM: cancels `interrupt` (no new iterations). Second:
    /// cancels `abort` (in-flight iterations end at once).
    pub(super) fn start(
        signals: Signals,
        interrupt: &CancellationToken,
        abort: &CancellationToken,
        progress: &Arc<Progress>,
    ) -> SignalWatch {
        let signalled = Arc::new(AtomicBool::new(false));
        let hard = Arc::new(AtomicBool::new(false));
        let settling = Arc::new(AtomicBool::new(false));
        let first = CancellationToken::new();
        let second = CancellationToken::new();
        let task = tokio::spawn(watch_signals(
            signals,
            [interrupt.clone(), first.clone()],
            [abort.clone(), second.clone()],
            [signalled.clone(), hard.clone(), settling.clone()],
            progress.clone(),
        ));
        SignalWatch {
            signalled,
            hard,
            settling,
            first,
            second,
            task,
        }
    }

    /// Cancelled when the second signal comes.
    pub(super) fn second_signal(&self) -> &CancellationToken {
        &self.second
    }

    /// What the next signal cancels, for a wait that it should end (the
    /// settle wait): the first signal's token, or the second's when the first
    /// came already; `None` after the second (nothing is to be waited for).
    pub(super) fn next_signal(&self) -> Option<CancellationToken> {
        if self.second.is_cancelled() {
            None
        } else if self.first.is_cancelled() {
            Some(self.second.clone())
        } else {
            Some(self.first.clone())
        }
    }

    /// The settle wait starts: from now on a signal only ends it, and the
    /// wait's end says what that did (nothing is in flight to finish or abort).
    pub(super) fn settling(&self) {
        self.settling.store(true, Ordering::Relaxed);
    }

    /// A second signal came: abort, and skip the clean-up's waits.
    pub(super) fn is_hard_abort(&self) -> bool {
        self.hard.load(Ordering::Relaxed)
    }

    /// Stops watching; true when a signal stopped the run.
    pub(super) fn stop(self) -> bool {
        self.task.abort();
        self.signalled.load(Ordering::Relaxed)
    }
}

/// First Ctrl-C/SIGTERM: stop starting iterations. Second: abort in-flight
/// ones. `[signalled, hard]` are set at the first and the second signal;
/// while `settling`, nothing is in flight and the signal ends the settle
/// wait, which says so itself (no line about iterations).
async fn watch_signals(
    mut signals: Signals,
    [interrupt, first]: [CancellationToken; 2],
    [abort, second]: [CancellationToken; 2],
    [signalled, hard, settling]: [Arc<AtomicBool>; 3],
    progress: Arc<Progress>,
) {
    signals.recv().await;
    signalled.store(true, Ordering::Relaxed);
    interrupt.cancel();
    first.cancel();
    if !settling.load(Ordering::Relaxed) {
        progress.println(
            "interrupted: finishing in-flight iterations (press Ctrl-C again to abort them)",
        );
    }
    signals.recv().await;
    hard.store(true, Ordering::Relaxed);
    abort.cancel();
    second.cancel();
    if !settling.load(Ordering::Relaxed) {
        progress.println("aborting in-flight iterations; writing the report");
    }
}
