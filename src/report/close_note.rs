//! Why the close route's schema check checked nothing when no step called
//! it: the close requests sent outside the steps (the end-of-run clean-up's,
//! a queue abandonment's, and those right after a failed iteration) are
//! neither counted on the route nor schema-checked, so the note says which
//! of them reached the route, from the counts the report already has.

use super::{CleanupStopReason, RunReport};

/// The close requests a run sent outside its steps, as far as its report tells.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OutsideCloses {
    /// The clean-up's closes that succeeded (or found the chat closed).
    pub cleanup_closed: u64,
    /// The clean-up's close requests that failed.
    pub cleanup_failed: u64,
    /// Queue abandonments (`wait_event` with `on_timeout: abandon`): each
    /// sends a close.
    pub abandoned: u64,
    /// Failed iterations while the clean-up was on: one that gave up on a
    /// failed step closes the chats it opened at once, uncounted (how many
    /// did is not recorded).
    pub failed_iterations: u64,
}

impl OutsideCloses {
    /// What `report` counts of them.
    pub fn of(report: &RunReport) -> Self {
        let cleanup = report.cleanup.as_ref();
        let cleanup_on = cleanup.is_some_and(|c| c.stopped != Some(CleanupStopReason::Disabled));
        OutsideCloses {
            cleanup_closed: cleanup.map_or(0, |c| c.closed),
            cleanup_failed: cleanup.map_or(0, |c| c.failed),
            abandoned: report.webhooks.as_ref().map_or(0, |w| w.queue.abandoned),
            failed_iterations: if cleanup_on {
                report.totals.iteration_errors
            } else {
                0
            },
        }
    }

    /// Why the close route, which no step called, was not checked: which
    /// closes outside the steps reached it, or that none did.
    pub fn note(&self) -> String {
        let mut reached = Vec::new();
        let cleanup = self.cleanup_closed + self.cleanup_failed;
        if cleanup > 0 {
            let failed = if self.cleanup_failed > 0 {
                format!(", {} failed", self.cleanup_failed)
            } else {
                String::new()
            };
            reached.push(format!(
                "the clean-up sent {cleanup} close request(s) there ({} closed{failed})",
                self.cleanup_closed
            ));
        }
        if self.abandoned > 0 {
            reached.push(format!(
                "{} queue abandonment(s) closed their chat there",
                self.abandoned
            ));
        }
        let after_failure = format!(
            "closes after the {} failed iteration(s), if any were sent,",
            self.failed_iterations
        );
        match (reached.is_empty(), self.failed_iterations > 0) {
            (true, false) => "never called: no step and no clean-up reached it".to_owned(),
            (true, true) => format!(
                "never called by a step nor by the clean-up; {after_failure} are not counted \
                 here nor schema-checked"
            ),
            (false, false) => format!(
                "never called by a step; {}, which are not counted here nor schema-checked",
                reached.join(" and ")
            ),
            (false, true) => format!(
                "never called by a step; {}, which are not counted here nor schema-checked, \
                 and neither are {}",
                reached.join(" and "),
                after_failure.trim_end_matches(',')
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{CleanupReport, build_sample_report};

    fn note_of(cleanup: Option<CleanupReport>, iteration_errors: u64) -> String {
        let mut report = build_sample_report();
        report.cleanup = cleanup;
        report.totals.iteration_errors = iteration_errors;
        report.webhooks = None;
        OutsideCloses::of(&report).note()
    }

    /// See: audit 9, the A7-13 low note (the same text whether the clean-up
    /// closed a dozen chats on the route or nothing reached it).
    #[test]
    fn the_note_tells_the_clean_ups_closes_from_nothing() {
        let twelve = CleanupReport {
            attempted: 12,
            closed: 11,
            failed: 1,
            ..CleanupReport::default()
        };
        assert_eq!(
            note_of(Some(twelve), 0),
            "never called by a step; the clean-up sent 12 close request(s) there (11 closed, \
             1 failed), which are not counted here nor schema-checked"
        );
        let nothing = CleanupReport::default();
        assert_eq!(
            note_of(Some(nothing.clone()), 0),
            "never called: no step and no clean-up reached it"
        );
        // The clean-up off: nothing closed after a failure either.
        assert_eq!(
            note_of(None, 3),
            "never called: no step and no clean-up reached it"
        );
        // Failed iterations may have closed their chats, uncounted.
        assert_eq!(
            note_of(Some(nothing), 3),
            "never called by a step nor by the clean-up; closes after the 3 failed \
             iteration(s), if any were sent, are not counted here nor schema-checked"
        );
    }

    #[test]
    fn abandonments_and_failed_iterations_are_named_beside_the_clean_up() {
        let mut report = build_sample_report();
        report.cleanup = Some(CleanupReport {
            attempted: 2,
            closed: 2,
            ..CleanupReport::default()
        });
        report.totals.iteration_errors = 1;
        let input = crate::report::webhook::tests::sample_input(1);
        let mut webhooks = crate::report::webhook::build(&input);
        webhooks.queue.abandoned = 4;
        report.webhooks = Some(webhooks);
        assert_eq!(
            OutsideCloses::of(&report).note(),
            "never called by a step; the clean-up sent 2 close request(s) there (2 closed) and \
             4 queue abandonment(s) closed their chat there, which are not counted here nor \
             schema-checked, and neither are closes after the 1 failed iteration(s), if any \
             were sent"
        );
    }
}
