//! Live progress of a run on stderr, fed by [`TickSnapshot`]s from the once-per-second ticker.
//!
//! Three modes ([`detect_mode`]): an indicatif bar on a terminal, a plain line every
//! [`PLAIN_INTERVAL`] when stderr is not a terminal (CI logs), nothing with `--quiet`. Nothing here
//! runs on the request hot path: the ticker calls [`Progress::update`] once a second with numbers
//! the metrics hub already computed. Log lines go through [`Progress::println`] so they never tear
//! the bar. The bar draws through [`RedactedTerm`], so a secret in the scenario's name (or
//! anywhere in what the bar shows) is masked like every other output.

use std::io::IsTerminal as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle, TermLike};

use crate::engine::micros;
use crate::metrics::TickSnapshot;
use crate::redact::RedactedTerm;
use crate::text::format_us;

/// Time between two plain progress lines.
pub const PLAIN_INTERVAL: Duration = Duration::from_secs(5);

/// How progress is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProgressMode {
    /// An indicatif bar (or spinner when the run has no planned duration) on stderr.
    Bar,
    /// A plain line on stderr every [`PLAIN_INTERVAL`] (CI, redirected output).
    Plain,
    /// No progress output (`--quiet`).
    Hidden,
}

/// Redraws of the bar per second at most (indicatif's own default).
const BAR_HZ: u8 = 20;

/// `Hidden` with `quiet`, `Bar` when stderr is a terminal that can redraw a line (not
/// `TERM=dumb`), `Plain` otherwise.
pub fn detect_mode(quiet: bool) -> ProgressMode {
    let dumb = std::env::var_os("TERM").is_some_and(|t| t == "dumb");
    if quiet {
        ProgressMode::Hidden
    } else if std::io::stderr().is_terminal() && !dumb {
        ProgressMode::Bar
    } else {
        ProgressMode::Plain
    }
}

/// The progress display of one run.
#[derive(Debug)]
pub struct Progress {
    mode: ProgressMode,
    /// Present in `Bar` mode only.
    bar: Option<ProgressBar>,
    planned: Option<Duration>,
    scenario: String,
    /// Elapsed milliseconds at the last plain line (`u64::MAX` before the first one).
    last_plain_ms: AtomicU64,
}

impl Progress {
    /// A display for a run of `scenario`, expected to last `planned` (None: unknown, e.g. a fixed
    /// number of iterations; the bar becomes a spinner).
    pub fn new(mode: ProgressMode, planned: Option<Duration>, scenario: &str) -> Self {
        Self::drawn_on(mode, planned, scenario, || {
            Box::new(RedactedTerm::on_stderr())
        })
    }

    /// [`Progress::new`] with the bar drawn on `term()` (stderr, redacted, in a run).
    fn drawn_on(
        mode: ProgressMode,
        planned: Option<Duration>,
        scenario: &str,
        term: impl FnOnce() -> Box<dyn TermLike>,
    ) -> Self {
        let bar = (mode == ProgressMode::Bar).then(|| new_bar(planned, scenario, term()));
        Self {
            mode,
            bar,
            planned,
            scenario: scenario.to_owned(),
            last_plain_ms: AtomicU64::new(u64::MAX),
        }
    }

    /// The mode this display was created with.
    pub fn mode(&self) -> ProgressMode {
        self.mode
    }

    /// Shows the latest tick: elapsed of planned, active VUs, req/s, errors and running p99.
    pub fn update(&self, snap: &TickSnapshot) {
        match self.mode {
            ProgressMode::Hidden => {}
            ProgressMode::Bar => {
                if let Some(bar) = &self.bar {
                    if let Some(planned) = self.planned {
                        // Never past the plan: the drain after it is in the message.
                        bar.set_position(snap.elapsed.min(planned).as_secs());
                    }
                    bar.set_message(status_message(snap));
                }
            }
            ProgressMode::Plain => {
                if let Some(line) = self.plain_line_due(snap) {
                    crate::errln!("{line}");
                }
            }
        }
    }

    /// Prints a log line without tearing the bar (above it in `Bar` mode, plain stderr otherwise).
    pub fn println(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.suspend(|| crate::errln!("{line}")),
            None => crate::errln!("{line}"),
        }
    }

    /// Prints a status line of the progress display (what the run waits for
    /// after the load: `closing N chat(s) left open...`): like [`Progress::println`],
    /// but nothing with `--quiet`, which shows no progress. Warnings and
    /// errors go through `println` and are printed in every mode.
    pub fn status(&self, line: &str) {
        if self.shows_status() {
            self.println(line);
        }
    }

    /// Whether [`Progress::status`] prints: in every mode but `Hidden` (`--quiet`).
    pub fn shows_status(&self) -> bool {
        self.mode != ProgressMode::Hidden
    }

    /// Stops the display, leaving the bar's last state on screen.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish();
        }
    }

    /// The plain line for `snap` if [`PLAIN_INTERVAL`] passed since the last one.
    fn plain_line_due(&self, snap: &TickSnapshot) -> Option<String> {
        let now_ms = u64::try_from(snap.elapsed.as_millis()).unwrap_or(u64::MAX - 1);
        let last = self.last_plain_ms.load(Relaxed);
        // Allow half a second of ticker jitter, so 5 s ticks are not skipped at 4.99 s.
        let due = last == u64::MAX
            || now_ms.saturating_sub(last) + 500 >= PLAIN_INTERVAL.as_millis() as u64;
        if !due {
            return None;
        }
        self.last_plain_ms.store(now_ms, Relaxed);
        Some(plain_line(&self.scenario, self.planned, snap))
    }
}

fn new_bar(planned: Option<Duration>, scenario: &str, term: Box<dyn TermLike>) -> ProgressBar {
    let target = ProgressDrawTarget::term_like_with_hz(term, BAR_HZ);
    let (bar, template) = match planned {
        Some(planned) => (
            ProgressBar::with_draw_target(Some(planned.as_secs().max(1)), target),
            "{prefix:.bold} [{bar:30.cyan/blue}] {pos}/{len}s  {msg}",
        ),
        None => (
            ProgressBar::with_draw_target(None, target),
            "{spinner} {prefix:.bold} [{elapsed}]  {msg}",
        ),
    };
    // The templates are constants; a typo would show up in every interactive run and in tests.
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_prefix(scenario.to_owned());
    if planned.is_none() {
        bar.enable_steady_tick(Duration::from_millis(200));
    }
    bar
}

/// "VUs 12 | 340 req/s | 0 err | p99 12.3 ms | 3 in flight, oldest 2.10 s": a
/// stalled target shows as requests in flight whose oldest keeps ageing.
fn status_message(snap: &TickSnapshot) -> String {
    let mut message = String::new();
    if snap.draining {
        message.push_str(&match snap.active_vus {
            0 => "stopping: no iteration still running | ".to_owned(),
            1 => "stopping: waiting for 1 iteration still running (graceful_stop) | ".to_owned(),
            n => format!("stopping: waiting for {n} iterations still running (graceful_stop) | "),
        });
    }
    message.push_str(&load_message(snap));
    message
}

fn load_message(snap: &TickSnapshot) -> String {
    let p99 = snap
        .interval_p99_us
        .map_or_else(|| "-".to_owned(), format_us);
    let mut message = format!(
        "VUs {} | {:.0} req/s | {} err | p99 {p99}",
        snap.active_vus, snap.interval_rps, snap.errors_total
    );
    if snap.dropped_total > 0 {
        message.push_str(&format!(" | {} dropped", snap.dropped_total));
    }
    if snap.throttled_total > 0 {
        message.push_str(&format!(" | {} throttled", snap.throttled_total));
    }
    if snap.in_flight > 0 {
        let oldest = snap.oldest_in_flight.map_or_else(String::new, |d| {
            format!(", oldest {}", format_us(micros(d)))
        });
        message.push_str(&format!(" | {} in flight{oldest}", snap.in_flight));
    }
    message
}

fn plain_line(scenario: &str, planned: Option<Duration>, snap: &TickSnapshot) -> String {
    let elapsed = planned
        .map_or(snap.elapsed, |p| snap.elapsed.min(p))
        .as_secs();
    let of = planned.map_or_else(String::new, |planned| format!("/{}s", planned.as_secs()));
    format!(
        "[{scenario} {elapsed}s{of}] {} | {} requests, {} iterations",
        status_message(snap),
        snap.requests_total,
        snap.iterations_total
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(elapsed_ms: u64) -> TickSnapshot {
        TickSnapshot {
            elapsed: Duration::from_millis(elapsed_ms),
            requests_total: 1_000,
            errors_total: 3,
            interval_requests: 340,
            interval_rps: 340.4,
            interval_p99_us: Some(12_345),
            iterations_total: 140,
            dropped_total: 0,
            throttled_total: 0,
            active_vus: 12,
            in_flight: 0,
            oldest_in_flight: None,
            draining: false,
        }
    }

    #[test]
    fn status_message_has_vus_rate_errors_and_p99() {
        assert_eq!(
            status_message(&snap(1_000)),
            "VUs 12 | 340 req/s | 3 err | p99 12.3 ms"
        );
        let mut dropped = snap(1_000);
        dropped.dropped_total = 4;
        dropped.interval_p99_us = None;
        assert_eq!(
            status_message(&dropped),
            "VUs 12 | 340 req/s | 3 err | p99 - | 4 dropped"
        );
        dropped.throttled_total = 9;
        assert_eq!(
            status_message(&dropped),
            "VUs 12 | 340 req/s | 3 err | p99 - | 4 dropped | 9 throttled"
        );
        let mut stalled = snap(1_000);
        stalled.in_flight = 3;
        stalled.oldest_in_flight = Some(Duration::from_millis(2_100));
        assert_eq!(
            status_message(&stalled),
            "VUs 12 | 340 req/s | 3 err | p99 12.3 ms | 3 in flight, oldest 2.10 s"
        );
    }

    #[test]
    fn plain_mode_prints_the_first_tick_then_every_five_seconds() {
        let progress = Progress::new(ProgressMode::Plain, Some(Duration::from_secs(60)), "smoke");
        let printed: Vec<u64> = (1..=12u64)
            .map(|second| second * 1_000 + if second % 2 == 0 { 7 } else { 0 } - 3)
            .filter(|&ms| progress.plain_line_due(&snap(ms)).is_some())
            .map(|ms| (ms + 500) / 1_000)
            .collect();
        assert_eq!(printed, vec![1, 6, 11]);
        let line = plain_line("smoke", Some(Duration::from_secs(60)), &snap(6_000));
        assert!(
            line.starts_with("[smoke 6s/60s] VUs 12 | 340 req/s"),
            "{line}"
        );
        assert!(line.ends_with("1000 requests, 140 iterations"), "{line}");
    }

    // See: issue 10 point 10 — the bar showed elapsed past planned and said
    // nothing of what it waited for after the load.
    #[test]
    fn after_the_load_elapsed_stays_at_planned_and_the_line_says_it_is_stopping() {
        let mut draining = snap(13_000);
        draining.draining = true;
        draining.active_vus = 3;
        let line = plain_line("smoke", Some(Duration::from_secs(10)), &draining);
        assert!(
            line.starts_with(
                "[smoke 10s/10s] stopping: waiting for 3 iterations still running (graceful_stop) | VUs 3"
            ),
            "{line}"
        );
        // See: audit 2 finding 8 — it said "waiting for 0 iteration(s)".
        draining.active_vus = 0;
        let line = plain_line("smoke", Some(Duration::from_secs(10)), &draining);
        assert!(
            line.starts_with("[smoke 10s/10s] stopping: no iteration still running | VUs 0"),
            "{line}"
        );
        draining.active_vus = 1;
        let line = plain_line("smoke", Some(Duration::from_secs(10)), &draining);
        assert!(
            line.contains("waiting for 1 iteration still running"),
            "{line}"
        );
    }

    /// A terminal that keeps what is drawn on it.
    #[derive(Debug, Clone, Default)]
    struct Screen(std::sync::Arc<std::sync::Mutex<String>>);

    impl TermLike for Screen {
        fn width(&self) -> u16 {
            120
        }
        fn move_cursor_up(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_down(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_right(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_left(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn write_line(&self, s: &str) -> std::io::Result<()> {
            self.write_str(&format!("{s}\n"))
        }
        fn write_str(&self, s: &str) -> std::io::Result<()> {
            self.0.lock().expect("screen").push_str(s);
            Ok(())
        }
        fn clear_line(&self) -> std::io::Result<()> {
            Ok(())
        }
        fn flush(&self) -> std::io::Result<()> {
            Ok(())
        }
    }

    // See: issue 13 point 2 — the indicatif bar wrote to stderr past the redactor.
    #[test]
    fn the_bar_draws_through_the_redactor() {
        let secret = "bar-secret-in-a-scenario-name-7d1e";
        crate::redact::register(secret);
        let screen = Screen::default();
        let drawn = screen.clone();
        let progress = Progress::drawn_on(
            ProgressMode::Bar,
            Some(Duration::from_secs(10)),
            &format!("load {secret}"),
            || Box::new(RedactedTerm::new(drawn)),
        );
        progress.update(&snap(2_000));
        progress.finish();
        let shown = screen.0.lock().expect("screen").clone();
        assert!(shown.contains("load MASKED"), "{shown:?}");
        assert!(!shown.contains(secret), "{shown:?}");
    }

    #[test]
    fn hidden_and_bar_modes_accept_updates_and_finish() {
        for mode in [ProgressMode::Hidden, ProgressMode::Bar] {
            for planned in [Some(Duration::from_secs(10)), None] {
                // Drawn on a test screen: a bar on the real stderr would litter the test output.
                let progress =
                    Progress::drawn_on(mode, planned, "lifecycle", || Box::new(Screen::default()));
                assert_eq!(progress.mode(), mode);
                progress.update(&snap(2_000));
                progress.finish();
            }
        }
        assert_eq!(detect_mode(true), ProgressMode::Hidden);
        assert_ne!(detect_mode(false), ProgressMode::Hidden);
    }
}
