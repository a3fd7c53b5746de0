//! Each compared run's own verdict, judged again as `chatload report` would
//! (the same function, the report's stored thresholds, its data: the caller
//! judges, with `verdict::run_outcome`, since `verdict` is the layer above
//! `report`), and what it means for the comparison: a rule judges the change between two runs, and
//! a change is only worth judging when the new run works and both runs
//! measured something.
//!
//! With rules given, the comparison fails when the new run failed its own
//! verdict (whatever the base did: a build that breaks the API fast is faster,
//! not better) or when either run measured nothing (no request sent or
//! answered, the target unreachable): no data is never a pass. A base run that
//! failed its own verdict, or a run whose verdict cannot be known, is a warning
//! the summary prints.

use serde::Serialize;

/// A run's own verdict as the comparison read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    Passed,
    Failed,
    /// Its stored thresholds do not parse with this build and it stores no verdict.
    Unknown,
}

/// One compared run's own verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunOutcome {
    pub state: RunState,
    /// Why it failed (the verdict's reasons), or why it is unknown.
    pub reasons: Vec<String>,
    /// Why it measured nothing of the target, if it did not (it then failed too).
    pub nothing_measured: Option<String>,
}

impl RunOutcome {
    fn reasons_text(&self) -> String {
        self.reasons.join("; ")
    }
}

/// What the two runs' own verdicts say of the comparison: failures (which
/// fail it when rules are given) and warnings.
pub(super) fn judge_runs(base: &RunOutcome, new: &RunOutcome) -> (Vec<String>, Vec<String>) {
    let (mut failures, mut warnings) = (Vec::new(), Vec::new());
    if let Some(why) = &new.nothing_measured {
        failures.push(format!(
            "the new run measured nothing ({why}): there is nothing to judge"
        ));
    }
    if let Some(why) = &base.nothing_measured {
        failures.push(format!(
            "the base run measured nothing ({why}): there is no baseline to judge against"
        ));
    }
    // A run that measured nothing failed for that reason, said above.
    let failed = |run: &RunOutcome| run.state == RunState::Failed && run.nothing_measured.is_none();
    if failed(new) {
        let too = if failed(base) {
            format!(
                "; the base run FAILED its own verdict too: {}",
                base.reasons_text()
            )
        } else {
            String::new()
        };
        failures.push(format!(
            "the new run FAILED its own verdict: {}{too}",
            new.reasons_text()
        ));
    } else if failed(base) {
        warnings.push(format!(
            "the base run FAILED its own verdict: {}; the new run is compared with a failing baseline",
            base.reasons_text()
        ));
    }
    for (which, run) in [("base", base), ("new", new)] {
        if run.state == RunState::Unknown {
            warnings.push(format!(
                "the {which} run's own verdict is unknown: {}; only the rules judge it",
                run.reasons_text()
            ));
        }
    }
    (failures, warnings)
}
