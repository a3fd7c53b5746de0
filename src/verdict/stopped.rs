//! A threshold that stopped the run (`abort_on_fail`): it failed while the run
//! went on, so it fails the verdict whatever the figure reads at the end (the
//! drain's answers can dilute `errors.rate` back under the limit), and its
//! message says it stopped the run, when and on what value, so the verdict's
//! reasons name the cause. Judged from the report (`thresholds[].stopped_run`),
//! so `chatload report` of the JSON judges the same.

use crate::report::{RunReport, ThresholdResult, ThresholdStatus};
use crate::scenario::threshold::Threshold;

/// `t`'s result when the report records that it stopped the run, else `None`.
/// `measured` is its figure over the whole run (what it reads at the end).
pub(super) fn stopped_run(
    t: &Threshold,
    report: &RunReport,
    measured: &Result<f64, String>,
) -> Option<ThresholdResult> {
    let stop = report
        .thresholds
        .iter()
        .find(|d| d.threshold == t.expr)
        .and_then(|d| d.stopped_run)?;
    let (then, required) = super::show_pair(stop.measured, t.limit, t.unit);
    let mut message = format!(
        "failed while the run went on (measured {then} at {:.1} s, required {} {required}) \
         and stopped the run (abort_on_fail): the load was not delivered, results are partial",
        stop.at_secs,
        t.op.as_str()
    );
    match measured {
        Ok(end) => {
            let (end, _) = super::show_pair(*end, t.limit, t.unit);
            message.push_str(&format!("; over the whole run it measured {end}"));
        }
        Err(why) => message.push_str(&format!("; over the whole run: no data ({why})")),
    }
    Some(ThresholdResult {
        threshold: t.expr.clone(),
        status: ThresholdStatus::Fail,
        passed: false,
        actual: measured.as_ref().ok().copied(),
        message,
    })
}

#[cfg(test)]
mod tests {
    use crate::report::{ThresholdDef, ThresholdStop, build_sample_report};
    use crate::scenario::threshold;
    use crate::verdict::{definitions, judge, judge_report};

    /// The sample report (0.625% errors) judged by `errors.rate < 5%` with
    /// `abort_on_fail`, recorded as having stopped the run or not.
    fn stopped(record: bool) -> crate::report::RunReport {
        let mut report = build_sample_report();
        report.totals.dropped_iterations = 0;
        report.meta.interrupted = true;
        let t = threshold::parse("errors.rate < 5%", &[], true).expect("parses");
        report.thresholds = definitions(&[t]);
        if record {
            report.thresholds[0].stopped_run = Some(ThresholdStop {
                at_secs: 0.1,
                measured: 0.2,
            });
        }
        report
    }

    // See: outside audit 10, F1/F4 — the threshold that stopped the run read
    // `ok` at the end and the run passed, with no reason naming the stop.
    #[test]
    fn a_threshold_that_stopped_the_run_fails_it_whatever_it_measures_at_the_end() {
        let report = stopped(true);
        let v = judge_report(&report).expect("parses");
        assert!(!v.passed, "{v:?}");
        assert!(!v.thresholds[0].passed);
        assert_eq!(v.thresholds[0].actual, Some(report.totals.error_rate));
        let reason = &v.reasons[0];
        assert!(
            reason.starts_with("threshold `errors.rate < 5%`: failed while the run went on")
                && reason.contains("measured 20.000% at 0.1 s")
                && reason.contains("stopped the run (abort_on_fail)")
                && reason.contains("over the whole run it measured 0.625%"),
            "{reason}"
        );
        // A shard does not defer it to the merge: it stopped this shard's part.
        let mut shard = report.clone();
        shard.meta.shard = Some("1/2".to_owned());
        assert!(!judge_report(&shard).expect("parses").passed);
    }

    #[test]
    fn a_report_without_the_record_is_judged_by_its_figures_as_before() {
        let v = judge_report(&stopped(false)).expect("parses");
        assert!(v.passed, "{v:?}");
        // One written before the record existed reads without it.
        let json = serde_json::json!({
            "threshold": "errors.rate < 5%", "abort_on_fail": true, "allow_empty": false
        });
        let def: ThresholdDef = serde_json::from_value(json).expect("reads");
        assert_eq!(def.stopped_run, None);
        let t = threshold::parse("errors.rate < 5%", &[], true).expect("parses");
        assert!(judge(&[t], &stopped(false)).passed);
    }
}
